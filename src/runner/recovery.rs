//! Which jobs' last run in this process failed, so that the next success counts as a recovery
//! even when the failure never reached the ledger (a run that could not read or write the
//! job's state records nothing there).

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

use super::outcome::TickOutcome;

#[derive(Debug, Default)]
pub(super) struct Failures {
    jobs: Mutex<HashSet<String>>,
}

impl Failures {
    /// Takes in a run's outcome; `true` when it is a success after a failure seen here.
    /// Busy, already-done and interrupted runs leave the record as it was.
    pub(super) fn note(&self, job: &str, outcome: &TickOutcome) -> bool {
        let mut jobs = self.jobs.lock().unwrap_or_else(PoisonError::into_inner);
        match outcome {
            TickOutcome::Failed { .. } => {
                jobs.insert(job.to_owned());
                false
            }
            TickOutcome::Done { .. } => jobs.remove(job),
            TickOutcome::AlreadyDone | TickOutcome::Busy { .. } | TickOutcome::Interrupted => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::RunError;

    fn done() -> TickOutcome {
        TickOutcome::Done {
            archives: 1,
            bytes_stored: 10,
            warnings: Vec::new(),
            missing: crate::state::Missing::default(),
            media_outstanding: 0,
        }
    }

    fn failed() -> TickOutcome {
        TickOutcome::Failed {
            error: RunError::Contended.into(),
        }
    }

    #[test]
    fn a_success_after_a_failure_is_a_recovery_once() {
        let failures = Failures::default();
        assert!(!failures.note("a", &done()));
        assert!(!failures.note("a", &failed()));
        assert!(!failures.note("a", &TickOutcome::Interrupted));
        assert!(!failures.note("b", &done()), "per job");
        assert!(failures.note("a", &done()));
        assert!(!failures.note("a", &done()), "once");
    }
}
