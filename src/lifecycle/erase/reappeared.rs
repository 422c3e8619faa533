//! Originals an earlier erasure deleted that are back (a backup restored, a versioned bucket's
//! delete undone). Readers take the replacement in place of the original, so finding never
//! sees them, yet the files hold the erased person again and a glob over the bucket reads
//! them. Every erasure first deletes each one an erasure record it can vouch for names, when
//! its bytes are the ones the record (or the manifest the record names) names: other bytes
//! are somebody else's document, reported and left.

use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

use super::{EraseError, JobAt};
use crate::archive::manifest::{MANIFEST_SUFFIX, Manifest, manifest_key};
use crate::archive::seal::{Removal, RemovalKind, SealHead, StoredSeal};
use crate::lifecycle::vouch::{same, trusted};
use crate::signing::Keyring;
use crate::store::{Store, json};

/// What was found of a job's erased originals.
#[derive(Debug, Default)]
pub struct Cleared {
    /// `job: key` of each document deleted (or, on a dry run, that would be).
    pub deleted: Vec<String>,
    /// Documents a record names that are there with other bytes: left.
    pub problems: Vec<String>,
}

/// The erasure records of `chain` the deployment can vouch for (`vouch::trusted`), where a
/// job without a ledger head vouches for no unsigned record: deleting on a record's word
/// wants more than a chain anyone with bucket access could have appended to.
fn vouched<'a>(
    chain: &'a [StoredSeal],
    keyring: &Keyring,
    head: Option<&SealHead>,
) -> Vec<&'a Removal> {
    trusted(chain, keyring, Some(head.map_or(0, |h| h.sequence)))
        .filter_map(|seal| seal.removal.as_ref())
        .filter(|removal| removal.kind == RemovalKind::Erasure)
        .collect()
}

/// Deletes `key`; a document gone meanwhile is no error.
async fn delete(store: &Store, key: &str) -> Result<(), EraseError> {
    match store.object_store().delete(&ObjectPath::from(key)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(source) => Err(EraseError::Delete {
            key: key.to_owned(),
            source,
        }),
    }
}

async fn read(store: &Store, key: &str) -> Result<Option<bytes::Bytes>, EraseError> {
    json::read_bytes(store, &ObjectPath::from(key))
        .await
        .map_err(|source| EraseError::Store {
            key: key.to_owned(),
            source,
        })
}

/// Finishes, in `job`, what the vouched erasure records of `chain` name and is present again:
/// each original's archive, then its sidecars, then its manifest. `dry_run`: only says so.
pub async fn clear(
    job: &JobAt,
    chain: &[StoredSeal],
    keyring: &Keyring,
    head: Option<&SealHead>,
    dry_run: bool,
) -> Result<Cleared, EraseError> {
    let store = &job.store;
    let mut cleared = Cleared::default();
    for removal in vouched(chain, keyring, head) {
        for archive in &removal.archives {
            let manifest_at = manifest_key(archive);
            let named = |key: &str| {
                removal
                    .documents
                    .iter()
                    .find(|d| d.key == key)
                    .map(|d| d.sha256.as_str())
            };
            let mut gone = Vec::new();
            let mut left = false;
            let manifest_bytes = read(store, &manifest_at).await?;
            let manifest_named = match &manifest_bytes {
                Some(bytes) if named(&manifest_at).is_some_and(|sha| same(bytes, sha)) => {
                    serde_json::from_slice::<Manifest>(bytes).ok()
                }
                Some(_) => {
                    cleared.problems.push(format!(
                        "{manifest_at}: an erasure record names it, but its bytes are other \
                         than the ones recorded: not deleted"
                    ));
                    left = true;
                    None
                }
                None => None,
            };
            if let Some(bytes) = read(store, archive).await? {
                match &manifest_named {
                    Some(manifest) if same(&bytes, &manifest.sha256) => gone.push(archive.clone()),
                    _ => {
                        cleared.problems.push(format!(
                            "{archive}: an erasure record names it, but its bytes cannot be \
                             matched to the manifest it recorded: not deleted"
                        ));
                        left = true;
                    }
                }
            }
            let sidecars = removal.documents.iter().filter(|d| {
                d.key != manifest_at
                    && !d.key.ends_with(MANIFEST_SUFFIX)
                    && d.key
                        .strip_prefix(archive.as_str())
                        .is_some_and(|rest| rest.starts_with('.'))
            });
            for sidecar in sidecars {
                match read(store, &sidecar.key).await? {
                    Some(bytes) if same(&bytes, &sidecar.sha256) => gone.push(sidecar.key.clone()),
                    Some(_) => cleared.problems.push(format!(
                        "{}: an erasure record names it, but its bytes are other than the \
                         ones recorded: not deleted",
                        sidecar.key
                    )),
                    None => {}
                }
            }
            // The manifest goes last, and only once nothing it describes is left.
            if manifest_named.is_some() && !left {
                gone.push(manifest_at);
            }
            for key in gone {
                if !dry_run {
                    delete(store, &key).await?;
                    tracing::info!(job = %job.name, key = %key, "erased original deleted again");
                }
                cleared.deleted.push(format!("{}: {key}", job.name));
            }
        }
    }
    Ok(cleared)
}
