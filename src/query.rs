//! The search language, a small Slack-like one: terms separated by spaces, all of which a
//! message must meet.
//!
//! - `word`, `"a phrase"`: the text holds it as whole words, in any case (a word's letters and
//!   digits are not part of a longer run of letters and digits); `word*` holds a word starting
//!   so; `-word`, `-"a phrase"`, `-word*` exclude;
//! - `a OR b`: either; `OR` joins the words, phrases and prefixes beside it into one term, and
//!   the terms are then all required (`refund OR invoice from:u42`: either word, by u42);
//! - `from:USER_ID` (exact user id), `in:TYPE:ID` (exact cid): repeated, they are ORed;
//! - `after:T` (created at or after T), `before:T` (created before T), T as RFC 3339 or
//!   `YYYY-MM-DD` (00:00 in the zone the query is read in, UTC unless told);
//! - `has:attachment`, and by an attachment's `type`: `has:image`, `has:file`, `has:video`,
//!   `has:audio` (`audio` or a voice recording); `has:link` (a link in the text, or a link
//!   preview); `is:reply` (a thread reply: it has a `parent_id`).
//!
//! Operators are read in any case (`FROM:`); a `word:` one edit from an operator (`form:`) is
//! an error rather than a word that silently finds nothing. Parsing needs no store; a
//! malformed query is an error with its position (a character count from 1) and what was
//! expected.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;
use thiserror::Error;

const OPERATORS: [&str; 6] = ["from", "in", "after", "before", "has", "is"];

/// What a message has, as `has:` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Has {
    /// Any attachment.
    Attachment,
    /// An attachment of `type` `image`.
    Image,
    /// An attachment of `type` `file`.
    File,
    /// An attachment of `type` `video`.
    Video,
    /// An attachment of `type` `audio` or `voiceRecording`.
    Audio,
    /// A link in the text (`http://`, `https://`), or a link preview (an attachment with an
    /// `og_scrape_url`).
    Link,
}

impl Has {
    /// In the order messages list them.
    pub const ALL: [Has; 6] = [
        Has::Attachment,
        Has::Image,
        Has::File,
        Has::Video,
        Has::Audio,
        Has::Link,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Has::Attachment => "attachment",
            Has::Image => "image",
            Has::File => "file",
            Has::Video => "video",
            Has::Audio => "audio",
            Has::Link => "link",
        }
    }

    /// What a message's raw JSON holds when it has this: an attachment's `type` is an ASCII
    /// string, which no encoder escapes; a link's `/` may be escaped, so only its scheme
    /// counts.
    fn needles(self) -> Vec<Vec<u8>> {
        let names: &[&str] = match self {
            Has::Attachment => &["\"attachments\""],
            Has::Image => &["\"image\""],
            Has::File => &["\"file\""],
            Has::Video => &["\"video\""],
            Has::Audio => &["\"audio\"", "\"voiceRecording\""],
            Has::Link => &["http:", "https:", "\"og_scrape_url\""],
        };
        names.iter().map(|n| n.as_bytes().to_vec()).collect()
    }

    /// Whether a message with `text` and `attachments` has this.
    fn holds(self, text: &str, attachments: &[serde_json::Value]) -> bool {
        let typed = |types: &[&str]| {
            attachments.iter().any(|a| {
                a.get("type")
                    .and_then(serde_json::Value::as_str)
                    .is_some_and(|t| types.contains(&t))
            })
        };
        match self {
            Has::Attachment => !attachments.is_empty(),
            Has::Image => typed(&["image"]),
            Has::File => typed(&["file"]),
            Has::Video => typed(&["video"]),
            Has::Audio => typed(&["audio", "voiceRecording"]),
            Has::Link => {
                text.contains("http://")
                    || text.contains("https://")
                    || attachments.iter().any(|a| a.get("og_scrape_url").is_some())
            }
        }
    }
}

/// A word, phrase or prefix, folded (see [`fold`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub text: String,
    /// `word*`: the text may go on after it.
    pub prefix: bool,
}

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Each group must hold; a group holds when any of its terms is in the text (a group of
    /// one is a plain term, more are joined by `OR`).
    pub groups: Vec<Vec<Term>>,
    /// None may be in the text.
    pub excluded: Vec<Term>,
    /// Any of these authors (all when empty).
    pub from: Vec<String>,
    /// Any of these channels (all when empty).
    pub channels: Vec<String>,
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    /// All of these (`has:`), each once, in [`Has::ALL`]'s order.
    pub has: Vec<Has>,
    pub is_reply: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("query, at character {at}: {message}")]
pub struct QueryError {
    /// 1-based character position.
    pub at: usize,
    pub message: String,
}

/// The fields of a message a query looks at.
#[derive(Debug, Clone, Copy)]
pub struct Candidate<'a> {
    pub text: &'a str,
    pub user: Option<&'a str>,
    pub cid: Option<&'a str>,
    pub created_at: Option<DateTime<Utc>>,
    /// As the message holds them: `has:` looks at their `type`.
    pub attachments: &'a [serde_json::Value],
    pub is_reply: bool,
}

/// What the parser last read, for the rules around `OR`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Last {
    Nothing,
    /// A word, phrase or prefix that `OR` may join.
    Text,
    /// A filter or an excluded term.
    Other,
    /// `OR`, at this 1-based position.
    Or(usize),
}

impl Query {
    /// The query with dates meaning 00:00 UTC.
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        Query::parse_in(text, Tz::UTC)
    }

    /// The query with `after:`/`before:` dates meaning 00:00 in `zone`.
    pub fn parse_in(text: &str, zone: Tz) -> Result<Query, QueryError> {
        let chars: Vec<char> = text.chars().collect();
        let mut query = Query::default();
        let mut last = Last::Nothing;
        let mut i = 0;
        while i < chars.len() {
            if chars[i].is_whitespace() {
                i += 1;
                continue;
            }
            let start = i;
            let negated = chars[i] == '-';
            if negated {
                i += 1;
            }
            let (term, quoted, next) = read_term(&chars, i)?;
            i = next;
            if term.is_empty() && !quoted {
                return Err(QueryError {
                    at: start + 1,
                    message: "expected a word, a \"phrase\" or a filter after `-`".into(),
                });
            }
            if !quoted && !negated && term == "OR" {
                match last {
                    Last::Text => {}
                    // After a filter or a `-` term: say what OR joins, not that nothing came.
                    Last::Other => return Err(not_joinable(start)),
                    _ => {
                        return Err(QueryError {
                            at: start + 1,
                            message: "`OR` joins two words or phrases: expected one before it"
                                .into(),
                        });
                    }
                }
                last = Last::Or(start + 1);
                continue;
            }
            let filter_key = if quoted {
                None
            } else {
                operator(&term, negated, start)?
            };
            if let Some((key, value)) = filter_key {
                if negated {
                    return Err(QueryError {
                        at: start + 1,
                        message: format!("`{key}:` cannot be excluded with `-`"),
                    });
                }
                joined_only_text(last, start)?;
                filter(&mut query, key, value, start + 1, zone)?;
                last = Last::Other;
                continue;
            }
            let term = text_term(&term, quoted, start)?;
            if negated {
                joined_only_text(last, start)?;
                query.excluded.push(term);
                last = Last::Other;
            } else {
                match (last, query.groups.last_mut()) {
                    (Last::Or(_), Some(group)) => group.push(term),
                    _ => query.groups.push(vec![term]),
                }
                last = Last::Text;
            }
        }
        if let Last::Or(at) = last {
            return Err(QueryError {
                at,
                message: "`OR` joins two words or phrases: expected one after it".into(),
            });
        }
        Ok(query)
    }

    /// Whether `message` meets every term.
    pub fn matches(&self, message: &Candidate<'_>) -> bool {
        if !self.from.is_empty()
            && !message
                .user
                .is_some_and(|u| self.from.iter().any(|f| f == u))
        {
            return false;
        }
        if !self.channels.is_empty()
            && !message
                .cid
                .is_some_and(|c| self.channels.iter().any(|f| f == c))
        {
            return false;
        }
        if !self.within(message.created_at) {
            return false;
        }
        if (self.is_reply && !message.is_reply)
            || !self
                .has
                .iter()
                .all(|h| h.holds(message.text, message.attachments))
        {
            return false;
        }
        if self.groups.is_empty() && self.excluded.is_empty() {
            return true;
        }
        let text = fold(message.text);
        self.groups
            .iter()
            .all(|group| group.iter().any(|t| occurrences(&text, t).next().is_some()))
            && !self
                .excluded
                .iter()
                .any(|t| occurrences(&text, t).next().is_some())
    }

    /// Whether a message created at `at` is in the query's time range (an unknown time is,
    /// when the query names no range).
    pub fn within(&self, at: Option<DateTime<Utc>>) -> bool {
        match at {
            Some(at) => {
                self.after.is_none_or(|after| at >= after)
                    && self.before.is_none_or(|before| at < before)
            }
            None => self.after.is_none() && self.before.is_none(),
        }
    }

    /// Whether the span `[first, last]` of message times can hold a match.
    pub fn overlaps(&self, first: DateTime<Utc>, last: DateTime<Utc>) -> bool {
        self.after.is_none_or(|after| last >= after)
            && self.before.is_none_or(|before| first < before)
    }

    /// The byte ranges of `text` a person wants marked: every place a word, phrase or prefix
    /// the query asks for stands in it, by the same whole-word rule as [`Query::matches`].
    /// Sorted, not overlapping.
    pub fn marks(&self, text: &str) -> Vec<std::ops::Range<usize>> {
        if self.groups.is_empty() {
            return Vec::new();
        }
        let (folded, origin) = fold_mapped(text);
        let mut spans: Vec<std::ops::Range<usize>> = self
            .groups
            .iter()
            .flatten()
            .flat_map(|t| occurrences(&folded, t).map(|r| origin(r.start)..origin(r.end)))
            .filter(|r| r.start < r.end)
            .collect();
        spans.sort_by_key(|r| (r.start, r.end));
        let mut merged: Vec<std::ops::Range<usize>> = Vec::with_capacity(spans.len());
        for span in spans {
            match merged.last_mut() {
                Some(last) if span.start <= last.end => last.end = last.end.max(span.end),
                _ => merged.push(span),
            }
        }
        merged
    }

    /// For each `from:`/`in:` id no archive holds but one holds in another case, a hint
    /// naming the held id (ids are case-sensitive). `users` and `channels` are the ids the
    /// archives' manifests count.
    pub fn case_hints(&self, users: &BTreeSet<String>, channels: &BTreeSet<String>) -> Vec<String> {
        let mut hints = Vec::new();
        for (key, written, held) in [
            ("from", &self.from, users),
            ("in", &self.channels, channels),
        ] {
            for id in written.iter().filter(|id| !held.contains(*id)) {
                let lower = id.to_lowercase();
                let near: Vec<&str> = held
                    .iter()
                    .filter(|h| h.to_lowercase() == lower)
                    .map(String::as_str)
                    .collect();
                if !near.is_empty() {
                    hints.push(format!(
                        "no archive holds {key}:{id}; ids are case-sensitive, and the archives \
                         hold {}",
                        near.iter()
                            .map(|h| format!("{key}:{h}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
            }
        }
        hints
    }

    /// What a message's raw JSON must hold for the message to match, so that most messages
    /// are passed over without being parsed. Only terms whose JSON spelling is certain count:
    /// a word of ASCII letters, digits, spaces and plain punctuation (no encoder escapes
    /// those), and ids of the same kind; anything else is left to [`Query::matches`]. A
    /// needle is a substring test: it can only rule a line out, and a whole word is a
    /// substring too.
    pub fn needles(&self) -> Needles {
        let plain = |text: &str| {
            !text.is_empty()
                && text
                    .bytes()
                    .all(|b| (b.is_ascii_graphic() || b == b' ') && !b"\"\\<>&'/".contains(&b))
        };
        let quoted = |ids: &[String]| -> Option<Vec<Vec<u8>>> {
            ids.iter().all(|id| plain(id)).then(|| {
                ids.iter()
                    .map(|id| format!("\"{id}\"").into_bytes())
                    .collect()
            })
        };
        Needles {
            words: self
                .groups
                .iter()
                .filter(|group| group.iter().all(|t| plain(&t.text)))
                .map(|group| group.iter().map(|t| t.text.as_bytes().to_vec()).collect())
                .collect(),
            any_of: [quoted(&self.from), quoted(&self.channels)]
                .into_iter()
                .flatten()
                .chain(self.has.iter().map(|h| h.needles()))
                .filter(|group| !group.is_empty())
                .collect(),
        }
    }
}

/// Byte strings a message's raw JSON must hold to be worth parsing (see [`Query::needles`]).
#[derive(Debug, Clone, Default)]
pub struct Needles {
    /// Lowercase; one of each group must be in the lowercased JSON.
    words: Vec<Vec<Vec<u8>>>,
    /// Exact, quoted ids: one of each group must be in the JSON.
    any_of: Vec<Vec<Vec<u8>>>,
}

/// Characters outside ASCII that fold to ASCII letters (KELVIN SIGN to `k`, LATIN CAPITAL
/// LETTER I WITH DOT ABOVE to `i` and a dot), raw and as JSON escapes: a line holding one may
/// match a word its lowercased bytes do not show.
const FOLD_TO_ASCII: [&[u8]; 4] = [
    "\u{212a}".as_bytes(),
    "\u{130}".as_bytes(),
    b"\\u212a",
    b"\\u0130",
];

impl Needles {
    pub fn is_empty(&self) -> bool {
        self.words.is_empty() && self.any_of.is_empty()
    }

    /// False only when the message cannot match; `scratch` is reused between calls.
    pub fn may_match(&self, raw: &[u8], scratch: &mut Vec<u8>) -> bool {
        if self.is_empty() {
            return true;
        }
        let holds = |hay: &[u8], needle: &[u8]| memchr::memmem::find(hay, needle).is_some();
        if !self
            .any_of
            .iter()
            .all(|group| group.iter().any(|id| holds(raw, id)))
        {
            return false;
        }
        if self.words.is_empty() {
            return true;
        }
        scratch.clear();
        scratch.extend_from_slice(raw);
        scratch.make_ascii_lowercase();
        self.words
            .iter()
            .all(|group| group.iter().any(|w| holds(scratch, w)))
            || may_fold_to_ascii(scratch)
    }
}

/// Whether `hay` holds one of [`FOLD_TO_ASCII`]: one pass for the bytes they start with, so
/// that the lines ruled out (most of them) cost little more than the needles' own search.
fn may_fold_to_ascii(hay: &[u8]) -> bool {
    memchr::memchr3_iter(b'\\', 0xc4, 0xe2, hay)
        .any(|at| FOLD_TO_ASCII.iter().any(|c| hay[at..].starts_with(c)))
}

/// Text as terms are compared: each character lowercased on its own (so offsets can be
/// mapped back), and a final sigma as any sigma.
pub fn fold(text: &str) -> String {
    if text.is_ascii() {
        return text.to_ascii_lowercase();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        push_folded(&mut out, c);
    }
    out
}

fn push_folded(out: &mut String, c: char) {
    for l in c.to_lowercase() {
        out.push(if l == 'ς' { 'σ' } else { l });
    }
}

/// [`fold`], with a map from a byte offset of the folded text (at a character's start, or its
/// end) to the offset in `text` of the character it came from (or the end of it).
fn fold_mapped(text: &str) -> (String, impl Fn(usize) -> usize) {
    let mut folded = String::with_capacity(text.len());
    // For each folded character's start: (folded offset, original start, original end).
    let mut starts: Vec<(usize, usize, usize)> = Vec::with_capacity(text.len());
    for (at, c) in text.char_indices() {
        let before = folded.len();
        push_folded(&mut folded, c);
        starts.push((before, at, at + c.len_utf8()));
    }
    let end = (folded.len(), text.len());
    let map = move |offset: usize| {
        if offset >= end.0 {
            return end.1;
        }
        // The original character whose folding holds `offset`: its start when the offset is
        // where its folding starts, else its end (a cut inside one character's folding keeps
        // the character whole).
        let i = starts.partition_point(|s| s.0 <= offset).saturating_sub(1);
        match starts.get(i) {
            Some(&(f, start, _)) if f == offset => start,
            Some(&(_, _, stop)) => stop,
            None => 0,
        }
    };
    (folded, map)
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

/// Where `term` stands in the folded `text` as whole words: a letter or digit at either end of
/// the term must not touch another (at its end only for a whole word, not a prefix).
fn occurrences<'a>(
    text: &'a str,
    term: &'a Term,
) -> impl Iterator<Item = std::ops::Range<usize>> + 'a {
    let needle = term.text.as_str();
    let first_is_word = needle.chars().next().is_some_and(is_word_char);
    let last_is_word = needle.chars().next_back().is_some_and(is_word_char);
    let mut from = 0;
    std::iter::from_fn(move || {
        while !needle.is_empty() && from < text.len() {
            let start = from + text[from..].find(needle)?;
            let end = start + needle.len();
            let starts =
                !first_is_word || !text[..start].chars().next_back().is_some_and(is_word_char);
            let ends = term.prefix
                || !last_is_word
                || !text[end..].chars().next().is_some_and(is_word_char);
            if starts && ends {
                from = end;
                return Some(start..end);
            }
            // Occurrences may overlap ("a-a" in "xa-a-a"): go on from the next character.
            from = start + text[start..].chars().next().map_or(1, char::len_utf8);
        }
        None
    })
}

/// `OR` followed by something it cannot join.
fn joined_only_text(last: Last, start: usize) -> Result<(), QueryError> {
    match last {
        Last::Or(_) => Err(not_joinable(start)),
        _ => Ok(()),
    }
}

fn not_joinable(start: usize) -> QueryError {
    QueryError {
        at: start + 1,
        message: "`OR` joins words, phrases and prefixes, not filters or `-` terms \
                  (repeated filters of one kind already mean any of them: from:a from:b)"
            .into(),
    }
}

/// A word, phrase or prefix term.
fn text_term(term: &str, quoted: bool, start: usize) -> Result<Term, QueryError> {
    if term.trim().is_empty() {
        return Err(QueryError {
            at: start + 1,
            message: "expected text inside the quotes".into(),
        });
    }
    if !quoted && let Some(stem) = term.strip_suffix('*') {
        if !stem.chars().any(is_word_char) {
            return Err(QueryError {
                at: start + 1,
                message: format!(
                    "expected letters or digits before `*` (a prefix such as refund*), found \
                     `{term}`; quote it to search for the text"
                ),
            });
        }
        return Ok(Term {
            text: fold(stem),
            prefix: true,
        });
    }
    Ok(Term {
        text: fold(term),
        prefix: false,
    })
}

/// The operator and value of an unquoted `key:value` term whose key is an operator in any
/// case; `None` for a word; an error for a key one edit from an operator.
fn operator(term: &str, negated: bool, start: usize) -> Result<Option<(&str, &str)>, QueryError> {
    let Some((key, value)) = term.split_once(':') else {
        return Ok(None);
    };
    if let Some(known) = OPERATORS.iter().find(|o| key.eq_ignore_ascii_case(o)) {
        return Ok(Some((known, value)));
    }
    if key.is_empty() {
        return Ok(None);
    }
    let lower = key.to_lowercase();
    let near = OPERATORS
        .into_iter()
        .find(|o| strsim::osa_distance(&lower, o) == 1);
    match near {
        Some(near) => Err(QueryError {
            at: start + 1 + usize::from(negated),
            message: format!(
                "`{key}:` is not an operator: did you mean `{near}:`? (to search for the text, \
                 quote it: \"{term}\")"
            ),
        }),
        None => Ok(None),
    }
}

/// A term from `i`: a quoted phrase, or characters up to whitespace (a `key:"quoted value"`
/// keeps its quotes' content). `(text, quoted, next index)`.
fn read_term(chars: &[char], mut i: usize) -> Result<(String, bool, usize), QueryError> {
    if chars.get(i) == Some(&'"') {
        let open = i;
        i += 1;
        let mut out = String::new();
        while i < chars.len() && chars[i] != '"' {
            out.push(chars[i]);
            i += 1;
        }
        if i == chars.len() {
            return Err(QueryError {
                at: open + 1,
                message: "this quote is never closed: expected a closing `\"`".into(),
            });
        }
        return Ok((out, true, i + 1));
    }
    let mut out = String::new();
    while i < chars.len() && !chars[i].is_whitespace() {
        if chars[i] == '"' {
            let (quoted, _, next) = read_term(chars, i)?;
            out.push_str(&quoted);
            i = next;
            continue;
        }
        out.push(chars[i]);
        i += 1;
    }
    Ok((out, false, i))
}

fn filter(
    query: &mut Query,
    key: &str,
    value: &str,
    at: usize,
    zone: Tz,
) -> Result<(), QueryError> {
    let at_value = at + key.chars().count() + 1;
    let error = |message: String| QueryError {
        at: at_value,
        message,
    };
    if value.is_empty() {
        return Err(error(format!("expected a value after `{key}:`")));
    }
    match key {
        "from" => query.from.push(value.to_owned()),
        "in" => {
            if !is_cid(value) {
                return Err(error(format!(
                    "expected a channel as TYPE:ID (e.g. in:messaging:general), found `{value}`"
                )));
            }
            query.channels.push(value.to_owned());
        }
        "after" | "before" => {
            let time = parse_time_in(value, zone).ok_or_else(|| {
                error(format!(
                    "expected a time as RFC 3339 (2026-03-01T12:00:00Z) or a date \
                     (2026-03-01), found `{value}`"
                ))
            })?;
            let slot = if key == "after" {
                &mut query.after
            } else {
                &mut query.before
            };
            if slot.is_some() {
                return Err(error(format!("`{key}:` is given twice")));
            }
            *slot = Some(time);
        }
        "has" => {
            let Some(has) = Has::ALL
                .into_iter()
                .find(|h| value.eq_ignore_ascii_case(h.name()))
            else {
                let names: Vec<String> = Has::ALL
                    .iter()
                    .map(|h| format!("has:{}", h.name()))
                    .collect();
                let lower = value.to_lowercase();
                let near = Has::ALL
                    .into_iter()
                    .find(|h| strsim::osa_distance(&lower, h.name()) <= 2)
                    .map(|h| format!(": did you mean `has:{}`?", h.name()))
                    .unwrap_or_default();
                return Err(error(format!(
                    "expected one of {}, found has:{value}{near}",
                    names.join(", ")
                )));
            };
            if let Err(at) = query.has.binary_search(&has) {
                query.has.insert(at, has);
            }
        }
        "is" if value.eq_ignore_ascii_case("reply") => query.is_reply = true,
        _ => return Err(error(format!("expected is:reply, found is:{value}"))),
    }
    Ok(())
}

/// A channel id as `TYPE:ID`, both parts present.
pub fn is_cid(text: &str) -> bool {
    text.split_once(':')
        .is_some_and(|(t, id)| !t.is_empty() && !id.is_empty())
}

/// RFC 3339, or a date meaning its 00:00 UTC.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    parse_time_in(text, Tz::UTC)
}

/// RFC 3339 (its own offset), or a date meaning its 00:00 in `zone`; where a change of
/// offset skips midnight, the day's first instant.
pub fn parse_time_in(text: &str, zone: Tz) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.to_utc());
    }
    let midnight = NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()?
        .and_hms_opt(0, 0, 0)?;
    // Offsets skip at most a day (Samoa, 2011); a quarter of an hour is the finest step any
    // zone's offsets take.
    (0..=4 * 48)
        .filter_map(|quarter| midnight.checked_add_signed(TimeDelta::minutes(15 * quarter)))
        .find_map(|local| zone.from_local_datetime(&local).earliest())
        .map(|t| t.to_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        parse_time(text).expect("a time")
    }

    fn words(q: &Query) -> Vec<Vec<(&str, bool)>> {
        q.groups
            .iter()
            .map(|g| g.iter().map(|t| (t.text.as_str(), t.prefix)).collect())
            .collect()
    }

    fn text(text: &str) -> Candidate<'_> {
        Candidate {
            text,
            user: None,
            cid: None,
            created_at: None,
            attachments: &[],
            is_reply: false,
        }
    }

    fn finds(query: &str, message: &str) -> bool {
        Query::parse(query).expect(query).matches(&text(message))
    }

    #[test]
    fn every_kind_of_term_parses() {
        let q = Query::parse(
            "Refund \"credit card\" -spam -\"out of office\" from:u1 from:u2 \
             in:messaging:general after:2026-03-01 before:2026-04-01T00:00:00Z has:attachment \
             is:reply inv* a OR \"b c\" OR d*",
        )
        .expect("valid");
        assert_eq!(
            words(&q),
            [
                vec![("refund", false)],
                vec![("credit card", false)],
                vec![("inv", true)],
                vec![("a", false), ("b c", false), ("d", true)],
            ]
        );
        let excluded: Vec<&str> = q.excluded.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(excluded, ["spam", "out of office"]);
        assert_eq!(q.from, ["u1", "u2"]);
        assert_eq!(q.channels, ["messaging:general"]);
        assert_eq!(q.after, Some(at("2026-03-01T00:00:00Z")));
        assert_eq!(q.before, Some(at("2026-04-01T00:00:00Z")));
        assert!(q.has == [Has::Attachment] && q.is_reply);
        assert_eq!(Query::parse("").expect("valid"), Query::default());
    }

    #[test]
    fn operators_are_read_in_any_case_and_ids_kept_as_written() {
        let q = Query::parse(
            "FROM:U-Alice In:Messaging:General HAS:Attachment Is:REPLY has:IMAGE has:image",
        )
        .expect("valid");
        assert_eq!(q.from, ["U-Alice"]);
        assert_eq!(q.channels, ["Messaging:General"]);
        assert!(q.has == [Has::Attachment, Has::Image] && q.is_reply);
        assert_eq!(
            Query::parse("AFTER:2026-03-01").expect("valid").after,
            Some(at("2026-03-01"))
        );
    }

    #[test]
    fn a_near_miss_of_an_operator_is_an_error_with_a_suggestion() {
        for (text, at, meant) in [
            ("form:u-alice", 1, "from:"),
            ("refund inn:messaging:x", 8, "in:"),
            ("fro:u1", 1, "from:"),
            ("-FORM:u1", 2, "from:"),
            ("befor:2026-01-01", 1, "before:"),
            ("hass:attachment", 1, "has:"),
        ] {
            let e = Query::parse(text).expect_err(text);
            assert_eq!(e.at, at, "{text}: {e}");
            assert!(
                e.message.contains(&format!("did you mean `{meant}`")),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn other_colons_and_quoted_operators_stay_words() {
        for (query, message) in [
            ("https://example.com/a", "see https://example.com/a now"),
            ("12:30", "at 12:30 then"),
            ("re:", "re: your refund"),
            ("\"form:u-alice\"", "the form:u-alice field"),
            ("\"from:u1\"", "text from:u1 here"),
        ] {
            assert!(finds(query, message), "{query} in {message}");
        }
        let q = Query::parse("\"from:u1\"").expect("valid");
        assert!(q.from.is_empty());
    }

    #[test]
    fn words_and_phrases_match_whole_words_only() {
        assert!(finds("refund", "A REFUND, please"));
        assert!(finds("refund", "refund"));
        assert!(!finds("refund", "refunded"));
        assert!(!finds("fund", "refund"));
        assert!(finds("\"credit card\"", "my Credit Card."));
        assert!(!finds("\"credit card\"", "credit cards"));
        assert!(finds("c++", "I write C++ daily"));
        assert!(finds("e-mail", "send an e-mail"));
        assert!(!finds("-refund", "a refund"));
        assert!(finds("-refund", "refunded"), "excluding is whole-word too");
    }

    #[test]
    fn or_means_either_and_no_longer_matches_inside_words() {
        let q = Query::parse("refund OR invoice from:u42").expect("valid");
        assert_eq!(q.groups.len(), 1);
        assert_eq!(q.from, ["u42"]);
        let m = |t, user| Candidate {
            user: Some(user),
            ..text(t)
        };
        assert!(q.matches(&m("the invoice", "u42")));
        assert!(q.matches(&m("a refund", "u42")));
        assert!(!q.matches(&m("a refund", "u1")), "the filter still holds");
        assert!(!q.matches(&m("my order for tomorrow", "u42")));
        assert!(finds("refund OR invoice", "REFUND"));
        assert!(!finds("refund OR invoice", "order tomorrow"));
        assert!(
            finds("a OR b c", "b c"),
            "OR binds the terms beside it; the rest is ANDed"
        );
        assert!(!finds("a OR b c", "a b"));
        assert!(finds("or", "this or that"), "a lowercase or is a word");
        assert!(finds("\"OR\"", "this or that"));
    }

    #[test]
    fn or_joins_only_words_phrases_and_prefixes() {
        for (text, at, expected) in [
            ("OR refund", 1, "before it"),
            ("refund OR", 8, "after it"),
            ("refund OR OR invoice", 11, "before it"),
            ("refund OR from:u1", 11, "not filters"),
            ("from:u1 OR from:u2", 9, "not filters"),
            ("refund OR -spam", 11, "not filters"),
        ] {
            let e = Query::parse(text).expect_err(text);
            assert_eq!(e.at, at, "{text}: {e}");
            assert!(e.message.contains(expected), "{text}: {e}");
        }
    }

    #[test]
    fn a_star_makes_a_prefix() {
        assert!(finds("refund*", "refunded yesterday"));
        assert!(finds("refund*", "Refund"));
        assert!(!finds("refund*", "a nonrefundable fee"));
        assert!(
            finds("\"refund*\"", "the refund* line"),
            "quoted, a star is text"
        );
        assert!(!finds("\"refund*\"", "refunded"));
        let e = Query::parse("refund *").expect_err("a bare star");
        assert_eq!(e.at, 8);
        assert!(e.message.contains("before `*`"), "{e}");
    }

    #[test]
    fn unicode_words_are_words() {
        assert!(finds("straße", "Die STRASSE heißt Straße."));
        assert!(finds("STRASSE", "Die STRASSE"));
        assert!(!finds("straße", "Straßenbahn"));
        assert!(finds("straße*", "Straßenbahn"));
        assert!(finds("日本", "東京、日本。"));
        assert!(
            !finds("日本", "日本語"),
            "a run of letters without spaces is one word"
        );
        assert!(finds("日本*", "日本語のテキスト"));
        assert!(finds("ΟΔΟΣ", "η οδος"), "a final sigma is a sigma");
        assert!(
            finds("a-a", "xa-a-a"),
            "overlapping occurrences are all tried"
        );
    }

    #[test]
    fn has_looks_at_the_type_of_each_attachment() {
        let attachments = [
            serde_json::json!({"type": "image", "image_url": "https://cdn/a.png"}),
            serde_json::json!({"type": "voiceRecording", "asset_url": "https://cdn/v.aac"}),
            serde_json::json!({"og_scrape_url": "https://example.com", "image_url": "https://example.com/og.png"}),
        ];
        let message = Candidate {
            attachments: &attachments,
            ..text("see the picture")
        };
        let finds = |query: &str| Query::parse(query).expect(query).matches(&message);
        for hit in [
            "has:attachment",
            "has:image",
            "has:audio",
            "has:link",
            "has:image has:audio picture",
        ] {
            assert!(finds(hit), "{hit}");
        }
        for miss in [
            "has:file",
            "has:video",
            "has:image has:file",
            "has:image -picture",
        ] {
            assert!(!finds(miss), "{miss}");
        }
        assert!(
            !Query::parse("has:image")
                .expect("valid")
                .matches(&text("an image"))
        );
        assert!(
            Query::parse("has:link")
                .expect("valid")
                .matches(&text("at https://x.org/a"))
        );
        assert!(
            !Query::parse("has:link")
                .expect("valid")
                .matches(&text("at x.org"))
        );
    }

    #[test]
    fn malformed_queries_say_where_and_what_was_expected() {
        let cases = [
            ("hello \"world", 7, "never closed"),
            ("after:yesterday", 7, "RFC 3339"),
            ("in:general", 4, "TYPE:ID"),
            (
                "has:pdf",
                5,
                "has:attachment, has:image, has:file, has:video, has:audio",
            ),
            ("has:imgae", 5, "did you mean `has:image`?"),
            ("has:Vidoe", 5, "did you mean `has:video`?"),
            ("is:thread", 4, "is:reply"),
            ("a - b", 3, "after `-`"),
            ("from:", 6, "a value"),
            ("-from:u1", 1, "cannot be excluded"),
            ("after:2026-01-01 after:2026-02-01", 24, "twice"),
        ];
        for (text, position, expected) in cases {
            let e = Query::parse(text).expect_err(text);
            assert_eq!(e.at, position, "{text}: {e}");
            assert!(e.message.contains(expected), "{text}: {e}");
        }
    }

    #[test]
    fn dates_mean_midnight_in_the_zone_read_in() {
        let q = Query::parse_in(
            "after:2026-12-05 before:2026-12-06",
            chrono_tz::America::New_York,
        )
        .expect("valid");
        assert_eq!(q.after, Some(at("2026-12-05T05:00:00Z")));
        assert_eq!(q.before, Some(at("2026-12-06T05:00:00Z")));
        let explicit =
            Query::parse_in("after:2026-12-05T00:00:00Z", chrono_tz::Asia::Tokyo).expect("valid");
        assert_eq!(explicit.after, Some(at("2026-12-05T00:00:00Z")));
        // Samoa skipped 2011-12-30 whole: that date means the first instant after the gap.
        assert_eq!(
            parse_time_in("2011-12-30", chrono_tz::Pacific::Apia),
            Some(at("2011-12-30T10:00:00Z"))
        );
    }

    #[test]
    fn marks_cover_whole_words_in_the_original_text() {
        let q = Query::parse("refund OR \"credit card\" inv*").expect("valid");
        let text = "REFUNDED? Refund! Credit  card, Credit Card; invoices";
        let marked: Vec<&str> = q.marks(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(marked, ["Refund", "Credit Card", "inv"]);
        let q = Query::parse("straße").expect("valid");
        let text = "İİ STRAẞE Straße";
        let marked: Vec<&str> = q.marks(text).into_iter().map(|r| &text[r]).collect();
        assert_eq!(marked, ["STRAẞE", "Straße"]);
    }

    #[test]
    fn case_hints_name_the_id_held_in_another_case() {
        let q = Query::parse("from:U-Alice from:bob in:Messaging:General").expect("valid");
        let users = BTreeSet::from(["u-alice".to_owned(), "carol".to_owned()]);
        let channels = BTreeSet::from(["messaging:general".to_owned()]);
        let hints = q.case_hints(&users, &channels);
        assert_eq!(hints.len(), 2, "{hints:?}");
        assert!(hints[0].contains("from:U-Alice") && hints[0].contains("from:u-alice"));
        assert!(hints[1].contains("in:messaging:general"), "{hints:?}");
        let exact = Query::parse("from:u-alice").expect("valid");
        assert!(exact.case_hints(&users, &channels).is_empty());
    }

    #[test]
    fn needles_pass_over_what_cannot_match_and_never_what_can() {
        let q =
            Query::parse("Zone \"coffee LUNCH\" from:u1 from:u2 in:messaging:a").expect("valid");
        let needles = q.needles();
        let mut scratch = Vec::new();
        let line = br#"{"type":"message","item":{"text":"ZONE Coffee lunch","user":{"id":"u2"},"cid":"messaging:a"}}"#;
        assert!(needles.may_match(line, &mut scratch));
        let other_user =
            br#"{"item":{"text":"zone coffee lunch","user":{"id":"u3"},"cid":"messaging:a"}}"#;
        assert!(!needles.may_match(other_user, &mut scratch));
        let no_word = br#"{"item":{"text":"coffee lunch","user":{"id":"u1"},"cid":"messaging:a"}}"#;
        assert!(!needles.may_match(no_word, &mut scratch));
        // Words JSON may spell otherwise are left to the exact match.
        let escaped = Query::parse("café <b>").expect("valid").needles();
        assert!(escaped.is_empty());
    }

    #[test]
    fn needles_of_has_pass_over_messages_without_such_an_attachment() {
        let mut scratch = Vec::new();
        let image =
            br#"{"text":"x","attachments":[{"type": "image","image_url":"https:\/\/c\/a.png"}]}"#;
        let voice = br#"{"text":"x","attachments":[{"type":"voiceRecording"}]}"#;
        let plain = br#"{"text":"see http:\/\/x.org","attachments":[]}"#;
        let may = |query: &str, line: &[u8], scratch: &mut Vec<u8>| {
            Query::parse(query)
                .expect("valid")
                .needles()
                .may_match(line, scratch)
        };
        assert!(may("has:image", image, &mut scratch));
        assert!(!may("has:image", voice, &mut scratch));
        assert!(may("has:audio", voice, &mut scratch));
        assert!(!may("has:file", image, &mut scratch));
        assert!(may("has:link", plain, &mut scratch));
        assert!(
            may("has:attachment", plain, &mut scratch),
            "an empty list is left to the match"
        );
        assert!(!may("has:video", plain, &mut scratch));
    }

    #[test]
    fn needles_of_an_or_group_need_one_alternative() {
        let needles = Query::parse("refund OR invoice").expect("valid").needles();
        let mut scratch = Vec::new();
        assert!(needles.may_match(br#"{"text":"an INVOICE"}"#, &mut scratch));
        assert!(needles.may_match(br#"{"text":"a refund"}"#, &mut scratch));
        assert!(!needles.may_match(br#"{"text":"neither"}"#, &mut scratch));
        // One alternative JSON may spell otherwise: the group rules nothing out.
        let mixed = Query::parse("refund OR café").expect("valid").needles();
        assert!(mixed.is_empty());
        let prefix = Query::parse("refund*").expect("valid").needles();
        assert!(prefix.may_match(br#"{"text":"Refunded"}"#, &mut scratch));
    }

    #[test]
    fn needles_never_rule_out_a_match_hidden_by_case_folding() {
        // Every character outside ASCII whose lowercase holds an ASCII character is one the
        // prefilter knows; a word holding such a letter matches without its bytes showing.
        let folding: Vec<char> = (0..=u32::from(char::MAX))
            .filter_map(char::from_u32)
            .filter(|c| !c.is_ascii() && fold(&c.to_string()).chars().any(|l| l.is_ascii()))
            .collect();
        assert_eq!(folding, ['\u{130}', '\u{212a}']);
        let q = Query::parse("kelvin").expect("valid");
        let mut scratch = Vec::new();
        for raw in [
            "{\"text\":\"\u{212a}elvin\"}".as_bytes(),
            br#"{"text":"\u212Aelvin"}"#,
        ] {
            assert!(q.needles().may_match(raw, &mut scratch));
        }
        assert!(q.matches(&text("\u{212a}elvin")));
    }
}
