//! Nothing found is not success, through the binary: a location that holds no archive (an
//! empty folder, a folder of other files, a folder that does not exist: a typo in `--url`)
//! is an error naming the URL and what was listed, exit 1, for `verify`, `search`,
//! `transcript` and `index`; a transcript of a channel no archive holds is exit 1; `search
//! --limit` says how many matched in all; the viewer starts on an empty location and says so,
//! answers 404 for a channel no archive holds, and shows messages without a time in a part of
//! their own, where a search hit links.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use tokio::process::Command;

use crate::common::viewer::Viewer;
use crate::common::{Project, chatvault, output, write_archive};

fn url(dir: &Path) -> String {
    format!("file://{}", dir.display())
}

/// Every reading command on `--url`: (command, exit code, stderr).
fn every_reader(url: &str) -> Vec<(&'static str, i32, String)> {
    let runs: [(&str, Vec<&str>); 4] = [
        ("verify", vec!["verify", "--url", url]),
        ("search", vec!["search", "--url", url, "hello"]),
        (
            "transcript",
            vec!["transcript", "--in", "messaging:x", "--url", url],
        ),
        ("index", vec!["index", "--url", url]),
    ];
    runs.into_iter()
        .map(|(name, args)| {
            let (code, _, stderr) = output(chatvault().args(&args));
            (name, code, stderr)
        })
        .collect()
}

#[test]
fn a_location_without_archives_is_an_error_for_every_reading_command() {
    let dir = tempfile::tempdir().expect("tempdir");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("mkdir");
    let other = dir.path().join("other");
    std::fs::create_dir(&other).expect("mkdir");
    std::fs::write(other.join("notes.txt"), "not an archive").expect("write");
    let typo = dir.path().join("typo");
    for (folder, found) in [
        (&empty, "nothing is there"),
        (&other, "1 object(s), no manifest among them"),
        (&typo, "nothing is there"),
    ] {
        let url = url(folder);
        for (name, code, stderr) in every_reader(&url) {
            assert_eq!(code, 1, "{name} on {url}: {stderr}");
            let said = format!(
                "error: no archives at {url} (listed the folder {}: {found})",
                folder.display()
            );
            assert!(stderr.contains(&said), "{name} on {url}: {stderr}");
            assert!(stderr.contains("hint: check the URL"), "{name}: {stderr}");
        }
    }
}

/// A folder with one archive (as an older chatvault wrote it) of `messaging:x`, three
/// messages, one a reply to a reply.
fn one_archive(store: &Path) {
    let message = |id: &str, parent: Option<&str>, second: u32| {
        json!({"type": "message", "item": {
            "id": id, "cid": "messaging:x", "text": format!("hello {id}"),
            "parent_id": parent, "user": {"id": "u1"},
            "created_at": format!("2026-01-01T00:00:0{second}Z"),
        }})
    };
    write_archive(
        store,
        "x/2026/01/01/channels-0001.jsonl",
        "x",
        &[
            message("m1", None, 1),
            message("m2", Some("m1"), 2),
            message("m3", Some("m2"), 3),
        ],
    );
}

#[test]
fn a_transcript_of_a_channel_no_archive_holds_is_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    one_archive(dir.path());
    let url = url(dir.path());
    let (code, stdout, stderr) =
        output(chatvault().args(["transcript", "--in", "messaging:nosuch", "--url", &url]));
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("error: no listed archive holds the channel messaging:nosuch"),
        "{stderr}"
    );
    assert!(stdout.is_empty(), "no transcript: {stdout}");

    let (code, stdout, stderr) =
        output(chatvault().args(["transcript", "--in", "messaging:x", "--url", &url]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("[reply to m2]") && stdout.contains("3 message(s)"),
        "a reply to a reply is shown, marked: {stdout}"
    );
}

#[test]
fn a_limited_search_says_how_many_matched_in_all() {
    let dir = tempfile::tempdir().expect("tempdir");
    one_archive(dir.path());
    let url = url(dir.path());
    let (code, stdout, stderr) = output(chatvault().args([
        "search", "--url", &url, "--limit", "2", "--format", "table", "hello",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().last(), Some("2 of 3 message(s)"), "{stdout}");
    let (code, stdout, stderr) = output(chatvault().args([
        "search", "--url", &url, "--limit", "1", "--format", "jsonl", "hello",
    ]));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert_eq!(stderr, "1 of 3 message(s)\n");
    let (_, stdout, stderr) = output(chatvault().args([
        "search", "--url", &url, "--limit", "5", "--format", "table", "hello",
    ]));
    assert_eq!(stdout.lines().last(), Some("3 message(s)"), "{stdout}");
    assert!(stderr.is_empty(), "{stderr}");
}

async fn get(base: &str, path: &str) -> (u16, String) {
    let response = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client")
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("GET");
    let status = response.status().as_u16();
    (status, response.text().await.expect("a body"))
}

async fn start(project: &Project) -> Viewer {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatvault"));
    cmd.args(["ui", "--listen", "127.0.0.1:0", "jobs"])
        .current_dir(project.dir.path())
        .env_remove("CHATVAULT_LOG");
    Viewer::start(cmd).await
}

fn project_archiving_into(folder: &str) -> Project {
    let project = Project::new();
    project.job(
        "x.yaml",
        format!(
            "name: x\nschedule: \"0 0 * * *\"\nchannels:\n  - cid: messaging:x\n\
             destination:\n  url: file://{folder}\n  compression: none\n"
        ),
    );
    project
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_viewer_starts_on_an_empty_location_says_so_and_404s_an_unknown_channel() {
    let project = project_archiving_into("archive");
    let viewer = start(&project).await;
    for path in ["/", "/channels", "/search?q=hello"] {
        let (status, body) = get(&viewer.url, path).await;
        assert_eq!(status, 200, "{path}");
        assert!(
            body.contains("No archive yet at <code>file://"),
            "{path}: {body}"
        );
    }
    let (status, body) = get(&viewer.url, "/channels/messaging%3Ax").await;
    assert_eq!(status, 404, "{body}");
    assert!(body.contains("holds no archive yet"), "{body}");
    viewer.stop().await;

    let project = project_archiving_into("archive");
    one_archive(&project.dir.path().join("archive"));
    // A message without a time belongs to no day: the channel's `day=none` part shows it,
    // and a search hit links there.
    write_archive(
        &project.dir.path().join("archive"),
        "x/2026/01/02/channels-0001.jsonl",
        "x",
        &[json!({"type": "message", "item": {
            "id": "m9", "cid": "messaging:x", "text": "timeless", "user": {"id": "u1"},
        }})],
    );
    let viewer = start(&project).await;
    let (status, body) = get(&viewer.url, "/search?q=timeless").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("href=\"/channels/messaging%3Ax?day=none&amp;msg=m9#m-m9\""),
        "{body}"
    );
    let (status, body) = get(&viewer.url, "/channels/messaging%3Ax?day=none").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.matches("data-id=\"").count(), 1, "{body}");
    assert!(
        body.contains("data-id=\"m9\"") && body.contains("(no time)"),
        "{body}"
    );
    let (status, body) = get(&viewer.url, "/channels/nosuch%3Ax").await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("No listed archive holds the channel nosuch:x."),
        "{body}"
    );
    let (status, body) = get(&viewer.url, "/channels/messaging%3Ax?day=2026-01-01").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body.matches("data-id=\"").count(), 3, "{body}");
    assert!(body.contains("reply to a reply"), "{body}");
    let (status, body) = get(&viewer.url, "/").await;
    assert_eq!(status, 200);
    assert!(!body.contains("holds no archive yet"), "{body}");
    viewer.stop().await;
}
