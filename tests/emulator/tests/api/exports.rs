//! Creating exports, their lifecycle on the emulator clock, and the status answers.

use chatvault_emulator::{TaskKind, TaskStatus};
use chrono::Duration;
use serde_json::{Value, json};

use crate::common::{export_file, start};

fn one_channel() -> Value {
    json!({"channels": [{"type": "messaging", "id": "general-001"}]})
}

fn is_uuid(id: &str) -> bool {
    let groups: Vec<_> = id.split('-').map(str::len).collect();
    groups == [8, 4, 4, 4, 12] && id.chars().all(|c| c == '-' || c.is_ascii_hexdigit())
}

fn query_of(url: &str) -> std::collections::HashMap<String, String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

#[tokio::test]
async fn export_channels_answers_201_with_a_task_id_duration_and_rate_headers() {
    let (emulator, api) = start().await;
    let reply = api.post("/export_channels", one_channel()).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let body = reply.json();
    assert!(is_uuid(body["task_id"].as_str().unwrap()), "{body}");
    assert!(body["duration"].as_str().unwrap().ends_with("ms"));
    let (limit, remaining, reset) = reply.assert_rate_headers();
    assert_eq!((limit, remaining), (60, 59));
    let minute = emulator.clock().now().timestamp() / 60 * 60;
    assert_eq!(reset, minute + 60);
    let tasks = emulator.tasks();
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0].id, body["task_id"].as_str().unwrap());
    let TaskKind::Channels { channels, .. } = &tasks[0].kind else {
        panic!("{tasks:?}")
    };
    assert_eq!(channels[0].cid, "messaging:general-001");
}

#[tokio::test]
async fn tasks_move_from_waiting_to_completed_as_the_clock_advances() {
    let (emulator, api) = start().await;
    let id = api.export(one_channel()).await;
    let created = emulator.clock().now();
    let step = |secs| {
        emulator.clock().set(created + Duration::seconds(secs));
    };
    for (secs, status) in [
        (0, "waiting"),
        (1, "waiting"),
        (2, "pending"),
        (5, "running"),
        (9, "running"),
    ] {
        step(secs);
        for path in [format!("/tasks/{id}"), format!("/export_channels/{id}")] {
            let reply = api.get(&path).await;
            assert_eq!(reply.status, 200, "{}", reply.text);
            let body = reply.json();
            assert_eq!(body["status"], status, "at +{secs}s: {body}");
            assert_eq!(body["task_id"], id.as_str());
            assert!(
                body.get("result").is_none() && body.get("error").is_none(),
                "{body}"
            );
            assert!(body["duration"].as_str().unwrap().ends_with("ms"));
            reply.assert_rate_headers();
        }
    }
    step(10);
    let body = api.task(&id).await;
    assert_eq!(body["status"], "completed");
    assert!(body.get("error").is_none());
    assert_eq!(
        body["created_at"],
        created.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    );
    let completed = created + Duration::seconds(10);
    assert_eq!(
        body["updated_at"],
        completed.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
    );
    let result = &body["result"];
    assert!(
        result["url"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{}/files/", emulator.base_url()))
    );
    assert_eq!(
        result["path"],
        format!("exports/channels/{id}/channels-export.json")
    );
    assert_eq!(result["s3_bucket_name"], "stream-chat-exports-emulator");
    assert_eq!(emulator.tasks()[0].status, TaskStatus::Completed);
    let status = api.get(&format!("/export_channels/{id}")).await.json();
    assert_eq!(status["result"]["path"], result["path"]);
}

#[tokio::test]
async fn every_status_request_mints_a_url_valid_for_24_hours() {
    let (emulator, api) = start().await;
    let (id, first) = export_file(&emulator, &api, one_channel()).await;
    let expires = |url: &str| query_of(url)["Expires"].parse::<i64>().unwrap();
    let now = emulator.clock().now().timestamp();
    assert_eq!(expires(&first), now + 24 * 3600);
    assert_eq!(api.download(&first).await.status, 200);

    emulator.clock().advance(Duration::hours(23));
    let second = api.task(&id).await["result"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(first, second);
    assert_eq!(expires(&second), now + 47 * 3600);

    emulator.clock().advance(Duration::hours(1));
    let expired = api.download(&first).await;
    assert_eq!(expired.status, 403);
    assert!(
        expired.text.contains("<Code>AccessDenied</Code>"),
        "{}",
        expired.text
    );
    assert!(expired.text.contains("Request has expired"));
    assert_eq!(api.download(&second).await.status, 200);
}

#[tokio::test]
async fn unknown_tasks_are_404_code_16_on_both_status_routes() {
    let (_emulator, api) = start().await;
    let id = "0b4c1e2f-0000-4000-8000-000000000000";
    api.get(&format!("/tasks/{id}")).await.assert_error(
        404,
        16,
        "GetTask",
        &format!("Can't find task with id {id}"),
    );
    api.get(&format!("/export_channels/{id}"))
        .await
        .assert_error(
            404,
            16,
            "GetExportChannelsStatus",
            &format!("Can't find task with id {id}"),
        );
}

#[tokio::test]
async fn exporting_an_unknown_channel_is_404_code_16_cant_find_channel() {
    let (emulator, api) = start().await;
    let body = json!({"channels": [{"cid": "messaging:general-001"}, {"type": "messaging", "id": "nope"}]});
    api.post("/export_channels", body).await.assert_error(
        404,
        16,
        "ExportChannels",
        "Can't find channel with cid messaging:nope",
    );
    assert!(emulator.tasks().is_empty());
}

#[tokio::test]
async fn bad_export_input_is_400_code_4() {
    let (emulator, api) = start().await;
    let many: Vec<Value> = (0..26)
        .map(|i| json!({"type": "messaging", "id": format!("c{i}")}))
        .collect();
    let cases = [
        (json!({}), "channels is a required field"),
        (json!({"channels": []}), "at least one channel"),
        (json!({"channels": many}), "at most 25 channels"),
        (
            json!({"channels": [{"type": "messaging"}]}),
            "either cid or type and id",
        ),
        (
            json!({"channels": [{"id": "general-001"}]}),
            "either cid or type and id",
        ),
        (json!({"channels": [{"cid": "general-001"}]}), "type:id"),
        (
            json!({"channels": [{"cid": "messaging:general-001", "messages_since": "last tuesday"}]}),
            "RFC 3339",
        ),
        (
            json!({"channels": [{"cid": "messaging:general-001", "messages_until": 1700000000}]}),
            "RFC 3339",
        ),
        (
            json!({"channels": [{"cid": "messaging:general-001"}], "version": "v3"}),
            "version",
        ),
        (
            json!({"channels": [{"cid": "messaging:general-001"}], "include_truncated_messages": "yes"}),
            "boolean",
        ),
    ];
    for (body, detail) in cases {
        api.post("/export_channels", body)
            .await
            .assert_error(400, 4, "ExportChannels", detail);
    }
    api.post_raw("/export_channels", "{not json")
        .await
        .assert_error(400, 4, "ExportChannels", "invalid JSON");
    for body in [
        json!({}),
        json!({"user_ids": []}),
        json!({"user_ids": (0..26).map(|i| format!("u{i}")).collect::<Vec<_>>()}),
        json!({"user_ids": [1]}),
    ] {
        api.post("/export/users", body)
            .await
            .assert_error(400, 4, "ExportUsers", "user_ids");
    }
    assert!(emulator.tasks().is_empty());
}

#[tokio::test]
async fn null_windows_cid_items_and_every_option_are_accepted() {
    let (emulator, api) = start().await;
    let body = json!({
        "channels": [
            {"type": "messaging", "id": "general-001", "messages_since": null, "messages_until": null},
            {"cid": "livestream:broadcast-000", "messages_since": "2025-05-10T00:00:00.000Z",
             "messages_until": "2025-05-11T00:00:00"},
        ],
        "version": "v2", "include_truncated_messages": true, "include_soft_deleted_channels": false,
        "clear_deleted_message_text": false, "export_users": false,
    });
    api.export(body).await;
    let TaskKind::Channels { channels, options } = &emulator.tasks()[0].kind else {
        panic!()
    };
    assert_eq!(channels[1].cid, "livestream:broadcast-000");
    assert_eq!(
        channels[1].messages_until.unwrap().to_rfc3339(),
        "2025-05-11T00:00:00+00:00"
    );
    assert!(channels[0].messages_since.is_none());
    assert!(options.include_truncated_messages);
}

#[tokio::test]
async fn users_exports_complete_with_a_url_under_exports_users() {
    let (emulator, api) = start().await;
    let reply = api
        .post(
            "/export/users",
            json!({"user_ids": ["user-001", "user-002"]}),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.assert_rate_headers();
    let id = reply.json()["task_id"].as_str().unwrap().to_owned();
    emulator.clock().advance(Duration::minutes(1));
    let body = api.task(&id).await;
    assert_eq!(body["status"], "completed");
    let url = body["result"]["url"].as_str().unwrap();
    assert!(url.contains("/exports/users/"), "{url}");
    // The channel-export status route serves channel exports only (an assumption).
    api.get(&format!("/export_channels/{id}"))
        .await
        .assert_error(404, 16, "GetExportChannelsStatus", "Can't find task");
}

#[tokio::test]
async fn an_injected_task_failure_ends_failed_with_an_error_object() {
    let (emulator, api) = start().await;
    emulator.faults().fail_next_tasks(1);
    let failing = api.export(one_channel()).await;
    let fine = api.export(one_channel()).await;
    emulator.clock().advance(Duration::seconds(5));
    assert_eq!(api.task(&failing).await["status"], "running");
    emulator.clock().advance(Duration::seconds(5));
    let body = api.task(&failing).await;
    assert_eq!(body["status"], "failed");
    assert!(
        body["error"]["type"].is_string() && body["error"]["description"].is_string(),
        "{body}"
    );
    assert!(body.get("result").is_none());
    assert_eq!(api.task(&fine).await["status"], "completed");
}

#[tokio::test]
async fn tasks_and_their_files_lapse_after_60_days() {
    let (emulator, api) = start().await;
    let (id, _) = export_file(&emulator, &api, one_channel()).await;
    let created = emulator.tasks()[0].created_at;
    emulator
        .clock()
        .set(created + Duration::days(60) - Duration::seconds(1));
    let url = api.task(&id).await["result"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(api.download(&url).await.status, 200);
    emulator.clock().advance(Duration::seconds(1));
    api.get(&format!("/tasks/{id}")).await.assert_error(
        404,
        16,
        "GetTask",
        &format!("Can't find task with id {id}"),
    );
    api.get(&format!("/export_channels/{id}"))
        .await
        .assert_error(404, 16, "GetExportChannelsStatus", "Can't find task");
    let gone = api.download(&url).await;
    assert_eq!(gone.status, 404);
    assert!(
        gone.text.contains("<Code>NoSuchKey</Code>"),
        "{}",
        gone.text
    );
    assert!(emulator.tasks()[0].lapsed);
}
