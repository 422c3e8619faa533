//! The same archive round trip against every kind of store: a local folder, real S3 servers on
//! 127.0.0.1 (moto for every write path, s3s-fs for signature checks) and GCS through the
//! emulator crate's XML-API server (every write path: single PUTs, multipart uploads and their
//! aborts, create-only manifests), which each test starts for itself. fake-gcs-server, which
//! takes no XML-API writes, checks GCS reads of objects seeded through its JSON API against a
//! second implementation. `scripts/test` starts the S3 servers and fake-gcs-server; a test whose
//! server is missing fails and says why. The round trip against real GCS is ignored unless asked
//! for (`--run-ignored`), and then fails without credentials.

use std::collections::BTreeSet;
use std::io::Read as _;

use chatvault::archive::entities::Layout;
use chatvault::archive::manifest::{self, FORMAT, Manifest, ManifestError};
use chatvault::archive::transfer::{Target, TransferError, transfer};
use chatvault::archive::verify::verify;
use chatvault::config::job::Compression;
use chatvault::config::job::DEFAULT_MEDIA_PREFIX;
use chatvault::store::url::StoreUrl;
use chatvault::store::{self, Store, StoreOptions};
use chatvault_emulator::{Emulator, EmulatorConfig};
use chrono::{TimeDelta, Utc};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use sha2::Digest as _;

use crate::common::emulated;
use crate::common::servers;

/// A finished export's fresh link, and its bytes as Stream serves them.
async fn export_link() -> (Emulator, String, Vec<u8>) {
    export_link_of(EmulatorConfig::default()).await
}

async fn export_link_of(config: EmulatorConfig) -> (Emulator, String, Vec<u8>) {
    let (emu, client, task) = emulated::finished_export(config, 2).await;
    let url = emulated::link(&client, &task).await.expect("link");
    let bytes = emulated::download(&url).await;
    (emu, url, bytes)
}

fn s3_store(server: &servers::S3Server, prefix: &str, secret: &str) -> Store {
    let url = StoreUrl::S3 {
        bucket: server.bucket.clone(),
        prefix: prefix.to_owned(),
    };
    let options = server.options_via(&server.endpoint, secret);
    store::open(&url, &options, &[]).expect("S3 store opens")
}

fn manifest_for(key: &str, done: &chatvault::archive::transfer::Transferred) -> Manifest {
    let now = Utc::now();
    Manifest {
        format: FORMAT,
        job: "conformance".into(),
        tick: now,
        window_since: Some(now - TimeDelta::days(1)),
        window_until: Some(now),
        snapshot_at: None,
        kind: "channels".into(),
        batch: 1,
        channels: vec!["messaging:general-000".into()],
        users: Vec::new(),
        missing: Vec::new(),
        task_id: "task".into(),
        export_version: "v2".into(),
        key: key.into(),
        bytes_source: done.bytes_source,
        bytes_stored: done.bytes_stored,
        sha256: done.sha256.clone(),
        content_encoding: "zstd".into(),
        exported_at: None,
        archived_at: now,
        chatvault_version: "test".into(),
        contents: Some(done.tally.clone()),
        supersedes: None,
    }
}

/// The round trip every store must pass: transfer, read back, commit once, verify clean.
async fn round_trip(store: &Store) {
    let (emu, url, original) = export_link().await;
    let key = "conformance/2026/01/01/channels-0001.jsonl.zst";
    let done = transfer(
        &reqwest::Client::new(),
        &url,
        store,
        Target {
            key,
            compression: Compression::Zstd,
            content_type: "application/x-ndjson",
            layout: Layout::Lines,
            progress: None,
            erased: &BTreeSet::new(),
        },
    )
    .await
    .expect("transferred");
    let stored = store
        .object_store()
        .get(&ObjectPath::from(key))
        .await
        .expect("archive there")
        .bytes()
        .await
        .expect("read");
    assert_eq!(stored.len() as u64, done.bytes_stored);
    let mut back = Vec::new();
    zstd::stream::read::Decoder::new(&stored[..])
        .expect("zstd")
        .read_to_end(&mut back)
        .expect("decompress");
    assert_eq!(back, original, "{}: the archive is the export", store.url());

    let manifest = manifest_for(key, &done);
    manifest::write(store, &manifest, None)
        .await
        .expect("committed");
    let again = manifest::write(store, &manifest, None).await;
    assert!(
        matches!(again, Err(ManifestError::Exists { .. })),
        "{}: a manifest is create-only: {again:?}",
        store.url()
    );
    let report = verify(store, None, DEFAULT_MEDIA_PREFIX)
        .await
        .expect("listed");
    assert!(report.is_clean(), "{}: {report:?}", store.url());
    assert_eq!(report.verified, [key]);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_local_folder_passes_the_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = StoreUrl::File {
        path: dir.path().join("archive"),
    };
    round_trip(&store::open(&url, &StoreOptions::new(), &[]).expect("local")).await;
}

#[tokio::test]
async fn moto_passes_the_round_trip() {
    let server = servers::moto();
    let prefix = servers::unique_prefix("round-trip");
    round_trip(&s3_store(&server, &prefix, &server.secret_key)).await;
}

#[tokio::test]
async fn the_local_gcs_server_passes_the_round_trip() {
    let gcs = servers::local_gcs().await;
    let store = gcs.store(servers::GCS_BUCKET, &servers::unique_prefix("round-trip"));
    round_trip(&store).await;
    let (_, etag, content_type) =
        stored(&store, "conformance/2026/01/01/channels-0001.jsonl.zst").await;
    assert!(
        !etag.contains('-'),
        "a small archive goes in one PUT: {etag}"
    );
    assert_eq!(content_type.as_deref(), Some("application/x-ndjson"));
}

/// A finished export of more than 16 MiB: two 8 MiB parts and some.
async fn large_export(exact_content_length: bool) -> (Emulator, String, Vec<u8>) {
    let (emu, url, original) = export_link_of(EmulatorConfig {
        data: chatvault_emulator::DataSpec {
            messages_per_channel_per_day: 400,
            ..Default::default()
        },
        exact_content_length,
        ..EmulatorConfig::default()
    })
    .await;
    assert!(
        original.len() > 16 * 1024 * 1024,
        "{} bytes",
        original.len()
    );
    (emu, url, original)
}

/// One transfer of `url` into `key`, stored as served.
async fn send_large(
    store: &Store,
    url: &str,
    key: &str,
) -> Result<chatvault::archive::transfer::Transferred, TransferError> {
    let target = Target {
        key,
        compression: Compression::None,
        content_type: "application/x-ndjson",
        layout: Layout::Lines,
        progress: None,
        erased: &BTreeSet::new(),
    };
    transfer(&reqwest::Client::new(), url, store, target).await
}

/// The stored object, and its ETag: a multipart upload's ends in `-<parts>`, a single PUT's
/// does not.
async fn stored(store: &Store, key: &str) -> (Vec<u8>, String, Option<String>) {
    let got = store
        .object_store()
        .get(&ObjectPath::from(key))
        .await
        .expect("there");
    let etag = got.meta.e_tag.clone().unwrap_or_default();
    let content_type = got
        .attributes
        .get(&object_store::Attribute::ContentType)
        .map(|v| v.to_string());
    (
        got.bytes().await.expect("read").to_vec(),
        etag,
        content_type,
    )
}

/// An export whose length the file host states goes up as one streaming PUT (no multipart
/// assembly on the server), through a presigned URL: against moto, and against s3s-fs,
/// which checks the signature.
#[tokio::test]
async fn a_large_export_of_known_length_goes_up_to_s3_in_one_streaming_put() {
    let (emu, url, original) = large_export(true).await;
    for server in [servers::moto(), servers::s3s()] {
        let store = s3_store(
            &server,
            &servers::unique_prefix("streaming-put"),
            &server.secret_key,
        );
        assert!(store.signed_put().is_some(), "{}", store.url());
        let done = send_large(&store, &url, "big.jsonl")
            .await
            .expect("transferred");
        assert_eq!(done.parts, 1, "{}", store.url());
        assert_eq!(done.bytes_stored, original.len() as u64);
        assert_eq!(
            done.sha256,
            chatvault::archive::transfer::hex(&sha2::Sha256::digest(&original))
        );
        let (bytes, etag, content_type) = stored(&store, "big.jsonl").await;
        assert!(
            bytes == original,
            "{}: the bytes arrived whole",
            store.url()
        );
        assert!(
            !etag.trim_matches('"').contains('-'),
            "{}: one PUT, ETag {etag}",
            store.url()
        );
        if store.url().contains(&servers::moto().bucket) {
            assert_eq!(content_type.as_deref(), Some("application/x-ndjson"));
        }
    }
    emu.shutdown().await;
}

/// Without a stated length (chunked), the same export goes as a multipart upload.
#[tokio::test]
async fn a_large_export_of_unknown_length_goes_up_to_s3_in_several_parts() {
    let server = servers::moto();
    let store = s3_store(
        &server,
        &servers::unique_prefix("parts"),
        &server.secret_key,
    );
    let (emu, url, original) = large_export(false).await;
    let done = send_large(&store, &url, "big.jsonl")
        .await
        .expect("transferred");
    assert!(done.parts >= 3, "{} parts", done.parts);
    let (bytes, etag, _) = stored(&store, "big.jsonl").await;
    assert!(bytes == original, "the parts join up to the export");
    assert!(
        etag.trim_matches('"')
            .ends_with(&format!("-{}", done.parts)),
        "a multipart ETag: {etag}"
    );
    emu.shutdown().await;
}

/// GCS has no streaming PUT: an export larger than a part goes as an XML multipart upload of
/// 8 MiB parts, which joins up to the export and leaves no upload open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_large_export_goes_up_to_gcs_in_several_parts() {
    let gcs = servers::local_gcs().await;
    let store = gcs.store(servers::GCS_BUCKET, &servers::unique_prefix("parts"));
    assert!(store.signed_put().is_none());
    let (emu, url, original) = large_export(true).await;
    let done = send_large(&store, &url, "big.jsonl")
        .await
        .expect("transferred");
    assert!(done.parts >= 3, "{} parts", done.parts);
    let (bytes, etag, content_type) = stored(&store, "big.jsonl").await;
    assert!(bytes == original, "the parts join up to the export");
    assert!(
        etag.trim_matches('"')
            .ends_with(&format!("-{}", done.parts)),
        "a multipart ETag: {etag}"
    );
    assert_eq!(content_type.as_deref(), Some("application/x-ndjson"));
    assert_eq!(gcs.server.open_uploads(), []);
    emu.shutdown().await;
}

/// A download cut while its streaming PUT is under way: the PUT never completes, so nothing
/// appears under the key, and the error is the download's (worth a retry).
#[tokio::test]
async fn a_streaming_put_cut_midway_leaves_nothing() {
    let server = servers::moto();
    let store = s3_store(
        &server,
        &servers::unique_prefix("cut-put"),
        &server.secret_key,
    );
    let (emu, url, _) = large_export(true).await;
    emu.faults().cut_next_downloads(1, 12 * 1024 * 1024);
    let err = send_large(&store, &url, "cut.jsonl")
        .await
        .expect_err("cut");
    assert!(matches!(err, TransferError::Read(_)), "{err}");
    assert!(err.is_retryable(), "{err}");
    let listed = store
        .object_store()
        .list_with_delimiter(None)
        .await
        .expect("list");
    assert!(listed.objects.is_empty(), "nothing visible: {listed:?}");
    emu.shutdown().await;
}

/// A wrong secret on the streaming PUT: refused by s3s-fs, reported with S3's error code,
/// and neither the secret nor the presigned URL's signature in the message.
#[tokio::test]
async fn a_streaming_put_with_a_wrong_secret_fails_clearly() {
    let server = servers::s3s();
    let store = s3_store(
        &server,
        &servers::unique_prefix("wrong-put"),
        "not-the-secret",
    );
    let (emu, url, _) = large_export(true).await;
    let err = send_large(&store, &url, "k.jsonl")
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, TransferError::Upload { .. }), "{text}");
    assert!(text.contains("k.jsonl") && text.contains("403"), "{text}");
    for leak in ["not-the-secret", "X-Amz-Signature", "X-Amz-Credential", "?"] {
        assert!(!text.contains(leak), "{leak} in: {text}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn s3s_checks_signatures_and_passes_the_round_trip() {
    let server = servers::s3s();
    let prefix = servers::unique_prefix("round-trip");
    round_trip(&s3_store(&server, &prefix, &server.secret_key)).await;
}

#[tokio::test]
async fn a_wrong_secret_fails_clearly_against_a_signature_checking_server() {
    let server = servers::s3s();
    let (emu, url, _) = export_link().await;
    let store = s3_store(
        &server,
        &servers::unique_prefix("wrong-secret"),
        "not-the-secret",
    );
    let err = transfer(
        &reqwest::Client::new(),
        &url,
        &store,
        Target {
            key: "k.jsonl",
            compression: Compression::None,
            content_type: "application/x-ndjson",
            layout: Layout::Lines,
            progress: None,
            erased: &BTreeSet::new(),
        },
    )
    .await
    .expect_err("refused");
    let text = err.to_string();
    assert!(matches!(err, TransferError::Upload { .. }), "{text}");
    assert!(text.contains("k.jsonl") && text.contains("403"), "{text}");
    assert!(
        !text.contains("not-the-secret"),
        "the secret is not echoed: {text}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn a_failed_upload_to_s3_is_aborted_and_invisible() {
    let server = servers::moto();
    let prefix = servers::unique_prefix("abort");
    let real = s3_store(&server, &prefix, &server.secret_key);
    let (emu, url, _) = export_link().await;
    // Cut the download after the upload has started: the upload must be aborted.
    emu.faults().cut_next_downloads(1, 2_000);
    let err = transfer(
        &reqwest::Client::new(),
        &url,
        &real,
        Target {
            key: "cut.jsonl",
            compression: Compression::None,
            content_type: "application/x-ndjson",
            layout: Layout::Lines,
            progress: None,
            erased: &BTreeSet::new(),
        },
    )
    .await
    .expect_err("cut");
    assert!(err.is_retryable(), "{err}");
    let listed = real
        .object_store()
        .list_with_delimiter(None)
        .await
        .expect("list");
    assert!(listed.objects.is_empty(), "nothing visible: {listed:?}");
    let uploads = reqwest::get(format!("{}/{}?uploads", server.endpoint, server.bucket))
        .await
        .expect("list uploads")
        .text()
        .await
        .expect("body");
    assert!(
        !uploads.contains(&format!("{prefix}/cut.jsonl")),
        "the multipart upload was aborted: {uploads}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_upload_to_gcs_is_aborted_and_invisible() {
    let gcs = servers::local_gcs().await;
    let store = gcs.store(servers::GCS_BUCKET, &servers::unique_prefix("abort"));
    let (emu, url, _) = large_export(true).await;
    // Cut the download after the first part has gone up: the upload must be aborted.
    emu.faults().cut_next_downloads(1, 12 * 1024 * 1024);
    let err = send_large(&store, &url, "cut.jsonl")
        .await
        .expect_err("cut");
    assert!(err.is_retryable(), "{err}");
    let listed = store
        .object_store()
        .list_with_delimiter(None)
        .await
        .expect("list");
    assert!(listed.objects.is_empty(), "nothing visible: {listed:?}");
    assert_eq!(
        gcs.server.open_uploads(),
        [],
        "the multipart upload was aborted"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn fake_gcs_serves_gcs_configuration_and_read_paths() {
    let server = servers::gcs();
    let prefix = servers::unique_prefix("gcs");
    let key = "job/channels-0001.jsonl";
    let body = b"{\"type\":\"channel\"}\n".to_vec();
    let http = reqwest::Client::new();
    let seed = |name: String, bytes: Vec<u8>| {
        http.post(format!(
            "{}/upload/storage/v1/b/{}/o?uploadType=media&name={name}",
            server.endpoint, server.bucket
        ))
        .body(bytes)
        .send()
    };
    let seeded = seed(format!("{prefix}/{key}"), body.clone())
        .await
        .expect("seed archive");
    assert!(seeded.status().is_success(), "{}", seeded.status());
    let done = chatvault::archive::transfer::Transferred {
        bytes_source: body.len() as u64,
        bytes_stored: body.len() as u64,
        sha256: chatvault::archive::transfer::hex(&<sha2::Sha256 as sha2::Digest>::digest(&body)),
        parts: 1,
        tally: chatvault::archive::tally::Tally::default(),
        media: Vec::new(),
        scrubbed: chatvault::archive::scrubbing::Scrubbed::default(),
    };
    let manifest = serde_json::to_vec(&manifest_for(key, &done)).expect("json");
    let seeded = seed(
        format!("{prefix}/{}", manifest::manifest_key(key)),
        manifest,
    )
    .await
    .expect("seed manifest");
    assert!(seeded.status().is_success());

    let url = StoreUrl::Gcs {
        bucket: server.bucket.clone(),
        prefix: prefix.clone(),
    };
    let options: StoreOptions = [
        ("google_base_url", server.endpoint.as_str()),
        ("google_skip_signature", "true"),
        ("google_allow_http", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let store = store::open(&url, &options, &[]).expect("GCS store opens");
    let read = manifest::read(&store, key)
        .await
        .expect("read")
        .expect("there");
    assert_eq!(read.sha256, done.sha256);
    let report = verify(&store, Some("conformance"), DEFAULT_MEDIA_PREFIX)
        .await
        .expect("listed");
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.verified, [key]);
}

/// The variables [`real_gcs_round_trip_when_credentials_are_given`] needs.
const REAL_GCS_SETTINGS: &str = "CHATVAULT_TEST_GCS_BUCKET (a bucket to write under) and \
    GOOGLE_APPLICATION_CREDENTIALS, GOOGLE_SERVICE_ACCOUNT or GOOGLE_SERVICE_ACCOUNT_KEY";

/// The round trip against real GCS, with credentials this machine does not have. Run it with
/// them set: `cargo nextest run --run-ignored only -E 'test(real_gcs_round_trip)'`.
#[tokio::test]
#[ignore = "needs real GCS: set CHATVAULT_TEST_GCS_BUCKET and GOOGLE_APPLICATION_CREDENTIALS (or GOOGLE_SERVICE_ACCOUNT / GOOGLE_SERVICE_ACCOUNT_KEY), then run with --run-ignored"]
async fn real_gcs_round_trip_when_credentials_are_given() {
    let set = |name: &str| std::env::var(name).is_ok_and(|v| !v.is_empty());
    let bucket = std::env::var("CHATVAULT_TEST_GCS_BUCKET")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| panic!("CHATVAULT_TEST_GCS_BUCKET is not set: set {REAL_GCS_SETTINGS}"));
    assert!(
        [
            "GOOGLE_APPLICATION_CREDENTIALS",
            "GOOGLE_SERVICE_ACCOUNT",
            "GOOGLE_SERVICE_ACCOUNT_KEY"
        ]
        .iter()
        .any(|name| set(name)),
        "no Google credentials are set: set {REAL_GCS_SETTINGS}"
    );
    let env: Vec<(String, String)> = std::env::vars().collect();
    let url = StoreUrl::Gcs {
        bucket,
        prefix: servers::unique_prefix("chatvault-test"),
    };
    round_trip(&store::open(&url, &StoreOptions::new(), &env).expect("real GCS")).await;
}
