//! One channel's conversation, a day at a time: only the archives whose counts say they hold
//! the channel on that day are read (each as a stream), only that day's messages are kept, and
//! the nearest messages before and after it are noted on the way, so the page can link to the
//! previous and next day that have messages without reading anything else.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use crate::archive::manifest::Manifest;
use crate::archive::read::{Keep, Message, ReadError, messages};
use crate::query::Query;
use crate::store::Store;

/// Archives read at once.
const READ_AT_ONCE: usize = 4;

/// A span of time, `[since, until)`.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// What to keep of a channel's messages.
#[derive(Debug, Clone)]
pub enum Wanted {
    /// Those created in the span.
    During(Span),
    /// The one with this id.
    Id(String),
}

#[derive(Debug, Default)]
pub struct Read {
    /// In time order, each message once (its last-updated copy).
    pub messages: Vec<Message>,
    /// The newest message time before the span, the oldest after it.
    pub earlier: Option<DateTime<Utc>>,
    pub later: Option<DateTime<Utc>>,
    /// `(archive key, what is wrong)`.
    pub problems: Vec<(String, String)>,
    /// `(job, key)` of the archives read.
    pub sources: Vec<(String, String)>,
}

/// The channel's first and last message time in an archive, when its counts say it holds any;
/// `Some(None)` when it may hold the channel but has no counts (an unindexed old archive).
fn span_in(manifest: &Manifest, cid: &str) -> Option<Option<Span>> {
    match &manifest.contents {
        Some(contents) => {
            let count = contents.channels.get(cid).filter(|c| c.messages > 0)?;
            Some(count.first_message_at.zip(count.last_message_at))
        }
        None => (manifest.kind == "channels"
            && (manifest.channels.is_empty() || manifest.channels.iter().any(|c| c == cid)))
        .then_some(None),
    }
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.into_iter().chain(b).min()
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.into_iter().chain(b).max()
}

/// Reads what `wanted` asks of channel `cid` from `archives` (those of other channels are
/// passed over unread).
pub async fn read<'a>(
    archives: impl IntoIterator<Item = (&'a Store, &'a Manifest)>,
    cid: &str,
    wanted: &Wanted,
) -> Read {
    let mut out = Read::default();
    let mut reading = Vec::new();
    for (store, manifest) in archives {
        let Some(span) = span_in(manifest, cid) else {
            continue;
        };
        match (wanted, span) {
            (Wanted::During((since, _)), Some((_, last))) if last < *since => {
                out.earlier = latest(out.earlier, Some(last));
            }
            (Wanted::During((_, until)), Some((first, _))) if first >= *until => {
                out.later = earliest(out.later, Some(first));
            }
            _ => reading.push((store.clone(), manifest.clone())),
        }
    }
    out.sources = reading
        .iter()
        .map(|(_, m)| (m.job.clone(), m.key.clone()))
        .collect();
    let needles = Arc::new(
        Query {
            channels: vec![cid.to_owned()],
            ..Query::default()
        }
        .needles(),
    );
    let runs: Vec<Result<Read, (String, String)>> = futures::stream::iter(reading)
        .map(|(store, manifest)| {
            let (cid, wanted, needles) = (cid.to_owned(), wanted.clone(), needles.clone());
            let key = manifest.key.clone();
            async move {
                tokio::spawn(async move { one(&store, &manifest, &cid, &wanted, &needles).await })
                    .await
                    .unwrap_or_else(|e| Err((key, format!("reading it stopped: {e}"))))
            }
        })
        .buffer_unordered(READ_AT_ONCE)
        .collect()
        .await;
    for run in runs {
        match run {
            Ok(read) => {
                out.messages.extend(read.messages);
                out.earlier = latest(out.earlier, read.earlier);
                out.later = earliest(out.later, read.later);
            }
            Err(problem) => out.problems.push(problem),
        }
    }
    out.messages.sort_by(|a, b| {
        (a.created_at, &a.id, a.updated_at).cmp(&(b.created_at, &b.id, b.updated_at))
    });
    // Copies of a message (overlapping windows) sit side by side, the last updated last.
    out.messages.reverse();
    out.messages.dedup_by(|later, kept| later.id == kept.id);
    out.messages.reverse();
    out.problems.sort();
    out
}

async fn one(
    store: &Store,
    manifest: &Manifest,
    cid: &str,
    wanted: &Wanted,
    needles: &crate::query::Needles,
) -> Result<Read, (String, String)> {
    let mut read = Read::default();
    let mut each = |message: Message| {
        if message.cid.as_deref() != Some(cid) {
            return;
        }
        match wanted {
            Wanted::Id(id) => {
                if message.id == *id {
                    read.messages.push(message);
                }
            }
            Wanted::During((since, until)) => match message.created_at {
                Some(t) if t < *since => read.earlier = latest(read.earlier, Some(t)),
                Some(t) if t >= *until => read.later = earliest(read.later, Some(t)),
                Some(_) => read.messages.push(message),
                None => {}
            },
        }
    };
    match messages(store, manifest, needles, Keep::Fields, &mut each).await {
        Ok(()) => Ok(read),
        Err(ReadError::Missing) => Err((
            manifest.key.clone(),
            "missing: its manifest names it, the store has no such object".to_owned(),
        )),
        Err(e) => Err((manifest.key.clone(), e.to_string())),
    }
}
