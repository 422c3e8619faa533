//! From paths on disk to a validated [`JobSet`]: read, parse, interpolate, check against the
//! schema, compile, then check the files against each other. Every problem of every file is
//! gathered; nothing is printed here.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use super::discover::{find_config, job_files, project_dir};
use super::hold::HoldFile;
use super::holds::{HoldFiles, KnownJobs, NamedHold, compile_hold, hold_files, holds_dir, name_of};
use super::interpolate::{Env, expand};
use super::job::{Job, JobSet, Settings};
use super::model::{ConfigFile, JobFile};
use super::schema::{Document, check};
use super::validate::{Ctx, Defaults, Substitutions, compile_job, compile_settings};
use super::{toml, yaml};
use crate::diagnostics::tree::{FieldPath, Node, Seg, Value};
use crate::diagnostics::{Diagnostics, FileSink};
use crate::store::url::StoreUrl;

/// Where job files are when no PATH names them.
const DEFAULT_JOBS: &str = "jobs";

/// Larger than any real job file; a larger one is a mistake, not a job.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// How an unset `${VAR}` without a default counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingVars {
    /// A real run cannot go on without the value.
    Error,
    /// Dry runs, validation and plans: CI often lacks secrets.
    Warn,
}

pub struct LoadOptions<'a> {
    /// Job files and folders; empty means `jobs/`.
    pub paths: Vec<PathBuf>,
    /// The global config; by default `chatvault.yaml|yml|toml` beside the jobs folder.
    pub config: Option<PathBuf>,
    pub env: Env<'a>,
    pub missing_vars: MissingVars,
}

/// A job that is valid as far as can be told, but depends on variables unset in this run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocked {
    pub file: PathBuf,
    pub vars: Vec<String>,
}

/// A job that compiled without errors, with its document so that later phases (the plan's
/// probes, the checks across files) can place their problems at the field's line.
#[derive(Debug)]
pub struct Compiled {
    pub job: Job,
    pub node: Option<Node>,
}

impl Compiled {
    /// Reports a problem with this job's field `path` (later phases' entry point).
    pub fn error(&self, path: &FieldPath, message: String) -> Diagnostics {
        let mut sink = FileSink::new(&self.job.file, self.node.as_ref());
        sink.error(path, message);
        sink.diagnostics
    }

    /// The same, as a warning.
    pub fn warning(&self, path: &FieldPath, message: String) -> Diagnostics {
        let mut sink = FileSink::new(&self.job.file, self.node.as_ref());
        sink.warning(path, message);
        sink.diagnostics
    }
}

#[derive(Debug)]
pub struct Loaded {
    pub settings: Settings,
    /// Every job that compiled without errors, in file order.
    pub jobs: Vec<Compiled>,
    pub diagnostics: Diagnostics,
    /// Job and hold files read (the config not counted).
    pub files: usize,
    pub blocked: Vec<Blocked>,
}

impl Loaded {
    /// The jobs, when no file has an error.
    pub fn into_set(self) -> Option<JobSet> {
        (!self.diagnostics.has_errors()).then(|| JobSet {
            settings: self.settings,
            jobs: self.jobs.into_iter().map(|c| c.job).collect(),
        })
    }
}

pub fn load(opts: &LoadOptions<'_>) -> Loaded {
    let paths = if opts.paths.is_empty() {
        vec![PathBuf::from(DEFAULT_JOBS)]
    } else {
        opts.paths.clone()
    };
    let mut diagnostics = Diagnostics::default();
    let base_dir = project_dir(paths.first().map(PathBuf::as_path));

    let config_file = match &opts.config {
        Some(c) => Some(c.clone()),
        None => find_config(&base_dir)
            .map(|found| found.map(relative_to_cwd))
            .unwrap_or_else(|message| {
                let mut sink = FileSink::new(&base_dir, None);
                sink.error_at(None, message);
                diagnostics.extend(sink.diagnostics);
                None
            }),
    };
    let config_dir = config_file
        .as_deref()
        .and_then(Path::parent)
        .map(|p| {
            if p.as_os_str().is_empty() {
                Path::new(".")
            } else {
                p
            }
        })
        .map_or_else(
            || base_dir.clone(),
            |p| std::path::absolute(p).unwrap_or(p.to_path_buf()),
        );

    let parsed = match &config_file {
        Some(path) => read::<ConfigFile>(
            path,
            parse_file(path, Document::Config),
            Document::Config,
            Some(opts),
        ),
        None => Parsed::empty(),
    };
    let (settings, defaults) = settings_from(
        parsed,
        config_file.as_deref(),
        &config_dir,
        opts,
        &mut diagnostics,
    );

    let (files, problems) = job_files(&paths);
    for p in problems {
        // Run where there are no job files and without a PATH (`jobs` is its default): say
        // what to do about it.
        let message = if p.path == Path::new(DEFAULT_JOBS) && !p.path.exists() {
            "no jobs/ folder here; pass a path (a job file or a folder of them)".to_owned()
        } else {
            p.message
        };
        let mut sink = FileSink::new(&p.path, None);
        sink.error_at(None, message);
        diagnostics.extend(sink.diagnostics);
    }

    let outcomes = in_parallel(&files, |file| {
        let parsed = read::<JobFile>(
            file,
            parse_file(file, Document::Job),
            Document::Job,
            Some(opts),
        );
        load_job(file, parsed, &defaults, &config_dir)
    });
    let mut jobs: Vec<Compiled> = Vec::new();
    let mut blocked = Vec::new();
    let mut job_names = Vec::new();
    let mut all_named = true;
    for outcome in outcomes {
        diagnostics.extend(outcome.diagnostics);
        jobs.extend(outcome.job);
        blocked.extend(outcome.blocked);
        all_named &= outcome.name.is_some();
        job_names.extend(outcome.name);
    }
    cross_check(&jobs, &mut diagnostics);

    // Holds name jobs: all of them can be checked only when every job file was read.
    let all_jobs = all_named && paths.iter().all(|p| p.is_dir());
    let known = KnownJobs {
        names: &job_names,
        all: all_jobs,
    };
    let (holds, hold_count) = load_holds(&config_dir, &known, &mut diagnostics);
    let mut settings = settings;
    settings.holds = holds;
    diagnostics.sort();
    Loaded {
        settings,
        jobs,
        diagnostics,
        files: files.len() + hold_count,
        blocked,
    }
}

/// The holds of the `holds/` folder beside the global config, each checked on its own, then
/// against each other and the job names; the holds without errors, and how many files were read.
fn load_holds(
    config_dir: &Path,
    jobs: &KnownJobs<'_>,
    diagnostics: &mut Diagnostics,
) -> (Vec<super::hold::Hold>, usize) {
    let dir = holds_dir(config_dir);
    let HoldFiles {
        files,
        errors,
        warnings,
    } = hold_files(&dir);
    for p in errors {
        let mut sink = FileSink::new(&p.path, None);
        sink.error_at(None, p.message);
        diagnostics.extend(sink.diagnostics);
    }
    for p in warnings {
        let mut sink = FileSink::new(&p.path, None);
        sink.warning(&FieldPath::root(), p.message);
        diagnostics.extend(sink.diagnostics);
    }
    let mut holds = Vec::new();
    let mut named = Vec::new();
    for file in &files {
        let file = relative_to_cwd(file.clone());
        // Hold files take no `${VAR}`: a reason may well hold a `$`, and nothing in a hold is
        // secret or differs between machines.
        let parsed = read::<HoldFile>(
            &file,
            parse_file(&file, Document::Hold),
            Document::Hold,
            None,
        );
        let mut sink = FileSink::new(&file, parsed.node.as_ref());
        sink.diagnostics.extend(parsed.diagnostics);
        if let Some(spec) = &parsed.value {
            let mut ctx = Ctx {
                sink: &mut sink,
                subs: &parsed.subs,
            };
            holds.extend(compile_hold(spec, &file, jobs, &mut ctx));
            named.push(NamedHold {
                name: name_of(spec, &file),
                file: file.clone(),
                node: parsed.node.clone(),
            });
        }
        diagnostics.extend(sink.diagnostics);
    }
    super::holds::cross_check(&named, diagnostics);
    (holds, files.len())
}

/// One valid job from YAML text (no variables set), for unit tests elsewhere in the crate
/// that need a real [`Job`] rather than a hand-built one.
#[cfg(test)]
pub fn test_job(yaml: &str) -> Job {
    let env = |_: &str| None;
    let opts = LoadOptions {
        paths: Vec::new(),
        config: None,
        env: &env,
        missing_vars: MissingVars::Warn,
    };
    let loaded = load_job_text(Path::new("test.yaml"), yaml.as_bytes(), &opts);
    let diagnostics = loaded.diagnostics.clone();
    match loaded.into_set() {
        Some(mut set) if set.jobs.len() == 1 => set.jobs.remove(0),
        _ => panic!("not one valid job: {diagnostics:?}"),
    }
}

/// What [`load`] makes of one job file on its own, read from `bytes` rather than the disk,
/// with the embedded defaults (no global config) and without the checks across files. `file`
/// names it in diagnostics, and its extension picks the format (`.toml` is TOML, anything
/// else YAML). Relative `file://` destinations are read from the current folder.
pub fn load_job_text(file: &Path, bytes: &[u8], opts: &LoadOptions<'_>) -> Loaded {
    let mut diagnostics = Diagnostics::default();
    let config_dir = PathBuf::from(".");
    let (settings, defaults) =
        settings_from(Parsed::empty(), None, &config_dir, opts, &mut diagnostics);
    let parsed = read::<JobFile>(
        file,
        parse_bytes(file, bytes, Document::Job),
        Document::Job,
        Some(opts),
    );
    let outcome = load_job(file, parsed, &defaults, &config_dir);
    diagnostics.extend(outcome.diagnostics);
    diagnostics.sort();
    Loaded {
        settings,
        jobs: outcome.job.into_iter().collect(),
        diagnostics,
        files: 1,
        blocked: outcome.blocked.into_iter().collect(),
    }
}

/// What [`load`] makes of a global config, read from `bytes` rather than the disk; the
/// result holds no jobs. `file` names it and picks the format, as for [`load_job_text`].
pub fn load_config_text(file: &Path, bytes: &[u8], opts: &LoadOptions<'_>) -> Loaded {
    let mut diagnostics = Diagnostics::default();
    let config_dir = PathBuf::from(".");
    let parsed = read::<ConfigFile>(
        file,
        parse_bytes(file, bytes, Document::Config),
        Document::Config,
        Some(opts),
    );
    let (settings, _) = settings_from(parsed, Some(file), &config_dir, opts, &mut diagnostics);
    diagnostics.sort();
    Loaded {
        settings,
        jobs: Vec::new(),
        diagnostics,
        files: 0,
        blocked: Vec::new(),
    }
}

/// The global settings and the defaults jobs inherit, from a parsed config (or none).
fn settings_from(
    parsed: Parsed<ConfigFile>,
    config_file: Option<&Path>,
    config_dir: &Path,
    opts: &LoadOptions<'_>,
    diagnostics: &mut Diagnostics,
) -> (Settings, Defaults) {
    let file = config_file.map(Path::to_path_buf).unwrap_or_default();
    let mut sink = FileSink::new(&file, parsed.node.as_ref());
    sink.diagnostics.extend(parsed.diagnostics);
    let spec = parsed.value.unwrap_or_default();
    let mut ctx = Ctx {
        sink: &mut sink,
        subs: &parsed.subs,
    };
    let out = compile_settings(&spec, config_file, config_dir, opts.env, &mut ctx);
    diagnostics.extend(sink.diagnostics);
    out
}

/// A found config is shown like the job files, relative to where chatvault runs, so CI
/// annotations attach to it.
fn relative_to_cwd(path: PathBuf) -> PathBuf {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(Path::to_path_buf))
        .unwrap_or(path)
}

/// What one job file came to.
struct JobOutcome {
    /// The job's name as written (or from the file name), whether or not the job is valid;
    /// `None` when the file could not be parsed.
    name: Option<String>,
    diagnostics: Diagnostics,
    job: Option<Compiled>,
    blocked: Option<Blocked>,
}

/// Everything that can be known about one job file on its own, short of planning it.
fn load_job(
    file: &Path,
    parsed: Parsed<JobFile>,
    defaults: &Defaults,
    config_dir: &Path,
) -> JobOutcome {
    let mut sink = FileSink::new(file, parsed.node.as_ref());
    sink.diagnostics.extend(parsed.diagnostics);
    let mut outcome = JobOutcome {
        name: parsed.value.as_ref().map(|spec| {
            spec.name.clone().unwrap_or_else(|| {
                file.file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            })
        }),
        diagnostics: Diagnostics::default(),
        job: None,
        blocked: None,
    };
    if let Some(spec) = &parsed.value {
        let mut ctx = Ctx {
            sink: &mut sink,
            subs: &parsed.subs,
        };
        let job = compile_job(spec, file, defaults, config_dir, &mut ctx);
        match job {
            _ if sink.diagnostics.has_errors() => {}
            // Valid as far as can be told, but a run would need the unset variables.
            _ if !parsed.missing.is_empty() => {
                outcome.blocked = Some(Blocked {
                    file: file.to_path_buf(),
                    vars: parsed.missing.clone(),
                });
            }
            Some(job) => {
                outcome.job = Some(Compiled {
                    job,
                    node: parsed.node.clone(),
                });
            }
            None => {
                outcome.blocked = Some(Blocked {
                    file: file.to_path_buf(),
                    vars: parsed.missing.clone(),
                });
            }
        }
    }
    outcome.diagnostics = sink.diagnostics;
    outcome
}

/// `f` over every item on all cores, results in the items' order. Job files are independent
/// until the cross-file checks, and validating thousands of them is CI's critical path (the
/// plan's checks run through it too).
pub fn in_parallel<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = items.len().div_ceil(threads).max(1);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
            })
            .collect()
    })
}

/// Rules that need every job at once: unique names, and keys that cannot collide between
/// jobs writing to the same destination.
fn cross_check(jobs: &[Compiled], diagnostics: &mut Diagnostics) {
    let key_path = FieldPath::root().key("destination").key("key");
    let mut by_name: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, Compiled { job, .. }) in jobs.iter().enumerate() {
        by_name.entry(job.name.as_str()).or_default().push(i);
    }
    for same in by_name.values().filter(|v| v.len() > 1) {
        for &i in same {
            let Compiled { job, node } = &jobs[i];
            let others = same
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| jobs[j].job.file.display().to_string())
                .collect::<Vec<_>>()
                .join(", ");
            let mut sink = FileSink::new(&job.file, node.as_ref());
            sink.error(
                &FieldPath::root().key("name"),
                format!(
                    "job name `{}` is also used by {others}: names must be unique (set `name`)",
                    job.name
                ),
            );
            diagnostics.extend(sink.diagnostics);
        }
    }

    let mut by_destination: HashMap<&StoreUrl, Vec<usize>> = HashMap::new();
    for (i, Compiled { job, .. }) in jobs.iter().enumerate() {
        by_destination
            .entry(&job.destination.url)
            .or_default()
            .push(i);
    }
    for same in by_destination.values().filter(|v| v.len() > 1) {
        for &i in same {
            let Compiled { job, node } = &jobs[i];
            if job.destination.key.is_job_scoped() {
                continue;
            }
            let names = same
                .iter()
                .filter(|&&j| j != i)
                .map(|&j| format!("`{}` ({})", jobs[j].job.name, jobs[j].job.file.display()))
                .collect::<Vec<_>>()
                .join(", ");
            let mut sink = FileSink::new(&job.file, node.as_ref());
            sink.error(
                &key_path,
                format!(
                    "keys may collide with job {names}, which writes to {} too: add {{job}} to the key",
                    job.destination.url
                ),
            );
            diagnostics.extend(sink.diagnostics);
        }
    }
}

/// One file through reading, parsing, interpolation, the schema and serde.
struct Parsed<T> {
    node: Option<Node>,
    value: Option<T>,
    subs: Substitutions,
    missing: Vec<String>,
    diagnostics: Diagnostics,
}

impl<T> Parsed<T> {
    fn empty() -> Self {
        Parsed {
            node: None,
            value: None,
            subs: Substitutions::default(),
            missing: Vec::new(),
            diagnostics: Diagnostics::default(),
        }
    }
}

/// `vars`: where `${VAR}` values come from; `None` for files that take none (holds).
fn read<T: DeserializeOwned>(
    path: &Path,
    parsed: Result<Node, Diagnostics>,
    doc: Document,
    vars: Option<&LoadOptions<'_>>,
) -> Parsed<T> {
    let mut out = Parsed::empty();
    let mut node = match parsed {
        Ok(node) => node,
        Err(diagnostics) => {
            out.diagnostics = diagnostics;
            return out;
        }
    };
    let found = match vars {
        Some(opts) => interpolate(&mut node, opts.env, opts.missing_vars),
        None => Interpolated::nothing(),
    };
    let mut sink = FileSink::new(path, Some(&node));
    for (field, message) in &found.errors {
        sink.error(field, message.clone());
    }
    for (field, message) in &found.warnings {
        sink.warning(field, message.clone());
    }
    let mut subs = found.subs;
    let mut json = node.to_json();
    let under = |set: &HashSet<FieldPath>, p: &FieldPath| set.iter().any(|u| p.starts_with(u));
    // A field naming an unset variable holds `${…}` text, which may not fit its type: drop
    // it quietly (the variable was warned about) rather than report it.
    let (hidden, issues): (Vec<_>, Vec<_>) = check(doc, &json, &|p| under(&subs.interpolated, p))
        .into_iter()
        .partition(|i| under(&subs.unchecked, &i.path));
    for issue in &hidden {
        prune(&mut json, &issue.path);
    }
    for issue in &issues {
        if issue.at_key {
            sink.error_at_key(&issue.path, issue.message.clone());
        } else {
            sink.error(&issue.path, issue.message.clone());
        }
        // Drop what the schema refused so the semantic rules still check everything else.
        let dropped = prune(&mut json, &issue.path);
        subs.unchecked.insert(dropped);
    }
    if found.errors.is_empty() {
        match serde_json::from_value::<T>(json) {
            Ok(v) => out.value = Some(v),
            Err(e) if issues.is_empty() => sink.error(&FieldPath::root(), e.to_string()),
            Err(_) => {}
        }
    }
    out.diagnostics = sink.diagnostics;
    out.subs = subs;
    out.missing = found.missing;
    out.node = Some(node);
    out
}

/// Removes the field at `path` (or the list holding it) from `json`; returns what was removed.
fn prune(json: &mut serde_json::Value, path: &FieldPath) -> FieldPath {
    let segs = path.segments();
    let Some(end) = segs.iter().rposition(|s| matches!(s, Seg::Key(_))) else {
        return FieldPath::root();
    };
    let (parent, Seg::Key(key)) = (&segs[..end], &segs[end]) else {
        return FieldPath::root();
    };
    let mut target = Some(json);
    let mut kept = FieldPath::root();
    for seg in parent {
        target = match (seg, target) {
            (Seg::Key(k), Some(v)) => v.get_mut(k.as_str()),
            (Seg::Index(i), Some(v)) => v.get_mut(*i),
            (_, None) => None,
        };
        kept = match seg {
            Seg::Key(k) => kept.key(k.clone()),
            Seg::Index(i) => kept.index(*i),
        };
    }
    if let Some(serde_json::Value::Object(map)) = target {
        map.remove(key);
    }
    kept.key(key.clone())
}

/// The file's bytes, refusing what is not a regular file or is too large to be a job file.
/// Reads at most one byte past the limit, so a symlink to `/dev/zero` cannot fill memory.
fn read_bounded(path: &Path) -> Result<Vec<u8>, String> {
    let file = fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot read: {e}"))?;
    if !meta.is_file() {
        return Err("not a regular file: job and config files are YAML or TOML files".into());
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(format!(
            "file is {} bytes; job and config files are at most {MAX_FILE_BYTES} bytes",
            meta.len()
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(format!(
            "file is larger than {MAX_FILE_BYTES} bytes, the limit for job and config files"
        ));
    }
    Ok(bytes)
}

fn parse_file(path: &Path, doc: Document) -> Result<Node, Diagnostics> {
    match read_bounded(path) {
        Ok(bytes) => parse_bytes(path, &bytes, doc),
        Err(message) => {
            let mut sink = FileSink::new(path, None);
            sink.error_at(None, message);
            Err(sink.diagnostics)
        }
    }
}

/// A file's bytes as a tree; the format follows `path`'s extension.
fn parse_bytes(path: &Path, bytes: &[u8], doc: Document) -> Result<Node, Diagnostics> {
    let mut sink = FileSink::new(path, None);
    if bytes.len() as u64 > MAX_FILE_BYTES {
        sink.error_at(
            None,
            format!(
                "file is {} bytes; job and config files are at most {MAX_FILE_BYTES} bytes",
                bytes.len()
            ),
        );
        return Err(sink.diagnostics);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let valid = std::str::from_utf8(&bytes[..e.valid_up_to()]).unwrap_or("");
            let pos = crate::diagnostics::tree::LineIndex::new(valid).pos(valid.len());
            sink.error_at(
                Some(pos),
                "not UTF-8 text (is this a binary file?): job files are YAML or TOML",
            );
            return Err(sink.diagnostics);
        }
    };
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let is_toml = path.extension().is_some_and(|e| e == "toml");
    let parsed = if is_toml {
        toml::parse(text)
    } else {
        yaml::parse(text)
    };
    let node = match parsed {
        Ok(node) => node,
        Err(e) => {
            let format = if is_toml { "TOML" } else { "YAML" };
            sink.error_at(Some(e.pos), format!("invalid {format}: {}", e.message));
            return Err(sink.diagnostics);
        }
    };
    match node.value {
        Value::Map(_) => Ok(node),
        Value::Null => {
            let expected = match doc {
                Document::Hold => "`reason`, `set_by`, `set_at` and `covers`",
                Document::Job | Document::Config => "`schedule` and `channels`",
            };
            sink.error_at(
                Some(node.pos),
                format!("the file is empty: expected fields such as {expected}"),
            );
            Err(sink.diagnostics)
        }
        _ => {
            sink.error_at(
                Some(node.pos),
                format!(
                    "expected a mapping of fields at the top, found {}",
                    node.type_name()
                ),
            );
            Err(sink.diagnostics)
        }
    }
}

struct Interpolated {
    subs: Substitutions,
    missing: Vec<String>,
    errors: Vec<(FieldPath, String)>,
    warnings: Vec<(FieldPath, String)>,
}

impl Interpolated {
    fn nothing() -> Self {
        Interpolated {
            subs: Substitutions::default(),
            missing: Vec::new(),
            errors: Vec::new(),
            warnings: Vec::new(),
        }
    }
}

/// Substitutes `${VAR}` in every string, recording which fields came from the environment.
/// An unset variable in a dry run leaves its field as written and marks it unchecked.
fn interpolate(node: &mut Node, env: Env<'_>, missing_vars: MissingVars) -> Interpolated {
    let mut out = Interpolated::nothing();
    walk_strings(
        node,
        &FieldPath::root(),
        &mut |path, text| match expand(text, env) {
            Err(e) => {
                out.subs.unchecked.insert(path.clone());
                out.errors.push((path.clone(), e.to_string()));
            }
            Ok(e) => {
                if e.substituted {
                    out.subs.interpolated.insert(path.clone());
                }
                if e.missing.is_empty() {
                    *text = e.text;
                    return;
                }
                let vars = e
                    .missing
                    .iter()
                    .map(|v| format!("${{{v}}}"))
                    .collect::<Vec<_>>()
                    .join(", ");
                let verb = if e.missing.len() == 1 { "is" } else { "are" };
                let message =
                    format!("{vars} {verb} not set and has no default (`${{NAME:-default}}`)");
                match missing_vars {
                    MissingVars::Error => out.errors.push((path.clone(), message)),
                    MissingVars::Warn => {
                        out.subs.unchecked.insert(path.clone());
                        out.warnings.push((
                            path.clone(),
                            format!("{message}; not checked in this dry run"),
                        ));
                    }
                }
                out.missing.extend(e.missing);
            }
        },
    );
    out
}

fn walk_strings(node: &mut Node, path: &FieldPath, f: &mut dyn FnMut(&FieldPath, &mut String)) {
    match &mut node.value {
        Value::Str(s) => f(path, s),
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                walk_strings(item, &path.index(i), f);
            }
        }
        Value::Map(entries) => {
            for e in entries {
                walk_strings(&mut e.value, &path.key(e.key.clone()), f);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(env: Env<'_>) -> LoadOptions<'_> {
        LoadOptions {
            paths: Vec::new(),
            config: None,
            env,
            missing_vars: MissingVars::Warn,
        }
    }

    #[test]
    fn job_text_loads_like_a_file_in_either_format() {
        let env = |_: &str| None;
        let yaml = "schedule: \"@daily\"\nusers: [alice]\n";
        let loaded = load_job_text(Path::new("jobs/a.yaml"), yaml.as_bytes(), &opts(&env));
        let set = loaded.into_set().expect("valid");
        assert_eq!(set.jobs.len(), 1);
        assert_eq!(set.jobs[0].name, "a");

        let toml = "schedule = \"@daily\"\nusers = [\"alice\"]\nbogus = 1\n";
        let loaded = load_job_text(Path::new("b.toml"), toml.as_bytes(), &opts(&env));
        assert!(loaded.diagnostics.has_errors());
        let d = loaded.diagnostics.iter().next().expect("a diagnostic");
        assert_eq!(
            (d.file.as_path(), d.pos.map(|p| p.line)),
            (Path::new("b.toml"), Some(3))
        );
    }

    #[test]
    fn job_text_gets_the_file_checks_too() {
        let env = |_: &str| None;
        let loaded = load_job_text(Path::new("bin.yaml"), b"a: \xff\n", &opts(&env));
        assert!(
            loaded
                .diagnostics
                .iter()
                .any(|d| d.message.contains("not UTF-8"))
        );
        let big = vec![b'#'; MAX_FILE_BYTES as usize + 1];
        let loaded = load_job_text(Path::new("big.yaml"), &big, &opts(&env));
        assert!(
            loaded
                .diagnostics
                .iter()
                .any(|d| d.message.contains("at most"))
        );
    }

    #[test]
    fn config_text_is_checked_on_its_own() {
        let env = |name: &str| (name == "KEY").then(|| "k".to_owned());
        let text = "api:\n  key: ${KEY}\n  base_url: ftp://nowhere\n";
        let loaded = load_config_text(Path::new("chatvault.yaml"), text.as_bytes(), &opts(&env));
        assert!(loaded.diagnostics.has_errors());
        let d = loaded.diagnostics.iter().next().expect("a diagnostic");
        assert_eq!(d.pos.map(|p| p.line), Some(3), "{d:?}");
        let loaded = load_config_text(Path::new("c.toml"), b"[api]\nkey = \"k\"\n", &opts(&env));
        assert!(!loaded.diagnostics.has_errors(), "{:?}", loaded.diagnostics);
    }

    #[test]
    fn immutable_comes_from_the_defaults_unless_a_job_says_otherwise() {
        let dir = tempfile::tempdir().expect("tempdir");
        let jobs = dir.path().join("jobs");
        std::fs::create_dir(&jobs).expect("mkdir");
        let config = dir.path().join("chatvault.yaml");
        std::fs::write(&config, "defaults:\n  destination:\n    immutable: true\n")
            .expect("config");
        let job = "schedule: \"@daily\"\nusers: [alice]\n";
        std::fs::write(jobs.join("locked.yaml"), job).expect("job");
        let opted_out = format!("{job}destination:\n  immutable: false\n");
        std::fs::write(jobs.join("plain.yaml"), opted_out).expect("job");
        let env = |_: &str| None;
        let loaded = load(&LoadOptions {
            paths: vec![jobs],
            config: Some(config),
            env: &env,
            missing_vars: MissingVars::Warn,
        });
        let diagnostics = loaded.diagnostics.clone();
        let set = loaded
            .into_set()
            .unwrap_or_else(|| panic!("{diagnostics:?}"));
        let immutable: Vec<_> = set
            .jobs
            .iter()
            .map(|j| (j.name.as_str(), j.destination.immutable))
            .collect();
        assert_eq!(immutable, [("locked", true), ("plain", false)]);
        let env = |_: &str| None;
        let alone = load_job_text(Path::new("a.yaml"), job.as_bytes(), &opts(&env));
        let set = alone.into_set().expect("valid");
        assert!(!set.jobs[0].destination.immutable, "off by default");
    }

    #[test]
    fn yaml_and_toml_media_blocks_mean_the_same() {
        let env = |_: &str| None;
        let opts = opts(&env);
        let yaml = "schedule: \"@daily\"\nusers: [alice]\nmedia:\n  capture: true\n  hosts: [\"*.stream-io-cdn.com\", cdn.example.com]\n  allow_http: true\n  allow_private_addresses: false\n  max_file_size: 1.5GiB\n  concurrency: 16\n  prefix: _media\n";
        let toml = "schedule = \"@daily\"\nusers = [\"alice\"]\n[media]\ncapture = true\nhosts = [\"*.stream-io-cdn.com\", \"cdn.example.com\"]\nallow_http = true\nallow_private_addresses = false\nmax_file_size = \"1.5GiB\"\nconcurrency = 16\nprefix = \"_media\"\n";
        let media_of = |file: &str, text: &str| {
            let loaded = load_job_text(Path::new(file), text.as_bytes(), &opts);
            let set = loaded.into_set().expect("valid");
            set.jobs[0].media.clone()
        };
        let expected = crate::config::job::MediaSettings {
            capture: true,
            hosts: vec!["*.stream-io-cdn.com".into(), "cdn.example.com".into()],
            allow_http: true,
            allow_private_addresses: false,
            max_file_size: 3 << 29,
            concurrency: 16,
            prefix: "_media".into(),
        };
        assert_eq!(media_of("a.yaml", yaml), expected);
        assert_eq!(media_of("a.toml", toml), expected);
    }

    /// The global config's `signing:`, by the rules in `validate/settings.rs`.
    mod signing {
        use std::path::{Path, PathBuf};

        use crate::config::job::SecretSource;
        use crate::config::load::{LoadOptions, Loaded, MissingVars, load_config_text};
        use crate::diagnostics::Severity;

        const PEM: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIKEYMATERIAL42\n-----END PRIVATE KEY-----";

        fn config(yaml: &str) -> Loaded {
            let env = |name: &str| (name == "SIGNING_KEY").then(|| PEM.to_owned());
            let opts = LoadOptions {
                paths: Vec::new(),
                config: None,
                env: &env,
                missing_vars: MissingVars::Warn,
            };
            load_config_text(Path::new("chatvault.yaml"), yaml.as_bytes(), &opts)
        }

        /// Each diagnostic as `line: severity field: message`.
        fn said(loaded: &Loaded) -> Vec<String> {
            loaded
                .diagnostics
                .iter()
                .map(|d| {
                    let severity = match d.severity {
                        Severity::Error => "error",
                        Severity::Warning => "warning",
                    };
                    let line = d.pos.map_or(0, |p| p.line);
                    format!("{line}: {severity} {}: {}", d.path, d.message)
                })
                .collect()
        }

        #[test]
        fn a_key_from_the_environment_is_taken_without_a_word() {
            let loaded = config("signing:\n  key: ${SIGNING_KEY}\n");
            assert_eq!(said(&loaded), Vec::<String>::new());
            match &loaded.settings.signing.key {
                Some(SecretSource::Value(text)) => assert_eq!(text, PEM),
                other => panic!("not the key's text: {other:?}"),
            }
        }

        #[test]
        fn an_inline_key_is_a_warning_at_the_field_that_does_not_quote_it() {
            let loaded = config(&format!(
                "signing:\n  key: |\n    {}\n",
                PEM.replace('\n', "\n    ")
            ));
            let said = said(&loaded);
            assert_eq!(said.len(), 1, "{said:?}");
            assert!(
                said[0].starts_with(
                    "3: warning signing.key: the private signing key is written inline"
                ),
                "{said:?}"
            );
            assert!(!said[0].contains("KEYMATERIAL"), "{said:?}");
            assert!(loaded.settings.signing.key.is_some());
        }

        #[test]
        fn key_and_key_file_together_are_an_error_at_key_file() {
            let loaded = config("signing:\n  key: ${SIGNING_KEY}\n  key_file: signing.pem\n");
            assert_eq!(
                said(&loaded),
                ["3: error signing.key_file: set either `key` or `key_file`, not both"]
            );
        }

        #[test]
        fn files_are_read_from_the_configs_folder_and_not_at_load() {
            let loaded = config(
                "signing:\n  key_file: keys/signing.pem\n  public_key_files: [keys/old.pub, /etc/new.pub]\n",
            );
            assert_eq!(said(&loaded), Vec::<String>::new());
            let signing = &loaded.settings.signing;
            match &signing.key {
                Some(SecretSource::File(path)) => {
                    assert_eq!(path, &Path::new(".").join("keys/signing.pem"));
                }
                other => panic!("not the key file: {other:?}"),
            }
            assert_eq!(
                signing.public_key_files,
                [
                    Path::new(".").join("keys/old.pub"),
                    PathBuf::from("/etc/new.pub")
                ]
            );
        }

        #[test]
        fn an_unset_variable_leaves_no_key_text_but_a_key_to_refuse() {
            let loaded = config("signing:\n  key: ${UNSET_KEY}\n");
            match &loaded.settings.signing.key {
                Some(SecretSource::Value(text)) => assert_eq!(text, ""),
                other => panic!("not an empty key: {other:?}"),
            }
        }

        #[test]
        fn without_a_signing_section_nothing_is_signed() {
            let loaded = config("api:\n  key: k\n");
            assert!(loaded.settings.signing.key.is_none());
            assert!(loaded.settings.signing.public_key_files.is_empty());
        }

        #[test]
        fn an_unknown_signing_field_names_the_known_ones() {
            let loaded = config("signing:\n  keyfile: a.pem\n");
            let said = said(&loaded);
            assert_eq!(said.len(), 1, "{said:?}");
            assert!(
                said[0].starts_with("2: error signing.keyfile: unknown field"),
                "{said:?}"
            );
            assert!(said[0].contains("key_file"), "{said:?}");
        }

        #[test]
        fn the_settings_debug_never_shows_the_key() {
            let loaded = config("signing:\n  key: ${SIGNING_KEY}\n");
            let shown = format!("{:?} {:#?}", loaded.settings, loaded.settings);
            assert!(!shown.contains("KEYMATERIAL"), "{shown}");
            assert!(!shown.contains("PRIVATE KEY"), "{shown}");
            assert!(shown.contains("signing"), "{shown}");
        }
    }

    /// Hold files in `holds/` beside the global config, by the rules in `holds.rs`.
    mod hold_files {
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
        fn what_looks_meant_as_a_hold_but_is_not_read_is_an_error_and_other_files_a_warning() {
            let padded = GOOD.replace("users: [alice]", "users: [\"alice \"]");
            let holds = [
                ("caps.YAML", GOOD),
                ("j.json", "{}"),
                ("README.md", "what these holds are"),
                ("2026/sub.yaml", GOOD),
                ("kept.yaml", GOOD),
                (".hidden.yaml", GOOD),
                (".gitkeep", ""),
                ("padded.yaml", &padded),
            ];
            let dir = tempfile::tempdir().expect("tempdir");
            let root = dir.path();
            std::fs::create_dir_all(root.join("jobs")).expect("mkdir");
            std::fs::create_dir_all(root.join("holds/2026")).expect("mkdir");
            std::fs::write(root.join("jobs/support.yaml"), JOB).expect("job");
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
            assert_eq!(
                said(root, &loaded),
                [
                    "holds/.hidden.yaml:0: error (file): a hidden file is not read as a hold: \
                     remove the leading `.`",
                    "holds/2026:0: error (file): a folder in the holds folder is not read: hold files \
                     lie directly in it; move its files up",
                    "holds/README.md:0: warning (file): not a hold file (.yaml, .yml or .toml): not read",
                    "holds/caps.YAML:0: error (file): not read as a hold: a hold file ends in .yaml, \
                     .yml or .toml, in lower case; rename it",
                    "holds/j.json:0: error (file): not read as a hold: a hold file ends in .yaml, .yml \
                     or .toml, in lower case; rename it",
                    "holds/padded.yaml:6: error covers.users[0]: starts or ends with a space: ids \
                     hold none, so this matches nothing",
                ]
            );
            assert_eq!(loaded.settings.holds.len(), 1, "kept.yaml is read");
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
            let bad = "name: matter 1\nreason: \"\"\nset_by: legal\nset_at: last tuesday\nowner: me\ncovers:\n  jobs: [suport, billing]\n  channels: [general, \"messaging:ok\", \"messaging:\\u202egnp\"]\n  users: []\n  from: 2026-02-01\n  until: 2026-01-01\n";
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
                            "holds/a.yaml:7: error covers.jobs[0]: no job named `suport`; did you mean `support`?",
                            "holds/a.yaml:7: error covers.jobs[1]: no job named `billing`",
                            "holds/a.yaml:8: error covers.channels[0]: `general` is not a channel: expected `type:id`, e.g. `messaging:general`",
                            "holds/a.yaml:8: error covers.channels[2]: holds a control or invisible character: write the id as it is",
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
}
