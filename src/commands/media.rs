//! `chatvault media`: the files of archives no run captured (written before media capture, or
//! with `media.capture: false`), and another try at what runs could not fetch; bounded per
//! call, and `--dry-run` to see what it would fetch.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use futures::future::BoxFuture;

use super::archives::{say_empty, sources};
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
use crate::store::Store;
use crate::text::escape_hidden;

/// Where the archives are and how each job's files are fetched.
struct Setup {
    sources: Vec<Source>,
    /// Per source, its job (none with `--url`: the defaults apply, by the manifest's job).
    jobs: Vec<Option<Job>>,
    refresher: Arc<dyn Refresher>,
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
        let jobs = vec![None; sources.len()];
        return Ok(Setup {
            sources,
            jobs,
            refresher: Arc::new(NoRefresh(
                "no API settings with --url: expired links are refreshed only through job files",
            )),
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
        let opened = crate::store::open(
            &job.destination.url,
            &job.destination.options,
            &world.env_vars,
        );
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

/// What one archive needs.
enum Work<'a> {
    /// No record: its links are read from the archive and captured.
    First(&'a Listed),
    /// Its newest record leaves references outstanding.
    Retry(&'a Listed, MediaRecord),
}

/// What the call did, for its summary.
#[derive(Default)]
struct Done {
    first: usize,
    retried: usize,
    complete: usize,
    tally: MediaTally,
    left_archives: usize,
    left_refs: u64,
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
    let mut work = Vec::new();
    for listed in &listing.archives {
        let unreadable = listing.media_record(listed).is_some()
            && !by_key.contains_key(&(listed.location, listed.manifest.key.as_str()));
        if unreadable {
            continue; // said among the problems
        }
        match by_key.remove(&(listed.location, listed.manifest.key.as_str())) {
            None => work.push(Work::First(listed)),
            Some(record) if outstanding(&record) > 0 => work.push(Work::Retry(listed, record)),
            Some(_) => done.complete += 1,
        }
    }

    let cache = RunCache::default();
    let mut passes: BTreeMap<(usize, String), MediaPass> = BTreeMap::new();
    let mut budget = args.max_files;
    let mut report = String::new();
    let mut started = false;
    for item in work {
        let listed: &Listed = match &item {
            Work::First(listed) | Work::Retry(listed, _) => listed,
        };
        let manifest = &listed.manifest;
        let store = listing.store(listed);
        let (count, refs) = match &item {
            Work::First(_) => match refs_in_archive(store, manifest).await {
                Ok(refs) => (refs.len(), Some(refs)),
                Err(e) => {
                    done.problems
                        .push(Problem::new(&manifest.key, e.to_string()));
                    continue;
                }
            },
            Work::Retry(_, record) => (
                usize::try_from(outstanding(record)).unwrap_or(usize::MAX),
                None,
            ),
        };
        if started && count > budget {
            done.left_archives += 1;
            done.left_refs += count as u64;
            continue;
        }
        started = true;
        budget = budget.saturating_sub(count);
        if args.dry_run {
            dry_run_lines(&mut report, manifest, &item, refs.as_deref());
            done.tally.outstanding += count as u64;
            continue;
        }
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
        let result = match (item, refs) {
            (Work::First(_), Some(refs)) => {
                done.first += 1;
                pass.first(&manifest.key, refs).await
            }
            (Work::Retry(_, record), _) => {
                done.retried += 1;
                pass.retry(&record).await
            }
            (Work::First(_), None) => continue,
        };
        match result {
            Ok((_, tally)) => done.tally.add(&tally),
            Err(e) => done
                .problems
                .push(Problem::new(&manifest.key, e.to_string())),
        }
    }
    output::stdout(&report);
    output::stdout(&summary(&done, args.dry_run));
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
        .map_err(|e| format!("cannot fetch media: {e}"))?;
        passes.insert(key.clone(), pass);
    }
    passes
        .get(&key)
        .ok_or_else(|| "cannot fetch media".to_owned())
}

/// Per archive, what a real call would fetch: the count, then each link without its query.
fn dry_run_lines(
    out: &mut String,
    manifest: &Manifest,
    item: &Work<'_>,
    refs: Option<&[crate::archive::media::refs::FoundRef]>,
) {
    let links: Vec<&str> = match (item, refs) {
        (Work::First(_), Some(refs)) => refs.iter().map(|r| without_query(&r.url)).collect(),
        (Work::Retry(_, record), _) => record
            .references
            .iter()
            .filter(|r| r.outcome.outstanding())
            .map(|r| without_query(&r.url))
            .collect(),
        (Work::First(_), None) => Vec::new(),
    };
    let what = match item {
        Work::First(_) => "not captured yet",
        Work::Retry(..) => "outstanding",
    };
    let _ = writeln!(
        out,
        "{}: {} reference(s) {what}",
        escape_hidden(&manifest.key),
        links.len()
    );
    for link in links {
        let _ = writeln!(out, "  {}", escape_hidden(link));
    }
}

fn summary(done: &Done, dry_run: bool) -> String {
    let mut text = if dry_run {
        format!(
            "dry run: {} reference(s) would be fetched; nothing was fetched\n",
            done.tally.outstanding
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
            "left for the next call (--max-files): {} archive(s), {} reference(s); run \
             `chatvault media` again",
            done.left_archives, done.left_refs
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
