//! Stopping runs on SIGTERM or SIGINT, for the daemon and `run --once` alike: first runs get a
//! while (to finish, or to reach their next recorded point), then they are stopped where they
//! are and get a little longer to hand their jobs back; what still has not stopped is
//! abandoned (its leases run out on their own).

use std::time::Duration;

use super::Runner;

/// How a shutdown goes.
#[derive(Debug, Clone, Copy)]
pub struct Shutdown {
    /// Runs stop at their next recorded point at once (`run --once`, whose pod is killed
    /// soon), instead of being let finish (the daemon).
    pub at_recorded_points: bool,
    /// How long runs get before they are stopped where they are.
    pub soft: Duration,
    /// How long stopped runs then get to clear their claims and release their leases.
    pub hard: Duration,
}

impl Runner {
    /// Drives `work` (the runs going on) through a shutdown; `now` cuts the soft part short (a
    /// second signal). `None`: the runs did not stop in time and are to be abandoned.
    pub async fn shut_down<F: Future + Unpin>(
        &self,
        work: &mut F,
        now: impl Future<Output = ()>,
        how: Shutdown,
    ) -> Option<F::Output> {
        if how.at_recorded_points {
            tracing::warn!(
                grace = ?(how.soft + how.hard),
                "stop requested: starting nothing new; runs stop at their next recorded point"
            );
            self.drain();
        } else {
            tracing::info!(grace = ?how.soft, "stopping: letting running jobs finish");
        }
        tokio::select! {
            out = &mut *work => return Some(out),
            () = self.clock.sleep(how.soft) => {}
            () = now => {}
        }
        tracing::warn!(
            "interrupting running jobs where they are; their export tasks are recorded and \
             resume on the next run"
        );
        self.interrupt();
        tokio::select! {
            out = work => Some(out),
            () = self.clock.sleep(how.hard) => {
                // Interrupted runs still clear their claims and release their leases; with a
                // state store that does not answer, they would never get done.
                tracing::warn!(
                    wait = ?how.hard,
                    "runs did not stop in time (is the state store answering?); abandoning \
                     them: their leases run out on their own"
                );
                None
            }
        }
    }
}
