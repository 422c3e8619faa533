//! What a run at a tick covers: the job's open windows (planned by earlier runs and not yet
//! archived) followed by the new stretch since, each cut into batches of at most 25.

use chrono::{DateTime, Utc};

use crate::api::{ApiError, StreamClient};
use crate::config::job::MAX_BATCH;
use crate::config::job::{Cid, Job};
use crate::plan::archive_key;
use crate::plan::window::{Span, split, window_for_tick};
use crate::state::{ExportKind, JobState, OpenWindow};

use super::error::RunError;

/// One export request and the archive it becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    pub kind: ExportKind,
    /// 1-based within its window and kind.
    pub number: u32,
    /// Channel cids (`type:id`) or user ids.
    pub members: Vec<String>,
    pub key: String,
    pub window: Span,
    /// The tick whose run planned the window.
    pub planned_by: DateTime<Utc>,
}

/// The windows a run at `tick` adds after the open ones: from where the open windows (or the
/// watermark) end to the tick, cut into `window.max` pieces; none already open.
pub fn new_spans(job: &Job, state: &JobState, tick: DateTime<Utc>) -> Vec<Span> {
    let open_end = state.open.iter().map(|w| w.until).max();
    let watermark = open_end.max(state.watermark);
    let previous = job.schedule.tick_before(job.timezone, tick).map(|t| t.at);
    let Some(span) = window_for_tick(job, tick, watermark, previous) else {
        return Vec::new();
    };
    split(span, job.window.max())
        .into_iter()
        .filter(|s| {
            !state
                .open
                .iter()
                .any(|w| w.since == s.since && w.until == s.until)
        })
        .collect()
}

/// The channels of a job now: the listed ones and those its filters find, sorted, each once.
pub async fn resolve_channels(client: &StreamClient, job: &Job) -> Result<Vec<String>, ApiError> {
    let mut cids = job.channels.cids.clone();
    for filter in &job.channels.filters {
        cids.extend(
            client
                .query_channels(&filter.channel_type, &filter.filter)
                .await?,
        );
    }
    cids.sort();
    cids.dedup();
    Ok(cids.iter().map(Cid::to_string).collect())
}

/// The batches of one open window: channels first, then users, 25 to a request.
pub fn batches(job: &Job, window: &OpenWindow) -> Result<Vec<Batch>, RunError> {
    let span = Span {
        since: window.since,
        until: window.until,
    };
    let mut out = Vec::new();
    for (kind, members) in [
        (ExportKind::Channels, &window.channels),
        (ExportKind::Users, &window.users),
    ] {
        for (i, chunk) in members.chunks(MAX_BATCH).enumerate() {
            let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            let key = archive_key(job, span, kind_name(kind), number).map_err(RunError::Key)?;
            out.push(Batch {
                kind,
                number,
                members: chunk.to_vec(),
                key,
                window: span,
                planned_by: window.tick,
            });
        }
    }
    Ok(out)
}

pub fn kind_name(kind: ExportKind) -> &'static str {
    match kind {
        ExportKind::Channels => "channels",
        ExportKind::Users => "users",
    }
}

/// `type:id` back into a cid (the type never holds a colon).
pub fn parse_cid(text: &str) -> Cid {
    let (channel_type, id) = text.split_once(':').unwrap_or(("", text));
    Cid {
        channel_type: channel_type.to_owned(),
        id: id.to_owned(),
    }
}
