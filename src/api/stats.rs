//! Counts of API requests by endpoint and answer, for the daemon's metrics. Kept here as plain
//! numbers so the client knows nothing of how they are exposed.
//!
//! Answers are counted by class, not by exact status: a closed set of labels can exist at 0
//! from start-up, so an alert on `rate()` of errors sees the very first one, and the number of
//! series stays bounded whatever a proxy in between answers. The exact status is in the log.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::Endpoint;
use super::limiter::Limiter;

/// The classes every endpoint's count exists for from the start.
pub const ANSWERS: [&str; 5] = ["2xx", "4xx", "429", "5xx", "transport"];

/// The class of an answer: `2xx`, `3xx`, `4xx` (but 429, counted apart as Stream's rate
/// limit), `5xx`, `other`, or `transport` when none came (refused, reset, timed out).
pub fn answer_class(status: Option<u16>) -> &'static str {
    match status {
        None => "transport",
        Some(429) => "429",
        Some(200..=299) => "2xx",
        Some(300..=399) => "3xx",
        Some(400..=499) => "4xx",
        Some(500..=599) => "5xx",
        Some(_) => "other",
    }
}

#[derive(Debug, Default)]
pub struct RequestStats {
    counts: Mutex<BTreeMap<(Endpoint, &'static str), u64>>,
}

impl RequestStats {
    pub fn record(&self, endpoint: Endpoint, status: Option<u16>) {
        *self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry((endpoint, answer_class(status)))
            .or_default() += 1;
    }

    /// Every (endpoint, answer class) seen so far with its count.
    pub fn snapshot(&self) -> Vec<(Endpoint, &'static str, u64)> {
        self.counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .map(|((e, a), n)| (*e, *a, *n))
            .collect()
    }
}

/// What a client has counted, readable apart from the client: the daemon's metrics endpoint
/// holds this while the runner owns the client, so telemetry needs nothing of the runner.
#[derive(Clone)]
pub struct ClientStats {
    pub(super) requests: Arc<RequestStats>,
    pub(super) limiter: Arc<Limiter>,
}

impl ClientStats {
    /// Requests sent so far: every (endpoint, answer class) seen with its count.
    pub fn requests(&self) -> Vec<(Endpoint, &'static str, u64)> {
        self.requests.snapshot()
    }

    /// Time spent waiting for rate-limit slots so far, per endpoint that ever waited.
    pub fn waited_by_endpoint(&self) -> Vec<(Endpoint, Duration)> {
        self.limiter.waited_by_endpoint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_counted_by_class() {
        let stats = RequestStats::default();
        for status in [Some(201), Some(200), Some(429), Some(404), Some(503), None] {
            stats.record(Endpoint::ExportChannels, status);
        }
        stats.record(Endpoint::GetTask, Some(502));
        assert_eq!(
            stats.snapshot(),
            vec![
                (Endpoint::ExportChannels, "2xx", 2),
                (Endpoint::ExportChannels, "429", 1),
                (Endpoint::ExportChannels, "4xx", 1),
                (Endpoint::ExportChannels, "5xx", 1),
                (Endpoint::ExportChannels, "transport", 1),
                (Endpoint::GetTask, "5xx", 1),
            ]
        );
    }

    #[test]
    fn every_class_an_alert_watches_is_in_the_closed_set() {
        for status in [Some(200), Some(429), Some(400), Some(500), None] {
            assert!(ANSWERS.contains(&answer_class(status)), "{status:?}");
        }
    }
}
