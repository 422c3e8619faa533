//! Reading many archives: each on a task of its own (so decompressing and parsing use every
//! core), a few at once, each streamed and checked against its manifest's size and SHA-256 by
//! [`messages`]. What a reader keeps of an archive is its collector's business; an archive
//! that turns out missing or corrupt gives a [`Problem`] instead, and what its collector held
//! is dropped.

use std::sync::Arc;

use futures::StreamExt;

use super::problem::Problem;
use crate::archive::manifest::Manifest;
use crate::archive::read::{Keep, Message, messages};
use crate::query::Needles;
use crate::store::Store;

/// Archives read at once.
const READ_AT_ONCE: usize = 4;

/// What a reader keeps of one archive's messages.
pub trait Collect: Send + 'static {
    fn take(&mut self, message: Message);
}

/// Reads `archives`, each into the collector `start` makes for it; the results in the order
/// of `archives`. `needles` rule out lines unparsed (none, when empty); `keep` says what of
/// each message is kept.
pub async fn read_each<C: Collect>(
    archives: Vec<(Store, Manifest)>,
    needles: &Needles,
    keep: Keep,
    start: impl Fn(&Manifest) -> C,
) -> Vec<Result<C, Problem>> {
    let needles = Arc::new(needles.clone());
    futures::stream::iter(archives)
        .map(|(store, manifest)| {
            let mut collector = start(&manifest);
            let needles = needles.clone();
            let key = manifest.key.clone();
            async move {
                let task = tokio::spawn(async move {
                    let mut each = |m: Message| collector.take(m);
                    match messages(&store, &manifest, &needles, keep, &mut each).await {
                        Ok(()) => Ok(collector),
                        Err(e) => Err(Problem::archive(&manifest.key, &e)),
                    }
                });
                task.await
                    .unwrap_or_else(|e| Err(Problem::new(key, format!("reading it stopped: {e}"))))
            }
        })
        .buffered(READ_AT_ONCE)
        .collect()
        .await
}
