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

#[cfg(test)]
mod tests {
    use object_store::{ObjectStoreExt, PutPayload};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::archive::people::everyone;
    use crate::archive::tally::Counter;

    const ARCHIVE: &str = concat!(
        r#"{"type":"channel","item":{"cid":"messaging:a","created_by":{"id":"boss"}}}"#,
        "\n",
        r#"{"type":"member","item":{"user_id":"quiet","user":{"id":"quiet"}}}"#,
        "\n",
        r#"{"type":"message","item":{"id":"1","cid":"messaging:a","user":{"id":"author"},"created_at":"2026-01-01T00:00:00Z","mentioned_users":[{"id":"named"}]}}"#,
        "\n",
        r#"{"type":"reaction","item":{"message_id":"1","user":{"id":"fan"},"type":"like"}}"#,
        "\n",
    );

    /// What a run of today counts of [`ARCHIVE`].
    fn as_a_run_counts() -> Tally {
        let mut counter = Counter::new(crate::archive::entities::Layout::Lines);
        counter.push(ARCHIVE.as_bytes(), &mut |_, _| {});
        counter.finish(&mut |_, _| {})
    }

    /// [`ARCHIVE`] stored under a manifest of `format` counting `contents`.
    async fn stored(format: u32, contents: Option<Tally>) -> (Store, Manifest) {
        let store = Store::memory();
        let key = "j/channels-0001.jsonl";
        store
            .object_store()
            .put(&ObjectPath::from(key), PutPayload::from(ARCHIVE.as_bytes()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let manifest = Manifest {
            format,
            job: "j".into(),
            tick: at,
            window_since: Some(at),
            window_until: Some(at),
            snapshot_at: None,
            kind: "channels".into(),
            batch: 1,
            channels: vec!["messaging:a".into()],
            users: Vec::new(),
            missing: Vec::new(),
            task_id: "t".into(),
            export_version: "v2".into(),
            key: key.into(),
            bytes_source: ARCHIVE.len() as u64,
            bytes_stored: ARCHIVE.len() as u64,
            sha256: format!("{:x}", Sha256::digest(ARCHIVE.as_bytes())),
            content_encoding: "none".into(),
            exported_at: None,
            archived_at: at,
            chatvault_version: "0".into(),
            contents,
            supersedes: None,
        };
        (store, manifest)
    }

    fn authors_only() -> Tally {
        let mut tally = as_a_run_counts();
        tally.users.retain(|id, _| id == "author");
        tally
    }

    #[tokio::test]
    async fn a_format_2_manifest_gets_a_catalog_record_counting_everyone() {
        let (store, manifest) = stored(2, Some(authors_only())).await;
        let now = manifest.archived_at;
        let done = index(&store, &manifest, now, None).await;
        assert!(matches!(done, Ok(Indexed::Written)), "{done:?}");
        let everyone_counted = read_everyone(&store, &manifest).await;
        assert_eq!(everyone_counted, Some(as_a_run_counts()));
        let users = as_a_run_counts().users;
        for id in ["boss", "quiet", "author", "named", "fan"] {
            assert!(users.contains_key(id), "{id}: {users:?}");
        }
        let again = index(&store, &manifest, now, None).await;
        assert!(matches!(again, Ok(Indexed::Cataloged)), "{again:?}");
        // The archive is not read again: it is gone, and the record answers.
        store
            .object_store()
            .delete(&ObjectPath::from(manifest.key.as_str()))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let full = everyone(&store, &manifest).await.ok();
        assert_eq!(full, Some(as_a_run_counts()));
    }

    #[tokio::test]
    async fn a_format_1_catalog_record_is_left_and_the_archive_read_for_everyone() {
        let (store, manifest) = stored(1, None).await;
        let old = Catalog {
            format: 1,
            key: manifest.key.clone(),
            sha256: manifest.sha256.clone(),
            contents: authors_only(),
            indexed_at: manifest.archived_at,
        };
        let at = ObjectPath::from(catalog_key(&manifest.key));
        json::create(&store, &at, &old)
            .await
            .unwrap_or_else(|e| panic!("{e:?}"));
        let done = index(&store, &manifest, manifest.archived_at, None).await;
        assert!(matches!(done, Ok(Indexed::Cataloged)), "{done:?}");
        let kept = json::read::<Catalog>(&store, &at).await.ok().flatten();
        assert_eq!(kept, Some(old), "create-only: the old record stays");
        assert_eq!(read(&store, &manifest).await, Some(authors_only()));
        assert_eq!(read_everyone(&store, &manifest).await, None);
        let full = everyone(&store, &manifest).await.ok();
        assert_eq!(full, Some(as_a_run_counts()), "read from the archive");
    }

    #[tokio::test]
    async fn a_format_3_manifest_is_counted_already() {
        let (store, manifest) = stored(3, Some(as_a_run_counts())).await;
        let done = index(&store, &manifest, manifest.archived_at, None).await;
        assert!(matches!(done, Ok(Indexed::Counted)), "{done:?}");
        let full = everyone(&store, &manifest).await.ok();
        assert_eq!(full, Some(as_a_run_counts()));
    }
}
