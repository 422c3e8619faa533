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

#[tokio::test]
async fn the_binarys_media_flags_shape_the_links_and_the_files() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_chatvault-emulator"))
        .args(["--api-key", "test-key", "--clock", "manual"])
        .args(["--start-time", "2025-01-01T00:00:00Z"])
        .args(["--channels-per-type", "1", "--days", "2"])
        .args(["--soft-deleted-per-type", "0", "--truncated-per-type", "0"])
        .args(["--media-every", "1", "--avatars", "--link-lifetime", "3d"])
        .args([
            "--cdn-base",
            "http://cdn.test:1",
            "--foreign-base",
            "https://elsewhere.test",
        ])
        .args(["--media-distinct", "4", "--media-sizes", "2KiB..3KiB"])
        .args(["--large-file-size", "1MiB"])
        .env("CHATVAULT_EMULATOR_API_SECRET", SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _running = Running(child);
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
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
    let api = Api::new(&base, jwt(&json!({"server": true}), SECRET));
    let channels = api
        .post(
            "/channels",
            json!({"filter_conditions": {"cid": "messaging:general-000"}}),
        )
        .await
        .json();
    let channel = &channels["channels"][0];
    let image = channel["channel"]["image"].as_str().unwrap();
    assert!(
        image.starts_with("http://cdn.test:1/cdn/emulator/images/"),
        "{image}"
    );
    let expires: i64 = image.rsplit("Expires=").next().unwrap().parse().unwrap();
    let start: chrono::DateTime<chrono::Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(expires, (start + chrono::Duration::days(3)).timestamp());
    let truth: serde_json::Value = reqwest::get(format!("{base}/_emulator/media_truth"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let files: std::collections::BTreeSet<_> = truth
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["owner"]["Message"].is_string())
        .map(|r| r["path"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(files.len(), 4, "{files:?}");
    assert!(truth.as_array().unwrap().iter().all(|r| {
        r["owner"]["Message"].is_null() || (2048..=3072).contains(&r["size"].as_u64().unwrap())
    }));
    let path = files.iter().next().unwrap();
    let deleted = reqwest::Client::new()
        .post(format!("{base}/_emulator/cdn/delete"))
        .body(json!({"path": path}).to_string())
        .send()
        .await
        .unwrap();
    assert!(deleted.status().is_success());
    let truth: serde_json::Value = reqwest::get(format!("{base}/_emulator/media_truth"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(
        truth
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["path"] == path.as_str() && r["deleted"] == true)
    );
}
