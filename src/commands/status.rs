//! `chatvault status`: each job's state as the ledger has it, read-only.

use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

use super::{World, exit, jobs_and_state, ledgers, logging, output, runtime};
use crate::archive::reading::standing::{newest_records, outstanding};
use crate::archive::reading::{Listing, Source};
use crate::archive::seal::SealHead;
use crate::cli::{LogFormat, PlanFormat, StatusArgs};
use crate::config::job::Job;
use crate::plan::due::{due_ticks, next_tick};
use crate::state::{InFlight, JobState};
use crate::store;

/// A job as `status` shows it: its next tick (from its schedule alone) and, when its ledger
/// could be read, what the ledger says; otherwise why not, and nothing made up in its place.
#[derive(Debug, Serialize)]
struct JobStatus {
    job: String,
    next_tick: Option<DateTime<Utc>>,
    #[serde(flatten)]
    ledger: Option<LedgerStatus>,
    /// The job's state could not be read (a corrupt record).
    #[serde(skip_serializing_if = "Option::is_none")]
    state_error: Option<String>,
    /// References to files of the job's archives not captured yet (failed downloads later
    /// runs retry), by the archives' newest media records; `null` when the destination could
    /// not be read. Never makes `status` fail.
    media_outstanding: Option<u64>,
    /// Archives of a job with `media.capture` on that have no media record yet (written
    /// before media capture, or with capture off): `chatvault media` captures them; `null`
    /// when the destination could not be read, and for jobs that keep links only.
    media_unrecorded: Option<u64>,
}

/// What a job's destination says of its media.
#[derive(Debug, Clone, Copy, Default)]
struct MediaCounts {
    outstanding: u64,
    unrecorded: u64,
}

#[derive(Debug, Serialize)]
struct LedgerStatus {
    last_success: Option<DateTime<Utc>>,
    last_success_tick: Option<DateTime<Utc>>,
    watermark: Option<DateTime<Utc>>,
    /// Ticks that would run now.
    due: usize,
    /// The process running the job now, if any.
    running: Option<String>,
    open_windows: usize,
    in_flight: Vec<TaskStatus>,
    /// The last run was stopped by a shutdown (SIGTERM, SIGINT): not a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    interrupted: Option<Interrupted>,
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
    /// The newest seal of the job's chain a run recorded (sequence, SHA-256, key); `null`
    /// before the first.
    seal: Option<SealHead>,
}

#[derive(Debug, Serialize)]
struct Interrupted {
    at: DateTime<Utc>,
    /// Export tasks recorded and not archived, which the next run resumes.
    tasks_to_resume: usize,
}

#[derive(Debug, Serialize)]
struct TaskStatus {
    task_id: String,
    key: String,
    kind: &'static str,
    batch: u32,
    /// The window of message time it exports (equal for a users snapshot, at its tick).
    since: DateTime<Utc>,
    until: DateTime<Utc>,
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
        self.state_error.is_some()
            || self
                .ledger
                .as_ref()
                .is_none_or(|l| l.last_error.is_some() || l.in_flight.iter().any(|t| t.lapse_risk))
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
    let read = match runtime.block_on(ledgers::read(&state, &jobs)) {
        Ok(read) => read,
        Err(e) => {
            output::report(&e, Some(e.hint()));
            return exit::FAILED;
        }
    };
    // A destination that does not answer must not hold status up: its count is unknown.
    let outstanding = runtime
        .block_on(async { tokio::time::timeout(MEDIA_WAIT, media_outstanding(&jobs, world)).await })
        .unwrap_or_else(|_| vec![None; jobs.len()]);
    let statuses: Vec<JobStatus> = jobs
        .iter()
        .zip(read)
        .zip(outstanding)
        .map(|((job, state), media)| {
            let media_outstanding = media.map(|m| m.outstanding);
            let media_unrecorded = media.filter(|_| job.media.capture).map(|m| m.unrecorded);
            match state {
                Ok(state) => JobStatus {
                    media_outstanding,
                    media_unrecorded,
                    ..status(job, &state, now)
                },
                Err(e) => JobStatus {
                    job: job.name.clone(),
                    next_tick: next_tick(job, now),
                    ledger: None,
                    state_error: Some(e.to_string()),
                    media_outstanding,
                    media_unrecorded,
                },
            }
        })
        .collect();
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
    let last = state.last_outcome.as_ref();
    let failed = last.filter(|o| o.failed());
    let missing = last.map(|o| o.missing.clone()).unwrap_or_default();
    let ledger = LedgerStatus {
        last_success: success.map(|o| o.finished_at),
        last_success_tick: success.map(|o| o.tick),
        watermark: state.watermark,
        due: due_ticks(job, state.last_tick, now).len(),
        running: state.claim.as_ref().map(|c| c.holder.clone()),
        open_windows: state.open.len(),
        in_flight: in_flight_by_window(state)
            .map(|t| {
                let lapses_at = t.lapses_at();
                TaskStatus {
                    task_id: t.task_id.clone(),
                    key: t.key.clone(),
                    kind: t.kind.name(),
                    batch: t.batch,
                    since: t.since,
                    until: t.until,
                    created_at: t.created_at,
                    age_hours: (now - t.created_at).num_hours(),
                    days_left: (lapses_at - now).num_days(),
                    hours_left: (lapses_at - now).num_hours(),
                    lapse_risk: job.retention.at_risk(lapses_at, now),
                }
            })
            .collect(),
        interrupted: state.interrupted_at().map(|at| Interrupted {
            at,
            tasks_to_resume: state.in_flight.len(),
        }),
        last_error: failed.map(|o| o.error.clone().unwrap_or_else(|| "failed".into())),
        warnings: last.map(|o| o.warnings.clone()).unwrap_or_default(),
        missing_channels: missing.channels,
        missing_users: missing.users,
        last_error_hint: failed.and_then(|o| o.hint.clone()),
        seal: state.seal.clone(),
    };
    JobStatus {
        job: job.name.clone(),
        next_tick: next_tick(job, now),
        ledger: Some(ledger),
        state_error: None,
        media_outstanding: None,
        media_unrecorded: None,
    }
}

/// How long `status` waits for the destinations' listings before leaving media counts out.
const MEDIA_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Per job, the references its archives' newest media records leave outstanding and its
/// archives without a record: one listing of every destination (a destination jobs share is
/// listed once). `None` for a job whose destination cannot be opened or listed, or whose
/// records cannot all be read.
async fn media_outstanding(jobs: &[Job], world: &World<'_>) -> Vec<Option<MediaCounts>> {
    let mut sources = Vec::new();
    let mut of_job = Vec::new();
    for job in jobs {
        let opened = store::open_to_read(
            &job.destination.url,
            &job.destination.options,
            &world.env_vars,
        );
        match opened {
            Ok(store) => {
                of_job.push(Some(sources.len()));
                sources.push(Source::of_job(job, store));
            }
            Err(_) => of_job.push(None),
        }
    }
    let listing = Listing::list(&sources).await;
    let (records, problems) = newest_records(&listing).await;
    let mut counts = vec![Some(MediaCounts::default()); sources.len()];
    for recorded in &records {
        if let Some(Some(count)) = counts.get_mut(recorded.listed.source) {
            count.outstanding += outstanding(&recorded.record);
        }
    }
    for listed in &listing.archives {
        if listing.media_record(listed).is_none()
            && let Some(Some(count)) = counts.get_mut(listed.source)
        {
            count.unrecorded += 1;
        }
    }
    // A store that could not be listed, or a record that could not be read: not known.
    for problem in listing.problems.iter().chain(&problems) {
        for (source, s) in sources.iter().enumerate() {
            let failed_list = problem.key == s.store.url();
            let failed_record = listing
                .archives
                .iter()
                .any(|a| a.source == source && problem.key.starts_with(&a.manifest.key));
            if failed_list || failed_record {
                counts[source] = None;
            }
        }
    }
    of_job
        .into_iter()
        .map(|at| at.and_then(|at| counts[at]))
        .collect()
}

/// The tasks in flight oldest window first, channels before users: the order they were
/// recorded in depends on which create Stream answered first.
fn in_flight_by_window(state: &JobState) -> impl Iterator<Item = &InFlight> {
    let mut tasks: Vec<&InFlight> = state.in_flight.iter().collect();
    tasks.sort_by_key(|t| (t.since, t.until, t.kind.name(), t.batch));
    tasks.into_iter()
}

fn human(statuses: &[JobStatus]) -> String {
    let mut out = String::new();
    for s in statuses {
        let _ = writeln!(out, "{}", s.job);
        match (&s.ledger, &s.state_error) {
            (Some(ledger), _) => human_ledger(&mut out, ledger, s.next_tick),
            (None, Some(e)) => {
                let _ = writeln!(out, "  state          cannot be read: {e}");
                let _ = writeln!(out, "  next tick      {}", time(s.next_tick));
            }
            (None, None) => {}
        }
        if let Some(n) = s.media_outstanding.filter(|n| *n > 0) {
            let _ = writeln!(
                out,
                "  media          {n} file reference(s) not captured yet; later runs retry them"
            );
        }
        if let Some(n) = s.media_unrecorded.filter(|n| *n > 0) {
            let _ = writeln!(
                out,
                "  media          {n} archive(s) not looked at yet: run `chatvault media`"
            );
        }
    }
    if statuses.is_empty() {
        out.push_str("no jobs\n");
    }
    out
}

fn time(t: Option<DateTime<Utc>>) -> String {
    t.map_or_else(
        || "never".to_owned(),
        |t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
    )
}

fn human_ledger(out: &mut String, s: &LedgerStatus, next: Option<DateTime<Utc>>) {
    let _ = writeln!(out, "  last success   {}", time(s.last_success));
    let _ = writeln!(out, "  watermark      {}", time(s.watermark));
    let _ = writeln!(
        out,
        "  next tick      {}{}",
        time(next),
        if s.due > 0 {
            format!(" ({} due now)", s.due)
        } else {
            String::new()
        }
    );
    if let Some(seal) = &s.seal {
        let _ = writeln!(out, "  last seal      {}", seal.sequence);
    }
    if let Some(holder) = &s.running {
        let _ = writeln!(out, "  running        by {holder}");
    }
    if let Some(i) = &s.interrupted {
        let _ = writeln!(
            out,
            "  last run       interrupted at {}, {} export task(s) to resume",
            time(Some(i.at)),
            i.tasks_to_resume
        );
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
            let window = if t.since == t.until {
                format!("users snapshot at {}", time(Some(t.since)))
            } else {
                format!("{} → {}", time(Some(t.since)), time(Some(t.until)))
            };
            let _ = writeln!(
                out,
                "    {}  {} batch {}  {window}  age {}h  {}d {}h left{}",
                t.task_id,
                t.kind,
                t.batch,
                t.age_hours,
                t.days_left,
                t.hours_left - t.days_left * 24,
                if t.lapse_risk { "  LAPSE RISK" } else { "" }
            );
            let _ = writeln!(out, "      key {}", t.key);
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
