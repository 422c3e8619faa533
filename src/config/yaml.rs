//! Reads YAML into a [`Node`] tree with positions.
//!
//! serde_yaml cannot say where a field stood once a document is parsed, so the loader reads
//! the event stream of saphyr-parser instead and resolves plain scalars by the YAML 1.2 core
//! schema itself. Aliases are expanded under a node budget and nesting is capped, so an
//! alias bomb or a deeply nested file is a clear error rather than a hang or a crash.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use crate::diagnostics::tree::{Entry, Node, Pos, Value, to_u32};

/// Deeper than any job file needs; far below what would strain the stack.
pub const MAX_DEPTH: usize = 64;
/// Nodes a document may hold once aliases are expanded.
pub const MAX_NODES: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
}

fn pos_of(span: &Span) -> Pos {
    Pos {
        line: to_u32(span.start.line()),
        col: to_u32(span.start.col() + 1),
    }
}

enum Frame {
    Seq {
        pos: Pos,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        pos: Pos,
        anchor: usize,
        entries: Vec<Entry>,
        /// `<<` merge sources, applied when the mapping closes so explicit keys win.
        merges: Vec<Node>,
        key: Option<(String, Pos)>,
    },
}

struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, usize)>,
    nodes: usize,
    root: Option<Node>,
    documents: usize,
}

/// Parses one YAML document. An empty document gives a null node.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let mut b = Builder {
        stack: Vec::new(),
        anchors: HashMap::new(),
        nodes: 0,
        root: None,
        documents: 0,
    };
    for item in Parser::new_from_str(text) {
        let (event, span) = item.map_err(|e| SyntaxError {
            pos: Pos {
                line: to_u32(e.marker().line()),
                col: to_u32(error_col(text, e.marker().line(), e.marker().col()) + 1),
            },
            message: syntax_message(e.info(), text, e.marker().line()),
        })?;
        b.event(event, &span)?;
    }
    Ok(b.root.unwrap_or(Node::new(Pos::START, Value::Null)))
}

/// The 0-based character column of an error saphyr places at `col` on `line`. saphyr counts a
/// directive line's (`%…`) columns in bytes, every other line's in characters; and a column is
/// never past the end of its line.
fn error_col(text: &str, line: usize, col: usize) -> usize {
    let Some(line_text) = text.lines().nth(line.saturating_sub(1)) else {
        return col;
    };
    let col = if line_text.starts_with('%') {
        line_text.get(..col).map_or(col, |s| s.chars().count())
    } else {
        col
    };
    col.min(line_text.chars().count())
}

/// A leading `*` in a cron schedule is the most common YAML slip in job files: say so.
fn syntax_message(info: &str, text: &str, line: usize) -> String {
    let line_text = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    let star_value = line_text.contains(": *") || line_text.trim_start().starts_with("- *");
    if (info.contains("alias") || info.contains("anchor")) && star_value {
        format!("{info}; a value starting with `*` must be quoted, e.g. schedule: \"*/15 * * * *\"")
    } else {
        info.to_owned()
    }
}

impl Builder {
    fn err<T>(pos: Pos, message: impl Into<String>) -> Result<T, SyntaxError> {
        Err(SyntaxError {
            pos,
            message: message.into(),
        })
    }

    fn count(&mut self, n: usize, pos: Pos) -> Result<(), SyntaxError> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Self::err(
                pos,
                format!(
                    "document too large: more than {MAX_NODES} values once aliases are expanded"
                ),
            );
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), SyntaxError> {
        if self.stack.len() >= MAX_DEPTH {
            return Self::err(pos, format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        self.count(1, pos)?;
        self.stack.push(frame);
        Ok(())
    }

    fn event(&mut self, event: Event<'_>, span: &Span) -> Result<(), SyntaxError> {
        let pos = pos_of(span);
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Self::err(
                        pos,
                        "a second YAML document: a file holds one job (split it into two files)",
                    );
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                self.count(1, pos)?;
                let tag = tag.map(|t| t.suffix.clone());
                let value = scalar(&text, style, tag.as_deref(), pos)?;
                self.finish(Node::new(pos, value), anchor, 1)?;
            }
            Event::Alias(id) => {
                let Some((node, size)) = self.anchors.get(&id).cloned() else {
                    return Self::err(pos, "alias to an unknown anchor");
                };
                self.count(size, pos)?;
                self.finish(Node::new(pos, node.value), 0, size)?;
            }
            Event::SequenceStart(anchor, _) => self.open(
                Frame::Seq {
                    pos,
                    anchor,
                    items: Vec::new(),
                },
                pos,
            )?,
            Event::MappingStart(anchor, _) => self.open(
                Frame::Map {
                    pos,
                    anchor,
                    entries: Vec::new(),
                    merges: Vec::new(),
                    key: None,
                },
                pos,
            )?,
            Event::SequenceEnd | Event::MappingEnd => self.close()?,
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn close(&mut self) -> Result<(), SyntaxError> {
        let Some(frame) = self.stack.pop() else {
            return Ok(());
        };
        let (node, anchor) = match frame {
            Frame::Seq { pos, anchor, items } => (Node::new(pos, Value::Seq(items)), anchor),
            Frame::Map {
                pos,
                anchor,
                mut entries,
                merges,
                ..
            } => {
                for source in merges {
                    merge_into(&mut entries, source)?;
                }
                (Node::new(pos, Value::Map(entries)), anchor)
            }
        };
        let size = count_nodes(&node);
        self.finish(node, anchor, size)
    }

    /// Places a completed node into its parent (or as the document root).
    fn finish(&mut self, node: Node, anchor: usize, size: usize) -> Result<(), SyntaxError> {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => {
                self.root = Some(node);
                Ok(())
            }
            Some(Frame::Seq { items, .. }) => {
                items.push(node);
                Ok(())
            }
            Some(Frame::Map {
                entries,
                merges,
                key,
                ..
            }) => match key.take() {
                None => {
                    let text = match node.value {
                        Value::Str(s) => s,
                        Value::Int(i) => i.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Float(x) => x.to_string(),
                        Value::Null => String::new(),
                        Value::Seq(_) | Value::Map(_) => {
                            return Self::err(node.pos, "mapping keys must be plain text");
                        }
                    };
                    *key = Some((text, node.pos));
                    Ok(())
                }
                Some((k, key_pos)) if k == "<<" => {
                    let _ = key_pos;
                    merges.push(node);
                    Ok(())
                }
                Some((k, key_pos)) => {
                    if let Some(first) = entries.iter().find(|e| e.key == k) {
                        return Self::err(
                            key_pos,
                            format!(
                                "duplicate key `{k}` (first set at line {})",
                                first.key_pos.line
                            ),
                        );
                    }
                    entries.push(Entry {
                        key: k,
                        key_pos,
                        value: node,
                    });
                    Ok(())
                }
            },
        }
    }
}

/// YAML's `<<: *base` (or a list of bases): keys the mapping sets itself win.
fn merge_into(entries: &mut Vec<Entry>, source: Node) -> Result<(), SyntaxError> {
    match source.value {
        Value::Map(from) => {
            for e in from {
                if !entries.iter().any(|x| x.key == e.key) {
                    entries.push(e);
                }
            }
            Ok(())
        }
        Value::Seq(items) => items.into_iter().try_for_each(|n| merge_into(entries, n)),
        _ => Err(SyntaxError {
            pos: source.pos,
            message: "`<<` merges a mapping or a list of mappings".into(),
        }),
    }
}

fn count_nodes(node: &Node) -> usize {
    1 + match &node.value {
        Value::Seq(items) => items.iter().map(count_nodes).sum(),
        Value::Map(entries) => entries.iter().map(|e| 1 + count_nodes(&e.value)).sum(),
        _ => 0,
    }
}

/// Resolves a scalar the way YAML 1.2's core schema does; quoted scalars are always text.
fn scalar(
    text: &str,
    style: ScalarStyle,
    tag: Option<&str>,
    pos: Pos,
) -> Result<Value, SyntaxError> {
    match tag {
        Some("str") => return Ok(Value::Str(text.to_owned())),
        None | Some("int" | "float" | "bool" | "null") => {}
        Some(other) => {
            return Builder::err(pos, format!("YAML tag `!!{other}` is not supported here"));
        }
    }
    if style != ScalarStyle::Plain {
        return Ok(Value::Str(text.to_owned()));
    }
    Ok(match text {
        "" | "~" | "null" | "Null" | "NULL" => Value::Null,
        "true" | "True" | "TRUE" => Value::Bool(true),
        "false" | "False" | "FALSE" => Value::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => Value::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => Value::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => Value::Float(f64::NAN),
        _ => number(text).unwrap_or_else(|| Value::Str(text.to_owned())),
    })
}

fn number(text: &str) -> Option<Value> {
    if let Some(hex) = text.strip_prefix("0x") {
        return i64::from_str_radix(hex, 16).ok().map(Value::Int);
    }
    if let Some(oct) = text.strip_prefix("0o") {
        return i64::from_str_radix(oct, 8).ok().map(Value::Int);
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let first = digits.chars().next()?;
    if !(first.is_ascii_digit() || first == '.') {
        return None;
    }
    if digits.chars().all(|c| c.is_ascii_digit()) {
        return Some(text.parse::<i64>().map_or_else(
            |_| Value::Float(text.parse().unwrap_or(f64::NAN)),
            Value::Int,
        ));
    }
    let is_float = digits
        .chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+'));
    if is_float {
        text.parse::<f64>().ok().map(Value::Float)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(text: &str) -> Value {
        parse(text).expect("parses").value
    }

    #[test]
    fn plain_scalars_follow_the_core_schema() {
        let Value::Map(entries) =
            value("a: 1\nb: true\nc: yes\nd: ~\ne: '1'\nf: 1.5\ng: 30 2 * * *\nh: 0x10\n")
        else {
            panic!("not a map");
        };
        let got: Vec<_> = entries.into_iter().map(|e| e.value.value).collect();
        assert_eq!(
            got,
            vec![
                Value::Int(1),
                Value::Bool(true),
                Value::Str("yes".into()),
                Value::Null,
                Value::Str("1".into()),
                Value::Float(1.5),
                Value::Str("30 2 * * *".into()),
                Value::Int(16),
            ]
        );
    }

    #[test]
    fn positions_are_one_based_lines_and_columns() {
        let node = parse("# comment\nname: x\nwindow:\n  lag: 15m\n").expect("parses");
        let path = crate::diagnostics::tree::FieldPath::parse("window.lag");
        assert_eq!(node.locate(&path), Pos { line: 4, col: 8 });
        assert_eq!(node.locate_key(&path), Pos { line: 4, col: 3 });
    }

    #[test]
    fn duplicate_keys_are_refused_with_both_lines() {
        let err = parse("a: 1\nb: 2\na: 3\n").expect_err("duplicate");
        assert_eq!(err.pos.line, 3);
        assert!(
            err.message.contains("first set at line 1"),
            "{}",
            err.message
        );
    }

    #[test]
    fn merge_keys_fill_in_without_overriding() {
        let node = parse("base: &b {x: 1, y: 2}\njob:\n  <<: *b\n  y: 3\n").expect("parses");
        let job = node.get("job").expect("job");
        assert_eq!(job.get("x").map(|n| &n.value), Some(&Value::Int(1)));
        assert_eq!(job.get("y").map(|n| &n.value), Some(&Value::Int(3)));
    }

    #[test]
    fn alias_bombs_stop_at_the_node_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = parse(&text).expect_err("bomb");
        assert!(err.message.contains("too large"), "{}", err.message);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = "[".repeat(100_000);
        assert!(parse(&text).is_err());
        let text = format!("{}1{}", "[".repeat(100), "]".repeat(100));
        let err = parse(&text).expect_err("too deep");
        assert!(err.message.contains("nesting"), "{}", err.message);
    }

    #[test]
    fn a_second_document_is_refused() {
        let err = parse("a: 1\n---\nb: 2\n").expect_err("two docs");
        assert_eq!(err.pos.line, 2);
    }

    #[test]
    fn errors_on_directive_lines_count_characters_not_bytes() {
        // Found by fuzzing: saphyr put this NUL at byte column 10 of an 8-character line.
        let err = parse("%q-$dd\u{ffff}\u{0}").expect_err("unprintable");
        assert_eq!(err.pos, Pos { line: 1, col: 8 });
        let err = parse("# é\n%é \u{0}").expect_err("unprintable");
        assert_eq!(err.pos, Pos { line: 2, col: 4 });
        let err = parse("é: \u{0}").expect_err("unprintable");
        assert_eq!(err.pos, Pos { line: 1, col: 4 });
    }

    #[test]
    fn unquoted_star_gets_a_hint() {
        let err = parse("schedule: */5 * * * *\n").expect_err("alias");
        assert!(err.message.contains("must be quoted"), "{}", err.message);
    }
}
