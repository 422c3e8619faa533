//! Helpers every test module reaches as `crate::common::…`: here, running the `chatvault`
//! binary the way a user or CI does and reading what it printed; in the submodules, the
//! emulator, the storage servers, clocks, stores and processes the tests drive.

pub mod counted_store;
pub mod driven;
pub mod emulated;
pub mod ground_truth;
pub mod ledgers;
pub mod processes;
pub mod proxy;
pub mod servers;
pub mod viewer;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Duration;

use assert_cmd::Command;

/// Every run is bounded: hostile input must never hang the tool (or the test suite).
pub const TIMEOUT: Duration = Duration::from_secs(20);

/// Variables the binary reads that a developer's shell or CI may have set; removed from every
/// run so results do not depend on where the tests run.
const AMBIENT_VARS: [&str; 3] = ["STREAM_API_KEY", "STREAM_API_SECRET", "ARCHIVE_BUCKET"];

/// The start of today (UTC), where the emulator's data and the tests' windows line up.
pub fn midnight() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc::now()
        .date_naive()
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
}

/// The crate root; runs start there so fixture paths read `tests/fixtures/...`.
pub fn crate_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// insta settings for what the binary prints: the crate root reads `[ROOT]` and a temporary
/// folder `[TEMP]`, so a message naming a file by its absolute path snapshots the same on
/// every machine and in every run.
pub fn snapshot_settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    // The root first: a checkout may itself sit in the temporary folder.
    settings.add_filter(&regex::escape(&crate_root().to_string_lossy()), "[ROOT]");
    let temp = std::env::temp_dir();
    settings.add_filter(
        &format!(
            r"{}/\.tmp[A-Za-z0-9]+",
            regex::escape(&temp.to_string_lossy())
        ),
        "[TEMP]",
    );
    settings
}

/// The binary, run from `dir` with a clean environment and a timeout.
pub fn chatvault_in(dir: &Path) -> Command {
    let mut cmd = assert_cmd::cargo::cargo_bin_cmd!("chatvault");
    cmd.current_dir(dir).timeout(TIMEOUT);
    for var in AMBIENT_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// The binary, run from the crate root.
pub fn chatvault() -> Command {
    chatvault_in(crate_root())
}

/// Runs a prepared command: (exit code, stdout, stderr). A timeout or a signal fails the test.
pub fn output(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?} failed (timeout is {TIMEOUT:?}): {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let Some(code) = out.status.code() else {
        panic!("{cmd:?} was killed by a signal\nstdout:\n{stdout}\nstderr:\n{stderr}");
    };
    (code, stdout, stderr)
}

/// Runs `chatvault ARGS` from the crate root: (exit code, stdout, stderr).
pub fn run(args: &[&str]) -> (i32, String, String) {
    output(chatvault().args(args))
}

/// Human output split into its diagnostic lines and the final summary line.
pub fn split_summary(stdout: &str) -> (Vec<&str>, &str) {
    let mut lines: Vec<&str> = stdout.lines().collect();
    let summary = lines.pop().unwrap_or_default();
    (lines, summary)
}

/// A scratch project: `<tmp>/jobs/` for job files; the binary runs from `<tmp>`.
pub struct Project {
    pub dir: tempfile::TempDir,
}

impl Project {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary folder");
        fs::create_dir(dir.path().join("jobs")).expect("create jobs/");
        Project { dir }
    }

    /// Writes `jobs/<name>` and returns its path relative to the project, as it is printed.
    pub fn job(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        self.file(&format!("jobs/{name}"), contents)
    }

    /// Writes `<name>` below the project and returns that relative path.
    pub fn file(&self, name: &str, contents: impl AsRef<[u8]>) -> String {
        let path: PathBuf = self.dir.path().join(name);
        fs::write(&path, contents).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        name.to_owned()
    }

    /// The binary, run from the project folder.
    pub fn chatvault(&self) -> Command {
        chatvault_in(self.dir.path())
    }

    /// Runs `chatvault ARGS` in the project: (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        output(self.chatvault().args(args))
    }
}

/// Every file below `dir` whose name ends in `suffix`, sorted.
pub fn files_below(dir: &Path, suffix: &str) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.to_string_lossy().ends_with(suffix) {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every manifest below `dir`, parsed as `T` (a `Manifest`, or JSON to look into).
pub fn manifests_below<T: serde::de::DeserializeOwned>(dir: &Path) -> Vec<T> {
    files_below(dir, ".manifest.json")
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("read a manifest");
            serde_json::from_str(&text).expect("a manifest")
        })
        .collect()
}

/// Writes an uncompressed v2 archive of `lines` at `key` under `store`, with a format-1
/// manifest (no counts) of job `job`, as an older chatvault wrote them.
pub fn write_archive(store: &Path, key: &str, job: &str, lines: &[serde_json::Value]) {
    let mut body = String::new();
    for line in lines {
        body.push_str(&line.to_string());
        body.push('\n');
    }
    let path = store.join(key);
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
    std::fs::write(&path, &body).expect("write the archive");
    let manifest = serde_json::json!({
        "format": 1, "job": job, "tick": "2026-01-02T00:00:00Z",
        "window_since": "2026-01-01T00:00:00Z", "window_until": "2026-01-02T00:00:00Z",
        "kind": "channels", "batch": 1, "channels": ["messaging:x"], "task_id": "t",
        "export_version": "v2", "key": key, "bytes_source": body.len(),
        "bytes_stored": body.len(),
        "sha256": chatvault::archive::transfer::hex(&<sha2::Sha256 as sha2::Digest>::digest(body.as_bytes())),
        "content_encoding": "none", "exported_at": null,
        "archived_at": "2026-01-02T00:10:00Z", "chatvault_version": "0.0.1"
    });
    std::fs::write(
        store.join(format!("{key}.manifest.json")),
        manifest.to_string(),
    )
    .expect("write the manifest");
}
