//! Every archived channel, with its message count and time span.

use chrono_tz::Tz;
use maud::{Markup, html};

use super::{UserText, channel_href, head, incomplete, no_archive_yet, pager, timestamp};
use crate::archive::reading::Problem;
use crate::ui::holdings::Holding;

pub const PER_PAGE: usize = 200;

const APPROXIMATE: &str = "may count a message twice: several jobs or overlapping windows hold it";

pub fn page(
    holdings: &[Holding],
    page: usize,
    uncounted: usize,
    problems: &[Problem],
    empty: &[&str],
    zone: Tz,
) -> Markup {
    let pages = holdings.len().div_ceil(PER_PAGE).max(1);
    let page = page.clamp(1, pages);
    let shown = holdings.iter().skip((page - 1) * PER_PAGE).take(PER_PAGE);
    html! {
        h1 { "Channels" }
        p.meta { (holdings.len()) " channel(s) archived. Times in " (zone.name()) "." }
        (incomplete(problems))
        (no_archive_yet(empty))
        @if uncounted > 0 {
            p.problem {
                (uncounted) " older archive(s) have no counts yet and are not listed here; "
                code { "chatvault index" }
                " counts them (search and channel pages read them all the same)."
            }
        }
        table.channels {
            (head(&["Channel", "Messages", "First message", "Last message", "Archives", "Jobs"]))
            tbody {
                @for h in shown {
                    tr data-cid=(h.cid) {
                        td { a href=(channel_href(&h.cid, None, None)) { (UserText(&h.cid)) } }
                        td.num title=[(!h.exact).then_some(APPROXIMATE)] {
                            @if !h.exact { "≈ " } (h.messages)
                        }
                        td { (timestamp(h.first, zone)) }
                        td { (timestamp(h.last, zone)) }
                        td.num { (h.archives) }
                        td { (h.jobs.iter().cloned().collect::<Vec<_>>().join(", ")) }
                    }
                }
            }
        }
        (pager(page, pages, |p| format!("/channels?page={p}")))
    }
}
