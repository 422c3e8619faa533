//! The entities of an export file, cut out of its bytes as they stream past, so that no file
//! is ever held whole: JSON Lines (v2 channel exports and users exports) a line at a time, and
//! a v1 document by cutting each value of its `channel`, `messages` and `members` fields out
//! of the byte stream.
//!
//! Stream documents neither the v2 line envelope nor the v1 layout for several channels
//! (`stream-export-api.md` §8), so both shapes are taken: a line is `{"type": …, "item": …}`
//! or the entity itself, and a v1 document is `{"channel": …, "messages": […], …}` or
//! `{"channels": [ such objects ]}`.

use std::borrow::Cow;

use serde::Deserialize;

/// How an export file is laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One entity per line: v2 channel exports, users exports.
    Lines,
    /// One JSON document: v1 channel exports.
    Document,
}

/// What kind of entity a piece of the file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Channel,
    Message,
    /// A users export's line for a user it holds (only in an envelope: a bare user object is
    /// not told apart from other entities).
    User,
    /// Members, reactions and whatever else a file holds.
    Other,
}

/// Decides from a line's raw bytes whether it is worth parsing (JSON Lines only).
pub type LineFilter = Box<dyn FnMut(&[u8]) -> bool + Send>;

/// Cuts entities out of an export file fed to it in pieces of any size.
pub struct Splitter {
    layout: Layout,
    /// Bytes of the entity not complete yet.
    pending: Vec<u8>,
    document: DocumentState,
    /// Lines it turns down are skipped unparsed: most lines, for a selective search.
    filter: Option<LineFilter>,
}

impl std::fmt::Debug for Splitter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Splitter")
            .field("layout", &self.layout)
            .field("filtered", &self.filter.is_some())
            .finish_non_exhaustive()
    }
}

impl Splitter {
    pub fn new(layout: Layout) -> Splitter {
        Splitter {
            layout,
            pending: Vec::new(),
            document: DocumentState::default(),
            filter: None,
        }
    }

    /// Skips JSON lines `keep` turns down before parsing them.
    pub fn with_filter(mut self, keep: LineFilter) -> Splitter {
        self.filter = Some(keep);
        self
    }

    /// Feeds the next bytes of the file; `found` gets each entity completed by them.
    pub fn push(&mut self, bytes: &[u8], found: &mut dyn FnMut(Kind, &[u8])) {
        match self.layout {
            Layout::Lines => self.push_lines(bytes, found),
            Layout::Document => {
                for &byte in bytes {
                    self.document.step(byte, &mut self.pending, found);
                }
            }
        }
    }

    /// The end of the file: a last line without its newline is an entity too.
    pub fn finish(&mut self, found: &mut dyn FnMut(Kind, &[u8])) {
        if self.layout == Layout::Lines && !self.pending.is_empty() {
            let line = std::mem::take(&mut self.pending);
            self.emit(&line, found);
        }
    }

    fn emit(&mut self, line: &[u8], found: &mut dyn FnMut(Kind, &[u8])) {
        if self.filter.as_mut().is_none_or(|keep| keep(line)) {
            emit_line(line, found);
        }
    }

    fn push_lines(&mut self, mut bytes: &[u8], found: &mut dyn FnMut(Kind, &[u8])) {
        while let Some(end) = memchr::memchr(b'\n', bytes) {
            if self.pending.is_empty() {
                self.emit(&bytes[..end], found);
            } else {
                self.pending.extend_from_slice(&bytes[..end]);
                let line = std::mem::take(&mut self.pending);
                self.emit(&line, found);
                // Keep the allocation for the next split line.
                self.pending = line;
                self.pending.clear();
            }
            bytes = &bytes[end + 1..];
        }
        self.pending.extend_from_slice(bytes);
    }
}

/// A line of JSON Lines: the item of an envelope, or the line as it is.
fn emit_line(line: &[u8], found: &mut dyn FnMut(Kind, &[u8])) {
    let line = line.trim_ascii();
    if line.is_empty() {
        return;
    }
    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(rename = "type", borrow)]
        kind: Option<Cow<'a, str>>,
        #[serde(borrow)]
        item: Option<&'a serde_json::value::RawValue>,
    }
    match serde_json::from_slice::<Envelope<'_>>(line) {
        Ok(Envelope {
            kind: Some(kind),
            item: Some(item),
        }) => {
            found(envelope_kind(&kind), item.get().as_bytes());
        }
        _ => found(bare_kind(line), line),
    }
}

/// What an envelope's `type` says its item is.
pub fn envelope_kind(kind: &str) -> Kind {
    match kind {
        "channel" => Kind::Channel,
        "message" => Kind::Message,
        "user" => Kind::User,
        _ => Kind::Other,
    }
}

/// What a bare entity (no envelope) is, from the fields only it has: a message has an `id`, a
/// `cid` and `text` or `html`; a channel a `cid` and a `config` or `member_count`, and no
/// `text`; a reaction a `message_id`. Anything else is `Other`.
pub fn bare_kind(object: &[u8]) -> Kind {
    #[derive(Deserialize)]
    struct Fields<'a> {
        #[serde(borrow)]
        id: Option<Cow<'a, str>>,
        #[serde(borrow)]
        cid: Option<Cow<'a, str>>,
        text: Option<serde::de::IgnoredAny>,
        html: Option<serde::de::IgnoredAny>,
        message_id: Option<serde::de::IgnoredAny>,
        config: Option<serde::de::IgnoredAny>,
        member_count: Option<serde::de::IgnoredAny>,
    }
    let Ok(f) = serde_json::from_slice::<Fields<'_>>(object) else {
        return Kind::Other;
    };
    let texty = f.text.is_some() || f.html.is_some();
    if f.message_id.is_some() || f.cid.is_none() {
        Kind::Other
    } else if f.id.is_some() && texty {
        Kind::Message
    } else if !texty && (f.config.is_some() || f.member_count.is_some()) {
        Kind::Channel
    } else {
        Kind::Other
    }
}

/// Where the v1 scanner stands. It follows strings and nesting byte by byte; the values it
/// wants (`channel` and each element of `messages`, at the top or inside `channels[]`) are
/// copied out whole and handed on.
#[derive(Debug, Default)]
struct DocumentState {
    /// Open containers: `{` or `[`.
    stack: Vec<u8>,
    in_string: bool,
    escaped: bool,
    /// The last key read in each open object, by depth (only the shallow ones matter).
    keys: Vec<Option<String>>,
    /// A string being read as a key.
    key: Option<Vec<u8>>,
    /// Whether the next string in an object is a key.
    expect_key: bool,
    /// The value being copied, and its kind and depth.
    capture: Option<(Kind, usize)>,
}

impl DocumentState {
    fn step(&mut self, byte: u8, buf: &mut Vec<u8>, found: &mut dyn FnMut(Kind, &[u8])) {
        if self.capture.is_some() {
            buf.push(byte);
        }
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
                if let Some(key) = self.key.take()
                    && let Some(slot) = self.keys.last_mut()
                {
                    *slot = Some(String::from_utf8_lossy(&key).into_owned());
                }
            } else if let Some(key) = &mut self.key {
                key.push(byte);
            }
            return;
        }
        match byte {
            b'"' => {
                self.in_string = true;
                // Only the keys of the outer objects say where a value is.
                if self.expect_key && self.stack.last() == Some(&b'{') && self.stack.len() <= 3 {
                    self.key = Some(Vec::new());
                }
                self.begin_value(byte, buf);
            }
            b'{' | b'[' => {
                self.begin_value(byte, buf);
                self.stack.push(byte);
                self.keys.push(None);
                self.expect_key = byte == b'{';
            }
            b'}' | b']' => {
                self.stack.pop();
                self.keys.pop();
                self.expect_key = false;
                self.end_value(buf, found);
            }
            b':' => self.expect_key = false,
            b',' => self.expect_key = self.stack.last() == Some(&b'{'),
            b' ' | b'\t' | b'\r' | b'\n' => {}
            // A number, `true`, `false` or `null`: only the containers' values are wanted.
            _ => self.begin_value(byte, buf),
        }
    }

    /// A value starts at this byte: copy it when it is one of the wanted ones.
    fn begin_value(&mut self, byte: u8, buf: &mut Vec<u8>) {
        if self.capture.is_some() || self.key.is_some() {
            return;
        }
        if let Some(kind) = self.wanted_here().filter(|_| byte == b'{') {
            buf.clear();
            buf.push(byte);
            self.capture = Some((kind, self.stack.len() + 1));
        }
    }

    fn end_value(&mut self, buf: &mut Vec<u8>, found: &mut dyn FnMut(Kind, &[u8])) {
        if let Some((kind, depth)) = self.capture
            && self.stack.len() + 1 == depth
        {
            self.capture = None;
            found(kind, buf);
            buf.clear();
        }
    }

    /// Which entity a value starting here is: `{"channel": X}`, `{"messages": [X, …]}` and
    /// `{"members": [X, …]}` (whose users' images are media) at the top, or the same inside
    /// `{"channels": [ … ]}`.
    fn wanted_here(&self) -> Option<Kind> {
        let key = |depth: usize| self.keys.get(depth).and_then(Option::as_deref);
        let shape = self.stack.as_slice();
        let (base, rest) = match shape {
            [b'{', b'[', rest @ ..] if key(0) == Some("channels") => (2, rest),
            rest => (0, rest),
        };
        match rest {
            [b'{'] if key(base) == Some("channel") => Some(Kind::Channel),
            [b'{', b'['] if key(base) == Some("messages") => Some(Kind::Message),
            [b'{', b'['] if key(base) == Some("members") => Some(Kind::Other),
            _ => None,
        }
    }
}

/// The field of a channel that names it.
#[derive(Debug, Deserialize)]
pub struct ChannelHead<'a> {
    #[serde(borrow)]
    pub cid: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "type")]
    pub channel_type: Option<Cow<'a, str>>,
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
}

impl ChannelHead<'_> {
    /// `type:id`, from `cid` or from the two fields.
    pub fn cid(&self) -> Option<String> {
        match (&self.cid, &self.channel_type, &self.id) {
            (Some(cid), _, _) => Some(cid.to_string()),
            (None, Some(t), Some(id)) => Some(format!("{t}:{id}")),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entity of `file`, fed in pieces of `chunk` bytes.
    fn entities(layout: Layout, file: &str, chunk: usize) -> Vec<(Kind, String)> {
        let mut out = Vec::new();
        let mut splitter = Splitter::new(layout);
        let mut found = |kind: Kind, bytes: &[u8]| {
            out.push((kind, String::from_utf8_lossy(bytes).into_owned()));
        };
        for piece in file.as_bytes().chunks(chunk) {
            splitter.push(piece, &mut found);
        }
        splitter.finish(&mut found);
        out
    }

    const LINES: &str = concat!(
        r#"{"type":"channel","item":{"cid":"messaging:a","type":"messaging","id":"a"}}"#,
        "\n",
        r#"{"type":"member","item":{"user_id":"u1"}}"#,
        "\n\n",
        r#"{"type":"message","item":{"id":"m1","text":"hi \"there\"\n{","cid":"messaging:a"}}"#,
        "\n",
        r#"{"id":"m2","cid":"messaging:a","text":"bare","type":"regular"}"#,
        "\n",
        r#"{"cid":"messaging:b","type":"messaging","id":"b","member_count":2}"#,
        "\n",
        r#"{"message_id":"m1","cid":"messaging:a","type":"like"}"#,
    );

    #[test]
    fn lines_in_envelopes_and_bare_come_out_whole_whatever_the_pieces() {
        for chunk in [1, 3, 7, 64, 4096] {
            let got = entities(Layout::Lines, LINES, chunk);
            let kinds: Vec<Kind> = got.iter().map(|(k, _)| *k).collect();
            assert_eq!(
                kinds,
                [
                    Kind::Channel,
                    Kind::Other,
                    Kind::Message,
                    Kind::Message,
                    Kind::Channel,
                    Kind::Other
                ],
                "pieces of {chunk}"
            );
            let message: serde_json::Value = serde_json::from_str(&got[2].1).expect("a message");
            assert_eq!(message["id"], "m1");
        }
    }

    const ONE_CHANNEL: &str = r#"{"channel":{"cid":"messaging:a","config":{"x":[1,{"y":"}"}]}},
        "messages":[{"id":"m1","text":"a [ { \" ] }","cid":"messaging:a","user":{"id":"u"}},
                    {"id":"m2","text":"","cid":"messaging:a","latest_reactions":[{"id":"r"}]}],
        "members":[{"user_id":"u","user":{"id":"u"}}]}"#;

    #[test]
    fn a_v1_document_gives_its_channel_and_each_message() {
        for chunk in [1, 2, 5, 4096] {
            let got = entities(Layout::Document, ONE_CHANNEL, chunk);
            let kinds: Vec<Kind> = got.iter().map(|(k, _)| *k).collect();
            assert_eq!(
                kinds,
                [Kind::Channel, Kind::Message, Kind::Message, Kind::Other],
                "{chunk}"
            );
            let channel: ChannelHead<'_> = serde_json::from_str(&got[0].1).expect("channel");
            assert_eq!(channel.cid().as_deref(), Some("messaging:a"));
            let first: serde_json::Value = serde_json::from_str(&got[1].1).expect("message");
            assert_eq!(first["text"], "a [ { \" ] }");
            let second: serde_json::Value = serde_json::from_str(&got[2].1).expect("message");
            assert_eq!(second["id"], "m2");
        }
    }

    #[test]
    fn a_v1_document_of_several_channels_gives_each_of_them() {
        let file = format!(r#"{{"channels":[{ONE_CHANNEL},{ONE_CHANNEL}]}}"#);
        let got = entities(Layout::Document, &file, 3);
        let kinds: Vec<Kind> = got.iter().map(|(k, _)| *k).collect();
        assert_eq!(
            kinds,
            [
                Kind::Channel,
                Kind::Message,
                Kind::Message,
                Kind::Other,
                Kind::Channel,
                Kind::Message,
                Kind::Message,
                Kind::Other
            ]
        );
    }

    #[test]
    fn values_elsewhere_in_a_document_are_not_taken_for_messages() {
        let file = r#"{"channel":{"cid":"a:b","messages":[{"id":"no"}]},"other":{"messages":[{"id":"no"}]},"messages":[]}"#;
        let got = entities(Layout::Document, file, 4);
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0].0, Kind::Channel);
    }

    #[test]
    fn broken_input_never_panics() {
        for file in [
            "{\"messages\":[{\"id\":",
            "]]]}}}",
            "\"\\",
            "{\"channel\":[}",
        ] {
            let _ = entities(Layout::Document, file, 1);
            let _ = entities(Layout::Lines, file, 1);
        }
    }
}
