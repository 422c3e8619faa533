//! Where one document stands in its job's chain, for a page that shows one archive: named by
//! a seal (with the bytes it names, or changed since), awaiting the next seal, or not sealed.

use chrono::{DateTime, Utc};

use super::chain;
use crate::archive::seal::read_chain;
use crate::store::Store;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SealStatus {
    /// Seal `sequence` names it, with the bytes it has.
    Sealed { sequence: u64 },
    /// Seal `sequence` names it with other bytes.
    Changed { sequence: u64 },
    /// Written after the newest seal: the next run's seal names it.
    Awaiting,
    /// The job has no seal: written before sealing began.
    NotSealed,
    /// No seal names it, though it was written before seal `newest`.
    Unnamed { newest: u64 },
    /// The chain could not be read.
    Unreadable { reason: String },
}

/// Where the document at `key` of `job` (with `sha256` and written at `written_at`) stands.
pub async fn seal_status(
    store: &Store,
    job: &str,
    key: &str,
    sha256: &str,
    written_at: DateTime<Utc>,
) -> SealStatus {
    let seals = match read_chain(store, job).await {
        Ok(seals) => seals,
        Err(e) => {
            return SealStatus::Unreadable {
                reason: e.to_string(),
            };
        }
    };
    if let Some((sequence, sealed)) = chain::named(&seals).remove(key) {
        return if sealed == sha256 {
            SealStatus::Sealed { sequence }
        } else {
            SealStatus::Changed { sequence }
        };
    }
    let newest = seals
        .iter()
        .filter_map(|s| s.seal.as_ref().ok())
        .max_by_key(|s| s.sequence);
    match newest {
        None => SealStatus::NotSealed,
        Some(seal) if written_at > seal.sealed_at => SealStatus::Awaiting,
        Some(seal) => SealStatus::Unnamed {
            newest: seal.sequence,
        },
    }
}
