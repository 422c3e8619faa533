//! Whole JSON documents in a store: a create-only write and a read. Manifests (an archive's
//! commit record) and state records (ledger versions, leases) are both built on these two.
//!
//! Why nothing is ever torn: each document is one `put`. Object stores never show a partial
//! object, and `LocalFileSystem` writes a `PutMode::Create` put to a staging file and publishes
//! it with a hard link (which fails if the name exists), so readers see either nothing or
//! everything.

use bytes::Bytes;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::Store;
use crate::signing::{SigningKey, signed_json};

/// What went wrong with a document; each caller words it for what the document is.
#[derive(Debug)]
pub enum JsonError {
    /// The value could not be written as JSON.
    Encode(serde_json::Error),
    /// The bytes stored are not the document expected.
    Decode(serde_json::Error),
    Store(object_store::Error),
}

/// Writes `value` at `key` only if nothing is there: `Ok(false)` when the key is taken.
pub async fn create<T: Serialize>(store: &Store, key: &Path, value: &T) -> Result<bool, JsonError> {
    create_signed(store, key, value, None).await
}

/// [`create`], with the document signed by `signer` when there is one: how every document
/// written beside archives (manifests, records, seals) is written.
pub async fn create_signed<T: Serialize>(
    store: &Store,
    key: &Path,
    value: &T,
    signer: Option<&SigningKey>,
) -> Result<bool, JsonError> {
    let body = signed_json(value, signer).map_err(JsonError::Encode)?;
    let options = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    match store
        .object_store()
        .put_opts(key, PutPayload::from(body), options)
        .await
    {
        Ok(_) => Ok(true),
        Err(object_store::Error::AlreadyExists { .. }) => Ok(false),
        Err(source) => Err(JsonError::Store(source)),
    }
}

/// The stored bytes of the document at `key`, `None` when there is none: what its signature
/// and a seal's SHA-256 are checked against.
pub async fn read_bytes(store: &Store, key: &Path) -> Result<Option<Bytes>, object_store::Error> {
    match store.object_store().get(key).await {
        Ok(got) => got.bytes().await.map(Some),
        Err(object_store::Error::NotFound { .. }) => Ok(None),
        Err(source) => Err(source),
    }
}

/// The document at `key`, `None` when there is none.
pub async fn read<T: DeserializeOwned>(store: &Store, key: &Path) -> Result<Option<T>, JsonError> {
    let Some(bytes) = read_bytes(store, key).await.map_err(JsonError::Store)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(JsonError::Decode)
}
