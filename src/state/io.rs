//! The three store operations state is built on: a create-only write of one whole JSON
//! document that recognises its own retried write, a read that turns bad bytes into
//! [`StateError::Corrupt`], and a listing of numbered records. The documents themselves go
//! through [`crate::store::json`], which says why none is ever torn. `LocalFileSystem`'s
//! staging files end in `#<digits>` and are left out of listings.

use futures::TryStreamExt;
use object_store::ObjectMeta;
use object_store::path::Path;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::error::StateError;
use super::keys::parse_numbered;
use crate::store::Store;
use crate::store::json::{self, JsonError};

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
    if json::create(store, key, record)
        .await
        .map_err(|e| state_error(key, e))?
    {
        return Ok(Created::Written);
    }
    // A record there that cannot be read is not ours (ours is valid): a conflict, and the
    // next load reports the corruption.
    match read_json::<T>(store, key).await {
        Ok(Some(found)) if found.nonce() == record.nonce() => Ok(Created::Written),
        Ok(found) => Ok(Created::Taken(found)),
        Err(StateError::Corrupt { .. }) => Ok(Created::Taken(None)),
        Err(e) => Err(e),
    }
}

/// The record at `key`, `None` when there is none.
pub async fn read_json<T: DeserializeOwned>(
    store: &Store,
    key: &Path,
) -> Result<Option<T>, StateError> {
    json::read(store, key)
        .await
        .map_err(|e| state_error(key, e))
}

fn state_error(key: &Path, error: JsonError) -> StateError {
    let key = key.to_string();
    match error {
        JsonError::Encode(e) => StateError::Corrupt {
            key,
            reason: format!("cannot be encoded: {e}"),
        },
        JsonError::Decode(e) => StateError::Corrupt {
            key,
            reason: format!("not a valid record: {e}"),
        },
        JsonError::Store(source) => StateError::Store { key, source },
    }
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
