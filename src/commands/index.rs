//! `chatvault index`: catalog records for archives whose manifests do not count what they hold.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::archives::sources;
use super::{World, exit, output, runtime};
use crate::archive::catalog::{Indexed, index};
use crate::archive::read::manifests;
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
    let mut problems = Vec::new();
    runtime.block_on(async {
        for source in &sources {
            let list = match manifests(&source.store).await {
                Ok((list, unreadable)) => {
                    problems.extend(unreadable);
                    list
                }
                Err(problem) => {
                    problems.push((source.store.url().to_owned(), problem));
                    continue;
                }
            };
            for manifest in list
                .iter()
                .filter(|m| source.job.as_ref().is_none_or(|j| *j == m.job))
            {
                match index(&source.store, manifest, world.now).await {
                    Ok(Indexed::Counted) => counted += 1,
                    Ok(Indexed::Cataloged) => cataloged += 1,
                    Ok(Indexed::Written) => written += 1,
                    Err(e) => problems.push((manifest.key.clone(), e.to_string())),
                }
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
    let mut text = String::new();
    for (key, problem) in &problems {
        let _ = writeln!(text, "error: {key}: {problem}");
    }
    output::stderr(&text);
    exit::FAILED
}
