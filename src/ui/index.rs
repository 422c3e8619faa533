//! The read path's listing of the shown jobs' archives, kept for a short while: every page
//! needs it, and listing a bucket and reading each manifest on every click would make the
//! viewer slow on a large archive. The listing's sources are the viewer's jobs, in order, so a
//! listed archive's `source` is its job's index.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use super::Shown;
use crate::archive::reading::{Listing, Source};

/// How long a listing is trusted; a run that archives meanwhile shows up after this.
const FRESH_FOR: Duration = Duration::from_secs(30);

pub struct Index {
    sources: Vec<Source>,
    held: Mutex<Option<(Instant, Arc<Listing>)>>,
}

impl Index {
    pub fn new(jobs: &[Shown]) -> Index {
        Index {
            sources: jobs
                .iter()
                .map(|shown| Source {
                    job: Some(shown.job.name.clone()),
                    store: shown.store.clone(),
                })
                .collect(),
            held: Mutex::new(None),
        }
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
        let listing = Arc::new(Listing::list(&self.sources).await);
        *held = Some((Instant::now(), listing.clone()));
        listing
    }
}
