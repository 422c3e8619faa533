//! Media capture end to end: `chatvault run --once` and `chatvault media` as real processes
//! against the emulator and its CDN, into a local folder and into the S3 test server. What is
//! checked is what lands in the destination (objects named by the SHA-256 of their bytes,
//! create-only records), what the CDN and the other listeners were asked, and what the
//! commands print and exit with.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use chatvault::archive::media::layout;
use chatvault::archive::media::record::{self, MediaRecord, Owner};
use chatvault::runner::Phase;
use chatvault::store::url::StoreUrl;
use chatvault_emulator::{Emulator, EmulatorConfig, Endpoint};
use futures::TryStreamExt;
use object_store::ObjectStoreExt as _;
use object_store::path::Path as ObjectPath;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

use crate::common::processes::{
    command, finish, kill_once_paused, realtime_config, start_emulator,
};
use crate::common::{Project, files_below, servers};

/// How long a killed run's lease lasts: the restart waits it out.
const LEASE_TTL: &str = "3s";

/// An emulator on the real clock whose messages carry media every other message (every kind
/// by turns: images, PDF, video, audio, the SVG, the large file, a foreign preview, the shared
/// file, the deleted file) and whose users and channels carry images.
fn media_config() -> EmulatorConfig {
    let mut config = realtime_config(24);
    config.data.channels_per_type = 2;
    config.data.media_every = 2;
    config.data.avatars = true;
    config
}

/// The `media:` block that lets the tests fetch from the emulator's CDN (`localhost`, plain
/// HTTP) with a limit the large file is over.
const MEDIA: &str = "media:\n  hosts: [localhost]\n  allow_http: true\n  \
                     allow_private_addresses: true\n  max_file_size: 1MiB\n";

/// A job exporting two channels, uncompressed, into `url`, with `media` appended.
fn job_text(name: &str, url: &str, media: &str) -> String {
    format!(
        "name: {name}\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
         destination:\n  url: {url}\n  compression: none\n{media}"
    )
}

fn project(emu: &Emulator, jobs: &[(&str, String)]) -> Project {
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    for (file, text) in jobs {
        project.job(file, text);
    }
    project
}

async fn run(project: &Project, emu: &Emulator, args: &[&str]) -> (i32, String, String) {
    finish(command(project, emu, args)).await
}

/// Every media record below `dir`.
fn records(dir: &Path) -> Vec<MediaRecord> {
    files_below(dir, ".json")
        .into_iter()
        .filter(|p| p.to_string_lossy().contains(".media."))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read a record");
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

/// The newest record of each archive.
fn newest_of(records: &[MediaRecord]) -> Vec<&MediaRecord> {
    let mut by_archive: BTreeMap<&str, &MediaRecord> = BTreeMap::new();
    for r in records {
        let held = by_archive.entry(&r.archive).or_insert(r);
        if r.attempt > held.attempt {
            *held = r;
        }
    }
    by_archive.into_values().collect()
}

/// Every object below `<dir>/_media`, checked: its name is the SHA-256 of its bytes and its
/// fan-out folder the name's first byte. Returns the hashes.
fn media_objects(dir: &Path) -> BTreeSet<String> {
    let root = dir.join("_media");
    let mut hashes = BTreeSet::new();
    for path in files_below(&root, "") {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let bytes = std::fs::read(&path).expect("read a media object");
        let sha = format!("{:x}", Sha256::digest(&bytes));
        assert_eq!(
            name,
            sha,
            "{} holds other bytes than its name",
            path.display()
        );
        let fan = path
            .parent()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned());
        assert_eq!(fan.as_deref(), Some(&sha[..2]), "{}", path.display());
        assert!(hashes.insert(sha), "one object per file");
    }
    hashes
}

/// The SHA-256 of every stored reference of `records`.
fn stored(records: &[&MediaRecord]) -> BTreeSet<String> {
    records
        .iter()
        .flat_map(|r| &r.references)
        .filter_map(|r| r.outcome.stored().map(|s| s.sha256.clone()))
        .collect()
}

fn statuses(records: &[&MediaRecord]) -> BTreeMap<&'static str, usize> {
    let mut counts = BTreeMap::new();
    for r in records.iter().flat_map(|r| &r.references) {
        *counts.entry(r.outcome.status()).or_default() += 1;
    }
    counts
}

fn cdn_requests(emu: &Emulator) -> Vec<chatvault_emulator::LoggedRequest> {
    emu.requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(Endpoint::CdnFile))
        .collect()
}

async fn status_json(project: &Project, emu: &Emulator) -> serde_json::Value {
    let (code, stdout, stderr) = run(project, emu, &["status", "--format", "json", "jobs"]).await;
    assert_eq!(
        code, 0,
        "outstanding files never fail status\n{stdout}\n{stderr}"
    );
    serde_json::from_str(&stdout).expect("status JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_stores_files_by_content_and_records_every_status() {
    let emu = start_emulator(media_config()).await;
    let project = project(
        &emu,
        &[("media.yaml", job_text("media", "file://archive", MEDIA))],
    );
    let archive = project.dir.path().join("archive");
    // One download answers 500: that reference is `failed`, and outstanding.
    emu.faults().fail_next_requests(Endpoint::CdnFile, 1, 500);

    let (code, stdout, stderr) = run(&project, &emu, &["run", "--once", "jobs"]).await;
    assert_eq!(
        code, 0,
        "outstanding files do not fail the run\n{stdout}\n{stderr}"
    );

    let all = records(&archive);
    let newest = newest_of(&all);
    // Every reference to the path that failed shares its outcome (a path is fetched once).
    let failed = statuses(&newest).get("failed").copied().unwrap_or(0);
    assert!(
        stdout.contains(&format!(
            "{failed} media reference(s) of the job's archives are not captured yet"
        )),
        "the run names the outstanding count ({failed}):\n{stdout}"
    );
    assert!(
        stderr.lines().any(|l| l.contains("WARN")
            && l.contains("not captured yet")
            && l.contains(&format!("media_outstanding={failed}"))),
        "a daemon's log says it at WARN too:\n{stderr}"
    );
    assert!(!newest.is_empty(), "every archive has a record");
    assert!(newest.iter().all(|r| r.attempt == 1 && r.job == "media"));
    let counts = statuses(&newest);
    for status in [
        "stored",
        "already_stored",
        "refused",
        "too_large",
        "gone",
        "failed",
    ] {
        assert!(
            counts.contains_key(status),
            "no `{status}` among {counts:?}"
        );
    }
    let text = all
        .iter()
        .map(|r| serde_json::to_string(r).unwrap_or_default())
        .collect::<String>();
    assert!(
        !text.contains("Signature") && !text.contains("Expires"),
        "a record keeps no signature"
    );
    assert!(
        newest
            .iter()
            .flat_map(|r| &r.references)
            .any(|r| matches!(r.owner, Owner::User(_)) && r.outcome.stored().is_some()),
        "avatars are captured"
    );
    assert_eq!(
        media_objects(&archive),
        stored(&newest),
        "one object per distinct file stored, and every stored file is there"
    );

    // Each CDN path is downloaded once by the run (the shared file too); no Stream credential
    // went with any.
    let cdn = cdn_requests(&emu);
    let mut per_path: BTreeMap<&str, usize> = BTreeMap::new();
    for r in cdn.iter().filter(|r| r.status == 200) {
        *per_path.entry(&r.path).or_default() += 1;
    }
    assert!(per_path.values().all(|n| *n == 1), "{per_path:?}");
    for r in &cdn {
        for header in ["authorization", "stream-auth-type", "cookie", "api_key"] {
            assert!(!r.has_header(header), "{header} sent to the CDN: {r:?}");
        }
        assert!(!r.query_names.iter().any(|q| q == "api_key"), "{r:?}");
    }

    let status = status_json(&project, &emu).await;
    assert_eq!(status[0]["media_outstanding"], failed, "{status}");
    let (code, stdout, _) = run(&project, &emu, &["status", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains(&format!(
            "  media          {failed} file reference(s) not captured yet"
        )),
        "{stdout}"
    );

    // `chatvault media` retries what is outstanding: record 2, nothing left.
    let (code, stdout, stderr) = run(&project, &emu, &["media", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("1 retried"), "{stdout}");
    let all = records(&archive);
    let newest = newest_of(&all);
    assert_eq!(statuses(&newest).get("failed"), None, "{stdout}");
    assert!(newest.iter().any(|r| r.attempt == 2));
    assert_eq!(media_objects(&archive), stored(&newest));
    assert_eq!(status_json(&project, &emu).await[0]["media_outstanding"], 0);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_window_older_than_the_link_lifetime_is_captured_through_a_refresh() {
    let mut config = media_config();
    // Yesterday's links expired long ago; Stream signs them afresh on request.
    config.link_lifetime = chrono::Duration::hours(1);
    let emu = start_emulator(config).await;
    let project = project(
        &emu,
        &[("media.yaml", job_text("media", "file://archive", MEDIA))],
    );
    let archive = project.dir.path().join("archive");

    let (code, stdout, stderr) = run(&project, &emu, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let refreshes = emu
        .requests()
        .iter()
        .filter(|r| r.endpoint == Some(Endpoint::GetMessage))
        .count();
    assert!(
        refreshes > 0,
        "expired links are refreshed through GET /messages/{{id}}"
    );
    let all = records(&archive);
    let newest = newest_of(&all);
    let counts = statuses(&newest);
    assert!(counts.get("stored").is_some_and(|n| *n > 0), "{counts:?}");
    assert_eq!(counts.get("failed"), None, "{counts:?}");
    assert!(
        cdn_requests(&emu).iter().all(|r| r.status != 403),
        "no expired link is fetched as it stands"
    );
    assert_eq!(media_objects(&archive), stored(&newest));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jobs_sharing_a_destination_store_each_file_once() {
    let emu = start_emulator(media_config()).await;
    // Two jobs over the same channels and window: their archives name the same files.
    let project = project(
        &emu,
        &[
            ("media.yaml", job_text("media", "file://archive", MEDIA)),
            ("other.yaml", job_text("other", "file://archive", MEDIA)),
        ],
    );
    let archive = project.dir.path().join("archive");
    let (code, stdout, stderr) = run(&project, &emu, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let all = records(&archive);
    let jobs: BTreeSet<&str> = all.iter().map(|r| r.job.as_str()).collect();
    assert_eq!(jobs, BTreeSet::from(["media", "other"]), "{stdout}");
    let newest = newest_of(&all);
    assert_eq!(
        media_objects(&archive),
        stored(&newest),
        "one object per distinct file"
    );
    let per_job = |job: &str| {
        stored(
            &newest
                .iter()
                .copied()
                .filter(|r| r.job == job)
                .collect::<Vec<_>>(),
        )
    };
    assert_eq!(per_job("media"), per_job("other"), "the same files");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_into_s3_stores_each_file_once_under_its_hash() {
    let moto = servers::moto();
    let prefix = servers::unique_prefix("media");
    let emu = start_emulator(media_config()).await;
    let destination = format!(
        "s3://{}/{prefix}\n  compression: none\n  options:\n    aws_endpoint: {}\n    \
         aws_allow_http: \"true\"\n    aws_region: {}\n    aws_access_key_id: {}\n    \
         aws_secret_access_key: {}\n",
        moto.bucket, moto.endpoint, moto.region, moto.access_key, moto.secret_key
    );
    let job = format!(
        "name: media\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
         destination:\n  url: {destination}{MEDIA}"
    );
    let project = project(&emu, &[("media.yaml", job)]);
    let (code, stdout, stderr) = run(&project, &emu, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    let url = StoreUrl::parse(&format!("s3://{}/{prefix}", moto.bucket), Path::new("."))
        .expect("an S3 URL");
    let store = chatvault::store::open(&url, &moto.options(), &[]).expect("open the bucket");
    let keys: Vec<String> = store
        .object_store()
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .expect("list the bucket");
    let mut newest_records: BTreeMap<String, MediaRecord> = BTreeMap::new();
    let mut objects = BTreeSet::new();
    for key in &keys {
        let body = store
            .object_store()
            .get(&ObjectPath::from(key.as_str()))
            .await
            .expect("get")
            .bytes()
            .await
            .expect("read");
        if let Some(sha) = layout::sha256_of("_media", key) {
            assert_eq!(format!("{:x}", Sha256::digest(&body)), sha, "{key}");
            objects.insert(sha);
        } else if record::parse_record_key(key).is_some() {
            let r: MediaRecord = serde_json::from_slice(&body).expect("a record");
            newest_records.insert(r.archive.clone(), r);
        }
    }
    let newest: Vec<&MediaRecord> = newest_records.values().collect();
    assert!(!newest.is_empty(), "records are written: {keys:?}");
    assert!(!objects.is_empty());
    assert_eq!(objects, stored(&newest), "one object per distinct file");
    emu.shutdown().await;
}

/// The whole tool on GCS: a run with media capture writes archives, manifests, media objects
/// and records to `gs://` and its ledger and leases to another `gs://` bucket, all on the
/// emulator crate's XML-API server; `verify` then finds every archive intact and `search`
/// reads the messages back from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_into_gcs_with_its_state_there_verifies_and_searches() {
    let gcs = servers::local_gcs().await;
    let emu = start_emulator(media_config()).await;
    let token_var = "CHATVAULT_TEST_GCS_TOKEN";
    let options = gcs.options_yaml(token_var);
    let destination = format!(
        "gs://{}/archive\n  compression: gzip\n{options}",
        servers::GCS_BUCKET
    );
    let job = format!(
        "name: media\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
         destination:\n  url: {destination}{MEDIA}"
    );
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!(
            "api:\n  base_url: {}\nstate:\n  url: gs://{}/state\n{options}",
            emu.base_url(),
            servers::GCS_STATE_BUCKET
        ),
    );
    project.job("media.yaml", &job);
    let gcs_run = |args: &[&str]| {
        let mut cmd = command(&project, &emu, args);
        cmd.env(token_var, servers::LOCAL_GCS_TOKEN);
        finish(cmd)
    };
    let (code, stdout, stderr) = gcs_run(&["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(!stderr.contains("written inline"), "{stderr}");

    let archive = gcs.store(servers::GCS_BUCKET, "archive");
    let keys: Vec<String> = archive
        .object_store()
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .expect("list the bucket");
    let media: Vec<&String> = keys
        .iter()
        .filter(|k| layout::sha256_of("_media", k).is_some())
        .collect();
    assert!(!media.is_empty(), "media objects are stored: {keys:?}");
    for key in &media {
        let body = archive
            .object_store()
            .get(&ObjectPath::from(key.as_str()))
            .await
            .expect("get")
            .bytes()
            .await
            .expect("read");
        let sha = layout::sha256_of("_media", key).unwrap_or_default();
        assert_eq!(format!("{:x}", Sha256::digest(&body)), sha, "{key}");
    }
    assert!(
        keys.iter().any(|k| record::parse_record_key(k).is_some()),
        "media records are written: {keys:?}"
    );
    let state: Vec<String> = gcs
        .store(servers::GCS_STATE_BUCKET, "state")
        .object_store()
        .list(None)
        .map_ok(|m| m.location.to_string())
        .try_collect()
        .await
        .expect("list the state bucket");
    assert!(
        state.iter().any(|k| k.contains("media")),
        "the ledger is on GCS: {state:?}"
    );
    assert_eq!(gcs.server.open_uploads(), []);

    let (code, stdout, stderr) = gcs_run(&["verify", "--job", "media", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(" verified, 0 missing, 0 corrupt"),
        "{stdout}"
    );

    let (code, stdout, stderr) =
        gcs_run(&["search", "from:user-000", "--format", "jsonl", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.lines().count() > 0,
        "messages found on GCS: {stderr}"
    );
    for line in stdout.lines() {
        let hit: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert_eq!(hit["user"].as_str(), Some("user-000"), "{line}");
    }
    emu.shutdown().await;
}

/// A server that answers every request with a redirect to `to`, counting them.
async fn redirector(to: String) -> (u16, Arc<AtomicUsize>, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("the redirecting server binds a port on 127.0.0.1");
    let port = listener.local_addr().expect("its address").port();
    let served = Arc::new(AtomicUsize::new(0));
    let counted = served.clone();
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            let to = to.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = socket.read(&mut buf).await;
                let answer = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\
                     Connection: close\r\n\r\n"
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            });
        }
    });
    (port, served, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_not_allowed_sees_no_request_and_a_redirect_there_is_not_followed() {
    // Listening, never accepting: anything that connects is queued for `accept` to find.
    let forbidden = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("the forbidden listener binds a port on 127.0.0.1");
    forbidden.set_nonblocking(true).expect("non-blocking");
    let port = forbidden.local_addr().expect("its address").port();
    let target = format!("http://127.0.0.1:{port}/latest/meta-data/");
    let (cdn_port, redirected, redirecting) = redirector(target).await;

    let mut config = media_config();
    // Open Graph previews point at the forbidden port; every CDN link at the redirector.
    config.foreign_base = format!("http://127.0.0.1:{port}");
    config.cdn_base = Some(format!("http://localhost:{cdn_port}"));
    let emu = start_emulator(config).await;
    let project = project(
        &emu,
        &[("media.yaml", job_text("media", "file://archive", MEDIA))],
    );
    let archive = project.dir.path().join("archive");

    let (code, stdout, stderr) = run(&project, &emu, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        redirected.load(Ordering::SeqCst) > 0,
        "the CDN links were tried (and redirected)"
    );
    match forbidden.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the port not allowed was connected to: {other:?}"),
    }
    let all = records(&archive);
    let newest = newest_of(&all);
    let counts = statuses(&newest);
    assert_eq!(counts.get("stored"), None, "{counts:?}");
    assert!(counts.get("refused").is_some_and(|n| *n > 0), "{counts:?}");
    assert!(media_objects(&archive).is_empty());
    redirecting.abort();
    emu.shutdown().await;
}

/// Starts `run --once` frozen at `phase`, waits until it says so, and kills it with SIGKILL.
async fn kill_at(project: &Project, emu: &Emulator, phase: Phase) {
    let mut cmd = command(
        project,
        emu,
        &["run", "--once", "--lease-ttl", LEASE_TTL, "jobs"],
    );
    cmd.env("CHATVAULT_PAUSE_AT", phase.name());
    kill_once_paused(cmd, "paused").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_in_the_media_pass_the_next_run_completes_it_without_a_duplicate() {
    let emu = start_emulator(media_config()).await;
    let project = project(
        &emu,
        &[("media.yaml", job_text("media", "file://archive", MEDIA))],
    );
    let archive = project.dir.path().join("archive");

    kill_at(&project, &emu, Phase::Media).await;
    assert!(records(&archive).is_empty(), "killed before the record");
    let before = media_objects(&archive);
    assert!(!before.is_empty(), "the files were stored before the kill");

    tokio::time::sleep(Duration::from_secs(4)).await;
    let (code, stdout, stderr) = run(&project, &emu, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let all = records(&archive);
    assert!(
        !all.is_empty(),
        "the restart wrote the record\n{stdout}\n{stderr}"
    );
    assert!(all.iter().all(|r| r.attempt == 1), "one record per archive");
    let newest = newest_of(&all);
    let after = media_objects(&archive);
    assert_eq!(after, before, "no object added twice or lost");
    assert_eq!(after, stored(&newest));
    let counts = statuses(&newest);
    assert!(
        counts.get("already_stored").is_some_and(|n| *n > 0),
        "the restart found the files stored: {counts:?}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatvault_media_captures_archives_written_without_capture_and_its_dry_run_fetches_nothing()
{
    let emu = start_emulator(media_config()).await;
    let off = format!("{MEDIA}  capture: false\n");
    let project = project(
        &emu,
        &[("media.yaml", job_text("media", "file://archive", &off))],
    );
    let archive = project.dir.path().join("archive");
    let (code, stdout, stderr) = run(&project, &emu, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        records(&archive).is_empty(),
        "capture: false keeps links only"
    );
    assert!(cdn_requests(&emu).is_empty());

    project.job("media.yaml", job_text("media", "file://archive", MEDIA));
    let (code, stdout, stderr) = run(&project, &emu, &["media", "--dry-run", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains(": would fetch "), "{stdout}");
    assert!(stdout.contains("nothing was fetched"), "{stdout}");
    assert!(stdout.contains("/cdn/"), "the links are listed: {stdout}");
    // The foreign previews are refused by the policy, and said so; no allowed link is.
    let refused: Vec<&str> = stdout
        .lines()
        .filter(|l| l.ends_with(" (refused)"))
        .collect();
    assert!(!refused.is_empty(), "{stdout}");
    assert!(
        refused.iter().all(|l| !l.contains("://localhost")),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Signature="),
        "without their query: {stdout}"
    );
    assert!(cdn_requests(&emu).is_empty(), "a dry run fetches nothing");
    assert!(records(&archive).is_empty(), "and writes nothing");

    let (code, stdout, stderr) = run(&project, &emu, &["media", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let all = records(&archive);
    assert!(!all.is_empty(), "{stdout}");
    let newest = newest_of(&all);
    assert!(statuses(&newest).get("stored").is_some_and(|n| *n > 0));
    assert_eq!(media_objects(&archive), stored(&newest));

    // Nothing left: a second call changes nothing.
    let (code, stdout, _) = run(&project, &emu, &["media", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("0 archive(s) captured, 0 retried"),
        "{stdout}"
    );
    assert_eq!(records(&archive).len(), all.len());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_in_the_media_pass_hands_the_tick_back_and_the_next_run_finishes_it() {
    let emu = start_emulator(media_config()).await;
    let project = project(
        &emu,
        &[("media.yaml", job_text("media", "file://archive", MEDIA))],
    );
    let archive = project.dir.path().join("archive");

    let mut cmd = command(&project, &emu, &["run", "--once", "--grace", "2s", "jobs"]);
    cmd.env("CHATVAULT_PAUSE_AT", Phase::Media.name())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("chatvault starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    crate::common::processes::wait_for(&mut lines, "paused", &mut seen).await;
    crate::common::processes::signal(&child, "TERM");
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("run --once stops within its grace")
        .expect("its output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "a stopped run exits 1: {stdout}"
    );
    assert!(stdout.contains("interrupted"), "{stdout}");
    assert!(records(&archive).is_empty(), "stopped before its record");

    // Handed back, not left to a lease: the next run goes at once and finishes the pass.
    let (code, stdout, stderr) = run(&project, &emu, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let all = records(&archive);
    assert!(!all.is_empty(), "{stdout}\n{stderr}");
    assert!(all.iter().all(|r| r.attempt == 1));
    assert_eq!(media_objects(&archive), stored(&newest_of(&all)));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatvault_media_fetches_at_most_max_files_a_call_and_says_what_is_left() {
    let emu = start_emulator(media_config()).await;
    let off = format!("{MEDIA}  capture: false\n");
    let jobs = [
        ("a.yaml", job_text("a", "file://archive", &off)),
        ("b.yaml", job_text("b", "file://archive", &off)),
    ];
    let project = project(&emu, &jobs);
    let archive = project.dir.path().join("archive");
    let (code, stdout, stderr) = run(&project, &emu, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for (file, name) in [("a.yaml", "a"), ("b.yaml", "b")] {
        project.job(file, job_text(name, "file://archive", MEDIA));
    }

    // Three references of the first archive are fetched, the rest recorded as not fetched
    // yet; the other archive is not even read.
    let (code, stdout, stderr) = run(&project, &emu, &["media", "--max-files", "3", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("1 archive(s) captured"), "{stdout}");
    assert!(
        stdout.contains("left for the next call (--max-files 3): 1 archive(s)"),
        "{stdout}"
    );
    assert!(cdn_requests(&emu).len() <= 3, "{:?}", cdn_requests(&emu));
    let all = records(&archive);
    let newest = newest_of(&all);
    assert_eq!(newest.len(), 1);
    let not_yet = |r: &&record::Reference| matches!(&r.outcome, record::Outcome::Failed { reason } if reason.starts_with("not fetched yet"));
    let refs = &newest[0].references;
    assert_eq!(refs.iter().filter(|r| !not_yet(r)).count(), 3, "{refs:?}");
    assert!(refs.iter().any(|r| not_yet(&r)), "{refs:?}");

    let (code, stdout, stderr) = run(&project, &emu, &["media", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(!stdout.contains("left for the next call"), "{stdout}");
    let all = records(&archive);
    assert_eq!(newest_of(&all).len(), 2, "{stdout}");
    let newest = newest_of(&all);
    assert!(
        newest
            .iter()
            .flat_map(|r| &r.references)
            .all(|r| !not_yet(&r)),
        "the next call fetched what was left: {stdout}"
    );
    assert_eq!(media_objects(&archive), stored(&newest));
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chatvault_media_recheck_fetches_refusals_the_widened_allow_list_now_allows() {
    let emu = start_emulator(media_config()).await;
    let narrow = MEDIA.replace("hosts: [localhost]", "hosts: [\"cdn.invalid\"]");
    let project = project(
        &emu,
        &[("media.yaml", job_text("media", "file://archive", &narrow))],
    );
    let archive = project.dir.path().join("archive");
    let (code, stdout, stderr) = run(&project, &emu, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let before = records(&archive);
    assert!(!statuses(&newest_of(&before)).contains_key("stored"));
    assert!(cdn_requests(&emu).is_empty());

    project.job("media.yaml", job_text("media", "file://archive", MEDIA));
    let (code, stdout, stderr) = run(&project, &emu, &["media", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("would now be allowed: run with --recheck"),
        "{stdout}"
    );
    assert_eq!(records(&archive).len(), before.len(), "nothing retried");
    assert!(cdn_requests(&emu).is_empty());

    let (code, stdout, stderr) = run(&project, &emu, &["media", "--recheck", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let all = records(&archive);
    let newest = newest_of(&all);
    assert!(newest.iter().all(|r| r.attempt == 2), "{stdout}");
    assert!(
        statuses(&newest).get("stored").is_some_and(|n| *n > 0),
        "{stdout}"
    );
    assert!(
        statuses(&newest).get("refused").is_some_and(|n| *n > 0),
        "foreign hosts stay refused"
    );
    assert_eq!(media_objects(&archive), stored(&newest));
    let (_, stdout, _) = run(&project, &emu, &["media", "jobs"]).await;
    assert!(!stdout.contains("would now be allowed"), "{stdout}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_counts_the_archives_no_media_record_names_until_chatvault_media_captures_them() {
    let emu = start_emulator(media_config()).await;
    let off = format!("{MEDIA}  capture: false\n");
    let project = project(
        &emu,
        &[("media.yaml", job_text("media", "file://archive", &off))],
    );
    let (code, stdout, stderr) = run(&project, &emu, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let status = status_json(&project, &emu).await;
    assert!(
        status[0]["media_unrecorded"].is_null(),
        "a job keeping links only has nothing to look at: {status}"
    );

    project.job("media.yaml", job_text("media", "file://archive", MEDIA));
    let status = status_json(&project, &emu).await;
    let unrecorded = status[0]["media_unrecorded"].as_u64().unwrap_or(0);
    assert!(
        unrecorded > 0,
        "status counts the archives with no record: {status}"
    );
    let (code, stdout, _) = run(&project, &emu, &["status", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}");
    let line =
        format!("media          {unrecorded} archive(s) not looked at yet: run `chatvault media`");
    assert!(stdout.contains(&line), "{stdout}");

    let (code, stdout, stderr) = run(&project, &emu, &["media", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(status_json(&project, &emu).await[0]["media_unrecorded"], 0);
    let (_, stdout, _) = run(&project, &emu, &["status", "jobs"]).await;
    assert!(!stdout.contains("not looked at yet"), "{stdout}");
    emu.shutdown().await;
}
