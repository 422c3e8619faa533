//! The same archive round trip against every kind of store: a local folder, and real S3
//! servers on 127.0.0.1 (moto for every write path, s3s-fs for signature checks); GCS
//! configuration and read paths against fake-gcs-server, which takes no XML-API writes.
//! `scripts/test` starts the servers; a test whose server is missing fails and says why.

#[path = "common/emulated.rs"]
mod emulated;
#[path = "common/servers.rs"]
mod servers;

use std::io::Read as _;

use chatvault::archive::manifest::{self, FORMAT, Manifest, ManifestError};
use chatvault::archive::store::{self, Store, StoreOptions};
use chatvault::archive::store_url::StoreUrl;
use chatvault::archive::transfer::{Target, TransferError, transfer};
use chatvault::archive::verify::verify;
use chatvault::config::job::Compression;
use chatvault_emulator::{Emulator, EmulatorConfig};
use chrono::{TimeDelta, Utc};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

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
    let options: StoreOptions = [
        ("aws_endpoint", server.endpoint.as_str()),
        ("aws_allow_http", "true"),
        ("aws_region", server.region.as_str()),
        ("aws_access_key_id", server.access_key.as_str()),
        ("aws_secret_access_key", secret),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    store::open(&url, &options, &[]).expect("S3 store opens")
}

fn manifest_for(key: &str, done: &chatvault::archive::transfer::Transferred) -> Manifest {
    let now = Utc::now();
    Manifest {
        format: FORMAT,
        job: "conformance".into(),
        tick: now,
        window_since: now - TimeDelta::days(1),
        window_until: now,
        kind: "channels".into(),
        batch: 1,
        channels: vec!["messaging:general-000".into()],
        users: Vec::new(),
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
            progress: None,
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
    manifest::write(store, &manifest).await.expect("committed");
    let again = manifest::write(store, &manifest).await;
    assert!(
        matches!(again, Err(ManifestError::Exists { .. })),
        "{}: a manifest is create-only: {again:?}",
        store.url()
    );
    let report = verify(store, None).await.expect("listed");
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
async fn a_large_export_goes_up_to_s3_in_several_parts() {
    let server = servers::moto();
    let store = s3_store(
        &server,
        &servers::unique_prefix("parts"),
        &server.secret_key,
    );
    let (emu, url, original) = export_link_of(EmulatorConfig {
        data: chatvault_emulator::DataSpec {
            messages_per_channel_per_day: 400,
            ..Default::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    assert!(
        original.len() > 16 * 1024 * 1024,
        "{} bytes",
        original.len()
    );
    let done = transfer(
        &reqwest::Client::new(),
        &url,
        &store,
        Target {
            key: "big.jsonl",
            compression: Compression::None,
            content_type: "application/x-ndjson",
            progress: None,
        },
    )
    .await
    .expect("transferred");
    assert!(done.parts >= 3, "{} parts", done.parts);
    let stored = store
        .object_store()
        .get(&ObjectPath::from("big.jsonl"))
        .await
        .expect("there")
        .bytes()
        .await
        .expect("read");
    assert!(
        stored[..] == original[..],
        "the parts join up to the export"
    );
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
            progress: None,
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
            progress: None,
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
    let report = verify(&store, Some("conformance")).await.expect("listed");
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(report.verified, [key]);
}

/// Writes to real GCS need credentials this machine does not have; with them
/// (`CHATVAULT_TEST_GCS_BUCKET` and `GOOGLE_APPLICATION_CREDENTIALS` or
/// `GOOGLE_SERVICE_ACCOUNT`) the round trip runs against the real service.
#[tokio::test]
async fn real_gcs_round_trip_when_credentials_are_given() {
    let Ok(bucket) = std::env::var("CHATVAULT_TEST_GCS_BUCKET") else {
        println!(
            "SKIPPED real_gcs_round_trip: set CHATVAULT_TEST_GCS_BUCKET and Google credentials \
             to run it against real GCS (fake-gcs-server takes no XML-API writes)"
        );
        return;
    };
    let env: Vec<(String, String)> = std::env::vars().collect();
    let url = StoreUrl::Gcs {
        bucket,
        prefix: servers::unique_prefix("chatvault-test"),
    };
    round_trip(&store::open(&url, &StoreOptions::new(), &env).expect("real GCS")).await;
}
