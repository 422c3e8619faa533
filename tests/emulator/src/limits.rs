//! Per-endpoint rate limits over fixed one-minute windows of the emulator clock (windows start on
//! whole minutes), with an optional per-second burst limit of `limit / 30`.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};

use crate::config::RateLimits;
use crate::endpoint::Endpoint;

/// What the `X-RateLimit-*` headers report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quota {
    pub limit: u32,
    pub remaining: u32,
    /// Unix seconds (emulator clock) when the window resets.
    pub reset: i64,
}

/// The answer to "may this request go ahead?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Allowed(Quota),
    /// Refused; retry after this many seconds.
    Limited(Quota, i64),
}

#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    minute: i64,
    in_minute: u32,
    second: i64,
    in_second: u32,
}

#[derive(Debug)]
pub(crate) struct RateLimiter {
    limits: RateLimits,
    counters: Mutex<HashMap<Endpoint, Counters>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        Self {
            limits,
            counters: Mutex::new(HashMap::new()),
        }
    }

    /// The quota of `endpoint` at `now`, without using any of it. `None` for unlimited endpoints.
    pub fn peek(&self, endpoint: Endpoint, now: DateTime<Utc>) -> Option<Quota> {
        let limit = self.limits.per_minute(endpoint)?;
        let counters = self.current(endpoint, now);
        Some(minute_quota(limit, &counters))
    }

    /// Uses one request of `endpoint`'s quota at `now`, or refuses. `None` for unlimited endpoints.
    pub fn acquire(&self, endpoint: Endpoint, now: DateTime<Utc>) -> Option<Verdict> {
        let limit = self.limits.per_minute(endpoint)?;
        let mut all = self.lock();
        let counters = all.entry(endpoint).or_default();
        roll(counters, now);
        let secs = now.timestamp();
        if counters.in_minute >= limit {
            let quota = minute_quota(limit, counters);
            return Some(Verdict::Limited(quota, (quota.reset - secs).max(1)));
        }
        let burst = (limit / 30).max(1);
        if self.limits.burst && counters.in_second >= burst {
            let quota = Quota {
                limit: burst,
                remaining: 0,
                reset: counters.second + 1,
            };
            return Some(Verdict::Limited(quota, 1));
        }
        counters.in_minute += 1;
        counters.in_second += 1;
        Some(Verdict::Allowed(minute_quota(limit, counters)))
    }

    fn current(&self, endpoint: Endpoint, now: DateTime<Utc>) -> Counters {
        let mut counters = self.lock().get(&endpoint).copied().unwrap_or_default();
        roll(&mut counters, now);
        counters
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Endpoint, Counters>> {
        self.counters.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Starts new windows when `now` has left the current ones (or gone back before them).
fn roll(counters: &mut Counters, now: DateTime<Utc>) {
    let secs = now.timestamp();
    let minute = secs.div_euclid(60) * 60;
    if counters.minute != minute {
        counters.minute = minute;
        counters.in_minute = 0;
    }
    if counters.second != secs {
        counters.second = secs;
        counters.in_second = 0;
    }
}

fn minute_quota(limit: u32, counters: &Counters) -> Quota {
    Quota {
        limit,
        remaining: limit.saturating_sub(counters.in_minute),
        reset: counters.minute + 60,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;

    fn t0() -> DateTime<Utc> {
        "2025-01-01T00:00:10Z".parse().unwrap()
    }

    fn limits(burst: bool) -> RateLimits {
        RateLimits {
            export_channels: 3,
            burst,
            ..RateLimits::default()
        }
    }

    #[test]
    fn minute_window_counts_down_and_resets() {
        let limiter = RateLimiter::new(limits(false));
        let ep = Endpoint::ExportChannels;
        for remaining in [2, 1, 0] {
            let Some(Verdict::Allowed(q)) = limiter.acquire(ep, t0()) else {
                panic!()
            };
            assert_eq!(q.remaining, remaining);
            assert_eq!(q.reset, t0().timestamp() - 10 + 60);
        }
        assert_eq!(
            limiter.acquire(ep, t0()),
            Some(Verdict::Limited(
                Quota {
                    limit: 3,
                    remaining: 0,
                    reset: t0().timestamp() + 50
                },
                50
            ))
        );
        assert_eq!(
            limiter
                .peek(ep, t0() + Duration::seconds(50))
                .unwrap()
                .remaining,
            3
        );
        assert!(limiter.peek(Endpoint::DownloadExport, t0()).is_none());
    }

    #[test]
    fn burst_limit_runs_on_the_emulator_clock() {
        let limiter = RateLimiter::new(RateLimits {
            export_channels: 60,
            ..limits(true)
        });
        let ep = Endpoint::ExportChannels;
        assert!(matches!(
            limiter.acquire(ep, t0()),
            Some(Verdict::Allowed(_))
        ));
        assert!(matches!(
            limiter.acquire(ep, t0()),
            Some(Verdict::Allowed(_))
        ));
        assert!(matches!(
            limiter.acquire(ep, t0()),
            Some(Verdict::Limited(_, 1))
        ));
        let next = t0() + Duration::seconds(1);
        assert!(matches!(
            limiter.acquire(ep, next),
            Some(Verdict::Allowed(_))
        ));
    }
}
