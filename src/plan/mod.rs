//! The pure planner: jobs + clock → what each job's next ticks would do; with what a job's
//! ledger recorded, what a run would do now (`now`); and the checks only planning can make
//! (`check`, a phase after loading).
//!
//! `plan`, `run --dry-run` and real runs share it, so a dry run shows exactly what a run
//! would do. Nothing here reads the clock, the network or the disk.

pub mod batch;
mod check;
pub mod due;
pub mod now;
mod render;
pub mod window;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

pub use check::check;
pub use render::human;
use window::{MAX_PIECES, Span, piece_count, split_at_most, window_for_tick};

use crate::config::Blocked;
use crate::config::hold::Hold;
use crate::config::job::{Cid, ExportKind, Job};
use crate::config::key::KeyContext;
use crate::schedule::{DstNote, Tick};

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub now: DateTime<Utc>,
    pub jobs: Vec<JobPlan>,
    /// Jobs that could not be planned because variables they use are unset.
    pub not_planned: Vec<NotPlanned>,
    /// The legal holds in force (`holds/` beside the global config); left out when none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub holds: Vec<HoldPlan>,
}

/// A hold in force: nothing it covers is expired or erased.
#[derive(Debug, Clone, Serialize)]
pub struct HoldPlan {
    pub name: String,
    pub file: String,
    /// What it covers, in words (`chatvault holds --format json` has the parts).
    pub covers: String,
}

impl HoldPlan {
    pub fn of(hold: &Hold) -> Self {
        HoldPlan {
            name: hold.name.clone(),
            file: hold.file.display().to_string(),
            covers: hold.covers.summary(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NotPlanned {
    pub file: String,
    pub unset_variables: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct JobPlan {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub file: String,
    pub schedule: String,
    pub timezone: String,
    pub catch_up: String,
    pub overlap: String,
    pub destination: String,
    pub compression: String,
    pub export_version: String,
    /// What `run --once` would do now, from the job's ledger (`--state` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub now: Option<now::NowPlan>,
    pub ticks: Vec<TickPlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TickPlan {
    pub at: DateTime<Utc>,
    /// The tick in the job's zone, RFC 3339 with the offset.
    pub local: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dst: Option<DstFlag>,
    /// Empty when there is nothing new to archive (a fixed window already covered).
    pub windows: Vec<WindowPlan>,
    /// The users export of the tick: Stream's users export takes no window, so each tick takes
    /// one snapshot of the users' data, keyed from the tick. Empty for a job without users.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub snapshot: Vec<RequestPlan>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DstFlag {
    /// The scheduled wall time does not exist that day; the tick fires right after the gap.
    Gap { scheduled: String },
    /// The wall time occurs twice that day; the tick fires at the first.
    Repeated,
}

#[derive(Debug, Clone, Serialize)]
pub struct WindowPlan {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub requests: Vec<RequestPlan>,
    /// An earlier run planned it and did not finish it: redone first, with the members and
    /// keys of then (`plan --state` only).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub reopened: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestPlan {
    /// `channels` or `users`.
    pub kind: &'static str,
    /// 1-based within the window; unknown until run time for filter-based channels.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub channels: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<String>,
    /// For filter-based channel sets: the type and filter, resolved at run time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<FilterPlan>,
    /// The object key below the destination; unknown until run time for filter batches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct FilterPlan {
    #[serde(rename = "type")]
    pub channel_type: String,
    pub filter: serde_json::Map<String, serde_json::Value>,
}

/// The next `next` ticks of every job after `now`, each assumed to succeed (so incremental
/// windows follow on from each other).
pub fn plan(jobs: &[Job], blocked: &[Blocked], now: DateTime<Utc>, next: usize) -> Plan {
    Plan {
        now,
        jobs: jobs.iter().map(|job| plan_job(job, now, next)).collect(),
        not_planned: blocked
            .iter()
            .map(|b| NotPlanned {
                file: b.file.display().to_string(),
                unset_variables: b.vars.clone(),
            })
            .collect(),
        holds: Vec::new(),
    }
}

/// The next `next` ticks after `now`, each with its window and the (at most [`MAX_PIECES`])
/// pieces it would archive, when archiving stands at `watermark` before the first of them (none:
/// where the job file alone puts it).
fn tick_windows(
    job: &Job,
    now: DateTime<Utc>,
    next: usize,
    mut watermark: Option<DateTime<Utc>>,
) -> Vec<(Tick, Option<Span>, Vec<Span>)> {
    let mut previous = None;
    let mut out = Vec::new();
    for tick in job.schedule.ticks_after(job.timezone, now).take(next) {
        let previous_tick = previous.or_else(|| {
            job.schedule
                .tick_before(job.timezone, tick.at)
                .map(|t| t.at)
        });
        let span = window_for_tick(job, tick.at, watermark, previous_tick);
        previous = Some(tick.at);
        let pieces = span.map_or_else(Vec::new, |span| {
            watermark = Some(span.until);
            split_at_most(span, job.window.max(), MAX_PIECES)
        });
        out.push((tick, span, pieces));
    }
    out
}

/// The next `next` ticks after `now` as they would run when archiving stands at `watermark`
/// before the first of them (none: where the job file alone puts it; `plan --state` passes
/// where the state store and the ticks due now leave it).
pub fn next_ticks(
    job: &Job,
    now: DateTime<Utc>,
    next: usize,
    watermark: Option<DateTime<Utc>>,
) -> Vec<TickPlan> {
    tick_windows(job, now, next, watermark)
        .into_iter()
        .map(|(tick, _, pieces)| {
            let windows = pieces.into_iter().map(|p| window_plan(job, p)).collect();
            tick_plan(&tick, windows, snapshot_plan(job, tick.at))
        })
        .collect()
}

pub fn plan_job(job: &Job, now: DateTime<Utc>, next: usize) -> JobPlan {
    let ticks = next_ticks(job, now, next, None);
    JobPlan {
        name: job.name.clone(),
        description: job.description.clone(),
        file: job.file.display().to_string(),
        schedule: job.schedule.source().to_owned(),
        timezone: job.timezone.name().to_owned(),
        catch_up: job.catch_up.to_string(),
        overlap: job.overlap.to_string(),
        destination: job.destination.url.to_string(),
        compression: job.destination.compression.to_string(),
        export_version: job.export.version.to_string(),
        now: None,
        ticks,
    }
}

fn tick_plan(tick: &Tick, windows: Vec<WindowPlan>, snapshot: Vec<RequestPlan>) -> TickPlan {
    TickPlan {
        at: tick.at,
        local: tick.local.to_rfc3339(),
        dst: match tick.dst {
            DstNote::Normal => None,
            DstNote::Gap { scheduled } => Some(DstFlag::Gap {
                scheduled: scheduled.format("%Y-%m-%dT%H:%M:%S").to_string(),
            }),
            DstNote::Repeated => Some(DstFlag::Repeated),
        },
        windows,
        snapshot,
    }
}

/// The key of one archive, or the reason it cannot be made (reported as a validation error).
pub fn archive_key(job: &Job, span: Span, kind: &str, batch: u32) -> Result<String, String> {
    let ext = job.destination.extension(job.export.version);
    job.destination
        .key
        .render(&KeyContext {
            job: &job.name,
            window_start: span.since,
            window_end: span.until,
            batch,
            kind,
            task_id: None,
            ext: &ext,
        })
        .map_err(|e| e.to_string())
}

fn request_plan(b: &batch::Batch) -> RequestPlan {
    let (channels, users) = match b.kind {
        ExportKind::Channels => (b.members.clone(), Vec::new()),
        ExportKind::Users => (Vec::new(), b.members.clone()),
    };
    RequestPlan {
        kind: b.kind.name(),
        batch: Some(b.number),
        channels,
        users,
        filter: None,
        key: Some(b.key.clone()),
    }
}

/// The tick's users snapshot, cut as a run cuts it (a window of no length at the tick).
fn snapshot_plan(job: &Job, tick: DateTime<Utc>) -> Vec<RequestPlan> {
    let at = Span {
        since: tick,
        until: tick,
    };
    match batch::cut(job, at, tick, &[], &job.users) {
        Ok(batches) => batches.iter().map(request_plan).collect(),
        Err(e) => vec![RequestPlan {
            users: job.users.clone(),
            ..unkeyed("users", &e)
        }],
    }
}

/// A request whose key cannot be made, showing why in its place.
fn unkeyed(kind: &'static str, error: &str) -> RequestPlan {
    RequestPlan {
        kind,
        batch: None,
        channels: Vec::new(),
        users: Vec::new(),
        filter: None,
        key: Some(format!("<{error}>")),
    }
}

/// The channel requests of one window as [`batch::cut`] makes them for a run, the filters
/// (whose channels a run finds and batches after the listed ones) shown where those batches
/// go. The tick that planned a window does not change its batches, so any tick will do.
fn window_plan(job: &Job, span: Span) -> WindowPlan {
    let listed: Vec<String> = job.channels.cids.iter().map(Cid::to_string).collect();
    let batches = match batch::cut(job, span, span.until, &listed, &[]) {
        Ok(batches) => batches,
        // Only a key that cannot be made fails, and `check` refuses such jobs; a plan of one
        // anyway shows why.
        Err(e) => {
            return WindowPlan {
                since: span.since,
                until: span.until,
                requests: vec![unkeyed("channels", &e)],
                reopened: false,
            };
        }
    };
    let filters = job.channels.filters.iter().map(|f| RequestPlan {
        kind: "channels",
        batch: None,
        channels: Vec::new(),
        users: Vec::new(),
        filter: Some(FilterPlan {
            channel_type: f.channel_type.clone(),
            filter: f.filter.clone(),
        }),
        key: None,
    });
    let requests = batches.iter().map(request_plan).chain(filters).collect();
    WindowPlan {
        since: span.since,
        until: span.until,
        requests,
        reopened: false,
    }
}

/// Why `window.max` cannot work over the job's next `ticks` ticks after `now`: a window it
/// would cut into more than [`MAX_PIECES`] export requests.
pub fn window_problem(job: &Job, now: DateTime<Utc>, ticks: usize) -> Option<String> {
    let max = job.window.max()?;
    tick_windows(job, now, ticks, None)
        .into_iter()
        .filter_map(|(_, span, _)| span)
        .map(|span| (span, piece_count(span, Some(max))))
        .find(|(_, pieces)| *pieces > MAX_PIECES as u128)
        .map(|(span, pieces)| {
            format!(
                "`max` cuts the window {} .. {} into {pieces} pieces, one export request each; \
                 at most {MAX_PIECES}: make `max` longer",
                span.since, span.until
            )
        })
}

/// Why the job's keys cannot work, checked over its next `ticks` ticks after `now`: a key
/// that cannot be made, or two windows sharing a key because the `{window_start}` format is
/// coarser than the schedule.
pub fn key_problem(job: &Job, now: DateTime<Utc>, ticks: usize) -> Option<String> {
    let mut seen: HashMap<String, Span> = HashMap::new();
    for span in tick_windows(job, now, ticks, None)
        .into_iter()
        .flat_map(|(_, _, p)| p)
    {
        let key = match archive_key(job, span, "channels", 1) {
            Ok(key) => key,
            Err(e) => return Some(format!("cannot make a key: {e}")),
        };
        if let Some(first) = seen.get(&key).filter(|first| **first != span) {
            return Some(format!(
                "windows starting {} and {} would both be written to `{key}`: make the time \
                 format as fine as the schedule (e.g. add %H%M to {{window_start}})",
                first.since, span.since
            ));
        }
        seen.insert(key, span);
    }
    if job.users.is_empty() {
        return None;
    }
    // Users snapshots are keyed from their tick: two ticks must not share a key either.
    let mut seen: HashMap<String, DateTime<Utc>> = HashMap::new();
    for tick in job.schedule.ticks_after(job.timezone, now).take(ticks) {
        let at = Span {
            since: tick.at,
            until: tick.at,
        };
        let key = match archive_key(job, at, "users", 1) {
            Ok(key) => key,
            Err(e) => return Some(format!("cannot make a key: {e}")),
        };
        if let Some(first) = seen.get(&key) {
            return Some(format!(
                "the users snapshots of ticks {first} and {} would both be written to `{key}`: \
                 make the time format as fine as the schedule (e.g. add %H%M to \
                 {{window_start}})",
                tick.at
            ));
        }
        seen.insert(key, tick.at);
    }
    None
}

/// Whether the job's next `ticks` ticks after `now` come less than a day apart.
pub fn more_often_than_daily(job: &Job, now: DateTime<Utc>, ticks: usize) -> bool {
    let at: Vec<DateTime<Utc>> = job
        .schedule
        .ticks_after(job.timezone, now)
        .take(ticks)
        .map(|t| t.at)
        .collect();
    at.windows(2)
        .any(|pair| pair[1] - pair[0] < chrono::TimeDelta::days(1))
}
