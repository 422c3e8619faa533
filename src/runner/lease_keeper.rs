//! Keeps a tick's lease alive while its run goes on, and says when it was lost.
//!
//! Renewal is checked on real time (every second) against the injected clock's time, so a
//! test clock that jumps hours renews at once instead of spinning, and a real clock renews
//! once a third of the TTL is used.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::TimeDelta;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::Instrument as _;

use crate::clock::SharedClock;
use crate::state::{Lease, Leases, StateError};

const CHECK_EVERY: Duration = Duration::from_secs(1);

pub struct LeaseKeeper {
    leases: Leases,
    current: Arc<Mutex<Lease>>,
    lost: watch::Receiver<bool>,
    task: JoinHandle<()>,
}

impl LeaseKeeper {
    pub fn start(leases: Leases, lease: Lease, ttl: Duration, clock: SharedClock) -> LeaseKeeper {
        let current = Arc::new(Mutex::new(lease));
        let (lost_tx, lost) = watch::channel(false);
        // In the run's span: its lease trouble is logged with the run's fields.
        let task = tokio::spawn(
            keep(leases.clone(), current.clone(), ttl, clock, lost_tx).in_current_span(),
        );
        LeaseKeeper {
            leases,
            current,
            lost,
            task,
        }
    }

    /// Resolves when the lease was lost (taken over, or not renewable before it expired).
    pub async fn lost(&mut self) {
        if self.lost.wait_for(|lost| *lost).await.is_err() {
            // The keeper ended without losing the lease: never resolve.
            std::future::pending::<()>().await;
        }
    }

    /// Stops renewing and frees the lease for the next tick or replica.
    pub async fn release(self) {
        self.task.abort();
        let lease = self
            .current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Err(e) = self.leases.release(lease).await {
            tracing::warn!(error = %e, "could not release the lease; it expires on its own");
        }
    }
}

impl Drop for LeaseKeeper {
    /// A run dropped before it released (a timeout, an abort) must stop renewing, or its
    /// lease would outlive it and keep every other replica out.
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn keep(
    leases: Leases,
    current: Arc<Mutex<Lease>>,
    ttl: Duration,
    clock: SharedClock,
    lost: watch::Sender<bool>,
) {
    let renew_at_left = TimeDelta::from_std(ttl * 2 / 3).unwrap_or(TimeDelta::MAX);
    loop {
        tokio::time::sleep(CHECK_EVERY).await;
        let lease = current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let now = clock.now();
        if lease.expires_at() - now > renew_at_left {
            continue;
        }
        match leases.renew(&lease, ttl).await {
            Ok(renewed) => {
                *current.lock().unwrap_or_else(PoisonError::into_inner) = renewed;
            }
            // The store did not answer: try again until the lease runs out.
            Err(e @ StateError::Store { .. }) if !lease.is_expired(clock.now()) => {
                tracing::warn!(error = %e, "could not renew the lease; retrying");
            }
            Err(e) => {
                tracing::error!(error = %e, "lost the lease");
                let _ = lost.send(true);
                return;
            }
        }
    }
}
