//! `chatvault plan` and `chatvault run --dry-run`: validate, then print the plan.

use std::path::PathBuf;

use super::{World, exit, load_jobs, output};
use crate::cli::{PlanFormat, PlanOptions};
use crate::diagnostics::{Format, Summary, render};
use crate::plan::{human, plan};

pub fn run(
    paths: &[PathBuf],
    opts: &PlanOptions,
    config: Option<PathBuf>,
    world: &World<'_>,
) -> u8 {
    let now = opts.now.unwrap_or(world.now);
    let loaded = load_jobs(paths, config, world, now);
    if !loaded.diagnostics.is_empty() {
        let summary = Summary {
            files: loaded.files,
            deny_warnings: false,
        };
        output::stderr(&render(&loaded.diagnostics, summary, Format::Human));
    }
    let Some(set) = loaded.set else {
        return exit::INVALID;
    };
    let plan = plan(&set, &loaded.blocked, now, opts.next);
    match opts.format {
        PlanFormat::Human => output::stdout(&human(&plan)),
        PlanFormat::Json => {
            let mut text = serde_json::to_string_pretty(&plan).unwrap_or_default();
            text.push('\n');
            output::stdout(&text);
        }
    }
    exit::OK
}
