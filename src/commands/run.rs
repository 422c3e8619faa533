//! `chatvault run`: the daemon, `--once`, and (through `plan`) `--dry-run`.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use chrono::SecondsFormat;
use futures::StreamExt;
use thiserror::Error;
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::keys::{LoadError, deployment_keys, signing_key};
use super::progress::Bars;
use super::signals::{Signal, Signals};
use super::{Picked, Wanted, World, exit, listen, load_and_pick, logging, output, runtime};
use crate::api::{ApiError, ClientConfig, StreamClient};
use crate::cli::{LogFormat, RunArgs};
use crate::clock::{SharedClock, SystemClock};
use crate::config::MissingVars;
use crate::config::job::{Job, JobSet, SecretSource};
use crate::notify::Notifier;
use crate::plan::due::next_tick;
use crate::runner::daemon::{self, Control, DaemonOptions};
use crate::runner::{
    Fanout, LogReporter, Phase, Reporter, RunError, Runner, RunnerOptions, Shutdown, TickOutcome,
    one_line,
};
use crate::state::InFlight;
use crate::store::problem::Problem;
use crate::store::{self, StoreError};
use crate::telemetry::{Changed, Health, Metrics};

/// Set to a phase name, a run freezes there (for crash tests).
const PAUSE_VAR: &str = "CHATVAULT_PAUSE_AT";

pub fn run(args: &RunArgs, config: Option<PathBuf>, log: LogFormat, world: &World<'_>) -> u8 {
    if args.plan.state {
        output::error(
            "--state only applies to --dry-run: a real run reads the state anyway",
            None,
        );
        return exit::INVALID;
    }
    if args.plan.now.is_some() {
        output::error(
            "--now only applies to --dry-run: a real run uses the real clock",
            None,
        );
        return exit::INVALID;
    }
    // Asked-for JSON goes to a log collector even from a terminal: no progress bars then.
    let interactive = args.once && log == LogFormat::Human && std::io::stderr().is_terminal();
    logging::init(log, if interactive { "warn" } else { "info" });
    let Picked { set, jobs, .. } = match load_and_pick(&wanted(args, config.clone(), world), world)
    {
        Ok(picked) => picked,
        Err(code) => return code,
    };
    let pause_at = match (world.env)(PAUSE_VAR).map(|v| v.parse::<Phase>()) {
        None => None,
        Some(Ok(phase)) => Some(phase),
        Some(Err(e)) => {
            output::error(&format!("{PAUSE_VAR}: {e}"), None);
            return exit::INVALID;
        }
    };
    let Some(runtime) = runtime() else {
        return exit::FAILED;
    };
    runtime.block_on(async {
        let clock: SharedClock = Arc::new(SystemClock);
        let progress: Arc<dyn Reporter> = if interactive {
            Arc::new(Bars::new())
        } else {
            Arc::new(LogReporter)
        };
        let notifier = match Notifier::new(clock.clone(), &jobs) {
            Ok(notifier) => Arc::new(notifier),
            Err(e) => {
                output::report(&e, None);
                return exit::FAILED;
            }
        };
        let (metrics, changed) = Metrics::new(clock.clone());
        let metrics = Arc::new(metrics);
        metrics.track_jobs(jobs.iter().map(|j| j.name.as_str()));
        let reporter: Arc<dyn Reporter> =
            Arc::new(Fanout(vec![progress, metrics.clone(), notifier.clone()]));
        let options = RunnerOptions {
            pause_at,
            lease_ttl: args.lease_ttl.max(std::time::Duration::from_secs(1)),
            ..RunnerOptions::default()
        };
        let runner = match build_runner(&set, clock, world, reporter, options) {
            Ok(runner) => Arc::new(runner),
            Err(e) => {
                show(&e);
                return exit::INVALID;
            }
        };
        let code = if args.once {
            // Nothing reads ledgers back for metrics in a one-shot run.
            drop(changed);
            let render = log == LogFormat::Human;
            once(
                &runner,
                jobs,
                usize::from(args.concurrency),
                args.grace,
                render,
            )
            .await
        } else {
            let options = DaemonOptions {
                concurrency: usize::from(args.concurrency),
                jitter: args.jitter,
                grace: args.grace,
                expire: args.expire.then(|| Arc::new(set.settings.holds.clone())),
                ..DaemonOptions::default()
            };
            let watch = Watch {
                metrics,
                changed,
                notifier: notifier.clone(),
            };
            serve(runner.clone(), jobs, options, watch, args, config, world).await
        };
        // A pod told to stop is killed soon after --grace: notifications get what is left.
        let flush = if args.once && runner.is_draining() {
            STOPPING_FLUSH
        } else {
            NOTIFY_FLUSH
        };
        notifier.flush(flush).await;
        code
    })
}

/// How long an exiting process waits for notifications still being sent.
const NOTIFY_FLUSH: Duration = Duration::from_secs(15);
/// The same, for a `run --once` stopped by a signal (see `--grace`).
const STOPPING_FLUSH: Duration = Duration::from_secs(5);

/// What the daemon keeps up to date besides running jobs.
struct Watch {
    metrics: Arc<Metrics>,
    changed: Changed,
    notifier: Arc<Notifier>,
}

/// A run cannot go on without unset variables: they are errors, not warnings.
fn wanted<'a>(args: &'a RunArgs, config: Option<PathBuf>, world: &World<'_>) -> Wanted<'a> {
    Wanted {
        paths: &args.paths.paths,
        config,
        jobs: &args.jobs,
        missing_vars: MissingVars::Error,
        now: world.now,
        warnings: true,
    }
}

/// SIGHUP: the job files read again; `None` (and the problems logged) when the new set is
/// invalid, so the old one keeps running.
fn reload(args: &RunArgs, config: Option<PathBuf>, world: &World<'_>) -> Option<Picked> {
    tracing::info!("SIGHUP: reloading the job files and the holds");
    match load_and_pick(&wanted(args, config, world), world) {
        Ok(picked) => Some(picked),
        Err(_) => {
            tracing::error!("the job files are invalid (see above); keeping the current jobs");
            None
        }
    }
}

/// What to do when the API key is missing.
const NO_KEY_HINT: &str = "set STREAM_API_KEY, or api.key in the global config";
/// What to do when the API secret is missing.
const NO_SECRET_HINT: &str = "set STREAM_API_SECRET, or api.secret_file in the global config";

/// Why `run` could not start: what every run needs, checked before any job runs.
#[derive(Debug, Error)]
#[non_exhaustive]
pub(super) enum StartError {
    #[error("no API key: {NO_KEY_HINT}")]
    NoKey,
    #[error("no API secret: {NO_SECRET_HINT}")]
    NoSecret,
    #[error("cannot read the API secret file {}: {source}", path.display())]
    SecretFile {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Api(#[from] ApiError),
    #[error("state: {0}")]
    State(#[source] StoreError),
    #[error("signing: {0}")]
    Signing(#[source] LoadError),
    #[error("{0}")]
    Runner(#[from] RunError),
}

impl StartError {
    /// What the user can do about it. The messages of missing settings end with it as they
    /// always did; the renderer then leaves it out rather than say it twice.
    pub(super) fn hint(&self) -> Option<&'static str> {
        match self {
            StartError::NoKey => Some(NO_KEY_HINT),
            StartError::NoSecret => Some(NO_SECRET_HINT),
            StartError::Api(e) => e.hint(),
            StartError::Runner(e) => e.hint(),
            StartError::State(e) => crate::store::problem::diagnose(e).map(Problem::hint),
            StartError::Signing(e) => e.hint(),
            StartError::SecretFile { .. } => None,
        }
    }
}

fn build_runner(
    set: &JobSet,
    clock: SharedClock,
    world: &World<'_>,
    reporter: Arc<dyn Reporter>,
    mut options: RunnerOptions,
) -> Result<Runner, StartError> {
    options.signing_key = signing_key(&set.settings).map_err(StartError::Signing)?;
    if let Some(key) = &options.signing_key {
        options.keyring = deployment_keys(Some(key), &set.settings).map_err(StartError::Signing)?;
    }
    let client = stream_client(set, clock.clone())?;
    let state = store::open(
        &set.settings.state,
        &set.settings.state_options,
        &world.env_vars,
    )
    .map_err(StartError::State)?;
    Ok(Runner::new(
        client,
        state,
        clock,
        world.env_vars.clone(),
        reporter,
        options,
    )?)
}

/// The Stream client the global config's API settings make.
pub(super) fn stream_client(set: &JobSet, clock: SharedClock) -> Result<StreamClient, StartError> {
    let api = &set.settings.api;
    let key = api.key.clone().ok_or(StartError::NoKey)?;
    let secret = match &api.secret {
        Some(SecretSource::Value(secret)) => secret.clone(),
        Some(SecretSource::File(path)) => std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .map_err(|source| StartError::SecretFile {
                path: path.clone(),
                source,
            })?,
        None => return Err(StartError::NoSecret),
    };
    Ok(StreamClient::new(
        &ClientConfig::new(&api.base_url, &key, &secret),
        clock,
    )?)
}

/// Shows why `run` could not start, as every error is shown (see `output::render_error`).
fn show(error: &StartError) {
    output::report(error, error.hint());
}

/// `run --once`: each job's due ticks, jobs side by side; a summary line per job on stdout.
/// SIGTERM (what Kubernetes sends a CronJob's pod) and SIGINT drain it within `grace`.
/// `render`: failures are also shown in full on stderr. Not with `--log-format json`: there
/// stderr is JSON lines for a collector, and the `run failed` lines carry `error` and `hint`.
async fn once(
    runner: &Arc<Runner>,
    jobs: Vec<Job>,
    concurrency: usize,
    grace: Duration,
    render: bool,
) -> u8 {
    let Some(mut signals) = Signals::listen(false) else {
        return exit::FAILED;
    };
    let work = futures::stream::iter(jobs)
        .map(|job| async move {
            let job_run = once_job(runner, &job).await;
            (job.name, job_run)
        })
        .buffer_unordered(concurrency.max(1))
        .collect::<Vec<(String, JobRun)>>();
    let mut work = pin!(work);
    let results = tokio::select! {
        results = &mut work => Some(results),
        () = signals.stop() => {
            let soft = grace * 3 / 4;
            let how = Shutdown {
                at_recorded_points: true,
                soft,
                hard: grace - soft,
            };
            runner.shut_down(&mut work, signals.stop(), how).await
        }
    };
    let Some(mut results) = results else {
        output::stdout(
            "stopped: runs did not reach a recorded point within --grace and were abandoned; \
             their leases run out after --lease-ttl\n",
        );
        return exit::FAILED;
    };
    results.sort_by(|a, b| a.0.cmp(&b.0));
    let mut text = String::new();
    let mut errors = String::new();
    let mut failed = false;
    for (_, job_run) in results {
        failed |= job_run.failed;
        for line in job_run.lines {
            text.push_str(&line);
            text.push('\n');
        }
        errors.extend(job_run.errors);
    }
    // The summary stays one line a tick on stdout (scripts read it); why each failure
    // happened, its causes and what to do go to stderr, as every command's errors do.
    if render {
        output::stderr(&errors);
    }
    output::stdout(&text);
    if failed { exit::FAILED } else { exit::OK }
}

/// What `run --once` says about one job: a summary line a tick, whether any failed, and each
/// failure rendered in full (`error:`, `caused by:`, `hint:`).
struct JobRun {
    lines: Vec<String>,
    failed: bool,
    errors: Vec<String>,
}

async fn once_job(runner: &Runner, job: &Job) -> JobRun {
    let outcomes = match runner.run_due(job).await {
        Ok(outcomes) => outcomes,
        Err(e) => {
            return JobRun {
                lines: vec![format!("{}: failed: {}", job.name, one_line(&e))],
                failed: true,
                errors: vec![output::render_error(Some(&job.name), &e, e.hint())],
            };
        }
    };
    if outcomes.is_empty() {
        let next = next_tick(job, runner.clock().now()).map_or_else(
            || "none".into(),
            |t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true),
        );
        return JobRun {
            lines: vec![format!("{}: nothing due (next tick {next})", job.name)],
            failed: false,
            errors: Vec::new(),
        };
    }
    // Exit 1 also for an interrupted run: what was asked for is not done, and a script
    // running `run --once && …` must not go on as if it were (the ledger, metrics and
    // notifications do not count it as a failure).
    let failed = outcomes.iter().any(|(_, o)| o.is_unfinished());
    // What an interrupted run leaves for the next one, read after it released the job.
    let in_flight = if outcomes.iter().any(|(_, o)| *o == TickOutcome::Interrupted) {
        match runner.ledger(&job.name).load().await {
            Ok(state) => Some(state.into_value().in_flight),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read which export tasks were recorded");
                None
            }
        }
    } else {
        None
    };
    let mut errors = Vec::new();
    let lines = outcomes
        .into_iter()
        .map(|(tick, outcome)| {
            let tick = tick.to_rfc3339_opts(SecondsFormat::AutoSi, true);
            let what = match outcome {
                TickOutcome::Done {
                    archives,
                    bytes_stored,
                    warnings,
                    missing,
                    ..
                } => format!(
                    "ok: {archives} new archive(s), {bytes_stored} bytes{}",
                    output::warning_lines(&missing, &warnings)
                ),
                TickOutcome::AlreadyDone => "already done".into(),
                TickOutcome::Busy { holder } => format!("skipped: {holder} is running this job"),
                TickOutcome::Failed { error } => {
                    let context = format!("{}: tick {tick}", job.name);
                    errors.push(output::render_error(Some(&context), &error, error.hint()));
                    format!("failed: {}", one_line(&error))
                }
                TickOutcome::Interrupted => interrupted(&in_flight),
            };
            format!("{}: tick {tick}: {what}", job.name)
        })
        .collect();
    JobRun {
        lines,
        failed,
        errors,
    }
}

/// The `interrupted` line of a tick: which recorded export tasks the next run resumes.
fn interrupted(in_flight: &Option<Vec<InFlight>>) -> String {
    match in_flight.as_deref() {
        None => "interrupted".into(),
        Some([]) => "interrupted before any export task was created; the next run starts it".into(),
        Some(tasks) => {
            let named: Vec<String> = tasks
                .iter()
                .map(|t| format!("{} ({})", t.task_id, t.key))
                .collect();
            format!(
                "interrupted; the next run resumes {} recorded export task(s): {}",
                tasks.len(),
                named.join(", ")
            )
        }
    }
}

/// The daemon, with signals: TERM/INT drain then stop, a second one stops at once; HUP
/// reloads the job files.
async fn serve(
    runner: Arc<Runner>,
    jobs: Vec<Job>,
    options: DaemonOptions,
    watch: Watch,
    args: &RunArgs,
    config: Option<PathBuf>,
    world: &World<'_>,
) -> u8 {
    let health = Arc::new(Health::new(options.heartbeat.clone()));
    let stop_listening = CancellationToken::new();
    let mut background = match args.listen {
        Some(addr) => {
            let stop = stop_listening.clone();
            let listening = listen::listen(
                addr,
                &watch.metrics,
                watch.changed,
                &health,
                &runner,
                args.state_refresh,
                stop,
            );
            match listening.await {
                Ok(tasks) => tasks,
                Err(message) => {
                    output::error(&message, None);
                    return exit::FAILED;
                }
            }
        }
        None => {
            // Without a listener nobody reads the metrics: stop the ledger reads they ask for.
            drop(watch.changed);
            health.set_ready();
            JoinSet::new()
        }
    };
    let Some(mut signals) = Signals::listen(true) else {
        return exit::FAILED;
    };
    let (tx, rx) = mpsc::channel(4);
    let daemon = daemon::run(runner, jobs, options, rx);
    let signals = async {
        let mut stopping = false;
        loop {
            if signals.next().await == Signal::Reload {
                if let Some(Picked { set, jobs, .. }) = reload(args, config.clone(), world) {
                    let added = watch
                        .metrics
                        .track_jobs(jobs.iter().map(|j| j.name.as_str()));
                    watch.metrics.ledgers_changed(added);
                    watch.notifier.set_jobs(&jobs);
                    let holds = set.settings.holds;
                    let _ = tx.send(Control::Reload { jobs, holds }).await;
                }
                continue;
            }
            let message = if stopping {
                Control::StopNow
            } else {
                Control::Stop
            };
            tracing::info!(now = stopping, "stop requested");
            health.set_stopping();
            stopping = true;
            let _ = tx.send(message).await;
        }
    };
    tokio::select! {
        () = daemon => {}
        () = signals => {}
    }
    stop_listening.cancel();
    background.abort_all();
    exit::OK
}
