//! Leaving erased users out of an export on its way into the store: runs put this stage
//! between undoing Stream's compression and counting, so what is counted, hashed and stored
//! is the export without them (Stream may still return an erased user's data).
//!
//! JSON Lines go a line at a time: a line that cannot name an erased user (none of their ids
//! in its bytes, no escape that could spell one) passes as it came, unparsed; any other is
//! parsed, its item (an envelope's, or the bare line) scrubbed by [`scrub`], and the
//! line dropped, passed as it came, or written anew. A v1 document is one JSON value, read
//! whole (a v1 export is one call's channels, so it is as large as one answer of Stream), and
//! its channel, messages and members scrubbed the same way; it is written anew only when
//! something changed.

use std::collections::BTreeSet;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use memchr::memmem::Finder;
use serde_json::Value;
use thiserror::Error;
use tokio::io::{AsyncRead, ReadBuf};

use super::entities::{Kind, Layout, bare_kind, envelope_kind};
use super::naming::{Role, Verdict, scrub};
use super::replacement::Removed;

/// What the stage did to one export.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Scrubbed {
    /// Items left out: the erased users' messages, reactions, memberships and records (and a
    /// broken line that holds one of their ids).
    pub dropped: u64,
    /// Other people's items that named them, now naming the placeholder instead.
    pub rewritten: u64,
    /// The same by kind of item, as an erasure's replacement manifest records them.
    pub items: Removed,
}

impl Scrubbed {
    pub fn is_empty(&self) -> bool {
        self.dropped == 0 && self.rewritten == 0
    }

    fn drop(&mut self, role: Option<Role>) {
        self.dropped += 1;
        let items = &mut self.items;
        match role {
            Some(Role::Author) => items.messages += 1,
            Some(Role::Reaction) => items.reactions += 1,
            Some(Role::Member) => items.memberships += 1,
            Some(Role::Read) => items.reads += 1,
            Some(Role::Record) => items.users += 1,
            // Their name in someone else's item, or an item nobody can read.
            Some(Role::Mention) | None => {}
        }
    }

    fn rewrite(&mut self) {
        self.rewritten += 1;
        self.items.rewritten += 1;
    }
}

#[derive(Debug, Error)]
pub enum ScrubError {
    /// Storing it could store an erased user's data; not storing it fails the run, which is
    /// the lesser harm.
    #[error(
        "the export is not valid JSON and may name an erased user: it cannot be stored without \
         them"
    )]
    Unreadable,
}

/// Takes the erased users out of an export fed to it in pieces.
pub struct Scrubber {
    layout: Layout,
    erased: BTreeSet<String>,
    ids: Vec<Finder<'static>>,
    /// Whether every erased id is written in JSON as it is (no character JSON must escape):
    /// only then do bytes without the id and without an escape not name them.
    plain: bool,
    /// The line (or the document) not complete yet.
    pending: Vec<u8>,
    done: Scrubbed,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("layout", &self.layout)
            .field("erased", &self.erased.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Scrubber {
    pub fn new(layout: Layout, erased: BTreeSet<String>) -> Scrubber {
        let ids = erased
            .iter()
            .map(|id| Finder::new(id.as_bytes()).into_owned())
            .collect();
        let plain = erased
            .iter()
            .all(|id| !id.is_empty() && !id.chars().any(|c| c == '"' || c == '\\' || c < ' '));
        Scrubber {
            layout,
            erased,
            ids,
            plain,
            pending: Vec::new(),
            done: Scrubbed::default(),
        }
    }

    /// Feeds the next bytes; what is to be stored of them is appended to `out`.
    pub fn push(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) {
        if self.layout == Layout::Document {
            self.pending.extend_from_slice(bytes);
            return;
        }
        while let Some(end) = memchr::memchr(b'\n', bytes) {
            if self.pending.is_empty() {
                self.line(&bytes[..end], true, out);
            } else {
                self.pending.extend_from_slice(&bytes[..end]);
                let line = std::mem::take(&mut self.pending);
                self.line(&line, true, out);
                self.pending = line;
                self.pending.clear();
            }
            bytes = &bytes[end + 1..];
        }
        self.pending.extend_from_slice(bytes);
    }

    /// The end of the export: the last line without its newline, or the whole document.
    pub fn finish(&mut self, out: &mut Vec<u8>) -> Result<Scrubbed, ScrubError> {
        let rest = std::mem::take(&mut self.pending);
        match self.layout {
            Layout::Lines => {
                if !rest.is_empty() {
                    self.line(&rest, false, out);
                }
            }
            Layout::Document => self.document(&rest, out)?,
        }
        Ok(self.done)
    }

    fn holds_id(&self, bytes: &[u8]) -> bool {
        self.ids.iter().any(|id| id.find(bytes).is_some())
    }

    /// Whether `bytes` could name an erased user: it holds one of their ids, or an escape
    /// that could spell one (or some id cannot be looked for as it is).
    fn may_name(&self, bytes: &[u8]) -> bool {
        !self.plain
            || self.holds_id(bytes)
            || memchr::memmem::find(bytes, b"\\u").is_some()
            || memchr::memmem::find(bytes, b"\\/").is_some()
    }

    fn line(&mut self, line: &[u8], newline: bool, out: &mut Vec<u8>) {
        let body = line.trim_ascii();
        let keep = |out: &mut Vec<u8>| {
            out.extend_from_slice(line);
            if newline {
                out.push(b'\n');
            }
        };
        if body.is_empty() || !self.may_name(body) {
            return keep(out);
        }
        let Ok(mut value) = serde_json::from_slice::<Value>(body) else {
            // Nobody can tell whose it is, readers included; one that holds an erased id
            // goes rather than keep their data.
            if self.holds_id(body) {
                self.done.drop(None);
            } else {
                keep(out);
            }
            return;
        };
        // An envelope as the reader takes one: a `type` string and an `item` that is not null.
        let envelope = value
            .get("type")
            .and_then(Value::as_str)
            .filter(|_| value.get("item").is_some_and(|i| !i.is_null()))
            .map(envelope_kind);
        let verdict = match envelope {
            Some(kind) => match value.get_mut("item") {
                Some(item) => scrub(kind, item, &self.erased),
                None => Verdict::Keep,
            },
            None => scrub(bare_kind(body), &mut value, &self.erased),
        };
        match verdict {
            // Their id in a field no one is named by (a message's text): kept, but written
            // anew, so that a field given twice cannot hide them from the scrub while a
            // reader takes the other copy.
            Verdict::Keep if !self.holds_id(body) => keep(out),
            Verdict::Drop(role) => self.done.drop(Some(role)),
            Verdict::Keep | Verdict::Rewritten => {
                if verdict == Verdict::Rewritten {
                    self.done.rewrite();
                }
                // A Value always serializes.
                if write_line(out, &value, envelope.is_some()).is_ok() && newline {
                    out.push(b'\n');
                }
            }
        }
    }

    fn document(&mut self, bytes: &[u8], out: &mut Vec<u8>) -> Result<(), ScrubError> {
        if !self.may_name(bytes) {
            out.extend_from_slice(bytes);
            return Ok(());
        }
        // The reader cuts values out of a broken document too, escapes and all: one that may
        // name them and does not parse cannot be stored.
        let Ok(mut document) = serde_json::from_slice::<Value>(bytes) else {
            return Err(ScrubError::Unreadable);
        };
        let before = self.done;
        // The shapes the reader takes: one channel's fields at the top, several channels'
        // in `channels[]`, or both.
        self.channel_document(&mut document);
        if let Some(channels) = document.get_mut("channels").and_then(Value::as_array_mut) {
            for channel in channels {
                self.channel_document(channel);
            }
        }
        // Written anew also when it holds their id and nothing changed: a field given twice
        // must not keep a copy the scrub did not see.
        if self.done == before && !self.holds_id(bytes) {
            out.extend_from_slice(bytes);
        } else if let Err(e) = serde_json::to_writer(&mut *out, &document) {
            tracing::warn!(error = %e, "could not write the scrubbed document");
            return Err(ScrubError::Unreadable);
        }
        Ok(())
    }

    /// `{"channel": …, "messages": […], "members": […]}`.
    fn channel_document(&mut self, document: &mut Value) {
        if let Some(channel) = document.get_mut("channel")
            && scrub(Kind::Channel, channel, &self.erased) == Verdict::Rewritten
        {
            self.done.rewrite();
        }
        for (key, kind) in [("messages", Kind::Message), ("members", Kind::Other)] {
            let Some(items) = document.get_mut(key).and_then(Value::as_array_mut) else {
                continue;
            };
            let erased = &self.erased;
            let done = &mut self.done;
            items.retain_mut(|item| match scrub(kind, item, erased) {
                Verdict::Keep => true,
                Verdict::Drop(role) => {
                    done.drop(Some(role));
                    false
                }
                Verdict::Rewritten => {
                    done.rewrite();
                    true
                }
            });
        }
    }
}

/// A line written anew: an envelope with `type` and `item` first, as exports write it.
fn write_line(out: &mut Vec<u8>, value: &Value, envelope: bool) -> serde_json::Result<()> {
    let Some(fields) = value.as_object().filter(|_| envelope) else {
        return serde_json::to_writer(out, value);
    };
    let first = ["type", "item"]
        .into_iter()
        .filter_map(|k| fields.get_key_value(k));
    let rest = fields.iter().filter(|(k, _)| *k != "type" && *k != "item");
    out.push(b'{');
    for (i, (key, field)) in first.chain(rest).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key)?;
        out.push(b':');
        serde_json::to_writer(&mut *out, field)?;
    }
    out.push(b'}');
    Ok(())
}

/// The stage as a reader: reads the export from `inner`, hands on the export without the
/// erased users, and leaves what it did in `report` at the end.
pub struct Scrubbing<R> {
    inner: R,
    scrubber: Scrubber,
    read: Box<[u8]>,
    out: Vec<u8>,
    at: usize,
    ended: bool,
    report: Arc<Mutex<Scrubbed>>,
}

impl<R> Scrubbing<R> {
    pub fn new(inner: R, scrubber: Scrubber, report: Arc<Mutex<Scrubbed>>) -> Scrubbing<R> {
        Scrubbing {
            inner,
            scrubber,
            read: vec![0; 64 * 1024].into_boxed_slice(),
            out: Vec::new(),
            at: 0,
            ended: false,
            report,
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Scrubbing<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.at < this.out.len() {
                let n = buf.remaining().min(this.out.len() - this.at);
                buf.put_slice(&this.out[this.at..this.at + n]);
                this.at += n;
                if this.at == this.out.len() {
                    this.out.clear();
                    this.at = 0;
                }
                return Poll::Ready(Ok(()));
            }
            if this.ended {
                return Poll::Ready(Ok(()));
            }
            let mut read = ReadBuf::new(&mut this.read);
            ready!(Pin::new(&mut this.inner).poll_read(cx, &mut read))?;
            let fresh = read.filled();
            if fresh.is_empty() {
                this.ended = true;
                let done = this
                    .scrubber
                    .finish(&mut this.out)
                    .map_err(io::Error::other)?;
                *this.report.lock().unwrap_or_else(PoisonError::into_inner) = done;
            } else {
                this.scrubber.push(fresh, &mut this.out);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncReadExt;

    use super::*;

    fn erased() -> BTreeSet<String> {
        BTreeSet::from(["gone".to_owned()])
    }

    /// The export fed in pieces of `chunk` bytes; what is stored and what was done.
    fn through(layout: Layout, export: &str, chunk: usize) -> (String, Scrubbed) {
        let mut scrubber = Scrubber::new(layout, erased());
        let mut out = Vec::new();
        for piece in export.as_bytes().chunks(chunk.max(1)) {
            scrubber.push(piece, &mut out);
        }
        let done = scrubber.finish(&mut out).expect("scrubbed");
        (String::from_utf8(out).expect("utf-8"), done)
    }

    const LINES: &str = concat!(
        r#"{"type":"channel","item":{"cid":"m:a","created_by":{"id":"keep"}}}"#,
        "\n",
        r#"{"type":"member","item":{"user_id":"gone","user":{"id":"gone","name":"Gone Person"}}}"#,
        "\n",
        r#"{"type":"member","item":{"user_id":"keep","user":{"id":"keep"}}}"#,
        "\n",
        r#"{"type":"message","item":{"id":"1","cid":"m:a","user":{"id":"gone"},"text":"mine"}}"#,
        "\n",
        r#"{"type":"message", "item":{"id":"2","cid":"m:a","user":{"id":"keep"},"text":"hi @Gone","mentioned_users":[{"id":"gone","name":"Gone Person"}]}}"#,
        "\n",
        r#"{"type":"reaction","item":{"message_id":"2","user":{"id":"gone"},"type":"like"}}"#,
        "\n",
        r#"{"type":"message",  "item":{"id":"3","cid":"m:a","user":{"id":"keep"},"text":"untouched"}}"#,
        "\n",
        "not json, gone\n",
        "not json either\n",
        r#"{"id":"4","cid":"m:a","text":"bare","user_id":"gone"}"#,
    );

    #[test]
    fn lines_lose_the_erased_users_items_and_name_the_placeholder_in_others() {
        for chunk in [1, 7, 64, 4096] {
            let (stored, done) = through(Layout::Lines, LINES, chunk);
            assert_eq!(
                done,
                Scrubbed {
                    dropped: 5,
                    rewritten: 1,
                    items: Removed {
                        messages: 2,
                        reactions: 1,
                        memberships: 1,
                        rewritten: 1,
                        ..Removed::default()
                    },
                },
                "pieces of {chunk}: {stored}; the broken line holding their id is no kind"
            );
            let lines: Vec<&str> = stored.lines().collect();
            assert_eq!(lines.len(), 5, "{stored}");
            assert!(!stored.contains("Gone Person"), "{stored}");
            assert!(!stored.contains("\"gone\""), "{stored}");
            assert!(stored.contains(r#"{"id":"erased-user","name":"Erased user"}"#));
            assert!(stored.contains("hi @Gone"), "message text is not rewritten");
            // What names nobody erased passes byte for byte, spacing and order kept.
            assert_eq!(lines[0], LINES.lines().next().unwrap_or_default());
            assert!(stored.contains(
                r#"{"type":"message",  "item":{"id":"3","cid":"m:a","user":{"id":"keep"},"text":"untouched"}}"#
            ));
            assert!(
                stored.ends_with("not json either\n"),
                "a dropped last line takes nothing else with it"
            );
        }
    }

    #[test]
    fn an_escaped_id_is_found_too() {
        let line = r#"{"type":"message","item":{"id":"1","user":{"id":"g\u006fne"}}}"#;
        let (stored, done) = through(Layout::Lines, line, 5);
        assert_eq!(stored, "");
        assert_eq!(done.dropped, 1);
    }

    const DOCUMENT: &str = r#"{"channels":[{"channel":{"cid":"m:a","created_by":{"id":"gone","image":"https://cdn/g.png"}},
        "messages":[{"id":"1","user":{"id":"gone"}},{"id":"2","user":{"id":"keep"},"quoted_message_id":"1","quoted_message":{"id":"1","user":{"id":"gone"}},"latest_reactions":[{"user":{"id":"gone"}},{"user":{"id":"keep"}}]}],
        "members":[{"user_id":"gone"},{"user_id":"keep"}]}]}"#;

    #[test]
    fn a_document_loses_the_erased_users_items_and_keeps_the_rest() {
        let (stored, done) = through(Layout::Document, DOCUMENT, 9);
        assert_eq!((done.dropped, done.rewritten), (2, 2));
        let doc: Value = serde_json::from_str(&stored).expect("json");
        let channel = &doc["channels"][0];
        assert_eq!(channel["channel"]["created_by"]["id"], "erased-user");
        assert!(
            !stored.contains("g.png"),
            "nothing of theirs stays: {stored}"
        );
        let messages = channel["messages"].as_array().expect("messages");
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["quoted_message_id"], "1");
        assert!(messages[0].get("quoted_message").is_none());
        assert_eq!(
            messages[0]["latest_reactions"].as_array().map(Vec::len),
            Some(1)
        );
        assert_eq!(channel["members"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn a_field_given_twice_cannot_hide_them() {
        let line = r#"{"type":"message","item":{"id":"1","user":{"id":"gone"},"user":{"id":"x"}}}"#;
        let (stored, _) = through(Layout::Lines, line, 4096);
        assert!(!stored.contains("gone"), "{stored}");
        let document = r#"{"messages":[{"id":"1","user":{"id":"gone"}}],"messages":[]}"#;
        let (stored, _) = through(Layout::Document, document, 4096);
        assert_eq!(stored, r#"{"messages":[]}"#);
    }

    #[test]
    fn a_document_naming_nobody_erased_is_stored_as_it_came() {
        let untouched = DOCUMENT.replace("gone", "kept");
        let (stored, done) = through(Layout::Document, &untouched, 4096);
        assert_eq!(stored, untouched);
        assert!(done.is_empty());
    }

    #[test]
    fn a_broken_document_holding_an_erased_id_is_refused() {
        let mut scrubber = Scrubber::new(Layout::Document, erased());
        let mut out = Vec::new();
        scrubber.push(br#"{"messages":[{"user":{"id":"gone"}"#, &mut out);
        assert!(scrubber.finish(&mut out).is_err());
        let mut scrubber = Scrubber::new(Layout::Document, erased());
        scrubber.push(br#"{"messages":[{"user":{"id":"g\u006fne"}"#, &mut out);
        assert!(
            scrubber.finish(&mut out).is_err(),
            "an escape may spell them"
        );
        let mut scrubber = Scrubber::new(Layout::Document, erased());
        scrubber.push(br#"{"messages":[{"user":{"id":"kept"}"#, &mut out);
        assert!(scrubber.finish(&mut out).is_ok(), "nobody erased in it");
    }

    #[tokio::test]
    async fn the_reader_hands_on_what_the_scrubber_keeps_and_reports_it() {
        let report = Arc::new(Mutex::new(Scrubbed::default()));
        let scrubber = Scrubber::new(Layout::Lines, erased());
        let mut reader = Scrubbing::new(LINES.as_bytes(), scrubber, report.clone());
        let mut stored = String::new();
        reader.read_to_string(&mut stored).await.expect("read");
        assert_eq!(stored, through(Layout::Lines, LINES, 4096).0);
        let done = *report.lock().expect("not poisoned");
        assert_eq!((done.dropped, done.rewritten), (5, 1));
    }
}
