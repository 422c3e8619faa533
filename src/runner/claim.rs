//! Who owns a job's open work: a run claims it in the ledger before it starts any export, and
//! every later change it makes goes through [`Runner::update_claimed`], which refuses once
//! another run took the job over.

use std::future::ready;

use chrono::{DateTime, Utc};

use super::{RunError as E, RunError, Runner};
use crate::config::job::Job;
use crate::state::{Claim, Decision, JobState, Landed, Ledger};

/// Lost races for the ledger in a row before a run gives up for now.
const UPDATE_ATTEMPTS: usize = 20;

/// What the claim step found.
#[expect(
    clippy::large_enum_variant,
    reason = "made once per run and matched at once; a state of a few hundred bytes is not worth a box"
)]
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
        let leases = &self.leases(&job.name);
        let landed = ledger
            .commit_with(UPDATE_ATTEMPTS, |state| {
                let done = state.last_tick.is_some_and(|done| done >= tick);
                let other = state
                    .claim
                    .as_ref()
                    .filter(|c| c.tick != tick)
                    .map(|c| c.tick);
                let mut next = state.clone();
                next.claim = Some(Claim {
                    tick,
                    holder: self.holder.clone(),
                });
                async move {
                    if done {
                        return Ok(Decision::Decline(Claimed::AlreadyDone));
                    }
                    if let Some(other) = other
                        && let Some(lease) = leases.current(other).await?
                        && lease.is_live(self.clock.now())
                    {
                        return Ok(Decision::Decline(Claimed::Busy(lease.holder)));
                    }
                    Ok::<_, RunError>(Decision::Commit(next))
                }
            })
            .await?;
        match landed {
            Landed::Committed(committed) => Ok(Claimed::Ours(committed.into_value())),
            Landed::Declined(found) => Ok(found),
            Landed::Contended(_) => Err(E::Contended),
        }
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
        let landed = ledger
            .commit_with(UPDATE_ATTEMPTS, |state| {
                let ours = state
                    .claim
                    .as_ref()
                    .is_some_and(|c| c.tick == tick && c.holder == self.holder);
                ready(if ours {
                    let mut next = state.clone();
                    change(&mut next);
                    Ok(if next == *state {
                        Decision::Decline(next)
                    } else {
                        Decision::Commit(next)
                    })
                } else {
                    Err(E::LostClaim {
                        tick: tick.to_rfc3339(),
                    })
                })
            })
            .await?;
        match landed {
            Landed::Committed(committed) => Ok(committed.into_value()),
            Landed::Declined(unchanged) => Ok(unchanged),
            Landed::Contended(_) => Err(E::Contended),
        }
    }
}
