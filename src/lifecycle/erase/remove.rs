//! Taking the replaced archives away, once the erasure record names them: each archive, then
//! its sidecars (media records, catalog record), then its manifest (the commit record goes
//! last, so an archive half deleted still lists and a rerun finishes it); then the captured
//! files only they referred to, each looked at again just before (a run may have linked it
//! since).

use std::collections::BTreeSet;

use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use sha2::{Digest, Sha256};

use super::EraseError;
use crate::archive::manifest::{MANIFEST_SUFFIX, manifest_key};
use crate::archive::media::layout::object_key;
use crate::archive::media::record::{self, MediaRecord};
use crate::archive::reading::{Listing, Source};
use crate::archive::seal::Covered;
use crate::archive::transfer::hex;
use crate::store::Store;
use crate::store::json;

/// Records read at once.
const RECORDS_AT_ONCE: usize = 16;

/// The documents of the archives at `keys` as they stand: each manifest and the sidecars
/// the listing saw, with the SHA-256 of their bytes.
pub async fn documents(
    store: &Store,
    listing: &Listing,
    keys: &[String],
) -> Result<Vec<Covered>, EraseError> {
    let mut wanted = Vec::new();
    for key in keys {
        wanted.push(manifest_key(key));
        for location in &listing.locations {
            wanted.extend(location.sidecars(key).map(str::to_owned));
        }
    }
    wanted.sort();
    wanted.dedup();
    let mut covered = Vec::new();
    for key in wanted {
        let bytes = json::read_bytes(store, &ObjectPath::from(key.as_str()))
            .await
            .map_err(|source| EraseError::Store {
                key: key.clone(),
                source,
            })?;
        if let Some(bytes) = bytes {
            covered.push(Covered {
                sha256: hex(&Sha256::digest(&bytes)),
                key,
            });
        }
    }
    Ok(covered)
}

/// The captured files (SHA-256 hex) the newest media record of each archive at `store`
/// refers to, whatever its job, leaving out the archives at `except`.
pub async fn referenced(
    store: &Store,
    except: &BTreeSet<String>,
) -> Result<BTreeSet<String>, EraseError> {
    let listing = Listing::list(&[Source::any_job(store.clone())]).await;
    if let Some(failed) = listing.problems.iter().find(|p| p.key == store.url()) {
        return Err(EraseError::List(failed.problem.clone()));
    }
    let records: Vec<String> = listing
        .locations
        .iter()
        .flat_map(|l| l.newest_media_records())
        .filter(|key| {
            record::parse_record_key(key).is_some_and(|(archive, _)| !except.contains(archive))
        })
        .map(str::to_owned)
        .collect();
    let read: Vec<Result<MediaRecord, record::RecordError>> = futures::stream::iter(records)
        .map(|key| async move { record::read_at(store, &key).await })
        .buffered(RECORDS_AT_ONCE)
        .collect()
        .await;
    let mut files = BTreeSet::new();
    for got in read {
        let record = got.map_err(EraseError::Record)?;
        files.extend(stored(&record));
    }
    Ok(files)
}

/// The captured files a record names.
pub fn stored(record: &MediaRecord) -> impl Iterator<Item = String> + '_ {
    record
        .references
        .iter()
        .filter_map(|r| r.outcome.stored())
        .map(|s| s.sha256.clone())
}

/// Deletes `key`; one gone already is no error (a rerun deletes what is left).
async fn delete(store: &Store, key: &str) -> Result<(), EraseError> {
    match store.object_store().delete(&ObjectPath::from(key)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(source) => Err(EraseError::Delete {
            key: key.to_owned(),
            source,
        }),
    }
}

/// Deletes each archive of `archives`, then its documents of `documents` (its manifest last).
pub async fn delete_archives(
    store: &Store,
    archives: &[String],
    documents: &[Covered],
) -> Result<(), EraseError> {
    for archive in archives {
        delete(store, archive).await?;
        let manifest = manifest_key(archive);
        let sidecars = documents.iter().filter(|d| {
            d.key != manifest
                && !d.key.ends_with(MANIFEST_SUFFIX)
                && d.key
                    .strip_prefix(archive.as_str())
                    .is_some_and(|rest| rest.starts_with('.'))
        });
        for sidecar in sidecars {
            delete(store, &sidecar.key).await?;
        }
        delete(store, &manifest).await?;
    }
    Ok(())
}

/// Deletes the captured files of `files` below `prefix` that no remaining archive's newest
/// record refers to now; the number deleted.
pub async fn delete_media(
    store: &Store,
    prefix: &str,
    files: &[String],
) -> Result<usize, EraseError> {
    if files.is_empty() {
        return Ok(0);
    }
    let still = referenced(store, &BTreeSet::new()).await?;
    let mut deleted = 0;
    for sha256 in files.iter().filter(|f| !still.contains(*f)) {
        delete(store, &object_key(prefix, sha256)).await?;
        deleted += 1;
    }
    Ok(deleted)
}
