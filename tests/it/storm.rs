//! The fault storm: hourly ticks of one job of 200 channels (eight batches of 25 per window),
//! run by the real daemon for days of simulated time while everything around it misbehaves;
//! at the end every window is archived exactly once.
//!
//! - The export API emulator answers about 10 % of API requests with 500, and every few hours
//!   sends a burst of 429s, a burst of 502/503/504s (some longer than the client's six
//!   attempts), cuts downloads part-way, answers downloads as if their link had expired, or
//!   makes export tasks fail; for a stretch it also answers slowly.
//! - S3 (moto) goes away five times, for two to four hours each, some seconds into a run and
//!   between runs: open connections are reset, new ones refused (or accepted and reset). The
//!   job's destination and its state store are both behind it, so runs fail and later runs
//!   must cover the gap.
//!
//! moto keeps everything in memory: really restarting it would lose the archives and the
//! ledger, which no real S3 does. A TCP proxy (`common/proxy.rs`) between chatvault and moto
//! stands in for the restart: stopping it is, as chatvault sees it, S3 going down (connections
//! cut in flight, then refused or reset), and starting it again is S3 coming back with its
//! data, as a real S3 outage ends.
//!
//! At the end, reading moto directly: every archive matches its manifest; each window has its
//! eight batches once and covers the 200 channels once; the windows join without gap or
//! overlap from the first tick's window to the last tick minus the lag, and no tick with S3
//! down for the hour after it has a window of its own (a later run covered it); the union of
//! the archives holds each message of the period exactly once (the emulator's ground truth);
//! and every export task not archived either failed or was created while S3 was going down
//! (its id could not be recorded): creates ≤ windows × 8 + failed + lapsed + those.
//!
//! Time is the emulator's clock, driven by the test (`common/driven.rs`): between runs it jumps
//! to the daemon's next wake-up; during a run it moves only to the run's own next sleep (a
//! poll, a backoff, a rate-limit wait), so a run waiting for S3, or retrying it (object_store
//! retries in real time: about ten attempts over a few seconds), sees no time pass.
//!
//! Length: `CHATVAULT_STORM_DAYS` simulated days, 2 by default (48 ticks, about 310 archives,
//! 14,400 messages): the shortest storm that still meets every fault, the five outages
//! included; the faults and the outages are spread over whatever length is chosen.
//! `benches/storm.sh` runs the same storm for 90 days or more. Real time goes to three
//! things: moto, one Python process, answers a request in about 5 to 10 ms, and a tick of
//! eight batches makes about 60 (a ledger change is one create-only write); a run with S3
//! down costs object_store's retries, a few real seconds per request; and a run that S3 cut
//! in flight ends only once its lease (30 minutes) has run out, which the driver reaches in
//! the daemon's naps (see [`NAP_AFTER`]). On two cores shared with other builds the two days
//! took 97 to 113 s, most of it the outages' real time, which no load changes.

//! The storm needs a process of its own: it installs the global tracing subscriber, and its
//! count of the daemon's errors would take in those of any other test running beside it.
//! cargo-nextest (`scripts/test`) gives it one; with `cargo test`, run it alone
//! (`cargo test --test it storm::`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chatvault::api::{ClientConfig, StreamClient};
use chatvault::archive::seal::read_chain;
use chatvault::clock::SharedClock;
use chatvault::config::job::{Compression, Job};
use chatvault::config::{LoadOptions, MissingVars, load};
use chatvault::runner::daemon::{self, Control, DaemonOptions};
use chatvault::runner::{Event, Reporter, Runner, RunnerOptions, TickOutcome};
use chatvault::state::Ledger;
use chatvault::store::url::StoreUrl;
use chatvault::store::{self, StoreOptions};
use chatvault_emulator::{
    ClockMode, DataSpec, Emulator, EmulatorConfig, Endpoint, TaskKind, TaskStatus,
};
use chrono::{DateTime, DurationRound, TimeDelta, TimeZone, Utc};
use tokio::sync::mpsc;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

use crate::common::driven::DrivenClock;
use crate::common::emulated;
use crate::common::ground_truth;
use crate::common::proxy::{Outage, Proxy};
use crate::common::servers;

/// Simulated days: `CHATVAULT_STORM_DAYS`, 2 by default (see the module's doc).
fn days() -> i64 {
    match std::env::var("CHATVAULT_STORM_DAYS") {
        Ok(days) => match days.parse() {
            Ok(days) if (2..=MAX_DAYS).contains(&days) => days,
            _ => {
                panic!("CHATVAULT_STORM_DAYS={days:?}: expected a number of days, 2 to {MAX_DAYS}")
            }
        },
        Err(_) => 2,
    }
}

/// A year: the ground truth of longer storms would no longer fit a test machine's memory
/// comfortably. Under two days the fifth outage does not fit before the quiet tail.
const MAX_DAYS: i64 = 365;

const CHANNELS: usize = 200;
const BATCHES: usize = 8; // ceil(200 / 25)
const LAG: TimeDelta = TimeDelta::minutes(5);
/// The job's name; also its ledger's.
const JOB: &str = "storm";
/// The daemon's longest sleep between checks (`MAX_SLEEP` in `runner/daemon.rs`): during a
/// run, a sleep of exactly this long is the daemon's loop, not the run waiting.
const DAEMON_NAP: Duration = Duration::from_secs(60);
/// During a run with nothing of its own asleep and S3 quiet this long, the daemon's nap may
/// pass (a rate-limit wait can also last exactly a minute). This is how a run that S3 cut in
/// flight reaches the end of its lease, nap by nap, while object_store retries in real time:
/// at a second a nap, each such run cost half a minute. Shorter is safe for the lease of a run
/// that is merely busy: its keeper checks every real second and renews with 20 of the 30
/// minutes left, and naps pass at most 5 minutes of the clock a real second.
const NAP_AFTER: Duration = Duration::from_millis(200);
/// A run that neither ends nor sleeps nor talks to S3 this long is taken as over (a safety
/// net; runs end with `TickFinished` or the daemon's error).
const GIVE_UP_ON_RUN: Duration = Duration::from_secs(5);
/// A clock that has not moved for this much real time means the storm is stuck (a hang
/// guard, not a speed limit: the slowest step, a run S3 cut in flight, takes seconds).
const STUCK_AFTER: Duration = Duration::from_secs(300);

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0)
        .single()
        .expect("a valid time")
}

/// The last tick (the 48th of two days).
fn last_tick() -> DateTime<Utc> {
    hour(hours() - 1)
}

fn hour(h: i64) -> DateTime<Utc> {
    start() + TimeDelta::hours(h)
}

// ---------------------------------------------------------------------------------------------
// The scenario.

/// One S3 outage: from `from`, `minutes` long.
#[derive(Debug, Clone, Copy)]
struct Down {
    from: DateTime<Utc>,
    minutes: i64,
    how: Outage,
}

impl Down {
    fn until(&self) -> DateTime<Utc> {
        self.from + TimeDelta::minutes(self.minutes)
    }
}

/// Hours of the run: ticks `0..hours()` (relative to [`start`]).
fn hours() -> i64 {
    days() * 24
}

/// No discrete fault and no outage in the last hours, so the last ticks settle.
const QUIET_TAIL: i64 = 4;

/// The S3 outages, spread over the run (at set fractions of it), a few hours each: some start
/// seconds into a run, cutting its requests in flight, others between runs.
fn outages() -> Vec<Down> {
    let at = |fraction: f64, secs: i64| {
        hour((hours() as f64 * fraction) as i64) + TimeDelta::seconds(secs)
    };
    let planned = [
        // 20 s into a run: its requests are cut in flight.
        (at(0.12, 20), 180, Outage::Refuse),
        // Between runs.
        (at(0.35, 37 * 60), 140, Outage::Reset),
        (at(0.55, 45), 240, Outage::Refuse),
        (at(0.70, 10 * 60), 110, Outage::Reset),
        // 5 s into a run: the lease and the claim are taken, little else.
        (at(0.85, 5), 150, Outage::Refuse),
    ];
    let mut downs: Vec<Down> = Vec::new();
    for (from, minutes, how) in planned {
        let down = Down { from, minutes, how };
        let clear = downs.last().is_none_or(|d| d.until() < from);
        if clear && down.until() < hour(hours() - QUIET_TAIL) {
            downs.push(down);
        }
    }
    downs
}

#[derive(Debug, Clone)]
enum Action {
    S3Down(Outage),
    S3Back,
    RateLimit(Endpoint, u32),
    ServerErrors(Endpoint, u32, u16),
    CutDownloads(u32, u64),
    ExpireLinks(u32),
    FailTasks(u32),
    Delay(Endpoint, Duration),
    /// Prune the ledger, as an hour of real time would (see [`prune`]).
    Prune,
}

/// Every scheduled action, in time order. Each kind of fault comes every few hours (periods
/// prime to each other, so they meet in ever new combinations), queued a second before a
/// tick so the tick's run meets it.
fn scenario() -> Vec<(DateTime<Utc>, Action)> {
    let mut plan = Vec::new();
    for down in outages() {
        plan.push((down.from, Action::S3Down(down.how)));
        plan.push((down.until(), Action::S3Back));
    }
    let endpoints = [
        Endpoint::ExportChannels,
        Endpoint::GetExportChannelsStatus,
        Endpoint::DownloadExport,
    ];
    for h in 1..hours() - QUIET_TAIL {
        let at = hour(h) - TimeDelta::seconds(1);
        // The how-manieth time this fault comes, for varying its parameters.
        let nth = |period: i64| usize::try_from(h / period).unwrap_or(0);
        let small = |period: i64, base: u32, spread: usize| base + (nth(period) % spread) as u32;
        if h % 7 == 2 {
            plan.push((at, Action::ExpireLinks(small(7, 1, 4))));
        }
        if h % 5 == 1 {
            let after = [200, 3_000, 12_000][nth(5) % 3];
            plan.push((at, Action::CutDownloads(small(5, 1, 6), after)));
        }
        if h % 11 == 4 {
            let endpoint = endpoints[nth(11) % 3];
            plan.push((at, Action::RateLimit(endpoint, small(11, 2, 6))));
        }
        if h % 13 == 3 {
            // Up to 8 in a row: more than the client's 6 attempts.
            let endpoint = endpoints[nth(13) % 3];
            let status = [502, 503, 504][nth(13) % 3];
            plan.push((at, Action::ServerErrors(endpoint, small(13, 2, 7), status)));
        }
        if h % 17 == 6 {
            plan.push((at, Action::FailTasks(small(17, 1, 3))));
        }
        if h % 6 == 0 {
            plan.push((hour(h) + TimeDelta::minutes(30), Action::Prune));
        }
    }
    // A slow stretch: every status answer a few real milliseconds late.
    let slow_from = (hours() as f64 * 0.4) as i64;
    let slow_hours = (hours() / 8).clamp(2, 24);
    plan.push((
        hour(slow_from) - TimeDelta::seconds(1),
        Action::Delay(Endpoint::GetExportChannelsStatus, Duration::from_millis(3)),
    ));
    plan.push((
        hour(slow_from + slow_hours) - TimeDelta::seconds(1),
        Action::Delay(Endpoint::GetExportChannelsStatus, Duration::ZERO),
    ));
    plan.sort_by_key(|(at, _)| *at);
    plan
}

/// What was injected, by kind.
#[derive(Debug, Default)]
struct Injected {
    rate_limited: u64,
    gateway_errors: u64,
    cut_downloads: u64,
    expired_links: u64,
    failing_tasks: u64,
    slow_hours: i64,
    slow_since: Option<DateTime<Utc>>,
    prunes: u64,
    pruned: u64,
}

/// The emulator's answers, counted as the storm goes: its request log (which keeps the latest
/// 100,000) is drained every simulated day, so a storm of any length counts every request.
#[derive(Debug, Default)]
struct Answers {
    api_requests: usize,
    /// 500s drawn at the error rate, on API requests.
    drawn_500: usize,
    gateway: usize,
    too_many: usize,
    /// Downloads refused for an expired link.
    expired_seen: usize,
}

impl Answers {
    fn take_from(&mut self, emu: &Emulator) {
        for r in emu.take_requests() {
            let api = r.endpoint.is_some_and(|e| e != Endpoint::DownloadExport);
            let download = r.endpoint == Some(Endpoint::DownloadExport);
            self.api_requests += usize::from(api);
            self.drawn_500 += usize::from(api && r.status == 500);
            self.gateway += usize::from(matches!(r.status, 502..=504));
            self.too_many += usize::from(r.status == 429);
            self.expired_seen += usize::from(download && r.status == 403);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Watching: the runner's events and the daemon's errors.

/// Counts what the runner reports.
#[derive(Default)]
struct Tally {
    finished: AtomicU64,
    inner: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    outcomes: BTreeMap<&'static str, u64>,
    recovered: u64,
    resumed: u64,
    lapsed: u64,
    archived: u64,
    already_archived: u64,
    batch_failures: u64,
    /// Failed runs that could not read the job's state at all.
    state_unreadable: u64,
}

impl Reporter for Tally {
    fn event(&self, event: &Event) {
        let mut counts = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        match event {
            Event::TickFinished {
                outcome, recovered, ..
            } => {
                let kind = match outcome {
                    TickOutcome::Done { .. } => "done",
                    TickOutcome::AlreadyDone => "already done",
                    TickOutcome::Busy { .. } => "busy",
                    TickOutcome::Failed { error } => {
                        if error
                            .to_string()
                            .starts_with("state: state store error at jobs/storm/ledger/")
                        {
                            counts.state_unreadable += 1;
                        }
                        "failed"
                    }
                    TickOutcome::Interrupted => "interrupted",
                };
                *counts.outcomes.entry(kind).or_default() += 1;
                counts.recovered += u64::from(*recovered);
                // Last: the driver reads it as "the run is over".
                self.finished.fetch_add(1, Ordering::AcqRel);
            }
            Event::Resumed { .. } => counts.resumed += 1,
            Event::Lapsed { .. } => counts.lapsed += 1,
            Event::Archived { .. } => counts.archived += 1,
            Event::AlreadyArchived(_) => counts.already_archived += 1,
            Event::BatchFailed { .. } => counts.batch_failures += 1,
            _ => {}
        }
    }
}

impl Tally {
    fn finished(&self) -> u64 {
        self.finished.load(Ordering::Acquire)
    }

    fn counts(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counts the daemon's errors (none expected: even a run that cannot read the job's state ends
/// with a `TickFinished`) and chatvault's warnings, by target.
#[derive(Clone, Default)]
struct Logged {
    daemon_errors: Arc<AtomicU64>,
    warnings: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Logged {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let meta = event.metadata();
        if !meta.target().starts_with("chatvault") || *meta.level() > tracing::Level::WARN {
            return;
        }
        if *meta.level() == tracing::Level::ERROR && meta.target() == "chatvault::runner::daemon" {
            self.daemon_errors.fetch_add(1, Ordering::AcqRel);
        }
        *self
            .warnings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(format!("{} {}", meta.level(), meta.target()))
            .or_default() += 1;
    }
}

// ---------------------------------------------------------------------------------------------
// Driving the clock.

/// Moves the clock: between runs straight to the daemon's next wake-up (the run's tick, on the
/// hour, starts a run); during a run only to the run's own next sleep (a poll, a backoff, a
/// rate-limit wait), so a run that is waiting for S3 or the emulator, or retrying S3 in real
/// time, sees no time pass. A run is over at its `TickFinished`, or at the daemon's error when
/// it could not even read the job's state.
struct Driver {
    clock: DrivenClock,
    tally: Arc<Tally>,
    logged: Logged,
    /// A run is (or may be) going on.
    in_run: bool,
    /// Runs finished (`TickFinished`) and daemon errors when the run began.
    run_mark: (u64, u64),
    /// Since when a run has had nothing of its own asleep.
    stuck_since: Option<Instant>,
    given_up: u64,
}

impl Driver {
    fn ended(&self) -> (u64, u64) {
        (
            self.tally.finished(),
            self.logged.daemon_errors.load(Ordering::Acquire),
        )
    }

    fn begin_run(&mut self) {
        self.in_run = true;
        self.run_mark = self.ended();
        self.stuck_since = None;
    }

    /// One step: moves the clock to the next deadline, at most to `cap`, or waits a little
    /// for one.
    async fn step(&mut self, proxy: &Proxy, cap: DateTime<Utc>) {
        let generation = self.clock.generation();
        let now = self.clock.now();
        let (finished, errors) = self.ended();
        if self.in_run && (finished > self.run_mark.0 || errors > self.run_mark.1) {
            self.in_run = false;
        }
        let pending = self.clock.pending();
        if pending.iter().any(|p| p.deadline <= now) {
            // A sleeper woken but not yet gone: let it go on first.
            self.clock
                .wait_for_change(generation, Duration::from_millis(1))
                .await;
            return;
        }
        let own = pending
            .iter()
            .filter(|p| !self.in_run || p.asked != DAEMON_NAP)
            .map(|p| p.deadline)
            .min();
        let next = match own {
            Some(next) => {
                self.stuck_since = None;
                next
            }
            None => {
                let stuck = *self.stuck_since.get_or_insert_with(Instant::now);
                let quiet = if proxy.busy() {
                    Duration::ZERO
                } else {
                    proxy.quiet_for().min(stuck.elapsed())
                };
                if self.in_run && quiet >= GIVE_UP_ON_RUN {
                    self.in_run = false;
                    self.given_up += 1;
                }
                match pending.iter().map(|p| p.deadline).min() {
                    Some(next) if quiet >= NAP_AFTER => next,
                    _ => {
                        self.clock
                            .wait_for_change(generation, Duration::from_millis(1))
                            .await;
                        return;
                    }
                }
            }
        };
        let mut target = next.min(cap);
        // The daemon starts a run at every tick (hourly, on the hour) it is not running.
        let boundary = now
            .duration_trunc(TimeDelta::hours(1))
            .expect("an hour boundary")
            + TimeDelta::hours(1);
        if target >= boundary {
            target = boundary;
            self.begin_run();
        }
        self.clock.advance_to(target);
        self.stuck_since = None;
    }
}

// ---------------------------------------------------------------------------------------------
// Set-up.

/// The options block of a store behind the proxy, as YAML (the secret from `${MOTO_SECRET}`).
fn options_yaml(indent: &str, endpoint: &str, moto: &servers::S3Server) -> String {
    format!(
        "{indent}options:\n{indent}  aws_endpoint: {endpoint}\n{indent}  aws_allow_http: \"true\"\n\
         {indent}  aws_region: {region}\n{indent}  aws_access_key_id: {key}\n\
         {indent}  aws_secret_access_key: ${{MOTO_SECRET}}\n",
        region = moto.region,
        key = moto.access_key,
    )
}

/// Writes the config and the job file and loads them as `chatvault run` does.
fn load_job(
    dir: &std::path::Path,
    moto: &servers::S3Server,
    proxy: &Proxy,
    prefix: &str,
    cids: &[String],
) -> (Job, StoreUrl, StoreOptions) {
    let endpoint = proxy.endpoint();
    std::fs::create_dir(dir.join("jobs")).expect("jobs/");
    let config = format!(
        "state:\n  url: s3://{bucket}/{prefix}/state\n{options}",
        bucket = servers::moto_state().bucket,
        options = options_yaml("  ", &endpoint, moto),
    );
    std::fs::write(dir.join("chatvault.yaml"), config).expect("write the config");
    let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for cid in cids {
        let (kind, id) = cid.split_once(':').expect("a cid is type:id");
        by_type.entry(kind).or_default().push(id);
    }
    let mut channels = String::new();
    for (kind, ids) in by_type {
        channels.push_str(&format!(
            "  - type: {kind}\n    ids: [{}]\n",
            ids.join(", ")
        ));
    }
    let job = format!(
        "name: {JOB}\nschedule: \"0 * * * *\"\ncatch_up: latest\nwindow:\n  lag: 5m\n\
         channels:\n{channels}export:\n  version: v2\ndestination:\n  \
         url: s3://{bucket}/{prefix}/archive\n  compression: none\n{options}",
        bucket = moto.bucket,
        options = options_yaml("  ", &endpoint, moto),
    );
    std::fs::write(dir.join("jobs").join(format!("{JOB}.yaml")), job).expect("write the job");
    let secret = moto.secret_key.clone();
    let env = move |name: &str| (name == "MOTO_SECRET").then(|| secret.clone());
    let loaded = load(&LoadOptions {
        paths: vec![dir.join("jobs")],
        config: None,
        env: &env,
        missing_vars: MissingVars::Error,
    });
    assert!(
        !loaded.diagnostics.has_errors(),
        "{:?}",
        loaded.diagnostics.iter().collect::<Vec<_>>()
    );
    let set = loaded.into_set().expect("a valid job");
    let [job] = <[Job; 1]>::try_from(set.jobs).expect("one job");
    (
        job,
        set.settings.state.clone(),
        set.settings.state_options.clone(),
    )
}

/// moto stamps objects with real time, and the ledger prunes a record only once the newest is
/// an hour (of the store's time) younger; days pass here in seconds, so nothing would
/// ever be pruned and every full listing of the ledger would grow with the storm. Between runs
/// the test prunes as an hour of real time would: all but the newest 20 records.
async fn prune(state: &store::Store) -> usize {
    Ledger::open(state.clone(), JOB)
        .with_retention(20, Duration::ZERO)
        .prune()
        .await
        .expect("prune the ledger")
}

// ---------------------------------------------------------------------------------------------
// The storm.

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_storm_of_faults_leaves_every_window_archived_exactly_once() {
    let began = Instant::now();
    let moto = servers::moto();
    let logged = Logged::default();
    tracing_subscriber::registry()
        .with(logged.clone())
        .try_init()
        .expect("the test's tracing layer");

    let emu = Emulator::start(EmulatorConfig {
        data: DataSpec {
            // 70 of each type, 3 soft-deleted: 207 live channels.
            channels_per_type: 70,
            // One and a half an hour.
            messages_per_channel_per_day: 36,
            days_of_history: 1,
            ..DataSpec::default()
        },
        clock: ClockMode::Manual,
        start_time: start(),
        exact_content_length: false,
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts");
    let cids: Vec<String> = emulated::cids(&emu, CHANNELS)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(cids.len(), CHANNELS);
    for endpoint in Endpoint::ALL {
        if endpoint != Endpoint::DownloadExport {
            emu.faults().set_error_rate(endpoint, 0.10);
        }
    }

    let proxy = Proxy::start(&moto.endpoint).await;
    let dir = tempfile::tempdir().expect("a temporary folder");
    let prefix = servers::unique_prefix("storm");
    let (job, state_url, state_options) = load_job(dir.path(), &moto, &proxy, &prefix, &cids);
    // The test's own views of the stores go to moto directly.
    let state_direct = store::open(
        &StoreUrl::S3 {
            bucket: servers::moto_state().bucket,
            prefix: format!("{prefix}/state"),
        },
        &moto.options(),
        &[],
    )
    .expect("the state store");
    let archive_direct = store::open(
        &StoreUrl::S3 {
            bucket: moto.bucket.clone(),
            prefix: format!("{prefix}/archive"),
        },
        &moto.options(),
        &[],
    )
    .expect("the destination");

    let clock = DrivenClock::new(emu.clock().clone());
    let shared: SharedClock = Arc::new(clock.clone());
    let tally = Arc::new(Tally::default());
    let client = StreamClient::new(
        &ClientConfig::new(&emu.base_url(), emu.api_key(), &emu.config().api_secret),
        shared.clone(),
    )
    .expect("a client of the emulator");
    let runner = Runner::new(
        client,
        store::open(&state_url, &state_options, &[]).expect("the state store"),
        shared.clone(),
        vec![],
        tally.clone(),
        RunnerOptions {
            // Renewal is checked each real second; a busy minute of the driven clock can
            // pass in less.
            lease_ttl: Duration::from_secs(30 * 60),
            ..RunnerOptions::default()
        },
    )
    .expect("a runner")
    .with_holder("storm");
    let (control, rx) = mpsc::channel(1);
    let daemon = tokio::spawn(daemon::run(
        Arc::new(runner),
        vec![job.clone()],
        DaemonOptions::default(),
        rx,
    ));

    let mut driver = Driver {
        clock: clock.clone(),
        tally: tally.clone(),
        logged: logged.clone(),
        in_run: false,
        run_mark: (0, 0),
        stuck_since: None,
        given_up: 0,
    };
    // The daemon runs the tick of its start at once.
    driver.begin_run();
    let finish = last_tick() + TimeDelta::minutes(10);
    let plan = scenario();
    let mut next_action = 0;
    let mut prune_due = false;
    let mut injected = Injected::default();
    let mut answers = Answers::default();
    let mut next_report = start() + TimeDelta::days(1);
    let mut moved = (clock.now(), Instant::now());
    loop {
        if clock.now() != moved.0 {
            moved = (clock.now(), Instant::now());
        }
        assert!(
            moved.1.elapsed() < STUCK_AFTER,
            "the storm is stuck at {} (in a run: {}, sleeping: {:?}, S3 up: {}, {:?})",
            clock.now(),
            driver.in_run,
            clock.pending(),
            proxy.is_up(),
            tally.counts()
        );
        let now = clock.now();
        while let Some((at, action)) = plan.get(next_action)
            && *at <= now
        {
            next_action += 1;
            let faults = emu.faults();
            match action {
                Action::S3Down(how) => proxy.stop(*how).await,
                Action::S3Back => proxy.resume().await,
                Action::RateLimit(endpoint, n) => {
                    faults.rate_limit_next(*endpoint, *n);
                    injected.rate_limited += u64::from(*n);
                }
                Action::ServerErrors(endpoint, n, status) => {
                    faults.fail_next_requests(*endpoint, *n, *status);
                    injected.gateway_errors += u64::from(*n);
                }
                Action::CutDownloads(n, after) => {
                    faults.cut_next_downloads(*n, *after);
                    injected.cut_downloads += u64::from(*n);
                }
                Action::ExpireLinks(n) => {
                    faults.expire_next_links(*n);
                    injected.expired_links += u64::from(*n);
                }
                Action::FailTasks(n) => {
                    faults.fail_next_tasks(*n);
                    injected.failing_tasks += u64::from(*n);
                }
                Action::Delay(endpoint, delay) => {
                    faults.set_delay(*endpoint, *delay);
                    match injected.slow_since.take() {
                        Some(since) => injected.slow_hours += (*at - since).num_hours(),
                        None => injected.slow_since = Some(*at),
                    }
                }
                Action::Prune => prune_due = true,
            }
        }
        if prune_due && !driver.in_run && proxy.is_up() {
            prune_due = false;
            injected.prunes += 1;
            injected.pruned += prune(&state_direct).await as u64;
        }
        if now >= finish && !driver.in_run {
            break;
        }
        if now >= next_report {
            println!(
                "storm: {} after {:.1?}: {} runs, {} requests to S3, {:?}",
                now,
                began.elapsed(),
                tally.finished(),
                proxy.stats().requests,
                tally.counts().outcomes
            );
            next_report += TimeDelta::days(1);
            answers.take_from(&emu);
        }
        let cap = match plan.get(next_action) {
            Some((at, _)) => (*at).min(finish),
            None if now < finish => finish,
            // The last run is taking long: let it, but start no other.
            None => last_tick() + TimeDelta::hours(1) - TimeDelta::seconds(1),
        };
        driver.step(&proxy, cap).await;
    }

    control
        .send(Control::Stop)
        .await
        .expect("the daemon listens");
    let drained = async {
        daemon.await.expect("the daemon task");
    };
    tokio::pin!(drained);
    loop {
        tokio::select! {
            () = &mut drained => break,
            () = tokio::time::sleep(Duration::from_millis(1)) => {
                if let Some(next) = clock.pending().iter().map(|p| p.deadline).min() {
                    clock.advance_to(next);
                }
            }
        }
    }
    let driven_for = began.elapsed();

    // ---------------------------------------------------------------------------------------
    // What the ledger says: everything done up to the last tick.
    let state = Ledger::open(state_direct.clone(), JOB)
        .load()
        .await
        .expect("the ledger loads")
        .into_value();
    assert_eq!(state.last_tick, Some(last_tick()), "the last tick is done");
    assert_eq!(state.watermark, Some(last_tick() - LAG));
    assert!(
        state.open.is_empty() && state.in_flight.is_empty() && state.claim.is_none(),
        "nothing left open, in flight or claimed: {:?} {:?} {:?}",
        state.open,
        state.in_flight,
        state.claim
    );

    // The seal chain through the outages: unbroken, no document named twice, and the
    // ledger's head one of its seals (the newest, unless a run's end was cut after its seal).
    let chain = read_chain(&archive_direct, JOB)
        .await
        .expect("the seals read");
    let mut sealed = BTreeSet::new();
    let mut previous = None;
    for (at, stored) in chain.iter().enumerate() {
        let seal = stored.seal.as_ref().expect("a seal");
        assert_eq!(
            (seal.sequence, &seal.previous),
            (at as u64 + 1, &previous),
            "{}",
            stored.key
        );
        for covered in &seal.covers {
            assert!(
                sealed.insert(covered.key.clone()),
                "{} is sealed twice",
                covered.key
            );
        }
        previous = Some(stored.sha256.clone());
    }
    let head = state.seal.as_ref().expect("the ledger names a seal");
    assert!(
        chain
            .iter()
            .any(|s| s.key == head.key && s.sha256 == head.sha256),
        "the ledger's head {head:?} is in the chain"
    );
    println!(
        "storm: {} seals naming {} documents",
        chain.len(),
        sealed.len()
    );

    // What the destination holds: each window's eight batches, once.
    let archives = ground_truth::read_store(&archive_direct, Compression::None, 8).await;
    let mut windows: BTreeMap<(DateTime<Utc>, DateTime<Utc>), Vec<&ground_truth::Archive>> =
        BTreeMap::new();
    for a in &archives {
        let (Some(since), Some(until)) = (a.manifest.window_since, a.manifest.window_until) else {
            panic!("a channels archive without its window: {}", a.manifest.key);
        };
        windows.entry((since, until)).or_default().push(a);
    }
    let mut sorted_cids = cids.clone();
    sorted_cids.sort();
    for ((since, until), batch) in &windows {
        let numbers: BTreeSet<u32> = batch.iter().map(|a| a.manifest.batch).collect();
        assert_eq!(
            (batch.len(), numbers),
            (BATCHES, (1..=BATCHES as u32).collect()),
            "[{since}, {until}): batches 1 to 8, once each"
        );
        let mut covered: Vec<String> = batch
            .iter()
            .flat_map(|a| a.manifest.channels.iter().cloned())
            .collect();
        covered.sort();
        assert_eq!(
            covered, sorted_cids,
            "[{since}, {until}): every channel once"
        );
    }
    let spans: Vec<(DateTime<Utc>, DateTime<Utc>)> = windows.keys().copied().collect();
    for pair in spans.windows(2) {
        assert_eq!(
            pair[0].1, pair[1].0,
            "windows join without gap or overlap: {:?} then {:?}",
            pair[0], pair[1]
        );
    }
    let first = spans.first().expect("archived windows").0;
    let last = spans.last().expect("archived windows").1;
    assert_eq!(
        first,
        start() - TimeDelta::hours(1) - LAG,
        "the first window is the first tick's"
    );
    assert_eq!(
        last,
        last_tick() - LAG,
        "the last window ends at the last tick"
    );
    // The ticks with S3 down for the hour after them did not run on their own: a later run
    // covered them.
    for down in outages() {
        let mut tick = down
            .from
            .duration_trunc(TimeDelta::hours(1))
            .expect("an hour");
        while tick + TimeDelta::hours(1) <= down.until() {
            if tick > down.from {
                assert!(
                    !spans.iter().any(|w| w.1 == tick - LAG),
                    "S3 was down for the hour after the tick {tick} ({down:?}), yet its window \
                     was archived by its own run"
                );
            }
            tick += TimeDelta::hours(1);
        }
    }
    let catch_ups = spans
        .iter()
        .filter(|w| w.1 - w.0 > TimeDelta::hours(1))
        .count();

    // Every message of the period, once.
    let messages = ground_truth::assert_complete(&emu, &job, &archives, &cids, first, last);

    // Export tasks: one per archive, plus only what the faults forced.
    let tasks: Vec<_> = emu
        .tasks()
        .into_iter()
        .filter(|t| matches!(t.kind, TaskKind::Channels { .. }))
        .collect();
    let used: HashSet<&str> = archives
        .iter()
        .map(|a| a.manifest.task_id.as_str())
        .collect();
    assert_eq!(used.len(), archives.len(), "each archive from its own task");
    let failed = tasks
        .iter()
        .filter(|t| t.status == TaskStatus::Failed)
        .count();
    let lapsed = usize::try_from(tally.counts().lapsed).expect("a count");
    let stranded: Vec<_> = tasks
        .iter()
        .filter(|t| !used.contains(t.id.as_str()) && t.status != TaskStatus::Failed)
        .collect();
    for task in &stranded {
        assert!(
            outages()
                .iter()
                .any(|d| task.created_at >= d.from - TimeDelta::minutes(5)
                    && task.created_at <= d.until()),
            "task {} (created {}) was neither archived nor failed, and S3 was up: a batch \
             exported twice without a fault forcing it",
            task.id,
            task.created_at
        );
    }
    let creates = tasks.len();
    assert!(
        creates <= windows.len() * BATCHES + failed + lapsed + stranded.len(),
        "{creates} export tasks for {} windows, {failed} failed, {lapsed} lapsed, {} stranded \
         by S3 outages",
        windows.len(),
        stranded.len()
    );

    // ---------------------------------------------------------------------------------------
    // The summary.
    answers.take_from(&emu);
    let Answers {
        api_requests,
        drawn_500,
        gateway,
        too_many,
        expired_seen,
    } = answers;
    let counts = std::mem::take(&mut *tally.counts());
    let proxy_stats = proxy.stats();
    let outages = outages();
    println!(
        "storm: {} days of hourly ticks ({} ticks), driven in {:.0?}",
        days(),
        days() * 24,
        driven_for
    );
    println!(
        "storm: runs {:?}, {} recovered, {} could not read the state, {} batch failures",
        counts.outcomes, counts.recovered, counts.state_unreadable, counts.batch_failures
    );
    assert_eq!(
        logged.daemon_errors.load(Ordering::Acquire),
        0,
        "every run, even one that cannot read the job's state, ends with its outcome"
    );
    println!(
        "storm: {} windows ({catch_ups} catch-ups), {} archives ({} committed by runs; {} \
         batches skipped by later runs as already archived), {messages} messages",
        windows.len(),
        archives.len(),
        counts.archived,
        counts.already_archived
    );
    // Held by the assertions above: the windows join, each has its batches once, and the
    // archives hold the emulator's ground truth with no message twice.
    println!(
        "storm: each exactly once: {} windows of {BATCHES} batches each, {messages} messages",
        windows.len()
    );
    println!(
        "storm: {creates} export tasks created: {} archived, {failed} failed, {} stranded by S3 \
         outages, {lapsed} lapsed; {} resumed after a failed run",
        used.len(),
        stranded.len(),
        counts.resumed
    );
    println!(
        "storm: faults: 500 on {drawn_500} of {api_requests} API requests; 502/503/504 \
         {gateway} ({} queued, plus downloads' SlowDown); 429 {too_many} (of {} queued on all \
         endpoints); downloads cut {} queued; expired links {expired_seen} ({} queued); failed \
         tasks {failed} ({} queued); {} slow hours",
        injected.gateway_errors,
        injected.rate_limited,
        injected.cut_downloads,
        injected.expired_links,
        injected.failing_tasks,
        injected.slow_hours
    );
    println!(
        "storm: S3 outages: {} ({:.1} h in all); {} connections cut ({} waiting for an answer), {} \
         reset while down; {} requests through the proxy; ledger pruned {} times ({} records)",
        outages.len(),
        outages.iter().map(|d| d.minutes).sum::<i64>() as f64 / 60.0,
        proxy_stats.cut,
        proxy_stats.cut_waiting,
        proxy_stats.reset,
        proxy_stats.requests,
        injected.prunes,
        injected.pruned
    );
    println!(
        "storm: warnings and errors logged: {:?}; runs given up on by the driver: {}",
        logged
            .warnings
            .lock()
            .unwrap_or_else(PoisonError::into_inner),
        driver.given_up
    );

    assert!(
        driver.given_up == 0,
        "the driver lost track of a run {} times",
        driver.given_up
    );
    emu.shutdown().await;
}
