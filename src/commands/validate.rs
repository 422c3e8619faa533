//! `chatvault validate`.

use std::path::PathBuf;

use super::{World, exit, load_jobs, output};
use crate::cli::{DiagnosticFormat, ValidateArgs};
use crate::diagnostics::{Format, Severity, Summary, render};

pub fn run(args: &ValidateArgs, config: Option<PathBuf>, world: &World<'_>) -> u8 {
    let loaded = load_jobs(&args.paths.paths, config, world, world.now);
    let format = match args.format {
        DiagnosticFormat::Human => Format::Human,
        DiagnosticFormat::Json => Format::Json,
        DiagnosticFormat::Github => Format::Github,
        DiagnosticFormat::Sarif => Format::Sarif,
    };
    let summary = Summary {
        files: loaded.files,
        deny_warnings: args.deny_warnings,
    };
    output::stdout(&render(&loaded.diagnostics, summary, format));
    let warned = loaded.diagnostics.count(Severity::Warning) > 0;
    if loaded.diagnostics.has_errors() || (args.deny_warnings && warned) {
        exit::INVALID
    } else {
        exit::OK
    }
}
