//! The three store operations state is built on: a create-only write of one whole JSON
//! document, a read that turns bad bytes into [`StateError::Corrupt`], and a listing of
//! numbered records.
//!
//! Why no record is ever torn: each is one `put` of a complete document. Object stores never
//! show a partial object, and `LocalFileSystem` writes a `PutMode::Create` put to a staging
//! file and publishes it with a hard link (which fails if the name exists), so readers see
//! either nothing or everything. Staging files end in `#<digits>` and are left out of listings.

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::StateError;
use super::keys::parse_numbered;
use crate::archive::store::Store;

/// A record that carries a random nonce, so a writer can recognise its own write.
pub trait Nonced {
    fn nonce(&self) -> &str;
}

/// What a create-only write found.
#[derive(Debug)]
pub enum Created<T> {
    Written,
    /// The key was taken by someone else; their record, when it could be read.
    Taken(Option<T>),
}

/// Writes `record` at `key` only if nothing is there.
///
/// When the store says the key exists, the record there is read back: if it carries our
/// nonce, it is our own write whose first response was lost and then retried (or a retried
/// request that found its own earlier attempt), and it counts as written. Without this, a
/// writer could report a conflict for a commit that landed and then apply its change twice.
pub async fn create_once<T>(store: &Store, key: &Path, record: &T) -> Result<Created<T>, StateError>
where
    T: Serialize + DeserializeOwned + Nonced,
{
    let body = serde_json::to_vec_pretty(record).map_err(|e| StateError::Corrupt {
        key: key.to_string(),
        reason: format!("cannot be encoded: {e}"),
    })?;
    let options = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    match store
        .object_store()
        .put_opts(key, PutPayload::from(body), options)
        .await
    {
        Ok(_) => Ok(Created::Written),
        Err(object_store::Error::AlreadyExists { .. }) => {
            // A record there that cannot be read is not ours (ours is valid): a conflict, and
            // the next load reports the corruption.
            match read_json::<T>(store, key).await {
                Ok(Some(found)) if found.nonce() == record.nonce() => Ok(Created::Written),
                Ok(found) => Ok(Created::Taken(found)),
                Err(StateError::Corrupt { .. }) => Ok(Created::Taken(None)),
                Err(e) => Err(e),
            }
        }
        Err(source) => Err(StateError::Store {
            key: key.to_string(),
            source,
        }),
    }
}

/// The record at `key`, `None` when there is none.
pub async fn read_json<T: DeserializeOwned>(
    store: &Store,
    key: &Path,
) -> Result<Option<T>, StateError> {
    let store_error = |source| StateError::Store {
        key: key.to_string(),
        source,
    };
    let bytes = match store.object_store().get(key).await {
        Ok(got) => got.bytes().await.map_err(store_error)?,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(source) => return Err(store_error(source)),
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| StateError::Corrupt {
            key: key.to_string(),
            reason: format!("not a valid record: {e}"),
        })
}

/// The numbered records directly in `dir` (other objects there are ignored), unordered. With
/// `after`, only names sorting after it (stores like S3 and GCS skip the rest server-side).
pub async fn list_numbered(
    store: &Store,
    dir: &Path,
    width: usize,
    after: Option<&Path>,
) -> Result<Vec<(u64, ObjectMeta)>, StateError> {
    let listing = match after {
        Some(offset) => store.object_store().list_with_offset(Some(dir), offset),
        None => store.object_store().list(Some(dir)),
    };
    let metas: Vec<ObjectMeta> =
        listing
            .try_collect()
            .await
            .map_err(|source| StateError::Store {
                key: format!("{dir}/"),
                source,
            })?;
    Ok(metas
        .into_iter()
        .filter_map(|meta| parse_numbered(dir, &meta.location, width).map(|n| (n, meta)))
        .collect())
}

/// A fresh random nonce, 128 bits in hex.
pub fn nonce() -> String {
    format!("{:032x}", rand::random::<u128>())
}
