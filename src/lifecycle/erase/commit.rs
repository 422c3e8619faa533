//! Committing a replacement: its manifest (a copy of the replaced archive's with what was
//! written, counted again, and what it supersedes), then its media record, naming the
//! captured files its remaining items still link to.

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};

use super::EraseError;
use super::rewrite::Rewritten;
use crate::archive::manifest::{self, FORMAT, Manifest};
use crate::archive::media::record::{self, Draft, MediaRecord, Reference};
use crate::archive::media::refs::FoundRef;
use crate::archive::replacement::Supersedes;
use crate::links::without_query;
use crate::signing::SigningKey;
use crate::store::Store;

/// The manifest of the replacement written at `key` for the archive of `replaced`. A users
/// export's batch (`users`, `missing`) names people: the erased ones leave it too.
pub fn replacement_manifest(
    replaced: &Manifest,
    key: &str,
    written: &Rewritten,
    erased: &BTreeSet<String>,
    erasure: &str,
    now: DateTime<Utc>,
) -> Manifest {
    let others = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .filter(|id| !erased.contains(*id))
            .cloned()
            .collect()
    };
    Manifest {
        format: FORMAT,
        key: key.to_owned(),
        bytes_source: written.bytes_source,
        bytes_stored: written.bytes_stored,
        sha256: written.sha256.clone(),
        archived_at: now,
        chatvault_version: env!("CARGO_PKG_VERSION").to_owned(),
        contents: Some(written.tally.clone()),
        users: others(&replaced.users),
        missing: others(&replaced.missing),
        supersedes: Some(Supersedes {
            key: replaced.key.clone(),
            sha256: replaced.sha256.clone(),
            erasure: erasure.to_owned(),
            removed: written.removed,
        }),
        ..replaced.clone()
    }
}

/// Writes the replacement's manifest; one there already (a rerun after a crash that had
/// written it) is kept when it names the same bytes.
pub async fn write_manifest(
    store: &Store,
    manifest: &Manifest,
    signer: Option<&SigningKey>,
) -> Result<(), EraseError> {
    match manifest::write(store, manifest, signer).await {
        Ok(()) => Ok(()),
        Err(manifest::ManifestError::Exists { key }) => {
            let there = manifest::read(store, &manifest.key)
                .await
                .map_err(EraseError::Manifest)?;
            if there.is_some_and(|m| m.sha256 == manifest.sha256) {
                Ok(())
            } else {
                Err(EraseError::Taken { key })
            }
        }
        Err(e) => Err(EraseError::Manifest(e)),
    }
}

/// The references of the replaced archive's newest record that the replacement's items
/// still hold (by owner, field and link without its query).
pub fn kept_references(newest: &MediaRecord, kept: &[FoundRef]) -> Vec<Reference> {
    let held: BTreeSet<(&_, &str, &str)> = kept
        .iter()
        .map(|f| (&f.owner, f.field.as_str(), without_query(&f.url)))
        .collect();
    newest
        .references
        .iter()
        .filter(|r| held.contains(&(&r.owner, r.field.as_str(), without_query(&r.url))))
        .cloned()
        .collect()
}

/// Writes the replacement's first media record, from the replaced archive's newest one.
pub async fn write_media_record(
    store: &Store,
    replacement: &Manifest,
    newest: &MediaRecord,
    references: Vec<Reference>,
    signer: Option<&SigningKey>,
    now: DateTime<Utc>,
) -> Result<MediaRecord, EraseError> {
    let draft = Draft {
        job: &replacement.job,
        archive: &replacement.key,
        prefix: &newest.prefix,
        now,
        after: 0,
    };
    record::write_next(store, draft, references, signer)
        .await
        .map_err(EraseError::Record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::replacement::Removed;
    use crate::archive::tally::Tally;

    #[test]
    fn a_users_batch_in_the_replacement_manifest_no_longer_names_the_erased_user() {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        let replaced: Manifest = serde_json::from_value(serde_json::json!({
            "format": 3, "job": "support", "tick": at, "kind": "users", "batch": 1,
            "users": ["alice", "bob"], "missing": ["alice", "carol"],
            "snapshot_at": at, "task_id": "t", "export_version": "v2",
            "key": "support/users-1.jsonl", "bytes_source": 1, "bytes_stored": 1,
            "sha256": "00", "content_encoding": "none", "exported_at": null,
            "archived_at": at, "chatvault_version": "0"
        }))
        .expect("a manifest");
        let written = Rewritten {
            bytes_source: 1,
            bytes_stored: 1,
            sha256: "11".into(),
            tally: Tally::default(),
            removed: Removed::default(),
            kept: Vec::new(),
        };
        let erased = BTreeSet::from(["alice".to_owned()]);
        let manifest = replacement_manifest(
            &replaced,
            "support/users-1.erased-1.jsonl",
            &written,
            &erased,
            "e1",
            at,
        );
        assert_eq!(manifest.users, ["bob"]);
        assert_eq!(manifest.missing, ["carol"]);
    }
}
