//! The export API's JSON bodies, as Stream sends and takes them (see the protocol notes in
//! the repository's shared docs: legacy root paths, POST → 201, GET → 200).

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize};

/// One channel of an export request, with the window of message time to export.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ChannelRequest {
    #[serde(rename = "type")]
    pub channel_type: String,
    pub id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub messages_until: Option<String>,
}

/// Stream's own examples use millisecond UTC times with `Z`.
pub fn wire_time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExportChannelsBody {
    pub channels: Vec<ChannelRequest>,
    pub version: String,
    pub include_truncated_messages: bool,
    pub include_soft_deleted_channels: bool,
    pub clear_deleted_message_text: bool,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ExportUsersBody {
    pub user_ids: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct TaskCreated {
    pub task_id: String,
}

/// A task's state. Unknown values are kept, not refused: Stream may add states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskState {
    Waiting,
    Pending,
    Running,
    Completed,
    Failed,
    Canceled,
    Other(String),
}

impl TaskState {
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            TaskState::Completed | TaskState::Failed | TaskState::Canceled
        )
    }

    pub fn as_str(&self) -> &str {
        match self {
            TaskState::Waiting => "waiting",
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Completed => "completed",
            TaskState::Failed => "failed",
            TaskState::Canceled => "canceled",
            TaskState::Other(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for TaskState {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Ok(match s.as_str() {
            "waiting" => TaskState::Waiting,
            "pending" => TaskState::Pending,
            "running" => TaskState::Running,
            "completed" => TaskState::Completed,
            "failed" => TaskState::Failed,
            "canceled" | "cancelled" => TaskState::Canceled,
            _ => TaskState::Other(s),
        })
    }
}

/// Where a finished export can be fetched. Only `url` is certain to be there.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TaskResult {
    pub url: String,
    #[serde(default)]
    pub path: Option<String>,
    #[serde(default)]
    pub s3_bucket_name: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct TaskFailure {
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

/// The answer of both status routes. A missing, `null` or `{}` `result` or `error` all mean
/// "none yet": early polls have been seen with both present and empty.
#[derive(Debug, Clone, Deserialize)]
pub struct TaskStatus {
    pub task_id: String,
    pub status: TaskState,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub result: Option<TaskResult>,
    #[serde(default, deserialize_with = "empty_as_none")]
    pub error: Option<TaskFailure>,
}

fn empty_as_none<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let value = Option::<serde_json::Value>::deserialize(d)?;
    match value {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::Object(m)) if m.is_empty() => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(serde::de::Error::custom),
    }
}

/// Query-channels request, as the SDKs send it (`POST /channels`).
#[derive(Debug, Clone, Serialize)]
pub struct QueryChannelsBody {
    pub filter_conditions: serde_json::Map<String, serde_json::Value>,
    pub sort: Vec<SortField>,
    pub limit: usize,
    pub offset: usize,
    pub state: bool,
    pub watch: bool,
    pub presence: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct SortField {
    pub field: String,
    pub direction: i8,
}

#[derive(Debug, Clone, Deserialize)]
pub struct QueryChannelsResponse {
    #[serde(default)]
    pub channels: Vec<ChannelState>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChannelState {
    pub channel: ChannelInfo,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChannelInfo {
    #[serde(rename = "type")]
    pub channel_type: String,
    pub id: String,
}

/// A raw query-channels page: the channels' fields as Stream sent them (a refresh looks for
/// a channel's `image` in it).
#[derive(Debug, Clone, Deserialize)]
pub struct QueryChannelsRaw {
    #[serde(default)]
    pub channels: Vec<RawChannelState>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RawChannelState {
    pub channel: serde_json::Value,
}

/// `GET /messages/{id}`.
#[derive(Debug, Clone, Deserialize)]
pub struct MessageResponse {
    #[serde(default)]
    pub message: Option<serde_json::Value>,
}

/// `GET /users?payload=…`.
#[derive(Debug, Clone, Deserialize)]
pub struct UsersResponse {
    #[serde(default)]
    pub users: Vec<serde_json::Value>,
}

/// Stream's error body. `code` has been seen as a string; anything unparsable falls back to
/// the HTTP status.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorBody {
    #[serde(default, deserialize_with = "lenient_code")]
    pub code: Option<i64>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default)]
    pub unrecoverable: Option<bool>,
}

fn lenient_code<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<serde_json::Value>::deserialize(d)? {
        Some(serde_json::Value::Number(n)) => n.as_i64(),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_result_and_error_mean_none() {
        for body in [
            r#"{"task_id":"t","status":"pending"}"#,
            r#"{"task_id":"t","status":"pending","result":null,"error":null}"#,
            r#"{"task_id":"t","status":"pending","result":{},"error":{}}"#,
        ] {
            let s: TaskStatus = serde_json::from_str(body).expect(body);
            assert!(s.result.is_none() && s.error.is_none(), "{body}");
        }
    }

    #[test]
    fn unknown_states_are_kept() {
        let s: TaskStatus =
            serde_json::from_str(r#"{"task_id":"t","status":"archiving"}"#).expect("parses");
        assert_eq!(s.status, TaskState::Other("archiving".into()));
        assert!(!s.status.is_terminal());
    }

    #[test]
    fn error_codes_may_be_strings() {
        let e: ErrorBody =
            serde_json::from_str(r#"{"code":"9","message":"slow down"}"#).expect("parses");
        assert_eq!(e.code, Some(9));
        let e: ErrorBody = serde_json::from_str(r#"{"code":"nine"}"#).expect("parses");
        assert_eq!(e.code, None);
    }

    #[test]
    fn wire_times_are_millisecond_utc() {
        let t = DateTime::parse_from_rfc3339("2024-01-01T00:00:00+02:00")
            .expect("time")
            .with_timezone(&Utc);
        assert_eq!(wire_time(t), "2023-12-31T22:00:00.000Z");
    }
}
