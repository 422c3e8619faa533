//! Problems found in job and config files, gathered from every file before any is printed.

mod render;
mod sarif;
pub mod tree;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use render::{Format, Summary, render};

use tree::{FieldPath, Node, Pos};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    /// Where the parser could tell.
    pub pos: Option<Pos>,
    pub path: FieldPath,
    pub severity: Severity,
    pub message: String,
}

/// Every diagnostic of a run, in file order.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    items: Vec<Diagnostic>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        self.items.push(d);
    }

    pub fn extend(&mut self, other: Diagnostics) {
        self.items.extend(other.items);
    }

    pub fn has_errors(&self) -> bool {
        self.items.iter().any(|d| d.severity == Severity::Error)
    }

    pub fn count(&self, severity: Severity) -> usize {
        self.items.iter().filter(|d| d.severity == severity).count()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Diagnostic> {
        self.items.iter()
    }

    /// Orders by file, then position, so output is stable whatever order files were read in.
    pub fn sort(&mut self) {
        self.items.sort_by(|a, b| {
            (&a.file, a.pos, a.severity, &a.path, &a.message)
                .cmp(&(&b.file, b.pos, b.severity, &b.path, &b.message))
        });
        self.items.dedup();
    }
}

/// Collects the diagnostics of one file, placing each at the position of its field.
pub struct FileSink<'a> {
    file: &'a Path,
    node: Option<&'a Node>,
    pub diagnostics: Diagnostics,
}

impl<'a> FileSink<'a> {
    pub fn new(file: &'a Path, node: Option<&'a Node>) -> Self {
        FileSink {
            file,
            node,
            diagnostics: Diagnostics::default(),
        }
    }

    pub fn file(&self) -> &Path {
        self.file
    }

    fn push(&mut self, pos: Option<Pos>, path: &FieldPath, severity: Severity, message: String) {
        self.diagnostics.push(Diagnostic {
            file: self.file.to_path_buf(),
            pos,
            path: path.clone(),
            severity,
            message,
        });
    }

    /// A problem with the value at `path`.
    pub fn error(&mut self, path: &FieldPath, message: impl Into<String>) {
        let pos = self.node.map(|n| n.locate(path));
        self.push(pos, path, Severity::Error, message.into());
    }

    /// A problem with the field itself (unknown, misplaced): shown at its key.
    pub fn error_at_key(&mut self, path: &FieldPath, message: impl Into<String>) {
        let pos = self.node.map(|n| n.locate_key(path));
        self.push(pos, path, Severity::Error, message.into());
    }

    pub fn warning(&mut self, path: &FieldPath, message: impl Into<String>) {
        let pos = self.node.map(|n| n.locate(path));
        self.push(pos, path, Severity::Warning, message.into());
    }

    /// A problem found before the file could be parsed, at a position the parser gave.
    pub fn error_at(&mut self, pos: Option<Pos>, message: impl Into<String>) {
        self.push(pos, &FieldPath::root(), Severity::Error, message.into());
    }
}
