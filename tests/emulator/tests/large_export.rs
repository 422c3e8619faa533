//! A million-message export and a 128 MiB media file stream: bytes flow at once and memory stays
//! bounded, because each file is generated while it is sent (never built in memory).

use std::time::Instant;

use chatvault_emulator::{DataSpec, Emulator, EmulatorConfig, GroundTruthOptions};
use chrono::Duration;
use futures_util::StreamExt;
use serde_json::{Value, json};

/// Resident memory of this process (which runs the emulator too), from /proc.
fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kib: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_message_export_streams_with_bounded_memory() {
    let config = EmulatorConfig {
        data: DataSpec {
            channels_per_type: 1,
            messages_per_channel_per_day: 1_000_000,
            days_of_history: 1,
            users: 10,
            members_per_channel: 4,
            soft_deleted_per_type: 0,
            truncated_per_type: 0,
            ..DataSpec::default()
        },
        // An exact Content-Length costs a whole extra generation pass first; this test is about
        // the stream itself.
        exact_content_length: false,
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config).await.unwrap();
    let cid = "messaging:general-000";
    let http = reqwest::Client::new();
    let api = |path: &str| {
        http.post(format!(
            "{}{path}?api_key={}",
            emulator.base_url(),
            emulator.api_key()
        ))
        .header("Authorization", emulator.sign_server_token())
        .header("Stream-Auth-Type", "jwt")
    };
    let body = json!({"channels": [{"cid": cid}], "version": "v2"});
    let created: Value = api("/export_channels")
        .json(&body)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let task_id = created["task_id"].as_str().unwrap();
    emulator
        .clock()
        .advance(emulator.config().task_durations.total());
    let status_url = format!(
        "{}/tasks/{task_id}?api_key={}",
        emulator.base_url(),
        emulator.api_key()
    );
    let status: Value = http
        .get(status_url)
        .header("Authorization", emulator.sign_server_token())
        .header("Stream-Auth-Type", "jwt")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = status["result"]["url"].as_str().unwrap();

    let baseline = rss_bytes();
    let started = Instant::now();
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), None, "sent chunked");
    let mut body = response.bytes_stream();
    let (mut received, mut peak, mut lines) = (0usize, baseline, 0usize);
    let mut first_message_id = None;
    let mut pending = Vec::new();
    const READ: usize = 48 * 1024 * 1024;
    while received < READ {
        let chunk = body.next().await.unwrap().unwrap();
        received += chunk.len();
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Value = serde_json::from_slice(&pending[..end]).unwrap();
            if line["type"] == "message" && first_message_id.is_none() {
                first_message_id = line["item"]["id"].as_str().map(str::to_owned);
            }
            lines += 1;
            pending.drain(..=end);
        }
        peak = peak.max(rss_bytes());
    }
    drop(body);
    let growth = peak.saturating_sub(baseline);
    eprintln!(
        "read {received} bytes ({lines} lines) in {:?}; RSS {} MiB, peak growth {} MiB",
        started.elapsed(),
        baseline >> 20,
        growth >> 20
    );
    assert!(
        growth < 32 * 1024 * 1024,
        "memory grew by {growth} bytes while streaming"
    );

    // The file holds a million messages, of which the stream began with the first.
    let truth = emulator.ground_truth(
        cid,
        None,
        None,
        GroundTruthOptions {
            as_of: Some(emulator.tasks()[0].created_at),
            ..GroundTruthOptions::default()
        },
    );
    assert_eq!(truth.len(), 1_000_000);
    assert_eq!(first_message_id.as_deref(), Some(truth[0].as_str()));
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_128_mib_cdn_file_streams_with_bounded_memory() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    // The CDN serves any path that names a kind and a size.
    let size: u64 = 128 << 20;
    let path = format!("emulator/attachments/big/{size}/big.zip");
    let link = emulator.cdn_link(&path, emulator.clock().now() + Duration::hours(1));
    let baseline = rss_bytes();
    let response = reqwest::get(&link).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.content_length(), Some(size));
    let mut body = response.bytes_stream();
    let (mut received, mut peak) = (0u64, baseline);
    let mut head = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        if head.len() < 4 {
            head.extend_from_slice(&chunk[..chunk.len().min(4)]);
        }
        received += chunk.len() as u64;
        peak = peak.max(rss_bytes());
    }
    let growth = peak.saturating_sub(baseline);
    eprintln!(
        "read {received} bytes; peak RSS growth {} MiB",
        growth >> 20
    );
    assert_eq!(received, size);
    assert_eq!(&head[..4], b"PK\x03\x04");
    assert!(
        growth < 32 * 1024 * 1024,
        "memory grew by {growth} bytes while streaming"
    );
    emulator.shutdown().await;
}
