//! The head of a job's seal chain as the ledger keeps it: what `verify` compares with the
//! newest seal in the destination, since a chain cut short at its end leaves no gap there.

use super::StateError;
use super::ledger::Ledger;
use crate::archive::seal::SealHead;
use crate::store::Store;

/// The newest seal the job's runs recorded in the ledger in `state`; `None` when no run has
/// recorded one (no run since seals exist, or none whose end was recorded yet). A run killed
/// between its seal and its end leaves the head one seal behind the chain: an older head that
/// the chain holds is no break, a head the chain lacks is.
pub async fn seal_head(state: &Store, job: &str) -> Result<Option<SealHead>, StateError> {
    let loaded = Ledger::open(state.clone(), job).load().await?;
    Ok(loaded.into_value().seal)
}
