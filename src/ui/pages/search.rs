//! Search: `chatvault search`'s query language at a shareable URL; each hit links to its
//! message in the channel's day.

use chrono_tz::Tz;
use maud::{Markup, html};

use super::{UserText, channel_href, message, problems};
use crate::archive::search::Found;
use crate::ui::calendar::day_of;

/// Hits shown; the earliest, as `chatvault search --limit` does.
pub const LIMIT: usize = 200;

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

pub fn results(q: &str, found: &Found, zone: Tz) -> Markup {
    let unreadable: Vec<(String, String)> = found
        .problems
        .iter()
        .map(|p| (p.key.clone(), p.problem.clone()))
        .collect();
    html! {
        h1 { "Search: " (UserText(q)) }
        p.meta {
            (found.hits.len()) " hit(s)"
            @if found.hits.len() >= LIMIT {
                " (the earliest " (LIMIT) "; narrow the query with after:, before:, in: or from:)"
            }
            "; " (found.read) " archive(s) read, " (found.skipped) " ruled out by their counts."
        }
        (problems(&unreadable))
        ol.hits {
            @for hit in &found.hits {
                @let m = &hit.message;
                @let cid = m.cid.as_deref().unwrap_or("");
                li.hit data-id=(m.id) {
                    p.where {
                        @let day = m.created_at.map(|t| day_of(zone, t));
                        a.context href=(channel_href(cid, day, Some(&m.id))) {
                            "in context"
                        }
                        " · " (UserText(cid))
                    }
                    (message(m, zone, false, html! {}))
                }
            }
        }
    }
}
