//! Legal holds: files in the `holds/` folder beside the global config, one hold each. A hold
//! has no end date: it lasts until its file is removed (in git, so the removal is reviewed and
//! recorded). An archive holding anything a hold covers is never expired nor erased.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The folder of hold files, beside the global config (without one, in the folder the config
/// would be looked for in). The job-file walk never enters a folder of this name.
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

impl HoldCovers {
    /// One line for people: each part given, e.g. `jobs support; users alice; message time
    /// from 2026-01-01T00:00:00Z`. Entries are user text: escape the line for its output.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (what, items) in [
            ("jobs", &self.jobs),
            ("channels", &self.channels),
            ("users", &self.users),
        ] {
            if !items.is_empty() {
                parts.push(format!("{what} {}", items.join(", ")));
            }
        }
        let utc = |t: DateTime<Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
        match (self.from, self.until) {
            (Some(from), Some(until)) => {
                parts.push(format!("message time {} to {}", utc(from), utc(until)));
            }
            (Some(from), None) => parts.push(format!("message time from {}", utc(from))),
            (None, Some(until)) => parts.push(format!("message time before {}", utc(until))),
            (None, None) => {}
        }
        parts.join("; ")
    }
}

/// One legal hold, as written in `holds/<name>.yaml` (or `.yml`, `.toml`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(
    title = "chatvault legal hold",
    extend("required" = ["reason", "set_by", "set_at", "covers"])
)]
pub struct HoldFile {
    /// Unique name of the hold among all hold files; shown wherever the hold keeps something.
    /// Letters, digits, `-`, `_` and `.`, starting with a letter or digit, at most 64
    /// characters. Defaults to the file name without its extension.
    pub name: Option<String>,
    /// The matter or the reason for the hold, in words.
    // Defaulted for serde only, so the other fields are still checked when one is missing;
    // the schema requires them.
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub reason: String,
    /// Who set the hold (a person or a team).
    #[serde(default)]
    #[schemars(length(min = 1))]
    pub set_by: String,
    /// When the hold was set: an RFC 3339 time (`2026-03-01T09:30:00Z`) or a date
    /// (`2026-03-01`, its 00:00 UTC).
    #[serde(default)]
    pub set_at: String,
    /// What the hold keeps: an archive is held when it matches every part given (a part left
    /// out matches everything); within a part, any entry matches. At least one part.
    pub covers: Option<CoversSpec>,
}

/// What a hold covers.
#[derive(Debug, Clone, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CoversSpec {
    /// Names of jobs (each must name a job file's job).
    pub jobs: Option<Vec<String>>,
    /// Channels as `type:id`, e.g. `messaging:general`.
    pub channels: Option<Vec<String>>,
    /// User ids: an archive is held when any item in it names the user (a message, reaction,
    /// membership, mention, read state or their user record).
    pub users: Option<Vec<String>>,
    /// Message time from which archives are held (inclusive): an RFC 3339 time or a date
    /// (its 00:00 UTC).
    pub from: Option<String>,
    /// Message time until which archives are held (exclusive), after `from`: an RFC 3339
    /// time or a date (its 00:00 UTC).
    pub until: Option<String>,
}
