//! What readers know of an archive's files: the newest media record of each archive read,
//! looked up by the link as the message holds it (signed or not).

use std::collections::HashMap;

use super::listing::{Listed, Listing};
use super::problem::Problem;
use crate::archive::media::record::{self, MediaRecord, Reference};

/// The newest records of some archives, by link without its query.
#[derive(Debug, Default)]
pub struct MediaIndex {
    by_url: HashMap<String, Found>,
    /// Records that could not be read.
    pub problems: Vec<Problem>,
}

/// A reference and where its file is stored, when it is.
#[derive(Debug, Clone)]
pub struct Found {
    pub reference: Reference,
    /// The media prefix of the record that names it.
    pub prefix: String,
    /// Index into the listing's locations: the store that holds the file.
    pub location: usize,
}

impl MediaIndex {
    /// Reads the newest media record of each of `archives` (one GET each).
    pub async fn load<'a>(
        listing: &Listing,
        archives: impl IntoIterator<Item = &'a Listed>,
    ) -> MediaIndex {
        let mut index = MediaIndex::default();
        for listed in archives {
            let Some(key) = listing.media_record(listed) else {
                continue;
            };
            match record::read_at(listing.store(listed), key).await {
                Ok(found) => index.add(found, listed.location),
                Err(e) => index.problems.push(Problem::new(key, e.to_string())),
            }
        }
        index
    }

    fn add(&mut self, found: MediaRecord, location: usize) {
        for reference in found.references {
            let entry = Found {
                prefix: found.prefix.clone(),
                location,
                reference,
            };
            // A stored outcome wins over another record's failure for the same file.
            match self.by_url.get(&entry.reference.url) {
                Some(held) if held.reference.outcome.stored().is_some() => {}
                _ => {
                    self.by_url.insert(entry.reference.url.clone(), entry);
                }
            }
        }
    }

    /// What became of the file `url` links to (signed or not), if a record names it.
    pub fn lookup(&self, url: &str) -> Option<&Found> {
        self.by_url.get(crate::links::without_query(url))
    }

    /// Every reference the records name, by link.
    pub fn found(&self) -> impl Iterator<Item = &Found> {
        self.by_url.values()
    }

    /// References not captured yet that a later run retries.
    pub fn outstanding(&self) -> usize {
        self.by_url
            .values()
            .filter(|f| f.reference.outcome.outstanding())
            .count()
    }
}
