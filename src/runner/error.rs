//! Why a run (or one batch of it) failed. Every message is free of secrets and links.
//!
//! The errors stay typed up to where they are shown (the terminal, the ledger's last error,
//! webhooks, logs): each displays as one line, leads to its cause through `source()`, and
//! says what the user can do through `hint()`. The terminal shows them as `error:`,
//! `caused by:` and `hint:` lines (`commands::output`); the ledger, webhooks and `run --once`'s
//! per-tick line keep the one line ([`one_line`]) with the hint beside it.

use std::error::Error as StdError;
use std::fmt;
use std::sync::Arc;

use thiserror::Error;

use crate::api::ApiError;
use crate::archive::manifest::ManifestError;
use crate::archive::transfer::TransferError;
use crate::state::StateError;
use crate::store::StoreError;
use crate::store::problem::Problem;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RunError {
    #[error("state: {0}")]
    State(#[from] StateError),
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("destination: {0}")]
    Destination(#[from] StoreError),
    #[error("{0}")]
    Transfer(#[from] TransferError),
    #[error("{0}")]
    Manifest(#[from] ManifestError),
    #[error("invalid API settings: cannot build the download client: {0}")]
    DownloadClient(#[source] reqwest::Error),
    #[error("cannot make the archive key: {0}")]
    Key(String),
    #[error("export task {task_id} {state}: {reason}")]
    TaskFailed {
        task_id: String,
        state: String,
        reason: String,
    },
    #[error("the manifest of {key} exists and names another archive (sha256 {theirs})")]
    ManifestMismatch { key: String, theirs: String },
    /// Another process took the job over (this process's lease ran out); it stops here.
    #[error("another process took this job over (tick {tick}); stopping")]
    LostClaim { tick: String },
    #[error("interrupted by shutdown; the next run picks up where this one stopped")]
    Interrupted,
    #[error("the ledger kept changing under this run; giving up for now")]
    Contended,
}

impl RunError {
    /// What the user can do about it, when that is known.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            RunError::Api(e) | RunError::Transfer(TransferError::Link(e)) => e.hint(),
            // A store's failure (the destination's, the ledger's) says what it is deep in its
            // chain: missing credentials, a missing bucket, a denied request.
            _ => crate::store::problem::diagnose(self).map(Problem::hint),
        }
    }
}

/// A [`RunError`] handed to several readers at once (the log, progress bars, the tick's
/// outcome): shared rather than copied into text, and equal to another that says the same.
#[derive(Debug, Clone)]
pub struct Failure(Arc<RunError>);

impl Failure {
    pub fn error(&self) -> &RunError {
        &self.0
    }

    pub fn hint(&self) -> Option<&'static str> {
        self.0.hint()
    }
}

impl From<RunError> for Failure {
    fn from(error: RunError) -> Self {
        Failure(Arc::new(error))
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl StdError for Failure {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.0.source()
    }
}

impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.to_string() == other.to_string()
    }
}

impl Eq for Failure {}

/// An error as one line of text, wherever one line is all there is room for: the ledger's
/// last error, webhook bodies, `run --once` summaries. It is the message alone, as it always
/// read (it carries its main cause inline); the hint is kept beside it, not in it.
pub fn one_line(error: &dyn StdError) -> String {
    error.to_string()
}
