//! Reading a job's chain back: every seal listed under its folder, in sequence order, with
//! the SHA-256 of its stored bytes (what the next seal names) and the bytes (what its
//! signature is checked against).

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use sha2::{Digest, Sha256};

use super::{Seal, parse_seal_key, seal_key, seals_folder};
use crate::archive::transfer::hex;
use crate::store::Store;
use crate::store::json;

/// Seals read at once.
const SEALS_AT_ONCE: usize = 32;

/// A seal as read from the store.
#[derive(Debug, Clone)]
pub struct StoredSeal {
    pub key: String,
    /// The SHA-256 (hex) of `bytes`.
    pub sha256: String,
    pub bytes: Bytes,
    /// The document, or why it is not one (a chain check reports it; the chain breaks there).
    pub seal: Result<Seal, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    #[error("cannot list the seals of job {job}: {source}")]
    List {
        job: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot read the seal {key}: {source}")]
    Read {
        key: String,
        #[source]
        source: object_store::Error,
    },
}

/// Every seal of `job` in `store`, by sequence (as their keys say; a gap is the caller's to
/// find). Objects in the folder that are not seal keys are left out.
pub async fn read_chain(store: &Store, job: &str) -> Result<Vec<StoredSeal>, ChainError> {
    read_chain_after(store, job, 0).await
}

/// The seals of `job` numbered above `after`, listed from there on: a writer that holds the
/// chain up to `after` reads only what is new, however long the chain.
pub async fn read_chain_after(
    store: &Store,
    job: &str,
    after: u64,
) -> Result<Vec<StoredSeal>, ChainError> {
    let folder = ObjectPath::from(seals_folder(job).as_str());
    let listed = if after == 0 {
        store.object_store().list(Some(&folder))
    } else {
        let offset = ObjectPath::from(seal_key(job, after).as_str());
        store
            .object_store()
            .list_with_offset(Some(&folder), &offset)
    };
    let mut keys: Vec<(u64, String)> = listed
        .map_ok(|meta| meta.location.to_string())
        .try_collect::<Vec<String>>()
        .await
        .map_err(|source| ChainError::List {
            job: job.to_owned(),
            source,
        })?
        .into_iter()
        .filter_map(|key| {
            parse_seal_key(&key)
                .filter(|&(j, n)| j == job && n > after)
                .map(|(_, n)| (n, key.clone()))
        })
        .collect();
    keys.sort();
    futures::stream::iter(keys.into_iter().map(|(_, key)| async move {
        let bytes = json::read_bytes(store, &ObjectPath::from(key.as_str()))
            .await
            .map_err(|source| ChainError::Read {
                key: key.clone(),
                source,
            })?;
        let (bytes, seal) = match bytes {
            Some(bytes) => {
                let seal =
                    serde_json::from_slice::<Seal>(&bytes).map_err(|e| format!("not a seal: {e}"));
                (bytes, seal)
            }
            None => (
                Bytes::new(),
                Err("deleted while it was being read".to_owned()),
            ),
        };
        Ok(StoredSeal {
            sha256: hex(&Sha256::digest(&bytes)),
            key,
            bytes,
            seal,
        })
    }))
    .buffered(SEALS_AT_ONCE)
    .try_collect()
    .await
}
