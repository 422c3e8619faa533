//! A removal record is the newest seal of its job's chain, so the job's ledger moves its seal
//! head to it, as a run's end does with its seal: a record taken away from the end of the
//! chain, or rewritten there, then shows in `verify --job` with the state.

use crate::archive::seal::SealHead;
use crate::state::{Ledger, StateError};
use crate::store::Store;

/// Moves `job`'s ledger seal head to `head` unless it is at a later seal already. A job
/// without a ledger (no run recorded anything yet) gets none.
pub async fn record_head(state: &Store, job: &str, head: &SealHead) -> Result<(), StateError> {
    let ledger = Ledger::open(state.clone(), job);
    if ledger.load().await?.seq() == 0 {
        return Ok(());
    }
    ledger
        .update(|s| {
            if s.seal.as_ref().is_none_or(|h| h.sequence < head.sequence) {
                s.seal = Some(head.clone());
            }
        })
        .await?;
    Ok(())
}
