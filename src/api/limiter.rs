//! Keeps each endpoint under Stream's rate limit, so a run with thousands of channels never
//! meets a 429.
//!
//! Requests of one endpoint are spaced evenly at the per-minute limit (60/min → one a
//! second), which also stays under Stream's per-second burst (limit / 30). The limit starts
//! at the documented default and follows `X-RateLimit-Limit`; `X-RateLimit-Remaining: 0` or a
//! 429 holds the endpoint until `X-RateLimit-Reset` (or `Retry-After`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use reqwest::header::HeaderMap;

use super::endpoint::Endpoint;
use crate::clock::SharedClock;

#[derive(Debug, Clone, Copy)]
struct Slot {
    per_minute: u32,
    next: DateTime<Utc>,
    held_until: Option<DateTime<Utc>>,
}

/// The longest an answer's headers may hold an endpoint. Stream's windows last a minute; a
/// reset or `Retry-After` far beyond that is a mistake (a reset in milliseconds, a confused
/// proxy), and believing it would stall the job for years or overflow the time arithmetic.
pub const MAX_HOLD: TimeDelta = TimeDelta::minutes(15);

pub struct Limiter {
    clock: SharedClock,
    slots: Mutex<HashMap<Endpoint, Slot>>,
    waited: Mutex<BTreeMap<Endpoint, Duration>>,
}

/// What the `X-RateLimit-*` headers of one response said.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quota {
    pub limit: Option<u32>,
    pub remaining: Option<u32>,
    pub reset: Option<DateTime<Utc>>,
}

impl Quota {
    /// Parses the headers as the Python SDKs do: comma-separated, first non-empty part.
    pub fn from_headers(headers: &HeaderMap) -> Quota {
        let number = |name: &str| -> Option<i64> {
            headers
                .get(name)?
                .to_str()
                .ok()?
                .split(',')
                .map(str::trim)
                .find(|p| !p.is_empty())?
                .parse()
                .ok()
        };
        Quota {
            limit: number("x-ratelimit-limit").and_then(|n| u32::try_from(n).ok()),
            remaining: number("x-ratelimit-remaining").and_then(|n| u32::try_from(n).ok()),
            reset: number("x-ratelimit-reset").and_then(|s| DateTime::from_timestamp(s, 0)),
        }
    }
}

impl Limiter {
    pub fn new(clock: SharedClock) -> Self {
        Limiter {
            clock,
            slots: Mutex::new(HashMap::new()),
            waited: Mutex::new(BTreeMap::new()),
        }
    }

    fn with_slot<R>(&self, endpoint: Endpoint, f: impl FnOnce(&mut Slot, DateTime<Utc>) -> R) -> R {
        let now = self.clock.now();
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = slots.entry(endpoint).or_insert(Slot {
            per_minute: endpoint.default_limit(),
            next: now,
            held_until: None,
        });
        f(slot, now)
    }

    /// Waits for this endpoint's next free slot. Slots are handed out in call order, so
    /// concurrent callers queue rather than race.
    pub async fn acquire(&self, endpoint: Endpoint) {
        let wait = self.with_slot(endpoint, |slot, now| {
            let at = slot.next.max(now).max(slot.held_until.unwrap_or(now));
            slot.next = at + spacing(slot.per_minute);
            (at - now).to_std().unwrap_or_default()
        });
        if !wait.is_zero() {
            *self
                .waited
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(endpoint)
                .or_default() += wait;
            self.clock.sleep(wait).await;
        }
    }

    /// Learns from a response's headers.
    pub fn observe(&self, endpoint: Endpoint, quota: Quota) {
        self.with_slot(endpoint, |slot, now| {
            if let Some(limit) = quota.limit.filter(|l| *l > 0) {
                slot.per_minute = limit;
            }
            if quota.remaining == Some(0) {
                let until = quota.reset.unwrap_or(now + TimeDelta::minutes(1));
                slot.held_until = Some(until.min(now + MAX_HOLD));
            }
        });
    }

    /// After a 429: hold the endpoint until Stream said, or for a minute (its window).
    pub fn hold(&self, endpoint: Endpoint, quota: Quota, retry_after: Option<Duration>) {
        self.with_slot(endpoint, |slot, now| {
            let until = retry_after
                .map(|d| TimeDelta::from_std(d).unwrap_or(MAX_HOLD).min(MAX_HOLD))
                .map(|d| now + d)
                .or(quota.reset.filter(|r| *r > now))
                .unwrap_or(now + TimeDelta::minutes(1));
            slot.held_until = Some(until.min(now + MAX_HOLD));
        });
    }

    /// Time spent waiting for slots so far, all endpoints together.
    pub fn waited(&self) -> Duration {
        self.waited_by_endpoint().into_iter().map(|(_, d)| d).sum()
    }

    /// Time spent waiting for slots so far, per endpoint that ever waited.
    pub fn waited_by_endpoint(&self) -> Vec<(Endpoint, Duration)> {
        self.waited
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(e, d)| (*e, *d))
            .collect()
    }
}

fn spacing(per_minute: u32) -> TimeDelta {
    TimeDelta::milliseconds(60_000 / i64::from(per_minute.max(1)))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use reqwest::header::HeaderValue;

    use super::*;
    use crate::clock::{Clock, ManualClock};

    fn start() -> DateTime<Utc> {
        DateTime::from_timestamp(1_700_000_000, 0).expect("time")
    }

    #[tokio::test]
    async fn requests_are_spaced_at_the_per_minute_limit() {
        let clock = ManualClock::new(start());
        let limiter = Limiter::new(Arc::new(clock.clone()));
        for _ in 0..61 {
            limiter.acquire(Endpoint::ExportChannels).await;
        }
        // 61 requests at 60/min: the 61st goes out a minute after the first.
        assert_eq!(clock.now() - start(), TimeDelta::seconds(60));
    }

    #[tokio::test]
    async fn an_exhausted_quota_holds_until_reset() {
        let clock = ManualClock::new(start());
        let limiter = Limiter::new(Arc::new(clock.clone()));
        limiter.acquire(Endpoint::GetTask).await;
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-limit", HeaderValue::from_static("1000"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("0"));
        let reset = (start() + TimeDelta::seconds(42)).timestamp().to_string();
        headers.insert(
            "x-ratelimit-reset",
            HeaderValue::from_str(&reset).expect("header"),
        );
        limiter.observe(Endpoint::GetTask, Quota::from_headers(&headers));
        limiter.acquire(Endpoint::GetTask).await;
        assert_eq!(clock.now() - start(), TimeDelta::seconds(42));
    }

    #[tokio::test]
    async fn absurd_resets_and_retry_afters_hold_at_most_max_hold() {
        // Fuzzing found a 2-hour `Retry-After` obeyed; `Retry-After: 99999999999999`
        // overflowed (a panic), and a reset millennia ahead stalled the endpoint until then.
        let clock = ManualClock::new(start());
        let limiter = Limiter::new(Arc::new(clock.clone()));
        let far = Quota {
            limit: None,
            remaining: Some(0),
            reset: DateTime::from_timestamp(8_210_266_876_799, 0),
        };
        limiter.observe(Endpoint::GetTask, far);
        limiter.acquire(Endpoint::GetTask).await;
        limiter.acquire(Endpoint::GetTask).await;
        assert!(clock.now() - start() <= MAX_HOLD + TimeDelta::seconds(1));

        let clock = ManualClock::new(start());
        let limiter = Limiter::new(Arc::new(clock.clone()));
        for secs in [99_999_999_999_999, u64::MAX] {
            limiter.hold(
                Endpoint::ExportChannels,
                Quota::default(),
                Some(Duration::from_secs(secs)),
            );
        }
        limiter.acquire(Endpoint::ExportChannels).await;
        assert_eq!(clock.now() - start(), MAX_HOLD);
    }

    #[test]
    fn headers_are_read_like_the_sdks_do() {
        let mut headers = HeaderMap::new();
        headers.insert("X-RateLimit-Limit", HeaderValue::from_static(", 60, 60"));
        headers.insert("x-ratelimit-remaining", HeaderValue::from_static("junk"));
        let q = Quota::from_headers(&headers);
        assert_eq!((q.limit, q.remaining, q.reset), (Some(60), None, None));
    }
}
