//! Signing, as a user sets it up: `chatvault keys generate` makes the key pair, the global
//! config names the private key, and what `run`, `media` and `index` write beside archives
//! (manifests, media and catalog records) then carries a signature the public key checks. A
//! key that cannot be used stops the command before it does anything. Real processes against
//! the emulator on the real clock, archives in a local folder.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use chatvault::signing::{Check, Keyring, PublicKey, SigningKey, check};
use chatvault_emulator::Emulator;
use serde_json::Value;

use crate::common::processes::{
    command, finish, project_with_job, realtime_config, start_emulator,
};
use crate::common::{self, Project, files_below, output, write_archive};

const JOB: &str = "name: signed\nschedule: \"0 0 * * *\"\n\
                   channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
                   destination:\n  url: file://archive\n  compression: gzip\n";

/// `chatvault keys generate` in `dir`: (exit code, stdout, stderr).
fn generate(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let mut cmd = common::chatvault_in(dir);
    cmd.args(["keys", "generate"]).args(args);
    output(&mut cmd)
}

/// A new key pair in `dir/name`, made as a user makes it; its public key, read from stdout.
fn new_key(dir: &Path, name: &str) -> PublicKey {
    let (code, stdout, stderr) = generate(dir, &["--out", name]);
    assert_eq!(code, 0, "{stderr}");
    PublicKey::from_pem(&stdout, "stdout").unwrap_or_else(|e| panic!("{e}:\n{stdout}"))
}

fn keyring(key: &PublicKey) -> Keyring {
    let mut keys = Keyring::default();
    keys.add(key.clone());
    keys
}

/// What each file below `dir` ending in `suffix` says when checked against `keys`.
fn checks(dir: &Path, suffix: &str, keys: &Keyring) -> Vec<(String, Check)> {
    files_below(dir, suffix)
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).expect("read a document");
            (path.display().to_string(), check(&bytes, keys))
        })
        .collect()
}

/// Every media record below `dir`.
fn media_records(dir: &Path, keys: &Keyring) -> Vec<(String, Check)> {
    checks(dir, ".json", keys)
        .into_iter()
        .filter(|(path, _)| path.contains(".media."))
        .collect()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("the file exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn keys_generate_writes_a_private_key_only_its_owner_reads_and_prints_its_public_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stdout, stderr) = generate(
        dir.path(),
        &["--out", "signing.pem", "--public-out", "signing.pub"],
    );
    assert_eq!(code, 0, "{stderr}");
    let private = dir.path().join("signing.pem");
    assert_eq!(mode(&private), 0o600);
    let key = SigningKey::from_file(&private).unwrap_or_else(|e| panic!("{e}"));
    let printed = PublicKey::from_pem(&stdout, "stdout").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(printed.id(), key.public().id());
    let written = std::fs::read_to_string(dir.path().join("signing.pub")).expect("--public-out");
    assert_eq!(written, stdout);
    assert!(
        !stdout.contains("PRIVATE"),
        "only the public key is printed: {stdout}"
    );
    assert!(
        stderr.contains(key.public().id())
            && stderr.contains("to signing.pem")
            && stderr.contains("key_file: PATH"),
        "stderr names the key and how to use it: {stderr}"
    );
}

/// The README tells an auditor to get the public key back with `openssl pkey -pubout`: the
/// key must be one OpenSSL 3.0 reads (PKCS#8 v1), and give the same public key.
#[test]
fn openssl_reads_a_generated_key_and_derives_the_same_public_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stdout, stderr) = generate(dir.path(), &["--out", "signing.pem"]);
    assert_eq!(code, 0, "{stderr}");
    let derived = std::process::Command::new("openssl")
        .args(["pkey", "-in", "signing.pem", "-pubout"])
        .current_dir(dir.path())
        .output()
        .expect("openssl runs (the Debian package openssl)");
    assert!(
        derived.status.success(),
        "{}",
        String::from_utf8_lossy(&derived.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&derived.stdout), stdout);
}

#[test]
fn keys_generate_leaves_no_half_pair() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (code, stdout, stderr) = generate(
        dir.path(),
        &[
            "--out",
            "signing.pem",
            "--public-out",
            "missing/signing.pub",
        ],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("missing/signing.pub"), "{stderr}");
    assert!(stdout.is_empty(), "no key printed: {stdout}");
    assert!(
        !dir.path().join("signing.pem").exists(),
        "no private key left"
    );

    let (code, _, stderr) = generate(dir.path(), &["--out", "k.pem", "--public-out", "k.pem"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("two files"), "{stderr}");
    assert!(!dir.path().join("k.pem").exists());
}

#[test]
fn keys_generate_never_overwrites_a_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("taken.pem"), "keep me").expect("write");
    let (code, stdout, stderr) = generate(dir.path(), &["--out", "taken.pem"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stderr.starts_with("error: taken.pem exists already"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "no key printed: {stdout}");
    let kept = std::fs::read_to_string(dir.path().join("taken.pem")).expect("read");
    assert_eq!(kept, "keep me");

    // A taken --public-out is found before a private key is written.
    let (code, _, stderr) = generate(
        dir.path(),
        &["--out", "new.pem", "--public-out", "taken.pem"],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("taken.pem exists already"), "{stderr}");
    assert!(!dir.path().join("new.pem").exists());
}

async fn emulator() -> Emulator {
    start_emulator(realtime_config(24)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_with_a_key_signs_its_manifests_and_media_records_and_without_one_does_not() {
    let emu = emulator().await;
    let signed = project_with_job(
        &emu,
        "signing:\n  key_file: signing.pem\n",
        "signed.yaml",
        JOB,
    );
    let public = new_key(signed.dir.path(), "signing.pem");
    let keys = keyring(&public);
    let (code, stdout, stderr) = finish(command(&signed, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}{stderr}");

    let archive = signed.dir.path().join("archive");
    let valid = Check::Valid {
        key_id: public.id().to_owned(),
    };
    let manifests = checks(&archive, ".manifest.json", &keys);
    let records = media_records(&archive, &keys);
    assert!(!manifests.is_empty(), "a manifest was written");
    assert!(!records.is_empty(), "a media record was written");
    for (path, said) in manifests.iter().chain(&records) {
        assert_eq!(said, &valid, "{path}");
    }

    let plain = project_with_job(&emu, "", "signed.yaml", JOB);
    let (code, stdout, stderr) = finish(command(&plain, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}{stderr}");
    let archive = plain.dir.path().join("archive");
    let manifests = checks(&archive, ".manifest.json", &keys);
    let records = media_records(&archive, &keys);
    assert!(!manifests.is_empty() && !records.is_empty());
    for (path, said) in manifests.iter().chain(&records) {
        assert_eq!(said, &Check::Unsigned, "{path}");
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_file_others_can_read_stops_the_run_before_anything_is_asked_of_stream() {
    let emu = emulator().await;
    let project = project_with_job(
        &emu,
        "signing:\n  key_file: signing.pem\n",
        "signed.yaml",
        JOB,
    );
    new_key(project.dir.path(), "signing.pem");
    let private = project.dir.path().join("signing.pem");
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o644)).expect("chmod");

    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("signing.pem") && stderr.contains("chmod 600"),
        "names the file and the fix: {stderr}"
    );
    assert!(!stderr.contains("PRIVATE KEY"), "{stderr}");
    assert!(!project.dir.path().join("archive").exists());
    assert!(emu.requests().is_empty(), "nothing was asked of Stream");
    emu.shutdown().await;
}

#[test]
fn a_key_that_is_not_one_stops_the_run_naming_where_it_came_from_not_its_text() {
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        "api:\n  key: k\n  base_url: http://127.0.0.1:9\nsigning:\n  key: ${SIGNING_KEY}\n",
    );
    project.job("signed.yaml", JOB);
    let text = "-----BEGIN PRIVATE KEY-----\nbm90LWEta2V5LUxFQUtNQVJL\n-----END PRIVATE KEY-----\n";
    let (code, stdout, stderr) = output(
        project
            .chatvault()
            .args(["run", "--once", "jobs"])
            .env("STREAM_API_SECRET", "s")
            .env("SIGNING_KEY", text)
            .env("CHATVAULT_LOG", "trace"),
    );
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("signing: signing.key in chatvault.yaml is not an Ed25519 private key"),
        "{stderr}"
    );
    assert!(stderr.contains("keys generate"), "a hint: {stderr}");
    assert!(
        !format!("{stdout}{stderr}").contains("bm90LWEta2V5LUxFQUtNQVJL"),
        "{stdout}{stderr}"
    );
}

/// `media` and `index` write records beside archives an older chatvault wrote: signed with
/// the configured key too.
#[test]
fn media_and_index_sign_the_records_they_write() {
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        "api:\n  key: k\n  base_url: http://127.0.0.1:9\nsigning:\n  key_file: signing.pem\n",
    );
    project.job(
        "old.yaml",
        "name: old\nschedule: \"0 0 * * *\"\nusers: [alice]\n\
         destination:\n  url: file://archive\n  compression: none\n",
    );
    let public = new_key(project.dir.path(), "signing.pem");
    let keys = keyring(&public);
    let lines: Vec<Value> = (0..2)
        .map(|i| {
            serde_json::json!({"type": "message", "item": {
                "id": format!("m{i}"), "cid": "messaging:x", "text": format!("hello {i}"),
                "user": {"id": "alice"}, "created_at": format!("2026-01-01T00:00:0{i}Z"),
            }})
        })
        .collect();
    let archive = project.dir.path().join("archive");
    write_archive(
        &archive,
        "old/2026/01/01/channels-0001.jsonl",
        "old",
        &lines,
    );

    let (code, stdout, stderr) = project.run(&["index", "jobs"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let (code, stdout, stderr) = output(
        project
            .chatvault()
            .args(["media", "jobs"])
            .env("STREAM_API_SECRET", "s"),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");

    let valid = Check::Valid {
        key_id: public.id().to_owned(),
    };
    let catalogs = checks(&archive, ".catalog.json", &keys);
    let records = media_records(&archive, &keys);
    assert_eq!(catalogs.len(), 1, "{catalogs:?}");
    assert_eq!(records.len(), 1, "{records:?}");
    for (path, said) in catalogs.iter().chain(&records) {
        assert_eq!(said, &valid, "{path}");
    }
}
