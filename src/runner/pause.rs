//! Named points in a run where it can be told to stop and wait to be killed, for the crash
//! tests: `CHATVAULT_PAUSE_AT=<phase>` makes a real process freeze there after announcing it,
//! so a test can `kill -9` it at exactly that phase and check what a restart does.

use std::fmt;
use std::str::FromStr;

/// A phase of a batch's (or a tick's) life, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// The export task was created and its id recorded.
    Created,
    /// Polling the task.
    Polling,
    /// Part of the archive is uploaded, the rest is not.
    Transfer,
    /// The archive is uploaded; its manifest is not written.
    Manifest,
    /// Every archive of the tick is committed; the watermark has not moved.
    Watermark,
}

impl Phase {
    pub const ALL: [Phase; 5] = [
        Phase::Created,
        Phase::Polling,
        Phase::Transfer,
        Phase::Manifest,
        Phase::Watermark,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Created => "created",
            Phase::Polling => "polling",
            Phase::Transfer => "transfer",
            Phase::Manifest => "manifest",
            Phase::Watermark => "watermark",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Phase {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Phase::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Phase::ALL.iter().map(|p| p.name()).collect();
                format!("`{s}` is not a phase; expected one of {}", names.join(", "))
            })
    }
}
