//! How a tick's run ended. Its own file because the run (`tick`), what it reports (`events`)
//! and what it remembers (`recovery`) all speak of it, and none of them should lean on another
//! for it.

/// How a tick's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TickOutcome {
    /// Every window is archived and the watermark moved.
    Done { archives: u32, bytes_stored: u64 },
    /// The ledger says an earlier run (maybe another replica's) finished this tick.
    AlreadyDone,
    /// Another process is running this job; it stays out.
    Busy { holder: String },
    /// Something failed: the watermark stays, the next run covers the gap.
    Failed { error: String },
    /// Shutdown stopped it; the next run resumes its recorded tasks.
    Interrupted,
}

impl TickOutcome {
    /// The run did not finish its tick: a failure, or a shutdown that cut it short.
    pub fn is_failure(&self) -> bool {
        matches!(self, TickOutcome::Failed { .. } | TickOutcome::Interrupted)
    }

    /// Later ticks of the job may run after this one.
    pub(super) fn lets_later_ticks_run(&self) -> bool {
        matches!(self, TickOutcome::Done { .. } | TickOutcome::AlreadyDone)
    }
}
