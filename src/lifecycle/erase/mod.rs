//! Erasing one person from the archive (`chatvault erase`), in an order a crash cannot spoil:
//!
//! 1. the request, in the state store (from then on runs leave the user out of new exports);
//!    a rerun for a user whose request is unfinished takes that request up again;
//! 2. per archive holding anything of the user and under no hold: a replacement written
//!    without them (`rewrite`), its manifest naming what it supersedes, its media record
//!    (`commit`);
//! 3. per job, an erasure record in the chain naming the replaced archives, their documents
//!    and the captured files only they referred to;
//! 4. the replaced archives deleted, then those files (`remove`);
//! 5. the request's completion, with what was removed.
//!
//! Before all that, originals earlier erasures deleted that are back are deleted again
//! (`reappeared`).
//!
//! Each step finds what the one before left: an archive already replaced for this request is
//! not replaced again, a job whose chain holds this request's record goes straight to the
//! deletions it names, and what is gone already is no error.

mod commit;
mod find;
mod reappeared;
mod remove;
mod rewrite;

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use thiserror::Error;

use super::head::record_head;
use super::holds::covering;
use super::pause::PauseAt;
use super::vouch::{NOT_VOUCHED, Vouching};
use crate::archive::manifest::ManifestError;
use crate::archive::media::record::{self, MediaRecord, RecordError};
use crate::archive::media::refs::refs_in_archive;
use crate::archive::people;
use crate::archive::read::ReadError;
use crate::archive::reading::{Listed, Listing, Source};
use crate::archive::replacement::{Removed, replacement_key};
use crate::archive::seal::{
    ChainError, Removal, RemovalKind, Replacement, SealError, SealMemory, Sealing, StoredSeal,
    read_chain, record_removal,
};
use crate::archive::tally::UserCount;
use crate::archive::transfer::TransferError;
use crate::config::hold::Hold;
use crate::signing::{Keyring, SigningKey};
use crate::state::erasures::{self, ErasedArchive, ErasureDone, ErasureRequest, HeldArchive};
use crate::state::{StateError, seal_head};
use crate::store::Store;

/// The steps a crash test can stop at (`CHATVAULT_PAUSE_AT`), in order.
pub const PAUSE_POINTS: [&str; 7] = [
    "erase-requested",
    "erase-rewritten",
    "erase-committed",
    "erase-replaced",
    "erase-recorded",
    "erase-deleted",
    "erase-finishing",
];

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EraseError {
    #[error("cannot list {0}")]
    List(String),
    #[error("cannot read {key}: {source}")]
    Store {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot read the archive {key}: {source}")]
    Read {
        key: String,
        #[source]
        source: ReadError,
    },
    #[error("the archive {key} is corrupt: {problem}; it was not replaced")]
    Corrupt { key: String, problem: String },
    #[error("cannot write the replacement {key}: {source}")]
    Write {
        key: String,
        #[source]
        source: TransferError,
    },
    #[error(transparent)]
    Manifest(ManifestError),
    #[error("another manifest is at {key} already: an erasure running at the same time?")]
    Taken { key: String },
    #[error(transparent)]
    Record(RecordError),
    #[error("job {job}: cannot write the erasure record: {source}")]
    Seal {
        job: String,
        #[source]
        source: SealError,
    },
    #[error("job {job}: cannot read the chain of seals: {source}")]
    Chain {
        job: String,
        #[source]
        source: ChainError,
    },
    #[error("cannot set up an HTTP client: {0}")]
    Http(#[source] reqwest::Error),
    #[error("the state store: {0}")]
    State(#[from] StateError),
    #[error("cannot delete {key}: {source}")]
    Delete {
        key: String,
        #[source]
        source: object_store::Error,
    },
}

/// A job's archives: where they are and where its captured files live.
#[derive(Debug, Clone)]
pub struct JobAt {
    pub name: String,
    pub store: Store,
    pub media_prefix: String,
}

/// What an erasure is asked to do, and with what.
pub struct Erase<'a> {
    pub user: &'a str,
    pub reason: &'a str,
    /// The jobs named with `--job` (empty: every job), for the request.
    pub named_jobs: Vec<String>,
    pub jobs: &'a [JobAt],
    pub holds: &'a [Hold],
    pub state: &'a Store,
    pub signer: Option<&'a SigningKey>,
    pub keyring: &'a Keyring,
    pub now: DateTime<Utc>,
    pub pause: &'a PauseAt,
    /// List what would be removed and write nothing.
    pub dry_run: bool,
}

/// An archive holding the user that the erasure did not replace (yet): with `--dry-run`, what
/// it would replace, and the archives a hold keeps.
#[derive(Debug, Clone)]
pub struct Holding {
    pub job: String,
    pub key: String,
    /// What the archive holds of the user.
    pub of_user: UserCount,
    /// The holds that keep it (none: it would be replaced).
    pub holds: Vec<String>,
}

/// What an erasure did.
#[derive(Debug, Default)]
pub struct Outcome {
    /// The request's id (none on a dry run).
    pub id: Option<String>,
    /// An unfinished request for the user was taken up again.
    pub resumed: bool,
    pub erased: Vec<ErasedArchive>,
    /// With `--dry-run`, what would be replaced; else nothing.
    pub would: Vec<Holding>,
    pub held: Vec<Holding>,
    /// Captured files deleted.
    pub media_deleted: usize,
    /// Archives that could not be read: the request stays unfinished.
    pub problems: Vec<String>,
    /// No archive of the jobs holds anything of the user (and none could not be read), and
    /// no request of theirs is unfinished: nothing was written.
    pub nothing: bool,
    /// `job: key` of each original an earlier erasure deleted that was back and is deleted
    /// again (with `--dry-run`: would be).
    pub cleared: Vec<String>,
    /// Such originals' documents present with other bytes than recorded: left.
    pub left: Vec<String>,
}

impl Outcome {
    fn found_nothing(&self) -> bool {
        self.would.is_empty() && self.held.is_empty() && self.problems.is_empty()
    }
}

/// Runs an erasure, or takes up the unfinished one for the same user.
pub async fn erase(asked: &Erase<'_>) -> Result<Outcome, EraseError> {
    let mut outcome = Outcome::default();
    let mut erased = BTreeSet::new();
    erased.insert(asked.user.to_owned());
    let http = reqwest::Client::builder()
        .build()
        .map_err(EraseError::Http)?;
    let (cleared, left) = clear_reappeared(asked).await?;
    outcome.cleared.clone_from(&cleared);
    outcome.left.clone_from(&left);
    let unfinished = if asked.dry_run {
        None
    } else {
        erasures::list(asked.state)
            .await?
            .into_iter()
            .find(|e| e.done.is_none() && e.request.user == asked.user)
    };
    if unfinished.is_none() {
        // A request is permanent: none is written for a user no archive holds (a mistyped
        // or padded id would otherwise be "erased" without a trace of it being wrong).
        let mut found = Outcome::default();
        for job in asked.jobs {
            one_job(asked, job, None, &erased, &http, &mut found).await?;
        }
        found.cleared = cleared;
        found.left = left;
        if found.found_nothing() {
            // Deleting what an earlier request named again needs no new request.
            found.nothing = found.cleared.is_empty() && found.left.is_empty();
            return Ok(found);
        }
        if asked.dry_run {
            return Ok(found);
        }
    }
    // A dry run returned above: from here on there is a request.
    let id = match unfinished {
        Some(earlier) => {
            outcome.resumed = true;
            earlier.request.id
        }
        None => {
            let request = ErasureRequest::new(
                asked.user.to_owned(),
                asked.reason.to_owned(),
                asked.named_jobs.clone(),
                asked.now,
            );
            erasures::request(asked.state, &request).await?;
            request.id
        }
    };
    outcome.id = Some(id.clone());
    asked.pause.point(PAUSE_POINTS[0]).await;
    for job in asked.jobs {
        one_job(asked, job, Some(&id), &erased, &http, &mut outcome).await?;
    }
    if outcome.problems.is_empty() {
        asked.pause.point(PAUSE_POINTS[6]).await;
        let held = outcome
            .held
            .iter()
            .map(|h| HeldArchive {
                job: h.job.clone(),
                key: h.key.clone(),
                holds: h.holds.clone(),
            })
            .collect();
        let done = ErasureDone::new(id, asked.now, outcome.erased.clone(), held);
        erasures::finish(asked.state, &done).await?;
    }
    Ok(outcome)
}

/// Deletes, in every job, the originals earlier erasure records name that are back.
async fn clear_reappeared(asked: &Erase<'_>) -> Result<(Vec<String>, Vec<String>), EraseError> {
    let mut deleted = Vec::new();
    let mut left = Vec::new();
    for job in asked.jobs {
        let chain =
            read_chain(&job.store, &job.name)
                .await
                .map_err(|source| EraseError::Chain {
                    job: job.name.clone(),
                    source,
                })?;
        let head = seal_head(asked.state, &job.name).await?;
        let cleared =
            reappeared::clear(job, &chain, asked.keyring, head.as_ref(), asked.dry_run).await?;
        deleted.extend(cleared.deleted);
        left.extend(cleared.problems);
    }
    Ok((deleted, left))
}

fn listing_source(job: &JobAt) -> Source {
    Source {
        job: Some(job.name.clone()),
        store: job.store.clone(),
        media_prefix: job.media_prefix.clone(),
    }
}

async fn list(job: &JobAt) -> Result<Listing, EraseError> {
    let listing = Listing::list(&[listing_source(job)]).await;
    match listing.problems.iter().find(|p| p.key == job.store.url()) {
        Some(failed) => Err(EraseError::List(failed.problem.clone())),
        None => Ok(listing),
    }
}

/// The erasure record of request `id` among a job's seals, if written.
/// The erasure record of request `id` in `chain`, if the deployment wrote it: in a signed
/// chain only a record whose signature holds counts (a planted one would name what its
/// planter wants deleted). An unsigned chain is not checked against the ledger's head here,
/// since a run of erase killed between its record and the ledger's move must find its own.
fn recorded(chain: &[StoredSeal], keyring: &Keyring, id: &str) -> Option<Removal> {
    super::vouch::trusted(chain, keyring, None)
        .filter_map(|seal| seal.removal.clone())
        .find(|removal| removal.erasure.as_deref() == Some(id))
}

/// Whether erasure `id` may act on the archive of `listed`: its manifest is vouched for, or
/// it is a replacement this same request wrote that no seal names yet (an attempt killed
/// before its erasure record, in a deployment that does not sign).
fn trusted(vouching: &Vouching<'_>, listed: &Listed, id: Option<&str>) -> bool {
    vouching.vouches(listed)
        || (id.is_some_and(|id| {
            listed
                .manifest
                .supersedes
                .as_ref()
                .is_some_and(|s| s.erasure == id)
        }) && vouching.unsealed(listed))
}

async fn one_job(
    asked: &Erase<'_>,
    job: &JobAt,
    id: Option<&str>,
    erased: &BTreeSet<String>,
    http: &reqwest::Client,
    outcome: &mut Outcome,
) -> Result<(), EraseError> {
    let store = &job.store;
    let chain = read_chain(&job.store, &job.name)
        .await
        .map_err(|source| EraseError::Chain {
            job: job.name.clone(),
            source,
        })?;
    let head = seal_head(asked.state, &job.name).await?.map(|h| h.sequence);
    let vouching = Vouching::new(&chain, asked.keyring, head);
    let removal = id.and_then(|id| recorded(&chain, asked.keyring, id));
    if removal.is_none() {
        let listing = list(job).await?;
        let (groups, untrusted) = find::groups(&listing, |l| trusted(&vouching, l, id));
        for listed in untrusted {
            outcome
                .problems
                .push(format!("{}: {NOT_VOUCHED}", listed.manifest.key));
        }
        for group in groups {
            if id.is_some_and(|id| group.replaced_by(id)) {
                complete_media_record(asked, &listing, &group).await?;
                continue;
            }
            let manifest = &group.current.manifest;
            let tally = match people::everyone(store, manifest).await {
                Ok(tally) => tally,
                Err(e) => {
                    outcome
                        .problems
                        .push(format!("{}: cannot be read: {e}", manifest.key));
                    continue;
                }
            };
            let Some(of_user) = tally.users.get(asked.user) else {
                continue;
            };
            let holding = Holding {
                job: job.name.clone(),
                key: manifest.key.clone(),
                of_user: of_user.clone(),
                holds: covering(asked.holds, manifest, Some(&tally))
                    .iter()
                    .map(|h| h.name.clone())
                    .collect(),
            };
            if !holding.holds.is_empty() {
                outcome.held.push(holding);
                continue;
            }
            let Some(id) = id else {
                outcome.would.push(holding);
                continue;
            };
            let key = replacement_key(&manifest.key, group.highest + 1);
            match replace(asked, &listing, &group, &key, id, erased, http).await {
                Ok(()) => {}
                // The others are still replaced; this one stays, and the request unfinished.
                Err(e @ EraseError::Corrupt { .. }) => outcome.problems.push(e.to_string()),
                Err(e) => return Err(e),
            }
        }
    }
    let Some(id) = id else {
        return Ok(());
    };
    asked.pause.point(PAUSE_POINTS[3]).await;
    let listing = list(job).await?;
    let replaced: Vec<find::Group<'_>> =
        find::groups(&listing, |l| trusted(&vouching, l, Some(id)))
            .0
            .into_iter()
            .filter(|g| g.replaced_by(id))
            .collect();
    for group in &replaced {
        if let Some(supersedes) = &group.current.manifest.supersedes {
            outcome.erased.push(ErasedArchive {
                job: job.name.clone(),
                original: supersedes.key.clone(),
                replacement: group.current.manifest.key.clone(),
                removed: supersedes.removed,
            });
        }
    }
    let removal = match removal {
        Some(removal) => removal,
        None => {
            let named_before = named_before(&chain);
            let Some(removal) = removal_of(job, &listing, &replaced, &named_before, id).await?
            else {
                return Ok(());
            };
            let head = seal_head(asked.state, &job.name).await?;
            let sealing = Sealing {
                signer: asked.signer,
                keyring: asked.keyring,
                recorded: head.as_ref(),
            };
            let sealed = record_removal(
                store,
                &job.name,
                &job.media_prefix,
                sealing,
                asked.now,
                &SealMemory::default(),
                removal.clone(),
            )
            .await
            .map_err(|source| EraseError::Seal {
                job: job.name.clone(),
                source,
            })?;
            record_head(asked.state, &job.name, &sealed.head).await?;
            removal
        }
    };
    asked.pause.point(PAUSE_POINTS[4]).await;
    remove::delete_archives(store, &removal.archives, &removal.documents).await?;
    asked.pause.point(PAUSE_POINTS[5]).await;
    outcome.media_deleted += remove::delete_media(store, &job.media_prefix, &removal.media).await?;
    Ok(())
}

/// Writes and commits the replacement of the group's current archive at `key`.
async fn replace(
    asked: &Erase<'_>,
    listing: &Listing,
    group: &find::Group<'_>,
    key: &str,
    id: &str,
    erased: &BTreeSet<String>,
    http: &reqwest::Client,
) -> Result<(), EraseError> {
    let store = listing.store(group.current);
    let original = &group.current.manifest;
    let mut written = rewrite::rewrite(http, store, original, key, erased).await?;
    let newest = match listing.media_record(group.current) {
        Some(at) => Some(
            record::read_at(store, at)
                .await
                .map_err(EraseError::Record)?,
        ),
        None => None,
    };
    let references = newest
        .as_ref()
        .map(|n| commit::kept_references(n, &written.kept))
        .unwrap_or_default();
    if let Some(newest) = &newest {
        let kept: BTreeSet<String> = references
            .iter()
            .filter_map(|r| r.outcome.stored())
            .map(|s| s.sha256.clone())
            .collect();
        let only_theirs: BTreeSet<String> = remove::stored(newest)
            .filter(|s| !kept.contains(s))
            .collect();
        written.removed.media = only_theirs.len() as u64;
    }
    asked.pause.point(PAUSE_POINTS[1]).await;
    let manifest = commit::replacement_manifest(original, key, &written, erased, id, asked.now);
    commit::write_manifest(store, &manifest, asked.signer).await?;
    asked.pause.point(PAUSE_POINTS[2]).await;
    if let Some(newest) = &newest {
        commit::write_media_record(
            store,
            &manifest,
            newest,
            references,
            asked.signer,
            asked.now,
        )
        .await?;
    }
    tracing::info!(original = %original.key, replacement = key, "archive replaced");
    Ok(())
}

/// A replacement committed by an earlier, interrupted attempt without its media record gets
/// it now, from the newest record of the archive it replaced.
async fn complete_media_record(
    asked: &Erase<'_>,
    listing: &Listing,
    group: &find::Group<'_>,
) -> Result<(), EraseError> {
    let current = group.current;
    let Some(supersedes) = &current.manifest.supersedes else {
        return Ok(());
    };
    if listing.media_record(current).is_some() {
        return Ok(());
    }
    let Some(replaced) = group
        .older
        .iter()
        .find(|l| l.manifest.key == supersedes.key)
    else {
        return Ok(());
    };
    let Some(at) = listing.media_record(replaced) else {
        return Ok(());
    };
    let store = listing.store(current);
    let newest = record::read_at(store, at)
        .await
        .map_err(EraseError::Record)?;
    let kept = refs_in_archive(store, &current.manifest)
        .await
        .map_err(|source| EraseError::Read {
            key: current.manifest.key.clone(),
            source,
        })?;
    let references = commit::kept_references(&newest, &kept);
    commit::write_media_record(
        store,
        &current.manifest,
        &newest,
        references,
        asked.signer,
        asked.now,
    )
    .await?;
    Ok(())
}

/// The archives earlier erasure records of a job's chain name: one still listed is back
/// after its deletion, and `reappeared` deletes it only with the bytes recorded.
fn named_before(chain: &[StoredSeal]) -> BTreeSet<String> {
    chain
        .iter()
        .filter_map(|stored| stored.seal.as_ref().ok())
        .filter_map(|seal| seal.removal.as_ref())
        .filter(|removal| removal.kind == RemovalKind::Erasure)
        .flat_map(|removal| removal.archives.iter().cloned())
        .collect()
}

/// The erasure record of the job's replaced archives: `None` when nothing is left to remove.
async fn removal_of(
    job: &JobAt,
    listing: &Listing,
    replaced: &[find::Group<'_>],
    named_before: &BTreeSet<String>,
    id: &str,
) -> Result<Option<Removal>, EraseError> {
    let mut archives = Vec::new();
    let mut replacements = Vec::new();
    let mut theirs: BTreeSet<String> = BTreeSet::new();
    for group in replaced {
        let older = group
            .older
            .iter()
            .filter(|l| !named_before.contains(&l.manifest.key));
        for older in older {
            archives.push(older.manifest.key.clone());
            replacements.push(Replacement {
                original: older.manifest.key.clone(),
                replacement: group.current.manifest.key.clone(),
            });
            if let Some(at) = listing.media_record(older) {
                let newest: MediaRecord = record::read_at(&job.store, at)
                    .await
                    .map_err(EraseError::Record)?;
                theirs.extend(remove::stored(&newest));
            }
        }
    }
    if archives.is_empty() {
        return Ok(None);
    }
    let documents = remove::documents(&job.store, listing, &archives).await?;
    let except: BTreeSet<String> = archives.iter().cloned().collect();
    let still = remove::referenced(&job.store, &except).await?;
    let media = theirs.into_iter().filter(|f| !still.contains(f)).collect();
    Ok(Some(Removal {
        kind: RemovalKind::Erasure,
        reason: format!("erasure {id}"),
        erasure: Some(id.to_owned()),
        ended_before: None,
        archives,
        documents,
        media,
        replacements,
    }))
}

/// What `removed` adds up to, per kind, over every archive.
pub fn total(erased: &[ErasedArchive]) -> Removed {
    erased.iter().fold(Removed::default(), |mut sum, a| {
        let r = &a.removed;
        sum.messages += r.messages;
        sum.reactions += r.reactions;
        sum.memberships += r.memberships;
        sum.reads += r.reads;
        sum.users += r.users;
        sum.rewritten += r.rewritten;
        sum.media += r.media;
        sum
    })
}

#[cfg(test)]
mod tests {
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStoreExt as _, PutPayload};
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::archive::manifest::{self, Manifest};
    use crate::archive::transfer::hex;
    use crate::config::hold::HoldCovers;

    const KEY: &str = "support/2026/01/01/channels-1.jsonl";

    async fn archive(store: &Store) -> Vec<u8> {
        let body = concat!(
            r#"{"type":"message","item":{"id":"a1","cid":"messaging:x","user":{"id":"alice"}}}"#,
            "\n",
            r#"{"type":"message","item":{"id":"b1","cid":"messaging:x","user":{"id":"bob"}}}"#,
            "\n",
        )
        .as_bytes()
        .to_vec();
        store
            .object_store()
            .put(&ObjectPath::from(KEY), PutPayload::from(body.clone()))
            .await
            .expect("archive written");
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "format": 1, "job": "support", "tick": at, "kind": "channels", "batch": 1,
            "window_since": at, "window_until": at + chrono::TimeDelta::days(1),
            "task_id": "t", "export_version": "v2", "key": KEY,
            "bytes_source": body.len(), "bytes_stored": body.len(),
            "sha256": hex(&Sha256::digest(&body)), "content_encoding": "none",
            "exported_at": null, "archived_at": at, "chatvault_version": "0"
        }))
        .expect("a manifest");
        manifest::write(store, &manifest, None)
            .await
            .expect("manifest written");
        body
    }

    #[tokio::test]
    async fn an_archive_under_a_hold_is_left_as_it_is_and_reported() {
        let store = Store::memory();
        let state = Store::memory();
        let body = archive(&store).await;
        let holds = [Hold {
            name: "matter-7".into(),
            reason: "litigation".into(),
            set_by: "legal".into(),
            set_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            covers: HoldCovers {
                users: vec!["bob".into()],
                ..HoldCovers::default()
            },
            file: "holds/matter-7.yaml".into(),
        }];
        let jobs = [JobAt {
            name: "support".into(),
            store: store.clone(),
            media_prefix: "_media".into(),
        }];
        let keyring = Keyring::default();
        let pause = PauseAt::default();
        let asked = Erase {
            user: "alice",
            reason: "r",
            named_jobs: Vec::new(),
            jobs: &jobs,
            holds: &holds,
            state: &state,
            signer: None,
            keyring: &keyring,
            now: Utc::now(),
            pause: &pause,
            dry_run: false,
        };
        let outcome = erase(&asked).await.expect("an erasure");
        assert!(outcome.erased.is_empty());
        assert_eq!(outcome.held.len(), 1);
        assert_eq!(outcome.held[0].key, KEY);
        assert_eq!(outcome.held[0].holds, ["matter-7"]);
        let there = store
            .object_store()
            .get(&ObjectPath::from(KEY))
            .await
            .expect("still there")
            .bytes()
            .await
            .expect("bytes");
        assert_eq!(there.to_vec(), body, "untouched");
        let listed = erasures::list(&state).await.expect("erasures");
        let done = listed[0].done.as_ref().expect("finished");
        assert_eq!(done.held.len(), 1, "the completion names the held archive");
    }
}
