//! `chatvault ui` in a real browser: archives made by `run --once` against the emulator (with
//! thread replies and hostile texts in its data), one day's archive then deleted with its
//! manifest, another's archive object alone, and two servers started as a user starts them
//! (one open on loopback, one behind a token). Chromium, driven by `tests/browser/ui.mjs`
//! through playwright-core, checks what a reader sees against the emulator's truth: pages load
//! cleanly (CSP on, no errors, no serious axe-core violation), a search typed into the box
//! lists the expected messages in order and links into their context, a thread opens in place,
//! both days are `missing` in the calendar (the second as a manifest without its archive),
//! months sit by weekday and a day's cell leads to its channels and on to their messages, every
//! archive of the job is on its archive pages, hostile texts stay text, an attachment recorded
//! as a captured PNG (the test writes the object and the media record) renders inline under
//! the page's CSP, and the token keeps strangers out. It leaves screenshots in
//! `target/ui-screenshots/` (`scripts/ui-screenshots` copies them into `docs/images/`).
//!
//! `scripts/test` installs what it needs: Chromium (Debian's `chromium`, named by
//! `CHATVAULT_CHROMIUM`) and `tests/browser/node_modules` (npm). Without them the test fails
//! and says so: a browser test that skips itself would pass where nothing was checked.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use chatvault_emulator::{
    DataSpec, Emulator, EmulatorConfig, GroundTruthOptions, HOSTILE_TEXTS, TruthMessage,
};
use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::common::ground_truth::decompress;
use crate::common::processes::{command, finish, realtime_config, start_emulator};
use crate::common::viewer::Viewer;
use crate::common::{Project, files_below, manifests_below, midnight};

/// The channels the daily job archives; the thread and hostile texts are looked for in both.
const CHANNELS: [&str; 2] = ["messaging:general-000", "team:project-000"];
/// The user the `people` job snapshots: left out of the search, since the snapshot holds their
/// messages of every day, the deleted one too.
const SNAPSHOT_USER: &str = "user-000";
const TOKEN: &str = "ui-browser-test-token-4f1c9a";
/// The whole browser run: twelve checks, each bounded by the driver's own 5 s timeouts.
const DRIVER_TIMEOUT: Duration = Duration::from_secs(240);

fn day(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d").to_string()
}

/// As JavaScript's `encodeURIComponent` would write it, near enough for a URL path segment or
/// query value (a space becomes `+`, which a query decodes alike).
fn encode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

/// A daily job over [`CHANNELS`] whose first window reaches four days back, cut into one
/// archive per day, and a users job; both into `archive/`.
fn project(emu: &Emulator, since: DateTime<Utc>) -> Project {
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    let channels: String = CHANNELS
        .iter()
        .map(|cid| format!("  - cid: {cid}\n"))
        .collect();
    project.job(
        "daily.yaml",
        format!(
            "name: daily\nschedule: \"0 0 * * *\"\nwindow:\n  since: {}\n  max: 24h\n\
             channels:\n{channels}destination:\n  url: file://archive\n",
            since.to_rfc3339()
        ),
    );
    project.job(
        "people.yaml",
        format!(
            "name: people\nschedule: \"0 0 * * *\"\nusers: [{SNAPSHOT_USER}]\n\
             destination:\n  url: file://archive\n"
        ),
    );
    project
}

/// What the emulator says a viewer should show of `cid` over `[since, until)`.
fn truth(
    emu: &Emulator,
    cid: &str,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Vec<TruthMessage> {
    emu.messages(cid, Some(since), Some(until), GroundTruthOptions::default())
}

/// The daily job's archive of the day starting at `since`: its key below `archive/`.
fn daily_key(archive: &Path, since: DateTime<Utc>) -> String {
    manifests_below::<Value>(archive)
        .into_iter()
        .find(|m| {
            m["job"] == "daily"
                && m["window_since"]
                    .as_str()
                    .and_then(|t| t.parse::<DateTime<Utc>>().ok())
                    == Some(since)
        })
        .and_then(|m| m["key"].as_str().map(str::to_owned))
        .unwrap_or_else(|| panic!("no daily archive of {since}"))
}

/// `chatvault ui ARGS jobs` in the project, with the emulator's environment.
fn ui(project: &Project, emu: &Emulator, args: &[&str]) -> tokio::process::Command {
    let mut all = vec!["ui"];
    all.extend(args);
    all.push("jobs");
    command(project, emu, &all)
}

/// Node, the driver's packages and Chromium, or a failure saying how to get them.
fn browser_tools(root: &Path) -> PathBuf {
    let node = std::process::Command::new("node").arg("--version").output();
    assert!(
        node.is_ok_and(|o| o.status.success()),
        "node not found: run scripts/test, which needs Node.js (apt-get install nodejs npm)"
    );
    for module in ["playwright-core/package.json", "axe-core/axe.min.js"] {
        let path = root.join("tests/browser/node_modules").join(module);
        assert!(
            path.exists(),
            "{} is missing: run scripts/test, which runs `npm install --prefix tests/browser`",
            path.display()
        );
    }
    let chromium = std::env::var_os("CHATVAULT_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from);
    assert!(
        chromium.exists(),
        "Chromium not found at {}: run scripts/test, which installs Debian's chromium and sets \
         CHATVAULT_CHROMIUM",
        chromium.display()
    );
    chromium
}

/// The search: one channel's messages by one author from `from` to the last archived day, the
/// deleted day included in the range. The author is a member other than the snapshot's
/// user with no deleted message there (how a viewer shows deleted messages is its own matter),
/// and at least three messages. Expected: the kept days' messages in search's order (time,
/// then id), none of the deleted day's.
fn search_spec(
    emu: &Emulator,
    from: DateTime<Utc>,
    deleted: DateTime<Utc>,
    end: DateTime<Utc>,
) -> Value {
    let cid = CHANNELS[0];
    let kept: Vec<TruthMessage> = truth(emu, cid, from, end)
        .into_iter()
        .filter(|m| m.created_at < deleted || m.created_at >= deleted + TimeDelta::days(1))
        .collect();
    let members = emu
        .channels()
        .into_iter()
        .find(|c| c.cid == cid)
        .expect("the channel")
        .members;
    let (user, mut hits) = members
        .iter()
        .filter(|u| *u != SNAPSHOT_USER)
        .map(|u| {
            let hits: Vec<&TruthMessage> = kept.iter().filter(|m| &m.user == u).collect();
            (u, hits)
        })
        .find(|(_, hits)| hits.len() >= 3 && hits.iter().all(|m| !m.deleted))
        .expect("a member with three messages, none deleted");
    hits.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
    let query = format!(
        "from:{user} in:{cid} after:{} before:{}",
        day(from),
        day(end)
    );
    json!({
        "query": query,
        "expected_ids": hits.iter().map(|m| &m.id).collect::<Vec<_>>(),
    })
}

/// The parent with the most replies on `on`, in either channel, none of them deleted.
fn thread_spec(emu: &Emulator, on: DateTime<Utc>) -> Value {
    let mut best: Option<(usize, Value)> = None;
    for cid in CHANNELS {
        let messages = truth(emu, cid, on, on + TimeDelta::days(1));
        let mut replies: BTreeMap<&str, Vec<&TruthMessage>> = BTreeMap::new();
        for m in &messages {
            if let Some(parent) = &m.parent_id {
                replies.entry(parent).or_default().push(m);
            }
        }
        for parent in messages.iter().filter(|m| !m.deleted) {
            let Some(thread) = replies.get(parent.id.as_str()) else {
                continue;
            };
            if thread.iter().any(|r| r.deleted)
                || best.as_ref().is_some_and(|b| b.0 >= thread.len())
            {
                continue;
            }
            let spec = json!({
                "cid": cid, "day": day(on), "parent_id": parent.id,
                "reply_ids": thread.iter().map(|r| &r.id).collect::<Vec<_>>(),
            });
            best = Some((thread.len(), spec));
        }
    }
    best.expect("a thread on the last archived day").1
}

/// One message of each hostile text on `on` (none deleted), where the emulator put them.
fn hostile_spec(emu: &Emulator, on: DateTime<Utc>) -> Value {
    let mut found: BTreeMap<&str, Value> = BTreeMap::new();
    for cid in CHANNELS {
        for m in truth(emu, cid, on, on + TimeDelta::days(1)) {
            if let Some(text) = HOSTILE_TEXTS.iter().find(|t| **t == m.text)
                && !m.deleted
            {
                found.entry(text).or_insert_with(
                    || json!({ "cid": cid, "day": day(on), "id": m.id, "text": m.text }),
                );
            }
        }
    }
    assert!(
        found.len() >= 3,
        "hostile texts on {on}: {:?}",
        found.keys()
    );
    found.into_values().collect()
}

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";

/// Makes the first thread-starting message of archive `key` (below `archive`) with an
/// attachment look captured: a PNG stored under `_media/` and a media record naming the
/// attachment's link as that file. What the page must then show inline.
fn captured_image(archive: &Path, key: &str) -> Value {
    use base64::Engine as _;
    use chatvault::archive::media::layout::object_key;
    use chatvault::archive::media::record::{
        FORMAT, MediaRecord, Outcome, Owner, Reference, Stored, record_key,
    };
    let compression = if key.ends_with(".gz") {
        chatvault::config::job::Compression::Gzip
    } else {
        chatvault::config::job::Compression::None
    };
    let text = decompress(
        &std::fs::read(archive.join(key)).expect("read"),
        compression,
    );
    let (item, url) = String::from_utf8(text)
        .expect("UTF-8")
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["type"] == "message")
        .map(|l| l["item"].clone())
        .filter(|m| m["parent_id"].is_null() && m["deleted_at"].is_null())
        .find_map(|m| {
            let a = &m["attachments"][0];
            let url = a["image_url"]
                .as_str()
                .or_else(|| a["asset_url"].as_str())?;
            Some((m.clone(), url.to_owned()))
        })
        .expect("a message with an attachment");
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .expect("a PNG");
    let sha256 = chatvault::archive::transfer::hex(&<sha2::Sha256 as sha2::Digest>::digest(&png));
    let object = archive.join(object_key("_media", &sha256));
    std::fs::create_dir_all(object.parent().expect("a folder")).expect("mkdir");
    std::fs::write(object, &png).expect("write the object");
    let record = MediaRecord {
        format: FORMAT,
        job: "daily".into(),
        archive: key.to_owned(),
        attempt: 1,
        written_at: Utc::now(),
        chatvault_version: "0".into(),
        prefix: "_media".into(),
        references: vec![Reference {
            owner: Owner::Message(item["id"].as_str().expect("an id").to_owned()),
            field: "attachments[0]".into(),
            url: chatvault::links::without_query(&url).to_owned(),
            outcome: Outcome::Stored(Stored {
                sha256: sha256.clone(),
                size: png.len() as u64,
                content_type: "image/png".into(),
            }),
        }],
    };
    std::fs::write(
        archive.join(record_key(key, 1)),
        serde_json::to_string(&record).expect("JSON"),
    )
    .expect("write the media record");
    let created: DateTime<Utc> = item["created_at"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("a time");
    json!({ "cid": item["cid"], "day": day(created), "id": item["id"], "sha256": sha256 })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ui_shows_archives_threads_and_hostile_text_correctly_in_a_browser() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let chromium = browser_tools(root);

    let mut config: EmulatorConfig = realtime_config(48);
    config.data = DataSpec {
        days_of_history: 5,
        truncated_per_type: 0,
        soft_deleted_per_type: 0,
        reply_every: 5,
        hostile_every: 7,
        bidi_every: 9,
        ..config.data
    };
    let emu = start_emulator(config).await;
    // Fixed once: should midnight pass during the run, the extra day is simply not looked at.
    let end = midnight();
    let days = [4, 3, 2, 1].map(|n| end - TimeDelta::days(n));
    let project = project(&emu, days[0]);
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");

    // The third day's archive goes, manifest and catalog record with it: `missing`.
    let archive = project.dir.path().join("archive");
    let deleted = days[2];
    let gone = daily_key(&archive, deleted);
    for suffix in ["", ".manifest.json", ".catalog.json"] {
        let path = archive.join(format!("{gone}{suffix}"));
        match std::fs::remove_file(&path) {
            Err(e) if suffix == ".catalog.json" && e.kind() == std::io::ErrorKind::NotFound => {}
            other => other.unwrap_or_else(|e| panic!("remove {}: {e}", path.display())),
        }
    }
    let kept = daily_key(&archive, days[3]);
    assert!(
        files_below(&archive, ".manifest.json")
            .iter()
            .all(|p| !p.to_string_lossy().contains(&gone)),
        "{gone} is gone"
    );
    // The first day's archive object goes, its manifest stays: `missing` too, found by the
    // listing the page makes. The search below starts after it, so the CLI reads nothing lost.
    let lost = daily_key(&archive, days[0]);
    std::fs::remove_file(archive.join(&lost)).expect("remove the first day's archive");
    let mut archives: Vec<(DateTime<Utc>, String)> = manifests_below::<Value>(&archive)
        .into_iter()
        .filter(|m| m["job"] == "daily")
        .filter_map(|m| {
            let since = m["window_since"].as_str()?.parse().ok()?;
            Some((since, m["key"].as_str()?.to_owned()))
        })
        .collect();
    archives.sort_by(|a, b| b.cmp(a));

    let search = search_spec(&emu, days[1], deleted, end);
    // The page's hits are the CLI's: the expectation is checked there first, so a failure below
    // is the page's.
    let query = search["query"].as_str().expect("query");
    let (code, stdout, stderr) = finish(command(
        &project,
        &emu,
        &["search", query, "--format", "jsonl", "jobs"],
    ))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let cli: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).expect("a JSON line")["id"].clone())
        .collect();
    assert_eq!(
        Value::from(cli),
        search["expected_ids"],
        "chatvault search {query}"
    );
    let thread = thread_spec(&emu, days[3]);
    let hostile = hostile_spec(&emu, days[3]);
    let image = captured_image(&archive, &kept);

    project.file("token.txt", TOKEN);
    let open = Viewer::start(ui(&project, &emu, &["--listen", "127.0.0.1:0"])).await;
    let guarded = Viewer::start(ui(
        &project,
        &emu,
        &["--listen", "0.0.0.0:0", "--auth-token-file", "token.txt"],
    ))
    .await;

    let thread_page = format!(
        "/channels/{}?day={}",
        encode(thread["cid"].as_str().expect("cid")),
        day(days[3])
    );
    let spec = json!({
        "base_url": open.url,
        "screenshots_dir": root.join("target/ui-screenshots"),
        "pages": [
            "/",
            "/channels",
            thread_page,
            format!("/search?q={}", encode(query)),
            format!("/archive?job=daily&key={}", encode(&kept)),
            "/jobs/daily/archives".to_owned(),
            format!("/jobs/daily/days/{}", day(days[0])),
        ],
        "search": search,
        "thread": thread,
        "missing": { "job": "daily", "day": day(deleted) },
        "lost": { "job": "daily", "day": day(days[0]), "key": lost },
        "day_channels": { "job": "daily", "day": day(days[3]), "cids": CHANNELS },
        "archives": {
            "job": "daily",
            "keys": archives.iter().map(|(_, key)| key).collect::<Vec<_>>(),
        },
        "hostile": hostile,
        "image": image,
        "auth": { "base_url": guarded.url, "token": TOKEN },
    });
    let spec_text = serde_json::to_string_pretty(&spec).expect("JSON");
    let spec_file = project.file("ui-spec.json", &spec_text);

    let mut node = tokio::process::Command::new("node");
    node.arg("tests/browser/ui.mjs")
        .arg(project.dir.path().join(spec_file))
        .current_dir(root)
        .env("CHATVAULT_CHROMIUM", &chromium)
        .stdin(Stdio::null())
        .kill_on_drop(true);
    let out = tokio::time::timeout(DRIVER_TIMEOUT, node.output())
        .await
        .unwrap_or_else(|_| panic!("the browser checks took over {DRIVER_TIMEOUT:?}"))
        .expect("node runs tests/browser/ui.mjs");
    assert!(
        out.status.success(),
        "the browser checks failed ({}):\n{}{}\nspec:\n{spec_text}\n\
         chatvault ui printed:\n{}\nchatvault ui --auth-token-file printed:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        open.printed(),
        guarded.printed(),
    );
    emu.shutdown().await;
}
