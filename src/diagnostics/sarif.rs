//! Diagnostics as a SARIF 2.1.0 log, for code-scanning tools (GitHub code scanning and others).
//!
//! Diagnostics carry no codes of their own, so a rule here is the field of the job file or
//! global config a problem is about: the deepest field of the model that contains the problem's
//! path, with list indices dropped (`channels[].type`, `destination.options`, `window`), or
//! `file` for problems with the file as a whole. A misspelt field therefore falls under the
//! field that holds it (`window.lagg` under `window`), never into a rule of its own. Each rule's
//! description is the field's description from the JSON Schema, which is what editors show.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value as Json;

use super::tree::{FieldPath, Seg};
use super::{Diagnostic, Diagnostics, Severity};

const SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The rule of problems that belong to no single field: unreadable or unparsable files, and
/// rules spanning several fields.
const FILE_RULE: &str = "file";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Log<'a> {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run<'a>; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run<'a> {
    tool: Tool,
    /// Columns count characters (see `Pos`), not UTF-16 code units.
    column_kind: &'static str,
    results: Vec<SarifResult<'a>>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Driver {
    name: &'static str,
    version: &'static str,
    semantic_version: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: String,
    short_description: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    full_description: Option<Text>,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult<'a> {
    rule_id: &'a str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: [Location; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Location {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    #[serde(skip_serializing_if = "Option::is_none")]
    region: Option<Region>,
}

#[derive(Serialize)]
struct ArtifactLocation {
    uri: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: u32,
    start_column: u32,
}

/// One run of `chatvault validate`: a rule per field that has problems, a result per problem.
/// `schemas` are the JSON Schemas of the files checked: their fields are the rules.
pub fn sarif(diagnostics: &Diagnostics, schemas: &[&Json]) -> String {
    let rule_ids: Vec<(String, Option<String>)> =
        diagnostics.iter().map(|d| rule(&d.path, schemas)).collect();
    let mut rules: BTreeMap<&str, Option<&str>> = BTreeMap::new();
    for (id, description) in &rule_ids {
        rules.entry(id).or_insert(description.as_deref());
    }
    let index: BTreeMap<&str, usize> = rules.keys().enumerate().map(|(i, id)| (*id, i)).collect();
    let results = diagnostics
        .iter()
        .zip(&rule_ids)
        .map(|(d, (id, _))| SarifResult {
            rule_id: id,
            rule_index: index.get(id.as_str()).copied().unwrap_or_default(),
            level: match d.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            message: Text {
                text: format!("{}: {}", d.path, d.message),
            },
            locations: [location(d)],
        })
        .collect();
    let log = Log {
        schema: SCHEMA_URI,
        version: "2.1.0",
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: "chatvault",
                    version: env!("CARGO_PKG_VERSION"),
                    semantic_version: env!("CARGO_PKG_VERSION"),
                    rules: rules
                        .into_iter()
                        .map(|(id, description)| Rule {
                            short_description: Text {
                                text: if id == FILE_RULE {
                                    "Problems with the file as a whole".to_owned()
                                } else {
                                    format!("Problems with `{id}`")
                                },
                            },
                            full_description: description.map(|text| Text {
                                text: text.to_owned(),
                            }),
                            id: id.to_owned(),
                        })
                        .collect(),
                },
            },
            column_kind: "unicodeCodePoints",
            results,
        }],
    };
    let mut text = serde_json::to_string_pretty(&log).unwrap_or_default();
    text.push('\n');
    text
}

fn location(d: &Diagnostic) -> Location {
    Location {
        physical_location: PhysicalLocation {
            artifact_location: ArtifactLocation {
                uri: uri_reference(&d.file.to_string_lossy()),
            },
            region: d.pos.map(|p| Region {
                start_line: p.line,
                start_column: p.col,
            }),
        },
    }
}

/// A file path as given, as a URI reference: `/` separators, and anything a URI cannot hold
/// as it is percent-encoded.
fn uri_reference(path: &str) -> String {
    let path = if cfg!(windows) {
        path.replace('\\', "/")
    } else {
        path.to_owned()
    };
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The rule of a problem at `path`, and the description of its field when a schema has one
/// (the schema that knows most of the path; the first of equals).
fn rule(path: &FieldPath, schemas: &[&Json]) -> (String, Option<String>) {
    let mut best: Option<(usize, &Json)> = None;
    for schema in schemas {
        let (depth, node) = deepest_field(schema, path);
        if best.is_none_or(|(most, _)| depth > most) {
            best = Some((depth, node));
        }
    }
    let Some((depth, node)) = best else {
        return (FILE_RULE.to_owned(), None);
    };
    let known = &path.segments()[..depth];
    if !known.iter().any(|s| matches!(s, Seg::Key(_))) {
        return (FILE_RULE.to_owned(), None);
    }
    let mut id = String::new();
    for seg in known {
        match seg {
            Seg::Key(key) if id.is_empty() => id.push_str(key),
            Seg::Key(key) => {
                id.push('.');
                id.push_str(key);
            }
            Seg::Index(_) => id.push_str("[]"),
        }
    }
    let description = node
        .get("description")
        .and_then(Json::as_str)
        .map(|d| d.split_whitespace().collect::<Vec<_>>().join(" "));
    (id, description)
}

/// How many leading segments of `path` name fields the schema describes, and the schema of
/// the last of them. Free-form maps (store options, query filters) and lists of plain values
/// end the walk at the map or list.
fn deepest_field<'a>(mut node: &'a Json, path: &FieldPath) -> (usize, &'a Json) {
    let mut depth = 0;
    for seg in path.segments() {
        let next = match seg {
            Seg::Key(key) => node.get("properties").and_then(|p| p.get(key)),
            // An element of a list of records (a channel selector) is a field of its own;
            // an element of a list of strings (a user id) belongs to the list.
            Seg::Index(_) => node.get("items").filter(|i| i.get("properties").is_some()),
        };
        match next {
            Some(next) if next.is_object() => {
                node = next;
                depth += 1;
            }
            _ => break,
        }
    }
    (depth, node)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The shape of the job and config schemas: records with `properties`, lists of records
    /// with `items.properties`, free-form maps.
    fn schemas() -> [Json; 2] {
        let job = serde_json::json!({"properties": {
            "schedule": {"type": "string", "description": "When it runs:\n a cron   line."},
            "window": {"properties": {"lag": {"type": "string"}}},
            "channels": {"items": {"properties": {
                "ids": {"items": {"type": "string"}},
                "filter": {"type": "object"}
            }}},
            "users": {"items": {"type": "string"}},
            "destination": {"properties": {"options": {"type": "object"}}}
        }});
        let config = serde_json::json!({"properties": {
            "api": {"properties": {"secret": {"type": "string"}}}
        }});
        [job, config]
    }

    fn rule_of(path: &FieldPath) -> (String, Option<String>) {
        let [job, config] = schemas();
        rule(path, &[&job, &config])
    }

    fn rule_id(path: &str) -> String {
        rule_of(&FieldPath::parse(path)).0
    }

    #[test]
    fn rules_are_fields_of_the_model_with_indices_dropped() {
        assert_eq!(rule_id("window.lag"), "window.lag");
        assert_eq!(rule_id("channels[3].ids[1]"), "channels[].ids");
        assert_eq!(rule_id("channels[3]"), "channels[]");
        assert_eq!(rule_id("users[1]"), "users");
        assert_eq!(rule_id("channels[0].filter.team"), "channels[].filter");
        assert_eq!(
            rule_id("destination.options.aws_endpont"),
            "destination.options"
        );
        assert_eq!(rule_id("api.secret"), "api.secret");
    }

    #[test]
    fn unknown_fields_fall_under_the_field_that_holds_them() {
        assert_eq!(rule_id("window.lagg"), "window");
        assert_eq!(rule_id("shedule"), FILE_RULE);
        assert_eq!(rule_of(&FieldPath::root()).0, FILE_RULE);
        assert_eq!(rule(&FieldPath::parse("window"), &[]).0, FILE_RULE);
    }

    #[test]
    fn rules_carry_the_schema_description_on_one_line() {
        let (_, description) = rule_of(&FieldPath::parse("schedule"));
        assert_eq!(description.as_deref(), Some("When it runs: a cron line."));
    }

    #[test]
    fn paths_become_uri_references() {
        assert_eq!(uri_reference("jobs/a b%.yaml"), "jobs/a%20b%25.yaml");
        assert_eq!(uri_reference("jobs/b,c.yaml"), "jobs/b,c.yaml");
        assert_eq!(uri_reference("jobs/ü.yaml"), "jobs/%C3%BC.yaml");
    }
}
