//! Seals: one job's chain of records of what its archives' documents were. Each run ends with
//! a seal naming the SHA-256 of every manifest and record of the job that no earlier seal
//! names, and the SHA-256 of the job's previous seal. So an auditor can show that nothing a
//! seal names was changed or removed, that no seal was removed from the middle, and (with the
//! state's head, or a write-once bucket) from the end.
//!
//! Seals live outside every key template, at `_chatvault/seals/<job>/<sequence>.json` below
//! the destination's root: the listing never walks `_` folders, so readers never take them
//! for archives. They are written create-only; a sequence number already taken means another
//! writer sealed first, and the writer reads the chain again and takes the next.

mod chain;
mod write;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use chain::{ChainError, StoredSeal, read_chain, read_chain_after};
pub use write::{SealError, SealHead, SealMemory, Sealed, Sealing, record_removal, seal};

/// Where the seals of every job live below a destination's root.
pub const SEALS_PREFIX: &str = "_chatvault/seals";

/// The seal layout; bumped on incompatible changes.
pub const FORMAT: u32 = 1;

/// Digits of the zero-padded sequence in a seal's key, so keys list in chain order.
const SEQUENCE_DIGITS: usize = 12;

/// One seal as stored (a signed one carries its `signature` member beside these).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    pub format: u32,
    pub job: String,
    /// 1 for the job's first seal, then one more for each.
    pub sequence: u64,
    pub sealed_at: DateTime<Utc>,
    /// The SHA-256 (hex) of the stored bytes of the seal `sequence - 1`; none for the first.
    pub previous: Option<String>,
    /// The documents this seal names, by key.
    pub covers: Vec<Covered>,
    pub chatvault_version: String,
    /// Set on an expiry or erasure record: what it removes from the archive and why, so a
    /// verifier accepts exactly that gap and still catches any other removal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removal: Option<Removal>,
}

/// Why documents a seal named were removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RemovalKind {
    /// The job's `keep_for` ran out and no hold covered the archives.
    Expiry,
    /// A person's data was erased: each archive holding it was replaced (`replacements`).
    Erasure,
}

/// What an expiry or erasure record removes. It names documents, not people: an erasure
/// record carries the id of the erasure document in the state store, never the user id or
/// the request's reason text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    pub kind: RemovalKind,
    /// In words, for the auditor: e.g. `keep_for 7y: windows that ended before 2019-12-08`,
    /// or `erasure 20261208T031500Z-1a2b3c4d`.
    pub reason: String,
    /// The erasure document's id in the state store (erasure records only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub erasure: Option<String>,
    /// Expiry records: archives whose window ended before this went by `keep_for` (the
    /// calendar shows the days before it that no archive covers as expired).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_before: Option<DateTime<Utc>>,
    /// The archives removed, by key.
    pub archives: Vec<String>,
    /// Their documents (manifests, media records, catalog records) with the SHA-256 they
    /// had: a document removed while holding other bytes is still a break.
    pub documents: Vec<Covered>,
    /// Captured files (the SHA-256 hex of their content) only the removed archives referred
    /// to: deleted after the record, each only while no remaining archive refers to it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media: Vec<String>,
    /// Erasure records: each replaced archive and the archive that replaces it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replacements: Vec<Replacement>,
}

/// An archive an erasure replaced, and its replacement (`<key>.erased-<n>.<ext>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Replacement {
    pub original: String,
    pub replacement: String,
}

/// A document a seal names: a manifest, a media record or a catalog record.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Covered {
    /// Its key below the destination's root.
    pub key: String,
    /// The SHA-256 (hex) of its stored bytes.
    pub sha256: String,
}

/// The folder of `job`'s seals.
pub fn seals_folder(job: &str) -> String {
    format!("{SEALS_PREFIX}/{job}/")
}

/// The key of `job`'s seal number `sequence`.
pub fn seal_key(job: &str, sequence: u64) -> String {
    format!("{SEALS_PREFIX}/{job}/{sequence:0SEQUENCE_DIGITS$}.json")
}

/// The job and sequence of a seal's key; `None` for any other key.
pub fn parse_seal_key(key: &str) -> Option<(&str, u64)> {
    let rest = key.strip_prefix(SEALS_PREFIX)?.strip_prefix('/')?;
    let (job, file) = rest.split_once('/')?;
    let digits = file.strip_suffix(".json")?;
    if job.is_empty()
        || digits.len() != SEQUENCE_DIGITS
        || !digits.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    digits.parse().ok().map(|n| (job, n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seal_keys_list_in_chain_order_and_parse_back() {
        assert_eq!(
            seal_key("daily", 7),
            "_chatvault/seals/daily/000000000007.json"
        );
        assert!(seal_key("a", 9) < seal_key("a", 10));
        assert_eq!(parse_seal_key(&seal_key("daily", 12)), Some(("daily", 12)));
        assert_eq!(parse_seal_key("_chatvault/seals/daily/7.json"), None);
        assert_eq!(
            parse_seal_key("_chatvault/seals/daily/000000000007.jsonx"),
            None
        );
        assert_eq!(parse_seal_key("daily/000000000007.json"), None);
    }
}
