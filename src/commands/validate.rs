//! `chatvault validate`.

use std::path::PathBuf;

use super::{Wanted, World, exit, load_checked, output};
use crate::cli::{DiagnosticFormat, ValidateArgs};
use crate::config::MissingVars;
use crate::config::schema::schemas;
use crate::diagnostics::{Format, Severity, Summary, render};

pub fn run(args: &ValidateArgs, config: Option<PathBuf>, world: &World<'_>) -> u8 {
    let wanted = Wanted {
        paths: &args.paths.paths,
        config,
        jobs: &[],
        missing_vars: MissingVars::Warn,
        now: world.now,
        warnings: true,
    };
    let loaded = load_checked(&wanted, world);
    let format = match args.format {
        DiagnosticFormat::Human => Format::Human,
        DiagnosticFormat::Json => Format::Json,
        DiagnosticFormat::Github => Format::Github,
        DiagnosticFormat::Sarif => Format::Sarif,
    };
    let summary = Summary {
        files: loaded.files,
        deny_warnings: args.deny_warnings,
        schemas: &schemas(),
    };
    output::stdout(&render(&loaded.diagnostics, summary, format));
    let warned = loaded.diagnostics.count(Severity::Warning) > 0;
    if loaded.diagnostics.has_errors() || (args.deny_warnings && warned) {
        exit::INVALID
    } else {
        exit::OK
    }
}
