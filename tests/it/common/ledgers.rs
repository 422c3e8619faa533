//! Ledgers written the way runs write them, for tests of what reads them back (`plan --state`,
//! `status`, the viewer) without running an export first.

/// A project whose job `daily` (listed channels and users, daily at midnight UTC) has a
/// ledger: done up to 2026-03-02, the window of 03-02 left open by a run of 03-03 that
/// recorded one export task. The ledger is written the way runs write it.
pub fn interrupted_project() -> super::Project {
    let project = super::Project::new();
    project.job(
        "daily.yaml",
        "name: daily\nschedule: \"0 0 * * *\"\n\
         channels:\n  - type: messaging\n    ids: [general, random]\nusers: [alice]\n\
         destination:\n  url: file://archive\n",
    );
    let at = |day: u32| {
        chrono::DateTime::parse_from_rfc3339(&format!("2026-03-{day:02}T00:00:00Z"))
            .expect("time")
            .to_utc()
    };
    let mut state = chatvault::state::JobState {
        watermark: Some(at(2)),
        last_tick: Some(at(2)),
        open: vec![chatvault::state::OpenWindow {
            tick: at(3),
            since: at(2),
            until: at(3),
            channels: vec!["messaging:general".into(), "messaging:random".into()],
            users: Vec::new(),
        }],
        in_flight: vec![chatvault::state::InFlight {
            task_id: "task-0302".into(),
            kind: chatvault::config::job::ExportKind::Channels,
            batch: 1,
            since: at(2),
            until: at(3),
            tick: at(3),
            channels: vec!["messaging:general".into(), "messaging:random".into()],
            users: Vec::new(),
            key: "daily/2026/03/02/000000-channels-0001.jsonl.gz".into(),
            created_at: at(3),
            last_link_renewal: None,
            lapse_warned_at: None,
            missing: Vec::new(),
        }],
        ..Default::default()
    };
    state.record_outcome(chatvault::state::Outcome::interrupted(at(3), at(3)));
    let url = chatvault::store::url::StoreUrl::parse("file://.chatvault/state", project.dir.path())
        .expect("a state URL");
    let store =
        chatvault::store::open(&url, &chatvault::store::StoreOptions::new(), &[]).expect("opens");
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    runtime.block_on(async {
        let ledger = chatvault::state::Ledger::open(store, "daily");
        let empty = ledger.load().await.expect("load");
        ledger.commit(&empty, state).await.expect("commit");
    });
    project
}
