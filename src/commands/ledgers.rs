//! The chosen jobs' ledgers, read only, for `status` and `plan --state`. A state store that
//! cannot be read at all is one error naming its URL, with a hint, not one per job.

use thiserror::Error;

use crate::config::job::Job;
use crate::state::{JobState, Ledger, StateError};
use crate::store::{self, Store};

/// The state store could not be read.
#[derive(Debug, Error)]
#[error("cannot read the state store {url}")]
pub(super) struct Unreadable {
    url: String,
    #[source]
    source: StateError,
}

impl Unreadable {
    /// What to do: what the store's answer points at, else where to look.
    pub(super) fn hint(&self) -> &'static str {
        if let Some(problem) = store::problem::diagnose(&self.source) {
            return problem.hint();
        }
        if self.url.starts_with("file:") {
            "check that this path is a folder (or absent) and that this user may read it \
             (permissions), or set state.url in the global config"
        } else {
            "check the store's credentials and that they may read the bucket, or set \
             state.url in the global config"
        }
    }
}

/// Each job's state, in the order of `jobs`; a job's own record that cannot be used (corrupt,
/// from a newer format) is that job's error.
pub(super) async fn read(
    state: &Store,
    jobs: &[Job],
) -> Result<Vec<Result<JobState, StateError>>, Unreadable> {
    let mut out = Vec::new();
    for job in jobs {
        match Ledger::open(state.clone(), &job.name).load().await {
            Ok(loaded) => out.push(Ok(loaded.into_value())),
            Err(source @ StateError::Store { .. }) => {
                return Err(Unreadable {
                    url: state.url().to_owned(),
                    source,
                });
            }
            Err(e) => out.push(Err(e)),
        }
    }
    Ok(out)
}
