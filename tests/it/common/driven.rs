//! A clock the test drives: the emulator's clock seen as chatvault's, where sleeping waits
//! until the test has moved the clock far enough. Every sleep is registered while it waits
//! (its deadline and the duration asked for), so a driver can jump straight to the next
//! deadline instead of stepping through time it has no use for.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chatvault::clock::{Clock, Sleep};
use chatvault_emulator::EmulatorClock;
use chrono::{DateTime, TimeDelta, Utc};
use tokio::sync::Notify;

/// A sleep in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pending {
    pub deadline: DateTime<Utc>,
    /// The duration the sleeper asked for.
    pub asked: Duration,
}

/// The emulator's clock; sleeping waits until the driver has moved it far enough. Cheap to
/// clone; clones share the clock and the sleepers.
#[derive(Clone)]
pub struct DrivenClock {
    inner: Arc<Inner>,
}

struct Inner {
    clock: EmulatorClock,
    sleepers: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    /// Bumped whenever a sleep starts or ends.
    generation: AtomicU64,
    /// Woken when the clock moves.
    moved: Notify,
    /// Woken when a sleep starts or ends.
    changed: Notify,
}

impl DrivenClock {
    pub fn new(clock: EmulatorClock) -> DrivenClock {
        DrivenClock {
            inner: Arc::new(Inner {
                clock,
                sleepers: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                generation: AtomicU64::new(0),
                moved: Notify::new(),
                changed: Notify::new(),
            }),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    /// Moves the clock forward by `by` and wakes the sleepers that are due.
    pub fn advance(&self, by: TimeDelta) {
        self.inner.clock.advance(by);
        self.inner.moved.notify_waiters();
    }

    /// Moves the clock forward to `to` (never back) and wakes the sleepers that are due.
    pub fn advance_to(&self, to: DateTime<Utc>) {
        if self.inner.clock.now() < to {
            self.inner.clock.set(to);
        }
        self.inner.moved.notify_waiters();
    }

    /// The sleeps in progress.
    pub fn pending(&self) -> Vec<Pending> {
        self.lock().values().copied().collect()
    }

    /// Counts sleeps started and ended; see [`DrivenClock::wait_for_change`].
    pub fn generation(&self) -> u64 {
        self.inner.generation.load(Ordering::Acquire)
    }

    /// Waits until a sleep started or ended since `seen` (a [`DrivenClock::generation`]), or
    /// `timeout` of real time passed.
    pub async fn wait_for_change(&self, seen: u64, timeout: Duration) {
        let notified = self.inner.changed.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if self.generation() != seen {
            return;
        }
        let _ = tokio::time::timeout(timeout, notified).await;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, Pending>> {
        self.inner
            .sleepers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self) {
        self.inner.generation.fetch_add(1, Ordering::AcqRel);
        self.inner.changed.notify_waiters();
    }
}

/// Ends a sleep's registration however the sleep ends (done, or dropped unfinished).
struct Registered {
    clock: DrivenClock,
    id: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.clock.lock().remove(&self.id);
        self.clock.bump();
    }
}

impl Clock for DrivenClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    fn sleep(&self, duration: Duration) -> Sleep {
        let deadline = self.now() + TimeDelta::from_std(duration).unwrap_or(TimeDelta::MAX);
        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(
            id,
            Pending {
                deadline,
                asked: duration,
            },
        );
        self.bump();
        let registered = Registered {
            clock: self.clone(),
            id,
        };
        Box::pin(async move {
            let clock = &registered.clock;
            loop {
                let moved = clock.inner.moved.notified();
                tokio::pin!(moved);
                moved.as_mut().enable();
                if clock.now() >= deadline {
                    break;
                }
                // The timeout covers a clock moved behind this module's back
                // (`EmulatorClock::advance` called directly).
                let _ = tokio::time::timeout(Duration::from_millis(5), moved).await;
            }
            drop(registered);
        })
    }
}
