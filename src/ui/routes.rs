//! From a request to a page: read what the page shows (manifests, state, archives), then hand
//! it to `pages`. Reads only; nothing here writes to a store or to state.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use maud::Markup;
use serde::Deserialize;

use super::calendar::{self, day_of, day_start};
use super::conversation::{self, Wanted};
use super::holdings::{holdings, last_message};
use super::pages::{self, Section, channel_href};
use super::{Viewer, assets};
use crate::archive::manifest::Manifest;
use crate::archive::search::search_in;
use crate::archive::transcript::threads;
use crate::archive::verify;
use crate::query::Query as SearchQuery;
use crate::runner::due::next_tick;
use crate::state::Ledger;
use crate::store::Store;

/// Newest archives listed per job on the jobs page.
const RECENT: usize = 10;

type Shared = State<Arc<Viewer>>;

fn page(status: StatusCode, title: &str, section: Section, q: &str, body: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        pages::layout(title, section, q, body).into_string(),
    )
        .into_response()
}

fn not_found(what: &str) -> Response {
    page(
        StatusCode::NOT_FOUND,
        "Not found",
        Section::Other,
        "",
        pages::problem("Not found", what),
    )
}

fn bad_request(what: &str) -> Response {
    page(
        StatusCode::BAD_REQUEST,
        "Bad request",
        Section::Other,
        "",
        pages::problem("Bad request", what),
    )
}

pub async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        assets::STYLE,
    )
        .into_response()
}

pub async fn icon() -> Response {
    ([(header::CONTENT_TYPE, "image/svg+xml")], assets::ICON).into_response()
}

pub async fn fallback() -> Response {
    not_found("There is no such page here.")
}

pub async fn jobs(State(viewer): Shared) -> Response {
    let listing = viewer.index.listing().await;
    let now = viewer.clock.now();
    let mut states = Vec::new();
    for shown in viewer.jobs.iter() {
        let ledger = Ledger::open(viewer.state.clone(), &shown.job.name);
        states.push(
            ledger
                .load()
                .await
                .map(|s| s.into_value())
                .map_err(|e| e.to_string()),
        );
    }
    let views: Vec<pages::jobs::JobView<'_>> = viewer
        .jobs
        .iter()
        .zip(states)
        .enumerate()
        .map(|(i, (shown, state))| {
            let manifests: Vec<&Manifest> = listing.of_job(i).collect();
            let mut recent = manifests.clone();
            recent.sort_by(|a, b| b.archived_at.cmp(&a.archived_at).then(b.key.cmp(&a.key)));
            recent.truncate(RECENT);
            let known = state.as_ref().cloned().unwrap_or_default();
            let seen = calendar::Seen {
                zone: viewer.zone,
                retention: &shown.job.retention,
                now,
            };
            pages::jobs::JobView {
                job: &shown.job,
                messages: calendar::messages(
                    seen,
                    calendar::configured_start(&shown.job.window),
                    &manifests,
                    &known,
                ),
                snapshots: calendar::snapshots(seen, &manifests, &known),
                state,
                recent,
                archives: manifests.len(),
                next_tick: next_tick(&shown.job, now),
            }
        })
        .collect();
    let body = pages::jobs::page(&views, &listing.problems, viewer.zone, now);
    page(StatusCode::OK, "Jobs", Section::Jobs, "", body)
}

#[derive(Debug, Deserialize)]
pub struct Paged {
    page: Option<String>,
}

/// A 1-based page number; anything else is the first page.
fn page_number(text: Option<&str>) -> usize {
    text.and_then(|p| p.parse().ok()).unwrap_or(1).max(1)
}

pub async fn channels(State(viewer): Shared, Query(paged): Query<Paged>) -> Response {
    let listing = viewer.index.listing().await;
    let uncounted = listing
        .archives
        .iter()
        .filter(|a| a.manifest.kind == "channels" && a.manifest.contents.is_none())
        .count();
    let body = pages::channels::page(
        &holdings(&listing),
        page_number(paged.page.as_deref()),
        uncounted,
        viewer.zone,
    );
    page(StatusCode::OK, "Channels", Section::Channels, "", body)
}

#[derive(Debug, Deserialize)]
pub struct ChannelParams {
    day: Option<String>,
    msg: Option<String>,
    page: Option<String>,
}

/// Every listed archive with its store.
fn archives<'a>(
    viewer: &'a Viewer,
    listing: &'a super::index::Listing,
) -> impl Iterator<Item = (&'a Store, &'a Manifest)> {
    listing
        .archives
        .iter()
        .map(|a| (&viewer.jobs[a.job].store, &a.manifest))
}

pub async fn channel(
    State(viewer): Shared,
    Path(cid): Path<String>,
    Query(params): Query<ChannelParams>,
) -> Response {
    let listing = viewer.index.listing().await;
    let zone = viewer.zone;
    let msg = params.msg.filter(|m| !m.is_empty());
    let day = match params.day.as_deref().filter(|d| !d.is_empty()) {
        Some(text) => match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(day) => day,
            Err(_) => return bad_request(&format!("day {text}: expected YYYY-MM-DD")),
        },
        None => {
            if let Some(id) = &msg {
                // A link to a message without its day (a reply's parent): find its day.
                let found =
                    conversation::read(archives(&viewer, &listing), &cid, &Wanted::Id(id.clone()))
                        .await;
                return match found.messages.first().and_then(|m| m.created_at) {
                    Some(t) => Redirect::to(&channel_href(&cid, Some(day_of(zone, t)), Some(id)))
                        .into_response(),
                    None => not_found(&format!("No archived message {id} in {cid}.")),
                };
            }
            let last = match last_message(&listing, &cid) {
                Some(t) => Some(t),
                // Archives without counts: the newest message before the end of time.
                None => {
                    let end = (DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC);
                    conversation::read(archives(&viewer, &listing), &cid, &Wanted::During(end))
                        .await
                        .earlier
                }
            };
            day_of(zone, last.unwrap_or_else(|| viewer.clock.now()))
        }
    };
    let next = day.succ_opt().unwrap_or(day);
    let span = (day_start(zone, day), day_start(zone, next));
    let read = conversation::read(archives(&viewer, &listing), &cid, &Wanted::During(span)).await;
    let entries = threads(&read.messages);
    let requested = page_number(params.page.as_deref());
    let page_of_target = msg.as_deref().and_then(|id| {
        entries
            .iter()
            .position(|e| e.message.id == id || e.replies.iter().any(|r| r.id == id))
            .map(|i| i / pages::channel::PER_PAGE + 1)
    });
    let view = pages::channel::ChannelDay {
        cid: &cid,
        day,
        zone,
        entries: &entries,
        page: page_of_target.unwrap_or(requested),
        target: msg.as_deref(),
        // The newest message before the day falls on the previous day with messages.
        earlier: read.earlier.map(|t| day_of(zone, t)),
        later: read.later.map(|t| day_of(zone, t)),
        archives: read.sources.clone(),
        problems: &read.problems,
    };
    let title = format!("{cid} on {day}");
    page(
        StatusCode::OK,
        &title,
        Section::Channels,
        "",
        pages::channel::page(&view),
    )
}

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
}

pub async fn search(State(viewer): Shared, Query(params): Query<SearchParams>) -> Response {
    let q = params.q.unwrap_or_default();
    if q.trim().is_empty() {
        return page(
            StatusCode::OK,
            "Search",
            Section::Search,
            "",
            pages::search::help(),
        );
    }
    let query = match SearchQuery::parse_in(&q, viewer.zone) {
        Ok(query) => query,
        Err(e) => {
            return page(
                StatusCode::BAD_REQUEST,
                "Search",
                Section::Search,
                &q,
                pages::search::invalid(&q, &e.to_string()),
            );
        }
    };
    let listing = viewer.index.listing().await;
    let mut found = search_in(
        archives(&viewer, &listing),
        &query,
        Some(pages::search::LIMIT),
    )
    .await;
    found
        .problems
        .extend(
            listing
                .problems
                .iter()
                .map(|(key, problem)| crate::archive::search::Problem {
                    key: key.clone(),
                    problem: problem.clone(),
                }),
        );
    let title = format!("Search: {q}");
    page(
        StatusCode::OK,
        &title,
        Section::Search,
        &q,
        pages::search::results(&q, &found, viewer.zone),
    )
}

#[derive(Debug, Deserialize)]
pub struct ArchiveParams {
    job: Option<String>,
    key: Option<String>,
}

/// The archive and its store, or the page saying it is not there.
async fn find(viewer: &Viewer, params: &ArchiveParams) -> Result<(Store, Manifest), Response> {
    let (Some(job), Some(key)) = (&params.job, &params.key) else {
        return Err(bad_request("expected ?job=NAME&key=KEY"));
    };
    let listing = viewer.index.listing().await;
    viewer
        .jobs
        .iter()
        .position(|s| s.job.name == *job)
        .and_then(|i| {
            listing
                .find(i, key)
                .map(|m| (viewer.jobs[i].store.clone(), m.clone()))
        })
        .ok_or_else(|| not_found(&format!("Job {job} has no archive {key}.")))
}

pub async fn archive(State(viewer): Shared, Query(params): Query<ArchiveParams>) -> Response {
    match find(&viewer, &params).await {
        Ok((_, manifest)) => page(
            StatusCode::OK,
            &format!("Archive {}", manifest.key),
            Section::Other,
            "",
            pages::archive::page(&manifest, None, viewer.zone),
        ),
        Err(response) => response,
    }
}

pub async fn verify(State(viewer): Shared, Form(params): Form<ArchiveParams>) -> Response {
    match find(&viewer, &params).await {
        Ok((store, manifest)) => {
            let verified = verify::check(&store, &manifest).await;
            tracing::info!(
                target: "chatvault::ui::access",
                job = manifest.job,
                key = manifest.key,
                ok = verified.is_ok(),
                "verified an archive"
            );
            page(
                StatusCode::OK,
                &format!("Archive {}", manifest.key),
                Section::Other,
                "",
                pages::archive::page(&manifest, Some(&verified), viewer.zone),
            )
        }
        Err(response) => response,
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeDelta;

    use super::*;

    fn span_of(zone: chrono_tz::Tz, day: NaiveDate) -> TimeDelta {
        day_start(zone, day.succ_opt().unwrap_or(day)) - day_start(zone, day)
    }

    #[test]
    fn a_day_is_the_zone_s_day_even_across_a_clock_change() {
        let berlin: chrono_tz::Tz = "Europe/Berlin".parse().expect("a zone");
        let date = |d| NaiveDate::from_ymd_opt(2026, 3, d).expect("a date");
        assert_eq!(span_of(berlin, date(29)), TimeDelta::hours(23));
        assert_eq!(span_of(berlin, date(30)), TimeDelta::hours(24));
        assert_eq!(page_number(Some("3")), 3);
        assert_eq!(page_number(Some("0")), 1);
        assert_eq!(page_number(Some("x")), 1);
        assert_eq!(page_number(None), 1);
    }
}
