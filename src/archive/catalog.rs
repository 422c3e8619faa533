//! Catalog records for archives written before manifests counted what they hold (format 1):
//! `chatvault index` reads such an archive once and writes `<key>.catalog.json` beside it, so
//! that searches can rule it out without reading it. Manifests are create-only commit records
//! and are never rewritten; the catalog record is a sidecar, also written create-only, and
//! names the archive's SHA-256 so a record that does not belong to the bytes is ignored.

use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};

use super::manifest::Manifest;
use super::read::{Keep, Message, ReadError, messages};
use super::tally::{ChannelCount, Tally};
use crate::query::Needles;
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

const FORMAT: u32 = 1;

/// The catalog record of `manifest`'s archive, when there is one for these bytes.
pub async fn read(store: &Store, manifest: &Manifest) -> Option<Tally> {
    let key = ObjectPath::from(catalog_key(&manifest.key));
    match json::read::<Catalog>(store, &key).await {
        Ok(Some(c)) if c.sha256 == manifest.sha256 && c.key == manifest.key => Some(c.contents),
        _ => None,
    }
}

/// What `index` did with one archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Indexed {
    /// Its manifest counts what it holds already.
    Counted,
    /// A catalog record was there already.
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

/// Makes sure the archive of `manifest` is counted somewhere: in its manifest, or in a
/// catalog record, written now (create-only, signed by `signer` when there is one) when
/// missing. Running it again changes nothing.
pub async fn index(
    store: &Store,
    manifest: &Manifest,
    now: DateTime<Utc>,
    signer: Option<&SigningKey>,
) -> Result<Indexed, IndexError> {
    if manifest.contents.is_some() {
        return Ok(Indexed::Counted);
    }
    if read(store, manifest).await.is_some() {
        return Ok(Indexed::Cataloged);
    }
    let mut contents = Tally::default();
    let mut count = |m: Message| count_message(&mut contents, &m);
    messages(
        store,
        manifest,
        &Needles::default(),
        Keep::Fields,
        &mut count,
    )
    .await?;
    let record = Catalog {
        format: FORMAT,
        key: manifest.key.clone(),
        sha256: manifest.sha256.clone(),
        contents,
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

fn count_message(tally: &mut Tally, m: &Message) {
    if let Some(cid) = &m.cid {
        let count: &mut ChannelCount = tally.channels.entry(cid.clone()).or_default();
        count.messages += 1;
        if let Some(at) = m.created_at {
            count.first_message_at = Some(count.first_message_at.map_or(at, |t| t.min(at)));
            count.last_message_at = Some(count.last_message_at.map_or(at, |t| t.max(at)));
        }
    }
    if let Some(user) = m.user_id() {
        tally.users.entry(user.to_owned()).or_default().messages += 1;
    }
}
