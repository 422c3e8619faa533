//! What a transcript knows and hands over of the files its messages link to: the newest media
//! records of the archives it read, and the captured files copied into a folder as
//! `<sha256>.<ext>`, or read whole (small raster images only) to embed in an HTML file. Each
//! is checked against its SHA-256 on the way, so what is handed over is what was captured;
//! one that cannot be read, or reads otherwise, is a problem the transcript names.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use futures::StreamExt as _;
use object_store::ObjectStoreExt as _;
use object_store::path::Path as ObjectPath;
use sha2::{Digest as _, Sha256};
use tokio::io::AsyncWriteExt as _;

use super::attachments::{self, Attachment};
use super::media::kind::{extension, is_raster, raster_type};
use super::media::layout::object_key;
use super::media::record::Stored;
use super::read::Message;
use super::reading::media::{Found, MediaIndex};
use super::reading::{Listed, Listing, Problem};
use super::search::SourceArchive;
use super::transfer::hex;

/// What a transcript knows and hands over of the files its messages link to.
#[derive(Debug, Default)]
pub struct Files {
    /// The newest media records of the archives read.
    pub index: MediaIndex,
    /// With `--media DIR`: DIR as the links name it, and the files copied there by SHA-256.
    pub copied_to: Option<String>,
    pub copied: BTreeSet<String>,
    /// HTML only: raster images embedded, as `data:` URIs by SHA-256.
    pub embedded: BTreeMap<String, String>,
    /// HTML only: images small enough to embed but left out (listed instead) because the
    /// embedded ones reached [`EMBED_TOTAL`].
    pub not_embedded: usize,
    /// Media files and records that could not be read.
    pub problems: Vec<Problem>,
}

impl Files {
    /// A message's attachments, looked up in the records.
    pub fn of<'a>(&'a self, m: &Message) -> Vec<Attachment<'a>> {
        attachments::of(m, |url| self.index.lookup(url))
    }

    /// Where a stored file was copied to, as the transcript links it.
    pub fn path(&self, a: &Attachment<'_>) -> Option<String> {
        let (_, stored) = a.file.stored()?;
        let dir = self.copied_to.as_deref()?;
        self.copied
            .contains(&stored.sha256)
            .then(|| format!("{}/{}", dir.trim_end_matches('/'), file_name(stored)))
    }

    /// A stored image's `data:` URI, when it is embedded.
    pub fn embedded(&self, a: &Attachment<'_>) -> Option<&str> {
        let (_, stored) = a.file.stored()?;
        self.embedded.get(&stored.sha256).map(String::as_str)
    }
}

/// The largest image an HTML transcript embeds; larger ones are listed.
pub const EMBED_LIMIT: u64 = 1 << 20;

/// The most an HTML transcript embeds in all: the page is built in memory, and a channel of
/// thousands of photos must not take gigabytes. Past it, images are listed like larger ones.
pub const EMBED_TOTAL: u64 = 32 << 20;

/// What a transcript does with the files `messages` link to: reads the newest media records of
/// the archives read (`sources`); with `copy_to`, copies the stored files there; else, with
/// `embed`, embeds the small images.
pub async fn gather<'a>(
    listing: &Listing,
    sources: &[SourceArchive],
    messages: impl Iterator<Item = &'a Message>,
    copy_to: Option<&Path>,
    embed_images: bool,
) -> Files {
    let read: Vec<&Listed> = listing
        .archives
        .iter()
        .filter(|a| {
            sources
                .iter()
                .any(|s| s.key == a.manifest.key && s.job == a.manifest.job)
        })
        .collect();
    let index = MediaIndex::load(listing, read).await;
    let mut wanted = BTreeMap::new();
    for m in messages {
        for a in attachments::of(m, |url| index.lookup(url)) {
            if let Some((found, stored)) = a.file.stored() {
                wanted
                    .entry(stored.sha256.clone())
                    .or_insert_with(|| Wanted {
                        found: found.clone(),
                        stored: stored.clone(),
                    });
            }
        }
    }
    let mut files = Files {
        problems: index.problems.clone(),
        ..Files::default()
    };
    if let Some(dir) = copy_to {
        let (copied, problems) = copy(listing, &wanted, dir).await;
        files.copied = copied;
        files.copied_to = Some(dir.to_string_lossy().replace('\\', "/"));
        files.problems.extend(problems);
    } else if embed_images {
        let embedded = embed(listing, &wanted).await;
        files.embedded = embedded.uris;
        files.not_embedded = embedded.over_budget;
        files.problems.extend(embedded.problems);
    }
    files.index = index;
    files
}

/// A stored file a transcript's messages link to.
#[derive(Debug, Clone)]
pub struct Wanted {
    pub found: Found,
    pub stored: Stored,
}

/// `<sha256>.<ext>`: the name of a file copied out.
pub fn file_name(stored: &Stored) -> String {
    format!("{}.{}", stored.sha256, extension(&stored.content_type))
}

/// Why a file could not be handed over, keyed by its object.
fn problem(listing: &Listing, wanted: &Wanted, what: impl std::fmt::Display) -> Problem {
    let key = object_key(&wanted.found.prefix, &wanted.stored.sha256);
    let location = listing
        .locations
        .get(wanted.found.location)
        .map_or("an unlisted location", |l| l.store.url());
    Problem::new(key, format!("media file in {location}: {what}"))
}

/// Streams each stored file of `wanted` (by SHA-256) into `dir` as `<sha256>.<ext>`, through
/// a `.part` file renamed when its SHA-256 checks out: the SHA-256s copied, and why the others
/// could not be.
pub async fn copy(
    listing: &Listing,
    wanted: &BTreeMap<String, Wanted>,
    dir: &Path,
) -> (BTreeSet<String>, Vec<Problem>) {
    let mut copied = BTreeSet::new();
    let mut problems = Vec::new();
    if let Err(e) = tokio::fs::create_dir_all(dir).await {
        for w in wanted.values() {
            problems.push(problem(
                listing,
                w,
                format!("cannot create {}: {e}", dir.display()),
            ));
        }
        return (copied, problems);
    }
    for (sha256, w) in wanted {
        let target = dir.join(file_name(&w.stored));
        match copy_one(listing, w, &target).await {
            Ok(()) => {
                copied.insert(sha256.clone());
            }
            Err(why) => problems.push(problem(listing, w, why)),
        }
    }
    (copied, problems)
}

async fn copy_one(listing: &Listing, w: &Wanted, target: &Path) -> Result<(), String> {
    let part = PathBuf::from(format!("{}.part", target.display()));
    let result = async {
        let mut out = tokio::fs::File::create(&part)
            .await
            .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        let mut hasher = Sha256::new();
        let mut stream = open(listing, w).await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(|e| format!("cannot be read: {e}"))?;
            hasher.update(&chunk);
            out.write_all(&chunk)
                .await
                .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        }
        out.flush()
            .await
            .map_err(|e| format!("cannot write {}: {e}", part.display()))?;
        check(&hex(&hasher.finalize()), w)?;
        tokio::fs::rename(&part, target)
            .await
            .map_err(|e| format!("cannot write {}: {e}", target.display()))
    }
    .await;
    if result.is_err() {
        let _ = tokio::fs::remove_file(&part).await;
    }
    result
}

type Chunks = futures::stream::BoxStream<'static, object_store::Result<bytes::Bytes>>;

async fn open(listing: &Listing, w: &Wanted) -> Result<Chunks, String> {
    let store = &listing
        .locations
        .get(w.found.location)
        .ok_or("its location is not listed")?
        .store;
    let key = object_key(&w.found.prefix, &w.stored.sha256);
    match store
        .object_store()
        .get(&ObjectPath::from(key.as_str()))
        .await
    {
        Ok(got) => Ok(got.into_stream()),
        Err(object_store::Error::NotFound { .. }) => {
            Err("missing: a media record names it, the store has no such object".to_owned())
        }
        Err(e) => Err(format!("cannot be read: {e}")),
    }
}

fn check(sha256: &str, w: &Wanted) -> Result<(), String> {
    if sha256 == w.stored.sha256 {
        Ok(())
    } else {
        Err(format!("corrupt: its bytes hash to {sha256}"))
    }
}

/// What [`embed`] made.
#[derive(Debug, Default)]
pub struct Embedded {
    /// `data:` URIs by SHA-256.
    pub uris: BTreeMap<String, String>,
    /// Images that would fit [`EMBED_LIMIT`] but not what [`EMBED_TOTAL`] had left.
    pub over_budget: usize,
    pub problems: Vec<Problem>,
}

/// The raster images of `wanted` no larger than [`EMBED_LIMIT`], as `data:` URIs by SHA-256
/// (the type taken from the bytes), until they add up to [`EMBED_TOTAL`]. A file whose bytes
/// are not a raster image is not embedded (it is listed like any other file); one that cannot
/// be read is a problem.
pub async fn embed(listing: &Listing, wanted: &BTreeMap<String, Wanted>) -> Embedded {
    let mut made = Embedded::default();
    let mut spent = 0u64;
    for (sha256, w) in wanted {
        if w.stored.size > EMBED_LIMIT || !is_raster(&w.stored.content_type) {
            continue;
        }
        if spent + w.stored.size > EMBED_TOTAL {
            made.over_budget += 1;
            continue;
        }
        match read_small(listing, w).await {
            Ok(bytes) => {
                if let Some(kind) = raster_type(&bytes) {
                    spent += bytes.len() as u64;
                    let data = base64::engine::general_purpose::STANDARD.encode(&bytes);
                    made.uris
                        .insert(sha256.clone(), format!("data:{kind};base64,{data}"));
                }
            }
            Err(why) => made.problems.push(problem(listing, w, why)),
        }
    }
    made
}

async fn read_small(listing: &Listing, w: &Wanted) -> Result<Vec<u8>, String> {
    let mut stream = open(listing, w).await?;
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| format!("cannot be read: {e}"))?;
        if (bytes.len() + chunk.len()) as u64 > EMBED_LIMIT {
            return Err(format!(
                "corrupt: larger than the {} bytes its record says",
                w.stored.size
            ));
        }
        bytes.extend_from_slice(&chunk);
    }
    check(&hex(&Sha256::digest(&bytes)), w)?;
    Ok(bytes)
}
