//! What a run tells the outside while it works: every state change of a tick and of its
//! batches, once each (never once per poll). The command line turns them into progress bars
//! or log lines; tests collect them.

use chrono::{DateTime, Utc};

use super::pause::Phase;
use crate::state::ExportKind;

/// One batch: an export request and the archive it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRef {
    pub job: String,
    pub tick: DateTime<Utc>,
    pub kind: ExportKind,
    pub batch: u32,
    /// The archive's key below the destination.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    TickStarted {
        job: String,
        tick: DateTime<Utc>,
        windows: usize,
        batches: usize,
    },
    /// Its manifest exists: archived by an earlier run.
    AlreadyArchived(BatchRef),
    Created {
        batch: BatchRef,
        task_id: String,
    },
    /// A task recorded by an earlier run is polled again instead of created anew.
    Resumed {
        batch: BatchRef,
        task_id: String,
    },
    /// The task's file is ready; the transfer starts.
    Exported {
        batch: BatchRef,
        task_id: String,
    },
    /// Bytes stored so far (sent as parts go out).
    Transferring {
        batch: BatchRef,
        bytes_stored: u64,
    },
    Archived {
        batch: BatchRef,
        bytes_source: u64,
        bytes_stored: u64,
    },
    BatchFailed {
        batch: BatchRef,
        error: String,
    },
    /// A recorded task is close to (or past) Stream's 60-day limit.
    LapseRisk {
        batch: BatchRef,
        task_id: String,
        created_at: DateTime<Utc>,
        days_left: i64,
    },
    /// A recorded task lapsed: its file is gone, so the batch is exported again.
    Lapsed {
        batch: BatchRef,
        task_id: String,
    },
    /// `CHATVAULT_PAUSE_AT` stopped the run here.
    Paused {
        job: String,
        phase: Phase,
    },
    TickFinished {
        job: String,
        tick: DateTime<Utc>,
        ok: bool,
        archives: u32,
        bytes_stored: u64,
        error: Option<String>,
    },
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);
}

/// Logs each event through `tracing`: one line per state change.
#[derive(Debug, Default, Clone, Copy)]
pub struct LogReporter;

impl Reporter for LogReporter {
    fn event(&self, event: &Event) {
        log(event);
    }
}

pub fn log(event: &Event) {
    match event {
        Event::TickStarted {
            job,
            tick,
            windows,
            batches,
        } => tracing::info!(%job, %tick, windows, batches, "run started"),
        Event::AlreadyArchived(b) => {
            tracing::info!(job = %b.job, tick = %b.tick, batch = b.batch, key = %b.key, "already archived")
        }
        Event::Created { batch: b, task_id } => {
            tracing::info!(job = %b.job, tick = %b.tick, batch = b.batch, %task_id, "export task created")
        }
        Event::Resumed { batch: b, task_id } => {
            tracing::info!(job = %b.job, tick = %b.tick, batch = b.batch, %task_id, "export task resumed")
        }
        Event::Exported { batch: b, task_id } => {
            tracing::info!(job = %b.job, tick = %b.tick, batch = b.batch, %task_id, "export ready; transferring")
        }
        Event::Transferring { .. } => {}
        Event::Archived {
            batch: b,
            bytes_source,
            bytes_stored,
        } => {
            tracing::info!(job = %b.job, tick = %b.tick, batch = b.batch, key = %b.key, bytes_source, bytes_stored, "archived")
        }
        Event::BatchFailed { batch: b, error } => {
            tracing::error!(job = %b.job, tick = %b.tick, batch = b.batch, key = %b.key, %error, "batch failed")
        }
        Event::LapseRisk {
            batch: b,
            task_id,
            created_at,
            days_left,
        } => {
            tracing::warn!(job = %b.job, batch = b.batch, %task_id, %created_at, days_left, "export task is close to Stream's 60-day limit")
        }
        Event::Lapsed { batch: b, task_id } => {
            tracing::warn!(job = %b.job, batch = b.batch, %task_id, "export task lapsed after 60 days; exporting again")
        }
        Event::Paused { job, phase } => {
            tracing::warn!(%job, %phase, "paused (CHATVAULT_PAUSE_AT); waiting to be killed")
        }
        Event::TickFinished {
            job,
            tick,
            ok,
            archives,
            bytes_stored,
            error,
        } => {
            if *ok {
                tracing::info!(%job, %tick, archives, bytes_stored, "run succeeded")
            } else {
                tracing::error!(%job, %tick, archives, error = error.as_deref().unwrap_or(""), "run failed")
            }
        }
    }
}
