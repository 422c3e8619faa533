//! The manifest: a small JSON object written after its archive, as the archive's commit
//! record. It is written create-only, so a second writer cannot replace it, and an archive
//! without a manifest is unfinished by definition. It never holds a secret or a link.

use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::tally::Tally;
use crate::store::Store;
use crate::store::json::{self, JsonError};

/// Manifests sit beside their archive: `<archive key>` + this.
pub const MANIFEST_SUFFIX: &str = ".manifest.json";

pub fn manifest_key(archive_key: &str) -> String {
    format!("{archive_key}{MANIFEST_SUFFIX}")
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest layout; bumped on incompatible changes.
    pub format: u32,
    pub job: String,
    /// The scheduled tick the archive belongs to.
    pub tick: DateTime<Utc>,
    /// The window of message time a channels export covers; none for a users export, which
    /// takes no window (format 1 wrote the tick's window there too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_since: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_until: Option<DateTime<Utc>>,
    /// A users export is a snapshot of each user's data (up to 10,000 messages each) as Stream
    /// held it then: when its export task was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_at: Option<DateTime<Utc>>,
    /// `channels` or `users`.
    pub kind: String,
    pub batch: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// Members of the batch (cids or user ids, by `kind`) Stream does not have: the export
    /// was made without them, so `channels`/`users` list only what the archive holds. Absent
    /// in manifests written before, and when nothing was missing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
    pub task_id: String,
    pub export_version: String,
    /// The archive's key below the destination's prefix.
    pub key: String,
    pub bytes_source: u64,
    pub bytes_stored: u64,
    /// SHA-256 of the archive as stored, hex.
    pub sha256: String,
    /// `none`, `gzip` or `zstd`.
    pub content_encoding: String,
    /// When Stream created the export task.
    pub exported_at: Option<DateTime<Utc>>,
    pub archived_at: DateTime<Utc>,
    pub chatvault_version: String,
    /// What the archive holds, counted as it streamed in: per channel its messages and their
    /// first and last time, per user their messages. Absent before format 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contents: Option<Tally>,
}

/// 2: `contents`, and users exports as snapshots (`snapshot_at`, no window). Format 1
/// manifests still read.
pub const FORMAT: u32 = 2;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ManifestError {
    #[error("a manifest already exists at {key}: the archive was committed before")]
    Exists { key: String },
    #[error("cannot write the manifest {key}: {source}")]
    Write {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot read the manifest {key}: {source}")]
    Read {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("the manifest {key} is not valid: {source}")]
    Invalid {
        key: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Commits an archive by writing its manifest, only if none exists yet.
pub async fn write(store: &Store, manifest: &Manifest) -> Result<(), ManifestError> {
    let key = manifest_key(&manifest.key);
    match json::create(store, &ObjectPath::from(key.as_str()), manifest).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(ManifestError::Exists { key }),
        Err(JsonError::Store(source)) => Err(ManifestError::Write { key, source }),
        Err(JsonError::Encode(source) | JsonError::Decode(source)) => {
            Err(ManifestError::Invalid { key, source })
        }
    }
}

/// The manifest of an archive, if it was committed.
pub async fn read(store: &Store, archive_key: &str) -> Result<Option<Manifest>, ManifestError> {
    let key = manifest_key(archive_key);
    read_at(store, &key).await
}

/// The manifest stored at `key` (a manifest key, not an archive key).
pub async fn read_at(store: &Store, key: &str) -> Result<Option<Manifest>, ManifestError> {
    let key = key.to_owned();
    match json::read(store, &ObjectPath::from(key.as_str())).await {
        Ok(found) => Ok(found),
        Err(JsonError::Store(source)) => Err(ManifestError::Read { key, source }),
        Err(JsonError::Encode(source) | JsonError::Decode(source)) => {
            Err(ManifestError::Invalid { key, source })
        }
    }
}
