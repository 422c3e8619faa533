//! `chatvault media`: the files of archives no run captured (written before media capture, or
//! with `media.capture: false`), and another try at what runs could not fetch; bounded per
//! call, and `--dry-run` to see what it would fetch.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::archives::{say_empty, sources};
use super::keys::signing_key;
use super::run::stream_client;
use super::{Picked, Wanted, World, exit, load_and_pick, output, runtime};
use crate::archive::manifest::Manifest;
use crate::archive::media::capture::{Refresher, RunCache};
use crate::archive::media::record::{MediaRecord, Owner};
use crate::archive::media::refresh::ApiRefresher;
use crate::archive::media::refs::refs_in_archive;
use crate::archive::reading::standing::{newest_records, outstanding};
use crate::archive::reading::{Listed, Listing, Problem, Source};
use crate::cli::MediaArgs;
use crate::clock::{SharedClock, SystemClock};
use crate::config::MissingVars;
use crate::config::job::{Job, MediaSettings};
use crate::links::without_query;
use crate::runner::MediaTally;
use crate::runner::media::MediaPass;
use crate::signing::SigningKey;
use crate::store::Store;
use crate::text::escape_hidden;

/// Where the archives are and how each job's files are fetched.
struct Setup {
    sources: Vec<Source>,
    /// Per source, its job (none with `--url`: the defaults apply, by the manifest's job).
    jobs: Vec<Option<Job>>,
    refresher: Arc<dyn Refresher>,
    /// Signs the records written (none with --url: no global config is read).
    signer: Option<Arc<SigningKey>>,
}

pub fn run(args: &MediaArgs, config: Option<PathBuf>, world: &World<'_>) -> u8 {
    let clock: SharedClock = Arc::new(SystemClock);
    let setup = match setup(args, config, world, &clock) {
        Ok(setup) => setup,
        Err(code) => return code,
    };
    let Some(runtime) = runtime() else {
        return exit::FAILED;
    };
    runtime.block_on(capture(args, &setup, clock))
}

fn setup(
    args: &MediaArgs,
    config: Option<PathBuf>,
    world: &World<'_>,
    clock: &SharedClock,
) -> Result<Setup, u8> {
    if args.archives.url.is_some() {
        let sources = sources(&args.archives, config, world)?;
        let defaults = MediaSettings::default();
        output::stderr(&format!(
            "warning: --url: no job file applies, so the built-in media settings do: only https \
             links on {} are fetched, at most {} bytes each\n",
            defaults.hosts.join(", "),
            defaults.max_file_size
        ));
        let jobs = vec![None; sources.len()];
        return Ok(Setup {
            sources,
            jobs,
            refresher: Arc::new(NoRefresh(
                "no API settings with --url: expired links are refreshed only through job files",
            )),
            signer: None,
        });
    }
    let wanted = Wanted {
        paths: &args.archives.paths.paths,
        config,
        jobs: &args.archives.jobs,
        missing_vars: MissingVars::Warn,
        now: world.now,
        warnings: false,
    };
    let Picked { set, jobs, .. } = load_and_pick(&wanted, world)?;
    let signer = if args.dry_run {
        None
    } else {
        signing_key(&set.settings).map_err(|e| {
            output::report_for("signing", &e, e.hint());
            exit::INVALID
        })?
    };
    let mut sources = Vec::new();
    let mut kept = Vec::new();
    for job in jobs {
        if !job.media.capture {
            output::stderr(&format!(
                "warning: job {}: media.capture is false: its archives keep links only\n",
                job.name
            ));
            continue;
        }
        let opened = job.destination.open_to_write(&world.env_vars);
        match opened {
            Ok(store) => sources.push(Source::of_job(&job, store)),
            Err(e) => {
                output::error(&format!("job {}: destination: {e}", job.name), None);
                return Err(exit::FAILED);
            }
        }
        kept.push(Some(job));
    }
    let refresher: Arc<dyn Refresher> = if args.dry_run {
        Arc::new(NoRefresh("a dry run fetches nothing"))
    } else {
        match stream_client(&set, clock.clone()) {
            Ok(client) => Arc::new(ApiRefresher::new(Arc::new(client))),
            Err(e) => {
                output::stderr(&format!(
                    "warning: expired links cannot be refreshed: {e}\n"
                ));
                Arc::new(NoRefresh("no API settings to refresh expired links with"))
            }
        }
    };
    Ok(Setup {
        sources,
        jobs: kept,
        refresher,
        signer,
    })
}

/// Stands in for Stream when it cannot be asked: an expired link stays failed, with why.
struct NoRefresh(&'static str);

impl Refresher for NoRefresh {
    fn refresh<'a>(
        &'a self,
        _owner: &'a Owner,
        _field: &'a str,
        _url: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, String>> {
        Box::pin(async move { Err(self.0.to_owned()) })
    }
}

/// What the call did, for its summary.
#[derive(Default)]
struct Done {
    first: usize,
    retried: usize,
    complete: usize,
    tally: MediaTally,
    /// Dry run: of the references it would take, those the policy refuses.
    refused: u64,
    /// Refused or too-large references the current settings would fetch (without --recheck).
    allowed_now: usize,
    left_archives: usize,
    problems: Vec<Problem>,
}

async fn capture(args: &MediaArgs, setup: &Setup, clock: SharedClock) -> u8 {
    let listing = Listing::list(&setup.sources).await;
    let mut done = Done {
        problems: listing.problems.clone(),
        ..Done::default()
    };
    if let Err(code) = say_empty(&listing) {
        print_problems(&done.problems);
        return code;
    }
    let (records, problems) = newest_records(&listing).await;
    done.problems.extend(problems);
    let mut by_key: BTreeMap<(usize, &str), MediaRecord> = records
        .into_iter()
        .map(|r| {
            (
                (r.listed.location, r.listed.manifest.key.as_str()),
                r.record,
            )
        })
        .collect();

    let cache = RunCache::default();
    let mut passes: BTreeMap<(usize, String), MediaPass> = BTreeMap::new();
    let mut budget = args.max_files;
    let mut report = String::new();
    for listed in &listing.archives {
        let key = (listed.location, listed.manifest.key.as_str());
        let record = by_key.remove(&key);
        if record.is_none() && listing.media_record(listed).is_some() {
            continue; // unreadable: said among the problems
        }
        let manifest = &listed.manifest;
        let store = listing.store(listed);
        let settings = setup.jobs[listed.source]
            .as_ref()
            .map_or_else(MediaSettings::default, |job| job.media.clone());
        let pass = match pass_for(&mut passes, listed, store, &settings, setup, &cache, &clock) {
            Ok(pass) => pass,
            Err(e) => {
                done.problems.push(Problem::new(&manifest.key, e));
                continue;
            }
        };
        let Some(record) = record else {
            // No record: the budget is checked before the archive is read.
            if budget == 0 {
                done.left_archives += 1;
                continue;
            }
            let refs = match refs_in_archive(store, manifest).await {
                Ok(refs) => refs,
                Err(e) => {
                    done.problems
                        .push(Problem::new(&manifest.key, e.to_string()));
                    continue;
                }
            };
            let taken = refs.len().min(budget);
            budget -= taken;
            if args.dry_run {
                let links: Vec<&str> = refs[..taken].iter().map(|r| r.url.as_str()).collect();
                let later = refs.len() - taken;
                dry_run_lines(&mut report, &mut done, pass, manifest, &links, later);
                continue;
            }
            done.first += 1;
            match pass.first(&manifest.key, refs, taken).await {
                Ok((_, tally)) => done.tally.add(&tally),
                Err(e) => done
                    .problems
                    .push(Problem::new(&manifest.key, e.to_string())),
            }
            continue;
        };
        if !args.recheck {
            done.allowed_now += pass.allowed_now(&record);
        }
        let wanted = pass
            .due(&record, args.recheck, usize::MAX)
            .iter()
            .filter(|d| **d)
            .count();
        if wanted == 0 {
            done.complete += 1;
            continue;
        }
        if budget == 0 {
            done.left_archives += 1;
            if !args.dry_run {
                done.tally.outstanding += outstanding(&record);
            }
            continue;
        }
        let due = pass.due(&record, args.recheck, budget);
        let taken = due.iter().filter(|d| **d).count();
        budget -= taken;
        if args.dry_run {
            let links: Vec<&str> = record
                .references
                .iter()
                .zip(&due)
                .filter(|(_, due)| **due)
                .map(|(r, _)| r.url.as_str())
                .collect();
            dry_run_lines(
                &mut report,
                &mut done,
                pass,
                manifest,
                &links,
                wanted - taken,
            );
            continue;
        }
        done.retried += 1;
        match pass.retry(&record, &due).await {
            Ok((_, tally)) => done.tally.add(&tally),
            Err(e) => done
                .problems
                .push(Problem::new(&manifest.key, e.to_string())),
        }
    }
    output::stdout(&report);
    output::stdout(&summary(&done, args));
    if done.problems.is_empty() {
        return exit::OK;
    }
    print_problems(&done.problems);
    exit::FAILED
}

/// One capture per job and store, made when first needed.
fn pass_for<'p>(
    passes: &'p mut BTreeMap<(usize, String), MediaPass>,
    listed: &Listed,
    store: &Store,
    settings: &MediaSettings,
    setup: &Setup,
    cache: &RunCache,
    clock: &SharedClock,
) -> Result<&'p MediaPass, String> {
    let key = (listed.location, listed.manifest.job.clone());
    if !passes.contains_key(&key) {
        let pass = MediaPass::new(
            &listed.manifest.job,
            settings,
            store.clone(),
            setup.refresher.clone(),
            cache.clone(),
            clock.clone(),
        )
        .map_err(|e| format!("cannot fetch media: {e}"))?
        .signed_by(setup.signer.clone());
        passes.insert(key.clone(), pass);
    }
    passes
        .get(&key)
        .ok_or_else(|| "cannot fetch media".to_owned())
}

/// Per archive, what a real call would do with `links` (the references it would take):
/// how many it would fetch and how many the policy refuses, then each link without its
/// query, refused ones marked; and how many the budget leaves for a later call.
fn dry_run_lines(
    out: &mut String,
    done: &mut Done,
    pass: &MediaPass,
    manifest: &Manifest,
    links: &[&str],
    later: usize,
) {
    let refused: Vec<bool> = links.iter().map(|l| !pass.allows(l)).collect();
    let refusals = refused.iter().filter(|r| **r).count();
    let fetch = links.len() - refusals;
    done.tally.outstanding += fetch as u64;
    done.refused += refusals as u64;
    let _ = write!(
        out,
        "{}: would fetch {fetch}, refused {refusals}",
        escape_hidden(&manifest.key)
    );
    if later > 0 {
        let _ = write!(out, ", {later} left for a later call (--max-files)");
        done.left_archives += 1;
    }
    out.push('\n');
    for (link, refused) in links.iter().zip(refused) {
        let mark = if refused { " (refused)" } else { "" };
        let _ = writeln!(out, "  {}{mark}", escape_hidden(without_query(link)));
    }
}

fn summary(done: &Done, args: &MediaArgs) -> String {
    let mut text = if args.dry_run {
        format!(
            "dry run: {} reference(s) would be fetched, {} refused by the media settings; \
             nothing was fetched\n",
            done.tally.outstanding, done.refused
        )
    } else {
        let statuses = if done.tally.statuses.is_empty() {
            "no reference fetched".to_owned()
        } else {
            done.tally
                .statuses
                .iter()
                .map(|(status, n)| format!("{n} {status}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        format!(
            "{} archive(s) captured, {} retried, {} complete already: {statuses} ({} bytes \
             stored); {} reference(s) still outstanding (later runs retry them)\n",
            done.first,
            done.retried,
            done.complete,
            done.tally.bytes_stored,
            done.tally.outstanding
        )
    };
    if done.left_archives > 0 {
        let _ = writeln!(
            text,
            "left for the next call (--max-files {}): {} archive(s) not read or not finished; \
             run `chatvault media` again",
            args.max_files, done.left_archives
        );
    }
    if done.allowed_now > 0 {
        let _ = writeln!(
            text,
            "{} refused or too-large reference(s) would now be allowed: run with --recheck",
            done.allowed_now
        );
    }
    text
}

fn print_problems(problems: &[Problem]) {
    let mut text = String::new();
    for p in problems {
        let _ = writeln!(text, "error: {}: {}", p.key, p.problem);
    }
    output::stderr(&text);
}
