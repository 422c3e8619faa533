//! Export files: content per version and flags, exactly the ground truth; download semantics.

use std::collections::BTreeSet;

use chatvault_emulator::{DataSpec, EmulatorConfig, GroundTruthOptions, HOSTILE_TEXTS};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::common::{config, export_file, file_message_ids, one_channel_file, start, start_with};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn v1_single_channel_file_holds_exactly_the_window_of_the_ground_truth() {
    let (emulator, api) = start().await;
    let (since, until) = ("2025-05-10T00:00:00Z", "2025-05-12T06:30:00.000Z");
    let body = json!({"channels": [{"type": "team", "id": "project-001",
        "messages_since": since, "messages_until": until}]});
    let (id, url) = export_file(&emulator, &api, body).await;
    let reply = api.download(&url).await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    assert_eq!(
        reply
            .header("content-length")
            .unwrap()
            .parse::<usize>()
            .unwrap(),
        reply.text.len()
    );
    let doc = reply.json();
    let keys: BTreeSet<_> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["channel", "members", "messages"]));
    assert_eq!(doc["channel"]["cid"], "team:project-001");
    assert_eq!(doc["channel"]["team"], "blue");
    assert_eq!(doc["members"].as_array().unwrap().len(), 5);

    let created = emulator
        .tasks()
        .iter()
        .find(|t| t.id == id)
        .unwrap()
        .created_at;
    let truth = emulator.ground_truth(
        "team:project-001",
        Some(at(since)),
        Some(at(until)),
        GroundTruthOptions {
            as_of: Some(created),
            ..GroundTruthOptions::default()
        },
    );
    assert!(
        (54..=55).contains(&truth.len()),
        "24 a day, evenly: {}",
        truth.len()
    );
    assert_eq!(file_message_ids(&reply.text)["team:project-001"], truth);
    for message in doc["messages"].as_array().unwrap() {
        let t = at(message["created_at"].as_str().unwrap());
        assert!(t >= at(since) && t < at(until));
    }
}

#[tokio::test]
async fn v2_file_is_json_lines_with_a_type_envelope_matching_the_ground_truth() {
    let (emulator, api) = start().await;
    let body = json!({"version": "v2", "channels": [
        {"cid": "messaging:general-001", "messages_since": "2025-05-20T00:00:00Z"},
        {"cid": "livestream:broadcast-001", "messages_until": "2025-05-03T00:00:00Z"}]});
    let (_, url) = export_file(&emulator, &api, body).await;
    let reply = api.download(&url).await;
    assert_eq!(reply.header("content-type"), Some("application/x-ndjson"));
    let lines: Vec<Value> = reply
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let kinds: BTreeSet<_> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["channel", "member", "message", "reaction"])
    );
    assert!(lines.iter().all(|l| l["item"].is_object()));
    assert_eq!(lines.iter().filter(|l| l["type"] == "channel").count(), 2);
    let ids = file_message_ids(&reply.text);
    let options = GroundTruthOptions {
        as_of: Some(emulator.tasks()[0].created_at),
        ..Default::default()
    };
    let since = Some(at("2025-05-20T00:00:00Z"));
    assert_eq!(
        ids["messaging:general-001"],
        emulator.ground_truth("messaging:general-001", since, None, options)
    );
    let until = Some(at("2025-05-03T00:00:00Z"));
    assert_eq!(
        ids["livestream:broadcast-001"],
        emulator.ground_truth("livestream:broadcast-001", None, until, options)
    );
    // Each reaction line follows its message.
    let mut last_message = None;
    for line in &lines {
        match line["type"].as_str().unwrap() {
            "message" => last_message = Some(line["item"]["id"].clone()),
            "reaction" => assert_eq!(Some(line["item"]["message_id"].clone()), last_message),
            _ => {}
        }
    }
}

#[tokio::test]
async fn adjacent_windows_partition_the_history_without_duplicates() {
    let (emulator, api) = start().await;
    let cid = "messaging:general-001";
    let cuts = [
        "2025-05-02T00:00:00Z",
        "2025-05-09T13:17:00Z",
        "2025-05-20T00:00:00.5Z",
    ];
    let mut windows = vec![json!({"cid": cid, "messages_until": cuts[0]})];
    for pair in cuts.windows(2) {
        windows.push(json!({"cid": cid, "messages_since": pair[0], "messages_until": pair[1]}));
    }
    windows.push(json!({"cid": cid, "messages_since": cuts[2]}));
    let mut all = Vec::new();
    for window in windows {
        let (_, url) = export_file(&emulator, &api, json!({"channels": [window]})).await;
        let text = api.download(&url).await.text;
        all.extend(file_message_ids(&text).remove(cid).unwrap_or_default());
    }
    let unique: BTreeSet<_> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "no message twice");
    let last = emulator.tasks().last().unwrap().created_at;
    let whole = emulator.ground_truth(
        cid,
        None,
        None,
        GroundTruthOptions {
            as_of: Some(last),
            ..Default::default()
        },
    );
    assert_eq!(all, whole, "together they are the whole history, in order");
}

#[tokio::test]
async fn several_channels_in_v1_come_as_a_channels_array() {
    let (emulator, api) = start().await;
    let body = json!({"channels": [{"cid": "messaging:general-001"}, {"cid": "team:project-000"}]});
    let (_, url) = export_file(&emulator, &api, body).await;
    let doc = api.download(&url).await.json();
    let channels = doc["channels"].as_array().unwrap();
    assert_eq!(channels.len(), 2);
    assert_eq!(channels[1]["channel"]["cid"], "team:project-000");
    assert!(
        channels
            .iter()
            .all(|c| c["messages"].is_array() && c["members"].is_array())
    );
}

#[tokio::test]
async fn truncated_messages_are_exported_only_when_asked() {
    let (emulator, api) = start().await;
    let channel = emulator
        .channels()
        .into_iter()
        .find(|c| c.truncated_at.is_some() && c.deleted_at.is_none())
        .unwrap();
    let truncated_at = channel.truncated_at.unwrap();
    for include in [false, true] {
        let body =
            json!({"channels": [{"cid": channel.cid}], "include_truncated_messages": include});
        let (id, url) = export_file(&emulator, &api, body).await;
        let doc = api.download(&url).await.json();
        let created = emulator
            .tasks()
            .into_iter()
            .find(|t| t.id == id)
            .unwrap()
            .created_at;
        let options = GroundTruthOptions {
            include_truncated_messages: include,
            as_of: Some(created),
            ..Default::default()
        };
        let truth = emulator.ground_truth(&channel.cid, None, None, options);
        assert_eq!(file_message_ids(&doc.to_string())[&channel.cid], truth);
        let earliest = at(doc["messages"][0]["created_at"].as_str().unwrap());
        assert_eq!(earliest < truncated_at, include);
        assert!(doc["channel"]["truncated_at"].is_string());
    }
}

#[tokio::test]
async fn soft_deleted_channels_are_left_out_unless_included() {
    let (emulator, api) = start().await;
    let deleted = emulator
        .channels()
        .into_iter()
        .find(|c| c.deleted_at.is_some())
        .unwrap();
    let channels = json!([{"cid": "messaging:general-001"}, {"cid": deleted.cid}]);
    let (_, url) = export_file(&emulator, &api, json!({"channels": channels})).await;
    let doc = api.download(&url).await.json();
    assert_eq!(
        doc["channel"]["cid"], "messaging:general-001",
        "one channel left: single layout"
    );
    let options = GroundTruthOptions::default();
    assert!(
        emulator
            .ground_truth(&deleted.cid, None, None, options)
            .is_empty()
    );

    let body = json!({"channels": channels, "include_soft_deleted_channels": true, "include_truncated_messages": true});
    let (_, url) = export_file(&emulator, &api, body).await;
    let doc = api.download(&url).await.json();
    let kept = &doc["channels"][1];
    assert_eq!(kept["channel"]["cid"], deleted.cid.as_str());
    assert!(kept["channel"]["deleted_at"].is_string());
    let ids = file_message_ids(&doc.to_string());
    let options = GroundTruthOptions {
        include_soft_deleted_channels: true,
        include_truncated_messages: true,
        as_of: Some(emulator.tasks()[1].created_at),
    };
    let truth = emulator.ground_truth(&deleted.cid, None, None, options);
    assert!(!truth.is_empty());
    assert_eq!(ids[&deleted.cid], truth);
    let last = at(
        kept["messages"].as_array().unwrap().last().unwrap()["created_at"]
            .as_str()
            .unwrap(),
    );
    assert!(last < deleted.deleted_at.unwrap());
}

#[tokio::test]
async fn clear_deleted_message_text_blanks_deleted_messages_only() {
    let (emulator, api) = start().await;
    for clear in [false, true] {
        let body = json!({"channels": [{"cid": "messaging:general-001"}], "clear_deleted_message_text": clear});
        let (_, url) = export_file(&emulator, &api, body).await;
        let doc = api.download(&url).await.json();
        let messages = doc["messages"].as_array().unwrap();
        let deleted: Vec<_> = messages.iter().filter(|m| m["type"] == "deleted").collect();
        assert!(!deleted.is_empty());
        assert!(
            deleted.iter().all(|m| (m["text"] == "") == clear),
            "clear={clear}"
        );
        assert!(
            messages
                .iter()
                .filter(|m| m["type"] == "regular")
                .all(|m| m["text"] != "")
        );
    }
}

#[tokio::test]
async fn an_export_is_a_snapshot_and_new_messages_keep_arriving() {
    let (emulator, api) = start().await;
    let cid = "messaging:general-001";
    let (_, first) = export_file(&emulator, &api, json!({"channels": [{"cid": cid}]})).await;
    let first = file_message_ids(&api.download(&first).await.text)
        .remove(cid)
        .unwrap();
    emulator.clock().advance(Duration::days(1));
    let (_, second) = export_file(&emulator, &api, json!({"channels": [{"cid": cid}]})).await;
    let second = file_message_ids(&api.download(&second).await.text)
        .remove(cid)
        .unwrap();
    assert_eq!(first.len(), 30 * 24);
    assert_eq!(second.len(), 31 * 24);
    assert_eq!(second[..first.len()], first[..]);
    assert_eq!(
        emulator.ground_truth(cid, None, None, GroundTruthOptions::default()),
        second
    );
}

#[tokio::test]
async fn byte_ranges_are_served_against_an_exact_content_length() {
    let (emulator, api) = start().await;
    let url = one_channel_file(&emulator, &api).await;
    let full = api.download(&url).await;
    assert_eq!(full.header("accept-ranges"), Some("bytes"));
    let total = full.text.len();
    let ranged = |range: String| crate::common::read(api.http.get(&url).header("Range", range));
    let part = ranged("bytes=100-199".into()).await;
    assert_eq!(part.status, 206);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 100-199/{total}").as_str())
    );
    assert_eq!(part.text, full.text[100..200]);
    let tail = ranged(format!("bytes={}-", total - 10)).await;
    assert_eq!(tail.text, full.text[total - 10..]);
    let beyond = ranged(format!("bytes={total}-")).await;
    assert_eq!(beyond.status, 416);
}

#[tokio::test]
async fn tampered_or_unsigned_urls_are_refused_like_s3() {
    let (emulator, api) = start().await;
    let url = one_channel_file(&emulator, &api).await;
    let tampered = url.replace("Expires=", "Expires=9");
    let reply = api.download(&tampered).await;
    assert_eq!(reply.status, 403);
    assert_eq!(reply.header("content-type"), Some("application/xml"));
    assert!(
        reply.text.contains("<Code>SignatureDoesNotMatch</Code>"),
        "{}",
        reply.text
    );
    let unsigned = url.split('?').next().unwrap();
    let reply = api.download(unsigned).await;
    assert_eq!(reply.status, 403);
    assert!(reply.text.contains("<Code>AccessDenied</Code>"));
}

#[tokio::test]
async fn users_export_file_holds_each_users_lines() {
    let (emulator, api) = start().await;
    let reply = api
        .post(
            "/export/users",
            json!({"user_ids": ["user-003", "no-such-user"]}),
        )
        .await;
    let id = reply.json()["task_id"].as_str().unwrap().to_owned();
    emulator.clock().advance(Duration::minutes(1));
    let url = api.task(&id).await["result"]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let reply = api.download(&url).await;
    assert_eq!(reply.header("content-type"), Some("application/x-ndjson"));
    let lines: Vec<Value> = reply
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines[0], json!({"type": "user", "item": lines[0]["item"]}));
    assert_eq!(lines[0]["item"]["id"], "user-003");
    let messages: Vec<_> = lines.iter().filter(|l| l["type"] == "message").collect();
    assert!(!messages.is_empty());
    assert!(
        messages
            .iter()
            .all(|m| m["item"]["user"]["id"] == "user-003")
    );
}

#[tokio::test]
async fn truth_messages_match_the_file_threads_and_hostile_texts_included() {
    let (emulator, api) = start_with(EmulatorConfig {
        data: DataSpec {
            reply_every: 5,
            hostile_every: 7,
            ..DataSpec::default()
        },
        ..config()
    })
    .await;
    let since = at("2025-05-20T00:00:00Z");
    let body = json!({"version": "v2", "channels": [
        {"cid": "messaging:general-001", "messages_since": since}]});
    let (id, url) = export_file(&emulator, &api, body).await;
    let reply = api.download(&url).await;
    let in_file: Vec<Value> = reply
        .text
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["type"] == "message")
        .map(|l| l["item"].clone())
        .collect();
    let created = emulator
        .tasks()
        .iter()
        .find(|t| t.id == id)
        .unwrap()
        .created_at;
    let options = GroundTruthOptions {
        as_of: Some(created),
        ..GroundTruthOptions::default()
    };
    let truth = emulator.messages("messaging:general-001", Some(since), None, options);
    assert_eq!(
        truth.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        emulator.ground_truth("messaging:general-001", Some(since), None, options)
    );
    assert_eq!(truth.len(), in_file.len());
    for (m, item) in truth.iter().zip(&in_file) {
        assert_eq!(item["id"], m.id.as_str());
        assert_eq!(item["user"]["id"], m.user.as_str());
        assert_eq!(item["text"], m.text.as_str());
        assert_eq!(item["parent_id"].as_str(), m.parent_id.as_deref());
        assert_eq!(item["type"] == "deleted", m.deleted);
        assert_eq!(at(item["created_at"].as_str().unwrap()), m.created_at);
    }
    assert!(truth.iter().any(|m| m.parent_id.is_some()));
    assert!(truth.iter().any(|m| m.deleted));
    assert!(
        truth
            .iter()
            .any(|m| HOSTILE_TEXTS.contains(&m.text.as_str()))
    );
}
