//! Legal holds through the binary: hold files in `holds/` beside the global config are
//! validated with the job files (and never loaded as jobs), the dry run lists them, and
//! `chatvault holds` lists the archives a run against the emulator wrote that each keeps.

use std::collections::BTreeMap;

use chatvault::archive::manifest::Manifest;
use serde_json::Value;

use crate::common::processes::{command, finish, realtime_config, start_emulator};
use crate::common::{Project, manifests_below, snapshot_settings, write_archive};

const JOB: &str = "schedule: \"@daily\"\nusers: [alice]\n";

/// A project whose global config sits beside `jobs/` and `holds/`.
fn project_with_holds(holds: &[(&str, &str)]) -> Project {
    let project = Project::new();
    project.file("chatvault.yaml", "defaults:\n  timezone: UTC\n");
    project.job("support.yaml", JOB);
    project.job("sales.yaml", JOB);
    std::fs::create_dir(project.dir.path().join("holds")).expect("mkdir holds");
    for (name, text) in holds {
        project.file(&format!("holds/{name}"), text);
    }
    project
}

#[test]
fn validate_reports_every_problem_of_every_hold_file_with_the_job_files() {
    let project = project_with_holds(&[
        (
            "bad.yaml",
            "name: Matter 1!\nreason: r\nset_by: legal\nset_at: yesterday\ncover:\n  jobs: [support]\n",
        ),
        (
            "worse.yml",
            "reason: r\nset_by: legal\nset_at: 2026-03-01\ncovers:\n  jobs: [suport]\n  channels: [general]\n  from: 2026-03-01\n  until: 2026-02-01\n",
        ),
        (
            "same-a.toml",
            "name = \"same\"\nreason = \"r\"\nset_by = \"s\"\nset_at = \"2026-03-01\"\n[covers]\nusers = [\"u1\"]\n",
        ),
        (
            "same-b.yaml",
            "name: same\nreason: r\nset_by: s\nset_at: 2026-03-01\ncovers:\n  users: [u2]\n",
        ),
    ]);
    project.job("broken.yaml", "schedule: \"@daily\"\nusers: alice\n");
    let (code, stdout, stderr) = project.run(&["validate", "jobs"]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    snapshot_settings().bind(|| insta::assert_snapshot!("validate_bad_hold_files", stdout));
}

#[test]
fn hold_files_are_not_jobs_even_when_the_walk_starts_above_them() {
    let project = project_with_holds(&[(
        "matter.yaml",
        "reason: r\nset_by: legal\nset_at: 2026-03-01\ncovers:\n  jobs: [support]\n",
    )]);
    let (code, stdout, stderr) = project.run(&["--config", "chatvault.yaml", "validate", "."]);
    assert_eq!(
        (code, stdout.as_str()),
        (0, "3 files valid, 0 warnings\n"),
        "{stderr}"
    );
    let (code, _, stderr) = project.run(&["validate", "holds"]);
    assert_eq!(code, 2);
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn the_dry_run_lists_the_holds_in_force_one_line_each() {
    let project = project_with_holds(&[
        (
            "matter-14.yaml",
            "reason: Matter 14\nset_by: legal\nset_at: 2026-03-01\ncovers:\n  jobs: [support]\n  users: [alice, bob]\n  from: 2026-01-01\n",
        ),
        (
            "audit.yaml",
            "reason: audit\nset_by: it\nset_at: 2026-03-01\ncovers:\n  channels: [\"messaging:general\"]\n  until: 2026-02-01\n",
        ),
    ]);
    let (code, stdout, stderr) = project.run(&[
        "run",
        "--dry-run",
        "--now",
        "2026-03-01T12:00:00Z",
        "--next",
        "1",
        "jobs",
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let tail = stdout
        .split_once("\nholds in force")
        .map(|(_, tail)| tail)
        .unwrap_or_else(|| panic!("no holds listed:\n{stdout}"));
    assert_eq!(
        tail,
        " (nothing they cover is expired or erased)\n\
         \x20 hold audit  (holds/audit.yaml): channels messaging:general; message time before 2026-02-01T00:00:00Z\n\
         \x20 hold matter-14  (holds/matter-14.yaml): jobs support; users alice, bob; message time from 2026-01-01T00:00:00Z\n"
    );
    let (code, json, _) = project.run(&[
        "plan",
        "--format",
        "json",
        "--now",
        "2026-03-01T12:00:00Z",
        "jobs",
    ]);
    assert_eq!(code, 0);
    let plan: Value = serde_json::from_str(&json).expect("plan JSON");
    assert_eq!(plan["holds"][1]["name"], "matter-14", "{json}");
}

/// The archives of `job` among `all`, by key, with their stored bytes.
fn archives_of<'a>(all: &'a [Manifest], job: &str) -> BTreeMap<&'a str, u64> {
    all.iter()
        .filter(|m| m.job == job)
        .map(|m| (m.key.as_str(), m.bytes_stored))
        .collect()
}

/// The keys a hold of the JSON report keeps of `job`.
fn kept<'a>(hold: &'a Value, job: &str) -> Vec<&'a str> {
    hold["jobs"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["job"] == job)
        .flat_map(|j| j["keys"].as_array().expect("keys"))
        .map(|k| k.as_str().expect("a key"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_lists_the_archives_a_run_wrote_that_each_hold_keeps_and_the_hold_wins_on_a_read_error()
 {
    let emu = start_emulator(realtime_config(24)).await;
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    project.job(
        "support.yaml",
        "schedule: \"0 0 * * *\"\nchannels:\n  - cid: messaging:general-000\n\
         users: [user-000]\ndestination:\n  url: file://archive/support\n  compression: none\n",
    );
    project.job(
        "sales.yaml",
        "schedule: \"0 0 * * *\"\nchannels:\n  - cid: team:project-000\n\
         destination:\n  url: file://archive/sales\n  compression: gzip\n",
    );
    // An archive an older chatvault wrote: a format 1 manifest, no counts of anyone (the
    // run's seal then names it, as the first seal names what came before sealing).
    write_archive(
        &project.dir.path().join("archive/sales"),
        "sales/old/2026-01-01.jsonl",
        "sales",
        &[
            serde_json::json!({"type": "message", "cid": "messaging:x", "user": {"id": "user-000"}, "text": "hi"}),
        ],
    );
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    std::fs::create_dir(project.dir.path().join("holds")).expect("mkdir holds");
    project.file(
        "holds/channel.yaml",
        "reason: \"the <b>general</b> channel\"\nset_by: legal\nset_at: 2026-03-01\n\
         covers:\n  channels: [\"messaging:general-000\"]\n",
    );
    project.file(
        "holds/nobody.yaml",
        "reason: r\nset_by: legal\nset_at: 2026-03-01\ncovers:\n  jobs: [sales]\n  users: [nobody-at-all]\n",
    );
    project.file(
        "holds/support.yaml",
        "reason: r\nset_by: legal\nset_at: 2026-03-01\ncovers:\n  jobs: [support]\n",
    );

    let all = manifests_below::<Manifest>(&project.dir.path().join("archive"));
    let support = archives_of(&all, "support");
    let sales = archives_of(&all, "sales");
    assert!(support.len() >= 2 && sales.len() >= 2, "{all:?}");
    // Users snapshots count the channels their messages are in, too.
    let general: Vec<&str> = support
        .keys()
        .copied()
        .filter(|key| {
            all.iter().any(|m| {
                m.key == *key
                    && m.contents
                        .as_ref()
                        .is_some_and(|c| c.channels.contains_key("messaging:general-000"))
            })
        })
        .collect();
    assert!(!general.is_empty());

    let (code, stdout, stderr) = finish(command(
        &project,
        &emu,
        &["holds", "--format", "json", "jobs"],
    ))
    .await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("holds JSON");
    let holds = report["holds"].as_array().expect("holds");
    let names: Vec<&str> = holds.iter().filter_map(|h| h["name"].as_str()).collect();
    assert_eq!(names, ["channel", "nobody", "support"]);

    let channel = &holds[0];
    assert_eq!(kept(channel, "support"), general, "{stdout}");
    assert!(kept(channel, "sales").is_empty(), "{stdout}");
    assert_eq!(channel["reason"], "the <b>general</b> channel");

    let nobody = &holds[1];
    assert_eq!(nobody["archives"], 0, "{stdout}");
    assert_eq!(nobody["unmatched"]["users"][0], "nobody-at-all", "{stdout}");

    let whole = &holds[2];
    let keys: Vec<&str> = support.keys().copied().collect();
    assert_eq!(kept(whole, "support"), keys);
    assert_eq!(whole["bytes"], support.values().sum::<u64>());
    assert_eq!(report["problems"], serde_json::json!([]));

    let (code, human, _) = finish(command(&project, &emu, &["holds", "jobs"])).await;
    assert_eq!(code, 0);
    assert!(
        human.contains("hold nobody  (holds/nobody.yaml)\n")
            && human.contains("  keeps   0 archive(s), 0 bytes\n")
            && human.contains("  note: no archive holds user nobody-at-all\n"),
        "{human}"
    );

    // An archive that cannot be read is named, and held: a hold on a user might cover it.
    let lost = sales
        .keys()
        .find(|k| k.contains("old"))
        .expect("the old archive");
    std::fs::remove_file(project.dir.path().join("archive/sales").join(lost)).expect("rm");
    let (code, stdout, stderr) = finish(command(
        &project,
        &emu,
        &["holds", "--format", "json", "jobs"],
    ))
    .await;
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("error: {lost}: ")) && stderr.contains("counted as held"),
        "{stderr}"
    );
    let report: Value = serde_json::from_str(&stdout).expect("holds JSON");
    assert_eq!(kept(&report["holds"][1], "sales"), [*lost], "{stdout}");
    assert_eq!(
        report["holds"][1]["unmatched"]["users"],
        serde_json::json!([])
    );
}

#[test]
fn holds_shows_hold_text_escaped_and_a_hold_keeping_nothing_with_zero_archives() {
    let project = project_with_holds(&[(
        "hostile.yaml",
        "reason: \"\\e[31mred\\r\\nforged \\u202egnp.exe\"\nset_by: legal\nset_at: 2026-03-01\n\
         covers:\n  jobs: [support]\n",
    )]);
    let (code, stdout, stderr) = project.run(&["holds", "jobs"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(
        stdout,
        "hold hostile  (holds/hostile.yaml)\n\
         \x20 reason  \\u{1b}[31mred\\u{d}\\nforged \\u{202e}gnp.exe\n\
         \x20 set by  legal at 2026-03-01T00:00:00Z\n\
         \x20 covers  jobs support\n\
         \x20 keeps   0 archive(s), 0 bytes\n"
    );
    let (code, stdout, _) = project.run(&["holds", "--format", "json", "jobs"]);
    assert_eq!(code, 0);
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(
        report["holds"][0]["reason"],
        "\u{1b}[31mred\r\nforged \u{202e}gnp.exe"
    );
    assert_eq!(report["holds"][0]["archives"], 0);
}

/// Seals `job`'s archives at `archive` as a run's end would: every manifest there is then
/// named by a seal, with its bytes.
async fn sealed(archive: std::path::PathBuf, job: &str) {
    use chatvault::archive::seal::{SealMemory, Sealing, seal};
    use chatvault::signing::Keyring;
    use chatvault::store::url::StoreUrl;
    use chatvault::store::{self, StoreOptions};

    let store =
        store::open(&StoreUrl::File { path: archive }, &StoreOptions::new(), &[]).expect("store");
    let keyring = Keyring::default();
    let sealing = Sealing {
        signer: None,
        keyring: &keyring,
        recorded: None,
    };
    seal(
        &store,
        job,
        "_media",
        sealing,
        chrono::Utc::now(),
        &SealMemory::default(),
    )
    .await
    .expect("sealed");
}

/// A manifest rewritten after its seal (here to count no one a hold names) cannot say what
/// its archive holds: `expire` and `erase` keep the archive, so `holds` lists it as "may be
/// held" under each hold of its job, and names it as a problem, exit 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_whose_manifest_changed_after_its_seal_may_be_held_and_is_a_problem() {
    let destination = "destination:\n  url: file://archive\n  compression: none\n";
    let project = project_with_holds(&[
        (
            "matter.yaml",
            "reason: r\nset_by: legal\nset_at: 2026-03-01\ncovers:\n  users: [alice]\n",
        ),
        (
            "sales-only.yaml",
            "reason: r\nset_by: legal\nset_at: 2026-03-01\ncovers:\n  jobs: [sales]\n",
        ),
    ]);
    project.job("support.yaml", format!("{JOB}{destination}"));
    let archive = project.dir.path().join("archive");
    let key = "support/2026/01/01/channels-1.jsonl";
    write_archive(
        &archive,
        key,
        "support",
        &[serde_json::json!({"type": "message", "item": {
            "id": "a1", "cid": "messaging:x", "text": "hi", "user": {"id": "alice"},
            "created_at": "2026-01-01T00:00:00Z"}})],
    );
    sealed(archive.clone(), "support").await;
    let path = archive.join(format!("{key}.manifest.json"));
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    manifest["format"] = 3.into();
    manifest["contents"] = serde_json::json!({"channels": {}, "users": {"bob": {"messages": 1}}});
    std::fs::write(&path, serde_json::to_vec(&manifest).expect("json")).expect("write");

    let (code, stdout, stderr) = project.run(&["holds", "--format", "json", "jobs"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("JSON");
    let (matter, sales) = (&report["holds"][0], &report["holds"][1]);
    assert_eq!(matter["name"], "matter", "{stdout}");
    assert_eq!(matter["archives"], 0, "{stdout}");
    assert_eq!(
        matter["may_hold"],
        serde_json::json!([{"job": "support", "key": key, "bytes": manifest["bytes_stored"]}])
    );
    assert_eq!(sales["may_hold"], serde_json::json!([]), "{stdout}");
    assert_eq!(
        report["problems"],
        serde_json::json!([{"key": key, "problem": "its manifest is not the one sealed/signed: \
            cannot say what it holds; expire and erase keep it"}])
    );

    let (code, stdout, stderr) = project.run(&["holds", "jobs"]);
    assert_eq!(code, 1, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "  may be held: 1 archive(s) whose manifest is not vouched for\n    support: {key}\n"
        )),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "error: {key}: its manifest is not the one sealed/signed"
        )),
        "{stderr}"
    );
}
