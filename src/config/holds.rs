//! Hold files: found in the `holds/` folder, each checked on its own (after the schema) into a
//! [`Hold`], then all of them against each other and against the jobs.

use std::fs;
use std::path::{Path, PathBuf};

use super::discover::PathProblem;
use super::hold::{HOLDS_FOLDER, Hold, HoldCovers, HoldFile};
use super::validate::{Ctx, plain_name};
use crate::diagnostics::tree::{FieldPath, Node};
use crate::diagnostics::{Diagnostics, FileSink};
use crate::query::{is_cid, parse_time};
use crate::suggest::did_you_mean;
use crate::text::has_hidden;

const HOLD_EXTENSIONS: [&str; 3] = ["yaml", "yml", "toml"];

/// The holds folder that goes with a global config in `config_dir`.
pub fn holds_dir(config_dir: &Path) -> PathBuf {
    config_dir.join(HOLDS_FOLDER)
}

/// What is in a holds folder: the hold files, and whatever else is there.
#[derive(Debug, Default)]
pub struct HoldFiles {
    /// Sorted.
    pub files: Vec<PathBuf>,
    /// Entries that look meant as holds but are not read as such (a subfolder, `.YAML`,
    /// `.json`), and a folder that cannot be read: errors, since a hold someone believes in
    /// force and chatvault never reads would let its archives be deleted.
    pub errors: Vec<PathProblem>,
    /// Other files (a README): not holds, said so.
    pub warnings: Vec<PathProblem>,
}

/// The hold files directly in `dir` (hidden files left out), and what else is there. No
/// folder, no holds.
pub fn hold_files(dir: &Path) -> HoldFiles {
    let mut found = HoldFiles::default();
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return found,
        Err(e) => {
            found.errors.push(PathProblem {
                path: dir.to_path_buf(),
                message: format!("cannot read the holds folder: {e}"),
            });
            return found;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let extension = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_owned)
            .unwrap_or_default();
        if entry.file_name().to_string_lossy().starts_with('.') {
            // An editor's or git's own files are no one's hold; `.matter.yaml` may well be.
            if HOLD_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str()) {
                found.errors.push(PathProblem {
                    path,
                    message: "a hidden file is not read as a hold: remove the leading `.`"
                        .to_owned(),
                });
            }
            continue;
        }
        let problem = |message: &str| PathProblem {
            path: path.clone(),
            message: message.to_owned(),
        };
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            found.errors.push(problem(
                "a folder in the holds folder is not read: hold files lie directly in it; move \
                 its files up",
            ));
        } else if HOLD_EXTENSIONS.contains(&extension.as_str()) {
            found.files.push(path);
        } else if HOLD_EXTENSIONS.contains(&extension.to_ascii_lowercase().as_str())
            || extension.eq_ignore_ascii_case("json")
        {
            found.errors.push(problem(
                "not read as a hold: a hold file ends in .yaml, .yml or .toml, in lower case; \
                 rename it",
            ));
        } else {
            found
                .warnings
                .push(problem("not a hold file (.yaml, .yml or .toml): not read"));
        }
    }
    found.files.sort();
    found.errors.sort_by(|a, b| a.path.cmp(&b.path));
    found.warnings.sort_by(|a, b| a.path.cmp(&b.path));
    found
}

/// A hold file that could be parsed, by the name it gives its hold (valid or not), with its
/// document to place the problems found across files.
#[derive(Debug, Clone)]
pub struct NamedHold {
    pub name: String,
    pub file: PathBuf,
    pub node: Option<Node>,
}

/// The name a hold file gives its hold: `name`, else the file name without its extension.
pub fn name_of(spec: &HoldFile, file: &Path) -> String {
    spec.name.clone().unwrap_or_else(|| {
        file.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    })
}

/// The jobs a hold may name.
pub struct KnownJobs<'a> {
    pub names: &'a [String],
    /// Every job file was read: a name among none of them is an error. Otherwise (only some
    /// job files were named, or some could not be parsed) it is a warning.
    pub all: bool,
}

/// The hold a schema-valid file describes, every problem reported; `None` when any.
pub fn compile_hold(
    spec: &HoldFile,
    file: &Path,
    jobs: &KnownJobs<'_>,
    ctx: &mut Ctx<'_, '_>,
) -> Option<Hold> {
    let before = ctx.sink.diagnostics.has_errors();
    let name = hold_name(spec, file, ctx);
    let root = FieldPath::root();
    let set_at = time(ctx, &root.key("set_at"), Some(&spec.set_at));
    let covers = covers(spec, ctx);
    if let Some(named) = spec.covers.as_ref().and_then(|c| c.jobs.as_ref()) {
        known_jobs(named, jobs, ctx);
    }
    if before || ctx.sink.diagnostics.has_errors() {
        return None;
    }
    Some(Hold {
        name: name?,
        reason: spec.reason.clone(),
        set_by: spec.set_by.clone(),
        set_at: set_at?,
        covers: covers?,
        file: file.to_path_buf(),
    })
}

/// Hold names show in listings and the viewer: keep them plain, as job names are.
fn hold_name(spec: &HoldFile, file: &Path, ctx: &mut Ctx<'_, '_>) -> Option<String> {
    let path = FieldPath::root().key("name");
    let (name, from_file) = (name_of(spec, file), spec.name.is_none());
    plain_name(name, "hold", from_file, &path, ctx)
}

/// An RFC 3339 time or a date; `None` when absent, already refused by the schema, or bad.
fn time(
    ctx: &mut Ctx<'_, '_>,
    path: &FieldPath,
    text: Option<&str>,
) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = text.filter(|t| !t.is_empty() && ctx.known(path))?;
    let parsed = parse_time(text);
    if parsed.is_none() {
        let shown = ctx.show(path, text);
        ctx.error(
            path,
            format!(
                "{shown}: expected an RFC 3339 time (2026-03-01T09:30:00Z) or a date (2026-03-01)"
            ),
        );
    }
    parsed
}

fn covers(spec: &HoldFile, ctx: &mut Ctx<'_, '_>) -> Option<HoldCovers> {
    let path = FieldPath::root().key("covers");
    if !ctx.known(&path) {
        return None;
    }
    // Missing, it is reported by the schema (a required field).
    let c = spec.covers.as_ref()?;
    // A part the schema refused was given, just not well.
    let refused = ["jobs", "channels", "users", "from", "until"]
        .iter()
        .any(|part| !ctx.known(&path.key(*part)));
    let given = refused
        || c.jobs.is_some()
        || c.channels.is_some()
        || c.users.is_some()
        || c.from.is_some()
        || c.until.is_some();
    if !given {
        ctx.error(
            &path,
            "covers nothing: give at least one of `jobs`, `channels`, `users`, `from`, `until`",
        );
        return None;
    }
    let (jobs, jobs_ok) = list(ctx, &path.key("jobs"), c.jobs.as_deref(), |_| true);
    let (channels, channels_ok) = list(ctx, &path.key("channels"), c.channels.as_deref(), is_cid);
    let (users, users_ok) = list(ctx, &path.key("users"), c.users.as_deref(), |_| true);
    let mut ok = jobs_ok && channels_ok && users_ok;
    let from = time(ctx, &path.key("from"), c.from.as_deref());
    let until = time(ctx, &path.key("until"), c.until.as_deref());
    let bad_time = (c.from.is_some() && from.is_none()) || (c.until.is_some() && until.is_none());
    if let (Some(f), Some(u)) = (from, until)
        && f >= u
    {
        ctx.error(
            &path.key("until"),
            format!(
                "`until` must be after `from` ({}), which it is not",
                f.format("%Y-%m-%dT%H:%M:%SZ")
            ),
        );
        ok = false;
    }
    (ok && !bad_time).then_some(HoldCovers {
        jobs,
        channels,
        users,
        from,
        until,
    })
}

/// A list part of `covers`: given, it lists at least one entry, none empty, each `fits`
/// (channels only: `type:id`). The entries, and whether all was well.
fn list(
    ctx: &mut Ctx<'_, '_>,
    path: &FieldPath,
    items: Option<&[String]>,
    fits: fn(&str) -> bool,
) -> (Vec<String>, bool) {
    let Some(items) = items.filter(|_| ctx.known(path)) else {
        return (Vec::new(), true);
    };
    if items.is_empty() {
        ctx.error(
            path,
            "must not be empty: list at least one, or leave the part out",
        );
        return (Vec::new(), false);
    }
    let mut ok = true;
    for (i, item) in items.iter().enumerate() {
        let item_path = path.index(i);
        if !ctx.known(&item_path) {
            continue;
        }
        if item.is_empty() {
            ctx.error(&item_path, "must not be empty");
            ok = false;
        } else if item.trim() != item {
            // `"u1 "` matches no one, so the hold would keep nothing while looking in force.
            ctx.error(
                &item_path,
                "starts or ends with a space: ids hold none, so this matches nothing",
            );
            ok = false;
        } else if item.chars().any(char::is_control) || has_hidden(item) {
            // Entries are shown on terminals as they are (the plan, `chatvault holds`).
            ctx.error(
                &item_path,
                "holds a control or invisible character: write the id as it is",
            );
            ok = false;
        } else if !fits(item) {
            let shown = ctx.show(&item_path, item);
            ctx.error(
                &item_path,
                format!("{shown} is not a channel: expected `type:id`, e.g. `messaging:general`"),
            );
            ok = false;
        }
    }
    (items.to_vec(), ok)
}

/// Every job a hold names is a job.
fn known_jobs(named: &[String], jobs: &KnownJobs<'_>, ctx: &mut Ctx<'_, '_>) {
    for (j, job) in named.iter().enumerate() {
        let path = FieldPath::root().key("covers").key("jobs").index(j);
        if job.is_empty() || jobs.names.contains(job) || !ctx.known(&path) {
            continue;
        }
        let hint = did_you_mean(job, jobs.names.iter().map(String::as_str))
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_default();
        if jobs.all {
            ctx.error(&path, format!("no job named `{job}`{hint}"));
        } else {
            ctx.warning(
                &path,
                format!("no job named `{job}` among the job files read{hint}"),
            );
        }
    }
}

/// The rule across hold files: names are unique.
pub fn cross_check(holds: &[NamedHold], diagnostics: &mut Diagnostics) {
    let name_path = FieldPath::root().key("name");
    for (i, hold) in holds.iter().enumerate() {
        let others: Vec<String> = holds
            .iter()
            .enumerate()
            .filter(|(j, other)| *j != i && other.name == hold.name)
            .map(|(_, other)| other.file.display().to_string())
            .collect();
        if others.is_empty() {
            continue;
        }
        let mut sink = FileSink::new(&hold.file, hold.node.as_ref());
        sink.error(
            &name_path,
            format!(
                "hold name `{}` is also used by {}: names must be unique (set `name`)",
                hold.name,
                others.join(", ")
            ),
        );
        diagnostics.extend(sink.diagnostics);
    }
}
