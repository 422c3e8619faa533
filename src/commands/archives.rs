//! Which archives a reading command (search, transcript, index) reads: the destinations of
//! the chosen jobs, or one store named by URL; and what it says when they hold none.

use std::path::{Path, PathBuf};

use super::keys::configured_keys;
use super::{Wanted, World, exit, load_and_pick, output};
use crate::archive::reading::{Listing, Source};
use crate::cli::Archives;
use crate::config::{MissingVars, Settings};
use crate::signing::Keyring;
use crate::store::url::StoreUrl;
use crate::store::{self, StoreOptions};

/// The store at `--url`, or the destinations of the jobs named with `--job` (all when none
/// is). `Err` holds the exit code, the problem printed.
pub fn sources(
    chosen: &Archives,
    config: Option<PathBuf>,
    world: &World<'_>,
) -> Result<Vec<Source>, u8> {
    sources_and_settings(chosen, config, world).map(|(sources, _)| sources)
}

/// [`sources`], and the global config's settings when the job files were read (not with
/// `--url`): the commands that write beside archives sign with its key.
pub fn sources_and_settings(
    chosen: &Archives,
    config: Option<PathBuf>,
    world: &World<'_>,
) -> Result<(Vec<Source>, Option<Settings>), u8> {
    if let Some(text) = &chosen.url {
        let url = StoreUrl::parse(text, Path::new(".")).map_err(|e| {
            output::error(&format!("--url: {e}"), None);
            exit::INVALID
        })?;
        let store =
            store::open_to_read(&url, &StoreOptions::new(), &world.env_vars).map_err(|e| {
                output::error(&format!("--url: {e}"), None);
                exit::FAILED
            })?;
        return Ok((vec![Source::any_job(store)], None));
    }
    let wanted = Wanted {
        paths: &chosen.paths.paths,
        config,
        jobs: &chosen.jobs,
        missing_vars: MissingVars::Warn,
        now: world.now,
        warnings: false,
    };
    let picked = load_and_pick(&wanted, world)?;
    let mut sources = Vec::new();
    for job in &picked.jobs {
        let opened = job.destination.open_to_read(&world.env_vars);
        match opened {
            Ok(store) => sources.push(Source::of_job(job, store)),
            Err(e) => {
                output::error(&format!("job {}: destination: {e}", job.name), None);
                return Err(exit::FAILED);
            }
        }
    }
    Ok((sources, Some(picked.set.settings)))
}

/// The public keys a reader checks replacements against: the global config's
/// `signing.public_key_files` (never its private key); none with `--url`. `Err` holds the
/// exit code, the problem printed.
pub fn reading_keys(settings: Option<&Settings>) -> Result<Keyring, u8> {
    let mut keys = Keyring::default();
    if let Some(settings) = settings
        && let Err(e) = configured_keys(&mut keys, settings)
    {
        output::error(&format!("signing: {e}"), e.hint());
        return Err(exit::INVALID);
    }
    Ok(keys)
}

/// What to check when a location holds no archive.
pub const EMPTY_HINT: &str = "check the URL (or the job's destination) and its prefix; a job's first run writes its first archive";

/// A location without archives is not an empty result: when no source holds any, each is
/// named as an error (`Err` holds exit 1); when some do, the others are named as warnings.
pub fn say_empty(listing: &Listing) -> Result<(), u8> {
    let Some(empty) = listing.empty_sources() else {
        return Ok(());
    };
    if listing.archives.is_empty() {
        for sentence in &empty.sentences {
            output::error(sentence, Some(EMPTY_HINT));
        }
        return Err(exit::FAILED);
    }
    let mut text = String::new();
    for sentence in &empty.sentences {
        text.push_str(&format!("warning: {sentence}\n"));
    }
    output::stderr(&text);
    Ok(())
}
