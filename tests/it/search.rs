//! `chatvault search` through the binary, on archives `run --once` wrote against the emulator:
//! hits equal the emulator's ground truth, each message once although overlapping windows and
//! a users snapshot hold it several times; v1 documents, gzip, zstd and plain files are read;
//! a corrupt or missing archive is reported (exit 1) while the search goes on, and archives
//! that cannot match are not read. Hostile text, searched through `--url`, comes out escaped
//! in every format, and so does a transcript of it (HTML, Markdown, text), threads and all.

use std::collections::BTreeSet;
use std::path::Path;

use chatvault::archive::media::record::parse_record_key;
use chatvault::config::job::Compression;
use chatvault_emulator::{Emulator, GroundTruthOptions};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::Value;

use crate::common::ground_truth::decompress;
use crate::common::processes::{command, finish, realtime_config, start_emulator};
use crate::common::{Project, files_below, midnight, write_archive};

fn truth(emu: &Emulator, cid: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Vec<String> {
    emu.ground_truth(
        cid,
        Some(since),
        Some(until),
        GroundTruthOptions {
            include_truncated_messages: false,
            include_soft_deleted_channels: false,
            as_of: None,
        },
    )
}

/// Four jobs into one folder: a daily window (gzip) and a rolling 48-hour one (zstd) over the
/// same channel (they overlap by a day), a v1 export of another channel (uncompressed), and a
/// users snapshot.
fn project(emu: &Emulator) -> Project {
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    let job = |name: &str, body: &str, compression: &str| {
        project.job(
            &format!("{name}.yaml"),
            format!(
                "name: {name}\nschedule: \"0 0 * * *\"\n{body}\
                 destination:\n  url: file://archive\n  compression: {compression}\n"
            ),
        );
    };
    job(
        "daily",
        "channels:\n  - cid: messaging:general-000\n  - cid: team:project-000\n",
        "gzip",
    );
    job(
        "rolling",
        "window:\n  mode: rolling\n  last: 48h\nchannels:\n  - cid: messaging:general-000\n",
        "zstd",
    );
    job(
        "legacy",
        "channels:\n  - cid: livestream:broadcast-000\nexport:\n  version: v1\n",
        "none",
    );
    job("people", "users: [user-000]\n", "gzip");
    project
}

/// `chatvault search ARGS --format jsonl`: (exit code, hits, stderr).
async fn search(project: &Project, emu: &Emulator, args: &[&str]) -> (i32, Vec<Value>, String) {
    let mut all = vec!["search"];
    all.extend(args);
    all.extend(["--format", "jsonl", "jobs"]);
    let (code, stdout, stderr) = finish(command(project, emu, &all)).await;
    let hits = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    (code, hits, stderr)
}

fn ids(hits: &[Value]) -> Vec<String> {
    hits.iter()
        .map(|h| h["id"].as_str().expect("an id").to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_the_ground_truth_once_across_overlapping_archives_and_formats() {
    let emu = start_emulator(realtime_config(48)).await;
    let project = project(&emu);
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let archive = project.dir.path().join("archive");
    let two_days = (midnight() - TimeDelta::days(2)).to_rfc3339();
    let end = midnight().to_rfc3339();

    // The channel is in the daily archive and the rolling one (a day twice): each message
    // once, in time order.
    let query = format!("in:messaging:general-000 after:{two_days} before:{end}");
    let (code, hits, stderr) = search(
        &project,
        &emu,
        &[&query, "--job", "daily", "--job", "rolling"],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let expected = truth(
        &emu,
        "messaging:general-000",
        midnight() - TimeDelta::days(2),
        midnight(),
    );
    assert!(!expected.is_empty());
    let got = ids(&hits);
    assert_eq!(
        got.iter().collect::<BTreeSet<_>>(),
        expected.iter().collect::<BTreeSet<_>>(),
        "the ground truth of two days"
    );
    assert_eq!(got.len(), expected.len(), "each message once");
    let times: Vec<&str> = hits
        .iter()
        .map(|h| h["created_at"].as_str().expect("a time"))
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "in time order");
    for hit in &hits {
        for field in ["job", "key", "cid", "id", "user", "created_at", "text"] {
            assert!(!hit[field].is_null(), "{field} in {hit}");
        }
    }

    // A v1 document, read as a stream.
    let yesterday = (midnight() - TimeDelta::days(1)).to_rfc3339();
    let query = format!("in:livestream:broadcast-000 after:{yesterday}");
    let (code, hits, stderr) = search(&project, &emu, &[&query, "--job", "legacy"]).await;
    assert_eq!(code, 0, "{stderr}");
    let expected = truth(
        &emu,
        "livestream:broadcast-000",
        midnight() - TimeDelta::days(1),
        midnight(),
    );
    assert_eq!(
        ids(&hits).into_iter().collect::<BTreeSet<_>>(),
        expected.into_iter().collect::<BTreeSet<_>>()
    );

    // from: over the users snapshot equals what the file holds, read here independently.
    let users_file = files_below(&archive, ".jsonl.gz")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("users-"))
        .expect("the users archive");
    let text = decompress(
        &std::fs::read(&users_file).expect("read"),
        Compression::Gzip,
    );
    let mut in_file = BTreeSet::new();
    for line in String::from_utf8_lossy(&text).lines() {
        let v: Value = serde_json::from_str(line).expect("a line");
        if v["type"] == "message" && v["item"]["user"]["id"] == "user-000" {
            in_file.insert(v["item"]["id"].as_str().expect("id").to_owned());
        }
    }
    assert!(!in_file.is_empty());
    let (code, hits, stderr) = search(&project, &emu, &["from:user-000", "--job", "people"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(ids(&hits).into_iter().collect::<BTreeSet<_>>(), in_file);
    // Over every job, the snapshot's messages that channel archives hold too come once.
    let (code, everywhere, stderr) = search(&project, &emu, &["from:user-000"]).await;
    assert_eq!(code, 0, "{stderr}");
    let all = ids(&everywhere);
    let unique: BTreeSet<&String> = all.iter().collect();
    assert_eq!(unique.len(), all.len(), "each message once");
    assert!(in_file.iter().all(|id| unique.contains(id)));
    let (_, in_channels, _) = search(
        &project,
        &emu,
        &["from:user-000", "--job", "daily", "--job", "rolling"],
    )
    .await;
    let in_channels = ids(&in_channels);
    assert!(
        in_channels.iter().any(|id| in_file.contains(id)),
        "some messages are both in a channel archive and the snapshot"
    );
    assert!(in_channels.iter().all(|id| unique.contains(id)));

    // A word: every hit holds it, whatever the case; --limit keeps the earliest.
    let word = hits[0]["text"]
        .as_str()
        .and_then(|t| t.split_whitespace().find(|w| w.len() > 3))
        .expect("a word")
        .to_uppercase();
    let (code, worded, _) = search(&project, &emu, &[&word]).await;
    assert_eq!(code, 0);
    assert!(!worded.is_empty());
    assert!(worded.iter().all(|h| {
        h["text"]
            .as_str()
            .is_some_and(|t| t.to_uppercase().contains(&word))
    }));
    let (_, limited, _) = search(&project, &emu, &[&word, "--limit", "2"]).await;
    assert_eq!(ids(&limited), ids(&worded)[..2.min(worded.len())]);

    // The same channel as a transcript: every message of the daily window, once.
    let (code, html, stderr) = finish(command(
        &project,
        &emu,
        &[
            "transcript",
            "--in",
            "messaging:general-000",
            "--job",
            "daily",
            "--format",
            "html",
            "jobs",
        ],
    ))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let daily = truth(
        &emu,
        "messaging:general-000",
        midnight() - TimeDelta::days(1),
        midnight(),
    );
    assert_eq!(
        html.matches("<div class=\"msg").count(),
        daily.len(),
        "{html}"
    );
    assert!(
        daily
            .iter()
            .all(|id| html.contains(&format!("id=\"m-{id}\"")))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_or_missing_archive_is_reported_and_the_search_goes_on() {
    let emu = start_emulator(realtime_config(48)).await;
    let project = project(&emu);
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let archive = project.dir.path().join("archive");
    let v1 = files_below(&archive, ".json")
        .into_iter()
        .find(|p| {
            let name = p.to_string_lossy();
            !name.ends_with(".manifest.json")
                && parse_record_key(&name).is_none()
                && !name.contains("_chatvault")
        })
        .expect("the v1 archive");
    let mut bytes = std::fs::read(&v1).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&v1, bytes).expect("corrupt it");

    let (code, hits, stderr) = search(&project, &emu, &["in:livestream:broadcast-000"]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(hits.is_empty(), "nothing from a corrupt archive: {hits:?}");
    let key = v1
        .strip_prefix(&archive)
        .expect("below the archive")
        .display()
        .to_string();
    assert!(
        stderr.contains(&key) && stderr.contains("corrupt"),
        "{stderr}"
    );

    // Its manifest says it cannot hold general-000: not read, so not reported.
    let (code, hits, stderr) = search(&project, &emu, &["in:messaging:general-000"]).await;
    assert_eq!(code, 0, "{stderr}");
    assert!(!hits.is_empty());

    let daily = files_below(&archive, ".jsonl.gz")
        .into_iter()
        .find(|p| p.to_string_lossy().contains("daily/"))
        .expect("a daily archive");
    std::fs::remove_file(&daily).expect("remove it");
    let (code, hits, stderr) = search(&project, &emu, &["in:team:project-000"]).await;
    assert_eq!(code, 1, "{stderr}");
    assert!(hits.is_empty());
    assert!(stderr.contains("missing"), "{stderr}");

    let (code, _, stderr) = search(&project, &emu, &["after:soon"]).await;
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("at character 7") && stderr.contains("RFC 3339"),
        "{stderr}"
    );
}

#[test]
fn hostile_text_is_escaped_in_every_format_through_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    std::fs::create_dir_all(&store).expect("mkdir");
    let hostile = [
        ("m1", "\u{1b}[2J\u{1b}[31mcleared\r\nforged line"),
        ("m2", "=HYPERLINK(\"http://evil\",\"click\")"),
        (
            "m3",
            "<script>alert(1)</script><img src=x onerror=alert(2)>",
        ),
    ];
    let lines: Vec<Value> = hostile
        .iter()
        .enumerate()
        .map(|(i, (id, text))| {
            let mut message = serde_json::json!({
                "id": id, "cid": "messaging:x", "text": text, "type": "regular",
                "user": {"id": "mallory"},
                "created_at": format!("2026-01-01T00:00:0{i}Z"),
            });
            if *id == "m3" {
                // A thread reply with an attachment, and Stream's html, which is never used.
                message["parent_id"] = "m1".into();
                message["attachments"] = serde_json::json!([
                    {"type": "file", "title": "<b>report</b>.pdf",
                     "asset_url": "https://files.invalid/r.pdf"}
                ]);
                message["html"] = "<p><script>alert(3)</script></p>".into();
            }
            // The first as a bare entity, the others in the {type, item} envelope.
            if i == 0 {
                message
            } else {
                serde_json::json!({"type": "message", "item": message})
            }
        })
        .collect();
    write_archive(
        &store,
        "hostile/2026/01/01/channels-0001.jsonl",
        "hostile",
        &lines,
    );
    let url = format!("file://{}", store.display());
    let run = |format: &str| {
        let out = crate::common::chatvault_in(dir.path())
            .args(["search", "from:mallory", "--url", &url, "--format", format])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    };

    let table = run("table");
    assert!(
        !table.contains('\u{1b}'),
        "no raw escape reaches the terminal"
    );
    assert!(!table.contains('\r'), "{table}");
    assert!(table.contains("\\u{1b}[2J"), "{table}");
    assert_eq!(
        table.lines().count(),
        4,
        "three hits and the count: {table}"
    );

    let csv = run("csv");
    assert!(
        csv.contains("\"'=HYPERLINK(\"\"http://evil\"\",\"\"click\"\")\""),
        "a cell that cannot start a formula: {csv}"
    );

    let jsonl = run("jsonl");
    let texts: Vec<String> = jsonl
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("a JSON line");
            v["text"].as_str().expect("text").to_owned()
        })
        .collect();
    let expected: Vec<&str> = hostile.iter().map(|(_, t)| *t).collect();
    assert_eq!(texts, expected, "JSON carries the text exactly, escaped");

    let transcript = |format: &str| {
        let out = crate::common::chatvault_in(dir.path())
            .args([
                "transcript",
                "--in",
                "messaging:x",
                "--url",
                &url,
                "--format",
                format,
            ])
            .args(["--tz", "Europe/Berlin"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{out:?}");
        String::from_utf8(out.stdout).expect("UTF-8")
    };
    let html = transcript("html");
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(
        !html.contains("<script") && !html.contains("<img") && !html.contains("<b>"),
        "markup in messages stays text: {html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(
        !html.contains("alert(3)"),
        "Stream's html field is never used"
    );
    assert!(
        html.contains("&lt;b&gt;report&lt;/b&gt;.pdf"),
        "the attachment is listed"
    );
    assert!(
        html.contains("01:00:00 CET"),
        "times in the zone asked for: {html}"
    );
    let reply_at = html.find("id=\"m-m3\"").expect("the reply");
    let replies_at = html.find("class=\"replies\"").expect("a thread");
    let parent_at = html.find("id=\"m-m1\"").expect("its parent");
    assert!(
        parent_at < replies_at && replies_at < reply_at,
        "the reply under its parent"
    );
    assert!(
        !html.contains(" src=\"") && !html.contains("<link") && !html.contains("<script"),
        "nothing fetched: {html}"
    );
    let txt = transcript("txt");
    assert!(!txt.contains('\u{1b}') && txt.contains("\\u{1b}"), "{txt}");
    assert!(
        txt.contains("    ↳ "),
        "the reply indented under its parent: {txt}"
    );
    let md = transcript("md");
    assert!(md.contains("&lt;script&gt;"), "{md}");
}

/// Three messages of `author`, as an older chatvault archived them.
fn format1_archive(store: &Path, key: &str, author: &str) {
    let lines: Vec<Value> = (0..3)
        .map(|i| {
            serde_json::json!({"type": "message", "item": {
                "id": format!("{author}-{i}"), "cid": "messaging:x", "text": format!("hello {i}"),
                "user": {"id": author}, "created_at": format!("2026-01-01T00:00:0{i}Z"),
            }})
        })
        .collect();
    write_archive(store, key, "old", &lines);
}

#[test]
fn index_counts_older_archives_once_so_searches_skip_what_cannot_match() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    format1_archive(&store, "old/a/channels-0001.jsonl", "alice");
    format1_archive(&store, "old/b/channels-0001.jsonl", "bob");
    let url = format!("file://{}", store.display());
    let chatvault = |args: &[&str]| {
        let out = crate::common::chatvault_in(dir.path())
            .args(args)
            .output()
            .expect("runs");
        (
            out.status.code().expect("an exit code"),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // Bob's archive broken: without counts, a search for alice must read it, and says so.
    let bob = store.join("old/b/channels-0001.jsonl");
    let intact = std::fs::read(&bob).expect("read");
    let mut broken = intact.clone();
    broken[0] = b'#';
    std::fs::write(&bob, &broken).expect("break it");
    let (code, _, stderr) = chatvault(&["search", "from:alice", "--url", &url]);
    assert_eq!(code, 1, "{stderr}");

    std::fs::write(&bob, &intact).expect("mend it");
    let (code, stdout, stderr) = chatvault(&["index", "--url", &url]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.starts_with("2 catalog record(s) written"),
        "{stdout}"
    );
    assert!(
        store
            .join("old/a/channels-0001.jsonl.catalog.json")
            .exists()
    );
    let (code, stdout, _) = chatvault(&["index", "--url", &url]);
    assert_eq!(code, 0);
    assert!(
        stdout.starts_with("0 catalog record(s) written; 2 archive(s) had one"),
        "idempotent: {stdout}"
    );
    let (code, stdout, stderr) = chatvault(&["verify", "--url", &url]);
    assert_eq!(
        code, 0,
        "catalog records are not extra objects: {stdout}{stderr}"
    );

    // Counted now: bob's archive cannot hold alice's messages and is not read.
    std::fs::write(&bob, &broken).expect("break it again");
    let (code, stdout, stderr) =
        chatvault(&["search", "from:alice", "--url", &url, "--format", "jsonl"]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 3, "{stdout}");
    let (code, _, stderr) = chatvault(&["search", "from:bob", "--url", &url]);
    assert_eq!(code, 1, "bob's is read, and found broken: {stderr}");
}

/// `chatvault ARGS` in `dir`: (exit code, stdout, stderr).
fn chatvault_at(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = crate::common::chatvault_in(dir)
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().expect("an exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The ids of `search --format jsonl` output.
fn hit_ids(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"));
            v["id"].as_str().expect("an id").to_owned()
        })
        .collect()
}

/// One archive of `messaging:x` holding `(id, user, text)` messages a second apart from
/// `2026-01-01T00:00:00Z`, counted by `chatvault index` so that its users are known.
fn counted_archive(dir: &Path, messages: &[(&str, &str, &str)]) -> String {
    let store = dir.join("store");
    let lines: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (id, user, text))| {
            serde_json::json!({"type": "message", "item": {
                "id": id, "cid": "messaging:x", "text": text, "user": {"id": user},
                "created_at": format!("2026-01-01T00:00:{i:02}Z"),
            }})
        })
        .collect();
    write_archive(&store, "j/2026/01/01/channels-0001.jsonl", "j", &lines);
    let url = format!("file://{}", store.display());
    let (code, _, stderr) = chatvault_at(dir, &["index", "--url", &url]);
    assert_eq!(code, 0, "{stderr}");
    url
}

#[test]
fn a_mistyped_operator_is_exit_2_and_words_match_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = counted_archive(
        dir.path(),
        &[
            ("m1", "u-alice", "a refund, please"),
            ("m2", "u-alice", "the INVOICE is attached"),
            ("m3", "u-alice", "my order for tomorrow"),
            ("m4", "u-alice", "Refunded yesterday"),
        ],
    );
    let search = |query: &str| {
        chatvault_at(
            dir.path(),
            &["search", query, "--url", &url, "--format", "jsonl"],
        )
    };
    let (code, stdout, stderr) = search("refund form:u-alice");
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("at character 8")
            && stderr.contains("`form:` is not an operator: did you mean `from:`?"),
        "{stderr}"
    );
    let (code, _, stderr) = search("inn:messaging:x");
    assert_eq!(code, 2);
    assert!(stderr.contains("did you mean `in:`?"), "{stderr}");

    let (code, stdout, stderr) = search("FROM:u-alice");
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(hit_ids(&stdout), ["m1", "m2", "m3", "m4"]);
    let (_, stdout, _) = search("refund OR invoice from:u-alice");
    assert_eq!(
        hit_ids(&stdout),
        ["m1", "m2"],
        "not `or` inside order or tomorrow"
    );
    let (_, stdout, _) = search("refund*");
    assert_eq!(hit_ids(&stdout), ["m1", "m4"]);
    let (_, stdout, _) = search("\"form:u-alice\" OR https://example.com 12:30 re:");
    assert!(stdout.is_empty(), "other colons are words: {stdout}");

    let (code, stdout, _) = chatvault_at(
        dir.path(),
        &[
            "search",
            "refund OR invoice",
            "--url",
            &url,
            "--format",
            "table",
        ],
    );
    assert_eq!(code, 0);
    assert!(stdout.contains("a [refund], please"), "{stdout}");
    assert!(stdout.contains("the [INVOICE] is"), "{stdout}");
    assert!(stdout.ends_with("2 message(s)\n"), "{stdout}");
}

#[test]
fn an_id_held_in_another_case_gets_a_hint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = counted_archive(dir.path(), &[("m1", "u-alice", "hello")]);
    let (code, stdout, stderr) = chatvault_at(
        dir.path(),
        &["search", "from:U-Alice", "--url", &url, "--format", "jsonl"],
    );
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains(
            "hint: no archive holds from:U-Alice; ids are case-sensitive, and the archives hold \
             from:u-alice"
        ),
        "{stderr}"
    );
    let (_, _, stderr) = chatvault_at(
        dir.path(),
        &[
            "search",
            "in:Messaging:X",
            "--url",
            &url,
            "--format",
            "jsonl",
        ],
    );
    assert!(
        stderr.contains("the archives hold in:messaging:x"),
        "{stderr}"
    );
    let (_, stdout, stderr) = chatvault_at(
        dir.path(),
        &["search", "from:u-alice", "--url", &url, "--format", "jsonl"],
    );
    assert_eq!(hit_ids(&stdout), ["m1"]);
    assert!(!stderr.contains("hint"), "{stderr}");
}

#[test]
fn invisible_characters_are_shown_in_the_table_and_every_transcript() {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = counted_archive(
        dir.path(),
        &[(
            "m1",
            "eve\u{2067}",
            "invoice \u{202e}fdp.exe\u{202c} attached",
        )],
    );
    let run = |args: &[&str]| {
        let (code, stdout, stderr) = chatvault_at(dir.path(), args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(
            !stdout.contains(['\u{202e}', '\u{202c}', '\u{2067}']),
            "{args:?} prints no invisible character raw:\n{stdout}"
        );
        stdout
    };
    let table = run(&["search", "invoice", "--url", &url, "--format", "table"]);
    assert!(
        table.contains("eve\\u{2067}  [invoice] \\u{202e}fdp.exe\\u{202c} attached"),
        "{table}"
    );
    let transcript = |format: &str| {
        run(&[
            "transcript",
            "--in",
            "messaging:x",
            "--url",
            &url,
            "--format",
            format,
        ])
    };
    let txt = transcript("txt");
    assert!(
        txt.contains("invoice \\u{202e}fdp.exe\\u{202c} attached"),
        "{txt}"
    );
    let md = transcript("md");
    assert!(md.contains("invoice \\\\u\\{202e\\}fdp\\.exe"), "{md}");
    let html = transcript("html");
    assert!(
        html.contains(
            "<p class=\"text\"><bdi>invoice <span class=\"bidi\" title=\"an invisible \
             character\">U+202E</span>fdp.exe"
        ),
        "{html}"
    );
}

#[test]
fn dates_are_read_in_tz_for_search_and_transcript() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    // Around 2026-12-05 in New York (UTC-5): before it, its first and last minutes, after it.
    let times = [
        ("before", "2026-12-05T04:30:00Z"),
        ("first", "2026-12-05T05:30:00Z"),
        ("last", "2026-12-06T04:59:00Z"),
        ("after", "2026-12-06T05:00:00Z"),
    ];
    let lines: Vec<Value> = times
        .iter()
        .map(|(id, at)| {
            serde_json::json!({"type": "message", "item": {
                "id": id, "cid": "messaging:x", "text": "hello", "user": {"id": "u1"},
                "created_at": at,
            }})
        })
        .collect();
    write_archive(&store, "j/2026/12/05/channels-0001.jsonl", "j", &lines);
    let url = format!("file://{}", store.display());
    // Counted, so that the archive's real message times, not its manifest's window, count.
    let (code, _, stderr) = chatvault_at(dir.path(), &["index", "--url", &url]);
    assert_eq!(code, 0, "{stderr}");
    let zone = ["--tz", "America/New_York"];

    let (code, stdout, stderr) = chatvault_at(
        dir.path(),
        &[
            &[
                "search",
                "after:2026-12-05 before:2026-12-06",
                "--url",
                &url,
            ],
            &zone[..],
            &["--format", "jsonl"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(hit_ids(&stdout), ["first", "last"]);
    let (_, table, _) = chatvault_at(
        dir.path(),
        &[
            &[
                "search",
                "after:2026-12-05",
                "--url",
                &url,
                "--format",
                "table",
            ],
            &zone[..],
        ]
        .concat(),
    );
    assert!(
        table.starts_with("2026-12-05 00:30:00  messaging:x"),
        "times in the zone: {table}"
    );
    let (_, utc, _) = chatvault_at(
        dir.path(),
        &[
            "search",
            "after:2026-12-05 before:2026-12-06",
            "--url",
            &url,
            "--format",
            "jsonl",
        ],
    );
    assert_eq!(hit_ids(&utc), ["before", "first"], "UTC by default");

    let (code, stdout, stderr) = chatvault_at(
        dir.path(),
        &[
            &["transcript", "--in", "messaging:x", "--url", &url][..],
            &["--after", "2026-12-05", "--before", "2026-12-06"],
            &zone[..],
            &["--format", "jsonl"],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(hit_ids(&stdout), ["first", "last"]);
    let (code, _, stderr) = chatvault_at(
        dir.path(),
        &[
            "transcript",
            "--in",
            "messaging:x",
            "--url",
            &url,
            "--after",
            "2026-12-05",
        ]
        .into_iter()
        .chain(["--tz", "America/Nowhere"])
        .collect::<Vec<_>>(),
    );
    assert_eq!(code, 2);
    assert!(
        stderr.contains("--tz America/Nowhere: not an IANA time zone"),
        "{stderr}"
    );
}

/// A CloudFront-style signed link to `path` on Stream's CDN, as exports carry them.
fn signed(path: &str) -> String {
    format!(
        "https://us-east.stream-io-cdn.com/1/{path}?Key-Pair-Id=APKA&Policy=eyJ9&Signature=c2ln&Expires=1767225600"
    )
}

#[test]
fn has_finds_messages_by_attachment_type_and_no_output_keeps_a_signed_query() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let attachment = |kind: &str, field: &str, path: &str| serde_json::json!({"type": kind, "title": format!("{kind}.bin"), field: signed(path)});
    let messages = [
        ("m1", vec![attachment("image", "image_url", "images/a.png")]),
        ("m2", vec![attachment("file", "asset_url", "files/r.pdf")]),
        ("m3", vec![attachment("video", "asset_url", "videos/v.mp4")]),
        (
            "m4",
            vec![attachment("voiceRecording", "asset_url", "audio/v.aac")],
        ),
        (
            "m5",
            vec![serde_json::json!({
                "og_scrape_url": "https://example.com/post",
                "title_link": "https://example.com/post",
                "image_url": signed("og/preview.jpg"),
            })],
        ),
        ("m6", Vec::new()),
    ];
    let lines: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (id, attachments))| {
            serde_json::json!({"type": "message", "item": {
                "id": id, "cid": "messaging:x", "text": "look at this",
                "user": {"id": "u-alice", "image": signed("avatars/alice.png")},
                "created_at": format!("2026-01-01T00:00:0{i}Z"),
                "attachments": attachments,
            }})
        })
        .collect();
    write_archive(&store, "j/2026/01/01/channels-0001.jsonl", "j", &lines);
    let url = format!("file://{}", store.display());
    let search = |query: &str, format: &str| {
        chatvault_at(
            dir.path(),
            &["search", query, "--url", &url, "--format", format],
        )
    };
    for (query, expected) in [
        ("has:image", vec!["m1"]),
        ("HAS:File", vec!["m2"]),
        ("has:video", vec!["m3"]),
        ("has:audio", vec!["m4"]),
        ("has:link", vec!["m5"]),
        ("has:attachment", vec!["m1", "m2", "m3", "m4", "m5"]),
        ("has:image has:file", vec![]),
    ] {
        let (code, stdout, stderr) = search(query, "jsonl");
        assert_eq!(code, 0, "{query}: {stderr}");
        assert_eq!(hit_ids(&stdout), expected, "{query}");
    }
    let (code, stdout, stderr) = search("has:imgae", "jsonl");
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(
        stderr.contains("at character 5") && stderr.contains("did you mean `has:image`?"),
        "{stderr}"
    );

    for format in ["jsonl", "csv", "table"] {
        let (code, stdout, stderr) = search("has:attachment", format);
        assert_eq!(code, 0, "{format}: {stderr}");
        for secret in ["Signature=", "Expires=", "Key-Pair-Id=", "Policy=", "c2ln"] {
            assert!(
                !stdout.contains(secret),
                "{format} shows {secret}: {stdout}"
            );
            assert!(
                !stderr.contains(secret),
                "{format} shows {secret}: {stderr}"
            );
        }
    }
    let (_, stdout, _) = search("has:file", "jsonl");
    let hit: Value = serde_json::from_str(stdout.trim()).expect("one hit");
    assert_eq!(
        hit["attachments"],
        serde_json::json!([{"type": "file", "name": "file.bin",
            "url": "https://us-east.stream-io-cdn.com/1/files/r.pdf"}])
    );
    let (_, stdout, _) = search("has:image", "csv");
    assert!(
        stdout.contains(",image.bin (image): https://us-east.stream-io-cdn.com/1/images/a.png,"),
        "{stdout}"
    );
}

/// A replacement planted beside an archive (an `.erased-1` file whose manifest no key signed):
/// with the deployment's public key listed, search and transcripts leave it out, say so and
/// read the original; without one they cannot tell it apart.
#[test]
fn search_and_transcripts_with_public_keys_read_no_planted_replacement() {
    let project = Project::new();
    project.job(
        "support.yaml",
        "name: support\nschedule: \"0 0 * * *\"\nchannels:\n  - cid: messaging:x\n\
         destination:\n  url: file://archive\n  compression: none\n",
    );
    let archive = project.dir.path().join("archive");
    let message = |text: &str| {
        serde_json::json!({"type": "message", "item": {
            "id": "m1", "cid": "messaging:x", "text": text, "user": {"id": "bob"},
            "created_at": "2026-01-01T00:00:01Z",
        }})
    };
    write_archive(
        &archive,
        "support/2026/01/01/channels-1.jsonl",
        "support",
        &[message("the real words")],
    );
    let planted = "support/2026/01/01/channels-1.erased-1.jsonl";
    write_archive(&archive, planted, "support", &[message("FORGED words")]);
    let search = |query: &str| project.run(&["search", query, "--format", "jsonl", "jobs"]);

    let (code, stdout, stderr) = search("words");
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("FORGED") && !stdout.contains("real"),
        "without keys a replacement is taken as it is: {stdout}"
    );

    let (code, public, stderr) = project.run(&["keys", "generate", "--out", "signing.pem"]);
    assert_eq!(code, 0, "{stderr}");
    project.file("signing.pub", &public);
    project.file(
        "chatvault.yaml",
        "signing:\n  public_key_files: [signing.pub]\n",
    );
    let (code, stdout, stderr) = search("words");
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("the real words") && !stdout.contains("FORGED"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "error: {planted}: a replacement whose signature does not hold: not read; \
             `chatvault verify` says more"
        )),
        "{stderr}"
    );
    let (code, stdout, stderr) = project.run(&[
        "transcript",
        "--in",
        "messaging:x",
        "--format",
        "txt",
        "jobs",
    ]);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("the real words") && !stdout.contains("FORGED"),
        "{stdout}"
    );
    assert!(stderr.contains(planted), "{stderr}");
}
