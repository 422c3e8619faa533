//! The seeded data set. Users and channels are few and kept in memory; messages are never
//! stored: message `k` of a channel lives in its own time slot and every property of it is a
//! pure function of (seed, channel, k), so any time window can be enumerated in order, forwards
//! or backwards, at any size.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};

use crate::clock::add;
use crate::config::DataSpec;
use crate::rng::{hash, mix, uuid_string};

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

// Salts keeping the hashed properties of one message independent of each other.
const TIME: u64 = 1;
const TEXT: u64 = 2;
const AUTHOR: u64 = 3;
const DELETED: u64 = 4;
const REACTIONS: u64 = 5;
const MESSAGE_ID: u64 = 6;

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
    /// Set when the message had been (soft-)deleted by the snapshot.
    pub deleted_at: Option<DateTime<Utc>>,
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
    /// The start of history: message 0 of every channel falls in the slot starting here.
    origin_us: i64,
    slot_us: i64,
    pub users: Vec<User>,
    pub channels: Vec<Channel>,
    by_cid: HashMap<String, usize>,
}

impl DataSet {
    /// Builds the data set whose history ends at `start`.
    pub fn new(spec: &DataSpec, start: DateTime<Utc>) -> Self {
        let history = Duration::days(i64::from(spec.days_of_history));
        let origin = start.checked_sub_signed(history).unwrap_or(start);
        let per_day = spec.messages_per_channel_per_day.clamp(1, 86_400_000_000);
        let slot_us = (86_400_000_000 / per_day) as i64;
        let user_count = spec.users.max(1);
        let users: Vec<User> = (0..user_count)
            .map(|i| User {
                id: format!("user-{i:03}"),
                name: format!("{} {i}", FIRST_NAMES[i % FIRST_NAMES.len()]),
                created_at: add(origin, -Duration::days(30)),
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
            origin_us: origin.timestamp_micros(),
            slot_us,
            users,
            channels,
            by_cid,
        }
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

    /// The rest of a message, as it was at `snapshot`.
    pub fn detail(&self, message: &Message, snapshot: DateTime<Utc>) -> MessageDetail {
        let channel = &self.channels[message.channel];
        let key = |salt: u64| hash(&[self.seed, salt, message.channel as u64, message.k]);
        let members = &channel.members;
        let author = members[(key(AUTHOR) % members.len() as u64) as usize];

        let text_hash = key(TEXT);
        let words = 3 + text_hash % 10;
        let mut text = String::with_capacity(words as usize * 8);
        for i in 0..words {
            if i > 0 {
                text.push(' ');
            }
            text.push_str(WORDS[(mix(text_hash.wrapping_add(i)) % WORDS.len() as u64) as usize]);
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

        MessageDetail {
            id: self.message_id(message),
            author,
            text,
            deleted_at,
            reactions,
        }
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
}
