//! Catalog records for archives whose manifests do not count everything they hold: format 1
//! manifests count nothing, format 2 ones only message authors and users exports' users.
//! `chatvault index` reads such an archive once and writes `<key>.catalog.json` beside it, so
//! that searches can rule it out without reading it, and holds and erasure can tell whom it
//! holds. Manifests are create-only commit records and are never rewritten; the catalog record
//! is a sidecar, also written create-only, and names the archive's SHA-256 so a record that
//! does not belong to the bytes is ignored.
//!
//! Catalog format 1 counted like format 2 manifests; format 2 counts every user an item names,
//! as format 3 manifests do. A format 1 record stays as it is (records are create-only and
//! sealed): its counts still serve searches, and whoever needs everyone reads the archive.

use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};

use super::entities::{Kind, Splitter};
use super::manifest::Manifest;
use super::read::{ReadError, entities, layout};
use super::tally::{Tally, Tallying};
use crate::signing::SigningKey;
use crate::store::Store;
use crate::store::json::{self, JsonError};

/// Catalog records sit beside their archive: `<archive key>` + this.
pub const CATALOG_SUFFIX: &str = ".catalog.json";

pub fn catalog_key(archive_key: &str) -> String {
    format!("{archive_key}{CATALOG_SUFFIX}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    pub format: u32,
    /// The archive's key, and the SHA-256 of the bytes that were counted.
    pub key: String,
    pub sha256: String,
    pub contents: Tally,
    pub indexed_at: DateTime<Utc>,
}

/// 2: `contents` counts every user an item names (reactions, memberships, mentions, read
/// state, user records), as manifest format 3 does.
const FORMAT: u32 = 2;

/// The first catalog format whose counts name everyone.
const COUNTS_EVERYONE: u32 = 2;

/// The catalog record of `manifest`'s archive, when there is one for these bytes.
async fn record(store: &Store, manifest: &Manifest) -> Option<Catalog> {
    let key = ObjectPath::from(catalog_key(&manifest.key));
    match json::read::<Catalog>(store, &key).await {
        Ok(Some(c)) if c.sha256 == manifest.sha256 && c.key == manifest.key => Some(c),
        _ => None,
    }
}

/// The counts of the catalog record of `manifest`'s archive, of any format: channels, their
/// times and message authors, which is what searches need.
pub async fn read(store: &Store, manifest: &Manifest) -> Option<Tally> {
    record(store, manifest).await.map(|c| c.contents)
}

/// The counts of the catalog record of `manifest`'s archive when they name everyone.
pub async fn read_everyone(store: &Store, manifest: &Manifest) -> Option<Tally> {
    record(store, manifest)
        .await
        .filter(|c| c.format >= COUNTS_EVERYONE)
        .map(|c| c.contents)
}

/// What `index` did with one archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexed {
    /// Its manifest counts everyone it holds already (format 3 on).
    Counted,
    /// A catalog record was there already (a format 1 one is left as it is).
    Cataloged,
    Written,
}

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("{0}")]
    Read(#[from] ReadError),
    #[error("cannot write the catalog record: {0}")]
    Write(String),
}

/// Makes sure the archive of `manifest` is counted somewhere: in its manifest when that counts
/// everyone, or in a catalog record, written now (create-only, signed by `signer` when there
/// is one) when missing, counting as a run counts. Running it again changes nothing.
pub async fn index(
    store: &Store,
    manifest: &Manifest,
    now: DateTime<Utc>,
    signer: Option<&SigningKey>,
) -> Result<Indexed, IndexError> {
    if manifest.counts_everyone() {
        return Ok(Indexed::Counted);
    }
    if record(store, manifest).await.is_some() {
        return Ok(Indexed::Cataloged);
    }
    let mut tallying = Tallying::default();
    let mut count = |kind: Kind, bytes: &[u8]| tallying.entity(kind, bytes);
    entities(store, manifest, Splitter::new(layout(manifest)), &mut count).await?;
    let record = Catalog {
        format: FORMAT,
        key: manifest.key.clone(),
        sha256: manifest.sha256.clone(),
        contents: tallying.finish(),
        indexed_at: now,
    };
    let key = ObjectPath::from(catalog_key(&manifest.key));
    match json::create_signed(store, &key, &record, signer).await {
        // Another index run got there first: its record counts the same bytes.
        Ok(_) => Ok(Indexed::Written),
        Err(JsonError::Store(e)) => Err(IndexError::Write(e.to_string())),
        Err(JsonError::Encode(e) | JsonError::Decode(e)) => Err(IndexError::Write(e.to_string())),
    }
}
