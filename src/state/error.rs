//! What can go wrong with durable state. Every message names the key involved, so an operator
//! can find the object; none carries store options, so credentials never leak into logs.

use chrono::{DateTime, Utc};
use thiserror::Error;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StateError {
    /// Someone else wrote `key` first (or the read this write was based on is too old to
    /// trust). Nothing was written: load again, reapply the change, retry.
    #[error("conflict at {key}: {detail}; load the state again and retry")]
    Conflict { key: String, detail: &'static str },

    /// Another process holds the lease and has not let it expire.
    #[error("the lease {key} is held by {holder} until {until}")]
    Held {
        key: String,
        holder: String,
        until: DateTime<Utc>,
    },

    /// A stored record cannot be used. It is never skipped silently: skipping the current
    /// record would roll the watermark back and archive a window twice.
    #[error("the state record {key} is corrupt: {reason}")]
    Corrupt { key: String, reason: String },

    /// The store failed; the outcome of a write that fails this way is unknown.
    #[error("state store error at {key}: {source}")]
    Store {
        key: String,
        #[source]
        source: object_store::Error,
    },

    /// The job name cannot be a single key segment (config validation normally stops these).
    #[error("`{job}` cannot name state: {reason}")]
    InvalidJob { job: String, reason: &'static str },
}

impl StateError {
    /// Whether loading again and retrying can succeed (the caller lost a race).
    pub fn is_conflict(&self) -> bool {
        matches!(self, StateError::Conflict { .. })
    }
}
