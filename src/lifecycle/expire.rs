//! Retention: the archives of a job whose window ended (a users snapshot: was taken) longer
//! ago than its `keep_for`, and that no legal hold covers, are deleted with their manifests,
//! sidecars (catalog record, media records) and the captured files only they referred to.
//!
//! The order is what makes it safe to kill at any point. First one expiry record goes into
//! the job's chain of seals, naming every archive, document and captured file about to go and
//! the SHA-256 each document has; then the archives, then the sidecars, then the manifests,
//! then the captured files, each only while no remaining media record refers to it. A rerun
//! reads the chain: an archive an expiry record names is finished (never named twice), and
//! captured files such a record names are deleted once nothing refers to them.
//!
//! An archive and its erasure replacements are one: they end together and go together, so a
//! replacement never outlives what it replaces nor the other way round.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, SecondsFormat, Utc};
use futures::StreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::head::record_head;
use super::holds::{covering, need_everyone};
use super::pause::PauseAt;
use super::vouch::{Vouching, same, trusted};
use crate::archive::manifest::{Manifest, manifest_key};
use crate::archive::media::layout;
use crate::archive::media::record;
use crate::archive::people;
use crate::archive::reading::listing::{Listed, Listing, Source};
use crate::archive::replacement::parse_replacement_key;
use crate::archive::seal::{
    ChainError, Covered, Removal, RemovalKind, SealError, SealMemory, Sealing, StoredSeal,
    read_chain, record_removal,
};
use crate::archive::transfer::hex;
use crate::config::hold::Hold;
use crate::config::job::{Job, KeepFor};
use crate::signing::Keyring;
use crate::state::StateError;
use crate::store::Store;
use crate::store::json;

/// The latest cutoff among the expiry records of a chain: the days before it that no archive
/// covers went by `keep_for`. With public `keys`, only records whose signature is valid with
/// them count: anyone who can write to the bucket can plant a record to pass a deletion off
/// as retention, only the key holder can sign one.
pub fn expired_before(
    seals: &[StoredSeal],
    keys: &crate::signing::Keyring,
) -> Option<DateTime<Utc>> {
    use crate::signing::{Check, check};
    seals
        .iter()
        .filter(|s| keys.is_empty() || matches!(check(&s.bytes, keys), Check::Valid { .. }))
        .filter_map(|s| s.seal.as_ref().ok()?.removal.as_ref())
        .filter(|r| r.kind == RemovalKind::Expiry)
        .filter_map(|r| r.ended_before)
        .max()
}

/// Documents and captured files read or checked at once.
const AT_ONCE: usize = 16;

/// The steps a crash test can freeze at (`CHATVAULT_PAUSE_AT`).
pub const PAUSE_RECORD: &str = "expire-record";
pub const PAUSE_ARCHIVES: &str = "expire-archives";
pub const PAUSE_SIDECARS: &str = "expire-sidecars";
pub const PAUSE_MANIFESTS: &str = "expire-manifests";
/// After the first captured file is deleted, before the others.
pub const PAUSE_MEDIA: &str = "expire-media";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExpireError {
    #[error("cannot list {url}: {reason}")]
    List { url: String, reason: String },
    #[error("cannot read the seals of job {job}: {source}")]
    Chain {
        job: String,
        #[source]
        source: ChainError,
    },
    #[error("cannot read {key}: {reason}")]
    Read { key: String, reason: String },
    #[error(
        "job {job}: its destination is marked `immutable: true`, so nothing is deleted there (a \
         versioned, locked bucket would keep every object under a delete marker)"
    )]
    Immutable { job: String },
    #[error("cannot write the expiry record of job {job}: {source}")]
    Record {
        job: String,
        #[source]
        source: SealError,
    },
    #[error("job {job}: cannot move the ledger to the expiry record: {source}")]
    Head {
        job: String,
        #[source]
        source: StateError,
    },
}

impl ExpireError {
    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ExpireError::Immutable { .. } => Some(
                "remove keep_for from the job, or let the bucket's own lifecycle rules expire \
                 objects",
            ),
            ExpireError::Read { .. } => Some("run expire again once the object can be read"),
            _ => None,
        }
    }
}

/// An archive past retention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Expiring {
    pub key: String,
    pub job: String,
    /// When its window ended, or its users snapshot was taken.
    pub ended: DateTime<Utc>,
    pub bytes: u64,
}

/// An archive past retention that stays.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Held {
    pub key: String,
    pub ended: DateTime<Utc>,
    /// The holds that cover it, by name.
    pub holds: Vec<String>,
    /// Why whether a hold covers it could not be decided (it stays: the hold wins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<String>,
}

/// What an earlier expiry record named that is still there: a run killed half-way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unfinished {
    /// The record's sequence in the job's chain.
    pub record: u64,
    /// Archives (with any of their documents) still present, whose manifest, if still
    /// there, has the bytes the record names.
    pub archives: Vec<String>,
    /// Captured files still present.
    pub media: Vec<String>,
}

/// What `expire` does for one job, decided before anything is deleted.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub job: String,
    pub keep_for: String,
    /// Archives that ended before this are past retention.
    pub cutoff: DateTime<Utc>,
    pub expiring: Vec<Expiring>,
    pub held: Vec<Held>,
    pub unfinished: Vec<Unfinished>,
    /// Captured files only the expiring archives refer to (SHA-256 hex).
    pub media: Vec<String>,
    /// Manifests that could not be read: their archives are kept, whatever their age.
    pub unreadable: Vec<String>,
    /// Archives past retention (or named by an unfinished expiry) whose manifest neither a
    /// seal nor a signature vouches for: kept with their group, whatever they say.
    pub unvouched: Vec<String>,
    #[serde(skip)]
    documents: Vec<Covered>,
    /// Per archive to delete (expiring or unfinished): its key, sidecars and manifest.
    #[serde(skip)]
    objects: Vec<Objects>,
    #[serde(skip)]
    media_prefix: String,
}

impl Plan {
    /// Whether there is anything to delete.
    pub fn is_empty(&self) -> bool {
        self.expiring.is_empty() && self.unfinished.is_empty()
    }
}

#[derive(Debug, Clone)]
struct Objects {
    archive: String,
    sidecars: Vec<String>,
    manifest: String,
}

/// A delete the store refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refused {
    pub key: String,
    pub reason: String,
}

/// What carrying out a plan did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Done {
    /// The sequence of the expiry record written, if one was.
    pub record: Option<u64>,
    /// Archives whose archive object was deleted.
    pub archives: usize,
    /// Archives the plan deletes whose archive object is still there (a refused delete
    /// stopped the job): a rerun deletes them.
    pub archives_left: usize,
    /// Objects deleted, captured files among them.
    pub objects: usize,
    pub media: usize,
    /// Captured files an expiry record names that an archive still refers to: kept.
    pub media_kept: usize,
    /// The delete that stopped the job, if one did.
    pub refused: Option<Refused>,
    /// Things skipped but worth saying (a media record that could not be read).
    pub warnings: Vec<String>,
}

/// What the expiry of one job is decided from.
pub struct Inputs<'a> {
    pub job: &'a Job,
    pub keep_for: KeepFor,
    pub store: &'a Store,
    pub holds: &'a [Hold],
    /// The deployment's keys: a manifest's signature holding with one of them vouches for it.
    pub keyring: &'a Keyring,
    /// The sequence of the newest seal the job's ledger records: unsigned seals past it are
    /// not the deployment's.
    pub head: Option<u64>,
    /// What the cutoff counts back from (`--now`).
    pub now: DateTime<Utc>,
}

/// Decides what expiring `inputs.job` at `inputs.now` deletes; reads only.
pub async fn plan(inputs: &Inputs<'_>) -> Result<Plan, ExpireError> {
    let Inputs {
        job,
        keep_for,
        store,
        holds,
        keyring,
        head,
        now,
    } = *inputs;
    // Nothing is older than what the calendar can count back to.
    let cutoff = keep_for.cutoff(now).unwrap_or(DateTime::<Utc>::MIN_UTC);
    let listing = Listing::list(&[Source::of_job(job, store.clone())]).await;
    if let Some(failed) = listing.problems.iter().find(|p| p.key == store.url()) {
        return Err(ExpireError::List {
            url: store.url().to_owned(),
            reason: failed.problem.clone(),
        });
    }
    let seals = read_chain(store, &job.name)
        .await
        .map_err(|source| ExpireError::Chain {
            job: job.name.clone(),
            source,
        })?;
    // Only the deployment's own records are finished: a record planted in the bucket names
    // what its planter wants gone.
    let recorded: Vec<(u64, Removal)> = trusted(&seals, keyring, head)
        .filter_map(|s| s.removal.clone().map(|r| (s.sequence, r)))
        .filter(|(_, r)| r.kind == RemovalKind::Expiry)
        .collect();
    let vouching = Vouching::new(&seals, keyring, head);
    let already: BTreeSet<&str> = recorded
        .iter()
        .flat_map(|(_, r)| r.archives.iter().map(String::as_str))
        .collect();

    let mut groups: BTreeMap<String, Vec<&Listed>> = BTreeMap::new();
    for listed in &listing.archives {
        if already.contains(listed.manifest.key.as_str()) {
            continue;
        }
        let key = &listed.manifest.key;
        let original = parse_replacement_key(key).map_or_else(|| key.clone(), |(o, _)| o);
        groups.entry(original).or_default().push(listed);
    }
    let mut expiring_listed = Vec::new();
    let mut held = Vec::new();
    let mut unvouched = Vec::new();
    for members in groups.values() {
        let Some(ended) = members.iter().filter_map(|l| ended(&l.manifest)).max() else {
            continue;
        };
        if ended >= cutoff {
            continue;
        }
        // What a manifest says decides nothing unless a seal or a signature vouches for it;
        // one that nothing does keeps its whole group.
        let doubted: Vec<&str> = members
            .iter()
            .filter(|l| !vouching.vouches(l))
            .map(|l| l.manifest.key.as_str())
            .collect();
        if !doubted.is_empty() {
            unvouched.extend(doubted.iter().map(|k| (*k).to_owned()));
            held.extend(
                members
                    .iter()
                    .filter(|l| !doubted.contains(&l.manifest.key.as_str()))
                    .map(|l| Held {
                        key: l.manifest.key.clone(),
                        ended,
                        holds: Vec::new(),
                        unreadable: Some(
                            "kept with the archive it replaces or is replaced by".to_owned(),
                        ),
                    }),
            );
            continue;
        }
        let mut covered = Vec::new();
        for listed in members {
            let found = holding(store, holds, &listed.manifest).await;
            match found {
                Ok(names) if names.is_empty() => {}
                Ok(names) => covered.push(Held {
                    key: listed.manifest.key.clone(),
                    ended,
                    holds: names,
                    unreadable: None,
                }),
                Err(reason) => covered.push(Held {
                    key: listed.manifest.key.clone(),
                    ended,
                    holds: Vec::new(),
                    unreadable: Some(reason),
                }),
            }
        }
        if covered.is_empty() {
            expiring_listed.extend(members.iter().map(|l| (*l, ended)));
        } else {
            // One member held keeps the whole group: an original and its replacements go
            // together or not at all.
            let kept: BTreeSet<String> = covered.iter().map(|h| h.key.clone()).collect();
            held.extend(covered);
            held.extend(
                members
                    .iter()
                    .filter(|l| !kept.contains(&l.manifest.key))
                    .map(|l| Held {
                        key: l.manifest.key.clone(),
                        ended,
                        holds: Vec::new(),
                        unreadable: Some(
                            "kept with the archive it replaces or is replaced by".to_owned(),
                        ),
                    }),
            );
        }
    }

    let location = match listing.locations.first() {
        Some(location) => location,
        None => {
            return Err(ExpireError::List {
                url: store.url().to_owned(),
                reason: "nothing was listed".to_owned(),
            });
        }
    };
    let objects_of = |key: &str, manifest: String| Objects {
        archive: key.to_owned(),
        sidecars: location.sidecars(key).map(str::to_owned).collect(),
        manifest,
    };
    let mut objects: Vec<Objects> = expiring_listed
        .iter()
        .map(|(l, _)| objects_of(&l.manifest.key, manifest_key(&l.manifest.key)))
        .collect();
    let mut documents = Vec::new();
    for (listed, _) in &expiring_listed {
        documents.push(Covered {
            key: manifest_key(&listed.manifest.key),
            sha256: hex(&Sha256::digest(&listed.stored)),
        });
    }
    let sidecars: Vec<String> = objects.iter().flat_map(|o| o.sidecars.clone()).collect();
    documents.extend(hash_all(store, sidecars).await?);
    documents.sort();

    // Captured files: those the newest media records of the expiring archives name, less
    // those any other archive's newest record names (whatever its job: a media prefix may be
    // shared). A record that cannot be read may name anything, so then nothing is taken.
    let removed: BTreeSet<&str> = expiring_listed
        .iter()
        .map(|(l, _)| l.manifest.key.as_str())
        .collect();
    let (named, unreadable) = media_named(store, location.newest_media_records()).await;
    let prefix = job.media.prefix.as_str();
    let mut media: BTreeSet<String> = BTreeSet::new();
    let mut staying: BTreeSet<String> = BTreeSet::new();
    for (archive, files) in &named {
        for (file_prefix, sha256) in files {
            if removed.contains(archive.as_str()) && file_prefix == prefix {
                media.insert(sha256.clone());
            } else if file_prefix == prefix && !already.contains(archive.as_str()) {
                staying.insert(sha256.clone());
            }
        }
    }
    if unreadable {
        media.clear();
    }
    let media: Vec<String> = media.difference(&staying).cloned().collect();

    let mut unfinished = Vec::new();
    for (sequence, removal) in &recorded {
        let mut archives = Vec::new();
        for key in &removal.archives {
            let listed = listing.archives.iter().find(|l| l.manifest.key == *key);
            if listed.is_none() && location.sidecars(key).next().is_none() {
                continue;
            }
            // A manifest still there must be the one the record names, bytes and all.
            if let Some(listed) = listed {
                let named = manifest_key(key);
                let vouched = removal
                    .documents
                    .iter()
                    .any(|d| d.key == named && same(&listed.stored, &d.sha256));
                if !vouched {
                    unvouched.push(key.clone());
                    continue;
                }
            }
            archives.push(key.clone());
        }
        for key in &archives {
            objects.push(objects_of(key, manifest_key(key)));
        }
        let mut media = present(store, prefix, &removal.media).await;
        media.retain(|sha256| !staying.contains(sha256));
        if !archives.is_empty() || !media.is_empty() {
            unfinished.push(Unfinished {
                record: *sequence,
                archives,
                media,
            });
        }
    }

    let mut expiring: Vec<Expiring> = expiring_listed
        .iter()
        .map(|(l, ended)| Expiring {
            key: l.manifest.key.clone(),
            job: l.manifest.job.clone(),
            ended: *ended,
            bytes: l.manifest.bytes_stored,
        })
        .collect();
    expiring.sort_by(|a, b| a.key.cmp(&b.key));
    held.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(Plan {
        job: job.name.clone(),
        keep_for: keep_for.to_string(),
        cutoff,
        expiring,
        held,
        unfinished,
        media,
        unreadable: listing
            .problems
            .iter()
            .map(|p| format!("{}: {}", p.key, p.problem))
            .collect(),
        unvouched,
        documents,
        objects,
        media_prefix: prefix.to_owned(),
    })
}

/// When an archive's retention starts: the end of its window, or when its users snapshot was
/// taken.
fn ended(manifest: &Manifest) -> Option<DateTime<Utc>> {
    manifest.snapshot_at.or(manifest.window_until)
}

/// The names of the holds covering the archive of `manifest`; `Err` when that needs the
/// archive read and it cannot be.
async fn holding(
    store: &Store,
    holds: &[Hold],
    manifest: &Manifest,
) -> Result<Vec<String>, String> {
    if holds.is_empty() {
        return Ok(Vec::new());
    }
    let contents = if need_everyone(holds) && !manifest.counts_everyone() {
        Some(
            people::everyone(store, manifest)
                .await
                .map_err(|e| format!("cannot tell whether a hold covers it: {e}"))?,
        )
    } else {
        manifest.contents.clone()
    };
    Ok(covering(holds, manifest, contents.as_ref())
        .into_iter()
        .map(|h| h.name.clone())
        .collect())
}

/// The SHA-256 of each document's stored bytes; one gone since the listing is left out.
async fn hash_all(store: &Store, keys: Vec<String>) -> Result<Vec<Covered>, ExpireError> {
    let read: Vec<(String, Result<Option<bytes::Bytes>, object_store::Error>)> =
        futures::stream::iter(keys)
            .map(|key| async move {
                let got = json::read_bytes(store, &ObjectPath::from(key.as_str())).await;
                (key, got)
            })
            .buffered(AT_ONCE)
            .collect()
            .await;
    let mut covered = Vec::new();
    for (key, got) in read {
        match got {
            Ok(Some(bytes)) => covered.push(Covered {
                key,
                sha256: hex(&Sha256::digest(&bytes)),
            }),
            Ok(None) => {}
            Err(e) => {
                return Err(ExpireError::Read {
                    key,
                    reason: e.to_string(),
                });
            }
        }
    }
    Ok(covered)
}

/// Per archive key, the captured files (prefix, SHA-256) its newest media record names as
/// stored; and whether any record could not be read.
async fn media_named<'a>(
    store: &Store,
    records: impl Iterator<Item = &'a str>,
) -> (BTreeMap<String, Vec<(String, String)>>, bool) {
    let keys: Vec<String> = records.map(str::to_owned).collect();
    let read: Vec<_> = futures::stream::iter(keys)
        .map(|key| async move { record::read_at(store, &key).await })
        .buffered(AT_ONCE)
        .collect()
        .await;
    let mut named = BTreeMap::new();
    let mut unreadable = false;
    for got in read {
        match got {
            Ok(record) => {
                let files = record
                    .references
                    .iter()
                    .filter_map(|r| r.outcome.stored())
                    .map(|s| (record.prefix.clone(), s.sha256.clone()))
                    .collect();
                named.insert(record.archive.clone(), files);
            }
            Err(_) => unreadable = true,
        }
    }
    (named, unreadable)
}

/// Of the captured files `sha256s` below `prefix`, those the store holds.
async fn present(store: &Store, prefix: &str, sha256s: &[String]) -> Vec<String> {
    let found: Vec<Option<String>> = futures::stream::iter(sha256s.to_vec())
        .map(|sha256| {
            let key = ObjectPath::from(layout::object_key(prefix, &sha256));
            let store = store.clone();
            async move {
                // A file that cannot be checked counts as there: deleting it is tried again.
                match store.object_store().head(&key).await {
                    Err(object_store::Error::NotFound { .. }) => None,
                    _ => Some(sha256),
                }
            }
        })
        .buffered(AT_ONCE)
        .collect()
        .await;
    found.into_iter().flatten().collect()
}

/// What [`carry_out`] signs and checks the record with.
pub struct Recording<'a> {
    pub sealing: Sealing<'a>,
    /// The state store, whose ledger of the job follows the chain's newest seal.
    pub state: &'a Store,
    pub memory: &'a SealMemory,
    pub pause: &'a PauseAt,
}

/// Carries out `plan` for `job`: the expiry record (sealed at `now`, the real time, whatever
/// the cutoff counted back from) and the ledger's seal head moved to it, then archives,
/// sidecars, manifests and captured files. Refuses an immutable destination before anything. A delete the store
/// refuses stops the job there (in `Done::refused`); the record already names the rest, so a
/// rerun finishes it.
pub async fn carry_out(
    job: &Job,
    store: &Store,
    plan: &Plan,
    recording: &Recording<'_>,
    now: DateTime<Utc>,
) -> Result<Done, ExpireError> {
    if job.destination.immutable {
        return Err(ExpireError::Immutable {
            job: job.name.clone(),
        });
    }
    let mut done = Done::default();
    if plan.is_empty() {
        return Ok(done);
    }
    let pause = recording.pause;
    if !plan.expiring.is_empty() {
        let removal = Removal {
            kind: RemovalKind::Expiry,
            reason: format!(
                "keep_for {}: windows that ended before {}",
                plan.keep_for,
                plan.cutoff.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            erasure: None,
            ended_before: Some(plan.cutoff),
            archives: plan.expiring.iter().map(|e| e.key.clone()).collect(),
            documents: plan.documents.clone(),
            media: plan.media.clone(),
            replacements: Vec::new(),
        };
        let sealed = record_removal(
            store,
            &job.name,
            &job.media.prefix,
            recording.sealing,
            now,
            recording.memory,
            removal,
        )
        .await
        .map_err(|source| ExpireError::Record {
            job: job.name.clone(),
            source,
        })?;
        done.record = Some(sealed.head.sequence);
        done.warnings.extend(sealed.warnings);
        record_head(recording.state, &job.name, &sealed.head)
            .await
            .map_err(|source| ExpireError::Head {
                job: job.name.clone(),
                source,
            })?;
    }
    pause.point(PAUSE_RECORD).await;
    done.archives_left = plan.objects.len();
    let steps: [(Vec<&str>, &str); 3] = [
        (
            plan.objects.iter().map(|o| o.archive.as_str()).collect(),
            PAUSE_ARCHIVES,
        ),
        (
            plan.objects
                .iter()
                .flat_map(|o| o.sidecars.iter().map(String::as_str))
                .collect(),
            PAUSE_SIDECARS,
        ),
        (
            plan.objects.iter().map(|o| o.manifest.as_str()).collect(),
            PAUSE_MANIFESTS,
        ),
    ];
    for (keys, step) in steps {
        for key in keys {
            if let Err(refused) = delete(store, key).await {
                done.refused = Some(refused);
                return Ok(done);
            }
            done.objects += 1;
            if step == PAUSE_ARCHIVES {
                done.archives += 1;
                done.archives_left -= 1;
            }
        }
        pause.point(step).await;
    }
    let wanted: BTreeSet<&String> = plan
        .media
        .iter()
        .chain(plan.unfinished.iter().flat_map(|u| u.media.iter()))
        .collect();
    if wanted.is_empty() {
        return Ok(done);
    }
    // Checked again now the manifests are gone: a run may have written an archive referring
    // to one of these files since the plan was made.
    let listing = Listing::list(&[Source::of_job(job, store.clone())]).await;
    let Some(location) = listing.locations.first() else {
        return Ok(done);
    };
    let (named, unreadable) = media_named(store, location.newest_media_records()).await;
    if unreadable {
        done.warnings.push(
            "a media record could not be read, so no captured file was deleted; run expire \
             again"
                .to_owned(),
        );
        return Ok(done);
    }
    let referred: BTreeSet<&str> = named
        .values()
        .flatten()
        .filter(|(prefix, _)| *prefix == plan.media_prefix)
        .map(|(_, sha256)| sha256.as_str())
        .collect();
    let mut first = true;
    for sha256 in wanted {
        if referred.contains(sha256.as_str()) {
            done.media_kept += 1;
            continue;
        }
        let key = layout::object_key(&plan.media_prefix, sha256);
        if let Err(refused) = delete(store, &key).await {
            done.refused = Some(refused);
            return Ok(done);
        }
        done.objects += 1;
        done.media += 1;
        if first {
            pause.point(PAUSE_MEDIA).await;
            first = false;
        }
    }
    Ok(done)
}

/// Deletes one object; one already gone is deleted.
async fn delete(store: &Store, key: &str) -> Result<(), Refused> {
    match store.object_store().delete(&ObjectPath::from(key)).await {
        Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
        Err(e) => Err(Refused {
            key: key.to_owned(),
            reason: e.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::archive::seal::{FORMAT, Seal};

    fn record(sequence: u64, kind: RemovalKind, ended_before: Option<&str>) -> StoredSeal {
        let at: DateTime<Utc> = "2026-12-08T03:00:00Z".parse().expect("a time");
        StoredSeal {
            key: format!("{sequence}"),
            sha256: String::new(),
            bytes: Bytes::new(),
            seal: Ok(Seal {
                format: FORMAT,
                job: "daily".into(),
                sequence,
                sealed_at: at,
                previous: None,
                covers: Vec::new(),
                chatvault_version: "test".into(),
                removal: Some(Removal {
                    kind,
                    reason: "a reason".into(),
                    erasure: None,
                    ended_before: ended_before.and_then(|t| t.parse().ok()),
                    archives: Vec::new(),
                    documents: Vec::new(),
                    media: Vec::new(),
                    replacements: Vec::new(),
                }),
            }),
        }
    }

    #[test]
    fn the_calendar_s_cutoff_is_the_latest_an_expiry_record_names() {
        let seals = [
            record(1, RemovalKind::Expiry, Some("2019-12-08T03:00:00Z")),
            record(2, RemovalKind::Expiry, Some("2019-12-09T03:00:00Z")),
            record(3, RemovalKind::Erasure, Some("2030-01-01T00:00:00Z")),
            record(4, RemovalKind::Expiry, None),
        ];
        assert_eq!(
            expired_before(&seals, &crate::signing::Keyring::default()),
            "2019-12-09T03:00:00Z".parse::<DateTime<Utc>>().ok()
        );
        assert_eq!(
            expired_before(&seals[3..], &crate::signing::Keyring::default()),
            None
        );
    }
}
