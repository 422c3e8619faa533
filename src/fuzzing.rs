//! The bodies of the fuzz targets in `fuzz/`, kept here so the committed seed corpora can be
//! replayed by the test suite (`tests/it/fuzz_corpus.rs`) without libFuzzer or nightly.
//!
//! Each function takes arbitrary bytes, runs one part of chatvault that reads outside input,
//! and panics when an invariant breaks: a crash, a position outside the input, a key that
//! could escape its prefix, a secret in a message, ticks out of order. Not an API.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::api::wire::{ErrorBody, QueryChannelsResponse, TaskCreated, TaskStatus};
use crate::api::{ApiError, Endpoint, Limiter, Quota, decode_answer, retry_after};
use crate::archive::entities::Layout;
use crate::archive::scrubbing::Scrubber;
use crate::archive::tally::Counter;
use crate::clock::{Clock, ManualClock};
use crate::config::key::{KeyContext, KeyTemplate, KeyTemplateError, MAX_KEY_BYTES};
use crate::config::{LoadOptions, Loaded, MissingVars, load_config_text, load_job_text};
use crate::query::{Candidate, Query};
use crate::schedule::{Schedule, parse_timezone};

/// A target's body: panics when the input breaks an invariant.
pub type Check = fn(&[u8]);

/// The fuzz targets, by the name of their file in `fuzz/fuzz_targets/` and their corpus folder.
pub const TARGETS: [(&str, Check); 6] = [
    ("job_file", job_file),
    ("schedule", schedule),
    ("key_template", key_template),
    ("api_response", api_response),
    ("query", query),
    ("scrub", scrub),
];

/// The instant plans and key checks start from.
fn now() -> DateTime<Utc> {
    DateTime::from_timestamp(1_774_699_200, 0).unwrap_or_default() // 2026-03-28T12:00:00Z
}

/// The value of `${FUZZ_SECRET}`: it must never show in a message.
const SECRET: &str = "Zq7xK9vWsecret";

fn env(name: &str) -> Option<String> {
    match name {
        "FUZZ_SECRET" | "STREAM_API_SECRET" => Some(SECRET.to_owned()),
        "FUZZ_EMPTY" => Some(String::new()),
        "FUZZ_BUCKET" => Some("s3://fuzz-bucket/prefix".to_owned()),
        "FUZZ_SCHEDULE" => Some("*/5 * * * *".to_owned()),
        _ => None,
    }
}

/// A job or config file, read as YAML and as TOML, as a job and as the global config, in a
/// dry run and in a real one.
pub fn job_file(data: &[u8]) {
    for name in ["fuzz.yaml", "fuzz.toml"] {
        for missing_vars in [MissingVars::Warn, MissingVars::Error] {
            let opts = LoadOptions {
                paths: Vec::new(),
                config: None,
                env: &env,
                missing_vars,
            };
            let file = Path::new(name);
            let mut loaded = load_job_text(file, data, &opts);
            crate::plan::check(&mut loaded, now());
            check_loaded(file, data, &loaded);
            if !loaded.diagnostics.has_errors() {
                assert_eq!(
                    loaded.jobs.len() + loaded.blocked.len(),
                    1,
                    "one file, one job"
                );
                for compiled in &loaded.jobs {
                    check_job(&compiled.job);
                }
            }
            if missing_vars == MissingVars::Warn {
                check_loaded(file, data, &load_config_text(file, data, &opts));
            }
        }
    }
}

fn check_loaded(file: &Path, data: &[u8], loaded: &Loaded) {
    let text = String::from_utf8_lossy(data);
    let shape = TextShape::of(&text);
    for d in loaded.diagnostics.iter() {
        assert_eq!(d.file, file, "{d:?}");
        assert!(!d.message.trim().is_empty(), "{d:?}");
        if let Some(pos) = d.pos {
            assert!(
                pos.line >= 1 && pos.col >= 1,
                "position {}:{} is not 1-based: {d:?}",
                pos.line,
                pos.col
            );
            assert!(
                pos.line as usize <= shape.lines + 1 && pos.col as usize <= shape.widest + 1,
                "position {}:{} outside the input ({} lines, widest {}): {d:?}",
                pos.line,
                pos.col,
                shape.lines,
                shape.widest
            );
        }
        if !text.contains("Zq") {
            assert!(
                !d.message.contains(SECRET),
                "a secret from the environment in a message: {d:?}"
            );
        }
    }
}

/// How many lines the input has (any of LF, CR LF or a lone CR ends one, as YAML counts
/// them) and how many characters its widest line has (lines ended by LF only, the widest
/// reading).
struct TextShape {
    lines: usize,
    widest: usize,
}

impl TextShape {
    fn of(text: &str) -> TextShape {
        let lines = text.replace("\r\n", "\n").split(['\n', '\r']).count();
        let widest = text
            .split('\n')
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        TextShape { lines, widest }
    }
}

/// A valid job plans, and every key of its plan is safe.
fn check_job(job: &crate::config::Job) {
    assert!(Schedule::parse(job.schedule.source()).is_ok());
    let plan = crate::plan::plan_job(job, now(), 3);
    for tick in &plan.ticks {
        for window in &tick.windows {
            assert!(window.since < window.until, "{window:?}");
            for request in &window.requests {
                if let Some(key) = &request.key {
                    // Dry-run keys keep `{task_id}` as text; the rest must be safe.
                    assert_safe_key(&key.replace("{task_id}", "t"));
                }
            }
        }
    }
}

/// The key rules of `config::key`, checked independently.
fn assert_safe_key(key: &str) {
    assert!(!key.is_empty(), "empty key");
    assert!(key.len() <= MAX_KEY_BYTES, "key of {} bytes", key.len());
    assert!(
        key.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '=')),
        "unsafe character in key {key:?}"
    );
    for segment in key.split('/') {
        assert!(
            !matches!(segment, "" | "." | ".."),
            "key {key:?} has segment {segment:?}"
        );
    }
}

/// Instants the schedule target starts from: now, and the edges of what is evaluated.
fn starts() -> [DateTime<Utc>; 4] {
    [
        now(),
        DateTime::from_timestamp(0, 0).unwrap_or_default(),
        DateTime::from_timestamp(4_102_444_799, 0).unwrap_or_default(), // 2099-12-31T23:59:59Z
        DateTime::<Utc>::MIN_UTC,
    ]
}

/// `cron expression \n time zone`: parsing both, then a few ticks from several instants,
/// and `tick_before` agreeing with `ticks_after`.
pub fn schedule(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (expr, zone) = text.split_once('\n').unwrap_or((text, "UTC"));
    let tz = match parse_timezone(zone) {
        Ok(tz) => {
            assert_eq!(parse_timezone(tz.name()).ok(), Some(tz));
            tz
        }
        Err(e) => {
            assert!(!e.to_string().is_empty());
            Tz::UTC
        }
    };
    let schedule = match Schedule::parse(expr) {
        Ok(s) => s,
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return;
        }
    };
    assert_eq!(schedule.source(), expr);
    for start in starts() {
        let ticks: Vec<_> = schedule.ticks_after(tz, start).take(4).collect();
        let mut last = start;
        for tick in &ticks {
            assert!(tick.at > last, "ticks go forward: {tick:?} after {last}");
            assert_eq!(tick.local.with_timezone(&Utc), tick.at);
            last = tick.at;
        }
        if let [first, second, ..] = ticks.as_slice() {
            // The tick before the second is the first: both directions agree.
            let before = schedule.tick_before(tz, second.at);
            assert_eq!(before.as_ref(), Some(first), "tick_before({})", second.at);
        }
    }
}

/// `template \n job \n kind \n task id \n ext \n start \n end \n batch`: the template parsed,
/// then rendered for the values given (times as seconds since 1970).
pub fn key_template(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let source = lines.next().unwrap_or_default();
    let template = match KeyTemplate::parse(source) {
        Ok(t) => t,
        Err(errors) => {
            assert!(!errors.is_empty(), "an error list is never empty");
            for e in errors {
                assert!(!e.to_string().is_empty());
            }
            return;
        }
    };
    assert_eq!(template.source(), source);
    // A template that passed the checks renders for an ordinary archive, or is refused by
    // the re-check of the rendered key (`%.f` is empty on whole seconds; the job-file checks
    // try keys on real ticks for that).
    let ordinary = KeyContext {
        job: "nightly",
        window_start: now() - TimeDelta::days(1),
        window_end: now(),
        batch: 1,
        kind: "channels",
        task_id: Some("task-1"),
        ext: "jsonl.gz",
    };
    match template.render(&ordinary) {
        Ok(key) => assert_safe_key(&key),
        Err(
            KeyTemplateError::KeyTooLong { .. }
            | KeyTemplateError::RenderedPath { .. }
            | KeyTemplateError::UnsafeValue { .. },
        ) => {}
        Err(e) => panic!("template {source:?} passed parse but fails to render: {e}"),
    }
    let mut field = || lines.next().unwrap_or_default();
    let (job, kind, task_id, ext) = (field(), field(), field(), field());
    let time = |s: &str, fallback: DateTime<Utc>| {
        s.trim()
            .parse::<i64>()
            .ok()
            .and_then(|n| DateTime::from_timestamp(n, 0))
            .unwrap_or(fallback)
    };
    let window_start = time(field(), ordinary.window_start);
    let window_end = time(field(), ordinary.window_end);
    let batch = field().trim().parse().unwrap_or(1);
    let ctx = KeyContext {
        job,
        window_start,
        window_end,
        batch,
        kind,
        task_id: Some(task_id),
        ext,
    };
    let first = template.render(&ctx);
    assert_eq!(first, template.render(&ctx), "rendering is deterministic");
    if let Ok(key) = first {
        assert_safe_key(&key);
    }
}

/// `status \n headers… \n\n body`: the answer decoded as each endpoint reads it, and the rate
/// limiter fed its headers, which must not stall an endpoint for long.
pub fn api_response(data: &[u8]) {
    let split = data
        .windows(2)
        .position(|w| w == b"\n\n")
        .map_or((data, &b""[..]), |i| (&data[..i], &data[i + 2..]));
    let (head, body) = split;
    let mut head_lines = head.split(|b| *b == b'\n');
    let status = head_lines
        .next()
        .and_then(|l| std::str::from_utf8(l).ok())
        .and_then(|l| l.trim().parse::<u16>().ok())
        .and_then(|n| StatusCode::from_u16(n).ok())
        .unwrap_or(StatusCode::OK);
    let mut headers = HeaderMap::new();
    for line in head_lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(line[colon + 1..].trim_ascii()),
        ) else {
            continue;
        };
        headers.append(name, value);
    }

    let wait = retry_after(&headers);
    for endpoint in Endpoint::ALL {
        check_answer(
            decode_answer::<TaskStatus>(endpoint, status, body, wait),
            status,
        );
        check_answer(
            decode_answer::<TaskCreated>(endpoint, status, body, wait),
            status,
        );
        check_answer(
            decode_answer::<QueryChannelsResponse>(endpoint, status, body, wait),
            status,
        );
    }
    let _ = serde_json::from_slice::<ErrorBody>(body);

    let start = now();
    let clock = ManualClock::new(start);
    let limiter = Limiter::new(Arc::new(clock.clone()));
    let endpoint = Endpoint::ExportChannels;
    let quota = Quota::from_headers(&headers);
    limiter.observe(endpoint, quota);
    if status == StatusCode::TOO_MANY_REQUESTS {
        limiter.hold(endpoint, quota, wait);
    }
    futures::executor::block_on(async {
        limiter.acquire(endpoint).await;
        limiter.acquire(endpoint).await;
    });
    let waited = clock.now() - start;
    assert!(
        waited <= TimeDelta::hours(2),
        "an answer's headers stalled the endpoint for {waited}"
    );
    assert_eq!(
        limiter.waited(),
        waited.to_std().unwrap_or(Duration::ZERO),
        "the limiter's own count of waiting"
    );
}

fn check_answer<T>(answer: Result<T, ApiError>, status: StatusCode) {
    let Err(e) = answer else {
        assert!(status.is_success(), "only a success decodes");
        return;
    };
    assert!(!e.to_string().is_empty());
    let _ = e.hint();
    match e {
        ApiError::Decode { .. } => assert!(status.is_success()),
        ApiError::RateLimited { .. } | ApiError::Server { .. } => {
            assert!(!status.is_success() && e.is_transient());
        }
        _ => assert!(!status.is_success() && !e.is_transient()),
    }
}

/// `query \n message text`: a search query (the viewer takes it from any URL) parsed, then
/// matched against the text. An error's position lies within the query; the marks are in
/// order, apart, non-empty and on character boundaries of the text; the prefilter's needles
/// never rule out, in the text's JSON, a message the query matches.
pub fn query(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (source, message) = text.split_once('\n').unwrap_or((text, ""));
    let query = match Query::parse_in(source, chrono_tz::Asia::Kolkata) {
        Ok(query) => query,
        Err(e) => {
            assert!(
                (1..=source.chars().count() + 1).contains(&e.at),
                "position {} outside {source:?}",
                e.at
            );
            return;
        }
    };
    // One attachment of every kind `has:` names, so that those terms hold and the rest of
    // the query is what decides.
    let attachments = ["image", "file", "video", "audio"]
        .map(|kind| serde_json::json!({"type": kind, "og_scrape_url": "https://x"}));
    let candidate = Candidate {
        text: message,
        user: query.from.first().map(String::as_str),
        cid: query.channels.first().map(String::as_str),
        created_at: query
            .after
            .or(query.before.map(|b| b - TimeDelta::seconds(1))),
        attachments: &attachments,
        is_reply: true,
    };
    let matched = query.matches(&candidate);
    let marks = query.marks(message);
    for mark in &marks {
        assert!(
            mark.start < mark.end
                && mark.end <= message.len()
                && message.is_char_boundary(mark.start)
                && message.is_char_boundary(mark.end),
            "mark {mark:?} in {message:?}"
        );
    }
    assert!(marks.windows(2).all(|w| w[0].end < w[1].start), "{marks:?}");
    if matched {
        let raw = serde_json::json!({
            "text": message, "user": {"id": candidate.user}, "cid": candidate.cid,
            "attachments": attachments,
        })
        .to_string();
        assert!(
            query.needles().may_match(raw.as_bytes(), &mut Vec::new()),
            "the needles rule out a match: {source:?} on {raw}"
        );
    }
}

/// An export file (both layouts, fed in pieces) through the stage that leaves erased users
/// out: it never panics, and counting what it would store (as runs count, through
/// `archive::people`) finds none of the erased users.
pub fn scrub(data: &[u8]) {
    let erased: BTreeSet<String> = ["gone", "user-1"].map(str::to_owned).into();
    for layout in [Layout::Lines, Layout::Document] {
        let mut scrubber = Scrubber::new(layout, erased.clone());
        let mut stored = Vec::new();
        for piece in data.chunks(7) {
            scrubber.push(piece, &mut stored);
        }
        if scrubber.finish(&mut stored).is_err() {
            continue;
        }
        let mut counter = Counter::new(layout);
        counter.push(&stored, &mut |_, _| {});
        let tally = counter.finish(&mut |_, _| {});
        for id in &erased {
            assert!(
                !tally.users.contains_key(id),
                "{id} stays in {layout:?}: {}",
                String::from_utf8_lossy(&stored)
            );
        }
    }
}
