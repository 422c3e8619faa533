//! Watching a real daemon: `/metrics` scraped over HTTP while a run holds an export task and
//! after it finished, and following another process's runs; `/healthz` and `/readyz` at
//! start-up, while running and while draining. (Its log lines: `tests/logs.rs`.)
//!
//! The processes run on the real clock against an emulator on the real clock with one-second
//! task states; `CHATVAULT_PAUSE_AT` holds a run still where a test needs it.

use std::process::Stdio;
use std::time::Duration;

use chatvault_emulator::Emulator;
use chrono::Utc;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr};

use crate::common;
use crate::common::processes::{
    command, finish, project_with_job, realtime_config, signal, start_emulator, wait_for,
};

type Stderr = Lines<BufReader<ChildStderr>>;

async fn emulator() -> Emulator {
    start_emulator(realtime_config(48)).await
}

/// One job, `watched`, exporting two channels into `archive/`; `config` is appended to the
/// global config.
fn project(emu: &Emulator, config: &str) -> common::Project {
    project_with_job(
        emu,
        config,
        "watched.yaml",
        "name: watched\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
         destination:\n  url: file://archive\n  compression: none\n",
    )
}

/// Starts the daemon with `--listen 127.0.0.1:0` (and `extra` args, `env`), returning it, its
/// stderr lines, what was read of them, and the base URL it listens on.
async fn daemon(
    project: &common::Project,
    emu: &Emulator,
    extra: &[&str],
    env: &[(&str, &str)],
) -> (Child, Stderr, Vec<String>, String) {
    let mut args = vec!["run", "--listen", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    args.push("jobs");
    let mut cmd = command(project, emu, &args);
    cmd.envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the daemon starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr is piped")).lines();
    let mut seen = Vec::new();
    wait_for(&mut lines, "serving /metrics", &mut seen).await;
    let line = seen.last().expect("the line just read");
    let address = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("address="))
        .unwrap_or_else(|| panic!("no address= in {line}"));
    let base = format!("http://{address}");
    (child, lines, seen, base)
}

async fn get(base: &str, path: &str) -> (u16, String) {
    let (status, body) = get_raw(base, path).await;
    if path == "/metrics" {
        check_exposition(&body);
    }
    (status, body)
}

async fn get_raw(base: &str, path: &str) -> (u16, String) {
    let response = reqwest::Client::new()
        .get(format!("{base}{path}"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

/// Checks the text exposition (format 0.0.4, as served) line by line, as strictly as
/// Prometheus reads it: every sample belongs to a family with `# HELP` and `# TYPE` before it
/// (counters' samples end in `_total`), labels are `name="value"` pairs, values are numbers,
/// and no OpenMetrics-only `# EOF` appears.
fn check_exposition(text: &str) {
    let mut types: std::collections::HashMap<&str, &str> = Default::default();
    let mut helped = std::collections::HashSet::new();
    assert!(text.ends_with('\n'), "the last line is not ended");
    for line in text.lines() {
        assert_ne!(
            line, "# EOF",
            "OpenMetrics' end marker in a 0.0.4 exposition"
        );
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(!help.trim().is_empty(), "HELP without text: {line}");
            helped.insert(name);
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name type");
            assert!(
                [
                    "counter",
                    "gauge",
                    "histogram",
                    "summary",
                    "info",
                    "unknown"
                ]
                .contains(&kind),
                "{line}"
            );
            types.insert(name, kind);
            continue;
        }
        assert!(!line.starts_with('#'), "unknown comment line: {line}");
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        value
            .parse::<f64>()
            .unwrap_or_else(|e| panic!("value `{value}` of {series}: {e}"));
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, labels.strip_suffix('}').expect("closing brace")),
            None => (series, ""),
        };
        assert!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "series name `{name}`"
        );
        // The family is named with or without the counter's `_total` (both are read).
        let family = [name, name.strip_suffix("_total").unwrap_or(name)]
            .into_iter()
            .find(|f| types.contains_key(f))
            .unwrap_or_else(|| panic!("{name}: no # TYPE before it"));
        let kind = types[family];
        if kind == "counter" {
            assert!(
                name.ends_with("_total"),
                "counter sample {name} without _total"
            );
        }
        assert!(helped.contains(family), "{name}: no # HELP before it");
        for pair in labels.split("\",").filter(|p| !p.is_empty()) {
            let (key, quoted) = pair
                .split_once("=\"")
                .unwrap_or_else(|| panic!("label {pair}"));
            assert!(
                key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                "label name `{key}` in {line}"
            );
            assert!(!quoted.trim_end_matches('"').contains('"'), "{line}");
        }
    }
}

/// The value of the one series named exactly `series` (name and labels).
fn value(metrics: &str, series: &str) -> f64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no series {series} in:\n{metrics}"))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("{series}: {e}"))
}

/// Polls `path` until it answers `status` (10 s at most).
async fn until_status(base: &str, path: &str, status: u16) -> String {
    let mut last = (0, String::new());
    for _ in 0..200 {
        last = get(base, path).await;
        if last.0 == status {
            return last.1;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "{path} answered {} `{}`, never {status}",
        last.0,
        last.1.trim()
    );
}

async fn stops(child: &mut Child) -> i32 {
    tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the daemon stops within 30 s")
        .expect("wait")
        .code()
        .expect("an exit code")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_follow_a_run_from_its_export_task_to_its_archive() {
    let emu = emulator().await;
    let project = project(&emu, "");
    let started = Utc::now().timestamp();

    // A run held right after its export task is recorded: in flight, nothing finished yet.
    let (mut child, mut lines, mut seen, base) = daemon(
        &project,
        &emu,
        &["--grace", "30s"],
        &[("CHATVAULT_PAUSE_AT", "polling")],
    )
    .await;
    wait_for(&mut lines, "paused", &mut seen).await;
    assert_eq!(until_status(&base, "/readyz", 200).await, "ok\n");
    assert_eq!(get(&base, "/healthz").await, (200, "ok\n".into()));
    // The ledger is read again after the task is recorded; give that a moment.
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = get(&base, "/metrics").await.1;
        if metrics.contains("chatvault_export_tasks_in_flight{job=\"watched\"} 1") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        value(
            &metrics,
            "chatvault_export_tasks_in_flight{job=\"watched\"}"
        ),
        1.0
    );
    let age = value(
        &metrics,
        "chatvault_oldest_export_task_age_seconds{job=\"watched\"}",
    );
    assert!((0.0..60.0).contains(&age), "{age}");
    let lapse = value(&metrics, "chatvault_export_lapse_seconds{job=\"watched\"}");
    assert!(
        lapse > 60.0 * 86_400.0 - 60.0 && lapse <= 60.0 * 86_400.0,
        "{lapse}"
    );
    for outcome in ["succeeded", "failed", "interrupted", "busy", "already_done"] {
        let series = format!("chatvault_runs_total{{job=\"watched\",outcome=\"{outcome}\"}}");
        assert_eq!(value(&metrics, &series), 0.0, "{series} exists at 0");
    }
    assert_eq!(
        value(
            &metrics,
            "chatvault_last_success_timestamp_seconds{job=\"watched\"}"
        ),
        0.0
    );
    assert_eq!(
        value(&metrics, "chatvault_archived_bytes_total{job=\"watched\"}"),
        0.0
    );
    assert_eq!(
        value(
            &metrics,
            "chatvault_api_requests_total{endpoint=\"ExportChannels\",status=\"2xx\"}"
        ),
        1.0,
        "one create"
    );
    // Every endpoint's answer classes and rate-limit wait exist, at 0 until they happen.
    for endpoint in ["ExportUsers", "GetTask", "QueryChannels"] {
        for status in ["2xx", "4xx", "429", "5xx", "transport"] {
            let series = format!(
                "chatvault_api_requests_total{{endpoint=\"{endpoint}\",status=\"{status}\"}}"
            );
            assert_eq!(value(&metrics, &series), 0.0, "{series}");
        }
        let series = format!("chatvault_rate_limit_wait_seconds_total{{endpoint=\"{endpoint}\"}}");
        assert_eq!(value(&metrics, &series), 0.0, "{series}");
    }
    for status in ["4xx", "429", "5xx", "transport"] {
        let series = format!(
            "chatvault_api_requests_total{{endpoint=\"ExportChannels\",status=\"{status}\"}}"
        );
        assert_eq!(value(&metrics, &series), 0.0, "{series}");
    }
    assert_eq!(value(&metrics, "chatvault_jobs"), 1.0);

    // Draining: not ready, still live; a second signal stops it.
    signal(&child, "TERM");
    let why = until_status(&base, "/readyz", 503).await;
    assert!(why.starts_with("stopping"), "{why}");
    assert_eq!(get(&base, "/healthz").await.0, 200);
    signal(&child, "TERM");
    assert_eq!(stops(&mut child).await, 0);

    // The next daemon resumes the task and archives it.
    let (mut child, mut lines, mut seen, base) = daemon(&project, &emu, &[], &[]).await;
    wait_for(&mut lines, "run succeeded", &mut seen).await;
    let mut metrics = String::new();
    for _ in 0..100 {
        metrics = get(&base, "/metrics").await.1;
        if metrics.contains("chatvault_export_tasks_in_flight{job=\"watched\"} 0") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        value(
            &metrics,
            "chatvault_runs_total{job=\"watched\",outcome=\"succeeded\"}"
        ),
        1.0
    );
    assert_eq!(
        value(&metrics, "chatvault_archives_total{job=\"watched\"}"),
        1.0
    );
    let manifest = std::fs::read_dir(project.dir.path().join("archive/watched"))
        .ok()
        .into_iter()
        .flatten()
        .flat_map(|d| walk(&d.expect("an entry").path()))
        .find(|p| p.to_string_lossy().ends_with(".manifest.json"))
        .expect("a manifest");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(manifest).expect("read it")).expect("JSON");
    assert_eq!(
        value(&metrics, "chatvault_archived_bytes_total{job=\"watched\"}"),
        manifest["bytes_stored"].as_f64().expect("bytes_stored")
    );
    assert_eq!(
        value(
            &metrics,
            "chatvault_export_tasks_in_flight{job=\"watched\"}"
        ),
        0.0
    );
    assert_eq!(
        value(
            &metrics,
            "chatvault_oldest_export_task_age_seconds{job=\"watched\"}"
        ),
        0.0
    );
    let success = value(
        &metrics,
        "chatvault_last_success_timestamp_seconds{job=\"watched\"}",
    );
    assert!(success >= started as f64, "{success} >= {started}");
    assert_eq!(
        value(&metrics, "chatvault_last_run_failed{job=\"watched\"}"),
        0.0
    );
    assert_eq!(
        value(
            &metrics,
            "chatvault_api_requests_total{endpoint=\"ExportChannels\",status=\"2xx\"}"
        ),
        0.0,
        "the recorded task was resumed, not created again"
    );
    assert!(
        value(
            &metrics,
            "chatvault_api_requests_total{endpoint=\"GetExportChannelsStatus\",status=\"2xx\"}"
        ) >= 1.0
    );
    signal(&child, "TERM");
    assert_eq!(stops(&mut child).await, 0);
    let gone = reqwest::Client::new()
        .get(format!("{base}/healthz"))
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    assert!(gone.is_err(), "the listener is closed after exit");
}

fn walk(path: &std::path::Path) -> Vec<std::path::PathBuf> {
    if path.is_dir() {
        std::fs::read_dir(path)
            .expect("read a folder")
            .flat_map(|e| walk(&e.expect("an entry").path()))
            .collect()
    } else {
        vec![path.to_path_buf()]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_the_state_store_cannot_be_read_but_live() {
    let emu = emulator().await;
    // Nothing listens on port 9 of 127.0.0.1 here: every state read is refused.
    let project = project(
        &emu,
        "state:\n  url: s3://state\n  options:\n    aws_endpoint: http://127.0.0.1:9\n    \
         aws_allow_http: \"true\"\n    aws_region: us-east-1\n    aws_access_key_id: test\n    \
         aws_secret_access_key: ${TEST_SECRET}\n",
    );
    let (mut child, _lines, _seen, base) =
        daemon(&project, &emu, &[], &[("TEST_SECRET", "not-a-real-secret")]).await;
    for _ in 0..5 {
        let (status, why) = get(&base, "/readyz").await;
        assert_eq!(status, 503, "{why}");
        assert!(
            why.starts_with("starting") || why.contains("cannot read the state"),
            "{why}"
        );
        assert_eq!(get(&base, "/healthz").await, (200, "ok\n".into()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let metrics = get(&base, "/metrics").await.1;
    assert_eq!(
        value(
            &metrics,
            "chatvault_runs_total{job=\"watched\",outcome=\"succeeded\"}"
        ),
        0.0,
        "series exist before the state is read"
    );
    // The run due at start-up cannot read the job's state: it counts as a failed run (and
    // would notify), not only as a log line.
    let waited = std::time::Instant::now();
    let metrics = loop {
        let metrics = get(&base, "/metrics").await.1;
        if value(
            &metrics,
            "chatvault_runs_total{job=\"watched\",outcome=\"failed\"}",
        ) >= 1.0
        {
            break metrics;
        }
        assert!(
            waited.elapsed() < Duration::from_secs(90),
            "no failed run after {:?}:\n{metrics}",
            waited.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        value(&metrics, "chatvault_last_run_failed{job=\"watched\"}"),
        1.0
    );
    eprintln!("a failed run reported after {:?}", waited.elapsed());
    signal(&child, "TERM");
    signal(&child, "TERM");
    assert_eq!(stops(&mut child).await, 0);
}

/// Polls `/metrics` until `series` has `want` (15 s at most); returns the last scrape.
async fn until_value(base: &str, series: &str, want: f64) -> String {
    let mut metrics = String::new();
    for _ in 0..300 {
        metrics = get(base, "/metrics").await.1;
        if value(&metrics, series) == want {
            return metrics;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{series} never became {want}:\n{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_follows_the_runs_of_another() {
    let emu = emulator().await;
    let project = project(&emu, "");
    let failed = "chatvault_last_run_failed{job=\"watched\"}";
    let success = "chatvault_last_success_timestamp_seconds{job=\"watched\"}";

    // This replica cannot authenticate: its run of the day's tick fails, and it has no reason
    // to run again before tomorrow.
    let (mut child, mut lines, mut seen, base) = daemon(
        &project,
        &emu,
        &["--state-refresh", "1s"],
        &[("STREAM_API_SECRET", "not-the-secret")],
    )
    .await;
    wait_for(&mut lines, "run failed", &mut seen).await;
    until_value(&base, failed, 1.0).await;
    assert_eq!(value(&get(&base, "/metrics").await.1, success), 0.0);

    // Another replica (a one-shot here) runs the tick again and succeeds.
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    // The first replica's gauges follow within the refresh, though it ran nothing itself.
    let metrics = until_value(&base, failed, 0.0).await;
    assert!(value(&metrics, success) > 0.0, "{metrics}");
    assert_eq!(
        value(
            &metrics,
            "chatvault_runs_total{job=\"watched\",outcome=\"failed\"}"
        ),
        1.0,
        "its own run counts stay its own"
    );
    assert_eq!(
        value(
            &metrics,
            "chatvault_runs_total{job=\"watched\",outcome=\"succeeded\"}"
        ),
        0.0
    );
    signal(&child, "TERM");
    assert_eq!(stops(&mut child).await, 0);
}
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_ready_while_starting_up_but_live() {
    let emu = emulator().await;
    // A state store that takes connections and never answers: start-up stays in its first
    // read of the ledgers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = silent.local_addr().expect("address").port();
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    let project = project(
        &emu,
        &format!(
            "state:\n  url: s3://state\n  options:\n    aws_endpoint: http://127.0.0.1:{port}\n    \
             aws_allow_http: \"true\"\n    aws_region: us-east-1\n    aws_access_key_id: test\n    \
             aws_secret_access_key: test\n"
        ),
    );
    let (mut child, mut lines, mut seen, base) = daemon(&project, &emu, &[], &[]).await;
    for _ in 0..5 {
        let (status, why) = get(&base, "/readyz").await;
        assert_eq!(
            (status, why.trim()),
            (503, "starting: reading the job ledgers")
        );
        assert_eq!(get(&base, "/healthz").await, (200, "ok\n".into()));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    signal(&child, "TERM");
    let why = until_status(&base, "/readyz", 503).await;
    assert!(why.starts_with("stopping"), "{why}");
    // The run stuck on the silent store cannot record where it stopped; it is abandoned
    // rather than holding the process forever.
    signal(&child, "TERM");
    assert_eq!(stops(&mut child).await, 0);
    wait_for(&mut lines, "runs did not stop in time", &mut seen).await;
    held.abort();
}
