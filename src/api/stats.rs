//! Counts of API requests by endpoint and answer, for the daemon's metrics. Kept here as plain
//! numbers so the client knows nothing of how they are exposed.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use super::Endpoint;

/// An answer's HTTP status, or `transport` when none came (refused, reset, timed out).
pub type Answer = String;

#[derive(Debug, Default)]
pub struct RequestStats {
    counts: Mutex<BTreeMap<(Endpoint, Answer), u64>>,
}

impl RequestStats {
    pub fn record(&self, endpoint: Endpoint, status: Option<u16>) {
        let answer = status.map_or_else(|| "transport".to_owned(), |s| s.to_string());
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((endpoint, answer))
            .or_default() += 1;
    }

    /// Every (endpoint, answer) seen so far with its count.
    pub fn snapshot(&self) -> Vec<(Endpoint, Answer, u64)> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|((e, a), n)| (*e, a.clone(), *n))
            .collect()
    }
}
