//! What an archive holds, counted while it streams into the store: per channel its messages
//! and the first and last message time, per user what the archive holds of them (their
//! messages, reactions, memberships, mentions, read state and record: `people`). The manifest
//! records it, so that a reader can tell which archives can hold a channel, a user or a time
//! without opening them, and a run can tell a channel that was asked for but is not in the
//! file at all.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::entities::{Kind, Layout, Splitter};
use super::naming::{Role, named};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelCount {
    pub messages: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_message_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_message_at: Option<DateTime<Utc>>,
}

/// What an archive holds of one user. Before manifest format 3 only `messages` was counted,
/// and only for authors and a users export's users.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserCount {
    /// Messages they wrote.
    pub messages: u64,
    /// Their reactions (reaction lines, and reactions inside messages).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reactions: u64,
    /// Their memberships of channels.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub memberships: u64,
    /// Messages of others that mention them, or quote them, or name them otherwise
    /// (thread participants, pinned by).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub mentions: u64,
    /// Their read state in channels.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reads: u64,
    /// Their user record (a users export's line).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub records: u64,
}

// serde's `skip_serializing_if` passes a reference.
#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// The counts of one archive.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// By cid: every channel the file holds, with no messages too.
    pub channels: BTreeMap<String, ChannelCount>,
    /// By user id: every user an item of the file names (format 3 on; before, the users a
    /// users export holds and the authors of the file's messages).
    pub users: BTreeMap<String, UserCount>,
}

/// Adds what `item` names to `tally`'s users (also `people::count`).
pub fn count(tally: &mut Tally, kind: Kind, item: &Value) {
    named(kind, item, &mut |role, id| {
        let user: &mut UserCount = tally.users.entry(id.to_owned()).or_default();
        match role {
            Role::Author => user.messages += 1,
            Role::Reaction => user.reactions += 1,
            Role::Member => user.memberships += 1,
            Role::Mention => user.mentions += 1,
            Role::Read => user.reads += 1,
            Role::Record => user.records += 1,
        }
    });
}

/// Counts entities one at a time, each parsed once: the channels and their messages here,
/// every user an entity names through [`count`]. A message without a `cid` (a v1
/// document may leave it to the channel it sits in) counts for the channel before it, as
/// readers place it.
#[derive(Debug, Default)]
pub struct Tallying {
    tally: Tally,
    channel: Option<String>,
}

impl Tallying {
    pub fn entity(&mut self, kind: Kind, bytes: &[u8]) {
        let Ok(item) = serde_json::from_slice::<Value>(bytes) else {
            return;
        };
        self.item(kind, &item);
    }

    pub fn item(&mut self, kind: Kind, item: &Value) {
        let tally = &mut self.tally;
        match kind {
            Kind::Channel => {
                if let Some(cid) = cid_of(item) {
                    tally.channels.entry(cid.clone()).or_default();
                    self.channel = Some(cid);
                }
            }
            Kind::Message => {
                let cid = item
                    .get("cid")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| self.channel.clone());
                if let Some(cid) = cid {
                    let count = tally.channels.entry(cid).or_default();
                    count.messages += 1;
                    let at = item
                        .get("created_at")
                        .and_then(Value::as_str)
                        .and_then(|t| t.parse::<DateTime<Utc>>().ok());
                    if let Some(at) = at {
                        count.first_message_at =
                            Some(count.first_message_at.map_or(at, |t| t.min(at)));
                        count.last_message_at =
                            Some(count.last_message_at.map_or(at, |t| t.max(at)));
                    }
                }
            }
            Kind::User | Kind::Other => {}
        }
        count(tally, kind, item);
    }

    pub fn finish(self) -> Tally {
        self.tally
    }
}

/// A channel's `type:id`, from `cid` or from the two fields.
fn cid_of(channel: &Value) -> Option<String> {
    let field = |k: &str| channel.get(k).and_then(Value::as_str);
    match (field("cid"), field("type"), field("id")) {
        (Some(cid), _, _) => Some(cid.to_owned()),
        (None, Some(t), Some(id)) => Some(format!("{t}:{id}")),
        _ => None,
    }
}

/// Counts an export file fed to it in pieces as it streams. Whatever else needs the entities
/// (the media links) gets them from the same cut: the export is split once.
#[derive(Debug)]
pub struct Counter {
    splitter: Splitter,
    tallying: Tallying,
}

impl Counter {
    pub fn new(layout: Layout) -> Counter {
        Counter {
            splitter: Splitter::new(layout),
            tallying: Tallying::default(),
        }
    }

    /// Feeds the next bytes; `also` sees every entity they complete, after the count.
    pub fn push(&mut self, bytes: &[u8], also: &mut dyn FnMut(Kind, &[u8])) {
        let tallying = &mut self.tallying;
        self.splitter.push(bytes, &mut |kind, entity| {
            tallying.entity(kind, entity);
            also(kind, entity);
        });
    }

    /// The end of the file (`also` as for [`Counter::push`]).
    pub fn finish(mut self, also: &mut dyn FnMut(Kind, &[u8])) -> Tally {
        let tallying = &mut self.tallying;
        self.splitter.finish(&mut |kind, entity| {
            tallying.entity(kind, entity);
            also(kind, entity);
        });
        self.tallying.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_add_up_by_role() {
        let mut tally = Tally::default();
        count(
            &mut tally,
            Kind::Message,
            &serde_json::json!({
                "id": "m", "cid": "messaging:a", "user": {"id": "author"},
                "mentioned_users": [{"id": "gone"}, {"id": "other"}],
                "thread_participants": [{"id": "gone"}, {"id": "author"}],
                "pinned_by": {"id": "gone"},
                "latest_reactions": [{"user": {"id": "gone"}}, {"user_id": "other"}],
                "own_reactions": [{"user_id": "gone"}],
                "quoted_message": {"id": "q", "user": {"id": "quoted"}, "mentioned_users": [{"id": "gone"}]}
            }),
        );
        let gone = &tally.users["gone"];
        assert_eq!(
            (gone.messages, gone.mentions, gone.reactions),
            (0, 4, 2),
            "{gone:?}"
        );
        assert_eq!(tally.users["author"].messages, 1);
        assert_eq!(tally.users["quoted"].mentions, 1);
    }

    #[test]
    fn channels_users_and_times_are_counted_and_an_empty_channel_is_there_too() {
        let file = concat!(
            r#"{"type":"channel","item":{"cid":"messaging:a"}}"#,
            "\n",
            r#"{"type":"message","item":{"id":"1","cid":"messaging:a","user":{"id":"u"},"created_at":"2026-01-02T00:00:00Z"}}"#,
            "\n",
            r#"{"type":"message","item":{"id":"2","cid":"messaging:a","user":{"id":"v"},"created_at":"2026-01-01T00:00:00Z"}}"#,
            "\n",
            r#"{"type":"reaction","item":{"message_id":"1","user":{"id":"v"}}}"#,
            "\n",
            r#"{"type":"channel","item":{"cid":"messaging:quiet"}}"#,
            "\n",
        );
        let mut counter = Counter::new(Layout::Lines);
        let mut seen = Vec::new();
        for piece in file.as_bytes().chunks(5) {
            counter.push(piece, &mut |kind, _| seen.push(kind));
        }
        let tally = counter.finish(&mut |kind, _| seen.push(kind));
        let a = &tally.channels["messaging:a"];
        assert_eq!(a.messages, 2);
        assert_eq!(a.first_message_at, "2026-01-01T00:00:00Z".parse().ok());
        assert_eq!(a.last_message_at, "2026-01-02T00:00:00Z".parse().ok());
        assert_eq!(tally.channels["messaging:quiet"], ChannelCount::default());
        assert_eq!(tally.users["u"].messages, 1);
        assert_eq!(tally.users["v"].messages, 1, "a reaction is not a message");
        assert_eq!(
            seen,
            [
                Kind::Channel,
                Kind::Message,
                Kind::Message,
                Kind::Other,
                Kind::Channel
            ],
            "what else needs the entities sees each of them once"
        );
    }
}
