//! Injected faults: 429 bursts, seeded 5xx rates, gateway errors, delays, cut downloads,
//! expired links.

use std::time::{Duration, Instant};

use chatvault_emulator::{DataSpec, EmulatorConfig, Endpoint};
use futures_util::StreamExt;
use serde_json::json;

use crate::common::{config, one_channel_file, start, start_with};

#[tokio::test]
async fn the_next_requests_can_be_made_to_answer_429() {
    let (emulator, api) = start().await;
    emulator.faults().rate_limit_next(Endpoint::GetTask, 2);
    for _ in 0..2 {
        let reply = api.get("/tasks/x").await;
        reply.assert_error(429, 9, "GetTask", "");
        let (limit, remaining, _) = reply.assert_rate_headers();
        assert_eq!((limit, remaining), (600, 0));
        assert!(reply.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    }
    assert_eq!(api.get("/tasks/x").await.status, 404);
}

#[tokio::test]
async fn a_seeded_error_rate_fails_the_same_requests_on_every_run() {
    let run = || async {
        let seeded = EmulatorConfig {
            data: DataSpec {
                seed: 9,
                ..DataSpec::default()
            },
            ..config()
        };
        let (emulator, api) = start_with(seeded).await;
        emulator.faults().set_error_rate(Endpoint::GetTask, 0.3);
        let mut statuses = Vec::new();
        for _ in 0..40 {
            let reply = api.get("/tasks/x").await;
            if reply.status == 500 {
                reply.assert_error(500, -1, "GetTask", "");
                reply.assert_rate_headers();
            }
            statuses.push(reply.status);
        }
        statuses
    };
    let first = run().await;
    assert_eq!(first, run().await);
    let failures = first.iter().filter(|s| **s == 500).count();
    assert!((4..=20).contains(&failures), "{failures} of 40");
    assert!(first.iter().all(|s| [404, 500].contains(s)));
}

#[tokio::test]
async fn queued_gateway_errors_answer_html_and_then_stop() {
    let (emulator, api) = start().await;
    emulator
        .faults()
        .fail_next_requests(Endpoint::ExportChannels, 1, 502);
    emulator
        .faults()
        .fail_next_requests(Endpoint::GetTask, 1, 500);
    let body = json!({"channels": [{"cid": "messaging:general-001"}]});
    let reply = api.post("/export_channels", body.clone()).await;
    assert_eq!(reply.status, 502);
    assert!(reply.text.contains("502 Bad Gateway"), "{}", reply.text);
    reply.assert_rate_headers();
    api.get("/tasks/x")
        .await
        .assert_error(500, -1, "GetTask", "");
    assert_eq!(api.post("/export_channels", body).await.status, 201);
    assert_eq!(api.get("/tasks/x").await.status, 404);
}

#[tokio::test]
async fn a_delay_slows_answers_in_real_time() {
    let (emulator, api) = start().await;
    emulator
        .faults()
        .set_delay(Endpoint::GetTask, Duration::from_millis(150));
    let started = Instant::now();
    assert_eq!(api.get("/tasks/x").await.status, 404);
    assert!(started.elapsed() >= Duration::from_millis(150));
    emulator.faults().clear();
    let started = Instant::now();
    api.get("/tasks/x").await;
    assert!(started.elapsed() < Duration::from_millis(150));
}

#[tokio::test]
async fn cut_downloads_close_the_connection_after_n_bytes() {
    let (emulator, api) = start().await;
    let url = one_channel_file(&emulator, &api).await;
    let whole = api.download(&url).await.text;
    emulator.faults().cut_next_downloads(2, 100_000);
    for _ in 0..2 {
        let response = api.http.get(&url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.content_length(), Some(whole.len() as u64));
        let mut body = response.bytes_stream();
        let mut received = Vec::new();
        let mut failed = false;
        while let Some(chunk) = body.next().await {
            match chunk {
                Ok(bytes) => received.extend_from_slice(&bytes),
                Err(_) => {
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed, "the body ends in an error");
        assert_eq!(received.len(), 100_000);
        assert_eq!(received, whole.as_bytes()[..100_000]);
    }
    assert_eq!(api.download(&url).await.text, whole);
}

#[tokio::test]
async fn download_faults_answer_like_s3() {
    let (emulator, api) = start().await;
    let url = one_channel_file(&emulator, &api).await;
    emulator
        .faults()
        .rate_limit_next(Endpoint::DownloadExport, 1);
    emulator
        .faults()
        .fail_next_requests(Endpoint::DownloadExport, 1, 500);
    let slow = api.download(&url).await;
    assert_eq!(slow.status, 503);
    assert!(slow.text.contains("<Code>SlowDown</Code>"));
    let broken = api.download(&url).await;
    assert_eq!(broken.status, 500);
    assert!(broken.text.contains("<Code>InternalError</Code>"));
    assert_eq!(api.download(&url).await.status, 200);
}

#[tokio::test]
async fn downloads_can_be_answered_as_if_their_link_had_expired() {
    let (emulator, api) = start().await;
    let url = one_channel_file(&emulator, &api).await;
    emulator.faults().expire_next_links(2);
    for _ in 0..2 {
        let expired = api.download(&url).await;
        assert_eq!(expired.status, 403);
        assert!(
            expired.text.contains("Request has expired"),
            "{}",
            expired.text
        );
    }
    assert_eq!(api.download(&url).await.status, 200);
}
