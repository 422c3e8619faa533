//! Two daemons (two runners in this process, each with its own holder name) on the same jobs
//! and the same state in S3 (moto): every tick is archived once, windows follow each other
//! without gap or overlap, and the archives hold each message of the period exactly once.
//!
//! Time is the emulator's clock, driven forward by the test in steps (a few seconds of clock
//! time per millisecond), so twelve hours of hourly ticks pass in seconds and every sleep in
//! chatvault (schedules, polls, backoff) waits for the driven clock, never for real time.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::sync::Arc;
use std::time::Duration;

use chatvault::api::{ClientConfig, StreamClient};
use chatvault::archive::manifest::Manifest;
use chatvault::clock::SharedClock;
use chatvault::config::{LoadOptions, MissingVars, load};
use chatvault::runner::daemon::{self, Control, DaemonOptions};
use chatvault::runner::{LogReporter, Runner, RunnerOptions};
use chatvault::state::Ledger;
use chatvault::store::url::StoreUrl;
use chatvault::store::{self, StoreOptions};
use chatvault_emulator::{
    ClockMode, DataSpec, Emulator, EmulatorConfig, Endpoint, GroundTruthOptions,
};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use tokio::sync::mpsc;

use crate::common::driven::DrivenClock;
use crate::common::servers;

/// Clock time that passes per millisecond of real time.
const STEP: TimeDelta = TimeDelta::seconds(5);

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 0, 30, 0)
        .single()
        .expect("a valid time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_daemons_on_shared_state_archive_each_tick_once() {
    let moto = servers::moto();
    let emu = Emulator::start(EmulatorConfig {
        data: DataSpec {
            channels_per_type: 10,
            messages_per_channel_per_day: 48,
            days_of_history: 2,
            ..DataSpec::default()
        },
        clock: ClockMode::Manual,
        start_time: start(),
        ..EmulatorConfig::default()
    })
    .await
    .expect("the emulator starts");

    let dir = tempfile::tempdir().expect("a temporary folder");
    let prefix = servers::unique_prefix("daemons");
    std::fs::create_dir(dir.path().join("jobs")).expect("jobs/");
    let config = format!(
        "state:\n  url: s3://{bucket}/{prefix}/state\n  options:\n    aws_endpoint: {endpoint}\n    \
         aws_allow_http: \"true\"\n    aws_region: {region}\n    aws_access_key_id: {key}\n    \
         aws_secret_access_key: ${{MOTO_SECRET}}\n",
        bucket = moto.bucket,
        endpoint = moto.endpoint,
        region = moto.region,
        key = moto.access_key,
    );
    std::fs::write(dir.path().join("chatvault.yaml"), config).expect("write the config");
    let mut job = std::fs::File::create(dir.path().join("jobs/hourly.yaml")).expect("job file");
    // 30 channels: two batches per window.
    let ids: Vec<String> = (0..10)
        .map(|i| format!("general-{i:03}"))
        .chain((0..10).map(|i| format!("project-{i:03}")))
        .chain((0..10).map(|i| format!("broadcast-{i:03}")))
        .collect();
    let mut channels = String::new();
    for (kind, prefix) in [
        ("messaging", "general"),
        ("team", "project"),
        ("livestream", "broadcast"),
    ] {
        let list: Vec<&String> = ids.iter().filter(|i| i.starts_with(prefix)).collect();
        channels.push_str(&format!(
            "  - type: {kind}\n    ids: [{}]\n",
            list.iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    write!(
        job,
        "name: hourly\nschedule: \"0 * * * *\"\nchannels:\n{channels}\
         destination:\n  url: s3://{bucket}/{prefix}/archive\n  compression: none\n  options:\n    \
         aws_endpoint: {endpoint}\n    aws_allow_http: \"true\"\n    aws_region: {region}\n    \
         aws_access_key_id: {key}\n    aws_secret_access_key: ${{MOTO_SECRET}}\n",
        bucket = moto.bucket,
        endpoint = moto.endpoint,
        region = moto.region,
        key = moto.access_key,
    )
    .expect("write the job");
    drop(job);

    let secret = moto.secret_key.clone();
    let env = move |name: &str| (name == "MOTO_SECRET").then(|| secret.clone());
    let loaded = load(&LoadOptions {
        paths: vec![dir.path().join("jobs")],
        config: None,
        env: &env,
        missing_vars: MissingVars::Error,
    });
    assert!(
        !loaded.diagnostics.has_errors(),
        "{:?}",
        loaded.diagnostics.iter().collect::<Vec<_>>()
    );
    let set = loaded.into_set().expect("valid jobs");
    let state_url = set.settings.state.clone();
    let state_options = set.settings.state_options.clone();

    let driven = DrivenClock::new(emu.clock().clone());
    let clock: SharedClock = Arc::new(driven.clone());
    let mut stops = Vec::new();
    let mut daemons = Vec::new();
    for holder in ["replica-a", "replica-b"] {
        let client = StreamClient::new(
            &ClientConfig::new(&emu.base_url(), emu.api_key(), &emu.config().api_secret),
            clock.clone(),
        )
        .expect("client");
        let state = store::open(&state_url, &state_options, &[]).expect("state store");
        let runner = Runner::new(
            client,
            state,
            clock.clone(),
            vec![],
            Arc::new(LogReporter),
            RunnerOptions {
                // Renewal is checked each real second; the driven clock outruns that.
                lease_ttl: Duration::from_secs(24 * 3600),
                ..RunnerOptions::default()
            },
        )
        .expect("runner")
        .with_holder(holder);
        let (tx, rx) = mpsc::channel(1);
        stops.push(tx);
        daemons.push(tokio::spawn(daemon::run(
            Arc::new(runner),
            set.jobs.clone(),
            DaemonOptions::default(),
            rx,
        )));
    }

    let end = start() + TimeDelta::hours(12) + TimeDelta::minutes(10);
    while emu.clock().now() < end {
        driven.advance(STEP);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    // Stop only once the last tick's run has committed: the grace period passes in a few
    // real milliseconds of the driven clock, and a run cut short would leave half a window.
    let ledger = Ledger::open(
        store::open(&state_url, &state_options, &[]).expect("state store"),
        "hourly",
    );
    // The hourly tick before `end` (start() is at half past).
    let last_tick = start() + TimeDelta::hours(11) + TimeDelta::minutes(30);
    loop {
        let state = ledger.load().await.expect("the ledger loads").into_value();
        let settled = state.last_tick >= Some(last_tick)
            && state.claim.is_none()
            && state.open.is_empty()
            && state.in_flight.is_empty();
        if settled {
            break;
        }
        driven.advance(STEP);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    for stop in &stops {
        stop.send(Control::Stop).await.expect("daemon listening");
    }
    // Let the draining daemons finish on a moving clock.
    let drain = async {
        for d in daemons {
            d.await.expect("daemon task");
        }
    };
    tokio::pin!(drain);
    loop {
        tokio::select! {
            () = &mut drain => break,
            () = tokio::time::sleep(Duration::from_millis(1)) => driven.advance(STEP),
        }
    }

    // Every manifest, by window and batch.
    let archive = store::open(
        &StoreUrl::S3 {
            bucket: moto.bucket.clone(),
            prefix: format!("{prefix}/archive"),
        },
        &options(&moto),
        &[],
    )
    .expect("archive store");
    let report = chatvault::archive::verify::verify(&archive, Some("hourly"), "_media")
        .await
        .expect("verify");
    assert!(report.is_clean(), "{report:?}");
    let mut manifests: BTreeMap<(Option<DateTime<Utc>>, u32), Manifest> = BTreeMap::new();
    for key in &report.verified {
        let m = chatvault::archive::manifest::read(&archive, key)
            .await
            .expect("read manifest")
            .expect("manifest exists");
        let slot = (m.window_since, m.batch);
        assert!(
            manifests.insert(slot, m).is_none(),
            "two archives for one window and batch"
        );
    }
    let windows: Vec<(DateTime<Utc>, DateTime<Utc>)> = manifests
        .values()
        .filter(|m| m.batch == 1)
        .filter_map(|m| Some((m.window_since?, m.window_until?)))
        .collect();
    assert!(
        windows.len() >= 12,
        "twelve hourly ticks archived: {windows:?}"
    );
    for pair in windows.windows(2) {
        assert_eq!(
            pair[0].1, pair[1].0,
            "windows follow each other: {windows:?}"
        );
    }
    assert_eq!(
        manifests.len(),
        windows.len() * 2,
        "both batches of every window"
    );

    // Each message of the whole period, once.
    let (since, until) = (windows[0].0, windows[windows.len() - 1].1);
    let mut archived: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in manifests.values() {
        let bytes = object_store::ObjectStoreExt::get(
            archive.object_store().as_ref(),
            &object_store::path::Path::from(m.key.as_str()),
        )
        .await
        .expect("get archive")
        .bytes()
        .await
        .expect("read archive");
        let mut channel = String::new();
        for line in String::from_utf8_lossy(&bytes).lines() {
            let v: serde_json::Value = serde_json::from_str(line).expect("JSON line");
            match v["type"].as_str() {
                Some("channel") => {
                    channel = v["item"]["cid"].as_str().unwrap_or_default().to_owned()
                }
                Some("message") => archived
                    .entry(channel.clone())
                    .or_default()
                    .push(v["item"]["id"].as_str().unwrap_or_default().to_owned()),
                _ => {}
            }
        }
    }
    for cid in [
        "messaging:general-003",
        "team:project-007",
        "livestream:broadcast-001",
    ] {
        let mut got = archived.get(cid).cloned().unwrap_or_default();
        got.sort();
        let mut expected = emu.ground_truth(
            cid,
            Some(since),
            Some(until),
            GroundTruthOptions {
                include_truncated_messages: false,
                include_soft_deleted_channels: false,
                as_of: None,
            },
        );
        expected.sort();
        assert!(!expected.is_empty(), "{cid} has messages in the period");
        assert_eq!(got, expected, "{cid}: every message once");
    }
    let creates = emu
        .requests()
        .iter()
        .filter(|r| r.endpoint == Some(Endpoint::ExportChannels) && r.status == 201)
        .count();
    assert_eq!(
        creates,
        manifests.len(),
        "one export task per archive: no batch exported twice"
    );
    println!(
        "{} windows, {} archives, {creates} export tasks created",
        windows.len(),
        manifests.len()
    );
}

fn options(moto: &servers::S3Server) -> StoreOptions {
    moto.options()
}
