//! The read path's listing of the shown jobs' archives, kept for a short while: every page
//! needs it, and listing a bucket and reading each manifest on every click would make the
//! viewer slow on a large archive. The listing's sources are the viewer's jobs, in order, so a
//! listed archive's `source` is its job's index.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::Shown;
use super::media::Media;
use crate::archive::manifest::Manifest;
use crate::archive::reading::{Listed, Listing, Source};
use crate::signing::Keyring;

/// How long a listing is trusted; a run that archives meanwhile shows up after this.
const FRESH_FOR: Duration = Duration::from_secs(30);

pub struct Index {
    sources: Vec<Source>,
    /// The public keys a replacement must be signed with to take its original's place.
    keys: Keyring,
    held: Mutex<Option<(Instant, Arc<Listing>)>>,
    /// The media records of the listing held, read the first time a page asks for them.
    media: Mutex<Option<(Arc<Listing>, Arc<Media>)>>,
}

impl Index {
    pub fn new(jobs: &[Shown]) -> Index {
        Index {
            sources: jobs
                .iter()
                .map(|shown| Source::of_job(&shown.job, shown.store.clone()))
                .collect(),
            keys: Keyring::default(),
            held: Mutex::new(None),
            media: Mutex::new(None),
        }
    }

    /// The index, taking only the replacements `keys` vouch for ([`Listing::newest`]).
    pub fn with_keys(mut self, keys: Keyring) -> Index {
        self.keys = keys;
        self
    }

    /// The listing, read again when older than [`FRESH_FOR`]. Requests arriving meanwhile wait
    /// for the one reading instead of listing the stores again.
    pub async fn listing(&self) -> Arc<Listing> {
        let mut held = self.held.lock().await;
        if let Some((at, listing)) = held.as_ref()
            && at.elapsed() < FRESH_FOR
        {
            return listing.clone();
        }
        let listing = Arc::new(Listing::newest(&self.sources, &self.keys).await);
        *held = Some((Instant::now(), listing.clone()));
        listing
    }

    /// What the media records of `listing`'s archives say, read once per listing.
    pub async fn media(&self, listing: &Arc<Listing>) -> Arc<Media> {
        let mut held = self.media.lock().await;
        if let Some((of, media)) = held.as_ref()
            && Arc::ptr_eq(of, listing)
        {
            return media.clone();
        }
        let media = Arc::new(Media::load(listing, self.sources.len()).await);
        *held = Some((listing.clone(), media.clone()));
        media
    }
}

/// What the viewer's pages ask of a listing beyond reading: a job's archives in the order of
/// the time they hold, and which of them lost their archive object.
pub trait JobArchives {
    /// The archive of job `job` at `key`.
    fn archive(&self, job: usize, key: &str) -> Option<&Listed>;
    /// A job's archives by the time they hold, the newest window (or snapshot) first, the
    /// batches of a window in order.
    fn by_window(&self, job: usize) -> Vec<&Listed>;
    /// Whether the store at `url` was listed (its LIST did not fail).
    fn listed(&self, url: &str) -> bool;
    /// The keys of a job's manifests whose archive object is gone.
    fn gone(&self, job: usize) -> HashSet<&str>;
}

impl JobArchives for Listing {
    fn archive(&self, job: usize, key: &str) -> Option<&Listed> {
        self.archives
            .iter()
            .find(|a| a.source == job && a.manifest.key == key)
    }

    fn by_window(&self, job: usize) -> Vec<&Listed> {
        let mut list: Vec<&Listed> = self.archives.iter().filter(|a| a.source == job).collect();
        list.sort_by(|a, b| {
            let (a, b) = (&a.manifest, &b.manifest);
            (held_from(b), b.window_until)
                .cmp(&(held_from(a), a.window_until))
                .then(a.batch.cmp(&b.batch))
                .then(a.key.cmp(&b.key))
        });
        list
    }

    fn listed(&self, url: &str) -> bool {
        !self.problems.iter().any(|p| p.key == url)
    }

    fn gone(&self, job: usize) -> HashSet<&str> {
        self.archives
            .iter()
            .filter(|a| a.source == job && !a.present)
            .map(|a| a.manifest.key.as_str())
            .collect()
    }
}

/// Where the time an archive holds begins: its window, or the moment of its users snapshot.
fn held_from(m: &Manifest) -> DateTime<Utc> {
    m.window_since.or(m.snapshot_at).unwrap_or(m.tick)
}
