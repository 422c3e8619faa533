//! What a run tells the outside while it works: every state change of a tick and of its
//! batches, once each (never once per poll). The command line turns them into progress bars
//! or log lines; tests collect them.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, SecondsFormat, Utc};

use super::error::Failure;
use super::outcome::TickOutcome;
use crate::archive::scrubbing::Scrubbed;
use crate::config::job::ExportKind;

/// One batch: an export request and the archive it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BatchRef {
    pub job: String,
    pub tick: DateTime<Utc>,
    /// The run working on it (see [`Event::TickStarted`]).
    pub run_id: String,
    pub kind: ExportKind,
    pub batch: u32,
    /// The archive's key below the destination.
    pub key: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A run took the tick. Its `run_id` tells this run's log lines from those of an earlier
    /// (crashed, interrupted) or concurrent run of the same tick.
    TickStarted {
        job: String,
        tick: DateTime<Utc>,
        run_id: String,
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
        /// The items of erased users left out, and others' items rewritten without them.
        scrubbed: Scrubbed,
    },
    BatchFailed {
        batch: BatchRef,
        error: Failure,
    },
    /// A recorded task is close to (or past) Stream's 60-day limit.
    LapseRisk {
        batch: BatchRef,
        task_id: String,
        created_at: DateTime<Utc>,
        days_left: i64,
    },
    /// Stream does not have these members of the batch (cids or user ids, by the batch's
    /// kind): its export was made without them. Reported once, when the export is created.
    Missing {
        batch: BatchRef,
        ids: Vec<String>,
    },
    /// A recorded task lapsed: its file is gone, so the batch is exported again.
    Lapsed {
        batch: BatchRef,
        task_id: String,
    },
    /// An archive's media record was written: what this attempt did with the files it
    /// fetched (a first capture, or a retry of what an earlier record left outstanding).
    MediaRecorded {
        job: String,
        run_id: String,
        /// The archive's key below the destination.
        archive: String,
        /// The record's `n`.
        attempt: u32,
        media: MediaTally,
    },
    /// `CHATVAULT_PAUSE_AT` stopped the run here.
    Paused {
        job: String,
        phase: Phase,
    },
    /// Every run ends with this, whatever happened (also when it never started: busy, done).
    TickFinished {
        job: String,
        tick: DateTime<Utc>,
        run_id: String,
        outcome: TickOutcome,
        /// It succeeded and the job's previous run had failed.
        recovered: bool,
    },
}

impl Event {
    /// The job the event is about.
    pub fn job(&self) -> &str {
        match self {
            Event::TickStarted { job, .. }
            | Event::MediaRecorded { job, .. }
            | Event::Paused { job, .. }
            | Event::TickFinished { job, .. } => job,
            Event::AlreadyArchived(batch)
            | Event::Created { batch, .. }
            | Event::Resumed { batch, .. }
            | Event::Exported { batch, .. }
            | Event::Transferring { batch, .. }
            | Event::Archived { batch, .. }
            | Event::BatchFailed { batch, .. }
            | Event::LapseRisk { batch, .. }
            | Event::Missing { batch, .. }
            | Event::Lapsed { batch, .. } => &batch.job,
        }
    }
}

/// What one media attempt did: the references it decided, by status (a retry counts only those
/// it fetched again), the bytes it uploaded, and what its record leaves outstanding.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MediaTally {
    pub statuses: BTreeMap<&'static str, u64>,
    pub bytes_stored: u64,
    pub outstanding: u64,
}

impl MediaTally {
    pub fn count(&mut self, outcome: &crate::archive::media::record::Outcome) {
        *self.statuses.entry(outcome.status()).or_default() += 1;
        if let crate::archive::media::record::Outcome::Stored(stored) = outcome {
            self.bytes_stored += stored.size;
        }
    }

    pub fn add(&mut self, other: &MediaTally) {
        for (status, n) in &other.statuses {
            *self.statuses.entry(status).or_default() += n;
        }
        self.bytes_stored += other.bytes_stored;
        self.outstanding += other.outstanding;
    }

    /// References decided by this attempt.
    pub fn decided(&self) -> u64 {
        self.statuses.values().sum()
    }
}

pub trait Reporter: Send + Sync {
    fn event(&self, event: &Event);
}

/// Hands each event to several reporters in turn (log lines or bars, metrics,
/// notifications).
pub struct Fanout(pub Vec<std::sync::Arc<dyn Reporter>>);

impl Reporter for Fanout {
    fn event(&self, event: &Event) {
        for reporter in &self.0 {
            reporter.event(event);
        }
    }
}

/// Logs each event through `tracing`: one line per state change. The run's fields (`job`,
/// `tick`, `run_id`) and the batch's (`batch`, `kind`, `key`, `task_id`) come from the spans
/// the runner reports inside, so a line states only what is its own.
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
            windows, batches, ..
        } => tracing::info!(windows, batches, "run started"),
        Event::AlreadyArchived(_) => tracing::info!("already archived"),
        Event::Created { .. } => tracing::info!("export task created"),
        Event::Resumed { .. } => tracing::info!("export task resumed"),
        Event::Exported { .. } => tracing::info!("export ready; transferring"),
        Event::Transferring { .. } => {}
        Event::Archived {
            bytes_source,
            bytes_stored,
            scrubbed,
            ..
        } => {
            if !scrubbed.is_empty() {
                tracing::info!(
                    dropped = scrubbed.dropped,
                    rewritten = scrubbed.rewritten,
                    "left the items of erased users out of the export"
                );
            }
            tracing::info!(bytes_source, bytes_stored, "archived");
        }
        Event::BatchFailed { error, .. } => {
            tracing::error!(%error, hint = error.hint(), "batch failed")
        }
        Event::LapseRisk {
            created_at,
            days_left,
            ..
        } => {
            tracing::warn!(
                created_at = %log_time(*created_at),
                days_left,
                "export task is close to Stream's 60-day limit"
            )
        }
        Event::Missing { batch, ids } => match batch.kind {
            ExportKind::Channels => tracing::warn!(
                missing_channels = %ids.join(","),
                "Stream does not have these channels (deleted, or misspelt in the job file); \
                 exporting the batch without them"
            ),
            ExportKind::Users => tracing::warn!(
                missing_users = %ids.join(","),
                "Stream does not know these users; exporting the batch without them"
            ),
        },
        // The batch has no task yet: the lapsed one is named here, the new one by its span.
        Event::Lapsed { task_id, .. } => {
            tracing::warn!(%task_id, "export task lapsed after 60 days; exporting again")
        }
        // An archive that links to no file still gets its (empty) record, so that `chatvault
        // media` knows it was looked at; that is no news at INFO.
        Event::MediaRecorded {
            archive,
            attempt,
            media,
            ..
        } if media.decided() == 0 => tracing::debug!(%archive, attempt, "media recorded"),
        Event::MediaRecorded {
            archive,
            attempt,
            media,
            ..
        } => tracing::info!(
            %archive,
            attempt,
            references = media.decided(),
            stored = media.statuses.get("stored").copied().unwrap_or(0),
            bytes_stored = media.bytes_stored,
            outstanding = media.outstanding,
            "media recorded"
        ),
        Event::Paused { phase, .. } => {
            tracing::warn!(%phase, "paused (CHATVAULT_PAUSE_AT); waiting to be killed")
        }
        Event::TickFinished {
            outcome, recovered, ..
        } => match outcome {
            TickOutcome::Done {
                archives,
                bytes_stored,
                warnings,
                missing,
                ..
            } if !missing.is_empty() => tracing::warn!(
                archives,
                bytes_stored,
                warnings = warnings.len(),
                recovered,
                missing_channels = %missing.channels.join(","),
                missing_users = %missing.users.join(","),
                "run succeeded without what Stream does not have"
            ),
            TickOutcome::Done {
                archives,
                bytes_stored,
                warnings,
                media_outstanding,
                ..
            } if *media_outstanding > 0 => tracing::warn!(
                archives,
                bytes_stored,
                warnings = warnings.len(),
                recovered,
                media_outstanding,
                "run succeeded with files its archives link to not captured yet; a later run retries"
            ),
            TickOutcome::Done {
                archives,
                bytes_stored,
                warnings,
                ..
            } => tracing::info!(
                archives,
                bytes_stored,
                warnings = warnings.len(),
                recovered,
                "run succeeded"
            ),
            TickOutcome::AlreadyDone => tracing::info!("tick already done by an earlier run"),
            TickOutcome::Busy { holder } => {
                tracing::info!(%holder, "another process is running this job")
            }
            TickOutcome::Failed { error } => {
                tracing::error!(%error, hint = error.hint(), "run failed")
            }
            TickOutcome::Interrupted => {
                tracing::warn!("run interrupted by shutdown; it resumes on the next start")
            }
        },
    }
}

/// A time as log fields show it: RFC 3339 in UTC, as in webhook bodies, not chrono's
/// `2026-11-27 00:00:00 UTC`.
pub fn log_time(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A phase of a batch's (or a tick's) life, in order: where a run can be told to pause
/// (`CHATVAULT_PAUSE_AT`) and says so in [`Event::Paused`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The export task was created and its id recorded.
    Created,
    /// Polling the task.
    Polling,
    /// Part of the archive is uploaded, the rest is not.
    Transfer,
    /// The archive is uploaded; its manifest is not written.
    Manifest,
    /// An archive is committed and its files fetched; its media record is not written.
    Media,
    /// The run's seal is written; the run's end (the seal's head among it) is not recorded.
    Seal,
    /// Every archive of the tick is committed; the watermark has not moved.
    Watermark,
}

impl Phase {
    pub const ALL: [Phase; 7] = [
        Phase::Created,
        Phase::Polling,
        Phase::Transfer,
        Phase::Manifest,
        Phase::Media,
        Phase::Seal,
        Phase::Watermark,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Created => "created",
            Phase::Polling => "polling",
            Phase::Transfer => "transfer",
            Phase::Manifest => "manifest",
            Phase::Media => "media",
            Phase::Seal => "seal",
            Phase::Watermark => "watermark",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Phase {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Phase::ALL.iter().map(|p| p.name()).collect();
                format!("`{s}` is not a phase; expected one of {}", names.join(", "))
            })
    }
}
