//! A parsed job or config file as a tree of values that remember where they stood.
//!
//! YAML and TOML are both read into this one shape, so interpolation, schema checks and
//! the semantic rules run once for both formats, and every message can point at a line.

use std::fmt;

/// A 1-based line and column (columns count characters, not bytes).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub const START: Pos = Pos { line: 1, col: 1 };
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<Entry>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub key: String,
    pub key_pos: Pos,
    pub value: Node,
}

/// One step of a [`FieldPath`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Where a value sits in a document, shown as `channels[2].cid`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FieldPath(Vec<Seg>);

impl FieldPath {
    pub fn root() -> Self {
        FieldPath(Vec::new())
    }

    /// Parses a dotted path such as `window.lag` (indices as `[2]`); used for paths written in code.
    pub fn parse(dotted: &str) -> Self {
        let mut segs = Vec::new();
        for part in dotted.split('.').filter(|p| !p.is_empty()) {
            let (name, rest) = part.split_once('[').unwrap_or((part, ""));
            if !name.is_empty() {
                segs.push(Seg::Key(name.to_owned()));
            }
            for index in rest.split('[') {
                if let Ok(i) = index.trim_end_matches(']').parse() {
                    segs.push(Seg::Index(i));
                }
            }
        }
        FieldPath(segs)
    }

    pub fn key(&self, key: impl Into<String>) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Key(key.into()));
        FieldPath(segs)
    }

    pub fn index(&self, index: usize) -> Self {
        let mut segs = self.0.clone();
        segs.push(Seg::Index(index));
        FieldPath(segs)
    }

    pub fn segments(&self) -> &[Seg] {
        &self.0
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn starts_with(&self, prefix: &FieldPath) -> bool {
        self.0.starts_with(&prefix.0)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(file)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

impl Node {
    pub fn new(pos: Pos, value: Value) -> Self {
        Node { pos, value }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.value {
            Value::Map(entries) => entries.iter().find(|e| e.key == key).map(|e| &e.value),
            _ => None,
        }
    }

    /// The position of the value at `path`, or of its deepest ancestor that exists (a missing
    /// field is best shown at the mapping that lacks it).
    pub fn locate(&self, path: &FieldPath) -> Pos {
        self.walk(path).1
    }

    /// Like [`Node::locate`], but for a mapping entry points at its key: that is where an
    /// unknown or misplaced field is best shown.
    pub fn locate_key(&self, path: &FieldPath) -> Pos {
        let (Some(parent), Some(Seg::Key(last))) = (self.node_at_parent(path), path.0.last())
        else {
            return self.locate(path);
        };
        match &parent.value {
            Value::Map(entries) => entries
                .iter()
                .find(|e| &e.key == last)
                .map_or(parent.pos, |e| e.key_pos),
            _ => parent.pos,
        }
    }

    fn node_at_parent(&self, path: &FieldPath) -> Option<&Node> {
        let (_, parent) = path.0.split_last()?;
        let (found, _) = self.walk(&FieldPath(parent.to_vec()));
        found
    }

    /// Follows `path`; the node when it exists, and the best position either way.
    fn walk(&self, path: &FieldPath) -> (Option<&Node>, Pos) {
        let mut node = self;
        for seg in &path.0 {
            let next = match (seg, &node.value) {
                (Seg::Key(k), Value::Map(entries)) => {
                    entries.iter().find(|e| &e.key == k).map(|e| &e.value)
                }
                (Seg::Index(i), Value::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return (None, node.pos),
            }
        }
        (Some(node), node.pos)
    }

    /// The JSON form the schema is checked against. Entries set to null count as absent, so
    /// `window:` with nothing after it means the same as leaving `window` out.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value as J;
        match &self.value {
            Value::Null => J::Null,
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Float(x) => {
                serde_json::Number::from_f64(*x).map_or_else(|| J::String(x.to_string()), J::Number)
            }
            Value::Str(s) => J::String(s.clone()),
            Value::Seq(items) => J::Array(items.iter().map(Node::to_json).collect()),
            Value::Map(entries) => J::Object(
                entries
                    .iter()
                    .filter(|e| e.value.value != Value::Null)
                    .map(|e| (e.key.clone(), e.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// A short name of the value's type for messages ("found a list").
    pub fn type_name(&self) -> &'static str {
        match self.value {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// Turns byte offsets into line and column, for parsers that report offsets.
pub struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    pub fn new(text: &'a str) -> Self {
        let starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        LineIndex { text, starts }
    }

    pub fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.starts.partition_point(|&s| s <= offset).max(1);
        let start = self.starts[line - 1];
        let col = self
            .text
            .get(start..offset)
            .map_or(offset - start, |s| s.chars().count());
        Pos {
            line: to_u32(line),
            col: to_u32(col + 1),
        }
    }
}

pub fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_render_like_the_files_read() {
        let p = FieldPath::root().key("channels").index(2).key("cid");
        assert_eq!(p.to_string(), "channels[2].cid");
        assert_eq!(FieldPath::parse("channels[2].cid"), p);
        assert_eq!(FieldPath::root().to_string(), "(file)");
    }

    #[test]
    fn line_index_counts_characters_not_bytes() {
        let idx = LineIndex::new("a = 1\nbé = 2\n");
        assert_eq!(idx.pos(0), Pos { line: 1, col: 1 });
        assert_eq!(idx.pos(6), Pos { line: 2, col: 1 });
        assert_eq!(idx.pos(10), Pos { line: 2, col: 4 });
    }
}
