//! `chatvault status`: each job's state as the ledger has it, read-only.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{World, exit, jobs_and_state, logging, output, runtime};
use crate::cli::{LogFormat, PlanFormat, StatusArgs};
use crate::config::job::Job;
use crate::runner::due::{due_ticks, next_tick};
use crate::state::{JobState, Ledger};

#[derive(Debug, Serialize)]
struct JobStatus {
    job: String,
    last_success: Option<DateTime<Utc>>,
    last_success_tick: Option<DateTime<Utc>>,
    watermark: Option<DateTime<Utc>>,
    next_tick: Option<DateTime<Utc>>,
    /// Ticks that would run now.
    due: usize,
    /// The process running the job now, if any.
    running: Option<String>,
    open_windows: usize,
    in_flight: Vec<TaskStatus>,
    last_error: Option<String>,
    /// What the last run's archives lack (a channel absent from its export, a user's export
    /// at Stream's cap), though the run succeeded.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
    /// Channels (cids) and users the last run's exports left out because Stream does not have
    /// them; that run still succeeded. Empty when nothing was missing.
    missing_channels: Vec<String>,
    missing_users: Vec<String>,
    /// What to do about `last_error`, as the run that failed recorded it.
    #[serde(skip_serializing_if = "Option::is_none")]
    last_error_hint: Option<String>,
    /// The state could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    state_error: Option<String>,
}

#[derive(Debug, Serialize)]
struct TaskStatus {
    task_id: String,
    key: String,
    kind: &'static str,
    batch: u32,
    created_at: DateTime<Utc>,
    age_hours: i64,
    /// Whole days until Stream deletes the export file.
    days_left: i64,
    /// The same in whole hours (a task a minute old has 59 days and 23 hours, not 59 days).
    hours_left: i64,
    /// Inside the job's `retention.warn_before`.
    lapse_risk: bool,
}

impl JobStatus {
    fn unhealthy(&self) -> bool {
        self.last_error.is_some()
            || self.state_error.is_some()
            || self.in_flight.iter().any(|t| t.lapse_risk)
    }
}

pub fn run(args: &StatusArgs, config: Option<PathBuf>, log: LogFormat, world: &World<'_>) -> u8 {
    logging::init(log, "warn");
    let (jobs, state) = match jobs_and_state(&args.paths.paths, &args.jobs, config, world) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let Some(runtime) = runtime() else {
        return exit::FAILED;
    };
    let now = world.now;
    let statuses: Vec<JobStatus> = runtime.block_on(async {
        let mut out = Vec::new();
        for job in &jobs {
            let ledger = Ledger::open(state.clone(), &job.name);
            out.push(match ledger.load().await {
                Ok(s) => status(job, s.value(), now),
                Err(e) => JobStatus {
                    state_error: Some(e.to_string()),
                    ..status(job, &JobState::default(), now)
                },
            });
        }
        out
    });
    match args.format {
        PlanFormat::Human => output::stdout(&human(&statuses)),
        PlanFormat::Json => {
            let mut text = serde_json::to_string_pretty(&statuses).unwrap_or_default();
            text.push('\n');
            output::stdout(&text);
        }
    }
    if statuses.iter().any(JobStatus::unhealthy) {
        exit::FAILED
    } else {
        exit::OK
    }
}

fn status(job: &Job, state: &JobState, now: DateTime<Utc>) -> JobStatus {
    let success = state.history.iter().rev().find(|o| o.ok);
    let missing = state
        .last_outcome
        .as_ref()
        .map(|o| o.missing.clone())
        .unwrap_or_default();
    JobStatus {
        job: job.name.clone(),
        last_success: success.map(|o| o.finished_at),
        last_success_tick: success.map(|o| o.tick),
        watermark: state.watermark,
        next_tick: next_tick(job, now),
        due: due_ticks(job, state.last_tick, now).len(),
        running: state.claim.as_ref().map(|c| c.holder.clone()),
        open_windows: state.open.len(),
        in_flight: state
            .in_flight
            .iter()
            .map(|t| {
                let lapses_at = t.lapses_at();
                TaskStatus {
                    task_id: t.task_id.clone(),
                    key: t.key.clone(),
                    kind: t.kind.name(),
                    batch: t.batch,
                    created_at: t.created_at,
                    age_hours: (now - t.created_at).num_hours(),
                    days_left: (lapses_at - now).num_days(),
                    hours_left: (lapses_at - now).num_hours(),
                    lapse_risk: job.retention.at_risk(lapses_at, now),
                }
            })
            .collect(),
        last_error: state
            .last_outcome
            .as_ref()
            .filter(|o| !o.ok)
            .map(|o| o.error.clone().unwrap_or_else(|| "failed".into())),
        warnings: state
            .last_outcome
            .as_ref()
            .map(|o| o.warnings.clone())
            .unwrap_or_default(),
        missing_channels: missing.channels,
        missing_users: missing.users,
        last_error_hint: state
            .last_outcome
            .as_ref()
            .filter(|o| !o.ok)
            .and_then(|o| o.hint.clone()),
        state_error: None,
    }
}

fn human(statuses: &[JobStatus]) -> String {
    let time = |t: Option<DateTime<Utc>>| {
        t.map_or_else(
            || "never".to_owned(),
            |t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        )
    };
    let mut out = String::new();
    for s in statuses {
        let _ = writeln!(out, "{}", s.job);
        if let Some(e) = &s.state_error {
            let _ = writeln!(out, "  state          cannot be read: {e}");
        }
        let _ = writeln!(out, "  last success   {}", time(s.last_success));
        let _ = writeln!(out, "  watermark      {}", time(s.watermark));
        let _ = writeln!(
            out,
            "  next tick      {}{}",
            time(s.next_tick),
            if s.due > 0 {
                format!(" ({} due now)", s.due)
            } else {
                String::new()
            }
        );
        if let Some(holder) = &s.running {
            let _ = writeln!(out, "  running        by {holder}");
        }
        if s.open_windows > 0 {
            let _ = writeln!(
                out,
                "  open windows   {} (not fully archived yet)",
                s.open_windows
            );
        }
        if s.in_flight.is_empty() {
            let _ = writeln!(out, "  in flight      none");
        } else {
            let _ = writeln!(out, "  in flight      {} task(s)", s.in_flight.len());
            for t in &s.in_flight {
                let _ = writeln!(
                    out,
                    "    {}  {}-{}  age {}h  {}d {}h left{}",
                    t.task_id,
                    t.kind,
                    t.batch,
                    t.age_hours,
                    t.days_left,
                    t.hours_left - t.days_left * 24,
                    if t.lapse_risk { "  LAPSE RISK" } else { "" }
                );
            }
        }
        let _ = writeln!(
            out,
            "  last error     {}",
            s.last_error.as_deref().unwrap_or("none")
        );
        if let Some(hint) = &s.last_error_hint {
            let _ = writeln!(out, "  hint           {hint}");
        }
        for warning in &s.warnings {
            let _ = writeln!(out, "  warning        {warning}");
        }
        for (what, ids) in [
            ("channels", &s.missing_channels),
            ("users", &s.missing_users),
        ] {
            if !ids.is_empty() {
                let _ = writeln!(
                    out,
                    "  missing        {what} Stream does not have, left out by the last run: {}",
                    ids.join(", ")
                );
            }
        }
    }
    if statuses.is_empty() {
        out.push_str("no jobs\n");
    }
    out
}
