//! `chatvault ui` over HTTP, through the binary: an address other machines can reach is
//! refused without a token and answers 401 without it (bearer and Basic both let in; the token
//! never reaches the log); every page shows hostile message text (and ids, names, attachment
//! titles) as text under a strict CSP; verifying happens only on request; another site's host
//! name (DNS rebinding) and another site's form post are refused; and nothing the viewer does
//! writes a file. The browser's view of the same is `ui_browser.rs`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::process::Command;

use crate::common::viewer::Viewer;
use crate::common::{Project, chatvault_in, write_archive};

/// A job over `messaging:x` archiving into `archive/`, whose one archive (written by hand,
/// as an older chatvault did) holds hostile text.
fn hostile_project() -> Project {
    let project = Project::new();
    project.job(
        "hostile.yaml",
        "name: hostile\nschedule: \"0 0 * * *\"\nchannels:\n  - cid: messaging:x\n\
         destination:\n  url: file://archive\n  compression: none\n",
    );
    let message = |id: &str, text: &str, second: u32| {
        json!({
            "id": id, "cid": "messaging:x", "text": text, "type": "regular",
            "user": {"id": "mallory", "name": "\"><b>Mallory</b>"},
            "created_at": format!("2026-01-01T00:00:0{second}Z"),
            "html": "<p><script>alert('html')</script></p>",
        })
    };
    let mut reply = message(
        "m3\"><svg onload=alert(4)>",
        "<img src=x onerror=alert(2)>",
        2,
    );
    reply["parent_id"] = "m1".into();
    reply["attachments"] = json!([{"type": "file", "title": "<b>report</b>.pdf",
                                   "asset_url": "javascript:alert(5)"}]);
    // Right-to-left overrides that would turn "gnp.exe" into what reads as "exe.png".
    let mut reversed = message("m4", "see \u{202e}fdp.exe\u{202c} now", 3);
    reversed["user"] = json!({"id": "eve\u{2067}", "name": "\u{202e}evE"});
    reversed["attachments"] = json!([{"type": "file", "title": "\u{202e}gnp.exe"}]);
    let lines: Vec<Value> = vec![
        message("m1", "<script>alert(1)</script>", 0),
        json!({"type": "message", "item": message("m2", "&lt;b&gt; & plain", 1)}),
        json!({"type": "message", "item": reply}),
        json!({"type": "message", "item": reversed}),
    ];
    write_archive(
        &project.dir.path().join("archive"),
        "hostile/2026/01/01/channels-0001.jsonl",
        "hostile",
        &lines,
    );
    project
}

/// `chatvault ui ARGS jobs` in `dir`, running.
async fn start(dir: &Path, args: &[&str]) -> Viewer {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_chatvault"));
    cmd.arg("ui")
        .args(args)
        .arg("jobs")
        .current_dir(dir)
        .env_remove("CHATVAULT_LOG");
    Viewer::start(cmd).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a client")
}

#[test]
fn an_address_others_can_reach_is_refused_without_a_token() {
    let project = hostile_project();
    let out = chatvault_in(project.dir.path())
        .args(["ui", "--listen", "0.0.0.0:0", "jobs"])
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--listen 0.0.0.0:0 can be reached from other machines")
            && stderr.contains("--auth-token-file"),
        "{stderr}"
    );
    for (args, says) in [
        (vec!["--listen", "localhost:80"], "expected IP:PORT"),
        (
            vec!["--auth-token-file", "nope.txt"],
            "nope.txt: cannot read it",
        ),
        (vec!["--tz", "Mars/Olympus"], "not an IANA time zone"),
    ] {
        let out = chatvault_in(project.dir.path())
            .arg("ui")
            .args(&args)
            .arg("jobs")
            .output()
            .expect("runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_the_token_a_reachable_viewer_answers_401_and_never_logs_the_token() {
    let project = hostile_project();
    let token = "tok-3f1c9a7e-never-logged";
    project.file("token.txt", format!("{token}\n"));
    let viewer = start(
        project.dir.path(),
        &["--listen", "0.0.0.0:0", "--auth-token-file", "token.txt"],
    )
    .await;
    let base = viewer.url.clone();
    let http = client();
    for path in [
        "/",
        "/channels",
        "/search?q=alert",
        "/assets/style.css",
        "/nope",
    ] {
        let response = http.get(format!("{base}{path}")).send().await.expect("GET");
        assert_eq!(response.status().as_u16(), 401, "{path}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"chatvault\", charset=\"UTF-8\"",
            "{path}"
        );
        let body = response.text().await.expect("body");
        assert!(
            !body.contains("mallory") && !body.contains("alert"),
            "{body}"
        );
    }
    for (name, request) in [
        (
            "wrong bearer",
            http.get(format!("{base}/")).bearer_auth("tok"),
        ),
        (
            "wrong password",
            http.get(format!("{base}/"))
                .basic_auth("legal", Some("nope")),
        ),
        (
            "token as user name",
            http.get(format!("{base}/")).basic_auth(token, None::<&str>),
        ),
    ] {
        let status = request.send().await.expect("GET").status();
        assert_eq!(status.as_u16(), 401, "{name}");
    }
    let bearer = http
        .get(format!("{base}/search?q=from:mallory"))
        .bearer_auth(token)
        .send()
        .await
        .expect("GET");
    assert_eq!(bearer.status().as_u16(), 200);
    assert!(bearer.text().await.expect("body").contains("3 hit(s)"));
    let basic = http
        .get(format!("{base}/channels"))
        .basic_auth("legal-team", Some(token))
        .send()
        .await
        .expect("GET");
    assert_eq!(basic.status().as_u16(), 200);

    let log = viewer.stop().await;
    assert!(!log.contains(token), "the token reached the log:\n{log}");
    assert!(
        log.contains("path=/search")
            && log.contains("q=from:mallory")
            && log.contains("status=401"),
        "each request is logged with its path and query:\n{log}"
    );
    assert!(
        log.contains("user=legal-team"),
        "the Basic user name says who looked:\n{log}"
    );
}

/// Every file and folder below `dir`, with its size and modification time.
fn files(dir: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).expect("read a folder") {
            let path = entry.expect("an entry").path();
            let meta = std::fs::metadata(&path).expect("metadata");
            out.insert(path.clone(), (meta.len(), meta.modified().expect("mtime")));
            if meta.is_dir() {
                stack.push(path);
            }
        }
    }
    out
}

/// What no page may hold: markup that a message's text, id, author name or attachment
/// could have smuggled in, or Stream's `html` field.
fn assert_inert(path: &str, body: &str) {
    for bad in [
        "<script",
        "<img",
        "<svg",
        "<b>",
        "alert('html')",
        "javascript:alert(5)\"",
        "href=\"javascript",
    ] {
        assert!(!body.contains(bad), "{path} holds {bad:?}:\n{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_hostile_text_as_text_verify_on_request_and_write_nothing() {
    let project = hostile_project();
    let before = files(project.dir.path());
    let viewer = start(project.dir.path(), &["--listen", "127.0.0.1:0"]).await;
    let base = viewer.url.clone();
    let http = client();
    let key = "hostile/2026/01/01/channels-0001.jsonl";
    let archive_page = format!("/archive?job=hostile&key={}", key.replace('/', "%2F"));
    let mut bodies = BTreeMap::new();
    for path in [
        "/",
        "/channels",
        "/channels/messaging%3Ax?day=2026-01-01",
        "/channels/messaging%3Ax",
        "/search?q=from%3Amallory",
        "/search?q=%3Cscript%3E",
        archive_page.as_str(),
        "/jobs/hostile/archives",
        "/jobs/hostile/days/2026-01-01",
    ] {
        let response = http.get(format!("{base}{path}")).send().await.expect("GET");
        assert_eq!(response.status().as_u16(), 200, "{path}");
        assert_eq!(
            response.headers()["content-security-policy"],
            chatvault::ui::CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert_eq!(response.headers()["x-frame-options"], "DENY");
        let body = response.text().await.expect("body");
        assert_inert(path, &body);
        bodies.insert(path.to_owned(), body);
    }
    let day = &bodies["/channels/messaging%3Ax?day=2026-01-01"];
    for shown in [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&lt;img src=x onerror=alert(2)&gt;",
        "&amp;lt;b&amp;gt; &amp; plain",
        "&quot;&gt;&lt;b&gt;Mallory&lt;/b&gt; (mallory)",
        // Not a web link: no file to capture, so no reason why it was not; shown as text.
        "attachment: <bdi>&lt;b&gt;report&lt;/b&gt;.pdf</bdi> (<bdi>file</bdi>): \
         <bdi>javascript:alert(5)</bdi></li>",
        "<bdi>see <span class=\"bidi\" title=\"an invisible character\">U+202E</span>fdp.exe\
         <span class=\"bidi\" title=\"an invisible character\">U+202C</span> now</bdi>",
        "attachment: <bdi><span class=\"bidi\" title=\"an invisible character\">U+202E</span>\
         gnp.exe</bdi> (<bdi>file</bdi>)",
        "<span class=\"who\"><bdi><span class=\"bidi\" title=\"an invisible character\">U+202E\
         </span>evE (eve<span class=\"bidi\" title=\"an invisible character\">U+2067</span>)\
         </bdi></span>",
        "data-id=\"m3&quot;&gt;&lt;svg onload=alert(4)&gt;\"",
    ] {
        assert!(
            day.contains(shown),
            "the channel page shows {shown}:\n{day}"
        );
    }
    for (path, body) in &bodies {
        assert!(
            !body.contains(['\u{202e}', '\u{202c}', '\u{2067}']),
            "{path} shows no invisible character raw:\n{body}"
        );
    }
    assert!(
        day.contains("<details class=\"thread\"><summary>1 reply</summary>"),
        "the reply sits under its parent:\n{day}"
    );
    assert_eq!(
        &bodies["/channels/messaging%3Ax"], day,
        "a channel opens on its last day"
    );
    assert!(bodies["/search?q=from%3Amallory"].contains("3 hit(s)"));
    for (q, says) in [
        ("form%3Amallory", "did you mean `from:`?"),
        ("FROM%3Amallory", "3 hit(s)"),
    ] {
        let response = http
            .get(format!("{base}/search?q={q}"))
            .send()
            .await
            .expect("GET");
        let status = response.status().as_u16();
        let body = response.text().await.expect("body");
        assert!(body.contains(says), "{q}: {body}");
        assert_eq!(status, if q.starts_with("form") { 400 } else { 200 }, "{q}");
    }
    assert!(bodies["/search?q=%3Cscript%3E"].contains("1 hit(s)"));
    assert!(
        bodies["/"].contains("data-day=\"2026-01-01\" data-status=\"archived\""),
        "{}",
        bodies["/"]
    );
    assert!(
        bodies["/jobs/hostile/days/2026-01-01"].contains(
            "<a href=\"/channels/messaging%3Ax?day=2026-01-01\"><bdi>messaging:x</bdi></a>",
        ),
        "a calendar day lists its channel:\n{}",
        bodies["/jobs/hostile/days/2026-01-01"]
    );
    assert!(
        !bodies[&archive_page].contains("verify-result"),
        "opening an archive's page does not verify it"
    );

    let verify = |job: &'static str, key: &'static str| {
        let http = http.clone();
        let base = base.clone();
        async move {
            let response = http
                .post(format!("{base}/archive/verify"))
                .header("content-type", "application/x-www-form-urlencoded")
                .body(
                    url::form_urlencoded::Serializer::new(String::new())
                        .append_pair("job", job)
                        .append_pair("key", key)
                        .finish(),
                )
                .send()
                .await
                .expect("POST");
            assert_eq!(response.status().as_u16(), 200);
            response.text().await.expect("body")
        }
    };
    let verified = verify("hostile", key).await;
    assert!(verified.contains("data-ok=\"true\""), "{verified}");
    assert_eq!(
        files(project.dir.path()),
        before,
        "the viewer wrote nothing"
    );

    // Tampering shows only when asked: the page still opens from the manifest.
    let archive = project.dir.path().join("archive").join(key);
    let mut body = std::fs::read(&archive).expect("read the archive");
    body[10] ^= 1;
    std::fs::write(&archive, &body).expect("tamper");
    let page = http
        .get(format!("{base}{archive_page}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status().as_u16(), 200);
    assert!(!page.text().await.expect("body").contains("verify-result"));
    let verified = verify("hostile", key).await;
    assert!(
        verified.contains("data-ok=\"false\"") && verified.contains("SHA-256"),
        "{verified}"
    );
    // Another site's page gets nowhere: not through a host name of its own that resolves
    // here (DNS rebinding), not with a form posting to the viewer.
    let rebound = http
        .get(format!("{base}/search?q=from%3Amallory"))
        .header("host", "attacker.example:8080")
        .send()
        .await
        .expect("GET");
    assert_eq!(rebound.status().as_u16(), 403);
    assert!(!rebound.text().await.expect("body").contains("mallory"));
    let posted = http
        .post(format!("{base}/archive/verify"))
        .header("origin", "http://attacker.example")
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("job=hostile&key={}", key.replace('/', "%2F")))
        .send()
        .await
        .expect("POST");
    assert_eq!(posted.status().as_u16(), 403);

    let unknown = http
        .get(format!("{base}/archive?job=hostile&key=nope"))
        .send()
        .await
        .expect("GET");
    assert_eq!(unknown.status().as_u16(), 404);

    let log = viewer.stop().await;
    assert!(log.contains("q=<script>"), "{log}");
    assert!(
        log.contains("verified an archive") && log.contains("ok=false"),
        "{log}"
    );
    assert_eq!(
        log.matches("verified an archive").count(),
        2,
        "the refused post verified nothing:\n{log}"
    );
    assert!(log.contains("status=403"), "refusals are logged:\n{log}");
}

/// A run stopped by SIGTERM is no failure on the jobs page either: "Last run" says when it was
/// interrupted and how many export tasks the next run resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_jobs_page_says_a_run_was_interrupted_and_what_it_left_to_resume() {
    // It writes the ledger on a runtime of its own.
    let project = tokio::task::spawn_blocking(crate::common::ledgers::interrupted_project)
        .await
        .expect("the ledger is written");
    let viewer = start(project.dir.path(), &["--tz", "UTC"]).await;
    let page = client()
        .get(format!("{}/", viewer.url))
        .send()
        .await
        .expect("GET /");
    assert_eq!(page.status(), 200);
    let body = page.text().await.expect("a body");
    assert!(
        body.contains("interrupted at ") && body.contains(", 1 export task(s) to resume"),
        "{body}"
    );
    assert!(!body.contains("failed"), "not a failure: {body}");
    viewer.stop().await;
}

#[tokio::test]
async fn the_viewer_starts_with_public_keys_only_never_reading_the_signing_key() {
    let project = hostile_project();
    let (key, _) = chatvault::signing::SigningKey::generate().expect("a key");
    project.file("public.pem", key.public().to_pem());
    // A viewer's machine: the config names the signing key, which is not there.
    project.file(
        "chatvault.yaml",
        "signing:\n  key_file: missing.pem\n  public_key_files: [public.pem]\n",
    );
    let viewer = start(project.dir.path(), &["--listen", "127.0.0.1:0"]).await;
    let key = "hostile/2026/01/01/channels-0001.jsonl";
    let page = format!(
        "{}/archive?job=hostile&key={}",
        viewer.url,
        key.replace('/', "%2F")
    );
    let response = client().get(page).send().await.expect("GET");
    assert_eq!(response.status().as_u16(), 200);
    let body = response.text().await.expect("body");
    assert!(body.contains("data-status=\"unsigned\""), "{body}");
}
