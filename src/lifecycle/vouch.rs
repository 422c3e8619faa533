//! Whether a manifest can be acted on. `expire` and `erase` decide from manifests (when an
//! archive ended, whom it holds), and what they decide deletes: a manifest rewritten in the
//! bucket by someone without the key must not get a young or held archive deleted, and then a
//! record signed for it. So a manifest counts only when its stored bytes are the ones a seal
//! of its job names, or its signature holds with the deployment's keys. A job with no seal at
//! all (archives written before sealing began, as `verify` reports them) has nothing to check
//! an unsigned manifest against: it is taken as it is.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::archive::manifest::manifest_key;
use crate::archive::reading::Listed;
use crate::archive::seal::StoredSeal;
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

impl<'a> Vouching<'a> {
    pub fn new(seals: &[StoredSeal], keyring: &'a Keyring) -> Vouching<'a> {
        let mut sealed = BTreeMap::new();
        for seal in seals.iter().filter_map(|s| s.seal.as_ref().ok()) {
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
