//! The dry-run plan through the binary: DST transitions in real zones, windows, batches and
//! keys. Jobs are written to a temporary folder; the clock is pinned with `--now`.

use std::path::Path;

use assert_cmd::Command;
use serde_json::Value;

fn write_job(dir: &Path, name: &str, body: &str) {
    std::fs::create_dir_all(dir.join("jobs")).expect("mkdir");
    std::fs::write(dir.join("jobs").join(name), body).expect("write job");
}

/// `chatvault plan --format json` over `dir/jobs`, run from `dir`.
fn plan_json(dir: &Path, now: &str, next: usize) -> Value {
    let out = Command::cargo_bin("chatvault")
        .expect("binary")
        .current_dir(dir)
        .args(["plan", "--format", "json", "--now", now, "--next"])
        .arg(next.to_string())
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "stderr: {stderr}");
    serde_json::from_slice(&out.stdout).expect("plan is JSON")
}

fn one_job(schedule: &str, timezone: &str, extra: &str, now: &str, next: usize) -> Value {
    let dir = tempfile::tempdir().expect("tempdir");
    write_job(
        dir.path(),
        "j.yaml",
        &format!(
            "schedule: \"{schedule}\"\ntimezone: {timezone}\nusers: [alice]\n\
             destination:\n  key: \"{{job}}/{{window_start}}/{{kind}}-{{batch}}.{{ext}}\"\n{extra}"
        ),
    );
    let plan = plan_json(dir.path(), now, next);
    plan["jobs"][0].clone()
}

/// (UTC instant, local time, DST flag kind or "").
fn ticks(job: &Value) -> Vec<(String, String, String)> {
    job["ticks"]
        .as_array()
        .expect("ticks")
        .iter()
        .map(|t| {
            (
                t["at"].as_str().unwrap_or_default().to_owned(),
                t["local"].as_str().unwrap_or_default().to_owned(),
                t["dst"]["kind"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn tick(at: &str, local: &str, dst: &str) -> (String, String, String) {
    (at.to_owned(), local.to_owned(), dst.to_owned())
}

fn windows(job: &Value) -> Vec<(String, String)> {
    job["ticks"]
        .as_array()
        .expect("ticks")
        .iter()
        .flat_map(|t| t["windows"].as_array().cloned().unwrap_or_default())
        .map(|w| {
            (
                w["since"].as_str().unwrap_or_default().to_owned(),
                w["until"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

fn span(since: &str, until: &str) -> (String, String) {
    (since.to_owned(), until.to_owned())
}

#[test]
fn berlin_spring_forward_fires_once_right_after_the_gap() {
    let job = one_job("30 2 * * *", "Europe/Berlin", "", "2026-03-28T12:00:00Z", 2);
    assert_eq!(
        ticks(&job),
        [
            tick("2026-03-29T01:00:00Z", "2026-03-29T03:00:00+02:00", "gap"),
            tick("2026-03-30T00:30:00Z", "2026-03-30T02:30:00+02:00", ""),
        ]
    );
    assert_eq!(job["ticks"][0]["dst"]["scheduled"], "2026-03-29T02:30:00");
    // The short day's window is 23.5 hours: the tick before it was at 01:30Z.
    assert_eq!(
        windows(&job)[0],
        span("2026-03-28T01:30:00Z", "2026-03-29T01:00:00Z")
    );
}

#[test]
fn berlin_fall_back_fires_once_at_the_first_occurrence() {
    let job = one_job("30 2 * * *", "Europe/Berlin", "", "2026-10-24T12:00:00Z", 2);
    assert_eq!(
        ticks(&job),
        [
            tick(
                "2026-10-25T00:30:00Z",
                "2026-10-25T02:30:00+02:00",
                "repeated"
            ),
            tick("2026-10-26T01:30:00Z", "2026-10-26T02:30:00+01:00", ""),
        ]
    );
}

#[test]
fn new_york_transitions_move_and_dedupe_ticks() {
    let spring = one_job(
        "30 2 * * *",
        "America/New_York",
        "",
        "2026-03-07T12:00:00Z",
        2,
    );
    assert_eq!(
        ticks(&spring),
        [
            tick("2026-03-08T07:00:00Z", "2026-03-08T03:00:00-04:00", "gap"),
            tick("2026-03-09T06:30:00Z", "2026-03-09T02:30:00-04:00", ""),
        ]
    );
    let fall = one_job(
        "30 1 * * *",
        "America/New_York",
        "",
        "2026-10-31T12:00:00Z",
        2,
    );
    assert_eq!(
        ticks(&fall),
        [
            tick(
                "2026-11-01T05:30:00Z",
                "2026-11-01T01:30:00-04:00",
                "repeated"
            ),
            tick("2026-11-02T06:30:00Z", "2026-11-02T01:30:00-05:00", ""),
        ]
    );
}

#[test]
fn lord_howe_half_hour_shifts_are_handled_like_any_other() {
    let spring = one_job(
        "15 2 * * *",
        "Australia/Lord_Howe",
        "",
        "2026-10-03T00:00:00Z",
        1,
    );
    assert_eq!(
        ticks(&spring),
        [tick(
            "2026-10-03T15:30:00Z",
            "2026-10-04T02:30:00+11:00",
            "gap"
        )]
    );
    let fall = one_job(
        "45 1 * * *",
        "Australia/Lord_Howe",
        "",
        "2026-04-04T00:00:00Z",
        2,
    );
    assert_eq!(
        ticks(&fall),
        [
            tick(
                "2026-04-04T14:45:00Z",
                "2026-04-05T01:45:00+11:00",
                "repeated"
            ),
            tick("2026-04-05T15:15:00Z", "2026-04-06T01:45:00+10:30", ""),
        ]
    );
    // Every 30 minutes across the gap: 02:00 does not exist and merges into 02:30, once.
    let dense = one_job(
        "*/30 * * * *",
        "Australia/Lord_Howe",
        "",
        "2026-10-03T14:45:00Z",
        3,
    );
    assert_eq!(
        ticks(&dense),
        [
            tick("2026-10-03T15:00:00Z", "2026-10-04T01:30:00+10:30", ""),
            tick("2026-10-03T15:30:00Z", "2026-10-04T02:30:00+11:00", ""),
            tick("2026-10-03T16:00:00Z", "2026-10-04T03:00:00+11:00", ""),
        ]
    );
}

#[test]
fn incremental_windows_follow_on_and_honour_lag_start_and_max() {
    let extra = "window:\n  lag: 15m\n  max: 10h\n  since: 2026-01-01T00:00:00Z\n";
    let job = one_job("0 0 * * *", "UTC", extra, "2026-01-01T12:00:00Z", 2);
    assert_eq!(
        windows(&job),
        [
            // From `since` to the first tick minus lag, cut into pieces of at most 10h.
            span("2026-01-01T00:00:00Z", "2026-01-01T10:00:00Z"),
            span("2026-01-01T10:00:00Z", "2026-01-01T20:00:00Z"),
            span("2026-01-01T20:00:00Z", "2026-01-01T23:45:00Z"),
            // Then on from there.
            span("2026-01-01T23:45:00Z", "2026-01-02T09:45:00Z"),
            span("2026-01-02T09:45:00Z", "2026-01-02T19:45:00Z"),
            span("2026-01-02T19:45:00Z", "2026-01-02T23:45:00Z"),
        ]
    );
}

#[test]
fn rolling_windows_overlap_and_fixed_windows_are_archived_once() {
    let rolling = one_job(
        "0 * * * *",
        "UTC",
        "window:\n  mode: rolling\n  last: 2h\n",
        "2026-01-01T00:30:00Z",
        2,
    );
    assert_eq!(
        windows(&rolling),
        [
            span("2025-12-31T23:00:00Z", "2026-01-01T01:00:00Z"),
            span("2026-01-01T00:00:00Z", "2026-01-01T02:00:00Z"),
        ]
    );
    let fixed_window =
        "window:\n  mode: fixed\n  since: 2025-01-01T00:00:00Z\n  until: 2025-02-01T00:00:00Z\n";
    let fixed = one_job("@daily", "UTC", fixed_window, "2026-01-01T12:00:00Z", 2);
    assert_eq!(
        windows(&fixed),
        [span("2025-01-01T00:00:00Z", "2025-02-01T00:00:00Z")]
    );
    assert_eq!(fixed["ticks"][1]["windows"], serde_json::json!([]));
}

#[test]
fn channels_and_users_are_cut_into_requests_of_at_most_25() {
    let dir = tempfile::tempdir().expect("tempdir");
    let ids: Vec<String> = (0..60).rev().map(|i| format!("c{i:02}")).collect();
    let users: Vec<String> = (0..30).map(|i| format!("u{i:02}")).collect();
    write_job(
        dir.path(),
        "big.yaml",
        &format!(
            "schedule: \"@daily\"\nchannels:\n  - type: messaging\n    ids: [{}]\n  \
             - type: team\n    filter: {{ team: support }}\nusers: [{}]\n",
            ids.join(", "),
            users.join(", ")
        ),
    );
    let plan = plan_json(dir.path(), "2026-01-01T12:00:00Z", 1);
    let requests = plan["jobs"][0]["ticks"][0]["windows"][0]["requests"]
        .as_array()
        .expect("requests")
        .clone();
    let shape: Vec<(String, Option<u64>, usize, usize)> = requests
        .iter()
        .map(|r| {
            (
                r["kind"].as_str().unwrap_or_default().to_owned(),
                r["batch"].as_u64(),
                r["channels"].as_array().map_or(0, Vec::len),
                r["users"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            ("channels".to_owned(), Some(1), 25, 0),
            ("channels".to_owned(), Some(2), 25, 0),
            ("channels".to_owned(), Some(3), 10, 0),
            ("channels".to_owned(), None, 0, 0),
        ]
    );
    // Users are the tick's snapshot, not a window's: keyed from the tick.
    let snapshot = plan["jobs"][0]["ticks"][0]["snapshot"]
        .as_array()
        .expect("the users snapshot");
    let users: Vec<(Option<u64>, usize)> = snapshot
        .iter()
        .map(|r| {
            (
                r["batch"].as_u64(),
                r["users"].as_array().map_or(0, Vec::len),
            )
        })
        .collect();
    assert_eq!(users, [(Some(1), 25), (Some(2), 5)]);
    assert_eq!(
        snapshot[0]["key"], "big/2026/01/02/000000-users-0001.jsonl.gz",
        "the tick (midnight of Jan 2) in the key, not the window's start"
    );
    // Sorted: the first batch starts with the lowest id.
    assert_eq!(requests[0]["channels"][0], "messaging:c00");
    assert_eq!(requests[3]["filter"]["type"], "team");
    assert_eq!(
        requests[0]["key"], "big/2026/01/01/000000-channels-0001.jsonl.gz",
        "the default key template"
    );
    assert!(
        requests[3].get("key").is_none(),
        "filter batches get their keys at run time"
    );
}

#[test]
fn dry_run_prints_the_same_plan_as_plan() {
    let run = |dry_run: bool| {
        let mut c = Command::cargo_bin("chatvault").expect("binary");
        if dry_run {
            c.args(["run", "--dry-run"]);
        } else {
            c.arg("plan");
        }
        let out = c
            .args(["--now", "2026-11-27T12:00:00Z", "--next", "4", "jobs"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0));
        out.stdout
    };
    let dry = run(true);
    assert!(String::from_utf8_lossy(&dry).contains("job support-nightly"));
    assert_eq!(dry, run(false));
}

#[test]
fn the_example_global_config_is_valid() {
    let out = Command::cargo_bin("chatvault")
        .expect("binary")
        .args(["validate", "--config", "examples/chatvault.yaml", "jobs"])
        .env("STREAM_API_KEY", "key")
        .env("STREAM_API_SECRET", "secret")
        .env(
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.test/services/T0/B0/x",
        )
        .env("HC_PING_KEY", "ping-key")
        .output()
        .expect("runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // The four jobs and the example hold of `examples/holds/`, beside that config.
    assert!(stdout.contains("5 files valid, 0 warnings"), "{stdout}");
}

/// `plan --job` and `run --dry-run --job` plan only the named jobs; an unknown name is exit 2,
/// as for `run --once`.
#[test]
fn plan_and_dry_run_plan_only_the_jobs_named_with_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["a", "b", "c"] {
        write_job(
            dir.path(),
            &format!("{name}.yaml"),
            "schedule: \"@daily\"\nusers: [alice]\n",
        );
    }
    for command in [&["plan"][..], &["run", "--dry-run"][..]] {
        let out = Command::cargo_bin("chatvault")
            .expect("binary")
            .current_dir(dir.path())
            .args(command)
            .args(["--job", "a", "--job", "c", "--format", "json"])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{command:?}: {stderr}");
        let plan: Value = serde_json::from_slice(&out.stdout).expect("plan is JSON");
        let names: Vec<&str> = plan["jobs"]
            .as_array()
            .expect("jobs")
            .iter()
            .filter_map(|j| j["name"].as_str())
            .collect();
        assert_eq!(names, ["a", "c"], "{command:?}");

        let out = Command::cargo_bin("chatvault")
            .expect("binary")
            .current_dir(dir.path())
            .args(command)
            .args(["--job", "nope"])
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{command:?}: {stderr}");
        assert!(
            stderr.contains("no job named `nope`"),
            "{command:?}: {stderr}"
        );
    }
}

const NOW: &str = "2026-03-05T09:00:00Z";

#[test]
fn plan_state_shows_what_run_once_would_do_now() {
    let project = crate::common::ledgers::interrupted_project();
    let (code, stdout, stderr) = project.run(&[
        "plan", "--state", "--now", NOW, "--next", "1", "--format", "json", "jobs",
    ]);
    assert_eq!(code, 0, "{stderr}");
    let plan: Value = serde_json::from_str(&stdout).expect("JSON");
    let now = &plan["jobs"][0]["now"];
    let due = now["due"].as_array().expect("due ticks");
    assert_eq!(due.len(), 1, "catch_up latest: one run now: {now}");
    assert_eq!(due[0]["at"], "2026-03-05T00:00:00Z");
    let windows: Vec<(String, String, bool)> = due[0]["windows"]
        .as_array()
        .expect("windows")
        .iter()
        .map(|w| {
            (
                w["since"].as_str().unwrap_or_default().to_owned(),
                w["until"].as_str().unwrap_or_default().to_owned(),
                w["reopened"].as_bool().unwrap_or(false),
            )
        })
        .collect();
    assert_eq!(
        windows,
        [
            (
                "2026-03-02T00:00:00Z".into(),
                "2026-03-03T00:00:00Z".into(),
                true
            ),
            (
                "2026-03-03T00:00:00Z".into(),
                "2026-03-05T00:00:00Z".into(),
                false
            ),
        ],
        "the open window first, then the catch-up to the tick"
    );
    let next = &plan["jobs"][0]["ticks"][0];
    assert_eq!(
        (&next["at"], &next["windows"][0]["since"]),
        (
            &Value::from("2026-03-06T00:00:00Z"),
            &Value::from("2026-03-05T00:00:00Z")
        ),
        "the next tick starts where the due one ends: {next}"
    );
    assert_eq!(now["resume"][0]["task_id"], "task-0302");
    assert_eq!(
        now["resume"][0]["key"],
        "daily/2026/03/02/000000-channels-0001.jsonl.gz"
    );

    let (code, dry, _) = project.run(&[
        "run",
        "--dry-run",
        "--state",
        "--now",
        NOW,
        "--next",
        "1",
        "--format",
        "json",
        "jobs",
    ]);
    assert_eq!(
        (code, dry.as_str()),
        (0, stdout.as_str()),
        "the dry run says the same"
    );

    let (code, human, stderr) =
        project.run(&["plan", "--state", "--now", NOW, "--next", "1", "jobs"]);
    assert_eq!(code, 0, "{stderr}");
    let (code, pure, stderr) = project.run(&["plan", "--now", NOW, "--next", "1", "jobs"]);
    assert_eq!(code, 0, "{stderr}");
    crate::common::snapshot_settings().bind(|| {
        insta::assert_snapshot!("plan_human", pure);
        insta::assert_snapshot!("plan_state_human", human);
        insta::assert_snapshot!("plan_state_json", stdout);
    });
}

#[test]
fn plan_and_dry_run_without_state_read_no_state_store() {
    let project = crate::common::ledgers::interrupted_project();
    // A file where the state folder should be: any read of it fails.
    project.file("chatvault.yaml", "state:\n  url: file://not-a-folder\n");
    project.file("not-a-folder", "");
    for command in [&["plan"][..], &["run", "--dry-run"]] {
        let mut args = command.to_vec();
        args.extend(["--now", NOW, "jobs"]);
        let (code, stdout, stderr) = project.run(&args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(!stdout.contains("state  "), "{stdout}");
        args.insert(args.len() - 1, "--state");
        let (code, _, stderr) = project.run(&args);
        assert_eq!(code, 1, "{args:?}");
        assert!(
            stderr.starts_with("error: cannot read the state store file://"),
            "{stderr}"
        );
    }
    let (code, _, stderr) = project.run(&["run", "--once", "--state", "jobs"]);
    assert_eq!(code, 2, "--state belongs to --dry-run: {stderr}");
}
