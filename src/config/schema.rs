//! JSON Schemas of the job file, the global config and the hold file, generated from the Rust types, and
//! the check of a document against them.
//!
//! The schema is both what editors use (through `# yaml-language-server: $schema=…`) and the
//! first validation phase: checking against it reports every unknown field, wrong type and
//! bad enum value of a file at once, where serde would stop at the first.

use std::sync::OnceLock;

use jsonschema::error::ValidationErrorKind;
use jsonschema::paths::LocationSegment;
use schemars::generate::SchemaSettings;
use serde_json::Value as Json;

use super::hold::HoldFile;
use super::model::{ConfigFile, JobFile};
use crate::diagnostics::tree::FieldPath;
use crate::suggest::did_you_mean;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Job,
    Config,
    Hold,
}

impl Document {
    /// The file name under `schemas/`.
    pub fn file_name(self) -> &'static str {
        match self {
            Document::Job => "job.schema.json",
            Document::Config => "config.schema.json",
            Document::Hold => "hold.schema.json",
        }
    }
}

/// The schema as committed under `schemas/`: pretty JSON with a final newline.
pub fn render(doc: Document) -> String {
    let mut text = serde_json::to_string_pretty(schema(doc)).unwrap_or_default();
    text.push('\n');
    text
}

/// Every document chatvault reads, in the order `chatvault schema` writes them.
pub const DOCUMENTS: [Document; 3] = [Document::Job, Document::Config, Document::Hold];

/// The three schemas: the fields of every file chatvault reads.
pub fn schemas() -> [&'static Json; 3] {
    DOCUMENTS.map(schema)
}

pub fn schema(doc: Document) -> &'static Json {
    static JOB: OnceLock<Json> = OnceLock::new();
    static CONFIG: OnceLock<Json> = OnceLock::new();
    static HOLD: OnceLock<Json> = OnceLock::new();
    match doc {
        Document::Job => JOB.get_or_init(generate::<JobFile>),
        Document::Config => CONFIG.get_or_init(generate::<ConfigFile>),
        Document::Hold => HOLD.get_or_init(generate::<HoldFile>),
    }
}

fn generate<T: schemars::JsonSchema>() -> Json {
    let generator = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .into_generator();
    let mut json = generator.into_root_schema_for::<T>().to_value();
    drop_null_alternatives(&mut json);
    json
}

/// Null counts as "absent" (see `Node::to_json`), so optional fields need no null branch;
/// without it a wrong type gets a plain "expected a mapping" rather than an `anyOf` puzzle.
fn drop_null_alternatives(json: &mut Json) {
    let Json::Object(map) = json else {
        if let Json::Array(items) = json {
            items.iter_mut().for_each(drop_null_alternatives);
        }
        return;
    };
    if let Some(Json::Array(types)) = map.get_mut("type") {
        types.retain(|t| t != "null");
        if types.len() == 1 {
            let only = types.remove(0);
            map.insert("type".into(), only);
        }
    }
    if let Some(Json::Array(alternatives)) = map.get("anyOf") {
        let rest: Vec<&Json> = alternatives
            .iter()
            .filter(|a| a.get("type").and_then(Json::as_str) != Some("null"))
            .collect();
        if let [Json::Object(only)] = rest.as_slice() {
            let only = only.clone();
            map.remove("anyOf");
            for (k, v) in only {
                map.entry(k).or_insert(v);
            }
        }
    }
    if let Some(Json::Array(values)) = map.get_mut("enum") {
        values.retain(|v| !v.is_null());
    }
    // Documented enum variants come out as `oneOf` of consts; one `enum` gives one clear
    // "expected one of" message (the variant docs live in the field's description).
    if let Some(Json::Array(alternatives)) = map.get("oneOf") {
        let values: Option<Vec<Json>> = alternatives
            .iter()
            .map(|a| match (a.get("const"), a.get("enum")) {
                (Some(c), _) => Some(vec![c.clone()]),
                (None, Some(Json::Array(e))) => Some(e.clone()),
                _ => None,
            })
            .collect::<Option<Vec<_>>>()
            .map(|v| v.into_iter().flatten().collect());
        if let Some(values) = values {
            map.remove("oneOf");
            map.insert("enum".into(), Json::Array(values));
        }
    }
    map.values_mut().for_each(drop_null_alternatives);
}

fn validator(doc: Document) -> Option<&'static jsonschema::Validator> {
    static JOB: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    static CONFIG: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    static HOLD: OnceLock<Option<jsonschema::Validator>> = OnceLock::new();
    let cell = match doc {
        Document::Job => &JOB,
        Document::Config => &CONFIG,
        Document::Hold => &HOLD,
    };
    cell.get_or_init(|| jsonschema::validator_for(schema(doc)).ok())
        .as_ref()
}

/// A schema violation, ready to be placed in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaIssue {
    pub path: FieldPath,
    /// Shown at the key rather than the value (unknown fields).
    pub at_key: bool,
    pub message: String,
}

/// Every violation of `instance`. `quiet(path)` says a value must not be echoed (it came from
/// the environment and may be a secret).
pub fn check(
    doc: Document,
    instance: &Json,
    quiet: &dyn Fn(&FieldPath) -> bool,
) -> Vec<SchemaIssue> {
    let Some(validator) = validator(doc) else {
        return vec![SchemaIssue {
            path: FieldPath::root(),
            at_key: false,
            message: "internal error: the built-in schema does not compile".into(),
        }];
    };
    let mut issues = Vec::new();
    for error in validator.iter_errors(instance) {
        let path = to_field_path(error.instance_path());
        let sub = schema_at(schema(doc), &path);
        match error.kind() {
            ValidationErrorKind::Required { property } => issues.push(SchemaIssue {
                path: path.key(property.as_str().unwrap_or("?")),
                at_key: false,
                message: "missing required field".into(),
            }),
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed = property_names(sub);
                for name in unexpected {
                    issues.push(SchemaIssue {
                        path: path.key(name.clone()),
                        at_key: true,
                        message: unknown_field(name, &allowed),
                    });
                }
            }
            kind => issues.push(SchemaIssue {
                message: describe(kind, sub, error.instance(), quiet(&path)),
                path,
                at_key: false,
            }),
        }
    }
    // A number where an enum value belongs fails both `type` and `enum`; the enum message
    // says more (it lists the values), so keep that one alone.
    let enum_paths: Vec<FieldPath> = issues
        .iter()
        .filter(|i| i.message.starts_with("expected one of"))
        .map(|i| i.path.clone())
        .collect();
    issues.retain(|i| i.message.starts_with("expected one of") || !enum_paths.contains(&i.path));
    issues
}

fn unknown_field(name: &str, allowed: &[&str]) -> String {
    let hint = did_you_mean(name, allowed.iter().copied())
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    format!(
        "unknown field `{name}`{hint} (expected one of: {})",
        allowed.join(", ")
    )
}

fn describe(kind: &ValidationErrorKind, sub: Option<&Json>, found: &Json, quiet: bool) -> String {
    match kind {
        ValidationErrorKind::Type { .. } => {
            let expected = sub
                .and_then(|s| s.get("type"))
                .map_or_else(|| "another type".to_owned(), type_words);
            format!("expected {expected}, found {}", shown(found, quiet))
        }
        ValidationErrorKind::Enum { options } => {
            let options: Vec<&str> = options
                .as_array()
                .map(|a| a.iter().filter_map(Json::as_str).collect())
                .unwrap_or_default();
            let hint = found
                .as_str()
                .and_then(|f| did_you_mean(f, options.iter().copied()))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            format!(
                "expected one of {}, found {}{hint}",
                options.join(", "),
                shown(found, quiet)
            )
        }
        ValidationErrorKind::MinItems { .. } => "must not be empty: list at least one".into(),
        ValidationErrorKind::MinLength { .. } => "must not be empty".into(),
        ValidationErrorKind::Minimum { limit } => {
            format!("must be at least {limit}, found {}", shown(found, quiet))
        }
        ValidationErrorKind::Maximum { limit } => {
            format!("must be at most {limit}, found {}", shown(found, quiet))
        }
        other => format!("{other:?}"),
    }
}

fn type_words(ty: &Json) -> String {
    let one = |t: &str| match t {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "boolean" => "a boolean (true or false)",
        "integer" => "an integer",
        "number" => "a number",
        _ => "a value",
    };
    match ty {
        Json::String(t) => one(t).to_owned(),
        Json::Array(ts) => ts
            .iter()
            .filter_map(Json::as_str)
            .map(one)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "another type".to_owned(),
    }
}

/// The found value for a message: its type, and the value itself when short and not secret.
fn shown(found: &Json, quiet: bool) -> String {
    let ty = match found {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(n) if n.is_i64() || n.is_u64() => "an integer",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "a list",
        Json::Object(_) => "a mapping",
    };
    let text = found.to_string();
    let scalar = !(found.is_array() || found.is_object());
    if quiet || !scalar || text.chars().count() > 60 {
        ty.to_owned()
    } else {
        format!("{ty} {text}")
    }
}

fn to_field_path(location: &jsonschema::paths::Location) -> FieldPath {
    location
        .into_iter()
        .fold(FieldPath::root(), |path, seg| match seg {
            LocationSegment::Property(p) => path.key(p.into_owned()),
            LocationSegment::Index(i) => path.index(i),
        })
}

/// The subschema describing the value at `path` (schemas are generated with inline subschemas,
/// so following `properties` and `items` is enough).
fn schema_at<'a>(schema: &'a Json, path: &FieldPath) -> Option<&'a Json> {
    use crate::diagnostics::tree::Seg;
    path.segments().iter().try_fold(schema, |s, seg| match seg {
        Seg::Key(k) => s.get("properties")?.get(k),
        Seg::Index(_) => s.get("items"),
    })
}

fn property_names(schema: Option<&Json>) -> Vec<&str> {
    schema
        .and_then(|s| s.get("properties"))
        .and_then(Json::as_object)
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn issues(instance: Json) -> Vec<SchemaIssue> {
        check(Document::Job, &instance, &|_| false)
    }

    #[test]
    fn optional_fields_have_no_null_branch() {
        let text = render(Document::Job);
        assert!(!text.contains("\"null\""), "{text}");
        assert!(!text.contains("anyOf"), "{text}");
    }

    #[test]
    fn unknown_fields_get_a_suggestion() {
        let found = issues(json!({"schedule": "@daily", "shedule": 1}));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].path.to_string(), "shedule");
        assert!(
            found[0].message.contains("did you mean `schedule`"),
            "{found:?}"
        );
    }

    #[test]
    fn every_violation_is_reported_not_the_first() {
        let found = issues(json!({
            "catch_up": "lates",
            "window": {"mode": 3, "lagg": "1m"},
            "channels": [{"ids": []}],
            "export": {"version": "v3"}
        }));
        let paths: Vec<String> = found.iter().map(|i| i.path.to_string()).collect();
        for expected in [
            "schedule",
            "catch_up",
            "window.mode",
            "window.lagg",
            "channels[0].ids",
            "export.version",
        ] {
            assert!(
                paths.contains(&expected.to_string()),
                "{expected} in {paths:?}"
            );
        }
        let catch_up = found.iter().find(|i| i.path.to_string() == "catch_up");
        assert!(
            catch_up.is_some_and(|i| i.message.contains("did you mean `latest`")),
            "{found:?}"
        );
    }

    #[test]
    fn quiet_values_are_not_echoed() {
        let found = check(
            Document::Job,
            &json!({"schedule": "@daily", "overlap": "s3cr3t"}),
            &|_| true,
        );
        assert!(
            found.iter().all(|i| !i.message.contains("s3cr3t")),
            "{found:?}"
        );
    }
}
