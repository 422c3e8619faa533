//! One channel, one day: reads like the chat, thread replies under their parent (folded, open
//! when a link points into the thread), edits and deletions marked, attachments listed.

use chrono::NaiveDate;
use chrono_tz::Tz;
use maud::{Markup, html};

use super::{UserText, archive_href, channel_href, message, problems, search_href};
use crate::archive::read::Message;
use crate::archive::transcript::Entry;

/// Top-level messages per page; a day busier than this is split.
pub const PER_PAGE: usize = 300;

pub struct ChannelDay<'a> {
    pub cid: &'a str,
    pub day: NaiveDate,
    pub zone: Tz,
    pub entries: &'a [Entry<'a>],
    /// 1-based, within the day.
    pub page: usize,
    /// The message a link pointed at.
    pub target: Option<&'a str>,
    pub earlier: Option<NaiveDate>,
    pub later: Option<NaiveDate>,
    /// `(job, key)` of the archives read.
    pub archives: Vec<(String, String)>,
    pub problems: &'a [(String, String)],
}

fn reply_link(view: &ChannelDay<'_>, m: &Message) -> Markup {
    html! {
        @if let Some(parent) = &m.parent_id {
            p.meta {
                "Reply in a thread started on another day: "
                a href=(channel_href(view.cid, None, Some(parent))) {
                    "open the thread's first message"
                }
            }
        }
    }
}

fn entry(view: &ChannelDay<'_>, e: &Entry<'_>) -> Markup {
    let target = |m: &Message| view.target == Some(m.id.as_str());
    let open = e.replies.iter().any(|r| target(r));
    let replies = html! {
        @if e.orphan { (reply_link(view, e.message)) }
        @if !e.replies.is_empty() {
            details.thread open[open] {
                summary {
                    (e.replies.len()) @if e.replies.len() == 1 { " reply" } @else { " replies" }
                }
                div.replies {
                    @for r in &e.replies { (message(r, view.zone, target(r), html! {})) }
                }
            }
        }
    };
    message(e.message, view.zone, target(e.message), replies)
}

fn day_link(cid: &str, day: NaiveDate, page: usize) -> String {
    let mut href = channel_href(cid, Some(day), None);
    if page > 1 {
        href.push_str(&format!("&page={page}"));
    }
    href
}

pub fn page(view: &ChannelDay<'_>) -> Markup {
    let pages = view.entries.len().div_ceil(PER_PAGE).max(1);
    let page = view.page.clamp(1, pages);
    let shown = view
        .entries
        .iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE);
    html! {
        h1 { (UserText(view.cid)) }
        p.meta { (view.day.format("%A %-d %B %Y")) " (" (view.zone.name()) "): "
            (view.entries.len()) " message(s) and thread(s) · "
            a href=(search_href(&format!("in:{}", view.cid))) { "search this channel" } }
        nav.pager aria-label="Days" {
            @if let Some(d) = view.earlier {
                a rel="prev" href=(channel_href(view.cid, Some(d), None)) { "← " (d) }
            }
            form.day action=(channel_href(view.cid, None, None)) method="get" {
                label for="day" { "Day" }
                input #day name="day" type="date" value=(view.day);
                button type="submit" { "Show" }
            }
            @if let Some(d) = view.later {
                a rel="next" href=(channel_href(view.cid, Some(d), None)) { (d) " →" }
            }
        }
        (problems(view.problems))
        @if view.entries.is_empty() { p { "No archived messages on this day." } }
        section.conversation aria-label="Messages" {
            @for e in shown { (entry(view, e)) }
        }
        @if pages > 1 {
            nav.pager aria-label="Pages of this day" {
                @if page > 1 {
                    a href=(day_link(view.cid, view.day, page - 1)) { "← earlier messages" }
                }
                span { "part " (page) " of " (pages) }
                @if page < pages {
                    a href=(day_link(view.cid, view.day, page + 1)) { "later messages →" }
                }
            }
        }
        @if !view.archives.is_empty() {
            h2 { "Read from" }
            ul.sources {
                @for (job, key) in &view.archives {
                    li { a href=(archive_href(job, key)) { (key) } }
                }
            }
        }
    }
}
