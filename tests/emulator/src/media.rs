//! Which messages carry media, and what: a pure function of (seed, channel, k) like every other
//! property of a message, so every window, export version and refresh agrees. Users' avatars
//! and channels' images are one file each.

use crate::cdn_file::{MediaKind, path};
use crate::config::DataSpec;
use crate::rng::{hash, unit};

// Salts of the media draws.
const FILE_ID: u64 = 20;
const SIZE: u64 = 21;
const BENCH_FILE: u64 = 22;

/// The turns media attachments take (see [`DataSpec::media_every`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Image,
    File,
    Video,
    Audio,
    Voice,
    Svg,
    Large,
    Preview,
    Shared,
    Deleted,
}

const SLOTS: [Slot; 10] = [
    Slot::Image,
    Slot::File,
    Slot::Video,
    Slot::Audio,
    Slot::Voice,
    Slot::Svg,
    Slot::Large,
    Slot::Preview,
    Slot::Shared,
    Slot::Deleted,
];

const IMAGES: [MediaKind; 4] = [
    MediaKind::Png,
    MediaKind::Jpeg,
    MediaKind::Gif,
    MediaKind::Webp,
];

/// The kinds of the benchmark's ordinary files, by turns.
const ORDINARY: [MediaKind; 8] = [
    MediaKind::Png,
    MediaKind::Jpeg,
    MediaKind::Gif,
    MediaKind::Webp,
    MediaKind::Pdf,
    MediaKind::Mp4,
    MediaKind::Mp3,
    MediaKind::Ogg,
];

/// Where a link points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    /// A file of the CDN, by path (signed when written out).
    Cdn(String),
    /// A whole URL on another site, written as is.
    Foreign(String),
}

/// A media attachment of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MediaAttachment {
    /// The attachment's `type`; `None` for an Open Graph preview without one.
    pub kind: Option<&'static str>,
    pub title: String,
    pub title_link: Option<String>,
    pub text: Option<String>,
    pub asset: Option<Target>,
    pub image: Option<Target>,
    pub thumb: Option<Target>,
    pub og_scrape_url: Option<String>,
    pub mime_type: Option<&'static str>,
    pub file_size: Option<u64>,
}

impl MediaAttachment {
    /// The attachment's links, each with its JSON field name.
    pub fn targets(&self) -> impl Iterator<Item = (&'static str, &Target)> {
        [
            ("asset_url", self.asset.as_ref()),
            ("image_url", self.image.as_ref()),
            ("thumb_url", self.thumb.as_ref()),
        ]
        .into_iter()
        .filter_map(|(field, target)| target.map(|t| (field, t)))
    }
}

/// The media settings of a data set.
#[derive(Debug, Clone)]
pub(crate) struct MediaSpec {
    seed: u64,
    every: u64,
    large_file_size: u64,
    distinct: u64,
    sizes: Option<(u64, u64)>,
    pub avatars: bool,
}

impl MediaSpec {
    pub fn new(spec: &DataSpec) -> Self {
        Self {
            seed: spec.seed,
            every: spec.media_every,
            large_file_size: spec.large_file_size,
            distinct: spec.media_distinct,
            sizes: spec
                .media_sizes
                .map(|(min, max)| (min.max(1), max.max(min.max(1)))),
            avatars: spec.avatars,
        }
    }

    /// The path of the one file deleted from the CDN, when the data set has it.
    pub fn deleted_path(&self) -> Option<String> {
        (self.every > 0 && self.distinct == 0).then(|| self.fixed("deleted", MediaKind::Png))
    }

    /// The path of the one file many messages share.
    pub fn shared_path(&self) -> String {
        self.fixed("shared", MediaKind::Pdf)
    }

    /// The path of the large file.
    pub fn large_path(&self) -> String {
        path(
            "attachments",
            "large",
            self.large_file_size,
            "dataset",
            MediaKind::Zip,
        )
    }

    /// A user's avatar.
    pub fn avatar(&self, user_id: &str) -> Option<String> {
        self.avatars.then(|| {
            let id = format!("avatar-{user_id}");
            let size = 512 + hash(&[self.seed, SIZE, text_key(&id)]) % 1536;
            path("images", &id, size, "avatar", MediaKind::Png)
        })
    }

    /// A channel's image.
    pub fn channel_image(&self, kind: &str, id: &str) -> Option<String> {
        self.avatars.then(|| {
            let id = format!("channel-{kind}-{id}");
            let size = 512 + hash(&[self.seed, SIZE, text_key(&id)]) % 1536;
            path("images", &id, size, "channel", MediaKind::Png)
        })
    }

    /// The media attachment of message `k` of channel `channel`, if it carries one. `channels`
    /// is the data set's channel count (the benchmark's files go round all channels).
    pub fn attachment(
        &self,
        channel: usize,
        channels: usize,
        k: u64,
        foreign_base: &str,
    ) -> Option<MediaAttachment> {
        let n = k.checked_add(channel as u64)?;
        if self.every == 0 || n % self.every != 0 {
            return None;
        }
        let turn = n / self.every;
        if self.distinct > 0 {
            let file = turn
                .saturating_mul(channels as u64)
                .saturating_add(channel as u64)
                % self.distinct;
            return Some(self.ordinary_file(file));
        }
        let id = format!("{:016x}", hash(&[self.seed, FILE_ID, channel as u64, k]));
        let round = turn / SLOTS.len() as u64;
        Some(match SLOTS[(turn % SLOTS.len() as u64) as usize] {
            Slot::Image => {
                let kind = IMAGES[(round % IMAGES.len() as u64) as usize];
                let p = self.sized(&id, "photo", kind);
                image("image", &format!("photo.{kind}"), kind, Target::Cdn(p))
            }
            Slot::File => self.file("file", &id, "report", MediaKind::Pdf),
            Slot::Video => {
                let mut video = self.file("video", &id, "clip", MediaKind::Mp4);
                video.thumb = Some(Target::Cdn(self.sized(&id, "clip-thumb", MediaKind::Jpeg)));
                video
            }
            Slot::Audio => self.file("audio", &id, "song", MediaKind::Mp3),
            Slot::Voice => self.file("voiceRecording", &id, "recording", MediaKind::Ogg),
            Slot::Svg => {
                let p = path("attachments", &id, 300, "diagram", MediaKind::Svg);
                let mut svg = attachment(Some("file"), "diagram.svg");
                svg.asset = Some(Target::Cdn(p));
                svg.mime_type = Some(MediaKind::Svg.claimed_content_type());
                svg
            }
            Slot::Large => {
                let mut large = attachment(Some("file"), "dataset.zip");
                large.asset = Some(Target::Cdn(self.large_path()));
                large.mime_type = Some(MediaKind::Zip.claimed_content_type());
                large.file_size = Some(self.large_file_size);
                large
            }
            Slot::Preview => {
                let page = format!("{foreign_base}/articles/{id}");
                let picture = Target::Foreign(format!("{foreign_base}/images/{id}.png"));
                let kind = (round % 2 == 1).then_some("link");
                let mut preview = attachment(kind, "An article elsewhere");
                preview.title_link = Some(page.clone());
                preview.text = Some("A page on another site, previewed.".to_owned());
                preview.image = Some(picture.clone());
                preview.thumb = Some(picture);
                preview.og_scrape_url = Some(page);
                preview
            }
            Slot::Shared => {
                let mut shared = attachment(Some("file"), "handbook.pdf");
                shared.asset = Some(Target::Cdn(self.shared_path()));
                shared.mime_type = Some(MediaKind::Pdf.claimed_content_type());
                shared
            }
            Slot::Deleted => {
                let gone = Target::Cdn(self.fixed("deleted", MediaKind::Png));
                image("image", "gone.png", MediaKind::Png, gone)
            }
        })
    }

    /// The benchmark's file number `file`: one link, `image_url` for images, else `asset_url`.
    fn ordinary_file(&self, file: u64) -> MediaAttachment {
        let kind = ORDINARY[(file % ORDINARY.len() as u64) as usize];
        let id = format!("{:016x}", hash(&[self.seed, BENCH_FILE, file]));
        let p = self.sized(&id, "file", kind);
        let title = format!("file-{file}.{kind}");
        let mut attachment = attachment(Some(attachment_type(kind)), &title);
        attachment.mime_type = Some(kind.claimed_content_type());
        if IMAGES.contains(&kind) {
            attachment.image = Some(Target::Cdn(p));
        } else {
            attachment.asset = Some(Target::Cdn(p));
        }
        attachment
    }

    fn file(
        &self,
        kind_name: &'static str,
        id: &str,
        name: &str,
        kind: MediaKind,
    ) -> MediaAttachment {
        let p = self.sized(id, name, kind);
        let mut file = attachment(Some(kind_name), &format!("{name}.{kind}"));
        file.asset = Some(Target::Cdn(p));
        file.mime_type = Some(kind.claimed_content_type());
        file
    }

    /// A path for a file of `kind`, its size drawn from the configured range or the kind's.
    fn sized(&self, id: &str, name: &str, kind: MediaKind) -> String {
        let draw = hash(&[self.seed, SIZE, text_key(id), text_key(name)]);
        let (min, max) = self.sizes.unwrap_or(match kind {
            MediaKind::Pdf | MediaKind::Mp3 | MediaKind::Ogg => (2 << 10, 16 << 10),
            MediaKind::Mp4 => (8 << 10, 48 << 10),
            _ => (512, 4 << 10),
        });
        let size = (min as f64 * (max as f64 / min as f64).powf(unit(draw))) as u64;
        path("attachments", id, size.clamp(min, max), name, kind)
    }

    /// A file at a fixed path (the shared and the deleted one).
    fn fixed(&self, id: &str, kind: MediaKind) -> String {
        let name = if kind == MediaKind::Pdf {
            "handbook"
        } else {
            "gone"
        };
        self.sized(id, name, kind)
    }
}

/// The attachment `type` Stream gives a file of this kind.
fn attachment_type(kind: MediaKind) -> &'static str {
    match kind {
        MediaKind::Png | MediaKind::Jpeg | MediaKind::Gif | MediaKind::Webp => "image",
        MediaKind::Mp4 => "video",
        MediaKind::Mp3 | MediaKind::Ogg => "audio",
        _ => "file",
    }
}

fn attachment(kind: Option<&'static str>, title: &str) -> MediaAttachment {
    MediaAttachment {
        kind,
        title: title.to_owned(),
        title_link: None,
        text: None,
        asset: None,
        image: None,
        thumb: None,
        og_scrape_url: None,
        mime_type: None,
        file_size: None,
    }
}

/// An image attachment: `image_url` and `thumb_url` the same file, as Stream sends them.
fn image(kind_name: &'static str, title: &str, kind: MediaKind, target: Target) -> MediaAttachment {
    let mut image = attachment(Some(kind_name), title);
    image.image = Some(target.clone());
    image.thumb = Some(target);
    image.mime_type = Some(kind.claimed_content_type());
    image
}

/// A stable number for a piece of text (FNV-1a).
fn text_key(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::cdn_file::CdnFile;

    fn spec(every: u64) -> MediaSpec {
        MediaSpec::new(&DataSpec {
            media_every: every,
            ..DataSpec::default()
        })
    }

    fn paths(a: &MediaAttachment) -> Vec<String> {
        a.targets()
            .filter_map(|(_, t)| match t {
                Target::Cdn(p) => Some(p.clone()),
                Target::Foreign(_) => None,
            })
            .collect()
    }

    #[test]
    fn off_by_default() {
        let media = MediaSpec::new(&DataSpec::default());
        assert!((0..100).all(|k| media.attachment(0, 9, k, "https://x").is_none()));
        assert_eq!(media.avatar("user-000"), None);
        assert_eq!(media.deleted_path(), None);
    }

    #[test]
    fn every_nth_message_takes_its_turn_through_every_kind() {
        let media = spec(3);
        let all: Vec<_> = (0..300)
            .map(|k| media.attachment(1, 9, k, "https://example.com"))
            .collect();
        assert_eq!(all.iter().flatten().count(), 100);
        assert!(
            all.iter()
                .enumerate()
                .all(|(k, a)| a.is_some() == ((k + 1) % 3 == 0))
        );
        let types: HashSet<_> = all.iter().flatten().map(|a| a.kind).collect();
        for kind in [
            Some("image"),
            Some("file"),
            Some("video"),
            Some("audio"),
            Some("voiceRecording"),
            None,
            Some("link"),
        ] {
            assert!(types.contains(&kind), "{kind:?}");
        }
        let kinds: HashSet<_> = all
            .iter()
            .flatten()
            .flat_map(paths)
            .map(|p| CdnFile::at(42, &p).unwrap().kind)
            .collect();
        assert_eq!(kinds.len(), MediaKind::ALL.len(), "{kinds:?}");
        // The shared, deleted and large files are one path each, however many messages.
        let mut uses: HashMap<String, usize> = HashMap::new();
        for p in all.iter().flatten().flat_map(paths) {
            *uses.entry(p).or_default() += 1;
        }
        assert!(uses[&media.shared_path()] > 5);
        assert!(uses[&media.deleted_path().unwrap()] > 5);
        assert_eq!(
            CdnFile::at(42, &media.large_path()).unwrap().size,
            2 * 1024 * 1024
        );
        let previews: Vec<_> = all
            .iter()
            .flatten()
            .filter(|a| a.og_scrape_url.is_some())
            .collect();
        assert!(previews.iter().all(|a| paths(a).is_empty()
            && a.image
                == Some(Target::Foreign(format!(
                "https://example.com/images/{}.png",
                a.og_scrape_url.as_ref().unwrap().rsplit('/').next().unwrap()
            )))));
    }

    #[test]
    fn the_benchmark_reuses_its_distinct_files_in_turn_within_the_size_range() {
        let media = MediaSpec::new(&DataSpec {
            media_every: 1,
            media_distinct: 10,
            media_sizes: Some((50 << 10, 20 << 20)),
            ..DataSpec::default()
        });
        let mut seen: HashMap<String, usize> = HashMap::new();
        for k in 0..20 {
            for channel in 0..2 {
                let a = media.attachment(channel, 2, k, "https://x").unwrap();
                let p = paths(&a);
                assert_eq!(p.len(), 1);
                *seen.entry(p[0].clone()).or_default() += 1;
            }
        }
        assert_eq!(seen.len(), 10);
        assert!(seen.values().all(|n| *n == 4));
        for p in seen.keys() {
            let size = CdnFile::at(42, p).unwrap().size;
            assert!((50 << 10..=20 << 20).contains(&size), "{size}");
        }
        assert_eq!(media.deleted_path(), None);
    }
}
