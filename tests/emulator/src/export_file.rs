//! The export files, written on the fly to any `Write` (a streamed HTTP body, or a byte counter
//! for `Content-Length`). The content is a pure function of the data set and the task, so every
//! pass writes the same bytes.
//!
//! Layouts (Stream publishes neither the v1 layout for several channels nor the v2 line
//! envelope; both are the emulator's assumptions, see the README):
//! - v1, one channel in the file: `{"channel":{…},"messages":[…],"members":[…]}`;
//! - v1, any other number: `{"channels":[{"channel":…,"messages":…,"members":…},…]}`;
//! - v2 and users exports: JSON Lines, each `{"type":"channel"|"member"|"message"|"reaction"|"user","item":{…}}`;
//!   a channel's line comes first, then its members, then each message followed by its reactions.

use std::io::{self, Write};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::cdn_link::Signing;
use crate::data::{Channel, DataSet, Message, Window};
use crate::objects::{Line, channel_json, members_json, message_json, reaction_json, user_json};
use crate::tasks::{ChannelSelection, ExportOptions, ExportVersion, Task, TaskKind};

/// The most messages (and, separately, reactions) a users export holds per user, as Stream
/// documents.
pub(crate) const USER_EXPORT_CAP: usize = 10_000;

/// Whether a channel goes into an export taken at `snapshot`: soft-deleted channels only with
/// `include_soft_deleted_channels`.
pub(crate) fn included(
    channel: &Channel,
    snapshot: DateTime<Utc>,
    include_soft_deleted: bool,
) -> bool {
    include_soft_deleted || channel.deleted_by(snapshot).is_none()
}

/// The content type of a task's file.
pub(crate) fn content_type(task: &Task) -> &'static str {
    match &task.kind {
        TaskKind::Channels { options, .. } if options.version == ExportVersion::V1 => {
            "application/json"
        }
        _ => "application/x-ndjson",
    }
}

/// Writes a task's export file.
pub(crate) fn write(data: &DataSet, task: &Task, out: &mut dyn Write) -> io::Result<()> {
    let snapshot = task.created_at;
    match &task.kind {
        TaskKind::Channels { channels, options } => {
            let selected: Vec<(&Channel, Window)> = channels
                .iter()
                .filter_map(|s| data.channel(&s.cid).map(|c| (c, window(s))))
                .filter(|(c, _)| included(c, snapshot, options.include_soft_deleted_channels))
                .collect();
            let export = ChannelExport {
                data,
                snapshot,
                options,
            };
            match options.version {
                ExportVersion::V1 => export.write_v1(&selected, out),
                ExportVersion::V2 => {
                    for (channel, window) in selected {
                        export.write_v2(channel, window, out)?;
                    }
                    Ok(())
                }
            }
        }
        TaskKind::Users { user_ids } => {
            for user in user_ids.iter().filter_map(|id| data.user(id)) {
                write_user(data, user, snapshot, out)?;
            }
            Ok(())
        }
    }
}

/// The message window of a selection.
pub(crate) fn window(selection: &ChannelSelection) -> Window {
    Window {
        since: selection.messages_since,
        until: selection.messages_until,
    }
}

struct ChannelExport<'a> {
    data: &'a DataSet,
    snapshot: DateTime<Utc>,
    options: &'a ExportOptions,
}

impl ChannelExport<'_> {
    fn messages(&self, channel: &Channel, window: Window) -> impl Iterator<Item = Message> + '_ {
        self.data.messages(
            channel,
            window,
            self.snapshot,
            self.options.include_truncated_messages,
        )
    }

    fn write_v1(&self, selected: &[(&Channel, Window)], out: &mut dyn Write) -> io::Result<()> {
        if let [(channel, window)] = selected {
            return self.write_v1_channel(channel, *window, out);
        }
        out.write_all(b"{\"channels\":[")?;
        for (i, (channel, window)) in selected.iter().enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            self.write_v1_channel(channel, *window, out)?;
        }
        out.write_all(b"]}")
    }

    fn write_v1_channel(
        &self,
        channel: &Channel,
        window: Window,
        out: &mut dyn Write,
    ) -> io::Result<()> {
        out.write_all(b"{\"channel\":")?;
        json(
            out,
            &channel_json(self.data, channel, self.snapshot, Signing::Exported),
        )?;
        out.write_all(b",\"messages\":[")?;
        for (i, message) in self.messages(channel, window).enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            let detail = self.data.detail(&message, self.snapshot);
            let clear = self.options.clear_deleted_message_text;
            json(
                out,
                &message_json(self.data, &message, &detail, clear, Signing::Exported),
            )?;
        }
        out.write_all(b"],\"members\":[")?;
        for (i, member) in members_json(self.data, channel, Signing::Exported).enumerate() {
            if i > 0 {
                out.write_all(b",")?;
            }
            json(out, &member)?;
        }
        out.write_all(b"]}")
    }

    fn write_v2(&self, channel: &Channel, window: Window, out: &mut dyn Write) -> io::Result<()> {
        line(
            out,
            "channel",
            channel_json(self.data, channel, self.snapshot, Signing::Exported),
        )?;
        for member in members_json(self.data, channel, Signing::Exported) {
            line(out, "member", member)?;
        }
        for message in self.messages(channel, window) {
            let detail = self.data.detail(&message, self.snapshot);
            let clear = self.options.clear_deleted_message_text;
            line(
                out,
                "message",
                message_json(self.data, &message, &detail, clear, Signing::Exported),
            )?;
            for reaction in &detail.reactions {
                line(
                    out,
                    "reaction",
                    reaction_json(self.data, &detail.id, reaction, Signing::Exported),
                )?;
            }
        }
        Ok(())
    }
}

/// A user's line, then the user's messages and reactions in the channels they are a member of
/// (truncated and soft-deleted ones included), each capped at [`USER_EXPORT_CAP`].
fn write_user(
    data: &DataSet,
    user: usize,
    snapshot: DateTime<Utc>,
    out: &mut dyn Write,
) -> io::Result<()> {
    line(
        out,
        "user",
        user_json(data, &data.users[user], Signing::Exported),
    )?;
    let (mut messages, mut reactions) = (0, 0);
    for channel in data.channels.iter().filter(|c| c.members.contains(&user)) {
        for message in data.messages(channel, Window::default(), snapshot, true) {
            if messages >= USER_EXPORT_CAP && reactions >= USER_EXPORT_CAP {
                return Ok(());
            }
            let detail = data.detail(&message, snapshot);
            if detail.author == user && messages < USER_EXPORT_CAP {
                line(
                    out,
                    "message",
                    message_json(data, &message, &detail, false, Signing::Exported),
                )?;
                messages += 1;
            }
            for reaction in detail.reactions.iter().filter(|r| r.user == user) {
                if reactions < USER_EXPORT_CAP {
                    line(
                        out,
                        "reaction",
                        reaction_json(data, &detail.id, reaction, Signing::Exported),
                    )?;
                    reactions += 1;
                }
            }
        }
    }
    Ok(())
}

fn json(out: &mut dyn Write, value: &impl Serialize) -> io::Result<()> {
    serde_json::to_writer(&mut *out, value).map_err(io::Error::other)
}

fn line(out: &mut dyn Write, kind: &'static str, item: impl Serialize) -> io::Result<()> {
    json(out, &Line { kind, item })?;
    out.write_all(b"\n")
}

/// A `Write` that only counts bytes.
#[derive(Debug, Default)]
pub(crate) struct ByteCounter(pub u64);

impl Write for ByteCounter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use serde_json::Value;

    use super::*;
    use crate::config::DataSpec;
    use crate::tasks::TaskStore;

    fn start() -> DateTime<Utc> {
        "2025-06-01T00:00:00Z".parse().unwrap()
    }

    fn render(data: &DataSet, kind: TaskKind) -> String {
        let task = TaskStore::new(1).create(kind, start(), false);
        let mut out = Vec::new();
        write(data, &task, &mut out).unwrap();
        let mut counter = ByteCounter::default();
        write(data, &task, &mut counter).unwrap();
        assert_eq!(counter.0, out.len() as u64);
        String::from_utf8(out).unwrap()
    }

    fn channels(cids: &[&str], options: ExportOptions) -> TaskKind {
        TaskKind::Channels {
            channels: cids
                .iter()
                .map(|c| ChannelSelection {
                    cid: (*c).to_owned(),
                    messages_since: None,
                    messages_until: None,
                })
                .collect(),
            options,
        }
    }

    /// The messages of `messaging:general-001`, exported as v1 and as v2.
    fn general_001_in_v1_and_v2(data: &DataSet) -> (Vec<Value>, Vec<Value>) {
        let v1: Value = serde_json::from_str(&render(
            data,
            channels(&["messaging:general-001"], ExportOptions::default()),
        ))
        .unwrap();
        let options = ExportOptions {
            version: ExportVersion::V2,
            ..ExportOptions::default()
        };
        let v2 = render(data, channels(&["messaging:general-001"], options))
            .lines()
            .map(|l| serde_json::from_str::<Value>(l).unwrap())
            .filter(|l| l["type"] == "message")
            .map(|l| l["item"].clone())
            .collect();
        (v1["messages"].as_array().unwrap().clone(), v2)
    }

    #[test]
    fn v1_single_channel_is_one_document_with_three_keys() {
        let data = DataSet::new(&DataSpec::default(), start());
        let text = render(
            &data,
            channels(&["messaging:general-001"], ExportOptions::default()),
        );
        let doc: Value = serde_json::from_str(&text).unwrap();
        let keys: HashSet<_> = doc.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            keys,
            ["channel", "messages", "members"].map(String::from).into()
        );
        assert_eq!(doc["channel"]["cid"], "messaging:general-001");
        assert_eq!(doc["messages"].as_array().unwrap().len(), 720);
        assert_eq!(doc["members"].as_array().unwrap().len(), 5);
    }

    #[test]
    fn v1_several_channels_and_soft_deleted_ones_left_out() {
        let data = DataSet::new(&DataSpec::default(), start());
        let cids = [
            "messaging:general-001",
            "team:project-001",
            "messaging:general-002",
        ];
        let doc: Value =
            serde_json::from_str(&render(&data, channels(&cids, ExportOptions::default())))
                .unwrap();
        assert_eq!(doc["channels"].as_array().unwrap().len(), 2);
        let options = ExportOptions {
            include_soft_deleted_channels: true,
            ..ExportOptions::default()
        };
        let doc: Value = serde_json::from_str(&render(&data, channels(&cids, options))).unwrap();
        assert_eq!(doc["channels"].as_array().unwrap().len(), 3);
        assert!(doc["channels"][2]["channel"]["deleted_at"].is_string());
    }

    #[test]
    fn v2_lines_have_the_envelope_in_order() {
        let data = DataSet::new(&DataSpec::default(), start());
        let options = ExportOptions {
            version: ExportVersion::V2,
            ..ExportOptions::default()
        };
        let text = render(&data, channels(&["team:project-001"], options));
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["type"], "channel");
        assert_eq!(lines[0]["item"]["team"], "blue");
        assert!(lines[1..6].iter().all(|l| l["type"] == "member"));
        let messages = lines.iter().filter(|l| l["type"] == "message").count();
        assert_eq!(messages, 720);
        assert!(lines.iter().any(|l| l["type"] == "reaction"));
    }

    #[test]
    fn clearing_deleted_text_blanks_only_deleted_messages() {
        let data = DataSet::new(&DataSpec::default(), start());
        let options = ExportOptions {
            clear_deleted_message_text: true,
            ..ExportOptions::default()
        };
        let doc: Value = serde_json::from_str(&render(
            &data,
            channels(&["messaging:general-001"], options),
        ))
        .unwrap();
        let messages = doc["messages"].as_array().unwrap();
        let deleted: Vec<_> = messages.iter().filter(|m| m["type"] == "deleted").collect();
        assert!(!deleted.is_empty());
        assert!(
            deleted
                .iter()
                .all(|m| m["text"] == "" && m["deleted_at"].is_string())
        );
        assert!(
            messages
                .iter()
                .filter(|m| m["type"] == "regular")
                .all(|m| m["text"] != "")
        );
    }

    #[test]
    fn users_export_holds_the_users_messages_and_reactions() {
        let data = DataSet::new(&DataSpec::default(), start());
        let kind = TaskKind::Users {
            user_ids: vec!["user-000".into(), "nobody".into()],
        };
        let text = render(&data, kind);
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines[0]["type"], "user");
        assert_eq!(lines[0]["item"]["id"], "user-000");
        assert!(lines[1..].iter().all(|l| l["type"] != "user"));
        assert!(
            lines
                .iter()
                .filter(|l| l["type"] == "message")
                .all(|l| l["item"]["user"]["id"] == "user-000")
        );
        assert!(
            lines
                .iter()
                .filter(|l| l["type"] == "reaction")
                .all(|l| l["item"]["user_id"] == "user-000")
        );
        assert!(lines.iter().any(|l| l["type"] == "reaction"));
    }

    #[test]
    fn replies_carry_their_parent_id_in_every_format() {
        let data = DataSet::new(
            &DataSpec {
                reply_every: 4,
                ..DataSpec::default()
            },
            start(),
        );
        let parents = |messages: Vec<&Value>| {
            let replies: Vec<_> = messages
                .iter()
                .filter_map(|m| m["parent_id"].as_str())
                .collect();
            assert!(!replies.is_empty());
            let ids: HashSet<_> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
            assert!(replies.iter().all(|p| ids.contains(p)));
            assert!(messages.iter().any(|m| m["reply_count"].as_u64() > Some(0)));
            replies.len()
        };
        let (v1, v2) = general_001_in_v1_and_v2(&data);
        assert_eq!(parents(v2.iter().collect()), parents(v1.iter().collect()));
        let users = render(
            &data,
            TaskKind::Users {
                user_ids: vec!["user-000".into()],
            },
        );
        assert!(users.contains("\"parent_id\":"));
    }

    #[test]
    fn hostile_texts_are_escaped_in_html_only() {
        let data = DataSet::new(
            &DataSpec {
                hostile_every: 1,
                ..DataSpec::default()
            },
            start(),
        );
        let doc: Value = serde_json::from_str(&render(
            &data,
            channels(&["messaging:general-001"], ExportOptions::default()),
        ))
        .unwrap();
        let script = doc["messages"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["text"] == "<script>alert(2)</script>")
            .unwrap();
        assert_eq!(
            script["html"],
            "<p>&lt;script&gt;alert(2)&lt;/script&gt;</p>\n"
        );
    }

    #[test]
    fn undated_messages_leave_out_created_at_and_bidi_ones_carry_an_attachment_in_v1_and_v2() {
        let data = DataSet::new(
            &DataSpec {
                undated_every: 5,
                bidi_every: 5,
                tangle_every: 5,
                ..DataSpec::default()
            },
            start(),
        );
        let check = |messages: Vec<&Value>| {
            assert_eq!(messages.len(), 720);
            let undated = messages
                .iter()
                .filter(|m| m.get("created_at").is_none())
                .count();
            assert!(undated > 50 && undated < 720, "{undated}");
            assert!(messages.iter().all(|m| m["updated_at"].is_string()));
            let bidi: Vec<_> = messages
                .iter()
                .filter(|m| m["text"].as_str().unwrap().contains('\u{202E}'))
                .collect();
            assert!(!bidi.is_empty());
            assert!(bidi.iter().all(|m| {
                let title = m["attachments"][0]["title"].as_str().unwrap();
                title.starts_with('\u{202E}') && m["attachments"][0]["type"] == "file"
            }));
            let ids: HashSet<_> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
            assert!(messages.iter().any(|m| m["parent_id"] == m["id"]));
            assert!(
                messages
                    .iter()
                    .filter_map(|m| m["parent_id"].as_str())
                    .any(|p| !ids.contains(p))
            );
        };
        let (v1, v2) = general_001_in_v1_and_v2(&data);
        check(v1.iter().collect());
        check(v2.iter().collect());
    }

    /// The SHA-256 of every export shape (v1 and v2 of all channels, soft-deleted and truncated
    /// messages included; a users export) of a data set, shortened to three days of history.
    fn exports_digest(spec: DataSpec) -> String {
        use sha2::{Digest, Sha256};
        let spec = DataSpec {
            days_of_history: 3,
            ..spec
        };
        let data = DataSet::new(&spec, start());
        let cids: Vec<String> = data.channels.iter().map(|c| c.cid.clone()).collect();
        let cids: Vec<&str> = cids.iter().map(String::as_str).collect();
        let mut hasher = Sha256::new();
        for version in [ExportVersion::V1, ExportVersion::V2] {
            let options = ExportOptions {
                version,
                include_soft_deleted_channels: true,
                include_truncated_messages: true,
                ..ExportOptions::default()
            };
            hasher.update(render(&data, channels(&cids, options)));
        }
        let user_ids = data.users.iter().take(4).map(|u| u.id.clone()).collect();
        hasher.update(render(&data, TaskKind::Users { user_ids }));
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn data_sets_without_media_are_byte_for_byte_as_before_media() {
        // Digests of the files the emulator wrote before media existed (commit c10c1d5).
        assert_eq!(
            exports_digest(DataSpec::default()),
            "ec0d231743e455a2468f91b31fbe3e1a32f54e427bd487af35dd767c92dd97e2"
        );
        let opt_ins = DataSpec {
            reply_every: 5,
            hostile_every: 7,
            tangle_every: 11,
            undated_every: 13,
            bidi_every: 10,
            ..DataSpec::default()
        };
        assert_eq!(
            exports_digest(opt_ins),
            "4f0bbf42bb78c26b55754540bff8560d7ad8514254754ea57ec26c836965c4f5"
        );
    }
}
