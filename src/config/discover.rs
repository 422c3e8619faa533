//! Finding job files and the global config on disk.

use std::fs;
use std::path::{Path, PathBuf};

use super::hold::HOLDS_FOLDER;

pub const CONFIG_NAMES: [&str; 3] = ["chatvault.yaml", "chatvault.yml", "chatvault.toml"];
const JOB_EXTENSIONS: [&str; 3] = ["yaml", "yml", "toml"];

/// A PATH argument that could not be used, with why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathProblem {
    pub path: PathBuf,
    pub message: String,
}

pub fn is_job_file(path: &Path) -> bool {
    let ext_ok = path
        .extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| JOB_EXTENSIONS.contains(&e));
    let is_config = path
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| CONFIG_NAMES.contains(&n));
    ext_ok && !is_config
}

/// Job files under `paths` (files as given, folders searched recursively, hidden folders,
/// symlinked folders and `holds` folders skipped), sorted and each once.
pub fn job_files(paths: &[PathBuf]) -> (Vec<PathBuf>, Vec<PathProblem>) {
    let mut files = Vec::new();
    let mut problems = Vec::new();
    for path in paths {
        let problem = |message: String| PathProblem {
            path: path.clone(),
            message,
        };
        match fs::metadata(path) {
            Err(e) => problems.push(problem(format!("cannot read: {e}"))),
            Ok(meta) if meta.is_dir() && is_holds_folder(path) => problems.push(problem(
                "a holds folder holds legal holds, not jobs: they are read from beside the \
                 global config; pass the jobs folder"
                    .into(),
            )),
            Ok(meta) if meta.is_dir() => {
                let before = files.len();
                walk(path, &mut files, &mut problems);
                if files.len() == before {
                    problems.push(problem(
                        "no job files (*.yaml, *.yml, *.toml) in this folder".into(),
                    ));
                }
            }
            Ok(_) if is_job_file(path) => files.push(path.clone()),
            Ok(_) => problems.push(problem(
                "not a job file: expected a .yaml, .yml or .toml file, or a folder".into(),
            )),
        }
    }
    files.sort();
    // `jobs` and `./jobs/a.yaml` name one file twice: keep the first spelling.
    let mut seen = std::collections::HashSet::new();
    files.retain(|f| seen.insert(fs::canonicalize(f).unwrap_or_else(|_| f.clone())));
    (files, problems)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, problems: &mut Vec<PathProblem>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            problems.push(PathProblem {
                path: dir.to_path_buf(),
                message: format!("cannot read folder: {e}"),
            });
            return;
        }
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        match entry.file_type() {
            Ok(t) if t.is_dir() && !hidden && !is_holds_folder(&path) => {
                walk(&path, files, problems);
            }
            Ok(t) if !t.is_dir() && is_job_file(&path) => files.push(path),
            _ => {}
        }
    }
}

/// A folder named `holds` holds hold files, which must never load as jobs (`validate .` in
/// the folder of the global config would otherwise walk into them).
fn is_holds_folder(path: &Path) -> bool {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    absolute.file_name().is_some_and(|n| n == HOLDS_FOLDER)
}

/// The folder that holds the jobs folder: relative `file://` URLs and the config are read
/// from there. For `jobs/` it is `.`; for `jobs/a.yaml` it is also `.`.
pub fn project_dir(first_path: Option<&Path>) -> PathBuf {
    let Some(path) = first_path else {
        return PathBuf::from(".");
    };
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let jobs_dir = if absolute.is_dir() {
        absolute.as_path()
    } else {
        absolute.parent().unwrap_or(Path::new("/"))
    };
    jobs_dir.parent().unwrap_or(jobs_dir).to_path_buf()
}

/// `chatvault.yaml|yml|toml` in `dir`, when there is exactly one.
pub fn find_config(dir: &Path) -> Result<Option<PathBuf>, String> {
    let found: Vec<PathBuf> = CONFIG_NAMES
        .iter()
        .map(|n| dir.join(n))
        .filter(|p| p.is_file())
        .collect();
    match found.as_slice() {
        [] => Ok(None),
        [one] => Ok(Some(one.clone())),
        many => Err(format!(
            "more than one global config in {}: {}; keep one",
            dir.display(),
            many.iter()
                .filter_map(|p| p.file_name())
                .map(|n| n.to_string_lossy())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_searched_recursively_for_job_files_only() {
        let dir = tempfile::tempdir().expect("tempdir");
        let root = dir.path();
        fs::create_dir_all(root.join("jobs/team/.hidden")).expect("mkdir");
        fs::create_dir_all(root.join("jobs/holds")).expect("mkdir");
        for f in [
            "jobs/a.yaml",
            "jobs/team/b.toml",
            "jobs/team/c.yml",
            "jobs/notes.md",
            "jobs/chatvault.yaml",
            "jobs/team/.hidden/d.yaml",
            "jobs/holds/e.yaml",
        ] {
            fs::write(root.join(f), "").expect("write");
        }
        let (files, problems) = job_files(&[root.join("jobs")]);
        let names: Vec<_> = files
            .iter()
            .map(|p| {
                p.strip_prefix(root)
                    .expect("prefix")
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        assert_eq!(
            names,
            ["jobs/a.yaml", "jobs/team/b.toml", "jobs/team/c.yml"]
        );
        assert!(problems.is_empty());
    }

    #[test]
    fn a_holds_folder_given_as_a_path_is_refused_not_loaded_as_jobs() {
        let dir = tempfile::tempdir().expect("tempdir");
        fs::create_dir_all(dir.path().join("holds")).expect("mkdir");
        fs::write(dir.path().join("holds/matter.yaml"), "").expect("write");
        let (files, problems) = job_files(&[dir.path().join("holds")]);
        assert!(files.is_empty(), "{files:?}");
        assert_eq!(problems.len(), 1);
        assert!(problems[0].message.contains("not jobs"), "{problems:?}");
    }

    #[test]
    fn missing_paths_and_empty_folders_are_problems() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (_, problems) = job_files(&[dir.path().join("nope"), dir.path().to_path_buf()]);
        assert_eq!(problems.len(), 2);
        assert!(problems[1].message.contains("no job files"));
    }
}
