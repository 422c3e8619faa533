//! Media records: for one archive, what became of every file its items link to. One record
//! per capture attempt, create-only, beside the archive (`<archive key>.media.<n>.json`); the
//! newest (highest `n`) stands. The manifest is never rewritten. A record keeps a link
//! without its query string: never the signature.

use chrono::{DateTime, Utc};
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::signing::SigningKey;
use crate::store::Store;
use crate::store::json::{self, JsonError};

/// The record layout; bumped on incompatible changes.
pub const FORMAT: u32 = 1;

const INFIX: &str = ".media.";
const SUFFIX: &str = ".json";

/// `<archive key>.media.<n>.json`.
pub fn record_key(archive_key: &str, attempt: u32) -> String {
    format!("{archive_key}{INFIX}{attempt}{SUFFIX}")
}

/// The archive key and attempt a record key names.
pub fn parse_record_key(key: &str) -> Option<(&str, u32)> {
    let stem = key.strip_suffix(SUFFIX)?;
    let at = stem.rfind(INFIX)?;
    let digits = &stem[at + INFIX.len()..];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let attempt = digits.parse().ok()?;
    Some((&stem[..at], attempt))
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRecord {
    pub format: u32,
    pub job: String,
    /// The archive's key below the destination's root.
    pub archive: String,
    /// This record's `n`.
    pub attempt: u32,
    pub written_at: DateTime<Utc>,
    pub chatvault_version: String,
    /// Where the media objects of this record live below the destination's root.
    pub prefix: String,
    pub references: Vec<Reference>,
}

/// One link in the archive and what became of its file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reference {
    pub owner: Owner,
    /// Where in the owner the link stands, e.g. `attachments[0].image_url`, `image`.
    pub field: String,
    /// The link without its query string.
    pub url: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The item a link belongs to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Owner {
    /// A message, by id: its attachments.
    Message(String),
    /// A user, by id: their `image` (as author, member or in a users export).
    User(String),
    /// A channel, by cid: its `image`.
    Channel(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// Fetched and uploaded by this attempt.
    Stored(Stored),
    /// Fetched, and the same bytes were in the store already (or fetched earlier in the run).
    AlreadyStored(Stored),
    /// The scheme, host or address is not allowed: never fetched.
    Refused { reason: String },
    /// Larger than `media.max_file_size`: not stored.
    TooLarge { limit: u64 },
    /// Stream no longer has the file: 404, or 403 after a refresh.
    Gone { reason: String },
    /// Anything else; a later run tries again.
    Failed { reason: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stored {
    /// Lowercase hex: the object's key names it (see `layout`).
    pub sha256: String,
    pub size: u64,
    /// Sniffed from the bytes, never taken from the server's header.
    pub content_type: String,
}

impl Outcome {
    /// The file, when it is in the store.
    pub fn stored(&self) -> Option<&Stored> {
        match self {
            Outcome::Stored(s) | Outcome::AlreadyStored(s) => Some(s),
            _ => None,
        }
    }

    /// Not captured yet, and a later run tries again.
    pub fn outstanding(&self) -> bool {
        matches!(self, Outcome::Failed { .. })
    }

    /// As metrics and counts name it.
    pub fn status(&self) -> &'static str {
        match self {
            Outcome::Stored(_) => "stored",
            Outcome::AlreadyStored(_) => "already_stored",
            Outcome::Refused { .. } => "refused",
            Outcome::TooLarge { .. } => "too_large",
            Outcome::Gone { .. } => "gone",
            Outcome::Failed { .. } => "failed",
        }
    }
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RecordError {
    #[error("cannot write the media record {key}: {source}")]
    Write {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot read the media record {key}: {source}")]
    Read {
        key: String,
        #[source]
        source: object_store::Error,
    },
    #[error("the media record {key} is not valid: {source}")]
    Invalid {
        key: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("the media record {key} is gone")]
    Missing { key: String },
}

/// Writes `record` create-only under its `attempt`, signed by `signer` when there is one;
/// `Ok(false)` when that attempt exists already (another writer got there first: the caller
/// takes the next number).
pub async fn write(
    store: &Store,
    record: &MediaRecord,
    signer: Option<&SigningKey>,
) -> Result<bool, RecordError> {
    let key = record_key(&record.archive, record.attempt);
    match json::create_signed(store, &ObjectPath::from(key.as_str()), record, signer).await {
        Ok(created) => Ok(created),
        Err(JsonError::Store(source)) => Err(RecordError::Write { key, source }),
        Err(JsonError::Encode(source) | JsonError::Decode(source)) => {
            Err(RecordError::Invalid { key, source })
        }
    }
}

/// The archive's next record (attempt `after + 1`, or the next free number when another
/// writer took that one) of `references`, written as [`write`] does.
pub async fn write_next(
    store: &Store,
    draft: Draft<'_>,
    references: Vec<Reference>,
    signer: Option<&SigningKey>,
) -> Result<MediaRecord, RecordError> {
    let mut record = MediaRecord {
        format: FORMAT,
        job: draft.job.to_owned(),
        archive: draft.archive.to_owned(),
        attempt: draft.after.saturating_add(1),
        written_at: draft.now,
        chatvault_version: env!("CARGO_PKG_VERSION").to_owned(),
        prefix: draft.prefix.to_owned(),
        references,
    };
    loop {
        if write(store, &record, signer).await? {
            return Ok(record);
        }
        let Some(next) = record.attempt.checked_add(1) else {
            let key = record_key(&record.archive, record.attempt);
            return Err(RecordError::Write {
                source: object_store::Error::AlreadyExists {
                    path: key.clone(),
                    source: "no attempt number is left".into(),
                },
                key,
            });
        };
        record.attempt = next;
    }
}

/// What a new record says besides its references.
#[derive(Debug, Clone, Copy)]
pub struct Draft<'a> {
    pub job: &'a str,
    /// The archive's key below the destination's root.
    pub archive: &'a str,
    /// Where the media objects live below the destination's root.
    pub prefix: &'a str,
    pub now: DateTime<Utc>,
    /// The attempt the record follows (0: none yet).
    pub after: u32,
}

/// The record stored at `key` (a record key from a listing).
pub async fn read_at(store: &Store, key: &str) -> Result<MediaRecord, RecordError> {
    let owned = key.to_owned();
    match json::read(store, &ObjectPath::from(key)).await {
        Ok(Some(record)) => Ok(record),
        Ok(None) => Err(RecordError::Missing { key: owned }),
        Err(JsonError::Store(source)) => Err(RecordError::Read { key: owned, source }),
        Err(JsonError::Encode(source) | JsonError::Decode(source)) => {
            Err(RecordError::Invalid { key: owned, source })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signing::{Check, Keyring, check};

    #[test]
    fn record_keys_read_back_and_others_do_not() {
        let key = record_key("demo/2026/01/02/channels-1.jsonl.gz", 3);
        assert_eq!(key, "demo/2026/01/02/channels-1.jsonl.gz.media.3.json");
        assert_eq!(
            parse_record_key(&key),
            Some(("demo/2026/01/02/channels-1.jsonl.gz", 3))
        );
        assert_eq!(parse_record_key("a.jsonl.gz.manifest.json"), None);
        assert_eq!(parse_record_key("a.jsonl.gz.media..json"), None);
        assert_eq!(parse_record_key("a.jsonl.gz.media.x1.json"), None);
        assert_eq!(parse_record_key("a.media.99999999999.json"), None);
    }

    #[test]
    fn a_record_reads_as_it_was_written() {
        let record = MediaRecord {
            format: FORMAT,
            job: "demo".into(),
            archive: "a.jsonl.gz".into(),
            attempt: 1,
            written_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            chatvault_version: "0".into(),
            prefix: "_media".into(),
            references: vec![
                Reference {
                    owner: Owner::Message("m1".into()),
                    field: "attachments[0].image_url".into(),
                    url: "https://cdn/a.png".into(),
                    outcome: Outcome::Stored(Stored {
                        sha256: "ab".into(),
                        size: 3,
                        content_type: "image/png".into(),
                    }),
                },
                Reference {
                    owner: Owner::User("u".into()),
                    field: "image".into(),
                    url: "http://10.0.0.1/x".into(),
                    outcome: Outcome::Refused {
                        reason: "private address".into(),
                    },
                },
            ],
        };
        let text = serde_json::to_string(&record).unwrap_or_default();
        assert!(text.contains(r#""owner":{"message":"m1"}"#), "{text}");
        assert!(text.contains(r#""status":"stored""#), "{text}");
        let back: MediaRecord = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back, record);
    }

    fn draft(after: u32) -> Draft<'static> {
        Draft {
            job: "job",
            archive: "a.jsonl.gz",
            prefix: "_media",
            now: DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default(),
            after,
        }
    }

    #[tokio::test]
    async fn a_record_takes_the_next_attempt_or_the_next_free_one() {
        let store = Store::memory();
        let write = |after| write_next(&store, draft(after), Vec::new(), None);
        let first = write(0).await.map(|r| r.attempt).ok();
        assert_eq!(first, Some(1));
        // Another writer took 2 and 3 meanwhile.
        for taken in [2, 3] {
            let other = write(taken - 1).await.map(|r| r.attempt).ok();
            assert_eq!(other, Some(taken));
        }
        let next = write(1).await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(next.attempt, 4);
        assert_eq!(next.job, "job");
        assert_eq!(next.prefix, "_media");
        let back = read_at(&store, &record_key("a.jsonl.gz", 4)).await;
        assert_eq!(back.ok(), Some(next));
    }

    #[tokio::test]
    async fn a_record_is_signed_by_the_key_it_is_given_and_reads_back_the_same() {
        let store = Store::memory();
        let (key, _) = SigningKey::generate().unwrap_or_else(|e| panic!("{e}"));
        let mut keys = Keyring::default();
        keys.add(key.public().clone());
        let signed = write_next(&store, draft(0), Vec::new(), Some(&key))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let unsigned = write_next(&store, draft(1), Vec::new(), None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let stored = |attempt| {
            let store = store.clone();
            async move {
                let at = ObjectPath::from(record_key("a.jsonl.gz", attempt));
                json::read_bytes(&store, &at)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default()
            }
        };
        assert_eq!(
            check(&stored(1).await, &keys),
            Check::Valid {
                key_id: key.public().id().to_owned()
            }
        );
        assert_eq!(check(&stored(2).await, &keys), Check::Unsigned);
        let back = read_at(&store, &record_key("a.jsonl.gz", 1)).await;
        assert_eq!(back.ok(), Some(signed));
        assert_eq!(unsigned.attempt, 2);
    }
}
