//! Moving one export file from its presigned link into a store, streaming.
//!
//! HTTP body → (gzip from Stream undone, if the file came compressed) → the destination's
//! compression → multipart upload. Nothing is held whole in memory or on disk: parts are cut
//! as bytes arrive, at most a few are in flight, and their size grows with the upload so that
//! even a terabyte stays under S3's 10,000-part limit. The SHA-256 and sizes of what is stored
//! are computed on the way. A failed transfer aborts its multipart upload, and a multipart
//! object only appears under its key when completed, so a half-written archive never does.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{GzipDecoder, GzipEncoder, ZstdEncoder};
use bytes::BytesMut;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{Attribute, AttributeValue, Attributes, PutMultipartOptions, PutPayload};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader, ReadBuf};
use tokio::task::JoinSet;
use tokio_util::io::StreamReader;

use super::store::Store;
use crate::api::ApiError;
use crate::config::job::Compression;

/// The first parts are this large; S3 wants at least 5 MiB for every part but the last.
const FIRST_PART: usize = 8 * 1024 * 1024;
/// Part sizes double after this many parts: 8 MiB × 1000, 16 MiB × 1000, … reaches 10,000
/// parts only past 8 TB.
const PARTS_PER_SIZE: usize = 1000;
/// Bytes of parts uploading at once: bounds memory whatever the part size.
const IN_FLIGHT_BYTES: usize = 32 * 1024 * 1024;

/// What to write and how.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// The object key below the store's prefix.
    pub key: &'a str,
    pub compression: Compression,
    /// The media type of the uncompressed content, e.g. `application/x-ndjson`.
    pub content_type: &'static str,
    /// Told the bytes handed to the store so far, as each part goes out.
    pub progress: Option<&'a (dyn Fn(u64) + Send + Sync)>,
}

impl std::fmt::Debug for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Target")
            .field("key", &self.key)
            .field("compression", &self.compression)
            .field("content_type", &self.content_type)
            .finish_non_exhaustive()
    }
}

/// What was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transferred {
    /// The export's size before chatvault's compression (after undoing Stream's, if any).
    pub bytes_source: u64,
    /// The archive's size as stored.
    pub bytes_stored: u64,
    /// SHA-256 of the archive as stored, hex.
    pub sha256: String,
    pub parts: usize,
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TransferError {
    /// The file host refused the link: most likely it expired. A fresh status request gives a
    /// new one.
    #[error("the download link was refused (HTTP {status}); it has most likely expired")]
    LinkRefused { status: u16 },
    #[error("the export file is gone (HTTP 404): Stream keeps export files for 60 days")]
    Gone,
    #[error("the download failed with HTTP {status}")]
    Http { status: u16 },
    #[error("the download failed: {0}")]
    Download(#[source] reqwest::Error),
    #[error("reading the export failed: {0}")]
    Read(#[source] io::Error),
    #[error("writing {key} to {url} failed: {source}")]
    Upload {
        url: String,
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("could not get a download link: {0}")]
    Link(#[source] ApiError),
}

impl TransferError {
    /// Worth another try with a fresh link.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransferError::LinkRefused { .. }
            | TransferError::Download(_)
            | TransferError::Read(_)
            | TransferError::Upload { .. } => true,
            TransferError::Http { status } => *status >= 500,
            TransferError::Link(e) => e.is_transient(),
            TransferError::Gone => false,
        }
    }
}

/// Transfers with a fresh link for every attempt: `link` asks Stream for the task's status,
/// which renews the 24-hour link, so an expired link is renewed rather than a failure.
pub async fn transfer_with_retries<F, Fut>(
    http: &reqwest::Client,
    mut link: F,
    store: &Store,
    target: Target<'_>,
    attempts: u32,
) -> Result<Transferred, TransferError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<String, ApiError>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        let url = link().await.map_err(TransferError::Link)?;
        match transfer(http, &url, store, target).await {
            Err(e) if e.is_retryable() && attempt < attempts => {
                tracing::warn!(key = target.key, attempt, error = %e, "transfer failed; retrying with a fresh link");
            }
            other => return other,
        }
    }
}

/// One attempt: download `url` into `target`, or fail leaving nothing under the key.
pub async fn transfer(
    http: &reqwest::Client,
    url: &str,
    store: &Store,
    target: Target<'_>,
) -> Result<Transferred, TransferError> {
    let response = http
        .get(url)
        .send()
        .await
        .map_err(|e| TransferError::Download(e.without_url()))?;
    match response.status().as_u16() {
        200..=299 => {}
        403 => return Err(TransferError::LinkRefused { status: 403 }),
        404 => return Err(TransferError::Gone),
        status => return Err(TransferError::Http { status }),
    }
    let body = response
        .bytes_stream()
        .map_err(|e| io::Error::other(e.without_url()));
    let mut raw = StreamReader::new(body);
    let gzipped = raw
        .fill_buf()
        .await
        .map_err(TransferError::Read)?
        .starts_with(&[0x1f, 0x8b]);
    let source: Pin<Box<dyn AsyncRead + Send>> = if gzipped {
        Box::pin(GzipDecoder::new(raw))
    } else {
        Box::pin(raw)
    };
    let source_bytes = Arc::new(AtomicU64::new(0));
    let counted = BufReader::new(Counting {
        inner: source,
        count: source_bytes.clone(),
    });
    let mut encoded: Pin<Box<dyn AsyncRead + Send>> = match target.compression {
        Compression::None => Box::pin(counted),
        Compression::Gzip => Box::pin(GzipEncoder::new(counted)),
        Compression::Zstd => Box::pin(ZstdEncoder::new(counted)),
    };
    let upload_error = |source| TransferError::Upload {
        url: store.url().to_owned(),
        key: target.key.to_owned(),
        source,
    };
    let path = ObjectPath::from(target.key);
    let mut upload = store
        .object_store()
        .put_multipart_opts(&path, upload_options(store, target))
        .await
        .map_err(upload_error)?;
    let outcome = pump(&mut encoded, upload.as_mut(), target.progress).await;
    match outcome {
        Ok((bytes_stored, sha256, parts)) => {
            upload.complete().await.map_err(upload_error)?;
            Ok(Transferred {
                bytes_source: source_bytes.load(Ordering::Relaxed),
                bytes_stored,
                sha256,
                parts,
            })
        }
        Err(e) => {
            if let Err(abort) = upload.abort().await {
                tracing::warn!(key = target.key, error = %abort, "could not abort the multipart upload");
            }
            Err(match e {
                Pumped::Read(e) => TransferError::Read(e),
                Pumped::Upload(e) => upload_error(e),
            })
        }
    }
}

fn upload_options(store: &Store, target: Target<'_>) -> PutMultipartOptions {
    let mut attributes = Attributes::new();
    if store.takes_attributes() {
        attributes.insert(
            Attribute::ContentType,
            AttributeValue::from(target.content_type),
        );
        let encoding = match target.compression {
            Compression::None => None,
            Compression::Gzip => Some("gzip"),
            Compression::Zstd => Some("zstd"),
        };
        if let Some(encoding) = encoding {
            attributes.insert(Attribute::ContentEncoding, AttributeValue::from(encoding));
        }
    }
    PutMultipartOptions {
        attributes,
        ..PutMultipartOptions::default()
    }
}

enum Pumped {
    Read(io::Error),
    Upload(object_store::Error),
}

/// Waits for the next part upload to finish. A part task that panicked or was cancelled
/// counts as a failed upload.
async fn next_done(in_flight: &mut JoinSet<object_store::Result<()>>) -> Result<bool, Pumped> {
    match in_flight.join_next().await {
        None => Ok(false),
        Some(Ok(result)) => result.map(|()| true).map_err(Pumped::Upload),
        Some(Err(e)) => Err(Pumped::Upload(object_store::Error::Generic {
            store: "multipart",
            source: Box::new(e),
        })),
    }
}

/// Cuts the stream into parts and uploads them, a bounded number at a time. Part uploads are
/// spawned, so they run while the next part is read; dropping the set on failure cancels
/// the rest.
async fn pump(
    input: &mut Pin<Box<dyn AsyncRead + Send>>,
    upload: &mut dyn object_store::MultipartUpload,
    progress: Option<&(dyn Fn(u64) + Send + Sync)>,
) -> Result<(u64, String, usize), Pumped> {
    let mut hasher = Sha256::new();
    let mut stored = 0u64;
    let mut parts = 0usize;
    let mut in_flight = JoinSet::new();
    loop {
        let size = part_size(parts);
        let mut buf = BytesMut::with_capacity(size);
        while buf.len() < size {
            let n = input.read_buf(&mut buf).await.map_err(Pumped::Read)?;
            if n == 0 {
                break;
            }
        }
        let last = buf.len() < size;
        // Every upload gets at least one part, even an empty one.
        if !buf.is_empty() || parts == 0 {
            hasher.update(&buf);
            stored += buf.len() as u64;
            parts += 1;
            in_flight.spawn(upload.put_part(PutPayload::from(buf.freeze())));
            if let Some(progress) = progress {
                progress(stored);
            }
            while in_flight.len() * size >= IN_FLIGHT_BYTES.max(size)
                && next_done(&mut in_flight).await?
            {}
        }
        if last {
            break;
        }
    }
    while next_done(&mut in_flight).await? {}
    Ok((stored, hex(&hasher.finalize()), parts))
}

fn part_size(parts_so_far: usize) -> usize {
    FIRST_PART << (parts_so_far / PARTS_PER_SIZE).min(10)
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Counts the bytes read through it (the export's size before compression) into a counter
/// the caller keeps, since the reader itself ends up inside the encoder.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let read = (buf.filled().len() - before) as u64;
        self.count.fetch_add(read, Ordering::Relaxed);
        polled
    }
}
