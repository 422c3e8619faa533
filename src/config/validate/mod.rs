//! The semantic phase: typed files (already schema-valid) become [`Job`]s and [`Settings`],
//! with every problem reported at its field.

mod job;
mod media;
mod notify;
mod settings;

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};

pub use job::compile_job;
pub use media::MediaFields;
pub use settings::{Defaults, compile_settings};

use crate::diagnostics::FileSink;
use crate::diagnostics::tree::FieldPath;

/// What interpolation left behind for the semantic phase to respect.
#[derive(Debug, Default, Clone)]
pub struct Substitutions {
    /// Fields whose value came (partly) from the environment: never echoed in messages.
    pub interpolated: HashSet<FieldPath>,
    /// Fields (and everything below them) not to check again: a variable unset in a dry run
    /// (already warned about), or a problem the schema check already reported.
    pub unchecked: HashSet<FieldPath>,
}

/// The longest name a job or a hold may have.
const MAX_NAME_LEN: usize = 64;

/// Checks the name of a job or a hold (`what`), which ends up in object keys, state paths,
/// metric labels and every output: letters, digits, `-`, `_` and `.`, starting with a letter
/// or digit, at most 64 characters. `from_file`: taken from the file name, not set at `path`.
pub fn plain_name(
    name: String,
    what: &str,
    from_file: bool,
    path: &FieldPath,
    ctx: &mut Ctx<'_, '_>,
) -> Option<String> {
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if starts_ok && chars_ok && name.len() <= MAX_NAME_LEN {
        return Some(name);
    }
    let rule = "use letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most 64 characters";
    if from_file {
        ctx.error(
            &FieldPath::root(),
            format!(
                "the {what} name `{name}` taken from the file name is not valid: {rule}; or set `name`"
            ),
        );
    } else {
        let shown = ctx.show(path, &name);
        ctx.error(path, format!("{shown} is not a valid {what} name: {rule}"));
    }
    None
}

/// A file's sink plus what interpolation recorded about it.
pub struct Ctx<'a, 'b> {
    pub sink: &'a mut FileSink<'b>,
    pub subs: &'a Substitutions,
}

impl Ctx<'_, '_> {
    pub fn error(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.sink.error(path, message);
    }

    pub fn error_at_key(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.sink.error_at_key(path, message);
    }

    pub fn warning(&mut self, path: &FieldPath, message: impl Into<String>) {
        self.sink.warning(path, message);
    }

    /// Whether the value is known: an unset variable in a dry run makes it unknowable.
    pub fn known(&self, path: &FieldPath) -> bool {
        !self.subs.unchecked.iter().any(|u| path.starts_with(u))
    }

    /// Reports a value its parser refused. Parser messages quote the value, so for a value from
    /// the environment (possibly a secret) only what was expected is said.
    pub fn refuse(&mut self, path: &FieldPath, detail: impl std::fmt::Display, expected: &str) {
        let message = if self.subs.interpolated.contains(path) {
            format!("the value (from the environment) is not valid: expected {expected}")
        } else {
            detail.to_string()
        };
        self.error(path, message);
    }

    /// The value quoted for a message, unless it came from the environment.
    pub fn show(&self, path: &FieldPath, text: &str) -> String {
        if self.subs.interpolated.contains(path) {
            "the value (from the environment)".to_owned()
        } else {
            format!("`{text}`")
        }
    }

    /// Parses a duration field, reporting a bad one. `None` when absent, unknown or bad.
    pub fn duration(&mut self, path: &FieldPath, text: Option<&str>) -> Option<TimeDelta> {
        let text = text.filter(|_| self.known(path))?;
        match humantime::parse_duration(text)
            .ok()
            .and_then(|d| TimeDelta::from_std(d).ok())
        {
            Some(d) => Some(d),
            None => {
                let shown = self.show(path, text);
                self.error(
                    path,
                    format!("{shown} is not a duration: expected e.g. 90s, 15m, 24h, 7d or 1h 30m"),
                );
                None
            }
        }
    }

    /// Parses an RFC 3339 time field, reporting a bad one.
    pub fn time(&mut self, path: &FieldPath, text: Option<&str>) -> Option<DateTime<Utc>> {
        let text = text.filter(|_| self.known(path))?;
        match DateTime::parse_from_rfc3339(text) {
            Ok(t) => Some(t.with_timezone(&Utc)),
            Err(e) => {
                let shown = self.show(path, text);
                self.error(
                    path,
                    format!(
                        "{shown} is not an RFC 3339 time ({e}): expected e.g. 2024-01-01T00:00:00Z"
                    ),
                );
                None
            }
        }
    }
}
