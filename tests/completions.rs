//! `chatvault completions SHELL` prints a completion script that knows every subcommand.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use common::run;

const SUBCOMMANDS: [&str; 7] = [
    "validate",
    "plan",
    "run",
    "status",
    "verify",
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

#[test]
fn the_bash_script_is_valid_bash() {
    let script = script("bash");
    assert!(
        script.contains("complete -F"),
        "registers a completion function"
    );
    let child = Command::new("bash")
        .arg("-n")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        eprintln!("SKIPPED bash -n: bash is not installed");
        return;
    };
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("write the script to bash");
    let out = child.wait_with_output().expect("bash -n");
    assert!(
        out.status.success(),
        "bash -n rejects the script:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error_that_lists_the_shells() {
    let (code, stdout, stderr) = run(&["completions", "tcsh"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("bash, zsh, fish"), "{stderr}");
}
