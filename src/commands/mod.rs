//! What each subcommand does, from parsed arguments to an exit code.

mod archives;
mod args;
mod completions;
mod erase;
mod expire;
mod holds;
mod index;
mod keys;
mod ledgers;
mod listen;
mod logging;
mod media;
mod output;
mod plan;
mod progress;
mod run;
mod schema;
mod search;
mod signals;
mod status;
mod transcript;
mod ui;
mod validate;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::cli::{Cli, Command};
use crate::config::interpolate::Env;
use crate::config::job::Job;
use crate::config::schema::schemas;
use crate::config::{Blocked, JobSet, LoadOptions, Loaded, MissingVars, load};
use crate::diagnostics::{Format, Summary, render};
use crate::store::{self, Store};

/// Exit codes users and CI rely on.
pub mod exit {
    pub const OK: u8 = 0;
    pub const FAILED: u8 = 1;
    pub const INVALID: u8 = 2;
}

/// What the outside world offers a command: the environment and the time.
pub struct World<'a> {
    pub env: Env<'a>,
    /// The whole environment, for the `AWS_*` and `GOOGLE_*` settings of stores.
    pub env_vars: Vec<(String, String)>,
    pub now: DateTime<Utc>,
}

pub fn run(cli: Cli, world: &World<'_>) -> ExitCode {
    let code = match cli.command {
        Command::Validate(args) => validate::run(&args, cli.config, world),
        Command::Plan(args) => {
            plan::run(&args.paths.paths, &args.jobs, &args.plan, cli.config, world)
        }
        Command::Run(args) if args.dry_run => {
            plan::run(&args.paths.paths, &args.jobs, &args.plan, cli.config, world)
        }
        Command::Run(args) => run::run(&args, cli.config, cli.log_format, world),
        Command::Status(args) => status::run(&args, cli.config, cli.log_format, world),
        Command::Verify(args) => verify::run(&args, cli.config, world),
        Command::Search(args) => match args::search(&args) {
            Ok(resolved) => search::run(&args, resolved, cli.config, world),
            Err(invalid) => invalid.report(),
        },
        Command::Index(args) => index::run(&args, cli.config, world),
        Command::Expire(args) => expire::run(&args, cli.config, cli.log_format, world),
        Command::Media(args) => media::run(&args, cli.config, world),
        Command::Erase(args) => erase::run(&args, cli.config, cli.log_format, world),
        Command::Transcript(args) => match args::transcript(&args) {
            Ok(resolved) => transcript::run(&args, resolved, cli.config, world),
            Err(invalid) => invalid.report(),
        },
        Command::Ui(args) => match args::ui(&args) {
            Ok(zone) => ui::run(&args, zone, cli.config, cli.log_format, world),
            Err(invalid) => invalid.report(),
        },
        Command::Holds(args) => holds::run(&args, cli.config, world),
        Command::Keys(args) => keys::run(&args),
        Command::Schema(args) => schema::run(&args),
        Command::Completions(args) => completions::run(&args),
    };
    ExitCode::from(code)
}

/// The async runtime the network commands run on; `None` (after saying why) if it cannot start.
fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            output::error(&format!("cannot start the async runtime: {e}"), None);
            None
        }
    }
}

/// The chosen jobs (all when `--job` names none) and the state store the global config names,
/// for the commands that read state. `Err` holds the exit code, the problem printed.
fn jobs_and_state(
    paths: &[PathBuf],
    jobs: &[String],
    config: Option<PathBuf>,
    world: &World<'_>,
) -> Result<(Vec<Job>, Store), u8> {
    let wanted = Wanted {
        paths,
        config,
        jobs,
        missing_vars: MissingVars::Warn,
        now: world.now,
        warnings: false,
    };
    let Picked { set, jobs, .. } = load_and_pick(&wanted, world)?;
    let state = state_to_read(&set, world)?;
    Ok((jobs, state))
}

/// The state store the global config names, opened to read (never made); `Err` holds the
/// exit code, the problem printed.
fn state_to_read(set: &JobSet, world: &World<'_>) -> Result<Store, u8> {
    let settings = &set.settings;
    store::open_to_read(&settings.state, &settings.state_options, &world.env_vars).map_err(|e| {
        let hint = store::problem::diagnose(&e).map(store::problem::Problem::hint);
        output::report_for("state", &e, hint);
        exit::FAILED
    })
}

/// What a command asks of the job files.
struct Wanted<'a> {
    paths: &'a [PathBuf],
    config: Option<PathBuf>,
    /// `--job`: only these (all when empty).
    jobs: &'a [String],
    missing_vars: MissingVars,
    /// The plan's checks try the ticks after this.
    now: DateTime<Utc>,
    /// Print warnings too, not only errors.
    warnings: bool,
}

/// The jobs a command acts on, with the set they come from.
struct Picked {
    set: JobSet,
    jobs: Vec<Job>,
    blocked: Vec<Blocked>,
}

/// The job files loaded, then put through the plan's checks: every problem, nothing printed.
fn load_checked(wanted: &Wanted<'_>, world: &World<'_>) -> Loaded {
    let mut loaded = load(&LoadOptions {
        paths: wanted.paths.to_vec(),
        config: wanted.config.clone(),
        env: world.env,
        missing_vars: wanted.missing_vars,
    });
    crate::plan::check(&mut loaded, wanted.now);
    loaded
}

/// Every command that acts on jobs starts here: load and check the files, print their
/// problems on stderr, pick the jobs named with --job. `Err` holds the exit code.
fn load_and_pick(wanted: &Wanted<'_>, world: &World<'_>) -> Result<Picked, u8> {
    let loaded = load_checked(wanted, world);
    let shown = if wanted.warnings {
        !loaded.diagnostics.is_empty()
    } else {
        loaded.diagnostics.has_errors()
    };
    if shown {
        let summary = Summary {
            files: loaded.files,
            deny_warnings: false,
            schemas: &schemas(),
        };
        output::stderr(&render(&loaded.diagnostics, summary, Format::Human));
    }
    let blocked = loaded.blocked.clone();
    let set = loaded.into_set().ok_or(exit::INVALID)?;
    let jobs = pick_jobs(&set.jobs, wanted.jobs).map_err(|message| {
        output::error(&message, Some("`chatvault plan` lists the jobs"));
        exit::INVALID
    })?;
    Ok(Picked { set, jobs, blocked })
}

/// The jobs named in `--job` (all when none is), or which names match no job.
fn pick_jobs(jobs: &[Job], names: &[String]) -> Result<Vec<Job>, String> {
    if names.is_empty() {
        return Ok(jobs.to_vec());
    }
    let unknown: Vec<&str> = names
        .iter()
        .filter(|n| !jobs.iter().any(|j| &j.name == *n))
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(format!("no job named `{}`", unknown.join("`, `")));
    }
    Ok(jobs
        .iter()
        .filter(|j| names.contains(&j.name))
        .cloned()
        .collect())
}
