//! Channels and users Stream does not have (issue 14, point 2), through the real binary: a
//! job naming a deleted or misspelt channel next to real ones archives the real ones under the
//! key they always had, exits 0, and names the missing one on stdout, in the log, in `status`
//! (JSON), in the manifest and in a `missing` webhook; the next window asks for it again.
//! Stream's refusal may or may not name the channel (the emulator can do either): unnamed,
//! the query-channels probe finds it. A users export that Stream refuses for an unknown id,
//! naming it or not, is narrowed down the same way (by bisection); one that Stream accepts
//! simply archives.

use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use chatvault_emulator::{Emulator, EmulatorConfig, Endpoint, UnknownUsers};
use serde_json::Value;

use crate::common;
use crate::common::manifests_below;
use crate::common::processes::{command, finish, realtime_config, start_emulator};

/// A webhook receiver keeping every body it is sent.
struct Hooks {
    base: String,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Hooks {
    async fn start() -> Hooks {
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().fallback(keep).with_state(bodies.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("the receiver binds on 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().expect("an address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        Hooks { base, bodies }
    }

    fn events(&self, event: &str) -> Vec<Value> {
        self.bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter(|b| b["event"] == event)
            .cloned()
            .collect()
    }
}

async fn keep(State(bodies): State<Arc<Mutex<Vec<Value>>>>, body: Bytes) -> StatusCode {
    if let Ok(value) = serde_json::from_slice(&body) {
        bodies
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(value);
    }
    StatusCode::OK
}

/// A project whose one job exports `members` (a `channels:` or `users:` block) uncompressed
/// into `archive/`, with every webhook event posted to `hooks`.
fn project(emu: &Emulator, hooks: &Hooks, members: &str) -> common::Project {
    let project = common::Project::new();
    project.file(
        "chatvault.yaml",
        format!(
            "api:\n  base_url: {}\nnotify:\n  webhooks:\n    - url: {}/hook\n",
            emu.base_url(),
            hooks.base
        ),
    );
    project.job(
        "gaps.yaml",
        format!(
            "name: gaps\nschedule: \"0 0 * * *\"\n{members}\
             destination:\n  url: file://archive\n  compression: none\n"
        ),
    );
    project
}

fn requests(emu: &Emulator, endpoint: Endpoint) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.endpoint == Some(endpoint))
        .count()
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The key the plan gives tick `tick`'s one batch when the job lists only the channels
/// Stream has: the key the batch has always had.
async fn planned_key(emu: &Emulator, hooks: &Hooks, members: &str, tick: &str) -> String {
    let project = project(emu, hooks, members);
    let tick: chrono::DateTime<chrono::Utc> = tick.parse().expect("the manifest's tick");
    let now = (tick - chrono::TimeDelta::seconds(1)).to_rfc3339();
    let (code, stdout, stderr) = finish(command(
        &project,
        emu,
        &["plan", "--format", "json", "--now", &now, "jobs"],
    ))
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let plan: Value = serde_json::from_str(&stdout).expect("the plan is JSON");
    let first = &plan["jobs"][0]["ticks"][0];
    assert_eq!(
        first["at"].as_str().map(str::parse),
        Some(Ok(tick)),
        "{first:#}"
    );
    first["windows"][0]["requests"][0]["key"]
        .as_str()
        .expect("a key")
        .to_owned()
}

async fn a_missing_channel_is_left_out_and_named(name_missing_channel: bool) {
    let emu = start_emulator(EmulatorConfig {
        name_missing_channel,
        ..realtime_config(12)
    })
    .await;
    let hooks = Hooks::start().await;
    let listed = "channels:\n  - type: messaging\n    ids: [general-000, gone-404, general-001]\n";
    let project = project(&emu, &hooks, listed);

    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(
        code, 0,
        "the rest was archived: a success with a warning\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("gaps: tick") && stdout.contains("ok: 1 new archive(s)"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "warning: Stream does not have 1 channel(s), exported without: messaging:gone-404"
        ),
        "{stdout}"
    );
    let warned = stderr
        .lines()
        .find(|l| l.contains("WARN") && l.contains("missing_channels=messaging:gone-404"));
    assert!(warned.is_some(), "a warn line names the cid:\n{stderr}");

    // The probe found it when Stream's message did not name it; the named message needs none.
    let probes = requests(&emu, Endpoint::QueryChannels);
    let creates = requests(&emu, Endpoint::ExportChannels);
    if name_missing_channel {
        assert_eq!((probes, creates), (0, 2), "refused, then the rest");
    } else {
        // messaging:general-001 is soft-deleted in the emulator's data (as the last channel of
        // each type is): query-channels hides it, so the probe suspects it too, but a trial
        // export alone accepts it and it stays in the archive.
        assert_eq!(
            (probes, creates),
            (1, 4),
            "refused, each suspect alone (one refused), then the rest: {:#?}",
            emu.requests()
        );
    }

    let found = manifests_below::<Value>(&project.dir.path().join("archive"));
    let [manifest] = found.as_slice() else {
        panic!("one archive: {found:?}");
    };
    assert_eq!(
        strings(&manifest["channels"]),
        ["messaging:general-000", "messaging:general-001"]
    );
    assert_eq!(strings(&manifest["missing"]), ["messaging:gone-404"]);
    assert_eq!(manifest["batch"], 1);
    let without = "channels:\n  - type: messaging\n    ids: [general-000, general-001]\n";
    assert_eq!(
        manifest["key"].as_str(),
        Some(
            planned_key(
                &emu,
                &hooks,
                without,
                manifest["tick"].as_str().expect("a tick")
            )
            .await
            .as_str()
        ),
        "the batch keeps the key it always had"
    );

    let (code, stdout, _) = finish(command(
        &project,
        &emu,
        &["status", "--format", "json", "jobs"],
    ))
    .await;
    assert_eq!(code, 0, "a missing channel is not a failure:\n{stdout}");
    let status: Value = serde_json::from_str(&stdout).expect("status is JSON");
    assert_eq!(
        strings(&status[0]["missing_channels"]),
        ["messaging:gone-404"]
    );
    assert_eq!(status[0]["last_error"], Value::Null);
    let (_, human, _) = finish(command(&project, &emu, &["status", "jobs"])).await;
    assert!(
        human.contains("missing        channels Stream does not have, left out by the last run: messaging:gone-404"),
        "{human}"
    );

    let posted = hooks.events("missing");
    let [hook] = posted.as_slice() else {
        panic!("one `missing` webhook: {posted:?}");
    };
    assert_eq!(strings(&hook["missing_channels"]), ["messaging:gone-404"]);
    assert_eq!(hook["job"], "gaps");
    assert!(
        hook["summary"]
            .as_str()
            .is_some_and(|s| s.contains("messaging:gone-404"))
    );
    assert!(hooks.events("failure").is_empty());
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_channel_stream_names_is_left_out_and_named_everywhere() {
    a_missing_channel_is_left_out_and_named(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_channel_stream_does_not_name_is_found_by_the_probe() {
    a_missing_channel_is_left_out_and_named(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_only_missing_channels_archives_nothing_and_succeeds() {
    let emu = start_emulator(realtime_config(12)).await;
    let hooks = Hooks::start().await;
    let project = project(
        &emu,
        &hooks,
        "channels:\n  - type: messaging\n    ids: [gone-404]\n",
    );
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok: 0 new archive(s)") && stdout.contains("messaging:gone-404"),
        "{stdout}"
    );
    assert!(manifests_below::<Value>(&project.dir.path().join("archive")).is_empty());
    assert_eq!(hooks.events("missing").len(), 1);
    emu.shutdown().await;
}

async fn an_unknown_user_is_left_out(unknown_users: UnknownUsers) {
    let emu = start_emulator(EmulatorConfig {
        unknown_users,
        ..realtime_config(12)
    })
    .await;
    let hooks = Hooks::start().await;
    let project = project(&emu, &hooks, "users: [user-000, ghost, user-001]\n");
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let found = manifests_below::<Value>(&project.dir.path().join("archive"));
    let [manifest] = found.as_slice() else {
        panic!("one archive: {found:?}");
    };
    if unknown_users == UnknownUsers::Accept {
        // Stream took the id: the archive is made and nothing is refused, but the export holds
        // no line for the id, which the run names (an `incomplete` notification, not `missing`).
        assert_eq!(
            strings(&manifest["users"]),
            ["ghost", "user-000", "user-001"]
        );
        assert!(manifest.get("missing").is_none(), "{manifest}");
        assert!(
            stdout.contains("warning: user ghost is not in its export"),
            "{stdout}"
        );
        assert!(hooks.events("missing").is_empty());
        assert_eq!(hooks.events("incomplete").len(), 1);
        emu.shutdown().await;
        return;
    }
    assert_eq!(strings(&manifest["users"]), ["user-000", "user-001"]);
    assert_eq!(strings(&manifest["missing"]), ["ghost"]);
    assert!(
        stdout.contains("warning: Stream does not have 1 user(s), exported without: ghost"),
        "{stdout}"
    );
    assert!(stderr.contains("missing_users=ghost"), "{stderr}");
    let (_, stdout, _) = finish(command(
        &project,
        &emu,
        &["status", "--format", "json", "jobs"],
    ))
    .await;
    let status: Value = serde_json::from_str(&stdout).expect("status is JSON");
    assert_eq!(strings(&status[0]["missing_users"]), ["ghost"]);
    let posted = hooks.events("missing");
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(strings(&posted[0]["missing_users"]), ["ghost"]);
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_stream_refuses_by_name_is_left_out() {
    an_unknown_user_is_left_out(UnknownUsers::RefuseNaming).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_stream_refuses_without_naming_is_found_by_bisection() {
    an_unknown_user_is_left_out(UnknownUsers::RefuseWithoutNaming).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_user_stream_accepts_does_not_stop_the_export() {
    an_unknown_user_is_left_out(UnknownUsers::Accept).await;
}
