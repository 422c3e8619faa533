//! The state shared by the server's handlers and the test-facing handle.

use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use crate::cdn_file::{CdnFile, MediaKind};
use crate::cdn_link::Cdn;
use crate::clock::EmulatorClock;
use crate::config::EmulatorConfig;
use crate::data::DataSet;
use crate::faults::Faults;
use crate::limits::RateLimiter;
use crate::log::RequestLog;
use crate::signed_url::UrlSigner;
use crate::tasks::TaskStore;

pub(crate) struct Shared {
    pub config: EmulatorConfig,
    /// `http://127.0.0.1:PORT`, for the download URLs.
    pub base_url: String,
    pub clock: EmulatorClock,
    pub data: DataSet,
    pub tasks: TaskStore,
    pub limiter: RateLimiter,
    pub faults: Faults,
    pub log: RequestLog,
    pub signer: UrlSigner,
    /// CDN paths deleted: they answer 404.
    deleted: Mutex<HashSet<String>>,
    /// CDN paths that answer 302 to another location.
    redirects: Mutex<HashMap<String, String>>,
    /// The kind, size and SHA-256 of every file the media ground truth has hashed (a path's
    /// bytes never change).
    digests: Mutex<HashMap<String, (MediaKind, u64, String)>>,
}

impl Shared {
    pub fn new(config: EmulatorConfig, base_url: String) -> Self {
        let seed = config.data.seed;
        let cdn_base = config
            .cdn_base
            .clone()
            .unwrap_or_else(|| base_url.replacen("://127.0.0.1", "://localhost", 1));
        let cdn = Cdn::new(
            seed,
            cdn_base,
            config.link_lifetime,
            config.foreign_base.clone(),
            config.start_time,
        );
        let data = DataSet::new(&config.data, config.start_time).with_cdn(cdn);
        let deleted = data.media.deleted_path().into_iter().collect();
        Self {
            base_url,
            clock: EmulatorClock::new(config.clock, config.start_time),
            data,
            tasks: TaskStore::new(seed),
            limiter: RateLimiter::new(config.limits),
            faults: Faults::new(seed),
            log: RequestLog::default(),
            signer: UrlSigner::new(&config.api_secret),
            deleted: Mutex::new(deleted),
            digests: Mutex::new(HashMap::new()),
            redirects: Mutex::new(HashMap::new()),
            config,
        }
    }

    /// Deletes a file from the CDN.
    pub fn delete_cdn_file(&self, path: &str) {
        self.deleted_paths()
            .insert(path.trim_start_matches('/').to_owned());
    }

    /// Whether a CDN file was deleted.
    pub fn cdn_file_deleted(&self, path: &str) -> bool {
        self.deleted_paths().contains(path)
    }

    /// Makes the CDN answer requests for `path` (with a valid link) with a redirect to
    /// `location`.
    pub fn redirect_cdn_file(&self, path: &str, location: &str) {
        self.redirects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(path.trim_start_matches('/').to_owned(), location.to_owned());
    }

    /// Where a CDN path redirects to, if it does.
    pub fn cdn_redirect(&self, path: &str) -> Option<String> {
        self.redirects
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(path)
            .cloned()
    }

    /// The kind, size and SHA-256 of the file at `path`, hashed once.
    pub fn digest(&self, path: &str) -> Option<(MediaKind, u64, String)> {
        if let Some(known) = self.lock_digests().get(path) {
            return Some(known.clone());
        }
        let file = CdnFile::at(self.config.data.seed, path)?;
        let digest = (file.kind, file.size, file.sha256());
        self.lock_digests().insert(path.to_owned(), digest.clone());
        Some(digest)
    }

    fn lock_digests(&self) -> MutexGuard<'_, HashMap<String, (MediaKind, u64, String)>> {
        self.digests.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn deleted_paths(&self) -> MutexGuard<'_, HashSet<String>> {
        self.deleted.lock().unwrap_or_else(|e| e.into_inner())
    }
}
