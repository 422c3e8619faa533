//! `chatvault ui`: a read-only web viewer of the archives, for the people who need them and
//! will not run a CLI. Server-rendered pages (jobs with their coverage calendars, a job's
//! archives and days, channels, a channel's days, search, an archive's manifest), no script,
//! one stylesheet from the binary, every value escaped. It reads the jobs' destinations and
//! state store and writes neither.

mod assets;
pub mod auth;
pub mod calendar;
mod conversation;
mod file;
mod guard;
mod held;
mod holdings;
mod index;
mod media;
mod pages;
mod reply;
mod routes;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::routing::{get, post};
use chrono_tz::Tz;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use guard::CONTENT_SECURITY_POLICY;

use crate::clock::SharedClock;
use crate::config::hold::Hold;
use crate::config::job::Job;
use crate::signing::Keyring;
use crate::store::Store;
use auth::Token;
use index::Index;

/// A job shown, with its opened destination.
pub struct Shown {
    pub job: Job,
    pub store: Store,
}

/// What the pages read.
pub struct Viewer {
    jobs: Arc<[Shown]>,
    index: Index,
    state: Store,
    zone: Tz,
    clock: SharedClock,
    /// The public keys an archive's signature is checked against.
    keys: Keyring,
    /// The legal holds in force: held archives and days are marked.
    holds: Vec<Hold>,
}

impl Viewer {
    pub fn new(jobs: Vec<Shown>, state: Store, zone: Tz, clock: SharedClock) -> Viewer {
        let jobs: Arc<[Shown]> = jobs.into();
        Viewer {
            index: Index::new(&jobs),
            jobs,
            state,
            zone,
            clock,
            keys: Keyring::default(),
            holds: Vec::new(),
        }
    }

    /// The viewer, checking signatures against `keys` (none by default: a signed archive
    /// shows as signed by a key the viewer does not hold, and every replacement is taken in
    /// place of its original).
    pub fn with_keys(mut self, keys: Keyring) -> Viewer {
        self.index = self.index.with_keys(keys.clone());
        self.keys = keys;
        self
    }

    /// The viewer, marking the archives and days `holds` cover (none by default).
    pub fn with_holds(mut self, holds: Vec<Hold>) -> Viewer {
        self.holds = holds;
        self
    }
}

fn app(viewer: Viewer, token: Option<Token>) -> Router {
    Router::new()
        .route("/", get(routes::jobs))
        .route("/jobs/{job}/archives", get(routes::job_archives))
        .route("/jobs/{job}/days/{day}", get(routes::job_day))
        .route("/channels", get(routes::channels))
        .route("/channels/{cid}", get(routes::channel))
        .route("/search", get(routes::search))
        .route("/archive", get(routes::archive))
        .route("/archive/verify", post(routes::verify))
        .route("/media/{sha256}", get(file::serve))
        .route("/assets/style.css", get(routes::style))
        .route("/assets/icon.svg", get(routes::icon))
        .route("/favicon.ico", get(routes::icon))
        .fallback(routes::fallback)
        .with_state(Arc::new(viewer))
        .layer(axum::middleware::from_fn_with_state(
            token.map(Arc::new),
            guard::guard,
        ))
}

/// Serves until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    viewer: Viewer,
    token: Option<Token>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        app(viewer, token).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move { stop.cancelled().await })
    .await
}

#[cfg(test)]
mod tests;
