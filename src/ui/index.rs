//! The archives' manifests, listed once and kept for a short while: every page needs them, and
//! listing a bucket and reading each manifest on every click would make the viewer slow on a
//! large archive. Jobs that share a destination share one listing.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio::sync::Mutex;

use super::Shown;
use crate::archive::catalog;
use crate::archive::manifest::Manifest;
use crate::archive::read::list;
use crate::store::Store;

/// How long a listing is trusted; a run that archives meanwhile shows up after this.
const FRESH_FOR: Duration = Duration::from_secs(30);

/// An archive of one of the shown jobs.
#[derive(Debug, Clone)]
pub struct Archived {
    /// Index into the viewer's jobs.
    pub job: usize,
    pub manifest: Manifest,
    /// Whether the LIST that found the manifest found the archive object too. A manifest
    /// without its archive is an archive lost: the calendar must not count its days.
    pub present: bool,
}

/// The archives at one moment, and what could not be read.
#[derive(Debug, Default)]
pub struct Listing {
    pub archives: Vec<Archived>,
    /// `(where, what is wrong)`: a store that cannot be listed, a manifest that cannot be read.
    pub problems: Vec<(String, String)>,
}

impl Listing {
    pub fn of_job(&self, job: usize) -> impl Iterator<Item = &Manifest> {
        self.archives
            .iter()
            .filter(move |a| a.job == job)
            .map(|a| &a.manifest)
    }

    pub fn find(&self, job: usize, key: &str) -> Option<&Archived> {
        self.archives
            .iter()
            .find(|a| a.job == job && a.manifest.key == key)
    }

    /// A job's archives by the time they hold, the newest window (or snapshot) first, the
    /// batches of a window in order.
    pub fn by_window(&self, job: usize) -> Vec<&Archived> {
        let mut list: Vec<&Archived> = self.archives.iter().filter(|a| a.job == job).collect();
        list.sort_by(|a, b| {
            let (a, b) = (&a.manifest, &b.manifest);
            (held_from(b), b.window_until)
                .cmp(&(held_from(a), a.window_until))
                .then(a.batch.cmp(&b.batch))
                .then(a.key.cmp(&b.key))
        });
        list
    }

    /// Whether the store at `url` was listed (its LIST did not fail).
    pub fn listed(&self, url: &str) -> bool {
        !self.problems.iter().any(|(at, _)| at == url)
    }

    /// The keys of a job's manifests whose archive object is gone.
    pub fn gone(&self, job: usize) -> HashSet<&str> {
        self.archives
            .iter()
            .filter(|a| a.job == job && !a.present)
            .map(|a| a.manifest.key.as_str())
            .collect()
    }
}

/// Where the time an archive holds begins: its window, or the moment of its users snapshot.
fn held_from(m: &Manifest) -> DateTime<Utc> {
    m.window_since.or(m.snapshot_at).unwrap_or(m.tick)
}

pub struct Index {
    jobs: Arc<[Shown]>,
    held: Mutex<Option<(Instant, Arc<Listing>)>>,
}

impl Index {
    pub fn new(jobs: Arc<[Shown]>) -> Index {
        Index {
            jobs,
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
        let listing = Arc::new(self.read().await);
        *held = Some((Instant::now(), listing.clone()));
        listing
    }

    async fn read(&self) -> Listing {
        let mut by_store: BTreeMap<&str, (&Store, Vec<usize>)> = BTreeMap::new();
        for (i, shown) in self.jobs.iter().enumerate() {
            by_store
                .entry(shown.store.url())
                .or_insert_with(|| (&shown.store, Vec::new()))
                .1
                .push(i);
        }
        let mut listing = Listing::default();
        for (url, (store, jobs)) in by_store {
            match list(store).await {
                Ok(listed) => {
                    listing.problems.extend(listed.problems);
                    for mut manifest in listed.manifests {
                        let Some(&job) = jobs
                            .iter()
                            .find(|&&j| self.jobs[j].job.name == manifest.job)
                        else {
                            continue;
                        };
                        if manifest.contents.is_none() {
                            manifest.contents = catalog::read(store, &manifest).await;
                        }
                        let present = listed.objects.contains(&manifest.key);
                        listing.archives.push(Archived {
                            job,
                            manifest,
                            present,
                        });
                    }
                }
                Err(problem) => listing.problems.push((url.to_owned(), problem)),
            }
        }
        listing
            .archives
            .sort_by(|a, b| (a.job, &a.manifest.key).cmp(&(b.job, &b.manifest.key)));
        listing
    }
}
