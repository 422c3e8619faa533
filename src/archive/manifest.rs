//! The manifest: a small JSON object written after its archive, as the archive's commit
//! record. It is written create-only, so a second writer cannot replace it, and an archive
//! without a manifest is unfinished by definition. It never holds a secret or a link.

use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::replacement::Supersedes;
use super::tally::Tally;
use crate::signing::SigningKey;
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
    /// A replacement an erasure wrote: the archive it takes the place of, and what it left
    /// out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<Supersedes>,
}

/// 2: `contents`, and users exports as snapshots (`snapshot_at`, no window). 3: `contents`
/// counts every user an item names (reactions, memberships, mentions, read state, user
/// records), not only message authors; `supersedes`. Formats 1 and 2 still read.
pub const FORMAT: u32 = 3;

/// The first format whose counts name every user an archive holds anything of.
pub const COUNTS_EVERYONE: u32 = 3;

impl Manifest {
    /// Whether `contents` names every user the archive holds anything of, so that a hold or
    /// an erasure can decide from it without reading the archive.
    pub fn counts_everyone(&self) -> bool {
        self.format >= COUNTS_EVERYONE && self.contents.is_some()
    }
}

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

/// Commits an archive by writing its manifest, only if none exists yet; signed by `signer`
/// when there is one.
pub async fn write(
    store: &Store,
    manifest: &Manifest,
    signer: Option<&SigningKey>,
) -> Result<(), ManifestError> {
    let key = manifest_key(&manifest.key);
    let at = ObjectPath::from(key.as_str());
    match json::create_signed(store, &at, manifest, signer).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{Check, Keyring, check};

    fn manifest(key: &str) -> Manifest {
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        Manifest {
            format: FORMAT,
            job: "daily".into(),
            tick: at,
            window_since: Some(at),
            window_until: Some(at),
            snapshot_at: None,
            kind: "channels".into(),
            batch: 1,
            channels: vec!["messaging:general".into()],
            users: Vec::new(),
            missing: Vec::new(),
            task_id: "task".into(),
            export_version: "v2".into(),
            key: key.into(),
            bytes_source: 1,
            bytes_stored: 1,
            sha256: "ab".into(),
            content_encoding: "gzip".into(),
            exported_at: None,
            archived_at: at,
            chatvault_version: "0".into(),
            contents: None,
            supersedes: None,
        }
    }

    async fn stored(store: &Store, key: &str) -> Vec<u8> {
        let at = ObjectPath::from(manifest_key(key));
        json::read_bytes(store, &at)
            .await
            .ok()
            .flatten()
            .unwrap_or_default()
            .to_vec()
    }

    #[tokio::test]
    async fn a_manifest_written_with_a_key_is_signed_by_it_and_reads_back_the_same() {
        let store = Store::memory();
        let (key, _) = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let mut keys = Keyring::default();
        keys.add(key.public().clone());
        write(&store, &manifest("signed"), Some(&key))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        write(&store, &manifest("plain"), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let id = key.public().id().to_owned();
        assert_eq!(
            check(&stored(&store, "signed").await, &keys),
            Check::Valid { key_id: id }
        );
        assert_eq!(
            check(&stored(&store, "plain").await, &keys),
            Check::Unsigned
        );
        let back = read(&store, "signed").await.ok().flatten();
        assert_eq!(back, Some(manifest("signed")));
    }
}
