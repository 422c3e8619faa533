//! Searching archives: the manifests say which archives can hold a match (their channels,
//! users and message times, counted when each was archived, or by `chatvault index` in a
//! catalog record for older archives), only those are read, each as a
//! stream, and the hits of each archive, sorted by time, are merged into one ordered list in
//! which a message found in several archives (overlapping windows, repeated users snapshots)
//! appears once: the copy last updated.
//!
//! Listing, reading and merging are the read path's (`reading`); this is what a search adds:
//! ruling archives out by their counts, and matching the query.
//!
//! Memory: the manifests, plus the hits themselves (a hit holds its message: its text and a
//! few ids and times, some hundreds of bytes for a typical chat message); never an archive.
//! Hits past a page are counted, not kept.

use std::collections::btree_map::Entry;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::manifest::Manifest;
use super::read::{Keep, Message};
use super::reading::copies::{self, merge};
use super::reading::many::{Collect, read_each};
use super::reading::{Listing, Problem, Source};
use super::seal::{RemovalKind, StoredSeal, read_chain};
use crate::query::{Candidate, Query};
use crate::signing::{Check, Keyring, check};
use crate::store::Store;

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub job: String,
    /// The archive's object key.
    pub key: String,
    pub message: Message,
}

/// An archive a search read (or tried to): what a handed-over file names as its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceArchive {
    pub job: String,
    pub key: String,
    /// As its manifest records it: of the bytes stored.
    pub sha256: String,
    /// The manifest's format.
    pub format: u32,
    /// `v1` or `v2`.
    pub export_version: String,
}

#[derive(Debug, Default)]
pub struct Found {
    /// In order (`created_at`, messages without a time last), each message once.
    pub hits: Vec<Hit>,
    /// The distinct messages that match, those skipped and beyond the limit included.
    pub total: usize,
    pub problems: Vec<Problem>,
    /// Archives read (in key order; those that turned out unreadable are in `problems`
    /// too), and the number the manifests ruled out.
    pub sources: Vec<SourceArchive>,
    pub skipped: usize,
    /// Messages of the archives read that meet every term but the time range and have no
    /// `created_at`: no range can hold them, and a reader must say they were left out.
    pub undated: usize,
}

impl Found {
    /// How many archives were read.
    pub fn read(&self) -> usize {
        self.sources.len()
    }
}

/// Which hits of the ordered list to keep.
#[derive(Debug, Clone, Copy, Default)]
pub struct Page {
    /// Matches passed over first.
    pub skip: usize,
    /// At most this many kept; all when `None`.
    pub limit: Option<usize>,
}

/// Whether the archive of `manifest` can hold a message `query` matches, by what its manifest
/// says it holds. A manifest without counts (format 1) can rule out by its channels and window
/// only.
pub fn can_match(manifest: &Manifest, query: &Query) -> bool {
    match &manifest.contents {
        Some(contents) => {
            let channels = contents.channels.iter().filter(|(cid, count)| {
                count.messages > 0
                    && (query.channels.is_empty() || query.channels.contains(cid))
                    && match (count.first_message_at, count.last_message_at) {
                        (Some(first), Some(last)) => query.overlaps(first, last),
                        _ => true,
                    }
            });
            let users = query.from.is_empty()
                || query
                    .from
                    .iter()
                    .any(|u| contents.users.get(u).is_some_and(|c| c.messages > 0));
            users && channels.count() > 0
        }
        None => {
            let channels = query.channels.is_empty()
                || manifest.kind != "channels"
                || manifest.channels.iter().any(|c| query.channels.contains(c));
            let window = match (manifest.window_since, manifest.window_until) {
                (Some(since), Some(until)) if manifest.kind == "channels" => {
                    query.overlaps(since, until)
                }
                _ => true,
            };
            channels && window
        }
    }
}

fn candidate(m: &Message) -> Candidate<'_> {
    Candidate {
        text: &m.text,
        user: m.user_id(),
        cid: m.cid.as_deref(),
        created_at: m.created_at,
        attachments: &m.attachments,
        is_reply: m.parent_id.is_some(),
    }
}

/// Lists `sources` and searches what they hold, taking only the replacements `keys` vouch
/// for ([`Listing::newest`]). The listing comes back too, so a caller can tell a location
/// without archives from a search without hits.
pub async fn search(
    sources: &[Source],
    keys: &Keyring,
    query: &Query,
    page: Page,
    keep: Keep,
) -> (Listing, Found) {
    let listing = Listing::newest(sources, keys).await;
    let mut found = search_in(listing.with_stores(), query, page, keep).await;
    name_removals(&listing, keys, &mut found.problems).await;
    found.problems.extend(listing.problems.iter().cloned());
    found.problems.sort();
    (listing, found)
}

/// Says of an archive gone that a removal record of its job names (an `expire` or `erase`
/// stopped after writing the record, before deleting the manifest) which record, and that
/// running the command again finishes it, instead of only that it is missing. Only the chains
/// of jobs with such an archive are read; with public `keys`, only records whose signature
/// is valid with them count, as for the calendar.
async fn name_removals(listing: &Listing, keys: &Keyring, problems: &mut [Problem]) {
    let mut chains: BTreeMap<(usize, &str), Vec<StoredSeal>> = BTreeMap::new();
    for listed in listing.archives.iter().filter(|a| !a.present) {
        let key = &listed.manifest.key;
        if !problems.iter().any(|p| p.key == *key) {
            continue;
        }
        let job = listed.manifest.job.as_str();
        let chain = match chains.entry((listed.location, job)) {
            Entry::Occupied(held) => held.into_mut(),
            Entry::Vacant(empty) => empty.insert(
                read_chain(listing.store(listed), job)
                    .await
                    .unwrap_or_default(),
            ),
        };
        let Some((sequence, kind)) = chain
            .iter()
            .filter(|s| keys.is_empty() || matches!(check(&s.bytes, keys), Check::Valid { .. }))
            .filter_map(|s| s.seal.as_ref().ok())
            .filter_map(|seal| Some((seal.sequence, seal.removal.as_ref()?)))
            .find(|(_, removal)| removal.archives.contains(key))
            .map(|(sequence, removal)| (sequence, removal.kind))
        else {
            continue;
        };
        let said = match kind {
            RemovalKind::Expiry => format!(
                "removed by expiry record {sequence}; run `chatvault expire` again to finish"
            ),
            RemovalKind::Erasure => format!(
                "removed by erasure record {sequence}; run the unfinished `chatvault erase` \
                 again to finish"
            ),
        };
        for problem in problems.iter_mut().filter(|p| p.key == *key) {
            problem.problem.clone_from(&said);
        }
    }
}

/// Searches listed archives (with their counts, or catalog records, filled in), reading only
/// those that can match, each message with what `keep` says.
pub async fn search_in<'a>(
    archives: impl IntoIterator<Item = (&'a Store, &'a Manifest)>,
    query: &Query,
    page: Page,
    keep: Keep,
) -> Found {
    let mut found = Found::default();
    let mut wanted = Vec::new();
    for (store, manifest) in archives {
        if can_match(manifest, query) {
            wanted.push((store.clone(), manifest.clone()));
        } else {
            found.skipped += 1;
        }
    }
    found.sources = wanted
        .iter()
        .map(|(_, m)| SourceArchive {
            job: m.job.clone(),
            key: m.key.clone(),
            sha256: m.sha256.clone(),
            format: m.format,
            export_version: m.export_version.clone(),
        })
        .collect();
    found.sources.sort_by(|a, b| a.key.cmp(&b.key));
    // A message without a time cannot be in a time range; what the range leaves out that way
    // is counted with the query the range aside.
    let timeless = (query.after.is_some() || query.before.is_some()).then(|| {
        Arc::new(Query {
            after: None,
            before: None,
            ..query.clone()
        })
    });
    let query = Arc::new(query.clone());
    let runs = read_each(wanted, &query.needles(), keep, |manifest| Matches {
        query: query.clone(),
        timeless: timeless.clone(),
        job: manifest.job.clone(),
        key: manifest.key.clone(),
        hits: Vec::new(),
        undated: BTreeSet::new(),
    })
    .await;
    let mut sorted = Vec::new();
    let mut undated = BTreeSet::new();
    for run in runs {
        match run {
            Ok(mut matches) => {
                undated.append(&mut matches.undated);
                matches
                    .hits
                    .sort_by(|a, b| copies::order(&a.message).cmp(&copies::order(&b.message)));
                sorted.push(matches.hits);
            }
            Err(problem) => found.problems.push(problem),
        }
    }
    found.problems.sort();
    let merged = merge(sorted, |h: &Hit| &h.message, page.skip, page.limit);
    found.hits = merged.items;
    found.total = merged.total;
    found.undated = undated.len();
    found
}

/// The hits of one archive.
struct Matches {
    query: Arc<Query>,
    /// The query without its time range, when it has one.
    timeless: Option<Arc<Query>>,
    job: String,
    key: String,
    hits: Vec<Hit>,
    /// The ids of messages without a time that only the range rules out.
    undated: BTreeSet<String>,
}

impl Collect for Matches {
    fn take(&mut self, message: Message) {
        if self.query.matches(&candidate(&message)) {
            self.hits.push(Hit {
                job: self.job.clone(),
                key: self.key.clone(),
                message,
            });
        } else if message.created_at.is_none()
            && self
                .timeless
                .as_ref()
                .is_some_and(|q| q.matches(&candidate(&message)))
        {
            self.undated.insert(message.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use object_store::path::Path as ObjectPath;
    use object_store::{ObjectStoreExt as _, PutPayload};
    use sha2::{Digest as _, Sha256};

    use super::*;
    use crate::archive::manifest::MANIFEST_SUFFIX;
    use crate::archive::transfer::hex;

    /// An archive of `messages` (`(id, second, updated)`) at `key`, with a format 1 manifest.
    async fn archive(store: &Store, key: &str, messages: &[(&str, i64, i64)]) {
        let at = |s: i64| chrono::DateTime::from_timestamp(s, 0).map(|t| t.to_rfc3339());
        let mut body = String::new();
        for (id, created, updated) in messages {
            let m = serde_json::json!({"id": id, "cid": "messaging:x", "text": "refund",
                "created_at": at(*created), "updated_at": at(*updated)});
            body.push_str(&format!("{m}\n"));
        }
        let manifest = serde_json::json!({
            "format": 1, "job": "j", "tick": "2026-03-01T00:00:00Z", "kind": "channels",
            "batch": 1, "task_id": "t", "export_version": "v2", "key": key,
            "bytes_source": body.len(), "bytes_stored": body.len(),
            "sha256": hex(&Sha256::digest(body.as_bytes())), "content_encoding": "none",
            "archived_at": "2026-03-01T00:00:00Z", "chatvault_version": "0"
        });
        for (path, bytes) in [
            (key.to_owned(), body.into_bytes()),
            (
                format!("{key}{MANIFEST_SUFFIX}"),
                manifest.to_string().into_bytes(),
            ),
        ] {
            store
                .object_store()
                .put(&ObjectPath::from(path), PutPayload::from(bytes))
                .await
                .expect("a put");
        }
    }

    #[tokio::test]
    async fn an_archive_gone_that_an_expiry_record_names_is_said_to_be_removed_by_it() {
        use crate::archive::seal::{FORMAT, Removal, Seal, seal_key};
        let store = Store::memory();
        for key in ["a.jsonl", "b.jsonl", "c.jsonl"] {
            archive(&store, key, &[("m1", 1, 1)]).await;
        }
        for key in ["a.jsonl", "b.jsonl"] {
            store
                .object_store()
                .delete(&ObjectPath::from(key))
                .await
                .expect("deleted");
        }
        let record = Seal {
            format: FORMAT,
            job: "j".into(),
            sequence: 1,
            sealed_at: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
            previous: None,
            covers: Vec::new(),
            chatvault_version: "0".into(),
            removal: Some(Removal {
                kind: RemovalKind::Expiry,
                reason: "keep_for 1y".into(),
                erasure: None,
                ended_before: None,
                archives: vec!["a.jsonl".into()],
                documents: Vec::new(),
                media: Vec::new(),
                replacements: Vec::new(),
            }),
        };
        let at = ObjectPath::from(seal_key("j", 1));
        crate::store::json::create_signed(&store, &at, &record, None)
            .await
            .expect("a record");
        let sources = [Source::any_job(store.clone())];
        let query = Query::parse("refund").expect("a query");
        let (_, found) = search(
            &sources,
            &Keyring::default(),
            &query,
            Page::default(),
            Keep::Fields,
        )
        .await;
        let problems: Vec<(&str, &str)> = found
            .problems
            .iter()
            .map(|p| (p.key.as_str(), p.problem.as_str()))
            .collect();
        assert_eq!(
            problems,
            [
                (
                    "a.jsonl",
                    "removed by expiry record 1; run `chatvault expire` again to finish"
                ),
                (
                    "b.jsonl",
                    "missing: its manifest names it, the store has no such object"
                ),
            ]
        );
    }

    #[tokio::test]
    async fn a_page_of_hits_comes_with_the_total_and_the_archives_read() {
        let store = Store::memory();
        archive(
            &store,
            "a.jsonl",
            &[("m1", 1, 1), ("m2", 2, 1), ("m3", 3, 1)],
        )
        .await;
        archive(&store, "b.jsonl", &[("m2", 2, 5), ("m4", 4, 1)]).await;
        let sources = [Source::any_job(store.clone())];
        let query = Query::parse("refund").expect("a query");
        let page = Page {
            skip: 1,
            limit: Some(2),
        };
        let (listing, found) =
            search(&sources, &Keyring::default(), &query, page, Keep::Fields).await;
        assert_eq!(listing.archives.len(), 2);
        let hits: Vec<(&str, &str)> = found
            .hits
            .iter()
            .map(|h| (h.message.id.as_str(), h.key.as_str()))
            .collect();
        assert_eq!(hits, [("m2", "b.jsonl"), ("m3", "a.jsonl")]);
        assert_eq!(
            found.total, 4,
            "each message once, those past the page counted"
        );
        let read: Vec<&str> = found.sources.iter().map(|s| s.key.as_str()).collect();
        assert_eq!(read, ["a.jsonl", "b.jsonl"]);
        assert_eq!(found.sources[0].format, 1);
        assert!(found.problems.is_empty(), "{:?}", found.problems);
    }
}
