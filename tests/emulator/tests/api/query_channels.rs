//! `POST /channels`: the channel list the tool discovers channels with.

use serde_json::{Value, json};

use crate::common::{SECRET, jwt, start};

fn cids(body: &Value) -> Vec<&str> {
    body["channels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["channel"]["cid"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn query_channels_answers_201_with_channel_state() {
    let (_emulator, api) = start().await;
    let body = json!({"filter_conditions": {"type": "team"}, "sort": [{"field": "cid", "direction": 1}],
        "state": true, "watch": false, "presence": false, "limit": 10});
    let reply = api.post("/channels", body).await;
    assert_eq!(reply.status, 201, "{}", reply.text);
    reply.assert_rate_headers();
    let body = reply.json();
    assert!(body["duration"].as_str().unwrap().ends_with("ms"));
    assert_eq!(
        cids(&body),
        ["team:project-000", "team:project-001"],
        "the deleted one is not listed"
    );
    let first = &body["channels"][0];
    let channel = &first["channel"];
    for key in [
        "id",
        "type",
        "cid",
        "created_at",
        "updated_at",
        "created_by",
        "member_count",
        "config",
        "last_message_at",
    ] {
        assert!(!channel[key].is_null(), "{key} in {channel}");
    }
    assert_eq!(channel["team"], "red");
    assert_eq!(first["members"].as_array().unwrap().len(), 5);
    let messages = first["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 25);
    assert_eq!(
        messages.last().unwrap()["created_at"],
        channel["last_message_at"]
    );
}

#[tokio::test]
async fn filters_select_by_cid_id_type_and_custom_fields() {
    let (_emulator, api) = start().await;
    let query = |filter: Value| {
        let api = api.clone();
        async move {
            let body = json!({"filter_conditions": filter, "sort": [{"field": "cid", "direction": 1}], "state": false});
            let reply = api.post("/channels", body).await;
            assert_eq!(reply.status, 201, "{}", reply.text);
            cids(&reply.json())
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        query(json!({"cid": {"$in": ["messaging:general-001", "team:project-001"]}})).await,
        ["messaging:general-001", "team:project-001"]
    );
    assert_eq!(
        query(json!({"type": "livestream", "id": {"$in": ["broadcast-000", "broadcast-002"]}}))
            .await,
        ["livestream:broadcast-000"]
    );
    assert_eq!(query(json!({"team": "blue"})).await, ["team:project-001"]);
    assert_eq!(
        query(json!({"team": {"$in": ["red", "blue"]}})).await,
        ["team:project-000", "team:project-001"]
    );
    assert_eq!(
        query(json!({"type": {"$eq": "messaging"}})).await,
        ["messaging:general-000", "messaging:general-001"]
    );
}

#[tokio::test]
async fn limit_and_offset_page_through_a_stable_order() {
    let (_emulator, api) = start().await;
    let page = |offset: u64| {
        let api = api.clone();
        async move {
            let body =
                json!({"filter_conditions": {}, "limit": 2, "offset": offset, "state": false});
            let reply = api.post("/channels", body).await;
            cids(&reply.json())
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>()
        }
    };
    let mut all = Vec::new();
    for offset in (0..8).step_by(2) {
        all.extend(page(offset).await);
    }
    assert_eq!(all.len(), 6, "{all:?}");
    let unique: std::collections::BTreeSet<_> = all.iter().collect();
    assert_eq!(unique.len(), 6);
}

#[tokio::test]
async fn out_of_range_options_and_bad_filters_are_400_code_4() {
    let (_emulator, api) = start().await;
    for body in [
        json!({"limit": 31}),
        json!({"offset": 1001}),
        json!({"message_limit": 301}),
        json!({"filter_conditions": {"type": {"$regex": "x"}}}),
        json!({"filter_conditions": []}),
        json!({"sort": [{"field": "cid", "direction": 0}]}),
    ] {
        api.post("/channels", body)
            .await
            .assert_error(400, 4, "QueryChannels", "");
    }
}

#[tokio::test]
async fn user_tokens_see_only_their_channels() {
    let (emulator, api) = start().await;
    let user = "user-000";
    let reply = api
        .with_token(&jwt(&json!({"user_id": user}), SECRET))
        .post(
            "/channels",
            json!({"filter_conditions": {}, "state": false}),
        )
        .await;
    let member_of: Vec<String> = emulator
        .channels()
        .into_iter()
        .filter(|c| c.deleted_at.is_none() && c.members.iter().any(|m| m == user))
        .map(|c| c.cid)
        .collect();
    let mut got: Vec<String> = cids(&reply.json()).into_iter().map(str::to_owned).collect();
    got.sort();
    assert_eq!(got, member_of);
}
