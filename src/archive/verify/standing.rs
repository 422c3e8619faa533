//! Where one document stands in its job's chain, for a page that shows one archive: named by
//! a seal (with the bytes it names, or changed since), awaiting the next seal, or not sealed.

use chrono::{DateTime, Utc};

use super::chain;
use crate::archive::seal::{StoredSeal, read_chain};
use crate::signing::{self, Check, Keyring};
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
    /// Signed, though the job has no seal: its seals were removed, or its first signed run
    /// has not sealed yet.
    SignedUnsealed,
    /// Written after the newest seal, which is signed, but does not verify with a key given:
    /// not written by the job, planted after the fact.
    Planted,
    /// No seal names it, though it was written before seal `newest`.
    Unnamed { newest: u64 },
    /// The chain could not be read.
    Unreadable { reason: String },
}

/// The document a page shows: its key, the SHA-256 of its stored bytes, when it says it was
/// written and what its signature says against the viewer's keys.
pub struct Shown<'a> {
    pub key: &'a str,
    pub sha256: &'a str,
    pub written_at: DateTime<Utc>,
    pub signature: &'a Check,
}

/// Where a document stands in its job's chain, and whether the chain is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placed {
    pub status: SealStatus,
    /// Whether any seal of the job is signed: the job signs what it writes, so an unsigned
    /// document no seal vouches for is not the deployment's.
    pub chain_signed: bool,
}

/// Where the document of `job` stands, by the same rules as `verify`: `keys` are those its
/// signature was checked against.
pub async fn seal_status(store: &Store, job: &str, shown: &Shown<'_>, keys: &Keyring) -> Placed {
    let seals = match read_chain(store, job).await {
        Ok(seals) => seals,
        Err(e) => {
            return Placed {
                status: SealStatus::Unreadable {
                    reason: e.to_string(),
                },
                chain_signed: false,
            };
        }
    };
    Placed {
        chain_signed: seals
            .iter()
            .any(|s| signing::check(&s.bytes, keys) != Check::Unsigned),
        status: status(&seals, shown, keys),
    }
}

fn status(seals: &[StoredSeal], shown: &Shown<'_>, keys: &Keyring) -> SealStatus {
    let Shown {
        key,
        sha256,
        written_at,
        signature,
    } = *shown;
    if let Some((sequence, sealed)) = chain::named(seals).remove(key) {
        return if sealed == sha256 {
            SealStatus::Sealed { sequence }
        } else {
            SealStatus::Changed { sequence }
        };
    }
    let Some((stored, seal)) = seals
        .iter()
        .filter_map(|s| s.seal.as_ref().ok().map(|seal| (s, seal)))
        .max_by_key(|(_, seal)| seal.sequence)
    else {
        return match signature {
            Check::Unsigned => SealStatus::NotSealed,
            _ => SealStatus::SignedUnsealed,
        };
    };
    if written_at <= seal.sealed_at {
        return SealStatus::Unnamed {
            newest: seal.sequence,
        };
    }
    let seals_signed = signing::check(&stored.bytes, keys) != Check::Unsigned;
    match signature {
        _ if !seals_signed => SealStatus::Awaiting,
        Check::Valid { .. } => SealStatus::Awaiting,
        Check::UnknownKey { .. } if keys.is_empty() => SealStatus::Awaiting,
        _ => SealStatus::Planted,
    }
}
