//! The router in process (`tower::ServiceExt::oneshot`, no socket): every route's status, the
//! guard on each (token, loopback host names, security headers), and what the calendar, a
//! job's pages and search say about archives that are gone, many, or none. The same viewer
//! over HTTP and in a browser is `tests/it/ui.rs` and `tests/it/ui_browser.rs`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{DateTime, TimeDelta, TimeZone as _, Utc};
use object_store::ObjectStoreExt as _;
use object_store::path::Path as ObjectPath;
use sha2::{Digest as _, Sha256};
use tower::ServiceExt as _;

use super::auth::Token;
use super::{CONTENT_SECURITY_POLICY, Shown, Viewer, app};
use crate::archive::manifest::{self, Manifest};
use crate::archive::tally::{ChannelCount, Tally};
use crate::clock::ManualClock;
use crate::config::load::test_job;
use crate::store::Store;

const TOKEN: &str = "router-test-token";

fn at(day: u32, hour: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0)
        .single()
        .expect("a time")
}

fn job(name: &str) -> crate::config::job::Job {
    test_job(&format!(
        "name: {name}\nschedule: \"0 0 * * *\"\nchannels:\n  - cid: messaging:a\n\
         destination:\n  url: file://archive\n  compression: none\n"
    ))
}

/// Messages `hello N` in `messaging:a`, a minute apart from `since`.
fn lines(since: DateTime<Utc>, count: usize) -> Vec<u8> {
    (0..count)
        .map(|n| {
            let created = since + TimeDelta::minutes(n as i64);
            format!(
                "{}\n",
                serde_json::json!({"type": "message", "item": {
                    "id": format!("m-{}-{n}", since.timestamp()), "cid": "messaging:a",
                    "text": format!("hello {n}"), "user": {"id": "u1"},
                    "created_at": created, "updated_at": created,
                }})
            )
        })
        .collect::<String>()
        .into_bytes()
}

/// Archives the day starting at `since` for job `daily`: its manifest, and its object unless
/// `lost`.
async fn archive(store: &Store, since: DateTime<Utc>, messages: usize, lost: bool) -> String {
    let body = lines(since, messages);
    let last = since + TimeDelta::minutes(messages as i64 - 1);
    archive_of(store, since, body, (messages, last), lost).await
}

/// Archives `body` as the day starting at `since` of job `daily`, counted as `count` messages
/// of `messaging:a` up to the time given.
async fn archive_of(
    store: &Store,
    since: DateTime<Utc>,
    body: Vec<u8>,
    count: (usize, DateTime<Utc>),
    lost: bool,
) -> String {
    let until = since + TimeDelta::days(1);
    let key = format!("daily/{}/channels-0001.jsonl", since.format("%Y/%m/%d"));
    let mut m: Manifest = serde_json::from_value(serde_json::json!({
        "format": 2, "job": "daily", "tick": until, "kind": "channels", "batch": 1,
        "channels": ["messaging:a"], "task_id": "t", "export_version": "v2", "key": key,
        "bytes_source": body.len(), "bytes_stored": body.len(),
        "sha256": crate::archive::transfer::hex(&Sha256::digest(&body)),
        "content_encoding": "none", "archived_at": until, "chatvault_version": "0",
        "window_since": since, "window_until": until,
    }))
    .expect("a manifest");
    let mut tally = Tally::default();
    tally.channels.insert(
        "messaging:a".into(),
        ChannelCount {
            messages: count.0 as u64,
            first_message_at: Some(since),
            last_message_at: Some(count.1),
        },
    );
    m.contents = Some(tally);
    if !lost {
        store
            .object_store()
            .put(&ObjectPath::from(key.as_str()), body.into())
            .await
            .expect("put the archive");
    }
    manifest::write(store, &m, None)
        .await
        .expect("write the manifest");
    key
}

/// A viewer of job `daily` over `store`, as of the 10th of March 2026.
fn viewer(store: Store) -> Viewer {
    let clock = Arc::new(ManualClock::new(at(10, 12)));
    Viewer::new(
        vec![Shown {
            job: job("daily"),
            store,
        }],
        Store::memory(),
        chrono_tz::Tz::UTC,
        clock,
    )
}

/// Days 2, 3 and 4 of March archived; the 3rd's archive object gone, its manifest left.
async fn three_days() -> (Store, [String; 3]) {
    let store = Store::memory();
    let keys = [
        archive(&store, at(2, 0), 3, false).await,
        archive(&store, at(3, 0), 3, true).await,
        archive(&store, at(4, 0), 3, false).await,
    ];
    (store, keys)
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

/// `method uri` to a fresh router from 127.0.0.1, with the extra `headers` (a `Host` of
/// 127.0.0.1 unless they name one).
async fn ask(
    router: axum::Router,
    method: Method,
    uri: &str,
    headers: &[(header::HeaderName, &str)],
    body: &str,
) -> Answer {
    let mut request = Request::builder().method(method).uri(uri);
    if !headers.iter().any(|(name, _)| name == header::HOST) {
        request = request.header(header::HOST, "127.0.0.1:8080");
    }
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    let mut request = request
        .body(Body::from(body.to_owned()))
        .expect("a request");
    let peer: SocketAddr = "127.0.0.1:50000".parse().expect("an address");
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = router.oneshot(request).await.expect("an answer");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body");
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get(router: &axum::Router, uri: &str) -> Answer {
    ask(router.clone(), Method::GET, uri, &[], "").await
}

/// Every GET route, with what it answers over [`three_days`].
fn routes(kept: &str) -> Vec<(String, StatusCode)> {
    let archive = format!("/archive?job=daily&key={}", kept.replace('/', "%2F"));
    [
        ("/", StatusCode::OK),
        ("/jobs/daily/archives", StatusCode::OK),
        // Past the last page, or not a page: never another page's content.
        ("/jobs/daily/archives?page=2", StatusCode::NOT_FOUND),
        ("/jobs/daily/archives?page=0", StatusCode::BAD_REQUEST),
        ("/jobs/nosuch/archives", StatusCode::NOT_FOUND),
        ("/jobs/daily/days/2026-03-03", StatusCode::OK),
        ("/jobs/daily/days/March-3", StatusCode::BAD_REQUEST),
        ("/jobs/nosuch/days/2026-03-03", StatusCode::NOT_FOUND),
        ("/channels", StatusCode::OK),
        ("/channels/messaging%3Aa", StatusCode::OK),
        ("/channels/messaging%3Aa?day=2026-03-02", StatusCode::OK),
        (
            "/channels/messaging%3Aa?day=yesterday",
            StatusCode::BAD_REQUEST,
        ),
        ("/channels/messaging%3Aa?msg=nosuch", StatusCode::NOT_FOUND),
        (
            "/channels/messaging%3Aa?day=2026-03-02&msg=nosuch",
            StatusCode::NOT_FOUND,
        ),
        (
            "/channels/messaging%3Aa?day=2026-03-02&page=2",
            StatusCode::NOT_FOUND,
        ),
        ("/channels?page=x", StatusCode::BAD_REQUEST),
        ("/search", StatusCode::OK),
        ("/search?q=hello", StatusCode::OK),
        ("/search?q=hello&page=2", StatusCode::NOT_FOUND),
        ("/search?q=after%3Asoon", StatusCode::BAD_REQUEST),
        (archive.as_str(), StatusCode::OK),
        ("/archive?job=daily&key=nosuch", StatusCode::NOT_FOUND),
        ("/archive?job=nosuch&key=nosuch", StatusCode::NOT_FOUND),
        ("/archive", StatusCode::BAD_REQUEST),
        ("/assets/style.css", StatusCode::OK),
        ("/assets/icon.svg", StatusCode::OK),
        ("/favicon.ico", StatusCode::OK),
        ("/nosuch", StatusCode::NOT_FOUND),
        ("/media/nosuch", StatusCode::NOT_FOUND),
    ]
    .into_iter()
    .map(|(uri, status)| (uri.to_owned(), status))
    .collect()
}

fn assert_guarded_headers(uri: &str, headers: &HeaderMap) {
    for (name, value) in [
        ("content-security-policy", CONTENT_SECURITY_POLICY),
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "DENY"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
    ] {
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{uri}: {name}"
        );
    }
}

#[tokio::test]
async fn every_route_answers_its_status_with_the_security_headers() {
    let (store, keys) = three_days().await;
    let router = app(viewer(store), None);
    for (uri, status) in routes(&keys[0]) {
        let answer = get(&router, &uri).await;
        assert_eq!(answer.status, status, "GET {uri}:\n{}", answer.body);
        assert_guarded_headers(&uri, &answer.headers);
        if status != StatusCode::OK {
            assert!(
                answer.body.contains("<h1>") && answer.body.contains("class=\"problem\""),
                "GET {uri} renders the error page:\n{}",
                answer.body
            );
        }
    }
    let form = format!("job=daily&key={}", keys[0].replace('/', "%2F"));
    let form_type = [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")];
    for (method, uri, body, status) in [
        (
            Method::POST,
            "/archive/verify",
            form.as_str(),
            StatusCode::OK,
        ),
        (
            Method::POST,
            "/archive/verify",
            "job=daily&key=nosuch",
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            "/archive/verify",
            "",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (Method::POST, "/", "", StatusCode::METHOD_NOT_ALLOWED),
        (
            Method::DELETE,
            "/channels",
            "",
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (Method::POST, "/search", "", StatusCode::METHOD_NOT_ALLOWED),
    ] {
        let answer = ask(router.clone(), method.clone(), uri, &form_type, body).await;
        assert_eq!(answer.status, status, "{method} {uri}:\n{}", answer.body);
        assert_guarded_headers(uri, &answer.headers);
    }
}

#[tokio::test]
async fn with_a_token_every_route_answers_401_without_it_and_serves_with_it() {
    let (store, keys) = three_days().await;
    let router = app(viewer(store), Some(Token::new(TOKEN)));
    let basic = |user: &str, password: &str| {
        use base64::Engine as _;
        let pair = format!("{user}:{password}");
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    let (right, wrong) = (basic("legal", TOKEN), basic("legal", "nope"));
    let bearer = format!("Bearer {TOKEN}");
    for (uri, status) in routes(&keys[0]) {
        for refused in [None, Some("Bearer nope"), Some(wrong.as_str())] {
            let headers: Vec<_> = refused
                .map(|a| (header::AUTHORIZATION, a))
                .into_iter()
                .collect();
            let answer = ask(router.clone(), Method::GET, &uri, &headers, "").await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{uri} {refused:?}");
            assert!(answer.headers.contains_key(header::WWW_AUTHENTICATE));
            assert!(!answer.body.contains("daily"), "{uri}: {}", answer.body);
            assert_guarded_headers(&uri, &answer.headers);
        }
        for admitted in [&bearer, &right] {
            // With a token, any host name: the viewer may sit behind a proxy.
            let headers = [
                (header::AUTHORIZATION, admitted.as_str()),
                (header::HOST, "archive.example.com"),
            ];
            let answer = ask(router.clone(), Method::GET, &uri, &headers, "").await;
            assert_eq!(answer.status, status, "{uri} with {admitted}");
        }
    }
}

#[tokio::test]
async fn without_a_token_a_host_name_other_than_loopback_is_refused() {
    let (store, keys) = three_days().await;
    let router = app(viewer(store), None);
    for (uri, status) in routes(&keys[0]) {
        for host in ["attacker.example", "attacker.example:8080", "10.0.0.1"] {
            let headers = [(header::HOST, host)];
            let answer = ask(router.clone(), Method::GET, &uri, &headers, "").await;
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{uri} for {host}");
            assert!(!answer.body.contains("hello"), "{uri}: {}", answer.body);
            assert_guarded_headers(&uri, &answer.headers);
        }
        for host in ["localhost:8080", "[::1]:8080"] {
            let headers = [(header::HOST, host)];
            let answer = ask(router.clone(), Method::GET, &uri, &headers, "").await;
            assert_eq!(answer.status, status, "{uri} for {host}");
        }
    }
}

#[tokio::test]
async fn the_calendar_marks_a_day_whose_archive_is_gone_and_lays_months_out_by_weekday() {
    let (store, keys) = three_days().await;
    let router = app(viewer(store), None);
    let jobs = get(&router, "/").await.body;
    assert!(
        jobs.contains(
            "data-day=\"2026-03-03\" data-status=\"missing\" data-lost=\"true\"><a \
             href=\"/jobs/daily/days/2026-03-03\" title=\"2026-03-03: missing: manifest \
             without archive"
        ),
        "{jobs}"
    );
    for day in [2, 4] {
        assert!(
            jobs.contains(&format!(
                "data-day=\"2026-03-0{day}\" data-status=\"archived\"><a \
                 href=\"/jobs/daily/days/2026-03-0{day}\""
            )),
            "{jobs}"
        );
    }
    // March 2026 begins on a Sunday: its first week is six empty cells and the 1st (before
    // the job's first day, so empty too); the second begins on Monday the 2nd.
    let month = jobs
        .split("<table class=\"month\" data-month=\"2026-03\">")
        .nth(1)
        .expect("March");
    let weeks: Vec<&str> = month
        .split("<tbody>")
        .nth(1)
        .and_then(|body| body.split("</tbody>").next())
        .expect("a body")
        .split("<tr>")
        .skip(1)
        .collect();
    assert_eq!(weeks[0].matches("<td class=\"pad\">").count(), 7, "{month}");
    assert!(
        weeks[1].starts_with("<td class=\"day s-archived\" data-day=\"2026-03-02\""),
        "{}",
        weeks[1]
    );
    assert_eq!(weeks.len(), 6, "March 2026 spans six weeks, Monday first");
    assert!(
        jobs.contains("<th scope=\"col\"><abbr title=\"Monday\">Mo</abbr></th>"),
        "{jobs}"
    );
    assert!(
        jobs.contains(&format!("data-key=\"{}\" data-lost=\"true\"", keys[1]))
            && jobs.contains("manifest without archive</span>"),
        "the newest archives mark the lost one:\n{jobs}"
    );

    let day = get(&router, "/jobs/daily/days/2026-03-03").await.body;
    assert!(
        day.contains("data-status=\"missing\">2026-03-03: missing: manifest without archive"),
        "{day}"
    );
    assert!(
        day.contains(&format!("data-key=\"{}\" data-lost=\"true\"", keys[1])),
        "{day}"
    );
    assert!(
        day.contains("href=\"/channels/messaging%3Aa?day=2026-03-03\"><bdi>messaging:a</bdi></a>"),
        "the channel the manifest counts links to its day:\n{day}"
    );
    let lost = format!("/archive?job=daily&key={}", keys[1].replace('/', "%2F"));
    let page = get(&router, &lost).await.body;
    assert!(
        page.contains("Manifest without archive: the store"),
        "{page}"
    );
    let kept = format!("/archive?job=daily&key={}", keys[0].replace('/', "%2F"));
    let page = get(&router, &kept).await.body;
    assert!(!page.contains("Manifest without archive"), "{page}");
    let kept = get(&router, "/jobs/daily/days/2026-03-02").await.body;
    assert!(kept.contains("<td class=\"num\">3</td>"), "{kept}");
    assert!(!kept.contains("data-lost"), "{kept}");
    let before = get(&router, "/jobs/daily/days/2026-02-01").await.body;
    assert!(
        before.contains("No archive of this job holds this day."),
        "{before}"
    );
}

#[tokio::test]
async fn a_job_s_archives_are_listed_newest_window_first_on_pages_that_reach_them_all() {
    let store = Store::memory();
    let first = at(1, 0) - TimeDelta::days(150);
    for n in 0..205 {
        archive(&store, first + TimeDelta::days(n), 1, false).await;
    }
    let router = app(viewer(store), None);
    let key = |n: i64| {
        format!(
            "daily/{}/channels-0001.jsonl",
            (first + TimeDelta::days(n)).format("%Y/%m/%d")
        )
    };
    let jobs = get(&router, "/").await.body;
    assert!(jobs.contains("Newest archives (10 of 205)"), "{jobs}");
    assert!(
        jobs.contains("href=\"/jobs/daily/archives\">All 205 archive(s) of daily"),
        "{jobs}"
    );
    let mut seen = Vec::new();
    for page in 1..=3 {
        let body = get(&router, &format!("/jobs/daily/archives?page={page}"))
            .await
            .body;
        assert!(body.contains(&format!("page {page} of 3")), "{body}");
        assert_eq!(
            body.contains("rel=\"next\" href=\"/jobs/daily/archives?page="),
            page < 3
        );
        assert_eq!(body.contains("rel=\"prev\""), page > 1);
        seen.extend(
            body.split("<tr data-key=\"")
                .skip(1)
                .filter_map(|row| row.split('"').next())
                .map(str::to_owned),
        );
    }
    let expected: Vec<String> = (0..205).rev().map(key).collect();
    assert_eq!(
        seen, expected,
        "every archive once, the newest window first"
    );
}

#[tokio::test]
async fn search_shows_its_total_and_pages_on_and_names_what_it_could_not_read() {
    let (store, keys) = three_days().await;
    archive(&store, at(6, 0), 450, false).await;
    let router = app(viewer(store), None);
    let first = get(&router, "/search?q=hello").await.body;
    assert!(first.contains("456 hit(s), 1 to 200 shown"), "{first}");
    assert!(
        first.contains("rel=\"next\" href=\"/search?q=hello&amp;page=2\""),
        "{first}"
    );
    assert!(
        first.contains("<h2 id=\"incomplete\">Incomplete</h2>")
            && first.contains(&format!("<code>{}</code>: missing", keys[1])),
        "the lost archive is named:\n{first}"
    );
    let last = get(&router, "/search?q=hello&page=3").await.body;
    assert!(last.contains("456 hit(s), 401 to 456 shown"), "{last}");
    assert!(last.contains("<ol class=\"hits\" start=\"401\">"), "{last}");
    assert_eq!(last.matches("<li class=\"hit\"").count(), 56);
    assert!(
        last.contains("rel=\"prev\" href=\"/search?q=hello&amp;page=2\"")
            && !last.contains("rel=\"next\""),
        "{last}"
    );
    let beyond = get(&router, "/search?q=hello&page=99").await;
    assert_eq!(beyond.status, StatusCode::NOT_FOUND, "{}", beyond.body);
    assert!(
        beyond.body.contains("There is no page 99: there are 3."),
        "{}",
        beyond.body
    );
    let other_case = get(&router, "/search?q=in:Messaging:A").await.body;
    assert!(
        other_case.contains("0 hit(s)")
            && other_case.contains("ids are case-sensitive, and the archives hold in:messaging:a"),
        "an id held in another case gets the CLI's hint:\n{other_case}"
    );

    let day = get(&router, "/channels/messaging%3Aa?day=2026-03-03")
        .await
        .body;
    assert!(
        day.contains("<h2 id=\"incomplete\">Incomplete</h2>")
            && day.contains(&format!("<code>{}</code>: missing", keys[1])),
        "the channel's day names the archive it could not read:\n{day}"
    );
}

#[tokio::test]
async fn pages_of_a_location_without_archives_say_so() {
    let router = app(viewer(Store::memory()), None);
    for uri in ["/", "/channels", "/search?q=hello"] {
        let body = get(&router, uri).await.body;
        assert!(
            body.contains("No archive yet at <code>memory://</code>"),
            "{uri}:\n{body}"
        );
    }
}

/// A 1×1 PNG.
const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==";
const SVG: &[u8] = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
const NOT_AN_IMAGE: &[u8] = b"<html><script>alert(2)</script></html>";

/// The SHA-256s of the files [`media_day`] stores.
struct Files {
    png: String,
    svg: String,
    /// HTML that its record calls a PNG.
    fake: String,
    /// In the media prefix, named by no record.
    stray: String,
}

async fn put(store: &Store, key: &str, bytes: Vec<u8>) {
    store
        .object_store()
        .put(&ObjectPath::from(key), bytes.into())
        .await
        .expect("put");
}

/// The 2nd of March: messages whose attachments were stored, refused, too large, gone,
/// failed, and one no record names (signed links all), with their media record and objects.
async fn media_day(store: &Store) -> Files {
    use crate::archive::media::layout::object_key;
    use crate::archive::media::record::{
        self, FORMAT, MediaRecord, Outcome, Owner, Reference, Stored,
    };
    use base64::Engine as _;
    let png = base64::engine::general_purpose::STANDARD
        .decode(PNG)
        .expect("a PNG");
    let sha = |b: &[u8]| crate::archive::transfer::hex(&Sha256::digest(b));
    let files = Files {
        png: sha(&png),
        svg: sha(SVG),
        fake: sha(NOT_AN_IMAGE),
        stray: sha(b"stray"),
    };
    let signed = "?Key-Pair-Id=K&Policy=P&Signature=SIG&Expires=1767225600";
    let since = at(2, 0);
    let attachments = [
        (
            "img",
            serde_json::json!({"type": "image", "fallback": "photo <1>\u{202e}.png",
            "image_url": format!("https://cdn.example/1/photo.png{signed}")}),
        ),
        (
            "svg",
            serde_json::json!({"type": "file", "title": "drawing.svg",
            "asset_url": format!("https://cdn.example/1/drawing.svg{signed}")}),
        ),
        (
            "fake",
            serde_json::json!({"type": "image", "title": "fake.png",
            "image_url": format!("https://cdn.example/1/fake.png{signed}")}),
        ),
        (
            "refused",
            serde_json::json!({"type": "image", "title": "preview",
            "title_link": "https://site.example/page?token=T",
            "image_url": "https://evil.example/og.png"}),
        ),
        (
            "large",
            serde_json::json!({"type": "video", "title": "big.mp4",
            "asset_url": format!("https://cdn.example/1/big.mp4{signed}")}),
        ),
        (
            "gone",
            serde_json::json!({"type": "file", "title": "gone.pdf",
            "asset_url": format!("https://cdn.example/1/gone.pdf{signed}")}),
        ),
        (
            "failed",
            serde_json::json!({"type": "file", "title": "later.pdf",
            "asset_url": format!("https://cdn.example/1/later.pdf{signed}")}),
        ),
        (
            "old",
            serde_json::json!({"type": "file", "title": "old.pdf",
            "asset_url": format!("https://cdn.example/1/old.pdf{signed}")}),
        ),
    ];
    let body: String = attachments
        .iter()
        .enumerate()
        .map(|(n, (id, attachment))| {
            let created = since + TimeDelta::minutes(n as i64);
            format!(
                "{}\n",
                serde_json::json!({"type": "message", "item": {
                    "id": format!("m-{id}"), "cid": "messaging:a", "text": format!("file {id}"),
                    "user": {"id": "u1", "name": "Ann",
                             "image": format!("https://cdn.example/avatars/u1.png{signed}")},
                    "created_at": created, "updated_at": created,
                    "attachments": [attachment],
                }})
            )
        })
        .collect();
    let last = since + TimeDelta::minutes(attachments.len() as i64 - 1);
    let key = archive_of(
        store,
        since,
        body.into_bytes(),
        (attachments.len(), last),
        false,
    )
    .await;
    let stored = |sha256: &str, size: usize, content_type: &str| {
        Outcome::Stored(Stored {
            sha256: sha256.to_owned(),
            size: size as u64,
            content_type: content_type.to_owned(),
        })
    };
    let reference = |id: &str, url: &str, outcome: Outcome| Reference {
        owner: Owner::Message(format!("m-{id}")),
        field: "attachments[0].image_url".into(),
        url: url.to_owned(),
        outcome,
    };
    let references = vec![
        reference(
            "img",
            "https://cdn.example/1/photo.png",
            stored(&files.png, png.len(), "image/png"),
        ),
        Reference {
            owner: Owner::User("u1".into()),
            field: "image".into(),
            url: "https://cdn.example/avatars/u1.png".into(),
            outcome: Outcome::AlreadyStored(Stored {
                sha256: files.png.clone(),
                size: png.len() as u64,
                content_type: "image/png".into(),
            }),
        },
        reference(
            "svg",
            "https://cdn.example/1/drawing.svg",
            stored(&files.svg, SVG.len(), "image/svg+xml"),
        ),
        reference(
            "fake",
            "https://cdn.example/1/fake.png",
            stored(&files.fake, NOT_AN_IMAGE.len(), "image/png"),
        ),
        reference(
            "refused",
            "https://evil.example/og.png",
            Outcome::Refused {
                reason: "evil.example is not an allowed host".into(),
            },
        ),
        reference(
            "large",
            "https://cdn.example/1/big.mp4",
            Outcome::TooLarge { limit: 100 << 20 },
        ),
        reference(
            "gone",
            "https://cdn.example/1/gone.pdf",
            Outcome::Gone {
                reason: "404".into(),
            },
        ),
        reference(
            "failed",
            "https://cdn.example/1/later.pdf",
            Outcome::Failed {
                reason: "the CDN answered 503".into(),
            },
        ),
    ];
    let written = record::write(
        store,
        &MediaRecord {
            format: FORMAT,
            job: "daily".into(),
            archive: key,
            attempt: 1,
            written_at: at(3, 0),
            chatvault_version: "0".into(),
            prefix: "_media".into(),
            references,
        },
        None,
    )
    .await
    .expect("write the media record");
    assert!(written);
    put(store, &object_key("_media", &files.png), png).await;
    put(store, &object_key("_media", &files.svg), SVG.to_vec()).await;
    put(
        store,
        &object_key("_media", &files.fake),
        NOT_AN_IMAGE.to_vec(),
    )
    .await;
    put(
        store,
        &object_key("_media", &files.stray),
        b"stray".to_vec(),
    )
    .await;
    files
}

fn header_of<'a>(answer: &'a Answer, name: &str) -> Option<&'a str> {
    answer.headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn a_stored_image_is_served_inline_and_any_other_file_as_a_sandboxed_download() {
    let store = Store::memory();
    let files = media_day(&store).await;
    let router = app(viewer(store), None);
    for (sha, inline, kind, name) in [
        (&files.png, true, "image/png", None),
        (&files.svg, false, "image/svg+xml", Some("drawing.svg")),
        // The record says PNG; the bytes do not: never shown, never called an image.
        (
            &files.fake,
            false,
            "application/octet-stream",
            Some("fake.png"),
        ),
    ] {
        let answer = get(&router, &format!("/media/{sha}")).await;
        assert_eq!(answer.status, StatusCode::OK, "{sha}: {}", answer.body);
        assert_eq!(header_of(&answer, "content-type"), Some(kind), "{sha}");
        assert_eq!(
            header_of(&answer, "x-content-type-options"),
            Some("nosniff")
        );
        assert_eq!(
            header_of(&answer, "content-security-policy"),
            Some("sandbox; default-src 'none'"),
            "{sha}"
        );
        let disposition = header_of(&answer, "content-disposition");
        match name {
            None => assert_eq!(disposition, None, "{sha} inline"),
            Some(name) => assert_eq!(
                disposition,
                Some(format!("attachment; filename=\"{name}\"").as_str()),
                "{sha}"
            ),
        }
        assert_eq!(inline, disposition.is_none());
    }
    let svg = get(&router, &format!("/media/{}", files.svg)).await;
    assert_eq!(svg.body.as_bytes(), SVG, "the bytes as stored");

    let unknown = "0".repeat(64);
    for uri in [
        format!("/media/{unknown}"),
        format!("/media/{}", files.stray),
        format!("/media/{}", files.png.to_uppercase()),
        format!("/media/{}", &files.png[..63]),
        format!("/media/{}0", files.png),
        "/media/..%2F..%2Fdaily".to_owned(),
        "/media/".to_owned(),
    ] {
        let answer = get(&router, &uri).await;
        assert_eq!(
            answer.status,
            StatusCode::NOT_FOUND,
            "{uri}: {}",
            answer.body
        );
        assert_guarded_headers(&uri, &answer.headers);
    }
}

#[tokio::test]
async fn pages_show_stored_images_offer_other_files_and_say_why_the_rest_are_not_here() {
    let store = Store::memory();
    let files = media_day(&store).await;
    let router = app(viewer(store), None);
    let day = get(&router, "/channels/messaging%3Aa?day=2026-03-02").await;
    assert_eq!(day.status, StatusCode::OK, "{}", day.body);
    let page = &day.body;
    for expected in [
        format!(
            "<img src=\"/media/{}\" alt=\"photo &lt;1&gt;\\u{{202e}}.png\" loading=\"lazy\">",
            files.png
        ),
        format!(
            "<img class=\"avatar\" src=\"/media/{}\" alt=\"\" width=\"20\" height=\"20\"",
            files.png
        ),
        format!(
            "<a href=\"/media/{}\" download><bdi>drawing.svg</bdi></a>",
            files.svg
        ),
        format!("(<bdi>file</bdi>, {} B, image/svg+xml)", SVG.len()),
        "<bdi>preview</bdi> (<bdi>image</bdi>): <bdi>https://evil.example/og.png</bdi> \
         <span class=\"why\">not captured: refused: evil.example is not an allowed host</span>"
            .to_owned(),
        "not captured: larger than 100.0 MiB".to_owned(),
        "not captured: link expired and Stream no longer has the file".to_owned(),
        "not captured yet: the CDN answered 503; a later run retries".to_owned(),
        "<bdi>https://cdn.example/1/old.pdf</bdi> <span class=\"why\">not captured (archived \
         before media capture; run `chatvault media`)</span>"
            .to_owned(),
        "1 file(s) here not captured yet; a later run retries.".to_owned(),
    ] {
        assert!(page.contains(&expected), "{expected}\nin\n{page}");
    }
    assert!(
        !page.contains('\u{202e}'),
        "a bidirectional control is shown, never obeyed, in attributes too: {page}"
    );
    let search = get(&router, "/search?q=file").await.body;
    assert!(
        search.contains(&format!("<img src=\"/media/{}\"", files.png)),
        "{search}"
    );
    let jobs = get(&router, "/").await.body;
    assert!(
        jobs.contains("1 file(s) its archives link to not captured yet"),
        "{jobs}"
    );
    let archives = get(&router, "/jobs/daily/archives").await.body;
    assert!(
        archives.contains("1 file(s) its archives link to not captured yet"),
        "{archives}"
    );
    for (uri, body) in [("day", page), ("search", &search), ("jobs", &jobs)] {
        for secret in ["Signature=", "Key-Pair-Id", "Expires=", "token=T"] {
            assert!(!body.contains(secret), "{uri} prints {secret}:\n{body}");
        }
    }
}

/// Rewrites the manifest of the archive at `key` signed by `signer`, as a run with a signing
/// key writes it.
async fn sign_manifest(store: &Store, key: &str, signer: &crate::signing::SigningKey) {
    let at = ObjectPath::from(manifest::manifest_key(key));
    let stored = crate::store::json::read_bytes(store, &at)
        .await
        .expect("read")
        .expect("a manifest");
    let value: serde_json::Value = serde_json::from_slice(&stored).expect("json");
    let signed = crate::signing::signed_json(&value, Some(signer)).expect("signed");
    store
        .object_store()
        .put(&at, signed.into())
        .await
        .expect("rewritten");
}

/// Seal 1 of job `daily`, sealed at `sealed_at`, naming the manifest of `key` as stored now;
/// signed by `signer` when given.
async fn seal_one(
    store: &Store,
    key: &str,
    sealed_at: DateTime<Utc>,
    signer: Option<&crate::signing::SigningKey>,
) {
    use crate::archive::seal::{Covered, FORMAT, Seal, seal_key};
    let manifest = manifest::manifest_key(key);
    let stored = crate::store::json::read_bytes(store, &ObjectPath::from(manifest.as_str()))
        .await
        .expect("read")
        .expect("a manifest");
    let seal = Seal {
        format: FORMAT,
        job: "daily".into(),
        sequence: 1,
        sealed_at,
        previous: None,
        covers: vec![Covered {
            key: manifest,
            sha256: crate::archive::transfer::hex(&Sha256::digest(&stored)),
        }],
        chatvault_version: "0".into(),
        removal: None,
    };
    let at = ObjectPath::from(seal_key("daily", 1));
    let created = crate::store::json::create_signed(store, &at, &seal, signer)
        .await
        .expect("sealed");
    assert!(created);
}

fn archive_page(key: &str) -> String {
    format!("/archive?job=daily&key={}", key.replace('/', "%2F"))
}

#[tokio::test]
async fn an_unsigned_archive_after_a_signed_seal_is_shown_as_planted() {
    let store = Store::memory();
    let (signer, _) = crate::signing::SigningKey::generate().expect("a key");
    let sealed = archive(&store, at(2, 0), 3, false).await;
    sign_manifest(&store, &sealed, &signer).await;
    seal_one(&store, &sealed, at(3, 1), Some(&signer)).await;
    let planted = archive(&store, at(4, 0), 3, false).await;
    // Claims to have been archived before the seal, which does not name it.
    let backdated = archive(&store, at(1, 0), 3, false).await;
    let own = archive(&store, at(5, 0), 3, false).await;
    sign_manifest(&store, &own, &signer).await;
    let mut keys = crate::signing::Keyring::default();
    keys.add(signer.public().clone());
    let router = app(viewer(store).with_keys(keys), None);

    let page = get(&router, &archive_page(&planted)).await.body;
    assert!(
        page.contains(
            "class=\"bad\" id=\"seal\" data-status=\"planted\">not sealed and not signed"
        ),
        "{page}"
    );
    for key in [&planted, &backdated] {
        let page = get(&router, &archive_page(key)).await.body;
        assert!(
            page.contains(
                "class=\"bad\" id=\"signature\" data-status=\"unsigned\">unsigned: not \
                 written by this deployment's key"
            ),
            "an unsigned manifest in a job that signs is not said to predate signing: {page}"
        );
    }
    let page = get(&router, &archive_page(&sealed)).await.body;
    assert!(page.contains("data-status=\"valid\""), "{page}");
    let page = get(&router, &archive_page(&own)).await.body;
    assert!(
        page.contains("data-status=\"awaiting\">awaiting seal"),
        "{page}"
    );
}

/// Writes `daily`'s replacement `n` of the archive at `key`, its messages' text `text`, with a
/// manifest that supersedes it, signed by `signer` when given.
async fn replacement(
    store: &Store,
    key: &str,
    n: u32,
    text: &str,
    signer: Option<&crate::signing::SigningKey>,
) -> String {
    let at_key = ObjectPath::from(manifest::manifest_key(key));
    let stored = crate::store::json::read_bytes(store, &at_key)
        .await
        .expect("read")
        .expect("a manifest");
    let original: Manifest = serde_json::from_slice(&stored).expect("a manifest");
    let body = String::from_utf8(
        store
            .object_store()
            .get(&ObjectPath::from(key))
            .await
            .expect("the archive")
            .bytes()
            .await
            .expect("its bytes")
            .to_vec(),
    )
    .expect("text")
    .replace("hello", text);
    let mut m = original.clone();
    m.key = crate::archive::replacement::replacement_key(key, n);
    m.sha256 = crate::archive::transfer::hex(&Sha256::digest(body.as_bytes()));
    m.bytes_stored = body.len() as u64;
    m.supersedes = Some(crate::archive::replacement::Supersedes {
        key: key.to_owned(),
        sha256: original.sha256.clone(),
        erasure: "20260310T000000Z-00000000".into(),
        removed: Default::default(),
    });
    store
        .object_store()
        .put(&ObjectPath::from(m.key.as_str()), body.into_bytes().into())
        .await
        .expect("put the replacement");
    manifest::write(store, &m, signer)
        .await
        .expect("write the manifest");
    m.key
}

#[tokio::test]
async fn with_public_keys_the_viewer_shows_only_replacements_signed_by_them() {
    let store = Store::memory();
    let (signer, _) = crate::signing::SigningKey::generate().expect("a key");
    let day2 = archive(&store, at(2, 0), 3, false).await;
    let day3 = archive(&store, at(3, 0), 3, false).await;
    let planted = replacement(&store, &day2, 1, "FORGED", None).await;
    replacement(&store, &day3, 1, "rewritten", Some(&signer)).await;
    let mut keys = crate::signing::Keyring::default();
    keys.add(signer.public().clone());
    let router = app(viewer(store.clone()).with_keys(keys), None);

    let day = get(&router, "/channels/messaging%3Aa?day=2026-03-02")
        .await
        .body;
    assert!(!day.contains("FORGED"), "{day}");
    assert!(day.contains("hello 1"), "the original stays shown: {day}");
    assert!(
        day.contains(&planted),
        "the planted replacement is named: {day}"
    );
    assert!(
        day.contains("a replacement whose signature does not hold: not read"),
        "{day}"
    );
    let day = get(&router, "/channels/messaging%3Aa?day=2026-03-03")
        .await
        .body;
    assert!(
        day.contains("rewritten 1"),
        "a signed replacement is taken: {day}"
    );
    assert!(!day.contains("hello 1"), "{day}");
    let answer = get(&router, &archive_page(&planted)).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);

    let trusting = app(viewer(store), None);
    let day = get(&trusting, "/channels/messaging%3Aa?day=2026-03-02")
        .await
        .body;
    assert!(
        day.contains("FORGED 1"),
        "without keys nothing tells a planted replacement apart: {day}"
    );
}

/// An expiry record as seal 1 of job `daily`: the days before the 4th went by retention;
/// signed by `signer` when given.
async fn expiry_record(store: &Store, signer: Option<&crate::signing::SigningKey>) {
    use crate::archive::seal::{FORMAT, Removal, RemovalKind, Seal, seal_key};
    let seal = Seal {
        format: FORMAT,
        job: "daily".into(),
        sequence: 1,
        sealed_at: at(9, 0),
        previous: None,
        covers: Vec::new(),
        chatvault_version: "0".into(),
        removal: Some(Removal {
            kind: RemovalKind::Expiry,
            reason: "keep_for".into(),
            erasure: None,
            ended_before: Some(at(4, 0)),
            archives: Vec::new(),
            documents: Vec::new(),
            media: Vec::new(),
            replacements: Vec::new(),
        }),
    };
    let at_key = ObjectPath::from(seal_key("daily", 1));
    let created = crate::store::json::create_signed(store, &at_key, &seal, signer)
        .await
        .expect("sealed");
    assert!(created);
}

#[tokio::test]
async fn the_calendar_shows_days_expired_only_by_records_it_can_vouch_for_of_a_job_that_expires() {
    let (signer, _) = crate::signing::SigningKey::generate().expect("a key");
    let mut keys = crate::signing::Keyring::default();
    keys.add(signer.public().clone());
    let keeping = |store: Store| {
        let job = test_job(
            "name: daily\nschedule: \"0 0 * * *\"\nchannels:\n  - cid: messaging:a\n\
             destination:\n  url: file://archive\n  compression: none\nkeep_for: 1y\n",
        );
        Viewer::new(
            vec![Shown { job, store }],
            Store::memory(),
            chrono_tz::Tz::UTC,
            Arc::new(ManualClock::new(at(10, 12))),
        )
    };
    let expired = "data-day=\"2026-03-03\" data-status=\"expired\"";
    let missing = "data-day=\"2026-03-03\" data-status=\"missing\"";
    for (signed, keep_for, with_keys, shown) in [
        (false, false, false, missing),
        (false, true, false, expired),
        (false, true, true, missing),
        (true, true, true, expired),
        (true, false, true, missing),
    ] {
        let store = Store::memory();
        archive(&store, at(2, 0), 3, false).await;
        archive(&store, at(4, 0), 3, false).await;
        expiry_record(&store, signed.then_some(&signer)).await;
        let mut viewer = if keep_for {
            keeping(store)
        } else {
            viewer(store)
        };
        if with_keys {
            viewer = viewer.with_keys(keys.clone());
        }
        let jobs = get(&app(viewer, None), "/").await.body;
        assert!(
            jobs.contains(shown),
            "signed {signed}, keep_for {keep_for}, keys {with_keys}: {jobs}"
        );
    }
}

#[tokio::test]
async fn an_archive_page_shows_its_signature_and_seal_status() {
    let store = Store::memory();
    let (signer, _) = crate::signing::SigningKey::generate().expect("a key");
    let id = signer.public().id().to_owned();
    // Archived on the 3rd and sealed after it; the next archived after the seal.
    let sealed = archive(&store, at(2, 0), 3, false).await;
    let later = archive(&store, at(4, 0), 3, false).await;
    sign_manifest(&store, &sealed, &signer).await;
    let mut keys = crate::signing::Keyring::default();
    keys.add(signer.public().clone());
    let router = app(viewer(store.clone()).with_keys(keys.clone()), None);

    let page = get(&router, &archive_page(&sealed)).await.body;
    assert!(
        page.contains(&format!(
            "<dd class=\"ok\" id=\"signature\" data-status=\"valid\">signed by key <code>{id}</code>, valid</dd>"
        )),
        "{page}"
    );
    assert!(
        page.contains(
            "class=\"bad\" id=\"seal\" data-status=\"signed-unsealed\">signed, but the job has \
             no seal"
        ),
        "{page}"
    );
    let page = get(&router, &archive_page(&later)).await.body;
    assert!(
        page.contains("data-status=\"not-sealed\">not sealed: the job has no seal yet"),
        "{page}"
    );

    seal_one(&store, &sealed, at(3, 1), None).await;
    let router = app(viewer(store.clone()).with_keys(keys.clone()), None);
    let page = get(&router, &archive_page(&sealed)).await.body;
    assert!(
        page.contains("<dd class=\"ok\" id=\"seal\" data-status=\"sealed\">sealed by seal 1</dd>"),
        "{page}"
    );
    let page = get(&router, &archive_page(&later)).await.body;
    assert!(
        page.contains("id=\"signature\" data-status=\"unsigned\">unsigned: written before"),
        "{page}"
    );
    assert!(
        page.contains("id=\"seal\" data-status=\"awaiting\">awaiting seal: written after"),
        "{page}"
    );

    let router = app(viewer(store.clone()), None);
    let page = get(&router, &archive_page(&sealed)).await.body;
    assert!(
        page.contains(&format!(
            "class=\"bad\" id=\"signature\" data-status=\"unknown-key\">signed by key \
             <code>{id}</code>, an unknown key"
        )),
        "a viewer without the key cannot tell: {page}"
    );

    // The signed manifest edited after it was signed and sealed.
    let at_key = ObjectPath::from(manifest::manifest_key(&sealed));
    let stored = crate::store::json::read_bytes(&store, &at_key)
        .await
        .expect("read")
        .expect("a manifest");
    let edited = String::from_utf8_lossy(&stored).replace("\"batch\": 1", "\"batch\": 2");
    store
        .object_store()
        .put(&at_key, edited.into_bytes().into())
        .await
        .expect("edited");
    let router = app(viewer(store).with_keys(keys), None);
    let page = get(&router, &archive_page(&sealed)).await.body;
    assert!(
        page.contains("class=\"bad\" id=\"signature\" data-status=\"invalid\">signed by key"),
        "{page}"
    );
    assert!(
        page.contains("data-status=\"changed\">changed since seal 1 sealed it"),
        "{page}"
    );
}

fn hold(
    name: &str,
    reason: &str,
    covers: crate::config::hold::HoldCovers,
) -> crate::config::hold::Hold {
    crate::config::hold::Hold {
        name: name.into(),
        reason: reason.into(),
        set_by: "legal <legal@example.com>".into(),
        set_at: at(1, 0),
        covers,
        file: format!("holds/{name}.yaml").into(),
    }
}

#[tokio::test]
async fn held_archives_and_their_days_are_marked_with_the_holds_escaped() {
    let (store, keys) = three_days().await;
    let early = hold(
        "early",
        "<script>alert(1)</script> matter",
        crate::config::hold::HoldCovers {
            until: Some(at(3, 0)),
            ..Default::default()
        },
    );
    let router = app(viewer(store.clone()).with_holds(vec![early]), None);
    let jobs = get(&router, "/").await.body;
    assert!(
        jobs.contains(
            "<td class=\"day s-archived held\" data-day=\"2026-03-02\" data-status=\"archived\" \
             data-held=\"true\"><a href=\"/jobs/daily/days/2026-03-02\" title=\"2026-03-02: \
             archived; under legal hold: early\">"
        ),
        "{jobs}"
    );
    assert!(
        jobs.contains("<td class=\"day s-archived\" data-day=\"2026-03-04\""),
        "{jobs}"
    );
    assert!(jobs.contains("<span class=\"swatch held\">"), "{jobs}");

    let page = get(&router, &archive_page(&keys[0])).await.body;
    assert!(
        page.contains("id=\"holds\" data-certain=\"true\">held: 1 legal hold(s) keep it"),
        "{page}"
    );
    assert!(
        page.contains("<li data-hold=\"early\"><strong>early</strong>: <bdi>&lt;script&gt;alert(1)&lt;/script&gt; matter</bdi>"),
        "{page}"
    );
    assert!(!page.contains("<script>"), "{page}");
    let page = get(&router, &archive_page(&keys[2])).await.body;
    assert!(!page.contains("id=\"holds\""), "{page}");

    // The manifests (format 2) do not count everyone: a hold on a user may cover them.
    let on_user = hold(
        "u1",
        "r",
        crate::config::hold::HoldCovers {
            users: vec!["u1".into()],
            ..Default::default()
        },
    );
    let router = app(viewer(store).with_holds(vec![on_user]), None);
    let page = get(&router, &archive_page(&keys[2])).await.body;
    assert!(
        page.contains("id=\"holds\" data-certain=\"false\">may be held:"),
        "{page}"
    );
}
