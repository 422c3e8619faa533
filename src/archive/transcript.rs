//! One channel's conversation as people read it: in time order, thread replies under their
//! parent, edited and deleted messages marked, attachments listed, reactions counted, times in
//! a chosen zone. HTML (one self-contained file: no script, no external style or font), Markdown
//! and plain text. Message text is user input: each format escapes it, and Stream's `html`
//! field is never used.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;

use chrono_tz::Tz;

use super::read::Message;
use crate::text;

/// A message and the replies shown under it.
#[derive(Debug)]
pub struct Entry<'a> {
    pub message: &'a Message,
    pub replies: Vec<&'a Message>,
    /// A reply whose parent is not in the transcript's range.
    pub orphan: bool,
}

/// The conversation's order: top-level messages by time, each with its replies by time.
/// `messages` must be in time order.
pub fn threads(messages: &[Message]) -> Vec<Entry<'_>> {
    let present: HashSet<&str> = messages.iter().map(|m| m.id.as_str()).collect();
    let mut replies: BTreeMap<&str, Vec<&Message>> = BTreeMap::new();
    for m in messages {
        if let Some(parent) = m.parent_id.as_deref().filter(|p| present.contains(p)) {
            replies.entry(parent).or_default().push(m);
        }
    }
    messages
        .iter()
        .filter(|m| m.parent_id.as_deref().is_none_or(|p| !present.contains(p)))
        .map(|m| Entry {
            message: m,
            replies: replies.remove(m.id.as_str()).unwrap_or_default(),
            orphan: m.parent_id.is_some(),
        })
        .collect()
}

pub struct Header<'a> {
    pub cid: &'a str,
    pub zone: Tz,
    /// What the transcript covers, as the user asked for it.
    pub range: String,
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

/// `edited`, `deleted`, `reply to … (not in this range)`.
fn marks(m: &Message, orphan: bool) -> Vec<String> {
    let mut out = Vec::new();
    if m.is_deleted() {
        out.push("deleted".to_owned());
    } else if m.is_edited() {
        out.push("edited".to_owned());
    }
    if orphan && let Some(parent) = &m.parent_id {
        out.push(format!("reply to {parent}, not in this range"));
    }
    out
}

pub fn attachment_names(m: &Message) -> Vec<String> {
    m.attachments
        .iter()
        .map(|a| {
            let field = |k: &str| a.get(k).and_then(serde_json::Value::as_str);
            let name = field("title")
                .or_else(|| field("fallback"))
                .or_else(|| field("name"))
                .unwrap_or("attachment");
            let kind = field("type").unwrap_or("file");
            match field("asset_url")
                .or_else(|| field("image_url"))
                .or_else(|| field("title_link"))
            {
                Some(url) => format!("{name} ({kind}): {url}"),
                None => format!("{name} ({kind})"),
            }
        })
        .collect()
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
pub fn txt(header: &Header<'_>, entries: &[Entry<'_>]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Transcript of {} ({}), times in {}",
        safe(header.cid),
        header.range,
        header.zone
    );
    for entry in entries {
        out.push('\n');
        txt_message(&mut out, entry.message, entry.orphan, header.zone, "");
        for reply in &entry.replies {
            txt_message(&mut out, reply, false, header.zone, "    ↳ ");
        }
    }
    let _ = writeln!(out, "\n{} message(s)", count(entries));
    out
}

fn txt_message(out: &mut String, m: &Message, orphan: bool, zone: Tz, indent: &str) {
    let marks = marks(m, orphan);
    let marks = if marks.is_empty() {
        String::new()
    } else {
        format!(" [{}]", marks.join("; "))
    };
    let _ = writeln!(
        out,
        "{indent}{}  {}{marks}",
        time(m, zone),
        safe(&author(m))
    );
    let pad = " ".repeat(indent.chars().count());
    for line in m.text.lines() {
        let _ = writeln!(out, "{pad}  {}", safe(line));
    }
    for a in attachment_names(m) {
        let _ = writeln!(out, "{pad}  attachment: {}", safe(&a));
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

fn count(entries: &[Entry<'_>]) -> usize {
    entries.iter().map(|e| 1 + e.replies.len()).sum()
}

/// Markdown: every character Markdown or HTML could read as markup is backslash-escaped or
/// written as an entity, so text shows as written.
pub fn md(header: &Header<'_>, entries: &[Entry<'_>]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# Transcript of {}\n\n{}, times in {}\n",
        md_escape(header.cid),
        md_escape(&header.range),
        header.zone
    );
    for entry in entries {
        md_message(&mut out, entry.message, entry.orphan, header.zone, "");
        for reply in &entry.replies {
            md_message(&mut out, reply, false, header.zone, "> ");
        }
    }
    let _ = writeln!(out, "_{} message(s)_", count(entries));
    out
}

fn md_message(out: &mut String, m: &Message, orphan: bool, zone: Tz, quote: &str) {
    let marks = marks(m, orphan);
    let marks = if marks.is_empty() {
        String::new()
    } else {
        format!(" _({})_", md_escape(&marks.join("; ")))
    };
    let _ = writeln!(
        out,
        "{quote}**{}** · {}{marks}\n{quote}",
        md_escape(&author(m)),
        time(m, zone)
    );
    for line in m.text.lines() {
        let _ = writeln!(out, "{quote}{}  ", md_escape(line));
    }
    for a in attachment_names(m) {
        let _ = writeln!(out, "{quote}- attachment: {}", md_escape(&a));
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
.bidi{font:.75em ui-monospace,monospace;color:#8a3a00;border:1px solid #8a3a00;border-radius:2px;\
padding:0 .15em;margin:0 .1em}";

/// One self-contained HTML file: the style inline, no script, nothing fetched.
pub fn html(header: &Header<'_>, entries: &[Entry<'_>]) -> String {
    let title = format!("Transcript of {}", text::escape_hidden(header.cid));
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'\">\
         <title>{}</title><style>{STYLE}</style></head><body>\n<h1>Transcript of {}</h1>\n\
         <p class=\"meta\">{}; times in {}; {} message(s)</p>\n",
        html_escape(&title),
        html_text(header.cid),
        html_escape(&header.range),
        html_escape(header.zone.name()),
        count(entries)
    );
    for entry in entries {
        html_message(&mut out, entry.message, entry.orphan, header.zone);
        if !entry.replies.is_empty() {
            out.push_str("<div class=\"replies\">\n");
            for reply in &entry.replies {
                html_message(&mut out, reply, false, header.zone);
            }
            out.push_str("</div>\n");
        }
    }
    out.push_str("</body></html>\n");
    out
}

fn html_message(out: &mut String, m: &Message, orphan: bool, zone: Tz) {
    let class = if m.is_deleted() { "msg deleted" } else { "msg" };
    let _ = write!(
        out,
        "<div class=\"{class}\" id=\"m-{}\"><span class=\"who\">{}</span>\
         <span class=\"when\">{}</span>",
        html_escape(&m.id),
        html_text(&author(m)),
        html_escape(&time(m, zone))
    );
    for mark in marks(m, orphan) {
        let _ = write!(out, "<span class=\"mark\">{}</span>", html_text(&mark));
    }
    let _ = write!(out, "<p class=\"text\">{}</p>", html_text(&m.text));
    let attachments = attachment_names(m);
    if !attachments.is_empty() {
        out.push_str("<ul>");
        for a in attachments {
            let _ = write!(out, "<li>attachment: {}</li>", html_text(&a));
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
    fn replies_sit_under_their_parent_and_orphans_stand_alone() {
        let messages = vec![
            message("p", None, "question", 1),
            message("o", Some("gone"), "late reply", 2),
            message("r", Some("p"), "answer", 3),
        ];
        let entries = threads(&messages);
        let shape: Vec<(&str, Vec<&str>, bool)> = entries
            .iter()
            .map(|e| {
                (
                    e.message.id.as_str(),
                    e.replies.iter().map(|r| r.id.as_str()).collect(),
                    e.orphan,
                )
            })
            .collect();
        assert_eq!(shape, [("p", vec!["r"], false), ("o", vec![], true)]);
    }

    #[test]
    fn every_format_shows_hostile_text_as_text() {
        let hostile = "<script>alert(1)</script><img src=x onerror=alert(2)> **bold** \u{1b}[31m";
        let messages = vec![message("m", None, hostile, 1)];
        let entries = threads(&messages);
        let header = Header {
            cid: "messaging:x",
            zone: chrono_tz::Europe::Berlin,
            range: "all".into(),
        };
        let html = html(&header, &entries);
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
        let md = md(&header, &entries);
        assert!(
            md.contains("&lt;script&gt;") && md.contains("\\*\\*bold\\*\\*"),
            "{md}"
        );
        let txt = txt(&header, &entries);
        assert!(!txt.contains('\u{1b}') && txt.contains("\\u{1b}"), "{txt}");
    }

    #[test]
    fn invisible_characters_are_escaped_in_text_and_marked_in_html() {
        let mut m = message("m", None, "\u{202e}txt.exe is safe", 1);
        m.attachments = vec![serde_json::json!({"type": "file", "title": "\u{202e}gnp.exe"})];
        if let Some(user) = m.user.as_mut() {
            user.name = Some("Ann\u{2067}".into());
        }
        let messages = vec![m];
        let entries = threads(&messages);
        let header = Header {
            cid: "messaging:\u{202e}x",
            zone: chrono_tz::UTC,
            range: "all".into(),
        };
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
