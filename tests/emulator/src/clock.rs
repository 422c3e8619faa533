//! The emulator's own clock: every time-based behaviour (task lifecycle, URL expiry, task lapse,
//! rate-limit windows, token `exp`/`nbf`/`iat`, the messages that "exist so far") reads it.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How the clock moves on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockMode {
    /// Stands still until [`EmulatorClock::advance`] or [`EmulatorClock::set`] moves it (tests).
    #[default]
    Manual,
    /// Follows real time from the start time on; `advance` and `set` shift it (demos, the binary).
    RealTime,
}

/// A shared, cheaply cloned handle on the emulator's clock.
#[derive(Debug, Clone)]
pub struct EmulatorClock {
    inner: Arc<Mutex<Reading>>,
}

#[derive(Debug)]
struct Reading {
    mode: ClockMode,
    /// The time shown at `since`.
    base: DateTime<Utc>,
    since: Instant,
}

impl EmulatorClock {
    /// A clock showing `start`, moving as `mode` says.
    pub fn new(mode: ClockMode, start: DateTime<Utc>) -> Self {
        let reading = Reading {
            mode,
            base: start,
            since: Instant::now(),
        };
        Self {
            inner: Arc::new(Mutex::new(reading)),
        }
    }

    /// The current emulator time.
    pub fn now(&self) -> DateTime<Utc> {
        let reading = self.lock();
        match reading.mode {
            ClockMode::Manual => reading.base,
            ClockMode::RealTime => {
                let elapsed = Duration::from_std(reading.since.elapsed()).unwrap_or(Duration::MAX);
                reading
                    .base
                    .checked_add_signed(elapsed)
                    .unwrap_or(reading.base)
            }
        }
    }

    /// Moves the clock forward (or back, for a negative duration) by `by`.
    pub fn advance(&self, by: Duration) {
        let mut reading = self.lock();
        reading.base = reading.base.checked_add_signed(by).unwrap_or(reading.base);
    }

    /// Sets the clock to `to`; a real-time clock goes on from there.
    pub fn set(&self, to: DateTime<Utc>) {
        let mut reading = self.lock();
        reading.base = to;
        reading.since = Instant::now();
    }

    /// How the clock moves on its own.
    pub fn mode(&self) -> ClockMode {
        self.lock().mode
    }

    fn lock(&self) -> MutexGuard<'_, Reading> {
        // A poisoned lock only means a panic elsewhere; the reading itself is always whole.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `t + d`, saturating at chrono's limits instead of overflowing (the clock can be set anywhere).
pub(crate) fn add(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    t.checked_add_signed(d).unwrap_or(if d < Duration::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start() -> DateTime<Utc> {
        "2025-01-01T00:00:00Z".parse().unwrap()
    }

    #[test]
    fn manual_clock_stands_still_until_moved() {
        let clock = EmulatorClock::new(ClockMode::Manual, start());
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), start());
        clock.advance(Duration::hours(25));
        assert_eq!(clock.now(), start() + Duration::hours(25));
        clock.set(start());
        assert_eq!(clock.now(), start());
    }

    #[test]
    fn real_time_clock_follows_real_time_with_an_offset() {
        let clock = EmulatorClock::new(ClockMode::RealTime, start());
        clock.advance(Duration::days(2));
        std::thread::sleep(std::time::Duration::from_millis(5));
        let now = clock.now();
        assert!(now > start() + Duration::days(2));
        assert!(now < start() + Duration::days(2) + Duration::seconds(5));
        assert_eq!(clock.mode(), ClockMode::RealTime);
    }

    #[test]
    fn adding_saturates_at_the_ends_of_time() {
        assert_eq!(
            add(DateTime::<Utc>::MAX_UTC, Duration::days(1)),
            DateTime::<Utc>::MAX_UTC
        );
        assert_eq!(
            add(DateTime::<Utc>::MIN_UTC, -Duration::days(1)),
            DateTime::<Utc>::MIN_UTC
        );
        assert_eq!(
            add(start(), Duration::hours(1)),
            start() + Duration::hours(1)
        );
    }
}
