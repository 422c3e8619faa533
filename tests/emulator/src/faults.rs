//! Injected faults, set at run time. Every random draw is seeded, so a test run is repeatable.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::endpoint::Endpoint;
use crate::rng::{hash, unit};

/// The fault switches of a running emulator (see [`Emulator::faults`](crate::Emulator::faults)).
///
/// Order of effect on an API request: the delay, then authentication, then an injected 429,
/// then the real rate limit, then an injected server error, then the handler. On a download
/// (`DownloadExport`) an injected 429 is answered S3-style as `503 SlowDown` and server errors
/// carry S3's XML body.
#[derive(Debug)]
pub struct Faults {
    seed: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    error_rates: HashMap<Endpoint, f64>,
    draws: HashMap<Endpoint, u64>,
    server_errors: HashMap<Endpoint, (u32, u16)>,
    rate_limited: HashMap<Endpoint, u32>,
    delays: HashMap<Endpoint, Duration>,
    cuts: Option<(u32, u64)>,
    cdn_cuts: Option<(u32, u64)>,
    failing_tasks: u32,
    expired_links: u32,
}

impl Faults {
    pub(crate) fn new(seed: u64) -> Self {
        Self {
            seed,
            state: Mutex::new(State::default()),
        }
    }

    /// Answers a seeded, deterministic fraction `rate` (0.0–1.0) of the requests to `endpoint`
    /// with 500 (code -1). The n-th request after the emulator started draws the same way on
    /// every run. A rate of 0 turns it off.
    pub fn set_error_rate(&self, endpoint: Endpoint, rate: f64) {
        let rate = if rate.is_finite() {
            rate.clamp(0.0, 1.0)
        } else {
            0.0
        };
        self.lock().error_rates.insert(endpoint, rate);
    }

    /// Answers the next `count` requests to `endpoint` with `status` (500–599; anything else is
    /// taken as 500). 500 carries Stream's JSON error body (code -1); other statuses carry an
    /// edge-proxy HTML page, as real gateways do.
    pub fn fail_next_requests(&self, endpoint: Endpoint, count: u32, status: u16) {
        let status = if (500..=599).contains(&status) {
            status
        } else {
            500
        };
        self.lock().server_errors.insert(endpoint, (count, status));
    }

    /// Answers the next `count` requests to `endpoint` with 429 (code 9, with `Retry-After`),
    /// whatever the real quota says.
    pub fn rate_limit_next(&self, endpoint: Endpoint, count: u32) {
        self.lock().rate_limited.insert(endpoint, count);
    }

    /// Delays every answer from `endpoint` by `delay` of real time (keep it small), after the
    /// request has been carried out; zero turns it off.
    pub fn set_delay(&self, endpoint: Endpoint, delay: Duration) {
        let mut state = self.lock();
        if delay.is_zero() {
            state.delays.remove(&endpoint);
        } else {
            state.delays.insert(endpoint, delay);
        }
    }

    /// Closes the connection of each of the next `count` downloads after `after_bytes` bytes of
    /// the body.
    pub fn cut_next_downloads(&self, count: u32, after_bytes: u64) {
        self.lock().cuts = (count > 0).then_some((count, after_bytes));
    }

    /// Closes the connection of each of the next `count` CDN files served after `after_bytes`
    /// bytes of the body (their `Content-Length` promised the whole file).
    pub fn cut_next_cdn_files(&self, count: u32, after_bytes: u64) {
        self.lock().cdn_cuts = (count > 0).then_some((count, after_bytes));
    }

    /// Makes the next `count` created tasks end `failed` (with an `error` object) instead of
    /// `completed`.
    pub fn fail_next_tasks(&self, count: u32) {
        self.lock().failing_tasks = count;
    }

    /// Answers the next `count` downloads with a valid signature as if their link had expired
    /// (403 `Request has expired`), as when a link waits past its lifetime before it is used.
    /// A fresh link from a status request works again.
    pub fn expire_next_links(&self, count: u32) {
        self.lock().expired_links = count;
    }

    /// Turns every fault off.
    pub fn clear(&self) {
        let mut state = self.lock();
        let draws = std::mem::take(&mut state.draws);
        *state = State {
            draws,
            ..State::default()
        };
    }

    /// The delay for `endpoint`, if any.
    pub(crate) fn delay(&self, endpoint: Endpoint) -> Option<Duration> {
        self.lock().delays.get(&endpoint).copied()
    }

    /// Takes a queued 429 for `endpoint`, if any.
    pub(crate) fn take_rate_limited(&self, endpoint: Endpoint) -> bool {
        let mut state = self.lock();
        match state.rate_limited.get_mut(&endpoint) {
            Some(n) if *n > 0 => {
                *n -= 1;
                true
            }
            _ => false,
        }
    }

    /// Takes a queued server error for `endpoint`, else draws against its error rate: the 5xx
    /// status to answer with, if any.
    pub(crate) fn take_server_error(&self, endpoint: Endpoint) -> Option<u16> {
        let mut state = self.lock();
        if let Some((n, status)) = state.server_errors.get_mut(&endpoint) {
            if *n > 0 {
                *n -= 1;
                return Some(*status);
            }
        }
        let rate = state.error_rates.get(&endpoint).copied().unwrap_or(0.0);
        let draw = state.draws.entry(endpoint).or_insert(0);
        *draw += 1;
        let roll = unit(hash(&[self.seed, 0xFA17, endpoint as u64, *draw]));
        (roll < rate).then_some(500)
    }

    /// Takes a queued download cut: the number of body bytes to send before closing.
    pub(crate) fn take_cut(&self) -> Option<u64> {
        let mut state = self.lock();
        let (count, after) = state.cuts?;
        state.cuts = (count > 1).then_some((count - 1, after));
        Some(after)
    }

    /// Takes a queued CDN cut: the number of body bytes to send before closing.
    pub(crate) fn take_cdn_cut(&self) -> Option<u64> {
        let mut state = self.lock();
        let (count, after) = state.cdn_cuts?;
        state.cdn_cuts = (count > 1).then_some((count - 1, after));
        Some(after)
    }

    /// Whether a task created now should fail.
    pub(crate) fn take_task_failure(&self) -> bool {
        let mut state = self.lock();
        if state.failing_tasks > 0 {
            state.failing_tasks -= 1;
            true
        } else {
            false
        }
    }

    /// Whether this download's link should count as expired.
    pub(crate) fn take_expired_link(&self) -> bool {
        let mut state = self.lock();
        if state.expired_links > 0 {
            state.expired_links -= 1;
            true
        } else {
            false
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queued_faults_are_used_up() {
        let faults = Faults::new(1);
        let ep = Endpoint::GetTask;
        faults.rate_limit_next(ep, 1);
        faults.fail_next_requests(ep, 2, 503);
        assert!(faults.take_rate_limited(ep));
        assert!(!faults.take_rate_limited(ep));
        assert_eq!(faults.take_server_error(ep), Some(503));
        assert_eq!(faults.take_server_error(ep), Some(503));
        assert_eq!(faults.take_server_error(ep), None);
        faults.cut_next_downloads(2, 10);
        assert_eq!(faults.take_cut(), Some(10));
        assert_eq!(faults.take_cut(), Some(10));
        assert_eq!(faults.take_cut(), None);
        faults.cut_next_cdn_files(1, 5);
        assert_eq!(faults.take_cut(), None, "a CDN cut is not a download's");
        assert_eq!(faults.take_cdn_cut(), Some(5));
        assert_eq!(faults.take_cdn_cut(), None);
        faults.fail_next_tasks(1);
        assert!(faults.take_task_failure());
        assert!(!faults.take_task_failure());
        faults.expire_next_links(1);
        assert!(faults.take_expired_link());
        assert!(!faults.take_expired_link());
    }

    #[test]
    fn error_rate_is_seeded_and_roughly_right() {
        let run = || {
            let faults = Faults::new(7);
            faults.set_error_rate(Endpoint::GetTask, 0.25);
            (0..1000)
                .map(|_| faults.take_server_error(Endpoint::GetTask).is_some())
                .collect::<Vec<_>>()
        };
        let first = run();
        assert_eq!(first, run());
        let failures = first.iter().filter(|f| **f).count();
        assert!((180..320).contains(&failures), "{failures}");
    }
}
