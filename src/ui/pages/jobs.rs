//! The jobs page: what an operator checks every morning. Each job's last run, next tick and
//! exports at risk of lapsing at Stream, and its coverage calendar.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike as _, Months, NaiveDate, Utc};
use chrono_tz::Tz;
use maud::{Markup, html};

use super::{
    UserText, archive_href, bytes, head, incomplete, job_archives_href, job_day_href, timestamp,
};
use crate::archive::manifest::Manifest;
use crate::archive::reading::Listed;
use crate::config::job::Job;
use crate::state::JobState;
use crate::ui::calendar::{Day, Status};

/// One job as the page shows it.
pub struct JobView<'a> {
    pub job: &'a Job,
    /// Where its archives are, and whether that location was listed and holds none of them.
    pub url: &'a str,
    pub empty: bool,
    /// The state, or why it could not be read.
    pub state: Result<JobState, String>,
    pub messages: Vec<Day>,
    pub snapshots: Vec<Day>,
    /// Per day, the legal holds covering an archive of it.
    pub held: BTreeMap<NaiveDate, BTreeSet<&'a str>>,
    /// The newest windows' archives first.
    pub recent: Vec<&'a Listed>,
    pub archives: usize,
    pub next_tick: Option<DateTime<Utc>>,
    /// References of its archives whose files are not captured yet (a later run retries).
    pub outstanding: usize,
}

const LEGEND: [(&str, &str); 9] = [
    ("archived", "archived"),
    ("partial", "partly archived"),
    (
        "missing",
        "missing: no archive covers any of the day, or only a manifest without its archive",
    ),
    (
        "expired",
        "expired: its archives were deleted by the job's keep_for, as an expiry record says",
    ),
    ("failed", "failed: the next run retries"),
    ("running", "a run is archiving it now"),
    ("in-flight", "exported, at Stream, not archived yet"),
    ("snapshot", "users snapshot taken"),
    ("none", "no users snapshot"),
];

/// What a day's status means, in a sentence.
pub fn describe(day: &Day) -> String {
    match &day.status {
        Status::InFlight { days_left, at_risk } => format!(
            "{}: exported, at Stream; {days_left} day(s) left before Stream deletes the file{}",
            day.date,
            if *at_risk { " (LAPSE RISK)" } else { "" }
        ),
        Status::Missing { lost: true } => format!(
            "{}: missing: manifest without archive (the archive object is gone)",
            day.date
        ),
        Status::Missing { lost: false } => {
            format!("{}: missing: no archive covers any of the day", day.date)
        }
        other => {
            let meaning = LEGEND
                .iter()
                .find(|(name, _)| *name == other.name())
                .map_or("", |(_, meaning)| meaning);
            format!("{}: {meaning}", day.date)
        }
    }
}

/// One month as a wall calendar: a row per week, Monday first, the days before the 1st and
/// after the last (and those outside the job's days) empty. Each day links to what holds it.
fn month(job: &str, first: NaiveDate, days: &BTreeMap<NaiveDate, &Day>, held: &Held<'_>) -> Markup {
    let lead = first.weekday().num_days_from_monday() as usize;
    let length = first
        .checked_add_months(Months::new(1))
        .map_or(31, |next| (next - first).num_days() as usize);
    let cells: Vec<Option<NaiveDate>> = std::iter::repeat_n(None, lead)
        .chain(first.iter_days().take(length).map(Some))
        .collect();
    html! {
        table.month data-month=(first.format("%Y-%m")) {
            caption { (first.format("%B %Y")) }
            thead {
                tr { @for (short, long) in WEEKDAYS { th scope="col" { abbr title=(long) { (short) } } } }
            }
            tbody {
                @for week in cells.chunks(7) {
                    tr {
                        @for cell in week {
                            @match cell.and_then(|date| days.get(&date)) {
                                Some(day) => (cell_of(job, day, held.get(&day.date))),
                                None => td.pad {},
                            }
                        }
                        @for _ in week.len()..7 { td.pad {} }
                    }
                }
            }
        }
    }
}

const WEEKDAYS: [(&str, &str); 7] = [
    ("Mo", "Monday"),
    ("Tu", "Tuesday"),
    ("We", "Wednesday"),
    ("Th", "Thursday"),
    ("Fr", "Friday"),
    ("Sa", "Saturday"),
    ("Su", "Sunday"),
];

/// Per day, the names of the legal holds covering an archive of it.
type Held<'a> = BTreeMap<NaiveDate, BTreeSet<&'a str>>;

fn cell_of(job: &str, day: &Day, held: Option<&BTreeSet<&str>>) -> Markup {
    let risk = matches!(day.status, Status::InFlight { at_risk: true, .. });
    let mut title = describe(day);
    if let Some(names) = held {
        let names: Vec<&str> = names.iter().copied().collect();
        title.push_str(&format!("; under legal hold: {}", names.join(", ")));
    }
    if day.erased {
        title.push_str("; erased: an archive of the day was replaced without a person's items");
    }
    html! {
        td class={
                "day s-" (day.status.name()) @if risk { " risk" }
                @if held.is_some() { " held" } @if day.erased { " erased" }
            }
            data-day=(day.date) data-status=(day.status.name())
            data-held=[held.map(|_| "true")]
            data-lost=[matches!(day.status, Status::Missing { lost: true }).then_some("true")]
            data-erased=[day.erased.then_some("true")] {
            a href=(job_day_href(job, day.date)) title=(title) {
                (day.date.day())
                span.sr {
                    " " (day.status.name()) @if held.is_some() { ", held" }
                    @if day.erased { ", erased" }
                }
            }
        }
    }
}

/// The days as months laid out by weekday, and the legend of the statuses shown; nothing when
/// there are no days.
fn calendar(what: &str, job: &str, zone: Tz, days: &[Day], held: &Held<'_>) -> Markup {
    let by_date: BTreeMap<NaiveDate, &Day> = days.iter().map(|d| (d.date, d)).collect();
    let months: BTreeSet<NaiveDate> = days
        .iter()
        .map(|d| d.date.with_day(1).unwrap_or(d.date))
        .collect();
    html! {
        @if !days.is_empty() {
            section.calendar aria-label=(what) {
                h3 { (what) ", by day (" (zone.name()) ")" }
                div.months {
                    @for first in &months { (month(job, *first, &by_date, held)) }
                }
                (legend(days, held))
            }
        }
    }
}

fn legend(days: &[Day], held: &Held<'_>) -> Markup {
    html! {
        ul.legend {
            @for (name, meaning) in LEGEND {
                @if days.iter().any(|d| d.status.name() == name) {
                    li { span class={ "swatch s-" (name) } {} (meaning) }
                }
            }
            @if days.iter().any(|d| d.erased) {
                li { span class="swatch erased" {} "erased: an archive of the day was replaced without a person's items" }
            }
            @if days.iter().any(|d| held.contains_key(&d.date)) {
                li {
                    span class="swatch held" {}
                    "under legal hold: an archive of the day is kept, never expired nor erased"
                }
            }
        }
    }
}

/// Archives as a table: key (marked when its object is gone), what it covers, its messages and
/// size.
pub fn archive_table(archives: &[&Listed], zone: Tz) -> Markup {
    html! {
        table.archives {
            (head(&["Archive", "Covers", "Messages", "Stored"]))
            tbody {
                @for a in archives {
                    @let m = &a.manifest;
                    tr data-key=(m.key) data-lost=[(!a.present).then_some("true")] {
                        td {
                            a href=(archive_href(&m.job, &m.key)) { (UserText(&m.key)) }
                            @if !a.present { " " span.bad { "manifest without archive" } }
                        }
                        td { (covers(m, zone)) }
                        td.num { (messages(m)) }
                        td.num { (bytes(m.bytes_stored)) }
                    }
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
            @if view.outstanding > 0 {
                p.meta.outstanding {
                    (view.outstanding) " file(s) its archives link to not captured yet; a later "
                    "run retries."
                }
            }
            @if view.empty {
                p.problem.empty { "No archive yet at " code { (view.url) } "." }
            }
            (calendar("Message time archived", &job.name, zone, &view.messages, &view.held))
            (calendar("Users snapshots", &job.name, zone, &view.snapshots, &view.held))
            @if view.messages.is_empty() && view.snapshots.is_empty() {
                p { "Nothing archived or planned yet." }
            }
            @if !view.recent.is_empty() {
                h3 { "Newest archives (" (view.recent.len()) " of " (view.archives) ")" }
                (archive_table(&view.recent, zone))
                p { a href=(job_archives_href(&job.name, 1)) {
                    "All " (view.archives) " archive(s) of " (job.name) ", newest window first"
                } }
            }
        }
    }
}

/// The messages an archive's counts say it holds.
pub fn messages(m: &Manifest) -> String {
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
                    Some(o) if o.interrupted => {
                        "interrupted at " (timestamp(Some(o.finished_at), zone))
                        ", " (state.in_flight.len()) " export task(s) to resume"
                    },
                    Some(o) => {
                        span.bad { "failed" } ", " (timestamp(Some(o.finished_at), zone))
                    },
                }
            }
            @if let Some(o) = last.filter(|o| o.failed()) {
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
        (incomplete(problems))
        @if views.is_empty() { p { "No jobs." } }
        @for view in views { (job(view, zone, now)) }
    }
}
