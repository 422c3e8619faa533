//! One channel, one day (or its messages without a time): reads like the chat, rendering the
//! read path's threading, so every message read is shown once: replies folded under the
//! thread's first message (open when a link points into the thread), a reply to a reply shown
//! flat in the thread and marked with its parent, a reply that cannot be placed (its parent
//! on another day, itself, a loop) standing alone, marked; edits and deletions marked,
//! attachments listed.

use chrono::NaiveDate;
use chrono_tz::Tz;
use maud::{Markup, html};

use super::{UserText, archive_href, channel_href, incomplete, message, no_time_href, search_href};
use crate::archive::reading::Problem;
use crate::archive::reading::thread::{Place, Shown, Thread};
use crate::archive::transcript::count;
use crate::ui::media::Media;

/// Threads per page; a day busier than this is split.
pub const PER_PAGE: usize = 300;

pub struct ChannelDay<'a> {
    pub cid: &'a str,
    /// `None`: the messages without a time.
    pub day: Option<NaiveDate>,
    pub zone: Tz,
    pub threads: &'a [Thread<'a>],
    /// 1-based, within the day.
    pub page: usize,
    /// The message a link pointed at.
    pub target: Option<&'a str>,
    pub earlier: Option<NaiveDate>,
    pub later: Option<NaiveDate>,
    /// `(job, key)` of the archives read.
    pub archives: Vec<(String, String)>,
    pub problems: &'a [Problem],
    /// What the media records say of the files the messages link to.
    pub media: &'a Media,
    /// Files of this part not captured yet, that a later run retries.
    pub outstanding: usize,
}

/// Where a message stands, when that is not simply in its thread.
fn place(view: &ChannelDay<'_>, shown: &Shown<'_>) -> Markup {
    let elsewhere = |parent: &str| {
        html! {
            a href=(channel_href(view.cid, None, Some(parent))) { "open the message it replies to" }
        }
    };
    html! {
        @match shown.place {
            Place::First | Place::Reply => {}
            Place::Nested { parent } => p.meta.place {
                span.mark { "reply to a reply" } " "
                a href={ "#m-" (parent) } { "the message it replies to" }
            },
            Place::ParentAbsent { parent } => p.meta.place {
                span.mark {
                    @if view.day.is_some() { "reply to a message not on this day" }
                    @else { "reply to a message with a time" }
                }
                " " (elsewhere(parent))
            },
            Place::ToItself => p.meta.place { span.mark { "reply to itself" } },
            Place::InLoop { parent } => p.meta.place {
                span.mark { "in a reply loop" } " " (elsewhere(parent))
            },
        }
    }
}

fn thread(view: &ChannelDay<'_>, t: &Thread<'_>) -> Markup {
    let target = |s: &Shown<'_>| view.target == Some(s.message.id.as_str());
    let open = t.replies.iter().any(target);
    let replies = html! {
        (place(view, &t.first))
        @if !t.replies.is_empty() {
            details.thread open[open] {
                summary {
                    (t.replies.len()) @if t.replies.len() == 1 { " reply" } @else { " replies" }
                }
                div.replies {
                    @for r in &t.replies {
                        (message(r.message, view.zone, target(r), view.media, place(view, r)))
                    }
                }
            }
        }
    };
    message(
        t.first.message,
        view.zone,
        target(&t.first),
        view.media,
        replies,
    )
}

fn part_link(view: &ChannelDay<'_>, page: usize) -> String {
    let mut href = match view.day {
        Some(day) => channel_href(view.cid, Some(day), None),
        None => no_time_href(view.cid, None),
    };
    if page > 1 {
        href.push_str(&format!("&page={page}"));
    }
    href
}

pub fn page(view: &ChannelDay<'_>) -> Markup {
    let pages = view.threads.len().div_ceil(PER_PAGE).max(1);
    let page = view.page.clamp(1, pages);
    let shown = view
        .threads
        .iter()
        .skip((page - 1) * PER_PAGE)
        .take(PER_PAGE);
    html! {
        h1 { (UserText(view.cid)) }
        p.meta {
            @match view.day {
                Some(day) => { (day.format("%A %-d %B %Y")) " (" (view.zone.name()) "): " }
                None => { "Messages without a time (they belong to no day): " }
            }
            (count(view.threads)) " message(s) in " (view.threads.len()) " thread(s) · "
            a href=(search_href(&format!("in:{}", view.cid))) { "search this channel" }
        }
        @if view.outstanding > 0 {
            p.meta.outstanding {
                (view.outstanding) " file(s) here not captured yet; a later run retries."
            }
        }
        nav.pager aria-label="Days" {
            @if let Some(d) = view.earlier {
                a rel="prev" href=(channel_href(view.cid, Some(d), None)) { "← " (d) }
            }
            form.day action=(channel_href(view.cid, None, None)) method="get" {
                label for="day" { "Day" }
                input #day name="day" type="date" value=[view.day];
                button type="submit" { "Show" }
            }
            @if let Some(d) = view.later {
                a rel="next" href=(channel_href(view.cid, Some(d), None)) { (d) " →" }
            }
            @if view.day.is_some() {
                a.no-time href=(no_time_href(view.cid, None)) { "messages without a time" }
            }
        }
        (incomplete(view.problems))
        @if view.threads.is_empty() {
            p {
                // What could not be read may hold this day's messages: not "none".
                @if !view.problems.is_empty() { "No message could be read here; see above." }
                @else if view.day.is_some() { "No archived messages on this day." }
                @else { "No archived message of this channel is without a time." }
            }
        }
        section.conversation aria-label="Messages" {
            @for t in shown { (thread(view, t)) }
        }
        @if pages > 1 {
            nav.pager aria-label="Pages of this day" {
                @if page > 1 {
                    a href=(part_link(view, page - 1)) { "← earlier messages" }
                }
                span { "part " (page) " of " (pages) }
                @if page < pages {
                    a href=(part_link(view, page + 1)) { "later messages →" }
                }
            }
        }
        @if !view.archives.is_empty() {
            h2 { "Read from" }
            ul.sources {
                @for (job, key) in &view.archives {
                    li { a href=(archive_href(job, key)) { (UserText(key)) } }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::reading::thread::Conversation;
    use crate::archive::reading::thread::tests::generated;

    #[test]
    fn every_message_of_any_parent_graph_is_on_exactly_one_part_of_the_day() {
        for seed in 0..12 {
            let conversation = Conversation::new(generated(seed));
            let threads = conversation.threads();
            let mut seen = std::collections::BTreeMap::new();
            let pages = threads.len().div_ceil(PER_PAGE).max(1);
            for part in 1..=pages {
                let view = ChannelDay {
                    cid: "messaging:x",
                    day: NaiveDate::from_ymd_opt(2026, 3, 1),
                    zone: chrono_tz::UTC,
                    threads: &threads,
                    page: part,
                    target: None,
                    earlier: None,
                    later: None,
                    archives: Vec::new(),
                    problems: &[],
                    media: &Media::default(),
                    outstanding: 0,
                };
                let html = page(&view).into_string();
                for (at, _) in html.match_indices("data-id=\"") {
                    let rest = &html[at + "data-id=\"".len()..];
                    let id = &rest[..rest.find('"').expect("a closing quote")];
                    *seen.entry(id.to_owned()).or_insert(0) += 1;
                }
            }
            assert_eq!(seen.len(), conversation.len(), "seed {seed}: every message");
            assert!(seen.values().all(|&n| n == 1), "seed {seed}: none twice");
        }
    }
}
