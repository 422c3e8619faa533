//! End-to-end tests of the `chatvault` binary: what users and CI see when job files are
//! right, wrong or hostile.
//!
//! Snapshots: every job file in `tests/fixtures/invalid/` breaks one rule, and so does every
//! global config in `tests/fixtures/invalid-config/`. The exact lines `chatvault validate`
//! prints for each (run from the crate root, without the final summary line) are an insta
//! snapshot, `tests/it/snapshots/validation/<folder>@<file>.snap`. A run that prints anything
//! else fails; outside CI it leaves the new output beside the snapshot as `<…>.snap.new`, and
//! with `CI` set (as `.ci/run` runs) it writes nothing. After an intended change of wording or
//! positions, accept the new output with
//!
//! ```text
//! cargo insta review                   # cargo install cargo-insta --locked
//! INSTA_UPDATE=always cargo nextest run -E 'test(/^validation::/)'   # or: all of them at once
//! ```
//!
//! then read the diff of every snapshot before committing it: each line must name the right
//! field, at the line and column of the offending value (or key), with a message that says
//! what to write instead. A new fixture's snapshot is written the same way. Accepting records
//! what the binary prints today, bugs included: the snapshots of `unclosed-interpolation.yaml`
//! and `enum-given-a-number.yaml` hold what it should print (see the comment at the end of
//! each job file), so never accept a change to them.

use std::collections::BTreeSet;
use std::fs;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;

use serde_json::Value;

use crate::common::{
    Project, chatvault, crate_root, output, run, snapshot_settings, split_summary,
};

const INVALID: &str = "tests/fixtures/invalid";
const INVALID_CONFIG: &str = "tests/fixtures/invalid-config";
const MANY_BROKEN: &str = "tests/fixtures/many-broken";
const VALID: &str = "tests/fixtures/valid";
/// The fixtures' snapshots, relative to this file (insta's convention).
const SNAPSHOTS: &str = "snapshots/validation";
/// The files `job_fixtures` lists, as a glob for insta's `glob!`.
const FIXTURE_GLOB: &str = "*.{yaml,yml,toml}";
const NOW: &str = "2026-03-01T00:00:00Z";
/// A made-up secret; it must never show up in anything chatvault prints.
const SECRET: &str = "s3cr3t-VALUE-42";

// ---------------------------------------------------------------------------------------------
// Helpers

/// Job files (`*.yaml`, `*.yml`, `*.toml`) directly in `dir` (relative to the crate root),
/// sorted by name.
fn job_fixtures(dir: &str) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(crate_root().join(dir))
        .unwrap_or_else(|e| panic!("read {dir}: {e}"))
        .map(|entry| entry.expect("directory entry").file_name())
        .map(|name| name.to_string_lossy().into_owned())
        .filter(|name| {
            Path::new(name)
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "toml")
        })
        .collect();
    names.sort();
    names
}

/// (errors, warnings, files) from a human summary line, e.g. `2 errors and 1 warning in 3
/// files` or `4 files valid, 0 warnings`.
fn parse_summary(summary: &str) -> Option<(usize, usize, usize)> {
    let words: Vec<&str> = summary.split_whitespace().collect();
    match words.as_slice() {
        [errors, _, "and", warnings, _, "in", files, _] => Some((
            errors.parse().ok()?,
            warnings.parse().ok()?,
            files.parse().ok()?,
        )),
        [files, _, "valid,", warnings, _] => Some((0, warnings.parse().ok()?, files.parse().ok()?)),
        _ => None,
    }
}

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn assert_no_panic(stderr: &str) {
    assert!(
        !stderr.contains("panicked"),
        "chatvault panicked:\n{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// 1. One fixture per rule, with its exact diagnostics

#[test]
fn each_invalid_fixture_prints_exactly_its_snapshot() {
    check_fixture_snapshots(INVALID, 60, |file| vec!["validate".into(), file.into()], 1);
}

/// Global configs that each break one rule, validated with the valid job files.
#[test]
fn each_invalid_config_prints_exactly_its_snapshot() {
    check_fixture_snapshots(
        INVALID_CONFIG,
        12,
        |file| {
            ["validate", "--config", file, VALID]
                .map(String::from)
                .to_vec()
        },
        2,
    );
}

/// Runs `args(file)` for every fixture in `dir` (at least `min` of them): each run must exit
/// 2 and count its lines in a summary over `files` files, and its lines must match the
/// fixture's snapshot. Every fixture is checked before the test fails, so one run shows every
/// difference.
fn check_fixture_snapshots(
    dir: &str,
    min: usize,
    args: impl Fn(&str) -> Vec<String>,
    files: usize,
) {
    let names = job_fixtures(dir);
    assert!(names.len() >= min, "fixtures went missing: {names:?}");
    let folder = fixture_folder(dir);
    let mut failures = Vec::new();
    let mut settings = snapshot_settings();
    settings.set_snapshot_path(SNAPSHOTS);
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    // glob! collects the snapshot mismatches and panics after the last fixture; the other
    // checks' failures are reported first.
    let snapshots = panic::catch_unwind(AssertUnwindSafe(|| {
        settings.bind(|| {
            insta::glob!(crate_root().join(dir), FIXTURE_GLOB, |path| {
                let name = path.file_name().expect("a file").to_string_lossy();
                let file = format!("{dir}/{name}");
                let argv = args(&file);
                let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
                let (code, stdout, stderr) = run(&argv);
                let (lines, summary) = split_summary(&stdout);

                if code != 2 {
                    failures.push(format!(
                        "{file}: exit code {code}, expected 2\n{stdout}{stderr}"
                    ));
                }
                if stderr.contains("panicked") {
                    failures.push(format!("{file}: panicked\n{stderr}"));
                }
                if lines.is_empty() {
                    failures.push(format!("{file}: no diagnostics\n{stdout}"));
                }
                match parse_summary(summary) {
                    Some((e, w, n)) if e + w == lines.len() && e > 0 && n == files => {}
                    _ => failures.push(format!(
                        "{file}: the summary `{summary}` does not count the {} lines above it",
                        lines.len()
                    )),
                }

                let actual: String = lines.iter().map(|l| format!("{l}\n")).collect();
                insta::with_settings!({ description => format!("chatvault {}", argv.join(" ")) }, {
                    insta::assert_snapshot!(folder.as_str(), actual);
                });
            });
        });
    }));
    assert!(
        failures.is_empty(),
        "{} of {} fixtures failed:\n\n{}",
        failures.len(),
        names.len(),
        failures.join("\n\n")
    );
    if let Err(mismatches) = snapshots {
        panic::resume_unwind(mismatches);
    }
}

/// `invalid` for `tests/fixtures/invalid`: the first part of its fixtures' snapshot names.
fn fixture_folder(dir: &str) -> String {
    Path::new(dir)
        .file_name()
        .expect("a fixture folder")
        .to_string_lossy()
        .into_owned()
}

/// A snapshot left behind when its fixture was renamed or deleted would never be compared
/// again; insta does not notice it, so this does.
#[test]
fn every_snapshot_belongs_to_a_fixture() {
    let snapshots = crate_root().join("tests/it").join(SNAPSHOTS);
    let folders = [INVALID, INVALID_CONFIG].map(|dir| (fixture_folder(dir), job_fixtures(dir)));
    let mut count = 0;
    for entry in fs::read_dir(&snapshots).expect("read the snapshots") {
        let name = entry
            .expect("entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        // `.snap.new` and `.pending-snap` files are insta's pending reviews, not snapshots.
        let Some(snapshot) = name.strip_suffix(".snap") else {
            continue;
        };
        let (folder, fixture) = snapshot
            .split_once('@')
            .unwrap_or_else(|| panic!("{name}: not named <folder>@<fixture>.snap"));
        let (_, fixtures) = folders
            .iter()
            .find(|(f, _)| f == folder)
            .unwrap_or_else(|| panic!("{name}: no fixture folder `{folder}`"));
        assert!(
            fixtures.iter().any(|f| f == fixture),
            "{name}: `{fixture}` is not in the `{folder}` fixtures"
        );
        count += 1;
    }
    let fixtures: usize = folders.iter().map(|(_, f)| f.len()).sum();
    assert_eq!(count, fixtures, "every fixture has its snapshot");
}

/// The key checks try the next ticks after the real clock, so this asserts only what holds
/// whatever the time; `plan --now` pins the clock for the exact message.
#[test]
fn an_hourly_job_whose_key_only_names_the_day_is_refused() {
    let project = Project::new();
    let job = project.job(
        "hourly.yaml",
        "schedule: \"@hourly\"\nchannels: [{cid: \"messaging:a\"}]\ndestination:\n  url: s3://acme-archive/chat\n  key: \"{job}/{window_start:%Y/%m/%d}/{kind}-{batch}.{ext}\"\n",
    );

    let (code, stdout, stderr) = project.run(&["validate", &job]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    let (lines, _) = split_summary(&stdout);
    assert_eq!(lines.len(), 1, "{stdout}");
    assert!(
        lines[0].starts_with("jobs/hourly.yaml:5:8: destination.key: windows starting ")
            && lines[0].contains("would both be written to `hourly/")
            && lines[0].contains("add %H%M to {window_start}"),
        "{stdout}"
    );

    let (code, stdout, stderr) = project.run(&["plan", "--now", NOW, &job]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "no plan for an invalid job: {stdout}");
    assert!(
        stderr.starts_with(
            "jobs/hourly.yaml:5:8: destination.key: windows starting 2026-03-01 00:00:00 UTC and \
             2026-03-01 01:00:00 UTC would both be written to \
             `hourly/2026/03/01/channels-0001.jsonl.gz`"
        ),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// 2. Every error of every file, in one run

#[test]
fn a_folder_of_broken_files_reports_every_error_of_every_file_in_one_run() {
    let names = job_fixtures(MANY_BROKEN);
    assert!(names.len() >= 3, "{names:?}");

    let mut each_alone = Vec::new();
    for name in &names {
        let (code, stdout, stderr) = run(&["validate", &format!("{MANY_BROKEN}/{name}")]);
        assert_eq!(code, 2, "{stdout}{stderr}");
        let (lines, _) = split_summary(&stdout);
        assert!(
            lines.len() >= 2,
            "{name} should break two rules or more:\n{stdout}"
        );
        each_alone.extend(lines.into_iter().map(str::to_owned));
    }

    let (code, stdout, stderr) = run(&["validate", MANY_BROKEN]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert_no_panic(&stderr);
    let (lines, summary) = split_summary(&stdout);
    assert_eq!(
        lines, each_alone,
        "one run must report what the files report alone"
    );
    assert_eq!(
        summary,
        format!(
            "{} errors and 0 warnings in {} files",
            each_alone.len(),
            names.len()
        )
    );

    // The pull-request gate says the same, on stderr, and prints no plan.
    let (code, stdout, stderr) = run(&["run", "--dry-run", "--now", NOW, MANY_BROKEN]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let (lines, _) = split_summary(&stderr);
    assert_eq!(lines, each_alone);
}

#[test]
fn job_names_must_be_unique_across_files() {
    let project = Project::new();
    let job = "name: archive\nschedule: \"@daily\"\nusers: [alice]\n";
    project.job("one.yaml", job);
    project.job(
        "two.toml",
        "name = \"archive\"\nschedule = \"@daily\"\nusers = [\"bob\"]\n",
    );
    let (code, stdout, stderr) = project.run(&["validate", "jobs"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stdout,
        "jobs/one.yaml:1:7: name: job name `archive` is also used by jobs/two.toml: names must be unique (set `name`)\n\
         jobs/two.toml:1:8: name: job name `archive` is also used by jobs/one.yaml: names must be unique (set `name`)\n\
         2 errors and 0 warnings in 2 files\n"
    );
}

#[test]
fn jobs_sharing_a_destination_need_the_job_in_their_keys() {
    let project = Project::new();
    let job = |key: &str| {
        format!(
            "schedule: \"@daily\"\nusers: [alice]\ndestination:\n  url: s3://acme-archive/chat\n  key: \"{key}\"\n"
        )
    };
    project.job("unscoped.yaml", job("{window_start}/{kind}-{batch}.{ext}"));
    project.job(
        "scoped.yaml",
        job("{job}/{window_start}/{kind}-{batch}.{ext}"),
    );
    let (code, stdout, stderr) = project.run(&["validate", "jobs"]);
    assert_eq!(code, 2, "{stderr}");
    assert_eq!(
        stdout,
        "jobs/unscoped.yaml:5:8: destination.key: keys may collide with job `scoped` (jobs/scoped.yaml), \
         which writes to s3://acme-archive/chat too: add {job} to the key\n\
         1 error and 0 warnings in 2 files\n"
    );
}

// ---------------------------------------------------------------------------------------------
// 3. YAML and TOML: one model

/// The plan of a one-job file as JSON text, with the job's `name` and `file` removed and the
/// name (which the key template uses) replaced; and the name.
fn plan_without_identity(file: &str) -> (String, String) {
    let (code, stdout, stderr) = run(&["plan", "--format", "json", "--now", NOW, file]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stderr.is_empty(),
        "a valid job prints no diagnostics: {stderr}"
    );
    let mut plan = json(&stdout);
    let jobs = plan["jobs"].as_array_mut().expect("jobs");
    assert_eq!(jobs.len(), 1, "{stdout}");
    let job = jobs[0].as_object_mut().expect("a job");
    let name = job
        .remove("name")
        .and_then(|n| n.as_str().map(str::to_owned))
        .expect("name");
    assert_eq!(job.remove("file"), Some(Value::String(file.to_owned())));
    let text = serde_json::to_string_pretty(&plan).expect("serialize");
    let text = text.replace(&name, "<name>");
    (name, text)
}

#[test]
fn a_yaml_job_and_a_toml_job_with_the_same_fields_plan_the_same() {
    let (yaml_name, yaml) = plan_without_identity(&format!("{VALID}/full-yaml.yaml"));
    let (toml_name, toml) = plan_without_identity(&format!("{VALID}/full-toml.toml"));
    assert_eq!(
        (yaml_name.as_str(), toml_name.as_str()),
        ("full-yaml", "full-toml")
    );
    assert_eq!(yaml, toml);

    // The plans really carry the fields, so comparing them compares something.
    for expected in [
        "\"description\": \"Every field of a job, in either format\"",
        "\"schedule\": \"30 2 * * 1-5\"",
        "\"timezone\": \"Europe/Berlin\"",
        "\"catch_up\": \"all\"",
        "\"overlap\": \"queue\"",
        "\"destination\": \"s3://acme-chat-archive/full\"",
        "\"compression\": \"zstd\"",
        "\"export_version\": \"v1\"",
        "\"since\": \"2026-02-20T00:00:00Z\"",
        "\"until\": \"2026-02-22T00:00:00Z\"",
        "\"livestream:white-room\"",
        "\"messaging:support-1\"",
        "\"$in\"",
        "\"bob@example.com\"",
        "\"key\": \"<name>/2026/02/20/0000-0000/channels-0001.json.zst\"",
    ] {
        assert!(yaml.contains(expected), "{expected} not in\n{yaml}");
    }
}

#[test]
fn the_valid_fixtures_validate_cleanly_together() {
    let (code, stdout, stderr) = run(&["validate", VALID]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "2 files valid, 0 warnings\n"),
        "{stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// 4. ${VAR} interpolation

const INTERPOLATED_JOB: &str = "\
schedule: \"@daily\"
description: \"${CV_TEAM:-support} archive, costs $${NOT_A_VAR} and $5\"
users: [alice]
destination:
  url: \"s3://${CV_BUCKET}/${CV_PREFIX:-chat}\"
";

fn planned_job(project: &Project, envs: &[(&str, &str)]) -> Value {
    let mut cmd = project.chatvault();
    cmd.args(["plan", "--format", "json", "--now", NOW, "jobs"]);
    for var in ["CV_TEAM", "CV_BUCKET", "CV_PREFIX", "NOT_A_VAR"] {
        cmd.env_remove(var);
    }
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let (code, stdout, stderr) = output(&mut cmd);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    json(&stdout)["jobs"][0].clone()
}

#[test]
fn set_variables_are_substituted_and_defaults_fill_unset_or_empty_ones() {
    let project = Project::new();
    project.job("a.yaml", INTERPOLATED_JOB);

    let job = planned_job(&project, &[("CV_BUCKET", "acme-archive"), ("CV_TEAM", "")]);
    assert_eq!(job["destination"], "s3://acme-archive/chat");
    assert_eq!(
        job["description"],
        "support archive, costs ${NOT_A_VAR} and $5"
    );

    let job = planned_job(
        &project,
        &[
            ("CV_BUCKET", "acme-legal"),
            ("CV_PREFIX", "hold"),
            ("CV_TEAM", "legal"),
            ("NOT_A_VAR", "never-read"),
        ],
    );
    assert_eq!(job["destination"], "s3://acme-legal/hold");
    assert_eq!(
        job["description"],
        "legal archive, costs ${NOT_A_VAR} and $5"
    );
}

#[test]
fn double_dollar_brace_is_a_literal_not_a_variable() {
    let project = Project::new();
    let job = project.job(
        "a.yaml",
        "schedule: \"@daily\"\nusers: [alice]\ndescription: \"$${HOME} and $${NOT_SET}\"\n",
    );
    let (code, stdout, stderr) = output(
        project
            .chatvault()
            .args(["validate", &job])
            .env_remove("NOT_SET"),
    );
    assert_eq!(
        (code, stdout.as_str()),
        (0, "1 file valid, 0 warnings\n"),
        "{stderr}"
    );
}

#[test]
fn an_unset_variable_is_a_warning_that_names_it_and_the_job_is_not_planned() {
    let project = Project::new();
    let job = project.job("a.yaml", INTERPOLATED_JOB);

    let validate = |extra: &[&str]| {
        let mut cmd = project.chatvault();
        cmd.arg("validate")
            .args(extra)
            .arg(&job)
            .env_remove("CV_BUCKET");
        output(&mut cmd)
    };
    let (code, stdout, stderr) = validate(&[]);
    assert_eq!(code, 0, "a dry run needs no secrets: {stdout}{stderr}");
    assert_eq!(
        stdout,
        "jobs/a.yaml:5:8: warning: destination.url: ${CV_BUCKET} is not set and has no default \
         (`${NAME:-default}`); not checked in this dry run\n1 file valid, 1 warning\n"
    );
    let (code, _, _) = validate(&["--deny-warnings"]);
    assert_eq!(code, 2);

    let (code, stdout, stderr) = output(
        project
            .chatvault()
            .args(["plan", "--format", "json", "--now", NOW, &job])
            .env_remove("CV_BUCKET"),
    );
    assert_eq!(code, 0, "{stdout}{stderr}");
    let plan = json(&stdout);
    assert_eq!(plan["jobs"], serde_json::json!([]));
    assert_eq!(
        plan["not_planned"],
        serde_json::json!([{"file": "jobs/a.yaml", "unset_variables": ["CV_BUCKET"]}])
    );
    assert!(stderr.contains("${CV_BUCKET} is not set"), "{stderr}");
}

/// Fails today: the unset value stays `${CV_OVERLAP}` and serde then refuses it as an enum
/// variant, an error at `(file)` 1:1 that the warning promised not to raise.
#[test]
fn an_unset_variable_in_an_enum_field_is_only_a_warning() {
    let project = Project::new();
    let job = project.job(
        "a.yaml",
        "schedule: \"@daily\"\nusers: [alice]\noverlap: \"${CV_OVERLAP}\"\n",
    );
    let (code, stdout, stderr) = output(
        project
            .chatvault()
            .args(["validate", &job])
            .env_remove("CV_OVERLAP"),
    );
    assert_eq!(
        stdout,
        "jobs/a.yaml:3:10: warning: overlap: ${CV_OVERLAP} is not set and has no default \
         (`${NAME:-default}`); not checked in this dry run\n1 file valid, 1 warning\n",
        "{stderr}"
    );
    assert_eq!(code, 0);

    let (code, stdout, stderr) = output(
        project
            .chatvault()
            .args(["validate", &job])
            .env("CV_OVERLAP", "queue"),
    );
    assert_eq!(
        (code, stdout.as_str()),
        (0, "1 file valid, 0 warnings\n"),
        "{stderr}"
    );
}

/// One invalid field whose value comes from `${CV_VALUE}`; `config` is a global config, if any.
struct LeakCase {
    what: &'static str,
    config: Option<&'static str>,
    job: &'static str,
    value: String,
}

fn leak_cases() -> Vec<LeakCase> {
    const BASE: &str = "schedule: \"@daily\"\nusers: [alice]\n";
    let case = |what, config, job, value: &str| LeakCase {
        what,
        config,
        job,
        value: value.replace("SECRET", SECRET),
    };
    let url = "schedule: \"@daily\"\nusers: [alice]\ndestination:\n  url: \"${CV_VALUE}\"\n";
    let key = "schedule: \"@daily\"\nusers: [alice]\ndestination:\n  key: \"${CV_VALUE}\"\n";
    let schedule = "schedule: \"${CV_VALUE}\"\nusers: [alice]\n";
    vec![
        case("destination.url, bad bucket", None, url, "gs://SECRET/chat"),
        case(
            "destination.url, bad scheme",
            None,
            url,
            "ftp://SECRET/chat",
        ),
        case(
            "destination.url, bad prefix",
            None,
            url,
            "s3://acme-archive/SECRET/../x",
        ),
        case("destination.url, no scheme", None, url, "SECRET"),
        case("schedule, unknown macro", None, schedule, "@SECRET"),
        case("schedule, bad field", None, schedule, "0 SECRET * * *"),
        case(
            "schedule, macro with fields",
            None,
            schedule,
            "@daily SECRET",
        ),
        case(
            "timezone",
            None,
            "schedule: \"@daily\"\nusers: [alice]\ntimezone: \"${CV_VALUE}\"\n",
            "Europe/SECRET",
        ),
        case(
            "destination.key, unknown placeholder",
            None,
            key,
            "{job}/{SECRET}/{window_start}/{kind}-{batch}.{ext}",
        ),
        case(
            "name",
            None,
            "name: \"${CV_VALUE}\"\nschedule: \"@daily\"\nusers: [alice]\n",
            "-SECRET",
        ),
        case(
            "window.lag",
            None,
            "schedule: \"@daily\"\nusers: [alice]\nwindow:\n  lag: \"${CV_VALUE}\"\n",
            "SECRET",
        ),
        case(
            "overlap",
            None,
            "schedule: \"@daily\"\nusers: [alice]\noverlap: \"${CV_VALUE}\"\n",
            "SECRET",
        ),
        case(
            "users[0]",
            None,
            "schedule: \"@daily\"\nusers: [\"${CV_VALUE}\"]\n",
            "x SECRET",
        ),
        case(
            "channels[0].cid",
            None,
            "schedule: \"@daily\"\nchannels:\n  - cid: \"${CV_VALUE}\"\n",
            "SECRET",
        ),
        case(
            "api.base_url (config)",
            Some("api:\n  base_url: \"${CV_VALUE}\"\n"),
            BASE,
            "SECRET",
        ),
        case(
            "state.url (config)",
            Some("state:\n  url: \"${CV_VALUE}\"\n"),
            BASE,
            "gs://SECRET",
        ),
        case(
            "defaults.timezone (config)",
            Some("defaults:\n  timezone: \"${CV_VALUE}\"\n"),
            BASE,
            "SECRET",
        ),
        case(
            "defaults.destination.url (config)",
            Some("defaults:\n  destination:\n    url: \"${CV_VALUE}\"\n"),
            BASE,
            "s3://SECRET",
        ),
    ]
}

/// Fails today for messages that quote the value they refuse: bucket names, schedules, time
/// zones and key placeholders (see the list the assertion prints).
#[test]
fn a_value_from_the_environment_is_never_printed_even_when_it_is_invalid() {
    let mut leaks = Vec::new();
    for case in leak_cases() {
        let project = Project::new();
        project.job("a.yaml", case.job);
        if let Some(config) = case.config {
            project.file("chatvault.yaml", config);
        }
        for args in [
            &["validate", "jobs"][..],
            &["validate", "--format", "json", "jobs"],
            &["validate", "--format", "github", "jobs"],
            &["plan", "--now", NOW, "jobs"],
            &["run", "--dry-run", "--now", NOW, "jobs"],
        ] {
            let (code, stdout, stderr) =
                output(project.chatvault().args(args).env("CV_VALUE", &case.value));
            assert_no_panic(&stderr);
            assert_eq!(
                code, 2,
                "{}: {args:?} should refuse the value\n{stdout}{stderr}",
                case.what
            );
            let printed = format!("{stdout}{stderr}");
            if printed.to_lowercase().contains(&SECRET.to_lowercase()) {
                let line = printed
                    .lines()
                    .find(|l| l.to_lowercase().contains(&SECRET.to_lowercase()))
                    .unwrap_or_default();
                leaks.push(format!("{} ({args:?}): {line}", case.what));
                break;
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "values from the environment were printed:\n{}",
        leaks.join("\n")
    );
}

#[test]
fn an_api_secret_from_the_environment_is_never_printed() {
    let config = "tests/fixtures/config/secret-from-env.yaml";
    for args in [
        &["validate", "--config", config, VALID][..],
        &["validate", "--format", "json", "--config", config, VALID],
        &[
            "plan", "--format", "json", "--now", NOW, "--config", config, VALID,
        ],
        &["run", "--dry-run", "--now", NOW, "--config", config, VALID],
    ] {
        let (code, stdout, stderr) =
            output(chatvault().args(args).env("STREAM_API_SECRET", SECRET));
        assert_eq!(code, 0, "{args:?}\n{stdout}{stderr}");
        assert!(
            !format!("{stdout}{stderr}").contains(SECRET),
            "{args:?} printed the secret:\n{stdout}{stderr}"
        );
    }
}

#[test]
fn an_inline_api_secret_is_a_warning_that_does_not_print_it() {
    let config = "tests/fixtures/config/inline-secret.yaml";
    let inline = "inline-s3cr3t-VALUE-42";

    let (code, stdout, stderr) = run(&["validate", "--config", config, VALID]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "tests/fixtures/config/inline-secret.yaml:4:11: warning: api.secret: the API secret is \
         written inline, so everyone who can read this file has it: use \"${STREAM_API_SECRET}\" \
         or `secret_file`\n2 files valid, 1 warning\n"
    );
    let (code, _, _) = run(&["validate", "--deny-warnings", "--config", config, VALID]);
    assert_eq!(code, 2);

    for args in [
        &["validate", "--format", "json", "--config", config, VALID][..],
        &["validate", "--format", "github", "--config", config, VALID],
        &[
            "plan", "--format", "json", "--now", NOW, "--config", config, VALID,
        ],
        &["run", "--dry-run", "--now", NOW, "--config", config, VALID],
    ] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, 0, "{args:?}\n{stdout}{stderr}");
        assert!(
            !format!("{stdout}{stderr}").contains(inline),
            "{args:?} printed the secret:\n{stdout}{stderr}"
        );
    }
}

#[test]
fn global_config_problems_are_reported_at_their_lines_in_the_config() {
    let config = "tests/fixtures/config/invalid.yaml";
    let (code, stdout, stderr) = run(&["validate", "--config", config, VALID]);
    assert_eq!(code, 2, "{stderr}");
    let at = |rest: &str| format!("{config}:{rest}");
    let expected = [
        at(
            "2:11: warning: api.secret: ${STREAM_API_SECRET} is not set and has no default (`${NAME:-default}`); not checked in this dry run",
        ),
        at("3:3: api.secret_file: set either `secret` or `secret_file`, not both"),
        at(
            "4:13: api.base_url: `chat.stream-io-api.com` is not an http(s) URL: expected e.g. https://chat.stream-io-api.com",
        ),
        at(
            "6:8: state.url: unsupported URL scheme `memory`: expected s3://bucket/prefix, gs://bucket/prefix or file://path",
        ),
        at(
            "8:13: defaults.timezone: unknown time zone \"Europe/Pariss\"; did you mean \"Europe/Paris\"?",
        ),
        at(
            "10:5: defaults.destination.compresion: unknown field `compresion`; did you mean `compression`? (expected one of: compression, immutable, key, options, url)",
        ),
        "5 errors and 1 warning in 2 files".to_owned(),
    ];
    assert_eq!(stdout.lines().collect::<Vec<_>>(), expected);
}

// ---------------------------------------------------------------------------------------------
// 5. Hostile input: a clear error, never a panic or a hang

/// Every run is under the helper's 20 s timeout; a hang fails the test there.
fn assert_refused_cleanly(project: &Project, file: &str) {
    for args in [
        &["validate", file][..],
        &["run", "--dry-run", "--now", NOW, file],
    ] {
        let (code, stdout, stderr) = project.run(args);
        assert_no_panic(&stderr);
        assert_eq!(code, 2, "{file}: {args:?}\n{stdout}\n{stderr}");
        let report = if args[0] == "validate" {
            &stdout
        } else {
            &stderr
        };
        assert!(
            report.starts_with(&format!("{file}:")),
            "{file}: {args:?} should name the file first:\n{report}"
        );
    }
}

/// Deterministic bytes that are not UTF-8 (an xorshift stream, with a 0xFF early on).
fn garbage(len: usize) -> Vec<u8> {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut bytes: Vec<u8> = (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect();
    bytes[3] = 0xFF;
    bytes
}

#[test]
fn binary_garbage_is_refused_cleanly() {
    let project = Project::new();
    for name in ["garbage.yaml", "garbage.toml"] {
        let file = project.job(name, garbage(64 * 1024));
        assert_refused_cleanly(&project, &file);
        let (_, stdout, _) = project.run(&["validate", &file]);
        assert!(stdout.contains("not UTF-8"), "{stdout}");
    }
    // Valid UTF-8 full of control characters.
    let file = project.job(
        "control.yaml",
        "schedule: \"@daily\"\u{0}\u{7}\u{1b}[2J\nusers: [a]\n",
    );
    assert_refused_cleanly(&project, &file);
}

#[test]
fn empty_files_and_files_of_only_a_bom_are_refused_cleanly() {
    let project = Project::new();
    for (name, contents) in [
        ("empty.yaml", &b""[..]),
        ("empty.toml", b""),
        ("bom.yaml", b"\xEF\xBB\xBF"),
        ("bom.toml", b"\xEF\xBB\xBF"),
        ("blank.yaml", b"\n\n   \n\t\n"),
    ] {
        let file = project.job(name, contents);
        assert_refused_cleanly(&project, &file);
    }
}

#[test]
fn a_five_mib_file_is_refused_by_its_size() {
    let project = Project::new();
    let mut text = String::from("schedule: \"@daily\"\nusers: [alice]\n");
    while text.len() < 5 * 1024 * 1024 {
        text.push_str("# padding padding padding padding padding padding padding padding\n");
    }
    let file = project.job("huge.yaml", &text);
    assert_refused_cleanly(&project, &file);
    let (_, stdout, _) = project.run(&["validate", &file]);
    assert!(
        stdout.starts_with(&format!("{file}: (file): file is {} bytes", text.len())),
        "{stdout}"
    );
}

#[test]
fn ten_thousand_levels_of_nesting_are_refused_cleanly() {
    let deep = 10_000;
    let project = Project::new();
    let files = [
        ("open-flow.yaml", "[".repeat(deep)),
        (
            "closed-flow.yaml",
            format!("a: {}1{}", "[".repeat(deep), "]".repeat(deep)),
        ),
        (
            "flow-maps.yaml",
            format!("{}1{}", "{a: ".repeat(deep), "}".repeat(deep)),
        ),
        ("block-seqs.yaml", format!("{}x\n", "- ".repeat(deep))),
        (
            "block-maps.yaml",
            (0..500)
                .map(|i| format!("{}a:\n", "  ".repeat(i)))
                .collect(),
        ),
        ("open-arrays.toml", format!("a = {}", "[".repeat(deep))),
        (
            "arrays.toml",
            format!("a = {}1{}", "[".repeat(deep), "]".repeat(deep)),
        ),
        (
            "inline-tables.toml",
            format!("a = {}1{}", "{b = ".repeat(deep), "}".repeat(deep)),
        ),
        ("dotted-keys.toml", format!("{}a = 1\n", "a.".repeat(deep))),
        (
            "table-header.toml",
            format!("[{}a]\nx = 1\n", "a.".repeat(deep)),
        ),
    ];
    for (name, text) in files {
        let file = project.job(name, text);
        assert_refused_cleanly(&project, &file);
    }
}

#[test]
fn a_yaml_alias_bomb_is_refused_cleanly() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for i in 1..10 {
        let refs = vec![format!("*a{}", i - 1); 9].join(", ");
        text.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let project = Project::new();
    let file = project.job("bomb.yaml", text);
    assert_refused_cleanly(&project, &file);
    let (_, stdout, _) = project.run(&["validate", &file]);
    assert!(stdout.contains("document too large"), "{stdout}");
}

#[test]
fn a_very_long_single_line_is_refused_cleanly() {
    let project = Project::new();
    let long = "x".repeat(1_000_000);
    for (name, text) in [
        ("bare.yaml", long.clone()),
        ("value.yaml", format!("description: {long}\n")),
        ("value.toml", format!("description = \"{long}\"\n")),
        (
            "schedule.yaml",
            format!("schedule: \"{long}\"\nusers: [alice]\n"),
        ),
        ("key.yaml", format!("{long}: 1\n")),
    ] {
        let file = project.job(name, text);
        assert_refused_cleanly(&project, &file);
    }
}

// ---------------------------------------------------------------------------------------------
// 6. Output formats

/// `file:line:col: [warning: ]path: message` as the GitHub workflow command it should become.
fn as_github(human: &str) -> String {
    let mut parts = human.splitn(4, ':');
    let (file, line, col) = (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    );
    let rest = parts.next().unwrap_or_default().trim_start();
    let (level, rest) = match rest.strip_prefix("warning: ") {
        Some(rest) => ("warning", rest),
        None => ("error", rest),
    };
    format!(
        "::{level} file={file},line={line},col={col}::{}",
        rest.replace('%', "%25")
    )
}

#[test]
fn github_format_prints_one_annotation_per_diagnostic() {
    let (code, stdout, _) = run(&[
        "validate",
        "--format",
        "github",
        "tests/fixtures/invalid/bad-cron.yaml",
    ]);
    assert_eq!(code, 2);
    assert_eq!(
        stdout,
        "::error file=tests/fixtures/invalid/bad-cron.yaml,line=1,col=11::schedule: hour: 25 is out of range 0-23\n"
    );

    let (_, human, _) = run(&["validate", INVALID]);
    let (code, github, stderr) = run(&["validate", "--format", "github", INVALID]);
    assert_eq!(code, 2, "{stderr}");
    let (lines, _) = split_summary(&human);
    let expected: Vec<String> = lines.iter().map(|l| as_github(l)).collect();
    assert_eq!(github.lines().collect::<Vec<_>>(), expected);
}

#[test]
fn github_format_marks_warnings_as_warnings() {
    let project = Project::new();
    let job = project.job("dup.yaml", "schedule: \"@daily\"\nusers: [alice, alice]\n");
    let (code, stdout, _) = project.run(&["validate", "--format", "github", &job]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout,
        "::warning file=jobs/dup.yaml,line=2,col=16::users[1]: user `alice` is listed twice; it is exported once\n"
    );
}

#[test]
fn json_format_reports_every_diagnostic_with_its_position() {
    let (_, human, _) = run(&["validate", INVALID]);
    let (code, stdout, stderr) = run(&["validate", "--format", "json", INVALID]);
    assert_eq!(code, 2, "{stderr}");
    let report = json(&stdout);
    let (lines, _) = split_summary(&human);

    assert_eq!(report["valid"], false);
    assert_eq!(report["files"], job_fixtures(INVALID).len());
    assert_eq!(report["errors"], lines.len());
    assert_eq!(report["warnings"], 0);
    let diagnostics = report["diagnostics"].as_array().expect("diagnostics");
    let rebuilt: Vec<String> = diagnostics
        .iter()
        .map(|d| {
            assert_eq!(d["severity"], "error", "{d}");
            assert!(d["line"].as_u64().is_some_and(|l| l >= 1), "{d}");
            assert!(d["column"].as_u64().is_some_and(|c| c >= 1), "{d}");
            format!(
                "{}:{}:{}: {}: {}",
                d["file"].as_str().expect("file"),
                d["line"],
                d["column"],
                d["path"].as_str().expect("path"),
                d["message"].as_str().expect("message"),
            )
        })
        .collect();
    assert_eq!(rebuilt, lines);
}

#[test]
fn json_format_of_a_clean_run_says_valid() {
    let (code, stdout, _) = run(&["validate", "--format", "json", VALID]);
    assert_eq!(code, 0);
    assert_eq!(
        json(&stdout),
        serde_json::json!({"valid": true, "files": 2, "errors": 0, "warnings": 0, "diagnostics": []})
    );
}

/// The official SARIF 2.1.0 schema (see `tests/fixtures/sarif/README.md` for where it came from).
fn sarif_validator() -> jsonschema::Validator {
    let path = crate_root().join("tests/fixtures/sarif/sarif-schema-2.1.0.json");
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {path:?}: {e}"));
    jsonschema::validator_for(&json(&text)).expect("the SARIF schema compiles")
}

/// Parses SARIF output and fails with every schema violation listed when it does not conform.
fn conforming_sarif(text: &str) -> Value {
    let log = json(text);
    let problems: Vec<String> = sarif_validator()
        .iter_errors(&log)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "not valid SARIF 2.1.0:\n{}\n{text}",
        problems.join("\n")
    );
    log
}

#[test]
fn the_vendored_sarif_schema_rejects_what_it_should() {
    // Guards the guard: a schema that accepted anything would make the tests below pass.
    let validator = sarif_validator();
    let minimal = serde_json::json!({
        "version": "2.1.0",
        "runs": [{"tool": {"driver": {"name": "chatvault"}}, "results": []}]
    });
    assert!(validator.is_valid(&minimal));
    let mut bad_level = minimal.clone();
    bad_level["runs"][0]["results"] =
        serde_json::json!([{"level": "fatal", "message": {"text": "x"}}]);
    assert!(!validator.is_valid(&bad_level));
    let mut no_driver = minimal;
    no_driver["runs"][0]["tool"] = serde_json::json!({});
    assert!(!validator.is_valid(&no_driver));
}

#[test]
fn sarif_format_of_broken_files_conforms_to_the_sarif_schema_and_matches_json() {
    let (code, stdout, stderr) = run(&["validate", "--format", "sarif", MANY_BROKEN]);
    assert_eq!(code, 2, "{stderr}");
    let log = conforming_sarif(&stdout);
    let (_, report, _) = run(&["validate", "--format", "json", MANY_BROKEN]);
    let report = json(&report);

    assert_eq!(log["version"], "2.1.0");
    let runs = log["runs"].as_array().expect("runs");
    assert_eq!(runs.len(), 1, "one run");
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "chatvault");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));

    let rules = driver["rules"].as_array().expect("rules");
    let rule_ids: Vec<&str> = rules
        .iter()
        .map(|r| r["id"].as_str().expect("id"))
        .collect();
    let distinct: BTreeSet<&str> = rule_ids.iter().copied().collect();
    assert_eq!(
        distinct.len(),
        rule_ids.len(),
        "rules are listed once: {rule_ids:?}"
    );

    let results = runs[0]["results"].as_array().expect("results");
    let diagnostics = report["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(results.len(), diagnostics.len(), "a result per diagnostic");
    let files: BTreeSet<&str> = results
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .expect("uri")
        })
        .collect();
    assert_eq!(files.len(), 3, "every file of the folder: {files:?}");
    let mut used = BTreeSet::new();
    for (result, d) in results.iter().zip(diagnostics) {
        let location = &result["locations"][0]["physicalLocation"];
        assert_eq!(location["artifactLocation"]["uri"], d["file"], "{result}");
        assert_eq!(location["region"]["startLine"], d["line"], "{result}");
        assert_eq!(location["region"]["startColumn"], d["column"], "{result}");
        assert_eq!(result["level"], d["severity"], "{result}");
        let text = result["message"]["text"].as_str().expect("message");
        assert_eq!(
            text,
            format!(
                "{}: {}",
                d["path"].as_str().expect("path"),
                d["message"].as_str().expect("message")
            )
        );
        // The result names its rule both ways, and the rule exists.
        let index = result["ruleIndex"].as_u64().expect("ruleIndex");
        let id = result["ruleId"].as_str().expect("ruleId");
        assert_eq!(rule_ids.get(index as usize), Some(&id), "{result}");
        used.insert(id);
    }
    assert_eq!(used, distinct, "every rule listed is used");
    // Rules are fields of the job file, described as the JSON Schema describes them.
    let schedule = rules
        .iter()
        .find(|r| r["id"] == "schedule")
        .expect("schedule rule");
    assert!(
        schedule["fullDescription"]["text"]
            .as_str()
            .is_some_and(|t| t.contains("cron")),
        "{schedule}"
    );
}

#[test]
fn sarif_format_of_valid_files_conforms_and_has_no_results() {
    let (code, stdout, stderr) = run(&["validate", "--format", "sarif", VALID]);
    assert_eq!(code, 0, "{stderr}");
    let log = conforming_sarif(&stdout);
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
    assert_eq!(
        log["runs"][0]["tool"]["driver"]["rules"],
        serde_json::json!([])
    );
}

#[test]
fn sarif_format_marks_warnings_as_warnings_and_places_file_level_problems() {
    let project = Project::new();
    let dup = project.job("dup.yaml", "schedule: \"@daily\"\nusers: [alice, alice]\n");
    let (code, stdout, _) = project.run(&["validate", "--format", "sarif", &dup]);
    assert_eq!(code, 0);
    let log = conforming_sarif(&stdout);
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["level"], "warning", "{result}");
    assert_eq!(result["ruleId"], "users", "{result}");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["region"],
        serde_json::json!({"startLine": 2, "startColumn": 16})
    );

    // Problems of the file as a whole, and a name no URI can hold as it is.
    let empty = project.job("empty job.yaml", "");
    let (code, stdout, _) = project.run(&["validate", "--format", "sarif", &empty]);
    assert_eq!(code, 2);
    let log = conforming_sarif(&stdout);
    let result = &log["runs"][0]["results"][0];
    assert_eq!(result["ruleId"], "file", "{result}");
    assert_eq!(
        result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
        "jobs/empty%20job.yaml"
    );
}

#[test]
fn deny_warnings_turns_a_warning_only_run_into_exit_2() {
    let project = Project::new();
    let job = project.job("dup.yaml", "schedule: \"@daily\"\nusers: [alice, alice]\n");
    for format in ["human", "json", "github", "sarif"] {
        let (code, stdout, _) = project.run(&["validate", "--format", format, &job]);
        assert_eq!(code, 0, "{format}: a warning alone passes\n{stdout}");
        assert!(stdout.contains("listed twice"), "{stdout}");
        let (code, _, _) = project.run(&["validate", "--deny-warnings", "--format", format, &job]);
        assert_eq!(code, 2, "{format}: --deny-warnings");
    }
    // Without warnings the flag changes nothing.
    let (code, _, _) = run(&["validate", "--deny-warnings", VALID]);
    assert_eq!(code, 0);
}

// ---------------------------------------------------------------------------------------------
// 7. Exit codes and usage

#[test]
fn validating_a_missing_path_exits_2_and_names_it() {
    let (code, stdout, stderr) = run(&["validate", "tests/fixtures/no-such-job.yaml"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stdout.starts_with("tests/fixtures/no-such-job.yaml: (file): cannot read:"),
        "{stdout}"
    );
}

#[test]
fn a_path_that_is_not_a_job_file_exits_2() {
    let (code, stdout, _) = run(&["validate", "Cargo.lock"]);
    assert_eq!(code, 2);
    assert!(
        stdout.starts_with("Cargo.lock: (file): not a job file"),
        "{stdout}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let (code, stdout, stderr) = run(&["validate", "--no-such-flag", "jobs"]);
    assert_eq!(code, 2);
    assert!(stdout.is_empty(), "{stdout}");
    assert!(stderr.contains("--no-such-flag"), "{stderr}");

    let (code, _, stderr) = run(&["plan", "--now", "yesterday", "jobs"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("RFC 3339"), "{stderr}");

    let (code, _, _) = run(&["validate", "--format", "xml", "jobs"]);
    assert_eq!(code, 2);

    let (code, _, _) = run(&["no-such-command"]);
    assert_eq!(code, 2);
}

#[test]
fn a_real_run_without_credentials_exits_2_and_says_what_to_set() {
    for args in [&["run", "--once", "jobs/"][..], &["run", "jobs/"][..]] {
        let (code, stdout, stderr) = run(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        assert!(stderr.contains("STREAM_API_KEY"), "{stderr}");
    }
}

#[test]
fn the_quickstart_job_is_valid_on_the_embedded_defaults() {
    let (code, stdout, stderr) = run(&["validate", "examples/quickstart/jobs"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("1 file valid, 0 warnings"), "{stdout}");
}

#[test]
fn the_repository_jobs_pass_the_pull_request_gate() {
    let (code, stdout, stderr) = run(&["run", "--dry-run", "jobs/"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stderr.is_empty(), "{stderr}");
    for name in [
        "legal-hold-users",
        "sales-weekly",
        "support-nightly",
        "team-support-local",
    ] {
        assert!(
            stdout.contains(&format!("job {name}  (jobs/")),
            "{name}:\n{stdout}"
        );
    }

    let (code, stdout, _) = run(&["validate"]);
    assert_eq!((code, stdout.as_str()), (0, "4 files valid, 0 warnings\n"));
}

#[test]
fn the_committed_schemas_match_what_the_binary_generates() {
    let (code, stdout, stderr) = run(&["schema", "--check", "--out", "schemas"]);
    assert_eq!(
        code, 0,
        "schemas/ is stale; run `chatvault schema`\n{stdout}{stderr}"
    );
}

#[test]
fn schema_check_reports_stale_files_and_writes_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8 path");
    fs::write(dir.path().join("job.schema.json"), "{}\n").expect("write");

    let (code, _, stderr) = run(&["schema", "--check", "--out", out]);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("job.schema.json") && stderr.contains("config.schema.json"),
        "{stderr}"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("job.schema.json")).expect("read"),
        "{}\n"
    );
    assert!(!dir.path().join("config.schema.json").exists());

    // Writing them gives exactly the committed files.
    let (code, _, stderr) = run(&["schema", "--out", out]);
    assert_eq!(code, 0, "{stderr}");
    for name in ["job.schema.json", "config.schema.json"] {
        let written = fs::read_to_string(dir.path().join(name)).expect("written");
        let committed =
            fs::read_to_string(crate_root().join("schemas").join(name)).expect("committed");
        assert_eq!(written, committed, "{name}");
    }
}

/// Fails today: files are de-duplicated by how their path is spelled, so a job named both
/// through its folder and as `./jobs/…` is read twice and collides with itself by name.
#[test]
fn a_job_file_named_twice_is_read_once() {
    let (code, stdout, stderr) = run(&["validate", "jobs", "./jobs/sales-weekly.toml"]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "4 files valid, 0 warnings\n"),
        "{stderr}"
    );
}

#[test]
fn a_store_credential_written_inline_is_a_warning_that_hides_it() {
    let project = Project::new();
    let file = project.job(
        "creds.yaml",
        "schedule: \"@daily\"\nusers: [alice]\ndestination:\n  url: s3://acme-archive/chat\n  \
         options:\n    aws_secret_access_key: s3cr3t-VALUE-42\n",
    );
    let (code, stdout, _) = project.run(&["validate", &file]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("warning: destination.options.aws_secret_access_key: `aws_secret_access_key` is a credential written inline"),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cr3t-VALUE-42"), "{stdout}");
}

/// object_store 0.14 ignores `google_skip_signature` when it writes to GCS and goes for a
/// token: a store chatvault writes to is told so before a run hangs on the metadata server.
#[test]
fn skipping_signatures_on_a_gcs_store_is_a_warning_that_writes_still_sign() {
    let project = Project::new();
    let file = project.job(
        "gcs.yaml",
        "schedule: \"@daily\"\nusers: [alice]\ndestination:\n  url: gs://acme-archive/chat\n  \
         options:\n    google_skip_signature: \"true\"\n",
    );
    let (code, stdout, _) = project.run(&["validate", &file]);
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("warning: destination.options.google_skip_signature: object_store skips signatures on GCS reads only"),
        "{stdout}"
    );
}

/// Every command run where there is no `jobs/` folder, without a PATH, says what to do
/// rather than "cannot read: No such file or directory".
#[test]
fn every_command_without_a_jobs_folder_says_to_pass_a_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let commands: [&[&str]; 6] = [
        &["validate"],
        &["plan"],
        &["run", "--dry-run"],
        &["run", "--once"],
        &["status"],
        &["verify", "--job", "any"],
    ];
    for args in commands {
        let (code, stdout, stderr) = output(crate::common::chatvault_in(dir.path()).args(args));
        assert_eq!(code, 2, "chatvault {args:?}\n{stdout}\n{stderr}");
        let said = format!("{stdout}{stderr}");
        assert!(
            said.contains("jobs: (file): no jobs/ folder here; pass a path"),
            "chatvault {args:?}:\n{said}"
        );
        assert!(!said.contains("cannot read"), "chatvault {args:?}:\n{said}");
    }
}
