//! `chatvault verify` on a local folder: committed archives verify; a corrupt, a missing and
//! an extra object are each reported and fail the check.

use std::path::Path;

use assert_cmd::Command;
use chatvault::archive::manifest::{self, FORMAT, Manifest};
use chatvault::archive::transfer::hex;
use chatvault::store::url::StoreUrl;
use chatvault::store::{self, Store, StoreOptions};
use chrono::{TimeZone, Utc};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStoreExt, PutPayload};
use sha2::{Digest, Sha256};

async fn commit(store: &Store, key: &str, bytes: &[u8]) {
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
            job: "support".into(),
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
            chatvault_version: "test".into(),
        },
    )
    .await
    .expect("manifest written");
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
    let err = manifest::write(&store, &again)
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
