//! From a request to a page: read what the page shows (manifests, state, archives), then hand
//! it to `pages`. Reads only; nothing here writes to a store or to state.

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::calendar::{self, day_of, day_start};
use super::conversation::{self, Wanted};
use super::held::{held_by, held_days};
use super::holdings::{self, holdings, last_message};
use super::index::JobArchives;
use super::media::Media;
use super::pages::archive::Standing;
use super::pages::jobs::JobView;
use super::pages::{self, Section, channel_href};
use super::reply::{PageError, Reply, page};
use super::{Viewer, assets};
use crate::archive::attachments::{self, File};
use crate::archive::manifest::{Manifest, manifest_key};
use crate::archive::read::Keep;
use crate::archive::reading::thread::{Conversation, Thread};
use crate::archive::reading::{Listed, Listing, Problem};
use crate::archive::seal::read_chain;
use crate::archive::search::{Page, search_in};
use crate::archive::transfer::hex;
use crate::archive::verify::{self, SealShown, seal_status};
use crate::lifecycle::expire::expired_before;
use crate::plan::due::next_tick;
use crate::query::Query as SearchQuery;
use crate::signing;
use crate::state::Ledger;
use crate::store::Store;

/// Newest archives listed per job on the jobs page.
const RECENT: usize = 10;

type Shared = State<Arc<Viewer>>;

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

pub async fn fallback() -> PageError {
    PageError::NotFound("There is no such page here.".to_owned())
}

/// The locations of the shown jobs when none of them holds an archive yet, each once. One
/// that could not be listed is not said to be empty: the incomplete banner names it.
fn empty_locations<'a>(viewer: &'a Viewer, listing: &Listing) -> Vec<&'a str> {
    let mut urls: Vec<&str> = Vec::new();
    if listing.archives.is_empty() {
        for url in viewer.jobs.iter().map(|s| s.store.url()) {
            if listing.listed(url) && !urls.contains(&url) {
                urls.push(url);
            }
        }
    }
    urls
}

/// The job named `name`: its index among the shown jobs.
fn job_index(viewer: &Viewer, name: &str) -> Result<usize, PageError> {
    viewer
        .jobs
        .iter()
        .position(|s| s.job.name == name)
        .ok_or_else(|| PageError::NotFound(format!("There is no job {name} here.")))
}

/// A job as the jobs page shows it at `now`: its state, calendars, newest archives and next
/// tick.
async fn job_view<'a>(
    viewer: &'a Viewer,
    listing: &'a Listing,
    media: &Media,
    i: usize,
    now: DateTime<Utc>,
) -> JobView<'a> {
    let shown = &viewer.jobs[i];
    let state = Ledger::open(viewer.state.clone(), &shown.job.name)
        .load()
        .await
        .map(|s| s.into_value())
        .map_err(|e| e.to_string());
    let manifests: Vec<&Manifest> = listing.of_source(i).collect();
    let mut recent = listing.by_window(i);
    recent.truncate(RECENT);
    let known = state.as_ref().cloned().unwrap_or_default();
    // A chain that cannot be read shows no day as expired: those days stay missing. So does
    // a job without keep_for, which nothing expires: an expiry record there was planted.
    let expired_before = match shown.job.keep_for {
        Some(_) => read_chain(&shown.store, &shown.job.name)
            .await
            .ok()
            .and_then(|seals| expired_before(&seals, &viewer.keys)),
        None => None,
    };
    let seen = calendar::Seen {
        zone: viewer.zone,
        retention: &shown.job.retention,
        now,
    };
    JobView {
        job: &shown.job,
        empty: manifests.is_empty() && listing.listed(shown.store.url()),
        url: shown.store.url(),
        messages: calendar::messages(
            seen,
            calendar::configured_start(&shown.job.window),
            &manifests,
            &listing.gone(i),
            &known,
            expired_before,
        ),
        snapshots: calendar::snapshots(seen, &manifests, &known),
        held: held_days(&viewer.holds, &manifests, viewer.zone),
        state,
        recent,
        archives: manifests.len(),
        next_tick: next_tick(&shown.job, now),
        outstanding: media.outstanding(i),
    }
}

pub async fn jobs(State(viewer): Shared) -> Reply {
    let listing = viewer.index.listing().await;
    let media = viewer.index.media(&listing).await;
    let now = viewer.clock.now();
    let mut views = Vec::new();
    for i in 0..viewer.jobs.len() {
        views.push(job_view(&viewer, &listing, &media, i, now).await);
    }
    let body = pages::jobs::page(&views, &listing.problems, viewer.zone, now);
    Ok(page(StatusCode::OK, "Jobs", Section::Jobs, "", body))
}

#[derive(Debug, Deserialize)]
pub struct Paged {
    page: Option<String>,
}

/// A 1-based page number (the first when none is given).
fn page_number(text: Option<&str>) -> Result<usize, PageError> {
    match text.filter(|t| !t.is_empty()) {
        None => Ok(1),
        Some(t) => t.parse().ok().filter(|&p| p >= 1).ok_or_else(|| {
            PageError::BadRequest(format!("page {t}: expected a page number from 1"))
        }),
    }
}

/// `page` of `items` shown `per_page` a page, or the page saying there is no such page: a
/// link past the end must not show another page's content as its own.
fn page_within(page: usize, items: usize, per_page: usize) -> Result<usize, PageError> {
    let pages = items.div_ceil(per_page).max(1);
    if page > pages {
        return Err(PageError::NotFound(format!(
            "There is no page {page}: there are {pages}."
        )));
    }
    Ok(page)
}

pub async fn job_archives(
    State(viewer): Shared,
    Path(name): Path<String>,
    Query(paged): Query<Paged>,
) -> Reply {
    let i = job_index(&viewer, &name)?;
    let listing = viewer.index.listing().await;
    let archives = listing.by_window(i);
    let page_no = page_within(
        page_number(paged.page.as_deref())?,
        archives.len(),
        pages::job::PER_PAGE,
    )?;
    let media = viewer.index.media(&listing).await;
    let body = pages::job::archives(&name, &archives, page_no, media.outstanding(i), viewer.zone);
    let title = format!("Archives of {name}");
    Ok(page(StatusCode::OK, &title, Section::Jobs, "", body))
}

/// A `YYYY-MM-DD` day.
fn date(text: &str) -> Result<NaiveDate, PageError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .map_err(|_| PageError::BadRequest(format!("day {text}: expected YYYY-MM-DD")))
}

pub async fn job_day(State(viewer): Shared, Path((name, day)): Path<(String, String)>) -> Reply {
    let i = job_index(&viewer, &name)?;
    let day = date(&day)?;
    let listing = viewer.index.listing().await;
    let view = job_view(&viewer, &listing, &Media::default(), i, viewer.clock.now()).await;
    let zone = viewer.zone;
    let span = (
        day_start(zone, day),
        day_start(zone, day.succ_opt().unwrap_or(day)),
    );
    let held = holdings::day(&listing.by_window(i), span, |t| day_of(zone, t) == day);
    let body = pages::job::day(&pages::job::JobDay {
        job: &name,
        date: day,
        zone,
        messages: view.messages.iter().find(|d| d.date == day),
        snapshots: view.snapshots.iter().find(|d| d.date == day),
        held: &held,
    });
    let title = format!("{name} on {day}");
    Ok(page(StatusCode::OK, &title, Section::Jobs, "", body))
}

pub async fn channels(State(viewer): Shared, Query(paged): Query<Paged>) -> Reply {
    let listing = viewer.index.listing().await;
    let uncounted = listing
        .archives
        .iter()
        .filter(|a| a.manifest.kind == "channels" && a.manifest.contents.is_none())
        .count();
    let held = holdings(&listing.archives);
    let page_no = page_within(
        page_number(paged.page.as_deref())?,
        held.len(),
        pages::channels::PER_PAGE,
    )?;
    let body = pages::channels::page(
        &held,
        page_no,
        uncounted,
        &listing.problems,
        &empty_locations(&viewer, &listing),
        viewer.zone,
    );
    Ok(page(
        StatusCode::OK,
        "Channels",
        Section::Channels,
        "",
        body,
    ))
}

#[derive(Debug, Deserialize)]
pub struct ChannelParams {
    day: Option<String>,
    msg: Option<String>,
    page: Option<String>,
}

pub async fn channel(
    State(viewer): Shared,
    Path(cid): Path<String>,
    Query(params): Query<ChannelParams>,
) -> Reply {
    let listing = viewer.index.listing().await;
    let zone = viewer.zone;
    if !listing.holds_channel(&cid) {
        let why = match listing.nothing() {
            Some(nothing) => format!("The archives' location holds no archive yet: {nothing}."),
            None if listing.problems.is_empty() => {
                format!("No listed archive holds the channel {cid}.")
            }
            None => format!(
                "No listed archive holds the channel {cid}; {} store(s) or manifest(s) could \
                 not be read (the Jobs page names them).",
                listing.problems.len()
            ),
        };
        return Err(PageError::NotFound(why));
    }
    let msg = params.msg.filter(|m| !m.is_empty());
    let day = match params.day.as_deref().filter(|d| !d.is_empty()) {
        Some(pages::NO_TIME) => None,
        Some(text) => Some(date(text)?),
        None => {
            if let Some(id) = &msg {
                // A link to a message without its day (a reply's parent): find its day.
                let found =
                    conversation::read(listing.with_stores(), &cid, &Wanted::Id(id.clone())).await;
                let m = found.messages.first().ok_or_else(|| {
                    PageError::NotFound(format!("No archived message {id} in {cid}."))
                })?;
                let href = match m.created_at {
                    Some(t) => channel_href(&cid, Some(day_of(zone, t)), Some(id)),
                    None => pages::no_time_href(&cid, Some(id)),
                };
                return Ok(Redirect::to(&href).into_response());
            }
            let last = match last_message(&listing.archives, &cid) {
                Some(t) => Some(t),
                // Archives without counts: the newest message before the end of time.
                None => {
                    let end = (DateTime::<Utc>::MAX_UTC, DateTime::<Utc>::MAX_UTC);
                    conversation::read(listing.with_stores(), &cid, &Wanted::During(end))
                        .await
                        .earlier
                }
            };
            Some(day_of(zone, last.unwrap_or_else(|| viewer.clock.now())))
        }
    };
    let wanted = match day {
        Some(day) => {
            let next = day.succ_opt().unwrap_or(day);
            Wanted::During((day_start(zone, day), day_start(zone, next)))
        }
        None => Wanted::NoTime,
    };
    let read = conversation::read(listing.with_stores(), &cid, &wanted).await;
    let conversation = Conversation::new(read.messages);
    let threads = conversation.threads();
    let requested = page_number(params.page.as_deref())?;
    let page_of_target = match msg.as_deref() {
        None => None,
        Some(id) => Some(
            threads
                .iter()
                .position(|t| t.holds(id))
                .map(|i| i / pages::channel::PER_PAGE + 1)
                .ok_or_else(|| {
                    PageError::NotFound(format!("No archived message {id} in {cid} on this day."))
                })?,
        ),
    };
    let requested = page_within(requested, threads.len(), pages::channel::PER_PAGE)?;
    // What the page does not show: the archives that could not be read, and the manifests
    // that could not be (whose archives may hold the channel).
    let media = viewer.index.media(&listing).await;
    let problems: Vec<Problem> = listing
        .problems
        .iter()
        .chain(&read.problems)
        .chain(media.problems())
        .cloned()
        .collect();
    let outstanding = outstanding(&media, &threads);
    let view = pages::channel::ChannelDay {
        cid: &cid,
        day,
        zone,
        threads: &threads,
        page: page_of_target.unwrap_or(requested),
        target: msg.as_deref(),
        // The newest message before the day falls on the previous day with messages.
        earlier: read.earlier.map(|t| day_of(zone, t)),
        later: read.later.map(|t| day_of(zone, t)),
        archives: read.sources.clone(),
        problems: &problems,
        media: &media,
        outstanding,
    };
    let title = match day {
        Some(day) => format!("{cid} on {day}"),
        None => format!("{cid}, messages without a time"),
    };
    Ok(page(
        StatusCode::OK,
        &title,
        Section::Channels,
        "",
        pages::channel::page(&view),
    ))
}

/// The files the messages of `threads` link to that are not captured yet.
fn outstanding(media: &Media, threads: &[Thread<'_>]) -> usize {
    threads
        .iter()
        .flat_map(|t| std::iter::once(&t.first).chain(&t.replies))
        .flat_map(|shown| attachments::of(shown.message, |url| media.lookup(url)))
        .filter(|a| matches!(a.file, File::NotCaptured(o) if o.outstanding()))
        .count()
}

#[derive(Debug, Deserialize)]
pub struct SearchParams {
    q: Option<String>,
    page: Option<String>,
}

pub async fn search(State(viewer): Shared, Query(params): Query<SearchParams>) -> Reply {
    let q = params.q.unwrap_or_default();
    if q.trim().is_empty() {
        return Ok(page(
            StatusCode::OK,
            "Search",
            Section::Search,
            "",
            pages::search::help(),
        ));
    }
    let query = SearchQuery::parse_in(&q, viewer.zone).map_err(|e| PageError::Query {
        q: q.clone(),
        problem: e.to_string(),
    })?;
    let listing = viewer.index.listing().await;
    let requested = page_number(params.page.as_deref())?;
    let found = search_in(
        listing.with_stores(),
        &query,
        Page {
            skip: (requested - 1) * pages::search::PER_PAGE,
            limit: Some(pages::search::PER_PAGE),
        },
        Keep::Fields,
    )
    .await;
    let page_no = page_within(requested, found.total, pages::search::PER_PAGE)?;
    let media = viewer.index.media(&listing).await;
    let problems: Vec<Problem> = listing
        .problems
        .iter()
        .chain(&found.problems)
        .chain(media.problems())
        .cloned()
        .collect();
    let empty = empty_locations(&viewer, &listing);
    let hints = listing.case_hints(&query);
    let view = pages::search::Results {
        q: &q,
        hits: &found.hits,
        total: found.total,
        page: page_no,
        read: found.read(),
        skipped: found.skipped,
        problems: &problems,
        empty: &empty,
        hints: &hints,
        undated: found.undated,
        media: &media,
    };
    let title = format!("Search: {q}");
    Ok(page(
        StatusCode::OK,
        &title,
        Section::Search,
        &q,
        pages::search::results(&view, viewer.zone),
    ))
}

#[derive(Debug, Deserialize)]
pub struct ArchiveParams {
    job: Option<String>,
    key: Option<String>,
}

/// The archive and its store, or why there is none.
async fn find(viewer: &Viewer, params: &ArchiveParams) -> Result<(Store, Listed), PageError> {
    let (Some(job), Some(key)) = (&params.job, &params.key) else {
        return Err(PageError::BadRequest(
            "expected ?job=NAME&key=KEY".to_owned(),
        ));
    };
    let i = job_index(viewer, job)?;
    let listing = viewer.index.listing().await;
    listing
        .archive(i, key)
        .map(|a| (viewer.jobs[i].store.clone(), a.clone()))
        .ok_or_else(|| PageError::NotFound(format!("Job {job} has no archive {key}.")))
}

pub async fn archive(State(viewer): Shared, Query(params): Query<ArchiveParams>) -> Reply {
    let (store, archived) = find(&viewer, &params).await?;
    let standing = standing(&viewer, &store, &archived).await;
    Ok(page(
        StatusCode::OK,
        &format!("Archive {}", archived.manifest.key),
        Section::Other,
        "",
        pages::archive::page(
            &archived,
            &standing,
            &held_by(&viewer.holds, &archived.manifest),
            None,
            viewer.zone,
        ),
    ))
}

pub async fn verify(State(viewer): Shared, Form(params): Form<ArchiveParams>) -> Reply {
    let (store, archived) = find(&viewer, &params).await?;
    let manifest = &archived.manifest;
    let verified = verify::check(&store, manifest).await;
    let standing = standing(&viewer, &store, &archived).await;
    tracing::info!(
        target: "chatvault::ui::access",
        job = manifest.job,
        key = manifest.key,
        ok = verified.is_ok(),
        "verified an archive"
    );
    Ok(page(
        StatusCode::OK,
        &format!("Archive {}", manifest.key),
        Section::Other,
        "",
        pages::archive::page(
            &archived,
            &standing,
            &held_by(&viewer.holds, manifest),
            Some(&verified),
            viewer.zone,
        ),
    ))
}

/// The manifest's signature against the viewer's keys, and its place in its job's chain.
async fn standing(viewer: &Viewer, store: &Store, archived: &Listed) -> Standing {
    let manifest = &archived.manifest;
    let sha256 = hex(&Sha256::digest(&archived.stored));
    let signature = signing::check(&archived.stored, &viewer.keys);
    let shown = SealShown {
        key: &manifest_key(&manifest.key),
        sha256: &sha256,
        written_at: manifest.archived_at,
        signature: &signature,
    };
    let placed = seal_status(store, &manifest.job, &shown, &viewer.keys).await;
    Standing {
        signature,
        seal: placed.status,
        chain_signed: placed.chain_signed,
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
        assert_eq!(page_number(Some("3")).ok(), Some(3));
        assert!(page_number(Some("0")).is_err());
        assert!(page_number(Some("x")).is_err());
        assert_eq!(page_number(None).ok(), Some(1));
        assert_eq!(page_within(3, 401, 200).ok(), Some(3));
        assert!(page_within(4, 401, 200).is_err());
        assert_eq!(page_within(1, 0, 200).ok(), Some(1));
    }
}
