//! `chatvault plan` and `chatvault run --dry-run`: validate, then print the plan.

use std::path::PathBuf;

use super::{Wanted, World, exit, load_and_pick, output};
use crate::cli::{PlanFormat, PlanOptions};
use crate::config::MissingVars;
use crate::plan::{human, plan};

/// `names`: `--job`; the plan then holds only those jobs.
pub fn run(
    paths: &[PathBuf],
    names: &[String],
    opts: &PlanOptions,
    config: Option<PathBuf>,
    world: &World<'_>,
) -> u8 {
    let now = opts.now.unwrap_or(world.now);
    let wanted = Wanted {
        paths,
        config,
        jobs: names,
        missing_vars: MissingVars::Warn,
        now,
        warnings: true,
    };
    let picked = match load_and_pick(&wanted, world) {
        Ok(picked) => picked,
        Err(code) => return code,
    };
    // Files with unset variables give no job name: they are listed only for a whole plan.
    let blocked = if names.is_empty() {
        picked.blocked.as_slice()
    } else {
        &[]
    };
    let plan = plan(&picked.jobs, blocked, now, opts.next);
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
