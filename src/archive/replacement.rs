//! Archives an erasure replaced: the replacement of `<stem>.<ext>` is
//! `<stem>.erased-<n>.<ext>` (n = 1, 2, … as later erasures replace it again), in the same
//! folder, so it lists beside the original and the calendar places it on the same day. Its
//! manifest names what it supersedes; readers take the newest replacement of a key in place
//! of the original and every earlier replacement, including while an unfinished erasure has
//! not deleted them yet.

use serde::{Deserialize, Serialize};

/// The extensions chatvault writes (`{ext}` in a key template), longest first.
const EXTENSIONS: [&str; 6] = [
    ".jsonl.zst",
    ".jsonl.gz",
    ".jsonl",
    ".json.zst",
    ".json.gz",
    ".json",
];

const MARK: &str = ".erased-";

/// What a replacement's manifest says it supersedes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Supersedes {
    /// The archive replaced (the original, or an earlier replacement), and its SHA-256.
    pub key: String,
    pub sha256: String,
    /// The erasure document's id in the state store.
    pub erasure: String,
    /// What was taken out.
    pub removed: Removed,
}

/// Items an erasure took out of one archive, and the items of others it rewrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    pub messages: u64,
    pub reactions: u64,
    pub memberships: u64,
    pub reads: u64,
    /// The user's own record (a users export's line, a channel's member user object).
    pub users: u64,
    /// Other people's items in which the user's id and name were replaced by the placeholder.
    pub rewritten: u64,
    /// Captured files only the removed items referred to.
    pub media: u64,
}

/// The key of replacement `n` of the archive at `key` (an original or a replacement).
pub fn replacement_key(key: &str, n: u32) -> String {
    let (original, _) = parse_replacement_key(key).unwrap_or((key.to_owned(), 0));
    let (stem, ext) = split_extension(&original);
    format!("{stem}{MARK}{n}{ext}")
}

/// The original key and the replacement number of a replacement's key; `None` for a key
/// that is not one.
pub fn parse_replacement_key(key: &str) -> Option<(String, u32)> {
    let (stem, ext) = split_extension(key);
    let at = stem.rfind(MARK)?;
    let digits = &stem[at + MARK.len()..];
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = digits.parse().ok()?;
    Some((format!("{}{ext}", &stem[..at]), n))
}

/// `key` cut before its extension: the last one chatvault writes, or none.
fn split_extension(key: &str) -> (&str, &str) {
    let name_starts = key.rfind('/').map_or(0, |i| i + 1);
    EXTENSIONS
        .iter()
        .find(|ext| key.ends_with(*ext) && key.len() - ext.len() > name_starts)
        .map_or((key, ""), |ext| key.split_at(key.len() - ext.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_replacement_sits_before_the_extension_and_parses_back_to_its_original() {
        let key = "support/2026/01/02/channels-1.jsonl.zst";
        let first = replacement_key(key, 1);
        assert_eq!(first, "support/2026/01/02/channels-1.erased-1.jsonl.zst");
        assert_eq!(parse_replacement_key(&first), Some((key.to_owned(), 1)));
        let second = replacement_key(&first, 2);
        assert_eq!(second, "support/2026/01/02/channels-1.erased-2.jsonl.zst");
        assert_eq!(parse_replacement_key(&second), Some((key.to_owned(), 2)));
        assert_eq!(parse_replacement_key(key), None);
    }

    #[test]
    fn keys_without_a_known_extension_get_the_mark_at_the_end() {
        assert_eq!(replacement_key("a/b", 3), "a/b.erased-3");
        assert_eq!(
            parse_replacement_key("a/b.erased-3"),
            Some(("a/b".into(), 3))
        );
        assert_eq!(replacement_key("a/.jsonl", 1), "a/.jsonl.erased-1");
        assert_eq!(parse_replacement_key("a/b.erased-.jsonl"), None);
        assert_eq!(parse_replacement_key("a/b.erased-01.jsonl"), None);
        assert_eq!(parse_replacement_key("a/b.erased-x.jsonl"), None);
    }
}
