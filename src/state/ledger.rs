//! A job's ledger: an append-only sequence of immutable records, each holding the whole
//! [`JobState`], at `jobs/<job>/ledger/<seq:012>.json`. The highest number is current.
//!
//! Only create-only writes are used (`PutMode::Create`, the one conditional write local
//! folders, S3 and GCS all have): committing on top of version `n` writes `n + 1` only if it
//! does not exist, so of two writers racing from the same version exactly one wins and the
//! other gets [`StateError::Conflict`] and must load again.
//!
//! Pruning deletes old records, which would let a writer still holding an old version
//! re-create a deleted number and "win" a write nobody reads. Two bounds rule that out:
//! a record is pruned only once it is `keep` versions behind *and* the newest record is at
//! least `prune_grace` younger than it (both times from the store, so one clock), and a
//! commit is refused when its base was read more than `max_staleness` ago. With the default
//! 1 h grace and 5 min staleness, a stale write would need a store request to hang for most of
//! an hour, far past object_store's retry budget (3 min).
//!
//! Cost per change, which is what bounds a busy job against a slow store: clones of one
//! [`Ledger`] remember the newest version they saw, so a load lists only what is newer (and
//! reads nothing when that is empty), and a writer commits on what it saw last without
//! asking at all ([`Ledger::load_to_commit`]); they queue their writes ([`Ledger::writing`])
//! instead of racing each other for the next number; pruning runs every tenth version. A
//! change is then one write.

use std::convert::Infallible;
use std::future::{Future, ready};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, TimeDelta, Utc};
use futures::StreamExt;
use object_store::path::Path;
use tokio::sync::MutexGuard;

use super::error::StateError;
use super::io::{Created, create_once, list_numbered, nonce, read_json};
use super::keys::{SEQ_WIDTH, check_job, ledger_dir, ledger_key};
use super::record::{FORMAT, JobState, LedgerRecord};
use crate::clock::{SharedClock, SystemClock};
use crate::store::Store;

/// Records kept by pruning by default: a little history to inspect by hand.
pub const DEFAULT_KEEP: usize = 20;
/// How much younger the newest record must be before an old one may be deleted.
pub const DEFAULT_PRUNE_GRACE: Duration = Duration::from_secs(3600);
/// How long a loaded version may be committed on.
pub const DEFAULT_MAX_STALENESS: Duration = Duration::from_secs(300);
/// Loads retry when the newest record vanishes between listing and reading (pruned by
/// another writer racing far ahead).
const LOAD_ATTEMPTS: usize = 4;
/// [`Ledger::update`] gives up after this many lost races in a row.
const UPDATE_ATTEMPTS: usize = 10;
/// Versions between prunings: a pruning lists the whole ledger, a commit nothing.
const PRUNE_EVERY: u64 = 10;

/// What a [`Ledger::commit_with`] step makes of the newest state. One is made per commit
/// attempt and consumed at once, so the state is not boxed.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per commit attempt, moved once; the state is a few hundred bytes"
)]
pub enum Decision<T> {
    /// Write this as the next version.
    Commit(JobState),
    /// Write nothing; the commit ends with this answer.
    Decline(T),
}

/// How a [`Ledger::commit_with`] ended, short of an error.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "one per commit, moved once; the state is a few hundred bytes"
)]
pub enum Landed<T> {
    Committed(Versioned<JobState>),
    Declined(T),
    /// Every attempt lost its race to another process; the last conflict.
    Contended(StateError),
}

/// A value as of one ledger version; commit the next version on top of it.
#[derive(Debug, Clone)]
pub struct Versioned<T> {
    seq: u64,
    writer: Option<String>,
    updated_at: Option<DateTime<Utc>>,
    value: T,
    /// Taken before the read that showed this version as current; bounds its staleness.
    read_at: Instant,
}

impl<T> Versioned<T> {
    /// The version number; 0 when nothing was ever committed.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// The process that committed this version.
    pub fn writer(&self) -> Option<&str> {
        self.writer.as_deref()
    }

    pub fn updated_at(&self) -> Option<DateTime<Utc>> {
        self.updated_at
    }

    pub fn value(&self) -> &T {
        &self.value
    }

    pub fn into_value(self) -> T {
        self.value
    }
}

/// One job's ledger. Cheap to clone; clones share the newest version seen and the queue of
/// writers, so a process should keep one per job.
#[derive(Clone)]
pub struct Ledger {
    store: Store,
    job: String,
    writer: String,
    clock: SharedClock,
    keep: usize,
    prune_grace: Duration,
    max_staleness: Duration,
    seen: Arc<Seen>,
}

/// What clones of one ledger share.
#[derive(Default)]
struct Seen {
    /// The newest version read or committed here. Records are immutable, so it stays true of
    /// its number; only whether a newer one exists must be asked of the store.
    newest: Mutex<Option<Known>>,
    /// Held from load to commit by writers that would otherwise race each other.
    writing: tokio::sync::Mutex<()>,
}

#[derive(Clone)]
struct Known {
    seq: u64,
    writer: String,
    updated_at: DateTime<Utc>,
    state: JobState,
    /// When it was last known to be the newest (taken before the listing that showed it, or
    /// before the write that made it); `None` after a lost race.
    confirmed: Option<Instant>,
}

impl Known {
    fn of(record: LedgerRecord, confirmed: Instant) -> Known {
        Known {
            seq: record.seq,
            writer: record.writer,
            updated_at: record.updated_at,
            state: record.state,
            confirmed: Some(confirmed),
        }
    }

    fn versioned(&self, read_at: Instant) -> Versioned<JobState> {
        Versioned {
            seq: self.seq,
            writer: Some(self.writer.clone()),
            updated_at: Some(self.updated_at),
            value: self.state.clone(),
            read_at,
        }
    }
}

impl std::fmt::Debug for Ledger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ledger")
            .field("store", &self.store.url())
            .field("job", &self.job)
            .field("writer", &self.writer)
            .finish_non_exhaustive()
    }
}

impl Ledger {
    /// The ledger of `job` in `store`. Nothing is read until [`Ledger::load`]; a job name
    /// that cannot be a key segment fails there with [`StateError::InvalidJob`].
    pub fn open(store: Store, job: &str) -> Ledger {
        Ledger {
            store,
            job: job.to_owned(),
            writer: super::process_id().to_owned(),
            clock: Arc::new(SystemClock),
            keep: DEFAULT_KEEP,
            prune_grace: DEFAULT_PRUNE_GRACE,
            max_staleness: DEFAULT_MAX_STALENESS,
            seen: Arc::default(),
        }
    }

    /// Names the writer recorded in each commit (default: [`super::process_id`]).
    pub fn with_writer(mut self, writer: &str) -> Ledger {
        writer.clone_into(&mut self.writer);
        self
    }

    /// The clock that stamps `updated_at`.
    pub fn with_clock(mut self, clock: SharedClock) -> Ledger {
        self.clock = clock;
        self
    }

    /// Pruning keeps the newest `keep` records (at least 1) and anything less than `grace`
    /// older than the newest. Lower the grace only below `max_staleness` + store latency at
    /// the risk described in the module docs; tests use zero.
    pub fn with_retention(mut self, keep: usize, grace: Duration) -> Ledger {
        self.keep = keep.max(1);
        self.prune_grace = grace;
        self
    }

    /// How long after loading a version a commit on it is still accepted.
    pub fn with_max_staleness(mut self, max: Duration) -> Ledger {
        self.max_staleness = max;
        self
    }

    pub fn job(&self) -> &str {
        &self.job
    }

    /// The store key of version `seq`.
    pub fn record_key(&self, seq: u64) -> String {
        ledger_key(&self.job, seq).to_string()
    }

    /// The current state: the highest-numbered record, or the default state (version 0)
    /// when the job has none. A current record that cannot be read is an error, never
    /// skipped.
    pub async fn load(&self) -> Result<Versioned<JobState>, StateError> {
        check_job(&self.job)?;
        let mut known = self.known();
        for _ in 0..LOAD_ATTEMPTS {
            let read_at = Instant::now();
            let hint = known.as_ref().map_or(0, |k| k.seq);
            let Some(seq) = self.newest(hint).await? else {
                return Ok(Versioned {
                    seq: 0,
                    writer: None,
                    updated_at: None,
                    value: JobState::default(),
                    read_at,
                });
            };
            if let Some(mut k) = known.filter(|k| k.seq == seq) {
                k.confirmed = Some(read_at);
                let loaded = k.versioned(read_at);
                self.remember(k);
                return Ok(loaded);
            }
            let key = ledger_key(&self.job, seq);
            match read_json::<LedgerRecord>(&self.store, &key).await? {
                Some(record) => {
                    self.check(&key, seq, &record)?;
                    let known = Known::of(record, read_at);
                    let loaded = known.versioned(read_at);
                    self.remember(known);
                    return Ok(loaded);
                }
                // Pruned (or removed by hand) since the listing: list everything again.
                None => known = None,
            }
        }
        Err(StateError::Conflict {
            key: format!("{}/", ledger_dir(&self.job)),
            detail: "the newest record kept disappearing while it was read",
        })
    }

    /// The state to commit on next: what this process last saw, without asking the store,
    /// while it was confirmed newest less than half the staleness bound ago; else
    /// [`Ledger::load`]. Only for writers: a commit on a version someone else has moved past
    /// gets a conflict (the create-only write checks it), and the retry loads from the
    /// store. The staleness bound keeps the argument in the module docs whole: the version
    /// after a cached one cannot have been pruned yet.
    pub async fn load_to_commit(&self) -> Result<Versioned<JobState>, StateError> {
        let fresh = self.known().and_then(|k| {
            let confirmed = k.confirmed?;
            (confirmed.elapsed() < self.max_staleness / 2).then(|| k.versioned(confirmed))
        });
        match fresh {
            Some(version) => Ok(version),
            None => self.load().await,
        }
    }

    /// Queues this process's writers of the ledger: hold it from the load to the commit, and
    /// the others wait instead of losing the race for the next number (each lost race costs
    /// a load and a write). Other processes still race, and lose with a conflict.
    pub async fn writing(&self) -> MutexGuard<'_, ()> {
        self.seen.writing.lock().await
    }

    /// Commits `next` as version `prev.seq() + 1`. Exactly one of several writers
    /// committing on the same version succeeds; the others get [`StateError::Conflict`].
    /// `history` is trimmed to its bound. Old records are pruned afterwards, best-effort.
    pub async fn commit(
        &self,
        prev: &Versioned<JobState>,
        mut next: JobState,
    ) -> Result<Versioned<JobState>, StateError> {
        check_job(&self.job)?;
        let seq = prev.seq.saturating_add(1);
        let key = ledger_key(&self.job, seq);
        if prev.read_at.elapsed() > self.max_staleness {
            return Err(StateError::Conflict {
                key: key.to_string(),
                detail: "the state was read too long ago to commit on",
            });
        }
        next.trim_history();
        let record = LedgerRecord {
            format: FORMAT,
            job: self.job.clone(),
            seq,
            nonce: nonce(),
            writer: self.writer.clone(),
            updated_at: self.clock.now(),
            state: next,
        };
        let read_at = Instant::now();
        if let Created::Taken(_) = create_once(&self.store, &key, &record).await? {
            self.distrust(prev.seq);
            return Err(StateError::Conflict {
                key: key.to_string(),
                detail: "another writer committed this version first",
            });
        }
        let known = Known::of(record, read_at);
        let committed = known.versioned(read_at);
        self.remember(known);
        if seq > self.keep as u64
            && seq.is_multiple_of(PRUNE_EVERY)
            && let Err(e) = self.prune().await
        {
            tracing::warn!(job = %self.job, error = %e, "could not prune old ledger records");
        }
        Ok(committed)
    }

    /// Loads, applies `change`, commits; on a lost race loads again and reapplies, so
    /// `change` must be a function of the state it is given.
    pub async fn update<F>(&self, mut change: F) -> Result<Versioned<JobState>, StateError>
    where
        F: FnMut(&mut JobState),
    {
        let landed = self
            .commit_with(UPDATE_ATTEMPTS, |state| {
                let mut next = state.clone();
                change(&mut next);
                ready(Ok::<_, StateError>(Decision::<Infallible>::Commit(next)))
            })
            .await?;
        match landed {
            Landed::Committed(committed) => Ok(committed),
            Landed::Contended(last) => Err(last),
            Landed::Declined(never) => match never {},
        }
    }

    /// The optimistic commit every writer of a ledger goes through: in this process's queue
    /// of writers ([`Ledger::writing`]), shows `decide` the newest state and commits what it
    /// answers on top of that version; when another process committed first, loads again and
    /// asks again, at most `attempts` times. `decide` may decline (nothing to write, or not
    /// this writer's to write) and must derive its answer from the state it is shown alone,
    /// since it may be shown several. Its answer may take asking the store (is another
    /// run's lease live?); it borrows nothing from the state, so the future stays `Send`.
    pub async fn commit_with<T, E, F, Fut>(
        &self,
        attempts: usize,
        mut decide: F,
    ) -> Result<Landed<T>, E>
    where
        F: FnMut(&JobState) -> Fut,
        Fut: Future<Output = Result<Decision<T>, E>>,
        E: From<StateError>,
    {
        let _writing = self.writing().await;
        let mut last = None;
        for _ in 0..attempts {
            let prev = self.load_to_commit().await?;
            let next = match decide(prev.value()).await? {
                Decision::Commit(next) => next,
                Decision::Decline(answer) => return Ok(Landed::Declined(answer)),
            };
            match self.commit(&prev, next).await {
                Ok(committed) => return Ok(Landed::Committed(committed)),
                Err(e) if e.is_conflict() => last = Some(e),
                Err(e) => return Err(e.into()),
            }
        }
        Ok(Landed::Contended(last.unwrap_or_else(|| {
            StateError::Conflict {
                key: format!("{}/", ledger_dir(&self.job)),
                detail: "too many lost races in a row",
            }
        })))
    }

    /// Deletes records older than the newest `keep` that are also `prune_grace` older than
    /// the newest; never the newest. Returns how many were deleted.
    pub async fn prune(&self) -> Result<usize, StateError> {
        check_job(&self.job)?;
        let listed = list_numbered(&self.store, &ledger_dir(&self.job), SEQ_WIDTH, None).await?;
        let Some((newest, newest_modified)) = listed
            .iter()
            .max_by_key(|(seq, _)| *seq)
            .map(|(seq, meta)| (*seq, meta.last_modified))
        else {
            return Ok(0);
        };
        let floor = newest.saturating_sub(self.keep as u64);
        let grace = TimeDelta::from_std(self.prune_grace).unwrap_or(TimeDelta::MAX);
        let doomed: Vec<Path> = listed
            .into_iter()
            .filter(|(seq, meta)| {
                *seq <= floor && newest_modified.signed_duration_since(meta.last_modified) >= grace
            })
            .map(|(_, meta)| meta.location)
            .collect();
        let mut deleted = 0;
        let mut results = self
            .store
            .object_store()
            .delete_stream(futures::stream::iter(doomed.into_iter().map(Ok)).boxed());
        while let Some(result) = results.next().await {
            match result {
                Ok(_) | Err(object_store::Error::NotFound { .. }) => deleted += 1,
                Err(source) => {
                    return Err(StateError::Store {
                        key: format!("{}/", ledger_dir(&self.job)),
                        source,
                    });
                }
            }
        }
        Ok(deleted)
    }

    /// The highest version number, listing only past `hint` when there is one.
    async fn newest(&self, hint: u64) -> Result<Option<u64>, StateError> {
        let dir = ledger_dir(&self.job);
        if hint > 0 {
            let after = ledger_key(&self.job, hint);
            let newer = list_numbered(&self.store, &dir, SEQ_WIDTH, Some(&after)).await?;
            return Ok(Some(
                newer.iter().map(|(seq, _)| *seq).max().unwrap_or(hint),
            ));
        }
        let all = list_numbered(&self.store, &dir, SEQ_WIDTH, None).await?;
        Ok(all.iter().map(|(seq, _)| *seq).max())
    }

    fn known(&self) -> Option<Known> {
        self.seen
            .newest
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Keeps `version` if it is newer than what is known, or its confirmation if it is the
    /// same version.
    fn remember(&self, version: Known) {
        let mut newest = self
            .seen
            .newest
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        match newest.as_mut() {
            Some(k) if k.seq > version.seq => {}
            Some(k) if k.seq == version.seq => k.confirmed = k.confirmed.max(version.confirmed),
            _ => *newest = Some(version),
        }
    }

    /// A commit on version `seq` lost: it is not the newest, whatever was known.
    fn distrust(&self, seq: u64) {
        let mut newest = self
            .seen
            .newest
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(k) = newest.as_mut().filter(|k| k.seq == seq) {
            k.confirmed = None;
        }
    }

    /// A record must say it is the version and job its key says.
    fn check(&self, key: &Path, seq: u64, record: &LedgerRecord) -> Result<(), StateError> {
        let corrupt = |reason: String| {
            Err(StateError::Corrupt {
                key: key.to_string(),
                reason,
            })
        };
        if record.format == 0 || record.format > FORMAT {
            return corrupt(format!(
                "record format {} is not one this chatvault reads (1 to {FORMAT})",
                record.format
            ));
        }
        if record.seq != seq {
            return corrupt(format!("it says it is version {}", record.seq));
        }
        if record.job != self.job {
            return corrupt(format!("it belongs to the job `{}`", record.job));
        }
        Ok(())
    }
}
