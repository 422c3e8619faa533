//! `chatvault erase`: one person out of the archives of the chosen jobs (the work is
//! `lifecycle::erase`); here the arguments, the refusals that come before anything is
//! written, and the report.

use std::fmt::Write as _;
use std::path::PathBuf;

use super::keys::signer_and_keys;
use super::{Picked, Wanted, World, exit, load_and_pick, output, runtime};
use crate::archive::replacement::Removed;
use crate::archive::tally::UserCount;
use crate::cli::{EraseArgs, LogFormat};
use crate::config::MissingVars;
use crate::lifecycle::erase::{Erase, Holding, JobAt, Outcome, erase, total};
use crate::lifecycle::pause::PauseAt;
use crate::store;
use crate::text::escape_hidden;

/// Names the step to freeze at, for the crash tests.
const PAUSE_VAR: &str = "CHATVAULT_PAUSE_AT";

pub fn run(args: &EraseArgs, config: Option<PathBuf>, log: LogFormat, world: &World<'_>) -> u8 {
    super::logging::init(log, "warn");
    if let Some(problem) = bad_arguments(args) {
        output::error(problem, None);
        return exit::INVALID;
    }
    let wanted = Wanted {
        paths: &args.paths.paths,
        config,
        jobs: &args.jobs,
        missing_vars: MissingVars::Warn,
        now: world.now,
        warnings: false,
    };
    let Picked { set, jobs, .. } = match load_and_pick(&wanted, world) {
        Ok(picked) => picked,
        Err(code) => return code,
    };
    let immutable: Vec<&str> = jobs
        .iter()
        .filter(|j| j.destination.immutable)
        .map(|j| j.name.as_str())
        .collect();
    if !immutable.is_empty() && !args.dry_run {
        output::error(
            &format!(
                "job {}: the destination is immutable (destination.immutable: true): an \
                 erasure would have to delete there; nothing was written",
                immutable.join(", ")
            ),
            Some("leave those jobs out with --job, or erase in a destination that allows deletes"),
        );
        return exit::FAILED;
    }
    let (signer, keyring) = match signer_and_keys(&set.settings) {
        Ok(loaded) => loaded,
        Err(e) => {
            output::report_for("signing", &e, e.hint());
            return exit::INVALID;
        }
    };
    let opened = if args.dry_run {
        store::open_to_read(
            &set.settings.state,
            &set.settings.state_options,
            &world.env_vars,
        )
    } else {
        store::open(
            &set.settings.state,
            &set.settings.state_options,
            &world.env_vars,
        )
    };
    let state = match opened {
        Ok(state) => state,
        Err(e) => {
            output::report_for("state", &e, None);
            return exit::FAILED;
        }
    };
    let mut at = Vec::new();
    for job in &jobs {
        let opened = if args.dry_run {
            job.destination.open_to_read(&world.env_vars)
        } else {
            job.destination.open_to_write(&world.env_vars)
        };
        match opened {
            Ok(store) => at.push(JobAt {
                name: job.name.clone(),
                store,
                media_prefix: job.media.prefix.clone(),
            }),
            Err(e) => {
                output::report_for(&format!("job {}: destination", job.name), &e, None);
                return exit::FAILED;
            }
        }
    }
    let pause = PauseAt::at((world.env)(PAUSE_VAR));
    let asked = Erase {
        user: &args.user,
        reason: args.reason.as_deref().unwrap_or_default(),
        named_jobs: args.jobs.clone(),
        jobs: &at,
        holds: &set.settings.holds,
        state: &state,
        signer: signer.as_deref(),
        keyring: &keyring,
        now: world.now,
        pause: &pause,
        dry_run: args.dry_run,
    };
    let Some(runtime) = runtime() else {
        return exit::FAILED;
    };
    match runtime.block_on(erase(&asked)) {
        Ok(outcome) => report(&args.user, args.dry_run, &outcome),
        Err(e) => {
            output::report(
                &e,
                Some("run the same command again: it takes the unfinished erasure up"),
            );
            exit::FAILED
        }
    }
}

/// What is wrong with `--user` or `--reason`, before anything is read or written: a padded
/// id matches no one, and a request is permanent.
fn bad_arguments(args: &EraseArgs) -> Option<&'static str> {
    let user = args.user.as_str();
    if user.trim().is_empty() {
        return Some("--user is empty");
    }
    if user.trim() != user {
        return Some("--user has leading or trailing whitespace; ids are matched exactly");
    }
    if user.chars().any(char::is_control) || crate::text::has_hidden(user) {
        return Some(
            "--user holds a control or invisible character (a bidirectional override, a \
             zero-width space); ids are matched exactly",
        );
    }
    if args.reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
        return Some("--reason is empty: say why, it is kept with the request");
    }
    None
}

/// Prints what was done (or would be), and the exit code it makes.
fn report(user: &str, dry_run: bool, outcome: &Outcome) -> u8 {
    let user = escape_hidden(user);
    let code = reappeared(dry_run, outcome);
    if outcome.nothing {
        output::error(
            &format!("no archive of the jobs holds anything of {user}; nothing was written"),
            Some(
                "ids are case-sensitive and matched exactly: `chatvault search from:ID` finds \
                 their messages, and `chatvault holds` lists the holds",
            ),
        );
        return exit::FAILED;
    }
    let mut out = String::new();
    match &outcome.id {
        // Only originals an earlier erasure deleted were there (and are gone again).
        None if !dry_run => {}
        None => {
            let _ = writeln!(
                out,
                "dry run: {} archive(s) hold {user} and would be replaced; nothing was written",
                outcome.would.len()
            );
            for h in &outcome.would {
                let _ = writeln!(out, "  {}", holding(h));
            }
        }
        Some(id) => {
            let again = if outcome.resumed {
                " (an unfinished erasure of this user, taken up again)"
            } else {
                ""
            };
            let _ = writeln!(
                out,
                "erasure {id}{again}: {} archive(s) replaced",
                outcome.erased.len()
            );
            for a in &outcome.erased {
                let _ = writeln!(
                    out,
                    "  {}  {} -> {}  {}",
                    escape_hidden(&a.job),
                    escape_hidden(&a.original),
                    escape_hidden(&a.replacement),
                    removed(&a.removed)
                );
            }
            let _ = writeln!(
                out,
                "removed: {}; {} captured file(s) deleted",
                removed(&total(&outcome.erased)),
                outcome.media_deleted
            );
        }
    }
    output::stdout(&out);
    let mut code = code;
    if !outcome.held.is_empty() {
        let mut told = format!(
            "warning: {} archive(s) holding {user} are under a hold and were not touched:\n",
            outcome.held.len()
        );
        for h in &outcome.held {
            let _ = writeln!(told, "  {}", holding(h));
        }
        output::stderr(&told);
        code = exit::FAILED;
    }
    if !outcome.problems.is_empty() {
        let mut told = String::new();
        for p in &outcome.problems {
            let _ = writeln!(told, "error: {}", escape_hidden(p));
        }
        if outcome.id.is_some() {
            told.push_str(
                "hint: the erasure is not finished: run the same command again once the \
                 archives can be read\n",
            );
        }
        output::stderr(&told);
        code = exit::FAILED;
    }
    code
}

/// Tells of the originals earlier erasures deleted that were back; the exit code so far.
fn reappeared(dry_run: bool, outcome: &Outcome) -> u8 {
    if !outcome.cleared.is_empty() {
        let done = if dry_run {
            "would be deleted again"
        } else {
            "deleted again"
        };
        let mut out = format!(
            "{} document(s) of originals an earlier erasure deleted were back: {done}\n",
            outcome.cleared.len()
        );
        for key in &outcome.cleared {
            let _ = writeln!(out, "  {}", escape_hidden(key));
        }
        output::stdout(&out);
    }
    if outcome.left.is_empty() {
        return exit::OK;
    }
    let mut told = String::new();
    for p in &outcome.left {
        let _ = writeln!(told, "error: {}", escape_hidden(p));
    }
    output::stderr(&told);
    exit::FAILED
}

fn holding(h: &Holding) -> String {
    let mut line = format!(
        "{}  {}  {}",
        escape_hidden(&h.job),
        escape_hidden(&h.key),
        of_user(&h.of_user)
    );
    if !h.holds.is_empty() {
        let names: Vec<String> = h.holds.iter().map(|n| escape_hidden(n).into()).collect();
        let _ = write!(line, "  held by {}", names.join(", "));
    }
    line
}

/// What an archive holds of the user, the kinds it has.
fn of_user(c: &UserCount) -> String {
    let parts = [
        (c.messages, "message(s)"),
        (c.reactions, "reaction(s)"),
        (c.memberships, "membership(s)"),
        (c.mentions, "mention(s)"),
        (c.reads, "read state(s)"),
        (c.records, "user record(s)"),
    ];
    listed(&parts)
}

fn removed(r: &Removed) -> String {
    let parts = [
        (r.messages, "message(s)"),
        (r.reactions, "reaction(s)"),
        (r.memberships, "membership(s)"),
        (r.reads, "read state(s)"),
        (r.users, "user record(s)"),
        (r.rewritten, "item(s) of others rewritten"),
        (r.media, "captured file(s) only theirs"),
    ];
    listed(&parts)
}

fn listed(parts: &[(u64, &str)]) -> String {
    let said: Vec<String> = parts
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, what)| format!("{n} {what}"))
        .collect();
    if said.is_empty() {
        "nothing".to_owned()
    } else {
        said.join(", ")
    }
}
