//! One channel's conversation as people read it: in time order, thread replies under the
//! thread's first message (the read path's threading: every message once, a reply that cannot
//! be placed standing alone, marked), edited and deleted messages marked, attachments listed, reactions counted, times in
//! a chosen zone. HTML (one self-contained file: no script, no external style or font), Markdown
//! and plain text. Message text is user input: each format escapes it, and Stream's `html`
//! field is never used.
//!
//! A transcript is a file handed over: it says where it came from (every archive read, with
//! its SHA-256 and manifest format), when and by which chatvault it was made, and, before
//! anything else, when an archive could not be read and the file is incomplete.

use std::fmt::Write as _;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::attachments::{Attachment, size};
pub use super::files::Files;
use super::read::Message;
use super::reading::Problem;
use super::reading::thread::{Place, Shown, Thread};
use super::search::SourceArchive;
use crate::text;

pub struct Header<'a> {
    pub cid: &'a str,
    pub zone: Tz,
    /// What the transcript covers, as the user asked for it.
    pub range: String,
    /// When the file was made, and by which chatvault.
    pub made_at: DateTime<Utc>,
    pub version: &'a str,
    /// Every archive read, by key (those that could not be read too).
    pub sources: &'a [SourceArchive],
    /// What could not be read: archives, manifests, whole locations. Any makes the file
    /// incomplete, and it opens by saying so.
    pub problems: &'a [Problem],
    /// Messages of the channel in those archives that have no time, so no range holds them.
    pub undated: usize,
    /// The files the messages link to.
    pub files: &'a Files,
}

/// An attachment as one line of text: its name and kind; for a stored file its size, type and
/// SHA-256; its link without the query; why its file is not here.
fn describe(a: &Attachment<'_>) -> String {
    let mut out = format!("{} ({})", a.name, a.kind);
    if let Some((_, stored)) = a.file.stored() {
        let _ = write!(
            out,
            ", {}, {}, SHA-256 {}",
            size(stored.size),
            stored.content_type,
            stored.sha256
        );
    }
    if let Some(link) = &a.link {
        let _ = write!(out, ": {link}");
    }
    if let Some(why) = a.file.why_not() {
        let _ = write!(out, " — {why}");
    }
    out
}

/// A path segment of a copied file's link keeps only unreserved characters, so a folder name
/// cannot make the link another scheme or leave the attribute.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

fn href(path: &str) -> String {
    utf8_percent_encode(path, PATH).to_string()
}

impl Header<'_> {
    /// The banner's first line, when the transcript is incomplete; each problem follows it.
    fn incomplete(&self) -> Option<String> {
        let mut parts = Vec::new();
        if !self.problems.is_empty() {
            parts.push(format!(
                "{} archive(s) could not be read; the messages they hold are not in this \
                 transcript",
                self.problems.len()
            ));
        }
        if !self.files.problems.is_empty() {
            parts.push(format!(
                "{} media file(s) or record(s) could not be read; the files are not in this \
                 transcript",
                self.files.problems.len()
            ));
        }
        (!parts.is_empty()).then(|| format!("INCOMPLETE: {}.", parts.join("; ")))
    }

    /// Every problem the banner lists: archives first, then media.
    fn all_problems(&self) -> impl Iterator<Item = &Problem> {
        self.problems.iter().chain(&self.files.problems)
    }

    fn made(&self) -> String {
        format!(
            "Made {} by chatvault {}",
            self.made_at.to_rfc3339_opts(SecondsFormat::Secs, true),
            self.version
        )
    }

    /// The count and how many of the archives listed below were read: one that could not be
    /// read is listed (with its SHA-256) but gave nothing.
    fn read_from(&self, messages: usize) -> String {
        let unread = self.sources.iter().filter(|s| self.unread(s)).count();
        let read = if unread == 0 {
            format!(
                "{messages} message(s), read from {} archive(s)",
                self.sources.len()
            )
        } else {
            format!(
                "{messages} message(s), read from {} of the {} archive(s) below ({unread} could \
                 not be read)",
                self.sources.len() - unread,
                self.sources.len()
            )
        };
        if self.undated == 0 {
            format!("{read}:")
        } else {
            format!(
                "{read}; {} more in them have no time, so no range holds them (a transcript \
                 without --after and --before shows them):",
                self.undated
            )
        }
    }

    fn unread(&self, s: &SourceArchive) -> bool {
        self.problems.iter().any(|p| p.key == s.key)
    }

    /// One source archive, as a line.
    fn source(&self, s: &SourceArchive) -> String {
        let unread = if self.unread(s) {
            " (could not be read)"
        } else {
            ""
        };
        format!(
            "{}: SHA-256 {}, manifest format {}, export {}, job {}{unread}",
            s.key, s.sha256, s.format, s.export_version, s.job
        )
    }

    /// The closing count, which repeats that the file is incomplete.
    fn total(&self, messages: usize) -> String {
        let mut out = format!("{messages} message(s)");
        if !self.problems.is_empty() {
            let _ = write!(
                out,
                "; incomplete: {} archive(s) could not be read",
                self.problems.len()
            );
        }
        if !self.files.problems.is_empty() {
            let _ = write!(
                out,
                "; incomplete: {} media file(s) or record(s) could not be read",
                self.files.problems.len()
            );
        }
        out
    }
}

pub fn time(m: &Message, zone: Tz) -> String {
    m.created_at.map_or_else(
        || "(no time)".to_owned(),
        |t| {
            t.with_timezone(&zone)
                .format("%Y-%m-%d %H:%M:%S %Z")
                .to_string()
        },
    )
}

pub fn author(m: &Message) -> String {
    match &m.user {
        Some(u) => match &u.name {
            Some(name) if !name.is_empty() && *name != u.id => format!("{name} ({})", u.id),
            _ => u.id.clone(),
        },
        None => "(unknown)".to_owned(),
    }
}

/// `edited`, `deleted`, and where a reply stands when it is not simply under its thread's
/// first message: `reply to …` (a reply to a reply), `reply to …, not in this range`, `reply
/// to itself`, `in a reply loop`.
pub fn marks(m: &Message, place: Place<'_>) -> Vec<String> {
    let mut out = Vec::new();
    if m.is_deleted() {
        out.push("deleted".to_owned());
    } else if m.is_edited() {
        out.push("edited".to_owned());
    }
    match place {
        Place::First | Place::Reply => {}
        Place::Nested { parent } => out.push(format!("reply to {parent}")),
        Place::ParentAbsent { parent } => {
            out.push(format!("reply to {parent}, not in this range"));
        }
        Place::ToItself => out.push("reply to itself".to_owned()),
        Place::InLoop { parent } => out.push(format!("in a reply loop (reply to {parent})")),
    }
    out
}

pub fn reactions(m: &Message) -> String {
    m.reaction_counts
        .iter()
        .filter(|(_, n)| **n > 0)
        .map(|(kind, n)| format!("{kind} × {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Plain text with control characters shown as escapes (see `terminal_safe`), so a message
/// cannot rewrite the reader's terminal.
pub fn txt(header: &Header<'_>, threads: &[Thread<'_>]) -> String {
    let mut out = String::new();
    if let Some(banner) = header.incomplete() {
        let _ = writeln!(out, "{banner}");
        for p in header.all_problems() {
            let _ = writeln!(out, "  {}: {}", safe(&p.key), safe(&p.problem));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "Transcript of {} ({}), times in {}\n{}\n{}",
        safe(header.cid),
        safe(&header.range),
        header.zone,
        safe(&header.made()),
        header.read_from(count(threads))
    );
    for s in header.sources {
        let _ = writeln!(out, "  {}", safe(&header.source(s)));
    }
    for thread in threads {
        out.push('\n');
        txt_message(&mut out, &thread.first, header, "");
        for reply in &thread.replies {
            txt_message(&mut out, reply, header, "    ↳ ");
        }
    }
    let _ = writeln!(out, "\n{}", header.total(count(threads)));
    out
}

fn txt_message(out: &mut String, shown: &Shown<'_>, header: &Header<'_>, indent: &str) {
    let (m, zone) = (shown.message, header.zone);
    let marks = marks(m, shown.place);
    let marks = if marks.is_empty() {
        String::new()
    } else {
        format!(" [{}]", marks.join("; "))
    };
    let _ = writeln!(
        out,
        "{indent}{}  {}  [id {}]{marks}",
        time(m, zone),
        safe(&author(m)),
        safe(&m.id)
    );
    let pad = " ".repeat(indent.chars().count());
    for line in m.text.lines() {
        let _ = writeln!(out, "{pad}  {}", safe(line));
    }
    for a in header.files.of(m) {
        let _ = write!(out, "{pad}  attachment: {}", safe(&describe(&a)));
        if let Some(path) = header.files.path(&a) {
            let _ = write!(out, " → {}", safe(&path));
        }
        out.push('\n');
    }
    let r = reactions(m);
    if !r.is_empty() {
        let _ = writeln!(out, "{pad}  reactions: {}", safe(&r));
    }
}

/// Control characters but the line break, and invisible format characters (see
/// [`crate::text`]), as `\u{…}` escapes.
fn safe(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for (_, c, hidden) in text::chars(line) {
        if hidden || (c.is_control() && c != '\n') {
            text::escape_char(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

/// The messages shown: each thread's first and its replies.
pub fn count(threads: &[Thread<'_>]) -> usize {
    threads.iter().map(|t| 1 + t.replies.len()).sum()
}

/// Markdown: every character Markdown or HTML could read as markup is backslash-escaped or
/// written as an entity, so text shows as written.
pub fn md(header: &Header<'_>, threads: &[Thread<'_>]) -> String {
    let mut out = String::new();
    if let Some(banner) = header.incomplete() {
        let _ = writeln!(out, "> **{}**\n>", md_escape(&banner));
        for p in header.all_problems() {
            let _ = writeln!(out, "> - {}: {}", md_escape(&p.key), md_escape(&p.problem));
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "# Transcript of {}\n\n{}, times in {}\n\n{}\n\n{}\n",
        md_escape(header.cid),
        md_escape(&header.range),
        header.zone,
        md_escape(&header.made()),
        md_escape(&header.read_from(count(threads)))
    );
    for s in header.sources {
        let _ = writeln!(out, "- {}", md_escape(&header.source(s)));
    }
    if !header.sources.is_empty() {
        out.push('\n');
    }
    for thread in threads {
        md_message(&mut out, &thread.first, header, "");
        for reply in &thread.replies {
            md_message(&mut out, reply, header, "> ");
        }
    }
    let _ = writeln!(out, "_{}_", md_escape(&header.total(count(threads))));
    out
}

fn md_message(out: &mut String, shown: &Shown<'_>, header: &Header<'_>, quote: &str) {
    let (m, zone) = (shown.message, header.zone);
    let marks = marks(m, shown.place);
    let marks = if marks.is_empty() {
        String::new()
    } else {
        format!(" _({})_", md_escape(&marks.join("; ")))
    };
    let _ = writeln!(
        out,
        "{quote}**{}** · {} · id {}{marks}\n{quote}",
        md_escape(&author(m)),
        time(m, zone),
        md_escape(&m.id)
    );
    for line in m.text.lines() {
        let _ = writeln!(out, "{quote}{}  ", md_escape(line));
    }
    for a in header.files.of(m) {
        let _ = write!(out, "{quote}- attachment: {}", md_escape(&describe(&a)));
        if let Some(path) = header.files.path(&a) {
            let _ = write!(out, " → [{}]({})", md_escape(&path), href(&path));
        }
        out.push('\n');
    }
    let r = reactions(m);
    if !r.is_empty() {
        let _ = writeln!(out, "{quote}- reactions: {}", md_escape(&r));
    }
    out.push('\n');
}

fn md_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in safe(text).chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '.'
            | '!' | '|' | '~' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

/// Text for HTML: element content and attribute values alike.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_html(&mut out, c);
    }
    out
}

fn push_html(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c if c.is_control() && c != '\n' && c != '\t' => {
            let _ = write!(out, "&#x{:x};", u32::from(c));
        }
        c => out.push(c),
    }
}

/// User text as HTML element content: isolated in `<bdi>`, so no direction it holds reaches
/// the page around it, and each invisible format character shown as a marked code point
/// (`<span class="bidi">U+202E</span>`) instead of obeyed: `\u{202e}gnp.exe` cannot read as
/// `exe.png`. The viewer's pages write user text through this too.
pub fn html_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 11);
    out.push_str("<bdi>");
    for (_, c, hidden) in text::chars(text) {
        if hidden {
            let _ = write!(
                out,
                "<span class=\"bidi\" title=\"an invisible character\">{}</span>",
                text::code_point(c)
            );
        } else {
            push_html(&mut out, c);
        }
    }
    out.push_str("</bdi>");
    out
}

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;max-width:52rem;margin:2rem auto;\
padding:0 1rem;color:#1b1b1b}h1{font-size:1.4rem}.meta{color:#555}.msg{border-top:1px solid \
#ddd;padding:.6rem 0}.replies{margin-left:1.5rem;border-left:3px solid #ccd;padding-left:.8rem}\
.who{font-weight:600}.when{color:#555;margin-left:.5rem}.mark{background:#fff3c4;padding:0 .3rem;\
margin-left:.5rem;border-radius:3px;font-size:.85em}.text{white-space:pre-wrap;margin:.2rem 0}\
.deleted .text{color:#777;text-decoration:line-through}ul{margin:.2rem 0 .2rem 1.2rem;padding:0}\
.incomplete{border:2px solid #b00020;background:#fde7e9;padding:.6rem .9rem;margin:1rem 0}\
.sources{font-size:.85em;color:#555}code{word-break:break-all}\
li img{max-width:min(100%,32rem);max-height:24rem;height:auto;border:1px solid #ddd}\
.bidi{font:.75em ui-monospace,monospace;color:#8a3a00;border:1px solid #8a3a00;border-radius:2px;\
padding:0 .15em;margin:0 .1em}";

/// One self-contained HTML file: the style inline, no script, nothing fetched.
pub fn html(header: &Header<'_>, threads: &[Thread<'_>]) -> String {
    let title = format!("Transcript of {}", text::escape_hidden(header.cid));
    let banner = header.incomplete();
    let mut out = String::new();
    // Embedded images are `data:` URIs: the one thing the policy lets an image be.
    let images = if header.files.embedded.is_empty() {
        ""
    } else {
        "; img-src data:"
    };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'{images}\">\
         <title>{}{}</title><style>{STYLE}</style></head><body>\n",
        if banner.is_some() { "INCOMPLETE: " } else { "" },
        html_escape(&title),
    );
    if let Some(banner) = banner {
        let _ = write!(
            out,
            "<div class=\"incomplete\" role=\"alert\"><p><strong>{}</strong></p><ul>",
            html_escape(&banner)
        );
        for p in header.all_problems() {
            let _ = write!(
                out,
                "<li><code>{}</code>: {}</li>",
                html_escape(&p.key),
                html_escape(&p.problem)
            );
        }
        out.push_str("</ul></div>\n");
    }
    if header.files.not_embedded > 0 {
        let _ = writeln!(
            out,
            "<p class=\"meta\">{} image(s) are listed, not shown: this file embeds at most {} \
             of images; <code>--media DIR</code> copies every file instead.</p>",
            header.files.not_embedded,
            crate::archive::attachments::size(crate::archive::files::EMBED_TOTAL),
        );
    }
    let _ = write!(
        out,
        "<h1>{}</h1>\n<p class=\"meta\">{}; times in {}</p>\n\
         <p class=\"meta\">{}</p>\n<div class=\"sources\"><p>{}</p><ul>",
        html_escape(&title),
        html_escape(&header.range),
        html_escape(header.zone.name()),
        html_escape(&header.made()),
        html_escape(&header.read_from(count(threads))),
    );
    for s in header.sources {
        let _ = write!(out, "<li>{}</li>", html_escape(&header.source(s)));
    }
    out.push_str("</ul></div>\n");
    for thread in threads {
        html_message(&mut out, &thread.first, header);
        if !thread.replies.is_empty() {
            out.push_str("<div class=\"replies\">\n");
            for reply in &thread.replies {
                html_message(&mut out, reply, header);
            }
            out.push_str("</div>\n");
        }
    }
    let _ = write!(
        out,
        "<p class=\"meta\">{}</p>\n</body></html>\n",
        html_escape(&header.total(count(threads)))
    );
    out
}

fn html_message(out: &mut String, shown: &Shown<'_>, header: &Header<'_>) {
    let (m, zone) = (shown.message, header.zone);
    let class = if m.is_deleted() { "msg deleted" } else { "msg" };
    let _ = write!(
        out,
        "<div class=\"{class}\" id=\"m-{}\"><span class=\"who\">{}</span>\
         <span class=\"when\">{}</span>",
        html_escape(&m.id),
        html_text(&author(m)),
        html_escape(&time(m, zone))
    );
    for mark in marks(m, shown.place) {
        let _ = write!(out, "<span class=\"mark\">{}</span>", html_text(&mark));
    }
    let _ = write!(out, "<p class=\"text\">{}</p>", html_text(&m.text));
    let attachments = header.files.of(m);
    if !attachments.is_empty() {
        out.push_str("<ul>");
        for a in &attachments {
            out.push_str("<li>");
            if let Some(uri) = header.files.embedded(a) {
                let _ = write!(
                    out,
                    "<img src=\"{}\" alt=\"{}\"><br>",
                    html_escape(uri),
                    html_escape(&crate::text::escape_hidden(&a.name))
                );
            }
            let _ = write!(out, "attachment: {}", html_text(&describe(a)));
            if let Some(path) = header.files.path(a) {
                let _ = write!(
                    out,
                    " → <a href=\"{}\">{}</a>",
                    html_escape(&href(&path)),
                    html_text(&path)
                );
            }
            out.push_str("</li>");
        }
        out.push_str("</ul>");
    }
    let r = reactions(m);
    if !r.is_empty() {
        let _ = write!(out, "<p class=\"meta\">reactions: {}</p>", html_text(&r));
    }
    out.push_str("</div>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::reading::thread::Conversation;
    use crate::archive::reading::thread::tests::{generated, shown_ids};

    /// No media record read.
    static NO_FILES: std::sync::LazyLock<Files> = std::sync::LazyLock::new(Files::default);

    /// A header of the whole range, made at the epoch by version 0.0.0, from no archive.
    fn header(cid: &str, zone: Tz) -> Header<'_> {
        Header {
            cid,
            zone,
            range: "all".into(),
            made_at: DateTime::UNIX_EPOCH,
            version: "0.0.0",
            sources: &[],
            problems: &[],
            undated: 0,
            files: &NO_FILES,
        }
    }

    fn message(id: &str, parent: Option<&str>, text: &str, at: i64) -> Message {
        serde_json::from_value(serde_json::json!({
            "id": id, "cid": "messaging:x", "text": text, "parent_id": parent,
            "user": {"id": "u1", "name": "Ann"},
            "created_at": chrono::DateTime::from_timestamp(at, 0).map(|t| t.to_rfc3339()),
            "attachments": [{"type": "file", "title": "a<b>.pdf", "asset_url": "https://x/y"}],
            "reaction_counts": {"like": 2},
        }))
        .expect("a message")
    }

    #[test]
    fn every_format_shows_hostile_text_as_text() {
        let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> **bold** \u{1b}[31m";
        let conversation = Conversation::new([message("m", None, hostile, 1)]);
        let threads = conversation.threads();
        let header = header("messaging:x", chrono_tz::Europe::Berlin);
        let html = html(&header, &threads);
        assert!(
            !html.contains("<script>") && !html.contains("<img"),
            "{html}"
        );
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script") && !html.contains("src=\"http"));
        assert!(html.contains("a&lt;b&gt;.pdf"), "{html}");
        assert!(html.contains("like × 2"));
        assert!(html.contains("CET"), "times in the zone: {html}");
        let md = md(&header, &threads);
        assert!(
            md.contains("&lt;script&gt;") && md.contains("\\*\\*bold\\*\\*"),
            "{md}"
        );
        let txt = txt(&header, &threads);
        assert!(!txt.contains('\u{1b}') && txt.contains("\\u{1b}"), "{txt}");
    }

    /// The ids whose text (`QQ<id>ZZ`, as the generator writes it) does not occur exactly once
    /// in `text`.
    fn not_once(text: &str, ids: &std::collections::BTreeMap<String, usize>) -> Vec<String> {
        let mut seen: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
        for (at, _) in text.match_indices("QQ") {
            let rest = &text[at + 2..];
            if let Some(end) = rest.find("ZZ") {
                *seen.entry(&rest[..end]).or_insert(0) += 1;
            }
        }
        let mut wrong: Vec<String> = ids
            .keys()
            .filter(|id| seen.get(id.as_str()) != Some(&1))
            .cloned()
            .collect();
        wrong.extend(
            seen.keys()
                .filter(|id| !ids.contains_key(**id))
                .map(|id| (*id).to_owned()),
        );
        wrong
    }

    #[test]
    fn every_format_renders_every_message_of_any_parent_graph_exactly_once() {
        let header = header("messaging:x", chrono_tz::UTC);
        for seed in 0..16 {
            let conversation = Conversation::new(generated(seed));
            let threads = conversation.threads();
            let ids = shown_ids(&threads);
            assert_eq!(ids.len(), conversation.len(), "seed {seed}");
            assert_eq!(count(&threads), conversation.len(), "seed {seed}");
            for (format, text) in [
                ("txt", txt(&header, &threads)),
                ("md", md(&header, &threads)),
                ("html", html(&header, &threads)),
            ] {
                let wrong = not_once(&text, &ids);
                assert!(
                    wrong.is_empty(),
                    "seed {seed}, {format}: not once: {wrong:?}"
                );
                // Markdown escapes the parentheses of the count as it does all text.
                let said = match format {
                    "md" => format!("{} message\\(s\\)", conversation.len()),
                    _ => format!("{} message(s)", conversation.len()),
                };
                assert!(text.contains(&said), "seed {seed}, {format}: the count");
            }
        }
    }

    #[test]
    fn replies_that_cannot_be_placed_are_marked() {
        use crate::archive::reading::thread::tests::message as at;
        let conversation = Conversation::new([
            at("s", Some("s"), Some(1), 1),
            at("x", Some("y"), Some(2), 1),
            at("y", Some("x"), Some(3), 1),
            at("o", Some("gone"), Some(4), 1),
            at("p", None, Some(5), 1),
            at("q", Some("p"), Some(6), 1),
            at("r", Some("q"), Some(7), 1),
            at("n", None, None, 1),
        ]);
        let header = header("messaging:x", chrono_tz::UTC);
        let txt = txt(&header, &conversation.threads());
        for mark in [
            "[reply to itself]",
            "[in a reply loop (reply to y)]",
            "[reply to gone, not in this range]",
            "[reply to q]",
            "(no time)",
        ] {
            assert!(txt.contains(mark), "{mark} in {txt}");
        }
        let no_time = txt.find("(no time)").expect("shown");
        assert!(
            txt.find("QQrZZ").is_some_and(|r| r < no_time),
            "no time last: {txt}"
        );
    }

    #[test]
    fn invisible_characters_are_escaped_in_text_and_marked_in_html() {
        let mut m = message("m", None, "\u{202e}txt.exe is safe", 1);
        m.attachments = vec![serde_json::json!({"type": "file", "title": "\u{202e}gnp.exe"})];
        if let Some(user) = m.user.as_mut() {
            user.name = Some("Ann\u{2067}".into());
        }
        let conversation = Conversation::new([m]);
        let entries = conversation.threads();
        let header = header("messaging:\u{202e}x", chrono_tz::UTC);
        for out in [txt(&header, &entries), md(&header, &entries)] {
            // Markdown escapes the escape's backslash and braces; it reads the same.
            let out = out.replace('\\', "");
            assert!(
                !out.contains('\u{202e}') && !out.contains('\u{2067}'),
                "{out}"
            );
            assert!(out.contains("u{202e}gnp"), "the attachment: {out}");
            assert!(out.contains("u{202e}txt"), "the text: {out}");
            assert!(out.contains("u{2067}"), "the name: {out}");
        }
        let html = html(&header, &entries);
        assert!(
            !html.contains('\u{202e}') && !html.contains('\u{2067}'),
            "{html}"
        );
        let mark = "<span class=\"bidi\" title=\"an invisible character\">U+202E</span>";
        assert!(
            html.contains(&format!(
                "<li>attachment: <bdi>{mark}gnp.exe (file)</bdi></li>"
            )),
            "{html}"
        );
        assert!(
            html.contains(&format!("<p class=\"text\"><bdi>{mark}txt.exe")),
            "{html}"
        );
        assert!(html.contains("U+2067"), "the author: {html}");
        assert!(
            html.contains("<title>Transcript of messaging:\\u{202e}x</title>"),
            "{html}"
        );
    }
}
