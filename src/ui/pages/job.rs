//! One job's pages beyond the jobs page: every archive of it, newest window first and paged,
//! and one day of its calendar with the channels and archives that hold it.

use chrono::NaiveDate;
use chrono_tz::Tz;
use maud::{Markup, html};

use super::jobs::{archive_table, describe};
use super::{UserText, channel_href, head, job_archives_href, job_day_href, pager};
use crate::archive::reading::Listed;
use crate::ui::calendar::Day;
use crate::ui::holdings::DayHeld;

/// Archives per page of a job's archives.
pub const PER_PAGE: usize = 100;

/// A page of `archives` (all of the job's, newest window first).
/// `outstanding`: references of its archives whose files are not captured yet.
pub fn archives(
    job: &str,
    archives: &[&Listed],
    page: usize,
    outstanding: usize,
    zone: Tz,
) -> Markup {
    let pages = archives.len().div_ceil(PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let shown: Vec<&Listed> = archives
        .iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE)
        .copied()
        .collect();
    let lost = archives.iter().filter(|a| !a.present).count();
    html! {
        h1 { "Archives of " (job) }
        p.meta {
            (archives.len()) " archive(s), the newest window first; times in " (zone.name()) "."
            @if lost > 0 {
                " " span.bad { (lost) " manifest(s) without their archive." }
            }
        }
        @if outstanding > 0 {
            p.meta.outstanding {
                (outstanding) " file(s) its archives link to not captured yet; a later run "
                "retries."
            }
        }
        @if archives.is_empty() { p { "No archive yet." } }
        @else { (archive_table(&shown, zone)) }
        (pager(page, pages, |p| job_archives_href(job, p)))
    }
}

/// One day of a job's calendars.
pub struct JobDay<'a> {
    pub job: &'a str,
    pub date: NaiveDate,
    pub zone: Tz,
    /// The day in the message-time calendar and in the users snapshots calendar, when in them.
    pub messages: Option<&'a Day>,
    pub snapshots: Option<&'a Day>,
    pub held: &'a DayHeld<'a>,
}

pub fn day(view: &JobDay<'_>) -> Markup {
    let (prev, next) = (view.date.pred_opt(), view.date.succ_opt());
    html! {
        h1 { (view.job) " on " (view.date) }
        p.meta { (view.date.format("%A %-d %B %Y")) " (" (view.zone.name()) ")." }
        nav.pager aria-label="Days" {
            @if let Some(d) = prev { a rel="prev" href=(job_day_href(view.job, d)) { "← " (d) } }
            a href="/" { "calendar" }
            @if let Some(d) = next { a rel="next" href=(job_day_href(view.job, d)) { (d) " →" } }
        }
        @if view.messages.is_some() || view.snapshots.is_some() {
            dl.facts {
                @if let Some(d) = view.messages {
                    dt { "Message time" } dd data-status=(d.status.name()) { (describe(d)) }
                }
                @if let Some(d) = view.snapshots {
                    dt { "Users snapshot" } dd data-status=(d.status.name()) { (describe(d)) }
                }
            }
        }
        h2 { "Channels" }
        @if view.held.channels.is_empty() {
            p { "No archive of this job counts a message on this day." }
        } @else {
            p.meta {
                "From the archives' counts; an archive's count is of its whole window, so a "
                "window longer than the day counts its other days too. An archive without "
                "counts (written before manifest format 2) is \"not counted\" until "
                code { "chatvault index" } " counts it."
            }
            table.channels {
                (head(&["Channel", "Messages in these archives", "Archives"]))
                tbody {
                    @for c in &view.held.channels {
                        tr data-cid=(c.cid) {
                            td { a href=(channel_href(&c.cid, Some(view.date), None)) { (UserText(&c.cid)) } }
                            td.num {
                                @if c.uncounted {
                                    @if c.messages > 0 { (c.messages) " + " }
                                    "not counted"
                                } @else { (c.messages) }
                            }
                            td.num { (c.archives) }
                        }
                    }
                }
            }
        }
        h2 { "Archives" }
        @if view.held.archives.is_empty() {
            p { "No archive of this job holds this day." }
        } @else {
            (archive_table(&view.held.archives, view.zone))
        }
    }
}
