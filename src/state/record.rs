//! What a job's ledger records: the job's whole state in each record, so the newest record
//! alone says everything and older ones can be pruned.

use chrono::{DateTime, TimeDelta, Utc};
use serde::{Deserialize, Serialize};

use super::io::Nonced;
use crate::archive::seal::SealHead;
use crate::config::job::{ExportKind, STREAM_RETENTION};

/// The ledger record layout; bumped on incompatible changes. A reader refuses records newer
/// than it understands instead of guessing at them.
pub const FORMAT: u32 = 1;

/// How many outcomes `history` keeps: enough for `status`, small enough that every record
/// (which carries the history) stays a few kilobytes.
pub const HISTORY_LIMIT: usize = 50;

/// A job's durable state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobState {
    /// The `until` of the last window that was fully archived; the next incremental window
    /// starts here. `None` before the first success.
    #[serde(default)]
    pub watermark: Option<DateTime<Utc>>,
    /// Export tasks started and not yet archived, recorded *before* polling them, so a
    /// restart resumes polling instead of starting (and paying for) a new export.
    #[serde(default)]
    pub in_flight: Vec<InFlight>,
    /// Windows a run planned and has not fully archived yet, oldest first, with the channels
    /// and users resolved for them. Kept across failures and crashes, so the next run redoes
    /// exactly these windows (their archives' keys stay the same) before anything newer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub open: Vec<OpenWindow>,
    /// The newest tick whose run fully succeeded: ticks up to here are done.
    #[serde(default)]
    pub last_tick: Option<DateTime<Utc>>,
    /// The run that owns the job's open work right now. Set before any export is started and
    /// cleared when the run ends; a run finding another's claim checks that run's lease and
    /// stays out while it is live, so two ticks of one job never work on the same windows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<Claim>,
    #[serde(default)]
    pub last_outcome: Option<Outcome>,
    /// The newest outcomes, oldest first, at most [`HISTORY_LIMIT`].
    #[serde(default)]
    pub history: Vec<Outcome>,
    /// The newest seal a run of the job wrote, as the run's end recorded it: kept apart from
    /// the destination, so `verify` can tell a chain cut short at its end. Absent before the
    /// job's first seal and in ledgers written before seals existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<SealHead>,
}

impl JobState {
    /// Records a finished run as the last outcome and in the (bounded) history.
    pub fn record_outcome(&mut self, outcome: Outcome) {
        self.last_outcome = Some(outcome.clone());
        self.history.push(outcome);
        self.trim_history();
    }

    /// Drops the oldest outcomes beyond [`HISTORY_LIMIT`].
    pub fn trim_history(&mut self) {
        let excess = self.history.len().saturating_sub(HISTORY_LIMIT);
        self.history.drain(..excess);
    }

    /// The newest outcome of a run that went to its end, succeeded or failed. A run a
    /// shutdown stopped says nothing about whether the job works, so a success after it is a
    /// recovery only when the run before it failed.
    pub fn last_finished(&self) -> Option<&Outcome> {
        match &self.last_outcome {
            Some(last) if !last.interrupted => Some(last),
            _ => self.history.iter().rev().find(|o| !o.interrupted),
        }
    }

    /// The last run was stopped by a shutdown: when, for `status` and the viewer.
    pub fn interrupted_at(&self) -> Option<DateTime<Utc>> {
        self.last_outcome
            .as_ref()
            .filter(|o| o.interrupted)
            .map(|o| o.finished_at)
    }
}

/// An export task Stream is working on (or has finished) that is not archived yet.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InFlight {
    pub task_id: String,
    pub kind: ExportKind,
    /// 1-based within the window.
    pub batch: u32,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The scheduled tick the run belongs to.
    pub tick: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// The archive's key below the destination.
    pub key: String,
    /// When the export task was created; Stream deletes the file 60 days later.
    pub created_at: DateTime<Utc>,
    /// When the download link was last renewed (a status request renews it for 24 hours).
    #[serde(default)]
    pub last_link_renewal: Option<DateTime<Utc>>,
    /// When a run last warned that the file nears Stream's deletion. Kept here, not in a
    /// process, so a CronJob's runs every few minutes and a second replica say it once a day.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lapse_warned_at: Option<DateTime<Utc>>,
    /// Members of the batch (cids or user ids, by `kind`) that Stream said it does not have:
    /// the task exports the batch without them. Kept here so a run resuming the task still
    /// names them in the manifest and its outcome.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

/// A window of message time a run committed to archive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenWindow {
    /// The tick whose run planned it.
    pub tick: DateTime<Utc>,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// Channel cids (`type:id`), sorted; resolved once, so batches keep their members.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
}

impl OpenWindow {
    /// The users export of `tick`: Stream's users export takes no window (it is a snapshot of
    /// each user's data), so it is kept as a window of no length at its tick, whose key comes
    /// from the tick, and which never moves the watermark.
    pub fn snapshot(tick: DateTime<Utc>, users: Vec<String>) -> OpenWindow {
        OpenWindow {
            tick,
            since: tick,
            until: tick,
            channels: Vec::new(),
            users,
        }
    }

    pub fn is_snapshot(&self) -> bool {
        self.since == self.until
    }
}

/// Who is running a job, and for which tick's lease.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    pub tick: DateTime<Utc>,
    pub holder: String,
}

impl InFlight {
    /// When Stream deletes the task's file.
    pub fn lapses_at(&self) -> DateTime<Utc> {
        self.created_at + STREAM_RETENTION
    }

    /// Whether a lapse warning is due again: none yet, or none for a day.
    pub fn lapse_warning_due(&self, now: DateTime<Utc>) -> bool {
        self.lapse_warned_at
            .is_none_or(|at| now - at >= LAPSE_WARNING_REPEAT)
    }
}

/// A task at lapse risk is warned about again after this, not on every run.
const LAPSE_WARNING_REPEAT: TimeDelta = TimeDelta::hours(24);

/// How a run of one tick ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Outcome {
    pub tick: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub ok: bool,
    /// What went wrong, already free of secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// What the user can do about `error`, when chatvault knows (set STREAM_API_SECRET,
    /// create the bucket, …). Absent from records written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// Archives this run committed (not counting ones found already committed).
    #[serde(default)]
    pub archives: u32,
    /// Bytes those archives take in the destination.
    #[serde(default)]
    pub bytes_stored: u64,
    /// What the run archived but found wanting: a channel asked for and absent from its
    /// export, a user whose export Stream probably cut at 10,000 messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// Channels and users this run's exports left out because Stream does not have them
    /// (deleted, or misspelt in the job file). The run still succeeds: the rest is archived.
    #[serde(default, skip_serializing_if = "Missing::is_empty")]
    pub missing: Missing,
    /// A shutdown (SIGTERM, SIGINT) stopped the run before its end: its export tasks stay in
    /// `in_flight` for the next run. Not a failure (`ok` is false, `error` absent): a rollout
    /// or a node drain is no reason to alert. Records written before it existed lack it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
}

impl Outcome {
    /// A run of `tick` that a shutdown stopped at `at`.
    pub fn interrupted(tick: DateTime<Utc>, at: DateTime<Utc>) -> Outcome {
        Outcome {
            tick,
            finished_at: at,
            ok: false,
            error: None,
            hint: None,
            archives: 0,
            bytes_stored: 0,
            warnings: Vec::new(),
            missing: Missing::default(),
            interrupted: true,
        }
    }

    /// The run went to its end and did not succeed.
    pub fn failed(&self) -> bool {
        !self.ok && !self.interrupted
    }
}

/// Channels (cids) and users a run asked Stream for that Stream does not have. Only the
/// requests that named them skip them: the job's lists stay as they are, so a channel that
/// comes back (restored, or its typo fixed) is exported again by the next window.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
}

impl Missing {
    pub fn is_empty(&self) -> bool {
        self.channels.is_empty() && self.users.is_empty()
    }

    /// Adds `ids` of a batch of `kind`, keeping each list sorted and free of repeats (a
    /// channel missing from several windows of one run is named once).
    pub fn add(&mut self, kind: ExportKind, ids: &[String]) {
        let list = match kind {
            ExportKind::Channels => &mut self.channels,
            ExportKind::Users => &mut self.users,
        };
        list.extend(ids.iter().cloned());
        list.sort();
        list.dedup();
    }
}

/// One ledger record as stored: the state plus who wrote it, when, and where it belongs (so a
/// record copied to the wrong key is caught instead of trusted).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LedgerRecord {
    pub format: u32,
    pub job: String,
    pub seq: u64,
    /// Random per commit: lets a writer recognise its own record after a retried write.
    pub nonce: String,
    /// The process that committed it.
    pub writer: String,
    pub updated_at: DateTime<Utc>,
    pub state: JobState,
}

impl Nonced for LedgerRecord {
    fn nonce(&self) -> &str {
        &self.nonce
    }
}
