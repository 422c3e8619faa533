//! Rate limits: per endpoint, per minute of the emulator clock, with the headers on every answer.

use chatvault_emulator::{EmulatorConfig, RateLimits};
use chrono::Duration;
use serde_json::json;

use crate::common::{config, start, start_with};

fn limited(limits: RateLimits) -> EmulatorConfig {
    EmulatorConfig { limits, ..config() }
}

#[tokio::test]
async fn going_over_a_limit_is_429_code_9_until_the_next_minute() {
    let (emulator, api) = start_with(limited(RateLimits {
        get_task: 3,
        ..RateLimits::default()
    }))
    .await;
    let start = emulator.clock().now();
    let reset = start.timestamp() / 60 * 60 + 60;
    for remaining in [2, 1, 0] {
        let reply = api.get("/tasks/x").await;
        assert_eq!(reply.status, 404);
        assert_eq!(reply.assert_rate_headers(), (3, remaining, reset));
    }
    let reply = api.get("/tasks/x").await;
    reply.assert_error(429, 9, "GetTask", "");
    assert_eq!(reply.assert_rate_headers(), (3, 0, reset));
    let retry: i64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert_eq!(retry, reset - start.timestamp());
    // Other endpoints have their own quota.
    assert_eq!(api.get("/export_channels/x").await.status, 404);
    // The next minute on the emulator clock starts afresh.
    emulator.clock().advance(Duration::seconds(retry));
    let reply = api.get("/tasks/x").await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.assert_rate_headers(), (3, 2, reset + 60));
}

#[tokio::test]
async fn default_limits_are_60_for_exports_and_600_for_the_rest() {
    let (_emulator, api) = start().await;
    let export = json!({"channels": [{"cid": "messaging:general-001"}]});
    assert_eq!(
        api.post("/export_channels", export)
            .await
            .assert_rate_headers()
            .0,
        60
    );
    assert_eq!(
        api.post("/export/users", json!({"user_ids": ["user-001"]}))
            .await
            .assert_rate_headers()
            .0,
        60
    );
    assert_eq!(api.get("/tasks/x").await.assert_rate_headers().0, 600);
    assert_eq!(
        api.get("/export_channels/x").await.assert_rate_headers().0,
        600
    );
    assert_eq!(
        api.post("/channels", json!({}))
            .await
            .assert_rate_headers()
            .0,
        600
    );
}

#[tokio::test]
async fn rate_limits_endpoint_reports_the_quotas() {
    let (_emulator, api) = start().await;
    api.get("/tasks/x").await;
    let reply = api
        .get("/rate_limits?server_side=true&endpoints=GetTask,ExportChannels")
        .await;
    assert_eq!(reply.status, 200, "{}", reply.text);
    let body = reply.json();
    let limits = body["server_side"].as_object().unwrap();
    assert_eq!(limits.len(), 2);
    assert_eq!(limits["GetTask"]["limit"], 600);
    assert_eq!(limits["GetTask"]["remaining"], 599);
    assert_eq!(limits["ExportChannels"]["remaining"], 60);
    assert!(limits["ExportChannels"]["reset"].is_i64());
    let all = api.get("/rate_limits").await.json();
    assert_eq!(all["server_side"].as_object().unwrap().len(), 8);
}

#[tokio::test]
async fn the_per_second_burst_limit_runs_on_the_emulator_clock() {
    let limits = RateLimits {
        burst: true,
        ..RateLimits::default()
    };
    let (emulator, api) = start_with(limited(limits)).await;
    let body = json!({"channels": [{"cid": "messaging:general-001"}]});
    // 60 a minute allows 2 a second.
    assert_eq!(api.post("/export_channels", body.clone()).await.status, 201);
    assert_eq!(api.post("/export_channels", body.clone()).await.status, 201);
    let reply = api.post("/export_channels", body.clone()).await;
    reply.assert_error(429, 9, "ExportChannels", "");
    assert_eq!(reply.header("retry-after"), Some("1"));
    emulator.clock().advance(Duration::seconds(1));
    assert_eq!(api.post("/export_channels", body).await.status, 201);
}
