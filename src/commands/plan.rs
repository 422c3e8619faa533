//! `chatvault plan` and `chatvault run --dry-run`: validate, then print the plan; with
//! `--state`, also what `run --once` would do now, from the jobs' ledgers (read only).

use std::path::PathBuf;

use chrono::{DateTime, Utc};

use super::{Picked, Wanted, World, exit, ledgers, load_and_pick, output, runtime, state_to_read};
use crate::cli::{PlanFormat, PlanOptions};
use crate::config::MissingVars;
use crate::plan::now::{Recorded, RecordedWindow, ResumePlan, plan_now};
use crate::plan::window::Span;
use crate::plan::{HoldPlan, Plan, human, next_ticks, plan};
use crate::state::JobState;

/// `names`: `--job`; the plan then holds only those jobs.
pub fn run(
    paths: &[PathBuf],
    names: &[String],
    opts: &PlanOptions,
    config: Option<PathBuf>,
    world: &World<'_>,
) -> u8 {
    let now = opts.now.unwrap_or(world.now);
    let wanted = Wanted {
        paths,
        config,
        jobs: names,
        missing_vars: MissingVars::Warn,
        now,
        warnings: true,
    };
    let picked = match load_and_pick(&wanted, world) {
        Ok(picked) => picked,
        Err(code) => return code,
    };
    // Files with unset variables give no job name: they are listed only for a whole plan.
    let blocked = if names.is_empty() {
        picked.blocked.as_slice()
    } else {
        &[]
    };
    let mut plan = plan(&picked.jobs, blocked, now, opts.next);
    plan.holds = picked.set.settings.holds.iter().map(HoldPlan::of).collect();
    if opts.state
        && let Err(code) = add_now(&mut plan, &picked, now, opts.next, world)
    {
        return code;
    }
    match opts.format {
        PlanFormat::Human => output::stdout(&human(&plan)),
        PlanFormat::Json => {
            let mut text = serde_json::to_string_pretty(&plan).unwrap_or_default();
            text.push('\n');
            output::stdout(&text);
        }
    }
    exit::OK
}

/// Each job's plan gains what `run --once` at `now` would do, from its ledger in the state store
/// the global config names (opened to read), and its next ticks start where that leaves it.
/// `Err`: the exit code, the problem printed.
fn add_now(
    plan: &mut Plan,
    picked: &Picked,
    now: DateTime<Utc>,
    next: usize,
    world: &World<'_>,
) -> Result<(), u8> {
    let state = state_to_read(&picked.set, world)?;
    let runtime = runtime().ok_or(exit::FAILED)?;
    let read = runtime
        .block_on(ledgers::read(&state, &picked.jobs))
        .map_err(|e| {
            output::report(&e, Some(e.hint()));
            exit::FAILED
        })?;
    let mut failed = false;
    for ((job, state), job_plan) in picked.jobs.iter().zip(read).zip(&mut plan.jobs) {
        match state {
            Ok(state) => {
                let now_plan = plan_now(job, now, &recorded(&state));
                // The later ticks start where the state and the ticks due now leave the job,
                // each tick assumed to succeed, as the due ones are.
                let after_due = now_plan
                    .due
                    .iter()
                    .flat_map(|t| &t.windows)
                    .map(|w| w.until)
                    .max()
                    .max(now_plan.watermark);
                job_plan.ticks = next_ticks(job, now, next, after_due);
                job_plan.now = Some(now_plan);
            }
            Err(e) => {
                output::report_for(&job.name, &e, None);
                failed = true;
            }
        }
    }
    if failed { Err(exit::FAILED) } else { Ok(()) }
}

/// What the planner needs of a job's ledger.
fn recorded(state: &JobState) -> Recorded {
    Recorded {
        last_tick: state.last_tick,
        watermark: state.watermark,
        open: state
            .open
            .iter()
            .map(|w| RecordedWindow {
                tick: w.tick,
                span: Span {
                    since: w.since,
                    until: w.until,
                },
                channels: w.channels.clone(),
                users: w.users.clone(),
            })
            .collect(),
        in_flight: state
            .in_flight
            .iter()
            .map(|t| ResumePlan {
                task_id: t.task_id.clone(),
                kind: t.kind.name(),
                batch: t.batch,
                since: t.since,
                until: t.until,
                key: t.key.clone(),
                created_at: t.created_at,
            })
            .collect(),
    }
}
