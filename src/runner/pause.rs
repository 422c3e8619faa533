//! Named points in a run where it can be told to stop and wait to be killed, for the crash
//! tests: `CHATVAULT_PAUSE_AT=<phase>` makes a real process freeze there after announcing it,
//! so a test can `kill -9` it at exactly that phase and check what a restart does. Each point
//! is one line where it sits; what it takes to freeze lives here.

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use super::Runner;
use super::events::{Event, Phase};

impl Runner {
    /// Freezes here if told to, after saying so (crash tests kill the process then).
    pub(super) async fn pause_point(&self, job: &str, phase: Phase) {
        if self.options.pause_at == Some(phase) {
            self.report(&Event::Paused {
                job: job.to_owned(),
                phase,
            });
            std::future::pending::<()>().await;
        }
    }

    /// Runs `transfer`; told to pause at [`Phase::Transfer`], freezes once part of the archive
    /// is out (`stored` bytes), leaving the upload unfinished.
    pub(super) async fn pause_in_transfer<T>(
        &self,
        job: &str,
        stored: &AtomicU64,
        transfer: impl Future<Output = T>,
    ) -> T {
        if self.options.pause_at != Some(Phase::Transfer) {
            return transfer.await;
        }
        let mut transfer = pin!(transfer);
        loop {
            tokio::select! {
                result = &mut transfer => return result,
                () = tokio::time::sleep(Duration::from_millis(5)) => {
                    if stored.load(Ordering::Relaxed) > 0 {
                        self.pause_point(job, Phase::Transfer).await;
                    }
                }
            }
        }
    }
}
