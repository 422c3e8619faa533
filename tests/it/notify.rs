//! Notifications, received by a local webhook receiver: failure, recovery and lapse risk as
//! JSON and Slack-compatible bodies, the dead man's switch pings of each run, and a receiver
//! that fails without failing the run. Most cases drive a runner against the export API
//! emulator on its clock, with jobs loaded as the command line loads them; one runs the
//! `chatvault` binary itself, to show the command line wires it all up.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use chatvault::api::{ClientConfig, StreamClient};
use chatvault::config::job::Job;
use chatvault::config::{LoadOptions, MissingVars, load};
use chatvault::notify::Notifier;
use chatvault::runner::{Event, Fanout, Phase, Reporter, Runner, RunnerOptions, TickOutcome};
use chatvault::store::Store;
use chatvault_emulator::{Emulator, EmulatorConfig, Endpoint};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use crate::common;
use crate::common::emulated::{self, EmuClock};
use crate::common::processes;

// ---------------------------------------------------------------------------------------------
// A webhook receiver: records every request as it arrives; answers each path with the status
// set for it, after the delay set for it.

#[derive(Default)]
struct Inbox {
    received: Mutex<Vec<(String, String)>>,
    statuses: Mutex<HashMap<String, u16>>,
    delays: Mutex<HashMap<String, Duration>>,
}

struct Receiver {
    base: String,
    inbox: Arc<Inbox>,
}

impl Receiver {
    async fn start() -> Receiver {
        let inbox = Arc::new(Inbox::default());
        let app = Router::new().fallback(record).with_state(inbox.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the receiver binds on 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { base, inbox }
    }

    fn answer(&self, path: &str, status: u16) {
        self.inbox
            .statuses
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_owned(), status);
    }

    fn delay(&self, path: &str, by: Duration) {
        self.inbox
            .delays
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_owned(), by);
    }

    /// Hands out what arrived so far, in order of arrival, and forgets it.
    fn take(&self) -> Vec<(String, String)> {
        std::mem::take(
            &mut *self
                .inbox
                .received
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }
}

async fn record(State(inbox): State<Arc<Inbox>>, uri: Uri, body: Bytes) -> StatusCode {
    let path = uri.path().to_owned();
    inbox
        .received
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((path.clone(), String::from_utf8_lossy(&body).into_owned()));
    let status = inbox
        .statuses
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&path)
        .copied()
        .unwrap_or(200);
    let delay = inbox
        .delays
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .get(&path)
        .copied();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
    StatusCode::from_u16(status).unwrap_or(StatusCode::OK)
}

fn bodies(received: &[(String, String)], path: &str) -> Vec<serde_json::Value> {
    received
        .iter()
        .filter(|(p, _)| p == path)
        .map(|(_, b)| serde_json::from_str(b).unwrap_or_else(|e| panic!("{path}: {e}: {b}")))
        .collect()
}

fn paths(received: &[(String, String)]) -> Vec<&str> {
    let mut paths: Vec<&str> = received.iter().map(|(p, _)| p.as_str()).collect();
    paths.sort_unstable();
    paths
}

// ---------------------------------------------------------------------------------------------
// Set-up: emulator, a project with a notify block, a runner reporting to a notifier.

fn start_time() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("a valid time")
}

async fn emulator() -> Emulator {
    let mut config = EmulatorConfig {
        start_time: start_time(),
        exact_content_length: false,
        ..EmulatorConfig::default()
    };
    config.data.channels_per_type = 4;
    config.data.messages_per_channel_per_day = 12;
    config.data.days_of_history = 2;
    emulated::start(config).await
}

/// A project whose global config sends to `receiver`, and its one daily job over 3 channels.
fn project(emu: &Emulator, receiver: &Receiver, name: &str) -> (tempfile::TempDir, Job) {
    let dir = tempfile::tempdir().expect("a temporary folder");
    let base = &receiver.base;
    std::fs::write(
        dir.path().join("chatvault.yaml"),
        format!(
            "defaults:\n  destination:\n    url: file://archive\n\
             notify:\n  webhooks:\n    - url: {base}/hook\n    - url: {base}/slack\n      format: slack\n      on: [failure]\n\
             \x20 ping: {base}/ping/{{job}}\n"
        ),
    )
    .expect("write chatvault.yaml");
    std::fs::create_dir(dir.path().join("jobs")).expect("create jobs/");
    let ids: Vec<String> = emulated::cids(emu, 3)
        .into_iter()
        .map(|c| format!("{}:{}", c.channel_type, c.id))
        .collect();
    let file = dir.path().join("jobs").join(format!("{name}.yaml"));
    std::fs::write(
        &file,
        format!(
            "schedule: \"0 0 * * *\"\nwindow:\n  lag: 5m\nchannels:\n{}",
            ids.iter()
                .map(|cid| format!("  - cid: \"{cid}\"\n"))
                .collect::<String>()
        ),
    )
    .expect("write the job file");
    let env = |_: &str| None::<String>;
    let loaded = load(&LoadOptions {
        paths: vec![file],
        config: Some(dir.path().join("chatvault.yaml")),
        env: &env,
        missing_vars: MissingVars::Error,
    });
    let problems = format!("{:?}", loaded.diagnostics);
    let set = loaded
        .into_set()
        .unwrap_or_else(|| panic!("the job loads: {problems}"));
    let [job] = <[Job; 1]>::try_from(set.jobs).expect("one job");
    (dir, job)
}

#[derive(Default)]
struct Collecting(Mutex<Vec<Event>>);

impl Reporter for Collecting {
    fn event(&self, event: &Event) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(event.clone());
    }
}

impl Collecting {
    fn run_ids(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(|e| match e {
                Event::TickFinished { run_id, .. } => Some(run_id.clone()),
                _ => None,
            })
            .collect()
    }

    fn paused(&self) -> bool {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|e| matches!(e, Event::Paused { .. }))
    }
}

fn runner(
    emu: &Emulator,
    state: &Store,
    job: &Job,
    options: RunnerOptions,
) -> (Arc<Runner>, Arc<Notifier>, Arc<Collecting>) {
    let clock = Arc::new(EmuClock(emu.clock().clone()));
    let client = StreamClient::new(
        &ClientConfig::new(&emu.base_url(), emu.api_key(), &emu.config().api_secret),
        clock.clone(),
    )
    .expect("a client of the emulator");
    let notifier =
        Arc::new(Notifier::new(clock.clone(), std::slice::from_ref(job)).expect("a notifier"));
    let events = Arc::new(Collecting::default());
    let reporter = Arc::new(Fanout(vec![notifier.clone(), events.clone()]));
    let runner =
        Runner::new(client, state.clone(), clock, vec![], reporter, options).expect("a runner");
    (Arc::new(runner), notifier, events)
}

fn tick(day: i64) -> DateTime<Utc> {
    start_time() + TimeDelta::days(day)
}

fn move_to(emu: &Emulator, at: DateTime<Utc>) {
    if emu.clock().now() < at {
        emu.clock().set(at);
    }
}

// ---------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_and_the_recovery_after_it_are_posted_and_every_run_pings() {
    let emu = emulator().await;
    let receiver = Receiver::start().await;
    let (_dir, job) = project(&emu, &receiver, "notified");
    let (runner, notifier, events) = runner(&emu, &Store::memory(), &job, RunnerOptions::default());

    emu.faults().fail_next_tasks(1);
    move_to(&emu, tick(1) + TimeDelta::minutes(1));
    let outcome = runner.run_tick(&job, tick(1)).await;
    assert!(matches!(outcome, TickOutcome::Failed { .. }), "{outcome:?}");
    notifier.flush(Duration::from_secs(20)).await;
    let got = receiver.take();
    assert_eq!(
        paths(&got),
        [
            "/hook",
            "/ping/notified/fail",
            "/ping/notified/start",
            "/slack"
        ],
        "{got:?}"
    );
    let [failure] = <[serde_json::Value; 1]>::try_from(bodies(&got, "/hook")).expect("one");
    assert_eq!(failure["event"], "failure");
    assert_eq!(failure["job"], "notified");
    assert_eq!(failure["tick"], "2026-01-02T00:00:00Z");
    assert_eq!(failure["run_id"], events.run_ids()[0].as_str());
    let error = failure["error"].as_str().expect("an error text");
    assert!(error.contains("1 of the tick's batches failed"), "{error}");
    assert_eq!(failure["chatvault_version"], env!("CARGO_PKG_VERSION"));
    let [slack] = <[serde_json::Value; 1]>::try_from(bodies(&got, "/slack")).expect("one");
    let text = slack["text"].as_str().expect("a Slack text");
    assert!(
        text.starts_with("chatvault: notified: the run of tick 2026-01-02 00:00:00 UTC failed"),
        "{text}"
    );
    assert_eq!(slack.as_object().map(|o| o.len()), Some(1), "{slack}");
    let (_, fail_ping) = got
        .iter()
        .find(|(p, _)| p == "/ping/notified/fail")
        .expect("a fail ping");
    assert!(fail_ping.contains("failed"), "{fail_ping}");

    move_to(&emu, tick(2) + TimeDelta::minutes(1));
    let outcome = runner.run_tick(&job, tick(2)).await;
    assert!(matches!(outcome, TickOutcome::Done { .. }), "{outcome:?}");
    notifier.flush(Duration::from_secs(20)).await;
    let got = receiver.take();
    assert_eq!(
        paths(&got),
        ["/hook", "/ping/notified", "/ping/notified/start"],
        "a recovery, not sent to the failure-only Slack hook: {got:?}"
    );
    let [recovery] = <[serde_json::Value; 1]>::try_from(bodies(&got, "/hook")).expect("one");
    assert_eq!(recovery["event"], "recovery");
    assert_eq!(recovery["run_id"], events.run_ids()[1].as_str());
    assert!(
        recovery["archives"].as_u64().is_some_and(|n| n >= 1),
        "{recovery}"
    );
    assert!(recovery.get("error").is_none(), "{recovery}");

    move_to(&emu, tick(3) + TimeDelta::minutes(1));
    let outcome = runner.run_tick(&job, tick(3)).await;
    assert!(matches!(outcome, TickOutcome::Done { .. }), "{outcome:?}");
    notifier.flush(Duration::from_secs(20)).await;
    let got = receiver.take();
    assert_eq!(
        paths(&got),
        ["/ping/notified", "/ping/notified/start"],
        "a success after a success is only pinged: {got:?}"
    );
    emu.shutdown().await;
}

/// A run of `tick(1)` that dies right after recording its export task.
async fn leave_a_recorded_task(emu: &Emulator, state: &Store, job: &Job) {
    move_to(emu, tick(1) + TimeDelta::minutes(1));
    let (crashing, _, crashed) = runner(
        emu,
        state,
        job,
        RunnerOptions {
            pause_at: Some(Phase::Created),
            ..RunnerOptions::default()
        },
    );
    let run = {
        let (runner, job) = (crashing.clone(), job.clone());
        tokio::spawn(async move { runner.run_tick(&job, tick(1)).await })
    };
    tokio::time::timeout(Duration::from_secs(30), async {
        while !crashed.paused() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the run pauses after creating its task");
    run.abort();
    let _ = run.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_near_its_60_day_lapse_is_posted() {
    let emu = emulator().await;
    let receiver = Receiver::start().await;
    let (_dir, job) = project(&emu, &receiver, "lapsing");
    let state = Store::memory();
    leave_a_recorded_task(&emu, &state, &job).await;
    receiver.take();

    emu.clock().advance(TimeDelta::days(55));
    let (runner, notifier, events) = runner(&emu, &state, &job, RunnerOptions::default());
    let outcome = runner.run_tick(&job, tick(1)).await;
    assert!(matches!(outcome, TickOutcome::Done { .. }), "{outcome:?}");
    notifier.flush(Duration::from_secs(20)).await;
    let got = receiver.take();
    let [risk] = <[serde_json::Value; 1]>::try_from(bodies(&got, "/hook"))
        .unwrap_or_else(|_| panic!("one lapse-risk post: {got:?}"));
    assert_eq!(risk["event"], "lapse_risk");
    assert_eq!(risk["job"], "lapsing");
    assert_eq!(risk["days_left"], 5);
    assert_eq!(risk["run_id"], events.run_ids()[0].as_str());
    let task_id = risk["task_id"].as_str().expect("a task id");
    assert!(!task_id.is_empty());
    let lapses_at: DateTime<Utc> = risk["lapses_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("an RFC 3339 lapse time");
    assert!(
        lapses_at - emu.clock().now() > TimeDelta::days(4),
        "{lapses_at}"
    );
    assert!(
        bodies(&got, "/slack").is_empty(),
        "the Slack hook takes failures only"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receiver_that_fails_is_retried_and_never_fails_the_run() {
    let emu = emulator().await;
    let receiver = Receiver::start().await;
    receiver.answer("/ping/refused/start", 503);
    // Each refusal comes slowly: the run is long over before the third attempt.
    receiver.delay("/ping/refused/start", Duration::from_millis(400));
    receiver.answer("/ping/refused", 404);
    let (_dir, job) = project(&emu, &receiver, "refused");
    let (runner, notifier, _) = runner(&emu, &Store::memory(), &job, RunnerOptions::default());

    move_to(&emu, tick(1) + TimeDelta::minutes(1));
    let outcome = runner.run_tick(&job, tick(1)).await;
    assert!(matches!(outcome, TickOutcome::Done { .. }), "{outcome:?}");
    notifier.flush(Duration::from_secs(20)).await;
    let got = receiver.take();
    let arrived: Vec<&str> = got.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        arrived,
        [
            "/ping/refused/start",
            "/ping/refused/start",
            "/ping/refused/start",
            "/ping/refused"
        ],
        "a 503 is tried 3 times, a 404 once, and the end of a run is never heard before its \
         start: {got:?}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_posts_a_failure_then_its_recovery_and_logs_a_receiver_that_fails() {
    let emu = processes::start_emulator(processes::realtime_config(12)).await;
    let receiver = Receiver::start().await;
    receiver.answer("/broken", 500);
    let project = common::Project::new();
    project.file(
        "chatvault.yaml",
        format!(
            "api:\n  base_url: {}\n\
             notify:\n  webhooks:\n    - url: ${{HOOKS}}/hook\n    - url: ${{HOOKS}}/slack\n      format: slack\n\
             \x20   - url: ${{HOOKS}}/broken\n  ping: ${{HOOKS}}/ping/{{job}}\n",
            emu.base_url()
        ),
    );
    let job = |name: &str, notify: &str| {
        format!(
            "name: {name}\nschedule: \"0 0 * * *\"\n\
             channels:\n  - type: messaging\n    ids: [general-000]\n\
             destination:\n  url: file://archive\n{notify}"
        )
    };
    project.job("shared.yaml", job("shared", ""));
    // Its own block replaces the global one: its own hook, no ping.
    project.job(
        "own.yaml",
        job("own", "notify:\n  webhooks:\n    - url: ${HOOKS}/own\n"),
    );
    let run = |secret: &str| {
        let mut cmd = processes::command(&project, &emu, &["run", "--once", "jobs"]);
        cmd.env("HOOKS", &receiver.base)
            .env("STREAM_API_SECRET", secret);
        processes::finish(cmd)
    };

    // What a run of both jobs posts: three attempts at the failing hook, one of everything else
    // (the shared job's pings end with `end_ping`), each webhook body saying `event`.
    let posted = |got: &[(String, String)], end_ping: &str, event: &str| {
        let mut want = [
            "/broken",
            "/broken",
            "/broken",
            "/hook",
            "/own",
            end_ping,
            "/ping/shared/start",
            "/slack",
        ];
        want.sort_unstable();
        assert_eq!(paths(got), want, "{got:?}");
        for path in ["/hook", "/own"] {
            let [body] = <[serde_json::Value; 1]>::try_from(bodies(got, path)).expect("one");
            assert_eq!(body["event"], event, "{path}");
        }
    };

    // Stream refuses the secret: both runs fail.
    let (code, stdout, stderr) = run("not-the-secret").await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let got = receiver.take();
    posted(&got, "/ping/shared/fail", "failure");
    assert_eq!(bodies(&got, "/hook")[0]["job"], "shared");
    assert_eq!(bodies(&got, "/own")[0]["job"], "own");
    // What to do travels with the failure: a field of the JSON body, a line of Slack's text.
    let hook = &bodies(&got, "/hook")[0];
    assert!(
        hook["hint"]
            .as_str()
            .is_some_and(|h| h.contains("STREAM_API_SECRET")),
        "{hook}"
    );
    let slack = &bodies(&got, "/slack")[0];
    assert!(
        slack["text"]
            .as_str()
            .is_some_and(|t| t.contains("\nhint: ") && t.contains("STREAM_API_SECRET")),
        "{slack}"
    );
    let undelivered: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("notification not delivered"))
        .collect();
    assert_eq!(undelivered.len(), 1, "{stderr}");
    assert!(
        undelivered[0].contains("500") && !undelivered[0].contains("/broken"),
        "the status is logged, the URL's path (its credential) is not: {}",
        undelivered[0]
    );

    // The right secret: both recover; the failing hook still fails nothing.
    let (code, stdout, stderr) = run(&emu.config().api_secret).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    posted(&receiver.take(), "/ping/shared", "recovery");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapse_risk_is_posted_once_a_day_whichever_process_runs() {
    let emu = emulator().await;
    let receiver = Receiver::start().await;
    let (_dir, job) = project(&emu, &receiver, "stuck");
    let state = Store::memory();
    leave_a_recorded_task(&emu, &state, &job).await;
    receiver.take();
    emu.clock().advance(TimeDelta::days(54));

    // Status requests keep failing, so every run resumes the task near its lapse and fails.
    // Each run is a process of its own (its own runner and notifier), as under a CronJob.
    let mut lapse_posts = Vec::new();
    for hours_later in [0, 1, 2, 23] {
        emu.clock().advance(TimeDelta::hours(hours_later));
        emu.faults()
            .fail_next_requests(Endpoint::GetExportChannelsStatus, 1_000, 500);
        let (runner, notifier, _) = runner(&emu, &state, &job, RunnerOptions::default());
        let outcome = runner.run_tick(&job, tick(1)).await;
        assert!(matches!(outcome, TickOutcome::Failed { .. }), "{outcome:?}");
        notifier.flush(Duration::from_secs(20)).await;
        let got = receiver.take();
        let events: Vec<serde_json::Value> = bodies(&got, "/hook")
            .into_iter()
            .map(|b| b["event"].clone())
            .collect();
        assert!(events.contains(&"failure".into()), "{got:?}");
        lapse_posts.push(events.iter().filter(|e| *e == "lapse_risk").count());
        emu.faults().clear();
    }
    assert_eq!(
        lapse_posts,
        [1, 0, 0, 1],
        "the first run warns, the next two within the day do not, the one a day later does"
    );
    emu.shutdown().await;
}

/// A run stopped by a shutdown (a rollout, a node drain) is neither a failure nor the end of
/// one: nothing is posted and no fail ping goes out, the ledger records it as interrupted, and
/// the next process's success after it is no recovery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_run_posts_no_failure_and_the_success_after_it_no_recovery() {
    let emu = emulator().await;
    let receiver = Receiver::start().await;
    let (_dir, job) = project(&emu, &receiver, "rolled");
    let state = Store::memory();
    move_to(&emu, tick(1) + TimeDelta::minutes(1));
    let (stopping, notifier, events) = runner(
        &emu,
        &state,
        &job,
        RunnerOptions {
            pause_at: Some(Phase::Created),
            ..RunnerOptions::default()
        },
    );
    let run = {
        let (runner, job) = (stopping.clone(), job.clone());
        tokio::spawn(async move { runner.run_tick(&job, tick(1)).await })
    };
    tokio::time::timeout(Duration::from_secs(30), async {
        while !events.paused() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the run pauses after creating its task");
    stopping.interrupt();
    let outcome = run.await.expect("the run ends");
    assert_eq!(outcome, TickOutcome::Interrupted);
    notifier.flush(Duration::from_secs(20)).await;
    let got = receiver.take();
    assert!(
        paths(&got)
            .iter()
            .all(|p| *p != "/hook" && *p != "/slack" && !p.ends_with("/fail")),
        "no failure is announced: {got:?}"
    );
    let recorded = chatvault::state::Ledger::open(state.clone(), &job.name)
        .load()
        .await
        .expect("the ledger")
        .into_value();
    let last = recorded.last_outcome.clone().expect("an outcome");
    assert!(last.interrupted && !last.failed(), "{last:?}");
    assert_eq!(recorded.in_flight.len(), 1, "its task stays recorded");
    assert!(recorded.claim.is_none(), "the job is handed back");

    // The next process (a new pod, knowing nothing of this one) runs the next tick.
    move_to(&emu, tick(2) + TimeDelta::minutes(1));
    let (next, notifier, _) = runner(&emu, &state, &job, RunnerOptions::default());
    let outcome = next.run_tick(&job, tick(2)).await;
    assert!(matches!(outcome, TickOutcome::Done { .. }), "{outcome:?}");
    notifier.flush(Duration::from_secs(20)).await;
    let got = receiver.take();
    assert_eq!(
        paths(&got),
        ["/ping/rolled", "/ping/rolled/start"],
        "a success after an interrupted run is no recovery: {got:?}"
    );
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_left_to_capture_are_posted_as_incomplete_and_the_next_tick_retries_them() {
    let mut config = EmulatorConfig {
        start_time: start_time(),
        exact_content_length: false,
        ..EmulatorConfig::default()
    };
    config.data.channels_per_type = 4;
    config.data.messages_per_channel_per_day = 12;
    config.data.days_of_history = 2;
    config.data.media_every = 2;
    let emu = emulated::start(config).await;
    let receiver = Receiver::start().await;
    let (_dir, mut job) = project(&emu, &receiver, "media");
    // The emulator's CDN: plain HTTP on localhost.
    job.media.hosts = vec!["localhost".into()];
    job.media.allow_http = true;
    job.media.allow_private_addresses = true;
    emu.faults()
        .fail_next_requests(Endpoint::CdnFile, 1000, 500);
    let (runner, notifier, events) = runner(&emu, &Store::memory(), &job, RunnerOptions::default());

    move_to(&emu, tick(1) + TimeDelta::minutes(1));
    let outcome = runner.run_tick(&job, tick(1)).await;
    let TickOutcome::Done {
        media_outstanding,
        warnings,
        ..
    } = &outcome
    else {
        panic!("files left to capture do not fail the run: {outcome:?}");
    };
    assert!(*media_outstanding > 0, "{outcome:?}");
    notifier.flush(Duration::from_secs(20)).await;
    let got = receiver.take();
    let incomplete: Vec<serde_json::Value> = bodies(&got, "/hook")
        .into_iter()
        .filter(|b| b["event"] == "incomplete")
        .collect();
    assert_eq!(incomplete.len(), 1, "{got:?}");
    assert_eq!(incomplete[0]["media_outstanding"], *media_outstanding);
    let sentence = format!("{media_outstanding} media reference(s)");
    assert!(
        warnings.iter().any(|w| w.starts_with(&sentence)),
        "{warnings:?}"
    );
    assert!(
        incomplete[0]["summary"]
            .as_str()
            .is_some_and(|s| s.contains(&sentence)),
        "{}",
        incomplete[0]
    );

    // The next tick retries them from the records: the first archive gets its second record.
    emu.faults().clear();
    move_to(&emu, tick(2) + TimeDelta::minutes(1));
    let outcome = runner.run_tick(&job, tick(2)).await;
    assert!(
        matches!(
            outcome,
            TickOutcome::Done {
                media_outstanding: 0,
                ..
            }
        ),
        "{outcome:?}"
    );
    let retried = events
        .0
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|e| matches!(e, Event::MediaRecorded { attempt: 2, .. }))
        .count();
    assert!(retried > 0, "a retry wrote record 2");
    emu.shutdown().await;
}
