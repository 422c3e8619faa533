//! One channel's conversation, a day at a time: only the archives whose counts say they hold
//! the channel on that day are read (through the read path's reader), only that day's
//! messages are kept, and the nearest messages before and after it are noted on the way, so
//! the page can link to the previous and next day that have messages without reading anything
//! else. Messages without a time belong to no day: they have a part of their own.

use chrono::{DateTime, Utc};

use crate::archive::manifest::Manifest;
use crate::archive::read::{Keep, Message};
use crate::archive::reading::Problem;
use crate::archive::reading::copies;
use crate::archive::reading::listing::holds;
use crate::archive::reading::many::{Collect, read_each};
use crate::query::Query;
use crate::store::Store;

/// A span of time, `[since, until)`.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

/// What to keep of a channel's messages.
#[derive(Debug, Clone)]
pub enum Wanted {
    /// Those created in the span.
    During(Span),
    /// Those without a creation time.
    NoTime,
    /// The one with this id.
    Id(String),
}

#[derive(Debug, Default)]
pub struct Read {
    /// In order, each message once (its latest copy).
    pub messages: Vec<Message>,
    /// The newest message time before the span, the oldest after it.
    pub earlier: Option<DateTime<Utc>>,
    pub later: Option<DateTime<Utc>>,
    pub problems: Vec<Problem>,
    /// `(job, key)` of the archives read.
    pub sources: Vec<(String, String)>,
}

/// The channel's first and last message time in an archive, when its counts say it holds any;
/// `Some(None)` when it may hold the channel but has no counts (an unindexed old archive).
fn span_in(manifest: &Manifest, cid: &str) -> Option<Option<Span>> {
    if !holds(manifest, cid) {
        return None;
    }
    Some(manifest.contents.as_ref().and_then(|contents| {
        let count = contents.channels.get(cid)?;
        count.first_message_at.zip(count.last_message_at)
    }))
}

fn earliest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.into_iter().chain(b).min()
}

fn latest(a: Option<DateTime<Utc>>, b: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    a.into_iter().chain(b).max()
}

/// What one archive gives.
struct Kept {
    cid: String,
    wanted: Wanted,
    read: Read,
}

impl Collect for Kept {
    fn take(&mut self, message: Message) {
        if message.cid.as_deref() != Some(self.cid.as_str()) {
            return;
        }
        let read = &mut self.read;
        match &self.wanted {
            Wanted::Id(id) => {
                if message.id == *id {
                    read.messages.push(message);
                }
            }
            Wanted::NoTime => {
                if message.created_at.is_none() {
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
    }
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
    let needles = Query {
        channels: vec![cid.to_owned()],
        ..Query::default()
    }
    .needles();
    let runs = read_each(reading, &needles, Keep::Fields, |_| Kept {
        cid: cid.to_owned(),
        wanted: wanted.clone(),
        read: Read::default(),
    })
    .await;
    let mut messages = Vec::new();
    for run in runs {
        match run {
            Ok(kept) => {
                messages.extend(kept.read.messages);
                out.earlier = latest(out.earlier, kept.read.earlier);
                out.later = earliest(out.later, kept.read.later);
            }
            Err(problem) => out.problems.push(problem),
        }
    }
    out.messages = copies::latest(messages);
    out.problems.sort();
    out
}
