//! Hold files: found in the `holds/` folder, each checked on its own (after the schema) into a
//! [`Hold`], then all of them against each other and against the jobs.

use std::fs;
use std::path::{Path, PathBuf};

use super::discover::PathProblem;
use super::hold::{HOLDS_FOLDER, Hold, HoldCovers, HoldFile};
use super::validate::Ctx;
use crate::diagnostics::tree::{FieldPath, Node};
use crate::diagnostics::{Diagnostics, FileSink};
use crate::query::{is_cid, parse_time};
use crate::suggest::did_you_mean;

const HOLD_EXTENSIONS: [&str; 3] = ["yaml", "yml", "toml"];
const MAX_NAME_LEN: usize = 64;

/// The holds folder that goes with a global config in `config_dir`.
pub fn holds_dir(config_dir: &Path) -> PathBuf {
    config_dir.join(HOLDS_FOLDER)
}

/// The hold files directly in `dir` (hidden files left out), sorted. No folder, no holds.
pub fn hold_files(dir: &Path) -> (Vec<PathBuf>, Vec<PathProblem>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return (Vec::new(), Vec::new()),
        Err(e) => {
            let problem = PathProblem {
                path: dir.to_path_buf(),
                message: format!("cannot read the holds folder: {e}"),
            };
            return (Vec::new(), vec![problem]);
        }
    };
    let mut files: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .map(|e| e.path())
        .filter(|p| {
            p.extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| HOLD_EXTENSIONS.contains(&e))
        })
        .collect();
    files.sort();
    (files, Vec::new())
}

/// A hold file that passed its own rules, with its document to place later problems.
#[derive(Debug, Clone)]
pub struct CompiledHold {
    pub hold: Hold,
    pub node: Option<Node>,
}

/// The hold a schema-valid file describes, every problem reported; `None` when any.
pub fn compile_hold(spec: &HoldFile, file: &Path, ctx: &mut Ctx<'_, '_>) -> Option<Hold> {
    let before = ctx.sink.diagnostics.has_errors();
    let name = hold_name(spec, file, ctx);
    let root = FieldPath::root();
    let set_at = time(ctx, &root.key("set_at"), Some(&spec.set_at));
    let covers = covers(spec, ctx);
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
    let (name, from_file) = match &spec.name {
        Some(n) => (n.clone(), false),
        None => (
            file.file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default(),
            true,
        ),
    };
    let starts_ok = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric());
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if starts_ok && chars_ok && name.len() <= MAX_NAME_LEN {
        return Some(name);
    }
    let rule = "use letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most 64 characters";
    if from_file {
        ctx.error(
            &FieldPath::root(),
            format!(
                "the hold name `{name}` taken from the file name is not valid: {rule}; or set `name`"
            ),
        );
    } else {
        let shown = ctx.show(&path, &name);
        ctx.error(&path, format!("{shown} is not a valid hold name: {rule}"));
    }
    None
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

/// The rules across hold files: names are unique, and every job a hold names is a job.
/// `jobs` are the names of the jobs loaded; with `all_jobs` false (only some job files were
/// loaded, or some could not be read) a name among none of them is a warning, not an error.
pub fn cross_check(
    holds: &[CompiledHold],
    jobs: &[String],
    all_jobs: bool,
    diagnostics: &mut Diagnostics,
) {
    let name_path = FieldPath::root().key("name");
    for (i, CompiledHold { hold, node }) in holds.iter().enumerate() {
        let mut sink = FileSink::new(&hold.file, node.as_ref());
        let others: Vec<String> = holds
            .iter()
            .enumerate()
            .filter(|(j, other)| *j != i && other.hold.name == hold.name)
            .map(|(_, other)| other.hold.file.display().to_string())
            .collect();
        if !others.is_empty() {
            sink.error(
                &name_path,
                format!(
                    "hold name `{}` is also used by {}: names must be unique (set `name`)",
                    hold.name,
                    others.join(", ")
                ),
            );
        }
        for (j, job) in hold.covers.jobs.iter().enumerate() {
            if jobs.contains(job) {
                continue;
            }
            let path = FieldPath::root().key("covers").key("jobs").index(j);
            let hint = did_you_mean(job, jobs.iter().map(String::as_str))
                .map(|s| format!("; did you mean `{s}`?"))
                .unwrap_or_default();
            if all_jobs {
                sink.error(&path, format!("no job named `{job}`{hint}"));
            } else {
                sink.warning(
                    &path,
                    format!("no job named `{job}` among the job files read{hint}"),
                );
            }
        }
        diagnostics.extend(sink.diagnostics);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::config::load::{LoadOptions, Loaded, MissingVars, load};
    use crate::diagnostics::Severity;

    const JOB: &str = "schedule: \"@daily\"\nusers: [alice]\n";

    /// A project with jobs `support` and `sales`, the global config left out, and these hold
    /// files; loaded from its jobs folder.
    fn project(holds: &[(&str, &str)], run: impl FnOnce(&Path, Loaded)) {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("jobs")).expect("mkdir");
        std::fs::create_dir_all(root.join("holds")).expect("mkdir");
        for job in ["support", "sales"] {
            std::fs::write(root.join(format!("jobs/{job}.yaml")), JOB).expect("job");
        }
        for (name, text) in holds {
            std::fs::write(root.join("holds").join(name), text).expect("hold");
        }
        let env = |_: &str| None;
        let loaded = load(&LoadOptions {
            paths: vec![root.join("jobs")],
            config: None,
            env: &env,
            missing_vars: MissingVars::Warn,
        });
        run(root, loaded);
    }

    /// Each diagnostic as `file:line: severity field: message`.
    fn said(root: &Path, loaded: &Loaded) -> Vec<String> {
        loaded
            .diagnostics
            .iter()
            .map(|d| {
                let severity = match d.severity {
                    Severity::Error => "error",
                    Severity::Warning => "warning",
                };
                let file = d.file.strip_prefix(root).unwrap_or(&d.file);
                let line = d.pos.map_or(0, |p| p.line);
                format!(
                    "{}:{line}: {severity} {}: {}",
                    file.display(),
                    d.path,
                    d.message
                )
            })
            .collect()
    }

    const GOOD: &str = "reason: Matter 2026-014\nset_by: legal@example.com\nset_at: 2026-03-01\ncovers:\n  jobs: [support]\n  users: [alice]\n  from: 2026-01-01\n  until: 2026-02-01T12:00:00+01:00\n";

    #[test]
    fn a_valid_hold_fills_the_settings_and_takes_its_name_from_the_file() {
        project(&[("matter-14.yaml", GOOD)], |root, loaded| {
            assert_eq!(said(root, &loaded), Vec::<String>::new());
            assert_eq!(loaded.files, 3, "job and hold files counted");
            let holds = &loaded.settings.holds;
            assert_eq!(holds.len(), 1);
            let hold = &holds[0];
            assert_eq!(hold.name, "matter-14");
            assert_eq!(hold.reason, "Matter 2026-014");
            assert_eq!(hold.set_at.to_rfc3339(), "2026-03-01T00:00:00+00:00");
            assert_eq!(hold.covers.jobs, ["support"]);
            assert_eq!(hold.covers.users, ["alice"]);
            assert!(hold.covers.channels.is_empty());
            assert_eq!(
                hold.covers.until.map(|t| t.to_rfc3339()).as_deref(),
                Some("2026-02-01T11:00:00+00:00")
            );
            assert!(hold.file.ends_with("holds/matter-14.yaml"));
        });
    }

    #[test]
    fn toml_hold_files_are_read_too_and_a_dollar_is_just_text() {
        let toml = "name = \"m\"\nreason = \"costs ${A} and $5\"\nset_by = \"legal\"\nset_at = \"2026-03-01T10:00:00Z\"\n[covers]\nchannels = [\"messaging:general\"]\n";
        project(&[("m.toml", toml)], |root, loaded| {
            assert_eq!(said(root, &loaded), Vec::<String>::new());
            assert_eq!(loaded.settings.holds[0].reason, "costs ${A} and $5");
        });
    }

    #[test]
    fn every_problem_of_every_hold_file_is_reported_at_its_line() {
        let bad = "name: matter 1\nreason: \"\"\nset_by: legal\nset_at: last tuesday\nowner: me\ncovers:\n  jobs: [suport, billing]\n  channels: [general, \"messaging:ok\"]\n  users: []\n  from: 2026-02-01\n  until: 2026-01-01\n";
        let empty_covers = "reason: r\nset_by: s\nset_at: 2026-03-01\ncovers: {}\n";
        let missing = "reason: r\ncovers:\n  jobs: sales\n";
        project(
            &[
                ("a.yaml", bad),
                ("b.yml", empty_covers),
                ("c.yaml", missing),
                ("d.yaml", ""),
            ],
            |root, loaded| {
                assert_eq!(
                    said(root, &loaded),
                    [
                        "holds/a.yaml:1: error name: `matter 1` is not a valid hold name: use letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most 64 characters",
                        "holds/a.yaml:2: error reason: must not be empty",
                        "holds/a.yaml:4: error set_at: `last tuesday`: expected an RFC 3339 time (2026-03-01T09:30:00Z) or a date (2026-03-01)",
                        "holds/a.yaml:5: error owner: unknown field `owner` (expected one of: covers, name, reason, set_at, set_by)",
                        "holds/a.yaml:8: error covers.channels[0]: `general` is not a channel: expected `type:id`, e.g. `messaging:general`",
                        "holds/a.yaml:9: error covers.users: must not be empty: list at least one, or leave the part out",
                        "holds/a.yaml:11: error covers.until: `until` must be after `from` (2026-02-01T00:00:00Z), which it is not",
                        "holds/b.yml:4: error covers: covers nothing: give at least one of `jobs`, `channels`, `users`, `from`, `until`",
                        "holds/c.yaml:1: error set_at: missing required field",
                        "holds/c.yaml:1: error set_by: missing required field",
                        "holds/c.yaml:3: error covers.jobs: expected a list, found a string \"sales\"",
                        "holds/d.yaml:1: error (file): the file is empty: expected fields such as `reason`, `set_by`, `set_at` and `covers`",
                    ]
                );
                assert!(loaded.settings.holds.is_empty());
            },
        );
    }

    #[test]
    fn unknown_jobs_and_shared_names_are_errors_across_files() {
        let naming = |name: &str, job: &str| {
            format!(
                "name: {name}\nreason: r\nset_by: s\nset_at: 2026-03-01\ncovers:\n  jobs: [{job}]\n"
            )
        };
        project(
            &[
                ("a.yaml", &naming("same", "suport")),
                ("b.yaml", &naming("same", "sales")),
            ],
            |root, loaded| {
                assert_eq!(
                    said(root, &loaded),
                    [
                        format!(
                            "holds/a.yaml:1: error name: hold name `same` is also used by {}: names must be unique (set `name`)",
                            root.join("holds/b.yaml").display()
                        ),
                        "holds/a.yaml:6: error covers.jobs[0]: no job named `suport`; did you mean `support`?".to_owned(),
                        format!(
                            "holds/b.yaml:1: error name: hold name `same` is also used by {}: names must be unique (set `name`)",
                            root.join("holds/a.yaml").display()
                        ),
                    ]
                );
            },
        );
    }

    #[test]
    fn with_only_some_job_files_read_an_unknown_job_is_a_warning() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        std::fs::create_dir_all(root.join("jobs")).expect("mkdir");
        std::fs::create_dir_all(root.join("holds")).expect("mkdir");
        std::fs::write(root.join("jobs/support.yaml"), JOB).expect("job");
        std::fs::write(
            root.join("holds/m.yaml"),
            "reason: r\nset_by: s\nset_at: 2026-03-01\ncovers:\n  jobs: [sales]\n",
        )
        .expect("hold");
        let env = |_: &str| None;
        let loaded = load(&LoadOptions {
            paths: vec![root.join("jobs/support.yaml")],
            config: None,
            env: &env,
            missing_vars: MissingVars::Warn,
        });
        assert_eq!(
            said(root, &loaded),
            [
                "holds/m.yaml:5: warning covers.jobs[0]: no job named `sales` among the job files read"
            ]
        );
        assert_eq!(loaded.settings.holds.len(), 1);
    }
}
