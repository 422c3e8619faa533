//! The export API client against the emulator over real HTTP on 127.0.0.1. The client's clock
//! is the emulator's clock, so backoff, polling and rate-limit waits move it instead of
//! sleeping.

use std::sync::Arc;
use std::time::Duration;

use chatvault::api::wire::TaskState;
use chatvault::api::{ApiError, ChannelsExport, ClientConfig, StreamClient, TaskKind};
use chatvault::config::job::Cid;
use chatvault_emulator::{DataSpec, Emulator, EmulatorConfig, Endpoint};
use chrono::TimeDelta;

use crate::common::emulated::{self, EmuClock, cids, client, start as emulator};

fn client_for(emu: &Emulator, secret: &str, tweak: impl FnOnce(&mut ClientConfig)) -> StreamClient {
    emulated::client_with(emu, secret, tweak)
}

fn export<'a>(channels: &'a [Cid]) -> ChannelsExport<'a> {
    ChannelsExport {
        channels,
        since: None,
        until: None,
        options: emulated::v2(true),
    }
}

fn requests_to(emu: &Emulator, endpoint: Endpoint) -> Vec<u16> {
    emu.requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(endpoint))
        .map(|r| r.status)
        .collect()
}

#[tokio::test]
async fn a_channels_export_runs_to_completion_and_each_status_renews_the_link() {
    let emu = emulator(EmulatorConfig::default()).await;
    let client = client(&emu);
    let channels = cids(&emu, 2);
    let task = client
        .export_channels(&export(&channels))
        .await
        .expect("created");
    let first = client
        .status(TaskKind::Channels, &task)
        .await
        .expect("status");
    assert_eq!(first.status, TaskState::Waiting);
    assert!(first.result.is_none());

    let done = client
        .wait(TaskKind::Channels, &task)
        .await
        .expect("finishes");
    assert_eq!(done.status, TaskState::Completed);
    let url = done.result.expect("a finished export has a URL").url;
    emu.clock().advance(TimeDelta::hours(20));
    let again = client
        .status(TaskKind::Channels, &task)
        .await
        .expect("status");
    let renewed = again.result.expect("url").url;
    assert!(
        expires(&renewed) - expires(&url) == 20 * 3600,
        "a status request 20 h later gives a link valid 20 h longer: {url} then {renewed}"
    );
    assert_eq!(
        requests_to(&emu, Endpoint::ExportChannels),
        [201],
        "one create, answered 201"
    );
    emu.shutdown().await;
}

/// The `Expires` of a presigned link.
fn expires(url: &str) -> i64 {
    url.split(['?', '&'])
        .find_map(|p| p.strip_prefix("Expires="))
        .and_then(|v| v.parse().ok())
        .expect("a presigned link has Expires")
}

#[tokio::test]
async fn polling_backs_off_and_gives_up_at_the_deadline() {
    let mut config = EmulatorConfig::default();
    config.task_durations.running = TimeDelta::days(2);
    let emu = emulator(config).await;
    let client = client_for(&emu, "emulator-secret", |c| {
        c.poll.deadline = Duration::from_secs(3600);
    });
    let channels = cids(&emu, 1);
    let task = client
        .export_channels(&export(&channels))
        .await
        .expect("created");
    let started = emu.clock().now();
    let err = client
        .wait(TaskKind::Channels, &task)
        .await
        .expect_err("never finishes");
    assert!(
        matches!(err, ApiError::Deadline { ref state, .. } if state == "running"),
        "{err}"
    );
    assert_eq!(emu.clock().now() - started, TimeDelta::hours(1));
    // 1 s growing by half each time up to 30 s: far fewer polls than seconds waited.
    let polls = requests_to(&emu, Endpoint::GetExportChannelsStatus).len();
    assert!((100..=140).contains(&polls), "{polls} polls in an hour");
    emu.shutdown().await;
}

#[tokio::test]
async fn a_users_export_is_polled_through_the_generic_task_route() {
    let emu = emulator(EmulatorConfig::default()).await;
    let client = client(&emu);
    let task = client
        .export_users(&["user-0001".to_owned(), "user-0002".to_owned()])
        .await
        .expect("created");
    let done = client.wait(TaskKind::Users, &task).await.expect("finishes");
    assert_eq!(done.status, TaskState::Completed);
    assert!(done.result.expect("url").url.contains("/exports/users/"));
    assert!(!requests_to(&emu, Endpoint::GetTask).is_empty());
    assert!(requests_to(&emu, Endpoint::GetExportChannelsStatus).is_empty());
    emu.shutdown().await;
}

#[tokio::test]
async fn query_channels_pages_through_every_match() {
    let emu = emulator(EmulatorConfig {
        data: DataSpec {
            channels_per_type: 70,
            ..DataSpec::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu);
    let team = emu
        .channels()
        .into_iter()
        .find_map(|c| c.team)
        .expect("team channels have a team");
    let mut filter = serde_json::Map::new();
    filter.insert("team".into(), team.clone().into());
    let found = client
        .query_channels("team", &filter)
        .await
        .expect("queried");
    let mut expected: Vec<Cid> = emu
        .channels()
        .into_iter()
        .filter(|c| c.team.as_deref() == Some(team.as_str()) && c.deleted_at.is_none())
        .map(|c| Cid {
            channel_type: c.channel_type,
            id: c.id,
        })
        .collect();
    expected.sort();
    assert!(!expected.is_empty());
    assert_eq!(found, expected);
    emu.shutdown().await;
}

#[tokio::test]
async fn credentials_errors_say_which_setting_to_check() {
    let emu = emulator(EmulatorConfig::default()).await;
    let wrong_secret = client_for(&emu, "not-the-secret", |_| {});
    let err = wrong_secret
        .status(TaskKind::Users, "x")
        .await
        .expect_err("refused");
    assert!(
        matches!(
            err,
            ApiError::Auth {
                code: 43,
                status: 401,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.hint().is_some_and(|h| h.contains("STREAM_API_SECRET")));

    let mut config = ClientConfig::new(&emu.base_url(), "wrong-key", "emulator-secret");
    config.retry.max_attempts = 1;
    let wrong_key =
        StreamClient::new(&config, Arc::new(EmuClock(emu.clock().clone()))).expect("client");
    let err = wrong_key
        .status(TaskKind::Users, "x")
        .await
        .expect_err("refused");
    assert!(matches!(err, ApiError::Auth { code: 2, .. }), "{err}");
    assert!(err.hint().is_some_and(|h| h.contains("STREAM_API_KEY")));
    // Authentication failures are not retried.
    assert_eq!(requests_to(&emu, Endpoint::GetTask), [401, 401]);
    emu.shutdown().await;
}

#[tokio::test]
async fn unknown_tasks_and_channels_are_not_found() {
    let emu = emulator(EmulatorConfig::default()).await;
    let client = client(&emu);
    let err = client
        .status(TaskKind::Channels, "00000000-0000-0000-0000-000000000000")
        .await
        .expect_err("unknown task");
    assert!(
        matches!(err, ApiError::NotFound { ref message, .. } if message.contains("Can't find task with id")),
        "{err}"
    );
    let ghost = [Cid {
        channel_type: "messaging".into(),
        id: "no-such-channel".into(),
    }];
    let err = client
        .export_channels(&export(&ghost))
        .await
        .expect_err("unknown channel");
    assert!(
        matches!(err, ApiError::NotFound { ref message, .. } if message.contains("Can't find channel")),
        "{err}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn batches_over_25_are_refused_before_anything_is_sent() {
    let emu = emulator(EmulatorConfig::default()).await;
    let client = client(&emu);
    let many: Vec<Cid> = (0..26)
        .map(|i| Cid {
            channel_type: "messaging".into(),
            id: format!("c{i}"),
        })
        .collect();
    let err = client
        .export_channels(&export(&many))
        .await
        .expect_err("too many");
    assert!(matches!(err, ApiError::BadInput { .. }), "{err}");
    let users: Vec<String> = (0..26).map(|i| format!("u{i}")).collect();
    assert!(client.export_users(&users).await.is_err());
    assert!(client.export_users(&[]).await.is_err());
    assert!(emu.requests().is_empty());
    emu.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_with_backoff_on_the_clock() {
    let emu = emulator(EmulatorConfig::default()).await;
    let client = client(&emu);
    emu.faults()
        .fail_next_requests(Endpoint::ExportChannels, 2, 500);
    let started = emu.clock().now();
    let channels = cids(&emu, 1);
    client
        .export_channels(&export(&channels))
        .await
        .expect("third try works");
    assert_eq!(requests_to(&emu, Endpoint::ExportChannels), [500, 500, 201]);
    // Two backoffs of 0.25–0.5 s and 0.5–1 s, taken on the emulator's clock.
    let waited = emu.clock().now() - started;
    assert!(
        waited >= TimeDelta::milliseconds(750) && waited <= TimeDelta::seconds(3),
        "{waited}"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn retries_stop_after_the_attempt_limit() {
    let emu = emulator(EmulatorConfig::default()).await;
    let client = client(&emu);
    emu.faults().fail_next_requests(Endpoint::GetTask, 100, 502);
    let err = client
        .status(TaskKind::Users, "x")
        .await
        .expect_err("gives up");
    assert!(
        matches!(err, ApiError::RetriesExhausted { attempts: 6, ref last, .. } if matches!(**last, ApiError::Server { status: 502, .. })),
        "{err}"
    );
    assert_eq!(requests_to(&emu, Endpoint::GetTask).len(), 6);
    emu.shutdown().await;
}

#[tokio::test]
async fn a_429_waits_for_the_reset_then_succeeds() {
    let emu = emulator(EmulatorConfig::default()).await;
    let client = client(&emu);
    emu.faults().rate_limit_next(Endpoint::GetTask, 2);
    let started = emu.clock().now();
    let err = client
        .status(TaskKind::Users, "x")
        .await
        .expect_err("unknown task");
    assert!(matches!(err, ApiError::NotFound { .. }), "{err}");
    assert_eq!(requests_to(&emu, Endpoint::GetTask), [429, 429, 404]);
    assert!(emu.clock().now() > started, "waited on the clock");
    emu.shutdown().await;
}

#[tokio::test]
async fn two_thousand_channels_go_out_in_80_requests_without_a_single_429() {
    let emu = emulator(EmulatorConfig {
        data: DataSpec {
            channels_per_type: 700,
            messages_per_channel_per_day: 1,
            days_of_history: 1,
            soft_deleted_per_type: 0,
            ..DataSpec::default()
        },
        ..EmulatorConfig::default()
    })
    .await;
    let client = client(&emu);
    let channels = cids(&emu, 2000);
    assert_eq!(channels.len(), 2000);
    let started = emu.clock().now();
    for batch in channels.chunks(chatvault::config::job::MAX_BATCH) {
        client
            .export_channels(&export(batch))
            .await
            .expect("created");
    }
    let creates = requests_to(&emu, Endpoint::ExportChannels);
    assert_eq!(creates.len(), 2000_usize.div_ceil(25));
    assert!(creates.iter().all(|s| *s == 201), "{creates:?}");
    // Spaced at 60 a minute: 80 requests take 79 seconds of the emulator's clock.
    assert_eq!(emu.clock().now() - started, TimeDelta::seconds(79));
    emu.shutdown().await;
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_not_sent_again() {
    let emu = emulator(EmulatorConfig::default()).await;
    let client = client_for(&emu, "emulator-secret", |c| {
        c.request_timeout = Duration::from_millis(200);
    });
    emu.faults()
        .set_delay(Endpoint::ExportChannels, Duration::from_millis(600));
    let channels = cids(&emu, 1);
    let err = client
        .export_channels(&export(&channels))
        .await
        .expect_err("times out");
    assert!(matches!(err, ApiError::OutcomeUnknown { .. }), "{err}");
    // Give the delayed answer time to land, then check nothing was sent twice.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(emu.tasks().len(), 1, "exactly one export was started");
    emu.shutdown().await;
}

#[tokio::test]
async fn an_unreachable_server_is_retried_then_reported_with_a_hint() {
    let emu = emulator(EmulatorConfig::default()).await;
    let clock = emu.clock().clone();
    let base = emu.base_url();
    emu.shutdown().await;
    let config = ClientConfig::new(&base, "k", "s");
    let client = StreamClient::new(&config, Arc::new(EmuClock(clock))).expect("client");
    let err = client
        .status(TaskKind::Users, "x")
        .await
        .expect_err("nobody listens");
    assert!(
        matches!(err, ApiError::RetriesExhausted { ref last, .. } if matches!(**last, ApiError::Transport { not_sent: true, .. })),
        "{err}"
    );
    assert!(err.hint().is_some_and(|h| h.contains("api.base_url")));
}
