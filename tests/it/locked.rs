//! Write-once buckets: moto's bucket with S3 Object Lock and a default retention (compliance
//! mode, one day; `scripts/test-servers`). A job with `destination.immutable: true` runs into
//! it and every object it wrote carries its SHA-256 checksum; a job without is refused by the
//! bucket and told to set it; a locked version cannot be deleted; a plain DELETE, which only
//! hides the archive behind a delete marker, is what `verify` reports as missing.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chatvault::archive::manifest::MANIFEST_SUFFIX;
use chatvault::store::url::StoreUrl;
use chatvault::store::{self, Store};
use chatvault_emulator::Emulator;
use futures::TryStreamExt as _;
use object_store::path::Path;
use object_store::{ObjectStoreExt as _, PutPayload, WriteMultipart};
use reqwest::Method;
use sha2::{Digest as _, Sha256};

use crate::common::Project;
use crate::common::processes::{
    command, finish, project_with_job, realtime_config, start_emulator,
};
use crate::common::servers::{self, S3Server};

/// A job of one listed channel into `prefix` of the locked bucket; `immutable` as given.
fn job(server: &S3Server, prefix: &str, immutable: Option<bool>) -> String {
    let immutable = immutable
        .map(|on| format!("  immutable: {on}\n"))
        .unwrap_or_default();
    format!(
        "name: daily\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: messaging\n    ids: [general-000]\n\
         destination:\n  url: s3://{}/{prefix}\n{immutable}  options:\n    \
         aws_endpoint: {}\n    aws_allow_http: \"true\"\n    aws_region: {}\n",
        server.bucket, server.endpoint, server.region
    )
}

/// `chatvault ARGS` with the server's keys in the environment.
async fn chatvault(
    project: &Project,
    emu: &Emulator,
    server: &S3Server,
    args: &[&str],
) -> (i32, String, String) {
    let mut cmd = command(project, emu, args);
    cmd.env("AWS_ACCESS_KEY_ID", &server.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &server.secret_key)
        .env("NO_PROXY", "127.0.0.1,localhost");
    finish(cmd).await
}

fn store(server: &S3Server, prefix: &str) -> Store {
    let url = StoreUrl::S3 {
        bucket: server.bucket.clone(),
        prefix: prefix.to_owned(),
    };
    store::open_to_read(&url, &server.options(), &[]).expect("S3 store opens")
}

fn sha256_base64(bytes: &[u8]) -> String {
    BASE64.encode(Sha256::digest(bytes))
}

/// Every key below `prefix`.
async fn keys(store: &Store) -> Vec<String> {
    let mut keys: Vec<String> = store
        .object_store()
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .expect("lists");
    keys.sort();
    keys
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_immutable_run_into_an_object_lock_bucket_stores_checksums_and_verifies() {
    let emu = start_emulator(realtime_config(12)).await;
    let server = servers::moto_locked();
    let prefix = servers::unique_prefix("immutable-run");
    let project = project_with_job(&emu, "", "daily.yaml", &job(&server, &prefix, Some(true)));
    let (code, stdout, stderr) =
        chatvault(&project, &emu, &server, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    let store = store(&server, &prefix);
    let keys = keys(&store).await;
    let archives: Vec<&String> = keys
        .iter()
        .filter(|k| keys.contains(&format!("{k}{MANIFEST_SUFFIX}")))
        .collect();
    assert!(!archives.is_empty(), "the run wrote archives: {keys:?}");
    // Each object went up in one PUT (they are small), so its checksum is its bytes' SHA-256.
    for key in &keys {
        let bytes = store
            .object_store()
            .get(&Path::from(key.as_str()))
            .await
            .expect("reads")
            .bytes()
            .await
            .expect("reads");
        let checksum = server.stored_checksum(&format!("{prefix}/{key}")).await;
        assert_eq!(checksum, Some(sha256_base64(&bytes)), "{key}");
    }

    let (code, stdout, stderr) = chatvault(
        &project,
        &emu,
        &server,
        &["verify", "--job", "daily", "jobs"],
    )
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains(" 0 missing"), "{stdout}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_into_an_object_lock_bucket_without_immutable_is_told_to_set_it() {
    let emu = start_emulator(realtime_config(12)).await;
    let server = servers::moto_locked();
    let prefix = servers::unique_prefix("not-immutable");
    let project = project_with_job(&emu, "", "daily.yaml", &job(&server, &prefix, None));
    let (code, stdout, stderr) =
        chatvault(&project, &emu, &server, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let hints: Vec<&str> = stderr.lines().filter(|l| l.starts_with("hint: ")).collect();
    assert!(
        hints
            .iter()
            .any(|h| h.contains("Object Lock") && h.contains("set destination.immutable: true")),
        "{stderr}"
    );
    assert!(keys(&store(&server, &prefix)).await.is_empty());
    emu.shutdown().await;
}

/// The store's side of write-once: whatever chatvault does, a version written there stays. A
/// DELETE of the version is refused; a plain DELETE adds a delete marker in front of it, and
/// `verify` says the archive is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_version_cannot_be_deleted_and_a_delete_marker_is_reported_missing() {
    let emu = start_emulator(realtime_config(12)).await;
    let server = servers::moto_locked();
    let prefix = servers::unique_prefix("delete-marker");
    let project = project_with_job(&emu, "", "daily.yaml", &job(&server, &prefix, Some(true)));
    let (code, stdout, stderr) =
        chatvault(&project, &emu, &server, &["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let keys = keys(&store(&server, &prefix)).await;
    let archive = keys
        .iter()
        .find(|k| keys.contains(&format!("{k}{MANIFEST_SUFFIX}")))
        .expect("an archive with its manifest");
    let path = format!("{prefix}/{archive}");

    let head = server.signed(Method::HEAD, &path, &[]).await;
    assert_eq!(
        head.headers()
            .get("x-amz-object-lock-mode")
            .and_then(|v| v.to_str().ok()),
        Some("COMPLIANCE"),
        "the default retention locked the archive"
    );
    let version = head
        .headers()
        .get("x-amz-version-id")
        .and_then(|v| v.to_str().ok())
        .expect("a version id")
        .to_owned();
    let by_version = format!("{path}?versionId={version}");
    let refused = server.signed(Method::DELETE, &by_version, &[]).await;
    assert_eq!(refused.status(), reqwest::StatusCode::FORBIDDEN);
    let bypass = [("x-amz-bypass-governance-retention", "true")];
    let refused = server.signed(Method::DELETE, &by_version, &bypass).await;
    assert_eq!(
        refused.status(),
        reqwest::StatusCode::FORBIDDEN,
        "compliance mode allows no bypass"
    );

    let (code, stdout, stderr) = chatvault(
        &project,
        &emu,
        &server,
        &["verify", "--job", "daily", "jobs"],
    )
    .await;
    assert_eq!(code, 0, "the archive is still there:\n{stdout}\n{stderr}");

    let marked = server.signed(Method::DELETE, &path, &[]).await;
    assert!(marked.status().is_success(), "{}", marked.status());
    assert_eq!(
        marked
            .headers()
            .get("x-amz-delete-marker")
            .and_then(|v| v.to_str().ok()),
        Some("true")
    );
    let (code, stdout, stderr) = chatvault(
        &project,
        &emu,
        &server,
        &["verify", "--job", "daily", "jobs"],
    )
    .await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let output = format!("{stdout}{stderr}");
    assert!(
        output
            .lines()
            .any(|l| l.starts_with("missing") && l.contains(archive.as_str())),
        "{output}"
    );
    // The locked version is still there behind the marker.
    let kept = server.signed(Method::GET, &by_version, &[]).await;
    assert!(kept.status().is_success(), "{}", kept.status());
    emu.shutdown().await;
}

/// object_store's checksums on both upload paths of a write-once store: a single PUT and a
/// multipart upload (parts and completion), whose checksum S3 keeps as the checksum of the
/// parts' checksums.
#[tokio::test]
async fn a_write_once_store_checksums_single_and_multipart_uploads() {
    let server = servers::moto_locked();
    let prefix = servers::unique_prefix("write-once-store");
    let store = server.write_once_store(&prefix);
    let objects = store.object_store();

    let small = b"one PUT".to_vec();
    objects
        .put(&Path::from("small"), PutPayload::from(small.clone()))
        .await
        .expect("a checksummed PUT is taken");
    assert_eq!(
        server.stored_checksum(&format!("{prefix}/small")).await,
        Some(sha256_base64(&small))
    );

    const PART: usize = 5 << 20;
    let big: Vec<u8> = (0..PART + 1000).map(|i| (i % 251) as u8).collect();
    let upload = objects
        .put_multipart(&Path::from("big"))
        .await
        .expect("starts");
    let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
    writer.write(&big);
    writer.finish().await.expect("completes");
    let parts: Vec<u8> = [&big[..PART], &big[PART..]]
        .iter()
        .flat_map(|part| Sha256::digest(part).to_vec())
        .collect();
    // AWS says `<checksum of the checksums>-2`; moto 5.2 leaves the count off.
    let composite = server
        .stored_checksum(&format!("{prefix}/big"))
        .await
        .expect("a checksum");
    assert_eq!(
        composite.trim_end_matches("-2"),
        sha256_base64(&parts),
        "{composite}"
    );

    let url = StoreUrl::S3 {
        bucket: server.bucket.clone(),
        prefix,
    };
    let plain = store::open(&url, &server.options(), &[]).expect("opens");
    let refused = plain
        .object_store()
        .put(&Path::from("unchecked"), PutPayload::from_static(b"no"))
        .await
        .expect_err("the bucket refuses an upload without a checksum");
    assert_eq!(
        store::problem::diagnose(&refused),
        Some(store::problem::Problem::ObjectLockNeedsChecksum),
        "{refused}"
    );
}

/// The checksum of a write-once bucket's streaming PUT is part of what its URL's signature
/// covers: s3s-fs, which checks signatures, takes the PUT with it and refuses it with another
/// checksum in the header.
#[tokio::test]
async fn a_checksummed_streaming_put_passes_a_signature_check() {
    let server = servers::s3s();
    let prefix = servers::unique_prefix("checksummed-put");
    let store = server.write_once_store(&prefix);
    let put = store.signed_put().expect("a streaming PUT");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("an HTTP client");
    let body = b"hashed before it is sent".to_vec();
    let digest: [u8; 32] = Sha256::digest(&body).into();
    put.put(
        &http,
        &Path::from("file"),
        reqwest::Body::from(body.clone()),
        body.len() as u64,
        None,
        Some(&digest),
    )
    .await
    .expect("the signed checksum is taken");
    let stored = store
        .object_store()
        .get(&Path::from("file"))
        .await
        .expect("stored")
        .bytes()
        .await
        .expect("reads");
    assert_eq!(stored.as_ref(), body.as_slice());

    let signed = put
        .url(
            &Path::from("other"),
            Some(&reqwest::header::HeaderValue::from_static(
                "uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=",
            )),
        )
        .await
        .expect("signs");
    let swapped = http
        .put(signed)
        .header("x-amz-checksum-sha256", sha256_base64(b"something else"))
        .body(b"something else".to_vec())
        .send()
        .await
        .expect("answers");
    assert_eq!(swapped.status(), reqwest::StatusCode::FORBIDDEN);
}
