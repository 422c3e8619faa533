//! Checking captured files against the media records that name them: each stored file's
//! object must hold the size and SHA-256 its record says, and an object no record at the
//! location names (of any job) is extra.

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::archive::media::layout;
use crate::archive::media::record::{self, MediaRecord};
use crate::archive::reading::listing::media_folder;
use crate::archive::reading::{Listing, Problem};
use crate::archive::transfer::hex;
use crate::store::Store;

/// Records read at once.
const RECORDS_AT_ONCE: usize = 16;

/// Media objects hashed at once: each is a streaming GET.
const OBJECTS_AT_ONCE: usize = 4;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct MediaReport {
    /// Distinct files of the archives verified whose size and SHA-256 match their records.
    pub verified: usize,
    /// Their bytes.
    pub bytes: u64,
    /// References of the archives verified whose file was not captured (refused, too large,
    /// gone, failed).
    pub not_captured: usize,
    /// Of those, the ones a later run tries again.
    pub outstanding: usize,
    /// Files a record names that the store does not hold: the object key, and the record.
    pub missing: Vec<Problem>,
    /// Files whose size or SHA-256 differ from their record, or that cannot be read.
    pub corrupt: Vec<Problem>,
    /// Records that cannot be read, and media prefixes that cannot be listed.
    pub unreadable: Vec<Problem>,
    /// Objects below a media prefix that no record at the location names.
    pub extra: Vec<String>,
}

impl MediaReport {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.corrupt.is_empty()
            && self.unreadable.is_empty()
            && self.extra.is_empty()
    }
}

/// A file to check: what its first record says of it.
struct Wanted {
    size: u64,
    sha256: String,
    record: String,
}

/// Checks the files of the listed archives against their newest records, and finds media
/// objects no record at their location names. Returns the report and the folder of every
/// media prefix looked at (a record may name one the job's settings do not), so the caller
/// does not call the objects below them extra archives.
/// `read` holds the bytes of records read already, which are not read again.
pub async fn check(
    listing: &Listing,
    read: &BTreeMap<String, Bytes>,
) -> (MediaReport, BTreeSet<String>) {
    let mut report = MediaReport::default();
    let mut prefixes = BTreeSet::new();
    for (at, location) in listing.locations.iter().enumerate() {
        let checked: BTreeSet<&str> = listing
            .archives
            .iter()
            .filter(|a| a.location == at)
            .filter_map(|a| listing.media_record(a))
            .collect();
        let keys: Vec<&str> = location.newest_media_records().collect();
        let store = &location.store;
        let records: Vec<(&str, Result<MediaRecord, record::RecordError>)> =
            futures::stream::iter(keys)
                .map(|key| async move {
                    let got = match read.get(key) {
                        Some(bytes) => serde_json::from_slice(bytes).map_err(|source| {
                            record::RecordError::Invalid {
                                key: key.to_owned(),
                                source,
                            }
                        }),
                        None => record::read_at(store, key).await,
                    };
                    (key, got)
                })
                .buffered(RECORDS_AT_ONCE)
                .collect()
                .await;
        let mut named = BTreeSet::new();
        let mut wanted: BTreeMap<String, Wanted> = BTreeMap::new();
        let mut here: BTreeSet<String> = location.media_folders().map(str::to_owned).collect();
        for (key, got) in records {
            let found = match got {
                Ok(found) => found,
                Err(e) => {
                    report.unreadable.push(Problem::new(key, e.to_string()));
                    continue;
                }
            };
            here.insert(media_folder(&found.prefix));
            let mine = checked.contains(key);
            for reference in &found.references {
                let Some(stored) = reference.outcome.stored() else {
                    if mine {
                        report.not_captured += 1;
                        report.outstanding += usize::from(reference.outcome.outstanding());
                    }
                    continue;
                };
                let object = layout::object_key(&found.prefix, &stored.sha256);
                if layout::sha256_of(&found.prefix, &object).as_deref() != Some(&stored.sha256) {
                    report.unreadable.push(Problem::new(
                        key,
                        format!("names a file by {:?}, not a SHA-256", stored.sha256),
                    ));
                    continue;
                }
                named.insert(object.clone());
                if mine {
                    wanted.entry(object).or_insert_with(|| Wanted {
                        size: stored.size,
                        sha256: stored.sha256.clone(),
                        record: key.to_owned(),
                    });
                }
            }
        }
        for prefix in &here {
            match list(store, prefix).await {
                Ok(keys) => report
                    .extra
                    .extend(keys.into_iter().filter(|k| !named.contains(k))),
                Err(e) => report.unreadable.push(Problem::new(
                    prefix,
                    format!("cannot list the media prefix {prefix}: {e}"),
                )),
            }
        }
        let mut checks = futures::stream::iter(wanted)
            .map(|(object, wanted)| async move {
                let got = hash(store, &object).await;
                (object, wanted, got)
            })
            .buffer_unordered(OBJECTS_AT_ONCE);
        while let Some((object, wanted, got)) = checks.next().await {
            let record = &wanted.record;
            match got {
                Ok(None) => report.missing.push(Problem::new(
                    object,
                    format!("{record} names it, the store has no such object"),
                )),
                Ok(Some((size, _))) if size != wanted.size => report.corrupt.push(Problem::new(
                    object,
                    format!("{size} bytes where {record} says {}", wanted.size),
                )),
                Ok(Some((_, sha256))) if sha256 != wanted.sha256 => {
                    report.corrupt.push(Problem::new(
                        object,
                        format!("SHA-256 {sha256} where {record} says {}", wanted.sha256),
                    ))
                }
                Ok(Some((size, _))) => {
                    report.verified += 1;
                    report.bytes += size;
                }
                Err(e) => report
                    .corrupt
                    .push(Problem::new(object, format!("cannot read: {e}"))),
            }
        }
        prefixes.extend(here);
    }
    report.missing.sort();
    report.corrupt.sort();
    report.unreadable.sort();
    report.extra.sort();
    report.extra.dedup();
    (report, prefixes)
}

/// Every object key below the folder `root`.
async fn list(store: &Store, root: &str) -> object_store::Result<Vec<String>> {
    store
        .object_store()
        .list(Some(&ObjectPath::from(root)))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
}

/// The size and SHA-256 of the object at `key`, streamed; `None` when there is none.
async fn hash(store: &Store, key: &str) -> object_store::Result<Option<(u64, String)>> {
    let got = match store.object_store().get(&ObjectPath::from(key)).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut stream = got.into_stream();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream.try_next().await? {
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    Ok(Some((size, hex(&hasher.finalize()))))
}
