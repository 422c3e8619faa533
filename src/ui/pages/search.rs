//! Search: `chatvault search`'s query language at a shareable URL; each hit links to its
//! message in the channel's day.

use chrono_tz::Tz;
use maud::{Markup, html};

use super::{
    UserText, channel_href, incomplete, message, no_archive_yet, no_time_href, pager,
    search_page_href,
};
use crate::archive::reading::Problem;
use crate::archive::search::Hit;
use crate::ui::calendar::day_of;
use crate::ui::media::Media;

/// Hits a page, in time order (the earliest on page 1).
pub const PER_PAGE: usize = 200;

pub fn help() -> Markup {
    html! {
        h1 { "Search" }
        p { "Type a query in the box above. Every term must hold:" }
        dl.help {
            dt { code { "word" } } dd { "the text contains the word, whole (any case)" }
            dt { code { "\"a phrase\"" } } dd { "the text contains the phrase, whole words" }
            dt { code { "word*" } } dd { "a word starting so" }
            dt { code { "a OR b" } } dd { "either word or phrase" }
            dt { code { "-word" } } dd { "the text does not contain the word" }
            dt { code { "from:USER" } } dd { "written by this user id" }
            dt { code { "in:TYPE:ID" } } dd { "in this channel" }
            dt { code { "after:2026-03-01" } " " code { "before:2026-03-08T12:00:00Z" } }
            dd { "created at or after, before (a date is 00:00 in the zone times are shown in)" }
            dt { code { "has:attachment" } " " code { "is:reply" } }
            dd { "with an attachment; a thread reply" }
        }
    }
}

pub fn invalid(q: &str, problem: &str) -> Markup {
    html! {
        h1 { "Search" }
        p.problem { "The query " code { (q) } " cannot be read: " (problem) }
    }
}

/// One page of a search's hits.
pub struct Results<'a> {
    pub q: &'a str,
    /// This page's hits, in order.
    pub hits: &'a [Hit],
    /// The hits of the whole search, on every page.
    pub total: usize,
    /// 1-based.
    pub page: usize,
    /// Archives read, and archives their counts ruled out.
    pub read: usize,
    pub skipped: usize,
    /// What could not be read.
    pub problems: &'a [Problem],
    /// The locations listed that hold no archive yet.
    pub empty: &'a [&'a str],
    /// `from:`/`in:` ids no archive holds that an archive holds in another case.
    pub hints: &'a [String],
    /// Messages that match but for the time range and have no time.
    pub undated: usize,
    /// What the media records say of the files the hits link to.
    pub media: &'a Media,
}

pub fn results(view: &Results<'_>, zone: Tz) -> Markup {
    let pages = view.total.div_ceil(PER_PAGE).max(1);
    let first = (view.page - 1) * PER_PAGE;
    html! {
        h1 { "Search: " (UserText(view.q)) }
        (incomplete(view.problems))
        (no_archive_yet(view.empty))
        @for hint in view.hints { p.problem.hint { (UserText(hint)) } }
        @if view.undated > 0 {
            p.meta.undated {
                (view.undated) " more message(s) match but have no time, so after:/before: "
                "cannot hold them; the same search without them shows them."
            }
        }
        p.meta.total {
            (view.total) " hit(s)"
            @if !view.hits.is_empty() && pages > 1 {
                ", " (first + 1) " to " (first + view.hits.len()) " shown"
            }
            "; " (view.read) " archive(s) read, " (view.skipped) " ruled out by their counts."
        }
        ol.hits start=(first + 1) {
            @for hit in view.hits {
                @let m = &hit.message;
                @let cid = m.cid.as_deref().unwrap_or("");
                li.hit data-id=(m.id) {
                    p.where {
                        @let href = match m.created_at {
                            Some(t) => channel_href(cid, Some(day_of(zone, t)), Some(&m.id)),
                            None => no_time_href(cid, Some(&m.id)),
                        };
                        a.context href=(href) { "in context" }
                        " · " (UserText(cid))
                    }
                    (message(m, zone, false, view.media, html! {}))
                }
            }
        }
        (pager(view.page, pages, |p| search_page_href(view.q, p)))
    }
}
