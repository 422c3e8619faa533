//! A local emulator of Stream Chat's server-side export API, for chatvault's tests, demos and
//! benchmarks.
//!
//! It serves the legacy routes the server SDKs call (`POST /export_channels`,
//! `GET /export_channels/{id}`, `POST /export/users`, `GET /tasks/{id}`, `POST /channels`,
//! `GET /rate_limits`), checks the API key and HS256 tokens as Stream does, rate-limits per
//! endpoint, runs export tasks through `waiting → pending → running → completed` on its own
//! clock, and serves the export files behind S3-style presigned URLs, generated on the fly from a
//! seeded data set. Opt-in media attachments and avatars link to its own CDN (`GET /cdn/…`,
//! signed, expiring links), which `GET /messages/{id}` and `GET /users` sign afresh. See the crate
//! README for the wire details and every assumption.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use chatvault_emulator::{Emulator, EmulatorConfig};
//!
//! let emulator = Emulator::start(EmulatorConfig::default()).await?;
//! let token = emulator.sign_server_token();
//! // ... point the client at emulator.base_url() with emulator.api_key() and the token ...
//! emulator.clock().advance(chrono::Duration::minutes(1)); // tasks complete
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```

mod auth;
mod cdn;
mod cdn_file;
mod cdn_link;
mod clock;
mod config;
mod control;
mod data;
mod download;
mod endpoint;
mod error;
mod export_api;
mod export_file;
mod faults;
pub mod gcs;
mod inspect;
mod limits;
mod log;
mod media;
mod media_truth;
mod objects;
mod query_channels;
mod refresh;
mod rng;
mod routes;
mod serving;
mod signed_url;
mod state;
mod tasks;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::json;
use tokio::net::TcpListener;

use crate::serving::Serving;

pub use crate::cdn_file::MediaKind;
pub use crate::clock::{ClockMode, EmulatorClock};
pub use crate::config::{DataSpec, EmulatorConfig, RateLimits, TaskDurations, UnknownUsers};
pub use crate::data::{BIDI_NAMES, HOSTILE_TEXTS};
pub use crate::endpoint::Endpoint;
pub use crate::faults::Faults;
pub use crate::inspect::{ChannelInfo, GroundTruthOptions, TruthMessage};
pub use crate::log::LoggedRequest;
pub use crate::media_truth::{MediaOwner, MediaRef};
pub use crate::tasks::{
    ChannelSelection, ExportOptions, ExportVersion, TaskInfo, TaskKind, TaskStatus,
};

use crate::state::Shared;

/// A running emulator, listening on loopback. Dropping it stops the server at once;
/// [`Emulator::shutdown`] lets open requests finish first.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    serving: Serving,
}

impl Emulator {
    /// Starts an emulator on `127.0.0.1` and a free port.
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        Self::start_on_port(config, 0).await
    }

    /// Starts an emulator on `127.0.0.1:port` (0 picks a free port).
    pub async fn start_on_port(config: EmulatorConfig, port: u16) -> std::io::Result<Emulator> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, port)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(config, format!("http://{addr}")));
        let app = routes::router(Arc::clone(&shared));
        Ok(Emulator {
            shared,
            addr,
            serving: Serving::start(listener, app),
        })
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The app's API key.
    pub fn api_key(&self) -> &str {
        &self.shared.config.api_key
    }

    /// The configuration the emulator was started with.
    pub fn config(&self) -> &EmulatorConfig {
        &self.shared.config
    }

    /// The emulator's clock: everything time-based reads it.
    pub fn clock(&self) -> &EmulatorClock {
        &self.shared.clock
    }

    /// The fault switches.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// Every request answered so far (at most the latest 100,000), oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.entries()
    }

    /// Every request answered so far, emptying the log in the same step: a long run counts
    /// its requests in pieces this way without losing one to the log's capacity or between a
    /// read and a clear.
    pub fn take_requests(&self) -> Vec<LoggedRequest> {
        self.shared.log.take()
    }

    /// Empties the request log.
    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// Every task created so far, with its state at the current emulator time.
    pub fn tasks(&self) -> Vec<TaskInfo> {
        inspect::tasks(&self.shared)
    }

    /// The channels of the seeded data set.
    pub fn channels(&self) -> Vec<ChannelInfo> {
        inspect::channels(&self.shared)
    }

    /// The IDs of the messages that an export of `cid` over `[since, until)` taken at
    /// `options.as_of` holds (with the same flags), oldest first: exactly the message IDs of
    /// the export file. Empty for an unknown channel.
    pub fn ground_truth(
        &self,
        cid: &str,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        options: GroundTruthOptions,
    ) -> Vec<String> {
        inspect::ground_truth(&self.shared, cid, since, until, options)
    }

    /// The messages [`Emulator::ground_truth`] lists, with what a viewer of the archive should
    /// show of each: author, text, thread parent, time, deletion.
    pub fn messages(
        &self,
        cid: &str,
        since: Option<DateTime<Utc>>,
        until: Option<DateTime<Utc>>,
        options: GroundTruthOptions,
    ) -> Vec<TruthMessage> {
        inspect::messages(&self.shared, cid, since, until, options)
    }

    /// Every media reference of the data set (messages posted by now, users' avatars, channels'
    /// images) with the file behind it: size, SHA-256, kind, and whether it is foreign,
    /// deleted or the large one.
    pub fn media_truth(&self) -> Vec<MediaRef> {
        media_truth::media_truth(&self.shared)
    }

    /// The bytes of the CDN file at `path` (as [`MediaRef::path`] gives it), whether or not it
    /// was deleted; `None` for a path that names no file.
    pub fn cdn_file_bytes(&self, path: &str) -> Option<Vec<u8>> {
        cdn_file::CdnFile::at(self.shared.config.data.seed, path).map(|f| f.bytes())
    }

    /// Deletes the CDN file at `path`: from now on it answers 404.
    pub fn delete_cdn_file(&self, path: &str) {
        self.shared.delete_cdn_file(path);
    }

    /// Makes the CDN answer a valid link to `path` with `302 Found` and `Location: location`
    /// (another CDN link, or a host a client must refuse).
    pub fn redirect_cdn_file(&self, path: &str, location: &str) {
        self.shared.redirect_cdn_file(path, location);
    }

    /// The path of the file the data set's CDN has deleted from the start (with `media_every`
    /// on and no `media_distinct`).
    pub fn deleted_cdn_path(&self) -> Option<String> {
        self.shared.data.media.deleted_path()
    }

    /// Where the media links point: `cdn_base`, or `http://localhost:PORT`.
    pub fn cdn_base(&self) -> &str {
        &self.shared.data.cdn.base
    }

    /// A link to the CDN file at `path`, signed to expire at `expires` (a test can make one
    /// already expired).
    pub fn cdn_link(&self, path: &str, expires: DateTime<Utc>) -> String {
        self.shared.data.cdn.link(path, expires.timestamp())
    }

    /// A user token (`{"user_id": …}`) signed with the app's secret.
    pub fn sign_user_token(&self, user_id: &str) -> String {
        auth::sign(
            &json!({ "user_id": user_id }),
            &self.shared.config.api_secret,
        )
    }

    /// A server token (`{"server": true}`) signed with the app's secret.
    pub fn sign_server_token(&self) -> String {
        auth::sign(&json!({ "server": true }), &self.shared.config.api_secret)
    }

    /// Stops accepting connections, lets open requests finish (up to two seconds), then stops.
    pub async fn shutdown(self) {
        self.serving.shutdown().await;
    }
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Leaves out the configuration: it holds the API secret.
        f.debug_struct("Emulator")
            .field("base_url", &self.base_url())
            .finish_non_exhaustive()
    }
}
