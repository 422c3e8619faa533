//! What could not be read, and where: one type for a store that cannot be listed, a manifest
//! that cannot be read and an archive that is missing or corrupt, so every reader reports
//! them alike.

use serde::Serialize;

use crate::archive::manifest::ManifestError;
use crate::archive::read::ReadError;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Problem {
    /// The archive's object key, the manifest's key, or the location's URL.
    pub key: String,
    /// What is wrong, as a sentence.
    pub problem: String,
}

impl Problem {
    pub fn new(key: impl Into<String>, problem: impl Into<String>) -> Problem {
        Problem {
            key: key.into(),
            problem: problem.into(),
        }
    }

    /// An archive that could not be read.
    pub fn archive(key: &str, e: &ReadError) -> Problem {
        let problem = match e {
            ReadError::Missing => {
                "missing: its manifest names it, the store has no such object".to_owned()
            }
            other => other.to_string(),
        };
        Problem::new(key, problem)
    }

    /// A manifest that could not be read.
    pub fn manifest(key: &str, e: &ManifestError) -> Problem {
        let problem = match e {
            ManifestError::Invalid { source, .. } => format!("not a chatvault manifest: {source}"),
            other => other.to_string(),
        };
        Problem::new(key, problem)
    }
}
