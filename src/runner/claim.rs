//! Who owns a job's open work: a run claims it in the ledger before it starts any export, and
//! every later change it makes goes through [`Runner::update_claimed`], which refuses once
//! another run took the job over.

use chrono::{DateTime, Utc};

use super::{RunError as E, RunError, Runner};
use crate::config::job::Job;
use crate::state::{Claim, JobState, Ledger};

/// Lost races for the ledger in a row before a run gives up for now.
const UPDATE_ATTEMPTS: usize = 20;

/// What the claim step found.
pub(super) enum Claimed {
    Ours(JobState),
    AlreadyDone,
    Busy(String),
}

impl Runner {
    /// Makes this run the job's owner in the ledger, unless the tick is done or another live
    /// run owns the job.
    pub(super) async fn claim(
        &self,
        job: &Job,
        ledger: &Ledger,
        tick: DateTime<Utc>,
    ) -> Result<Claimed, RunError> {
        let leases = self.leases(&job.name);
        let _writing = ledger.writing().await;
        for _ in 0..UPDATE_ATTEMPTS {
            let prev = ledger.load_to_commit().await?;
            let state = prev.value();
            if state.last_tick.is_some_and(|done| done >= tick) {
                return Ok(Claimed::AlreadyDone);
            }
            if let Some(other) = state.claim.as_ref().filter(|c| c.tick != tick)
                && let Some(lease) = leases.current(other.tick).await?
                && lease.is_live(self.clock.now())
            {
                return Ok(Claimed::Busy(lease.holder));
            }
            let mut next = state.clone();
            next.claim = Some(Claim {
                tick,
                holder: self.holder.clone(),
            });
            match ledger.commit(&prev, next).await {
                Ok(committed) => return Ok(Claimed::Ours(committed.into_value())),
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(E::Contended)
    }

    /// Applies `change` to the newest state and commits it, as long as this run still owns
    /// the job; on a lost race, loads again and reapplies. A change that changes nothing
    /// writes nothing.
    pub(super) async fn update_claimed<F>(
        &self,
        ledger: &Ledger,
        tick: DateTime<Utc>,
        mut change: F,
    ) -> Result<JobState, RunError>
    where
        F: FnMut(&mut JobState),
    {
        let _writing = ledger.writing().await;
        for _ in 0..UPDATE_ATTEMPTS {
            let prev = ledger.load_to_commit().await?;
            let ours = prev
                .value()
                .claim
                .as_ref()
                .is_some_and(|c| c.tick == tick && c.holder == self.holder);
            if !ours {
                return Err(E::LostClaim {
                    tick: tick.to_rfc3339(),
                });
            }
            let mut next = prev.value().clone();
            change(&mut next);
            if next == *prev.value() {
                return Ok(next);
            }
            match ledger.commit(&prev, next).await {
                Ok(committed) => return Ok(committed.into_value()),
                Err(e) if e.is_conflict() => {}
                Err(e) => return Err(e.into()),
            }
        }
        Err(E::Contended)
    }
}
