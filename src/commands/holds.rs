//! `chatvault holds`: each legal hold in force, with the archives it keeps and their bytes.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::Serialize;

use super::keys::signer_and_keys;
use super::search::terminal_safe;
use super::{Wanted, World, exit, load_and_pick, output, runtime, state_to_read};
use crate::archive::read::ReadError;
use crate::archive::reading::{Listing, Problem, Source};
use crate::archive::seal::{StoredSeal, read_chain};
use crate::archive::tally::Tally;
use crate::cli::{HoldsArgs, HoldsFormat};
use crate::config::MissingVars;
use crate::config::hold::Hold;
use crate::config::job::Job;
use crate::lifecycle::holds::{covering, deciding_counts, jobs_match};
use crate::lifecycle::vouch::Vouching;
use crate::signing::Keyring;
use crate::state::seal_head;
use crate::store::Store;

/// Why an archive whose manifest nothing vouches for is listed as "may be held".
const NOT_VOUCHED: &str = "its manifest is not the one sealed/signed: cannot say what it holds; \
                           expire and erase keep it";

/// Archives read at once to count everyone they name.
const READS_AT_ONCE: usize = 4;

pub fn run(args: &HoldsArgs, config: Option<PathBuf>, world: &World<'_>) -> u8 {
    let wanted = Wanted {
        paths: &args.paths.paths,
        config,
        jobs: &[],
        missing_vars: MissingVars::Warn,
        now: world.now,
        warnings: false,
    };
    let picked = match load_and_pick(&wanted, world) {
        Ok(picked) => picked,
        Err(code) => return code,
    };
    let holds = &picked.set.settings.holds;
    // The keys `expire` and `erase` vouch for manifests with, so this lists what they keep.
    let keyring = match signer_and_keys(&picked.set.settings) {
        Ok((_, keyring)) => keyring,
        Err(e) => {
            output::report_for("signing", &e, e.hint());
            return exit::INVALID;
        }
    };
    let state = match state_to_read(&picked.set, world) {
        Ok(state) => state,
        Err(code) => return code,
    };
    let mut problems = Vec::new();
    let mut sources = Vec::new();
    for job in picked.jobs.iter().filter(|j| may_cover(holds, j)) {
        match job.destination.open_to_read(&world.env_vars) {
            Ok(store) => sources.push(Source::of_job(job, store)),
            Err(e) => problems.push(Problem::new(
                job.destination.url.to_string(),
                format!("job {}: cannot open the destination: {e}", job.name),
            )),
        }
    }
    let Some(runtime) = runtime() else {
        return exit::FAILED;
    };
    let mut looked = runtime.block_on(look(holds, &sources, &keyring, &state));
    problems.extend(looked.problems.iter().cloned());
    // A store not opened or listed may hold what a hold names.
    looked.all_known &= problems.is_empty();
    let job_order: Vec<&str> = picked.jobs.iter().map(|j| j.name.as_str()).collect();
    let report = Report {
        holds: holds
            .iter()
            .enumerate()
            .map(|(i, hold)| held(i, hold, &looked, &job_order))
            .collect(),
        problems: problems.clone(),
    };
    match args.format {
        HoldsFormat::Human => output::stdout(&human(&report)),
        HoldsFormat::Json => {
            let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
            text.push('\n');
            output::stdout(&text);
        }
    }
    if problems.is_empty() {
        return exit::OK;
    }
    let mut text = String::new();
    for p in &problems {
        let _ = writeln!(
            text,
            "error: {}: {}",
            terminal_safe(&p.key),
            terminal_safe(&p.problem)
        );
    }
    output::stderr(&text);
    exit::FAILED
}

/// Whether any hold may cover archives of `job`: one naming no jobs covers every job.
fn may_cover(holds: &[Hold], job: &Job) -> bool {
    holds
        .iter()
        .any(|h| h.covers.jobs.is_empty() || h.covers.jobs.contains(&job.name))
}

/// One archive, and which holds (by index) cover it.
struct Seen {
    job: String,
    key: String,
    bytes: u64,
    held_by: Vec<usize>,
    /// Its manifest is not vouched for: `held_by` are the holds that may cover it.
    doubted: bool,
}

#[derive(Default)]
struct Looked {
    archives: Vec<Seen>,
    problems: Vec<Problem>,
    /// Every archive was listed and its counts known, so what no archive holds can be told.
    all_known: bool,
    /// The channels and users the archives' counts name.
    channels: BTreeSet<String>,
    users: BTreeSet<String>,
}

/// A job's chain of seals, and the sequence of the newest seal its ledger records.
async fn read_chain_and_head(
    store: &Store,
    job: &str,
    state: &Store,
) -> Result<(Vec<StoredSeal>, Option<u64>), String> {
    let chain = read_chain(store, job).await.map_err(|e| e.to_string())?;
    let head = seal_head(state, job).await.map_err(|e| e.to_string())?;
    Ok((chain, head.map(|h| h.sequence)))
}

/// Every archive of the sources, with the holds covering it. An archive whose counts cannot
/// be read is a problem and is decided as holding anything (the hold wins). One whose
/// manifest nothing vouches for (`lifecycle::vouch`, as `expire` and `erase` decide) says
/// nothing trustworthy of what it holds: it is a problem, and may be held by every hold whose
/// jobs part matches its job.
async fn look(holds: &[Hold], sources: &[Source], keyring: &Keyring, state: &Store) -> Looked {
    if holds.is_empty() || sources.is_empty() {
        return Looked {
            all_known: true,
            ..Looked::default()
        };
    }
    let listing = Listing::list(sources).await;
    let mut looked = Looked {
        problems: listing.problems.clone(),
        all_known: true,
        ..Looked::default()
    };
    let mut chains = Vec::new();
    for source in sources {
        let chain = match &source.job {
            Some(job) => match read_chain_and_head(&source.store, job, state).await {
                Ok(chain) => Some(chain),
                Err(e) => {
                    looked.problems.push(Problem::new(
                        source.store.url(),
                        format!("job {job}: cannot read the chain of seals: {e}"),
                    ));
                    None
                }
            },
            None => None,
        };
        chains.push(chain);
    }
    let vouching: Vec<Option<Vouching<'_>>> = chains
        .iter()
        .map(|c| {
            c.as_ref()
                .map(|(chain, head)| Vouching::new(chain, keyring, *head))
        })
        .collect();
    let doubted: Vec<bool> = listing
        .archives
        .iter()
        .map(|listed| {
            vouching
                .get(listed.source)
                .and_then(Option::as_ref)
                .is_none_or(|v| !v.vouches(listed))
        })
        .collect();
    let listed_at = &listing;
    let counts: Vec<_> = futures::stream::iter(listing.archives.iter().zip(&doubted))
        .map(|(listed, &doubted)| async move {
            if doubted {
                return Ok(None);
            }
            // A manifest without its archive: named, and counted as held like any archive that
            // cannot be read.
            if !listed.present {
                return Err(ReadError::Missing);
            }
            deciding_counts(holds, listed_at.store(listed), &listed.manifest).await
        })
        .buffered(READS_AT_ONCE)
        .collect()
        .await;
    for ((listed, counted), doubted) in listing.archives.iter().zip(counts).zip(doubted) {
        let manifest = &listed.manifest;
        if doubted {
            // Its job is the one whose destination it was listed at, not what it says.
            let job = sources
                .get(listed.source)
                .and_then(|s| s.job.clone())
                .unwrap_or_else(|| manifest.job.clone());
            looked
                .problems
                .push(Problem::new(&manifest.key, NOT_VOUCHED));
            looked.all_known = false;
            looked.archives.push(Seen {
                held_by: (0..holds.len())
                    .filter(|i| jobs_match(&holds[*i].covers, &job))
                    .collect(),
                job,
                key: manifest.key.clone(),
                bytes: manifest.bytes_stored,
                doubted: true,
            });
            continue;
        }
        let tally: Option<Tally> = match counted {
            Ok(tally) => tally,
            Err(e) => {
                looked.problems.push(Problem::new(
                    &manifest.key,
                    format!(
                        "{}; counted as held",
                        Problem::archive(&manifest.key, &e).problem
                    ),
                ));
                None
            }
        };
        match &tally {
            Some(t) => {
                looked.channels.extend(t.channels.keys().cloned());
                looked.users.extend(t.users.keys().cloned());
            }
            None => looked.all_known = false,
        }
        let held_by = covering(holds, manifest, tally.as_ref())
            .into_iter()
            .filter_map(|h| holds.iter().position(|x| std::ptr::eq(x, h)))
            .collect();
        looked.archives.push(Seen {
            job: manifest.job.clone(),
            key: manifest.key.clone(),
            bytes: manifest.bytes_stored,
            held_by,
            doubted: false,
        });
    }
    looked
}

/// What `--format json` prints; the field names are a contract for scripts.
#[derive(Debug, Serialize)]
struct Report {
    holds: Vec<HeldReport>,
    /// Stores, manifests and archives that could not be read (exit 1).
    problems: Vec<Problem>,
}

#[derive(Debug, Serialize)]
struct HeldReport {
    name: String,
    file: String,
    reason: String,
    set_by: String,
    set_at: DateTime<Utc>,
    covers: CoversReport,
    /// What it covers, in words, for people.
    #[serde(skip)]
    summary: String,
    /// Archives the hold keeps, over every job, and their stored bytes.
    archives: usize,
    bytes: u64,
    /// Per job with archives the hold keeps, in job file order.
    jobs: Vec<JobReport>,
    /// Archives whose manifest nothing vouches for, in a job the hold covers: what they hold
    /// cannot be told, and `expire` and `erase` keep them.
    may_hold: Vec<MayHold>,
    /// Channels and users the hold names that no archive holds (listed only when every
    /// archive's counts could be read).
    unmatched: Unmatched,
}

#[derive(Debug, Serialize)]
struct CoversReport {
    jobs: Vec<String>,
    channels: Vec<String>,
    users: Vec<String>,
    from: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
struct JobReport {
    job: String,
    archives: usize,
    bytes: u64,
    keys: Vec<String>,
}

#[derive(Debug, Serialize)]
struct MayHold {
    job: String,
    key: String,
    bytes: u64,
}

#[derive(Debug, Default, Serialize)]
struct Unmatched {
    channels: Vec<String>,
    users: Vec<String>,
}

/// The report of hold `index` over what was seen.
fn held(index: usize, hold: &Hold, looked: &Looked, job_order: &[&str]) -> HeldReport {
    let mut jobs: Vec<JobReport> = Vec::new();
    for job in job_order {
        let keys: Vec<&Seen> = looked
            .archives
            .iter()
            .filter(|a| a.job == *job && !a.doubted && a.held_by.contains(&index))
            .collect();
        if keys.is_empty() {
            continue;
        }
        jobs.push(JobReport {
            job: (*job).to_owned(),
            archives: keys.len(),
            bytes: keys.iter().map(|a| a.bytes).sum(),
            keys: keys.iter().map(|a| a.key.clone()).collect(),
        });
    }
    let may_hold = looked
        .archives
        .iter()
        .filter(|a| a.doubted && a.held_by.contains(&index))
        .map(|a| MayHold {
            job: a.job.clone(),
            key: a.key.clone(),
            bytes: a.bytes,
        })
        .collect();
    let unmatched = if looked.all_known {
        let missing = |named: &[String], held: &BTreeSet<String>| {
            named
                .iter()
                .filter(|n| !held.contains(*n))
                .cloned()
                .collect()
        };
        Unmatched {
            channels: missing(&hold.covers.channels, &looked.channels),
            users: missing(&hold.covers.users, &looked.users),
        }
    } else {
        Unmatched::default()
    };
    let c = &hold.covers;
    HeldReport {
        name: hold.name.clone(),
        file: hold.file.display().to_string(),
        reason: hold.reason.clone(),
        set_by: hold.set_by.clone(),
        set_at: hold.set_at,
        covers: CoversReport {
            jobs: c.jobs.clone(),
            channels: c.channels.clone(),
            users: c.users.clone(),
            from: c.from,
            until: c.until,
        },
        summary: c.summary(),
        archives: jobs.iter().map(|j| j.archives).sum(),
        bytes: jobs.iter().map(|j| j.bytes).sum(),
        jobs,
        may_hold,
        unmatched,
    }
}

fn human(report: &Report) -> String {
    let mut out = String::new();
    if report.holds.is_empty() {
        out.push_str("no holds in force\n");
        return out;
    }
    for (i, hold) in report.holds.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "hold {}  ({})", hold.name, terminal_safe(&hold.file));
        let _ = writeln!(out, "  reason  {}", terminal_safe(&hold.reason));
        let _ = writeln!(
            out,
            "  set by  {} at {}",
            terminal_safe(&hold.set_by),
            hold.set_at.format("%Y-%m-%dT%H:%M:%SZ")
        );
        let _ = writeln!(out, "  covers  {}", terminal_safe(&hold.summary));
        let _ = writeln!(
            out,
            "  keeps   {} archive(s), {} bytes",
            hold.archives, hold.bytes
        );
        for job in &hold.jobs {
            let _ = writeln!(
                out,
                "  job {}: {} archive(s), {} bytes",
                job.job, job.archives, job.bytes
            );
            for key in &job.keys {
                let _ = writeln!(out, "    {}", terminal_safe(key));
            }
        }
        if !hold.may_hold.is_empty() {
            let _ = writeln!(
                out,
                "  may be held: {} archive(s) whose manifest is not vouched for",
                hold.may_hold.len()
            );
            for may in &hold.may_hold {
                let _ = writeln!(
                    out,
                    "    {}: {}",
                    terminal_safe(&may.job),
                    terminal_safe(&may.key)
                );
            }
        }
        let u = &hold.unmatched;
        for (what, names) in [("channel", &u.channels), ("user", &u.users)] {
            for name in names {
                let _ = writeln!(
                    out,
                    "  note: no archive holds {what} {}",
                    terminal_safe(name)
                );
            }
        }
    }
    out
}
