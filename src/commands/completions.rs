//! `chatvault completions`: the shell completion script, generated from the clap definitions.

use clap::CommandFactory;
use clap_complete::Shell;

use super::{exit, output};
use crate::cli::{Cli, CompletionShell, CompletionsArgs};

pub fn run(args: &CompletionsArgs) -> u8 {
    output::stdout(&script(args.shell));
    exit::OK
}

/// The completion script for `shell`, completing every subcommand, flag and value of this
/// version of chatvault.
pub fn script(shell: CompletionShell) -> String {
    let shell = match shell {
        CompletionShell::Bash => Shell::Bash,
        CompletionShell::Zsh => Shell::Zsh,
        CompletionShell::Fish => Shell::Fish,
    };
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut command, name, &mut script);
    String::from_utf8_lossy(&script).into_owned()
}
