//! Which archives of a job an erasure has to replace: per original, the archive readers show
//! (its newest replacement with a manifest, else the original itself) and the older ones
//! beside it, which go once the replacement is recorded. Only archives whose manifest is
//! vouched for (`lifecycle::vouch`) take part: the others are left where they are.

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

/// Of one original: the highest replacement number listed, and the members accepted, each
/// with its number.
type Members<'a> = (u32, Vec<(u32, &'a Listed)>);

/// The groups of the archives listed that `trusted` accepts, by source and original key, and
/// the archives it does not accept. A group's `highest` counts those too, so a new
/// replacement never lands on a key one of them holds.
pub fn groups(
    listing: &Listing,
    trusted: impl Fn(&Listed) -> bool,
) -> (Vec<Group<'_>>, Vec<&Listed>) {
    let mut by_original: BTreeMap<(usize, String), Members<'_>> = BTreeMap::new();
    let mut untrusted = Vec::new();
    for listed in &listing.archives {
        let (original, n) = parse_replacement_key(&listed.manifest.key)
            .unwrap_or_else(|| (listed.manifest.key.clone(), 0));
        let (highest, members) = by_original.entry((listed.source, original)).or_default();
        *highest = (*highest).max(n);
        if trusted(listed) {
            members.push((n, listed));
        } else {
            untrusted.push(listed);
        }
    }
    let groups = by_original
        .into_values()
        .filter_map(|(highest, mut members)| {
            members.sort_by_key(|(n, _)| *n);
            let (_, current) = members.pop()?;
            Some(Group {
                current,
                older: members.into_iter().map(|(_, l)| l).collect(),
                highest,
            })
        })
        .collect();
    (groups, untrusted)
}
