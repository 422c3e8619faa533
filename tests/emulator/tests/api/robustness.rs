//! Odd requests get answers, never a crash: the server keeps serving afterwards.

use chrono::Duration;
use serde_json::json;

use crate::common::{export_file, read, start};

#[tokio::test]
async fn odd_requests_are_answered_and_the_server_keeps_serving() {
    let (emulator, api) = start().await;
    // Windows at the ends of the calendar.
    let body = json!({"channels": [{"cid": "messaging:general-001",
        "messages_since": "0001-01-01T00:00:00Z", "messages_until": "9999-12-31T23:59:59.999999Z"}]});
    let (_, url) = export_file(&emulator, &api, body).await;
    assert_eq!(
        api.download(&url).await.json()["messages"]
            .as_array()
            .unwrap()
            .len(),
        720
    );
    // Paths that do not decode, odd ranges, odd bodies.
    assert_eq!(api.get("/tasks/%FF%FE").await.status, 404);
    assert_eq!(api.get("/export_channels/%C0").await.status, 404);
    assert_eq!(
        api.download(&format!("{}/files/%FF", emulator.base_url()))
            .await
            .status,
        403
    );
    for range in [
        "bytes=-0",
        "bytes=18446744073709551615-",
        "bytes=0-18446744073709551615",
        "bytes=--1",
        "bytes=",
    ] {
        let reply = read(api.http.get(&url).header("Range", range)).await;
        assert!(
            [200, 206, 416].contains(&reply.status),
            "{range}: {}",
            reply.status
        );
    }
    for body in [
        "",
        "null",
        "[]",
        "\"x\"",
        "{\"channels\": {}}",
        "{\"channels\": [null]}",
    ] {
        let reply = api.post_raw("/export_channels", body).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.text);
    }
    assert_eq!(api.post_raw("/channels", "").await.status, 201);
    assert_eq!(
        api.post_raw("/channels", "{\"filter_conditions\": {\"$and\": 1}}")
            .await
            .status,
        400
    );
    // A clock at the end of the calendar.
    let control = format!("{}/_emulator/clock", emulator.base_url());
    let http = reqwest::Client::new();
    let far = http
        .post(format!("{control}/set"))
        .body(r#"{"now": "9999-12-31T23:59:59Z"}"#)
        .send()
        .await
        .unwrap();
    assert!(far.status().is_success());
    let huge = http
        .post(format!("{control}/advance"))
        .body(r#"{"seconds": 1e300}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), 400);
    let id = api
        .export(json!({"channels": [{"cid": "team:project-001"}]}))
        .await;
    emulator.clock().advance(Duration::minutes(1));
    assert_eq!(api.task(&id).await["status"], "completed");
    assert_eq!(api.post("/channels", json!({"limit": 1})).await.status, 201);
    // Still serving.
    assert_eq!(api.get("/tasks/x").await.status, 404);
}
