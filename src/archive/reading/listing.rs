//! One listing of where archives are: per store one LIST, every manifest read (those that
//! cannot be read become problems), each kept for the source whose job it belongs to, a
//! format 1 manifest's catalog record read in when the LIST shows one, and the set of objects
//! present, so a caller can tell a manifest whose archive is gone without listing again.
//! Stores that several sources share (jobs with one destination) are listed once.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use futures::{StreamExt, TryStreamExt};

use super::problem::Problem;
use crate::archive::catalog::{self, CATALOG_SUFFIX, catalog_key};
use crate::archive::manifest::{self, MANIFEST_SUFFIX, Manifest};
use crate::archive::media::record::parse_record_key;
use crate::query::Query;
use crate::store::Store;

/// Manifests read at once.
const MANIFESTS_AT_ONCE: usize = 16;

/// Where to read: a store, and the job whose archives count (all when `None`).
#[derive(Debug, Clone)]
pub struct Source {
    pub job: Option<String>,
    pub store: Store,
}

/// A store as one LIST saw it.
#[derive(Debug)]
pub struct Location {
    pub store: Store,
    /// Every object key listed.
    objects: BTreeSet<String>,
    /// The archive keys the readable manifests name, whatever their job.
    named: BTreeSet<String>,
    /// Whether the LIST itself failed (then it is a problem, not an empty location).
    failed: bool,
}

impl Location {
    /// Objects no manifest names (unfinished or foreign files); a catalog record and a media
    /// record belong to the archive they name, like a manifest.
    pub fn extra(&self) -> impl Iterator<Item = &String> {
        let sidecar = |k: &str| {
            k.strip_suffix(CATALOG_SUFFIX)
                .or_else(|| parse_record_key(k).map(|(archive, _)| archive))
                .is_some_and(|archive| self.named.contains(archive))
        };
        self.objects.iter().filter(move |k| {
            !k.ends_with(MANIFEST_SUFFIX) && !self.named.contains(*k) && !sidecar(k)
        })
    }

    /// The key of an archive's newest media record (the highest attempt), as the LIST saw it.
    pub fn newest_media_record(&self, archive_key: &str) -> Option<&str> {
        let start = format!("{archive_key}.media.");
        self.objects
            .range::<str, _>((
                std::ops::Bound::Included(start.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(|k| k.starts_with(&start))
            .filter_map(|k| {
                parse_record_key(k)
                    .filter(|(a, _)| *a == archive_key)
                    .map(|(_, n)| (n, k))
            })
            .max()
            .map(|(_, k)| k.as_str())
    }

    fn manifests(&self) -> usize {
        self.objects
            .iter()
            .filter(|k| k.ends_with(MANIFEST_SUFFIX))
            .count()
    }
}

/// An archive a source holds.
#[derive(Debug, Clone)]
pub struct Listed {
    /// Index into the sources listed.
    pub source: usize,
    /// Index into [`Listing::locations`].
    pub location: usize,
    /// With `contents` filled in from a catalog record, for a format 1 manifest.
    pub manifest: Manifest,
    /// Whether `contents` came from a catalog record.
    pub cataloged: bool,
    /// Whether the LIST that found the manifest found the archive object too: a manifest
    /// whose archive was deleted is known without another request.
    pub present: bool,
}

#[derive(Debug, Default)]
pub struct Listing {
    /// Ordered by source, then key.
    pub archives: Vec<Listed>,
    /// Stores that could not be listed, manifests that could not be read.
    pub problems: Vec<Problem>,
    pub locations: Vec<Location>,
    /// Per source, its location.
    of_source: Vec<usize>,
    /// Per source, its job filter.
    jobs: Vec<Option<String>>,
}

/// Sources that hold no archive: each with its URL, what was listed, and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct NoArchives {
    pub sentences: Vec<String>,
}

impl fmt::Display for NoArchives {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sentences.join("; "))
    }
}

impl Listing {
    /// Lists every source's store once and reads what it holds.
    pub async fn list(sources: &[Source]) -> Listing {
        let mut listing = Listing::default();
        let mut by_url: BTreeMap<&str, usize> = BTreeMap::new();
        for source in sources {
            let url = source.store.url();
            let at = match by_url.get(url) {
                Some(&at) => at,
                None => {
                    let at = listing.locations.len();
                    by_url.insert(url, at);
                    listing.locations.push(Location {
                        store: source.store.clone(),
                        objects: BTreeSet::new(),
                        named: BTreeSet::new(),
                        failed: false,
                    });
                    at
                }
            };
            listing.of_source.push(at);
            listing.jobs.push(source.job.clone());
        }
        for at in 0..listing.locations.len() {
            listing.list_location(at).await;
        }
        listing
            .archives
            .sort_by(|a, b| (a.source, &a.manifest.key).cmp(&(b.source, &b.manifest.key)));
        listing.problems.sort();
        listing
    }

    async fn list_location(&mut self, at: usize) {
        let store = self.locations[at].store.clone();
        let objects: Result<BTreeSet<String>, _> = store
            .object_store()
            .list(None)
            .map_ok(|meta| meta.location.to_string())
            .try_collect()
            .await;
        let objects = match objects {
            Ok(objects) => objects,
            Err(e) => {
                self.locations[at].failed = true;
                self.problems.push(Problem::new(
                    store.url(),
                    format!("cannot list {}: {e}", store.url()),
                ));
                return;
            }
        };
        let keys: Vec<String> = objects
            .iter()
            .filter(|k| k.ends_with(MANIFEST_SUFFIX))
            .cloned()
            .collect();
        let read: Vec<(String, _)> = futures::stream::iter(keys)
            .map(|key| {
                let store = store.clone();
                async move {
                    let got = manifest::read_at(&store, &key).await;
                    (key, got)
                }
            })
            .buffered(MANIFESTS_AT_ONCE)
            .collect()
            .await;
        let sources: Vec<usize> = (0..self.of_source.len())
            .filter(|&s| self.of_source[s] == at)
            .collect();
        for (key, got) in read {
            let mut manifest = match got {
                Ok(Some(m)) => m,
                Ok(None) => continue,
                Err(e) => {
                    self.problems.push(Problem::manifest(&key, &e));
                    continue;
                }
            };
            self.locations[at].named.insert(manifest.key.clone());
            let Some(&source) = sources
                .iter()
                .find(|&&s| self.jobs[s].as_ref().is_none_or(|job| *job == manifest.job))
            else {
                continue;
            };
            let mut cataloged = false;
            if manifest.contents.is_none() && objects.contains(&catalog_key(&manifest.key)) {
                manifest.contents = catalog::read(&store, &manifest).await;
                cataloged = manifest.contents.is_some();
            }
            let present = objects.contains(&manifest.key);
            self.archives.push(Listed {
                source,
                location: at,
                manifest,
                cataloged,
                present,
            });
        }
        self.locations[at].objects = objects;
    }

    /// The store an archive is read from.
    pub fn store(&self, listed: &Listed) -> &Store {
        &self.locations[listed.location].store
    }

    /// The key of an archive's newest media record, if it has one.
    pub fn media_record(&self, listed: &Listed) -> Option<&str> {
        self.locations[listed.location].newest_media_record(&listed.manifest.key)
    }

    /// Every archive with its store.
    pub fn with_stores(&self) -> impl Iterator<Item = (&Store, &Manifest)> {
        self.archives.iter().map(|a| (self.store(a), &a.manifest))
    }

    /// The archives of one source.
    pub fn of_source(&self, source: usize) -> impl Iterator<Item = &Manifest> {
        self.archives
            .iter()
            .filter(move |a| a.source == source)
            .map(|a| &a.manifest)
    }

    /// The archive of one source at `key`.
    pub fn find(&self, source: usize, key: &str) -> Option<&Manifest> {
        self.of_source(source).find(|m| m.key == key)
    }

    /// Hints for the `from:`/`in:` ids of `query` that no archive holds but one holds in
    /// another case. The held ids are gathered only for a query that names ids.
    pub fn case_hints(&self, query: &Query) -> Vec<String> {
        if query.from.is_empty() && query.channels.is_empty() {
            return Vec::new();
        }
        let (users, channels) = self.held_ids();
        query.case_hints(&users, &channels)
    }

    /// The user ids and cids the listed archives' counts (or catalog records) name.
    fn held_ids(&self) -> (BTreeSet<String>, BTreeSet<String>) {
        let mut users = BTreeSet::new();
        let mut channels = BTreeSet::new();
        for contents in self
            .archives
            .iter()
            .filter_map(|a| a.manifest.contents.as_ref())
        {
            users.extend(contents.users.keys().cloned());
            channels.extend(contents.channels.keys().cloned());
        }
        (users, channels)
    }

    /// Whether any listed archive may hold messages of channel `cid`, by its counts; an
    /// archive without counts (format 1, not indexed) by the channels its manifest names.
    pub fn holds_channel(&self, cid: &str) -> bool {
        self.archives.iter().any(|a| holds(&a.manifest, cid))
    }

    /// The sources that hold no archive, said with the URL and what was listed; `None` when
    /// every source holds one. A store that could not be listed is a problem instead.
    pub fn empty_sources(&self) -> Option<NoArchives> {
        let mut sentences = Vec::new();
        for (source, &at) in self.of_source.iter().enumerate() {
            let location = &self.locations[at];
            if location.failed || self.archives.iter().any(|a| a.source == source) {
                continue;
            }
            let store = &location.store;
            let found = match (location.objects.len(), location.manifests()) {
                (0, _) => "nothing is there".to_owned(),
                (n, 0) => format!("{n} object(s), no manifest among them"),
                (_, m) => match &self.jobs[source] {
                    Some(job) => format!("{m} manifest(s), none of job {job}"),
                    None => format!("{m} manifest(s), none readable"),
                },
            };
            sentences.push(format!(
                "no archives at {} (listed {}: {found})",
                store.url(),
                store.root()
            ));
        }
        sentences.dedup();
        (!sentences.is_empty()).then_some(NoArchives { sentences })
    }

    /// When no source holds an archive, what was listed and found; `None` when any does.
    pub fn nothing(&self) -> Option<NoArchives> {
        if !self.archives.is_empty() {
            return None;
        }
        self.empty_sources()
    }
}

/// Whether the archive of `manifest` may hold messages of channel `cid`.
pub fn holds(manifest: &Manifest, cid: &str) -> bool {
    match &manifest.contents {
        Some(contents) => contents.channels.get(cid).is_some_and(|c| c.messages > 0),
        None => {
            manifest.kind == "channels"
                && (manifest.channels.is_empty() || manifest.channels.iter().any(|c| c == cid))
        }
    }
}

#[cfg(test)]
mod tests {
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStoreExt as _, PutPayload};

    use super::*;

    fn manifest(job: &str, key: &str) -> serde_json::Value {
        serde_json::json!({
            "format": 2, "job": job, "tick": "2026-03-01T00:00:00Z", "kind": "channels",
            "batch": 1, "task_id": "t", "export_version": "v2", "key": key,
            "bytes_source": 1, "bytes_stored": 1, "sha256": "00",
            "content_encoding": "none", "archived_at": "2026-03-01T00:00:00Z",
            "chatvault_version": "0"
        })
    }

    async fn put(store: &Store, key: &str, body: &[u8]) {
        store
            .object_store()
            .put(&ObjectPath::from(key), PutPayload::from(body.to_vec()))
            .await
            .expect("a put");
    }

    #[tokio::test]
    async fn one_list_gives_each_job_its_archives_and_says_which_objects_are_gone() {
        let store = Store::memory();
        for (job, key) in [("a", "a/1.jsonl"), ("a", "a/2.jsonl"), ("b", "b/1.jsonl")] {
            let m = serde_json::to_vec(&manifest(job, key)).expect("json");
            put(&store, &format!("{key}{MANIFEST_SUFFIX}"), &m).await;
        }
        put(&store, "a/1.jsonl", b"x").await;
        put(&store, "b/1.jsonl", b"x").await;
        put(&store, "stray.tmp", b"x").await;
        put(&store, &format!("broken{MANIFEST_SUFFIX}"), b"{").await;
        let sources = [
            Source {
                job: Some("a".into()),
                store: store.clone(),
            },
            Source {
                job: Some("c".into()),
                store: store.clone(),
            },
        ];
        let listing = Listing::list(&sources).await;
        assert_eq!(listing.locations.len(), 1, "one LIST for a shared store");
        let keys: Vec<(&str, bool)> = listing
            .archives
            .iter()
            .map(|a| (a.manifest.key.as_str(), a.present))
            .collect();
        assert_eq!(keys, [("a/1.jsonl", true), ("a/2.jsonl", false)]);
        assert_eq!(listing.problems.len(), 1, "{:?}", listing.problems);
        assert!(
            listing.problems[0]
                .problem
                .starts_with("not a chatvault manifest")
        );
        let extra: Vec<&String> = listing.locations[0].extra().collect();
        assert_eq!(extra, ["stray.tmp"]);
        let empty = listing.empty_sources().expect("job c holds nothing");
        assert_eq!(
            empty.to_string(),
            "no archives at memory:// (listed the whole store: 4 manifest(s), none of job c)"
        );
        assert_eq!(listing.nothing(), None, "job a holds archives");
    }

    #[tokio::test]
    async fn an_empty_location_says_what_was_listed() {
        let store = Store::memory();
        let listing = Listing::list(&[Source { job: None, store }]).await;
        let nothing = listing.nothing().expect("nothing there");
        assert_eq!(
            nothing.to_string(),
            "no archives at memory:// (listed the whole store: nothing is there)"
        );
    }
}
