//! Streaming an export from the emulator's presigned link into stores: in memory, a local
//! folder, a store that fails mid-upload, and moto for how a small archive reaches S3 (one
//! PUT, no multipart upload). The round trip against every real server is in `stores.rs`.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use chatvault::archive::entities::Layout;
use chatvault::archive::transfer::{Target, TransferError, transfer, transfer_with_retries};
use chatvault::config::job::Compression;
use chatvault::retry::RetryPolicy;
use chatvault::store::url::StoreUrl;
use chatvault::store::{self, Store, StoreOptions};
use chatvault_emulator::{DataSpec, EmulatorConfig};
use chrono::TimeDelta;
use futures::stream::BoxStream;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt, PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};
use sha2::Digest as _;

use crate::common::emulated::{EmuClock, download, finished_export, link};
use crate::common::servers;

async fn stored(store: &Store, key: &str) -> Option<Vec<u8>> {
    match store.object_store().get(&Path::from(key)).await {
        Ok(got) => Some(got.bytes().await.expect("read").to_vec()),
        Err(object_store::Error::NotFound { .. }) => None,
        Err(e) => panic!("get {key}: {e}"),
    }
}

fn decompress(bytes: &[u8], compression: Compression) -> Vec<u8> {
    let mut out = Vec::new();
    match compression {
        Compression::None => out.extend_from_slice(bytes),
        Compression::Gzip => {
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .expect("gunzip");
        }
        Compression::Zstd => out = zstd::decode_all(bytes).expect("unzstd"),
    }
    out
}

/// Three attempts, waits on the emulator's clock (moved, not waited for).
const RETRY: RetryPolicy = RetryPolicy::new(3, Duration::from_secs(1), Duration::from_secs(30));

/// Nobody erased: the bytes are stored as they come.
static NO_ONE: BTreeSet<String> = BTreeSet::new();

fn target(key: &str, compression: Compression) -> Target<'_> {
    Target {
        key,
        compression,
        content_type: "application/x-ndjson",
        layout: Layout::Lines,
        progress: None,
        erased: &NO_ONE,
    }
}

#[tokio::test]
async fn every_compression_stores_the_export_byte_for_byte() {
    let (emu, client, task) = finished_export(EmulatorConfig::default(), 3).await;
    let url = link(&client, &task).await.expect("link");
    let original = download(&url).await;
    assert!(original.len() > 10_000, "{} bytes", original.len());
    let http = reqwest::Client::new();
    let dir = tempfile::tempdir().expect("tempdir");
    let local = store::open(
        &StoreUrl::File {
            path: dir.path().to_path_buf(),
        },
        &StoreOptions::new(),
        &[],
    )
    .expect("local store");
    for store in [Store::memory(), local] {
        for compression in [Compression::None, Compression::Gzip, Compression::Zstd] {
            let key = format!("job/{compression}/channels-0001.jsonl");
            let done = transfer(&http, &url, &store, target(&key, compression))
                .await
                .expect("transferred");
            let bytes = stored(&store, &key).await.expect("stored");
            assert_eq!(done.bytes_stored, bytes.len() as u64);
            assert_eq!(done.bytes_source, original.len() as u64);
            assert_eq!(
                done.sha256,
                chatvault::archive::transfer::hex(&sha2::Sha256::digest(&bytes)),
                "the hash is of the stored bytes"
            );
            assert_eq!(decompress(&bytes, compression), original, "{compression}");
        }
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn a_cut_download_leaves_nothing_and_a_retry_completes_it() {
    let (emu, client, task) = finished_export(EmulatorConfig::default(), 3).await;
    let http = reqwest::Client::new();
    let store = Store::memory();
    emu.faults().cut_next_downloads(1, 5_000);
    let url = link(&client, &task).await.expect("link");
    let err = transfer(
        &http,
        &url,
        &store,
        target("a/cut.jsonl.gz", Compression::Gzip),
    )
    .await
    .expect_err("cut");
    assert!(err.is_retryable(), "{err}");
    assert_eq!(
        stored(&store, "a/cut.jsonl.gz").await,
        None,
        "no partial object"
    );

    emu.faults().cut_next_downloads(1, 5_000);
    let done = transfer_with_retries(
        &http,
        || link(&client, &task),
        &store,
        target("a/cut.jsonl.gz", Compression::Gzip),
        &RETRY,
        &EmuClock(emu.clock().clone()),
    )
    .await
    .expect("the second attempt completes");
    assert_eq!(
        stored(&store, "a/cut.jsonl.gz")
            .await
            .map(|b| b.len() as u64),
        Some(done.bytes_stored)
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn an_expired_link_is_renewed_not_failed() {
    let (emu, client, task) = finished_export(EmulatorConfig::default(), 1).await;
    let http = reqwest::Client::new();
    let store = Store::memory();
    let old = link(&client, &task).await.expect("link");
    emu.clock().advance(TimeDelta::hours(25));
    let err = transfer(&http, &old, &store, target("k.jsonl", Compression::None))
        .await
        .expect_err("expired");
    assert!(
        matches!(err, TransferError::LinkRefused { status: 403 }),
        "{err}"
    );
    let mut links = 0;
    let done = transfer_with_retries(
        &http,
        || {
            links += 1;
            let url = if links == 1 { Ok(old.clone()) } else { Err(()) };
            let client = &client;
            let task = task.clone();
            async move {
                match url {
                    Ok(url) => Ok(url),
                    Err(()) => link(client, &task).await,
                }
            }
        },
        &store,
        target("k.jsonl", Compression::None),
        &RETRY,
        &EmuClock(emu.clock().clone()),
    )
    .await
    .expect("renewed");
    assert_eq!(links, 2, "one stale link, then a fresh one");
    assert!(done.bytes_stored > 0);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_lapsed_export_is_reported_as_gone() {
    let (emu, client, task) = finished_export(EmulatorConfig::default(), 1).await;
    let url = link(&client, &task).await.expect("link");
    emu.clock().advance(TimeDelta::days(61));
    let err = transfer(
        &reqwest::Client::new(),
        &url,
        &Store::memory(),
        target("gone.jsonl", Compression::None),
    )
    .await
    .expect_err("lapsed");
    assert!(
        matches!(err, TransferError::Gone | TransferError::LinkRefused { .. }),
        "{err}"
    );
    emu.shutdown().await;
}

/// A store that fails the n-th part of every upload and counts aborts.
#[derive(Debug)]
struct FailingStore {
    inner: InMemory,
    fail_part: usize,
    aborts: Arc<AtomicUsize>,
}

impl std::fmt::Display for FailingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FailingStore")
    }
}

#[derive(Debug)]
struct FailingUpload {
    inner: Box<dyn MultipartUpload>,
    parts: usize,
    fail_part: usize,
    aborts: Arc<AtomicUsize>,
}

#[async_trait]
impl MultipartUpload for FailingUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.parts += 1;
        if self.parts == self.fail_part {
            return Box::pin(async {
                Err(object_store::Error::Generic {
                    store: "failing",
                    source: "the disk is full".into(),
                })
            });
        }
        self.inner.put_part(data)
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        self.inner.complete().await
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.aborts.fetch_add(1, Ordering::SeqCst);
        self.inner.abort().await
    }
}

#[async_trait]
impl ObjectStore for FailingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        Ok(Box::new(FailingUpload {
            inner: self.inner.put_multipart_opts(location, opts).await?,
            parts: 0,
            fail_part: self.fail_part,
            aborts: self.aborts.clone(),
        }))
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

#[tokio::test]
async fn a_store_failing_mid_upload_aborts_and_leaves_nothing() {
    let data = DataSpec {
        messages_per_channel_per_day: 400,
        ..DataSpec::default()
    };
    let (emu, client, task) = finished_export(
        EmulatorConfig {
            data,
            ..EmulatorConfig::default()
        },
        3,
    )
    .await;
    let url = link(&client, &task).await.expect("link");
    assert!(
        download(&url).await.len() > 20 * 1024 * 1024,
        "big enough for 3 parts"
    );
    let aborts = Arc::new(AtomicUsize::new(0));
    let failing = FailingStore {
        inner: InMemory::new(),
        fail_part: 2,
        aborts: aborts.clone(),
    };
    let store = Store::wrap(Arc::new(failing), "failing://", true);
    let err = transfer(
        &reqwest::Client::new(),
        &url,
        &store,
        target("big.jsonl", Compression::None),
    )
    .await
    .expect_err("part 2 fails");
    assert!(matches!(err, TransferError::Upload { .. }), "{err}");
    assert_eq!(aborts.load(Ordering::SeqCst), 1, "the upload was aborted");
    assert_eq!(
        stored(&store, "big.jsonl").await,
        None,
        "nothing under the key"
    );
    emu.shutdown().await;
}

/// An S3 store on moto, under a fresh prefix.
fn moto_store(name: &str) -> Store {
    let server = servers::moto();
    let url = StoreUrl::S3 {
        bucket: server.bucket.clone(),
        prefix: servers::unique_prefix(name),
    };
    let options = server.options();
    store::open(&url, &options, &[]).expect("S3 store opens")
}

/// The object's ETag as S3 reports it: the MD5 of the bytes for a single PUT, and
/// `<md5 of the parts' md5s>-<parts>` for a completed multipart upload.
async fn etag(store: &Store, key: &str) -> String {
    let meta = store
        .object_store()
        .head(&Path::from(key))
        .await
        .expect("head");
    meta.e_tag
        .expect("S3 gives an ETag")
        .trim_matches('"')
        .to_owned()
}

/// One PUT, not a multipart upload's three requests. (The ETag check can fail:
/// `tests/stores.rs` sees a multipart upload's `-<parts>` suffix.)
#[tokio::test]
async fn a_small_archive_reaches_s3_in_one_put() {
    let store = moto_store("small-upload");
    let http = reqwest::Client::new();

    let (emu, client, task) = finished_export(EmulatorConfig::default(), 3).await;
    let url = link(&client, &task).await.expect("link");
    let original = download(&url).await;
    assert!(
        original.len() < 8 << 20,
        "small: {} bytes, under one part",
        original.len()
    );
    let done = transfer(
        &http,
        &url,
        &store,
        target("small.jsonl", Compression::None),
    )
    .await
    .expect("transferred");
    let got = store
        .object_store()
        .get(&Path::from("small.jsonl"))
        .await
        .expect("stored");
    assert_eq!(
        got.attributes
            .get(&object_store::Attribute::ContentType)
            .map(|v| v.as_ref()),
        Some("application/x-ndjson"),
        "the single PUT carries the content type"
    );
    let bytes = got.bytes().await.expect("read");
    assert!(bytes[..] == original[..], "the export, byte for byte");
    assert_eq!(done.bytes_stored, original.len() as u64);
    assert_eq!(done.bytes_source, original.len() as u64);
    assert_eq!(
        done.sha256,
        chatvault::archive::transfer::hex(&sha2::Sha256::digest(&original))
    );
    assert_eq!(done.parts, 1);
    let small = etag(&store, "small.jsonl").await;
    assert!(
        !small.contains('-'),
        "a single PUT's ETag, not a multipart upload's: {small}"
    );
    emu.shutdown().await;
}
