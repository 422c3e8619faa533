//! `chatvault index`: catalog records for archives whose manifests do not count everyone they
//! hold (formats 1 and 2).

use std::fmt::Write as _;
use std::path::PathBuf;

use super::archives::{say_empty, sources_and_settings};
use super::keys::signing_key;
use super::{World, exit, output, runtime};
use crate::archive::catalog::{Indexed, index};
use crate::archive::reading::{Listing, Problem};
use crate::cli::IndexArgs;

pub fn run(args: &IndexArgs, config: Option<PathBuf>, world: &World<'_>) -> u8 {
    let (sources, settings) = match sources_and_settings(&args.archives, config, world) {
        Ok(found) => found,
        Err(code) => return code,
    };
    // With --url no global config is read: the records are written unsigned.
    let signer = match settings.as_ref().map(signing_key).transpose() {
        Ok(key) => key.flatten(),
        Err(e) => {
            output::report_for("signing", &e, e.hint());
            return exit::INVALID;
        }
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
            let store = listing.store(listed);
            match index(store, manifest, world.now, signer.as_deref()).await {
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
