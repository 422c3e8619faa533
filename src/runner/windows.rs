//! What a run at a tick covers: the job's open windows (planned by earlier runs and not yet
//! archived) followed by the new stretch since, each cut into batches by the plan's one cut.

use chrono::{DateTime, Utc};

use crate::api::{ApiError, StreamClient};
use crate::config::job::{Cid, Job};
use crate::plan::batch::{Batch, cut};
use crate::plan::window::{Span, split, window_for_tick};
use crate::state::{JobState, OpenWindow};

use super::error::RunError;

/// The windows a run at `tick` adds after the open ones: from where the open windows (or the
/// watermark) end to the tick, cut into `window.max` pieces; none already open.
pub fn new_spans(job: &Job, state: &JobState, tick: DateTime<Utc>) -> Vec<Span> {
    let open_end = state
        .open
        .iter()
        .filter(|w| !w.is_snapshot())
        .map(|w| w.until)
        .max();
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

/// The channels of a job now: the listed ones (sorted, each once), then those its filters
/// find that are not listed, sorted; so the listed channels' batches are the ones the plan
/// shows.
pub async fn resolve_channels(client: &StreamClient, job: &Job) -> Result<Vec<String>, ApiError> {
    let listed = &job.channels.cids;
    let mut found = Vec::new();
    for filter in &job.channels.filters {
        found.extend(
            client
                .query_channels(&filter.channel_type, &filter.filter)
                .await?,
        );
    }
    found.sort();
    found.dedup();
    found.retain(|cid| !listed.contains(cid));
    Ok(listed.iter().chain(&found).map(Cid::to_string).collect())
}

/// The batches of one open window.
pub fn batches(job: &Job, window: &OpenWindow) -> Result<Vec<Batch>, RunError> {
    let span = Span {
        since: window.since,
        until: window.until,
    };
    cut(job, span, window.tick, &window.channels, &window.users).map_err(RunError::Key)
}

/// `type:id` back into a cid (the type never holds a colon).
pub fn parse_cid(text: &str) -> Cid {
    let (channel_type, id) = text.split_once(':').unwrap_or(("", text));
    Cid {
        channel_type: channel_type.to_owned(),
        id: id.to_owned(),
    }
}
