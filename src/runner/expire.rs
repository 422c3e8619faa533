//! The daemon's expiry duty (`run --expire`): a job's archives past its `keep_for` expired
//! as `chatvault expire` does, signed with the run's key and checked against the ledger's
//! seal head, through the runner's open destinations and seal memory.

use super::Runner;
use crate::archive::seal::Sealing;
use crate::config::hold::Hold;
use crate::config::job::Job;
use crate::lifecycle::expire::{self, Inputs, Recording};
use crate::lifecycle::pause::PauseAt;
use crate::state::seal_head;

impl Runner {
    /// Expires `job`'s archives past its `keep_for` that none of `holds` covers; what it did
    /// (or why it could not) is logged. Nothing for a job without `keep_for`.
    pub async fn expire_job(&self, job: &Job, holds: &[Hold]) {
        let Some(keep_for) = job.keep_for else {
            return;
        };
        let store = match self.destination(job) {
            Ok(store) => store,
            Err(e) => {
                tracing::error!(job = %job.name, error = %e, "expire: cannot open the destination");
                return;
            }
        };
        let now = self.clock.now();
        let recorded = match seal_head(&self.state, &job.name).await {
            Ok(head) => head,
            Err(e) => {
                tracing::error!(job = %job.name, error = %e, "expire: cannot read the ledger; nothing deleted");
                return;
            }
        };
        let inputs = Inputs {
            job,
            keep_for,
            store: &store,
            holds,
            keyring: &self.options.keyring,
            head: recorded.as_ref().map(|h| h.sequence),
            now,
        };
        let plan = match expire::plan(&inputs).await {
            Ok(plan) => plan,
            Err(e) => {
                tracing::error!(job = %job.name, error = %e, "expire: nothing deleted");
                return;
            }
        };
        for key in &plan.unvouched {
            tracing::error!(job = %job.name, archive = %key, "expire: {}", crate::lifecycle::vouch::NOT_VOUCHED);
        }
        for held in &plan.held {
            tracing::info!(job = %job.name, archive = %held.key, holds = ?held.holds, "expire: kept by a hold");
        }
        if plan.is_empty() {
            return;
        }
        let pause = PauseAt::default();
        let recording = Recording {
            sealing: Sealing {
                signer: self.options.signing_key.as_deref(),
                keyring: &self.options.keyring,
                recorded: recorded.as_ref(),
            },
            state: &self.state,
            memory: &self.seals,
            pause: &pause,
        };
        match expire::carry_out(job, &store, &plan, &recording, now).await {
            Ok(done) => {
                for warning in &done.warnings {
                    tracing::warn!(job = %job.name, "expire: {warning}");
                }
                match &done.refused {
                    None => tracing::info!(
                        job = %job.name,
                        record = ?done.record,
                        archives = done.archives,
                        media = done.media,
                        "expired the archives past keep_for {}", plan.keep_for
                    ),
                    Some(refused) => tracing::error!(
                        job = %job.name,
                        key = %refused.key,
                        reason = %refused.reason,
                        "expire: the store refused a delete; the rest waits for the next pass"
                    ),
                }
            }
            Err(e) => tracing::error!(job = %job.name, error = %e, "expire: nothing deleted"),
        }
    }
}
