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
use chrono::{DateTime, Utc};
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
use super::record::{self, MediaRecord, Outcome, Owner, RecordError, Reference, Stored};
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
/// at most once per run, and a second reference to it takes the first one's outcome.
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
    fn slot(&self, path: &str) -> Arc<OnceCell<Outcome>> {
        let mut paths = self.paths.lock().unwrap_or_else(PoisonError::into_inner);
        paths.entry(path.to_owned()).or_default().clone()
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

    /// A standing record's references again: `Failed` ones refreshed (a record keeps no
    /// signature) and fetched, the rest kept as they are.
    pub async fn retry(&self, standing: &[Reference]) -> Vec<Reference> {
        stream::iter(standing.iter().cloned())
            .map(|reference| async move {
                if !reference.outcome.outstanding() {
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
                let slot = self.cache.slot(&path);
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
            url = match self.refreshed(found, path, "the link expired").await {
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
        Ok(Spool {
            file,
            size,
            sha256: format!("{:x}", hasher.finalize()),
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

/// Writes the archive's next record: attempt `after + 1`, or the next free number when
/// another writer took that one.
pub async fn write_record(
    store: &Store,
    job: &str,
    archive_key: &str,
    prefix: &str,
    references: Vec<Reference>,
    now: DateTime<Utc>,
    after: u32,
) -> Result<MediaRecord, RecordError> {
    let mut record = MediaRecord {
        format: record::FORMAT,
        job: job.to_owned(),
        archive: archive_key.to_owned(),
        attempt: after.saturating_add(1),
        written_at: now,
        chatvault_version: env!("CARGO_PKG_VERSION").to_owned(),
        prefix: prefix.to_owned(),
        references,
    };
    loop {
        if record::write(store, &record).await? {
            return Ok(record);
        }
        let Some(next) = record.attempt.checked_add(1) else {
            let key = record::record_key(archive_key, record.attempt);
            return Err(RecordError::Write {
                source: object_store::Error::AlreadyExists {
                    path: key.clone(),
                    source: "no attempt number is left".into(),
                },
                key,
            });
        };
        record.attempt = next;
    }
}

/// A downloaded file, rewound.
struct Spool {
    file: tokio::fs::File,
    size: u64,
    sha256: String,
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
    const SIGNED: [&str; 4] = ["expires=", "signature=", "policy=", "key-pair-id="];
    text.split(' ')
        .map(|word| {
            let lower = word.to_ascii_lowercase();
            if let Some(at) = lower.find("://") {
                let end = word[at..].find(['?', '#']).map_or(word.len(), |q| at + q);
                &word[..end]
            } else if SIGNED.iter().any(|s| lower.contains(s)) {
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
