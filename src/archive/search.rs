//! Searching archives: the manifests say which archives can hold a match (their channels,
//! users and message times, counted when each was archived, or by `chatvault index` in a
//! catalog record for older archives), only those are read, each as a
//! stream, and the hits of each archive, sorted by time, are merged into one ordered list in
//! which a message found in several archives (overlapping windows, repeated users snapshots)
//! appears once: the copy last updated.
//!
//! Memory: the manifests, plus the hits themselves (a hit holds its message: its text and a
//! few ids and times, some hundreds of bytes for a typical chat message); never an archive.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap};
use std::sync::Arc;

use futures::StreamExt;

use super::catalog;
use super::manifest::Manifest;
use super::read::{Message, ReadError, manifests, messages};
use crate::query::{Candidate, Query};
use crate::store::Store;

/// Archives read at once.
const READ_AT_ONCE: usize = 4;

/// Where to search: a store, and the job whose archives count (all when `None`).
pub struct Source {
    pub job: Option<String>,
    pub store: Store,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub job: String,
    /// The archive's object key.
    pub key: String,
    pub message: Message,
}

/// An archive (or a manifest) that could not be read, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub problem: String,
}

#[derive(Debug, Default)]
pub struct Found {
    /// In `created_at` order, each message once.
    pub hits: Vec<Hit>,
    pub problems: Vec<Problem>,
    /// Archives read, and archives the manifests ruled out.
    pub read: usize,
    pub skipped: usize,
    /// The user ids and cids the listed archives' counts name (archives without counts add
    /// none), for the hint when a `from:`/`in:` id differs from a held one only in case.
    pub held_users: BTreeSet<String>,
    pub held_channels: BTreeSet<String>,
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
        has_attachment: !m.attachments.is_empty(),
        is_reply: m.parent_id.is_some(),
    }
}

/// Searches `sources`; at most `limit` hits (all when `None`).
pub async fn search(sources: &[Source], query: &Query, limit: Option<usize>) -> Found {
    let mut problems = Vec::new();
    let mut archives: Vec<(Store, Manifest)> = Vec::new();
    for source in sources {
        match manifests(&source.store).await {
            Ok((list, unreadable)) => {
                problems.extend(
                    unreadable
                        .into_iter()
                        .map(|(key, problem)| Problem { key, problem }),
                );
                for mut manifest in list {
                    if source.job.as_ref().is_some_and(|j| *j != manifest.job) {
                        continue;
                    }
                    if manifest.contents.is_none() {
                        manifest.contents = catalog::read(&source.store, &manifest).await;
                    }
                    archives.push((source.store.clone(), manifest));
                }
            }
            Err(problem) => problems.push(Problem {
                key: source.store.url().to_owned(),
                problem,
            }),
        }
    }
    let mut found = search_in(archives.iter().map(|(s, m)| (s, m)), query, limit).await;
    for contents in archives.iter().filter_map(|(_, m)| m.contents.as_ref()) {
        found.held_users.extend(contents.users.keys().cloned());
        found
            .held_channels
            .extend(contents.channels.keys().cloned());
    }
    found.problems.extend(problems);
    found.problems.sort_by(|a, b| a.key.cmp(&b.key));
    found
}

/// Searches archives whose manifests the caller has listed already (with their counts, or
/// catalog records, filled in), reading only those that can match.
pub async fn search_in<'a>(
    archives: impl IntoIterator<Item = (&'a Store, &'a Manifest)>,
    query: &Query,
    limit: Option<usize>,
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
    found.read = wanted.len();
    // Each archive is read on a task of its own, so decompressing and parsing use every core.
    let query = Arc::new(query.clone());
    let runs: Vec<Result<Vec<Hit>, Problem>> = futures::stream::iter(wanted)
        .map(|(store, manifest)| {
            let query = query.clone();
            let key = manifest.key.clone();
            async move {
                tokio::spawn(async move { read_run(&store, manifest, &query).await })
                    .await
                    .unwrap_or_else(|e| {
                        Err(Problem {
                            key,
                            problem: format!("reading it stopped: {e}"),
                        })
                    })
            }
        })
        .buffer_unordered(READ_AT_ONCE)
        .collect()
        .await;
    let mut sorted = Vec::new();
    for run in runs {
        match run {
            Ok(hits) => sorted.push(hits),
            Err(problem) => found.problems.push(problem),
        }
    }
    found.problems.sort_by(|a, b| a.key.cmp(&b.key));
    found.hits = merge(sorted, limit);
    found
}

/// The matches of one archive, sorted; none when the archive turns out corrupt.
async fn read_run(store: &Store, manifest: Manifest, query: &Query) -> Result<Vec<Hit>, Problem> {
    let mut hits = Vec::new();
    let mut each = |message: Message| {
        if query.matches(&candidate(&message)) {
            hits.push(Hit {
                job: manifest.job.clone(),
                key: manifest.key.clone(),
                message,
            });
        }
    };
    let read = messages(store, &manifest, &query.needles(), &mut each).await;
    if let Err(e) = read {
        let problem = match e {
            ReadError::Missing => {
                "missing: its manifest names it, the store has no such object".to_owned()
            }
            other => other.to_string(),
        };
        return Err(Problem {
            key: manifest.key.clone(),
            problem,
        });
    }
    hits.sort_by(|a, b| order(a).cmp(&order(b)));
    Ok(hits)
}

fn order(hit: &Hit) -> (Option<chrono::DateTime<chrono::Utc>>, &str) {
    (hit.message.created_at, hit.message.id.as_str())
}

/// Merges sorted runs into one sorted list, each message id once (its last-updated copy). The
/// copies of a message share its id and creation time, so they meet side by side.
fn merge(runs: Vec<Vec<Hit>>, limit: Option<usize>) -> Vec<Hit> {
    let mut runs: Vec<std::vec::IntoIter<Hit>> = runs.into_iter().map(Vec::into_iter).collect();
    let mut heads: Vec<Option<Hit>> = runs.iter_mut().map(Iterator::next).collect();
    let mut heap = BinaryHeap::new();
    for (i, head) in heads.iter().enumerate() {
        if let Some(hit) = head {
            heap.push(Reverse((hit.message.created_at, hit.message.id.clone(), i)));
        }
    }
    let mut out: Vec<Hit> = Vec::new();
    while let Some(Reverse((_, _, i))) = heap.pop() {
        let Some(hit) = heads[i].take() else {
            continue;
        };
        if let Some(next) = runs[i].next() {
            heap.push(Reverse((
                next.message.created_at,
                next.message.id.clone(),
                i,
            )));
            heads[i] = Some(next);
        }
        match out.last_mut() {
            Some(last) if last.message.id == hit.message.id => {
                if hit.message.updated_at > last.message.updated_at {
                    *last = hit;
                }
            }
            _ => {
                if limit.is_some_and(|l| out.len() >= l) {
                    break;
                }
                out.push(hit);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;

    fn hit(id: &str, created: i64, updated: i64, key: &str) -> Hit {
        let at = |s: i64| DateTime::<Utc>::from_timestamp(s, 0);
        Hit {
            job: "j".into(),
            key: key.into(),
            message: Message {
                id: id.into(),
                cid: None,
                text: String::new(),
                kind: None,
                user: None,
                created_at: at(created),
                updated_at: at(updated),
                deleted_at: None,
                message_text_updated_at: None,
                parent_id: None,
                attachments: Vec::new(),
                reaction_counts: Default::default(),
            },
        }
    }

    #[test]
    fn runs_merge_in_time_order_each_message_once_its_latest_copy() {
        let a = vec![hit("m1", 1, 1, "a"), hit("m3", 3, 3, "a")];
        let b = vec![
            hit("m1", 1, 9, "b"),
            hit("m2", 2, 2, "b"),
            hit("m3", 3, 3, "b"),
        ];
        let merged = merge(vec![a, b], None);
        let got: Vec<(&str, &str)> = merged
            .iter()
            .map(|h| (h.message.id.as_str(), h.key.as_str()))
            .collect();
        assert_eq!(got, [("m1", "b"), ("m2", "b"), ("m3", "a")]);
        assert_eq!(merge(vec![merged.clone()], Some(2)).len(), 2);
    }
}
