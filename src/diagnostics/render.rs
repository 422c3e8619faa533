//! Diagnostics as people, scripts and CI annotations read them (SARIF in `sarif.rs`).

use std::fmt::Write as _;

use serde::Serialize;

use super::{Diagnostic, Diagnostics, Severity};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `file:line:col: field.path: message`, one per line.
    Human,
    /// One JSON document with every diagnostic and the counts.
    Json,
    /// GitHub Actions workflow commands, which annotate the pull request's diff.
    Github,
    /// A SARIF 2.1.0 log, for code scanning.
    Sarif,
}

/// The verdict a report ends with, and what SARIF names its rules after.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary<'a> {
    pub files: usize,
    /// `--deny-warnings`: warnings fail the check too.
    pub deny_warnings: bool,
    /// The JSON Schemas of the files checked; SARIF's rules are their fields.
    pub schemas: &'a [&'a serde_json::Value],
}

impl Summary<'_> {
    fn valid(&self, diagnostics: &Diagnostics) -> bool {
        let warned = diagnostics.count(Severity::Warning) > 0;
        !(diagnostics.has_errors() || self.deny_warnings && warned)
    }
}

pub fn render(diagnostics: &Diagnostics, summary: Summary<'_>, format: Format) -> String {
    match format {
        Format::Human => human(diagnostics, summary),
        Format::Json => json(diagnostics, summary),
        Format::Github => github(diagnostics),
        Format::Sarif => super::sarif::sarif(diagnostics, summary.schemas),
    }
}

fn location(d: &Diagnostic) -> String {
    let file = d.file.display();
    match d.pos {
        Some(p) => format!("{file}:{}:{}", p.line, p.col),
        None => format!("{file}"),
    }
}

fn human(diagnostics: &Diagnostics, summary: Summary<'_>) -> String {
    let mut out = String::new();
    for d in diagnostics.iter() {
        let tag = match d.severity {
            Severity::Error => "",
            Severity::Warning => "warning: ",
        };
        let _ = writeln!(out, "{}: {tag}{}: {}", location(d), d.path, d.message);
    }
    let errors = diagnostics.count(Severity::Error);
    let warnings = diagnostics.count(Severity::Warning);
    let files = plural(summary.files, "file");
    let _ = if summary.valid(diagnostics) {
        writeln!(out, "{files} valid, {}", plural(warnings, "warning"))
    } else if errors == 0 {
        writeln!(
            out,
            "{} in {files}, and --deny-warnings makes them errors",
            plural(warnings, "warning")
        )
    } else {
        writeln!(
            out,
            "{} and {} in {files}",
            plural(errors, "error"),
            plural(warnings, "warning")
        )
    };
    out
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("1 {word}")
    } else {
        format!("{n} {word}s")
    }
}

#[derive(Serialize)]
struct JsonDiagnostic<'a> {
    file: String,
    line: Option<u32>,
    column: Option<u32>,
    path: String,
    severity: Severity,
    message: &'a str,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    valid: bool,
    files: usize,
    errors: usize,
    warnings: usize,
    diagnostics: Vec<JsonDiagnostic<'a>>,
}

fn json(diagnostics: &Diagnostics, summary: Summary<'_>) -> String {
    let report = JsonReport {
        valid: summary.valid(diagnostics),
        files: summary.files,
        errors: diagnostics.count(Severity::Error),
        warnings: diagnostics.count(Severity::Warning),
        diagnostics: diagnostics
            .iter()
            .map(|d| JsonDiagnostic {
                file: d.file.display().to_string(),
                line: d.pos.map(|p| p.line),
                column: d.pos.map(|p| p.col),
                path: d.path.to_string(),
                severity: d.severity,
                message: &d.message,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}

/// Workflow commands take `%`, CR and LF escaped in the message, and `,` and `:` too in values.
fn github(diagnostics: &Diagnostics) -> String {
    let escape = |s: &str| {
        s.replace('%', "%25")
            .replace('\r', "%0D")
            .replace('\n', "%0A")
    };
    let property = |s: &str| escape(s).replace(':', "%3A").replace(',', "%2C");
    let mut out = String::new();
    for d in diagnostics.iter() {
        let level = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        let mut props = format!("file={}", property(&d.file.display().to_string()));
        if let Some(p) = d.pos {
            let _ = write!(props, ",line={},col={}", p.line, p.col);
        }
        let _ = writeln!(
            out,
            "::{level} {props}::{}",
            escape(&format!("{}: {}", d.path, d.message))
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::diagnostics::tree::{FieldPath, Pos};

    fn sample() -> Diagnostics {
        let mut d = Diagnostics::default();
        d.push(Diagnostic {
            file: PathBuf::from("jobs/a.yaml"),
            pos: Some(Pos { line: 3, col: 11 }),
            path: FieldPath::parse("window.lag"),
            severity: Severity::Error,
            message: "bad duration `1x`".into(),
        });
        d.push(Diagnostic {
            file: PathBuf::from("jobs/b,c.yaml"),
            pos: None,
            path: FieldPath::root(),
            severity: Severity::Warning,
            message: "50%\nsure".into(),
        });
        d
    }

    fn summary() -> Summary<'static> {
        Summary {
            files: 2,
            deny_warnings: false,
            schemas: &[],
        }
    }

    #[test]
    fn human_lines_lead_with_file_line_col_and_path() {
        let text = render(&sample(), summary(), Format::Human);
        assert!(
            text.starts_with("jobs/a.yaml:3:11: window.lag: bad duration `1x`\n"),
            "{text}"
        );
        assert!(
            text.contains("jobs/b,c.yaml: warning: (file): 50%"),
            "{text}"
        );
        assert!(
            text.ends_with("1 error and 1 warning in 2 files\n"),
            "{text}"
        );
    }

    #[test]
    fn github_commands_escape_their_values() {
        let text = render(&sample(), summary(), Format::Github);
        assert!(
            text.contains("::error file=jobs/a.yaml,line=3,col=11::window.lag: bad duration `1x`"),
            "{text}"
        );
        assert!(
            text.contains("::warning file=jobs/b%2Cc.yaml::(file): 50%25%0Asure"),
            "{text}"
        );
    }

    #[test]
    fn json_report_parses_and_counts() {
        let text = render(&sample(), summary(), Format::Json);
        let v: serde_json::Value = serde_json::from_str(&text).expect("json");
        assert_eq!(v["valid"], false);
        assert_eq!(v["errors"], 1);
        assert_eq!(v["diagnostics"][0]["line"], 3);
        assert_eq!(v["diagnostics"][1]["line"], serde_json::Value::Null);
    }
}
