//! The README's DuckDB query (`examples/duckdb/messages-of-a-user.sql`), run by DuckDB (the
//! PyPI package scripts/test pins into its tools venv) on archives `run --once` wrote in
//! Hive-style partitions, finds exactly the messages `chatvault search` finds, in the same
//! order: the documented layout and SQL work, manifests are not read as data, and copies of a
//! message in several archives count once.

use std::path::PathBuf;
use std::process::Command;

use chrono::{Datelike, TimeDelta, Utc};

use crate::common::Project;
use crate::common::processes::{command, finish, realtime_config, start_emulator};

/// The tools venv's python with duckdb, or a failure saying how to get it.
pub(crate) fn duckdb_python() -> PathBuf {
    let python = std::env::var_os("CHATVAULT_LINT_TOOLS")
        .map(|dir| PathBuf::from(dir).join("python"))
        .filter(|p| p.exists());
    let Some(python) = python else {
        panic!(
            "CHATVAULT_LINT_TOOLS does not name a venv with python, so DuckDB cannot run: run \
             scripts/test, which installs the pinned duckdb there"
        );
    };
    let probe = Command::new(&python)
        .args(["-c", "import duckdb"])
        .status()
        .expect("run python");
    assert!(
        probe.success(),
        "{} has no duckdb: run scripts/test, which installs the pinned version",
        python.display()
    );
    python
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_documented_duckdb_query_finds_what_chatvault_search_finds() {
    let python = duckdb_python();
    let emu = start_emulator(realtime_config(48)).await;
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    // A rolling 48-hour window overlaps the users snapshot: the same messages twice.
    project.job(
        "hive.yaml",
        "name: hive\nschedule: \"0 0 * * *\"\nwindow:\n  mode: rolling\n  last: 48h\n\
         channels:\n  - cid: messaging:general-000\n  - cid: team:project-000\n\
         users: [user-000]\n\
         destination:\n  url: file://archive\n  compression: gzip\n  \
         key: \"{job}/dt={window_start:%Y-%m-%d}/{window_start:%H%M%S}-{kind}-{batch}.{ext}\"\n",
    );
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    let yesterday = Utc::now().date_naive() - TimeDelta::days(1);
    let month_start = yesterday.with_day(1).expect("the first of the month");
    let next_month = month_start
        .checked_add_months(chrono::Months::new(1))
        .expect("a month later");
    let query = format!("from:user-000 after:{month_start} before:{next_month}");
    let (code, stdout, stderr) = finish(command(
        &project,
        &emu,
        &["search", &query, "--format", "jsonl", "jobs"],
    ))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let searched: Vec<String> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON line");
            v["id"].as_str().expect("an id").to_owned()
        })
        .collect();
    assert!(!searched.is_empty(), "user-000 wrote that month");

    let sql =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/duckdb/messages-of-a-user.sql");
    let script = format!(
        "import duckdb\n\
         con = duckdb.connect()\n\
         con.execute(\"SET VARIABLE user_id = 'user-000'\")\n\
         con.execute(\"SET VARIABLE month_start = TIMESTAMP '{month_start} 00:00:00'\")\n\
         for row in con.execute(open({sql:?}).read()).fetchall():\n    print(row[0])\n",
        sql = sql.display().to_string()
    );
    let out = Command::new(&python)
        .args(["-c", &script])
        .current_dir(project.dir.path())
        .output()
        .expect("run duckdb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let queried: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        queried, searched,
        "DuckDB over the same objects finds what chatvault search does, in the same order"
    );
}
