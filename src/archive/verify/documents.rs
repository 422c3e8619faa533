//! The documents a seal names (manifests, media records, catalog records), each read once:
//! its stored bytes give both the SHA-256 a seal names and the signature checked, and say
//! when the document was written (whether a seal could name it yet).

use std::collections::{BTreeMap, BTreeSet};

use bytes::Bytes;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use object_store::path::Path as ObjectPath;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::archive::manifest::manifest_key;
use crate::archive::reading::{Listing, Problem};
use crate::archive::transfer::hex;
use crate::signing::{self, Check, Keyring};
use crate::store::json;

/// Documents read at once.
const DOCUMENTS_AT_ONCE: usize = 16;

/// One document as stored.
#[derive(Debug, Clone)]
pub struct Document {
    pub key: String,
    /// The job of the archive it belongs to.
    pub job: String,
    /// The SHA-256 (hex) of its stored bytes.
    pub sha256: String,
    pub signature: Check,
    /// When it says it was written (a manifest's `archived_at`, a media record's
    /// `written_at`, a catalog record's `indexed_at`); `None` when it does not say.
    pub written_at: Option<DateTime<Utc>>,
}

/// The times a document says it was written, whichever kind it is.
#[derive(Deserialize)]
struct Written {
    archived_at: Option<DateTime<Utc>>,
    written_at: Option<DateTime<Utc>>,
    indexed_at: Option<DateTime<Utc>>,
}

impl Document {
    pub fn new(key: &str, job: &str, bytes: &[u8], keys: &Keyring) -> Document {
        let written_at = serde_json::from_slice::<Written>(bytes)
            .ok()
            .and_then(|w| w.archived_at.or(w.written_at).or(w.indexed_at));
        Document {
            key: key.to_owned(),
            job: job.to_owned(),
            sha256: hex(&Sha256::digest(bytes)),
            signature: signing::check(bytes, keys),
            written_at,
        }
    }
}

/// What reading the documents found.
#[derive(Debug, Default)]
pub struct Documents {
    /// By key.
    pub found: BTreeMap<String, Document>,
    /// The bytes of every media record read, for the media check to parse.
    pub media_records: BTreeMap<String, Bytes>,
    /// Documents that could not be read.
    pub unreadable: Vec<Problem>,
}

/// The manifests of the listed archives of `jobs` (their bytes came with the listing) and the
/// records the LIST saw beside them, read concurrently.
pub async fn read(listing: &Listing, jobs: &BTreeSet<String>, keys: &Keyring) -> Documents {
    let mut documents = Documents::default();
    let mut wanted = Vec::new();
    for listed in &listing.archives {
        let job = &listed.manifest.job;
        if !jobs.contains(job) {
            continue;
        }
        let key = manifest_key(&listed.manifest.key);
        let document = Document::new(&key, job, &listed.stored, keys);
        documents.found.insert(key, document);
        let location = &listing.locations[listed.location];
        for sidecar in location.sidecars(&listed.manifest.key) {
            wanted.push((location.store.clone(), sidecar.to_owned(), job.clone()));
        }
    }
    let mut reads = futures::stream::iter(wanted)
        .map(|(store, key, job)| async move {
            let got = json::read_bytes(&store, &ObjectPath::from(key.as_str())).await;
            (key, job, got)
        })
        .buffer_unordered(DOCUMENTS_AT_ONCE);
    while let Some((key, job, got)) = reads.next().await {
        match got {
            Ok(Some(bytes)) => {
                let document = Document::new(&key, &job, &bytes, keys);
                if crate::archive::media::record::parse_record_key(&key).is_some() {
                    documents.media_records.insert(key.clone(), bytes);
                }
                documents.found.insert(key, document);
            }
            // Gone since the LIST: whatever named it reports it.
            Ok(None) => {}
            Err(e) => documents
                .unreadable
                .push(Problem::new(&key, format!("cannot read: {e}"))),
        }
    }
    documents.unreadable.sort();
    documents
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_document_says_when_it_was_written_whatever_its_kind() {
        let keys = Keyring::default();
        let at = "2026-03-01T10:00:00Z";
        for field in ["archived_at", "written_at", "indexed_at"] {
            let bytes = serde_json::to_vec(&json!({ field: at })).expect("json");
            let document = Document::new("k", "j", &bytes, &keys);
            assert_eq!(
                document.written_at.map(|t| t.to_rfc3339()),
                Some("2026-03-01T10:00:00+00:00".to_owned()),
                "{field}"
            );
            assert_eq!(document.signature, Check::Unsigned);
            assert_eq!(document.sha256, hex(&Sha256::digest(&bytes)));
        }
        let document = Document::new("k", "j", b"{", &keys);
        assert_eq!(document.written_at, None);
        assert!(matches!(document.signature, Check::Malformed { .. }));
    }
}
