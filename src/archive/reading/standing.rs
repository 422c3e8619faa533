//! Where the capture of an archive's files stands: the newest media record of each listed
//! archive, and what those records leave outstanding. Runs, `chatvault media` and `status` all
//! count from here, so they agree.

use futures::StreamExt;

use super::listing::{Listed, Listing};
use super::problem::Problem;
use crate::archive::media::record::{self, MediaRecord};
use crate::store::Store;

/// Newest records read at once.
const RECORDS_AT_ONCE: usize = 16;

/// References of a record not captured yet.
pub fn outstanding(record: &MediaRecord) -> u64 {
    record
        .references
        .iter()
        .filter(|r| r.outcome.outstanding())
        .count() as u64
}

/// An archive of a listing with its newest media record.
pub struct Recorded<'a> {
    pub listed: &'a Listed,
    pub record: MediaRecord,
}

/// The newest record of every listed archive that has one, read a few at a time; records
/// that cannot be read are problems.
pub async fn newest_records(listing: &Listing) -> (Vec<Recorded<'_>>, Vec<Problem>) {
    let wanted: Vec<(usize, Store, String)> = listing
        .archives
        .iter()
        .enumerate()
        .filter_map(|(at, listed)| {
            let key = listing.media_record(listed)?.to_owned();
            Some((at, listing.store(listed).clone(), key))
        })
        .collect();
    let read: Vec<(usize, Result<MediaRecord, record::RecordError>, String)> =
        futures::stream::iter(wanted)
            .map(|(at, store, key)| async move {
                let got = record::read_at(&store, &key).await;
                (at, got, key)
            })
            .buffered(RECORDS_AT_ONCE)
            .collect()
            .await;
    let mut found = Vec::new();
    let mut problems = Vec::new();
    for (at, got, key) in read {
        match got {
            Ok(record) => found.push(Recorded {
                listed: &listing.archives[at],
                record,
            }),
            Err(e) => problems.push(Problem::new(key, e.to_string())),
        }
    }
    (found, problems)
}
