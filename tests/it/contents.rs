//! What an archive holds and lacks, through the binary against the emulator: manifests count
//! per channel its messages and first/last time and per user everything the archive holds of
//! them (format 3); a run leaves erased users out of what it stores; a
//! channel asked for but absent from its export is named; users are one snapshot per tick,
//! whatever the window pieces; a user's export at Stream's 10,000-message cap is flagged.

use chatvault::archive::manifest::{FORMAT, Manifest};
use chatvault_emulator::{Emulator, Endpoint, GroundTruthOptions};
use chrono::TimeDelta;

use crate::common::processes::{command, finish, realtime_config, start_emulator};
use crate::common::{Project, files_below, manifests_below, midnight, write_archive};

fn project(emu: &Emulator, job: &str) -> Project {
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    project.job("contents.yaml", job);
    project
}

fn creates(emu: &Emulator, endpoint: Endpoint) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.endpoint == Some(endpoint))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manifests_count_each_archive_and_a_channel_absent_from_its_export_is_named() {
    let emu = start_emulator(realtime_config(48)).await;
    // general-001 is soft-deleted at the emulator: left out of an export without
    // include_soft_deleted_channels.
    let project = project(
        &emu,
        "name: contents\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: messaging\n    ids: [general-000, general-001]\n\
         destination:\n  url: file://archive\n  compression: zstd\n",
    );
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(
        code, 0,
        "the rest was archived: a success\n{stdout}\n{stderr}"
    );
    assert!(
        stdout.contains("warning: channel messaging:general-001 is not in its export")
            && stdout.contains("include_soft_deleted_channels: true"),
        "the channel and the setting are named:\n{stdout}"
    );

    let all = manifests_below::<Manifest>(&project.dir.path().join("archive"));
    assert_eq!(all.len(), 1, "{all:?}");
    let manifest = &all[0];
    assert_eq!(manifest.format, FORMAT);
    let contents = manifest.contents.as_ref().expect("format 3 counts");
    let expected = emu.ground_truth(
        "messaging:general-000",
        Some(midnight() - TimeDelta::days(1)),
        Some(midnight()),
        GroundTruthOptions {
            include_truncated_messages: false,
            include_soft_deleted_channels: false,
            as_of: None,
        },
    );
    assert!(!expected.is_empty(), "the window has messages");
    let general = &contents.channels["messaging:general-000"];
    assert_eq!(general.messages, expected.len() as u64);
    let (first, last) = (
        general.first_message_at.expect("a first time"),
        general.last_message_at.expect("a last time"),
    );
    assert!(
        midnight() - TimeDelta::days(1) <= first && first <= last && last < midnight(),
        "{first} .. {last}"
    );
    assert!(!contents.channels.contains_key("messaging:general-001"));
    let by_users: u64 = contents.users.values().map(|u| u.messages).sum();
    assert_eq!(by_users, general.messages, "every message has its author");
    let members = emu
        .channels()
        .into_iter()
        .find(|c| c.cid == "messaging:general-000")
        .expect("the channel")
        .members;
    for member in &members {
        assert_eq!(
            contents.users[member].memberships, 1,
            "every member is counted, author or not: {member}"
        );
    }
    assert_eq!(
        contents.users[&members[0]].mentions, 1,
        "the channel's creator is named by it"
    );
    assert!(
        contents.users.values().map(|u| u.reactions).sum::<u64>() > 0,
        "reactions count for whoever reacted"
    );

    let (code, stdout, _) = finish(command(
        &project,
        &emu,
        &["status", "--format", "json", "jobs"],
    ))
    .await;
    assert_eq!(code, 0, "{stdout}");
    let status: serde_json::Value = serde_json::from_str(&stdout).expect("status JSON");
    assert!(
        status[0]["warnings"][0]
            .as_str()
            .is_some_and(|w| w.contains("messaging:general-001")),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_one_snapshot_per_tick_whatever_the_window_pieces() {
    let emu = start_emulator(realtime_config(48)).await;
    let project = project(
        &emu,
        "name: contents\nschedule: \"0 0 * * *\"\nwindow:\n  max: 6h\n\
         channels:\n  - cid: messaging:general-000\n\
         users: [user-000, user-001]\n\
         destination:\n  url: file://archive\n  compression: none\n",
    );
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(
        creates(&emu, Endpoint::ExportChannels),
        4,
        "a day in 6h pieces"
    );
    assert_eq!(
        creates(&emu, Endpoint::ExportUsers),
        1,
        "the users once, not once per piece"
    );
    let all = manifests_below::<Manifest>(&project.dir.path().join("archive"));
    let users: Vec<&Manifest> = all.iter().filter(|m| m.kind == "users").collect();
    assert_eq!(users.len(), 1, "{all:?}");
    let snapshot = users[0];
    assert!(snapshot.snapshot_at.is_some(), "{snapshot:?}");
    assert_eq!((snapshot.window_since, snapshot.window_until), (None, None));
    assert!(
        snapshot
            .key
            .contains(&midnight().format("%Y/%m/%d").to_string()),
        "keyed from the tick: {}",
        snapshot.key
    );
    let per_user = &snapshot.contents.as_ref().expect("counts").users;
    assert!(per_user.contains_key("user-000"), "{per_user:?}");

    let hourly = project.job(
        "hourly.yaml",
        "schedule: \"@hourly\"\nusers: [user-000]\n\
         destination:\n  url: file://archive2\n  key: \"{job}/{window_start:%Y%m%dT%H%M}/{kind}-{batch}.{ext}\"\n",
    );
    let (code, stdout, stderr) = finish(command(&project, &emu, &["validate", &hourly])).await;
    assert_eq!(code, 0, "a warning, not an error\n{stdout}\n{stderr}");
    assert!(
        stdout.contains("warning: users: a users export is a snapshot"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_users_export_at_streams_cap_is_flagged_as_probably_cut() {
    let mut config = realtime_config(5_000);
    // One member per channel: user-000 wrote every message of general-000, three days of
    // 5,000, which Stream's users export cuts at 10,000.
    config.data.channels_per_type = 1;
    config.data.members_per_channel = 1;
    let emu = start_emulator(config).await;
    let project = project(
        &emu,
        "name: contents\nschedule: \"0 0 * * *\"\nusers: [user-000]\n\
         destination:\n  url: file://archive\n  compression: zstd\n",
    );
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("warning: user user-000's export holds 10000 messages")
            && stdout.contains("probably cut"),
        "{stdout}"
    );
    let (_, stdout, _) = finish(command(&project, &emu, &["status", "jobs"])).await;
    assert!(
        stdout.contains("warning        user user-000's export holds 10000 messages"),
        "{stdout}"
    );
}

/// The lines of every archive below `dir` (stored uncompressed), parsed.
fn lines_below(dir: &std::path::Path) -> Vec<serde_json::Value> {
    files_below(dir, ".jsonl")
        .into_iter()
        .flat_map(|path| {
            let text = std::fs::read_to_string(&path).expect("an archive");
            text.lines()
                .map(|l| serde_json::from_str(l).expect("a JSON line"))
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Whose a line is: its item's `user.id` or `user_id`.
fn owner(line: &serde_json::Value) -> Option<&str> {
    let item = &line["item"];
    item["user"]["id"].as_str().or(item["user_id"].as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_leaves_an_erased_user_out_of_new_exports_and_keeps_everyone_else() {
    let emu = start_emulator(realtime_config(48)).await;
    let channel = emu
        .channels()
        .into_iter()
        .find(|c| c.cid == "messaging:general-000")
        .expect("the channel");
    // The channel's creator: a member, an author, and named in the channel's `created_by`.
    let gone = channel.members[0].clone();
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    for (name, folder) in [("erased", "archive-erased"), ("plain", "archive-plain")] {
        project.job(
            &format!("{name}.yaml"),
            format!(
                "name: {name}\nschedule: \"0 0 * * *\"\n\
                 channels:\n  - cid: messaging:general-000\n\
                 destination:\n  url: file://{folder}\n  compression: none\n"
            ),
        );
    }
    // A users snapshot asking for them and one other user.
    let other = channel.members[1].clone();
    project.job(
        "snapshot.yaml",
        format!(
            "name: snapshot\nschedule: \"0 0 * * *\"\nusers: [{gone}, {other}]\n\
             destination:\n  url: file://archive-snapshot\n  compression: none\n"
        ),
    );
    let url = chatvault::store::url::StoreUrl::parse("file://.chatvault/state", project.dir.path())
        .expect("a state URL");
    let state =
        chatvault::store::open(&url, &chatvault::store::StoreOptions::new(), &[]).expect("opens");
    let request = chatvault::state::erasures::ErasureRequest::new(
        gone.clone(),
        "Art. 17 request".into(),
        vec!["erased".into(), "snapshot".into()],
        midnight(),
    );
    chatvault::state::erasures::request(&state, &request)
        .await
        .expect("the request is recorded");

    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("left the items of erased users out of the export"),
        "the run says what it left out:\n{stderr}"
    );
    assert!(
        !stderr.contains(&gone),
        "the id is logged only at DEBUG:\n{stderr}"
    );

    let plain = lines_below(&project.dir.path().join("archive-plain"));
    let kept = lines_below(&project.dir.path().join("archive-erased"));
    let theirs = |lines: &[serde_json::Value], kind: &str| {
        lines
            .iter()
            .filter(|l| l["type"] == kind && owner(l) == Some(gone.as_str()))
            .count()
    };
    for kind in ["message", "member", "reaction"] {
        assert!(
            theirs(&plain, kind) > 0,
            "a job the request does not name keeps their {kind}s"
        );
        assert_eq!(theirs(&kept, kind), 0, "no {kind} of theirs is stored");
    }
    let others = |lines: &[serde_json::Value]| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l["type"] == "message" && owner(l) != Some(gone.as_str()))
            .map(|l| l["item"]["id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert!(!others(&plain).is_empty());
    assert_eq!(others(&kept), others(&plain), "every other message stays");
    let created_by = kept
        .iter()
        .find(|l| l["type"] == "channel")
        .map(|l| l["item"]["created_by"].clone())
        .expect("the channel's line");
    assert_eq!(
        created_by,
        serde_json::json!({"id": "erased-user", "name": "Erased user"}),
        "the channel they created names the placeholder"
    );
    let text: String = kept.iter().map(ToString::to_string).collect();
    assert!(!text.contains(&format!("\"{gone}\"")), "no trace of the id");

    let manifests = manifests_below::<Manifest>(&project.dir.path().join("archive-erased"));
    let contents = manifests[0].contents.as_ref().expect("counts");
    assert!(
        !contents.users.contains_key(&gone),
        "counted from what is stored"
    );
    assert_eq!(
        contents.channels["messaging:general-000"].messages,
        others(&kept).len() as u64
    );

    let snapshots = manifests_below::<Manifest>(&project.dir.path().join("archive-snapshot"));
    assert_eq!(snapshots.len(), 1);
    assert_eq!(
        snapshots[0].users,
        [other],
        "the snapshot's manifest names only whom it holds"
    );
    assert!(
        snapshots[0].missing.is_empty(),
        "an erased user is not missing"
    );
    let stored = lines_below(&project.dir.path().join("archive-snapshot"));
    let text: String = stored.iter().map(ToString::to_string).collect();
    assert!(!text.contains(&format!("\"{gone}\"")), "no trace of the id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_v1_document_is_stored_without_an_erased_user() {
    let emu = start_emulator(realtime_config(48)).await;
    let members = emu
        .channels()
        .into_iter()
        .find(|c| c.cid == "messaging:general-000")
        .expect("the channel")
        .members;
    let gone = members[0].clone();
    let project = project(
        &emu,
        "name: contents\nschedule: \"0 0 * * *\"\nexport:\n  version: v1\n\
         channels:\n  - cid: messaging:general-000\n\
         destination:\n  url: file://archive\n  compression: none\n",
    );
    let url = chatvault::store::url::StoreUrl::parse("file://.chatvault/state", project.dir.path())
        .expect("a state URL");
    let state =
        chatvault::store::open(&url, &chatvault::store::StoreOptions::new(), &[]).expect("opens");
    let request = chatvault::state::erasures::ErasureRequest::new(
        gone.clone(),
        "Art. 17 request".into(),
        Vec::new(),
        midnight(),
    );
    chatvault::state::erasures::request(&state, &request)
        .await
        .expect("the request is recorded");
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    let files = files_below(&project.dir.path().join("archive"), ".json");
    let archive = files
        .iter()
        .find(|p| {
            !p.to_string_lossy().ends_with(".manifest.json")
                && !p.to_string_lossy().contains("_chatvault")
        })
        .expect("the archive");
    let text = std::fs::read_to_string(archive).expect("read");
    let document: serde_json::Value = serde_json::from_str(&text).expect("one JSON document");
    assert!(!text.contains(&format!("\"{gone}\"")), "no trace of the id");
    assert_eq!(document["channel"]["created_by"]["id"], "erased-user");
    let kept_members: Vec<&str> = document["members"]
        .as_array()
        .expect("members")
        .iter()
        .filter_map(|m| m["user_id"].as_str())
        .collect();
    assert_eq!(
        kept_members,
        members[1..].iter().map(String::as_str).collect::<Vec<_>>()
    );
    let truth = emu.messages(
        "messaging:general-000",
        Some(midnight() - TimeDelta::days(1)),
        Some(midnight()),
        GroundTruthOptions {
            include_truncated_messages: false,
            include_soft_deleted_channels: false,
            as_of: None,
        },
    );
    let others: Vec<&str> = truth
        .iter()
        .filter(|m| m.user != gone)
        .map(|m| m.id.as_str())
        .collect();
    assert!(others.len() < truth.len(), "they wrote in the window");
    let stored: Vec<&str> = document["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["id"].as_str())
        .collect();
    assert_eq!(stored, others, "every other message stays, in order");
}

#[test]
fn index_writes_records_counting_everyone_for_format_1_and_2_manifests_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let lines = |author: &str| {
        vec![
            serde_json::json!({"type": "channel", "item": {"cid": "messaging:x", "created_by": {"id": "boss"}}}),
            serde_json::json!({"type": "member", "item": {"user_id": "quiet"}}),
            serde_json::json!({"type": "message", "item": {
                "id": format!("{author}-1"), "cid": "messaging:x", "text": "hello",
                "user": {"id": author}, "created_at": "2026-01-01T00:00:01Z",
            }}),
        ]
    };
    write_archive(&store, "old/1/channels-0001.jsonl", "old", &lines("alice"));
    write_archive(&store, "old/2/channels-0001.jsonl", "old", &lines("bob"));
    // The second as manifest format 2 wrote it: counts of its authors only.
    let second = store.join("old/2/channels-0001.jsonl.manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&second).expect("read")).expect("json");
    manifest["format"] = 2.into();
    manifest["contents"] = serde_json::json!({
        "channels": {"messaging:x": {"messages": 1}},
        "users": {"bob": {"messages": 1}},
    });
    std::fs::write(&second, manifest.to_string()).expect("write");
    let url = format!("file://{}", store.display());
    let index = || {
        let out = crate::common::chatvault_in(dir.path())
            .args(["index", "--url", &url])
            .output()
            .expect("runs");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        (out.status.code(), stdout)
    };
    let (code, stdout) = index();
    assert_eq!(code, Some(0), "{stdout}");
    assert!(
        stdout.starts_with("2 catalog record(s) written"),
        "{stdout}"
    );
    for (n, author) in [(1, "alice"), (2, "bob")] {
        let path = store.join(format!("old/{n}/channels-0001.jsonl.catalog.json"));
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("a record")).expect("json");
        assert_eq!(record["format"], 2);
        let users = &record["contents"]["users"];
        assert_eq!(users[author]["messages"], 1, "{users}");
        assert_eq!(users["quiet"]["memberships"], 1, "{users}");
        assert_eq!(users["boss"]["mentions"], 1, "{users}");
    }
    let (code, stdout) = index();
    assert_eq!(code, Some(0));
    assert!(
        stdout.starts_with("0 catalog record(s) written; 2 archive(s) had one"),
        "{stdout}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_cannot_read_the_erasures_stores_nothing() {
    let emu = start_emulator(realtime_config(48)).await;
    let project = project(
        &emu,
        "name: contents\nschedule: \"0 0 * * *\"\n\
         channels:\n  - cid: messaging:general-000\n\
         destination:\n  url: file://archive\n  compression: none\n",
    );
    // A completion without its request: the list of erased users cannot be known.
    let erasures = project.dir.path().join(".chatvault/state/erasures");
    std::fs::create_dir_all(&erasures).expect("mkdir");
    std::fs::write(erasures.join("20260101T000000Z-0badf00d.done.json"), "{}").expect("write");
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("a completion without its request")
            || stderr.contains("a completion without its request"),
        "the failure says why:\n{stdout}\n{stderr}"
    );
    assert!(
        files_below(&project.dir.path().join("archive"), ".jsonl").is_empty(),
        "nothing stored"
    );
    assert_eq!(creates(&emu, Endpoint::ExportChannels), 0, "no export made");
}
