//! `chatvault search`: finds messages in the archives and prints them as a table, JSON Lines
//! or CSV. Message text is user input: every format escapes it for where it goes. A link to a
//! file is printed without its query string (`links::without_query`): Stream's CDN signs it,
//! and the signature is a credential while it lives.

use std::fmt::Write as _;
use std::io::IsTerminal as _;
use std::path::PathBuf;

use chrono::SecondsFormat;
use chrono_tz::Tz;
use serde::Serialize;

use super::archives::{reading_keys, say_empty, sources_and_settings};
use super::args::Search;
use super::{World, exit, output, runtime};
use crate::archive::read::Keep;
use crate::archive::search::{Found, Hit, Page, search};
use crate::cli::{SearchArgs, SearchFormat};
use crate::config::Settings;
use crate::links;
use crate::query::Query;
use crate::state::erasures::{self, Erasure};
use crate::store;
use crate::text;

pub fn run(args: &SearchArgs, resolved: Search, config: Option<PathBuf>, world: &World<'_>) -> u8 {
    let Search { query, zone } = resolved;
    let (sources, settings) = match sources_and_settings(&args.archives, config, world) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let keys = match reading_keys(settings.as_ref()) {
        Ok(keys) => keys,
        Err(code) => return code,
    };
    let Some(runtime) = runtime() else {
        return exit::FAILED;
    };
    let page = Page {
        skip: 0,
        limit: args.limit,
    };
    let (listing, found) = runtime.block_on(search(&sources, &keys, &query, page, Keep::Fields));
    if let Err(code) = say_empty(&listing) {
        report(&found, "the hits above");
        return code;
    }
    let format = args.format.unwrap_or(if std::io::stdout().is_terminal() {
        SearchFormat::Table
    } else {
        SearchFormat::Jsonl
    });
    output::stdout(&match format {
        SearchFormat::Table => table(&found, &query, zone),
        SearchFormat::Jsonl => jsonl(&found.hits),
        SearchFormat::Csv => csv(&found.hits),
    });
    // The table ends with it; other formats keep their rows clean and say it on stderr.
    if found.total > found.hits.len() && !matches!(format, SearchFormat::Table) {
        output::stderr(&format!("{}\n", shown(&found)));
    }
    if found.undated > 0 {
        output::stderr(&format!(
            "note: {} more message(s) match but have no time, so after:/before: cannot hold \
             them; the same search without after:/before: shows them\n",
            found.undated
        ));
    }
    for hint in listing.case_hints(&query) {
        output::stderr(&format!("hint: {}\n", terminal_safe(&hint)));
    }
    if !query.from.is_empty()
        && let Some(settings) = &settings
    {
        runtime.block_on(say_erased(settings, &query, found.total == 0, world));
    }
    report(&found, "the hits above")
}

/// Says which `from:` users were erased: when nothing was found, that the archive holds
/// nothing of them on purpose, not by a wrong id; whatever was found, that an erasure of them
/// is unfinished (what was found may be what it has yet to take out). Read from the state
/// store's erasure documents; when they cannot be read, nothing is said.
async fn say_erased(settings: &Settings, query: &Query, nothing_found: bool, world: &World<'_>) {
    let Ok(state) = store::open_to_read(&settings.state, &settings.state_options, &world.env_vars)
    else {
        return;
    };
    let Ok(listed) = erasures::list(&state).await else {
        return;
    };
    for user in &query.from {
        if let Some(note) = erased_note(user, &listed)
            && (nothing_found || note.unfinished)
        {
            output::stderr(&format!("note: {}\n", note.text));
        }
    }
}

/// What the erasures of `user` say of the archives: only a finished erasure (its completion
/// written) took every archive's items of the user out, but for those a legal hold kept;
/// while one is unfinished, an archive may still hold them, or an original and its
/// replacement both be there.
fn erased_note(user: &str, listed: &[Erasure]) -> Option<Note> {
    let theirs: Vec<&Erasure> = listed.iter().filter(|e| e.request.user == user).collect();
    let user = terminal_safe(user);
    if theirs.iter().any(|e| e.done.is_none()) {
        return Some(Note {
            text: format!(
                "an erasure of {user} is unfinished: run `chatvault erase --user {user}` again \
                 to finish it"
            ),
            unfinished: true,
        });
    }
    let held: usize = theirs
        .iter()
        .filter_map(|e| e.done.as_ref())
        .map(|d| d.held.len())
        .sum();
    let text = match (theirs.is_empty(), held) {
        (true, _) => return None,
        (false, 0) => {
            format!("{user} was erased (chatvault erase): the archives hold nothing of them")
        }
        (false, n) => format!(
            "{user} was erased (chatvault erase) from every archive but {n} a legal hold keeps"
        ),
    };
    Some(Note {
        text,
        unfinished: false,
    })
}

/// What search says of an erased user.
#[derive(Debug, PartialEq, Eq)]
struct Note {
    text: String,
    /// The erasure is not finished: said whatever was found.
    unfinished: bool,
}

/// `N message(s)`, or `N of M message(s)` when a limit left some out.
fn shown(found: &Found) -> String {
    if found.total > found.hits.len() {
        format!("{} of {} message(s)", found.hits.len(), found.total)
    } else {
        format!("{} message(s)", found.hits.len())
    }
}

/// Problems on stderr; exit 1 when an archive could not be read. `shown` names what the
/// archives that were read gave: the hits above, a transcript's messages.
pub(super) fn report(found: &Found, shown: &str) -> u8 {
    if found.problems.is_empty() {
        return exit::OK;
    }
    let mut text = String::new();
    for p in &found.problems {
        let _ = writeln!(text, "error: {}: {}", p.key, p.problem);
    }
    let unread = found
        .sources
        .iter()
        .filter(|s| found.problems.iter().any(|p| p.key == s.key))
        .count();
    let _ = writeln!(
        text,
        "{} archive(s) or manifest(s) could not be read; {shown} come from the other {} \
         archive(s) read",
        found.problems.len(),
        found.read().saturating_sub(unread)
    );
    output::stderr(&text);
    exit::FAILED
}

#[derive(Serialize)]
struct Line<'a> {
    job: &'a str,
    key: &'a str,
    cid: Option<&'a str>,
    id: &'a str,
    user: Option<&'a str>,
    created_at: Option<String>,
    text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    attachments: Vec<Attachment<'a>>,
}

/// An attachment as search prints it: enough to tell what it is and find it in the archive.
#[derive(Serialize)]
struct Attachment<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    /// The file's link (or the page a preview shows), never with its signed query.
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

/// Where an attachment's link stands, most telling first.
const LINK_FIELDS: [&str; 5] = [
    "asset_url",
    "image_url",
    "title_link",
    "og_scrape_url",
    "thumb_url",
];

fn attachment(a: &serde_json::Value) -> Attachment<'_> {
    let field = |k: &str| a.get(k).and_then(serde_json::Value::as_str);
    Attachment {
        kind: field("type"),
        name: field("title")
            .or_else(|| field("fallback"))
            .or_else(|| field("name")),
        url: LINK_FIELDS
            .iter()
            .find_map(|k| field(k))
            .map(links::without_query),
    }
}

/// `name (type): url` for a CSV cell, `; ` between attachments.
fn attachments_cell(attachments: &[Attachment<'_>]) -> String {
    let each: Vec<String> = attachments
        .iter()
        .map(|a| {
            let mut out = a.name.unwrap_or("attachment").to_owned();
            if let Some(kind) = a.kind {
                let _ = write!(out, " ({kind})");
            }
            if let Some(url) = a.url {
                let _ = write!(out, ": {url}");
            }
            out
        })
        .collect();
    each.join("; ")
}

fn line(hit: &Hit) -> Line<'_> {
    let m = &hit.message;
    Line {
        job: &hit.job,
        key: &hit.key,
        cid: m.cid.as_deref(),
        id: &m.id,
        user: m.user_id(),
        created_at: m
            .created_at
            .map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
        text: &m.text,
        parent_id: m.parent_id.as_deref(),
        attachments: m.attachments.iter().map(attachment).collect(),
    }
}

/// JSON escapes whatever the text holds.
fn jsonl(hits: &[Hit]) -> String {
    let mut out = String::new();
    for hit in hits {
        out.push_str(&serde_json::to_string(&line(hit)).unwrap_or_default());
        out.push('\n');
    }
    out
}

/// A cell a spreadsheet reads as text: a leading `=`, `+`, `-`, `@`, tab or carriage return
/// would start a formula, so such a cell gets a `'` first; quotes, commas and line breaks are
/// quoted.
fn csv_cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn csv(hits: &[Hit]) -> String {
    let mut out = String::from("job,key,cid,id,user,created_at,parent_id,attachments,text\r\n");
    for hit in hits {
        let l = line(hit);
        let attachments = attachments_cell(&l.attachments);
        let cells = [
            l.job,
            l.key,
            l.cid.unwrap_or_default(),
            l.id,
            l.user.unwrap_or_default(),
            l.created_at.as_deref().unwrap_or_default(),
            l.parent_id.unwrap_or_default(),
            &attachments,
            l.text,
        ];
        let row: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&row.join(","));
        out.push_str("\r\n");
    }
    out
}

/// Control characters (escape sequences, carriage returns, line breaks) and invisible format
/// characters (bidirectional controls, zero-width ones: see [`crate::text`]) shown as escapes,
/// so a message cannot move the cursor, recolour the terminal, forge lines or reverse what
/// follows it.
pub fn terminal_safe(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (_, c, hidden) in text::chars(text) {
        push_safe(&mut out, c, hidden);
    }
    out
}

fn push_safe(out: &mut String, c: char, hidden: bool) {
    match c {
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        c if c.is_control() || hidden => text::escape_char(out, c),
        c => out.push(c),
    }
}

/// The text, escaped as [`terminal_safe`] does, with each place the query's words, phrases and
/// prefixes stand (whole words, as they match) between `[` and `]`.
fn marked(text: &str, query: &Query) -> String {
    let marks = query.marks(text);
    let mut out = String::with_capacity(text.len() + 8);
    let mut next = marks.iter().peekable();
    let mut inside: Option<usize> = None;
    for (at, c, hidden) in text::chars(text) {
        if inside == Some(at) {
            out.push(']');
            inside = None;
        }
        if inside.is_none()
            && let Some(m) = next.next_if(|m| m.start == at)
        {
            out.push('[');
            inside = Some(m.end);
        }
        push_safe(&mut out, c, hidden);
    }
    if inside.is_some() {
        out.push(']');
    }
    out
}

fn table(found: &Found, query: &Query, zone: Tz) -> String {
    let mut out = String::new();
    for hit in &found.hits {
        let m = &hit.message;
        let time = m.created_at.map_or_else(
            || "?".to_owned(),
            |t| {
                t.with_timezone(&zone)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            },
        );
        let _ = writeln!(
            out,
            "{time}  {}  {}  {}",
            terminal_safe(m.cid.as_deref().unwrap_or("?")),
            terminal_safe(m.user_id().unwrap_or("?")),
            marked(&m.text, query)
        );
    }
    let _ = writeln!(out, "{}", shown(found));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_erased_note_claims_nothing_is_left_only_for_a_finished_erasure() {
        use crate::state::erasures::{ErasureDone, ErasureRequest, HeldArchive};
        let now = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        let asked = |user: &str| ErasureRequest::new(user.into(), "r".into(), vec![], now);
        let done = |request: &ErasureRequest, held: usize| {
            let held = (0..held)
                .map(|n| HeldArchive {
                    job: "j".into(),
                    key: format!("k{n}"),
                    holds: vec!["h".into()],
                })
                .collect();
            Some(ErasureDone::new(request.id.clone(), now, vec![], held))
        };
        let (alice, bob, carol) = (asked("alice"), asked("bob"), asked("carol"));
        let listed = [
            Erasure {
                done: done(&alice, 0),
                request: alice.clone(),
            },
            Erasure {
                done: None,
                request: bob,
            },
            Erasure {
                done: done(&carol, 2),
                request: carol,
            },
            Erasure {
                done: None,
                request: asked("alice"),
            },
        ];
        assert_eq!(
            erased_note("alice", &listed[..1]).map(|n| (n.text, n.unfinished)),
            Some((
                "alice was erased (chatvault erase): the archives hold nothing of them".to_owned(),
                false
            ))
        );
        let unfinished = Some((
            "an erasure of alice is unfinished: run `chatvault erase --user alice` again to \
             finish it"
                .to_owned(),
            true,
        ));
        assert_eq!(
            erased_note("alice", &listed).map(|n| (n.text, n.unfinished)),
            unfinished,
            "a finished erasure does not finish a later one"
        );
        assert!(
            erased_note("bob", &listed)
                .is_some_and(|note| note.text.starts_with("an erasure of bob is unfinished"))
        );
        assert_eq!(
            erased_note("carol", &listed).map(|n| n.text).as_deref(),
            Some("carol was erased (chatvault erase) from every archive but 2 a legal hold keeps")
        );
        assert_eq!(erased_note("dave", &listed), None);
        assert_eq!(
            erased_note(
                "e\u{1b}[2J",
                &[Erasure {
                    done: None,
                    request: asked("e\u{1b}[2J"),
                }]
            )
            .map(|n| n.text)
            .as_deref(),
            Some(
                "an erasure of e\\u{1b}[2J is unfinished: run `chatvault erase --user \
                 e\\u{1b}[2J` again to finish it"
            )
        );
    }

    #[test]
    fn csv_cells_cannot_start_a_formula_and_quote_what_needs_it() {
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("+1"), "'+1");
        assert_eq!(csv_cell("-2"), "'-2");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(csv_cell("a, b"), "\"a, b\"");
        assert_eq!(csv_cell("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(csv_cell("plain"), "plain");
    }

    #[test]
    fn terminal_control_characters_are_shown_not_obeyed() {
        assert_eq!(
            terminal_safe("red \u{1b}[31m\r\nline"),
            "red \\u{1b}[31m\\u{d}\\nline"
        );
    }

    #[test]
    fn terminal_invisible_characters_are_shown_not_obeyed() {
        assert_eq!(terminal_safe("\u{202e}gnp.exe"), "\\u{202e}gnp.exe");
        assert_eq!(terminal_safe("a\u{2066}b\u{200b}"), "a\\u{2066}b\\u{200b}");
        assert_eq!(terminal_safe("👩\u{200d}💻"), "👩\u{200d}💻");
    }

    #[test]
    fn matches_are_marked_as_whole_words_in_any_case() {
        let q = |text| Query::parse(text).expect("valid");
        assert_eq!(
            marked("A Refund, refund! refunded", &q("refund")),
            "A [Refund], [refund]! refunded"
        );
        assert_eq!(marked("none here", &q("refund")), "none here");
        assert_eq!(
            marked(
                "my order for tomorrow or an Invoice",
                &q("refund OR invoice")
            ),
            "my order for tomorrow or an [Invoice]"
        );
        assert_eq!(
            marked("Refunded \u{1b}", &q("refund*")),
            "[Refund]ed \\u{1b}"
        );
        assert_eq!(
            marked("\u{202e}refund\u{202c} Straße", &q("refund STRASSE straße")),
            "\\u{202e}[refund]\\u{202c} [Straße]"
        );
    }
}
