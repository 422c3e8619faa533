use std::process::ExitCode;

use clap::Parser;

use chatvault::cli::Cli;
use chatvault::commands::{World, run};

fn main() -> ExitCode {
    let cli = Cli::parse();
    let env = |name: &str| std::env::var(name).ok();
    run(
        cli,
        &World {
            env: &env,
            env_vars: std::env::vars().collect(),
            now: chrono::Utc::now(),
        },
    )
}
