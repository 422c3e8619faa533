//! Leases per (job, tick), so that of several replicas only one runs a tick at a time, and a
//! crashed holder's tick is taken over once its lease expires.
//!
//! A lease is a sequence of immutable attempt records at
//! `jobs/<job>/leases/<tick>/<attempt:06>.json`; the highest attempt is current. Acquiring,
//! renewing and releasing each write the next attempt create-only, so of two processes
//! moving the lease at once exactly one succeeds. Nothing is ever deleted, so an attempt
//! number is never reused, and it serves as a fencing token.
//!
//! Expiry: the caller picks the TTL (e.g. 5 minutes) and renews well before it runs out
//! (e.g. every third of it) while the run goes on; a holder whose renewal fails has lost the
//! lease and must stop. Expiry is judged by the *reader's* clock against the `expires_at`
//! the holder wrote with *its* clock, so clock skew between replicas shortens or lengthens a
//! lease by the skew: keep the TTL far above the skew. A brief overlap of an expired holder
//! and its successor cannot double an archive (keys are deterministic and manifests are
//! create-only); it can only waste work.
//!
//! A lease says who may run a tick *now*, not whether it ran: after acquiring, check the
//! ledger (a released tick can be acquired again).

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use super::error::StateError;
use super::io::{Created, Nonced, create_once, list_numbered, nonce, read_json};
use super::keys::{ATTEMPT_WIDTH, check_job, lease_dir, lease_key};
use crate::clock::SharedClock;
use crate::store::Store;

/// The lease record layout; bumped on incompatible changes.
pub const FORMAT: u32 = 1;

/// One attempt record as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaseRecord {
    pub format: u32,
    pub job: String,
    pub tick: DateTime<Utc>,
    pub attempt: u64,
    pub holder: String,
    /// When this holder first took the lease (kept across renewals).
    pub acquired_at: DateTime<Utc>,
    pub written_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// A release: the lease is free from `written_at` on.
    #[serde(default)]
    pub released: bool,
    /// Random per write: lets a writer recognise its own record after a retried write.
    pub nonce: String,
}

impl LeaseRecord {
    /// Whether the lease keeps others out at `now` (by the reader's clock).
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        !self.released && self.expires_at > now
    }
}

impl Nonced for LeaseRecord {
    fn nonce(&self) -> &str {
        &self.nonce
    }
}

/// A lease this process holds, as of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    tick: DateTime<Utc>,
    attempt: u64,
    holder: String,
    acquired_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    key: String,
}

impl Lease {
    pub fn tick(&self) -> DateTime<Utc> {
        self.tick
    }

    /// Grows with every renewal and every new holder: a fencing token.
    pub fn attempt(&self) -> u64 {
        self.attempt
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    pub fn acquired_at(&self) -> DateTime<Utc> {
        self.acquired_at
    }

    pub fn expires_at(&self) -> DateTime<Utc> {
        self.expires_at
    }

    /// The key of the attempt record that grants it.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Past its expiry the lease may already belong to someone else: stop, or renew.
    pub fn is_expired(&self, now: DateTime<Utc>) -> bool {
        self.expires_at <= now
    }
}

/// The leases of one job, taken in the name of one holder.
#[derive(Clone)]
pub struct Leases {
    store: Store,
    job: String,
    holder: String,
    clock: SharedClock,
}

impl std::fmt::Debug for Leases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Leases")
            .field("store", &self.store.url())
            .field("job", &self.job)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

impl Leases {
    /// `holder` must be unique per process (see [`super::process_id`]): two processes with
    /// one name would both count as the holder.
    pub fn open(store: Store, job: &str, holder: &str, clock: SharedClock) -> Leases {
        Leases {
            store,
            job: job.to_owned(),
            holder: holder.to_owned(),
            clock,
        }
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes the lease of `tick` for `ttl`. Free (never taken, released or expired): the
    /// next attempt is written. Ours and live: renewed. Someone else's and live:
    /// [`StateError::Held`]. Losing a race for the next attempt gives `Held` (or `Conflict`
    /// when the winner's lease is already over).
    pub async fn acquire(&self, tick: DateTime<Utc>, ttl: Duration) -> Result<Lease, StateError> {
        check_job(&self.job)?;
        let now = self.clock.now();
        let (attempt, acquired_at) = match self.current(tick).await? {
            None => (1, now),
            Some(current) if current.is_live(now) => {
                if current.holder != self.holder {
                    return Err(self.held(&current));
                }
                (current.attempt.saturating_add(1), current.acquired_at)
            }
            Some(current) => (current.attempt.saturating_add(1), now),
        };
        self.write(tick, attempt, acquired_at, Some(ttl)).await
    }

    /// Extends `lease` to `ttl` from now. Fails with `Held` or `Conflict` when the lease has
    /// moved on (taken over after expiry, or released); then the holder must stop.
    pub async fn renew(&self, lease: &Lease, ttl: Duration) -> Result<Lease, StateError> {
        check_job(&self.job)?;
        self.check_ours(lease)?;
        self.write(
            lease.tick,
            lease.attempt.saturating_add(1),
            lease.acquired_at,
            Some(ttl),
        )
        .await
    }

    /// Frees the lease at once by writing a release as the next attempt (nothing is
    /// deleted, so attempt numbers are never reused). `Conflict` when the lease had already
    /// moved on; there is then nothing of ours to release.
    pub async fn release(&self, lease: Lease) -> Result<(), StateError> {
        check_job(&self.job)?;
        self.check_ours(&lease)?;
        self.write(
            lease.tick,
            lease.attempt.saturating_add(1),
            lease.acquired_at,
            None,
        )
        .await
        .map(|_| ())
    }

    /// The newest attempt record of `tick`'s lease, if any (for `status`).
    pub async fn current(&self, tick: DateTime<Utc>) -> Result<Option<LeaseRecord>, StateError> {
        check_job(&self.job)?;
        let dir = lease_dir(&self.job, tick);
        let listed = list_numbered(&self.store, &dir, ATTEMPT_WIDTH, None).await?;
        let Some(attempt) = listed.iter().map(|(n, _)| *n).max() else {
            return Ok(None);
        };
        let key = lease_key(&self.job, tick, attempt);
        match read_json::<LeaseRecord>(&self.store, &key).await? {
            Some(record) => self.check(&key, tick, attempt, record).map(Some),
            // Attempts are never deleted; one that vanished was removed by hand.
            None => Err(StateError::Corrupt {
                key: key.to_string(),
                reason: "it was listed but is gone".into(),
            }),
        }
    }

    /// Writes attempt `attempt` create-only: a lease for `ttl`, or a release when `None`.
    async fn write(
        &self,
        tick: DateTime<Utc>,
        attempt: u64,
        acquired_at: DateTime<Utc>,
        ttl: Option<Duration>,
    ) -> Result<Lease, StateError> {
        let now = self.clock.now();
        let expires_at = match ttl {
            Some(ttl) => now
                .checked_add_signed(TimeDelta::from_std(ttl).unwrap_or(TimeDelta::MAX))
                .unwrap_or(DateTime::<Utc>::MAX_UTC),
            None => now,
        };
        let record = LeaseRecord {
            format: FORMAT,
            job: self.job.clone(),
            tick,
            attempt,
            holder: self.holder.clone(),
            acquired_at,
            written_at: now,
            expires_at,
            released: ttl.is_none(),
            nonce: nonce(),
        };
        let key = lease_key(&self.job, tick, attempt);
        match create_once(&self.store, &key, &record).await? {
            Created::Written => Ok(Lease {
                tick,
                attempt,
                holder: record.holder,
                acquired_at,
                expires_at,
                key: key.to_string(),
            }),
            Created::Taken(Some(winner))
                if winner.holder != self.holder && winner.is_live(self.clock.now()) =>
            {
                Err(self.held(&winner))
            }
            Created::Taken(_) => Err(StateError::Conflict {
                key: key.to_string(),
                detail: "the lease moved on: another write took this attempt first",
            }),
        }
    }

    fn held(&self, record: &LeaseRecord) -> StateError {
        StateError::Held {
            key: lease_key(&self.job, record.tick, record.attempt).to_string(),
            holder: record.holder.clone(),
            until: record.expires_at,
        }
    }

    /// Only the holder named in a lease may renew or release it, through its own job.
    fn check_ours(&self, lease: &Lease) -> Result<(), StateError> {
        if lease.holder == self.holder
            && lease.key == lease_key(&self.job, lease.tick, lease.attempt).to_string()
        {
            Ok(())
        } else {
            Err(StateError::Conflict {
                key: lease.key.clone(),
                detail: "this lease was taken by another holder or for another job",
            })
        }
    }

    /// A record must say it is the attempt, tick and job its key says.
    fn check(
        &self,
        key: &Path,
        tick: DateTime<Utc>,
        attempt: u64,
        record: LeaseRecord,
    ) -> Result<LeaseRecord, StateError> {
        let reason = if record.format == 0 || record.format > FORMAT {
            format!(
                "record format {} is not one this chatvault reads (1 to {FORMAT})",
                record.format
            )
        } else if record.attempt != attempt {
            format!("it says it is attempt {}", record.attempt)
        } else if record.tick != tick {
            format!("it says it is for the tick {}", record.tick)
        } else if record.job != self.job {
            format!("it belongs to the job `{}`", record.job)
        } else {
            return Ok(record);
        };
        Err(StateError::Corrupt {
            key: key.to_string(),
            reason,
        })
    }
}
