//! How errors read (issue 14, point 3): `error:`, `caused by:` and `hint:` lines on the
//! terminal, the hint kept in `status` (human and JSON) and in the ledger, and each hint
//! saying what to do without giving a value away. Real processes against the emulator (real
//! clock) and, for stores, the local servers of `scripts/test-servers`.
//!
//! Nothing here may leave the machine: the metadata endpoints object_store asks when no
//! credentials are set are pointed at a closed port on 127.0.0.1.

use std::net::TcpListener;

use chatvault_emulator::Emulator;
use tokio::process::Command;

use crate::common::processes::{
    command, finish, project_with_job, realtime_config, start_emulator,
};
use crate::common::{Project, servers};

const WRONG_SECRET: &str = "wrong-secret-0d6c2b9e41f7";
const WRONG_KEY: &str = "wrong-key-8e1f37a5c0d2";

/// A port on 127.0.0.1 that nothing listens on (bound, then let go).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind on 127.0.0.1");
    listener.local_addr().expect("an address").port()
}

/// A job of one listed channel, archived to `destination` (with its `options` block).
fn job(destination: &str) -> String {
    format!(
        "name: daily\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: messaging\n    ids: [general-000]\n\
         destination:\n  url: {destination}\n"
    )
}

/// `chatvault ARGS` in `project`, with the emulator's credentials and an environment holding
/// no cloud credentials at all (the developer's shell may have some), and the metadata
/// endpoints on a closed loopback port.
fn isolated(project: &Project, emu: &Emulator, args: &[&str]) -> Command {
    let mut cmd = command(project, emu, args);
    let closed = format!("127.0.0.1:{}", closed_port());
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("HOME", project.dir.path())
        .env("STREAM_API_KEY", emu.api_key())
        .env("STREAM_API_SECRET", &emu.config().api_secret)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("AWS_METADATA_ENDPOINT", format!("http://{closed}"))
        .env("GCE_METADATA_HOST", &closed)
        .env("GCE_METADATA_IP", &closed);
    cmd
}

/// The lines of `text` that start with `prefix`, for messages that name them.
fn lines<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(prefix)).collect()
}

fn assert_rendered(stderr: &str) {
    assert!(
        !lines(stderr, "error: ").is_empty() && !lines(stderr, "hint: ").is_empty(),
        "an `error:` line and a `hint:` line:\n{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_secret_names_stream_api_secret_in_the_terminal_status_and_ledger() {
    let emu = start_emulator(realtime_config(12)).await;
    let project = project_with_job(&emu, "", "daily.yaml", &job("file://archive"));
    let mut cmd = command(&project, &emu, &["run", "--once", "jobs"]);
    cmd.env("STREAM_API_SECRET", WRONG_SECRET);
    let (code, stdout, stderr) = finish(cmd).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_rendered(&stderr);
    let hint = lines(&stderr, "hint: ").join("\n");
    assert!(
        hint.contains("STREAM_API_SECRET") && hint.contains("api.secret"),
        "{stderr}"
    );
    assert!(lines(&stderr, "error: ")[0].contains("code 43"), "{stderr}");
    // The per-tick summary keeps its one line.
    assert!(
        stdout.contains("daily: tick ") && stdout.contains(": failed: "),
        "{stdout}"
    );
    for (what, text) in [("stdout", &stdout), ("stderr", &stderr)] {
        for value in [WRONG_SECRET, emu.api_key(), "eyJ"] {
            assert!(!text.contains(value), "{what} shows a value:\n{text}");
        }
    }

    // `status` reads the hint back from the ledger's last outcome, in both formats.
    let mut cmd = command(&project, &emu, &["status", "jobs"]);
    cmd.env("STREAM_API_SECRET", WRONG_SECRET);
    let (code, stdout, _) = finish(cmd).await;
    assert_eq!(code, 1, "a failed last run is unhealthy");
    let hint_line = lines(&stdout, "  hint ");
    assert!(
        hint_line.len() == 1 && hint_line[0].contains("STREAM_API_SECRET"),
        "{stdout}"
    );
    let (_, json, _) = finish(command(
        &project,
        &emu,
        &["status", "--format", "json", "jobs"],
    ))
    .await;
    let status: serde_json::Value = serde_json::from_str(&json).expect("status JSON");
    let hint = status[0]["last_error_hint"].as_str().unwrap_or_default();
    assert!(hint.contains("STREAM_API_SECRET"), "{json}");
    assert!(!json.contains(WRONG_SECRET), "{json}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_api_key_names_stream_api_key_and_not_the_key() {
    let emu = start_emulator(realtime_config(12)).await;
    let project = project_with_job(&emu, "", "daily.yaml", &job("file://archive"));
    let mut cmd = command(&project, &emu, &["run", "--once", "jobs"]);
    cmd.env("STREAM_API_KEY", WRONG_KEY);
    let (code, stdout, stderr) = finish(cmd).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_rendered(&stderr);
    let hint = lines(&stderr, "hint: ").join("\n");
    assert!(
        hint.contains("STREAM_API_KEY") && hint.contains("api.key"),
        "{stderr}"
    );
    assert!(!hint.contains("STREAM_API_SECRET"), "{stderr}");
    for text in [&stdout, &stderr] {
        for value in [WRONG_KEY, emu.config().api_secret.as_str(), "eyJ"] {
            assert!(!text.contains(value), "a value is shown:\n{text}");
        }
    }
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_api_names_the_address_and_the_cause() {
    let emu = start_emulator(realtime_config(12)).await;
    let port = closed_port();
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: http://127.0.0.1:{port}\n"),
    );
    project.job("daily.yaml", job("file://archive"));
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_rendered(&stderr);
    let error = lines(&stderr, "error: ").join("\n");
    assert!(
        error.contains(&format!("127.0.0.1:{port}")) && error.contains("connection refused"),
        "{stderr}"
    );
    assert!(!stderr.contains("error sending request"), "{stderr}");
    assert!(
        lines(&stderr, "hint: ")[0].contains("api.base_url"),
        "{stderr}"
    );
    emu.shutdown().await;
}

/// `options:` for an S3 destination on `server`, with or without its keys.
fn s3_options(server: &servers::S3Server, secret: Option<&str>) -> String {
    let mut text = format!(
        "  options:\n    aws_endpoint: {}\n    aws_allow_http: \"true\"\n    aws_region: {}\n",
        server.endpoint, server.region
    );
    if let Some(secret) = secret {
        text.push_str(&format!(
            "    aws_access_key_id: {}\n    aws_secret_access_key: {secret}\n",
            server.access_key
        ));
    }
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_s3_store_without_credentials_says_which_settings_provide_them() {
    let emu = start_emulator(realtime_config(12)).await;
    let moto = servers::moto();
    let prefix = servers::unique_prefix("no-credentials");
    let destination = format!("s3://{}/{prefix}\n{}", moto.bucket, s3_options(&moto, None));
    let project = project_with_job(&emu, "", "daily.yaml", &job(&destination));
    let (code, stdout, stderr) = finish(isolated(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_rendered(&stderr);
    assert!(
        lines(&stderr, "error: ")[0].contains("no S3 credentials"),
        "{stderr}"
    );
    let hint = lines(&stderr, "hint: ").join("\n");
    for setting in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "options"] {
        assert!(hint.contains(setting), "{setting}: {stderr}");
    }
    assert!(!stderr.contains("169.254.169.254"), "{stderr}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gcs_store_without_credentials_says_which_settings_provide_them() {
    let emu = start_emulator(realtime_config(12)).await;
    let gcs = servers::gcs();
    let prefix = servers::unique_prefix("no-credentials");
    let destination = format!(
        "gs://{}/{prefix}\n  options:\n    google_base_url: {}\n    allow_http: \"true\"\n",
        gcs.bucket, gcs.endpoint
    );
    let project = project_with_job(&emu, "", "daily.yaml", &job(&destination));
    let (code, stdout, stderr) = finish(isolated(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_rendered(&stderr);
    assert!(
        lines(&stderr, "error: ")[0].contains("no GCS credentials"),
        "{stderr}"
    );
    let hint = lines(&stderr, "hint: ").join("\n");
    for setting in ["GOOGLE_APPLICATION_CREDENTIALS", "google_service_account"] {
        assert!(hint.contains(setting), "{setting}: {stderr}");
    }
    assert!(!stderr.contains("metadata.google.internal"), "{stderr}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bucket_that_does_not_exist_is_said_plainly() {
    let emu = start_emulator(realtime_config(12)).await;
    let moto = servers::moto();
    let bucket = servers::unique_prefix("never-created").to_ascii_lowercase();
    let destination = format!(
        "s3://{bucket}/archive\n{}",
        s3_options(&moto, Some(&moto.secret_key))
    );
    let project = project_with_job(&emu, "", "daily.yaml", &job(&destination));
    let (code, stdout, stderr) = finish(isolated(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_rendered(&stderr);
    let hint = lines(&stderr, "hint: ").join("\n");
    assert!(hint.contains("the bucket does not exist"), "{stderr}");
    emu.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_is_said_plainly_without_the_secret() {
    let emu = start_emulator(realtime_config(12)).await;
    let s3s = servers::s3s();
    let prefix = servers::unique_prefix("denied");
    let destination = format!(
        "s3://{}/{prefix}\n{}",
        s3s.bucket,
        s3_options(&s3s, Some(WRONG_SECRET))
    );
    let project = project_with_job(&emu, "", "daily.yaml", &job(&destination));
    let (code, stdout, stderr) = finish(isolated(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert_rendered(&stderr);
    let hint = lines(&stderr, "hint: ").join("\n");
    assert!(hint.contains("denied access"), "{stderr}");
    assert!(!stderr.contains(WRONG_SECRET) && !stdout.contains(WRONG_SECRET));
    emu.shutdown().await;
}

/// What an unreadable state store gets from `status`: one `error:` naming the store, a `hint:`,
/// exit 1, and none of the `never`/`none` lines that would read like facts about the jobs.
fn assert_state_unreadable_once(
    store: &str,
    hint: &str,
    (code, stdout, stderr): (i32, String, String),
) {
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    let errors = lines(&stderr, "error: ");
    assert_eq!(errors.len(), 1, "said once, for both jobs:\n{stderr}");
    assert!(
        errors[0].starts_with(&format!("error: cannot read the state store {store}")),
        "{stderr}"
    );
    assert!(
        lines(&stderr, "hint: ").join("\n").contains(hint),
        "{stderr}"
    );
    for made_up in ["never", "none", "watermark", "last error"] {
        assert!(!stdout.contains(made_up), "`{made_up}`:\n{stdout}");
    }
}

fn two_jobs(project: &Project) {
    for name in ["daily", "hourly"] {
        project.job(
            &format!("{name}.yaml"),
            format!("name: {name}\nschedule: \"0 0 * * *\"\nusers: [u1]\n"),
        );
    }
}

#[test]
fn a_state_folder_that_is_a_file_is_said_once_with_its_path_and_a_hint() {
    // A file where the state folder should be: what permissions that root ignores cannot do.
    let project = Project::new();
    project.file("chatvault.yaml", "state:\n  url: file://state\n");
    project.file("state", "not a folder\n");
    two_jobs(&project);
    let path = project.dir.path().join("state");
    let store = format!("file://{}", path.display());
    for format in ["human", "json"] {
        let out = project.run(&["status", "--format", format, "jobs"]);
        let stderr = out.2.clone();
        assert_state_unreadable_once(&store, "permissions", out);
        // The error renderer's whole output: `error:`, `caused by:`, `hint:`.
        crate::common::snapshot_settings()
            .bind(|| insta::assert_snapshot!("status_state_not_a_folder", stderr));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_bucket_that_refuses_the_credentials_is_said_once_with_a_hint() {
    let emu = start_emulator(realtime_config(12)).await;
    let s3s = servers::s3s();
    let prefix = servers::unique_prefix("state-denied");
    let config = format!(
        "state:\n  url: s3://{}/{prefix}\n{}",
        s3s.bucket,
        s3_options(&s3s, Some(WRONG_SECRET))
    );
    let project = project_with_job(&emu, &config, "daily.yaml", &job("file://archive"));
    project.job(
        "hourly.yaml",
        "name: hourly\nschedule: \"0 * * * *\"\nusers: [u1]\n",
    );
    let out = finish(isolated(&project, &emu, &["status", "jobs"])).await;
    assert!(!out.1.contains(WRONG_SECRET) && !out.2.contains(WRONG_SECRET));
    let store = format!("s3://{}/{prefix}", s3s.bucket);
    assert_state_unreadable_once(&store, "denied access", out);
    emu.shutdown().await;
}
