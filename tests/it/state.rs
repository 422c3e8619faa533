//! The state layer (ledger and leases) against every kind of store it runs on: in memory, a
//! local folder, S3 (moto on 127.0.0.1) and GCS (the emulator crate's XML-API server, whose
//! generation preconditions carry the create-only writes). Each behaviour is one async
//! function below, run once per store by the `suite!` macro. `scripts/test-servers start`
//! starts moto; each GCS test starts its own server.

use std::sync::Arc;
use std::time::Duration;

use chatvault::clock::{ManualClock, SharedClock};
use chatvault::config::job::ExportKind;
use chatvault::state::record::HISTORY_LIMIT;
use chatvault::state::{InFlight, JobState, Leases, Ledger, Outcome, StateError, Versioned};
use chatvault::store::url::StoreUrl;
use chatvault::store::{self, Store, StoreOptions};
use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;

use crate::common::counted_store;
use crate::common::servers;

const JOB: &str = "daily-export";
const TTL: Duration = Duration::from_secs(300);

/// A store and whatever must outlive it (the temporary folder, the GCS server).
struct Fixture {
    store: Store,
    _dir: Option<tempfile::TempDir>,
    _gcs: Option<servers::LocalGcs>,
}

fn memory() -> Fixture {
    Fixture {
        store: Store::memory(),
        _dir: None,
        _gcs: None,
    }
}

fn local() -> Fixture {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = StoreUrl::File {
        path: dir.path().join("state"),
    };
    let store = store::open(&url, &StoreOptions::new(), &[]).expect("local store opens");
    Fixture {
        store,
        _dir: Some(dir),
        _gcs: None,
    }
}

fn moto() -> Fixture {
    let server = servers::moto();
    let url = StoreUrl::S3 {
        bucket: server.bucket.clone(),
        prefix: servers::unique_prefix("state"),
    };
    let options = server.options();
    Fixture {
        store: store::open(&url, &options, &[]).expect("S3 store opens"),
        _dir: None,
        _gcs: None,
    }
}

async fn gcs() -> Fixture {
    let gcs = servers::local_gcs().await;
    Fixture {
        store: gcs.store(servers::GCS_STATE_BUCKET, "state"),
        _dir: None,
        _gcs: Some(gcs),
    }
}

/// Runs every listed behaviour against each store.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(#[tokio::test] async fn $name() { let f = super::memory(); super::$name(&f.store).await })*
        }
        mod local_folder {
            $(#[tokio::test] async fn $name() { let f = super::local(); super::$name(&f.store).await })*
        }
        mod moto_s3 {
            $(#[tokio::test] async fn $name() { let f = super::moto(); super::$name(&f.store).await })*
        }
        mod local_gcs {
            $(#[tokio::test] async fn $name() { let f = super::gcs().await; super::$name(&f.store).await })*
        }
    };
}

suite!(
    an_empty_ledger_loads_as_the_default_state,
    a_commit_round_trips_through_load,
    another_process_sees_each_commit,
    two_commits_on_the_same_version_race_and_exactly_one_wins,
    concurrent_updates_both_land_one_after_the_other,
    a_writer_behind_another_process_loses_the_race_then_commits_on_the_newest,
    a_commit_on_a_stale_read_is_refused,
    a_corrupt_record_is_an_error_naming_its_key,
    a_record_from_a_newer_format_or_another_key_is_refused,
    history_stays_bounded,
    pruning_keeps_the_newest_records,
    pruning_spares_records_younger_than_the_grace,
    the_first_acquire_wins_and_another_holder_waits_for_expiry,
    concurrent_acquires_have_exactly_one_winner,
    renewing_extends_the_lease,
    acquiring_again_as_the_holder_renews,
    releasing_lets_another_holder_take_the_lease_at_once,
    a_lease_lost_after_expiry_cannot_be_renewed_or_released,
    leases_of_different_ticks_are_independent,
    a_corrupt_lease_record_is_an_error_naming_its_key,
);

fn at(h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, h, 0, 0)
        .single()
        .expect("valid time")
}

fn clock() -> (ManualClock, SharedClock) {
    let manual = ManualClock::new(at(12));
    let shared: SharedClock = Arc::new(manual.clone());
    (manual, shared)
}

fn ledger(store: &Store, writer: &str) -> Ledger {
    let (_, clock) = clock();
    Ledger::open(store.clone(), JOB)
        .with_writer(writer)
        .with_clock(clock)
}

fn outcome(n: u32) -> Outcome {
    let tick = at(0) + TimeDelta::hours(i64::from(n));
    Outcome {
        tick,
        finished_at: tick + TimeDelta::minutes(3),
        ok: n.is_multiple_of(2),
        error: (n % 2 == 1).then(|| format!("run {n} failed")),
        hint: None,
        archives: n,
        bytes_stored: u64::from(n) * 1000,
        warnings: Vec::new(),
        missing: Default::default(),
        interrupted: false,
    }
}

fn busy_state() -> JobState {
    let mut state = JobState {
        watermark: Some(at(6)),
        in_flight: vec![InFlight {
            task_id: "task-1".into(),
            kind: ExportKind::Channels,
            batch: 2,
            since: at(6),
            until: at(7),
            tick: at(7),
            channels: vec!["messaging:general".into(), "team:ops".into()],
            users: Vec::new(),
            key: "daily-export/2024-03-01T06/channels-0002.jsonl.gz".into(),
            created_at: at(7) + TimeDelta::seconds(5),
            last_link_renewal: Some(at(8)),
            lapse_warned_at: Some(at(9)),
            missing: Vec::new(),
        }],
        ..JobState::default()
    };
    state.record_outcome(outcome(1));
    state
}

async fn put_raw(store: &Store, key: &str, body: &str) {
    store
        .object_store()
        .put(&ObjectPath::from(key), body.to_owned().into())
        .await
        .expect("raw put");
}

async fn ledger_seqs(store: &Store) -> Vec<u64> {
    let metas: Vec<_> = store
        .object_store()
        .list(Some(&ObjectPath::from(format!("jobs/{JOB}/ledger"))))
        .try_collect()
        .await
        .expect("list");
    let mut seqs: Vec<u64> = metas
        .iter()
        .filter_map(|m| m.location.filename()?.strip_suffix(".json")?.parse().ok())
        .collect();
    seqs.sort_unstable();
    seqs
}

async fn commit_n(ledger: &Ledger, n: u32) -> Versioned<JobState> {
    let mut current = ledger.load().await.expect("load");
    for i in 0..n {
        let mut next = current.value().clone();
        next.record_outcome(outcome(i));
        current = ledger.commit(&current, next).await.expect("commit");
    }
    current
}

// ---------------------------------------------------------------------------------------------
// ledger

async fn an_empty_ledger_loads_as_the_default_state(store: &Store) {
    let loaded = ledger(store, "a").load().await.expect("load");
    assert_eq!(loaded.seq(), 0);
    assert_eq!(loaded.value(), &JobState::default());
    assert_eq!(loaded.writer(), None);
    assert_eq!(
        ledger_seqs(store).await,
        Vec::<u64>::new(),
        "loading wrote nothing"
    );
}

async fn a_commit_round_trips_through_load(store: &Store) {
    let ledger = ledger(store, "writer-a");
    let empty = ledger.load().await.expect("load");
    let committed = ledger.commit(&empty, busy_state()).await.expect("commit");
    assert_eq!(committed.seq(), 1);
    let loaded = ledger.load().await.expect("load");
    assert_eq!(loaded.seq(), 1);
    assert_eq!(loaded.value(), &busy_state());
    assert_eq!(loaded.writer(), Some("writer-a"));
    assert_eq!(loaded.updated_at(), Some(at(12)));
    assert_eq!(ledger_seqs(store).await, [1]);
    assert_eq!(
        ledger.record_key(1),
        "jobs/daily-export/ledger/000000000001.json"
    );
}

async fn another_process_sees_each_commit(store: &Store) {
    let a = ledger(store, "a");
    let b = ledger(store, "b");
    let v1 = a
        .commit(&a.load().await.expect("load"), busy_state())
        .await
        .expect("a commits");
    // b has never looked: a full listing finds version 1.
    let seen = b.load().await.expect("b loads");
    assert_eq!(seen.seq(), 1);
    let mut next = seen.value().clone();
    next.watermark = Some(at(9));
    b.commit(&seen, next).await.expect("b commits");
    // a remembers version 1: its listing past that still finds b's version 2.
    let back = a.load().await.expect("a loads");
    assert_eq!(back.seq(), 2);
    assert_eq!(back.value().watermark, Some(at(9)));
    assert_eq!(back.writer(), Some("b"));
    // And a commit on a's old version 1 now loses.
    let err = a.commit(&v1, busy_state()).await.expect_err("stale");
    assert!(err.is_conflict(), "{err}");
}

async fn two_commits_on_the_same_version_race_and_exactly_one_wins(store: &Store) {
    let a = ledger(store, "a");
    let b = ledger(store, "b");
    let base = a.load().await.expect("load");
    let mut from_a = base.value().clone();
    from_a.watermark = Some(at(1));
    let mut from_b = base.value().clone();
    from_b.watermark = Some(at(2));
    let (ra, rb) = tokio::join!(
        a.commit(&base, from_a.clone()),
        b.commit(&base, from_b.clone())
    );
    let (winner, loser) = match (ra, rb) {
        (Ok(won), Err(lost)) => ((won, from_a), lost),
        (Err(lost), Ok(won)) => ((won, from_b), lost),
        (ra, rb) => panic!("exactly one must win: {ra:?} / {rb:?}"),
    };
    match &loser {
        StateError::Conflict { key, .. } => {
            assert_eq!(key, "jobs/daily-export/ledger/000000000001.json");
        }
        other => panic!("the loser gets Conflict, not {other:?}"),
    }
    assert_eq!(winner.0.seq(), 1);
    let loaded = a.load().await.expect("load");
    assert_eq!(loaded.seq(), 1);
    assert_eq!(loaded.value(), &winner.1, "the winner's state is current");
    assert_eq!(ledger_seqs(store).await, [1]);
}

async fn concurrent_updates_both_land_one_after_the_other(store: &Store) {
    let a = ledger(store, "a");
    let b = ledger(store, "b");
    let (ra, rb) = tokio::join!(
        a.update(|s| s.record_outcome(outcome(1))),
        b.update(|s| s.record_outcome(outcome(2)))
    );
    ra.expect("a lands");
    rb.expect("b lands");
    let loaded = a.load().await.expect("load");
    assert_eq!(loaded.seq(), 2);
    let mut ticks: Vec<_> = loaded.value().history.iter().map(|o| o.tick).collect();
    ticks.sort();
    assert_eq!(
        ticks,
        [outcome(1).tick, outcome(2).tick],
        "neither lost, neither doubled"
    );
}

async fn a_writer_behind_another_process_loses_the_race_then_commits_on_the_newest(store: &Store) {
    let a = ledger(store, "a");
    let b = ledger(store, "b");
    a.update(|s| s.record_outcome(outcome(1)))
        .await
        .expect("a commits");
    b.update(|s| s.record_outcome(outcome(2)))
        .await
        .expect("b commits on top");
    // What `a` saw last is version 1; it commits on that without asking, and loses.
    let stale = a.load_to_commit().await.expect("a's view");
    assert_eq!(stale.seq(), 1);
    let err = a
        .commit(&stale, stale.value().clone())
        .await
        .expect_err("version 2 is taken");
    assert!(err.is_conflict(), "{err}");
    // Having lost, it asks the store.
    assert_eq!(a.load_to_commit().await.expect("reloaded").seq(), 2);
    let last = a
        .update(|s| s.record_outcome(outcome(3)))
        .await
        .expect("a commits on the newest");
    assert_eq!(last.seq(), 3);
    let ticks: Vec<_> = last.value().history.iter().map(|o| o.tick).collect();
    assert_eq!(
        ticks,
        [outcome(1).tick, outcome(2).tick, outcome(3).tick],
        "b's change is kept"
    );
}

/// The costs that decide how a busy job fares against a slow store.
#[tokio::test]
async fn a_change_by_the_last_writer_is_one_write() {
    let (store, counts) = counted_store::counted();
    let ledger = ledger(&store, "a");
    ledger
        .update(|s| s.record_outcome(outcome(0)))
        .await
        .expect("first commit");
    let before = counts.snapshot();
    for n in 1..=8 {
        ledger
            .update(|s| s.record_outcome(outcome(n)))
            .await
            .expect("commit");
    }
    let after = counts.snapshot();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1, after.2 - before.2),
        (8, 0, 0),
        "8 changes: 8 writes, no read, no listing"
    );
    // A load (for a reader such as `status`) asks only whether there is a newer version.
    assert_eq!(ledger.load().await.expect("load").seq(), 9);
    let loaded = counts.snapshot();
    assert_eq!((loaded.1 - after.1, loaded.2 - after.2), (0, 1));
    // Clones in one process queue instead of racing: 8 at once, 8 writes.
    let updates = (10..18).map(|n| {
        let ledger = ledger.clone();
        async move { ledger.update(|s| s.record_outcome(outcome(n))).await }
    });
    for result in futures::future::join_all(updates).await {
        result.expect("commit");
    }
    let raced = counts.snapshot();
    assert_eq!(raced.0 - loaded.0, 8, "no write lost a race");
    assert_eq!(ledger.load().await.expect("load").seq(), 17);
}

async fn a_commit_on_a_stale_read_is_refused(store: &Store) {
    let strict = ledger(store, "a").with_max_staleness(Duration::ZERO);
    let base = strict.load().await.expect("load");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let err = strict
        .commit(&base, busy_state())
        .await
        .expect_err("too old");
    assert!(err.is_conflict(), "{err}");
    assert!(err.to_string().contains("too long ago"), "{err}");
    assert_eq!(
        ledger_seqs(store).await,
        Vec::<u64>::new(),
        "nothing written"
    );
}

async fn a_corrupt_record_is_an_error_naming_its_key(store: &Store) {
    let ledger = ledger(store, "a");
    commit_n(&ledger, 2).await;
    let key = "jobs/daily-export/ledger/000000000003.json";
    put_raw(
        store,
        key,
        "{\"format\": 1, \"seq\": 3, \"state\": {\"watermark\": ",
    )
    .await;
    for reader in [ledger.clone(), self::ledger(store, "fresh")] {
        match reader.load().await {
            Err(StateError::Corrupt { key: named, reason }) => {
                assert_eq!(named, key);
                assert!(!reason.is_empty());
            }
            other => panic!("a corrupt current record is an error, not {other:?}"),
        }
    }
    let text = ledger.load().await.expect_err("corrupt").to_string();
    assert!(text.contains(key), "{text}");
}

async fn a_record_from_a_newer_format_or_another_key_is_refused(store: &Store) {
    let ledger = ledger(store, "a");
    let v1 = commit_n(&ledger, 1).await;
    let body = |format: u32, seq: u64| {
        format!(
            "{{\"format\":{format},\"job\":\"{JOB}\",\"seq\":{seq},\"nonce\":\"n\",\
             \"writer\":\"w\",\"updated_at\":\"2024-03-01T12:00:00Z\",\"state\":{{}}}}"
        )
    };
    // A copy of version 1 placed at version 2.
    let key2 = "jobs/daily-export/ledger/000000000002.json";
    put_raw(store, key2, &body(1, 1)).await;
    let err = ledger.load().await.expect_err("misplaced");
    assert!(
        matches!(&err, StateError::Corrupt { key, reason } if key == key2 && reason.contains("version 1")),
        "{err}"
    );
    let key3 = "jobs/daily-export/ledger/000000000003.json";
    put_raw(store, key3, &body(99, 3)).await;
    let err = ledger.load().await.expect_err("too new");
    assert!(
        matches!(&err, StateError::Corrupt { key, reason } if key == key3 && reason.contains("99")),
        "{err}"
    );
    // Stray objects that are not numbered records are ignored.
    put_raw(store, "jobs/daily-export/ledger/notes.txt", "hello").await;
    put_raw(store, "jobs/daily-export/ledger/9.json", "{}").await;
    let other = Ledger::open(store.clone(), "other-job");
    assert_eq!(other.load().await.expect("independent").seq(), 0);
    assert_eq!(v1.seq(), 1);
}

async fn history_stays_bounded(store: &Store) {
    let ledger = ledger(store, "a");
    // Handed an overlong history, a commit stores only the newest outcomes.
    let state = JobState {
        history: (0..(HISTORY_LIMIT as u32 + 7)).map(outcome).collect(),
        ..JobState::default()
    };
    let base = ledger.load().await.expect("load");
    ledger.commit(&base, state).await.expect("commit");
    let loaded = ledger.load().await.expect("load");
    let history = &loaded.value().history;
    assert_eq!(history.len(), HISTORY_LIMIT);
    assert_eq!(history.first(), Some(&outcome(7)));
    assert_eq!(history.last(), Some(&outcome(HISTORY_LIMIT as u32 + 6)));
    // And recording outcomes one by one never grows it past the bound.
    let mut state = loaded.value().clone();
    state.record_outcome(outcome(1000));
    assert_eq!(state.history.len(), HISTORY_LIMIT);
    assert_eq!(state.last_outcome, Some(outcome(1000)));
}

async fn pruning_keeps_the_newest_records(store: &Store) {
    let ledger = ledger(store, "a").with_retention(3, Duration::ZERO);
    commit_n(&ledger, 9).await;
    // Pruning lists the whole ledger, so it runs only every tenth version.
    assert_eq!(ledger_seqs(store).await, (1..=9).collect::<Vec<u64>>());
    let last = commit_n(&ledger, 1).await;
    assert_eq!(last.seq(), 10);
    assert_eq!(ledger_seqs(store).await, [8, 9, 10]);
    let loaded = self::ledger(store, "fresh").load().await.expect("load");
    assert_eq!(loaded.seq(), 10);
    assert_eq!(loaded.value(), last.value());
    // Pruning by hand never deletes the current record, even keeping one.
    let one = self::ledger(store, "a").with_retention(0, Duration::ZERO);
    assert_eq!(one.prune().await.expect("prune"), 2);
    assert_eq!(ledger_seqs(store).await, [10]);
    assert_eq!(one.prune().await.expect("prune"), 0);
    assert_eq!(one.load().await.expect("load").seq(), 10);
}

async fn pruning_spares_records_younger_than_the_grace(store: &Store) {
    let ledger = ledger(store, "a").with_retention(1, Duration::from_secs(3600));
    commit_n(&ledger, 4).await;
    assert_eq!(ledger.prune().await.expect("prune"), 0);
    assert_eq!(ledger_seqs(store).await, [1, 2, 3, 4]);
}

// ---------------------------------------------------------------------------------------------
// leases

fn leases(store: &Store, holder: &str, clock: &SharedClock) -> Leases {
    Leases::open(store.clone(), JOB, holder, clock.clone())
}

async fn the_first_acquire_wins_and_another_holder_waits_for_expiry(store: &Store) {
    let (manual, clock) = clock();
    let a = leases(store, "replica-a", &clock);
    let b = leases(store, "replica-b", &clock);
    let tick = at(6);
    let lease = a.acquire(tick, TTL).await.expect("a acquires");
    assert_eq!(lease.holder(), "replica-a");
    assert_eq!(lease.attempt(), 1);
    assert_eq!(lease.expires_at(), at(12) + TimeDelta::minutes(5));
    assert_eq!(
        lease.key(),
        "jobs/daily-export/leases/20240301T060000Z/000001.json"
    );

    manual.advance(Duration::from_secs(299));
    match b.acquire(tick, TTL).await {
        Err(StateError::Held { holder, until, key }) => {
            assert_eq!(holder, "replica-a");
            assert_eq!(until, lease.expires_at());
            assert_eq!(key, lease.key());
        }
        other => panic!("b must wait, got {other:?}"),
    }
    manual.advance(Duration::from_secs(1));
    assert!(lease.is_expired(manual_now(&manual)));
    let taken = b
        .acquire(tick, TTL)
        .await
        .expect("b takes the expired lease");
    assert_eq!(taken.holder(), "replica-b");
    assert_eq!(taken.attempt(), 2);
    let current = a.current(tick).await.expect("read").expect("there");
    assert_eq!(current.holder, "replica-b");
    assert!(matches!(
        a.acquire(tick, TTL).await,
        Err(StateError::Held { holder, .. }) if holder == "replica-b"
    ));
}

fn manual_now(manual: &ManualClock) -> DateTime<Utc> {
    chatvault::clock::Clock::now(manual)
}

async fn concurrent_acquires_have_exactly_one_winner(store: &Store) {
    let (_, clock) = clock();
    let a = leases(store, "replica-a", &clock);
    let b = leases(store, "replica-b", &clock);
    let tick = at(6);
    let (ra, rb) = tokio::join!(a.acquire(tick, TTL), b.acquire(tick, TTL));
    let (won, lost) = match (ra, rb) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        (ra, rb) => panic!("exactly one must win: {ra:?} / {rb:?}"),
    };
    match lost {
        StateError::Held { holder, .. } => assert_eq!(holder, won.holder()),
        StateError::Conflict { .. } => {}
        other => panic!("the loser gets Held or Conflict, not {other:?}"),
    }
    let current = a.current(tick).await.expect("read").expect("there");
    assert_eq!(current.holder, won.holder());
    assert_eq!(current.attempt, 1);
}

async fn renewing_extends_the_lease(store: &Store) {
    let (manual, clock) = clock();
    let a = leases(store, "replica-a", &clock);
    let b = leases(store, "replica-b", &clock);
    let tick = at(6);
    let first = a.acquire(tick, TTL).await.expect("acquire");
    manual.advance(Duration::from_secs(200));
    let renewed = a.renew(&first, TTL).await.expect("renew");
    assert_eq!(renewed.expires_at(), at(12) + TimeDelta::seconds(500));
    assert_eq!(renewed.acquired_at(), first.acquired_at());
    assert_eq!(renewed.attempt(), 2);
    // Past the first expiry, within the renewed one: still held.
    manual.advance(Duration::from_secs(200));
    match b.acquire(tick, TTL).await {
        Err(StateError::Held { until, .. }) => assert_eq!(until, renewed.expires_at()),
        other => panic!("still held, got {other:?}"),
    }
    manual.advance(Duration::from_secs(100));
    b.acquire(tick, TTL)
        .await
        .expect("free after the renewed expiry");
}

async fn acquiring_again_as_the_holder_renews(store: &Store) {
    let (manual, clock) = clock();
    let a = leases(store, "replica-a", &clock);
    let tick = at(6);
    let first = a.acquire(tick, TTL).await.expect("acquire");
    manual.advance(Duration::from_secs(60));
    let again = a.acquire(tick, TTL).await.expect("acquire again");
    assert_eq!(again.attempt(), 2);
    assert_eq!(again.acquired_at(), first.acquired_at());
    assert_eq!(again.expires_at(), at(12) + TimeDelta::seconds(360));
}

async fn releasing_lets_another_holder_take_the_lease_at_once(store: &Store) {
    let (_, clock) = clock();
    let a = leases(store, "replica-a", &clock);
    let b = leases(store, "replica-b", &clock);
    let tick = at(6);
    let lease = a.acquire(tick, TTL).await.expect("acquire");
    a.release(lease).await.expect("release");
    let current = a.current(tick).await.expect("read").expect("there");
    assert!(current.released);
    assert!(!current.is_live(at(12)));
    let taken = b.acquire(tick, TTL).await.expect("b takes it at once");
    assert_eq!(taken.attempt(), 3);
}

async fn a_lease_lost_after_expiry_cannot_be_renewed_or_released(store: &Store) {
    let (manual, clock) = clock();
    let a = leases(store, "replica-a", &clock);
    let b = leases(store, "replica-b", &clock);
    let tick = at(6);
    let stale = a.acquire(tick, TTL).await.expect("a acquires");
    manual.advance(TTL);
    let taken = b.acquire(tick, TTL).await.expect("b takes over");
    match a.renew(&stale, TTL).await {
        Err(StateError::Held { holder, .. }) => assert_eq!(holder, "replica-b"),
        other => panic!("a lost it, got {other:?}"),
    }
    let err = a.release(stale).await.expect_err("nothing to release");
    assert!(
        matches!(err, StateError::Held { .. } | StateError::Conflict { .. }),
        "{err}"
    );
    // b's lease is untouched.
    let current = b.current(tick).await.expect("read").expect("there");
    assert_eq!(current.holder, "replica-b");
    assert_eq!(current.attempt, taken.attempt());
    assert!(current.is_live(manual_now(&manual)));
    // A lease handed to another holder's handle is refused outright.
    let err = a.renew(&taken, TTL).await.expect_err("not a's");
    assert!(err.is_conflict(), "{err}");
}

async fn leases_of_different_ticks_are_independent(store: &Store) {
    let (_, clock) = clock();
    let a = leases(store, "replica-a", &clock);
    let b = leases(store, "replica-b", &clock);
    a.acquire(at(6), TTL).await.expect("a takes 06:00");
    let other_tick = b.acquire(at(7), TTL).await.expect("b takes 07:00");
    assert_eq!(other_tick.attempt(), 1);
    let other_job = Leases::open(store.clone(), "weekly", "replica-b", clock.clone());
    other_job
        .acquire(at(6), TTL)
        .await
        .expect("another job's 06:00 is free");
}

async fn a_corrupt_lease_record_is_an_error_naming_its_key(store: &Store) {
    let (_, clock) = clock();
    let a = leases(store, "replica-a", &clock);
    let key = "jobs/daily-export/leases/20240301T060000Z/000001.json";
    put_raw(store, key, "not json at all").await;
    match a.acquire(at(6), TTL).await {
        Err(StateError::Corrupt { key: named, .. }) => assert_eq!(named, key),
        other => panic!("a corrupt lease is an error, got {other:?}"),
    }
}
