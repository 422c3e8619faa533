//! Capturing the files an archive links to: each link checked against the fetch policy (a
//! refused one is never requested), refreshed through Stream when it expired or is refused
//! (403), downloaded into a temporary file while its SHA-256 is computed, its type sniffed and
//! its size held to the limit, then stored under its content key (`layout::object_key`)
//! unless the same bytes are there already.
//!
//! A content key only ever holds the bytes its name hashes: the hash is known before anything
//! is uploaded, a single PUT is atomic and create-only, and a multipart upload appears only
//! when completed (it is aborted on failure). Within a run a link's path is downloaded at
//! most once ([`RunCache`]); across runs the HEAD of the key finds what is stored already.
//! Every reference gets an outcome: a capture never fails as a whole.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::{Bytes, BytesMut};
use futures::future::BoxFuture;
use futures::{StreamExt, stream};
use object_store::path::Path as ObjectPath;
use object_store::{
    Attribute, AttributeValue, Attributes, ObjectStoreExt, PutMode, PutMultipartOptions,
    PutOptions, PutPayload, WriteMultipart,
};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tokio::sync::OnceCell;

use super::layout;
use super::record::{Outcome, Owner, Reference, Stored};
use super::refs::FoundRef;
use super::sniff::{self, SNIFF_LEN};
use crate::clock::SharedClock;
use crate::fetch::{Body, FetchFailure, Fetcher};
use crate::links;
use crate::store::Store;

/// Files up to this size are stored with one PUT from memory; larger ones stream from the
/// temporary file as a multipart upload of parts this size.
const SINGLE_PUT: u64 = 8 * 1024 * 1024;
/// Parts of one multipart upload in flight at once: bounds its memory to a few parts.
const PARTS_IN_FLIGHT: usize = 2;
/// Read size from the temporary file while uploading.
const READ_CHUNK: usize = 256 * 1024;

/// Gets a fresh link to a file whose link expired or was refused.
pub trait Refresher: Send + Sync {
    /// The link standing now at `field` of `owner` whose path (without query) is `url`;
    /// `Ok(None)` when Stream no longer has it.
    fn refresh<'a>(
        &'a self,
        owner: &'a Owner,
        field: &'a str,
        url: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>>;
}

/// What became of each link path in a run, shared by the run's batches: a path is downloaded
/// at most once per run, and a second reference to it takes the first one's outcome. Paths
/// are kept apart by the store and prefix they were captured into, so jobs with different
/// destinations can share one cache.
#[derive(Clone, Default)]
pub struct RunCache {
    paths: Arc<Mutex<HashMap<String, Arc<OnceCell<Outcome>>>>>,
}

impl std::fmt::Debug for RunCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let paths = self.paths.lock().unwrap_or_else(PoisonError::into_inner);
        f.debug_struct("RunCache")
            .field("paths", &paths.len())
            .finish()
    }
}

impl RunCache {
    fn slot(&self, store: &Store, prefix: &str, path: &str) -> Arc<OnceCell<Outcome>> {
        let key = format!("{}\n{prefix}\n{path}", store.url());
        let mut paths = self.paths.lock().unwrap_or_else(PoisonError::into_inner);
        paths.entry(key).or_default().clone()
    }
}

/// What a capturer moved so far, for the metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CaptureCounts {
    /// Downloads begun (a link refreshed and fetched again counts twice).
    pub downloads: u64,
    /// Bytes read from the CDN, partial downloads included.
    pub bytes_fetched: u64,
    /// Objects uploaded.
    pub uploads: u64,
    /// Bytes of the objects uploaded.
    pub bytes_stored: u64,
}

#[derive(Debug, Default)]
struct Counters {
    downloads: AtomicU64,
    bytes_fetched: AtomicU64,
    uploads: AtomicU64,
    bytes_stored: AtomicU64,
}

/// Captures references into one store below one prefix.
pub struct Capturer {
    store: Store,
    prefix: String,
    network: Arc<dyn Network>,
    refresher: Arc<dyn Refresher>,
    cache: RunCache,
    concurrency: usize,
    clock: SharedClock,
    counters: Arc<Counters>,
    /// For streaming PUTs through presigned URLs; never the fetcher's client, which refuses
    /// the private addresses a store may well have.
    uploads: tokio::sync::OnceCell<reqwest::Client>,
}

impl std::fmt::Debug for Capturer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Capturer")
            .field("store", &self.store.url())
            .field("prefix", &self.prefix)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

impl Capturer {
    pub fn new(
        store: Store,
        prefix: String,
        fetcher: Fetcher,
        refresher: Arc<dyn Refresher>,
        cache: RunCache,
        concurrency: usize,
        clock: SharedClock,
    ) -> Capturer {
        Capturer::over(
            store,
            prefix,
            Arc::new(fetcher),
            refresher,
            cache,
            concurrency,
            clock,
        )
    }

    fn over(
        store: Store,
        prefix: String,
        network: Arc<dyn Network>,
        refresher: Arc<dyn Refresher>,
        cache: RunCache,
        concurrency: usize,
        clock: SharedClock,
    ) -> Capturer {
        Capturer {
            store,
            prefix,
            network,
            refresher,
            cache,
            concurrency: concurrency.max(1),
            clock,
            counters: Arc::default(),
            uploads: tokio::sync::OnceCell::new(),
        }
    }

    /// Every reference gets an outcome, in the order given; never fails as a whole.
    pub async fn capture(&self, refs: Vec<FoundRef>) -> Vec<Reference> {
        stream::iter(refs)
            .map(|found| self.one(found, false))
            .buffered(self.concurrency)
            .collect()
            .await
    }

    /// A standing record's references again: those marked `due` refreshed (a record keeps no
    /// signature) and fetched, the rest kept as they are.
    pub async fn retry(&self, standing: &[Reference], due: &[bool]) -> Vec<Reference> {
        let marked = due.iter().copied().chain(std::iter::repeat(false));
        stream::iter(standing.iter().cloned().zip(marked))
            .map(|(reference, due)| async move {
                if !due {
                    return reference;
                }
                let found = FoundRef {
                    owner: reference.owner,
                    field: reference.field,
                    url: reference.url,
                };
                self.one(found, true).await
            })
            .buffered(self.concurrency)
            .collect()
            .await
    }

    /// Whether the policy lets `url` be fetched at all (no network).
    pub fn allows(&self, url: &str) -> bool {
        self.network.check(url).is_ok()
    }

    /// Whether a reference refused or too large when recorded would be fetched under the
    /// current settings: its link now passes the allow-list, or its recorded limit is below
    /// the current one. Other outcomes are not rechecked.
    pub fn allows_now(&self, reference: &Reference) -> bool {
        match &reference.outcome {
            Outcome::Refused { .. } => self.network.check(&reference.url).is_ok(),
            Outcome::TooLarge { limit } => *limit < self.network.limit(),
            _ => false,
        }
    }

    /// What was moved so far.
    pub fn counts(&self) -> CaptureCounts {
        let c = &self.counters;
        CaptureCounts {
            downloads: c.downloads.load(Ordering::Relaxed),
            bytes_fetched: c.bytes_fetched.load(Ordering::Relaxed),
            uploads: c.uploads.load(Ordering::Relaxed),
            bytes_stored: c.bytes_stored.load(Ordering::Relaxed),
        }
    }

    async fn one(&self, found: FoundRef, refresh_first: bool) -> Reference {
        let path = links::without_query(&found.url).to_owned();
        let outcome = match self.network.check(&found.url) {
            Err(failure) => outcome_of(failure),
            Ok(()) => {
                let slot = self.cache.slot(&self.store, &self.prefix, &path);
                let mut first = false;
                let outcome = slot
                    .get_or_init(|| {
                        first = true;
                        self.fetch_and_store(&found, &path, refresh_first)
                    })
                    .await
                    .clone();
                match outcome {
                    Outcome::Stored(stored) if !first => Outcome::AlreadyStored(stored),
                    outcome => outcome,
                }
            }
        };
        Reference {
            owner: found.owner,
            field: found.field,
            url: path,
            outcome,
        }
    }

    async fn fetch_and_store(&self, found: &FoundRef, path: &str, refresh_first: bool) -> Outcome {
        let mut url = found.url.clone();
        let mut refreshed = false;
        let expired = links::expires_at(&url).is_some_and(|at| at <= self.clock.now());
        if refresh_first || expired {
            let why = if expired {
                "the link expired"
            } else {
                "a retry needs a fresh link"
            };
            url = match self.refreshed(found, path, why).await {
                Ok(fresh) => fresh,
                Err(outcome) => return outcome,
            };
            refreshed = true;
        }
        loop {
            match self.download(&url).await {
                Ok(spool) => return self.keep(spool).await,
                Err(FetchFailure::Forbidden) if !refreshed => {
                    url = match self.refreshed(found, path, "the link was refused").await {
                        Ok(fresh) => fresh,
                        Err(outcome) => return outcome,
                    };
                    refreshed = true;
                }
                Err(FetchFailure::Forbidden) => {
                    return Outcome::Gone {
                        reason: "the link was refused (HTTP 403) after a refresh".into(),
                    };
                }
                Err(failure) => return outcome_of(failure),
            }
        }
    }

    /// A fresh link from Stream, allowed by the policy; or the outcome that ends the
    /// reference.
    async fn refreshed(&self, found: &FoundRef, path: &str, why: &str) -> Result<String, Outcome> {
        match self
            .refresher
            .refresh(&found.owner, &found.field, path)
            .await
        {
            Ok(Some(fresh)) => {
                self.network.check(&fresh).map_err(outcome_of)?;
                Ok(fresh)
            }
            Ok(None) => Err(Outcome::Gone {
                reason: format!("{why} and Stream no longer has the file"),
            }),
            Err(e) => Err(Outcome::Failed {
                reason: without_queries(&format!("{why} and could not be refreshed: {e}")),
            }),
        }
    }

    /// Downloads `url` into a temporary file, hashing and sniffing on the way.
    async fn download(&self, url: &str) -> Result<Spool, FetchFailure> {
        let limit = self.network.limit();
        self.counters.downloads.fetch_add(1, Ordering::Relaxed);
        let mut body = self.network.open(url).await?;
        let file = tempfile::tempfile()
            .map_err(|e| FetchFailure::Failed(format!("cannot create a temporary file: {e}")))?;
        let mut file = tokio::fs::File::from_std(file);
        let spooling = |e: std::io::Error| {
            FetchFailure::Failed(format!("cannot write the temporary file: {e}"))
        };
        let mut hasher = Sha256::new();
        let mut size = 0u64;
        let mut head = Vec::with_capacity(SNIFF_LEN);
        while let Some(chunk) = body.chunk().await? {
            self.counters
                .bytes_fetched
                .fetch_add(chunk.len() as u64, Ordering::Relaxed);
            size += chunk.len() as u64;
            if size > limit {
                return Err(FetchFailure::TooLarge { limit });
            }
            hasher.update(&chunk);
            let wanted = (SNIFF_LEN - head.len()).min(chunk.len());
            head.extend_from_slice(&chunk[..wanted]);
            file.write_all(&chunk).await.map_err(spooling)?;
        }
        file.flush().await.map_err(spooling)?;
        file.rewind().await.map_err(spooling)?;
        let digest = hasher.finalize();
        Ok(Spool {
            file,
            size,
            sha256: format!("{digest:x}"),
            digest: digest.into(),
            content_type: sniff::content_type(&head),
        })
    }

    /// Stores a downloaded file under its content key unless the same bytes are there.
    async fn keep(&self, spool: Spool) -> Outcome {
        let key = layout::object_key(&self.prefix, &spool.sha256);
        let path = ObjectPath::from(key.as_str());
        let stored = Stored {
            sha256: spool.sha256.clone(),
            size: spool.size,
            content_type: spool.content_type.to_owned(),
        };
        let mode = match self.store.object_store().head(&path).await {
            Ok(meta) if meta.size == spool.size => return Outcome::AlreadyStored(stored),
            // Not the bytes its name hashes (a damaged object): the right ones replace them.
            Ok(meta) => {
                tracing::warn!(
                    key,
                    size = meta.size,
                    want = spool.size,
                    "a media object holds other bytes than its key names; storing it again"
                );
                PutMode::Overwrite
            }
            Err(object_store::Error::NotFound { .. }) => PutMode::Create,
            Err(e) => {
                return Outcome::Failed {
                    reason: without_queries(&format!("cannot look up {key}: {e}")),
                };
            }
        };
        let size = spool.size;
        match self.upload(&path, spool, mode).await {
            Ok(Uploaded::Created) => {
                self.counters.uploads.fetch_add(1, Ordering::Relaxed);
                self.counters
                    .bytes_stored
                    .fetch_add(size, Ordering::Relaxed);
                Outcome::Stored(stored)
            }
            Ok(Uploaded::Existed) => Outcome::AlreadyStored(stored),
            Err(e) => Outcome::Failed {
                reason: without_queries(&format!("cannot store {key}: {e}")),
            },
        }
    }

    async fn upload(
        &self,
        path: &ObjectPath,
        mut spool: Spool,
        mode: PutMode,
    ) -> Result<Uploaded, UploadError> {
        // On S3, one PUT streamed from the spool: no file in memory and no multipart upload
        // for the server to assemble. Like a multipart upload it cannot be create-only; the
        // HEAD found no object, and a racing writer sends the same bytes. The hash is known
        // before the first byte goes, so a write-once bucket gets its checksum here too.
        if let Some(put) = self.store.signed_put() {
            let http = self
                .uploads
                .get_or_try_init(|| async { reqwest::Client::builder().build() })
                .await
                .map_err(|e| UploadError::Spool(std::io::Error::other(e.without_url())))?;
            let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
                spool.file, READ_CHUNK,
            ));
            let content_type = self.store.takes_attributes().then_some(spool.content_type);
            put.put(
                http,
                path,
                body,
                spool.size,
                content_type,
                Some(&spool.digest),
            )
            .await?;
            return Ok(Uploaded::Created);
        }
        let attributes = self.attributes(spool.content_type);
        let objects = self.store.object_store();
        if spool.size <= SINGLE_PUT {
            let mut bytes = BytesMut::with_capacity(usize::try_from(spool.size).unwrap_or(0));
            while spool.file.read_buf(&mut bytes).await? > 0 {}
            if bytes.len() as u64 != spool.size {
                return Err(UploadError::Spool(std::io::Error::other(
                    "the temporary file changed size",
                )));
            }
            let options = PutOptions {
                mode,
                attributes,
                ..PutOptions::default()
            };
            return match objects
                .put_opts(path, PutPayload::from(bytes.freeze()), options)
                .await
            {
                Ok(_) => Ok(Uploaded::Created),
                Err(object_store::Error::AlreadyExists { .. }) => Ok(Uploaded::Existed),
                Err(e) => Err(UploadError::Store(e)),
            };
        }
        // Multipart uploads cannot be create-only; the HEAD found no object, and an upload
        // racing another run's writes the same bytes.
        let options = PutMultipartOptions {
            attributes,
            ..PutMultipartOptions::default()
        };
        let upload = objects.put_multipart_opts(path, options).await?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, SINGLE_PUT as usize);
        let mut buf = vec![0u8; READ_CHUNK];
        let mut sent = 0u64;
        let pumped: Result<(), UploadError> = async {
            loop {
                let n = spool.file.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                writer.write(&buf[..n]);
                sent += n as u64;
            }
            if sent == spool.size {
                Ok(())
            } else {
                Err(UploadError::Spool(std::io::Error::other(
                    "the temporary file changed size",
                )))
            }
        }
        .await;
        match pumped {
            Ok(()) => {
                writer.finish().await?;
                Ok(Uploaded::Created)
            }
            Err(e) => {
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(%path, error = %abort, "could not abort the multipart upload");
                }
                Err(e)
            }
        }
    }

    fn attributes(&self, content_type: &'static str) -> Attributes {
        let mut attributes = Attributes::new();
        if self.store.takes_attributes() {
            attributes.insert(Attribute::ContentType, AttributeValue::from(content_type));
        }
        attributes
    }
}

/// A downloaded file, rewound.
struct Spool {
    file: tokio::fs::File,
    size: u64,
    sha256: String,
    /// The same hash as bytes, for a write-once bucket's checksum.
    digest: [u8; 32],
    content_type: &'static str,
}

enum Uploaded {
    Created,
    /// A create found the object there: another writer stored the same bytes.
    Existed,
}

#[derive(Debug, thiserror::Error)]
enum UploadError {
    #[error("{0}")]
    Store(#[from] object_store::Error),
    #[error("reading the temporary file failed: {0}")]
    Spool(#[from] std::io::Error),
}

fn outcome_of(failure: FetchFailure) -> Outcome {
    match failure {
        FetchFailure::Refused(reason) => Outcome::Refused {
            reason: without_queries(&reason),
        },
        FetchFailure::TooLarge { limit } => Outcome::TooLarge { limit },
        FetchFailure::Forbidden => Outcome::Gone {
            reason: "the link was refused (HTTP 403)".into(),
        },
        FetchFailure::Gone { status } => Outcome::Gone {
            reason: format!("HTTP {status}"),
        },
        FetchFailure::Failed(reason) => Outcome::Failed {
            reason: without_queries(&reason),
        },
    }
}

/// `text` with every link's query string cut off, and any word that looks like a part of a
/// signature dropped: a reason is recorded and printed.
fn without_queries(text: &str) -> String {
    text.split(' ')
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            if let Some(at) = lower.find("://") {
                let end = word[at..].find(['?', '#']).map_or(word.len(), |q| at + q);
                &word[..end]
            } else if links::may_hold_signed(word) {
                "…"
            } else {
                word
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The network side of a capture: the fetcher, or a fake in tests.
trait Network: Send + Sync {
    fn check(&self, url: &str) -> Result<(), FetchFailure>;
    fn limit(&self) -> u64;
    fn open<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Box<dyn Download>, FetchFailure>>;
}

trait Download: Send {
    fn chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, FetchFailure>>;
}

impl Network for Fetcher {
    fn check(&self, url: &str) -> Result<(), FetchFailure> {
        Fetcher::check(self, url)
    }

    fn limit(&self) -> u64 {
        self.policy().max_size
    }

    fn open<'a>(&'a self, url: &'a str) -> BoxFuture<'a, Result<Box<dyn Download>, FetchFailure>> {
        Box::pin(async move {
            let body = self.get(url).await?;
            Ok(Box::new(body) as Box<dyn Download>)
        })
    }
}

impl Download for Body {
    fn chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, FetchFailure>> {
        Box::pin(Body::chunk(self))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::sync::atomic::AtomicUsize;

    use chrono::{DateTime, Utc};
    use futures::TryStreamExt;

    use super::*;
    use crate::clock::ManualClock;

    const PREFIX: &str = "_media";
    /// 2100: not expired.
    const LATER: &str = "Expires=4102444800&Signature=S";
    /// 2023: expired by the clock.
    const EARLIER: &str = "Expires=1700000000&Signature=S";
    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR and the rest of an image";

    #[derive(Clone)]
    enum Answer {
        Bytes(Vec<u8>),
        /// These bytes, then the connection breaks.
        Cut(Vec<u8>),
        Fail(FetchFailure),
    }

    /// A CDN: answers by the whole link, refuses hosts other than `cdn.test`, records every
    /// request and how many bodies are open at once.
    #[derive(Default)]
    struct FakeCdn {
        answers: Mutex<HashMap<String, Answer>>,
        requests: Mutex<Vec<String>>,
        open: Arc<AtomicUsize>,
        most_open: Arc<AtomicUsize>,
        limit: u64,
    }

    impl FakeCdn {
        fn new(limit: u64) -> Arc<FakeCdn> {
            Arc::new(FakeCdn {
                limit,
                ..FakeCdn::default()
            })
        }

        fn answer(&self, url: &str, answer: Answer) {
            self.answers
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(url.to_owned(), answer);
        }

        fn requests(&self) -> Vec<String> {
            self.requests
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }
    }

    struct FakeBody {
        chunks: VecDeque<Bytes>,
        cut: bool,
        open: Arc<AtomicUsize>,
    }

    impl Drop for FakeBody {
        fn drop(&mut self) {
            self.open.fetch_sub(1, Ordering::SeqCst);
        }
    }

    impl Download for FakeBody {
        fn chunk(&mut self) -> BoxFuture<'_, Result<Option<Bytes>, FetchFailure>> {
            Box::pin(async move {
                tokio::task::yield_now().await;
                match self.chunks.pop_front() {
                    Some(chunk) => Ok(Some(chunk)),
                    None if self.cut => Err(FetchFailure::Failed(
                        "connection reset reading https://cdn.test/x.png?Expires=1&Signature=SECRET"
                            .into(),
                    )),
                    None => Ok(None),
                }
            })
        }
    }

    impl Network for FakeCdn {
        fn check(&self, url: &str) -> Result<(), FetchFailure> {
            if url.starts_with("https://cdn.test/") {
                Ok(())
            } else {
                Err(FetchFailure::Refused(format!(
                    "the host of {url} is not allowed"
                )))
            }
        }

        fn limit(&self) -> u64 {
            self.limit
        }

        fn open<'a>(
            &'a self,
            url: &'a str,
        ) -> BoxFuture<'a, Result<Box<dyn Download>, FetchFailure>> {
            Box::pin(async move {
                self.requests
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(url.to_owned());
                let answer = self
                    .answers
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(url)
                    .cloned()
                    .unwrap_or(Answer::Fail(FetchFailure::Forbidden));
                let (bytes, cut) = match answer {
                    Answer::Bytes(bytes) => (bytes, false),
                    Answer::Cut(bytes) => (bytes, true),
                    Answer::Fail(failure) => return Err(failure),
                };
                let now = self.open.fetch_add(1, Ordering::SeqCst) + 1;
                self.most_open.fetch_max(now, Ordering::SeqCst);
                Ok(Box::new(FakeBody {
                    chunks: bytes
                        .chunks(64 * 1024)
                        .map(Bytes::copy_from_slice)
                        .collect(),
                    cut,
                    open: self.open.clone(),
                }) as Box<dyn Download>)
            })
        }
    }

    /// Stream: fresh links by (owner, field, path), or an error; records every call.
    #[derive(Default)]
    struct FakeStream {
        fresh: Mutex<HashMap<(Owner, String, String), Option<String>>>,
        fails: Option<String>,
        calls: Mutex<Vec<(Owner, String, String)>>,
    }

    impl FakeStream {
        fn has(&self, owner: Owner, field: &str, path: &str, fresh: Option<&str>) {
            self.fresh
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .insert(
                    (owner, field.to_owned(), path.to_owned()),
                    fresh.map(str::to_owned),
                );
        }

        fn calls(&self) -> Vec<(Owner, String, String)> {
            self.calls
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .clone()
        }
    }

    impl Refresher for FakeStream {
        fn refresh<'a>(
            &'a self,
            owner: &'a Owner,
            field: &'a str,
            url: &'a str,
        ) -> BoxFuture<'a, Result<Option<String>, String>> {
            Box::pin(async move {
                let key = (owner.clone(), field.to_owned(), url.to_owned());
                self.calls
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(key.clone());
                if let Some(e) = &self.fails {
                    return Err(e.clone());
                }
                Ok(self
                    .fresh
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .get(&key)
                    .cloned()
                    .flatten())
            })
        }
    }

    fn clock() -> SharedClock {
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        Arc::new(ManualClock::new(start))
    }

    fn capturer(
        store: &Store,
        cdn: &Arc<FakeCdn>,
        stream: &Arc<FakeStream>,
        cache: &RunCache,
        concurrency: usize,
    ) -> Capturer {
        Capturer::over(
            store.clone(),
            PREFIX.into(),
            cdn.clone(),
            stream.clone(),
            cache.clone(),
            concurrency,
            clock(),
        )
    }

    fn found(owner: Owner, url: &str) -> FoundRef {
        FoundRef {
            owner,
            field: "attachments[0].image_url".into(),
            url: url.into(),
        }
    }

    fn message(id: &str) -> Owner {
        Owner::Message(id.into())
    }

    fn sha(bytes: &[u8]) -> String {
        format!("{:x}", Sha256::digest(bytes))
    }

    async fn object(store: &Store, sha256: &str) -> Option<Bytes> {
        let path = ObjectPath::from(layout::object_key(PREFIX, sha256));
        let got = store.object_store().get(&path).await.ok()?;
        got.bytes().await.ok()
    }

    async fn media_objects(store: &Store) -> Vec<String> {
        store
            .object_store()
            .list(Some(&ObjectPath::from(PREFIX)))
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await
            .unwrap_or_default()
    }

    /// Every recorded url and reason, for the check that no signature is in them.
    fn recorded_text(references: &[Reference]) -> String {
        serde_json::to_string(references).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_file_is_stored_under_its_content_key_with_its_sniffed_type_and_no_signature() {
        let (store, cdn, stream) = (
            Store::memory(),
            FakeCdn::new(1 << 20),
            Arc::new(FakeStream::default()),
        );
        let url = format!("https://cdn.test/a.png?{LATER}");
        cdn.answer(&url, Answer::Bytes(PNG.to_vec()));
        let capturer = capturer(&store, &cdn, &stream, &RunCache::default(), 4);
        let got = capturer.capture(vec![found(message("m"), &url)]).await;
        let want = Stored {
            sha256: sha(PNG),
            size: PNG.len() as u64,
            content_type: "image/png".into(),
        };
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].outcome, Outcome::Stored(want));
        assert_eq!(got[0].url, "https://cdn.test/a.png");
        assert_eq!(got[0].owner, message("m"));
        assert_eq!(got[0].field, "attachments[0].image_url");
        assert_eq!(object(&store, &sha(PNG)).await.as_deref(), Some(PNG));
        assert_eq!(
            capturer.counts(),
            CaptureCounts {
                downloads: 1,
                bytes_fetched: PNG.len() as u64,
                uploads: 1,
                bytes_stored: PNG.len() as u64,
            }
        );
        assert!(stream.calls().is_empty(), "a live link is not refreshed");
    }

    #[tokio::test]
    async fn a_path_is_downloaded_once_per_run_and_its_other_references_reuse_the_outcome() {
        let (store, cdn, stream) = (
            Store::memory(),
            FakeCdn::new(1 << 20),
            Arc::new(FakeStream::default()),
        );
        let one = format!("https://cdn.test/a.png?{LATER}");
        let other = "https://cdn.test/a.png?Expires=4102444801&Signature=T";
        cdn.answer(&one, Answer::Bytes(PNG.to_vec()));
        cdn.answer(other, Answer::Bytes(PNG.to_vec()));
        let cache = RunCache::default();
        let first = capturer(&store, &cdn, &stream, &cache, 4)
            .capture(vec![
                found(message("m1"), &one),
                found(message("m2"), other),
            ])
            .await;
        let later_batch = capturer(&store, &cdn, &stream, &cache, 4)
            .capture(vec![found(message("m3"), other)])
            .await;
        let outcomes: Vec<&str> = first
            .iter()
            .chain(&later_batch)
            .map(|r| r.outcome.status())
            .collect();
        assert_eq!(outcomes, ["stored", "already_stored", "already_stored"]);
        assert_eq!(first[0].outcome.stored(), later_batch[0].outcome.stored());
        assert_eq!(cdn.requests().len(), 1, "{:?}", cdn.requests());
    }

    #[tokio::test]
    async fn a_cache_shared_by_two_destinations_stores_the_file_in_each() {
        let (cdn, stream) = (FakeCdn::new(1 << 20), Arc::new(FakeStream::default()));
        let url = format!("https://cdn.test/a.png?{LATER}");
        cdn.answer(&url, Answer::Bytes(PNG.to_vec()));
        let cache = RunCache::default();
        let one = Store::memory();
        let other = Store::wrap(
            Arc::new(object_store::memory::InMemory::new()),
            "memory://other",
            false,
        );
        for store in [&one, &other] {
            let got = capturer(store, &cdn, &stream, &cache, 1)
                .capture(vec![found(message("m"), &url)])
                .await;
            assert_eq!(got[0].outcome.status(), "stored", "{}", store.url());
            assert_eq!(object(store, &sha(PNG)).await.as_deref(), Some(PNG));
        }
    }

    #[tokio::test]
    async fn bytes_stored_by_an_earlier_run_or_another_link_are_not_uploaded_again() {
        let (store, cdn, stream) = (
            Store::memory(),
            FakeCdn::new(1 << 20),
            Arc::new(FakeStream::default()),
        );
        let url = format!("https://cdn.test/a.png?{LATER}");
        let copy = format!("https://cdn.test/copy-of-a.png?{LATER}");
        cdn.answer(&url, Answer::Bytes(PNG.to_vec()));
        cdn.answer(&copy, Answer::Bytes(PNG.to_vec()));
        let run = |cache: RunCache| {
            let (store, cdn, stream) = (store.clone(), cdn.clone(), stream.clone());
            let refs = vec![found(message("m"), &url), found(message("n"), &copy)];
            async move {
                let capturer = capturer(&store, &cdn, &stream, &cache, 1);
                (capturer.capture(refs).await, capturer.counts())
            }
        };
        let (first, counts) = run(RunCache::default()).await;
        assert_eq!(first[0].outcome.status(), "stored");
        assert_eq!(first[1].outcome.status(), "already_stored", "same bytes");
        assert_eq!(counts.uploads, 1);
        let path = ObjectPath::from(layout::object_key(PREFIX, &sha(PNG)));
        let tag = |meta: object_store::ObjectMeta| meta.e_tag;
        let before = store.object_store().head(&path).await.map(tag).ok();
        let (second, counts) = run(RunCache::default()).await;
        assert!(
            second
                .iter()
                .all(|r| r.outcome.status() == "already_stored")
        );
        assert_eq!(counts.uploads, 0);
        assert_eq!(
            counts.downloads, 2,
            "a new run fetches again to know the bytes"
        );
        let after = store.object_store().head(&path).await.map(tag).ok();
        assert_eq!(before, after, "the object was not written again");
        assert_eq!(media_objects(&store).await.len(), 1);
    }

    #[tokio::test]
    async fn a_link_the_policy_refuses_is_recorded_and_never_requested() {
        let (store, cdn, stream) = (
            Store::memory(),
            FakeCdn::new(1 << 20),
            Arc::new(FakeStream::default()),
        );
        let refs = vec![
            found(
                message("m"),
                "https://metadata.internal/latest?Signature=SECRET",
            ),
            found(message("m"), "http://127.0.0.1:9/x"),
        ];
        let got = capturer(&store, &cdn, &stream, &RunCache::default(), 4)
            .capture(refs)
            .await;
        assert!(
            got.iter().all(|r| r.outcome.status() == "refused"),
            "{got:?}"
        );
        assert!(cdn.requests().is_empty());
        assert!(!recorded_text(&got).contains("SECRET"), "{got:?}");
        assert_eq!(got[0].url, "https://metadata.internal/latest");
    }

    #[tokio::test]
    async fn an_expired_link_is_refreshed_before_it_is_fetched() {
        let (store, cdn) = (Store::memory(), FakeCdn::new(1 << 20));
        let stream = Arc::new(FakeStream::default());
        let stale = format!("https://cdn.test/a.png?{EARLIER}");
        let fresh = format!("https://cdn.test/a.png?{LATER}");
        stream.has(
            message("m"),
            "attachments[0].image_url",
            "https://cdn.test/a.png",
            Some(&fresh),
        );
        cdn.answer(&fresh, Answer::Bytes(PNG.to_vec()));
        let got = capturer(&store, &cdn, &stream, &RunCache::default(), 4)
            .capture(vec![found(message("m"), &stale)])
            .await;
        assert_eq!(got[0].outcome.status(), "stored", "{got:?}");
        assert_eq!(cdn.requests(), [fresh], "the stale link is never sent");
        assert_eq!(
            stream.calls(),
            [(
                message("m"),
                "attachments[0].image_url".to_owned(),
                "https://cdn.test/a.png".to_owned()
            )]
        );
    }

    #[tokio::test]
    async fn a_link_answering_403_is_refreshed_then_fetched() {
        let (store, cdn) = (Store::memory(), FakeCdn::new(1 << 20));
        let stream = Arc::new(FakeStream::default());
        let refused = format!("https://cdn.test/a.png?{LATER}");
        let fresh = "https://cdn.test/a.png?Expires=4102444900&Signature=NEW";
        stream.has(
            message("m"),
            "attachments[0].image_url",
            "https://cdn.test/a.png",
            Some(fresh),
        );
        cdn.answer(fresh, Answer::Bytes(PNG.to_vec()));
        let got = capturer(&store, &cdn, &stream, &RunCache::default(), 4)
            .capture(vec![found(message("m"), &refused)])
            .await;
        assert_eq!(got[0].outcome.status(), "stored", "{got:?}");
        assert_eq!(cdn.requests(), [refused, fresh.to_owned()]);
    }

    #[tokio::test]
    async fn a_file_stream_no_longer_has_is_gone() {
        let (store, cdn) = (Store::memory(), FakeCdn::new(1 << 20));
        let stream = Arc::new(FakeStream::default());
        let field = "attachments[0].image_url";
        // 403, and 403 again after a refresh.
        let refused = format!("https://cdn.test/forbidden.png?{LATER}");
        let fresh = "https://cdn.test/forbidden.png?Expires=4102444900&Signature=NEW";
        stream.has(
            message("a"),
            field,
            "https://cdn.test/forbidden.png",
            Some(fresh),
        );
        // Expired, and Stream has no link for it any more.
        let expired = format!("https://cdn.test/deleted.png?{EARLIER}");
        stream.has(message("b"), field, "https://cdn.test/deleted.png", None);
        let missing = format!("https://cdn.test/404.png?{LATER}");
        cdn.answer(&missing, Answer::Fail(FetchFailure::Gone { status: 404 }));
        let removed = format!("https://cdn.test/410.png?{LATER}");
        cdn.answer(&removed, Answer::Fail(FetchFailure::Gone { status: 410 }));
        let got = capturer(&store, &cdn, &stream, &RunCache::default(), 4)
            .capture(vec![
                found(message("a"), &refused),
                found(message("b"), &expired),
                found(message("c"), &missing),
                found(message("d"), &removed),
            ])
            .await;
        let reasons: Vec<String> = got
            .iter()
            .map(|r| match &r.outcome {
                Outcome::Gone { reason } => reason.clone(),
                other => format!("not gone: {other:?}"),
            })
            .collect();
        assert_eq!(
            reasons,
            [
                "the link was refused (HTTP 403) after a refresh",
                "the link expired and Stream no longer has the file",
                "HTTP 404",
                "HTTP 410",
            ]
        );
        assert!(!cdn.requests().contains(&expired));
        assert!(media_objects(&store).await.is_empty());
    }

    #[tokio::test]
    async fn a_file_over_the_limit_is_too_large_and_nothing_of_it_is_stored() {
        let (store, cdn, stream) = (
            Store::memory(),
            FakeCdn::new(100),
            Arc::new(FakeStream::default()),
        );
        let big = format!("https://cdn.test/big.bin?{LATER}");
        cdn.answer(&big, Answer::Bytes(vec![7; 101]));
        let said = format!("https://cdn.test/said.bin?{LATER}");
        cdn.answer(&said, Answer::Fail(FetchFailure::TooLarge { limit: 100 }));
        let exact = format!("https://cdn.test/exact.bin?{LATER}");
        cdn.answer(&exact, Answer::Bytes(vec![7; 100]));
        let got = capturer(&store, &cdn, &stream, &RunCache::default(), 4)
            .capture(vec![
                found(message("m"), &big),
                found(message("m"), &said),
                found(message("m"), &exact),
            ])
            .await;
        assert_eq!(got[0].outcome, Outcome::TooLarge { limit: 100 });
        assert_eq!(got[1].outcome, Outcome::TooLarge { limit: 100 });
        assert_eq!(
            got[2].outcome.status(),
            "stored",
            "the limit itself is allowed"
        );
        assert_eq!(media_objects(&store).await.len(), 1);
    }

    #[tokio::test]
    async fn a_broken_download_fails_without_its_signature_and_leaves_nothing() {
        let (store, cdn) = (Store::memory(), FakeCdn::new(1 << 30));
        let url = "https://cdn.test/x.png?Expires=4102444800&Signature=SECRET";
        cdn.answer(url, Answer::Cut(vec![1; 200_000]));
        let big = "https://cdn.test/big.png?Expires=4102444800&Signature=SECRET";
        cdn.answer(big, Answer::Cut(vec![1; 9 * 1024 * 1024]));
        let stream = Arc::new(FakeStream {
            fails: Some("GetMessage: failed for https://cdn.test/y.png?Signature=SECRET".into()),
            ..FakeStream::default()
        });
        let expired = "https://cdn.test/y.png?Expires=1700000000&Signature=SECRET";
        let got = capturer(&store, &cdn, &stream, &RunCache::default(), 4)
            .capture(vec![
                found(message("m"), url),
                found(message("m"), big),
                found(message("m"), expired),
            ])
            .await;
        assert!(got.iter().all(|r| r.outcome.outstanding()), "{got:?}");
        let text = recorded_text(&got);
        assert!(
            !text.contains("SECRET") && !text.contains("Expires"),
            "{text}"
        );
        assert!(text.contains("connection reset"), "{text}");
        assert!(text.contains("could not be refreshed"), "{text}");
        assert!(media_objects(&store).await.is_empty());
    }

    #[tokio::test]
    async fn a_refreshed_link_to_a_host_not_allowed_is_refused_unrequested() {
        let (store, cdn) = (Store::memory(), FakeCdn::new(1 << 20));
        let stream = Arc::new(FakeStream::default());
        stream.has(
            message("m"),
            "attachments[0].image_url",
            "https://cdn.test/a.png",
            Some("https://elsewhere.test/a.png?Signature=X"),
        );
        let got = capturer(&store, &cdn, &stream, &RunCache::default(), 4)
            .capture(vec![found(
                message("m"),
                &format!("https://cdn.test/a.png?{EARLIER}"),
            )])
            .await;
        assert_eq!(got[0].outcome.status(), "refused");
        assert!(cdn.requests().is_empty());
    }

    #[tokio::test]
    async fn a_file_larger_than_one_put_streams_in_parts_and_reads_back_whole() {
        let (store, cdn, stream) = (
            Store::memory(),
            FakeCdn::new(1 << 30),
            Arc::new(FakeStream::default()),
        );
        let bytes: Vec<u8> = (0..9 * 1024 * 1024 + 3)
            .map(|i: usize| (i * 31 + i / 977) as u8)
            .collect();
        let url = format!("https://cdn.test/video.mp4?{LATER}");
        cdn.answer(&url, Answer::Bytes(bytes.clone()));
        let got = capturer(&store, &cdn, &stream, &RunCache::default(), 4)
            .capture(vec![found(message("m"), &url)])
            .await;
        let stored = got[0].outcome.stored().cloned();
        assert_eq!(got[0].outcome.status(), "stored", "{got:?}");
        assert_eq!(stored.map(|s| s.size), Some(bytes.len() as u64));
        assert_eq!(
            object(&store, &sha(&bytes)).await.as_deref(),
            Some(&bytes[..])
        );
    }

    #[tokio::test]
    async fn downloads_run_at_most_the_concurrency_at_once_and_keep_their_order() {
        let (store, cdn, stream) = (
            Store::memory(),
            FakeCdn::new(1 << 30),
            Arc::new(FakeStream::default()),
        );
        let refs: Vec<FoundRef> = (0..6u8)
            .map(|i| {
                let url = format!("https://cdn.test/{i}.bin?{LATER}");
                cdn.answer(&url, Answer::Bytes(vec![i; 200_000]));
                found(message(&i.to_string()), &url)
            })
            .collect();
        let got = capturer(&store, &cdn, &stream, &RunCache::default(), 2)
            .capture(refs)
            .await;
        let owners: Vec<Owner> = got.iter().map(|r| r.owner.clone()).collect();
        let want: Vec<Owner> = (0..6).map(|i: u8| message(&i.to_string())).collect();
        assert_eq!(owners, want);
        assert!(got.iter().all(|r| r.outcome.status() == "stored"));
        let most = cdn.most_open.load(Ordering::SeqCst);
        assert!((1..=2).contains(&most), "{most} downloads at once");
    }

    #[tokio::test]
    async fn a_retry_refreshes_and_fetches_failed_references_and_keeps_the_rest() {
        let (store, cdn) = (Store::memory(), FakeCdn::new(1 << 20));
        let stream = Arc::new(FakeStream::default());
        let field = "attachments[0].image_url";
        let fresh = format!("https://cdn.test/a.png?{LATER}");
        stream.has(message("m"), field, "https://cdn.test/a.png", Some(&fresh));
        cdn.answer(&fresh, Answer::Bytes(PNG.to_vec()));
        let standing = vec![
            Reference {
                owner: message("m"),
                field: field.into(),
                url: "https://cdn.test/a.png".into(),
                outcome: Outcome::Failed {
                    reason: "timed out".into(),
                },
            },
            Reference {
                owner: message("n"),
                field: field.into(),
                url: "https://cdn.test/gone.png".into(),
                outcome: Outcome::Gone {
                    reason: "HTTP 404".into(),
                },
            },
            Reference {
                owner: Owner::User("u".into()),
                field: "image".into(),
                url: "https://evil.test/u.png".into(),
                outcome: Outcome::Refused {
                    reason: "not allowed".into(),
                },
            },
        ];
        let due: Vec<bool> = standing.iter().map(|r| r.outcome.outstanding()).collect();
        let got = capturer(&store, &cdn, &stream, &RunCache::default(), 4)
            .retry(&standing, &due)
            .await;
        assert_eq!(got[0].outcome.status(), "stored", "{got:?}");
        assert_eq!(got[0].url, "https://cdn.test/a.png");
        assert_eq!(got[1..], standing[1..]);
        assert_eq!(cdn.requests(), [fresh]);
    }

    #[tokio::test]
    async fn a_failed_reference_stream_no_longer_has_is_gone_on_retry() {
        let (store, cdn) = (Store::memory(), FakeCdn::new(1 << 20));
        let stream = Arc::new(FakeStream::default());
        let standing = [Reference {
            owner: Owner::Channel("t:c".into()),
            field: "image".into(),
            url: "https://cdn.test/c.png".into(),
            outcome: Outcome::Failed {
                reason: "timed out".into(),
            },
        }];
        let got = capturer(&store, &cdn, &stream, &RunCache::default(), 4)
            .retry(&standing, &[true])
            .await;
        assert_eq!(
            got[0].outcome,
            Outcome::Gone {
                reason: "a retry needs a fresh link and Stream no longer has the file".into()
            }
        );
        assert!(cdn.requests().is_empty());
    }

    #[test]
    fn only_refusals_and_sizes_the_current_settings_allow_are_allowed_now() {
        let (store, cdn) = (Store::memory(), FakeCdn::new(1 << 20));
        let stream = Arc::new(FakeStream::default());
        let capturer = capturer(&store, &cdn, &stream, &RunCache::default(), 1);
        let with = |url: &str, outcome: Outcome| Reference {
            owner: message("m"),
            field: "image".into(),
            url: url.into(),
            outcome,
        };
        let refused = |url: &str| {
            with(
                url,
                Outcome::Refused {
                    reason: "not allowed".into(),
                },
            )
        };
        assert!(capturer.allows_now(&refused("https://cdn.test/a.png")));
        assert!(!capturer.allows_now(&refused("https://evil.test/a.png")));
        let too_large = |limit| with("https://cdn.test/big", Outcome::TooLarge { limit });
        assert!(capturer.allows_now(&too_large(1 << 10)));
        assert!(!capturer.allows_now(&too_large(1 << 20)));
        let failed = Outcome::Failed {
            reason: "timed out".into(),
        };
        assert!(!capturer.allows_now(&with("https://cdn.test/a.png", failed)));
    }

    /// A store whose uploads fail: single PUTs at once, multipart uploads at their second
    /// part.
    #[derive(Debug, Default)]
    struct FailingUploads {
        inner: object_store::memory::InMemory,
    }

    impl std::fmt::Display for FailingUploads {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("FailingUploads")
        }
    }

    fn disk_full() -> object_store::Error {
        object_store::Error::Generic {
            store: "failing",
            source: "the disk is full".into(),
        }
    }

    #[derive(Debug)]
    struct FailingUpload {
        inner: Box<dyn object_store::MultipartUpload>,
        parts: usize,
    }

    #[async_trait::async_trait]
    impl object_store::MultipartUpload for FailingUpload {
        fn put_part(&mut self, data: PutPayload) -> object_store::UploadPart {
            self.parts += 1;
            if self.parts > 1 {
                return Box::pin(async { Err(disk_full()) });
            }
            self.inner.put_part(data)
        }
        async fn complete(&mut self) -> object_store::Result<object_store::PutResult> {
            self.inner.complete().await
        }
        async fn abort(&mut self) -> object_store::Result<()> {
            self.inner.abort().await
        }
    }

    #[async_trait::async_trait]
    impl object_store::ObjectStore for FailingUploads {
        async fn put_opts(
            &self,
            _: &ObjectPath,
            _: PutPayload,
            _: PutOptions,
        ) -> object_store::Result<object_store::PutResult> {
            Err(disk_full())
        }
        async fn put_multipart_opts(
            &self,
            location: &ObjectPath,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn object_store::MultipartUpload>> {
            Ok(Box::new(FailingUpload {
                inner: self.inner.put_multipart_opts(location, opts).await?,
                parts: 0,
            }))
        }
        async fn get_opts(
            &self,
            location: &ObjectPath,
            options: object_store::GetOptions,
        ) -> object_store::Result<object_store::GetResult> {
            self.inner.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: futures::stream::BoxStream<'static, object_store::Result<ObjectPath>>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<ObjectPath>> {
            self.inner.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> futures::stream::BoxStream<'static, object_store::Result<object_store::ObjectMeta>>
        {
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> object_store::Result<object_store::ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &ObjectPath,
            to: &ObjectPath,
            options: object_store::CopyOptions,
        ) -> object_store::Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
    }

    #[tokio::test]
    async fn a_failed_upload_is_failed_and_leaves_no_object_under_the_key() {
        let store = Store::wrap(Arc::new(FailingUploads::default()), "failing://", true);
        let (cdn, stream) = (FakeCdn::new(1 << 30), Arc::new(FakeStream::default()));
        let small = format!("https://cdn.test/small.png?{LATER}");
        cdn.answer(&small, Answer::Bytes(PNG.to_vec()));
        let big = format!("https://cdn.test/big.bin?{LATER}");
        cdn.answer(&big, Answer::Bytes(vec![3; 20 * 1024 * 1024]));
        let capturer = capturer(&store, &cdn, &stream, &RunCache::default(), 2);
        let got = capturer
            .capture(vec![found(message("m"), &small), found(message("m"), &big)])
            .await;
        for reference in &got {
            let Outcome::Failed { reason } = &reference.outcome else {
                panic!("not failed: {reference:?}");
            };
            assert!(reason.contains("the disk is full"), "{reason}");
        }
        assert!(media_objects(&store).await.is_empty());
        assert_eq!(capturer.counts().uploads, 0);
    }
}
