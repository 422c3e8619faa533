//! The daemon: every job on its cron in its zone, at most `concurrency` jobs at once, one run
//! of a job at a time, until told to stop.
//!
//! Each job has a next check time. At it, the job's due ticks (by its `catch_up` policy and
//! the ledger) run in order; a failed or contended tick ends the batch of ticks, and the job
//! is checked again at its next tick, so a failure is retried on schedule, never in a loop.
//! `overlap: queue` checks again at the first tick after the run started (at once when ticks
//! came during it; they run then); `skip` waits for the next tick after the run.
//!
//! With the expiry duty (`run --expire`), every job with `keep_for` is expired when the daemon
//! starts and then once a day, on the same clock as the schedules, beside the runs. Expiry is
//! safe to stop at any point (a rerun finishes it), so a stopping daemon does not wait for it.

use std::collections::HashMap;
use std::pin::pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::{Runner, Shutdown};
use crate::config::hold::Hold;
use crate::config::job::{Job, Overlap};
use crate::plan::due::next_tick;

/// Longest sleep between checks: wakes up now and then even with nothing scheduled, which
/// also bounds how long a clock jump (a suspended host) goes unnoticed.
const MAX_SLEEP: Duration = Duration::from_secs(60);
/// How long interrupted runs get to record where they stopped before they are abandoned.
const STOP_WAIT: Duration = Duration::from_secs(10);
/// How often the expiry duty runs.
const EXPIRE_EVERY: chrono::TimeDelta = chrono::TimeDelta::days(1);

#[derive(Debug, Clone)]
pub struct DaemonOptions {
    /// Jobs running at once.
    pub concurrency: usize,
    /// Each run starts after a random delay up to this, spreading replicas and jobs that
    /// share a schedule.
    pub jitter: Duration,
    /// On stop, how long running jobs get to finish before they are interrupted.
    pub grace: Duration,
    /// Beats each time the loop wakes (the liveness check reads it).
    pub heartbeat: Heartbeat,
    /// `run --expire`: the holds that keep archives; with it, the jobs' archives past their
    /// `keep_for` are expired at start and once a day. `None`: never.
    pub expire: Option<Arc<Vec<Hold>>>,
}

impl Default for DaemonOptions {
    fn default() -> Self {
        DaemonOptions {
            concurrency: 4,
            jitter: Duration::ZERO,
            grace: Duration::from_secs(60),
            heartbeat: Heartbeat::default(),
            expire: None,
        }
    }
}

/// Set by the scheduling loop each time it wakes.
#[derive(Debug, Clone)]
pub struct Heartbeat(Arc<Mutex<Instant>>);

impl Default for Heartbeat {
    fn default() -> Self {
        Heartbeat(Arc::new(Mutex::new(Instant::now())))
    }
}

impl Heartbeat {
    pub fn beat(&self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    pub fn age(&self) -> Duration {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .elapsed()
    }
}

/// What the outside tells a running daemon.
#[derive(Debug)]
pub enum Control {
    /// Replace the jobs and the holds (already validated).
    Reload { jobs: Vec<Job>, holds: Vec<Hold> },
    /// Drain: start nothing new, let running jobs finish within the grace period.
    Stop,
    /// Interrupt running jobs now.
    StopNow,
}

struct Slot {
    job: Job,
    next: DateTime<Utc>,
    running: bool,
    /// When the current (or last) run was started.
    started: DateTime<Utc>,
    /// Dropped from the job files while running: forget it when the run ends.
    removed: bool,
}

/// Runs until `Stop` (or `StopNow`, or the control channel closing).
pub async fn run(
    runner: Arc<Runner>,
    jobs: Vec<Job>,
    options: DaemonOptions,
    mut control: mpsc::Receiver<Control>,
) {
    let clock = runner.clock().clone();
    let permits = Arc::new(Semaphore::new(options.concurrency.max(1)));
    let now = clock.now();
    let mut slots: HashMap<String, Slot> = jobs
        .into_iter()
        .map(|job| (job.name.clone(), slot(job, now)))
        .collect();
    let mut running: JoinSet<String> = JoinSet::new();
    // Whose run each task is, for a run that panics and so returns no name.
    let mut runs: HashMap<tokio::task::Id, String> = HashMap::new();
    tracing::info!(jobs = slots.len(), "daemon started");
    let mut expire = options.expire.clone();
    let mut next_expiry = expire.as_ref().map(|_| now);
    let mut expiring: Option<tokio::task::JoinHandle<()>> = None;

    let drain = loop {
        options.heartbeat.beat();
        let now = clock.now();
        if let (Some(holds), Some(at)) = (&expire, next_expiry)
            && at <= now
        {
            if expiring.as_ref().is_none_or(|pass| pass.is_finished()) {
                let jobs: Vec<Job> = slots.values().map(|s| s.job.clone()).collect();
                expiring = Some(tokio::spawn(expire_all(
                    runner.clone(),
                    jobs,
                    holds.clone(),
                )));
            } else {
                tracing::warn!("the expiry pass of a day ago still runs; the next starts tomorrow");
            }
            next_expiry = Some(next_expiry_after(at, now));
        }
        for slot in slots.values_mut().filter(|s| !s.running && s.next <= now) {
            slot.running = true;
            slot.started = now;
            let task = running.spawn(run_due(
                runner.clone(),
                slot.job.clone(),
                permits.clone(),
                options.jitter,
            ));
            runs.insert(task.id(), slot.job.name.clone());
        }
        let wake = slots
            .values()
            .filter(|s| !s.running)
            .map(|s| s.next)
            .chain(next_expiry)
            .min()
            .map_or(MAX_SLEEP, |next| {
                (next - now).to_std().unwrap_or_default().min(MAX_SLEEP)
            });
        tokio::select! {
            () = clock.sleep(wake) => {}
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let id = match &done {
                    Ok((id, _)) => *id,
                    Err(e) => e.id(),
                };
                let Some(name) = runs.remove(&id) else { continue };
                if let Err(e) = done {
                    // A bug, not an outcome: say so, and check the job again at its next tick
                    // rather than never.
                    tracing::error!(job = %name, error = %e, "a run ended abnormally");
                }
                let now = clock.now();
                let forget = slots.get(&name).is_some_and(|s| s.removed);
                if forget {
                    slots.remove(&name);
                } else if let Some(slot) = slots.get_mut(&name) {
                    slot.running = false;
                    slot.next = next_check(&slot.job, slot.started, now);
                }
            }
            message = control.recv() => match message {
                Some(Control::Reload { jobs, holds }) => {
                    reload(&mut slots, jobs, clock.now());
                    // The next expiry pass keeps what the holds in force then cover.
                    if let Some(kept) = &mut expire {
                        *kept = Arc::new(holds);
                    }
                }
                Some(Control::Stop) | None => break true,
                Some(Control::StopNow) => break false,
            },
        }
    };

    if let Some(pass) = expiring {
        // Killed anywhere, an expiry is finished by the next pass.
        pass.abort();
    }
    if !running.is_empty() {
        let how = Shutdown {
            at_recorded_points: false,
            soft: if drain { options.grace } else { Duration::ZERO },
            hard: STOP_WAIT,
        };
        // A second signal cuts the grace short.
        let now = async {
            while let Some(message) = control.recv().await {
                if matches!(message, Control::StopNow) {
                    return;
                }
            }
            std::future::pending().await
        };
        let finished = async { while running.join_next().await.is_some() {} };
        let stopped = runner.shut_down(&mut pin!(finished), now, how).await;
        if stopped.is_none() {
            running.abort_all();
        }
    }
    tracing::info!("daemon stopped");
}

/// When to check a job again after a run started at `started` ended at `now`. `skip`: its
/// next tick after the run. `queue`: the first tick after the run started, so ticks that came
/// while it ran are checked at once, and a run that found nothing due waits for the next tick
/// instead of checking again and again.
fn next_check(job: &Job, started: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let after = match job.overlap {
        Overlap::Queue => started.min(now),
        Overlap::Skip => now,
    };
    next_tick(job, after).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The expiry pass after the one due at `at`, seen at `now`: a day later, or the first such
/// time after `now` when the clock jumped (a suspended host runs one pass, not one a day).
fn next_expiry_after(at: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    let mut next = at + EXPIRE_EVERY;
    if next <= now {
        let behind = (now - at).num_seconds() / EXPIRE_EVERY.num_seconds();
        next = at + EXPIRE_EVERY * i32::try_from(behind + 1).unwrap_or(i32::MAX);
    }
    next
}

/// One expiry pass over `jobs`, one job after another.
async fn expire_all(runner: Arc<Runner>, jobs: Vec<Job>, holds: Arc<Vec<Hold>>) {
    for job in jobs.iter().filter(|j| j.keep_for.is_some()) {
        runner.expire_job(job, &holds).await;
    }
}

fn slot(job: Job, now: DateTime<Utc>) -> Slot {
    Slot {
        job,
        next: now,
        running: false,
        started: now,
        removed: false,
    }
}

fn reload(slots: &mut HashMap<String, Slot>, jobs: Vec<Job>, now: DateTime<Utc>) {
    let names: std::collections::HashSet<String> = jobs.iter().map(|j| j.name.clone()).collect();
    slots.retain(|name, slot| {
        if names.contains(name) {
            return true;
        }
        slot.removed = true;
        slot.running
    });
    for job in jobs {
        match slots.get_mut(&job.name) {
            Some(slot) => {
                slot.job = job;
                slot.next = slot.next.min(now);
            }
            None => {
                slots.insert(job.name.clone(), slot(job, now));
            }
        }
    }
    tracing::info!(jobs = slots.len(), "job files reloaded");
}

/// Runs the job's due ticks once a permit (and the jitter) allows.
async fn run_due(
    runner: Arc<Runner>,
    job: Job,
    permits: Arc<Semaphore>,
    jitter: Duration,
) -> String {
    let Ok(_permit) = permits.acquire().await else {
        return job.name;
    };
    if !jitter.is_zero() {
        let delay = jitter.mul_f64(rand::random::<f64>());
        runner.clock().sleep(delay).await;
    }
    if let Err(e) = runner.run_due(&job).await {
        tracing::error!(job = %job.name, error = %e, "cannot read the job's state");
    }
    job.name
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::config::load::test_job;

    fn at(h: u32, m: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 4, h, m, 0)
            .single()
            .expect("valid")
    }

    fn hourly(overlap: &str) -> Job {
        let text = format!("schedule: \"0 * * * *\"\noverlap: {overlap}\nusers: [alice]\n");
        test_job(&text)
    }

    #[test]
    fn expiry_passes_come_a_day_apart_and_once_after_a_clock_jump() {
        assert_eq!(
            next_expiry_after(at(10, 0), at(10, 0)),
            at(10, 0) + EXPIRE_EVERY
        );
        assert_eq!(
            next_expiry_after(at(10, 0), at(10, 5)),
            at(10, 0) + EXPIRE_EVERY
        );
        let jumped = at(10, 0) + EXPIRE_EVERY * 3 + chrono::TimeDelta::minutes(1);
        assert_eq!(
            next_expiry_after(at(10, 0), jumped),
            at(10, 0) + EXPIRE_EVERY * 4
        );
    }

    #[test]
    fn a_queued_job_with_nothing_due_waits_for_its_next_tick() {
        // It used to be checked again at once, forever: a busy loop reading its ledger.
        assert_eq!(
            next_check(&hourly("queue"), at(10, 5), at(10, 5)),
            at(11, 0)
        );
    }

    #[test]
    fn a_queued_job_runs_at_once_the_ticks_that_came_during_its_run() {
        assert_eq!(
            next_check(&hourly("queue"), at(10, 55), at(12, 20)),
            at(11, 0)
        );
    }

    #[test]
    fn a_skipping_job_waits_for_the_next_tick_after_its_run() {
        assert_eq!(
            next_check(&hourly("skip"), at(10, 55), at(12, 20)),
            at(13, 0)
        );
        assert_eq!(next_check(&hourly("skip"), at(10, 5), at(10, 5)), at(11, 0));
    }
}
