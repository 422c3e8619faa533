//! What `/healthz` and `/readyz` answer.
//!
//! Live: the scheduling loop woke up recently (it wakes at least once a minute), so the
//! process is not wedged; a restart would not help otherwise. Ready: start-up read every job's
//! ledger (so the state store is reachable and the metrics are real) and no stop was asked
//! for; a load balancer or rollout should not count on a process that is draining.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use crate::runner::daemon::Heartbeat;

/// Longer than the loop's longest sleep (60 s) with room for a busy machine.
const STALL: Duration = Duration::from_secs(180);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Readiness {
    Starting,
    Ready,
    /// Start-up could not read the state store; it keeps trying.
    Unready(String),
    Stopping,
}

#[derive(Debug)]
pub struct Health {
    heartbeat: Heartbeat,
    readiness: Mutex<Readiness>,
}

impl Health {
    pub fn new(heartbeat: Heartbeat) -> Health {
        Health {
            heartbeat,
            readiness: Mutex::new(Readiness::Starting),
        }
    }

    pub fn set_ready(&self) {
        self.set(Readiness::Ready);
    }

    pub fn set_unready(&self, reason: String) {
        self.set(Readiness::Unready(reason));
    }

    /// Final: once stopping, never ready again.
    pub fn set_stopping(&self) {
        self.set(Readiness::Stopping);
    }

    fn set(&self, to: Readiness) {
        let mut now = self
            .readiness
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *now != Readiness::Stopping {
            *now = to;
        }
    }

    /// `Err` says why not.
    pub fn live(&self) -> Result<(), String> {
        liveness(self.heartbeat.age())
    }

    pub fn ready(&self) -> Result<(), String> {
        match &*self
            .readiness
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            Readiness::Ready => Ok(()),
            Readiness::Starting => Err("starting: reading the job ledgers".into()),
            Readiness::Unready(reason) => Err(format!("not ready: {reason}")),
            Readiness::Stopping => Err("stopping: finishing running jobs".into()),
        }
    }
}

/// Live unless the scheduling loop last woke `age` ago, longer than it ever sleeps.
fn liveness(age: Duration) -> Result<(), String> {
    if age > STALL {
        return Err(format!(
            "the scheduling loop has not woken for {}s",
            age.as_secs()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn readiness_goes_starting_ready_stopping_and_never_back() {
        let health = Health::new(Heartbeat::default());
        assert!(health.ready().unwrap_err().starts_with("starting"));
        health.set_unready("state store unreachable".into());
        assert!(health.ready().unwrap_err().contains("unreachable"));
        health.set_ready();
        assert_eq!(health.ready(), Ok(()));
        health.set_stopping();
        health.set_ready();
        assert!(health.ready().unwrap_err().starts_with("stopping"));
        assert_eq!(health.live(), Ok(()));
    }

    #[test]
    fn live_until_the_scheduling_loop_stops_waking_for_three_minutes() {
        assert_eq!(
            liveness(Duration::from_secs(61)),
            Ok(()),
            "past its longest sleep"
        );
        assert_eq!(liveness(Duration::from_secs(180)), Ok(()));
        let why = liveness(Duration::from_secs(200)).unwrap_err();
        assert_eq!(why, "the scheduling loop has not woken for 200s");
    }
}
