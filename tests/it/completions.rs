//! `chatvault completions SHELL` prints a completion script that knows every subcommand and
//! that the shell itself parses (bash, zsh and fish, each with its no-execute flag).

use std::fs;
use std::process::Command;

use crate::common::run;

const SUBCOMMANDS: [&str; 10] = [
    "validate",
    "plan",
    "run",
    "status",
    "verify",
    "media",
    "erase",
    "keys",
    "schema",
    "completions",
];

fn script(shell: &str) -> String {
    let (code, stdout, stderr) = run(&["completions", shell]);
    assert_eq!(code, 0, "completions {shell}: {stderr}");
    assert!(
        stderr.is_empty(),
        "completions {shell} wrote to stderr: {stderr}"
    );
    assert!(
        !stdout.trim().is_empty(),
        "completions {shell} printed nothing"
    );
    stdout
}

#[test]
fn each_shell_gets_a_script_naming_every_subcommand_and_their_flags() {
    for shell in ["bash", "zsh", "fish"] {
        let script = script(shell);
        for subcommand in SUBCOMMANDS {
            assert!(
                script.contains(subcommand),
                "the {shell} script does not mention {subcommand}"
            );
        }
        for flag in ["dry-run", "once", "format", "deny-warnings"] {
            // fish declares long flags as `-l NAME`; bash and zsh spell them `--NAME`.
            let spelled = match shell {
                "fish" => format!("-l {flag}"),
                _ => format!("--{flag}"),
            };
            assert!(
                script.contains(&spelled),
                "the {shell} script does not mention {spelled}"
            );
        }
        assert!(
            script.contains("sarif"),
            "the {shell} script offers --format sarif"
        );
    }
}

/// Each shell, the flags that make it parse a file without running any of it (fish also skips
/// its config files), and the line with which its script registers the completion.
const SHELLS: [(&str, &[&str], &str); 3] = [
    ("bash", &["-n"], "complete -F _chatvault"),
    ("zsh", &["-f", "-n"], "#compdef chatvault"),
    (
        "fish",
        &["--no-config", "--no-execute"],
        "complete -c chatvault",
    ),
];

/// Whether `shell` parses `script` (written to a file) without an error, and what it printed.
/// A shell that cannot be run fails the test: its check must not pass by not running.
fn parses(shell: &str, flags: &[&str], script: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temporary folder");
    let file = dir.path().join(format!("chatvault.{shell}"));
    fs::write(&file, script).expect("write the script");
    let out = Command::new(shell)
        .args(flags)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run {shell} ({e}), which checks its completion script: \
                 scripts/test installs zsh and fish, or `apt-get install {shell}`"
            )
        });
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), printed)
}

#[test]
fn each_shell_parses_its_script() {
    for (shell, flags, registers) in SHELLS {
        let script = script(shell);
        assert!(
            script.contains(registers),
            "the {shell} script does not register the completion (`{registers}`)"
        );
        let (ok, printed) = parses(shell, flags, &script);
        assert!(ok, "{shell} {flags:?} rejects the script:\n{printed}");
    }
}

#[test]
fn each_shell_rejects_a_script_with_a_syntax_error() {
    // So the check above cannot pass because the shell read nothing.
    for (shell, flags, _) in SHELLS {
        let (ok, printed) = parses(shell, flags, "if true; then\n");
        assert!(
            !ok,
            "{shell} {flags:?} accepts an unterminated `if`:\n{printed}"
        );
    }
}

#[test]
fn an_unknown_shell_is_a_usage_error_that_lists_the_shells() {
    let (code, stdout, stderr) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("bash, zsh, fish"), "{stderr}");
}
