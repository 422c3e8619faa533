//! Legal holds: files in the `holds/` folder beside the global config, one hold each. A hold
//! has no end date: it lasts until its file is removed (in git, so the removal is reviewed and
//! recorded). An archive holding anything a hold covers is never expired nor erased.

use std::path::PathBuf;

use chrono::{DateTime, Utc};

/// The folder of hold files, beside the global config (or the working directory without
/// one). It lies outside the job-file walk.
pub const HOLDS_FOLDER: &str = "holds";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hold {
    /// Unique among the holds; shown wherever the hold keeps something.
    pub name: String,
    /// The matter or reason, in words.
    pub reason: String,
    /// Who set it.
    pub set_by: String,
    pub set_at: DateTime<Utc>,
    pub covers: HoldCovers,
    /// The file it was read from.
    pub file: PathBuf,
}

/// What a hold covers: an archive is covered when it matches every part given (a part left
/// out matches everything; at least one is given). Within a part, any entry matches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HoldCovers {
    /// Job names.
    pub jobs: Vec<String>,
    /// Channel cids (`type:id`).
    pub channels: Vec<String>,
    /// User ids: an archive covers a user when any item names them (a message, reaction,
    /// membership, mention, read state or their user record).
    pub users: Vec<String>,
    /// Message time, from (inclusive) …
    pub from: Option<DateTime<Utc>>,
    /// … until (exclusive).
    pub until: Option<DateTime<Utc>>,
}
