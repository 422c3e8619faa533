//! One listing of where archives are: per store one walk, every manifest read (those that
//! cannot be read become problems), each kept for the source whose job it belongs to, a
//! format 1 manifest's catalog record read in when the LIST shows one, and the set of objects
//! present, so a caller can tell a manifest whose archive is gone without listing again.
//! Stores that several sources share (jobs with one destination) are listed once.
//!
//! The walk never enters captured files (a media prefix may hold far more objects than there
//! are archives) nor any top-level folder whose name starts with `_` (chatvault's own
//! folders; key templates cannot start with `_`): one LIST of the top level with a delimiter,
//! then one LIST of each other top-level folder.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;

use super::problem::Problem;
use crate::archive::catalog::{self, CATALOG_SUFFIX, catalog_key};
use crate::archive::manifest::{MANIFEST_SUFFIX, Manifest, ManifestError};
use crate::archive::media::record::parse_record_key;
use crate::archive::replacement::parse_replacement_key;
use crate::config::job::{DEFAULT_MEDIA_PREFIX, Job};
use crate::query::Query;
use crate::signing::{self, Check, Keyring};
use crate::store::Store;
use crate::store::json;

/// What a reader says of a replacement it left out for its signature.
pub const UNVOUCHED: &str =
    "a replacement whose signature does not hold: not read; `chatvault verify` says more";

/// Manifests read at once.
const MANIFESTS_AT_ONCE: usize = 16;

/// Top-level folders listed at once.
const FOLDERS_AT_ONCE: usize = 4;

/// Where to read: a store, and the job whose archives count (all when `None`).
#[derive(Debug, Clone)]
pub struct Source {
    pub job: Option<String>,
    pub store: Store,
    /// Where the job keeps captured files below the store's root (`media.prefix`); the
    /// listing never walks into it.
    pub media_prefix: String,
}

impl Source {
    /// The archives of every job at `store`, whose captured files are where they are by
    /// default (a prefix starting with `_` is never walked anyway).
    pub fn any_job(store: Store) -> Source {
        Source {
            job: None,
            store,
            media_prefix: DEFAULT_MEDIA_PREFIX.to_owned(),
        }
    }

    /// The archives of `job` at its destination, opened as `store`.
    pub fn of_job(job: &Job, store: Store) -> Source {
        Source {
            job: Some(job.name.clone()),
            store,
            media_prefix: job.media.prefix.clone(),
        }
    }
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
    /// The folders of the media prefixes of the sources here ([`media_folder`]): never walked.
    media_folders: BTreeSet<String>,
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

    /// The documents the LIST saw beside an archive: its catalog record and every attempt
    /// of its media record (what a seal names besides the manifest).
    pub fn sidecars<'a>(&'a self, archive_key: &'a str) -> impl Iterator<Item = &'a str> {
        let catalog = catalog_key(archive_key);
        let catalog = self.objects.get(&catalog).map(String::as_str);
        let start = format!("{archive_key}.media.");
        let records = self
            .objects
            .range::<str, _>((
                std::ops::Bound::Included(start.as_str()),
                std::ops::Bound::Unbounded,
            ))
            .take_while(move |k| k.starts_with(&start))
            .filter(move |k| parse_record_key(k).is_some_and(|(a, _)| a == archive_key))
            .map(String::as_str);
        catalog.into_iter().chain(records)
    }

    /// The newest media record of every archive key the LIST saw records of, whatever the
    /// job: what decides whether a captured file at this location is named by any record.
    pub fn newest_media_records(&self) -> impl Iterator<Item = &str> {
        let mut newest: BTreeMap<&str, (u32, &str)> = BTreeMap::new();
        for key in &self.objects {
            if let Some((archive, n)) = parse_record_key(key) {
                let held = newest.entry(archive).or_insert((n, key));
                if n > held.0 {
                    *held = (n, key);
                }
            }
        }
        newest.into_values().map(|(_, key)| key)
    }

    /// The folders of the media prefixes of the sources that read this location.
    pub fn media_folders(&self) -> impl Iterator<Item = &str> {
        self.media_folders.iter().map(String::as_str)
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
    /// The manifest's bytes as stored: what `verify` hashes and checks the signature of,
    /// without reading the manifest twice.
    pub stored: Bytes,
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
                        media_folders: BTreeSet::new(),
                    });
                    at
                }
            };
            listing.locations[at]
                .media_folders
                .insert(media_folder(&source.media_prefix));
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

    /// Lists `sources` as readers see them: an archive an erasure replaced only by its newest
    /// replacement (search, the viewer, transcripts and the calendar then show each message
    /// once, even while an unfinished erasure has not deleted the original). `verify` and the
    /// writers list everything ([`Listing::list`]).
    ///
    /// A replacement takes an original's place only when the reader can vouch for it: with
    /// public `keys`, a replacement whose manifest's signature is not valid with them is left
    /// out and named as a problem, and the original it claims to supersede stays. Anyone who
    /// can write to the bucket can plant a replacement; only the key holder can sign one.
    /// Without keys nothing can be told apart, and every replacement counts.
    pub async fn newest(sources: &[Source], keys: &Keyring) -> Listing {
        let mut listing = Listing::list(sources).await;
        if !keys.is_empty() {
            listing.drop_unvouched(keys);
        }
        let superseded = listing.superseded();
        let mut at = 0;
        listing.archives.retain(|_| {
            at += 1;
            !superseded[at - 1]
        });
        listing
    }

    /// Leaves out the replacements whose manifest's signature is not valid with `keys`, each
    /// named as a problem.
    fn drop_unvouched(&mut self, keys: &Keyring) {
        let mut unvouched = Vec::new();
        self.archives.retain(|listed| {
            let replacement = listed.manifest.supersedes.is_some()
                || parse_replacement_key(&listed.manifest.key).is_some();
            let vouched =
                !replacement || matches!(signing::check(&listed.stored, keys), Check::Valid { .. });
            if !vouched {
                unvouched.push(Problem::new(&listed.manifest.key, UNVOUCHED));
            }
            vouched
        });
        self.problems.append(&mut unvouched);
        self.problems.sort();
    }

    /// Per listed archive, whether a newer replacement of the same original, with a
    /// manifest, is listed for the same source.
    pub fn superseded(&self) -> Vec<bool> {
        let original = |listed: &Listed| {
            parse_replacement_key(&listed.manifest.key)
                .unwrap_or_else(|| (listed.manifest.key.clone(), 0))
        };
        let mut newest: BTreeMap<(usize, String), u32> = BTreeMap::new();
        for listed in &self.archives {
            let (key, n) = original(listed);
            let held = newest.entry((listed.source, key)).or_insert(n);
            *held = (*held).max(n);
        }
        self.archives
            .iter()
            .map(|listed| {
                let (key, n) = original(listed);
                newest
                    .get(&(listed.source, key))
                    .is_some_and(|&top| top > n)
            })
            .collect()
    }

    async fn list_location(&mut self, at: usize) {
        let store = self.locations[at].store.clone();
        let objects = match walk(&store, &self.locations[at].media_folders).await {
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
                    let got = read_manifest(&store, &key).await;
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
            let (mut manifest, stored) = match got {
                Ok(Some(read)) => read,
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
                stored,
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

/// The manifest stored at `key` (a manifest key from the LIST), with its bytes.
async fn read_manifest(
    store: &Store,
    key: &str,
) -> Result<Option<(Manifest, Bytes)>, ManifestError> {
    let path = ObjectPath::from(key);
    let Some(bytes) =
        json::read_bytes(store, &path)
            .await
            .map_err(|source| ManifestError::Read {
                key: key.to_owned(),
                source,
            })?
    else {
        return Ok(None);
    };
    let manifest = serde_json::from_slice(&bytes).map_err(|source| ManifestError::Invalid {
        key: key.to_owned(),
        source,
    })?;
    Ok(Some((manifest, bytes)))
}

/// The folder below which a media prefix's objects lie (`sha256` for an empty prefix).
pub fn media_folder(prefix: &str) -> String {
    match prefix.trim_matches('/') {
        "" => "sha256".to_owned(),
        trimmed => trimmed.to_owned(),
    }
}

/// Every object key of `store` but those below `skip` or a top-level folder starting with
/// `_`: the top level with a delimiter, then each other top-level folder whole (folders on
/// the way to a nested media prefix with a delimiter too). The seal writer walks the same
/// way, so it seals exactly what the readers see.
pub async fn walk(
    store: &Store,
    skip: &BTreeSet<String>,
) -> object_store::Result<BTreeSet<String>> {
    let objects = store.object_store();
    let mut keys = BTreeSet::new();
    let mut whole = Vec::new();
    let mut pending: Vec<Option<ObjectPath>> = vec![None];
    while let Some(folder) = pending.pop() {
        let listed = objects.list_with_delimiter(folder.as_ref()).await?;
        keys.extend(listed.objects.into_iter().map(|m| m.location.to_string()));
        for common in listed.common_prefixes {
            let name = common.to_string();
            let inside = format!("{name}/");
            if skip.contains(&name) || (folder.is_none() && name.starts_with('_')) {
                continue;
            }
            if skip.iter().any(|s| s.starts_with(&inside)) {
                pending.push(Some(common));
            } else {
                whole.push(common);
            }
        }
    }
    let mut lists = futures::stream::iter(whole)
        .map(|folder| {
            objects
                .list(Some(&folder))
                .map_ok(|meta| meta.location.to_string())
                .try_collect::<Vec<String>>()
        })
        .buffer_unordered(FOLDERS_AT_ONCE);
    while let Some(found) = lists.next().await {
        keys.extend(found?);
    }
    Ok(keys)
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
    use crate::signing::{SigningKey, signed_json};

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
    async fn readers_see_only_the_newest_replacement_of_an_archive_and_verify_sees_all() {
        let store = Store::memory();
        let keys = [
            "a/1.jsonl",
            "a/1.erased-1.jsonl",
            "a/1.erased-2.jsonl",
            "a/2.jsonl",
            "a/3.jsonl",
        ];
        for key in keys {
            let m = serde_json::to_vec(&manifest("a", key)).expect("json");
            put(&store, &format!("{key}{MANIFEST_SUFFIX}"), &m).await;
            put(&store, key, b"x").await;
        }
        put(&store, "a/3.erased-1.jsonl", b"not committed: no manifest").await;
        let sources = [Source::any_job(store.clone())];
        let newest: Vec<String> = Listing::newest(&sources, &Keyring::default())
            .await
            .archives
            .into_iter()
            .map(|a| a.manifest.key)
            .collect();
        assert_eq!(newest, ["a/1.erased-2.jsonl", "a/2.jsonl", "a/3.jsonl"]);
        assert_eq!(Listing::list(&sources).await.archives.len(), keys.len());
    }

    #[tokio::test]
    async fn with_public_keys_readers_take_only_replacements_signed_by_them() {
        let key = SigningKey::generate().expect("a key").0;
        let other = SigningKey::generate().expect("a key").0;
        let store = Store::memory();
        let signed = [
            ("a/1.jsonl", Some(&key)),
            ("a/1.erased-1.jsonl", Some(&key)),
            ("a/2.jsonl", Some(&key)),
            ("a/2.erased-1.jsonl", None),
            ("a/3.jsonl", Some(&key)),
            ("a/3.erased-1.jsonl", Some(&key)),
            ("a/3.erased-2.jsonl", Some(&other)),
        ];
        for (archive, by) in signed {
            let m = signed_json(&manifest("a", archive), by).expect("json");
            put(&store, &format!("{archive}{MANIFEST_SUFFIX}"), &m).await;
            put(&store, archive, b"x").await;
        }
        let sources = [Source::any_job(store.clone())];
        let mut keys = Keyring::default();
        keys.add(key.public().clone());
        let listing = Listing::newest(&sources, &keys).await;
        let shown: Vec<&str> = listing
            .archives
            .iter()
            .map(|a| a.manifest.key.as_str())
            .collect();
        assert_eq!(
            shown,
            ["a/1.erased-1.jsonl", "a/2.jsonl", "a/3.erased-1.jsonl"]
        );
        let problems: Vec<(&str, &str)> = listing
            .problems
            .iter()
            .map(|p| (p.key.as_str(), p.problem.as_str()))
            .collect();
        assert_eq!(
            problems,
            [
                ("a/2.erased-1.jsonl", UNVOUCHED),
                ("a/3.erased-2.jsonl", UNVOUCHED)
            ]
        );
        let trusting = Listing::newest(&sources, &Keyring::default()).await;
        let shown: Vec<&str> = trusting
            .archives
            .iter()
            .map(|a| a.manifest.key.as_str())
            .collect();
        assert_eq!(
            shown,
            [
                "a/1.erased-1.jsonl",
                "a/2.erased-1.jsonl",
                "a/3.erased-2.jsonl"
            ],
            "without keys every replacement counts"
        );
        assert!(trusting.problems.is_empty());
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
        let of = |job: &str| Source {
            job: Some(job.into()),
            ..Source::any_job(store.clone())
        };
        let sources = [of("a"), of("c")];
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
    async fn the_walk_skips_media_prefixes_and_underscore_folders_and_keeps_records_as_sidecars() {
        let store = Store::memory();
        let sha = "ab".repeat(32);
        for (job, key) in [("a", "a/1.jsonl"), ("b", "b/1.jsonl")] {
            let m = serde_json::to_vec(&manifest(job, key)).expect("json");
            put(&store, &format!("{key}{MANIFEST_SUFFIX}"), &m).await;
            put(&store, key, b"x").await;
        }
        put(&store, "a/1.jsonl.media.1.json", b"{}").await;
        put(&store, "a/1.jsonl.media.2.json", b"{}").await;
        put(&store, "gone.jsonl.media.1.json", b"{}").await;
        put(&store, &format!("_media/sha256/ab/{sha}"), b"x").await;
        put(&store, &format!("files/b/sha256/ab/{sha}"), b"x").await;
        put(&store, "files/stray.tmp", b"x").await;
        put(&store, "_chatvault/seal.json", b"x").await;
        let sources = [
            Source {
                job: Some("a".into()),
                ..Source::any_job(store.clone())
            },
            Source {
                job: Some("b".into()),
                store: store.clone(),
                media_prefix: "/files/b/".into(),
            },
        ];
        let listing = Listing::list(&sources).await;
        let location = &listing.locations[0];
        let objects: Vec<&str> = location.objects.iter().map(String::as_str).collect();
        assert_eq!(
            objects,
            [
                "a/1.jsonl",
                "a/1.jsonl.manifest.json",
                "a/1.jsonl.media.1.json",
                "a/1.jsonl.media.2.json",
                "b/1.jsonl",
                "b/1.jsonl.manifest.json",
                "files/stray.tmp",
                "gone.jsonl.media.1.json",
            ]
        );
        let extra: Vec<&String> = location.extra().collect();
        assert_eq!(extra, ["files/stray.tmp", "gone.jsonl.media.1.json"]);
        let newest: Vec<&str> = location.newest_media_records().collect();
        assert_eq!(
            newest,
            ["a/1.jsonl.media.2.json", "gone.jsonl.media.1.json"]
        );
        assert_eq!(
            listing.media_record(&listing.archives[0]),
            Some("a/1.jsonl.media.2.json")
        );
        let folders: Vec<&str> = location.media_folders().collect();
        assert_eq!(folders, ["_media", "files/b"]);
    }

    #[tokio::test]
    async fn an_empty_location_says_what_was_listed() {
        let store = Store::memory();
        let listing = Listing::list(&[Source::any_job(store)]).await;
        let nothing = listing.nothing().expect("nothing there");
        assert_eq!(
            nothing.to_string(),
            "no archives at memory:// (listed the whole store: nothing is there)"
        );
    }
}
