//! Where an export names people, and whom an archive holds: what items name
//! (`naming`: roles, `named`, `scrub`, the placeholder), counting it (`tally::count`), and the
//! counts of everyone an archive holds anything of ([`everyone`]), from wherever they are
//! kept.

pub use super::naming::{PLACEHOLDER_ID, PLACEHOLDER_NAME, Role, Verdict, named, scrub};
pub use super::tally::count;

use super::catalog;
use super::entities::{Kind, Splitter};
use super::manifest::Manifest;
use super::read::{ReadError, entities, layout};
use super::tally::{Tally, Tallying};
use crate::store::Store;

/// The counts of every user the archive of `manifest` holds anything of: from its manifest
/// when it counts everyone (format 3 on), else from a catalog record that does (`index`,
/// catalog format 2 on), else by reading the archive, counted as a run counts.
pub async fn everyone(store: &Store, manifest: &Manifest) -> Result<Tally, ReadError> {
    if manifest.counts_everyone()
        && let Some(contents) = &manifest.contents
    {
        return Ok(contents.clone());
    }
    if let Some(contents) = catalog::read_everyone(store, manifest).await {
        return Ok(contents);
    }
    let mut tallying = Tallying::default();
    let mut found = |kind: Kind, bytes: &[u8]| tallying.entity(kind, bytes);
    entities(store, manifest, Splitter::new(layout(manifest)), &mut found).await?;
    Ok(tallying.finish())
}

#[cfg(test)]
mod tests {
    use chrono::DateTime;
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStoreExt, PutPayload};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::archive::catalog::{Catalog, Indexed, catalog_key, index, read, read_everyone};
    use crate::archive::tally::Counter;
    use crate::store::json;

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
