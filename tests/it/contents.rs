//! What an archive holds and lacks, through the binary against the emulator: manifests count
//! per channel its messages and first/last time and per user their messages (format 2); a
//! channel asked for but absent from its export is named; users are one snapshot per tick,
//! whatever the window pieces; a user's export at Stream's 10,000-message cap is flagged.

use chatvault::archive::manifest::{FORMAT, Manifest};
use chatvault_emulator::{Emulator, Endpoint, GroundTruthOptions};
use chrono::TimeDelta;

use crate::common::processes::{command, finish, realtime_config, start_emulator};
use crate::common::{Project, manifests_below, midnight};

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
    let contents = manifest.contents.as_ref().expect("format 2 counts");
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
