//! What the viewer knows of captured files: the newest media record of every shown archive,
//! read once per listing (the listing is kept 30 seconds, see `index`), per job so a job's page
//! can say what it has outstanding, and by SHA-256 so `/media/<sha256>` serves only a file a
//! record of a shown archive names as stored.

use std::collections::HashMap;

use crate::archive::reading::media::{Found, MediaIndex};
use crate::archive::reading::{Listed, Listing, Problem};

#[derive(Default)]
pub struct Media {
    /// Per shown job, in the viewer's order.
    jobs: Vec<MediaIndex>,
    by_sha256: HashMap<String, Found>,
}

impl Media {
    /// Reads the newest media record of each archive in `listing` (one GET each).
    pub async fn load(listing: &Listing, jobs: usize) -> Media {
        let mut indexes = Vec::with_capacity(jobs);
        for job in 0..jobs {
            let archives: Vec<&Listed> = listing
                .archives
                .iter()
                .filter(|a| a.source == job)
                .collect();
            indexes.push(MediaIndex::load(listing, archives).await);
        }
        let mut by_sha256 = HashMap::new();
        for found in indexes.iter().flat_map(MediaIndex::found) {
            if let Some(stored) = found.reference.outcome.stored() {
                by_sha256
                    .entry(stored.sha256.clone())
                    .or_insert_with(|| found.clone());
            }
        }
        Media {
            jobs: indexes,
            by_sha256,
        }
    }

    /// What a record says of the file `url` links to (signed or not); a stored outcome in one
    /// job's records wins over another's failure.
    pub fn lookup(&self, url: &str) -> Option<&Found> {
        let mut found = self.jobs.iter().filter_map(|index| index.lookup(url));
        let first = found.next()?;
        if first.reference.outcome.stored().is_some() {
            return Some(first);
        }
        Some(
            found
                .find(|f| f.reference.outcome.stored().is_some())
                .unwrap_or(first),
        )
    }

    /// A stored file by its SHA-256, when a record of a shown archive names it.
    pub fn stored(&self, sha256: &str) -> Option<&Found> {
        self.by_sha256.get(sha256)
    }

    /// References of job `job`'s archives not captured yet, that a later run retries.
    pub fn outstanding(&self, job: usize) -> usize {
        self.jobs.get(job).map_or(0, MediaIndex::outstanding)
    }

    /// Media records that could not be read.
    pub fn problems(&self) -> impl Iterator<Item = &Problem> {
        self.jobs.iter().flat_map(|index| &index.problems)
    }
}
