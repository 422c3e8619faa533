//! `chatvault index`: catalog records for archives whose manifests do not count what they hold.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::archives::{say_empty, sources};
use super::{World, exit, output, runtime};
use crate::archive::catalog::{Indexed, index};
use crate::archive::reading::{Listing, Problem};
use crate::cli::IndexArgs;

pub fn run(args: &IndexArgs, config: Option<PathBuf>, world: &World<'_>) -> u8 {
    let sources = match sources(&args.archives, config, world) {
        Ok(sources) => sources,
        Err(code) => return code,
    };
    let Some(runtime) = runtime() else {
        return exit::FAILED;
    };
    let (mut counted, mut cataloged, mut written) = (0, 0, 0);
    let listing = runtime.block_on(Listing::list(&sources));
    let mut problems: Vec<Problem> = listing.problems.clone();
    if let Err(code) = say_empty(&listing) {
        print_problems(&problems);
        return code;
    }
    runtime.block_on(async {
        for listed in &listing.archives {
            let manifest = &listed.manifest;
            if listed.cataloged {
                cataloged += 1;
                continue;
            }
            match index(listing.store(listed), manifest, world.now).await {
                Ok(Indexed::Counted) => counted += 1,
                Ok(Indexed::Cataloged) => cataloged += 1,
                Ok(Indexed::Written) => written += 1,
                Err(e) => problems.push(Problem::new(&manifest.key, e.to_string())),
            }
        }
    });
    output::stdout(&format!(
        "{written} catalog record(s) written; {cataloged} archive(s) had one, {counted} are \
         counted in their manifest\n"
    ));
    if problems.is_empty() {
        return exit::OK;
    }
    print_problems(&problems);
    exit::FAILED
}

fn print_problems(problems: &[Problem]) {
    let mut text = String::new();
    for p in problems {
        let _ = writeln!(text, "error: {}: {}", p.key, p.problem);
    }
    output::stderr(&text);
}
