//! The seeded data set. Users and channels are few and kept in memory; messages are never
//! stored: message `k` of a channel lives in its own time slot and every property of it is a
//! pure function of (seed, channel, k), so any time window can be enumerated in order, forwards
//! or backwards, at any size.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::cdn_link::Cdn;
use crate::clock::add;
use crate::config::DataSpec;
use crate::media::{MediaAttachment, MediaSpec};
use crate::rng::{hash, mix, unmix, uuid_string};

/// Channel types, each with the prefix of its channels' IDs.
const CHANNEL_TYPES: [(&str, &str); 3] = [
    ("messaging", "general"),
    ("team", "project"),
    ("livestream", "broadcast"),
];
const TEAMS: [&str; 3] = ["red", "blue", "green"];
const FIRST_NAMES: [&str; 8] = [
    "Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken",
];
pub(crate) const REACTION_TYPES: [&str; 5] = ["like", "love", "haha", "wow", "sad"];
const WORDS: [&str; 32] = [
    "archive", "backup", "bucket", "channel", "daily", "export", "file", "green", "hello",
    "indeed", "json", "later", "message", "night", "okay", "please", "quick", "ready", "schedule",
    "thanks", "upload", "vault", "window", "yes", "zone", "coffee", "lunch", "meeting", "review",
    "ship", "test", "done",
];
/// Texts that are markup, a script or an escaped entity: a viewer must show each exactly as
/// written, never interpret it ([`DataSpec::hostile_every`] sprinkles them in).
pub const HOSTILE_TEXTS: [&str; 5] = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(2)</script>",
    "\"><svg onload=alert(3)>",
    "&lt;b&gt;not bold&lt;/b&gt;",
    "<img src=x onerror=\"window.__chatvault_pwned=1\">",
];

/// The reversed file names a [`DataSpec::bidi_every`] message ends with, after U+202E: shown
/// raw, `gnp.exe` reads `exe.png`.
pub const BIDI_NAMES: [&str; 3] = ["gnp.exe", "fdp.scr", "txt.bat"];

// Salts keeping the hashed properties of one message independent of each other.
const TIME: u64 = 1;
const TEXT: u64 = 2;
const AUTHOR: u64 = 3;
const DELETED: u64 = 4;
const REACTIONS: u64 = 5;
const MESSAGE_ID: u64 = 6;
const REPLY: u64 = 7;
const HOSTILE: u64 = 8;
const TANGLE: u64 = 9;
const NOWHERE: u64 = 10;
const UNDATED: u64 = 11;
const BIDI: u64 = 12;

/// Messages per block of a tangled loop: a loop starts at a block's first message and takes it
/// and the one or two after it.
const LOOP_BLOCK: u64 = 3;

/// Microseconds in a day: replies stay within the UTC day of their parent.
const DAY_US: i64 = 86_400_000_000;

/// How long after being posted a deleted message was deleted.
const DELETED_AFTER: i64 = 90;
/// Seconds between the reactions to one message.
const REACTION_SPACING: i64 = 20;

/// A user of the app.
#[derive(Debug, Clone)]
pub(crate) struct User {
    pub id: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The CDN path of the avatar (with [`DataSpec::avatars`]).
    pub image: Option<String>,
}

/// A channel of the data set.
#[derive(Debug, Clone)]
pub(crate) struct Channel {
    /// Index in [`DataSet::channels`], also the channel's hashing key.
    pub ordinal: usize,
    pub kind: &'static str,
    pub id: String,
    pub cid: String,
    pub name: String,
    /// The `team` field (team channels only).
    pub team: Option<&'static str>,
    pub created_at: DateTime<Utc>,
    /// Indexes into [`DataSet::users`]; the first member created the channel.
    pub members: Vec<usize>,
    pub truncated_at: Option<DateTime<Utc>>,
    pub deleted_at: Option<DateTime<Utc>>,
    /// The CDN path of the channel's image (with [`DataSpec::avatars`]).
    pub image: Option<String>,
}

impl Channel {
    /// Whether the channel was soft-deleted at `at`.
    pub fn deleted_by(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.deleted_at.filter(|d| *d <= at)
    }

    /// Whether the channel had been truncated at `at`.
    pub fn truncated_by(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.truncated_at.filter(|t| *t <= at)
    }
}

/// One message, cheap to produce; [`DataSet::detail`] fills in the rest.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Message {
    pub channel: usize,
    pub k: u64,
    pub created_at: DateTime<Utc>,
}

/// Everything else about a message, as of a snapshot time.
#[derive(Debug, Clone)]
pub(crate) struct MessageDetail {
    pub id: String,
    pub author: usize,
    pub text: String,
    /// The ID of the message this one replies to in a thread.
    pub parent_id: Option<String>,
    /// Replies to this message posted by the snapshot.
    pub reply_count: u32,
    /// Set when the message had been (soft-)deleted by the snapshot.
    pub deleted_at: Option<DateTime<Utc>>,
    /// Exported without `created_at` (see [`DataSpec::undated_every`]).
    pub undated: bool,
    /// File names of its attachments (only [`DataSpec::bidi_every`] messages have one).
    pub attachments: Vec<String>,
    /// Its media attachment (see [`DataSpec::media_every`]), after the `attachments`.
    pub media: Option<MediaAttachment>,
    /// Reactions given by the snapshot, oldest first.
    pub reactions: Vec<Reaction>,
}

/// A reaction to a message.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reaction {
    pub user: usize,
    pub kind: &'static str,
    pub created_at: DateTime<Utc>,
}

/// A message time window, half-open: `[since, until)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Window {
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// The seeded data set.
#[derive(Debug)]
pub(crate) struct DataSet {
    seed: u64,
    /// See [`DataSpec::reply_every`]; below 2, no replies.
    reply_every: u64,
    /// See [`DataSpec::hostile_every`]; 0, no hostile texts.
    hostile_every: u64,
    /// See [`DataSpec::tangle_every`], [`DataSpec::undated_every`], [`DataSpec::bidi_every`];
    /// 0, none.
    tangle_every: u64,
    undated_every: u64,
    bidi_every: u64,
    /// The start of history: message 0 of every channel falls in the slot starting here.
    origin_us: i64,
    slot_us: i64,
    /// Mints the media links.
    pub cdn: Cdn,
    pub media: MediaSpec,
    pub users: Vec<User>,
    pub channels: Vec<Channel>,
    by_cid: HashMap<String, usize>,
}

impl DataSet {
    /// Builds the data set whose history ends at `start`.
    pub fn new(spec: &DataSpec, start: DateTime<Utc>) -> Self {
        let history = Duration::days(i64::from(spec.days_of_history));
        let origin = start.checked_sub_signed(history).unwrap_or(start);
        let per_day = spec.messages_per_channel_per_day.clamp(1, DAY_US as u64);
        let slot_us = (DAY_US as u64 / per_day) as i64;
        let user_count = spec.users.max(1);
        let media = MediaSpec::new(spec);
        let users: Vec<User> = (0..user_count)
            .map(|i| {
                let id = format!("user-{i:03}");
                User {
                    image: media.avatar(&id),
                    id,
                    name: format!("{} {i}", FIRST_NAMES[i % FIRST_NAMES.len()]),
                    created_at: add(origin, -Duration::days(30)),
                }
            })
            .collect();
        let members_per_channel = spec.members_per_channel.clamp(1, user_count);
        let mut channels = Vec::new();
        for (kind, prefix) in CHANNEL_TYPES {
            for i in 0..spec.channels_per_type {
                let ordinal = channels.len();
                let id = format!("{prefix}-{i:03}");
                let first = ordinal * 7 % user_count;
                channels.push(Channel {
                    image: media.channel_image(kind, &id),
                    ordinal,
                    kind,
                    cid: format!("{kind}:{id}"),
                    id,
                    name: format!("{} {i}", capitalise(prefix)),
                    team: (kind == "team").then_some(TEAMS[i % TEAMS.len()]),
                    created_at: add(
                        origin,
                        -Duration::hours(1) - Duration::minutes(ordinal as i64),
                    ),
                    members: (0..members_per_channel)
                        .map(|m| (first + m) % user_count)
                        .collect(),
                    truncated_at: (i < spec.truncated_per_type).then(|| add(origin, history / 3)),
                    deleted_at: (i.saturating_add(spec.soft_deleted_per_type)
                        >= spec.channels_per_type)
                        .then(|| add(origin, history * 2 / 3)),
                });
            }
        }
        let by_cid = channels
            .iter()
            .map(|c| (c.cid.clone(), c.ordinal))
            .collect();
        Self {
            seed: spec.seed,
            reply_every: spec.reply_every,
            hostile_every: spec.hostile_every,
            tangle_every: spec.tangle_every,
            undated_every: spec.undated_every,
            bidi_every: spec.bidi_every,
            origin_us: origin.timestamp_micros(),
            slot_us,
            cdn: Cdn::new(
                spec.seed,
                "http://localhost".to_owned(),
                Duration::days(14),
                "https://example.com".to_owned(),
                start,
            ),
            media,
            users,
            channels,
            by_cid,
        }
    }

    /// The same data set with its links minted by `cdn`.
    pub fn with_cdn(self, cdn: Cdn) -> Self {
        Self { cdn, ..self }
    }

    /// The channel with this CID.
    pub fn channel(&self, cid: &str) -> Option<&Channel> {
        self.by_cid.get(cid).map(|&i| &self.channels[i])
    }

    /// The user with this ID.
    pub fn user(&self, id: &str) -> Option<usize> {
        self.users.iter().position(|u| u.id == id)
    }

    /// The messages of `channel` in `window` that existed at `snapshot`, oldest first. Messages
    /// of a soft-deleted channel stop at its deletion; messages before a truncation are left out
    /// unless `include_truncated`.
    pub fn messages(
        &self,
        channel: &Channel,
        window: Window,
        snapshot: DateTime<Utc>,
        include_truncated: bool,
    ) -> Messages<'_> {
        let (from_us, end_us) = self.bounds(channel, window, snapshot, include_truncated);
        let k = if from_us > self.origin_us {
            (from_us.saturating_sub(self.origin_us) / self.slot_us) as u64
        } else {
            0
        };
        Messages {
            data: self,
            channel: channel.ordinal,
            k,
            from_us,
            end_us,
        }
    }

    /// The newest `n` messages of `channel` at `at` (truncated ones left out), oldest first.
    pub fn latest(&self, channel: &Channel, at: DateTime<Utc>, n: usize) -> Vec<Message> {
        let (from_us, end_us) = self.bounds(channel, Window::default(), at, false);
        let mut found = Vec::new();
        if end_us <= self.origin_us || n == 0 {
            return found;
        }
        let mut k = ((end_us - 1).saturating_sub(self.origin_us) / self.slot_us) as u64;
        loop {
            let t = self.time_us(channel.ordinal, k);
            if t < from_us {
                break;
            }
            if t < end_us {
                found.push(self.message_at(channel.ordinal, k, t));
                if found.len() == n {
                    break;
                }
            }
            if k == 0 {
                break;
            }
            k -= 1;
        }
        found.reverse();
        found
    }

    /// The message's ID: UUID-shaped, unique by construction (a bijection of (seed, channel, k)).
    pub fn message_id(&self, message: &Message) -> String {
        let hi = mix(self.seed ^ mix(MESSAGE_ID.wrapping_add(message.channel as u64)));
        uuid_string(hi, mix(message.k ^ hi))
    }

    /// The message with this ID, if one was posted by `at` (in a channel not deleted before).
    /// Message IDs are a bijection of (seed, channel, k), so this inverts it rather than search.
    pub fn find_message(&self, id: &str, at: DateTime<Utc>) -> Option<Message> {
        let digits: String = id.chars().filter(|c| *c != '-').collect();
        if digits.len() != 32 || id.len() != 36 {
            return None;
        }
        let hi = u64::from_str_radix(&digits[..16], 16).ok()?;
        let lo = u64::from_str_radix(&digits[16..], 16).ok()?;
        let channel = (0..self.channels.len())
            .find(|&c| mix(self.seed ^ mix(MESSAGE_ID.wrapping_add(c as u64))) == hi)?;
        let k = unmix(lo) ^ hi;
        let t = self.time_us(channel, k);
        let (_, end_us) = self.bounds(&self.channels[channel], Window::default(), at, true);
        let message = self.message_at(channel, k, t);
        (k < i64::MAX as u64 / self.slot_us as u64 && t < end_us && self.message_id(&message) == id)
            .then_some(message)
    }

    /// The rest of a message, as it was at `snapshot`.
    pub fn detail(&self, message: &Message, snapshot: DateTime<Utc>) -> MessageDetail {
        let channel = &self.channels[message.channel];
        let key = |salt: u64| hash(&[self.seed, salt, message.channel as u64, message.k]);
        let members = &channel.members;
        let author = members[(key(AUTHOR) % members.len() as u64) as usize];

        let hostile = key(HOSTILE);
        let mut text = if self.hostile_every > 0 && hostile % self.hostile_every == 0 {
            HOSTILE_TEXTS[((hostile >> 32) % HOSTILE_TEXTS.len() as u64) as usize].to_owned()
        } else {
            words(key(TEXT))
        };
        let bidi = key(BIDI);
        let mut attachments = Vec::new();
        if self.bidi_every > 0 && bidi % self.bidi_every == 0 {
            let name = BIDI_NAMES[((bidi >> 32) % BIDI_NAMES.len() as u64) as usize];
            text.push_str(" \u{202E}");
            text.push_str(name);
            attachments.push(format!("\u{202E}{name}"));
        }

        let deleted_at = (key(DELETED) % 29 == 0)
            .then(|| add(message.created_at, Duration::seconds(DELETED_AFTER)))
            .filter(|d| *d <= snapshot);

        let reaction_hash = key(REACTIONS);
        let count = if reaction_hash % 2 == 0 {
            0
        } else {
            (1 + (reaction_hash >> 8) % 3) as usize
        };
        let first = (reaction_hash >> 12) as usize;
        let reactions = (0..count.min(members.len()))
            .map(|j| Reaction {
                user: members[(first + j) % members.len()],
                kind: REACTION_TYPES[((reaction_hash >> (16 + 4 * j)) % 5) as usize],
                created_at: add(
                    message.created_at,
                    Duration::seconds(REACTION_SPACING * (j as i64 + 1)),
                ),
            })
            .filter(|r| r.created_at <= snapshot)
            .collect();

        let parent_id = match self.tangled_parent(message) {
            Some(tangled) => Some(tangled),
            None => self.parent(message).map(|parent| self.message_id(&parent)),
        };
        MessageDetail {
            id: self.message_id(message),
            author,
            text,
            parent_id,
            reply_count: self.reply_count(message, snapshot),
            deleted_at,
            undated: self.undated_every > 0 && key(UNDATED) % self.undated_every == 0,
            attachments,
            media: self.media.attachment(
                message.channel,
                self.channels.len(),
                message.k,
                &self.cdn.foreign_base,
            ),
            reactions,
        }
    }

    /// The loop message `k` of `channel` belongs to, as `(first message, length)`: a block's
    /// first message that draws a loop takes the next one or two with it.
    fn tangled_loop(&self, channel: usize, k: u64) -> Option<(u64, u64)> {
        let start = k - k % LOOP_BLOCK;
        let draw = hash(&[self.seed, TANGLE, channel as u64, start]);
        if self.tangle_every == 0 || draw % self.tangle_every != 0 || (draw >> 32) % 4 != 3 {
            return None;
        }
        let len = 2 + (draw >> 40) % (LOOP_BLOCK - 1);
        (k - start < len).then_some((start, len))
    }

    /// The parent id a tangled message has (see [`DataSpec::tangle_every`]): the next message
    /// of its loop (the last one the first), or by its own draw the message before it, itself,
    /// or an id no message has. A pure function of (seed, channel, k), like every parent.
    fn tangled_parent(&self, message: &Message) -> Option<String> {
        let (channel, k) = (message.channel, message.k);
        let at = |k: u64| self.message_at(channel, k, self.time_us(channel, k));
        if let Some((start, len)) = self.tangled_loop(channel, k) {
            let next = if k + 1 < start + len { k + 1 } else { start };
            return Some(self.message_id(&at(next)));
        }
        let draw = hash(&[self.seed, TANGLE, channel as u64, k]);
        if self.tangle_every == 0 || draw % self.tangle_every != 0 {
            return None;
        }
        Some(match (draw >> 32) % 4 {
            1 => self.message_id(message),
            2 => {
                let hi = mix(self.seed ^ mix(NOWHERE.wrapping_add(channel as u64)));
                uuid_string(hi, mix(k ^ hi))
            }
            // A loop's draw off a block's start: the message before, like 0.
            _ => self.message_id(&at(k.saturating_sub(1))),
        })
    }

    /// Whether message `k` of `channel` drew a reply. Only a drawn message can be a reply, and
    /// only an undrawn one a parent, so a parent is never itself a reply.
    fn drew_reply(&self, channel: usize, k: u64) -> bool {
        self.reply_every >= 2
            && hash(&[self.seed, REPLY, channel as u64, k]) % self.reply_every == 0
    }

    /// The message `message` replies to: the nearest earlier undrawn message of its channel,
    /// if posted the same UTC day. A pure function of (seed, channel, k) like everything else,
    /// so every window agrees on it; the walk back stops at the day's start.
    fn parent(&self, message: &Message) -> Option<Message> {
        if !self.drew_reply(message.channel, message.k) {
            return None;
        }
        let day = message.created_at.timestamp_micros().div_euclid(DAY_US);
        let mut k = message.k;
        while k > 0 {
            k -= 1;
            let t = self.time_us(message.channel, k);
            if t.div_euclid(DAY_US) != day {
                return None;
            }
            if !self.drew_reply(message.channel, k) {
                return Some(self.message_at(message.channel, k, t));
            }
        }
        None
    }

    /// The replies to `message` posted by `snapshot`: if it did not draw a reply itself, the
    /// drawn messages right after it the same UTC day (each finds `message` as its parent).
    fn reply_count(&self, message: &Message, snapshot: DateTime<Utc>) -> u32 {
        if self.reply_every < 2 || self.drew_reply(message.channel, message.k) {
            return 0;
        }
        let day = message.created_at.timestamp_micros().div_euclid(DAY_US);
        let end_us = snapshot.timestamp_micros();
        let mut count = 0;
        let mut k = message.k.saturating_add(1);
        while self.drew_reply(message.channel, k) {
            let t = self.time_us(message.channel, k);
            if t.div_euclid(DAY_US) != day || t > end_us {
                break;
            }
            count += 1;
            k += 1;
        }
        count
    }

    /// `[from, end)` in microseconds for a channel's messages.
    fn bounds(
        &self,
        channel: &Channel,
        window: Window,
        snapshot: DateTime<Utc>,
        include_truncated: bool,
    ) -> (i64, i64) {
        let mut from_us = window
            .since
            .map_or(self.origin_us, |t| t.timestamp_micros());
        if let Some(truncated) = channel
            .truncated_by(snapshot)
            .filter(|_| !include_truncated)
        {
            from_us = from_us.max(truncated.timestamp_micros());
        }
        // The snapshot is inclusive: a message posted at the snapshot's microsecond exists.
        let mut end_us = snapshot.timestamp_micros().saturating_add(1);
        if let Some(until) = window.until {
            end_us = end_us.min(until.timestamp_micros());
        }
        if let Some(deleted) = channel.deleted_by(snapshot) {
            end_us = end_us.min(deleted.timestamp_micros());
        }
        (from_us, end_us)
    }

    fn time_us(&self, channel: usize, k: u64) -> i64 {
        let jitter = hash(&[self.seed, TIME, channel as u64, k]) % self.slot_us as u64;
        self.origin_us
            .saturating_add((k as i64).saturating_mul(self.slot_us))
            .saturating_add(jitter as i64)
    }

    fn message_at(&self, channel: usize, k: u64, t_us: i64) -> Message {
        Message {
            channel,
            k,
            created_at: DateTime::from_timestamp_micros(t_us).unwrap_or(DateTime::UNIX_EPOCH),
        }
    }
}

/// The messages of one channel in a window, oldest first (see [`DataSet::messages`]).
pub(crate) struct Messages<'a> {
    data: &'a DataSet,
    channel: usize,
    k: u64,
    from_us: i64,
    end_us: i64,
}

impl Iterator for Messages<'_> {
    type Item = Message;

    fn next(&mut self) -> Option<Message> {
        loop {
            // Message k falls in [origin + k·slot, origin + (k+1)·slot): times only grow with k.
            let t = self.data.time_us(self.channel, self.k);
            if t >= self.end_us {
                return None;
            }
            let k = self.k;
            self.k += 1;
            if t >= self.from_us {
                return Some(self.data.message_at(self.channel, k, t));
            }
        }
    }
}

/// A message's words: 3 to 12 of [`WORDS`], picked by `text_hash`.
fn words(text_hash: u64) -> String {
    let count = 3 + text_hash % 10;
    let mut text = String::with_capacity(count as usize * 8);
    for i in 0..count {
        if i > 0 {
            text.push(' ');
        }
        text.push_str(WORDS[(mix(text_hash.wrapping_add(i)) % WORDS.len() as u64) as usize]);
    }
    text
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    fn start() -> DateTime<Utc> {
        "2025-06-01T00:00:00Z".parse().unwrap()
    }

    fn data() -> DataSet {
        DataSet::new(&DataSpec::default(), start())
    }

    #[test]
    fn channels_of_every_type_with_deleted_and_truncated_ones() {
        let data = data();
        assert_eq!(data.channels.len(), 9);
        let first = data.channel("messaging:general-000").unwrap();
        assert!(first.truncated_at.is_some() && first.deleted_at.is_none());
        let last = data.channel("livestream:broadcast-002").unwrap();
        assert!(last.deleted_at.is_some());
        assert_eq!(data.channel("team:project-001").unwrap().team, Some("blue"));
        assert!(data.channels.iter().all(|c| c.members.len() == 5));
    }

    #[test]
    fn history_has_the_configured_number_of_messages() {
        let data = data();
        let channel = data.channel("messaging:general-001").unwrap();
        let all: Vec<_> = data
            .messages(channel, Window::default(), start(), true)
            .collect();
        assert_eq!(all.len(), 30 * 24);
        assert!(all.windows(2).all(|w| w[0].created_at < w[1].created_at));
        let ids: HashSet<_> = all.iter().map(|m| data.message_id(m)).collect();
        assert_eq!(ids.len(), all.len());
    }

    #[test]
    fn windows_are_half_open_and_partition_the_history() {
        let data = data();
        let channel = data.channel("team:project-001").unwrap();
        let all: Vec<_> = data
            .messages(channel, Window::default(), start(), true)
            .collect();
        let cut = all[100].created_at;
        let before = Window {
            since: None,
            until: Some(cut),
        };
        let after = Window {
            since: Some(cut),
            until: None,
        };
        let a: Vec<_> = data.messages(channel, before, start(), true).collect();
        let b: Vec<_> = data.messages(channel, after, start(), true).collect();
        assert_eq!(a.len(), 100);
        assert_eq!(b[0], all[100]);
        assert_eq!(a.len() + b.len(), all.len());
    }

    #[test]
    fn messages_keep_arriving_as_time_moves_on() {
        let data = data();
        let channel = data.channel("messaging:general-001").unwrap();
        let later = start() + Duration::days(1);
        let count = data
            .messages(channel, Window::default(), later, true)
            .count();
        assert_eq!(count, 31 * 24);
    }

    #[test]
    fn truncation_and_deletion_bound_the_messages() {
        let data = data();
        let truncated = data.channel("messaging:general-000").unwrap();
        let cut = truncated.truncated_at.unwrap();
        let kept: Vec<_> = data
            .messages(truncated, Window::default(), start(), false)
            .collect();
        assert!(kept.iter().all(|m| m.created_at >= cut));
        assert!(
            data.messages(truncated, Window::default(), start(), true)
                .count()
                > kept.len()
        );

        let deleted = data.channel("messaging:general-002").unwrap();
        let gone = deleted.deleted_at.unwrap();
        assert!(
            data.messages(deleted, Window::default(), start(), true)
                .all(|m| m.created_at < gone)
        );
    }

    #[test]
    fn latest_agrees_with_forward_enumeration() {
        let data = data();
        let channel = data.channel("messaging:general-000").unwrap();
        let all: Vec<_> = data
            .messages(channel, Window::default(), start(), false)
            .collect();
        let latest = data.latest(channel, start(), 25);
        assert_eq!(latest, all[all.len() - 25..]);
        assert_eq!(data.latest(channel, start(), 100_000), all);
    }

    #[test]
    fn details_are_deterministic_and_respect_the_snapshot() {
        let data = data();
        let channel = data.channel("messaging:general-001").unwrap();
        let messages: Vec<_> = data
            .messages(channel, Window::default(), start(), true)
            .collect();
        let with_reactions = messages
            .iter()
            .find(|m| !data.detail(m, start()).reactions.is_empty())
            .unwrap();
        let detail = data.detail(with_reactions, start());
        assert_eq!(detail.text, data.detail(with_reactions, start()).text);
        assert!(
            detail
                .reactions
                .iter()
                .all(|r| channel.members.contains(&r.user))
        );
        let early = data.detail(with_reactions, with_reactions.created_at);
        assert!(early.reactions.is_empty());
        assert!(
            messages
                .iter()
                .any(|m| data.detail(m, start()).deleted_at.is_some())
        );
    }

    fn with(spec: DataSpec) -> DataSet {
        DataSet::new(&spec, start())
    }

    #[test]
    fn replies_and_hostile_texts_are_off_by_default() {
        let data = data();
        let channel = data.channel("messaging:general-001").unwrap();
        let first: Vec<_> = data
            .messages(channel, Window::default(), start(), true)
            .take(3)
            .map(|m| data.detail(&m, start()))
            .collect();
        // As before replies and hostile texts existed: older tests' data sets are unchanged.
        let expected = [
            (
                "6eab8625-df26-8fbc-26df-ada5d87fe2d5",
                "bucket schedule file json file thanks vault vault okay",
            ),
            (
                "6eab8625-df26-8fbc-ec06-e117312b3510",
                "thanks later vault lunch backup export hello indeed test yes",
            ),
            ("6eab8625-df26-8fbc-e0c6-90c85ec13ff2", "message later okay"),
        ];
        for (detail, (id, text)) in first.iter().zip(expected) {
            assert_eq!((detail.id.as_str(), detail.text.as_str()), (id, text));
        }
        assert!(
            data.messages(channel, Window::default(), start(), true)
                .map(|m| data.detail(&m, start()))
                .all(|d| d.parent_id.is_none()
                    && d.reply_count == 0
                    && !d.undated
                    && d.attachments.is_empty()
                    && !d.text.contains('\u{202E}')
                    && !HOSTILE_TEXTS.contains(&d.text.as_str()))
        );
    }

    /// Follows parents from `id` until one repeats or is missing: how it ends.
    fn ends(parents: &HashMap<String, Option<String>>, id: &str) -> &'static str {
        let mut seen = HashSet::new();
        let mut at = id.to_owned();
        loop {
            if !seen.insert(at.clone()) {
                return if seen.len() == 1 { "itself" } else { "loop" };
            }
            match parents.get(&at) {
                None => return "absent",
                Some(None) => return "root",
                Some(Some(parent)) if *parent == at => return "itself",
                Some(Some(parent)) => at = parent.clone(),
            }
        }
    }

    #[test]
    fn tangles_make_nested_replies_self_parents_loops_and_orphans_the_same_in_every_window() {
        let spec = DataSpec {
            reply_every: 5,
            tangle_every: 4,
            ..DataSpec::default()
        };
        let data = with(spec.clone());
        let channel = data.channel("messaging:general-001").unwrap();
        let all: Vec<_> = data
            .messages(channel, Window::default(), start(), true)
            .collect();
        let details: Vec<_> = all.iter().map(|m| data.detail(m, start())).collect();
        let parents: HashMap<String, Option<String>> = details
            .iter()
            .map(|d| (d.id.clone(), d.parent_id.clone()))
            .collect();
        let mut shapes: HashMap<&str, usize> = HashMap::new();
        for d in &details {
            *shapes.entry(ends(&parents, &d.id)).or_default() += 1;
            let nested = d
                .parent_id
                .as_ref()
                .and_then(|p| parents.get(p))
                .is_some_and(|grandparent| grandparent.is_some());
            if nested {
                *shapes.entry("nested").or_default() += 1;
            }
        }
        for shape in ["root", "itself", "loop", "absent", "nested"] {
            assert!(
                shapes.get(shape).is_some_and(|n| *n > 5),
                "{shape}: {shapes:?}"
            );
        }
        // Loops are two or three long, and no parent chain is longer than the data.
        for d in details.iter().filter(|d| ends(&parents, &d.id) == "loop") {
            let mut at = d.parent_id.clone().unwrap();
            let mut steps = 1;
            while at != d.id && steps < 4 {
                at = parents[&at].clone().unwrap();
                steps += 1;
            }
            assert!(at != d.id || (2..=3).contains(&steps), "{}", d.id);
        }
        // Another window and another run agree on every parent.
        let again = with(spec);
        let later = Window {
            since: Some(all[300].created_at),
            until: None,
        };
        for (m, d) in again
            .messages(channel, later, start(), true)
            .zip(&details[300..])
        {
            assert_eq!(again.detail(&m, start()).parent_id, d.parent_id);
        }
    }

    #[test]
    fn undated_and_bidi_messages_come_at_their_rates() {
        let data = with(DataSpec {
            undated_every: 10,
            bidi_every: 10,
            ..DataSpec::default()
        });
        let channel = data.channel("messaging:general-001").unwrap();
        let details: Vec<_> = data
            .messages(channel, Window::default(), start(), true)
            .map(|m| data.detail(&m, start()))
            .collect();
        // 720 messages, about 72 of each expected.
        let undated = details.iter().filter(|d| d.undated).count();
        assert!((40..=110).contains(&undated), "{undated} undated");
        let bidi: Vec<_> = details
            .iter()
            .filter(|d| d.text.contains('\u{202E}'))
            .collect();
        assert!((40..=110).contains(&bidi.len()), "{} bidi", bidi.len());
        assert!(bidi.iter().all(|d| {
            d.attachments.len() == 1
                && d.attachments[0].starts_with('\u{202E}')
                && d.text.ends_with(&d.attachments[0])
        }));
    }

    #[test]
    fn replies_point_to_an_earlier_non_reply_of_the_same_channel_and_day() {
        let data = with(DataSpec {
            reply_every: 5,
            ..DataSpec::default()
        });
        for channel in &data.channels {
            let all: Vec<_> = data
                .messages(channel, Window::default(), start(), true)
                .collect();
            let details: Vec<_> = all.iter().map(|m| data.detail(m, start())).collect();
            let at: HashMap<&str, usize> = details
                .iter()
                .enumerate()
                .map(|(i, d)| (d.id.as_str(), i))
                .collect();
            let mut replies = 0;
            for (i, detail) in details.iter().enumerate() {
                let Some(parent) = &detail.parent_id else {
                    continue;
                };
                replies += 1;
                let p = at[parent.as_str()];
                assert!(p < i, "the parent is earlier");
                assert!(details[p].parent_id.is_none(), "the parent is no reply");
                assert_eq!(
                    all[p].created_at.date_naive(),
                    all[i].created_at.date_naive()
                );
            }
            // About one in five: a loose bound, the draw is a hash.
            let n = all.len();
            assert!((n / 10..=n * 3 / 10).contains(&replies), "{replies} of {n}");
            for (i, detail) in details.iter().enumerate() {
                let pointing = details
                    .iter()
                    .filter(|d| d.parent_id.as_deref() == Some(detail.id.as_str()))
                    .count();
                assert_eq!(detail.reply_count as usize, pointing, "message {i}");
            }
        }
    }

    #[test]
    fn a_reply_has_the_same_parent_in_every_window() {
        let data = with(DataSpec {
            reply_every: 3,
            ..DataSpec::default()
        });
        let channel = data.channel("team:project-001").unwrap();
        let all: Vec<_> = data
            .messages(channel, Window::default(), start(), true)
            .collect();
        let reply = all[200..]
            .iter()
            .find(|m| data.detail(m, start()).parent_id.is_some())
            .unwrap();
        let alone = Window {
            since: Some(reply.created_at),
            until: None,
        };
        let first = data.messages(channel, alone, start(), true).next().unwrap();
        assert_eq!(
            data.detail(&first, start()).parent_id,
            data.detail(reply, start()).parent_id
        );
    }

    #[test]
    fn hostile_texts_come_at_the_configured_rate() {
        let data = with(DataSpec {
            hostile_every: 7,
            ..DataSpec::default()
        });
        let channel = data.channel("messaging:general-001").unwrap();
        let texts: Vec<String> = data
            .messages(channel, Window::default(), start(), true)
            .map(|m| data.detail(&m, start()).text)
            .collect();
        let hostile = texts
            .iter()
            .filter(|t| HOSTILE_TEXTS.contains(&t.as_str()))
            .count();
        // 720 messages, about 103 expected.
        assert!((70..=140).contains(&hostile), "{hostile} hostile texts");
        assert!(
            HOSTILE_TEXTS.iter().all(|h| texts.iter().any(|t| t == h)),
            "each hostile text appears"
        );
        let again = with(DataSpec {
            hostile_every: 7,
            ..DataSpec::default()
        });
        let m = data
            .messages(channel, Window::default(), start(), true)
            .nth(10)
            .unwrap();
        assert_eq!(
            data.detail(&m, start()).text,
            again.detail(&m, start()).text
        );
    }
}
