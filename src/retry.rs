//! Trying again what failed for a moment: one policy for API requests, notification
//! deliveries and transfers.
//!
//! Waits grow exponentially and are jittered: each is a random time between half and all of
//! `base · 2^(n-1)` (capped). Without the jitter, replicas that hit the same outage (a Stream
//! incident, an S3 hiccup, a receiver restarting) would all retry in step and meet the
//! recovering service as one burst; the random half spreads them out, the fixed half still
//! gives the service a moment. Waits are taken on the injected clock, so tests move time
//! instead of waiting for it.

use std::future::Future;
use std::time::Duration;

use rand::RngExt as _;

use crate::clock::Clock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// No new attempt starts after this much time since the first (`None`: no bound).
    pub max_elapsed: Option<Duration>,
    /// The ceiling of the first wait; it doubles for each later one.
    pub base: Duration,
    /// No wait's ceiling grows past this.
    pub cap: Duration,
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Try again after the backoff, while attempts and time are left.
    Retry,
    /// Try again without the backoff: something else already waits (a rate limiter holding
    /// the endpoint until the server's reset).
    RetryNow,
    /// Not worth trying again: the error stands.
    Stop,
}

/// Where a failed attempt stands, for the judge of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    /// Counting from 1.
    pub number: u32,
    /// No attempt follows this one, whatever the judgement (attempts or time used up).
    pub last: bool,
}

/// Why [`RetryPolicy::run`] gave up.
#[derive(Debug)]
pub enum GaveUp<E> {
    /// The error was judged not worth another try.
    Stopped(E),
    /// Attempts or time ran out; the last attempt's error.
    Exhausted {
        last: E,
        attempts: u32,
        elapsed: Duration,
    },
}

impl<E> GaveUp<E> {
    /// The last attempt's error, however it ended.
    pub fn into_last(self) -> E {
        match self {
            GaveUp::Stopped(e) | GaveUp::Exhausted { last: e, .. } => e,
        }
    }
}

impl RetryPolicy {
    /// `max_attempts` in all, waits from `base` doubling up to `cap`, no bound in time.
    pub const fn new(max_attempts: u32, base: Duration, cap: Duration) -> Self {
        RetryPolicy {
            max_attempts,
            max_elapsed: None,
            base,
            cap,
        }
    }

    /// No new attempt starts after `max` since the first.
    pub const fn within(mut self, max: Duration) -> Self {
        self.max_elapsed = Some(max);
        self
    }

    /// The wait after failed attempt `attempt` (counting from 1).
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(20))
            .min(self.cap);
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(rand::rng().random_range(millis / 2..=millis))
    }

    /// Runs `attempt` until it succeeds, `judge` says stop, or attempts or time run out,
    /// waiting the backoff on `clock` between attempts.
    pub async fn run<T, E, F, Fut>(
        &self,
        clock: &dyn Clock,
        mut attempt: F,
        mut judge: impl FnMut(&E, Attempt) -> Next,
    ) -> Result<T, GaveUp<E>>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let started = clock.now();
        let mut number = 0;
        loop {
            number += 1;
            let error = match attempt().await {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let elapsed = (clock.now() - started).to_std().unwrap_or_default();
            let last =
                number >= self.max_attempts || self.max_elapsed.is_some_and(|max| elapsed >= max);
            match judge(&error, Attempt { number, last }) {
                Next::Stop => return Err(GaveUp::Stopped(error)),
                _ if last => {
                    return Err(GaveUp::Exhausted {
                        last: error,
                        attempts: number,
                        elapsed,
                    });
                }
                Next::Retry => clock.sleep(self.backoff(number)).await,
                Next::RetryNow => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::clock::ManualClock;

    #[test]
    fn backoff_grows_and_stays_under_the_cap() {
        let p = RetryPolicy::new(6, Duration::from_millis(500), Duration::from_secs(30));
        for attempt in 1..40 {
            let d = p.backoff(attempt);
            assert!(d <= p.cap, "{attempt}: {d:?}");
        }
        assert!(p.backoff(1) <= Duration::from_millis(500));
        assert!(p.backoff(6) >= Duration::from_secs(8));
        let none = RetryPolicy::new(3, Duration::ZERO, Duration::ZERO);
        assert_eq!(none.backoff(1), Duration::ZERO);
    }

    #[tokio::test]
    async fn attempts_stop_at_the_limit_or_at_the_judgement_and_waits_are_on_the_clock() {
        let clock = Arc::new(ManualClock::new(
            Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
        ));
        let started = clock.now();
        let policy = RetryPolicy::new(3, Duration::from_secs(1), Duration::from_secs(2));
        let mut tries = 0;
        let mut judged = Vec::new();
        let result: Result<(), _> = policy
            .run(
                clock.as_ref(),
                || {
                    tries += 1;
                    std::future::ready(Err(tries))
                },
                |_, at| {
                    judged.push(at);
                    Next::Retry
                },
            )
            .await;
        assert!(matches!(
            result,
            Err(GaveUp::Exhausted {
                last: 3,
                attempts: 3,
                ..
            })
        ));
        assert_eq!(
            judged.iter().map(|a| a.last).collect::<Vec<_>>(),
            [false, false, true]
        );
        let waited = (clock.now() - started).to_std().unwrap();
        assert!(
            waited >= Duration::from_millis(1500) && waited <= Duration::from_secs(3),
            "{waited:?}"
        );

        let result: Result<(), _> = policy
            .run(
                clock.as_ref(),
                || std::future::ready(Err("no")),
                |_, _| Next::Stop,
            )
            .await;
        assert!(matches!(result, Err(GaveUp::Stopped("no"))));
    }
}
