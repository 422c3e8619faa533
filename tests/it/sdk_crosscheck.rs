//! Stream's official JavaScript SDK (npm `stream-chat`) against the emulator: if the SDK's
//! four export calls succeed, the emulator speaks the protocol real clients speak.
//! `scripts/test` installs the SDK into `tests/sdk/node_modules` first.

use std::path::Path;
use std::process::Command;

use chatvault_emulator::{Emulator, EmulatorConfig};

#[tokio::test(flavor = "multi_thread")]
async fn the_official_js_sdk_exports_channels_and_users_against_the_emulator() {
    let sdk = Path::new("tests/sdk/node_modules/stream-chat/package.json");
    assert!(
        sdk.exists(),
        "the JavaScript SDK is not installed: run scripts/test, which runs \
         `npm install --prefix tests/sdk` (needs node and npm)"
    );
    let emu = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let channel = emu
        .channels()
        .into_iter()
        .find(|c| c.deleted_at.is_none())
        .expect("a live channel");
    let user = channel.members.first().cloned().expect("a member");
    let mut node = Command::new("node");
    node.arg("tests/sdk/check.mjs")
        .env("STREAM_BASE_URL", emu.base_url())
        .env("STREAM_API_KEY", emu.api_key())
        .env("STREAM_API_SECRET", &emu.config().api_secret)
        .env("CHANNEL_TYPE", &channel.channel_type)
        .env("CHANNEL_ID", &channel.id)
        .env("USER_ID", &user);
    let out = tokio::task::spawn_blocking(move || node.output())
        .await
        .expect("joined")
        .expect("node runs (is Node.js installed?)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout: {stdout}\nstderr: {stderr}");
    let result: serde_json::Value = serde_json::from_str(stdout.trim()).expect("one JSON line");
    let tasks: Vec<String> = emu.tasks().into_iter().map(|t| t.id).collect();
    for key in ["channels_task", "users_task"] {
        let id = result[key].as_str().expect("a task id");
        assert!(
            tasks.contains(&id.to_owned()),
            "{key} {id} not in {tasks:?}"
        );
    }
    for key in ["channels_status", "users_status"] {
        assert_eq!(result[key], "waiting", "{result}");
    }
    emu.shutdown().await;
}
