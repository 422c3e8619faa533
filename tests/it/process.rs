//! Real `chatvault` processes. `run --once` killed with SIGKILL at each phase of a run, then
//! started again: no second export task for the window, no partial archive ever visible, and
//! the archive ends complete and verified. The daemon reloading on SIGHUP and draining on
//! SIGTERM. The exit codes of `run --once` and `status`.
//!
//! The process runs on the real clock against an emulator on the real clock with one-second
//! task states, so nothing waits for a schedule: the tick is the latest midnight.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use chatvault::runner::Phase;
use chatvault_emulator::Emulator;
use chrono::{TimeDelta, Utc};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common;
use crate::common::processes::{
    command, finish, realtime_config, signal, start_emulator, wait_for,
};

/// How long the killed run's lease lasts: the restart is refused until it has run out.
const LEASE_TTL: &str = "3s";

async fn emulator(messages_per_day: u64) -> Emulator {
    start_emulator(realtime_config(messages_per_day)).await
}

/// A project whose one job exports two channels, uncompressed, into `archive/`.
fn project(emu: &Emulator) -> common::Project {
    let project = common::Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    project.job(
        "crash.yaml",
        "name: crash\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
         destination:\n  url: file://archive\n  compression: none\n",
    );
    project
}

/// Starts a run frozen at `phase`, waits until it says so, and kills it with SIGKILL.
async fn kill_at(project: &common::Project, emu: &Emulator, phase: Phase) {
    let mut cmd = command(
        project,
        emu,
        &["run", "--once", "--lease-ttl", LEASE_TTL, "jobs"],
    );
    cmd.env("CHATVAULT_PAUSE_AT", phase.name())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("chatvault starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    let paused = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read stderr") {
            let found = line.contains("paused");
            seen.push(line);
            if found {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(paused, Ok(true)),
        "the run never paused at {phase}; it printed:\n{}",
        seen.join("\n")
    );
    child.kill().await.expect("SIGKILL");
}

fn creates(emu: &Emulator) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.endpoint == Some(chatvault_emulator::Endpoint::ExportChannels))
        .count()
}

/// Every file below `dir`, relative to it.
fn files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                out.push(rel.display().to_string());
            }
        }
    }
    out.sort();
    out
}

/// Kills a run at `phase`, restarts it, and checks the outcome.
async fn crash_and_resume(phase: Phase) {
    // Big enough that the archive takes several parts, so a transfer can be caught halfway.
    let emu = emulator(if phase == Phase::Transfer { 12_000 } else { 48 }).await;
    let project = project(&emu);
    let archive = project.dir.path().join("archive");

    kill_at(&project, &emu, phase).await;
    let created = creates(&emu);
    assert_eq!(created, 1, "one export task before the kill at {phase}");
    let manifests = files(&archive)
        .into_iter()
        .filter(|f| f.ends_with(".manifest.json"))
        .count();
    let archives: Vec<String> = files(&archive)
        .into_iter()
        .filter(|f| f.ends_with(".jsonl"))
        .collect();
    match phase {
        Phase::Created | Phase::Polling | Phase::Transfer => assert!(
            archives.is_empty(),
            "killed at {phase}, yet an archive is visible: {archives:?}"
        ),
        Phase::Manifest => assert_eq!(
            (archives.len(), manifests),
            (1, 0),
            "killed before the manifest: the archive is there, uncommitted"
        ),
        Phase::Media | Phase::Seal | Phase::Watermark => {
            assert_eq!((archives.len(), manifests), (1, 1));
        }
    }

    // The killed holder's lease still stands: a restart at once stays out, and says so.
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "a busy job is not a failure\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("is running this job"),
        "the restart should see the lease held:\n{stdout}\n{stderr}"
    );

    tokio::time::sleep(Duration::from_secs(4)).await;
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "the restart succeeds\n{stdout}\n{stderr}");
    assert!(stdout.contains("ok:"), "{stdout}\n{stderr}");
    assert_eq!(
        creates(&emu),
        1,
        "killed at {phase}: the restart must resume the recorded task, not export again"
    );

    let (code, stdout, stderr) = finish(command(
        &project,
        &emu,
        &["verify", "--job", "crash", "jobs"],
    ))
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("1 verified, 0 missing, 0 corrupt, 0 extra"),
        "{stdout}"
    );

    let (code, stdout, stderr) = finish(command(
        &project,
        &emu,
        &["status", "--format", "json", "jobs"],
    ))
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status JSON");
    let midnight = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    assert_eq!(
        status[0]["watermark"].as_str(),
        Some(midnight.to_rfc3339().replace("+00:00", "Z").as_str()),
        "the watermark moved to the tick: {stdout}"
    );
    assert_eq!(status[0]["in_flight"].as_array().map(Vec::len), Some(0));
    // The killed run sealed when it got past its seal; the restart seals after it.
    let seals = if matches!(phase, Phase::Seal | Phase::Watermark) {
        2
    } else {
        1
    };
    assert_eq!(
        status[0]["seal"]["sequence"].as_u64(),
        Some(seals),
        "{stdout}"
    );
    assert!(
        status[0]["seal"]["key"]
            .as_str()
            .is_some_and(|k| k.starts_with("_chatvault/seals/crash/")),
        "{stdout}"
    );
    let (code, stdout, stderr) = finish(command(&project, &emu, &["status", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("  last seal      {seals}\n")),
        "{stdout}"
    );

    // The archive holds exactly the window's messages.
    let key = files(&archive)
        .into_iter()
        .find(|f| f.ends_with(".jsonl"))
        .expect("an archive");
    let text = std::fs::read_to_string(archive.join(&key)).expect("read the archive");
    let mut ids: Vec<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["type"] == "message")
        .filter_map(|l| l["item"]["id"].as_str().map(str::to_owned))
        .collect();
    let mut expected = Vec::new();
    for id in ["general-000", "general-001"] {
        expected.extend(emu.ground_truth(
            &format!("messaging:{id}"),
            Some(midnight - TimeDelta::days(1)),
            Some(midnight),
            chatvault_emulator::GroundTruthOptions {
                include_truncated_messages: false,
                include_soft_deleted_channels: false,
                as_of: None,
            },
        ));
    }
    ids.sort();
    expected.sort();
    assert!(!expected.is_empty(), "the window has messages");
    assert_eq!(
        ids, expected,
        "the archive holds the window, each message once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_create_resumes_the_recorded_task() {
    crash_and_resume(Phase::Created).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_while_polling_resumes_polling() {
    crash_and_resume(Phase::Polling).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_transfer_leaves_no_partial_archive() {
    crash_and_resume(Phase::Transfer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_the_manifest_transfers_again_and_commits() {
    crash_and_resume(Phase::Manifest).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_seal_the_restart_seals_next_and_records_it() {
    crash_and_resume(Phase::Seal).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_the_watermark_moves_it_on_restart() {
    crash_and_resume(Phase::Watermark).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_exits_1_and_the_next_run_recovers() {
    let emu = emulator(48).await;
    let project = project(&emu);
    emu.faults().fail_next_tasks(1);
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("crash: tick") && stdout.contains("failed:"),
        "{stdout}"
    );

    let (code, stdout, _) = finish(command(&project, &emu, &["status", "jobs"])).await;
    assert_eq!(code, 1, "status flags the failed run:\n{stdout}");
    assert!(
        stdout.contains("last error") && !stdout.contains("last error     none"),
        "{stdout}"
    );

    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(creates(&emu), 2, "the failed task is exported again, once");
    let (code, stdout, _) = finish(command(&project, &emu, &["status", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}");

    let (code, stdout, _) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0);
    assert!(stdout.contains("nothing due"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_once_refuses_unknown_jobs_and_invalid_files_with_exit_2() {
    let emu = emulator(48).await;
    let project = project(&emu);
    let (code, _, stderr) = finish(command(
        &project,
        &emu,
        &["run", "--once", "--job", "nope", "jobs"],
    ))
    .await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no job named `nope`"), "{stderr}");

    let mut cmd = command(&project, &emu, &["run", "--once", "jobs"]);
    cmd.env_remove("STREAM_API_SECRET");
    let (code, _, stderr) = finish(cmd).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("STREAM_API_SECRET"), "{stderr}");
    assert!(creates(&emu) == 0, "nothing ran");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reloads_on_sighup_keeps_its_jobs_on_bad_files_and_stops_on_sigterm() {
    let emu = emulator(48).await;
    let project = project(&emu);
    let mut cmd = command(&project, &emu, &["run", "--grace", "10s", "jobs"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the daemon starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = Vec::new();
    wait_for(&mut lines, "run succeeded job=crash", &mut seen).await;

    project.job(
        "second.yaml",
        "name: second\nschedule: \"0 0 * * *\"\n\
         channels:\n  - cid: team:project-001\n\
         destination:\n  url: file://archive2\n",
    );
    signal(&child, "HUP");
    wait_for(&mut lines, "run succeeded job=second", &mut seen).await;

    project.job("bad.yaml", "name: bad\nschedule: \"every day\"\n");
    signal(&child, "HUP");
    wait_for(&mut lines, "keeping the current jobs", &mut seen).await;
    assert!(
        seen.iter().any(|l| l.contains("bad.yaml")),
        "the reload names the bad file:\n{}",
        seen.join("\n")
    );

    signal(&child, "TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the daemon stops within 30 s of SIGTERM")
        .expect("wait");
    assert_eq!(status.code(), Some(0));
    assert_eq!(creates(&emu), 2, "each job exported its tick once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_past_the_grace_period_checkpoints_and_the_next_run_resumes() {
    let mut config = realtime_config(48);
    // Far longer than the grace period.
    config.task_durations.running = chrono::Duration::hours(1);
    let emu = start_emulator(config).await;
    let project = project(&emu);
    let mut cmd = command(&project, &emu, &["run", "--grace", "1s", "jobs"]);
    cmd.stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("the daemon starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = Vec::new();
    wait_for(&mut lines, "export task created", &mut seen).await;
    signal(&child, "TERM");
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the daemon stops soon after its grace period")
        .expect("wait");
    assert_eq!(status.code(), Some(0), "a drained shutdown exits 0");

    let (_, stdout, stderr) = finish(command(
        &project,
        &emu,
        &["status", "--format", "json", "jobs"],
    ))
    .await;
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status JSON");
    assert_eq!(
        status[0]["in_flight"].as_array().map(Vec::len),
        Some(1),
        "the unfinished task is checkpointed: {stdout}\n{stderr}"
    );
    assert!(
        status[0]["running"].is_null(),
        "the stopped run handed the job back: {stdout}"
    );

    // The export finishes at Stream; the next run picks it up at once (the lease was
    // released) without exporting again.
    emu.clock().advance(TimeDelta::hours(2));
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("ok: 1 new archive"), "{stdout}\n{stderr}");
    assert_eq!(creates(&emu), 1, "the checkpointed task was resumed");
}

/// insta settings for what runs and `status` print: times, the days in keys, task ids and byte
/// counts vary from run to run.
fn run_snapshot_settings() -> insta::Settings {
    let mut settings = common::snapshot_settings();
    settings.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]");
    settings.add_filter(r"\d{4}/\d{2}/\d{2}", "[DAY]");
    settings.add_filter(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}",
        "[TASK]",
    );
    settings.add_filter(r"\d+ bytes", "[N] bytes");
    settings
}

/// Kubernetes stops a CronJob's pod with SIGTERM. `run --once` then starts nothing new, lets
/// its steps reach a recorded point, hands the job back (claim and lease) and exits 1 within
/// `--grace`, naming the tasks it leaves; the ledger records the run as interrupted, which
/// `status` shows without calling it a failure; an immediate rerun resumes each task and
/// exports nothing twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_run_once_within_grace_and_an_immediate_rerun_resumes_every_task() {
    let mut config = realtime_config(48);
    // Still waiting at Stream when the signal comes, and long after.
    config.task_durations.waiting = chrono::Duration::hours(1);
    let emu = start_emulator(config).await;
    let project = common::Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    project.job(
        "stopped.yaml",
        "name: stopped\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
         users: [user-000, user-001]\n\
         destination:\n  url: file://archive\n  compression: none\n",
    );
    // The default --grace: what a pod without flags gets.
    let mut cmd = command(&project, &emu, &["run", "--once", "jobs"]);
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("chatvault starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = Vec::new();
    for _ in 0..2 {
        wait_for(&mut lines, "export task created", &mut seen).await;
    }
    let all_creates = || {
        emu.requests()
            .iter()
            .filter(|r| {
                matches!(
                    r.endpoint,
                    Some(
                        chatvault_emulator::Endpoint::ExportChannels
                            | chatvault_emulator::Endpoint::ExportUsers
                    )
                )
            })
            .count()
    };
    assert_eq!(all_creates(), 2, "one channels and one users task");

    let signalled = std::time::Instant::now();
    signal(&child, "TERM");
    let mut stdout = child.stdout.take().expect("stdout");
    let drain_stderr = tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        seen
    });
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("run --once stops within Kubernetes' 30 s of SIGTERM")
        .expect("wait");
    let took = signalled.elapsed();
    let mut out = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stdout, &mut out)
        .await
        .expect("read stdout");
    let err = drain_stderr.await.expect("stderr reader").join("\n");
    assert_eq!(
        status.code(),
        Some(1),
        "stopped by a signal, not killed by it (143), and not a success\n{out}\n{err}"
    );
    assert!(
        took < Duration::from_secs(20),
        "within --grace (20 s): {took:?}"
    );
    assert!(
        out.contains("interrupted; the next run resumes 2 recorded export task(s)"),
        "it says what it leaves:\n{out}\n{err}"
    );

    let (code, stdout, stderr) = finish(command(
        &project,
        &emu,
        &["status", "--format", "json", "jobs"],
    ))
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let state: serde_json::Value = serde_json::from_str(&stdout).expect("status JSON");
    assert_eq!(
        state[0]["in_flight"].as_array().map(Vec::len),
        Some(2),
        "both tasks are recorded: {stdout}"
    );
    assert!(
        state[0]["running"].is_null(),
        "the claim is released: {stdout}"
    );
    assert_eq!(
        state[0]["in_flight"][0]["hours_left"].as_i64(),
        Some(60 * 24 - 1),
        "a task seconds old has 59 days and 23 whole hours left: {stdout}"
    );
    assert_eq!(
        state[0]["interrupted"]["tasks_to_resume"].as_u64(),
        Some(2),
        "the run is recorded as interrupted: {stdout}"
    );
    assert!(
        state[0]["last_error"].is_null(),
        "an interrupted run is not a failure: {stdout}"
    );
    let (code, stdout, stderr) = finish(command(&project, &emu, &["status", "jobs"])).await;
    assert_eq!(
        code, 0,
        "a stopped rollout is not a failed run\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("59d 23h left"),
        "days and hours, not a truncated `59 days`: {stdout}"
    );
    assert!(
        stdout.contains("  last run       interrupted at ")
            && stdout.contains(", 2 export task(s) to resume"),
        "{stdout}"
    );
    assert!(stdout.contains("  last error     none"), "{stdout}");
    run_snapshot_settings().bind(|| insta::assert_snapshot!("status_after_sigterm", stdout));
    for task in state[0]["in_flight"].as_array().expect("tasks") {
        let key = task["key"].as_str().expect("a key");
        assert!(
            stdout.contains(&format!("      key {key}\n")),
            "each task names its archive's key: {stdout}"
        );
    }
    assert!(
        stdout.contains("channels batch 1  ")
            && stdout.contains("users batch 1  users snapshot at "),
        "each task says what it exports: {stdout}"
    );
    let channels = state[0]["in_flight"]
        .as_array()
        .and_then(|tasks| tasks.iter().find(|t| t["kind"] == "channels"))
        .expect("the channels task");
    let window = format!(
        "{} → {}",
        channels["since"].as_str().expect("since"),
        channels["until"].as_str().expect("until")
    );
    assert!(stdout.contains(&window), "its window, {window}: {stdout}");

    // Stream finishes the exports; a rerun at once (no lease to wait out) resumes both.
    emu.clock().advance(TimeDelta::hours(2));
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("ok: 2 new archive(s)") && !stdout.contains("skipped"),
        "{stdout}\n{stderr}"
    );
    // The tick's line; the warnings under it depend on which channels the day's data fills.
    let tick_line = stdout.lines().next().unwrap_or_default();
    run_snapshot_settings().bind(|| insta::assert_snapshot!("run_once_after_sigterm", tick_line));
    assert_eq!(
        all_creates(),
        2,
        "no second export: the recorded tasks were resumed"
    );
    let (code, stdout, stderr) = finish(command(
        &project,
        &emu,
        &["verify", "--job", "stopped", "jobs"],
    ))
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("2 verified, 0 missing"), "{stdout}");
}

/// One cut of a window into requests serves the plan and the run: the keys a dry run shows
/// for the listed channels and the users are the keys the run writes, and the channels a
/// filter finds come after them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_run_writes_the_keys_the_dry_run_showed() {
    let emu = emulator(48).await;
    let project = common::Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    project.job(
        "cut.yaml",
        "name: cut\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: team\n    ids: [project-001, project-000]\n\
         \x20 - type: messaging\n    filter: { frozen: false }\n\
         users: [user-000]\n\
         destination:\n  url: file://archive\n  compression: none\n",
    );
    let midnight = Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    let before = (midnight - TimeDelta::seconds(1)).to_rfc3339();
    let (code, stdout, stderr) = finish(command(
        &project,
        &emu,
        &[
            "run",
            "--dry-run",
            "--now",
            &before,
            "--next",
            "1",
            "--format",
            "json",
            "jobs",
        ],
    ))
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let plan: serde_json::Value = serde_json::from_str(&stdout).expect("plan JSON");
    let requests = plan["jobs"][0]["ticks"][0]["windows"][0]["requests"]
        .as_array()
        .expect("requests")
        .clone();
    let snapshot = plan["jobs"][0]["ticks"][0]["snapshot"]
        .as_array()
        .expect("the users snapshot")
        .clone();
    let planned: Vec<String> = requests
        .iter()
        .chain(&snapshot)
        .filter_map(|r| r["key"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(
        planned.len(),
        2,
        "the listed channels and the users: {stdout}"
    );
    assert!(
        requests[1]["filter"].is_object(),
        "the filter after the listed channels"
    );

    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let archive = project.dir.path().join("archive");
    let written: Vec<String> = files(&archive)
        .into_iter()
        .filter(|f| f.ends_with(".jsonl"))
        .collect();
    for key in &planned {
        assert!(written.contains(key), "planned {key}, written {written:?}");
    }
    assert_eq!(written.len(), 2, "{written:?}");
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(archive.join(format!("{}.manifest.json", planned[0])))
            .expect("the channels archive's manifest"),
    )
    .expect("manifest JSON");
    let channels: Vec<&str> = manifest["channels"]
        .as_array()
        .expect("channels")
        .iter()
        .filter_map(serde_json::Value::as_str)
        .collect();
    assert_eq!(
        channels[..2],
        ["team:project-000", "team:project-001"],
        "the listed channels first (sorted), as planned, though what the filter finds sorts \
         before them"
    );
    assert!(
        channels.len() > 2 && channels[2..].iter().all(|c| c.starts_with("messaging:")),
        "then what the filter found: {channels:?}"
    );
}
