//! Whether a manifest can be acted on. `expire` and `erase` decide from manifests (when an
//! archive ended, whom it holds), and what they decide deletes: a manifest rewritten in the
//! bucket by someone without the key must not get a young or held archive deleted, and then a
//! record signed for it. So a manifest counts only when its stored bytes are the ones a seal
//! of its job names, or its signature holds with the deployment's keys. A job with no seal at
//! all (archives written before sealing began, as `verify` reports them) has nothing to check
//! an unsigned manifest against: it is taken as it is.
//!
//! The seals themselves must be the deployment's: where a job's chain is signed, only seals
//! whose signature holds with its keys count, and an unsigned seal after a signed one was
//! planted; in an unsigned chain, only seals at or below the head the job's ledger records
//! (an attacker with bucket access can append a seal, not move the ledger). A removal record
//! is such a seal, so what an expiry or erasure record asks to finish is finished only when
//! the record counts.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::archive::manifest::manifest_key;
use crate::archive::reading::Listed;
use crate::archive::seal::{Seal, StoredSeal};
use crate::archive::transfer::hex;
use crate::signing::{Check, Keyring, check};

/// Why an archive whose manifest nothing vouches for is kept.
pub const NOT_VOUCHED: &str =
    "kept: its manifest is not the one sealed/signed (changed after the fact?)";

/// What vouches for a job's manifests: its chain of seals and the deployment's keys.
pub struct Vouching<'a> {
    /// Per document key, the SHA-256 the first seal naming it names.
    sealed: BTreeMap<String, String>,
    /// The job has no seal: nothing to check an unsigned manifest against.
    unsealed_job: bool,
    keyring: &'a Keyring,
}

/// The seals of `seals` (in chain order) that are the deployment's: signed with `keyring`,
/// or unsigned in a chain nothing before them signed, at or below the ledger's `head` when
/// the ledger records one.
pub fn trusted<'s>(
    seals: &'s [StoredSeal],
    keyring: &Keyring,
    head: Option<u64>,
) -> impl Iterator<Item = &'s Seal> {
    let mut signed_before = false;
    seals.iter().filter_map(move |stored| {
        let seal = stored.seal.as_ref().ok()?;
        let checked = check(&stored.bytes, keyring);
        let counts = match checked {
            Check::Valid { .. } => true,
            Check::Unsigned => !signed_before && head.is_none_or(|h| seal.sequence <= h),
            _ => false,
        };
        signed_before |= !matches!(checked, Check::Unsigned);
        counts.then_some(seal)
    })
}

impl<'a> Vouching<'a> {
    /// What the trusted seals of a job's chain (see [`trusted`]) and `keyring` vouch for.
    pub fn new(seals: &[StoredSeal], keyring: &'a Keyring, head: Option<u64>) -> Vouching<'a> {
        let mut sealed = BTreeMap::new();
        for seal in trusted(seals, keyring, head) {
            for covered in &seal.covers {
                sealed
                    .entry(covered.key.clone())
                    .or_insert_with(|| covered.sha256.clone());
            }
        }
        Vouching {
            sealed,
            unsealed_job: seals.is_empty(),
            keyring,
        }
    }

    /// Whether the manifest of `listed`, as stored, is one chatvault wrote.
    pub fn vouches(&self, listed: &Listed) -> bool {
        let key = manifest_key(&listed.manifest.key);
        if let Some(sha256) = self.sealed.get(&key)
            && same(&listed.stored, sha256)
        {
            return true;
        }
        match check(&listed.stored, self.keyring) {
            Check::Valid { .. } => true,
            Check::Unsigned => self.unsealed_job,
            _ => false,
        }
    }

    /// Whether no seal names the manifest of `listed` (written after the newest seal).
    pub fn unsealed(&self, listed: &Listed) -> bool {
        !self
            .sealed
            .contains_key(&manifest_key(&listed.manifest.key))
    }
}

/// Whether `stored` hashes to `sha256` (hex), the way a removal record names a document.
pub fn same(stored: &[u8], sha256: &str) -> bool {
    hex(&Sha256::digest(stored)) == sha256
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use chrono::DateTime;

    use super::*;
    use crate::archive::manifest::Manifest;
    use crate::archive::seal::{Covered, FORMAT, Seal};
    use crate::signing::{SigningKey, signed_json};

    const KEY: &str = "support/2026/01/01/channels-1.jsonl";

    fn manifest() -> Manifest {
        let at = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default();
        serde_json::from_value(serde_json::json!({
            "format": 1, "job": "support", "tick": at, "kind": "channels", "batch": 1,
            "window_since": at, "window_until": at, "task_id": "t", "export_version": "v2",
            "key": KEY, "bytes_source": 1, "bytes_stored": 1, "sha256": "00",
            "content_encoding": "none", "exported_at": null, "archived_at": at,
            "chatvault_version": "0"
        }))
        .expect("a manifest")
    }

    fn listed(stored: Vec<u8>) -> Listed {
        Listed {
            source: 0,
            location: 0,
            manifest: manifest(),
            cataloged: false,
            present: true,
            stored: Bytes::from(stored),
        }
    }

    fn seal_of(sequence: u64, bytes: &[u8]) -> Seal {
        Seal {
            format: FORMAT,
            job: "support".into(),
            sequence,
            sealed_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
            previous: None,
            covers: vec![Covered {
                key: manifest_key(KEY),
                sha256: hex(&Sha256::digest(bytes)),
            }],
            chatvault_version: "0".into(),
            removal: None,
        }
    }

    /// A seal as stored, signed by `signer` when given.
    fn stored(seal: Seal, signer: Option<&SigningKey>) -> StoredSeal {
        let bytes = signed_json(&seal, signer).expect("json");
        StoredSeal {
            key: seal.sequence.to_string(),
            sha256: hex(&Sha256::digest(&bytes)),
            bytes: Bytes::from(bytes),
            seal: Ok(seal),
        }
    }

    /// Seal 1 naming the manifest `bytes`, unsigned.
    fn sealing(bytes: &[u8]) -> StoredSeal {
        stored(seal_of(1, bytes), None)
    }

    #[test]
    fn only_the_deployment_s_seals_count_signed_ones_or_unsigned_ones_up_to_the_ledger_s_head() {
        let bytes = serde_json::to_vec_pretty(&manifest()).expect("json");
        let (key, _) = SigningKey::generate().expect("a key");
        let mut keyring = Keyring::default();
        keyring.add(key.public().clone());
        let sequences = |seals: &[StoredSeal], head| {
            trusted(seals, &keyring, head)
                .map(|s| s.sequence)
                .collect::<Vec<_>>()
        };
        let unsigned = [
            stored(seal_of(1, b"a"), None),
            stored(seal_of(2, &bytes), None),
        ];
        assert_eq!(sequences(&unsigned, None), [1, 2], "no ledger: all count");
        assert_eq!(
            sequences(&unsigned, Some(1)),
            [1],
            "seal 2 is past the ledger's head"
        );
        assert!(
            !Vouching::new(&unsigned, &keyring, Some(1)).vouches(&listed(bytes.clone())),
            "a seal appended past the head vouches for nothing"
        );
        let mixed = [
            stored(seal_of(1, b"a"), None),
            stored(seal_of(2, b"b"), Some(&key)),
            stored(seal_of(3, &bytes), None),
        ];
        assert_eq!(
            sequences(&mixed, None),
            [1, 2],
            "an unsigned seal after a signed one was planted"
        );
        let (other, _) = SigningKey::generate().expect("a key");
        let forged = [stored(seal_of(1, &bytes), Some(&other))];
        assert_eq!(sequences(&forged, None), Vec::<u64>::new());
    }

    #[test]
    fn the_bytes_a_seal_names_are_vouched_for_and_any_change_is_not() {
        let bytes = serde_json::to_vec_pretty(&manifest()).expect("json");
        let seals = [sealing(&bytes)];
        let keyring = Keyring::default();
        let vouching = Vouching::new(&seals, &keyring, None);
        assert!(vouching.vouches(&listed(bytes.clone())));
        let mut changed = bytes;
        changed.push(b'\n');
        assert!(!vouching.vouches(&listed(changed)));
    }

    #[test]
    fn a_signature_that_holds_vouches_and_one_by_an_unknown_key_does_not() {
        let (key, _) = SigningKey::generate().expect("a key");
        let signed = signed_json(&manifest(), Some(&key)).expect("signed");
        let seals = [sealing(b"other bytes")];
        let mut keyring = Keyring::default();
        assert!(!Vouching::new(&seals, &keyring, None).vouches(&listed(signed.clone())));
        keyring.add(key.public().clone());
        assert!(Vouching::new(&seals, &keyring, None).vouches(&listed(signed)));
    }

    #[test]
    fn a_job_without_seals_takes_unsigned_manifests_as_they_are() {
        let bytes = serde_json::to_vec_pretty(&manifest()).expect("json");
        let keyring = Keyring::default();
        assert!(Vouching::new(&[], &keyring, None).vouches(&listed(bytes.clone())));
        assert!(!Vouching::new(&[sealing(b"x")], &keyring, None).vouches(&listed(bytes)));
    }
}
