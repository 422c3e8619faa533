//! chatvault's leg of `benches/transfer.sh`: one export file from its presigned link into an
//! S3 bucket with the library's own streaming transfer (`chatvault::archive::transfer`), the
//! way `run --once` will do it, minus the API calls around it. Not a libtest/criterion bench
//! (`harness = false`): the script runs the built binary under `/usr/bin/time -v` and reads
//! the one `result:` line it prints.
//!
//!   transfer --url URL --endpoint http://127.0.0.1:PORT --bucket B --key KEY
//!            [--region us-east-1] [--compression none|gzip|zstd]
//!   credentials: CHATVAULT_BENCH_ACCESS_KEY, CHATVAULT_BENCH_SECRET_KEY (kept out of argv)
//!
//! Without `--url` (e.g. a plain `cargo bench`) it says how to run it and exits 0.
//!
//! The store is wrapped in a thin timing layer (`Timed`, below) that only measures where the
//! time goes: how long each part waited between being cut and its upload starting, how long
//! parts took to upload, and how long the server took to complete the multipart upload.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chatvault::archive::store::{self, Store, StoreOptions};
use chatvault::archive::store_url::StoreUrl;
use chatvault::archive::transfer::{Target, transfer};
use chatvault::config::job::Compression;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, UploadPart,
};

struct Args {
    url: String,
    endpoint: String,
    bucket: String,
    key: String,
    region: String,
    compression: Compression,
}

fn parse() -> Result<Option<Args>, String> {
    let mut url = None;
    let mut endpoint = None;
    let mut bucket = None;
    let mut key = None;
    let mut region = "us-east-1".to_owned();
    let mut compression = Compression::None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            // cargo bench passes --bench to harness = false targets.
            "--bench" => {}
            "--url" => url = Some(value()?),
            "--endpoint" => endpoint = Some(value()?),
            "--bucket" => bucket = Some(value()?),
            "--key" => key = Some(value()?),
            "--region" => region = value()?,
            "--compression" => {
                compression = match value()?.as_str() {
                    "none" => Compression::None,
                    "gzip" => Compression::Gzip,
                    "zstd" => Compression::Zstd,
                    other => return Err(format!("unknown compression {other}")),
                }
            }
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let Some(url) = url else {
        return Ok(None);
    };
    let need = |v: Option<String>, name: &str| v.ok_or_else(|| format!("{name} is required"));
    Ok(Some(Args {
        url,
        endpoint: need(endpoint, "--endpoint")?,
        bucket: need(bucket, "--bucket")?,
        key: need(key, "--key")?,
        region,
        compression,
    }))
}

fn main() -> ExitCode {
    let args = match parse() {
        Ok(Some(args)) => args,
        Ok(None) => {
            eprintln!(
                "transfer bench: nothing to do without --url; run benches/transfer.sh, which \
                 starts the emulator and an S3 server and calls this binary"
            );
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("transfer bench: {e}");
            return ExitCode::from(2);
        }
    };
    let secret = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
    let (access_key, secret_key) = match (
        secret("CHATVAULT_BENCH_ACCESS_KEY"),
        secret("CHATVAULT_BENCH_SECRET_KEY"),
    ) {
        (Ok(a), Ok(s)) => (a, s),
        (Err(e), _) | (_, Err(e)) => {
            eprintln!("transfer bench: {e}");
            return ExitCode::from(2);
        }
    };
    // The same runtime kind chatvault's commands build.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let outcome = runtime.block_on(async {
        let url = StoreUrl::S3 {
            bucket: args.bucket.clone(),
            prefix: String::new(),
        };
        let options: StoreOptions = [
            ("aws_endpoint", args.endpoint.as_str()),
            ("aws_allow_http", "true"),
            ("aws_region", args.region.as_str()),
            ("aws_access_key_id", access_key.as_str()),
            ("aws_secret_access_key", secret_key.as_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let opened = store::open(&url, &options, &[]).map_err(|e| e.to_string())?;
        let stats = Arc::new(Stats::default());
        let store = Store::wrap(
            Arc::new(Timed {
                inner: opened.object_store().clone(),
                stats: stats.clone(),
            }),
            opened.url(),
            opened.takes_attributes(),
        );
        let http = reqwest::Client::builder()
            .user_agent(concat!("chatvault/", env!("CARGO_PKG_VERSION"), " bench"))
            .build()
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let done = transfer(
            &http,
            &args.url,
            &store,
            Target {
                key: &args.key,
                compression: args.compression,
                content_type: "application/x-ndjson",
                progress: None,
            },
        )
        .await
        .map_err(|e| e.to_string())?;
        Ok::<_, String>((done, started.elapsed().as_secs_f64(), stats))
    });
    match outcome {
        Ok((done, seconds, stats)) => {
            let secs =
                |a: &AtomicU64| Duration::from_nanos(a.load(Ordering::Relaxed)).as_secs_f64();
            let parts = stats.parts.load(Ordering::Relaxed).max(1) as f64;
            // One line, KEY=VALUE, for the script.
            println!(
                "result: bytes_source={} bytes_stored={} seconds={seconds:.3} parts={} \
                 part_queued_ms={:.1} part_upload_ms={:.1} complete_s={:.3} sha256={}",
                done.bytes_source,
                done.bytes_stored,
                done.parts,
                secs(&stats.queued_ns) * 1000.0 / parts,
                secs(&stats.upload_ns) * 1000.0 / parts,
                secs(&stats.complete_ns),
                done.sha256
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("transfer bench: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Times, summed over the upload's parts.
#[derive(Debug, Default)]
struct Stats {
    parts: AtomicU64,
    /// From `put_part` (the part is cut) to the first poll of its upload.
    queued_ns: AtomicU64,
    /// From the first poll to the part's answer.
    upload_ns: AtomicU64,
    /// `complete()`: the server assembling the object.
    complete_ns: AtomicU64,
}

fn add(counter: &AtomicU64, d: Duration) {
    counter.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
}

/// Passes everything through to the real store, timing multipart uploads.
#[derive(Debug)]
struct Timed {
    inner: Arc<dyn ObjectStore>,
    stats: Arc<Stats>,
}

impl std::fmt::Display for Timed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Timed({})", self.inner)
    }
}

#[derive(Debug)]
struct TimedUpload {
    inner: Box<dyn MultipartUpload>,
    stats: Arc<Stats>,
}

#[async_trait]
impl MultipartUpload for TimedUpload {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        let cut = Instant::now();
        let stats = self.stats.clone();
        let part = self.inner.put_part(data);
        Box::pin(async move {
            // An async block runs from its first poll.
            let started = Instant::now();
            add(&stats.queued_ns, started - cut);
            let done = part.await;
            add(&stats.upload_ns, started.elapsed());
            stats.parts.fetch_add(1, Ordering::Relaxed);
            done
        })
    }

    async fn complete(&mut self) -> object_store::Result<PutResult> {
        let started = Instant::now();
        let done = self.inner.complete().await;
        add(&self.stats.complete_ns, started.elapsed());
        done
    }

    async fn abort(&mut self) -> object_store::Result<()> {
        self.inner.abort().await
    }
}

#[async_trait]
impl ObjectStore for Timed {
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
        Ok(Box::new(TimedUpload {
            inner: self.inner.put_multipart_opts(location, opts).await?,
            stats: self.stats.clone(),
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
