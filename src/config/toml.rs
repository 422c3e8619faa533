//! Reads TOML into a [`Node`] tree with positions, through the toml crate's spanned parser.

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::yaml::{MAX_DEPTH, SyntaxError};
use crate::diagnostics::tree::{Entry, LineIndex, Node, Pos, Value};

pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let lines = LineIndex::new(text);
    let table = DeTable::parse(text).map_err(|e| SyntaxError {
        pos: e.span().map_or(Pos::START, |s| lines.pos(s.start)),
        message: e.message().trim().to_owned(),
    })?;
    let pos = lines.pos(table.span().start);
    convert_table(table.get_ref(), pos, &lines, 0)
}

fn convert_table(
    table: &DeTable<'_>,
    pos: Pos,
    lines: &LineIndex<'_>,
    depth: usize,
) -> Result<Node, SyntaxError> {
    let mut entries = Vec::with_capacity(table.len());
    for (key, value) in table {
        entries.push(Entry {
            key: key.get_ref().to_string(),
            key_pos: lines.pos(key.span().start),
            value: convert(value, lines, depth + 1)?,
        });
    }
    entries.sort_by_key(|e| e.key_pos);
    Ok(Node::new(pos, Value::Map(entries)))
}

fn convert(
    value: &Spanned<DeValue<'_>>,
    lines: &LineIndex<'_>,
    depth: usize,
) -> Result<Node, SyntaxError> {
    let pos = lines.pos(value.span().start);
    if depth > MAX_DEPTH {
        return Err(SyntaxError {
            pos,
            message: format!("nesting deeper than {MAX_DEPTH} levels"),
        });
    }
    let v = match value.get_ref() {
        DeValue::String(s) => Value::Str(s.to_string()),
        DeValue::Integer(i) => match i64::from_str_radix(i.as_str(), i.radix()) {
            Ok(n) => Value::Int(n),
            Err(_) => {
                return Err(SyntaxError {
                    pos,
                    message: format!("integer {i} does not fit in 64 bits"),
                });
            }
        },
        DeValue::Float(x) => Value::Float(x.as_str().parse().unwrap_or(f64::NAN)),
        DeValue::Boolean(b) => Value::Bool(*b),
        // Dates are read as text so `since = 2024-01-01T00:00:00Z` means what it says.
        DeValue::Datetime(d) => Value::Str(d.to_string()),
        DeValue::Array(items) => Value::Seq(
            items
                .iter()
                .map(|item| convert(item, lines, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        DeValue::Table(t) => return convert_table(t, pos, lines, depth),
    };
    Ok(Node::new(pos, v))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::tree::FieldPath;

    #[test]
    fn tables_and_keys_keep_their_positions() {
        let node = parse("name = \"x\"\n\n[window]\nlag = \"15m\"\n").expect("parses");
        let path = FieldPath::parse("window.lag");
        assert_eq!(node.locate(&path), Pos { line: 4, col: 7 });
        assert_eq!(node.locate_key(&path), Pos { line: 4, col: 1 });
    }

    #[test]
    fn datetimes_become_text() {
        let node = parse("since = 2024-01-01T00:00:00Z\n").expect("parses");
        assert_eq!(
            node.get("since").map(|n| &n.value),
            Some(&Value::Str("2024-01-01T00:00:00Z".into()))
        );
    }

    #[test]
    fn syntax_errors_carry_a_line() {
        let err = parse("a = 1\nb = \n").expect_err("bad");
        assert_eq!(err.pos.line, 2);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let text = format!("a = {}1{}", "[".repeat(5000), "]".repeat(5000));
        assert!(parse(&text).is_err());
    }
}
