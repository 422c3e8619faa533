//! The media ground truth: every reference to a file the data set holds (message attachments,
//! users' avatars, channels' images) with what the bytes behind it are, so a test can check
//! what a capture stored, refused or found gone.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cdn_file::MediaKind;
use crate::data::Window;
use crate::media::Target;
use crate::state::Shared;

/// What holds a media reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum MediaOwner {
    /// A message, by id.
    Message(String),
    /// A user (the avatar), by id.
    User(String),
    /// A channel (its image), by cid.
    Channel(String),
}

/// One media reference of the data set and the file behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MediaRef {
    pub owner: MediaOwner,
    /// The channel of a message's reference; `None` for users and channels.
    pub cid: Option<String>,
    /// The JSON field within the owner: `attachments[0].image_url`, `image`, ….
    pub field: String,
    /// The link without its query (what a media record keeps).
    pub url: String,
    /// The CDN path (what [`Emulator::cdn_file_bytes`](crate::Emulator::cdn_file_bytes)
    /// takes); `None` for a link to another site.
    pub path: Option<String>,
    /// The kind of bytes; `None` for a link to another site.
    pub kind: Option<MediaKind>,
    /// The file's size in bytes (0 for a link to another site).
    pub size: u64,
    /// The SHA-256 of the file's bytes, lower-case hex; `None` for a link to another site.
    pub sha256: Option<String>,
    /// When the owner was posted (a message) or the emulator started (users, channels): an
    /// exported link expires `link_lifetime` after it.
    pub signed_from: DateTime<Utc>,
    /// The link points at `foreign_base`, not the CDN.
    pub foreign: bool,
    /// The file was deleted from the CDN (it answers 404).
    pub deleted: bool,
    /// The data set's large file (`large_file_size`).
    pub large: bool,
}

/// Every reference of the messages posted by now (truncated ones and those of soft-deleted
/// channels included), then every user's avatar and every channel's image; each file is
/// hashed once per emulator.
pub(crate) fn media_truth(shared: &Shared) -> Vec<MediaRef> {
    let data = &shared.data;
    let now = shared.clock.now();
    let large = data.media.large_path();
    let describe = |owner: MediaOwner,
                    cid: Option<String>,
                    field: String,
                    target: &Target,
                    signed_from: DateTime<Utc>| {
        match target {
            Target::Foreign(url) => MediaRef {
                owner,
                cid,
                field,
                url: url.clone(),
                path: None,
                kind: None,
                size: 0,
                sha256: None,
                signed_from,
                foreign: true,
                deleted: false,
                large: false,
            },
            Target::Cdn(path) => {
                let digest = shared.digest(path);
                MediaRef {
                    owner,
                    cid,
                    field,
                    url: data.cdn.unsigned(path),
                    path: Some(path.clone()),
                    kind: digest.as_ref().map(|d| d.0),
                    size: digest.as_ref().map_or(0, |d| d.1),
                    sha256: digest.map(|d| d.2),
                    signed_from,
                    foreign: false,
                    deleted: shared.cdn_file_deleted(path),
                    large: *path == large,
                }
            }
        }
    };
    let mut refs = Vec::new();
    for channel in &data.channels {
        for message in data.messages(channel, Window::default(), now, true) {
            let detail = data.detail(&message, now);
            let Some(media) = &detail.media else {
                continue;
            };
            let index = detail.attachments.len();
            for (field, target) in media.targets() {
                refs.push(describe(
                    MediaOwner::Message(detail.id.clone()),
                    Some(channel.cid.clone()),
                    format!("attachments[{index}].{field}"),
                    target,
                    message.created_at,
                ));
            }
        }
    }
    for user in &data.users {
        if let Some(path) = &user.image {
            refs.push(describe(
                MediaOwner::User(user.id.clone()),
                None,
                "image".to_owned(),
                &Target::Cdn(path.clone()),
                data.cdn.start,
            ));
        }
    }
    for channel in &data.channels {
        if let Some(path) = &channel.image {
            refs.push(describe(
                MediaOwner::Channel(channel.cid.clone()),
                None,
                "image".to_owned(),
                &Target::Cdn(path.clone()),
                data.cdn.start,
            ));
        }
    }
    refs
}
