//! The job runner in process against the emulator: a week of daily ticks with two days of
//! downtime, a crash at every phase and the restart after it, an expired download link, lapsed
//! and failed tasks, ticks on daylight-saving days, two replicas on one tick, and the seal
//! chain the runs write.
//!
//! The emulator's clock is chatvault's clock: schedules are moved through, never slept through.
//! Jobs come from job files loaded like the command line loads them; archives are read back from
//! the destination folder and compared with the emulator's ground truth.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chatvault::api::{ClientConfig, StreamClient};
use chatvault::archive::catalog::CATALOG_SUFFIX;
use chatvault::archive::manifest::{MANIFEST_SUFFIX, Manifest};
use chatvault::archive::media::record::{self, MediaRecord, parse_record_key};
use chatvault::archive::seal::{Seal, read_chain};
use chatvault::archive::transfer::hex;
use chatvault::config::job::{Compression, Job};
use chatvault::config::{LoadOptions, MissingVars, load};
use chatvault::plan::due::due_ticks;
use chatvault::runner::{Event, Phase, Reporter, Runner, RunnerOptions, TickOutcome};
use chatvault::signing::{Check, Keyring, SigningKey, check, signed_json};
use chatvault::state::{Claim, InFlight, JobState, seal_head};
use chatvault::store::Store;
use chatvault::store::url::StoreUrl;
use chatvault_emulator::{Emulator, EmulatorClock, EmulatorConfig, Endpoint, TaskInfo, TaskKind};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use sha2::{Digest, Sha256};

use crate::common::emulated::{self, EmuClock};
use crate::common::ground_truth::{self, Archive, assert_complete, extension};

// ---------------------------------------------------------------------------------------------
// Set-up: emulator, job files, runners, events.

fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
        .single()
        .expect("a valid UTC time")
}

/// An emulator whose clock starts at `start`, with `per_type` channels of each of the three
/// types and `per_day` messages per channel per day (two days of history before `start`).
async fn emulator(start: DateTime<Utc>, per_type: usize, per_day: u64) -> Emulator {
    let mut config = EmulatorConfig {
        start_time: start,
        // Sizes are not what these tests check: spare the extra generation pass.
        exact_content_length: false,
        ..EmulatorConfig::default()
    };
    config.data.channels_per_type = per_type;
    config.data.messages_per_channel_per_day = per_day;
    config.data.days_of_history = 2;
    emulated::start(config).await
}

/// The first `n` live channels, as `type:id`.
fn live_cids(emu: &Emulator, n: usize) -> Vec<String> {
    let cids: Vec<String> = emulated::cids(emu, n)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(cids.len(), n, "the data set has {n} live channels");
    cids
}

/// Moves the emulator clock forward to `at` (never back: runs move it too, by polling).
fn move_to(emu: &Emulator, at: DateTime<Utc>) {
    if emu.clock().now() < at {
        emu.clock().set(at);
    }
}

/// What a runner needs of the emulator, without borrowing it (the crashing run lives on a
/// thread and runtime of its own).
#[derive(Clone)]
struct Api {
    base_url: String,
    key: String,
    secret: String,
    clock: EmulatorClock,
}

impl Api {
    fn of(emu: &Emulator) -> Api {
        Api {
            base_url: emu.base_url(),
            key: emu.api_key().to_owned(),
            secret: emu.config().api_secret.clone(),
            clock: emu.clock().clone(),
        }
    }

    fn runner(
        &self,
        state: &Store,
        holder: &str,
        options: RunnerOptions,
        reporter: Arc<Collecting>,
    ) -> Runner {
        let clock = Arc::new(EmuClock(self.clock.clone()));
        let client = StreamClient::new(
            &ClientConfig::new(&self.base_url, &self.key, &self.secret),
            clock.clone(),
        )
        .expect("a client of the emulator");
        Runner::new(client, state.clone(), clock, vec![], reporter, options)
            .expect("a runner")
            .with_holder(holder)
    }

    /// A runner with default options and its own event log.
    fn replica(&self, state: &Store, holder: &str) -> (Runner, Arc<Collecting>) {
        let events = Arc::new(Collecting::default());
        let runner = self.runner(state, holder, RunnerOptions::default(), events.clone());
        (runner, events)
    }
}

type Hook = Box<dyn Fn(&Event) + Send + Sync>;

/// Collects every event a runner reports (progress aside), and can act on one as it happens.
#[derive(Default)]
struct Collecting {
    events: Mutex<Vec<Event>>,
    hook: Option<Hook>,
}

impl Reporter for Collecting {
    fn event(&self, event: &Event) {
        if let Some(hook) = &self.hook {
            hook(event);
        }
        if !matches!(event, Event::Transferring { .. }) {
            self.events
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(event.clone());
        }
    }
}

impl Collecting {
    fn with_hook(hook: impl Fn(&Event) + Send + Sync + 'static) -> Collecting {
        Collecting {
            events: Mutex::default(),
            hook: Some(Box::new(hook)),
        }
    }

    fn all(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Hands out the events so far and forgets them.
    fn take(&self) -> Vec<Event> {
        std::mem::take(&mut *self.events.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Resolves once an event `what` was reported (checked every few real milliseconds).
    async fn until(&self, what: impl Fn(&Event) -> bool) {
        while !self.all().iter().any(&what) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// A scratch project: `chatvault.yaml` (destination `file://archive`, export v2) and `jobs/`.
struct Project {
    dir: tempfile::TempDir,
}

/// A job file's variable parts.
struct JobSpec<'a> {
    name: &'a str,
    schedule: &'a str,
    timezone: &'a str,
    lag: Option<&'a str>,
    max: Option<&'a str>,
    compression: Compression,
    channels: &'a [String],
}

impl<'a> JobSpec<'a> {
    /// A daily job at midnight UTC with a five-minute lag, gzip, over `channels`.
    fn daily(name: &'a str, channels: &'a [String]) -> JobSpec<'a> {
        JobSpec {
            name,
            schedule: "0 0 * * *",
            timezone: "UTC",
            lag: Some("5m"),
            max: None,
            compression: Compression::Gzip,
            channels,
        }
    }

    fn yaml(&self) -> String {
        let mut by_type: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for cid in self.channels {
            let (kind, id) = cid.split_once(':').expect("a cid is type:id");
            by_type.entry(kind).or_default().push(id);
        }
        let mut text = format!(
            "name: {}\nschedule: \"{}\"\ntimezone: {}\ncatch_up: latest\nwindow:\n  mode: incremental\n",
            self.name, self.schedule, self.timezone
        );
        for (field, value) in [("lag", self.lag), ("max", self.max)] {
            if let Some(value) = value {
                text.push_str(&format!("  {field}: {value}\n"));
            }
        }
        text.push_str("channels:\n");
        for (kind, ids) in by_type {
            let ids: Vec<String> = ids.iter().map(|id| format!("\"{id}\"")).collect();
            text.push_str(&format!(
                "  - type: {kind}\n    ids: [{}]\n",
                ids.join(", ")
            ));
        }
        text.push_str(&format!(
            "destination:\n  compression: {}\n",
            self.compression
        ));
        text
    }
}

impl Project {
    fn new() -> Project {
        let dir = tempfile::tempdir().expect("a temporary folder");
        std::fs::create_dir(dir.path().join("jobs")).expect("create jobs/");
        std::fs::write(
            dir.path().join("chatvault.yaml"),
            "defaults:\n  destination:\n    url: file://archive\n  export:\n    version: v2\n",
        )
        .expect("write chatvault.yaml");
        Project { dir }
    }

    /// Where the jobs' archives go (`file://archive`, read from the config's folder).
    fn archive(&self) -> PathBuf {
        self.dir.path().join("archive")
    }

    /// Writes the job file and loads it as a real run does (unset variables are errors).
    fn job(&self, spec: &JobSpec<'_>, now: DateTime<Utc>) -> Job {
        let file = self
            .dir
            .path()
            .join("jobs")
            .join(format!("{}.yaml", spec.name));
        std::fs::write(&file, spec.yaml()).expect("write the job file");
        let env = |_: &str| None::<String>;
        let mut loaded = load(&LoadOptions {
            paths: vec![file],
            config: Some(self.dir.path().join("chatvault.yaml")),
            env: &env,
            missing_vars: MissingVars::Error,
        });
        chatvault::plan::check(&mut loaded, now);
        let problems = format!("{:?}", loaded.diagnostics);
        let set = loaded
            .into_set()
            .unwrap_or_else(|| panic!("the job file loads: {problems}"));
        let [job] = <[Job; 1]>::try_from(set.jobs).expect("one job");
        assert_eq!(
            job.destination.url,
            StoreUrl::File {
                path: self.archive()
            },
            "file://archive in the config is read from the config's folder"
        );
        job
    }
}

async fn state(runner: &Runner, job: &Job) -> JobState {
    runner
        .ledger(&job.name)
        .load()
        .await
        .expect("the ledger loads")
        .into_value()
}

fn archives_of(outcome: &TickOutcome) -> u32 {
    match outcome {
        TickOutcome::Done { archives, .. } => *archives,
        other => panic!("expected the tick done, got {other:?}"),
    }
}

/// Runs `tick` on a thread and runtime of their own until it pauses at `phase`, then drops that
/// runtime: everything the run had going stops at once, its lease renewal too, as when the
/// process is killed. Returns the crashed run's events.
async fn crash_at(
    api: &Api,
    state: &Store,
    job: &Job,
    tick: DateTime<Utc>,
    phase: Phase,
) -> Vec<Event> {
    let (api, state, job) = (api.clone(), state.clone(), job.clone());
    let (done, events) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime for the run that crashes");
        let reported = rt.block_on(async {
            let reporter = Arc::new(Collecting::default());
            let options = RunnerOptions {
                pause_at: Some(phase),
                // One batch at a time: the crash catches exactly one batch at `phase`.
                batch_concurrency: 1,
                ..RunnerOptions::default()
            };
            let runner = api.runner(&state, "a", options, reporter.clone());
            let paused = tokio::time::timeout(Duration::from_secs(30), async {
                tokio::select! {
                    outcome = runner.run_tick(&job, tick) => {
                        panic!("the run ended instead of pausing at {phase}: {outcome:?}")
                    }
                    () = reporter.until(|e| matches!(e, Event::Paused { .. })) => {}
                }
            })
            .await;
            assert!(
                paused.is_ok(),
                "the run did not pause at {phase} within 30 s"
            );
            reporter.all()
        });
        rt.shutdown_background();
        let _ = done.send(reported);
    });
    events.await.expect("the crashing run's thread reports")
}

// ---------------------------------------------------------------------------------------------
// Reading back: archives, manifests, ground truth, export tasks.

fn files_below(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries {
        let path = entry.expect("a folder entry").path();
        if path.is_dir() {
            files_below(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// Every archive below `root`, each checked against its manifest. An archive without a
/// manifest, or a manifest without its archive, fails the test.
fn read_archives(root: &Path, compression: Compression) -> Vec<Archive> {
    let mut files = Vec::new();
    files_below(root, &mut files);
    let key_of = |path: &Path| {
        path.strip_prefix(root)
            .expect("below the destination")
            .to_str()
            .expect("a UTF-8 key")
            .to_owned()
    };
    let manifests: BTreeSet<String> = files
        .iter()
        .map(|p| key_of(p))
        .filter_map(|k| k.strip_suffix(MANIFEST_SUFFIX).map(str::to_owned))
        .collect();
    let archives: BTreeSet<String> = files
        .iter()
        .map(|p| key_of(p))
        .filter(|k| k.ends_with(extension(compression)))
        .collect();
    assert_eq!(
        archives, manifests,
        "every archive has a manifest and every manifest its archive"
    );
    archives
        .iter()
        .map(|key| {
            let manifest: Manifest = serde_json::from_slice(
                &std::fs::read(root.join(format!("{key}{MANIFEST_SUFFIX}")))
                    .expect("read the manifest"),
            )
            .expect("a valid manifest");
            let stored = std::fs::read(root.join(key)).expect("read the archive");
            ground_truth::archive(key, &stored, manifest, compression)
        })
        .collect()
}

/// A channel export task: its id, channels and window.
#[derive(Debug, Clone)]
struct ExportTask {
    id: String,
    channels: Vec<String>,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    info: TaskInfo,
}

fn channel_tasks(emu: &Emulator) -> Vec<ExportTask> {
    emu.tasks()
        .into_iter()
        .map(|info| match &info.kind {
            TaskKind::Channels { channels, .. } => ExportTask {
                id: info.id.clone(),
                channels: channels.iter().map(|c| c.cid.clone()).collect(),
                since: channels.first().and_then(|c| c.messages_since),
                until: channels.first().and_then(|c| c.messages_until),
                info,
            },
            TaskKind::Users { .. } => panic!("no users export expected: {info:?}"),
        })
        .collect()
}

/// Statuses of the answers of `endpoint`, in order.
fn answers(emu: &Emulator, endpoint: Endpoint) -> Vec<u16> {
    emu.requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(endpoint))
        .map(|r| r.status)
        .collect()
}

/// The windows of the channels archives, each with its archives' count (users archives are
/// snapshots: they have none).
fn windows(archives: &[Archive]) -> BTreeMap<(DateTime<Utc>, DateTime<Utc>), usize> {
    let mut out = BTreeMap::new();
    for a in archives {
        if let (Some(since), Some(until)) = (a.manifest.window_since, a.manifest.window_until) {
            *out.entry((since, until)).or_insert(0) += 1;
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// 1. A week of daily ticks with two days of downtime.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_week_of_daily_ticks_with_two_days_down_archives_every_message_once() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 70, 24).await;
    let cids = live_cids(&emu, 200);
    let project = Project::new();
    let job = project.job(
        &JobSpec {
            max: Some("1d"),
            compression: Compression::Zstd,
            ..JobSpec::daily("week", &cids)
        },
        start,
    );
    let store = Store::memory();
    let (runner, events) = Api::of(&emu).replica(&store, "a");
    let lag = TimeDelta::minutes(5);
    let tick = |day: i64| start + TimeDelta::days(day);
    let batches_per_window: u32 = 8; // ceil(200 / 25)

    for day in 1..=7 {
        if matches!(day, 4 | 5) {
            continue; // down: nothing runs
        }
        move_to(&emu, tick(day) + TimeDelta::minutes(1));
        let before = state(&runner, &job).await;
        let due = due_ticks(&job, before.last_tick, emu.clock().now());
        assert_eq!(due, [tick(day)], "day {day}: the latest tick alone is due");
        let outcome = runner.run_tick(&job, tick(day)).await;
        let pieces = if day == 6 { 3 } else { 1 };
        assert_eq!(
            archives_of(&outcome),
            batches_per_window * pieces,
            "day {day}"
        );
        let after = state(&runner, &job).await;
        assert_eq!(after.watermark, Some(tick(day) - lag), "day {day}");
        assert_eq!(after.last_tick, Some(tick(day)), "day {day}");
        assert!(
            after.open.is_empty() && after.in_flight.is_empty() && after.claim.is_none(),
            "day {day}: nothing left open: {after:?}"
        );
        let started: Vec<(usize, usize)> = events
            .take()
            .into_iter()
            .filter_map(|e| match e {
                Event::TickStarted {
                    windows, batches, ..
                } => Some((windows, batches)),
                _ => None,
            })
            .collect();
        assert_eq!(
            started,
            [(pieces as usize, (batches_per_window * pieces) as usize)],
            "day {day}: the catch-up covers the gap in one run, cut into 1d pieces"
        );
    }

    let expected: Vec<(DateTime<Utc>, DateTime<Utc>)> = (1..=7)
        .map(|d| (tick(d - 1) - lag, tick(d) - lag))
        .collect();
    let tasks = channel_tasks(&emu);
    let mut per_window: BTreeMap<(DateTime<Utc>, DateTime<Utc>), Vec<&ExportTask>> =
        BTreeMap::new();
    for task in &tasks {
        let window = (
            task.since.expect("a bounded window"),
            task.until.expect("a bounded window"),
        );
        per_window.entry(window).or_default().push(task);
    }
    assert_eq!(
        per_window.keys().copied().collect::<Vec<_>>(),
        expected,
        "one export window per day, the downtime included"
    );
    for (window, tasks) in &per_window {
        assert_eq!(
            tasks.len(),
            batches_per_window as usize,
            "{window:?}: ceil(200 / 25) creates"
        );
        let covered: BTreeSet<&String> = tasks.iter().flat_map(|t| &t.channels).collect();
        assert_eq!(
            covered.len(),
            200,
            "{window:?}: every channel exported once"
        );
    }
    let creates = answers(&emu, Endpoint::ExportChannels);
    assert_eq!(creates.len(), 7 * batches_per_window as usize);
    assert!(creates.iter().all(|s| *s == 201), "{creates:?}");

    let archives = read_archives(&project.archive(), Compression::Zstd);
    assert_eq!(archives.len(), tasks.len(), "one archive per export task");
    let used: BTreeSet<&str> = archives
        .iter()
        .map(|a| a.manifest.task_id.as_str())
        .collect();
    let created: BTreeSet<&str> = tasks.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(used, created, "each task archived once");
    assert_eq!(
        windows(&archives).into_iter().collect::<Vec<_>>(),
        expected
            .iter()
            .map(|w| (*w, batches_per_window as usize))
            .collect::<Vec<_>>()
    );
    for a in &archives {
        let day6 = a.manifest.window_since >= Some(tick(3) - lag)
            && a.manifest.window_until <= Some(tick(6) - lag);
        if day6 {
            assert_eq!(
                a.manifest.tick,
                tick(6),
                "the catch-up run archived the gap"
            );
        }
    }
    assert_complete(&emu, &job, &archives, &cids, tick(0) - lag, tick(7) - lag);
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 2. A crash at each phase, and the restart by another replica.

async fn crash_and_resume(phase: Phase) {
    let start = utc(2026, 1, 1, 0, 0);
    // Transfer pauses once part of the archive is out. A first batch larger than one upload
    // part (8 MiB) crashes with parts uploaded and more to come; a single-part archive would
    // leave it to timing whether the pause comes before its upload completes.
    let (per_day, compression) = if phase == Phase::Transfer {
        (600, Compression::None)
    } else {
        (24, Compression::Gzip)
    };
    let emu = emulator(start, 12, per_day).await;
    let cids = live_cids(&emu, 30); // two batches: 25 and 5
    let project = Project::new();
    let job = project.job(
        &JobSpec {
            compression,
            ..JobSpec::daily("crash", &cids)
        },
        start,
    );
    let lag = TimeDelta::minutes(5);
    let tick = start + TimeDelta::days(1);
    move_to(&emu, tick + TimeDelta::minutes(1));
    let store = Store::memory();
    let api = Api::of(&emu);

    let crashed = crash_at(&api, &store, &job, tick, phase).await;
    assert!(
        crashed.contains(&Event::Paused {
            job: job.name.clone(),
            phase
        }),
        "{crashed:?}"
    );
    let (b, events) = api.replica(&store, "b");
    let at_crash = state(&b, &job).await;
    assert_eq!(
        at_crash.claim,
        Some(Claim {
            tick,
            holder: "a".into()
        }),
        "the crashed run still owns the job"
    );
    assert_eq!(
        at_crash.watermark, None,
        "{phase}: the watermark has not moved"
    );
    assert_eq!(at_crash.open.len(), 1, "{phase}: the window is recorded");
    let recorded: Vec<InFlight> = at_crash.in_flight.clone();
    let tasks = channel_tasks(&emu);
    let archive_dir = project.archive();
    // Killed after its seal (the watermark comes after it): the seal is there, and the
    // ledger, whose update the kill prevented, does not name it yet.
    let sealed = matches!(phase, Phase::Seal | Phase::Watermark);
    assert_eq!(
        at_crash.seal, None,
        "{phase}: the run's end was not recorded"
    );
    assert_eq!(seals(&job).await.len(), usize::from(sealed), "{phase}");
    if sealed {
        assert!(recorded.is_empty(), "both batches committed: {recorded:?}");
        assert_eq!(tasks.len(), 2);
        assert_eq!(read_archives(&archive_dir, compression).len(), 2);
    } else {
        let [task] = recorded.as_slice() else {
            panic!("{phase}: exactly the first batch's task is recorded: {recorded:?}");
        };
        assert_eq!(task.batch, 1);
        assert_eq!(
            tasks.iter().map(|t| &t.id).collect::<Vec<_>>(),
            [&task.task_id],
            "{phase}: one task, the recorded one"
        );
        let archive = archive_dir.join(&task.key);
        let manifest = archive_dir.join(format!("{}{MANIFEST_SUFFIX}", task.key));
        assert!(!manifest.exists(), "{phase}: not committed");
        assert_eq!(
            archive.exists(),
            phase == Phase::Manifest,
            "{phase}: the archive is in place only once its transfer finished"
        );
    }

    // The crashed run's lease keeps a replica out until it expires.
    let busy = b.run_tick(&job, tick).await;
    assert_eq!(
        busy,
        TickOutcome::Busy { holder: "a".into() },
        "{phase}: the lease is live"
    );
    assert_eq!(
        channel_tasks(&emu).len(),
        tasks.len(),
        "a busy run creates nothing"
    );
    emu.clock().advance(TimeDelta::minutes(6));

    let outcome = b.run_tick(&job, tick).await;
    let resumed_archives = if sealed { 0 } else { 2 };
    assert_eq!(archives_of(&outcome), resumed_archives, "{phase}");
    let after = state(&b, &job).await;
    assert_eq!(
        after.watermark,
        Some(tick - lag),
        "{phase}: the watermark moved"
    );
    assert_eq!(after.last_tick, Some(tick));
    assert!(
        after.open.is_empty() && after.in_flight.is_empty() && after.claim.is_none(),
        "{phase}: {after:?}"
    );

    let tasks = channel_tasks(&emu);
    assert_eq!(
        tasks.len(),
        2,
        "{phase}: one task per batch, none created twice: {tasks:?}"
    );
    let archives = read_archives(&archive_dir, compression);
    assert_eq!(archives.len(), 2, "{phase}");
    let events = events.all();
    for task in &recorded {
        let same_batch: Vec<&ExportTask> = tasks
            .iter()
            .filter(|t| t.channels == task.channels)
            .collect();
        assert_eq!(
            same_batch.len(),
            1,
            "{phase}: batch {} exported once",
            task.batch
        );
        let archive = archives
            .iter()
            .find(|a| a.manifest.key == task.key)
            .expect("the recorded batch is archived");
        assert_eq!(
            archive.manifest.task_id, task.task_id,
            "{phase}: archived from the recorded task"
        );
        if phase == Phase::Transfer {
            assert!(
                archive.manifest.bytes_stored > 8 << 20,
                "more than one upload part: {} bytes",
                archive.manifest.bytes_stored
            );
        }
        assert!(
            events
                .iter()
                .any(|e| matches!(e, Event::Resumed { task_id, .. } if *task_id == task.task_id)),
            "{phase}: the recorded task is resumed: {events:?}"
        );
    }
    let already = events
        .iter()
        .filter(|e| matches!(e, Event::AlreadyArchived(_)))
        .count();
    assert_eq!(already, if sealed { 2 } else { 0 }, "{phase}: {events:?}");
    assert_sealed_once(&store, &job, &archive_dir).await;
    let chain = seals(&job).await;
    assert_eq!(chain.len(), 1 + usize::from(sealed), "{phase}");
    assert_eq!(
        chain[0].covers.len(),
        documents(&archive_dir, "").len(),
        "{phase}: the first seal names every manifest and record, whichever run wrote it"
    );
    assert_complete(
        &emu,
        &job,
        &archives,
        &cids,
        tick - TimeDelta::days(1) - lag,
        tick - lag,
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_task_is_recorded_resumes_it() {
    crash_and_resume(Phase::Created).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_while_polling_resumes_the_task() {
    crash_and_resume(Phase::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_transfer_transfers_the_task_again() {
    crash_and_resume(Phase::Transfer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_manifest_commits_the_archive() {
    crash_and_resume(Phase::Manifest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_the_seal_leaves_the_next_seal_naming_nothing_twice() {
    crash_and_resume(Phase::Seal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_the_watermark_moves_it_without_exporting_again() {
    crash_and_resume(Phase::Watermark).await;
}

/// `interrupt` (the daemon's second stop signal) stops a run where it is and hands the tick
/// over at once: another replica resumes the recorded task without waiting for the lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_hands_its_tick_over_at_once() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 8, 24).await;
    let cids = live_cids(&emu, 20); // one batch
    let project = Project::new();
    let job = project.job(&JobSpec::daily("interrupted", &cids), start);
    let tick = start + TimeDelta::days(1);
    move_to(&emu, tick + TimeDelta::minutes(1));
    let store = Store::memory();
    let api = Api::of(&emu);
    let reporter = Arc::new(Collecting::default());
    let options = RunnerOptions {
        pause_at: Some(Phase::Polling),
        ..RunnerOptions::default()
    };
    let a = api.runner(&store, "a", options, reporter.clone());
    let stop = async {
        reporter.until(|e| matches!(e, Event::Paused { .. })).await;
        a.interrupt();
    };
    let (outcome, ()) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(a.run_tick(&job, tick), stop)
    })
    .await
    .expect("the interrupted run ends");
    assert_eq!(outcome, TickOutcome::Interrupted);
    let [recorded] = <[InFlight; 1]>::try_from(state(&a, &job).await.in_flight)
        .expect("the task stays recorded");
    assert_eq!(state(&a, &job).await.claim, None, "the claim is cleared");

    let (b, events) = api.replica(&store, "b");
    let outcome = b.run_tick(&job, tick).await;
    assert_eq!(archives_of(&outcome), 1, "no wait for the lease to expire");
    assert!(
        events
            .all()
            .iter()
            .any(|e| matches!(e, Event::Resumed { task_id, .. } if *task_id == recorded.task_id)),
        "the recorded task is resumed"
    );
    assert_eq!(channel_tasks(&emu).len(), 1, "no second export");
    let archives = read_archives(&project.archive(), Compression::Gzip);
    let lag = TimeDelta::minutes(5);
    assert_complete(&emu, &job, &archives, &cids, start - lag, tick - lag);
    emu.shutdown().await;
}

/// A run dropped in process (a timeout, a select, a shutdown) must stop renewing its lease, or
/// its tick stays busy for every other replica.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_run_stops_renewing_its_lease() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 3, 24).await;
    let cids = live_cids(&emu, 3);
    let project = Project::new();
    let job = project.job(&JobSpec::daily("dropped", &cids), start);
    let tick = start + TimeDelta::days(1);
    move_to(&emu, tick + TimeDelta::minutes(1));
    let store = Store::memory();
    let api = Api::of(&emu);
    let reporter = Arc::new(Collecting::default());
    let options = RunnerOptions {
        pause_at: Some(Phase::Created),
        ..RunnerOptions::default()
    };
    let a = api.runner(&store, "a", options, reporter.clone());
    let dropped = tokio::time::timeout(Duration::from_secs(2), a.run_tick(&job, tick)).await;
    assert!(dropped.is_err(), "the run froze at created: {dropped:?}");
    drop(a);

    emu.clock().advance(TimeDelta::minutes(6));
    // Real time for a leftover lease keeper to wake up (it checks every second).
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (b, _) = api.replica(&store, "b");
    let outcome = b.run_tick(&job, tick).await;
    assert_eq!(archives_of(&outcome), 1, "the dropped run's lease expired");
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 3. An expired download link.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_download_link_is_renewed_and_the_archive_completes() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = Arc::new(emulator(start, 8, 24).await);
    let cids = live_cids(&emu, 20); // one batch
    let project = Project::new();
    let job = project.job(&JobSpec::daily("expired", &cids), start);
    let tick = start + TimeDelta::days(1);
    move_to(&emu, tick + TimeDelta::minutes(1));
    let store = Store::memory();
    let api = Api::of(&emu);

    // Once the task is done, the status request that mints the first link is answered late
    // (the link is made before the delay); meanwhile the clock jumps a day and an hour, so
    // the link has expired when it is used.
    const LATE: Duration = Duration::from_secs(4);
    let hooked = emu.clone();
    let reporter = Arc::new(Collecting::with_hook(move |event| {
        if matches!(event, Event::Exported { .. }) {
            hooked
                .faults()
                .set_delay(Endpoint::GetExportChannelsStatus, LATE);
        }
    }));
    let runner = api.runner(&store, "a", RunnerOptions::default(), reporter.clone());
    let jump = async {
        reporter
            .until(|e| matches!(e, Event::Exported { .. }))
            .await;
        // The link is minted by now (the request follows the event at once); its answer is
        // still held back.
        tokio::time::sleep(LATE / 3).await;
        emu.clock().advance(TimeDelta::hours(25));
        emu.faults()
            .set_delay(Endpoint::GetExportChannelsStatus, Duration::ZERO);
    };
    let (outcome, ()) = tokio::join!(runner.run_tick(&job, tick), jump);
    assert_eq!(archives_of(&outcome), 1);
    assert_eq!(
        answers(&emu, Endpoint::DownloadExport),
        [403, 200],
        "the expired link is refused, a fresh one works"
    );
    assert_eq!(
        answers(&emu, Endpoint::ExportChannels),
        [201],
        "no new export"
    );
    let archives = read_archives(&project.archive(), Compression::Gzip);
    assert_eq!(archives.len(), 1);
    let lag = TimeDelta::minutes(5);
    assert_complete(&emu, &job, &archives, &cids, start - lag, tick - lag);
}

// ---------------------------------------------------------------------------------------------
// 4. Stream's 60 days: a lapsed task is exported again; a task near the limit is flagged.

/// Records a task (a run crashed right after creating it), moves the clock `days` on and runs
/// the tick again: the restarted run's events, the recorded task, the emulator and the project.
async fn restart_after(days: i64) -> (Vec<Event>, InFlight, Emulator, Project, Job, Vec<String>) {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 8, 24).await;
    let cids = live_cids(&emu, 20);
    let project = Project::new();
    let job = project.job(&JobSpec::daily("lapse", &cids), start);
    let tick = start + TimeDelta::days(1);
    move_to(&emu, tick + TimeDelta::minutes(1));
    let store = Store::memory();
    let api = Api::of(&emu);
    crash_at(&api, &store, &job, tick, Phase::Created).await;
    let (b, events) = api.replica(&store, "b");
    let recorded = state(&b, &job).await.in_flight;
    let [recorded] = <[InFlight; 1]>::try_from(recorded).expect("one recorded task");

    emu.clock().advance(TimeDelta::days(days));
    let outcome = b.run_tick(&job, tick).await;
    assert_eq!(archives_of(&outcome), 1, "after {days} days");
    let after = state(&b, &job).await;
    assert!(
        after.in_flight.is_empty() && after.open.is_empty(),
        "{after:?}"
    );
    assert_eq!(after.watermark, Some(tick - TimeDelta::minutes(5)));
    let events = events.all();
    drop(b);
    (events, recorded, emu, project, job, cids)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_recorded_61_days_ago_has_lapsed_and_is_exported_again() {
    let (events, recorded, emu, project, job, cids) = restart_after(61).await;
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Lapsed { task_id, .. } if *task_id == recorded.task_id)),
        "{events:?}"
    );
    let created: Vec<&String> = events
        .iter()
        .filter_map(|e| match e {
            Event::Created { task_id, .. } => Some(task_id),
            _ => None,
        })
        .collect();
    let [new_task] = created.as_slice() else {
        panic!("one new export: {events:?}");
    };
    assert_ne!(**new_task, recorded.task_id);
    let tasks = channel_tasks(&emu);
    assert_eq!(tasks.len(), 2);
    assert!(
        tasks
            .iter()
            .any(|t| t.id == recorded.task_id && t.info.lapsed),
        "the old task is gone at Stream: {tasks:?}"
    );
    let archives = read_archives(&project.archive(), Compression::Gzip);
    assert_eq!(archives.len(), 1);
    assert_eq!(&archives[0].manifest.task_id, *new_task);
    assert_eq!(
        archives[0].manifest.key, recorded.key,
        "the same archive key"
    );
    let tick = recorded.tick;
    let lag = TimeDelta::minutes(5);
    assert_complete(
        &emu,
        &job,
        &archives,
        &cids,
        tick - TimeDelta::days(1) - lag,
        tick - lag,
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_recorded_55_days_ago_is_flagged_and_resumed() {
    let (events, recorded, emu, project, job, cids) = restart_after(55).await;
    let risks: Vec<(String, i64)> = events
        .iter()
        .filter_map(|e| match e {
            Event::LapseRisk {
                task_id,
                days_left,
                created_at,
                ..
            } => {
                assert_eq!(*created_at, recorded.created_at);
                Some((task_id.clone(), *days_left))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        risks,
        [(recorded.task_id.clone(), 5)],
        "within warn_before (7d) of the 60 days"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::Resumed { task_id, .. } if *task_id == recorded.task_id)),
        "{events:?}"
    );
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::Created { .. } | Event::Lapsed { .. })),
        "{events:?}"
    );
    assert_eq!(channel_tasks(&emu).len(), 1, "no new export");
    let archives = read_archives(&project.archive(), Compression::Gzip);
    assert_eq!(archives.len(), 1);
    assert_eq!(archives[0].manifest.task_id, recorded.task_id);
    let tick = recorded.tick;
    let lag = TimeDelta::minutes(5);
    assert_complete(
        &emu,
        &job,
        &archives,
        &cids,
        tick - TimeDelta::days(1) - lag,
        tick - lag,
    );
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 5. A failed export task.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_task_fails_the_tick_and_the_next_run_redoes_its_window() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 12, 24).await;
    let cids = live_cids(&emu, 30); // two batches
    let project = Project::new();
    let job = project.job(&JobSpec::daily("failing", &cids), start);
    let lag = TimeDelta::minutes(5);
    let tick = |day: i64| start + TimeDelta::days(day);
    let store = Store::memory();
    let (runner, events) = Api::of(&emu).replica(&store, "a");

    emu.faults().fail_next_tasks(1);
    move_to(&emu, tick(1) + TimeDelta::minutes(1));
    let outcome = runner.run_tick(&job, tick(1)).await;
    let TickOutcome::Failed { error } = &outcome else {
        panic!("a failed task fails the tick: {outcome:?}");
    };
    assert!(
        error.to_string().contains("1 of the tick's batches failed"),
        "{error}"
    );
    let after = state(&runner, &job).await;
    assert_eq!(after.watermark, None, "the watermark stays");
    assert_eq!(after.last_tick, None, "the tick is not done");
    assert!(after.in_flight.is_empty(), "a failed task is forgotten");
    assert!(after.claim.is_none(), "the claim is released");
    let [open] = after.open.as_slice() else {
        panic!("the window stays open: {after:?}");
    };
    assert_eq!((open.since, open.until), (tick(0) - lag, tick(1) - lag));
    let mut sorted = cids.clone();
    sorted.sort();
    assert_eq!(
        open.channels, sorted,
        "the channels resolved for the window are kept"
    );
    assert_eq!(after.last_outcome.as_ref().map(|o| o.ok), Some(false));

    let first = events.take();
    let failed: Vec<String> = first
        .iter()
        .filter_map(|e| match e {
            Event::BatchFailed { batch, .. } => Some(batch.key.clone()),
            _ => None,
        })
        .collect();
    let archived: Vec<String> = first
        .iter()
        .filter_map(|e| match e {
            Event::Archived { batch, .. } => Some(batch.key.clone()),
            _ => None,
        })
        .collect();
    let ([failed], [archived]) = (failed.as_slice(), archived.as_slice()) else {
        panic!("one batch failed, one archived: {first:?}");
    };
    let committed = read_archives(&project.archive(), Compression::Gzip);
    assert_eq!(
        committed
            .iter()
            .map(|a| &a.manifest.key)
            .collect::<Vec<_>>(),
        [archived],
        "only the good batch is committed"
    );

    move_to(&emu, tick(2) + TimeDelta::minutes(1));
    let due = due_ticks(&job, after.last_tick, emu.clock().now());
    assert_eq!(due, [tick(2)]);
    let outcome = runner.run_tick(&job, tick(2)).await;
    assert_eq!(
        archives_of(&outcome),
        3,
        "the failed batch and the new window's two"
    );
    let second = events.take();
    assert!(
        second.iter().any(|e| matches!(e, Event::TickStarted {
            job: j,
            tick: t,
            windows: 2,
            batches: 4,
            ..
        } if *j == job.name && *t == tick(2))),
        "the open window first, then the new one: {second:?}"
    );
    let already: Vec<&String> = second
        .iter()
        .filter_map(|e| match e {
            Event::AlreadyArchived(b) => Some(&b.key),
            _ => None,
        })
        .collect();
    assert_eq!(
        already,
        [archived],
        "the committed batch is not exported again"
    );
    assert!(
        second
            .iter()
            .any(|e| matches!(e, Event::Archived { batch, .. } if batch.key == *failed)),
        "the failed batch is redone under the same key: {second:?}"
    );
    let after = state(&runner, &job).await;
    assert_eq!(after.watermark, Some(tick(2) - lag));
    assert!(after.open.is_empty() && after.in_flight.is_empty());
    assert_eq!(
        channel_tasks(&emu).len(),
        5,
        "2 in the failed run, 1 + 2 in the next"
    );

    let archives = read_archives(&project.archive(), Compression::Gzip);
    assert_eq!(archives.len(), 4);
    assert_complete(&emu, &job, &archives, &cids, tick(0) - lag, tick(2) - lag);
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Daylight-saving days in Berlin.

/// Steps the clock in quarter hours from `from` to `to`, running whatever `due_ticks` says is
/// due; returns the ticks run. Then checks that the archived windows join without gap or overlap,
/// each ending at its tick, and hold every message once.
async fn run_berlin_days(from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    let emu = emulator(from, 3, 24).await;
    let cids = live_cids(&emu, 5);
    let project = Project::new();
    let job = project.job(
        &JobSpec {
            schedule: "30 2 * * *",
            timezone: "Europe/Berlin",
            lag: None,
            compression: Compression::None,
            ..JobSpec::daily("berlin", &cids)
        },
        from,
    );
    let store = Store::memory();
    let (runner, _) = Api::of(&emu).replica(&store, "a");
    let mut ran = Vec::new();
    let mut at = from;
    while at <= to {
        move_to(&emu, at);
        let last = state(&runner, &job).await.last_tick;
        for tick in due_ticks(&job, last, emu.clock().now()) {
            archives_of(&runner.run_tick(&job, tick).await);
            ran.push(tick);
        }
        at += TimeDelta::minutes(15);
    }

    let archives = read_archives(&project.archive(), Compression::None);
    let mut manifests: Vec<&Manifest> = archives.iter().map(|a| &a.manifest).collect();
    manifests.sort_by_key(|m| m.window_since);
    assert_eq!(manifests.len(), ran.len(), "one archive per tick");
    for pair in manifests.windows(2) {
        assert_eq!(
            pair[0].window_until, pair[1].window_since,
            "windows join without gap or overlap"
        );
    }
    for m in &manifests {
        assert_eq!(
            m.window_until,
            Some(m.tick),
            "lag 0: each window ends at its tick"
        );
    }
    let since = manifests
        .first()
        .and_then(|m| m.window_since)
        .expect("archives with windows");
    let until = manifests
        .last()
        .and_then(|m| m.window_until)
        .expect("archives with windows");
    assert_complete(&emu, &job, &archives, &cids, since, until);
    emu.shutdown().await;
    ran
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_spring_forward_day_ticks_once_at_three() {
    let ran = run_berlin_days(utc(2026, 3, 27, 0, 0), utc(2026, 3, 31, 12, 0)).await;
    assert_eq!(
        ran,
        [
            utc(2026, 3, 26, 1, 30), // 02:30 CET: the latest tick when the job first runs
            utc(2026, 3, 27, 1, 30),
            utc(2026, 3, 28, 1, 30),
            utc(2026, 3, 29, 1, 0),  // 02:30 is skipped: 03:00 CEST
            utc(2026, 3, 30, 0, 30), // 02:30 CEST
            utc(2026, 3, 31, 0, 30),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fall_back_day_ticks_once() {
    let ran = run_berlin_days(utc(2026, 10, 23, 0, 0), utc(2026, 10, 27, 12, 0)).await;
    assert_eq!(
        ran,
        [
            utc(2026, 10, 22, 0, 30), // 02:30 CEST: the latest tick when the job first runs
            utc(2026, 10, 23, 0, 30),
            utc(2026, 10, 24, 0, 30),
            utc(2026, 10, 25, 0, 30), // 02:30 comes twice: the first one only
            utc(2026, 10, 26, 1, 30), // 02:30 CET
            utc(2026, 10, 27, 1, 30),
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// 7. Two replicas on one tick.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_replicas_on_one_tick_archive_it_once() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 12, 24).await;
    let cids = live_cids(&emu, 30); // two batches
    let project = Project::new();
    let job = project.job(&JobSpec::daily("replicas", &cids), start);
    let tick = start + TimeDelta::days(1);
    move_to(&emu, tick + TimeDelta::minutes(1));
    let store = Store::memory();
    let api = Api::of(&emu);
    let (a, _) = api.replica(&store, "a");
    let (b, _) = api.replica(&store, "b");

    let (from_a, from_b) = tokio::join!(a.run_tick(&job, tick), b.run_tick(&job, tick));
    let (done, other, winner) = match (&from_a, &from_b) {
        (TickOutcome::Done { .. }, other) => (&from_a, other, "a"),
        (other, TickOutcome::Done { .. }) => (&from_b, other, "b"),
        _ => panic!("one replica runs the tick: {from_a:?}, {from_b:?}"),
    };
    assert_eq!(archives_of(done), 2);
    assert!(
        match other {
            TickOutcome::Busy { holder } => holder == winner,
            TickOutcome::AlreadyDone => true,
            _ => false,
        },
        "the other stays out: {other:?}"
    );
    assert_eq!(
        answers(&emu, Endpoint::ExportChannels),
        [201, 201],
        "each batch once"
    );
    let archives = read_archives(&project.archive(), Compression::Gzip);
    assert_eq!(archives.len(), 2);
    let lag = TimeDelta::minutes(5);
    assert_complete(&emu, &job, &archives, &cids, start - lag, tick - lag);

    assert_eq!(a.run_tick(&job, tick).await, TickOutcome::AlreadyDone);
    assert_eq!(b.run_tick(&job, tick).await, TickOutcome::AlreadyDone);
    emu.shutdown().await;
}

// ---------------------------------------------------------------------------------------------
// 8. Seals: each run ends with one, chained to the one before.

/// The job's destination, opened as the runner opens it.
fn destination(job: &Job) -> Store {
    chatvault::store::open(&job.destination.url, &job.destination.options, &[])
        .expect("the destination opens")
}

/// The job's seals, checked to be numbered 1, 2, … and each to name the SHA-256 of the one
/// before.
async fn seals(job: &Job) -> Vec<Seal> {
    let chain = read_chain(&destination(job), &job.name)
        .await
        .expect("the chain reads");
    let mut previous = None;
    let mut seals = Vec::new();
    for (at, stored) in chain.into_iter().enumerate() {
        let seal = stored.seal.expect("a seal");
        assert_eq!(seal.sequence, at as u64 + 1, "{}", stored.key);
        assert_eq!(seal.previous, previous, "{}", stored.key);
        assert_eq!(seal.job, job.name);
        previous = Some(stored.sha256);
        seals.push(seal);
    }
    seals
}

/// The keys of the manifests, media records and catalog records below `root` whose keys
/// start with `prefix` (chatvault's own `_` folders aside), with the SHA-256 of their bytes.
fn documents(root: &Path, prefix: &str) -> BTreeMap<String, String> {
    let mut files = Vec::new();
    files_below(root, &mut files);
    files
        .iter()
        .filter_map(|path| {
            let key = path.strip_prefix(root).ok()?.to_str()?.to_owned();
            let document = key.ends_with(MANIFEST_SUFFIX)
                || key.ends_with(CATALOG_SUFFIX)
                || parse_record_key(&key).is_some();
            (document && key.starts_with(prefix) && !key.starts_with('_')).then(|| {
                let bytes = std::fs::read(path).expect("read a document");
                (key, hex(&Sha256::digest(&bytes)))
            })
        })
        .collect()
}

/// Every document of `job` below `root` (its keys start with the job's name) is named by
/// exactly one of its seals, with the SHA-256 of its bytes, and no seal names anything else;
/// the ledger's head is the newest seal.
async fn assert_sealed_once(state: &Store, job: &Job, root: &Path) {
    let chain = seals(job).await;
    let mut named: BTreeMap<String, String> = BTreeMap::new();
    for seal in &chain {
        for covered in &seal.covers {
            let earlier = named.insert(covered.key.clone(), covered.sha256.clone());
            assert!(earlier.is_none(), "{} is named twice", covered.key);
        }
    }
    assert_eq!(named, documents(root, &format!("{}/", job.name)));
    let stored = read_chain(&destination(job), &job.name)
        .await
        .expect("the chain reads");
    let newest = stored.last().expect("at least one seal");
    let head = seal_head(state, &job.name)
        .await
        .expect("the ledger reads")
        .expect("the ledger names a seal");
    assert_eq!(
        (head.sequence, head.sha256.as_str(), head.key.as_str()),
        (
            chain.len() as u64,
            newest.sha256.as_str(),
            newest.key.as_str()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_run_writes_the_next_seal_naming_what_it_wrote_and_the_previous_seal() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 8, 24).await;
    let cids = live_cids(&emu, 10);
    let project = Project::new();
    let job = project.job(&JobSpec::daily("sealed", &cids), start);
    let store = Store::memory();
    let (runner, _) = Api::of(&emu).replica(&store, "a");
    let mut before = BTreeMap::new();
    for day in 1..=3 {
        let tick = start + TimeDelta::days(day);
        move_to(&emu, tick + TimeDelta::minutes(1));
        assert_eq!(archives_of(&runner.run_tick(&job, tick).await), 1);
        assert_sealed_once(&store, &job, &project.archive()).await;
        let now = documents(&project.archive(), "sealed/");
        let chain = seals(&job).await;
        assert_eq!(chain.len() as i64, day, "one seal per run");
        let newest = chain.last().expect("a seal");
        let new: Vec<&String> = now.keys().filter(|k| !before.contains_key(*k)).collect();
        let covered: Vec<&String> = newest.covers.iter().map(|c| &c.key).collect();
        assert_eq!(
            covered, new,
            "day {day}: the run's manifest, nothing earlier"
        );
        assert!(newest.sealed_at > tick, "sealed by the run, on its clock");
        before = now;
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_seal_names_the_archives_written_before_seals_existed() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 8, 24).await;
    let cids = live_cids(&emu, 10);
    let project = Project::new();
    let job = project.job(&JobSpec::daily("older", &cids), start);
    let store = Store::memory();
    let api = Api::of(&emu);
    let (before_seals, _) = api.replica(&store, "a");
    for day in 1..=2 {
        let tick = start + TimeDelta::days(day);
        move_to(&emu, tick + TimeDelta::minutes(1));
        assert_eq!(archives_of(&before_seals.run_tick(&job, tick).await), 1);
    }
    // As a version before seals left the destination and the ledger.
    std::fs::remove_dir_all(project.archive().join("_chatvault")).expect("remove the seals");
    assert!(seals(&job).await.is_empty());
    before_seals
        .ledger(&job.name)
        .update(|s| s.seal = None)
        .await
        .expect("the ledger updates");

    let (upgraded, _) = api.replica(&store, "b");
    let tick = start + TimeDelta::days(3);
    move_to(&emu, tick + TimeDelta::minutes(1));
    assert_eq!(archives_of(&upgraded.run_tick(&job, tick).await), 1);
    let chain = seals(&job).await;
    assert_eq!(chain.len(), 1);
    assert_eq!(
        chain[0].covers.len(),
        documents(&project.archive(), "").len(),
        "all three days' manifests and records"
    );
    assert_sealed_once(&store, &job, &project.archive()).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_jobs_sharing_a_destination_each_seal_only_their_own_documents() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 8, 24).await;
    let cids = live_cids(&emu, 20);
    let project = Project::new();
    let left = project.job(&JobSpec::daily("left", &cids[..10]), start);
    let right = project.job(&JobSpec::daily("right", &cids[10..]), start);
    assert_eq!(
        left.destination.url, right.destination.url,
        "one destination"
    );
    let store = Store::memory();
    let (runner, _) = Api::of(&emu).replica(&store, "a");
    for day in 1..=2 {
        let tick = start + TimeDelta::days(day);
        move_to(&emu, tick + TimeDelta::minutes(1));
        for job in [&left, &right] {
            assert_eq!(archives_of(&runner.run_tick(job, tick).await), 1);
        }
    }
    for job in [&left, &right] {
        assert_eq!(seals(job).await.len(), 2);
        assert_sealed_once(&store, job, &project.archive()).await;
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_media_record_written_between_runs_is_sealed_by_the_next_run() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 8, 24).await;
    let cids = live_cids(&emu, 10);
    let project = Project::new();
    let job = project.job(&JobSpec::daily("later", &cids), start);
    let store = Store::memory();
    let (runner, _) = Api::of(&emu).replica(&store, "a");
    let tick = start + TimeDelta::days(1);
    move_to(&emu, tick + TimeDelta::minutes(1));
    assert_eq!(archives_of(&runner.run_tick(&job, tick).await), 1);
    let [manifest] = <[Manifest; 1]>::try_from(
        read_archives(&project.archive(), Compression::Gzip)
            .into_iter()
            .map(|a| a.manifest)
            .collect::<Vec<_>>(),
    )
    .expect("one archive");
    // What `chatvault media` writes for an archive: its next attempt.
    let attempt = documents(&project.archive(), "")
        .keys()
        .filter_map(|k| parse_record_key(k).filter(|(a, _)| *a == manifest.key))
        .map(|(_, n)| n)
        .max()
        .unwrap_or(0)
        + 1;
    let written = record::write(
        &destination(&job),
        &MediaRecord {
            format: record::FORMAT,
            job: job.name.clone(),
            archive: manifest.key.clone(),
            attempt,
            written_at: tick + TimeDelta::hours(1),
            chatvault_version: "0".into(),
            prefix: "_media".into(),
            references: Vec::new(),
        },
        None,
    )
    .await
    .expect("the record is written");
    assert!(written);

    let next = tick + TimeDelta::days(1);
    move_to(&emu, next + TimeDelta::minutes(1));
    assert_eq!(archives_of(&runner.run_tick(&job, next).await), 1);
    let chain = seals(&job).await;
    let named: Vec<&str> = chain[1].covers.iter().map(|c| c.key.as_str()).collect();
    assert!(
        named.contains(&record::record_key(&manifest.key, attempt).as_str()),
        "{named:?}"
    );
    assert_sealed_once(&store, &job, &project.archive()).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_signing_key_each_seal_carries_a_signature_the_public_key_checks() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 8, 24).await;
    let cids = live_cids(&emu, 10);
    let project = Project::new();
    let job = project.job(&JobSpec::daily("signed", &cids), start);
    let store = Store::memory();
    let (key, _) = SigningKey::generate().expect("a key");
    let mut keyring = Keyring::default();
    keyring.add(key.public().clone());
    let options = RunnerOptions {
        signing_key: Some(Arc::new(key)),
        ..RunnerOptions::default()
    };
    let runner = Api::of(&emu).runner(&store, "a", options, Arc::default());
    let tick = start + TimeDelta::days(1);
    move_to(&emu, tick + TimeDelta::minutes(1));
    assert_eq!(archives_of(&runner.run_tick(&job, tick).await), 1);
    let chain = read_chain(&destination(&job), &job.name)
        .await
        .expect("the chain reads");
    let [seal] = chain.as_slice() else {
        panic!("one seal: {chain:?}");
    };
    let id = keyring.ids().next().expect("the key's id").to_owned();
    assert_eq!(
        check(&seal.bytes, &keyring),
        Check::Valid { key_id: id },
        "{}",
        String::from_utf8_lossy(&seal.bytes)
    );
    assert_sealed_once(&store, &job, &project.archive()).await;
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seal_that_cannot_be_written_warns_and_the_next_run_seals_what_it_missed() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 8, 24).await;
    let cids = live_cids(&emu, 10);
    let project = Project::new();
    let job = project.job(&JobSpec::daily("unsealed", &cids), start);
    let store = Store::memory();
    let (runner, _) = Api::of(&emu).replica(&store, "a");
    // A file where the seals' folder would go: no seal can be written below it.
    std::fs::create_dir_all(project.archive()).expect("mkdir");
    let blocker = project.archive().join("_chatvault");
    std::fs::write(&blocker, "not a folder").expect("write the file");
    let tick = start + TimeDelta::days(1);
    move_to(&emu, tick + TimeDelta::minutes(1));
    let TickOutcome::Done { warnings, .. } = runner.run_tick(&job, tick).await else {
        panic!("the run succeeds without its seal");
    };
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("the run's seal could not be written: ")
                && w.ends_with("; the next run's seal covers its archives")),
        "{warnings:?}"
    );
    assert_eq!(state(&runner, &job).await.seal, None);

    std::fs::remove_file(&blocker).expect("remove the file");
    let next = tick + TimeDelta::days(1);
    move_to(&emu, next + TimeDelta::minutes(1));
    assert_eq!(archives_of(&runner.run_tick(&job, next).await), 1);
    let chain = seals(&job).await;
    assert_eq!(chain.len(), 1);
    assert_eq!(
        chain[0].covers.len(),
        documents(&project.archive(), "").len(),
        "both runs' documents"
    );
    assert_sealed_once(&store, &job, &project.archive()).await;
    emu.shutdown().await;
}

/// Removes the job's newest seal and every document it names, with the archives those
/// manifests describe: what someone hiding the newest archives would do. Returns its key.
async fn cut_the_newest_seal(job: &Job, root: &Path) -> String {
    let chain = read_chain(&destination(job), &job.name)
        .await
        .expect("the chain reads");
    let newest = chain.last().expect("a seal");
    for covered in &newest.seal.as_ref().expect("a seal").covers {
        std::fs::remove_file(root.join(&covered.key)).expect("remove a document");
        if let Some(archive) = covered.key.strip_suffix(MANIFEST_SUFFIX) {
            std::fs::remove_file(root.join(archive)).expect("remove an archive");
        }
    }
    std::fs::remove_file(root.join(&newest.key)).expect("remove the seal");
    newest.key.clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_writes_no_seal_over_a_chain_cut_at_the_seal_the_ledger_records() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 8, 24).await;
    let cids = live_cids(&emu, 10);
    let project = Project::new();
    let job = project.job(&JobSpec::daily("cut", &cids), start);
    let store = Store::memory();
    let api = Api::of(&emu);
    let (daemon, _) = api.replica(&store, "a");
    for day in 1..=3 {
        let tick = start + TimeDelta::days(day);
        move_to(&emu, tick + TimeDelta::minutes(1));
        assert_eq!(archives_of(&daemon.run_tick(&job, tick).await), 1);
    }
    let cut = cut_the_newest_seal(&job, &project.archive()).await;
    let recorded = seal_head(&store, &job.name)
        .await
        .expect("the ledger reads")
        .expect("a head");
    assert_eq!(
        (recorded.sequence, recorded.key.as_str()),
        (3, cut.as_str())
    );

    // The daemon that wrote seal 3 and remembers it, then a process starting afresh.
    let (fresh, _) = api.replica(&store, "b");
    for (day, runner) in [(4, &daemon), (5, &fresh)] {
        let tick = start + TimeDelta::days(day);
        move_to(&emu, tick + TimeDelta::minutes(1));
        let TickOutcome::Done { warnings, .. } = runner.run_tick(&job, tick).await else {
            panic!("day {day}: the run's archives are committed all the same");
        };
        let refused = format!(
            "the chain was cut: seal 3 ({cut}), which the ledger records, is gone; no seal is \
             written over it: run chatvault verify --job cut and see the README's Auditing \
             section; sealing is stopped until the seal is back"
        );
        assert!(warnings.contains(&refused), "day {day}: {warnings:?}");
        assert_eq!(
            seals(&job).await.len(),
            2,
            "day {day}: the chain stays 1..2"
        );
        let after = state(runner, &job).await;
        assert_eq!(after.seal.as_ref(), Some(&recorded), "day {day}");
        assert_eq!(
            after.watermark,
            Some(tick - TimeDelta::minutes(5)),
            "day {day}: the watermark moved"
        );
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_killed_after_its_seal_leaves_the_ledger_one_behind_and_the_next_run_seals() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 8, 24).await;
    let cids = live_cids(&emu, 10);
    let project = Project::new();
    let job = project.job(&JobSpec::daily("behind", &cids), start);
    let store = Store::memory();
    let api = Api::of(&emu);
    let (first, _) = api.replica(&store, "first");
    let tick = start + TimeDelta::days(1);
    move_to(&emu, tick + TimeDelta::minutes(1));
    assert_eq!(archives_of(&first.run_tick(&job, tick).await), 1);

    let tick = start + TimeDelta::days(2);
    move_to(&emu, tick + TimeDelta::minutes(1));
    crash_at(&api, &store, &job, tick, Phase::Seal).await;
    let (b, _) = api.replica(&store, "b");
    assert_eq!(seals(&job).await.len(), 2);
    assert_eq!(state(&b, &job).await.seal.map(|h| h.sequence), Some(1));
    emu.clock().advance(TimeDelta::minutes(6));
    let TickOutcome::Done { warnings, .. } = b.run_tick(&job, tick).await else {
        panic!("the run resumes");
    };
    assert!(warnings.is_empty(), "{warnings:?}");
    assert_eq!(seals(&job).await.len(), 3);
    assert_sealed_once(&store, &job, &project.archive()).await;
    emu.shutdown().await;
}

/// An archive and manifest of `job` at `key`, copied from `model`'s manifest (its own
/// signature dropped), signed by `by` when there is one: a document someone planted.
fn plant(root: &Path, model: &str, key: &str, by: Option<&SigningKey>) -> String {
    let text = std::fs::read(root.join(model)).expect("read the model manifest");
    let mut manifest: serde_json::Value = serde_json::from_slice(&text).expect("a manifest");
    let members = manifest.as_object_mut().expect("an object");
    members.remove("signature");
    members.insert("key".into(), key.into());
    std::fs::write(root.join(key), b"planted").expect("write the archive");
    let manifest_key = format!("{key}{MANIFEST_SUFFIX}");
    let bytes = signed_json(&manifest, by).expect("json");
    std::fs::write(root.join(&manifest_key), bytes).expect("write the manifest");
    manifest_key
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_signs_seals_no_planted_document_and_those_a_listed_key_signed() {
    let start = utc(2026, 1, 1, 0, 0);
    let emu = emulator(start, 8, 24).await;
    let cids = live_cids(&emu, 10);
    let project = Project::new();
    let job = project.job(&JobSpec::daily("planted", &cids), start);
    let store = Store::memory();
    let (own, _) = SigningKey::generate().expect("a key");
    let (rotated, _) = SigningKey::generate().expect("a key");
    let (stranger, _) = SigningKey::generate().expect("a key");
    let mut keyring = Keyring::default();
    keyring.add(own.public().clone());
    keyring.add(rotated.public().clone());
    let options = RunnerOptions {
        signing_key: Some(Arc::new(own)),
        keyring,
        ..RunnerOptions::default()
    };
    let runner = Api::of(&emu).runner(&store, "a", options, Arc::default());
    let tick = start + TimeDelta::days(1);
    move_to(&emu, tick + TimeDelta::minutes(1));
    assert_eq!(archives_of(&runner.run_tick(&job, tick).await), 1);
    let root = project.archive();
    let model = seals(&job).await[0]
        .covers
        .iter()
        .find(|c| c.key.ends_with(MANIFEST_SUFFIX))
        .expect("a manifest")
        .key
        .clone();
    let unsigned = plant(&root, &model, "planted/unsigned.jsonl.gz", None);
    let foreign = plant(&root, &model, "planted/foreign.jsonl.gz", Some(&stranger));
    let before_rotation = plant(&root, &model, "planted/rotated.jsonl.gz", Some(&rotated));

    for day in [2, 3] {
        let tick = start + TimeDelta::days(day);
        move_to(&emu, tick + TimeDelta::minutes(1));
        let TickOutcome::Done { warnings, .. } = runner.run_tick(&job, tick).await else {
            panic!("day {day}: the run succeeds");
        };
        let refused = |key: &str, why: &str| {
            format!(
                "not sealed: {key} {why}, though this deployment signs: was it planted? \
                 `chatvault verify` reports it"
            )
        };
        for warning in [
            refused(&unsigned, "is unsigned"),
            refused(&foreign, "is signed by an unknown key"),
        ] {
            assert!(warnings.contains(&warning), "day {day}: {warnings:?}");
        }
    }
    let named: BTreeSet<String> = seals(&job)
        .await
        .iter()
        .flat_map(|s| s.covers.iter().map(|c| c.key.clone()))
        .collect();
    assert!(named.contains(&before_rotation), "{named:?}");
    assert!(
        !named.contains(&unsigned) && !named.contains(&foreign),
        "{named:?}"
    );
    emu.shutdown().await;
}
