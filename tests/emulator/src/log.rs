//! The request log tests assert on. It keeps the method, the path (never the query string, which
//! carries download signatures) and the outcome. Only CDN requests keep their headers (so a test
//! can check that no API credential went to the CDN), with the values of credential-bearing
//! ones blanked, and the names of their query parameters: the log never holds a token or secret.

use std::collections::VecDeque;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::endpoint::Endpoint;

/// The most entries kept; older ones are dropped first (a long benchmark must not grow forever).
const CAPACITY: usize = 100_000;

/// One request the emulator answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LoggedRequest {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// The endpoint, or `None` for a path the emulator does not serve.
    pub endpoint: Option<Endpoint>,
    pub status: u16,
    /// Emulator time when the request arrived.
    pub at: DateTime<Utc>,
    /// CDN requests only (empty for the others): every request header, its name in lower
    /// case, the values of `authorization`, `proxy-authorization`, `cookie` and
    /// `stream-auth-type` replaced by `<redacted>`.
    pub headers: Vec<(String, String)>,
    /// CDN requests only: the names of the query parameters, in order (`api_key` among them
    /// would be a credential sent to the CDN).
    pub query_names: Vec<String>,
}

impl LoggedRequest {
    /// Whether the request carried a header of this name (any case).
    pub fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }
}

#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    entries: Mutex<VecDeque<LoggedRequest>>,
}

impl RequestLog {
    pub fn push(&self, entry: LoggedRequest) {
        let mut entries = self.lock();
        if entries.len() == CAPACITY {
            entries.pop_front();
        }
        entries.push_back(entry);
    }

    pub fn entries(&self) -> Vec<LoggedRequest> {
        self.lock().iter().cloned().collect()
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn take(&self) -> Vec<LoggedRequest> {
        std::mem::take(&mut *self.lock()).into()
    }

    fn lock(&self) -> MutexGuard<'_, VecDeque<LoggedRequest>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}
