//! Which archives of a job an erasure has to replace: per original, the archive readers show
//! (its newest replacement with a manifest, else the original itself) and the older ones
//! beside it, which go once the replacement is recorded.

use std::collections::BTreeMap;

use crate::archive::reading::{Listed, Listing};
use crate::archive::replacement::parse_replacement_key;

/// One original and its replacements, as listed.
#[derive(Debug)]
pub struct Group<'a> {
    /// What readers show: the highest-numbered archive of the group.
    pub current: &'a Listed,
    /// The others: replaced already, deleted once a record names them.
    pub older: Vec<&'a Listed>,
    /// The highest replacement number listed (0: none yet).
    pub highest: u32,
}

impl Group<'_> {
    /// Whether the current archive is the replacement erasure `id` wrote.
    pub fn replaced_by(&self, id: &str) -> bool {
        self.current
            .manifest
            .supersedes
            .as_ref()
            .is_some_and(|s| s.erasure == id)
    }
}

/// The groups of the archives listed, by source and original key.
pub fn groups(listing: &Listing) -> Vec<Group<'_>> {
    let mut by_original: BTreeMap<(usize, String), Vec<(u32, &Listed)>> = BTreeMap::new();
    for listed in &listing.archives {
        let (original, n) = parse_replacement_key(&listed.manifest.key)
            .unwrap_or_else(|| (listed.manifest.key.clone(), 0));
        by_original
            .entry((listed.source, original))
            .or_default()
            .push((n, listed));
    }
    by_original
        .into_values()
        .filter_map(|mut members| {
            members.sort_by_key(|(n, _)| *n);
            let (highest, current) = members.pop()?;
            Some(Group {
                current,
                older: members.into_iter().map(|(_, l)| l).collect(),
                highest,
            })
        })
        .collect()
}
