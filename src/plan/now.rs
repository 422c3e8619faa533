//! What `run --once` would do at a given moment, from what a job's ledger recorded: the ticks
//! due by its `catch_up` ([`due_ticks`]), the windows each covers (those an earlier run left
//! open first, then the new stretch from [`new_spans`], which runs use too) and the export
//! tasks it would resume. The caller reads the ledger; nothing here does.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::due::due_ticks;
use super::window::{Span, split, window_for_tick};
use super::{TickPlan, WindowPlan, request_plan, snapshot_plan, window_plan};
use crate::config::job::Job;

/// What a job's ledger says, as far as planning the run at a moment needs it.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    /// The newest tick whose run succeeded.
    pub last_tick: Option<DateTime<Utc>>,
    pub watermark: Option<DateTime<Utc>>,
    /// Windows earlier runs planned and did not finish, oldest first.
    pub open: Vec<RecordedWindow>,
    /// Export tasks started and not archived yet.
    pub in_flight: Vec<ResumePlan>,
}

/// A window an earlier run planned, with the members resolved for it then.
#[derive(Debug, Clone)]
pub struct RecordedWindow {
    /// The tick whose run planned it.
    pub tick: DateTime<Utc>,
    pub span: Span,
    pub channels: Vec<String>,
    pub users: Vec<String>,
}

/// A recorded export task the run would poll again instead of exporting anew.
#[derive(Debug, Clone, Serialize)]
pub struct ResumePlan {
    pub task_id: String,
    /// `channels` or `users`.
    pub kind: &'static str,
    pub batch: u32,
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
    pub key: String,
    pub created_at: DateTime<Utc>,
}

/// What `run --once` would do now for one job.
#[derive(Debug, Clone, Serialize)]
pub struct NowPlan {
    pub watermark: Option<DateTime<Utc>>,
    pub last_tick: Option<DateTime<Utc>>,
    /// The ticks it would run, oldest first, each assumed to succeed (as for the next ticks).
    pub due: Vec<TickPlan>,
    pub resume: Vec<ResumePlan>,
}

/// The windows a run at `tick` adds after the `open` ones: from where they (or the watermark)
/// end to the tick, cut into `window.max` pieces; none already open. Users snapshots are not
/// windows here: they never move the watermark.
pub fn new_spans(
    job: &Job,
    open: &[Span],
    watermark: Option<DateTime<Utc>>,
    tick: DateTime<Utc>,
) -> Vec<Span> {
    let open_end = open.iter().map(|s| s.until).max();
    let watermark = open_end.max(watermark);
    let previous = job.schedule.tick_before(job.timezone, tick).map(|t| t.at);
    let Some(span) = window_for_tick(job, tick, watermark, previous) else {
        return Vec::new();
    };
    split(span, job.window.max())
        .into_iter()
        .filter(|s| !open.contains(s))
        .collect()
}

/// What `run --once` at `now` would do for `job`, given what its ledger recorded.
pub fn plan_now(job: &Job, now: DateTime<Utc>, recorded: &Recorded) -> NowPlan {
    let mut open = recorded.open.clone();
    let mut watermark = recorded.watermark;
    let mut due = Vec::new();
    for tick in due_ticks(job, recorded.last_tick, now) {
        let (snapshots, windows): (Vec<_>, Vec<_>) =
            open.iter().partition(|w| w.span.since == w.span.until);
        let spans: Vec<Span> = windows.iter().map(|w| w.span).collect();
        let added = new_spans(job, &spans, watermark, tick);
        let mut planned: Vec<WindowPlan> = windows.iter().map(|w| reopened(job, w)).collect();
        planned.extend(added.iter().map(|s| window_plan(job, *s)));
        let mut snapshot: Vec<_> = snapshots
            .iter()
            .flat_map(|w| reopened(job, w).requests)
            .collect();
        let snapshot_open = snapshots
            .iter()
            .any(|w| w.tick == tick && w.users == job.users);
        if !job.users.is_empty() && !snapshot_open {
            snapshot.extend(snapshot_plan(job, tick));
        }
        // The tick is assumed to succeed: the next one starts where its windows end.
        watermark = watermark.max(spans.iter().chain(&added).map(|s| s.until).max());
        open.clear();
        due.push(TickPlan {
            at: tick,
            local: tick.with_timezone(&job.timezone).to_rfc3339(),
            dst: None,
            windows: planned,
            snapshot,
        });
    }
    NowPlan {
        watermark: recorded.watermark,
        last_tick: recorded.last_tick,
        due,
        resume: recorded.in_flight.clone(),
    }
}

/// An open window as the run redoes it: the batches its planning run cut, the same keys.
fn reopened(job: &Job, window: &RecordedWindow) -> WindowPlan {
    let requests = super::batch::cut(
        job,
        window.span,
        window.tick,
        &window.channels,
        &window.users,
    )
    .map_or_else(
        |e| vec![super::unkeyed("channels", &e)],
        |batches| batches.iter().map(request_plan).collect(),
    );
    WindowPlan {
        since: window.span.since,
        until: window.span.until,
        requests,
        reopened: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::test_job;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-03-{day:02}T{hour:02}:00:00Z"))
            .expect("time")
            .to_utc()
    }

    fn daily(extra: &str) -> Job {
        test_job(&format!(
            "schedule: \"0 0 * * *\"\nchannels:\n  - type: messaging\n    ids: [a]\n{extra}"
        ))
    }

    fn spans(tick: &TickPlan) -> Vec<(DateTime<Utc>, DateTime<Utc>, bool)> {
        tick.windows
            .iter()
            .map(|w| (w.since, w.until, w.reopened))
            .collect()
    }

    #[test]
    fn a_new_job_runs_its_latest_tick_over_the_day_before_it() {
        let plan = plan_now(&daily(""), at(5, 9), &Recorded::default());
        assert_eq!(plan.due.len(), 1);
        assert_eq!(plan.due[0].at, at(5, 0));
        assert_eq!(spans(&plan.due[0]), [(at(4, 0), at(5, 0), false)]);
    }

    #[test]
    fn catch_up_reaches_back_to_the_watermark_after_the_open_windows() {
        let recorded = Recorded {
            last_tick: Some(at(2, 0)),
            watermark: Some(at(2, 0)),
            open: vec![RecordedWindow {
                tick: at(3, 0),
                span: Span {
                    since: at(2, 0),
                    until: at(3, 0),
                },
                channels: vec!["messaging:a".into()],
                users: Vec::new(),
            }],
            in_flight: Vec::new(),
        };
        let plan = plan_now(&daily(""), at(5, 9), &recorded);
        assert_eq!(plan.due.len(), 1, "catch_up latest: one run");
        assert_eq!(
            spans(&plan.due[0]),
            [(at(2, 0), at(3, 0), true), (at(3, 0), at(5, 0), false)]
        );
    }

    #[test]
    fn catch_up_all_runs_each_missed_tick_following_on() {
        let recorded = Recorded {
            last_tick: Some(at(2, 0)),
            watermark: Some(at(2, 0)),
            ..Recorded::default()
        };
        let plan = plan_now(&daily("catch_up: all\n"), at(4, 9), &recorded);
        let windows: Vec<_> = plan.due.iter().map(spans).collect();
        assert_eq!(
            windows,
            [
                vec![(at(2, 0), at(3, 0), false)],
                vec![(at(3, 0), at(4, 0), false)]
            ]
        );
    }

    #[test]
    fn later_ticks_start_where_archiving_stands_not_where_the_file_starts_it() {
        let job = daily("window:\n  since: \"2026-03-01T00:00:00Z\"\n");
        let windows = |watermark| -> Vec<_> {
            crate::plan::next_ticks(&job, at(5, 9), 1, watermark)
                .iter()
                .flat_map(spans)
                .collect()
        };
        assert_eq!(
            windows(None),
            [(at(1, 0), at(6, 0), false)],
            "offline: from the file's since"
        );
        assert_eq!(
            windows(Some(at(5, 0))),
            [(at(5, 0), at(6, 0), false)],
            "with the state: from the watermark"
        );
    }

    #[test]
    fn nothing_is_due_once_the_latest_tick_is_done() {
        let recorded = Recorded {
            last_tick: Some(at(5, 0)),
            watermark: Some(at(5, 0)),
            ..Recorded::default()
        };
        assert!(plan_now(&daily(""), at(5, 9), &recorded).due.is_empty());
    }
}
