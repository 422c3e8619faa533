//! Writing a job's next seal: every manifest and record of the job that no earlier seal names,
//! found with the readers' LIST-only walk (never into `_` folders or the media prefix), and
//! the SHA-256 of the job's newest seal.
//!
//! Which documents are the job's: a destination may be shared by several jobs and a key
//! template need not hold `{job}`, so a manifest is the job's when its `job` field says so,
//! and a media or catalog record when the manifest of the archive it names is. Only manifests
//! no seal of the job names are read; one found to be another job's is remembered (in
//! [`SealMemory`]), so a daemon does not read it again every tick. The memory also holds the
//! chain as far as this process has seen it, so a daemon reads only seals newer than that.
//!
//! Two rules keep a seal from vouching for what it should not. A chain cut at its end (the
//! newest seals removed with what they named) is never sealed over: the seal the job's ledger
//! records, and the newest one the process remembers, must be in the store with the SHA-256
//! known for them, or no seal is written ([`SealError::Cut`]); otherwise a new seal at the
//! freed sequence would make the removal invisible. And a deployment that signs seals only
//! documents whose signature holds with its keys, since it writes no other: an unsigned one,
//! or one signed by another key, was planted. Only a job's first seal names everything
//! already there, which includes documents written before signing began.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{
    ChainError, Covered, FORMAT, Removal, Seal, parse_seal_key, read_chain_after, seal_key,
};
use crate::archive::catalog::CATALOG_SUFFIX;
use crate::archive::manifest::{MANIFEST_SUFFIX, manifest_key};
use crate::archive::media::record::parse_record_key;
use crate::archive::reading::listing::{media_folder, walk};
use crate::archive::transfer::hex;
use crate::signing::{Check, Keyring, SigningKey, check};
use crate::store::Store;
use crate::store::json::{self, JsonError};

/// Tries at the next sequence before giving up, when other writers keep taking it.
const ATTEMPTS: u32 = 5;

/// Documents read at once.
const DOCUMENTS_AT_ONCE: usize = 16;

/// The newest seal of a job's chain: what the ledger keeps, so a chain cut short at its end
/// is caught.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealHead {
    pub sequence: u64,
    /// The SHA-256 (hex) of the seal's stored bytes.
    pub sha256: String,
    pub key: String,
}

/// What a seal is signed with and checked against.
#[derive(Debug, Clone, Copy)]
pub struct Sealing<'a> {
    /// Signs the seal; with it, a seal after the job's first names only documents whose
    /// signature holds with `keyring`.
    pub signer: Option<&'a SigningKey>,
    /// The deployment's keys: its own key's public half and the ones it lists, so documents
    /// signed just before a key rotation still seal.
    pub keyring: &'a Keyring,
    /// The newest seal the job's ledger records: the chain must still hold it. A head one
    /// behind the chain (a run killed between its seal and its end) is no cut.
    pub recorded: Option<&'a SealHead>,
}

/// What one seal did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    pub head: SealHead,
    /// The documents it names (none: it proves the chain's head at its time).
    pub covered: usize,
    /// Documents that could not be read, so are not sealed yet (the next seal tries again),
    /// and seals that are not seals.
    pub warnings: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SealError {
    #[error(transparent)]
    Chain(#[from] ChainError),
    #[error("cannot list {url}: {source}")]
    List {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot write the seal {key}: {source}")]
    Write {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot write the seal {key}: {source}")]
    Encode {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the seal {key} was written but cannot be read back: {reason}")]
    ReadBack { key: String, reason: String },
    #[error("other writers took the job's next seal {attempts} times in a row; giving up for now")]
    Contended { attempts: u32 },
    #[error(
        "the chain was cut: seal {sequence} ({key}), which {witness}, {found}; no seal is \
         written over it"
    )]
    Cut {
        sequence: u64,
        key: String,
        /// Who knows of the seal: the ledger, or this process.
        witness: &'static str,
        /// What the store holds instead.
        found: &'static str,
    },
}

/// What a process knows of its jobs' chains, per destination URL and job. A run of
/// `run --once` starts with nothing and reads the whole chain; a daemon keeps it across ticks.
#[derive(Debug, Default)]
pub struct SealMemory {
    chains: Mutex<HashMap<(String, String), Known>>,
}

/// One job's chain at one destination, as far as it was read or written.
#[derive(Debug, Default)]
struct Known {
    head: Option<SealHead>,
    /// Every key a seal of the job names.
    covered: HashSet<String>,
    /// Manifests of other jobs.
    foreign: HashSet<String>,
}

impl SealMemory {
    /// Taken out while a seal is written: a seal that fails leaves nothing behind, and the
    /// next one reads the chain afresh.
    fn take(&self, url: &str, job: &str) -> Known {
        self.chains
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&(url.to_owned(), job.to_owned()))
            .unwrap_or_default()
    }

    fn keep(&self, url: &str, job: &str, known: Known) {
        self.chains
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert((url.to_owned(), job.to_owned()), known);
    }
}

/// Writes `job`'s next seal in `store` (signed by `sealing.signer` when there is one),
/// naming every document of the job no earlier seal names; written even when there is none,
/// since it still proves the chain's head at `now`. The job's captured files live below
/// `media_prefix`, which is never walked.
pub async fn seal(
    store: &Store,
    job: &str,
    media_prefix: &str,
    sealing: Sealing<'_>,
    now: DateTime<Utc>,
    memory: &SealMemory,
) -> Result<Sealed, SealError> {
    write_next(store, job, media_prefix, sealing, now, memory, None).await
}

/// Writes `job`'s next seal as an expiry or erasure record: it names what [`seal`] would
/// (the replacement archives' documents among them) and carries `removal`, which must be
/// written before anything it names is deleted.
pub async fn record_removal(
    store: &Store,
    job: &str,
    media_prefix: &str,
    sealing: Sealing<'_>,
    now: DateTime<Utc>,
    memory: &SealMemory,
    removal: Removal,
) -> Result<Sealed, SealError> {
    write_next(
        store,
        job,
        media_prefix,
        sealing,
        now,
        memory,
        Some(removal),
    )
    .await
}

async fn write_next(
    store: &Store,
    job: &str,
    media_prefix: &str,
    sealing: Sealing<'_>,
    now: DateTime<Utc>,
    memory: &SealMemory,
    removal: Option<Removal>,
) -> Result<Sealed, SealError> {
    let mut known = memory.take(store.url(), job);
    let mut warnings = Vec::new();
    let remembered = known.head.clone();
    catch_up(store, job, &mut known, &mut warnings).await?;
    // A head read just now is in the store; one only remembered may be gone since.
    let unread = remembered.filter(|r| known.head.as_ref() == Some(r));
    if let Err(cut) = check_heads(store, job, sealing.recorded, unread.as_ref()).await {
        // Kept, so a daemon refuses again next tick until the seal is back.
        memory.keep(store.url(), job, known);
        return Err(cut);
    }
    let skip = BTreeSet::from([media_folder(media_prefix)]);
    let objects = walk(store, &skip).await.map_err(|source| SealError::List {
        url: store.url().to_owned(),
        source,
    })?;
    // The first seal names what was there before signing (or sealing) began.
    let keyring = sealing
        .signer
        .filter(|_| known.head.is_some())
        .map(|_| sealing.keyring);
    let mut covers = uncovered(store, job, &objects, keyring, &mut known, &mut warnings).await;
    for _ in 0..ATTEMPTS {
        let sequence = known.head.as_ref().map_or(1, |h| h.sequence + 1);
        let key = seal_key(job, sequence);
        let document = Seal {
            format: FORMAT,
            job: job.to_owned(),
            sequence,
            sealed_at: now,
            previous: known.head.as_ref().map(|h| h.sha256.clone()),
            covers: covers.clone(),
            chatvault_version: env!("CARGO_PKG_VERSION").to_owned(),
            removal: removal.clone(),
        };
        let path = ObjectPath::from(key.as_str());
        match json::create_signed(store, &path, &document, sealing.signer).await {
            Ok(true) => {
                let sha256 = stored_sha256(store, &key).await?;
                let head = SealHead {
                    sequence,
                    sha256,
                    key,
                };
                known.covered.extend(covers.iter().map(|c| c.key.clone()));
                known.head = Some(head.clone());
                memory.keep(store.url(), job, known);
                return Ok(Sealed {
                    head,
                    covered: covers.len(),
                    warnings,
                });
            }
            Ok(false) => {
                // Another writer sealed first: what its seal names is sealed.
                catch_up(store, job, &mut known, &mut warnings).await?;
                covers.retain(|c| !known.covered.contains(&c.key));
            }
            Err(JsonError::Store(source)) => return Err(SealError::Write { key, source }),
            Err(JsonError::Encode(source) | JsonError::Decode(source)) => {
                return Err(SealError::Encode { key, source });
            }
        }
    }
    Err(SealError::Contended { attempts: ATTEMPTS })
}

/// Reads the seals of `job` newer than `known`'s head into it.
async fn catch_up(
    store: &Store,
    job: &str,
    known: &mut Known,
    warnings: &mut Vec<String>,
) -> Result<(), ChainError> {
    let after = known.head.as_ref().map_or(0, |h| h.sequence);
    for stored in read_chain_after(store, job, after).await? {
        let Some((_, sequence)) = parse_seal_key(&stored.key) else {
            continue;
        };
        match &stored.seal {
            Ok(seal) => known
                .covered
                .extend(seal.covers.iter().map(|c| c.key.clone())),
            // Still chained to, so the break shows where it is; what it named is sealed
            // again.
            Err(reason) => warnings.push(format!(
                "the seal {} cannot be read ({reason}); `chatvault verify` reports it",
                stored.key
            )),
        }
        known.head = Some(SealHead {
            sequence,
            sha256: stored.sha256,
            key: stored.key,
        });
    }
    Ok(())
}

/// Checks that the seal the ledger records (`recorded`) and the newest one this process
/// remembers without having read it this time (`remembered`) are in the store as they were.
async fn check_heads(
    store: &Store,
    job: &str,
    recorded: Option<&SealHead>,
    remembered: Option<&SealHead>,
) -> Result<(), SealError> {
    let heads = [
        (recorded, "the ledger records"),
        (
            remembered.filter(|r| recorded.is_none_or(|h| h.sequence != r.sequence)),
            "this process sealed or read before",
        ),
    ];
    for (head, witness) in heads {
        let Some(head) = head else { continue };
        let key = seal_key(job, head.sequence);
        let found = match json::read_bytes(store, &ObjectPath::from(key.as_str())).await {
            Ok(Some(bytes)) if hex(&Sha256::digest(&bytes)) == head.sha256 => continue,
            Ok(Some(_)) => "is not the seal stored there (its SHA-256 differs)",
            Ok(None) => "is gone",
            Err(source) => return Err(ChainError::Read { key, source }.into()),
        };
        return Err(SealError::Cut {
            sequence: head.sequence,
            key,
            witness,
            found,
        });
    }
    Ok(())
}

/// Just the field that says whose a manifest is (format 1 manifests have it too).
#[derive(Deserialize)]
struct JobOf {
    job: String,
}

/// The documents of `job` among `objects` that no seal names, by key, with their SHA-256;
/// with a `keyring`, only those whose signature holds with it (the others are warned about
/// and looked at again next time). Manifests found to be another job's go into
/// `known.foreign`.
async fn uncovered(
    store: &Store,
    job: &str,
    objects: &BTreeSet<String>,
    keyring: Option<&Keyring>,
    known: &mut Known,
    warnings: &mut Vec<String>,
) -> Vec<Covered> {
    let manifests: Vec<String> = objects
        .iter()
        .filter(|k| {
            k.ends_with(MANIFEST_SUFFIX)
                && !known.covered.contains(*k)
                && !known.foreign.contains(*k)
        })
        .cloned()
        .collect();
    let mut ours = HashSet::new();
    let mut covers = Vec::new();
    for (key, got) in read_all(store, manifests).await {
        match got {
            Ok(Some(bytes)) => match serde_json::from_slice::<JobOf>(&bytes) {
                Ok(of) if of.job == job => {
                    ours.insert(key.clone());
                    admit(keyring, key, &bytes, &mut covers, warnings);
                }
                Ok(_) => {
                    known.foreign.insert(key);
                }
                Err(e) => warnings.push(format!(
                    "the manifest {key} is not a chatvault manifest ({e}): not sealed"
                )),
            },
            // Gone since the LIST: nothing to seal.
            Ok(None) => {}
            Err(e) => warnings.push(unreadable(&key, &e)),
        }
    }
    let records: Vec<String> = objects
        .iter()
        .filter(|k| {
            !known.covered.contains(*k)
                && owner(k).is_some_and(|m| ours.contains(&m) || known.covered.contains(&m))
        })
        .cloned()
        .collect();
    for (key, got) in read_all(store, records).await {
        match got {
            Ok(Some(bytes)) => admit(keyring, key, &bytes, &mut covers, warnings),
            Ok(None) => {}
            Err(e) => warnings.push(unreadable(&key, &e)),
        }
    }
    covers.sort();
    covers
}

/// The manifest key of the archive a media or catalog record names; `None` for other keys.
fn owner(key: &str) -> Option<String> {
    key.strip_suffix(CATALOG_SUFFIX)
        .or_else(|| parse_record_key(key).map(|(archive, _)| archive))
        .map(manifest_key)
}

/// Adds the document to `covers` when there is no `keyring` or its signature holds with it;
/// otherwise says why it is left unsealed.
fn admit(
    keyring: Option<&Keyring>,
    key: String,
    bytes: &[u8],
    covers: &mut Vec<Covered>,
    warnings: &mut Vec<String>,
) {
    let why = match keyring.map(|k| check(bytes, k)) {
        None | Some(Check::Valid { .. }) => return covers.push(covered(key, bytes)),
        Some(Check::Unsigned) => "is unsigned".to_owned(),
        Some(Check::UnknownKey { .. }) => "is signed by an unknown key".to_owned(),
        Some(Check::Invalid { .. }) => "has a signature that does not hold".to_owned(),
        Some(Check::Malformed { reason }) => format!("has a malformed signature ({reason})"),
    };
    warnings.push(format!(
        "not sealed: {key} {why}, though this deployment signs: was it planted? \
         `chatvault verify` reports it"
    ));
}

fn covered(key: String, bytes: &[u8]) -> Covered {
    Covered {
        key,
        sha256: hex(&Sha256::digest(bytes)),
    }
}

fn unreadable(key: &str, e: &object_store::Error) -> String {
    format!("cannot read {key} to seal it: {e}; the next run's seal tries again")
}

async fn read_all(
    store: &Store,
    keys: Vec<String>,
) -> Vec<(String, Result<Option<Bytes>, object_store::Error>)> {
    futures::stream::iter(keys)
        .map(|key| {
            let store = store.clone();
            async move {
                let got = json::read_bytes(&store, &ObjectPath::from(key.as_str())).await;
                (key, got)
            }
        })
        .buffered(DOCUMENTS_AT_ONCE)
        .collect()
        .await
}

/// The SHA-256 of the seal as stored: what the next seal and the ledger name.
async fn stored_sha256(store: &Store, key: &str) -> Result<String, SealError> {
    let read_back = |reason: String| SealError::ReadBack {
        key: key.to_owned(),
        reason,
    };
    match json::read_bytes(store, &ObjectPath::from(key)).await {
        Ok(Some(bytes)) => Ok(hex(&Sha256::digest(&bytes))),
        Ok(None) => Err(read_back("it is gone".to_owned())),
        Err(e) => Err(read_back(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use async_trait::async_trait;
    use futures::stream::BoxStream;
    use object_store::memory::InMemory;
    use object_store::{
        CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
        ObjectStoreExt as _, PutMultipartOptions, PutOptions, PutPayload, PutResult,
    };

    use super::*;
    use crate::archive::seal::read_chain;
    use crate::signing::signed_json;

    fn at(hour: u32) -> DateTime<Utc> {
        format!("2026-03-01T{hour:02}:00:00Z")
            .parse()
            .expect("a time")
    }

    async fn put(store: &Store, key: &str, body: &[u8]) {
        store
            .object_store()
            .put(&ObjectPath::from(key), PutPayload::from(body.to_vec()))
            .await
            .expect("a put");
    }

    /// An archive of `job` at `key` with its manifest (only `job` matters here).
    async fn archive(store: &Store, job: &str, key: &str) {
        put(store, key, b"x").await;
        let manifest = serde_json::json!({"job": job, "key": key});
        put(store, &manifest_key(key), manifest.to_string().as_bytes()).await;
    }

    fn keys(sealed: &Seal) -> Vec<&str> {
        sealed.covers.iter().map(|c| c.key.as_str()).collect()
    }

    async fn chain(store: &Store, job: &str) -> Vec<Seal> {
        read_chain(store, job)
            .await
            .expect("the chain")
            .into_iter()
            .map(|s| s.seal.expect("a seal"))
            .collect()
    }

    fn unsigned<'a>(keyring: &'a Keyring, recorded: Option<&'a SealHead>) -> Sealing<'a> {
        Sealing {
            signer: None,
            keyring,
            recorded,
        }
    }

    async fn seal_now(store: &Store, job: &str, hour: u32, memory: &SealMemory) -> Sealed {
        seal(
            store,
            job,
            "_media",
            unsigned(&Keyring::default(), None),
            at(hour),
            memory,
        )
        .await
        .expect("sealed")
    }

    /// Seals 1 to 5 of job `a`, the fifth naming `a/5.jsonl`'s manifest; the newest head.
    async fn five_seals(store: &Store, memory: &SealMemory) -> SealHead {
        let mut head = None;
        for n in 1..=5 {
            archive(store, "a", &format!("a/{n}.jsonl")).await;
            head = Some(seal_now(store, "a", n, memory).await.head);
        }
        head.expect("five seals")
    }

    /// Removes seal 5 with the archive and manifest it names, as someone hiding them would.
    async fn cut_seal_five(store: &Store) {
        for key in [&seal_key("a", 5), "a/5.jsonl", "a/5.jsonl.manifest.json"] {
            store
                .object_store()
                .delete(&ObjectPath::from(key))
                .await
                .expect("a delete");
        }
    }

    fn assert_cut(got: Result<Sealed, SealError>, witness: &str, found: &str) {
        match got {
            Err(SealError::Cut {
                sequence: 5,
                key,
                witness: w,
                found: f,
            }) => {
                assert_eq!(
                    (key.as_str(), w, f),
                    (seal_key("a", 5).as_str(), witness, found)
                );
            }
            other => panic!("not refused as cut: {other:?}"),
        }
    }

    #[tokio::test]
    async fn each_seal_names_what_no_earlier_seal_names_and_chains_to_the_one_before() {
        let store = Store::memory();
        let memory = SealMemory::default();
        archive(&store, "a", "a/1.jsonl").await;
        put(&store, "a/1.jsonl.media.1.json", b"{}").await;
        put(&store, "a/1.jsonl.catalog.json", b"{}").await;
        let first = seal_now(&store, "a", 1, &memory).await;
        assert_eq!(first.head.sequence, 1);
        assert_eq!(first.covered, 3);
        archive(&store, "a", "a/2.jsonl").await;
        put(&store, "a/1.jsonl.media.2.json", b"{}").await;
        let second = seal_now(&store, "a", 2, &memory).await;
        let third = seal_now(&store, "a", 3, &memory).await;
        assert_eq!(third.covered, 0, "nothing new: it proves the head");

        let seals = chain(&store, "a").await;
        assert_eq!(
            keys(&seals[0]),
            [
                "a/1.jsonl.catalog.json",
                "a/1.jsonl.manifest.json",
                "a/1.jsonl.media.1.json"
            ]
        );
        assert_eq!(
            keys(&seals[1]),
            ["a/1.jsonl.media.2.json", "a/2.jsonl.manifest.json"]
        );
        assert!(seals[2].covers.is_empty());
        assert_eq!(seals[0].previous, None);
        assert_eq!(seals[1].previous.as_ref(), Some(&first.head.sha256));
        assert_eq!(seals[2].previous.as_ref(), Some(&second.head.sha256));
        assert_eq!(seals[2].sealed_at, at(3));
        let stored = read_chain(&store, "a").await.expect("the chain");
        assert_eq!(stored[2].sha256, third.head.sha256);
        assert_eq!(stored[2].key, third.head.key);
        let manifest = json::read_bytes(&store, &ObjectPath::from("a/2.jsonl.manifest.json"))
            .await
            .expect("a read")
            .expect("there");
        assert_eq!(
            seals[1].covers[1].sha256,
            hex(&Sha256::digest(&manifest)),
            "the SHA-256 of the stored bytes"
        );
    }

    #[tokio::test]
    async fn a_shared_destination_seals_each_job_its_own_documents_and_reads_others_once() {
        let store = Store::memory();
        let memory = SealMemory::default();
        archive(&store, "a", "x/1.jsonl").await;
        archive(&store, "b", "x/2.jsonl").await;
        put(&store, "x/2.jsonl.media.1.json", b"{}").await;
        put(&store, "gone.jsonl.media.1.json", b"{}").await;
        put(&store, "_media/sha256/ab/cd.manifest.json", b"{").await;
        put(&store, "_other/y.manifest.json", b"{").await;
        let a = seal_now(&store, "a", 1, &memory).await;
        let b = seal_now(&store, "b", 1, &memory).await;
        assert!(
            a.warnings.is_empty() && b.warnings.is_empty(),
            "`_` folders are never walked: {a:?} {b:?}"
        );
        assert_eq!(
            keys(&chain(&store, "a").await[0]),
            ["x/1.jsonl.manifest.json"]
        );
        assert_eq!(
            keys(&chain(&store, "b").await[0]),
            ["x/2.jsonl.manifest.json", "x/2.jsonl.media.1.json"]
        );
        let a = memory.take(store.url(), "a");
        assert_eq!(
            a.foreign,
            HashSet::from(["x/2.jsonl.manifest.json".to_owned()]),
            "another job's manifest is remembered, not read again"
        );
    }

    #[tokio::test]
    async fn a_record_written_after_its_archive_was_sealed_is_sealed_next() {
        let store = Store::memory();
        let memory = SealMemory::default();
        archive(&store, "a", "a/1.jsonl").await;
        seal_now(&store, "a", 1, &memory).await;
        put(&store, "a/1.jsonl.media.1.json", b"{}").await;
        // A fresh process, which knows nothing of the chain yet.
        let second = seal_now(&store, "a", 2, &SealMemory::default()).await;
        assert_eq!(second.head.sequence, 2);
        assert_eq!(
            keys(&chain(&store, "a").await[1]),
            ["a/1.jsonl.media.1.json"]
        );
    }

    #[tokio::test]
    async fn a_manifest_that_cannot_be_read_is_reported_and_sealed_once_it_can() {
        let store = Store::memory();
        let memory = SealMemory::default();
        put(&store, "a/1.jsonl.manifest.json", b"{").await;
        let first = seal_now(&store, "a", 1, &memory).await;
        assert_eq!(first.covered, 0);
        assert_eq!(first.warnings.len(), 1, "{:?}", first.warnings);
        assert!(
            first.warnings[0].starts_with("the manifest a/1.jsonl.manifest.json is not"),
            "{:?}",
            first.warnings
        );
        let second = seal_now(&store, "a", 2, &memory).await;
        assert_eq!(second.warnings.len(), 1, "tried again");
        archive(&store, "a", "a/1.jsonl").await;
        let third = seal_now(&store, "a", 3, &memory).await;
        assert!(third.warnings.is_empty(), "{:?}", third.warnings);
        assert_eq!(
            keys(&chain(&store, "a").await[2]),
            ["a/1.jsonl.manifest.json"]
        );
    }

    #[tokio::test]
    async fn a_seal_another_writer_wrote_is_read_and_the_next_sequence_taken() {
        let store = Store::memory();
        let daemon = SealMemory::default();
        archive(&store, "a", "a/1.jsonl").await;
        seal_now(&store, "a", 1, &daemon).await;
        archive(&store, "a", "a/2.jsonl").await;
        // Another process seals the new archive while the daemon holds sequence 1.
        let other = seal_now(&store, "a", 2, &SealMemory::default()).await;
        assert_eq!(other.head.sequence, 2);
        let third = seal_now(&store, "a", 3, &daemon).await;
        assert_eq!(third.head.sequence, 3);
        assert_eq!(third.covered, 0, "sealed once only");
        let seals = chain(&store, "a").await;
        assert_eq!(seals[2].previous.as_ref(), Some(&other.head.sha256));
    }

    /// An in-memory store that keeps the keys read, and where another writer seals `race`
    /// (when there is one) just before the first seal this process tries to create.
    #[derive(Debug, Default)]
    struct Watched {
        inner: InMemory,
        race: Option<Vec<Covered>>,
        raced: AtomicBool,
        reads: Mutex<Vec<String>>,
    }

    impl Watched {
        fn reads(&self) -> Vec<String> {
            std::mem::take(&mut *self.reads.lock().expect("not poisoned"))
        }
    }

    impl std::fmt::Display for Watched {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Watched")
        }
    }

    #[async_trait]
    impl ObjectStore for Watched {
        async fn put_opts(
            &self,
            location: &ObjectPath,
            payload: PutPayload,
            opts: PutOptions,
        ) -> object_store::Result<PutResult> {
            if let Some(covers) = &self.race
                && let Some((job, sequence)) = parse_seal_key(location.as_ref())
                && !self.raced.swap(true, Ordering::SeqCst)
            {
                let theirs = Seal {
                    format: FORMAT,
                    job: job.to_owned(),
                    sequence,
                    sealed_at: at(0),
                    previous: None,
                    covers: covers.clone(),
                    chatvault_version: "0".into(),
                    removal: None,
                };
                let body = serde_json::to_vec(&theirs).expect("json");
                self.inner.put(location, PutPayload::from(body)).await?;
            }
            self.inner.put_opts(location, payload, opts).await
        }
        async fn put_multipart_opts(
            &self,
            location: &ObjectPath,
            opts: PutMultipartOptions,
        ) -> object_store::Result<Box<dyn MultipartUpload>> {
            self.inner.put_multipart_opts(location, opts).await
        }
        async fn get_opts(
            &self,
            location: &ObjectPath,
            options: GetOptions,
        ) -> object_store::Result<GetResult> {
            self.reads
                .lock()
                .expect("not poisoned")
                .push(location.to_string());
            self.inner.get_opts(location, options).await
        }
        fn delete_stream(
            &self,
            locations: BoxStream<'static, object_store::Result<ObjectPath>>,
        ) -> BoxStream<'static, object_store::Result<ObjectPath>> {
            self.inner.delete_stream(locations)
        }
        fn list(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
            self.inner.list(prefix)
        }
        async fn list_with_delimiter(
            &self,
            prefix: Option<&ObjectPath>,
        ) -> object_store::Result<ListResult> {
            self.inner.list_with_delimiter(prefix).await
        }
        async fn copy_opts(
            &self,
            from: &ObjectPath,
            to: &ObjectPath,
            options: CopyOptions,
        ) -> object_store::Result<()> {
            self.inner.copy_opts(from, to, options).await
        }
    }

    #[tokio::test]
    async fn a_sequence_taken_by_another_writer_is_read_and_the_next_one_taken() {
        let racing = Watched {
            race: Some(vec![Covered {
                key: "a/1.jsonl.manifest.json".into(),
                sha256: "00".into(),
            }]),
            ..Watched::default()
        };
        let store = Store::wrap(Arc::new(racing), "racing://", true);
        archive(&store, "a", "a/1.jsonl").await;
        archive(&store, "a", "a/2.jsonl").await;
        let mine = seal_now(&store, "a", 1, &SealMemory::default()).await;
        assert_eq!(mine.head.sequence, 2);
        let seals = chain(&store, "a").await;
        assert_eq!(keys(&seals[0]), ["a/1.jsonl.manifest.json"]);
        assert_eq!(
            keys(&seals[1]),
            ["a/2.jsonl.manifest.json"],
            "what the other writer sealed is not sealed again"
        );
        let first = read_chain(&store, "a").await.expect("the chain");
        assert_eq!(seals[1].previous.as_ref(), Some(&first[0].sha256));
    }

    #[tokio::test]
    async fn a_daemon_reads_only_what_is_new_since_its_last_seal() {
        let watched = Arc::new(Watched::default());
        let store = Store::wrap(watched.clone(), "watched://", true);
        let daemon = SealMemory::default();
        archive(&store, "a", "x/1.jsonl").await;
        archive(&store, "b", "x/2.jsonl").await;
        seal_now(&store, "a", 1, &daemon).await;
        watched.reads();
        archive(&store, "a", "x/3.jsonl").await;
        put(&store, "x/1.jsonl.media.1.json", b"{}").await;
        let second = seal_now(&store, "a", 2, &daemon).await;
        assert_eq!(second.covered, 2);
        let mut reads = watched.reads();
        reads.sort();
        assert_eq!(
            reads,
            [
                "_chatvault/seals/a/000000000001.json",
                "_chatvault/seals/a/000000000002.json",
                "x/1.jsonl.media.1.json",
                "x/3.jsonl.manifest.json",
            ],
            "its newest seal to see it is still there, then no earlier seal, no sealed \
             manifest, no other job's manifest"
        );

        // A process that starts afresh reads the chain and every manifest no seal names.
        let fresh = seal_now(&store, "a", 3, &SealMemory::default()).await;
        assert_eq!(fresh.covered, 0);
        let mut reads = watched.reads();
        reads.sort();
        assert_eq!(
            reads,
            [
                "_chatvault/seals/a/000000000001.json",
                "_chatvault/seals/a/000000000002.json",
                "_chatvault/seals/a/000000000003.json",
                "x/2.jsonl.manifest.json",
            ]
        );
    }

    #[tokio::test]
    async fn a_seal_that_is_not_one_is_chained_to_and_warned_about() {
        let store = Store::memory();
        put(&store, &seal_key("a", 1), b"not json").await;
        archive(&store, "a", "a/1.jsonl").await;
        let sealed = seal_now(&store, "a", 1, &SealMemory::default()).await;
        assert_eq!(sealed.head.sequence, 2);
        assert_eq!(sealed.covered, 1);
        assert_eq!(sealed.warnings.len(), 1, "{:?}", sealed.warnings);
        assert!(
            sealed.warnings[0].starts_with("the seal _chatvault/seals/a/000000000001.json cannot"),
            "{:?}",
            sealed.warnings
        );
        let stored = read_chain(&store, "a").await.expect("the chain");
        let second = stored[1].seal.as_ref().expect("a seal");
        assert_eq!(second.previous.as_ref(), Some(&stored[0].sha256));
    }

    #[tokio::test]
    async fn a_seal_is_signed_with_the_key_given() {
        let store = Store::memory();
        let (key, _) = SigningKey::generate().expect("a key");
        let keyring = Keyring::default();
        let sealing = Sealing {
            signer: Some(&key),
            keyring: &keyring,
            recorded: None,
        };
        let sealed = seal(
            &store,
            "a",
            "_media",
            sealing,
            at(1),
            &SealMemory::default(),
        )
        .await
        .expect("sealed");
        let bytes = json::read_bytes(&store, &ObjectPath::from(sealed.head.key.as_str()))
            .await
            .expect("a read")
            .expect("there");
        let mut keyring = Keyring::default();
        keyring.add(key.public().clone());
        assert!(
            matches!(check(&bytes, &keyring), Check::Valid { .. }),
            "{:?}",
            check(&bytes, &keyring)
        );
    }

    #[tokio::test]
    async fn a_chain_cut_at_the_seal_the_ledger_records_is_not_sealed_over() {
        let store = Store::memory();
        let recorded = five_seals(&store, &SealMemory::default()).await;
        cut_seal_five(&store).await;
        // A fresh process: the chain it reads ends at seal 4.
        let keyring = Keyring::default();
        let got = seal(
            &store,
            "a",
            "_media",
            unsigned(&keyring, Some(&recorded)),
            at(6),
            &SealMemory::default(),
        )
        .await;
        assert_cut(got, "the ledger records", "is gone");
        assert_eq!(chain(&store, "a").await.len(), 4, "no new seal 5");
    }

    #[tokio::test]
    async fn a_daemon_that_remembers_a_seal_now_gone_refuses_to_seal_every_tick() {
        let store = Store::memory();
        let daemon = SealMemory::default();
        five_seals(&store, &daemon).await;
        cut_seal_five(&store).await;
        let keyring = Keyring::default();
        for hour in [6, 7] {
            // No ledger head: the process's own memory is the witness.
            let got = seal(
                &store,
                "a",
                "_media",
                unsigned(&keyring, None),
                at(hour),
                &daemon,
            )
            .await;
            assert_cut(got, "this process sealed or read before", "is gone");
        }
        assert_eq!(chain(&store, "a").await.len(), 4);
    }

    #[tokio::test]
    async fn a_seal_the_ledger_records_that_was_replaced_stops_sealing() {
        let store = Store::memory();
        let recorded = five_seals(&store, &SealMemory::default()).await;
        put(&store, &seal_key("a", 5), b"{}").await;
        let keyring = Keyring::default();
        let got = seal(
            &store,
            "a",
            "_media",
            unsigned(&keyring, Some(&recorded)),
            at(6),
            &SealMemory::default(),
        )
        .await;
        assert_cut(
            got,
            "the ledger records",
            "is not the seal stored there (its SHA-256 differs)",
        );
    }

    #[tokio::test]
    async fn a_ledger_one_seal_behind_the_chain_is_no_cut() {
        let store = Store::memory();
        let memory = SealMemory::default();
        five_seals(&store, &memory).await;
        let fourth = read_chain(&store, "a").await.expect("the chain")[3].clone();
        let recorded = SealHead {
            sequence: 4,
            sha256: fourth.sha256,
            key: fourth.key,
        };
        archive(&store, "a", "a/6.jsonl").await;
        let keyring = Keyring::default();
        for memory in [&memory, &SealMemory::default()] {
            let sealed = seal(
                &store,
                "a",
                "_media",
                unsigned(&keyring, Some(&recorded)),
                at(6),
                memory,
            )
            .await
            .expect("sealed");
            assert!(sealed.head.sequence > 5, "{sealed:?}");
        }
        assert_eq!(chain(&store, "a").await.len(), 7);
    }

    /// A manifest of job `a` for `key`, signed by `by` when there is one.
    async fn signed_archive(store: &Store, key: &str, by: Option<&SigningKey>) {
        put(store, key, b"x").await;
        let manifest = serde_json::json!({"job": "a", "key": key});
        let bytes = signed_json(&manifest, by).expect("json");
        put(store, &manifest_key(key), &bytes).await;
    }

    #[tokio::test]
    async fn a_deployment_that_signs_seals_only_documents_its_keys_signed() {
        let store = Store::memory();
        let memory = SealMemory::default();
        let (own, _) = SigningKey::generate().expect("a key");
        let (rotated, _) = SigningKey::generate().expect("a key");
        let (stranger, _) = SigningKey::generate().expect("a key");
        let mut keyring = Keyring::default();
        keyring.add(own.public().clone());
        keyring.add(rotated.public().clone());
        let sealing = Sealing {
            signer: Some(&own),
            keyring: &keyring,
            recorded: None,
        };
        // Before signing began: the first seal names it all the same.
        archive(&store, "a", "a/0.jsonl").await;
        let first = seal(&store, "a", "_media", sealing, at(1), &memory)
            .await
            .expect("sealed");
        assert_eq!((first.covered, first.warnings.len()), (1, 0), "{first:?}");

        signed_archive(&store, "a/1.jsonl", Some(&own)).await;
        signed_archive(&store, "a/2.jsonl", Some(&rotated)).await;
        signed_archive(&store, "a/3.jsonl", None).await;
        signed_archive(&store, "a/4.jsonl", Some(&stranger)).await;
        put(&store, "a/1.jsonl.media.1.json", b"{}").await;
        for hour in [2, 3] {
            let sealed = seal(&store, "a", "_media", sealing, at(hour), &memory)
                .await
                .expect("sealed");
            assert_eq!(
                sealed.warnings,
                [
                    "not sealed: a/3.jsonl.manifest.json is unsigned, though this deployment \
                     signs: was it planted? `chatvault verify` reports it",
                    "not sealed: a/4.jsonl.manifest.json is signed by an unknown key, though \
                     this deployment signs: was it planted? `chatvault verify` reports it",
                    "not sealed: a/1.jsonl.media.1.json is unsigned, though this deployment \
                     signs: was it planted? `chatvault verify` reports it",
                ],
                "looked at again each run"
            );
        }
        let seals = chain(&store, "a").await;
        assert_eq!(
            keys(&seals[1]),
            ["a/1.jsonl.manifest.json", "a/2.jsonl.manifest.json"],
            "its own key's and a listed key's"
        );
        assert!(seals[2].covers.is_empty());
    }

    #[tokio::test]
    async fn without_a_signing_key_unsigned_documents_are_sealed() {
        let store = Store::memory();
        let memory = SealMemory::default();
        seal_now(&store, "a", 1, &memory).await;
        signed_archive(&store, "a/1.jsonl", None).await;
        let sealed = seal_now(&store, "a", 2, &memory).await;
        assert_eq!((sealed.covered, sealed.warnings.len()), (1, 0));
    }
}
