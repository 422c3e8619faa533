//! The jobs page: what an operator checks every morning. Each job's last run, next tick and
//! exports at risk of lapsing at Stream, and its coverage calendar.

use chrono::{DateTime, Datelike as _, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{Markup, html};

use super::{archive_href, bytes, head, timestamp};
use crate::archive::manifest::Manifest;
use crate::config::job::Job;
use crate::state::JobState;
use crate::ui::calendar::{Day, Status};

/// One job as the page shows it.
pub struct JobView<'a> {
    pub job: &'a Job,
    /// The state, or why it could not be read.
    pub state: Result<JobState, String>,
    pub messages: Vec<Day>,
    pub snapshots: Vec<Day>,
    /// The newest archives first.
    pub recent: Vec<&'a Manifest>,
    pub archives: usize,
    pub next_tick: Option<DateTime<Utc>>,
}

const LEGEND: [(&str, &str); 8] = [
    ("archived", "archived"),
    ("partial", "partly archived"),
    ("missing", "missing: no archive covers any of the day"),
    ("failed", "failed: the next run retries"),
    ("running", "a run is archiving it now"),
    ("in-flight", "exported, at Stream, not archived yet"),
    ("snapshot", "users snapshot taken"),
    ("none", "no users snapshot"),
];

fn describe(day: &Day) -> String {
    match &day.status {
        Status::InFlight { days_left, at_risk } => format!(
            "{}: exported, at Stream; {days_left} day(s) left before Stream deletes the file{}",
            day.date,
            if *at_risk { " (LAPSE RISK)" } else { "" }
        ),
        other => {
            let meaning = LEGEND
                .iter()
                .find(|(name, _)| *name == other.name())
                .map_or("", |(_, meaning)| meaning);
            format!("{}: {meaning}", day.date)
        }
    }
}

/// Days in rows of months, each cell in its day-of-month column, and the legend of the
/// statuses shown; nothing when there are no days.
fn calendar(what: &str, zone: Tz, days: &[Day]) -> Markup {
    let mut months: Vec<(NaiveDate, Vec<&Day>)> = Vec::new();
    for day in days {
        let month = day.date.with_day(1).unwrap_or(day.date);
        match months.last_mut() {
            Some((m, list)) if *m == month => list.push(day),
            _ => months.push((month, vec![day])),
        }
    }
    html! {
        @if !days.is_empty() {
            table.calendar {
                caption { (what) ", by day (" (zone.name()) ")" }
                tbody {
                    @for (month, list) in &months {
                        tr {
                            th scope="row" { (month.format("%Y-%m")) }
                            @for _ in 1..list.first().map_or(1, |d| d.date.day()) { td.pad {} }
                            @for day in list {
                                @let risk = matches!(
                                    day.status,
                                    Status::InFlight { at_risk: true, .. }
                                );
                                td class={ "day s-" (day.status.name()) @if risk { " risk" } }
                                    data-day=(day.date) data-status=(day.status.name())
                                    title=(describe(day)) {
                                    (day.date.day())
                                    span.sr { " " (day.status.name()) }
                                }
                            }
                        }
                    }
                }
            }
            (legend(days))
        }
    }
}

fn legend(days: &[Day]) -> Markup {
    html! {
        ul.legend {
            @for (name, meaning) in LEGEND {
                @if days.iter().any(|d| d.status.name() == name) {
                    li { span class={ "swatch s-" (name) } {} (meaning) }
                }
            }
        }
    }
}

fn job(view: &JobView<'_>, zone: Tz, now: DateTime<Utc>) -> Markup {
    let job = view.job;
    html! {
        section.job data-job=(job.name) aria-labelledby={ "job-" (job.name) } {
            h2 id={ "job-" (job.name) } { (job.name) }
            @if let Some(d) = &job.description { p.meta { (d) } }
            @match &view.state {
                Err(problem) => p.problem { "The state cannot be read: " (problem) },
                Ok(state) => (facts(view, state, zone, now)),
            }
            (calendar("Message time archived", zone, &view.messages))
            (calendar("Users snapshots", zone, &view.snapshots))
            @if view.messages.is_empty() && view.snapshots.is_empty() {
                p { "Nothing archived or planned yet." }
            }
            @if !view.recent.is_empty() {
                h3 { "Newest archives (" (view.recent.len()) " of " (view.archives) ")" }
                table.archives {
                    (head(&["Archive", "Covers", "Messages", "Stored"]))
                    tbody {
                        @for m in &view.recent {
                            tr {
                                td { a href=(archive_href(&m.job, &m.key)) { (m.key) } }
                                td { (covers(m, zone)) }
                                td.num { (messages(m)) }
                                td.num { (bytes(m.bytes_stored)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The messages an archive's counts say it holds.
fn messages(m: &Manifest) -> String {
    m.contents.as_ref().map_or_else(
        || "not counted".to_owned(),
        |c| {
            c.channels
                .values()
                .map(|c| c.messages)
                .sum::<u64>()
                .to_string()
        },
    )
}

/// What an archive holds in time: its window, or the moment of its snapshot.
pub fn covers(m: &Manifest, zone: Tz) -> String {
    match (m.window_since, m.window_until, m.snapshot_at) {
        (Some(since), Some(until), _) => {
            format!(
                "{} → {}",
                timestamp(Some(since), zone),
                timestamp(Some(until), zone)
            )
        }
        (_, _, Some(at)) => format!("users snapshot at {}", timestamp(Some(at), zone)),
        _ => format!("tick {}", timestamp(Some(m.tick), zone)),
    }
}

fn facts(view: &JobView<'_>, state: &JobState, zone: Tz, now: DateTime<Utc>) -> Markup {
    let job = view.job;
    let last = state.last_outcome.as_ref();
    html! {
        dl.facts {
            dt { "Schedule" }
            dd { code { (job.schedule.source()) } " (" (job.timezone.name()) ")" }
            dt { "Last run" }
            dd {
                @match last {
                    None => "never",
                    Some(o) if o.ok => {
                        span.ok { "succeeded" }
                        ", finished " (timestamp(Some(o.finished_at), zone))
                        ", " (o.archives) " archive(s)"
                    },
                    Some(o) => {
                        span.bad { "failed" } ", " (timestamp(Some(o.finished_at), zone))
                    },
                }
            }
            @if let Some(o) = last.filter(|o| !o.ok) {
                dt { "Error" } dd.problem { (o.error.as_deref().unwrap_or("unknown")) }
                @if let Some(hint) = &o.hint { dt { "Hint" } dd { (hint) } }
            }
            @if let Some(o) = last.filter(|o| !o.warnings.is_empty()) {
                dt { "Warnings" } dd { ul { @for w in &o.warnings { li { (w) } } } }
            }
            @if let Some(o) = last.filter(|o| !o.missing.is_empty()) {
                dt { "Not at Stream" }
                dd { (o.missing.channels.iter().chain(&o.missing.users).cloned()
                    .collect::<Vec<_>>().join(", ")) }
            }
            dt { "Next tick" } dd { (timestamp(view.next_tick, zone)) }
            dt { "Archived up to" } dd { (timestamp(state.watermark, zone)) }
            @if let Some(claim) = &state.claim {
                dt { "Running" }
                dd { "tick " (timestamp(Some(claim.tick), zone)) " by " (claim.holder) }
            }
            @if !state.open.is_empty() {
                dt { "Windows to redo" } dd { (state.open.len()) }
            }
        }
        @if !state.in_flight.is_empty() {
            table.tasks {
                caption { "Exports at Stream, not archived yet" }
                (head(&["Archive", "Exported", "Left before Stream deletes it"]))
                tbody {
                    @for t in &state.in_flight {
                        @let lapses = t.lapses_at();
                        @let risk = job.retention.at_risk(lapses, now);
                        tr class=[risk.then_some("risk")] {
                            td { (t.key) }
                            td { (timestamp(Some(t.created_at), zone)) }
                            td {
                                ((lapses - now).num_days()) " day(s)"
                                @if risk { " " strong { "LAPSE RISK" } }
                            }
                        }
                    }
                }
            }
        }
    }
}

pub fn page(
    views: &[JobView<'_>],
    problems: &[crate::archive::reading::Problem],
    zone: Tz,
    now: DateTime<Utc>,
) -> Markup {
    html! {
        h1 { "Jobs" }
        p.meta {
            "As of " (timestamp(Some(now), zone)) ". Days are " (zone.name())
            " days of message time."
        }
        (super::problems(problems))
        @if views.is_empty() { p { "No jobs." } }
        @for view in views { (job(view, zone, now)) }
    }
}
