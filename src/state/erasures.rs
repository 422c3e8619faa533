//! Erasure documents: the global record of each request to erase a person, kept in the state
//! store beside the jobs' ledgers (not in a ledger, whose history is capped). Written
//! create-only: the request before any archive is touched, so that from then on runs leave
//! that user out of new exports, and a completion naming what was removed once the work is
//! done. A request without its completion is an erasure to finish.
//!
//! ```text
//! erasures/<id>.json            the request: who, why, when, which jobs
//! erasures/<id>.done.json       what was removed, archive by archive
//! ```

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use super::error::StateError;
use super::io::{Created, Nonced, create_once, read_json};
use crate::archive::replacement::Removed;
use crate::store::Store;

const FOLDER: &str = "erasures";
const DONE: &str = ".done.json";
const FORMAT: u32 = 1;

/// A request to erase one user's data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureRequest {
    pub format: u32,
    /// `<requested_at as 20261208T031500Z>-<8 hex>`: sorts by time.
    pub id: String,
    pub user: String,
    /// The `--reason` text, as given.
    pub reason: String,
    pub requested_at: DateTime<Utc>,
    /// The jobs it is limited to (`--job`); empty for every job.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub jobs: Vec<String>,
    /// Recognises a retried write as this process's own.
    pub nonce: String,
}

/// What an erasure removed, written once it is finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureDone {
    pub format: u32,
    pub id: String,
    pub finished_at: DateTime<Utc>,
    pub archives: Vec<ErasedArchive>,
    /// Archives holding the user that a hold kept untouched, by key, with the holds' names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldArchive>,
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasedArchive {
    pub job: String,
    pub original: String,
    pub replacement: String,
    pub removed: Removed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldArchive {
    pub job: String,
    pub key: String,
    pub holds: Vec<String>,
}

impl Nonced for ErasureRequest {
    fn nonce(&self) -> &str {
        &self.nonce
    }
}

impl Nonced for ErasureDone {
    fn nonce(&self) -> &str {
        &self.nonce
    }
}

/// A request and, once finished, what it removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Erasure {
    pub request: ErasureRequest,
    pub done: Option<ErasureDone>,
}

impl ErasureRequest {
    pub fn new(
        user: String,
        reason: String,
        jobs: Vec<String>,
        now: DateTime<Utc>,
    ) -> ErasureRequest {
        let nonce = format!("{:016x}", rand::random::<u64>());
        ErasureRequest {
            format: FORMAT,
            id: format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &nonce[..8]),
            user,
            reason,
            requested_at: now,
            jobs,
            nonce,
        }
    }
}

impl ErasureDone {
    pub fn new(
        id: String,
        now: DateTime<Utc>,
        archives: Vec<ErasedArchive>,
        held: Vec<HeldArchive>,
    ) -> ErasureDone {
        ErasureDone {
            format: FORMAT,
            id,
            finished_at: now,
            archives,
            held,
            nonce: format!("{:016x}", rand::random::<u64>()),
        }
    }
}

fn request_key(id: &str) -> Path {
    Path::from_iter([FOLDER, &format!("{id}.json")])
}

fn done_key(id: &str) -> Path {
    Path::from_iter([FOLDER, &format!("{id}{DONE}")])
}

/// Records a request; an id taken by another request is a conflict.
pub async fn request(store: &Store, request: &ErasureRequest) -> Result<(), StateError> {
    let key = request_key(&request.id);
    match create_once(store, &key, request).await? {
        Created::Written => Ok(()),
        Created::Taken(_) => Err(StateError::Conflict {
            key: key.to_string(),
            detail: "another erasure request has this id",
        }),
    }
}

/// Records that a request is finished; finishing it twice keeps the first completion.
pub async fn finish(store: &Store, done: &ErasureDone) -> Result<(), StateError> {
    create_once(store, &done_key(&done.id), done).await?;
    Ok(())
}

/// Every erasure recorded, oldest first.
pub async fn list(store: &Store) -> Result<Vec<Erasure>, StateError> {
    let folder = Path::from(FOLDER);
    let keys: Vec<String> = store
        .object_store()
        .list(Some(&folder))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .map_err(|source| StateError::Store {
            key: folder.to_string(),
            source,
        })?;
    let mut ids: BTreeMap<String, bool> = BTreeMap::new();
    for key in &keys {
        let Some(name) = key.strip_prefix(&format!("{FOLDER}/")) else {
            continue;
        };
        if let Some(id) = name.strip_suffix(DONE) {
            ids.insert(id.to_owned(), true);
        } else if let Some(id) = name.strip_suffix(".json") {
            ids.entry(id.to_owned()).or_insert(false);
        }
    }
    let mut erasures = Vec::new();
    for (id, finished) in ids {
        let Some(request) = read_json::<ErasureRequest>(store, &request_key(&id)).await? else {
            return Err(StateError::Corrupt {
                key: done_key(&id).to_string(),
                reason: "a completion without its request".into(),
            });
        };
        let done = if finished {
            read_json::<ErasureDone>(store, &done_key(&id)).await?
        } else {
            None
        };
        erasures.push(Erasure { request, done });
    }
    Ok(erasures)
}

/// The users erased or being erased: runs leave them out of new exports.
pub async fn erased_users(store: &Store) -> Result<BTreeSet<String>, StateError> {
    Ok(list(store)
        .await?
        .into_iter()
        .map(|e| e.request.user)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_counts_as_erased_at_once_and_its_completion_reads_back() {
        let store = Store::memory();
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let asked = ErasureRequest::new("u1".into(), "Art. 17 request 42".into(), vec![], now);
        request(&store, &asked).await.expect("a request");
        assert_eq!(
            erased_users(&store).await.expect("users"),
            BTreeSet::from(["u1".to_owned()])
        );
        let listed = list(&store).await.expect("a list");
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].done, None, "not finished yet");
        let done = ErasureDone::new(asked.id.clone(), now, vec![], vec![]);
        finish(&store, &done).await.expect("finished");
        finish(&store, &done)
            .await
            .expect("finishing again is no error");
        let listed = list(&store).await.expect("a list");
        assert_eq!(listed[0].done.as_ref(), Some(&done));
    }
}
