//! Running `chatvault` as a real process against the emulator: starting it, signalling it,
//! and waiting for its log lines.

use std::process::Stdio;
use std::time::Duration;

use chatvault_emulator::{ClockMode, DataSpec, Emulator, EmulatorConfig, TaskDurations};
use chrono::Utc;
use tokio::process::Command;

use crate::common::Project;

/// An emulator on the real clock whose tasks finish one second after creation (so a process
/// waits for nothing), with two channels of each type and `messages_per_day` messages a day
/// over three days of history.
pub fn realtime_config(messages_per_day: u64) -> EmulatorConfig {
    EmulatorConfig {
        data: DataSpec {
            channels_per_type: 2,
            messages_per_channel_per_day: messages_per_day,
            days_of_history: 3,
            ..DataSpec::default()
        },
        task_durations: TaskDurations {
            waiting: chrono::Duration::zero(),
            pending: chrono::Duration::zero(),
            running: chrono::Duration::seconds(1),
        },
        clock: ClockMode::RealTime,
        start_time: Utc::now(),
        ..EmulatorConfig::default()
    }
}

pub async fn start_emulator(config: EmulatorConfig) -> Emulator {
    Emulator::start(config)
        .await
        .expect("the emulator starts on 127.0.0.1")
}

/// `chatvault ARGS` in the project, with the emulator's credentials and a clean environment.
pub fn command(project: &Project, emu: &Emulator, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatvault"));
    cmd.args(args)
        .current_dir(project.dir.path())
        .env("STREAM_API_KEY", emu.api_key())
        .env("STREAM_API_SECRET", &emu.config().api_secret)
        .env_remove("CHATVAULT_PAUSE_AT")
        .env_remove("CHATVAULT_LOG")
        .stdin(Stdio::null())
        .kill_on_drop(true);
    cmd
}

/// A project against `emu`, with `config` appended to its global config, holding the one job
/// file `file` with the text `job`.
pub fn project_with_job(emu: &Emulator, config: &str, file: &str, job: &str) -> Project {
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n{config}", emu.base_url()),
    );
    project.job(file, job);
    project
}

/// Runs to the end: (exit code, stdout, stderr).
pub async fn finish(mut cmd: Command) -> (i32, String, String) {
    let out = tokio::time::timeout(Duration::from_secs(120), cmd.output())
        .await
        .expect("chatvault finishes within 2 minutes")
        .expect("chatvault starts");
    (
        out.status.code().expect("exited, not killed"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sends signal `name` (e.g. TERM) to the child.
pub fn signal(child: &tokio::process::Child, name: &str) {
    let pid = child.id().expect("the daemon is running").to_string();
    let status = std::process::Command::new("kill")
        .args([&format!("-{name}"), &pid])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// Reads stderr lines until one contains `needle`; panics with what was read if the stream
/// ends or two minutes pass first.
pub async fn wait_for<R: tokio::io::AsyncBufRead + Unpin>(
    lines: &mut tokio::io::Lines<R>,
    needle: &str,
    seen: &mut Vec<String>,
) {
    let found = tokio::time::timeout(Duration::from_secs(120), async {
        while let Some(line) = lines.next_line().await.expect("read stderr") {
            let hit = line.contains(needle);
            seen.push(line);
            if hit {
                return true;
            }
        }
        false
    })
    .await;
    assert!(
        matches!(found, Ok(true)),
        "no line with `{needle}`; the daemon printed:\n{}",
        seen.join("\n")
    );
}

/// Starts `cmd`, a command told to freeze at a pause point (`CHATVAULT_PAUSE_AT`), waits for
/// the stderr line with `needle` that says it froze, and kills it with SIGKILL there: the crash
/// tests' way to stop a process at exactly one step.
pub async fn kill_once_paused(mut cmd: Command, needle: &str) {
    cmd.env_remove("CHATVAULT_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("chatvault starts");
    let stderr = child.stderr.take().expect("stderr is piped");
    let mut lines = tokio::io::AsyncBufReadExt::lines(tokio::io::BufReader::new(stderr));
    wait_for(&mut lines, needle, &mut Vec::new()).await;
    child.kill().await.expect("SIGKILL");
}
