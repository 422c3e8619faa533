//! Moving one export file from its presigned link into a store, streaming.
//!
//! HTTP body → (gzip from Stream undone, if the file came compressed) → (erased users left
//! out, when there are any: `scrubbing`) → the destination's compression → one PUT if it all fits in the first part; else, on S3 with the length known,
//! one streaming PUT through a presigned URL; else a multipart upload. Nothing is held whole
//! in memory or on disk: parts are cut as bytes arrive, at most a few are in flight, and their
//! size grows with the upload so that even a terabyte stays under S3's 10,000-part limit. The
//! SHA-256 and sizes of what is stored are computed on the way. A PUT stores nothing unless
//! all of it arrives; a failed multipart transfer aborts its upload, and a multipart object
//! only appears under its key when completed, so a half-written archive never does.

use std::collections::BTreeSet;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{GzipDecoder, GzipEncoder, ZstdEncoder};
use bytes::BytesMut;
use futures::TryStreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, AttributeValue, Attributes, ObjectStoreExt, PutMode, PutMultipartOptions,
    PutOptions, PutPayload,
};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader, ReadBuf};
use tokio::task::JoinSet;
use tokio_util::io::StreamReader;
use tracing::Instrument as _;

use super::entities::Layout;
use super::media::refs::{FoundRef, RefCollector};
use super::scrubbing::{Scrubbed, Scrubber, Scrubbing};
use super::tally::{Counter, Tally};
use crate::api::ApiError;
use crate::clock::Clock;
use crate::config::job::Compression;
use crate::retry::{Attempt, GaveUp, Next, RetryPolicy};
use crate::store::problem::{self, Problem};
use crate::store::{SignedPut, Store};

/// The first parts are this large; S3 wants at least 5 MiB for every part but the last.
const FIRST_PART: usize = 8 * 1024 * 1024;
/// Part sizes double after this many parts: 8 MiB × 1000, 16 MiB × 1000, … reaches 10,000
/// parts only past 8 TB.
const PARTS_PER_SIZE: usize = 1000;
/// Bytes of parts uploading at once: bounds memory whatever the part size.
const IN_FLIGHT_BYTES: usize = 32 * 1024 * 1024;
/// S3's limit for one PUT; longer archives go as multipart uploads.
const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;
/// Read size while streaming a single PUT's body.
const BODY_CHUNK: usize = 256 * 1024;
/// How often a streaming PUT reports its progress.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// What to write and how.
#[derive(Clone, Copy)]
pub struct Target<'a> {
    /// The object key below the store's prefix.
    pub key: &'a str,
    pub compression: Compression,
    /// The media type of the uncompressed content, e.g. `application/x-ndjson`.
    pub content_type: &'static str,
    /// How the export is laid out, so what it holds can be counted on the way.
    pub layout: Layout,
    /// Told the bytes handed to the store so far, as each part goes out.
    pub progress: Option<&'a (dyn Fn(u64) + Send + Sync)>,
    /// Users whose items are left out of what is stored (erasures); with none, the bytes are
    /// stored as they come.
    pub erased: &'a BTreeSet<String>,
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
    /// The export's size before chatvault's compression (after undoing Stream's, if any, and
    /// leaving out erased users).
    pub bytes_source: u64,
    /// The archive's size as stored.
    pub bytes_stored: u64,
    /// SHA-256 of the archive as stored, hex.
    pub sha256: String,
    pub parts: usize,
    /// What the export holds, counted as it streamed through.
    pub tally: Tally,
    /// The media links it holds, signed as they stand: for the capture, never written.
    pub media: Vec<FoundRef>,
    /// What leaving out erased users did.
    pub scrubbed: Scrubbed,
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
    /// Worth another try with a fresh link. A bucket with Object Lock refuses an upload
    /// without a checksum every time: that is a setting to change, not a moment to wait out.
    pub fn is_retryable(&self) -> bool {
        match self {
            TransferError::Upload { source, .. } => {
                problem::diagnose(source) != Some(Problem::ObjectLockNeedsChecksum)
            }
            TransferError::LinkRefused { .. }
            | TransferError::Download(_)
            | TransferError::Read(_) => true,
            TransferError::Http { status } => *status >= 500,
            TransferError::Link(e) => e.is_transient(),
            TransferError::Gone => false,
        }
    }
}

/// Transfers with a fresh link for every attempt: `link` asks Stream for the task's status,
/// which renews the 24-hour link, so an expired link is renewed rather than a failure. A link
/// that cannot be had ends it at once (the API client has retried that request already).
pub async fn transfer_with_retries<F, Fut>(
    http: &reqwest::Client,
    mut link: F,
    store: &Store,
    target: Target<'_>,
    retry: &RetryPolicy,
    clock: &dyn Clock,
) -> Result<Transferred, TransferError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<String, ApiError>>,
{
    let attempt = || {
        let url = link();
        async move {
            let url = url.await.map_err(TransferError::Link)?;
            transfer(http, &url, store, target).await
        }
    };
    let judge = |e: &TransferError, at: Attempt| match e {
        TransferError::Link(_) => Next::Stop,
        e if e.is_retryable() => {
            if !at.last {
                tracing::warn!(key = target.key, attempt = at.number, error = %e, "transfer failed; retrying with a fresh link");
            }
            Next::Retry
        }
        _ => Next::Stop,
    };
    retry
        .run(clock, attempt, judge)
        .await
        .map_err(GaveUp::into_last)
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
    let length = response.content_length();
    let body = response
        .bytes_stream()
        .map_err(|e| io::Error::other(e.without_url()));
    let mut raw = StreamReader::new(body);
    let gzipped = raw
        .fill_buf()
        .await
        .map_err(TransferError::Read)?
        .starts_with(&[0x1f, 0x8b]);
    // The stored size is known in advance only when the bytes are stored as they come.
    let stored_length = length.filter(|_| {
        !gzipped && target.erased.is_empty() && target.compression == Compression::None
    });
    let source: Pin<Box<dyn AsyncRead + Send>> = if gzipped {
        Box::pin(GzipDecoder::new(raw))
    } else {
        Box::pin(raw)
    };
    store_export(http, source, stored_length, store, target).await
}

/// Stores an export's plain bytes (`source`) under the target's key as a download is
/// stored: without the target's erased users, counted, compressed as the target says, and
/// hashed on the way; an erasure rewrites an archive through it too. `length` is the stored
/// size when known in advance.
pub async fn store_export(
    http: &reqwest::Client,
    mut source: Pin<Box<dyn AsyncRead + Send>>,
    length: Option<u64>,
    store: &Store,
    target: Target<'_>,
) -> Result<Transferred, TransferError> {
    let scrubbed = Arc::new(Mutex::new(Scrubbed::default()));
    if !target.erased.is_empty() {
        let scrubber = Scrubber::new(target.layout, target.erased.clone());
        source = Box::pin(Scrubbing::new(source, scrubber, scrubbed.clone()));
    }
    let source_bytes = Arc::new(AtomicU64::new(0));
    let counter = Arc::new(Mutex::new(Counted::new(target.layout)));
    let counted = BufReader::new(Counting {
        inner: source,
        count: source_bytes.clone(),
        counter: counter.clone(),
    });
    let encoded: Pin<Box<dyn AsyncRead + Send>> = match target.compression {
        Compression::None => Box::pin(counted),
        Compression::Gzip => Box::pin(GzipEncoder::new(counted)),
        Compression::Zstd => Box::pin(ZstdEncoder::new(counted)),
    };
    let (bytes_stored, sha256, parts) = store_stream(http, encoded, length, store, target).await?;
    let counted = std::mem::replace(
        &mut *counter.lock().unwrap_or_else(PoisonError::into_inner),
        Counted::new(target.layout),
    );
    let (tally, media) = counted.finish();
    let scrubbed = *scrubbed.lock().unwrap_or_else(PoisonError::into_inner);
    Ok(Transferred {
        bytes_source: source_bytes.load(Ordering::Relaxed),
        bytes_stored,
        sha256,
        parts,
        tally,
        media,
        scrubbed,
    })
}

/// Writes `input` under the target's key: `(bytes stored, sha256, parts)`.
///
/// The first part's worth is read before anything is sent. An archive that ends within it
/// (most archives of a small job: a day of a few channels is kilobytes) is stored with one
/// PUT rather than a multipart upload's three requests (create, one part, complete): a third
/// of the round trips, no upload left to abort if the process dies, and on S3 no
/// CompleteMultipartUpload, which the server pays by assembling the object. A single PUT is
/// atomic, so a failure still leaves nothing under the key. Only when more data follows does
/// a multipart upload start, with that buffer as its first part — unless the whole length is
/// known and the store takes a streaming PUT ([`SignedPut`]), which needs no assembly.
async fn store_stream(
    http: &reqwest::Client,
    mut input: Pin<Box<dyn AsyncRead + Send>>,
    length: Option<u64>,
    store: &Store,
    target: Target<'_>,
) -> Result<(u64, String, usize), TransferError> {
    let upload_error = |source| TransferError::Upload {
        url: store.url().to_owned(),
        key: target.key.to_owned(),
        source,
    };
    let path = ObjectPath::from(target.key);
    let first_size = part_size(0);
    let first = read_part(&mut input, first_size)
        .await
        .map_err(TransferError::Read)?;
    if first.len() < first_size {
        let stored = first.len() as u64;
        let sha256 = hex(&Sha256::digest(&first));
        if let Some(progress) = target.progress {
            progress(stored);
        }
        // Overwrite, as a multipart upload's completion would: the manifest written after
        // the archive is the commit record, and a retry rewrites the same bytes.
        let options = PutOptions {
            mode: PutMode::Overwrite,
            attributes: attributes(store, target),
            ..PutOptions::default()
        };
        if let Err(e) = store
            .object_store()
            .put_opts(&path, PutPayload::from(first.freeze()), options)
            .await
        {
            return Err(clearer(store, &path, upload_error(e)).await);
        }
        return Ok((stored, sha256, 1));
    }
    // A write-once bucket's streaming PUT names the body's hash, known here only at the end.
    if let (Some(put), Some(length)) = (store.signed_put(), length)
        && length <= MAX_SINGLE_PUT
        && !put.needs_sha256()
    {
        return match streaming_put(http, put, input, first, length, store, target).await {
            Err(e @ TransferError::Upload { .. }) => Err(clearer(store, &path, e).await),
            done => done,
        };
    }
    let options = PutMultipartOptions {
        attributes: attributes(store, target),
        ..PutMultipartOptions::default()
    };
    let mut upload = store
        .object_store()
        .put_multipart_opts(&path, options)
        .await
        .map_err(upload_error)?;
    let outcome = pump(&mut input, first, upload.as_mut(), target.progress).await;
    match outcome {
        Ok(stored) => {
            upload.complete().await.map_err(upload_error)?;
            Ok(stored)
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

/// A failed PUT with a body may say nothing useful: a server that refuses a request (a
/// wrong secret, a missing permission) can answer and close before the body is sent, and the
/// client then sees only a broken connection. A HEAD of the key has no body, so its answer
/// arrives whole: when that is refused too, its error is the one to report. (With the store
/// down, the HEAD fails too, and the PUT's own error stands.)
async fn clearer(store: &Store, path: &ObjectPath, failed: TransferError) -> TransferError {
    match store.object_store().head(path).await {
        Err(
            source @ (object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. }),
        ) => match failed {
            TransferError::Upload { url, key, .. } => TransferError::Upload { url, key, source },
            other => other,
        },
        _ => failed,
    }
}

/// What a streaming PUT has sent so far.
#[derive(Default)]
struct Sent {
    hasher: Sha256,
    bytes: u64,
    /// Why the body stopped, when reading the export failed (the request then fails too).
    read_error: Option<io::Error>,
}

/// Sends `first` and the rest of `input` as one PUT of `length` bytes through a presigned URL.
/// The server stores the object only if the whole declared length arrives, so a cut download
/// leaves nothing under the key, as an aborted multipart upload does.
async fn streaming_put(
    http: &reqwest::Client,
    put: &SignedPut,
    input: Pin<Box<dyn AsyncRead + Send>>,
    first: BytesMut,
    length: u64,
    store: &Store,
    target: Target<'_>,
) -> Result<(u64, String, usize), TransferError> {
    let upload_error = |source| TransferError::Upload {
        url: store.url().to_owned(),
        key: target.key.to_owned(),
        source,
    };
    let sent = Arc::new(std::sync::Mutex::new(Sent::default()));
    let body = futures::stream::unfold(
        (Some(first.freeze()), input, sent.clone()),
        |(first, mut input, sent)| async move {
            let chunk = match first {
                Some(first) => Ok(first),
                None => {
                    let mut buf = BytesMut::with_capacity(BODY_CHUNK);
                    match input.read_buf(&mut buf).await {
                        Ok(0) => return None,
                        Ok(_) => Ok(buf.freeze()),
                        Err(e) => Err(e),
                    }
                }
            };
            let mut seen = sent.lock().unwrap_or_else(PoisonError::into_inner);
            let chunk = match chunk {
                Ok(chunk) => {
                    seen.hasher.update(&chunk);
                    seen.bytes += chunk.len() as u64;
                    Ok(chunk)
                }
                Err(e) => {
                    let told = io::Error::new(e.kind(), e.to_string());
                    seen.read_error = Some(e);
                    Err(told)
                }
            };
            drop(seen);
            Some((chunk, (None, input, sent)))
        },
    );
    let content_type = store.takes_attributes().then_some(target.content_type);
    let path = ObjectPath::from(target.key);
    let response = put.put(
        http,
        &path,
        reqwest::Body::wrap_stream(body),
        length,
        content_type,
        None,
    );
    tokio::pin!(response);
    let mut ticks = tokio::time::interval(PROGRESS_EVERY);
    let sent_so_far = || sent.lock().unwrap_or_else(PoisonError::into_inner).bytes;
    let response = loop {
        tokio::select! {
            response = &mut response => break response,
            _ = ticks.tick() => if let Some(progress) = target.progress {
                progress(sent_so_far());
            },
        }
    };
    let (read_error, bytes, hasher) = {
        let mut seen = sent.lock().unwrap_or_else(PoisonError::into_inner);
        let seen = std::mem::take(&mut *seen);
        (seen.read_error, seen.bytes, seen.hasher)
    };
    if let Some(e) = read_error {
        return Err(TransferError::Read(e));
    }
    response.map_err(upload_error)?;
    if bytes != length {
        return Err(TransferError::Read(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            format!("the export ended after {bytes} of {length} bytes"),
        )));
    }
    if let Some(progress) = target.progress {
        progress(bytes);
    }
    Ok((bytes, hex(&hasher.finalize()), 1))
}

/// Content type and encoding, where the backend takes attributes (local folders do not).
fn attributes(store: &Store, target: Target<'_>) -> Attributes {
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
    attributes
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

/// Reads until `size` bytes or the end of the stream, whichever comes first.
async fn read_part(
    input: &mut Pin<Box<dyn AsyncRead + Send>>,
    size: usize,
) -> io::Result<BytesMut> {
    let mut buf = BytesMut::with_capacity(size);
    while buf.len() < size {
        if input.read_buf(&mut buf).await? == 0 {
            break;
        }
    }
    Ok(buf)
}

/// Uploads `first` (a full first part) and the rest of the stream cut into parts, a bounded
/// number at a time. Part uploads are spawned, so they run while the next part is read;
/// dropping the set on failure cancels the rest.
async fn pump(
    input: &mut Pin<Box<dyn AsyncRead + Send>>,
    first: BytesMut,
    upload: &mut dyn object_store::MultipartUpload,
    progress: Option<&(dyn Fn(u64) + Send + Sync)>,
) -> Result<(u64, String, usize), Pumped> {
    let mut hasher = Sha256::new();
    let mut stored = 0u64;
    let mut parts = 0usize;
    let mut in_flight = JoinSet::new();
    let mut next = Some(first);
    loop {
        let size = part_size(parts);
        let buf = match next.take() {
            Some(buf) => buf,
            None => read_part(input, size).await.map_err(Pumped::Read)?,
        };
        let last = buf.len() < size;
        // A stream of exactly one first part ends with an empty read: nothing more to send.
        if !buf.is_empty() {
            hasher.update(&buf);
            stored += buf.len() as u64;
            parts += 1;
            // In the batch's span, so the store client's lines about the part name the batch.
            in_flight.spawn(
                upload
                    .put_part(PutPayload::from(buf.freeze()))
                    .in_current_span(),
            );
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

/// What the export holds, found as it streams: the counts, and the media links from the same
/// cut into entities.
#[derive(Debug)]
struct Counted {
    counter: Counter,
    media: RefCollector,
}

impl Counted {
    fn new(layout: Layout) -> Counted {
        Counted {
            counter: Counter::new(layout),
            media: RefCollector::new(),
        }
    }

    fn push(&mut self, bytes: &[u8]) {
        let media = &mut self.media;
        self.counter
            .push(bytes, &mut |kind, entity| media.entity(kind, entity));
    }

    fn finish(mut self) -> (Tally, Vec<FoundRef>) {
        let media = &mut self.media;
        let tally = self
            .counter
            .finish(&mut |kind, entity| media.entity(kind, entity));
        (tally, self.media.finish())
    }
}

/// Counts the bytes read through it (the export's size before compression), and what they
/// hold, into counters the caller keeps, since the reader itself ends up inside the encoder.
struct Counting<R> {
    inner: R,
    count: Arc<AtomicU64>,
    counter: Arc<Mutex<Counted>>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counting<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        let fresh = &buf.filled()[before..];
        self.count.fetch_add(fresh.len() as u64, Ordering::Relaxed);
        self.counter
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(fresh);
        polled
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use async_trait::async_trait;
    use futures::stream::BoxStream;
    use object_store::memory::InMemory;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
        ObjectStoreExt, PutResult,
    };

    use super::*;

    /// An in-memory store that counts single PUTs, multipart uploads and their parts, and can
    /// refuse single PUTs.
    #[derive(Debug, Default)]
    struct Counting {
        inner: InMemory,
        puts: AtomicUsize,
        multiparts: AtomicUsize,
        parts: Arc<AtomicUsize>,
        fail_puts: bool,
        /// Refuses HEADs as a server refusing the credentials would.
        deny_heads: bool,
    }

    impl std::fmt::Display for Counting {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Counting")
        }
    }

    #[derive(Debug)]
    struct CountingUpload {
        inner: Box<dyn MultipartUpload>,
        parts: Arc<AtomicUsize>,
    }

    #[async_trait]
    impl MultipartUpload for CountingUpload {
        fn put_part(&mut self, data: PutPayload) -> object_store::UploadPart {
            self.parts.fetch_add(1, Ordering::SeqCst);
            self.inner.put_part(data)
        }
        async fn complete(&mut self) -> object_store::Result<PutResult> {
            self.inner.complete().await
        }
        async fn abort(&mut self) -> object_store::Result<()> {
            self.inner.abort().await
        }
    }

    #[async_trait]
    impl ObjectStore for Counting {
        async fn put_opts(
            &self,
            location: &ObjectPath,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            self.puts.fetch_add(1, Ordering::SeqCst);
            if self.fail_puts {
                return Err(object_store::Error::Generic {
                    store: "counting",
                    source: "the disk is full".into(),
                });
            }
            self.inner.put_opts(location, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            location: &ObjectPath,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.multiparts.fetch_add(1, Ordering::SeqCst);
            Ok(Box::new(CountingUpload {
                inner: self.inner.put_multipart_opts(location, opts).await?,
                parts: self.parts.clone(),
            }))
        }
        async fn get_opts(
            &self,
            location: &ObjectPath,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            if self.deny_heads && options.head {
                return Err(object_store::Error::PermissionDenied {
                    path: location.to_string(),
                    source: "403 Forbidden: SignatureDoesNotMatch".into(),
                });
            }
            self.inner.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<ObjectPath>>,
        ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
            self.inner.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &ObjectPath,
            to: &ObjectPath,
            options: CopyOptions,
        ) -> object_store::Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
    }

    /// Deterministic, incompressible-enough bytes.
    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 251) as u8).collect()
    }

    struct Stored {
        result: Result<(u64, String, usize), TransferError>,
        object: Option<GetResult>,
        puts: usize,
        multiparts: usize,
        parts: usize,
        progress: Vec<u64>,
    }

    async fn store_bytes(data: Vec<u8>, fail_puts: bool, takes_attributes: bool) -> Stored {
        let counting = Counting {
            fail_puts,
            ..Counting::default()
        };
        store_bytes_in(counting, data, takes_attributes).await
    }

    async fn store_bytes_in(counting: Counting, data: Vec<u8>, takes_attributes: bool) -> Stored {
        let counting = Arc::new(counting);
        let store = Store::wrap(counting.clone(), "counting://", takes_attributes);
        let seen = std::sync::Mutex::new(Vec::new());
        let progress = |n: u64| seen.lock().expect("not poisoned").push(n);
        let target = Target {
            key: "a/b.jsonl",
            compression: Compression::None,
            content_type: "application/x-ndjson",
            layout: Layout::Lines,
            progress: Some(&progress),
            erased: &BTreeSet::new(),
        };
        let length = Some(data.len() as u64);
        let input: Pin<Box<dyn AsyncRead + Send>> = Box::pin(io::Cursor::new(data));
        let result = store_stream(&reqwest::Client::new(), input, length, &store, target).await;
        let object = store
            .object_store()
            .get(&ObjectPath::from("a/b.jsonl"))
            .await
            .ok();
        Stored {
            result,
            object,
            puts: counting.puts.load(Ordering::SeqCst),
            multiparts: counting.multiparts.load(Ordering::SeqCst),
            parts: counting.parts.load(Ordering::SeqCst),
            progress: seen.into_inner().expect("not poisoned"),
        }
    }

    async fn check_stored(got: Stored, data: &[u8]) -> (usize, usize, usize) {
        let (stored, sha256, parts) = got.result.expect("stored");
        assert_eq!(stored, data.len() as u64);
        assert_eq!(sha256, hex(&Sha256::digest(data)));
        let object = got.object.expect("the object is there");
        assert_eq!(object.bytes().await.expect("read")[..], data[..]);
        assert_eq!(got.progress.last(), Some(&(data.len() as u64)));
        if got.multiparts > 0 {
            assert_eq!(parts, got.parts, "the parts reported are the parts sent");
        }
        (got.puts, got.multiparts, parts)
    }

    #[tokio::test]
    async fn an_archive_within_the_first_part_is_one_put() {
        for n in [0, 2048, FIRST_PART - 1] {
            let data = bytes(n);
            let got = store_bytes(data.clone(), false, true).await;
            let attributes = got.object.as_ref().map(|o| o.attributes.clone());
            let (puts, multiparts, parts) = check_stored(got, &data).await;
            assert_eq!((puts, multiparts, parts), (1, 0, 1), "{n} bytes");
            let attributes = attributes.expect("there");
            assert_eq!(
                attributes.get(&Attribute::ContentType).map(|v| v.as_ref()),
                Some("application/x-ndjson"),
                "the put carries the attributes"
            );
        }
    }

    #[tokio::test]
    async fn a_store_without_attributes_gets_none_on_the_single_put() {
        let data = bytes(100);
        let got = store_bytes(data.clone(), false, false).await;
        let attributes = got.object.as_ref().map(|o| o.attributes.clone());
        check_stored(got, &data).await;
        assert!(attributes.expect("there").is_empty());
    }

    #[tokio::test]
    async fn more_than_the_first_part_is_a_multipart_upload() {
        // Exactly one part: the end shows only on the next read, by then the upload has begun.
        for (n, want_parts) in [
            (FIRST_PART, 1),
            (FIRST_PART + 1, 2),
            (2 * FIRST_PART + 5, 3),
        ] {
            let data = bytes(n);
            let got = store_bytes(data.clone(), false, true).await;
            let (puts, multiparts, parts) = check_stored(got, &data).await;
            assert_eq!((puts, multiparts, parts), (0, 1, want_parts), "{n} bytes");
        }
    }

    #[tokio::test]
    async fn a_failed_single_put_is_an_upload_error_and_leaves_nothing() {
        let got = store_bytes(bytes(2048), true, true).await;
        assert_eq!((got.puts, got.multiparts), (1, 0));
        assert!(
            matches!(got.result, Err(TransferError::Upload { ref key, .. }) if key == "a/b.jsonl"),
            "{:?}",
            got.result
        );
        assert!(got.object.is_none(), "nothing under the key");
    }

    #[test]
    fn the_count_pass_collects_the_media_links_from_the_same_cut() {
        let file = concat!(
            r#"{"type":"channel","item":{"cid":"messaging:a","image":"https://cdn/c.png"}}"#,
            "\n",
            r#"{"type":"message","item":{"id":"m","cid":"messaging:a","user":{"id":"u","image":"https://cdn/u.png"},"attachments":[{"image_url":"https://cdn/a.png?Expires=1&Signature=S"}]}}"#,
        );
        let mut counted = super::Counted::new(Layout::Lines);
        for piece in file.as_bytes().chunks(3) {
            counted.push(piece);
        }
        let (tally, media) = counted.finish();
        assert_eq!(tally.channels["messaging:a"].messages, 1);
        let urls: Vec<&str> = media.iter().map(|r| r.url.as_str()).collect();
        assert_eq!(
            urls,
            [
                "https://cdn/c.png",
                "https://cdn/a.png?Expires=1&Signature=S",
                "https://cdn/u.png"
            ]
        );
    }

    /// A PUT that failed without saying why is explained by a refused HEAD of the key.
    #[tokio::test]
    async fn a_failed_put_reports_the_refusal_a_head_gets() {
        let refusing = Counting {
            fail_puts: true,
            deny_heads: true,
            ..Counting::default()
        };
        let got = store_bytes_in(refusing, bytes(2048), true).await;
        let err = got.result.expect_err("refused");
        assert!(
            matches!(
                err,
                TransferError::Upload {
                    source: object_store::Error::PermissionDenied { .. },
                    ..
                }
            ),
            "{err}"
        );
        assert!(err.to_string().contains("SignatureDoesNotMatch"), "{err}");
    }

    #[test]
    fn an_upload_refused_by_object_lock_is_not_retried() {
        let upload = |body: &str| TransferError::Upload {
            url: "s3://b/p".into(),
            key: "k".into(),
            source: object_store::Error::Generic {
                store: "S3",
                source: body.to_owned().into(),
            },
        };
        let locked = "<Error><Code>MissingUploadObjectWithObjectLockHeaders</Code></Error>";
        assert!(!upload(locked).is_retryable());
        assert!(upload("connection reset").is_retryable());
    }
}
