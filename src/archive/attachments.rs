//! A message's attachments as readers show them: a name, a kind, the link without its signed
//! query, and what became of the file, from the media records (`reading::media`): stored (with
//! its SHA-256, size and type), not captured and why, or not looked at yet (an archive written
//! before media capture). The viewer and transcripts render this; neither reads a link's query.

use crate::archive::media::record::{Outcome, Stored};
use crate::archive::read::Message;
use crate::archive::reading::media::Found;
use crate::links::without_query;

/// The fields of an attachment that link to a file Stream hosts, in the order one is chosen.
const FILE_FIELDS: [&str; 3] = ["asset_url", "image_url", "thumb_url"];

/// One attachment.
#[derive(Debug)]
pub struct Attachment<'a> {
    /// Its title, fallback or name; `attachment` when it has none.
    pub name: String,
    /// Stream's `type` (`image`, `file`, `video`, …); `file` when it has none.
    pub kind: String,
    /// The link printed for it (the file's, or a link preview's page), without its query.
    pub link: Option<String>,
    pub file: File<'a>,
}

/// What became of an attachment's file.
#[derive(Debug)]
pub enum File<'a> {
    /// It links to no file (a link preview without an image, or no link at all).
    NoFile,
    /// In the store.
    Stored(&'a Found, &'a Stored),
    /// A record says why it is not in the store.
    NotCaptured(&'a Outcome),
    /// No record names it: its archive was written before media capture.
    NoRecord,
}

impl File<'_> {
    /// Why the file is not shown, in plain words; `None` when it is stored or there is none.
    pub fn why_not(&self) -> Option<String> {
        match self {
            File::NoFile | File::Stored(..) => None,
            File::NotCaptured(outcome) => why_not(outcome),
            File::NoRecord => Some(
                "not captured (archived before media capture; run `chatvault media`)".to_owned(),
            ),
        }
    }

    /// The stored file, if there is one.
    pub fn stored(&self) -> Option<(&Found, &Stored)> {
        match self {
            File::Stored(found, stored) => Some((found, stored)),
            _ => None,
        }
    }
}

/// Why a reference's file is not in the store, in plain words; `None` when it is.
pub fn why_not(outcome: &Outcome) -> Option<String> {
    Some(match outcome {
        Outcome::Stored(_) | Outcome::AlreadyStored(_) => return None,
        Outcome::Refused { reason } => {
            format!("not captured: refused: {reason}")
        }
        Outcome::TooLarge { limit } => format!("not captured: larger than {}", size(*limit)),
        Outcome::Gone { .. } => {
            "not captured: link expired and Stream no longer has the file".to_owned()
        }
        Outcome::Failed { reason } => format!("not captured yet: {reason}; a later run retries"),
    })
}

/// A byte count as people read it: `512 B`, `1.5 KiB`, `100.0 MiB`.
pub fn size(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut value = n as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The attachments of `m`, each file looked up with `lookup` (a link as the message holds it →
/// what a media record says of it).
pub fn of<'a>(m: &Message, lookup: impl Fn(&str) -> Option<&'a Found>) -> Vec<Attachment<'a>> {
    m.attachments
        .iter()
        .map(|a| {
            let field = |k: &str| {
                a.get(k)
                    .and_then(serde_json::Value::as_str)
                    .filter(|s| !s.is_empty())
            };
            let name = field("title")
                .or_else(|| field("fallback"))
                .or_else(|| field("name"))
                .unwrap_or("attachment");
            let kind = field("type").unwrap_or("file");
            let link = field("asset_url")
                .or_else(|| field("image_url"))
                .or_else(|| field("title_link"))
                .map(|url| without_query(url).to_owned());
            let urls: Vec<&str> = FILE_FIELDS
                .iter()
                .filter_map(|k| field(k))
                .filter(|u| crate::links::is_web(u))
                .collect();
            let found: Vec<&Found> = urls.iter().filter_map(|u| lookup(u)).collect();
            let file = if let Some((f, s)) = found
                .iter()
                .find_map(|f| f.reference.outcome.stored().map(|s| (*f, s)))
            {
                File::Stored(f, s)
            } else if let Some(f) = found.first() {
                File::NotCaptured(&f.reference.outcome)
            } else if urls.is_empty() {
                File::NoFile
            } else {
                File::NoRecord
            };
            Attachment {
                name: name.to_owned(),
                kind: kind.to_owned(),
                link,
                file,
            }
        })
        .collect()
}

/// The author's picture, when a record says it is stored.
pub fn avatar<'a>(m: &Message, lookup: impl Fn(&str) -> Option<&'a Found>) -> Option<&'a Stored> {
    let url = m.user.as_ref()?.image.as_deref()?;
    lookup(url)?.reference.outcome.stored()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::media::record::{Owner, Reference};

    fn found(url: &str, outcome: Outcome) -> Found {
        Found {
            reference: Reference {
                owner: Owner::Message("m".into()),
                field: "attachments[0].image_url".into(),
                url: url.into(),
                outcome,
            },
            prefix: "_media".into(),
            location: 0,
        }
    }

    #[test]
    fn each_attachment_says_what_became_of_its_file_and_prints_no_signature() {
        let stored = Stored {
            sha256: "ab".repeat(32),
            size: 3,
            content_type: "image/png".into(),
        };
        let records = [
            found("https://cdn/a.png", Outcome::Stored(stored.clone())),
            found(
                "https://cdn/big.mp4",
                Outcome::TooLarge { limit: 100 << 20 },
            ),
            found(
                "https://cdn/gone.pdf",
                Outcome::Gone {
                    reason: "404".into(),
                },
            ),
            found(
                "https://cdn/later.pdf",
                Outcome::Failed {
                    reason: "timed out".into(),
                },
            ),
            found(
                "https://evil.example/og.png",
                Outcome::Refused {
                    reason: "host evil.example is not allowed".into(),
                },
            ),
        ];
        let lookup = |url: &str| {
            records
                .iter()
                .find(|f| f.reference.url == without_query(url))
        };
        let m: Message = serde_json::from_value(serde_json::json!({
            "id": "m", "attachments": [
                {"type": "image", "fallback": "a.png",
                 "image_url": "https://cdn/a.png?Signature=S"},
                {"type": "video", "title": "big", "asset_url": "https://cdn/big.mp4?Expires=1"},
                {"type": "file", "title": "gone", "asset_url": "https://cdn/gone.pdf"},
                {"type": "file", "title": "later", "asset_url": "https://cdn/later.pdf"},
                {"type": "image", "title": "preview", "title_link": "https://evil.example/?q=1",
                 "image_url": "https://evil.example/og.png"},
                {"type": "file", "title": "old", "asset_url": "https://cdn/old.pdf?Signature=S"},
                {"title": "just a link", "title_link": "https://site.example/page?utm=1"},
                {"type": "file", "title": "script", "asset_url": "javascript:alert(1)//"},
            ]
        }))
        .expect("a message");
        let shown = of(&m, lookup);
        assert!(matches!(shown[0].file, File::Stored(_, s) if *s == stored));
        assert_eq!(shown[0].link.as_deref(), Some("https://cdn/a.png"));
        let why: Vec<Option<String>> = shown.iter().map(|a| a.file.why_not()).collect();
        assert_eq!(
            why,
            [
                None,
                Some("not captured: larger than 100.0 MiB".to_owned()),
                Some("not captured: link expired and Stream no longer has the file".to_owned()),
                Some("not captured yet: timed out; a later run retries".to_owned()),
                Some("not captured: refused: host evil.example is not allowed".to_owned()),
                Some(
                    "not captured (archived before media capture; run `chatvault media`)"
                        .to_owned()
                ),
                None,
                None,
            ]
        );
        assert!(
            matches!(shown[7].file, File::NoFile),
            "a link that is not a web link is no file to capture"
        );
        assert_eq!(shown[6].kind, "file");
        for a in &shown {
            let link = a.link.as_deref().unwrap_or("");
            assert!(!link.contains('?'), "{link}");
        }
    }
}
