//! The one cut of a window into export requests, used by the dry run and by runs alike, so a
//! plan shows the requests and keys a run makes wherever it can know them: channels first, in
//! the order given, then users, at most [`MAX_BATCH`] to a request, numbered from 1 within
//! the window and kind.

use chrono::{DateTime, Utc};

use super::archive_key;
use super::window::Span;
use crate::config::job::{ExportKind, Job, MAX_BATCH};

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

/// The batches of one window of `job` planned by the tick `planned_by`; the error is a key
/// that cannot be made.
pub fn cut(
    job: &Job,
    window: Span,
    planned_by: DateTime<Utc>,
    channels: &[String],
    users: &[String],
) -> Result<Vec<Batch>, String> {
    let mut out = Vec::new();
    for (kind, members) in [(ExportKind::Channels, channels), (ExportKind::Users, users)] {
        for (i, chunk) in members.chunks(MAX_BATCH).enumerate() {
            let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
            out.push(Batch {
                kind,
                number,
                members: chunk.to_vec(),
                key: archive_key(job, window, kind.name(), number)?,
                window,
                planned_by,
            });
        }
    }
    Ok(out)
}
