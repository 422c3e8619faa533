//! JSON log lines of a real `chatvault --log-format json run --once` at trace level: every line
//! is one flat JSON object; every line the run logs carries its job, tick and run id, every
//! line of a batch its batch, key and (once created) task id; INFO and above follow the run's
//! state changes, never its polls; no secret or signed-URL query appears. Then a run where a
//! task fails, a download is cut and a webhook cannot be delivered: its warnings and errors
//! carry the same fields.
//!
//! The process runs on the real clock against an emulator on the real clock whose tasks stay
//! unfinished for a few seconds, so each is polled several times.

use std::collections::BTreeMap;

use chatvault_emulator::{Emulator, EmulatorConfig, Endpoint, TaskDurations};
use serde_json::{Map, Value};

use crate::common;
use crate::common::processes::{
    command, finish, project_with_job, realtime_config, start_emulator,
};

const API_SECRET: &str = "api-secret-logs-4f0b9c2e81d7";
const HOOK_TOKEN: &str = "hook-token-logs-9e3a6d15c07b";

/// Tasks stay `running` this long: polled after 0, 1, 2.5 and 4.75 s, three polls find them
/// unfinished.
const RUNNING_SECONDS: i64 = 4;

async fn emulator() -> Emulator {
    start_emulator(EmulatorConfig {
        api_secret: API_SECRET.into(),
        task_durations: TaskDurations {
            waiting: chrono::Duration::zero(),
            pending: chrono::Duration::zero(),
            running: chrono::Duration::seconds(RUNNING_SECONDS),
        },
        ..realtime_config(48)
    })
    .await
}

/// One job, `logged`, with a channels batch and a users batch; `config` is appended to the
/// global config. general-001 is soft-deleted at the emulator: exported with
/// `include_soft_deleted_channels`, it is in the file, so no warning joins the lines checked.
fn project(emu: &Emulator, config: &str) -> common::Project {
    project_with_job(
        emu,
        config,
        "logged.yaml",
        "name: logged\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
         users: [user-000, user-001]\n\
         export:\n  include_soft_deleted_channels: true\n\
         destination:\n  url: file://archive\n  compression: none\n",
    )
}

/// Every line as printed, for failure messages.
fn joined(lines: &[Line]) -> String {
    lines
        .iter()
        .map(|l| l.text.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `chatvault --log-format json run --once jobs` at trace level, with `env`: (exit code,
/// stdout, lines).
async fn run_once(
    emu: &Emulator,
    project: &common::Project,
    env: &[(&str, &str)],
) -> (i32, String, Vec<Line>) {
    let mut cmd = command(
        project,
        emu,
        &["--log-format", "json", "run", "--once", "jobs"],
    );
    cmd.env("CHATVAULT_LOG", "trace")
        .env("STREAM_API_SECRET", API_SECRET)
        .envs(env.iter().copied());
    let (code, stdout, stderr) = finish(cmd).await;
    let lines = stderr.lines().map(Line::parse).collect();
    (code, stdout, lines)
}

/// One log line, parsed.
struct Line {
    text: String,
    fields: Map<String, Value>,
}

impl Line {
    /// Parses a line, checking what every line has.
    fn parse(text: &str) -> Line {
        let fields: Map<String, Value> = serde_json::from_str(text)
            .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"));
        for key in ["timestamp", "level", "message", "target"] {
            assert!(fields[key].is_string(), "no string `{key}`: {text}");
        }
        assert!(
            chrono::DateTime::parse_from_rfc3339(fields["timestamp"].as_str().unwrap_or(""))
                .is_ok(),
            "timestamp not RFC 3339: {text}"
        );
        for nested in ["span", "spans", "fields"] {
            assert!(fields.get(nested).is_none(), "nested `{nested}`: {text}");
        }
        Line {
            text: text.to_owned(),
            fields,
        }
    }

    fn str(&self, key: &str) -> Option<&str> {
        self.fields.get(key).and_then(Value::as_str)
    }

    fn message(&self) -> &str {
        self.str("message").unwrap_or_default()
    }

    fn level(&self) -> &str {
        self.str("level").unwrap_or_default()
    }

    /// WARN and ERROR, then INFO: the levels a default filter shows.
    fn at_least_info(&self) -> bool {
        matches!(self.level(), "ERROR" | "WARN" | "INFO")
    }

    /// Logged by chatvault while running a job (not by the command around the runs).
    fn by_the_runner(&self) -> bool {
        let target = self.str("target").unwrap_or_default();
        target.starts_with("chatvault::") && !target.starts_with("chatvault::commands")
    }

    /// Panics unless the line carries the run's fields (and `job` is `logged`).
    fn assert_in_run(&self, run_id: &str) {
        assert_eq!(self.str("job"), Some("logged"), "{}", self.text);
        assert_eq!(self.str("run_id"), Some(run_id), "{}", self.text);
        let tick = self.str("tick").unwrap_or_default();
        assert!(
            chrono::DateTime::parse_from_rfc3339(tick).is_ok(),
            "tick not RFC 3339: {}",
            self.text
        );
    }

    /// Panics unless the line carries its batch's fields, with a task id that is one of `tasks`.
    fn assert_in_batch(&self, tasks: &[String]) {
        assert!(
            self.fields.get("batch").is_some_and(Value::is_u64),
            "{}",
            self.text
        );
        for key in ["kind", "key"] {
            assert!(self.str(key).is_some(), "no `{key}`: {}", self.text);
        }
        let task = self.str("task_id").unwrap_or_default();
        assert!(
            tasks.iter().any(|t| t == task),
            "task_id not one of {tasks:?}: {}",
            self.text
        );
    }
}

/// The one run's id: the `run started` line's.
fn run_id(lines: &[Line]) -> String {
    let started: Vec<&Line> = lines
        .iter()
        .filter(|l| l.message() == "run started")
        .collect();
    assert_eq!(started.len(), 1, "one run");
    started[0]
        .str("run_id")
        .unwrap_or_else(|| panic!("no run_id: {}", started[0].text))
        .to_owned()
}

/// Status requests per export task (the task id is the path's last segment).
fn status_requests(emu: &Emulator) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for request in emu.requests() {
        if matches!(
            request.endpoint,
            Some(Endpoint::GetExportChannelsStatus | Endpoint::GetTask)
        ) {
            let task = request
                .path
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned();
            *counts.entry(task).or_default() += 1;
        }
    }
    counts
}

/// The emulator's task ids.
fn task_ids(emu: &Emulator) -> Vec<String> {
    emu.tasks().into_iter().map(|t| t.id).collect()
}

/// No line holds a secret, a token or a signed download link's query.
fn assert_no_secret(lines: &[Line]) {
    let forbidden = [
        API_SECRET,
        HOOK_TOKEN,
        // Every JWT starts with the base64 of `{"`.
        "eyJ",
        "X-Amz-Signature",
        "X-Amz-Credential",
        "Signature=",
        "signature=",
        "AWSAccessKeyId=",
        "Expires=",
    ];
    for line in lines {
        for text in forbidden {
            assert!(!line.text.contains(text), "`{text}` in: {}", line.text);
        }
        for (at, _) in line.text.match_indices("/files/") {
            let link = line.text[at..]
                .split(|c: char| c.is_whitespace() || c == '"')
                .next()
                .unwrap_or_default();
            assert!(
                !link.contains('?'),
                "a download link's query in: {}",
                line.text
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_line_of_a_run_carries_its_fields_and_info_lines_follow_state_changes_not_polls() {
    let emu = emulator().await;
    let project = project(&emu, "");
    let (code, stdout, lines) = run_once(&emu, &project, &[]).await;
    let all = || joined(&lines);
    assert_eq!(code, 0, "{stdout}\n{}", all());
    assert_no_secret(&lines);

    // Every task was polled at least three times before it was done, plus once for its link.
    let tasks = task_ids(&emu);
    let polls = status_requests(&emu);
    assert_eq!(
        tasks.len(),
        2,
        "a channels task and a users task: {tasks:?}"
    );
    for task in &tasks {
        let asked = polls.get(task).copied().unwrap_or_default();
        assert!(
            asked >= 4,
            "task {task} was asked about {asked} times: {polls:?}"
        );
    }

    let run_id = run_id(&lines);
    for line in lines.iter().filter(|l| l.by_the_runner()) {
        line.assert_in_run(&run_id);
    }
    // Libraries' lines inside the run carry it too (the spans reach into them).
    assert!(
        lines
            .iter()
            .any(|l| !l.by_the_runner() && l.str("run_id") == Some(run_id.as_str())),
        "no library line carries the run's fields:\n{}",
        all()
    );
    // Once a batch's task is created, every line of the batch names it.
    let mut created: BTreeMap<String, String> = BTreeMap::new();
    for line in &lines {
        let Some(key) = line.str("key") else { continue };
        line.assert_in_run(&run_id);
        if let Some(task) = created.get(key) {
            assert_eq!(line.str("task_id"), Some(task.as_str()), "{}", line.text);
        }
        if line.message() == "export task created" {
            line.assert_in_batch(&tasks);
            created.insert(
                key.to_owned(),
                line.str("task_id").unwrap_or_default().to_owned(),
            );
        }
    }
    assert_eq!(created.len(), 2, "two tasks created:\n{}", all());

    // One line per state change, whatever the number of polls.
    let mut info: Vec<&str> = lines
        .iter()
        .filter(|l| l.at_least_info())
        .map(Line::message)
        .collect();
    info.sort_unstable();
    let mut expected = vec!["run started", "run sealed", "run succeeded"];
    for _ in &tasks {
        expected.extend([
            "export task created",
            "export ready; transferring",
            "archived",
        ]);
    }
    expected.sort_unstable();
    assert_eq!(info, expected, "INFO and above:\n{}", all());
    for line in lines.iter().filter(|l| l.at_least_info()) {
        line.assert_in_run(&run_id);
        if !line.message().starts_with("run ") {
            line.assert_in_batch(&tasks);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_and_errors_of_a_failing_run_carry_its_fields() {
    let emu = emulator().await;
    // Nothing listens on port 9: the failure webhook cannot be delivered, and says so.
    let project = project(&emu, "notify:\n  webhooks:\n    - url: ${HOOK_URL}\n");
    let hook = format!("http://127.0.0.1:9/hook?token={HOOK_TOKEN}");
    // The first task created fails; the other one's first download is cut mid-way.
    emu.faults().fail_next_tasks(1);
    emu.faults().cut_next_downloads(1, 64);
    let (code, stdout, lines) = run_once(&emu, &project, &[("HOOK_URL", &hook)]).await;
    let all = || joined(&lines);
    assert_eq!(code, 1, "{stdout}\n{}", all());
    assert_no_secret(&lines);
    let tasks = task_ids(&emu);
    let run_id = run_id(&lines);

    let find = |message: &str| -> &Line {
        lines
            .iter()
            .find(|l| l.message() == message)
            .unwrap_or_else(|| panic!("no `{message}` line:\n{}", all()))
    };
    let retried = find("transfer failed; retrying with a fresh link");
    assert_eq!(retried.level(), "WARN");
    retried.assert_in_run(&run_id);
    retried.assert_in_batch(&tasks);

    let batch_failed = find("batch failed");
    assert_eq!(batch_failed.level(), "ERROR");
    batch_failed.assert_in_run(&run_id);
    batch_failed.assert_in_batch(&tasks);
    assert_ne!(
        batch_failed.str("task_id"),
        retried.str("task_id"),
        "the failed task and the retried download are different batches"
    );

    let run_failed = find("run failed");
    assert_eq!(run_failed.level(), "ERROR");
    run_failed.assert_in_run(&run_id);

    let undelivered = find("notification not delivered");
    assert_eq!(undelivered.level(), "WARN");
    undelivered.assert_in_run(&run_id);
    assert_eq!(
        undelivered.str("event"),
        Some("failure"),
        "{}",
        undelivered.text
    );

    for line in lines
        .iter()
        .filter(|l| matches!(l.level(), "WARN" | "ERROR"))
    {
        if line.by_the_runner() {
            line.assert_in_run(&run_id);
        }
    }
}
