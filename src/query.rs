//! The search language, a small Slack-like one: terms separated by spaces, all of which a
//! message must meet.
//!
//! - `word`, `"a phrase"`: the text holds it, case-insensitively; `-word`, `-"a phrase"`
//!   exclude;
//! - `from:USER_ID` (exact user id), `in:TYPE:ID` (exact cid): repeated, they are ORed;
//! - `after:T` (created at or after T), `before:T` (created before T), T as RFC 3339 or
//!   `YYYY-MM-DD` (00:00 UTC);
//! - `has:attachment`, `is:reply` (a thread reply: it has a `parent_id`).
//!
//! Parsing needs no store; a malformed query is an error with its position (a character
//! count from 1) and what was expected.

use chrono::{DateTime, NaiveDate, Utc};
use thiserror::Error;

/// A parsed query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    /// Lowercased; each must be in the text.
    pub words: Vec<String>,
    /// Lowercased; none may be in the text.
    pub excluded: Vec<String>,
    /// Any of these authors (all when empty).
    pub from: Vec<String>,
    /// Any of these channels (all when empty).
    pub channels: Vec<String>,
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
    pub has_attachment: bool,
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
    pub has_attachment: bool,
    pub is_reply: bool,
}

impl Query {
    pub fn parse(text: &str) -> Result<Query, QueryError> {
        let chars: Vec<char> = text.chars().collect();
        let mut query = Query::default();
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
            if quoted {
                push_text(&mut query, negated, &term, start)?;
                continue;
            }
            match term.split_once(':') {
                Some((key, value)) if is_filter(key) => {
                    if negated {
                        return Err(QueryError {
                            at: start + 1,
                            message: format!("`{key}:` cannot be excluded with `-`"),
                        });
                    }
                    filter(&mut query, key, value, start + 1)?;
                }
                _ => push_text(&mut query, negated, &term, start)?,
            }
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
        if (self.has_attachment && !message.has_attachment) || (self.is_reply && !message.is_reply)
        {
            return false;
        }
        if self.words.is_empty() && self.excluded.is_empty() {
            return true;
        }
        let text = message.text.to_lowercase();
        self.words.iter().all(|w| text.contains(w.as_str()))
            && !self.excluded.iter().any(|w| text.contains(w.as_str()))
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

    /// The words whose places a person wants marked in the text.
    pub fn marked(&self) -> &[String] {
        &self.words
    }

    /// What a message's raw JSON must hold for the message to match, so that most messages
    /// are passed over without being parsed. Only terms whose JSON spelling is certain count:
    /// a word of ASCII letters, digits, spaces and plain punctuation (no encoder escapes
    /// those), and ids of the same kind; anything else is left to [`Query::matches`].
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
                .words
                .iter()
                .filter(|w| plain(w))
                .map(|w| w.as_bytes().to_vec())
                .collect(),
            any_of: [quoted(&self.from), quoted(&self.channels)]
                .into_iter()
                .flatten()
                .filter(|group| !group.is_empty())
                .collect(),
        }
    }
}

/// Byte strings a message's raw JSON must hold to be worth parsing (see [`Query::needles`]).
#[derive(Debug, Clone, Default)]
pub struct Needles {
    /// Lowercase; each must be in the lowercased JSON.
    words: Vec<Vec<u8>>,
    /// Exact, quoted ids: one of each group must be in the JSON.
    any_of: Vec<Vec<Vec<u8>>>,
}

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
        self.words.iter().all(|w| holds(scratch, w))
    }
}

fn is_filter(key: &str) -> bool {
    matches!(key, "from" | "in" | "after" | "before" | "has" | "is")
}

fn push_text(query: &mut Query, negated: bool, term: &str, start: usize) -> Result<(), QueryError> {
    if term.trim().is_empty() {
        return Err(QueryError {
            at: start + 1,
            message: "expected text inside the quotes".into(),
        });
    }
    let term = term.to_lowercase();
    if negated {
        query.excluded.push(term);
    } else {
        query.words.push(term);
    }
    Ok(())
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

fn filter(query: &mut Query, key: &str, value: &str, at: usize) -> Result<(), QueryError> {
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
            let ok = value
                .split_once(':')
                .is_some_and(|(t, id)| !t.is_empty() && !id.is_empty());
            if !ok {
                return Err(error(format!(
                    "expected a channel as TYPE:ID (e.g. in:messaging:general), found `{value}`"
                )));
            }
            query.channels.push(value.to_owned());
        }
        "after" | "before" => {
            let time = parse_time(value).ok_or_else(|| {
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
        "has" if value == "attachment" => query.has_attachment = true,
        "has" => return Err(error(format!("expected has:attachment, found has:{value}"))),
        "is" if value == "reply" => query.is_reply = true,
        _ => return Err(error(format!("expected is:reply, found is:{value}"))),
    }
    Ok(())
}

/// RFC 3339, or a date meaning its 00:00 UTC.
pub fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.to_utc());
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        parse_time(text).expect("a time")
    }

    #[test]
    fn every_kind_of_term_parses() {
        let q = Query::parse(
            "Refund \"credit card\" -spam -\"out of office\" from:u1 from:u2 \
             in:messaging:general after:2026-03-01 before:2026-04-01T00:00:00Z has:attachment \
             is:reply",
        )
        .expect("valid");
        assert_eq!(q.words, ["refund", "credit card"]);
        assert_eq!(q.excluded, ["spam", "out of office"]);
        assert_eq!(q.from, ["u1", "u2"]);
        assert_eq!(q.channels, ["messaging:general"]);
        assert_eq!(q.after, Some(at("2026-03-01T00:00:00Z")));
        assert_eq!(q.before, Some(at("2026-04-01T00:00:00Z")));
        assert!(q.has_attachment && q.is_reply);
        assert_eq!(Query::parse("-spam").expect("valid").excluded, ["spam"]);
        assert_eq!(Query::parse("").expect("valid"), Query::default());
    }

    #[test]
    fn malformed_queries_say_where_and_what_was_expected() {
        let cases = [
            ("hello \"world", 7, "never closed"),
            ("after:yesterday", 7, "RFC 3339"),
            ("in:general", 4, "TYPE:ID"),
            ("has:link", 5, "has:attachment"),
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
    fn matching_ands_terms_and_ors_repeated_filters() {
        let q =
            Query::parse("refund from:a from:b after:2026-03-01 before:2026-03-02").expect("valid");
        let m = |text, user, time| Candidate {
            text,
            user: Some(user),
            cid: Some("messaging:x"),
            created_at: Some(at(time)),
            has_attachment: false,
            is_reply: false,
        };
        assert!(q.matches(&m("A REFUND please", "b", "2026-03-01T00:00:00Z")));
        assert!(
            !q.matches(&m("a refund", "c", "2026-03-01T10:00:00Z")),
            "author"
        );
        assert!(
            !q.matches(&m("a refund", "a", "2026-03-02T00:00:00Z")),
            "before is exclusive"
        );
        assert!(
            !q.matches(&m("nothing", "a", "2026-03-01T10:00:00Z")),
            "word"
        );
        let q = Query::parse("is:reply has:attachment -spam").expect("valid");
        let reply = Candidate {
            text: "see file",
            user: None,
            cid: None,
            created_at: None,
            has_attachment: true,
            is_reply: true,
        };
        assert!(q.matches(&reply));
        assert!(!q.matches(&Candidate {
            text: "SPAM here",
            ..reply
        }));
        assert!(!q.matches(&Candidate {
            is_reply: false,
            ..reply
        }));
    }
}
