//! What tests and scripts may look at: the channels of the data set, the tasks, and the ground
//! truth (which message IDs an export holds).

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::data::Window;
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
    let snapshot = options.as_of.unwrap_or_else(|| shared.clock.now());
    let Some(channel) = data.channel(cid) else {
        return Vec::new();
    };
    if !included(channel, snapshot, options.include_soft_deleted_channels) {
        return Vec::new();
    }
    data.messages(
        channel,
        Window { since, until },
        snapshot,
        options.include_truncated_messages,
    )
    .map(|m| data.message_id(&m))
    .collect()
}
