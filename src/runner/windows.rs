//! What a run at a tick covers: the job's open windows (planned by earlier runs and not yet
//! archived) followed by the new stretch since, each cut into batches by the plan's one cut.

use chrono::{DateTime, Utc};

use crate::api::{ApiError, StreamClient};
use crate::config::job::{Cid, Job};
use crate::plan::batch::{Batch, cut};
use crate::plan::window::Span;
use crate::state::{JobState, OpenWindow};

use super::error::RunError;

/// The windows a run at `tick` adds after the open ones, as `plan --state` shows them.
pub fn new_spans(job: &Job, state: &JobState, tick: DateTime<Utc>) -> Vec<Span> {
    let open: Vec<Span> = state
        .open
        .iter()
        .filter(|w| !w.is_snapshot())
        .map(|w| Span {
            since: w.since,
            until: w.until,
        })
        .collect();
    crate::plan::now::new_spans(job, &open, state.watermark, tick)
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
