//! What each subcommand does, from parsed arguments to an exit code.

mod completions;
mod listen;
mod logging;
mod output;
mod plan;
mod progress;
mod run;
mod schema;
mod status;
mod validate;
mod verify;

use std::path::PathBuf;
use std::process::ExitCode;

use chrono::{DateTime, Utc};

use crate::cli::{Cli, Command};
use crate::config::interpolate::Env;
use crate::config::job::Job;
use crate::config::{LoadOptions, Loaded, MissingVars, load};

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
        Command::Plan(args) => plan::run(&args.paths.paths, &args.plan, cli.config, world),
        Command::Run(args) if args.dry_run => {
            plan::run(&args.paths.paths, &args.plan, cli.config, world)
        }
        Command::Run(args) => run::run(&args, cli.config, cli.log_format, world),
        Command::Status(args) => status::run(&args, cli.config, cli.log_format, world),
        Command::Verify(args) => verify::run(&args, cli.config, world),
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

fn load_jobs(
    paths: &[PathBuf],
    config: Option<PathBuf>,
    world: &World<'_>,
    now: DateTime<Utc>,
) -> Loaded {
    load(&LoadOptions {
        paths: paths.to_vec(),
        config,
        env: world.env,
        missing_vars: MissingVars::Warn,
        now,
    })
}
