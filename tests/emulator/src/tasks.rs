//! Export tasks and their lifecycle. A task's state is not stored: it is computed from its age
//! on the emulator clock, so moving the clock moves every task along.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::clock::add;
use crate::config::TaskDurations;
use crate::rng::{mix, uuid_string};

/// One channel of a channel export and its message window, `[messages_since, messages_until)`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelSelection {
    /// `type:id`, whether the request named it by `cid` or by `type` and `id`.
    pub cid: String,
    /// Inclusive lower bound on `created_at`.
    pub messages_since: Option<DateTime<Utc>>,
    /// Exclusive upper bound on `created_at`.
    pub messages_until: Option<DateTime<Utc>>,
}

/// The export file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportVersion {
    /// One JSON document (Stream's default).
    #[default]
    V1,
    /// JSON Lines, one entity per line.
    V2,
}

/// The top-level options of a channel export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ExportOptions {
    pub version: ExportVersion,
    pub include_truncated_messages: bool,
    pub include_soft_deleted_channels: bool,
    pub clear_deleted_message_text: bool,
    /// Accepted and recorded; its meaning is undocumented, so it changes nothing.
    pub export_users: bool,
}

/// What a task exports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TaskKind {
    /// `POST /export_channels`
    Channels {
        channels: Vec<ChannelSelection>,
        options: ExportOptions,
    },
    /// `POST /export/users`
    Users { user_ids: Vec<String> },
}

/// A task's state, as the status endpoints report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Waiting,
    Pending,
    Running,
    Completed,
    Failed,
}

impl TaskStatus {
    /// The wire name (`waiting`, `pending`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Waiting => "waiting",
            TaskStatus::Pending => "pending",
            TaskStatus::Running => "running",
            TaskStatus::Completed => "completed",
            TaskStatus::Failed => "failed",
        }
    }
}

/// A task as tests see it, at the current emulator time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskInfo {
    pub id: String,
    pub kind: TaskKind,
    /// When the task was created; the export is a snapshot of the data set at this time.
    pub created_at: DateTime<Utc>,
    pub status: TaskStatus,
    /// When the status last changed.
    pub updated_at: DateTime<Utc>,
    /// Older than the retention period: the status endpoints and the file answer 404.
    pub lapsed: bool,
}

/// A stored task.
#[derive(Debug)]
pub(crate) struct Task {
    pub id: String,
    pub kind: TaskKind,
    pub created_at: DateTime<Utc>,
    /// Set when a fault made this task fail.
    pub fails: bool,
    /// The export file's size, once computed.
    pub size: OnceLock<u64>,
}

impl Task {
    /// The state at `now` and when it began.
    pub fn state(
        &self,
        now: DateTime<Utc>,
        durations: &TaskDurations,
    ) -> (TaskStatus, DateTime<Utc>) {
        let steps = [
            (durations.waiting, TaskStatus::Pending),
            (durations.pending, TaskStatus::Running),
            (
                durations.running,
                if self.fails {
                    TaskStatus::Failed
                } else {
                    TaskStatus::Completed
                },
            ),
        ];
        let mut status = TaskStatus::Waiting;
        let mut since = self.created_at;
        for (duration, next) in steps {
            let at = add(since, duration.max(Duration::zero()));
            if at > now {
                break;
            }
            status = next;
            since = at;
        }
        (status, since)
    }

    /// Whether the task is older than `retention` at `now`.
    pub fn lapsed(&self, now: DateTime<Utc>, retention: Duration) -> bool {
        now - self.created_at >= retention
    }

    /// The public view at `now`.
    pub fn info(
        &self,
        now: DateTime<Utc>,
        durations: &TaskDurations,
        retention: Duration,
    ) -> TaskInfo {
        let (status, updated_at) = self.state(now, durations);
        TaskInfo {
            id: self.id.clone(),
            kind: self.kind.clone(),
            created_at: self.created_at,
            status,
            updated_at,
            lapsed: self.lapsed(now, retention),
        }
    }
}

/// All tasks ever created, in creation order.
#[derive(Debug)]
pub(crate) struct TaskStore {
    seed: u64,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    order: Vec<Arc<Task>>,
    by_id: HashMap<String, Arc<Task>>,
}

impl TaskStore {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Stores a new task with a deterministic UUID (version 4 shaped).
    pub fn create(&self, kind: TaskKind, created_at: DateTime<Utc>, fails: bool) -> Arc<Task> {
        let mut inner = self.lock();
        let n = inner.order.len() as u64;
        let hi = mix(self.seed ^ mix(0x7A5C ^ n));
        let lo = mix(hi ^ n);
        let hi = (hi & !0xF000) | 0x4000;
        let lo = (lo & !(0xC000 << 48)) | (0x8000 << 48);
        let task = Arc::new(Task {
            id: uuid_string(hi, lo),
            kind,
            created_at,
            fails,
            size: OnceLock::new(),
        });
        inner.order.push(Arc::clone(&task));
        inner.by_id.insert(task.id.clone(), Arc::clone(&task));
        task
    }

    pub fn get(&self, id: &str) -> Option<Arc<Task>> {
        self.lock().by_id.get(id).cloned()
    }

    pub fn all(&self) -> Vec<Arc<Task>> {
        self.lock().order.clone()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn kind() -> TaskKind {
        TaskKind::Users {
            user_ids: vec!["u".into()],
        }
    }

    #[test]
    fn tasks_walk_through_the_states_on_the_clock() {
        let store = TaskStore::new(1);
        let t0 = at("2025-01-01T00:00:00Z");
        let task = store.create(kind(), t0, false);
        let durations = TaskDurations::default();
        let s = |secs| task.state(t0 + Duration::seconds(secs), &durations);
        assert_eq!(s(0), (TaskStatus::Waiting, t0));
        assert_eq!(s(2), (TaskStatus::Pending, t0 + Duration::seconds(2)));
        assert_eq!(s(5).0, TaskStatus::Running);
        assert_eq!(s(10), (TaskStatus::Completed, t0 + Duration::seconds(10)));
        assert_eq!(s(-5).0, TaskStatus::Waiting);
        let failing = store.create(kind(), t0, true);
        assert_eq!(
            failing.state(t0 + Duration::days(1), &durations).0,
            TaskStatus::Failed
        );
    }

    #[test]
    fn ids_are_distinct_uuids_and_tasks_lapse() {
        let store = TaskStore::new(1);
        let t0 = at("2025-01-01T00:00:00Z");
        let a = store.create(kind(), t0, false);
        let b = store.create(kind(), t0, false);
        assert_ne!(a.id, b.id);
        assert_eq!(a.id.len(), 36);
        assert_eq!(&a.id[14..15], "4");
        assert!(store.get(&b.id).is_some());
        assert_eq!(store.all().len(), 2);
        assert!(!a.lapsed(t0 + Duration::days(59), Duration::days(60)));
        assert!(a.lapsed(t0 + Duration::days(60), Duration::days(60)));
    }
}
