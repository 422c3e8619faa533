//! Durable state per job, in a store addressed by URL (a local folder by default; S3 or GCS
//! when several replicas share jobs): the ledger (watermark, in-flight export tasks,
//! outcomes, the head of its seal chain) and leases per tick.
//!
//! Everything rests on one conditional write, `PutMode::Create` (write only if absent),
//! because it is the one local folders, S3 and GCS all support; `PutMode::Update` does not
//! work on local folders. State is therefore sequences of small immutable JSON records whose
//! highest number is current, and racing writers compete for the next number.
//!
//! ```text
//! jobs/<job>/ledger/<seq:012>.json                the job's state, version <seq>
//! jobs/<job>/leases/<tick>/<attempt:06>.json      who runs <tick> (e.g. 20240131T235900Z)
//! erasures/<id>.json, erasures/<id>.done.json     erasure requests and what they removed
//! ```

pub mod erasures;
pub mod error;
mod head;
mod io;
pub mod keys;
pub mod lease;
pub mod ledger;
pub mod record;

use std::sync::OnceLock;

pub use error::StateError;
pub use head::seal_head;
pub use lease::{Lease, LeaseRecord, Leases};
pub use ledger::{Decision, Landed, Ledger, Versioned};
pub use record::{Claim, InFlight, JobState, Missing, OpenWindow, Outcome};

/// This process's name in ledger records and leases: `<host>-<pid>-<random>`. The random
/// part keeps it unique when pids repeat across containers, since a lease treats two
/// processes with one name as one holder.
pub fn process_id() -> &'static str {
    static ID: OnceLock<String> = OnceLock::new();
    ID.get_or_init(|| {
        let host = std::env::var("HOSTNAME")
            .ok()
            .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "host".to_owned());
        let host: String = host
            .chars()
            .take(64)
            .map(|c| {
                if c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_') {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!(
            "{host}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )
    })
}
