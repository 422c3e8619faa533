//! What tests and scripts may look at: the channels of the data set, the tasks, and the ground
//! truth (which messages an export holds: their IDs, or what a viewer should show of each).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::data::{Message, Window};
use crate::export_file::included;
use crate::state::Shared;
use crate::tasks::TaskInfo;

/// A channel of the seeded data set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelInfo {
    pub cid: String,
    #[serde(rename = "type")]
    pub channel_type: String,
    pub id: String,
    /// The `team` custom field (team channels only).
    pub team: Option<String>,
    /// Member user IDs; the first one created the channel.
    pub members: Vec<String>,
    pub created_at: DateTime<Utc>,
    /// Messages before this time are "truncated" (exported only with `include_truncated_messages`).
    pub truncated_at: Option<DateTime<Utc>>,
    /// When the channel was soft-deleted; its messages stop there.
    pub deleted_at: Option<DateTime<Utc>>,
}

/// How [`Emulator::ground_truth`](crate::Emulator::ground_truth) counts, mirroring the export
/// flags.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GroundTruthOptions {
    /// Count messages before the channel's truncation too.
    pub include_truncated_messages: bool,
    /// Count a soft-deleted channel's messages (otherwise it has none, as it is left out of
    /// exports).
    pub include_soft_deleted_channels: bool,
    /// The snapshot time (an export's is its task's `created_at`); `None` means now.
    pub as_of: Option<DateTime<Utc>>,
}

/// One message as an export taken at the snapshot holds it (deleted messages keep their text,
/// as without `clear_deleted_message_text`): what a viewer of the archive should show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TruthMessage {
    pub id: String,
    /// The author's user ID.
    pub user: String,
    pub text: String,
    /// The message this one replies to in a thread; `None` for a channel message. With
    /// `tangle_every`, it may be the message itself, a message in a loop, another reply, or an
    /// id no message has.
    pub parent_id: Option<String>,
    /// When it was posted, which decides the windows that hold it; the export leaves it out
    /// when `undated`.
    pub created_at: DateTime<Utc>,
    /// Exported without `created_at`.
    pub undated: bool,
    /// The names of its attachments (`bidi_every`'s, then the media attachment's title).
    pub attachments: Vec<String>,
    /// Whether it had been deleted by the snapshot (it is exported with type `deleted`).
    pub deleted: bool,
}

pub(crate) fn channels(shared: &Shared) -> Vec<ChannelInfo> {
    let data = &shared.data;
    data.channels
        .iter()
        .map(|c| ChannelInfo {
            cid: c.cid.clone(),
            channel_type: c.kind.to_owned(),
            id: c.id.clone(),
            team: c.team.map(str::to_owned),
            members: c
                .members
                .iter()
                .map(|&u| data.users[u].id.clone())
                .collect(),
            created_at: c.created_at,
            truncated_at: c.truncated_at,
            deleted_at: c.deleted_at,
        })
        .collect()
}

pub(crate) fn tasks(shared: &Shared) -> Vec<TaskInfo> {
    let now = shared.clock.now();
    shared
        .tasks
        .all()
        .iter()
        .map(|t| t.info(now, &shared.config.task_durations, shared.config.retention))
        .collect()
}

/// The IDs of the messages an export of `cid` over `[since, until)` holds, oldest first; empty
/// for an unknown channel.
pub(crate) fn ground_truth(
    shared: &Shared,
    cid: &str,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    options: GroundTruthOptions,
) -> Vec<String> {
    let data = &shared.data;
    visible(shared, cid, Window { since, until }, options)
        .map(|(m, _)| data.message_id(&m))
        .collect()
}

/// The messages themselves, as [`ground_truth`] counts them.
pub(crate) fn messages(
    shared: &Shared,
    cid: &str,
    since: Option<DateTime<Utc>>,
    until: Option<DateTime<Utc>>,
    options: GroundTruthOptions,
) -> Vec<TruthMessage> {
    let data = &shared.data;
    visible(shared, cid, Window { since, until }, options)
        .map(|(m, snapshot)| {
            let detail = data.detail(&m, snapshot);
            TruthMessage {
                id: detail.id,
                user: data.users[detail.author].id.clone(),
                text: detail.text,
                parent_id: detail.parent_id,
                created_at: m.created_at,
                undated: detail.undated,
                attachments: detail
                    .attachments
                    .into_iter()
                    .chain(detail.media.map(|m| m.title))
                    .collect(),
                deleted: detail.deleted_at.is_some(),
            }
        })
        .collect()
}

/// The messages of `cid` in `window` an export with `options` holds, each with the snapshot
/// time; none for an unknown channel or one the export leaves out.
fn visible<'a>(
    shared: &'a Shared,
    cid: &str,
    window: Window,
    options: GroundTruthOptions,
) -> impl Iterator<Item = (Message, DateTime<Utc>)> + 'a {
    let data = &shared.data;
    let snapshot = options.as_of.unwrap_or_else(|| shared.clock.now());
    let channel = data
        .channel(cid)
        .filter(|c| included(c, snapshot, options.include_soft_deleted_channels));
    channel
        .map(|c| data.messages(c, window, snapshot, options.include_truncated_messages))
        .into_iter()
        .flatten()
        .map(move |m| (m, snapshot))
}
