//! How a tick's run ended. Its own file because the run (`tick`), what it reports (`events`)
//! and what it remembers (`recovery`) all speak of it, and none of them should lean on another
//! for it.

use thiserror::Error;

use super::error::Failure;
use crate::state::Missing;

/// How a tick's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickOutcome {
    /// Every window is archived and the watermark moved. `warnings` say what the archives
    /// lack (a channel absent from its export, a user's export cut at Stream's cap);
    /// `missing`: channels and users Stream does not have, which the exports left out. The run
    /// still succeeds either way (the rest is archived, and asking again would not bring them
    /// back). `media_outstanding`: references to files of the job's archives not captured
    /// yet (the newest media records' `failed` ones), which later runs retry; a warning names
    /// the count.
    Done {
        archives: u32,
        bytes_stored: u64,
        warnings: Vec<String>,
        missing: Missing,
        media_outstanding: u64,
    },
    /// The ledger says an earlier run (maybe another replica's) finished this tick.
    AlreadyDone,
    /// Another process is running this job; it stays out.
    Busy { holder: String },
    /// Something failed: the watermark stays, the next run covers the gap.
    Failed { error: TickError },
    /// Shutdown stopped it; the next run resumes its recorded tasks. Not a failure: the
    /// ledger records it as its own outcome, and no failure is counted or announced.
    Interrupted,
}

impl TickOutcome {
    /// The run did not finish its tick: a failure, or a shutdown that cut it short.
    pub fn is_unfinished(&self) -> bool {
        matches!(self, TickOutcome::Failed { .. } | TickOutcome::Interrupted)
    }

    /// Later ticks of the job may run after this one.
    pub(super) fn lets_later_ticks_run(&self) -> bool {
        matches!(self, TickOutcome::Done { .. } | TickOutcome::AlreadyDone)
    }
}

/// Why a tick's run failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickError {
    /// The run as a whole failed: its lease or claim, the ledger, listing the channels.
    Run(Failure),
    /// Some of the tick's batches failed; the others are archived.
    Batches(Vec<BatchFailure>),
}

impl std::fmt::Display for TickError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TickError::Run(failure) => failure.fmt(f),
            TickError::Batches(failures) => f.write_str(&summarize(failures)),
        }
    }
}

/// Failed batches lead to the first one's causes: the one a hint comes from most often, and
/// what a person at the terminal reads first.
impl std::error::Error for TickError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TickError::Run(failure) => failure.source(),
            TickError::Batches(failures) => failures
                .first()
                .map(|f| &f.error as &(dyn std::error::Error + 'static)),
        }
    }
}

impl TickError {
    /// What the user can do about it: for failed batches, the first hint any of them has.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            TickError::Run(failure) => failure.hint(),
            TickError::Batches(failures) => failures.iter().find_map(|f| f.error.hint()),
        }
    }
}

impl From<super::RunError> for TickError {
    fn from(error: super::RunError) -> Self {
        TickError::Run(error.into())
    }
}

/// One batch of a tick that failed, named by its archive's key.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{key}: {error}")]
pub struct BatchFailure {
    pub key: String,
    #[source]
    pub error: Failure,
}

/// The first failures, and how many more: a ledger record stays small whatever failed.
fn summarize(failures: &[BatchFailure]) -> String {
    const SHOWN: usize = 3;
    let mut text = failures
        .iter()
        .take(SHOWN)
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ");
    if failures.len() > SHOWN {
        text.push_str(&format!("; and {} more", failures.len() - SHOWN));
    }
    format!("{} of the tick's batches failed: {text}", failures.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::{ApiError, Endpoint};
    use crate::runner::RunError;

    fn failure(key: &str, error: RunError) -> BatchFailure {
        BatchFailure {
            key: key.into(),
            error: error.into(),
        }
    }

    #[test]
    fn failed_batches_read_as_one_line_with_the_first_hint_kept_apart() {
        let refused = || {
            RunError::Api(ApiError::Auth {
                endpoint: Endpoint::ExportChannels,
                status: 401,
                code: 43,
                message: "bad signature".into(),
            })
        };
        let mut failures = vec![
            failure("a/1", RunError::Contended),
            failure("a/2", refused()),
        ];
        failures.extend((3..=5).map(|n| failure(&format!("a/{n}"), RunError::Contended)));
        let error = TickError::Batches(failures);
        let line = error.to_string();
        assert!(
            line.starts_with("5 of the tick's batches failed: a/1: the ledger kept changing"),
            "{line}"
        );
        assert!(line.ends_with("; and 2 more"), "{line}");
        assert!(
            error
                .hint()
                .is_some_and(|h| h.contains("STREAM_API_SECRET"))
        );
        assert_eq!(TickError::from(RunError::Contended).hint(), None);
    }
}
