//! The `chatvault-emulator` binary, as a script runs it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::json;

use crate::common::{Api, SECRET, jwt};

/// Kills the emulator process when the test ends, passing or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_prints_its_url_and_serves_the_api() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatvault-emulator"))
        .args([
            "--api-key",
            "test-key",
            "--clock",
            "manual",
            "--start-time",
            "2025-01-01T00:00:00Z",
        ])
        .args(["--channels-per-type", "1", "--days", "2"])
        .args(["--soft-deleted-per-type", "0", "--truncated-per-type", "0"])
        .env("CHATVAULT_EMULATOR_API_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let mut line = String::new();
    let line = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).read_line(&mut line).unwrap();
        line
    })
    .await
    .unwrap();
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap()
        .to_owned();
    assert!(base.starts_with("http://127.0.0.1:"), "{line}");

    let api = Api::new(&base, jwt(&json!({"server": true}), SECRET));
    let id = api
        .export(json!({"channels": [{"cid": "messaging:general-000"}]}))
        .await;
    let clock = format!("{base}/_emulator/clock/advance");
    let moved = reqwest::Client::new()
        .post(clock)
        .body(r#"{"seconds": 10}"#)
        .send()
        .await
        .unwrap();
    assert!(moved.status().is_success());
    let status = api.task(&id).await;
    assert_eq!(status["status"], "completed");
    let file = api
        .download(status["result"]["url"].as_str().unwrap())
        .await;
    assert_eq!(file.json()["messages"].as_array().unwrap().len(), 48);
}
