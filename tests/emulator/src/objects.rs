//! The JSON shapes of users, channels, members, messages and reactions, in Stream's regular API
//! format (the export files and query channels use the same objects). They borrow from the data
//! set so that serialising millions of messages allocates little.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Datelike, Timelike, Utc};
use serde::{Serialize, Serializer};

use crate::cdn_link::Signing;
use crate::data::{Channel, DataSet, Message, MessageDetail, Reaction, User};
use crate::media::Target;

/// A timestamp serialised as Stream writes them: UTC RFC 3339 with microseconds,
/// e.g. `2021-02-17T08:17:49.745857Z`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ts(pub DateTime<Utc>);

impl fmt::Display for Ts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
            t.year(),
            t.month(),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            (t.nanosecond() / 1000).min(999_999)
        )
    }
}

impl Serialize for Ts {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// An always-empty JSON array.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Empty;

impl Serialize for Empty {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(std::iter::empty::<()>())
    }
}

/// A v2 (JSON Lines) line: `{"type": "<kind>", "item": {...}}`.
#[derive(Serialize)]
pub(crate) struct Line<T> {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub item: T,
}

#[derive(Serialize)]
pub(crate) struct UserJson<'a> {
    id: &'a str,
    name: &'a str,
    /// The avatar's signed link (only with avatars on).
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
    role: &'static str,
    created_at: Ts,
    updated_at: Ts,
    banned: bool,
    online: bool,
}

/// A user object; its avatar link expires as `signing` says (exported: counted from the start
/// time).
pub(crate) fn user_json<'a>(data: &DataSet, user: &'a User, signing: Signing) -> UserJson<'a> {
    UserJson {
        id: &user.id,
        name: &user.name,
        image: user
            .image
            .as_ref()
            .map(|p| data.cdn.link(p, data.cdn.expiry(signing, data.cdn.start))),
        role: "user",
        created_at: Ts(user.created_at),
        updated_at: Ts(user.created_at),
        banned: false,
        online: false,
    }
}

#[derive(Serialize)]
pub(crate) struct ChannelConfigJson {
    name: &'static str,
    typing_events: bool,
    read_events: bool,
    connect_events: bool,
    search: bool,
    reactions: bool,
    replies: bool,
    quotes: bool,
    mutes: bool,
    uploads: bool,
    url_enrichment: bool,
    max_message_length: u32,
    automod: &'static str,
    automod_behavior: &'static str,
    message_retention: &'static str,
    commands: Empty,
    created_at: Ts,
    updated_at: Ts,
}

#[derive(Serialize)]
pub(crate) struct ChannelJson<'a> {
    id: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    cid: &'a str,
    created_at: Ts,
    updated_at: Ts,
    created_by: UserJson<'a>,
    frozen: bool,
    disabled: bool,
    member_count: usize,
    config: ChannelConfigJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_message_at: Option<Ts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    truncated_at: Option<Ts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_at: Option<Ts>,
    auto_translation_language: &'static str,
    name: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    team: Option<&'a str>,
    /// The channel image's signed link (only with avatars on).
    #[serde(skip_serializing_if = "Option::is_none")]
    image: Option<String>,
}

/// The channel object as it was at `at`, its links expiring as `signing` says.
pub(crate) fn channel_json<'a>(
    data: &'a DataSet,
    channel: &'a Channel,
    at: DateTime<Utc>,
    signing: Signing,
) -> ChannelJson<'a> {
    let live = channel.kind != "livestream";
    ChannelJson {
        id: &channel.id,
        kind: channel.kind,
        cid: &channel.cid,
        created_at: Ts(channel.created_at),
        updated_at: Ts(channel.created_at),
        created_by: user_json(data, &data.users[channel.members[0]], signing),
        frozen: false,
        disabled: false,
        member_count: channel.members.len(),
        config: ChannelConfigJson {
            name: channel.kind,
            typing_events: live,
            read_events: live,
            connect_events: live,
            search: true,
            reactions: true,
            replies: true,
            quotes: true,
            mutes: true,
            uploads: true,
            url_enrichment: true,
            max_message_length: 5000,
            automod: "disabled",
            automod_behavior: "flag",
            message_retention: "infinite",
            commands: Empty,
            created_at: Ts(channel.created_at),
            updated_at: Ts(channel.created_at),
        },
        last_message_at: data
            .latest(channel, at, 1)
            .first()
            .map(|m| Ts(m.created_at)),
        truncated_at: channel.truncated_by(at).map(Ts),
        deleted_at: channel.deleted_by(at).map(Ts),
        auto_translation_language: "",
        name: &channel.name,
        team: channel.team,
        image: channel
            .image
            .as_ref()
            .map(|p| data.cdn.link(p, data.cdn.expiry(signing, data.cdn.start))),
    }
}

#[derive(Serialize)]
pub(crate) struct MemberJson<'a> {
    user_id: &'a str,
    user: UserJson<'a>,
    status: &'static str,
    role: &'static str,
    channel_role: &'static str,
    created_at: Ts,
    updated_at: Ts,
    banned: bool,
    shadow_banned: bool,
    archived_at: Option<Ts>,
    pinned_at: Option<Ts>,
    notifications_muted: bool,
}

/// The members of a channel; the first one created it and moderates it.
pub(crate) fn members_json<'a>(
    data: &'a DataSet,
    channel: &'a Channel,
    signing: Signing,
) -> impl Iterator<Item = MemberJson<'a>> {
    channel.members.iter().enumerate().map(move |(i, &u)| {
        let user = &data.users[u];
        MemberJson {
            user_id: &user.id,
            user: user_json(data, user, signing),
            status: "member",
            role: if i == 0 { "owner" } else { "member" },
            channel_role: if i == 0 {
                "channel_moderator"
            } else {
                "channel_member"
            },
            created_at: Ts(channel.created_at),
            updated_at: Ts(channel.created_at),
            banned: false,
            shadow_banned: false,
            archived_at: None,
            pinned_at: None,
            notifications_muted: false,
        }
    })
}

#[derive(Serialize)]
pub(crate) struct ReactionJson<'a> {
    message_id: &'a str,
    user_id: &'a str,
    user: UserJson<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
    score: u32,
    created_at: Ts,
    updated_at: Ts,
}

pub(crate) fn reaction_json<'a>(
    data: &'a DataSet,
    message_id: &'a str,
    reaction: &Reaction,
    signing: Signing,
) -> ReactionJson<'a> {
    let user = &data.users[reaction.user];
    ReactionJson {
        message_id,
        user_id: &user.id,
        user: user_json(data, user, signing),
        kind: reaction.kind,
        score: 1,
        created_at: Ts(reaction.created_at),
        updated_at: Ts(reaction.created_at),
    }
}

#[derive(Serialize)]
pub(crate) struct ReactionGroupJson {
    count: u32,
    sum_scores: u32,
    first_reaction_at: Ts,
    last_reaction_at: Ts,
}

/// `<p>text</p>\n`, the HTML Stream renders for a plain-text message, the text escaped (only
/// hostile texts hold anything to escape).
pub(crate) struct Html<'a>(&'a str);

impl Serialize for Html<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0.is_empty() {
            serializer.serialize_str("")
        } else {
            serializer.collect_str(&format_args!("<p>{}</p>\n", Escaped(self.0)))
        }
    }
}

/// Text with HTML's special characters written as entities.
struct Escaped<'a>(&'a str);

impl fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut rest = self.0;
        while let Some(at) = rest.find(['&', '<', '>', '"', '\'']) {
            f.write_str(&rest[..at])?;
            f.write_str(match rest.as_bytes()[at] {
                b'&' => "&amp;",
                b'<' => "&lt;",
                b'>' => "&gt;",
                b'"' => "&quot;",
                _ => "&#39;",
            })?;
            rest = &rest[at + 1..];
        }
        f.write_str(rest)
    }
}

/// A file attached to a message, or a link's Open Graph preview.
#[derive(Serialize)]
pub(crate) struct AttachmentJson<'a> {
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
    title: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    title_link: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    text: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    asset_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    thumb_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    og_scrape_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    mime_type: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    file_size: Option<u64>,
}

#[derive(Serialize)]
pub(crate) struct MessageJson<'a> {
    id: &'a str,
    text: &'a str,
    html: Html<'a>,
    #[serde(rename = "type")]
    kind: &'static str,
    user: UserJson<'a>,
    attachments: Vec<AttachmentJson<'a>>,
    latest_reactions: Vec<ReactionJson<'a>>,
    own_reactions: Empty,
    reaction_counts: BTreeMap<&'static str, u32>,
    reaction_scores: BTreeMap<&'static str, u32>,
    reaction_groups: BTreeMap<&'static str, ReactionGroupJson>,
    reply_count: u32,
    deleted_reply_count: u32,
    /// Set on thread replies only, as Stream does.
    #[serde(skip_serializing_if = "Option::is_none")]
    parent_id: Option<&'a str>,
    cid: &'a str,
    /// Left out of undated messages only.
    #[serde(skip_serializing_if = "Option::is_none")]
    created_at: Option<Ts>,
    updated_at: Ts,
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted_at: Option<Ts>,
    shadowed: bool,
    mentioned_users: Empty,
    silent: bool,
    pinned: bool,
    pinned_at: Option<Ts>,
    pinned_by: Option<UserJson<'a>>,
    pin_expires: Option<Ts>,
}

/// A message object. With `clear_deleted_text`, deleted messages lose their text and HTML; its
/// links expire as `signing` says.
pub(crate) fn message_json<'a>(
    data: &'a DataSet,
    message: &Message,
    detail: &'a MessageDetail,
    clear_deleted_text: bool,
    signing: Signing,
) -> MessageJson<'a> {
    let channel = &data.channels[message.channel];
    let mut groups: BTreeMap<&'static str, ReactionGroupJson> = BTreeMap::new();
    for reaction in &detail.reactions {
        let group = groups.entry(reaction.kind).or_insert(ReactionGroupJson {
            count: 0,
            sum_scores: 0,
            first_reaction_at: Ts(reaction.created_at),
            last_reaction_at: Ts(reaction.created_at),
        });
        group.count += 1;
        group.sum_scores += 1;
        group.last_reaction_at = Ts(reaction.created_at);
    }
    let text = if clear_deleted_text && detail.deleted_at.is_some() {
        ""
    } else {
        detail.text.as_str()
    };
    MessageJson {
        id: &detail.id,
        text,
        html: Html(text),
        kind: if detail.deleted_at.is_some() {
            "deleted"
        } else {
            "regular"
        },
        user: user_json(data, &data.users[detail.author], signing),
        attachments: attachments_json(data, message, detail, signing),
        latest_reactions: detail
            .reactions
            .iter()
            .rev()
            .map(|r| reaction_json(data, &detail.id, r, signing))
            .collect(),
        own_reactions: Empty,
        reaction_counts: groups.iter().map(|(k, g)| (*k, g.count)).collect(),
        reaction_scores: groups.iter().map(|(k, g)| (*k, g.sum_scores)).collect(),
        reaction_groups: groups,
        reply_count: detail.reply_count,
        deleted_reply_count: 0,
        parent_id: detail.parent_id.as_deref(),
        cid: &channel.cid,
        created_at: (!detail.undated).then_some(Ts(message.created_at)),
        updated_at: Ts(detail.deleted_at.unwrap_or(message.created_at)),
        deleted_at: detail.deleted_at.map(Ts),
        shadowed: false,
        mentioned_users: Empty,
        silent: false,
        pinned: false,
        pinned_at: None,
        pinned_by: None,
        pin_expires: None,
    }
}

/// The bidi attachments (named, pointing nowhere), then the media attachment.
fn attachments_json<'a>(
    data: &DataSet,
    message: &Message,
    detail: &'a MessageDetail,
    signing: Signing,
) -> Vec<AttachmentJson<'a>> {
    let mut out: Vec<AttachmentJson<'a>> = detail
        .attachments
        .iter()
        .enumerate()
        .map(|(i, title)| AttachmentJson {
            kind: Some("file"),
            title,
            title_link: None,
            text: None,
            asset_url: Some(format!("https://files.invalid/{}/{i}", detail.id)),
            image_url: None,
            thumb_url: None,
            og_scrape_url: None,
            mime_type: None,
            file_size: None,
        })
        .collect();
    if let Some(media) = &detail.media {
        let expires = data.cdn.expiry(signing, message.created_at);
        let link = |target: &Option<Target>| {
            target.as_ref().map(|t| match t {
                Target::Cdn(path) => data.cdn.link(path, expires),
                Target::Foreign(url) => url.clone(),
            })
        };
        out.push(AttachmentJson {
            kind: media.kind,
            title: &media.title,
            title_link: media.title_link.as_deref(),
            text: media.text.as_deref(),
            asset_url: link(&media.asset),
            image_url: link(&media.image),
            thumb_url: link(&media.thumb),
            og_scrape_url: media.og_scrape_url.as_deref(),
            mime_type: media.mime_type,
            file_size: media.file_size,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_have_microseconds_and_a_z() {
        let t: DateTime<Utc> = "2021-02-17T08:17:49.745857123Z".parse().unwrap();
        assert_eq!(Ts(t).to_string(), "2021-02-17T08:17:49.745857Z");
        let whole: DateTime<Utc> = "2021-02-17T08:17:49Z".parse().unwrap();
        assert_eq!(Ts(whole).to_string(), "2021-02-17T08:17:49.000000Z");
    }

    #[test]
    fn html_escapes_the_text() {
        let html = serde_json::to_string(&Html("<b>\"Tom\" & 'Jerry'</b>")).unwrap();
        assert_eq!(
            html,
            r#""<p>&lt;b&gt;&quot;Tom&quot; &amp; &#39;Jerry&#39;&lt;/b&gt;</p>\n""#
        );
        assert_eq!(serde_json::to_string(&Html("")).unwrap(), r#""""#);
    }

    #[test]
    fn lines_carry_a_type_tag_and_an_item() {
        let line = Line {
            kind: "member",
            item: Empty,
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"type":"member","item":[]}"#
        );
    }
}
