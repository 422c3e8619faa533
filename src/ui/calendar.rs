//! The coverage calendar: for each day of message time from a job's first window to its
//! watermark, whether the archives cover it, and if not, why (a failed run, an export still at
//! Stream, or nothing at all). Users exports take no window, so their calendar marks the days a
//! snapshot was taken.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone as _, Utc};
use chrono_tz::Tz;

use crate::archive::manifest::Manifest;
use crate::config::job::{ExportKind, Retention, Window};
use crate::state::JobState;

/// A span of time, `[since, until)`.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// At most this many days are drawn (the newest), about ten years of daily windows.
pub const MAX_DAYS: usize = 3660;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// Archives cover the whole day.
    Archived,
    /// Archives cover part of the day and nothing explains the rest.
    Partial,
    /// No archive covers any of the day. `lost`: a manifest says one did, and its archive
    /// object is gone.
    Missing { lost: bool },
    /// No archive covers the day, and it ended before what an expiry record of the job
    /// removed: its archives went by the job's `keep_for`.
    Expired,
    /// A run planned the day and failed to archive it; the next run retries.
    Failed,
    /// A run is working on the day now.
    Running,
    /// An export of the day is at Stream, not archived yet.
    InFlight { days_left: i64, at_risk: bool },
    /// A users snapshot was taken that day.
    Snapshot,
    /// No users snapshot that day.
    NoSnapshot,
}

impl Status {
    /// The name pages and tests use.
    pub fn name(&self) -> &'static str {
        match self {
            Status::Archived => "archived",
            Status::Partial => "partial",
            Status::Missing { .. } => "missing",
            Status::Expired => "expired",
            Status::Failed => "failed",
            Status::Running => "running",
            Status::InFlight { .. } => "in-flight",
            Status::Snapshot => "snapshot",
            Status::NoSnapshot => "none",
        }
    }
}

/// How the calendar is seen: in which zone, at what moment, and how close to Stream's deletion
/// an export is at risk.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    pub zone: Tz,
    pub retention: &'a Retention,
    pub now: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Day {
    pub date: NaiveDate,
    pub status: Status,
    /// An archive of the day is an erasure's replacement: someone's items were taken out.
    pub erased: bool,
}

/// The days of the archives an erasure replaced (their manifests say what they supersede):
/// a channels archive's window, a users snapshot's day.
fn erased_days(zone: Tz, manifests: &[&Manifest]) -> BTreeSet<NaiveDate> {
    let mut days = BTreeSet::new();
    for m in manifests.iter().filter(|m| m.supersedes.is_some()) {
        match (m.kind.as_str(), m.window_since, m.window_until) {
            ("channels", Some(since), Some(until)) if since < until => {
                let last = day_of(zone, until - TimeDelta::microseconds(1));
                days.extend(dates(day_of(zone, since), last));
            }
            _ => {
                days.insert(day_of(zone, m.snapshot_at.unwrap_or(m.tick)));
            }
        }
    }
    days
}

/// When `date` starts in `zone`. A midnight that a clock change skips starts at the first
/// instant after it.
pub fn day_start(zone: Tz, date: NaiveDate) -> DateTime<Utc> {
    let mut local = date.and_time(chrono::NaiveTime::MIN);
    // Samoa skipped a whole day in 2011: look up to a day ahead, by half hours.
    for _ in 0..=48 {
        if let Some(t) = zone.from_local_datetime(&local).earliest() {
            return t.with_timezone(&Utc);
        }
        local += TimeDelta::minutes(30);
    }
    local.and_utc()
}

/// The day `t` falls on in `zone`.
pub fn day_of(zone: Tz, t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&zone).date_naive()
}

fn overlaps(a: Span, b: Span) -> bool {
    a.0 < b.1 && b.0 < a.1
}

/// `[since, until)` merged into disjoint, sorted spans.
fn union(mut spans: Vec<Span>) -> Vec<Span> {
    spans.sort();
    let mut out: Vec<Span> = Vec::new();
    for (since, until) in spans {
        match out.last_mut() {
            Some(last) if since <= last.1 => last.1 = last.1.max(until),
            _ => out.push((since, until)),
        }
    }
    out
}

fn covered(spans: &[Span], day: Span) -> TimeDelta {
    spans
        .iter()
        .filter(|s| overlaps(**s, day))
        .map(|s| s.1.min(day.1) - s.0.max(day.0))
        .sum()
}

/// Contiguous dates from `first` to `last`, the newest [`MAX_DAYS`] of them.
fn dates(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    let mut out: Vec<NaiveDate> = first.iter_days().take_while(|d| *d <= last).collect();
    let excess = out.len().saturating_sub(MAX_DAYS);
    out.drain(..excess);
    out
}

/// What the job's exports of `kind` at Stream say about a span: the soonest lapse among them.
fn in_flight(
    seen: Seen<'_>,
    state: &JobState,
    kind: ExportKind,
    span: Option<Span>,
    on: NaiveDate,
) -> Option<Status> {
    state
        .in_flight
        .iter()
        .filter(|t| t.kind == kind)
        .filter(|t| match span {
            Some(span) => overlaps((t.since, t.until), span),
            None => day_of(seen.zone, t.tick) == on,
        })
        .map(|t| t.lapses_at())
        .min()
        .map(|lapses_at| Status::InFlight {
            days_left: (lapses_at - seen.now).num_days(),
            at_risk: seen.retention.at_risk(lapses_at, seen.now),
        })
}

/// Planned and not archived: running now if a run holds the job, else failed.
fn unfinished(state: &JobState) -> Status {
    if state.claim.is_some() {
        Status::Running
    } else {
        Status::Failed
    }
}

/// The windows of a job's channel archives: those with an archive object there, those of
/// them whose batches are all there (numbered 1 to the highest without a gap, none of them a
/// manifest without its archive), and those with an archive lost (`gone` names the manifests
/// whose archive object the listing did not find). A window missing its last batch, manifest
/// and all, looks whole here; `chatvault verify` compares the objects with their manifests.
fn windows(manifests: &[&Manifest], gone: &HashSet<&str>) -> Windows {
    let mut batches: BTreeMap<Span, (BTreeSet<u32>, bool)> = BTreeMap::new();
    for m in manifests.iter().filter(|m| m.kind == "channels") {
        if let (Some(since), Some(until)) = (m.window_since, m.window_until)
            && since < until
        {
            let (present, lost) = batches.entry((since, until)).or_default();
            if gone.contains(m.key.as_str()) {
                *lost = true;
            } else {
                present.insert(m.batch);
            }
        }
    }
    let mut windows = Windows::default();
    for (span, (present, lost)) in batches {
        if !present.is_empty() {
            windows.archived.push(span);
        }
        if lost {
            windows.lost.push(span);
        } else if present.iter().copied().eq(1..=present.len() as u32) {
            windows.whole.push(span);
        }
    }
    windows
}

#[derive(Debug, Default)]
struct Windows {
    archived: Vec<Span>,
    whole: Vec<Span>,
    lost: Vec<Span>,
}

/// Where a job's windows begin, when its file says so: a fixed window's `since`, an
/// incremental window's `start`. Archives deleted from the start of the job then show as
/// missing; otherwise the calendar begins at the oldest archive or planned window there is.
pub fn configured_start(window: &Window) -> Option<DateTime<Utc>> {
    match window {
        Window::Incremental { start, .. } => *start,
        Window::Fixed { since, .. } => Some(*since),
        Window::Rolling { .. } => None,
    }
}

/// The days of message time of a job's channel exports, from its first window (`start`, see
/// [`configured_start`], or the oldest known) to its watermark. A day counts as archived when
/// archives cover all of it: the first and last days of a job's span, which its windows may
/// cover only in part in the zone shown, are partial. A day no archive covers that ended
/// before `expired_before` (what the job's expiry records removed) is expired, not missing.
pub fn messages(
    seen: Seen<'_>,
    start: Option<DateTime<Utc>>,
    manifests: &[&Manifest],
    gone: &HashSet<&str>,
    state: &JobState,
    expired_before: Option<DateTime<Utc>>,
) -> Vec<Day> {
    let zone = seen.zone;
    let Windows {
        archived,
        whole,
        lost,
    } = windows(manifests, gone);
    let open: Vec<_> = state
        .open
        .iter()
        .filter(|w| !w.is_snapshot() && !w.channels.is_empty())
        .map(|w| (w.since, w.until))
        .collect();
    let tasks = state
        .in_flight
        .iter()
        .filter(|t| t.kind == ExportKind::Channels)
        .map(|t| (t.since, t.until));
    let every: Vec<_> = archived
        .iter()
        .chain(&lost)
        .chain(&open)
        .copied()
        .chain(tasks)
        .collect();
    let Some(start) = every.iter().map(|s| s.0).chain(start).min() else {
        return Vec::new();
    };
    let end = every
        .iter()
        .map(|s| s.1)
        .chain(state.watermark)
        .max()
        .unwrap_or(start);
    if end <= start {
        return Vec::new();
    }
    let (archived, whole, lost) = (union(archived), union(whole), union(lost));
    let erased = erased_days(zone, manifests);
    let last = day_of(zone, end - TimeDelta::microseconds(1));
    dates(day_of(zone, start), last)
        .into_iter()
        .map(|date| {
            let next = date.succ_opt().unwrap_or(date);
            let day = (day_start(zone, date), day_start(zone, next));
            let status =
                if let Some(s) = in_flight(seen, state, ExportKind::Channels, Some(day), date) {
                    s
                } else if open.iter().any(|w| overlaps(*w, day)) {
                    unfinished(state)
                } else {
                    if covered(&whole, day) >= day.1 - day.0 {
                        Status::Archived
                    } else if covered(&archived, day) > TimeDelta::zero() {
                        Status::Partial
                    } else if covered(&lost, day) == TimeDelta::zero()
                        && expired_before.is_some_and(|before| day.1 <= before)
                    {
                        Status::Expired
                    } else {
                        Status::Missing {
                            lost: covered(&lost, day) > TimeDelta::zero(),
                        }
                    }
                };
            Day {
                date,
                status,
                erased: erased.contains(&date),
            }
        })
        .collect()
}

/// The days from a job's first users snapshot to today, and which had one.
pub fn snapshots(seen: Seen<'_>, manifests: &[&Manifest], state: &JobState) -> Vec<Day> {
    let zone = seen.zone;
    let taken: BTreeSet<NaiveDate> = manifests
        .iter()
        .filter(|m| m.kind == "users")
        .map(|m| day_of(zone, m.snapshot_at.unwrap_or(m.tick)))
        .collect();
    let open: BTreeSet<NaiveDate> = state
        .open
        .iter()
        .filter(|w| w.is_snapshot() || w.channels.is_empty())
        .filter(|w| !w.users.is_empty())
        .map(|w| day_of(zone, w.tick))
        .collect();
    let tasks = state
        .in_flight
        .iter()
        .filter(|t| t.kind == ExportKind::Users)
        .map(|t| day_of(zone, t.tick));
    let every: BTreeSet<NaiveDate> = taken.iter().chain(&open).copied().chain(tasks).collect();
    let users: Vec<&Manifest> = manifests
        .iter()
        .filter(|m| m.kind == "users")
        .copied()
        .collect();
    let erased = erased_days(zone, &users);
    let Some(&first) = every.first() else {
        return Vec::new();
    };
    let last = every
        .last()
        .copied()
        .unwrap_or(first)
        .max(day_of(zone, seen.now));
    dates(first, last)
        .into_iter()
        .map(|date| {
            let status = if taken.contains(&date) {
                Status::Snapshot
            } else if let Some(s) = in_flight(seen, state, ExportKind::Users, None, date) {
                s
            } else if open.contains(&date) {
                unfinished(state)
            } else {
                Status::NoSnapshot
            };
            Day {
                date,
                status,
                erased: erased.contains(&date),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Claim, InFlight, OpenWindow};

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0)
            .single()
            .expect("a time")
    }

    fn archive(since: DateTime<Utc>, until: DateTime<Utc>) -> Manifest {
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "format": 2, "job": "j", "tick": until, "kind": "channels", "batch": 1,
            "channels": ["messaging:a"], "task_id": "t", "export_version": "v2",
            "key": format!("j/{since}"), "bytes_source": 1, "bytes_stored": 1,
            "sha256": "00", "content_encoding": "none", "archived_at": until,
            "chatvault_version": "0"
        }))
        .expect("a manifest");
        m.window_since = Some(since);
        m.window_until = Some(until);
        m
    }

    const RETENTION: Retention = Retention {
        warn_before: TimeDelta::days(7),
    };

    fn seen(zone: Tz, now: DateTime<Utc>) -> Seen<'static> {
        Seen {
            zone,
            retention: &RETENTION,
            now,
        }
    }

    fn statuses(days: &[Day]) -> Vec<(u32, &'static str)> {
        use chrono::Datelike as _;
        days.iter()
            .map(|d| (d.date.day(), d.status.name()))
            .collect()
    }

    #[test]
    fn the_days_of_an_erasure_replacement_are_marked_erased_and_still_archived() {
        let mut replaced = archive(at(2, 0), at(3, 0));
        replaced.supersedes = Some(crate::archive::replacement::Supersedes {
            key: "j/original".into(),
            sha256: "00".into(),
            erasure: "20260304T000000Z-00000000".into(),
            removed: crate::archive::replacement::Removed::default(),
        });
        let plain = archive(at(1, 0), at(2, 0));
        let state = JobState {
            watermark: Some(at(3, 0)),
            ..JobState::default()
        };
        let days = messages(
            seen(Tz::UTC, at(4, 0)),
            None,
            &[&plain, &replaced],
            &HashSet::new(),
            &state,
            None,
        );
        let erased: Vec<(u32, &str, bool)> = days
            .iter()
            .map(|d| {
                use chrono::Datelike as _;
                (d.date.day(), d.status.name(), d.erased)
            })
            .collect();
        assert_eq!(erased, [(1, "archived", false), (2, "archived", true)]);
    }

    #[test]
    fn a_day_without_an_archive_is_missing_and_a_half_covered_one_partial() {
        let a = archive(at(1, 0), at(2, 0));
        let b = archive(at(3, 0), at(3, 12));
        let c = archive(at(3, 12), at(4, 0));
        let d = archive(at(4, 0), at(5, 6));
        let state = JobState {
            watermark: Some(at(5, 12)),
            ..JobState::default()
        };
        let days = messages(
            seen(Tz::UTC, at(6, 0)),
            None,
            &[&a, &b, &c, &d],
            &HashSet::new(),
            &state,
            None,
        );
        assert_eq!(
            statuses(&days),
            [
                (1, "archived"),
                (2, "missing"),
                (3, "archived"),
                (4, "archived"),
                (5, "partial")
            ]
        );
    }

    #[test]
    fn failed_running_and_in_flight_days_say_so_with_the_days_left() {
        let a = archive(at(1, 0), at(2, 0));
        let open = |day: u32| OpenWindow {
            tick: at(day + 1, 0),
            since: at(day, 0),
            until: at(day + 1, 0),
            channels: vec!["messaging:a".into()],
            users: Vec::new(),
        };
        let task = InFlight {
            task_id: "t".into(),
            kind: ExportKind::Channels,
            batch: 1,
            since: at(3, 0),
            until: at(4, 0),
            tick: at(4, 0),
            channels: vec!["messaging:a".into()],
            users: Vec::new(),
            key: "k".into(),
            created_at: at(4, 0),
            last_link_renewal: None,
            lapse_warned_at: None,
            missing: Vec::new(),
        };
        let mut state = JobState {
            watermark: Some(at(2, 0)),
            open: vec![open(2), open(3)],
            in_flight: vec![task],
            ..JobState::default()
        };
        let now = at(4, 0) + TimeDelta::days(55);
        let days = messages(
            seen(Tz::UTC, now),
            None,
            &[&a],
            &HashSet::new(),
            &state,
            None,
        );
        assert_eq!(
            statuses(&days),
            [(1, "archived"), (2, "failed"), (3, "in-flight")]
        );
        assert_eq!(
            days[2].status,
            Status::InFlight {
                days_left: 5,
                at_risk: true
            }
        );
        state.claim = Some(Claim {
            tick: at(4, 0),
            holder: "p".into(),
        });
        let days = messages(
            seen(Tz::UTC, now),
            None,
            &[&a],
            &HashSet::new(),
            &state,
            None,
        );
        assert_eq!(days[1].status, Status::Running);
    }

    #[test]
    fn days_are_the_zone_s_days() {
        // 23:00 UTC on the 1st is already the 2nd in Berlin.
        let a = archive(at(1, 23), at(2, 23));
        let berlin = "Europe/Berlin".parse().expect("a zone");
        let days = messages(
            seen(berlin, at(6, 0)),
            None,
            &[&a],
            &HashSet::new(),
            &JobState::default(),
            None,
        );
        assert_eq!(statuses(&days), [(2, "archived")]);
    }

    #[test]
    fn the_edge_days_a_zone_sees_only_in_part_are_partial() {
        // Windows of UTC days, seen from Berlin: each Berlin day is covered from 01:00.
        let a = archive(at(1, 0), at(2, 0));
        let b = archive(at(2, 0), at(3, 0));
        let state = JobState {
            watermark: Some(at(3, 0)),
            ..JobState::default()
        };
        let berlin = "Europe/Berlin".parse().expect("a zone");
        let days = messages(
            seen(berlin, at(6, 0)),
            None,
            &[&a, &b],
            &HashSet::new(),
            &state,
            None,
        );
        assert_eq!(
            statuses(&days),
            [(1, "partial"), (2, "archived"), (3, "partial")]
        );
    }

    #[test]
    fn a_window_with_a_batch_gone_is_partial() {
        let batch = |since, until, n| {
            let mut m = archive(since, until);
            m.batch = n;
            m
        };
        let (a1, a2) = (batch(at(1, 0), at(2, 0), 1), batch(at(1, 0), at(2, 0), 2));
        let (b1, b3) = (batch(at(2, 0), at(3, 0), 1), batch(at(2, 0), at(3, 0), 3));
        let c2 = batch(at(3, 0), at(4, 0), 2);
        let state = JobState::default();
        let days = messages(
            seen(Tz::UTC, at(6, 0)),
            None,
            &[&a1, &a2, &b1, &b3, &c2],
            &HashSet::new(),
            &state,
            None,
        );
        assert_eq!(
            statuses(&days),
            [(1, "archived"), (2, "partial"), (3, "partial")]
        );
    }

    #[test]
    fn a_manifest_without_its_archive_does_not_cover_its_day() {
        let batch = |since, until, n| {
            let mut m = archive(since, until);
            m.batch = n;
            m.key = format!("j/{since}-{n}");
            m
        };
        let a = batch(at(1, 0), at(2, 0), 1);
        let b = batch(at(2, 0), at(3, 0), 1);
        let (c1, c2) = (batch(at(3, 0), at(4, 0), 1), batch(at(3, 0), at(4, 0), 2));
        let gone = HashSet::from([b.key.as_str(), c2.key.as_str()]);
        let state = JobState {
            watermark: Some(at(5, 0)),
            ..JobState::default()
        };
        let days = messages(
            seen(Tz::UTC, at(6, 0)),
            None,
            &[&a, &b, &c1, &c2],
            &gone,
            &state,
            None,
        );
        assert_eq!(
            statuses(&days),
            [
                (1, "archived"),
                (2, "missing"),
                (3, "partial"),
                (4, "missing")
            ]
        );
        assert_eq!(days[1].status, Status::Missing { lost: true });
        assert_eq!(
            days[3].status,
            Status::Missing { lost: false },
            "no manifest names the 4th"
        );
    }

    #[test]
    fn archives_gone_from_the_configured_start_are_missing() {
        let b = archive(at(2, 0), at(3, 0));
        let state = JobState {
            watermark: Some(at(3, 0)),
            ..JobState::default()
        };
        let days = messages(
            seen(Tz::UTC, at(6, 0)),
            Some(at(1, 0)),
            &[&b],
            &HashSet::new(),
            &state,
            None,
        );
        assert_eq!(statuses(&days), [(1, "missing"), (2, "archived")]);
        let fresh = messages(
            seen(Tz::UTC, at(6, 0)),
            Some(at(1, 0)),
            &[],
            &HashSet::new(),
            &JobState::default(),
            None,
        );
        assert!(fresh.is_empty(), "a job that never ran has no days to miss");
    }

    #[test]
    fn days_before_an_expiry_record_s_cutoff_are_expired_and_later_gaps_missing() {
        let c = archive(at(3, 0), at(4, 0));
        let e = archive(at(5, 0), at(6, 0));
        let state = JobState {
            watermark: Some(at(6, 0)),
            ..JobState::default()
        };
        let days = messages(
            seen(Tz::UTC, at(7, 0)),
            Some(at(1, 0)),
            &[&c, &e],
            &HashSet::new(),
            &state,
            Some(at(3, 0)),
        );
        assert_eq!(
            statuses(&days),
            [
                (1, "expired"),
                (2, "expired"),
                (3, "archived"),
                (4, "missing"),
                (5, "archived")
            ]
        );
    }

    #[test]
    fn nothing_archived_or_planned_draws_no_calendar() {
        let state = JobState::default();
        assert!(
            messages(
                seen(Tz::UTC, at(1, 0)),
                None,
                &[],
                &HashSet::new(),
                &state,
                None
            )
            .is_empty()
        );
        assert!(snapshots(seen(Tz::UTC, at(1, 0)), &[], &state).is_empty());
    }

    #[test]
    fn snapshot_days_run_to_today() {
        let mut users = archive(at(1, 0), at(1, 0));
        users.kind = "users".into();
        users.window_since = None;
        users.window_until = None;
        users.snapshot_at = Some(at(2, 5));
        let days = snapshots(seen(Tz::UTC, at(4, 9)), &[&users], &JobState::default());
        assert_eq!(statuses(&days), [(2, "snapshot"), (3, "none"), (4, "none")]);
    }

    #[test]
    fn a_skipped_midnight_starts_the_day_after_the_gap() {
        // Chile skipped 00:00-01:00 on 2022-09-11.
        let zone: Tz = "America/Santiago".parse().expect("a zone");
        let date = NaiveDate::from_ymd_opt(2022, 9, 11).expect("a date");
        let start = day_start(zone, date).with_timezone(&zone);
        assert_eq!(start.date_naive(), date);
        assert_eq!(start.time().format("%H:%M").to_string(), "01:00");
        // Samoa skipped all of 2011-12-30: it "starts" when 12-31 does.
        let apia: Tz = "Pacific/Apia".parse().expect("a zone");
        let skipped = NaiveDate::from_ymd_opt(2011, 12, 30).expect("a date");
        let next = skipped.succ_opt().expect("a date");
        assert_eq!(day_start(apia, skipped), day_start(apia, next));
        assert_eq!(
            day_start(apia, next).with_timezone(&apia).date_naive(),
            next
        );
    }
}
