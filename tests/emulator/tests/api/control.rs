//! The `/_emulator/` control routes, as scripts use them.

use serde_json::{Value, json};

use crate::common::{SECRET, start};

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    body: Option<Value>,
) -> Value {
    let mut request = http.request(method, url);
    if let Some(body) = body {
        request = request.body(body.to_string());
    }
    let response = request.send().await.unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    response.json().await.unwrap()
}

#[tokio::test]
async fn control_routes_move_the_clock_set_faults_and_report() {
    let (emulator, api) = start().await;
    let http = reqwest::Client::new();
    let base = format!("{}/_emulator", emulator.base_url());
    let post = |path: &str, body: Value| {
        call(
            &http,
            reqwest::Method::POST,
            format!("{base}{path}"),
            Some(body),
        )
    };
    let get = |path: &str| call(&http, reqwest::Method::GET, format!("{base}{path}"), None);

    assert_eq!(get("/clock").await["now"], "2025-06-01T00:00:00.000000Z");
    assert_eq!(get("/clock").await["mode"], "manual");
    let token = post("/token", json!({})).await["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let task_id = api
        .with_token(&token)
        .export(json!({"channels": [{"cid": "messaging:general-001"}]}))
        .await;
    assert_eq!(
        post("/clock/advance", json!({"seconds": 60})).await["now"],
        "2025-06-01T00:01:00.000000Z"
    );
    assert_eq!(api.task(&task_id).await["status"], "completed");
    let tasks = get("/tasks").await;
    assert_eq!(tasks[0]["id"], task_id.as_str());
    assert_eq!(tasks[0]["status"], "completed");
    assert_eq!(tasks[0]["kind"]["kind"], "channels");

    post(
        "/faults",
        json!({"kind": "rate_limited", "endpoint": "GetTask", "count": 1}),
    )
    .await;
    assert_eq!(api.get(&format!("/tasks/{task_id}")).await.status, 429);
    post("/faults", json!({"kind": "clear"})).await;

    let truth = get("/ground_truth?cid=messaging:general-001&since=2025-05-31T00:00:00Z").await;
    assert_eq!(truth["count"], 24);
    assert_eq!(truth["message_ids"].as_array().unwrap().len(), 24);
    let count = get(
        "/ground_truth?cid=messaging:general-000&include_truncated_messages=true&count_only=true",
    )
    .await;
    assert_eq!(count["count"], 30 * 24);
    assert!(count.get("message_ids").is_none());
    assert_eq!(get("/channels").await.as_array().unwrap().len(), 9);

    let log = get("/requests").await;
    let log_text = log.to_string();
    assert!(
        log.as_array()
            .unwrap()
            .iter()
            .any(|r| r["status"] == 429 && r["endpoint"] == "GetTask")
    );
    assert!(
        !log_text.contains(&token) && !log_text.contains(SECRET) && !log_text.contains("api_key")
    );
    call(
        &http,
        reqwest::Method::DELETE,
        format!("{base}/requests"),
        None,
    )
    .await;
    assert!(emulator.requests().is_empty());

    post("/clock/set", json!({"now": "2025-07-01T00:00:00Z"})).await;
    assert_eq!(
        emulator.clock().now().to_rfc3339(),
        "2025-07-01T00:00:00+00:00"
    );
    let bad = http
        .post(format!("{base}/faults"))
        .body("{\"kind\": \"meteor\"}")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn the_request_log_records_each_call_on_the_emulator_clock() {
    let (emulator, api) = start().await;
    api.get("/tasks/x").await;
    emulator.clock().advance(chrono::Duration::hours(1));
    api.post(
        "/export_channels",
        json!({"channels": [{"cid": "messaging:general-001"}]}),
    )
    .await;
    api.get("/nowhere").await;
    let log = emulator.requests();
    assert_eq!(log.len(), 3);
    assert_eq!(
        (log[0].method.as_str(), log[0].path.as_str(), log[0].status),
        ("GET", "/tasks/x", 404)
    );
    assert_eq!(
        log[1].endpoint,
        Some(chatvault_emulator::Endpoint::ExportChannels)
    );
    assert_eq!(log[1].at - log[0].at, chrono::Duration::hours(1));
    assert_eq!((log[2].endpoint, log[2].status), (None, 404));
}
