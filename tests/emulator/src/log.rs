//! The request log tests assert on. It keeps the method, the path (never the query string, which
//! carries download signatures) and the outcome; never a header, so never a token or secret.

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
