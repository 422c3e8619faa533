//! `chatvault holds`: each legal hold in force, with the archives it keeps and their bytes.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use futures::StreamExt as _;
use serde::Serialize;

use super::search::terminal_safe;
use super::{Wanted, World, exit, load_and_pick, output, runtime};
use crate::archive::read::ReadError;
use crate::archive::reading::{Listing, Problem, Source};
use crate::archive::tally::Tally;
use crate::cli::{HoldsArgs, HoldsFormat};
use crate::config::MissingVars;
use crate::config::hold::Hold;
use crate::config::job::Job;
use crate::lifecycle::holds::{covering, deciding_counts};

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
    let mut looked = runtime.block_on(look(holds, &sources));
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

/// Every archive of the sources, with the holds covering it. An archive whose counts cannot
/// be read is a problem and is decided as holding anything (the hold wins).
async fn look(holds: &[Hold], sources: &[Source]) -> Looked {
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
    let counts: Vec<_> = futures::stream::iter(&listing.archives)
        .map(|listed| async {
            // A manifest without its archive: named, and counted as held like any archive that
            // cannot be read.
            if !listed.present {
                return Err(ReadError::Missing);
            }
            deciding_counts(holds, listing.store(listed), &listed.manifest).await
        })
        .buffered(READS_AT_ONCE)
        .collect()
        .await;
    for (listed, counted) in listing.archives.iter().zip(counts) {
        let manifest = &listed.manifest;
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
            .filter(|a| a.job == *job && a.held_by.contains(&index))
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
