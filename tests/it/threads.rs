//! Every message once, whatever its thread: on emulator data with replies to replies,
//! self-parents, loops, orphans, messages without `created_at` and right-to-left overrides,
//! archived by `run --once`, one channel's messages appear exactly once in each transcript
//! format (txt, md, html, jsonl), in the viewer's day pages summed over the days (and the pages
//! they link to), and in `search 'in:CID'`; the counts each states equal the emulator's ground
//! truth.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use chatvault_emulator::{DataSpec, Emulator, GroundTruthOptions, TruthMessage};
use chrono::{DateTime, TimeDelta, Utc};
use regex::Regex;
use serde_json::Value;

use crate::common::Project;
use crate::common::midnight;
use crate::common::processes::{command, finish, realtime_config, start_emulator};
use crate::common::viewer::Viewer;

const CID: &str = "messaging:general-000";
/// The channel as a path segment of the viewer's links.
const CID_SEGMENT: &str = "messaging%3Ageneral-000";
const DAYS: i64 = 3;

/// A daily job over [`CID`] from `since`, a window a day, into `archive/`.
fn project(emu: &Emulator, since: DateTime<Utc>) -> Project {
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    project.job(
        "daily.yaml",
        format!(
            "name: daily\nschedule: \"0 0 * * *\"\nwindow:\n  since: {}\n  max: 24h\n\
             channels:\n  - cid: {CID}\ndestination:\n  url: file://archive\n",
            since.to_rfc3339()
        ),
    );
    project
}

/// How many times each id occurs in `ids`.
fn tally<'a>(ids: impl IntoIterator<Item = &'a str>) -> BTreeMap<String, usize> {
    let mut seen = BTreeMap::new();
    for id in ids {
        *seen.entry(id.to_owned()).or_insert(0) += 1;
    }
    seen
}

/// Fails unless `seen` holds each message of `truth` exactly once and nothing else.
fn assert_each_once(what: &str, seen: &BTreeMap<String, usize>, truth: &[TruthMessage]) {
    let want: BTreeSet<&str> = truth.iter().map(|m| m.id.as_str()).collect();
    let missing: Vec<&TruthMessage> = truth.iter().filter(|m| !seen.contains_key(&m.id)).collect();
    let twice: Vec<(&String, &usize)> = seen.iter().filter(|(_, n)| **n > 1).collect();
    let extra: Vec<&String> = seen
        .keys()
        .filter(|id| !want.contains(id.as_str()))
        .collect();
    assert!(
        missing.is_empty() && twice.is_empty() && extra.is_empty(),
        "{what}: {} of {} messages missing ({} of them without a time; e.g. (id, parent, no \
         time) {:?}), {} shown more than once (e.g. {:?}), {} not in the ground truth (e.g. \
         {:?})",
        missing.len(),
        truth.len(),
        missing.iter().filter(|m| m.undated).count(),
        missing
            .iter()
            .take(3)
            .map(|m| (&m.id, &m.parent_id, m.undated))
            .collect::<Vec<_>>(),
        twice.len(),
        &twice[..twice.len().min(3)],
        extra.len(),
        &extra[..extra.len().min(3)],
    );
}

/// The count `pattern` captures in `text`.
fn stated_count(text: &str, pattern: &str) -> usize {
    let re = Regex::new(pattern).expect("a pattern");
    re.captures(text)
        .and_then(|c| c[1].parse().ok())
        .unwrap_or_else(|| panic!("no count /{pattern}/ in:\n{text}"))
}

/// How the ground truth's parents are tangled: how many messages name themselves, sit in a
/// loop, name a message the range does not hold, or reply to a reply; and how many have no
/// time.
fn shapes(truth: &[TruthMessage]) -> BTreeMap<&'static str, usize> {
    let parent: HashMap<&str, Option<&str>> = truth
        .iter()
        .map(|m| (m.id.as_str(), m.parent_id.as_deref()))
        .collect();
    let mut shapes = BTreeMap::new();
    for m in truth {
        let Some(p) = m.parent_id.as_deref() else {
            continue;
        };
        // Whether following parents from `m` comes back to it.
        let in_loop = || {
            let mut at = p;
            for _ in 0..truth.len() {
                match parent.get(at) {
                    _ if at == m.id => return true,
                    Some(Some(next)) => at = next,
                    _ => return false,
                }
            }
            false
        };
        let shape = if p == m.id {
            "self-parent"
        } else if !parent.contains_key(p) {
            "absent parent"
        } else if in_loop() {
            "loop"
        } else if parent[p].is_some() {
            "reply to a reply"
        } else {
            "reply"
        };
        *shapes.entry(shape).or_insert(0) += 1;
    }
    shapes.insert("no time", truth.iter().filter(|m| m.undated).count());
    shapes
}

/// The ids on every viewer page of the channel reached from its day pages: each day, the
/// parts of a busy day, and any other page of the channel they link to (where messages without
/// a time are shown). Message links (`msg=`) and the bare channel link (the latest day again)
/// are not followed: they show messages already counted.
async fn viewer_ids(url: &str, days: &[DateTime<Utc>]) -> BTreeMap<String, usize> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client");
    let href = Regex::new(r#"href="([^"]+)""#).expect("a pattern");
    let article = Regex::new(r#"data-id="([^"]+)""#).expect("a pattern");
    let channel = format!("/channels/{CID_SEGMENT}");
    let mut queue: Vec<String> = days
        .iter()
        .map(|d| format!("{channel}?day={}", d.format("%Y-%m-%d")))
        .collect();
    let mut visited = BTreeSet::new();
    let mut ids = Vec::new();
    while let Some(page) = queue.pop() {
        if !visited.insert(page.clone()) {
            continue;
        }
        let response = client
            .get(format!("{url}{page}"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {page}: {e}"));
        assert_eq!(response.status(), 200, "GET {page}");
        let body = response.text().await.expect("a page");
        ids.extend(article.captures_iter(&body).map(|c| c[1].to_owned()));
        for link in href.captures_iter(&body) {
            let link = link[1].replace("&amp;", "&");
            let link = link.split('#').next().unwrap_or_default().to_owned();
            if link.starts_with(&channel) && link != channel && !link.contains("msg=") {
                queue.push(link);
            }
        }
    }
    tally(ids.iter().map(String::as_str))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_message_of_a_tangled_channel_is_shown_once_in_transcripts_the_viewer_and_search() {
    let end = midnight();
    let since = end - TimeDelta::days(DAYS);
    let mut config = realtime_config(96);
    config.data = DataSpec {
        days_of_history: DAYS as u32,
        truncated_per_type: 0,
        soft_deleted_per_type: 0,
        reply_every: 4,
        tangle_every: 3,
        undated_every: 11,
        bidi_every: 7,
        ..config.data
    };
    // History from `since` to `end`, whatever the time of day: the same messages every day.
    config.start_time = end;
    let emu = start_emulator(config).await;
    let project = project(&emu, since);
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    let truth = emu.messages(CID, Some(since), Some(end), GroundTruthOptions::default());
    let shapes = shapes(&truth);
    for shape in [
        "reply",
        "reply to a reply",
        "self-parent",
        "loop",
        "absent parent",
        "no time",
    ] {
        assert!(
            shapes.get(shape).is_some_and(|n| *n > 0),
            "the data has a {shape}: {shapes:?}"
        );
    }
    let n = truth.len();

    // Every transcript format, over everything archived.
    let run = |format: &'static str| {
        let project = &project;
        let emu = &emu;
        async move {
            let (code, out, stderr) = finish(command(
                project,
                emu,
                &["transcript", "--in", CID, "--format", format, "jobs"],
            ))
            .await;
            assert_eq!(code, 0, "transcript --format {format}: {stderr}");
            out
        }
    };
    let txt = run("txt").await;
    let ids = Regex::new(r"\[id ([^\]]+)\]").expect("a pattern");
    let seen = tally(
        ids.captures_iter(&txt)
            .map(|c| c.get(1).map_or("", |m| m.as_str())),
    );
    assert_each_once("transcript txt", &seen, &truth);
    assert_eq!(stated_count(&txt, r"(?m)^(\d+) message\(s\)$"), n, "txt");

    let md = run("md").await;
    let ids = Regex::new(r"· id (\S+)").expect("a pattern");
    let unescaped: Vec<String> = ids
        .captures_iter(&md)
        .map(|c| c[1].replace('\\', ""))
        .collect();
    let seen = tally(unescaped.iter().map(String::as_str));
    assert_each_once("transcript md", &seen, &truth);
    assert_eq!(
        stated_count(&md, r"(?m)^_(\d+) message\\\(s\\\)_$"),
        n,
        "md"
    );

    let html = run("html").await;
    let ids = Regex::new(r#" id="m-([^"]+)""#).expect("a pattern");
    let seen = tally(
        ids.captures_iter(&html)
            .map(|c| c.get(1).map_or("", |m| m.as_str())),
    );
    assert_each_once("transcript html", &seen, &truth);
    assert_eq!(
        stated_count(&html, r"(\d+) message\(s\), read from"),
        n,
        "html"
    );

    let jsonl = run("jsonl").await;
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let seen = tally(lines.iter().map(|m| m["id"].as_str().unwrap_or_default()));
    assert_each_once("transcript jsonl", &seen, &truth);

    // The same channel in search.
    let (code, out, stderr) = finish(command(
        &project,
        &emu,
        &["search", &format!("in:{CID}"), "--format", "jsonl", "jobs"],
    ))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let hits: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    let seen = tally(hits.iter().map(|h| h["id"].as_str().unwrap_or_default()));
    assert_each_once("search in:CID", &seen, &truth);
    assert_eq!(hits.len(), n, "search");

    // A range cannot hold a message without a time: a ranged transcript and search leave
    // those out and say how many, never silently.
    let undated = truth.iter().filter(|m| m.undated).count();
    let range = [
        "--after",
        &since.to_rfc3339(),
        "--before",
        &end.to_rfc3339(),
    ];
    let mut args = vec!["transcript", "--in", CID];
    args.extend(range);
    args.push("jobs");
    let (code, ranged, stderr) = finish(command(&project, &emu, &args)).await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stated_count(&ranged, r"(?m)^(\d+) message\(s\)$"),
        n - undated
    );
    assert!(
        ranged.contains(&format!(
            "; {undated} more in them have no time, so no range holds them"
        )),
        "{ranged}"
    );
    let query = format!(
        "in:{CID} after:{} before:{}",
        since.to_rfc3339(),
        end.to_rfc3339()
    );
    let (code, out, stderr) = finish(command(
        &project,
        &emu,
        &["search", &query, "--format", "jsonl", "jobs"],
    ))
    .await;
    assert_eq!((code, out.lines().count()), (0, n - undated), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "note: {undated} more message(s) match but have no time"
        )),
        "{stderr}"
    );

    // The viewer's day pages, summed over the days.
    let mut ui = command(&project, &emu, &["ui", "--listen", "127.0.0.1:0", "jobs"]);
    ui.env_remove("CHATVAULT_LOG");
    let viewer = Viewer::start(ui).await;
    let days: Vec<DateTime<Utc>> = (0..DAYS).map(|d| since + TimeDelta::days(d)).collect();
    let seen = viewer_ids(&viewer.url, &days).await;
    viewer.stop().await;
    assert_each_once("the viewer's day pages", &seen, &truth);
    emu.shutdown().await;
}
