//! The pages, as HTML. Every value goes through maud's escaping (text and attributes alike);
//! nothing here writes markup from data, and Stream's `html` field is never read. No page has
//! a script: the stylesheet is the only asset.

pub mod archive;
pub mod channel;
pub mod channels;
pub mod job;
pub mod jobs;
pub mod search;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use chrono_tz::Tz;
use maud::{DOCTYPE, Markup, PreEscaped, Render, html};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub use crate::archive::attachments::size as bytes;
use crate::archive::attachments::{self, Attachment, File};
use crate::archive::media::kind::is_raster;
use crate::archive::read::Message;
use crate::archive::reading::Problem;
use crate::archive::transcript::{author, html_text, reactions, time};
use crate::ui::media::Media;

/// User text on a page (message text, names, ids, attachment names): isolated in `<bdi>` with
/// each invisible format character marked, as in HTML transcripts (see [`html_text`]).
pub struct UserText<'a>(pub &'a str);

impl Render for UserText<'_> {
    fn render(&self) -> Markup {
        PreEscaped(html_text(self.0))
    }
}

/// Which part of the site a page belongs to, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    Jobs,
    Channels,
    Search,
    Other,
}

/// A path segment keeps only unreserved characters; a cid's `:` and `!` are encoded too.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn query(pairs: &[(&str, &str)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        out.append_pair(k, v);
    }
    out.finish()
}

pub fn channel_href(cid: &str, day: Option<NaiveDate>, msg: Option<&str>) -> String {
    let mut pairs = Vec::new();
    let day = day.map(|d| d.to_string());
    if let Some(day) = &day {
        pairs.push(("day", day.as_str()));
    }
    if let Some(msg) = msg {
        pairs.push(("msg", msg));
    }
    let mut href = format!("/channels/{}", utf8_percent_encode(cid, SEGMENT));
    if !pairs.is_empty() {
        href.push('?');
        href.push_str(&query(&pairs));
    }
    if let Some(msg) = msg {
        href.push_str("#m-");
        href.push_str(&utf8_percent_encode(msg, SEGMENT).to_string());
    }
    href
}

/// The `day` of a channel's part for messages without a time: they belong to no day.
pub const NO_TIME: &str = "none";

/// A channel's messages without a time, `msg` marked.
pub fn no_time_href(cid: &str, msg: Option<&str>) -> String {
    let mut pairs = vec![("day", NO_TIME)];
    if let Some(msg) = msg {
        pairs.push(("msg", msg));
    }
    let mut href = format!(
        "/channels/{}?{}",
        utf8_percent_encode(cid, SEGMENT),
        query(&pairs)
    );
    if let Some(msg) = msg {
        href.push_str("#m-");
        href.push_str(&utf8_percent_encode(msg, SEGMENT).to_string());
    }
    href
}

pub fn archive_href(job: &str, key: &str) -> String {
    format!("/archive?{}", query(&[("job", job), ("key", key)]))
}

pub fn search_href(q: &str) -> String {
    format!("/search?{}", query(&[("q", q)]))
}

/// A search's page of hits; the first has no `page`, so it is the link a query makes.
pub fn search_page_href(q: &str, page: usize) -> String {
    let page = page.to_string();
    let mut pairs = vec![("q", q)];
    if page != "1" {
        pairs.push(("page", &page));
    }
    format!("/search?{}", query(&pairs))
}

/// A job's archives, a page of them.
pub fn job_archives_href(job: &str, page: usize) -> String {
    let mut href = format!("/jobs/{}/archives", utf8_percent_encode(job, SEGMENT));
    if page > 1 {
        href.push_str(&format!("?page={page}"));
    }
    href
}

/// A job's day: the channels and archives that hold it.
pub fn job_day_href(job: &str, day: NaiveDate) -> String {
    format!("/jobs/{}/days/{day}", utf8_percent_encode(job, SEGMENT))
}

/// Links to the previous and next of `pages` pages, around "page N of M"; nothing for one page.
pub fn pager(page: usize, pages: usize, href: impl Fn(usize) -> String) -> Markup {
    html! {
        @if pages > 1 {
            nav.pager aria-label="Pages" {
                @if page > 1 { a rel="prev" href=(href(page - 1)) { "← previous" } }
                span { "page " (page) " of " (pages) }
                @if page < pages { a rel="next" href=(href(page + 1)) { "next →" } }
            }
        }
    }
}

/// Where the shown jobs' archives are, when none of them holds one yet: a viewer started
/// before the first run, or pointed at the wrong place, says so instead of looking empty.
pub fn no_archive_yet(urls: &[&str]) -> Markup {
    html! {
        @if !urls.is_empty() {
            section.empty aria-label="No archive yet" {
                @for url in urls {
                    p.problem { "No archive yet at " code { (url) } " (no manifest listed there)." }
                }
            }
        }
    }
}

pub fn timestamp(t: Option<DateTime<Utc>>, zone: Tz) -> String {
    t.map_or_else(
        || "never".to_owned(),
        |t| {
            t.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        },
    )
}

pub fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Every page: the navigation, the search box (holding `q`), one `h1`, the content.
pub fn layout(title: &str, section: Section, q: &str, body: Markup) -> Markup {
    let current = |s: Section| if s == section { Some("page") } else { None };
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · chatvault" }
                link rel="stylesheet" href="/assets/style.css";
                link rel="icon" href="/assets/icon.svg" type="image/svg+xml";
            }
            body {
                header {
                    nav aria-label="Main" {
                        a.brand href="/" { "chatvault" }
                        a href="/" aria-current=[current(Section::Jobs)] { "Jobs" }
                        a href="/channels" aria-current=[current(Section::Channels)] { "Channels" }
                        a href="/search" aria-current=[current(Section::Search)] { "Search" }
                    }
                    form role="search" action="/search" method="get" {
                        label for="q" { "Search the archive" }
                        input #q name="q" type="search" value=(q)
                            placeholder="words \"a phrase\" from:user in:type:id after:2026-03-01";
                        button type="submit" { "Search" }
                    }
                }
                main { (body) }
                footer { "Read-only view of the archives. Every page view is logged." }
            }
        }
    }
}

/// A table's header row.
pub fn head(columns: &[&str]) -> Markup {
    html! { thead { tr { @for c in columns { th scope="col" { (c) } } } } }
}

/// An error page's body.
pub fn problem(title: &str, detail: &str) -> Markup {
    html! {
        h1 { (title) }
        p.problem { (detail) }
    }
}

/// What could not be read (an archive, a manifest, a store), said first and on the page rather
/// than hidden: what the page shows is incomplete, and this is by how much.
pub fn incomplete(list: &[Problem]) -> Markup {
    html! {
        @if !list.is_empty() {
            section.incomplete aria-labelledby="incomplete" {
                h2 #incomplete { "Incomplete" }
                p {
                    (list.len()) " could not be read (an archive, a manifest, a media record or a "
                    "store's listing); what they hold is not shown here:"
                }
                ul { @for p in list { li { code { (p.key) } ": " (p.problem) } } }
            }
        }
    }
}

/// A captured file's path in the viewer.
pub fn media_href(sha256: &str) -> String {
    format!("/media/{sha256}")
}

/// One attachment: a stored image shown, another stored file offered as a download (its name,
/// type and size), anything else named with why its file is not here. A link is printed
/// without its query, as text: it is never followed from here.
fn attachment(a: &Attachment<'_>) -> Markup {
    html! {
        @match &a.file {
            File::Stored(_, stored) if is_raster(&stored.content_type) => li.image {
                a href=(media_href(&stored.sha256)) {
                    img src=(media_href(&stored.sha256)) alt=(crate::text::escape_hidden(&a.name)) loading="lazy";
                }
                span.meta {
                    (UserText(&a.name)) " (" (UserText(&a.kind)) ", " (bytes(stored.size)) ")"
                }
            },
            File::Stored(_, stored) => li.file {
                "attachment: "
                a href=(media_href(&stored.sha256)) download { (UserText(&a.name)) }
                span.meta {
                    " (" (UserText(&a.kind)) ", " (bytes(stored.size)) ", "
                    (stored.content_type) ")"
                }
            },
            file => li {
                "attachment: " (UserText(&a.name)) " (" (UserText(&a.kind)) ")"
                @if let Some(link) = &a.link { ": " (UserText(link)) }
                @if let Some(why) = file.why_not() { " " span.why { (why) } }
            },
        }
    }
}

/// One message as people read it. `target` marks the one a link pointed at; its files are
/// looked up in `media`.
pub fn message(m: &Message, zone: Tz, target: bool, media: &Media, replies: Markup) -> Markup {
    let mut class = String::from("msg");
    if m.is_deleted() {
        class.push_str(" deleted");
    }
    if target {
        class.push_str(" target");
    }
    let lookup = |url: &str| media.lookup(url);
    let attachments = attachments::of(m, lookup);
    let avatar = attachments::avatar(m, lookup).filter(|s| is_raster(&s.content_type));
    let reactions = reactions(m);
    html! {
        article class=(class) id={ "m-" (m.id) } data-id=(m.id) {
            p.head {
                @if let Some(avatar) = avatar {
                    img.avatar src=(media_href(&avatar.sha256)) alt="" width="20" height="20"
                        loading="lazy";
                    " "
                }
                span.who { (UserText(&author(m))) }
                " "
                time.when datetime=[m.created_at.map(rfc3339)] { (time(m, zone)) }
                @if m.is_deleted() { " " span.mark { "deleted" } }
                @else if m.is_edited() { " " span.mark { "edited" } }
            }
            p.text { (UserText(&m.text)) }
            @if !attachments.is_empty() {
                ul.attachments { @for a in &attachments { (attachment(a)) } }
            }
            @if !reactions.is_empty() { p.meta { "reactions: " (UserText(&reactions)) } }
            (replies)
        }
    }
}
