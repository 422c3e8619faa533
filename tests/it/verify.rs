//! `chatvault verify` on a local folder: committed archives verify; a corrupt, a missing and
//! an extra object are each reported and fail the check, and so are captured files that
//! differ from their media records, are gone, or no record names.

use std::path::Path;

use assert_cmd::Command;
use chatvault::archive::manifest::{self, FORMAT, Manifest};
use chatvault::archive::media::layout;
use chatvault::archive::media::record::{
    self as media_record, MediaRecord, Outcome, Owner, Reference, Stored,
};
use chatvault::archive::reading::{Listing, Source};
use chatvault::archive::transfer::hex;
use chatvault::store::url::StoreUrl;
use chatvault::store::{self, Store, StoreOptions};
use chrono::{TimeZone, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

async fn commit(store: &Store, key: &str, bytes: &[u8]) {
    commit_as(store, "support", key, bytes).await;
}

async fn commit_as(store: &Store, job: &str, key: &str, bytes: &[u8]) {
    store
        .object_store()
        .put(&ObjectPath::from(key), PutPayload::from(bytes.to_vec()))
        .await
        .expect("archive written");
    let at = Utc
        .with_ymd_and_hms(2026, 1, 2, 0, 0, 0)
        .single()
        .expect("time");
    manifest::write(
        store,
        &Manifest {
            format: FORMAT,
            job: job.into(),
            tick: at,
            window_since: Some(at - chrono::TimeDelta::days(1)),
            window_until: Some(at),
            snapshot_at: None,
            kind: "channels".into(),
            batch: 1,
            channels: vec!["messaging:general".into()],
            users: Vec::new(),
            missing: Vec::new(),
            task_id: "task-1".into(),
            export_version: "v2".into(),
            key: key.into(),
            bytes_source: bytes.len() as u64,
            bytes_stored: bytes.len() as u64,
            sha256: hex(&Sha256::digest(bytes)),
            content_encoding: "none".into(),
            exported_at: Some(at),
            archived_at: at,
            contents: None,
            supersedes: None,
            chatvault_version: "test".into(),
        },
        None,
    )
    .await
    .expect("manifest written");
}

/// Stores `bytes` as a captured file below `_media`; its SHA-256.
async fn capture(store: &Store, bytes: &[u8]) -> String {
    let sha256 = hex(&Sha256::digest(bytes));
    store
        .object_store()
        .put(
            &ObjectPath::from(layout::object_key("_media", &sha256)),
            PutPayload::from(bytes.to_vec()),
        )
        .await
        .expect("media written");
    sha256
}

fn stored(sha256: &str, size: usize) -> Outcome {
    Outcome::Stored(Stored {
        sha256: sha256.into(),
        size: size as u64,
        content_type: "image/png".into(),
    })
}

/// Writes attempt `attempt` of the media record of the archive at `archive`.
async fn record(store: &Store, job: &str, archive: &str, attempt: u32, outcomes: Vec<Outcome>) {
    let references = outcomes
        .into_iter()
        .enumerate()
        .map(|(i, outcome)| Reference {
            owner: Owner::Message(format!("m{i}")),
            field: "attachments[0].image_url".into(),
            url: format!("https://us-east.stream-io-cdn.com/1/images/{i}.png"),
            outcome,
        })
        .collect();
    let written = media_record::write(
        store,
        &MediaRecord {
            format: media_record::FORMAT,
            job: job.into(),
            archive: archive.into(),
            attempt,
            written_at: Utc::now(),
            chatvault_version: "test".into(),
            prefix: "_media".into(),
            references,
        },
        None,
    )
    .await
    .expect("record written");
    assert!(written, "a new attempt");
}

fn verify(dir: &Path) -> (i32, String) {
    let out = Command::cargo_bin("chatvault")
        .expect("binary")
        .args(["verify", "--url"])
        .arg(format!("file://{}", dir.display()))
        .output()
        .expect("runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[tokio::test]
async fn verify_reports_corrupt_missing_and_extra_objects() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = StoreUrl::File {
        path: dir.path().to_path_buf(),
    };
    let store = store::open(&url, &StoreOptions::new(), &[]).expect("store");
    commit(
        &store,
        "support/2026/01/01/channels-0001.jsonl",
        b"{\"a\":1}\n",
    )
    .await;
    commit(
        &store,
        "support/2026/01/01/channels-0002.jsonl",
        b"{\"b\":2}\n",
    )
    .await;

    let (code, stdout) = verify(dir.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("2 verified, 0 missing, 0 corrupt, 0 extra"),
        "{stdout}"
    );

    let first = dir.path().join("support/2026/01/01/channels-0001.jsonl");
    std::fs::write(&first, b"{\"a\":2}\n").expect("corrupt it");
    std::fs::remove_file(dir.path().join("support/2026/01/01/channels-0002.jsonl"))
        .expect("lose it");
    std::fs::write(dir.path().join("support/stray.jsonl"), b"?").expect("add one");

    let (code, stdout) = verify(dir.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("corrupt  support/2026/01/01/channels-0001.jsonl: SHA-256"),
        "{stdout}"
    );
    assert!(
        stdout.contains("missing  support/2026/01/01/channels-0002.jsonl"),
        "{stdout}"
    );
    assert!(stdout.contains("extra    support/stray.jsonl"), "{stdout}");
    assert!(
        stdout.contains("0 verified, 1 missing, 1 corrupt, 1 extra"),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_manifest_is_written_once() {
    let store = Store::memory();
    commit(&store, "k.jsonl", b"x").await;
    let again = manifest::read(&store, "k.jsonl")
        .await
        .expect("read")
        .expect("there");
    let err = manifest::write(&store, &again, None)
        .await
        .expect_err("create-only");
    assert!(
        matches!(err, manifest::ManifestError::Exists { .. }),
        "{err}"
    );
}

#[test]
fn verify_needs_a_job_or_a_url() {
    let out = Command::cargo_bin("chatvault")
        .expect("binary")
        .arg("verify")
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

#[tokio::test]
async fn verify_by_job_uses_the_destination_of_its_job_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join("jobs")).expect("jobs");
    std::fs::write(
        dir.path().join("jobs/support.yaml"),
        "schedule: \"@daily\"\nusers: [alice]\ndestination:\n  url: file://vault\n",
    )
    .expect("job");
    let url = StoreUrl::File {
        path: dir.path().join("vault"),
    };
    let store = store::open(&url, &StoreOptions::new(), &[]).expect("store");
    commit(
        &store,
        "support/2026/01/01/000000-users-0001.jsonl",
        b"{}\n",
    )
    .await;

    let run = |job: &str| {
        Command::cargo_bin("chatvault")
            .expect("binary")
            .current_dir(dir.path())
            .args(["verify", "--job", job])
            .output()
            .expect("runs")
    };
    let out = run("support");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("1 verified"), "{stdout}");

    let out = run("nobody");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no job named `nobody`"));
}

#[tokio::test]
async fn verify_checks_every_captured_file_against_the_newest_media_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = StoreUrl::File {
        path: dir.path().to_path_buf(),
    };
    let store = store::open(&url, &StoreOptions::new(), &[]).expect("store");
    let first = "support/2026/01/01/channels-0001.jsonl";
    let second = "support/2026/01/01/channels-0002.jsonl";
    commit(&store, first, b"{\"a\":1}\n").await;
    commit(&store, second, b"{\"b\":2}\n").await;
    let png = capture(&store, b"\x89PNG a picture").await;
    let pdf = capture(&store, b"%PDF a report, a little longer").await;
    // The first attempt failed; the newest stands.
    record(
        &store,
        "support",
        first,
        1,
        vec![Outcome::Failed {
            reason: "timeout".into(),
        }],
    )
    .await;
    record(
        &store,
        "support",
        first,
        2,
        vec![
            stored(&png, 14),
            Outcome::Failed {
                reason: "connection reset".into(),
            },
            Outcome::Gone {
                reason: "404".into(),
            },
        ],
    )
    .await;
    let again = Outcome::AlreadyStored(Stored {
        sha256: png.clone(),
        size: 14,
        content_type: "image/png".into(),
    });
    record(&store, "support", second, 1, vec![again, stored(&pdf, 30)]).await;

    let (code, stdout) = verify(dir.path());
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("2 verified, 0 missing, 0 corrupt, 0 extra"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "media: 2 file(s) verified (44 B), 0 missing, 0 corrupt, 0 extra; 2 not captured (1 outstanding)"
        ),
        "{stdout}"
    );

    let out = Command::cargo_bin("chatvault")
        .expect("binary")
        .args(["verify", "--format", "json", "--url"])
        .arg(format!("file://{}", dir.path().display()))
        .output()
        .expect("runs");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(
        json["media"],
        serde_json::json!({"verified": 2, "bytes": 44, "not_captured": 2, "outstanding": 1,
            "missing": [], "corrupt": [], "unreadable": [], "extra": []})
    );

    let png_key = layout::object_key("_media", &png);
    let pdf_key = layout::object_key("_media", &pdf);
    std::fs::write(dir.path().join(&png_key), b"\x89PNG a pic").expect("truncate it");
    std::fs::remove_file(dir.path().join(&pdf_key)).expect("lose it");
    let stray = capture(&store, b"nobody names me").await;
    let (code, stdout) = verify(dir.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "corrupt media  {png_key}: 10 bytes where {first}.media.2.json says 14"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "missing media  {pdf_key}: {second}.media.1.json names it, the store has no such object"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "extra media  {}: no media record names it",
            layout::object_key("_media", &stray)
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 verified, 0 missing, 0 corrupt, 0 extra"),
        "the records and objects are no archive's extras: {stdout}"
    );
    assert!(
        stdout.contains("media: 0 file(s) verified (0 B), 1 missing, 1 corrupt, 1 extra"),
        "{stdout}"
    );

    std::fs::write(dir.path().join(&png_key), b"\x89PNG a pictur!").expect("change a byte");
    let (_, stdout) = verify(dir.path());
    assert!(
        stdout.contains(&format!("corrupt media  {png_key}: SHA-256 ")),
        "{stdout}"
    );
}

#[tokio::test]
async fn an_unreadable_media_record_fails_verify() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = StoreUrl::File {
        path: dir.path().to_path_buf(),
    };
    let store = store::open(&url, &StoreOptions::new(), &[]).expect("store");
    let key = "support/2026/01/01/channels-0001.jsonl";
    commit(&store, key, b"{}\n").await;
    std::fs::write(dir.path().join(format!("{key}.media.1.json")), b"{").expect("a record");
    let (code, stdout) = verify(dir.path());
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains(&format!("unreadable media record  {key}.media.1.json: ")),
        "{stdout}"
    );
}

#[tokio::test]
async fn a_file_named_only_by_another_jobs_record_is_not_extra_nor_checked() {
    let store = Store::memory();
    let mine = "support/2026/01/01/channels-0001.jsonl";
    let theirs = "sales/2026/01/01/channels-0001.jsonl";
    commit(&store, mine, b"{}\n").await;
    commit_as(&store, "sales", theirs, b"{}\n").await;
    let png = capture(&store, b"mine").await;
    let other = capture(&store, b"theirs").await;
    record(&store, "support", mine, 1, vec![stored(&png, 4)]).await;
    record(&store, "sales", theirs, 1, vec![stored(&other, 6)]).await;

    let report = chatvault::archive::verify::verify(&store, Some("support"), "_media")
        .await
        .expect("verified");
    assert_eq!(report.verified, [mine]);
    assert_eq!(
        report.media.verified, 1,
        "only the job's own files are hashed"
    );
    assert_eq!(report.media.extra, Vec::<String>::new());
    assert!(report.is_clean(), "{report:?}");

    let stray = capture(&store, b"stray").await;
    let report = chatvault::archive::verify::verify(&store, Some("support"), "_media")
        .await
        .expect("verified");
    assert_eq!(report.media.extra, [layout::object_key("_media", &stray)]);
}

#[tokio::test]
async fn listing_a_store_never_lists_below_the_media_prefix() {
    let (store, counts) = crate::common::counted_store::counted();
    commit_as(
        &store,
        "support",
        "support/2026/01/01/channels-0001.jsonl",
        b"{}\n",
    )
    .await;
    commit_as(
        &store,
        "sales",
        "sales/2026/01/01/channels-0001.jsonl",
        b"{}\n",
    )
    .await;
    for i in 0..50u8 {
        capture(&store, &[i]).await;
    }
    let before = counts.snapshot().2;
    let listing = Listing::list(&[Source::any_job(store.clone())]).await;
    assert_eq!(listing.archives.len(), 2);
    // One LIST of the top level, one of each job's folder; none of `_media/`.
    assert_eq!(counts.snapshot().2 - before, 3);
    let extra: Vec<&String> = listing.locations[0].extra().collect();
    assert!(extra.is_empty(), "{extra:?}");
}

/// Tampering, through the binary on archives a run made against the emulator: each change an
/// attacker with write access could make is exit 1, naming the object.
mod tampering {
    use std::io::{Read as _, Write as _};
    use std::path::{Path, PathBuf};

    use std::collections::BTreeSet;

    use chatvault::archive::seal::{Covered, FORMAT, Seal, read_chain, seal_key};
    use chatvault::archive::transfer::hex;
    use chatvault::signing::{SigningKey, signed_json};
    use chatvault::store::json;
    use chatvault::store::url::StoreUrl;
    use chatvault::store::{self, Store, StoreOptions};
    use chrono::{TimeDelta, Utc};
    use futures::TryStreamExt;
    use object_store::path::Path as ObjectPath;
    use sha2::{Digest, Sha256};

    use crate::common::processes::{
        command, finish, project_with_job, realtime_config, start_emulator,
    };
    use crate::common::{Project, files_below};

    pub(super) const JOB: &str = "daily";

    /// A project whose job `daily` archived two channels (gzip, one archive) under `archive/`.
    async fn archived() -> Project {
        archived_by(None).await
    }

    /// [`archived`], with the global config's `signing.key_file` naming `key` (a PKCS#8 PEM)
    /// when given: the run signs its documents and its seal.
    async fn archived_by(key: Option<&str>) -> Project {
        let emu = start_emulator(realtime_config(24)).await;
        let config = if key.is_some() {
            "signing:\n  key_file: signing.pem\n"
        } else {
            ""
        };
        let project = project_with_job(
            &emu,
            config,
            "daily.yaml",
            "name: daily\nschedule: \"0 0 * * *\"\n\
             channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
             destination:\n  url: file://archive\n  compression: gzip\n",
        );
        if let Some(pem) = key {
            private_key_file(&project, pem);
        }
        let (code, stdout, stderr) =
            finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        assert!(!manifests(&project).is_empty(), "{stdout}");
        project
    }

    /// Writes `pem` as the project's `signing.pem`, readable by its owner only.
    pub(super) fn private_key_file(project: &Project, pem: &str) {
        use std::os::unix::fs::PermissionsExt as _;
        let path = project.dir.path().join(project.file("signing.pem", pem));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod 600");
    }

    /// A new signing key and its PEM.
    pub(super) fn new_key() -> (SigningKey, String) {
        SigningKey::generate().expect("a key")
    }

    fn archive(project: &Project) -> PathBuf {
        project.dir.path().join("archive")
    }

    fn open(project: &Project) -> Store {
        let url = StoreUrl::File {
            path: archive(project),
        };
        store::open(&url, &StoreOptions::new(), &[]).expect("store")
    }

    fn manifests(project: &Project) -> Vec<PathBuf> {
        files_below(&archive(project), ".manifest.json")
    }

    /// The key of a file below the archive folder.
    fn key_of(project: &Project, path: &Path) -> String {
        path.strip_prefix(archive(project))
            .expect("below the archive")
            .to_string_lossy()
            .into_owned()
    }

    /// Every manifest and record in `store`, as a seal names them.
    pub(super) async fn documents(store: &Store) -> Vec<Covered> {
        let keys: Vec<String> = store
            .object_store()
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .expect("listed");
        let mut covered = Vec::new();
        for key in keys
            .into_iter()
            .filter(|k| !k.starts_with('_') && k.ends_with(".json"))
        {
            let bytes = read(store, &key).await;
            covered.push(Covered {
                sha256: hex(&Sha256::digest(&bytes)),
                key,
            });
        }
        covered.sort();
        covered
    }

    pub(super) async fn read(store: &Store, key: &str) -> Vec<u8> {
        json::read_bytes(store, &ObjectPath::from(key))
            .await
            .expect("read")
            .expect("there")
            .to_vec()
    }

    /// Adds `n` seals to the job's chain: the first names every document no seal names yet,
    /// the others none.
    pub(super) async fn extend_chain(store: &Store, n: u64, key: Option<&SigningKey>) {
        let chain = read_chain(store, JOB).await.expect("the chain");
        let named: BTreeSet<String> = chain
            .iter()
            .filter_map(|s| s.seal.as_ref().ok())
            .flat_map(|s| s.covers.iter().map(|c| c.key.clone()))
            .collect();
        let mut covers: Vec<Covered> = documents(store)
            .await
            .into_iter()
            .filter(|d| !named.contains(&d.key))
            .collect();
        let mut previous = chain.last().map(|s| s.sha256.clone());
        let after = chain.len() as u64;
        for sequence in after + 1..=after + n {
            let seal = Seal {
                format: FORMAT,
                job: JOB.into(),
                sequence,
                sealed_at: Utc::now() + TimeDelta::seconds(sequence as i64),
                previous: previous.clone(),
                covers: std::mem::take(&mut covers),
                chatvault_version: "test".into(),
                removal: None,
            };
            let at = seal_key(JOB, sequence);
            let created = json::create_signed(store, &ObjectPath::from(at.as_str()), &seal, key)
                .await
                .expect("sealed");
            assert!(created);
            previous = Some(hex(&Sha256::digest(read(store, &at).await)));
        }
    }

    /// Writes `key` as a PEM public key file in the project; its path.
    pub(super) fn public_key_file(project: &Project, name: &str, key: &SigningKey) -> String {
        project.file(name, key.public().to_pem())
    }

    fn verify(project: &Project, extra: &[&str]) -> (i32, String) {
        let (code, stdout, stderr) =
            project.run(&[&["verify", "--url", "file://archive"], extra].concat());
        assert!(stderr.is_empty() || code != 0, "{stderr}");
        (code, stdout)
    }

    /// Changes a message's text in the archive behind `manifest`, re-compresses it, and
    /// recomputes the manifest's size and SHA-256 (keeping the rest, signature included).
    fn forge(project: &Project, manifest: &Path) {
        let mut document: serde_json::Value =
            serde_json::from_slice(&std::fs::read(manifest).expect("read")).expect("json");
        let key = document["key"].as_str().expect("a key").to_owned();
        let path = archive(project).join(&key);
        let mut text = String::new();
        flate2::read::GzDecoder::new(std::fs::File::open(&path).expect("open"))
            .read_to_string(&mut text)
            .expect("gunzip");
        let forged = text.replacen("\"text\":\"", "\"text\":\"FORGED ", 1);
        assert_ne!(forged, text, "a message's text was changed");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(forged.as_bytes()).expect("gzip");
        let bytes = gz.finish().expect("gzip");
        std::fs::write(&path, &bytes).expect("write the forged archive");
        document["bytes_stored"] = bytes.len().into();
        document["sha256"] = hex(&Sha256::digest(&bytes)).into();
        std::fs::write(
            manifest,
            serde_json::to_vec_pretty(&document).expect("json"),
        )
        .expect("write the forged manifest");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_signed_sealed_archive_verifies_with_the_right_key_and_not_with_another() {
        let (key, pem) = new_key();
        let project = archived_by(Some(&pem)).await;
        extend_chain(&open(&project), 1, Some(&key)).await;
        let right = public_key_file(&project, "right.pem", &key);
        let documents = documents(&open(&project)).await.len();

        let (code, stdout) = verify(&project, &["--public-key", &right]);
        assert_eq!(code, 0, "{stdout}");
        assert!(
            stdout.contains(&format!(
                "signatures: {} valid, 0 bad, 0 unsigned\n",
                documents + 2
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!(
                "seals: 2 seal(s) of 1 job(s), {documents} document(s) sealed, 0 awaiting seal, \
                 0 removed by removal records, 0 not sealed yet, 0 problem(s)"
            )),
            "{stdout}"
        );

        let (code, stdout) = verify(&project, &["--public-key", &right, "--format", "json"]);
        assert_eq!(code, 0, "{stdout}");
        let json: serde_json::Value = serde_json::from_str(&stdout).expect("json");
        assert_eq!(json["signatures"]["valid"], documents + 2, "{json}");
        assert_eq!(
            json["signatures"]["problems"],
            serde_json::json!([]),
            "{json}"
        );
        assert_eq!(json["seals"]["jobs"][0]["job"], JOB, "{json}");
        assert_eq!(json["seals"]["jobs"][0]["seals"], 2, "{json}");
        assert_eq!(
            json["seals"]["jobs"][0]["head"]["key"],
            seal_key(JOB, 2),
            "{json}"
        );
        assert_eq!(json["seals"]["sealed"], documents, "{json}");

        let (code, stdout) = verify(&project, &[]);
        assert_eq!(code, 0, "{stdout}");
        assert!(
            stdout.contains(&format!(
                "0 valid, 0 bad, 0 unsigned, {} signed, not checked (give --public-key or set \
                 signing.public_key_files)",
                documents + 2
            )),
            "{stdout}"
        );

        let (other, _) = SigningKey::generate().expect("a key");
        let wrong = public_key_file(&project, "wrong.pem", &other);
        let (code, stdout) = verify(&project, &["--public-key", &wrong]);
        assert_eq!(code, 1, "{stdout}");
        let manifest = key_of(&project, &manifests(&project)[0]);
        assert!(
            stdout.contains(&format!(
                "signature  {manifest}: signed by key {}, which is none of the public keys given",
                key.public().id()
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("signature  {}: signed by key", seal_key(JOB, 1))),
            "{stdout}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_edited_archive_with_a_recomputed_manifest_is_caught_by_its_seal() {
        let project = archived().await;
        let (code, stdout) = verify(&project, &[]);
        assert_eq!(code, 0, "{stdout}");

        let manifest = manifests(&project)[0].clone();
        forge(&project, &manifest);
        let (code, stdout) = verify(&project, &[]);
        assert_eq!(code, 1, "{stdout}");
        let key = key_of(&project, &manifest);
        assert!(
            stdout.contains(&format!("seal     {key}: changed since seal 1 sealed it")),
            "{stdout}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_edited_signed_archive_is_caught_by_its_signature_and_its_seal() {
        let (key, pem) = new_key();
        let project = archived_by(Some(&pem)).await;
        let public = public_key_file(&project, "public.pem", &key);

        let manifest = manifests(&project)[0].clone();
        forge(&project, &manifest);
        let (code, stdout) = verify(&project, &["--public-key", &public]);
        assert_eq!(code, 1, "{stdout}");
        let named = key_of(&project, &manifest);
        assert!(
            stdout.contains(&format!(
                "signature  {named}: its signature by key {} does not hold",
                key.public().id()
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("seal     {named}: changed since seal 1 sealed it")),
            "{stdout}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_manifest_re_signed_with_another_key_is_caught() {
        let (key, pem) = new_key();
        let project = archived_by(Some(&pem)).await;
        let public = public_key_file(&project, "public.pem", &key);

        let manifest = manifests(&project)[0].clone();
        forge(&project, &manifest);
        let (forger, _) = SigningKey::generate().expect("a key");
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&manifest).expect("read")).expect("json");
        std::fs::write(&manifest, signed_json(&value, Some(&forger)).expect("sign"))
            .expect("replace the manifest");

        let (code, stdout) = verify(&project, &["--public-key", &public]);
        assert_eq!(code, 1, "{stdout}");
        let named = key_of(&project, &manifest);
        assert!(
            stdout.contains(&format!(
                "signature  {named}: signed by key {}, which is none of the public keys given",
                forger.public().id()
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("seal     {named}: changed since seal 1 sealed it")),
            "{stdout}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_archive_deleted_with_its_manifest_is_named_by_its_seal() {
        let project = archived().await;
        let manifest = manifests(&project)[0].clone();
        let named = key_of(&project, &manifest);
        let archive_key = named.trim_end_matches(".manifest.json");
        for path in files_below(&archive(&project), "")
            .into_iter()
            .filter(|p| key_of(&project, p).starts_with(archive_key))
        {
            std::fs::remove_file(path).expect("delete");
        }
        let (code, stdout) = verify(&project, &[]);
        assert_eq!(code, 1, "{stdout}");
        assert!(
            stdout.contains(&format!("seal     {named}: named by seal 1, missing")),
            "{stdout}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_seal_removed_from_the_middle_breaks_the_chain() {
        let project = archived().await;
        extend_chain(&open(&project), 2, None).await;
        std::fs::remove_file(archive(&project).join(seal_key(JOB, 2))).expect("remove seal 2");
        let (code, stdout) = verify(&project, &[]);
        assert_eq!(code, 1, "{stdout}");
        assert!(
            stdout.contains(&format!(
                "seal     {}: missing: seal 2 of job daily is gone, seal 3 follows it",
                seal_key(JOB, 2)
            )),
            "{stdout}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_newest_seal_removed_while_the_state_says_it_existed_is_named() {
        let project = archived().await;
        let (code, stdout) = verify(&project, &["--state", "file://.chatvault/state"]);
        assert_eq!(code, 0, "the state's head is the run's seal: {stdout}");
        let newest = seal_key(JOB, 1);
        std::fs::remove_file(archive(&project).join(&newest)).expect("remove the seal");
        let removed = format!(
            "seal     {newest}: missing: the state says seal 1 of job daily was written, the \
             newest found is 0: seals were removed from the end"
        );
        let (code, stdout) = verify(&project, &["--state", "file://.chatvault/state"]);
        assert_eq!(code, 1, "{stdout}");
        assert!(stdout.contains(&removed), "{stdout}");
        let (code, stdout, _) = project.run(&["verify", "--job", JOB]);
        assert_eq!(code, 1, "{stdout}");
        assert!(
            stdout.contains(&removed),
            "with --job, the config's state: {stdout}"
        );
        let (code, stdout) = verify(&project, &[]);
        assert_eq!(
            code, 0,
            "without the state, nothing shows the cut: {stdout}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn archives_before_sealing_began_are_a_warning_and_an_error_when_required() {
        let project = archived().await;
        // As a chatvault from before seals left them.
        std::fs::remove_dir_all(archive(&project).join("_chatvault")).expect("no seals");
        let documents = documents(&open(&project)).await.len();
        let (code, stdout) = verify(&project, &[]);
        assert_eq!(code, 0, "{stdout}");
        assert!(
            stdout.contains(&format!(
                "warning: job daily: {documents} document(s) not sealed yet: written before \
                 sealing began"
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("0 valid, 0 bad, {documents} unsigned")),
            "{stdout}"
        );
        let (key, _) = new_key();
        let public = public_key_file(&project, "public.pem", &key);
        let (code, stdout) = verify(&project, &["--require-signatures", "--public-key", &public]);
        assert_eq!(code, 1, "{stdout}");
        assert!(
            stdout.contains("seal     _chatvault/seals/daily/: no seal:"),
            "{stdout}"
        );
        assert!(
            stdout.contains(": unsigned, and --require-signatures"),
            "{stdout}"
        );
        assert!(
            stdout.contains(&format!("0 valid, {documents} bad, 0 unsigned\n")),
            "an unsigned document is counted once, as bad: {stdout}"
        );
    }

    #[test]
    fn require_signatures_without_a_public_key_is_refused_up_front() {
        let project = Project::new();
        let (code, stdout, stderr) =
            project.run(&["verify", "--url", "file://archive", "--require-signatures"]);
        assert_eq!(code, 2, "{stdout}{stderr}");
        assert!(
            stderr.contains("--require-signatures needs a public key"),
            "{stderr}"
        );
        assert!(stderr.contains("give --public-key FILE"), "{stderr}");
    }

    #[test]
    fn state_is_refused_with_job() {
        let project = Project::new();
        let (code, _, stderr) =
            project.run(&["verify", "--job", JOB, "--state", "file://.chatvault/state"]);
        assert_eq!(code, 2, "{stderr}");
        assert!(stderr.contains("cannot be used with"), "{stderr}");
    }

    /// Copies the archive behind `manifest` and its manifest under a new name, unsigned and
    /// archived an hour from now, as someone with write access but not the key would plant
    /// one; the planted manifest's key.
    fn plant(project: &Project, manifest: &Path) -> String {
        let mut document: serde_json::Value =
            serde_json::from_slice(&std::fs::read(manifest).expect("read")).expect("json");
        let key = document["key"].as_str().expect("a key").to_owned();
        let (folder, name) = key.rsplit_once('/').expect("a folder");
        let planted = format!("{folder}/planted-{name}");
        std::fs::copy(archive(project).join(&key), archive(project).join(&planted))
            .expect("copy the archive");
        let object = document.as_object_mut().expect("an object");
        object.remove("signature");
        object.insert("key".into(), planted.clone().into());
        let later = (Utc::now() + TimeDelta::hours(1)).to_rfc3339();
        object.insert("archived_at".into(), later.into());
        let at = format!("{planted}.manifest.json");
        std::fs::write(
            archive(project).join(&at),
            serde_json::to_vec_pretty(&document).expect("json"),
        )
        .expect("plant the manifest");
        at
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unsigned_archive_planted_after_a_signed_seal_is_caught() {
        let (key, pem) = new_key();
        let project = archived_by(Some(&pem)).await;
        let public = public_key_file(&project, "public.pem", &key);
        let planted = plant(&project, &manifests(&project)[0]);
        let problem = format!(
            "seal     {planted}: unsigned and not sealed, though the seals of job daily are \
             signed: planted after the fact?"
        );
        for keys in [&["--public-key", public.as_str()][..], &[]] {
            let (code, stdout) = verify(&project, keys);
            assert_eq!(code, 1, "{stdout}");
            assert!(stdout.contains(&problem), "{keys:?}: {stdout}");
            assert!(stdout.contains(", 0 awaiting seal"), "{stdout}");
        }
    }

    /// The planter adds an unsigned seal naming the planted archive: it "seals" it, and the
    /// chain's links hold, but an unsigned seal after a signed one is itself the error.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unsigned_seal_appended_after_a_signed_one_is_caught() {
        let (key, pem) = new_key();
        let project = archived_by(Some(&pem)).await;
        let public = public_key_file(&project, "public.pem", &key);
        plant(&project, &manifests(&project)[0]);
        extend_chain(&open(&project), 1, None).await;
        let (code, stdout) = verify(&project, &["--public-key", &public]);
        assert_eq!(code, 1, "{stdout}");
        assert!(
            stdout.contains(
                "seal     _chatvault/seals/daily/000000000002.json: unsigned, though seal 1 \
                 before it is signed: a seal added by someone without the key?"
            ),
            "{stdout}"
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_unsigned_archive_after_unsigned_seals_awaits_the_next_seal() {
        let project = archived().await;
        plant(&project, &manifests(&project)[0]);
        let (code, stdout) = verify(&project, &[]);
        assert_eq!(code, 0, "without signatures anywhere, as before: {stdout}");
        assert!(stdout.contains(", 1 awaiting seal, "), "{stdout}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_signed_archive_after_a_signed_seal_awaits_unchecked_without_a_key() {
        let (key, pem) = new_key();
        let project = archived_by(Some(&pem)).await;
        let manifest = manifests(&project)[0].clone();
        let planted = plant(&project, &manifest);
        let path = archive(&project).join(&planted);
        let value: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
        std::fs::write(&path, signed_json(&value, Some(&key)).expect("sign")).expect("sign it");
        let (code, stdout) = verify(&project, &[]);
        assert_eq!(code, 0, "{stdout}");
        assert!(
            stdout.contains(", 1 awaiting seal (1 of them signed, signatures not checked), "),
            "{stdout}"
        );
        let public = public_key_file(&project, "public.pem", &key);
        let (code, stdout) = verify(&project, &["--public-key", &public]);
        assert_eq!(code, 0, "{stdout}");
        assert!(stdout.contains(", 1 awaiting seal, "), "{stdout}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn signed_archives_whose_seals_were_removed_are_an_error() {
        let (_, pem) = new_key();
        let project = archived_by(Some(&pem)).await;
        std::fs::remove_dir_all(archive(&project).join("_chatvault")).expect("remove the seals");
        let documents = documents(&open(&project)).await.len();
        let (code, stdout) = verify(&project, &[]);
        assert_eq!(code, 1, "{stdout}");
        assert!(
            stdout.contains(&format!(
                "seal     _chatvault/seals/daily/: {documents} signed document(s) and no seal: \
                 the job's seals were removed, or its first signed run has not written its seal \
                 yet"
            )),
            "{stdout}"
        );
        assert!(!stdout.contains("written before sealing began"), "{stdout}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn stray_files_in_a_seals_folder_are_extra() {
        let project = archived().await;
        let folder = archive(&project).join("_chatvault/seals/daily");
        std::fs::write(folder.join("notes.txt"), "hi").expect("write");
        std::fs::copy(
            archive(&project).join(seal_key(JOB, 1)),
            folder.join("000000000003.json.bak"),
        )
        .expect("copy");
        let (code, stdout) = verify(&project, &[]);
        assert_eq!(code, 1, "{stdout}");
        for stray in ["notes.txt", "000000000003.json.bak"] {
            assert!(
                stdout.contains(&format!("extra    _chatvault/seals/daily/{stray}:")),
                "{stdout}"
            );
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn verify_by_job_checks_with_public_keys_only() {
        let (key, pem) = new_key();
        let project = archived_by(Some(&pem)).await;
        public_key_file(&project, "public.pem", &key);
        // An auditor's copy of the config: the private key is not there.
        std::fs::remove_file(project.dir.path().join("signing.pem")).expect("no private key");
        let (code, stdout, stderr) = project.run(&["verify", "--job", JOB]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(
            stdout.contains(
                "signed, not checked (give --public-key or set signing.public_key_files)"
            ),
            "{stdout}"
        );
        let config = project.dir.path().join("chatvault.yaml");
        let text = std::fs::read_to_string(&config).expect("the config");
        let listed = text.replace("signing:\n", "signing:\n  public_key_files: [public.pem]\n");
        std::fs::write(&config, &listed).expect("list the public key");
        let (code, stdout, stderr) = project.run(&["verify", "--job", JOB]);
        assert_eq!(code, 0, "{stdout}{stderr}");
        assert!(stdout.contains(" valid, 0 bad, 0 unsigned\n"), "{stdout}");

        std::fs::write(&config, listed.replace("[public.pem]", "[gone.pem]")).expect("write");
        let (code, _, stderr) = project.run(&["verify", "--job", JOB]);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("each of signing.public_key_files is read relative"),
            "{stderr}"
        );
    }
}

/// The auditor: `verify --url s3://… --public-key FILE` from a folder with no job files, no
/// config and no state, through a gate that lets only reads reach the bucket.
mod auditor {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use axum::Router;
    use axum::body::Body;
    use axum::extract::Request;
    use axum::http::{Method, StatusCode, header};
    use axum::response::{IntoResponse, Response};
    use chatvault::store::url::StoreUrl;
    use chatvault::store::{self, Store};
    use object_store::ObjectStoreExt;
    use object_store::path::Path as ObjectPath;

    use super::tampering::{
        JOB, documents, extend_chain, new_key, private_key_file, public_key_file,
    };
    use crate::common::processes::{
        command, finish, project_with_job, realtime_config, start_emulator,
    };
    use crate::common::servers::{self, S3Server};
    use crate::common::{Project, output};

    /// An HTTP gate in front of an S3 server that relays reads (GET, HEAD) and answers every
    /// other request AccessDenied, as read-only credentials do; it counts what it relayed and
    /// what it refused.
    struct ReadOnly {
        endpoint: String,
        relayed: Arc<AtomicUsize>,
        refused: Arc<AtomicUsize>,
    }

    async fn read_only(upstream: &str) -> ReadOnly {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a free port");
        let endpoint = format!("http://{}", listener.local_addr().expect("bound"));
        let (relayed, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
        let counts = (relayed.clone(), refused.clone());
        let (client, upstream) = (
            reqwest::Client::new(),
            upstream.trim_end_matches('/').to_owned(),
        );
        let app = Router::new().fallback(move |request: Request| {
            let (client, upstream, counts) = (client.clone(), upstream.clone(), counts.clone());
            async move { relay(&client, &upstream, (&counts.0, &counts.1), request).await }
        });
        tokio::spawn(async move { axum::serve(listener, app).await });
        ReadOnly {
            endpoint,
            relayed,
            refused,
        }
    }

    async fn relay(
        client: &reqwest::Client,
        upstream: &str,
        (relayed, refused): (&AtomicUsize, &AtomicUsize),
        request: Request,
    ) -> Response {
        let method = request.method().clone();
        if method != Method::GET && method != Method::HEAD {
            refused.fetch_add(1, Ordering::SeqCst);
            let denied = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\
                <Error><Code>AccessDenied</Code><Message>read only</Message></Error>";
            return (StatusCode::FORBIDDEN, denied).into_response();
        }
        let path = request
            .uri()
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        relayed.fetch_add(1, Ordering::SeqCst);
        let mut forward = client.request(method, format!("{upstream}{path}"));
        for (name, value) in request.headers() {
            if name != header::HOST {
                forward = forward.header(name, value);
            }
        }
        let answer = forward.send().await.expect("the server answers");
        let mut response = Response::builder().status(answer.status());
        for (name, value) in answer.headers() {
            if name != header::TRANSFER_ENCODING && name != header::CONNECTION {
                response = response.header(name, value);
            }
        }
        let body = answer.bytes().await.expect("the answer's body");
        response.body(Body::from(body)).expect("a response")
    }

    /// `chatvault verify --url URL --public-key public.pem` in `auditor`, reaching S3 through
    /// `endpoint` with the keys from the environment.
    fn verify(auditor: &Project, url: &str, s3: &S3Server, endpoint: &str) -> (i32, String) {
        let (code, stdout, stderr) = output(
            auditor
                .chatvault()
                .args(["verify", "--url", url, "--public-key", "public.pem"])
                .env("AWS_ENDPOINT", endpoint)
                .env("AWS_ALLOW_HTTP", "true")
                .env("AWS_REGION", &s3.region)
                .env("AWS_ACCESS_KEY_ID", &s3.access_key)
                .env("AWS_SECRET_ACCESS_KEY", &s3.secret_key),
        );
        (code, format!("{stdout}{stderr}"))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_auditor_verifies_an_s3_bucket_with_read_access_and_the_public_key_alone() {
        let emu = start_emulator(realtime_config(24)).await;
        let moto = servers::moto();
        let url = format!("s3://{}/{}", moto.bucket, servers::unique_prefix("auditor"));
        let (key, pem) = new_key();
        let project = project_with_job(
            &emu,
            "signing:\n  key_file: signing.pem\n",
            "daily.yaml",
            format!(
                "name: {JOB}\nschedule: \"0 0 * * *\"\n\
                 channels:\n  - type: messaging\n    ids: [general-000]\n\
                 destination:\n  url: {url}\n  options:\n    aws_endpoint: {}\n    \
                 aws_allow_http: \"true\"\n    aws_region: {}\n    aws_access_key_id: {}\n    \
                 aws_secret_access_key: {}\n",
                moto.endpoint, moto.region, moto.access_key, moto.secret_key
            )
            .as_str(),
        );
        private_key_file(&project, &pem);
        let (code, stdout, stderr) =
            finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
        assert_eq!(code, 0, "{stdout}\n{stderr}");
        let parsed = StoreUrl::parse(&url, std::path::Path::new(".")).expect("a URL");
        let store: Store = store::open(&parsed, &moto.options(), &[]).expect("the bucket");
        extend_chain(&store, 1, Some(&key)).await;
        let named = documents(&store).await;

        let auditor = Project::new();
        public_key_file(&auditor, "public.pem", &key);
        let gate = read_only(&moto.endpoint).await;
        let (code, stdout) = verify(&auditor, &url, &moto, &gate.endpoint);
        assert_eq!(code, 0, "{stdout}");
        assert!(
            stdout.contains(&format!("signatures: {} valid, 0 bad", named.len() + 2)),
            "{stdout}"
        );
        assert!(
            stdout.contains(": 1 verified, 0 missing, 0 corrupt, 0 extra"),
            "{stdout}"
        );
        assert!(
            gate.relayed.load(Ordering::SeqCst) > 0,
            "it went through the gate"
        );
        assert_eq!(gate.refused.load(Ordering::SeqCst), 0, "verify only reads");

        let manifest = named
            .iter()
            .find(|d| d.key.ends_with(".manifest.json"))
            .expect("a manifest");
        let archive = manifest.key.trim_end_matches(".manifest.json");
        for key in [archive, manifest.key.as_str()] {
            store
                .object_store()
                .delete(&ObjectPath::from(key))
                .await
                .expect("deleted");
        }
        let (code, stdout) = verify(&auditor, &url, &moto, &gate.endpoint);
        assert_eq!(code, 1, "{stdout}");
        assert!(
            stdout.contains(&format!(
                "seal     {}: named by seal 1, missing",
                manifest.key
            )),
            "{stdout}"
        );
        assert_eq!(gate.refused.load(Ordering::SeqCst), 0, "verify only reads");
        emu.shutdown().await;
    }
}
