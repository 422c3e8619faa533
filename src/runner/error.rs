//! Why a run (or one batch of it) failed. Every message is free of secrets and links.

use thiserror::Error;

use crate::api::ApiError;
use crate::archive::manifest::ManifestError;
use crate::archive::transfer::TransferError;
use crate::state::StateError;
use crate::store::StoreError;

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
