//! `chatvault erase` through the binary: the user's messages, reactions and membership leave
//! every archive (search, transcripts, the viewer and the DuckDB recipe find nothing of them),
//! their id in others' mentions becomes the placeholder, every other message stays, the
//! state store keeps the request and its completion, the chain an erasure record naming the
//! request (never the person), and `verify` passes. Killed with SIGKILL at any step, the
//! rerun finishes the same erasure with no archive lost and none shown twice. An immutable
//! destination is refused before anything is written.

use std::path::{Path, PathBuf};

use chatvault::archive::manifest::Manifest;
use chatvault::archive::media::record::{MediaRecord, Outcome, Owner, Reference, Stored};
use chatvault::archive::seal::Seal;
use chatvault::lifecycle::erase::PAUSE_POINTS;
use chatvault::state::erasures::{ErasureDone, ErasureRequest};
use serde_json::{Value, json};
use tokio::process::Command;

use crate::common::processes::{
    command, finish, kill_once_paused, realtime_config, start_emulator,
};
use crate::common::viewer::Viewer;
use crate::common::{Project, files_below, write_archive};

const JOB: &str = "name: support\nschedule: \"0 0 * * *\"\nchannels:\n  - cid: messaging:x\n\
                   destination:\n  url: file://archive\n  compression: none\n";

fn message(id: &str, user: &str, text: &str, second: u32) -> Value {
    json!({"type": "message", "item": {
        "id": id, "cid": "messaging:x", "text": text, "type": "regular",
        "user": {"id": user, "name": format!("{user} name")},
        "created_at": format!("2026-01-01T00:00:0{second}Z"),
    }})
}

/// Two archives written as an older chatvault did (no counts in the manifests: erase reads
/// them): alice wrote in the first, reacted and is a member there, and bob mentions her; the
/// second is bob's alone.
fn project() -> Project {
    let project = Project::new();
    project.job("support.yaml", JOB);
    let mut mention = message("b2", "bob", "thanks, as agreed with her", 2);
    mention["item"]["mentioned_users"] = json!([{"id": "alice", "name": "Alice A."}]);
    let archive = project.dir.path().join("archive");
    write_archive(
        &archive,
        "support/2026/01/01/channels-1.jsonl",
        "support",
        &[
            json!({"type": "channel", "item": {"cid": "messaging:x", "config": {}}}),
            message("a1", "alice", "alice secret one", 0),
            message("b1", "bob", "bob first", 1),
            mention,
            message("a2", "alice", "alice secret two", 3),
            json!({"type": "reaction", "item": {"message_id": "b1", "type": "like",
                                                "user": {"id": "alice"}}}),
            json!({"type": "member", "item": {"user_id": "alice", "user": {"id": "alice"}}}),
            json!({"type": "member", "item": {"user_id": "bob", "user": {"id": "bob"}}}),
        ],
    );
    write_archive(
        &archive,
        "support/2026/01/02/channels-1.jsonl",
        "support",
        &[message("b3", "bob", "bob alone", 4)],
    );
    project
}

fn erase(project: &Project) -> (i32, String, String) {
    project.run(&[
        "erase",
        "--user",
        "alice",
        "--reason",
        "Art. 17 request 118",
        "jobs",
    ])
}

/// The ids of the messages `search QUERY` finds.
fn search(project: &Project, query: &str) -> (i32, Vec<String>, String) {
    let (code, stdout, stderr) = project.run(&["search", query, "--format", "jsonl", "jobs"]);
    let ids = stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            v["id"].as_str().expect("an id").to_owned()
        })
        .collect();
    (code, ids, stderr)
}

fn archive_keys(project: &Project) -> Vec<String> {
    let root = project.dir.path().join("archive");
    files_below(&root, ".jsonl")
        .into_iter()
        .map(|p| {
            p.strip_prefix(&root)
                .expect("below")
                .to_string_lossy()
                .into_owned()
        })
        .collect()
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    if !dir.exists() {
        return Vec::new();
    }
    files_below(dir, ".json")
}

fn state_documents(project: &Project) -> (Vec<ErasureRequest>, Vec<ErasureDone>) {
    let folder = project.dir.path().join(".chatvault/state/erasures");
    let mut requests = Vec::new();
    let mut done = Vec::new();
    for path in json_files(&folder) {
        let text = std::fs::read_to_string(&path).expect("read");
        if path.to_string_lossy().ends_with(".done.json") {
            done.push(serde_json::from_str(&text).expect("a completion"));
        } else {
            requests.push(serde_json::from_str(&text).expect("a request"));
        }
    }
    (requests, done)
}

fn seals(project: &Project) -> Vec<Seal> {
    json_files(&project.dir.path().join("archive/_chatvault/seals/support"))
        .iter()
        .map(|p| serde_json::from_str(&std::fs::read_to_string(p).expect("read")).expect("a seal"))
        .collect()
}

/// What holds after a whole erasure of alice from [`project`].
fn assert_erased(project: &Project) {
    assert_eq!(
        archive_keys(project),
        [
            "support/2026/01/01/channels-1.erased-1.jsonl",
            "support/2026/01/02/channels-1.jsonl"
        ],
        "the archive holding alice was replaced, the original gone, the other untouched"
    );
    let (code, ids, stderr) = search(project, "from:alice");
    assert_eq!(code, 0, "{stderr}");
    assert!(ids.is_empty(), "{ids:?}");
    let (code, ids, stderr) = search(project, "from:bob");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(ids, ["b1", "b2", "b3"], "every other message stays, once");

    let replacement = project
        .dir
        .path()
        .join("archive/support/2026/01/01/channels-1.erased-1.jsonl");
    let text = std::fs::read_to_string(&replacement).expect("the replacement");
    assert!(!text.contains("\"alice\""), "{text}");
    assert!(
        text.contains("erased-user"),
        "the mention is the placeholder"
    );
    let manifest: Manifest = serde_json::from_str(
        &std::fs::read_to_string(format!("{}.manifest.json", replacement.display()))
            .expect("its manifest"),
    )
    .expect("a manifest");
    let supersedes = manifest.supersedes.expect("it supersedes the original");
    assert_eq!(supersedes.key, "support/2026/01/01/channels-1.jsonl");
    assert_eq!(
        (
            supersedes.removed.messages,
            supersedes.removed.reactions,
            supersedes.removed.memberships,
            supersedes.removed.rewritten
        ),
        (2, 1, 1, 1)
    );
    assert_eq!(manifest.format, chatvault::archive::manifest::FORMAT);

    let (requests, done) = state_documents(project);
    assert_eq!(requests.len(), 1, "one request, taken up again by reruns");
    assert_eq!(requests[0].reason, "Art. 17 request 118");
    assert_eq!(done.len(), 1);
    assert_eq!(done[0].id, requests[0].id);
    assert_eq!(done[0].archives.len(), 1);

    let records: Vec<_> = seals(project)
        .into_iter()
        .filter_map(|s| s.removal)
        .collect();
    assert_eq!(records.len(), 1, "one erasure record for the job");
    assert_eq!(records[0].erasure.as_deref(), Some(requests[0].id.as_str()));
    assert_eq!(records[0].archives, ["support/2026/01/01/channels-1.jsonl"]);
    let said = serde_json::to_string(&records[0]).expect("json");
    assert!(
        !said.contains("alice") && !said.contains("Art. 17"),
        "the record names no person and no reason: {said}"
    );
}

#[test]
fn erase_takes_the_user_out_of_search_and_transcripts_and_keeps_everyone_else() {
    let project = project();
    let (code, stdout, stderr) = project.run(&["erase", "--user", "alice", "--dry-run", "jobs"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    insta::assert_snapshot!("dry_run", stdout);
    assert_eq!(archive_keys(&project).len(), 2, "a dry run writes nothing");
    assert_eq!(state_documents(&project).0.len(), 0);

    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d{8}T\d{6}Z-[0-9a-f]{8}\b", "[ERASURE ID]");
    settings.bind(|| insta::assert_snapshot!("erased", stdout));
    assert_erased(&project);

    let (code, stdout, stderr) = project.run(&[
        "transcript",
        "--in",
        "messaging:x",
        "--format",
        "jsonl",
        "jobs",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains("alice secret"), "{stdout}");
    assert!(!stdout.contains("\"alice\""), "{stdout}");
    assert!(stdout.contains("erased-user"), "{stdout}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");

    let (code, stdout, stderr) = project.run(&["search", "from:alice", "jobs"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stderr.contains("alice was erased"), "{stderr}");
}

/// Writes a captured file below `archive/_media` and returns its SHA-256.
fn captured(project: &Project, bytes: &[u8]) -> String {
    use sha2::Digest as _;
    let sha256 = chatvault::archive::transfer::hex(&sha2::Sha256::digest(bytes));
    let path =
        project
            .dir
            .path()
            .join("archive")
            .join(chatvault::archive::media::layout::object_key(
                "_media", &sha256,
            ));
    std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
    std::fs::write(&path, bytes).expect("write the file");
    sha256
}

/// Links a picture from alice's first message and one from bob's first, captured both, with
/// the archive's media record: (hers, his), their SHA-256.
fn with_media(project: &Project) -> (String, String) {
    let key = "support/2026/01/01/channels-1.jsonl";
    let path = project.dir.path().join("archive").join(key);
    let text = std::fs::read_to_string(&path).expect("the archive");
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("a line"))
        .collect();
    for line in &mut lines {
        let name = match line["item"]["id"].as_str() {
            Some("a1") => "hers",
            Some("b1") => "his",
            _ => continue,
        };
        line["item"]["attachments"] = json!([{"type": "image", "image_url": link(name)}]);
    }
    write_archive(&project.dir.path().join("archive"), key, "support", &lines);
    let (hers, his) = (
        captured(project, b"her photo"),
        captured(project, b"his photo"),
    );
    let record = MediaRecord {
        format: chatvault::archive::media::record::FORMAT,
        job: "support".into(),
        archive: key.into(),
        attempt: 1,
        written_at: chrono::Utc::now(),
        chatvault_version: "test".into(),
        prefix: "_media".into(),
        references: vec![reference("a1", "hers", &hers), reference("b1", "his", &his)],
    };
    project.file(
        &format!("archive/{key}.media.1.json"),
        serde_json::to_string(&record).expect("json"),
    );
    (hers, his)
}

fn link(name: &str) -> String {
    format!("https://cdn.example.com/{name}.png")
}

fn reference(id: &str, name: &str, sha256: &str) -> Reference {
    Reference {
        owner: Owner::Message(id.into()),
        field: "attachments[0].image_url".into(),
        url: link(name),
        outcome: Outcome::Stored(Stored {
            sha256: sha256.into(),
            size: 9,
            content_type: "image/png".into(),
        }),
    }
}

/// Her file is gone and named by the erasure record; his stays, in the replacement's record.
fn assert_media_erased(project: &Project, hers: &str, his: &str) {
    let media = |sha256: &str| {
        project
            .dir
            .path()
            .join("archive")
            .join(chatvault::archive::media::layout::object_key(
                "_media", sha256,
            ))
            .exists()
    };
    assert!(!media(hers), "the file only alice's message linked is gone");
    assert!(media(his), "bob's stays");
    let replaced: MediaRecord = serde_json::from_str(
        &std::fs::read_to_string(
            project
                .dir
                .path()
                .join("archive/support/2026/01/01/channels-1.erased-1.jsonl.media.1.json"),
        )
        .expect("the replacement's record"),
    )
    .expect("a record");
    assert_eq!(replaced.references, [reference("b1", "his", his)]);
    let removal = seals(project)
        .into_iter()
        .find_map(|s| s.removal)
        .expect("an erasure record");
    assert_eq!(removal.media, [hers]);
}

#[test]
fn the_files_only_the_users_items_linked_go_and_the_others_stay_in_the_new_record() {
    let project = project();
    let (hers, his) = with_media(&project);
    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("1 captured file(s) deleted"), "{stdout}");
    assert!(
        stdout.contains("1 captured file(s) only theirs"),
        "{stdout}"
    );
    assert_media_erased(&project, &hers, &his);
}

#[test]
fn with_a_key_the_replacement_its_record_and_the_erasure_record_are_signed() {
    use chatvault::signing::{Check, Keyring, PublicKey, check};
    let project = project();
    with_media(&project);
    project.file("chatvault.yaml", "signing:\n  key_file: signing.pem\n");
    let (code, public, stderr) = project.run(&["keys", "generate", "--out", "signing.pem"]);
    assert_eq!(code, 0, "{stderr}");
    let public = PublicKey::from_pem(&public, "stdout").unwrap_or_else(|e| panic!("{e}"));
    let mut keys = Keyring::default();
    keys.add(public.clone());
    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let archive = project.dir.path().join("archive");
    let replacement = "support/2026/01/01/channels-1.erased-1.jsonl";
    let seal = files_below(&archive.join("_chatvault/seals/support"), ".json");
    for path in [
        archive.join(format!("{replacement}.manifest.json")),
        archive.join(format!("{replacement}.media.1.json")),
        seal[0].clone(),
    ] {
        let bytes = std::fs::read(&path).expect("a document");
        assert_eq!(
            check(&bytes, &keys),
            Check::Valid {
                key_id: public.id().to_owned()
            },
            "{}",
            path.display()
        );
    }
}

#[test]
fn verify_passes_after_an_erasure() {
    // Needs verify to accept what erasure records name (built on the expire branch).
    let project = project();
    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let (code, stdout, stderr) = project.run(&["verify", "--job", "support", "jobs"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_shows_nothing_of_an_erased_user() {
    let project = project();
    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatvault"));
    cmd.args(["ui", "--listen", "127.0.0.1:0", "jobs"])
        .current_dir(project.dir.path())
        .env_remove("CHATVAULT_LOG");
    let viewer = Viewer::start(cmd).await;
    let http = reqwest::Client::new();
    for path in [
        "/channels/messaging%3Ax?day=2026-01-01",
        "/channels/messaging%3Ax",
    ] {
        let body = http
            .get(format!("{}{path}", viewer.url))
            .send()
            .await
            .expect("GET")
            .text()
            .await
            .expect("a page");
        assert!(!body.contains("alice secret"), "{path}: {body}");
        assert!(body.contains("bob first"), "{path}: {body}");
    }
    let calendar = http
        .get(format!("{}/", viewer.url))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("a page");
    assert!(
        calendar.contains(r#"data-day="2026-01-01" data-status="archived" data-erased="true""#),
        "the day of the replaced archive is marked erased: {calendar}"
    );
    assert_eq!(
        calendar.matches(r#"data-erased="true""#).count(),
        1,
        "{calendar}"
    );
    viewer.stop().await;
}

#[test]
fn an_immutable_destination_is_refused_before_anything_is_written() {
    let project = project();
    project.job(
        "support.yaml",
        JOB.replace(
            "compression: none\n",
            "compression: none\n  immutable: true\n",
        ),
    );
    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("immutable"), "{stderr}");
    assert_eq!(archive_keys(&project).len(), 2);
    assert_eq!(state_documents(&project).0.len(), 0, "no request either");
}

#[test]
fn an_archive_a_hold_file_covers_is_left_untouched_and_reported_with_exit_1() {
    // Needs the hold files loaded into the settings (built on the holds branch).
    let project = project();
    project.file("chatvault.yaml", "{}\n");
    std::fs::create_dir(project.dir.path().join("holds")).expect("mkdir holds");
    project.file(
        "holds/matter-7.yaml",
        "name: matter-7\nreason: litigation 7\nset_by: legal@example.com\n\
         set_at: 2026-01-05T00:00:00Z\ncovers:\n  users: [bob]\n",
    );
    let before = std::fs::read(
        project
            .dir
            .path()
            .join("archive/support/2026/01/01/channels-1.jsonl"),
    )
    .expect("the archive");
    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("under a hold"), "{stderr}");
    assert!(stderr.contains("matter-7"), "{stderr}");
    assert!(stdout.contains("0 archive(s) replaced"), "{stdout}");
    let after = std::fs::read(
        project
            .dir
            .path()
            .join("archive/support/2026/01/01/channels-1.jsonl"),
    )
    .expect("the archive is still there");
    assert_eq!(after, before, "untouched");
    let (_, done) = state_documents(&project);
    assert_eq!(
        done[0].held.len(),
        1,
        "the completion names the held archive"
    );
}

#[test]
fn a_corrupt_archive_is_not_replaced_and_the_erasure_stays_unfinished_until_it_can_be() {
    let project = project();
    let path = project
        .dir
        .path()
        .join("archive/support/2026/01/01/channels-1.jsonl");
    let good = std::fs::read(&path).expect("the archive");
    let mut bad = good.clone();
    bad[10] ^= 1;
    std::fs::write(&path, &bad).expect("corrupt it");
    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stderr.contains("is corrupt"), "{stderr}");
    assert!(stderr.contains("the erasure is not finished"), "{stderr}");
    assert_eq!(archive_keys(&project).len(), 2, "nothing replaced");
    let (requests, done) = state_documents(&project);
    assert_eq!((requests.len(), done.len()), (1, 0));

    std::fs::write(&path, &good).expect("restored from a backup");
    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("taken up again"), "{stdout}");
    assert_erased(&project);
}

/// Starts `erase` frozen at `step`, waits until it says so, and kills it with SIGKILL.
async fn kill_at(project: &Project, step: &str) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatvault"));
    cmd.args([
        "erase",
        "--user",
        "alice",
        "--reason",
        "Art. 17 request 118",
        "jobs",
    ])
    .current_dir(project.dir.path())
    .env("CHATVAULT_PAUSE_AT", step);
    kill_once_paused(cmd, "paused at").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_any_step_a_rerun_finishes_the_same_erasure() {
    for step in PAUSE_POINTS {
        let project = project();
        let (hers, his) = with_media(&project);
        kill_at(&project, step).await;
        let (code, ids, stderr) = search(&project, "from:bob");
        assert_eq!(code, 0, "{step}: {stderr}");
        assert_eq!(
            ids,
            ["b1", "b2", "b3"],
            "{step}: no message lost nor shown twice"
        );
        let (code, ids, _) = search(&project, "from:alice");
        if step != PAUSE_POINTS[0] && step != PAUSE_POINTS[1] {
            assert!(
                ids.is_empty(),
                "{step}: the replacement is what readers see"
            );
        }
        assert_eq!(code, 0);
        let (code, stdout, stderr) = erase(&project);
        assert_eq!(code, 0, "{step}: {stdout}\n{stderr}");
        assert!(
            stdout.contains("taken up again"),
            "{step}: the rerun says it resumes: {stdout}"
        );
        assert_erased(&project);
        assert_media_erased(&project, &hers, &his);
    }
}

/// The done-when of the issue on archives real runs wrote: after `erase`, the README's DuckDB
/// recipe and `search` find nothing of the user, every other message is still found, and
/// `verify` passes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_erase_runs_archives_give_duckdb_and_search_nothing_of_the_user() {
    let python = crate::duckdb::duckdb_python();
    let emu = start_emulator(realtime_config(48)).await;
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    project.job(
        "hive.yaml",
        "name: hive\nschedule: \"0 0 * * *\"\nwindow:\n  mode: rolling\n  last: 48h\n\
         channels:\n  - cid: messaging:general-000\n  - cid: team:project-000\n\
         users: [user-000]\n\
         destination:\n  url: file://archive\n  compression: gzip\n  \
         key: \"{job}/dt={window_start:%Y-%m-%d}/{window_start:%H%M%S}-{kind}-{batch}.{ext}\"\n",
    );
    let run = |args: &[&str]| finish(command(&project, &emu, args));
    let (code, stdout, stderr) = run(&["run", "--once", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let ids = |stdout: &str| -> Vec<String> {
        stdout
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).expect("a JSON line");
                v["id"].as_str().expect("an id").to_owned()
            })
            .collect()
    };
    let everything = "after:2000-01-01";
    let (_, before, _) = run(&["search", everything, "--format", "jsonl", "jobs"]).await;
    let (_, theirs, _) = run(&["search", "from:user-000", "--format", "jsonl", "jobs"]).await;
    let (before, theirs) = (ids(&before), ids(&theirs));
    assert!(!theirs.is_empty(), "user-000 wrote messages");

    let (code, stdout, stderr) =
        run(&["erase", "--user", "user-000", "--reason", "r", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    let (code, stdout, stderr) =
        run(&["search", "from:user-000", "--format", "jsonl", "jobs"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    let (_, after, _) = run(&["search", everything, "--format", "jsonl", "jobs"]).await;
    let kept: Vec<String> = before
        .into_iter()
        .filter(|id| !theirs.contains(id))
        .collect();
    assert_eq!(
        ids(&after),
        kept,
        "every other message is still there, once"
    );

    let sql =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples/duckdb/messages-of-a-user.sql");
    let script = format!(
        "import duckdb\n\
         con = duckdb.connect()\n\
         con.execute(\"SET VARIABLE user_id = 'user-000'\")\n\
         con.execute(\"SET VARIABLE month_start = TIMESTAMP '2000-01-01 00:00:00'\")\n\
         sql = open({sql:?}).read().replace(\"INTERVAL 1 MONTH\", \"INTERVAL 1000 YEAR\")\n\
         for row in con.execute(sql).fetchall():\n    print(row[0])\n",
        sql = sql.display().to_string()
    );
    let out = std::process::Command::new(&python)
        .args(["-c", &script])
        .current_dir(project.dir.path())
        .output()
        .expect("run duckdb");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "",
        "DuckDB finds no message of the erased user"
    );
    let (_, stdout, stderr) = run(&["status", "--format", "json", "jobs"]).await;
    let status: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"));
    let seals = files_below(
        &project.dir.path().join("archive/_chatvault/seals/hive"),
        ".json",
    );
    assert_eq!(
        status[0]["seal"]["sequence"].as_u64(),
        Some(seals.len() as u64),
        "the ledger records the erasure record as the newest seal: {stdout}"
    );
    // Needs verify to accept what erasure records name (built on the expire branch).
    let (code, stdout, stderr) = run(&["verify", "--job", "hive", "jobs"]).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
}

/// Seals the job of [`project`] as a run's end would: every manifest there is then named by
/// a seal, with its bytes.
async fn sealed(project: &Project) {
    use chatvault::archive::seal::{SealMemory, Sealing, seal};
    use chatvault::signing::Keyring;
    use chatvault::store::url::StoreUrl;
    use chatvault::store::{self, StoreOptions};

    let url = StoreUrl::File {
        path: project.dir.path().join("archive"),
    };
    let store = store::open(&url, &StoreOptions::new(), &[]).expect("store");
    let keyring = Keyring::default();
    let sealing = Sealing {
        signer: None,
        keyring: &keyring,
        recorded: None,
    };
    seal(
        &store,
        "support",
        "_media",
        sealing,
        chrono::Utc::now(),
        &SealMemory::default(),
    )
    .await
    .expect("sealed");
}

const NOT_VOUCHED: &str =
    "kept: its manifest is not the one sealed/signed (changed after the fact?)";

/// A manifest rewritten in the bucket after its seal is not acted on: the archive stays as
/// it is, reported, exit 1, and the request stays unfinished.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archive_whose_manifest_changed_after_its_seal_is_kept_and_reported() {
    let project = project();
    sealed(&project).await;
    let key = "support/2026/01/01/channels-1.jsonl";
    let path = project
        .dir
        .path()
        .join(format!("archive/{key}.manifest.json"));
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("json");
    manifest["chatvault_version"] = "changed".into();
    std::fs::write(&path, serde_json::to_vec(&manifest).expect("json")).expect("write");
    let before = archive_keys(&project);

    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("{key}: {NOT_VOUCHED}")),
        "{stderr}"
    );
    assert_eq!(archive_keys(&project), before, "nothing replaced");
    let (requests, done) = state_documents(&project);
    assert_eq!((requests.len(), done.len()), (1, 0), "unfinished");
}

/// A replacement planted beside a sealed archive is not taken for the archive readers show:
/// the sealed original is erased, the planted one left and reported.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_planted_replacement_is_not_acted_on() {
    let project = project();
    sealed(&project).await;
    let root = project.dir.path().join("archive");
    let key = "support/2026/01/01/channels-1.jsonl";
    let planted = "support/2026/01/01/channels-1.erased-1.jsonl";
    std::fs::copy(root.join(key), root.join(planted)).expect("copy");
    let mut manifest: Value = serde_json::from_slice(
        &std::fs::read(root.join(format!("{key}.manifest.json"))).expect("read"),
    )
    .expect("json");
    manifest["key"] = planted.into();
    std::fs::write(
        root.join(format!("{planted}.manifest.json")),
        serde_json::to_vec(&manifest).expect("json"),
    )
    .expect("write");

    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("{planted}: {NOT_VOUCHED}")),
        "{stderr}"
    );
    let keys = archive_keys(&project);
    assert!(keys.contains(&planted.to_owned()), "left: {keys:?}");
    assert!(
        keys.contains(&"support/2026/01/01/channels-1.erased-2.jsonl".to_owned()),
        "the sealed original replaced past the planted number: {keys:?}"
    );
    assert!(!keys.contains(&key.to_owned()), "{keys:?}");
}

/// A padded or control-character id matches no one and an empty reason explains nothing:
/// refused before anything is read or written.
#[test]
fn a_padded_user_or_an_empty_reason_is_refused_and_nothing_is_written() {
    let project = project();
    for (user, reason, said) in [
        (" alice", "r", "leading or trailing whitespace"),
        ("alice\t", "r", "leading or trailing whitespace"),
        ("al\u{7}ice", "r", "control or invisible character"),
        ("al\u{202e}ice", "r", "control or invisible character"),
        ("alice", "  ", "--reason is empty"),
    ] {
        let (code, stdout, stderr) =
            project.run(&["erase", "--user", user, "--reason", reason, "jobs"]);
        assert_eq!(code, 2, "{user:?} {reason:?}: {stdout}\n{stderr}");
        assert!(stderr.contains(said), "{stderr}");
    }
    assert_eq!(state_documents(&project), (Vec::new(), Vec::new()));
}

/// A request is permanent: none is written for a user no archive holds, and the error says
/// how to find the right id; a dry run says the same.
#[test]
fn a_user_no_archive_holds_is_an_error_and_no_request_is_written() {
    let project = project();
    for dry in [false, true] {
        let mut args = vec!["erase", "--user", "Alice", "--reason", "r", "jobs"];
        if dry {
            args.push("--dry-run");
        }
        let (code, stdout, stderr) = project.run(&args);
        assert_eq!(code, 1, "{stdout}\n{stderr}");
        assert!(
            stderr.contains("no archive of the jobs holds anything of Alice"),
            "{stderr}"
        );
        assert!(stderr.contains("case-sensitive"), "{stderr}");
        assert!(stderr.contains("chatvault search from:ID"), "{stderr}");
    }
    assert_eq!(state_documents(&project), (Vec::new(), Vec::new()));
    assert_eq!(archive_keys(&project).len(), 2);
}

/// The original's documents as stored (archive, manifest, media record): path and bytes.
fn original_documents(project: &Project) -> Vec<(PathBuf, Vec<u8>)> {
    let day = project.dir.path().join("archive/support/2026/01/01");
    let mut found: Vec<(PathBuf, Vec<u8>)> = std::fs::read_dir(&day)
        .expect("the day's folder")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let name = p.file_name().map(|n| n.to_string_lossy().into_owned());
            name.is_some_and(|n| n.starts_with("channels-1.jsonl"))
        })
        .map(|p| {
            let bytes = std::fs::read(&p).expect("read");
            (p, bytes)
        })
        .collect();
    found.sort();
    found
}

/// Gives the job of [`project`] a ledger, as its first run would: the ledger then keeps the
/// head of its seal chain, which vouches for records in a deployment that does not sign.
async fn with_ledger(project: &Project) {
    use chatvault::state::Ledger;
    use chatvault::store::url::StoreUrl;
    use chatvault::store::{self, StoreOptions};

    let url = StoreUrl::File {
        path: project.dir.path().join(".chatvault/state"),
    };
    let state = store::open(&url, &StoreOptions::new(), &[]).expect("state store");
    Ledger::open(state, "support")
        .update(|_| {})
        .await
        .expect("a ledger");
}

/// A backup restore or an undeleted object brings an erased original back: readers do not
/// show it (its replacement stands in), so only the erasure record says it must go. Any
/// later erasure, even of the same user with nothing else left of them, deletes it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_original_that_reappears_is_deleted_by_the_next_erase() {
    let project = project();
    with_ledger(&project).await;
    with_media(&project);
    let originals = original_documents(&project);
    assert_eq!(originals.len(), 3, "archive, manifest, media record");
    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for (path, bytes) in &originals {
        assert!(!path.exists(), "{}", path.display());
        std::fs::write(path, bytes).expect("restored");
    }

    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("3 document(s) of originals an earlier erasure deleted were back"),
        "{stdout}"
    );
    for (path, _) in &originals {
        assert!(!path.exists(), "{}", path.display());
    }
    assert_eq!(state_documents(&project).0.len(), 1, "no new request");
    let (code, stdout, stderr) = project.run(&["verify", "--job", "support", "jobs"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
}

/// Only the bytes the erasure record names are deleted: a document at the same key with other
/// bytes is somebody's, reported and left (with what describes it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reappeared_original_with_other_bytes_is_reported_and_left() {
    let project = project();
    with_ledger(&project).await;
    let originals = original_documents(&project);
    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    for (path, bytes) in &originals {
        let mut bytes = bytes.clone();
        if path.to_string_lossy().ends_with(".jsonl") {
            bytes.extend_from_slice(b"{}\n");
        }
        std::fs::write(path, bytes).expect("restored");
    }

    let (code, stdout, stderr) = erase(&project);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("channels-1.jsonl: an erasure record names it, but its bytes"),
        "{stderr}"
    );
    for (path, _) in &originals {
        assert!(path.exists(), "{}", path.display());
    }
    // Nor does erasing somebody whose archive it was part of delete it.
    let (code, stdout, stderr) = project.run(&["erase", "--user", "bob", "--reason", "r", "jobs"]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    for (path, _) in &originals {
        assert!(path.exists(), "{}", path.display());
    }
}
