//! The export endpoints: create channel and user exports, report task status.

use axum::http::StatusCode;
use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::{Map, Value, json};

use crate::clock::add;
use crate::config::UnknownUsers;
use crate::error::ApiError;
use crate::objects::Ts;
use crate::signed_url::{BUCKET, object_key, object_path};
use crate::state::Shared;
use crate::tasks::{ChannelSelection, ExportOptions, ExportVersion, Task, TaskKind, TaskStatus};

/// The most user IDs one users export may name.
const MAX_USERS_PER_EXPORT: usize = 25;

/// A successful answer: the status and the body (the pipeline adds `duration`).
pub(crate) type Answer = Result<(StatusCode, Map<String, Value>), ApiError>;

/// `POST /export_channels`
pub(crate) fn export_channels(shared: &Shared, body: &[u8]) -> Answer {
    let body = object_body(body)?;
    let items = match body.get("channels") {
        None | Some(Value::Null) => return Err(ApiError::input("channels is a required field")),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(ApiError::input("channels must be an array")),
    };
    if items.is_empty() {
        return Err(ApiError::input(
            "channels must contain at least one channel",
        ));
    }
    let max = shared.config.max_channels_per_export;
    if items.len() > max {
        return Err(ApiError::input(format!(
            "channels must contain at most {max} channels, got {}",
            items.len()
        )));
    }
    let channels = items
        .iter()
        .enumerate()
        .map(|(i, item)| selection(i, item))
        .collect::<Result<Vec<_>, _>>()?;
    let version = match body.get("version") {
        None | Some(Value::Null) => ExportVersion::V1,
        Some(Value::String(v)) if v == "v1" => ExportVersion::V1,
        Some(Value::String(v)) if v == "v2" => ExportVersion::V2,
        Some(other) => {
            return Err(ApiError::input(format!(
                "version must be v1 or v2, got {other}"
            )));
        }
    };
    match body.get("format") {
        None | Some(Value::Null) => {}
        Some(Value::String(f)) if f == "json" => {}
        Some(other) => return Err(ApiError::input(format!("format {other} is not supported"))),
    }
    let options = ExportOptions {
        version,
        include_truncated_messages: flag(&body, "include_truncated_messages")?,
        include_soft_deleted_channels: flag(&body, "include_soft_deleted_channels")?,
        clear_deleted_message_text: flag(&body, "clear_deleted_message_text")?,
        export_users: flag(&body, "export_users")?,
    };
    if let Some(missing) = channels
        .iter()
        .find(|s| shared.data.channel(&s.cid).is_none())
    {
        return Err(ApiError::not_found(if shared.config.name_missing_channel {
            format!("Can't find channel with cid {}", missing.cid)
        } else {
            "Can't find channel".to_owned()
        }));
    }
    create(shared, TaskKind::Channels { channels, options })
}

/// `POST /export/users`
pub(crate) fn export_users(shared: &Shared, body: &[u8]) -> Answer {
    let body = object_body(body)?;
    let ids = match body.get("user_ids") {
        None | Some(Value::Null) => return Err(ApiError::input("user_ids is a required field")),
        Some(Value::Array(ids)) => ids,
        Some(_) => return Err(ApiError::input("user_ids must be an array")),
    };
    if ids.is_empty() || ids.len() > MAX_USERS_PER_EXPORT {
        return Err(ApiError::input(format!(
            "user_ids must contain between 1 and {MAX_USERS_PER_EXPORT} user IDs, got {}",
            ids.len()
        )));
    }
    let user_ids = ids
        .iter()
        .map(|id| match id {
            Value::String(id) if !id.is_empty() => Ok(id.clone()),
            _ => Err(ApiError::input("user_ids must be non-empty strings")),
        })
        .collect::<Result<Vec<_>, _>>()?;
    let unknown = user_ids.iter().find(|id| shared.data.user(id).is_none());
    match (shared.config.unknown_users, unknown) {
        (UnknownUsers::Accept, _) | (_, None) => {}
        (UnknownUsers::RefuseNaming, Some(id)) => {
            return Err(ApiError::not_found(format!("Can't find user with id {id}")));
        }
        (UnknownUsers::RefuseWithoutNaming, Some(_)) => {
            return Err(ApiError::not_found("Can't find user"));
        }
    }
    create(shared, TaskKind::Users { user_ids })
}

/// `GET /tasks/{id}` (any task) and `GET /export_channels/{id}` (channel exports only).
pub(crate) fn task_status(shared: &Shared, task_id: &str, channel_exports_only: bool) -> Answer {
    let now = shared.clock.now();
    let task = shared
        .tasks
        .get(task_id)
        .filter(|t| !t.lapsed(now, shared.config.retention))
        .filter(|t| !channel_exports_only || matches!(t.kind, TaskKind::Channels { .. }))
        .ok_or_else(|| ApiError::not_found(format!("Can't find task with id {task_id}")))?;
    let (status, updated_at) = task.state(now, &shared.config.task_durations);
    let mut body = Map::new();
    body.insert("task_id".into(), json!(task.id));
    body.insert("status".into(), json!(status.as_str()));
    body.insert("created_at".into(), json!(Ts(task.created_at).to_string()));
    body.insert("updated_at".into(), json!(Ts(updated_at).to_string()));
    match status {
        TaskStatus::Completed => {
            body.insert("result".into(), result(shared, &task, now));
        }
        TaskStatus::Failed => {
            body.insert(
                "error".into(),
                json!({
                    "type": "internal",
                    "description": "export failed (fault injected by the emulator)",
                }),
            );
        }
        TaskStatus::Waiting | TaskStatus::Pending | TaskStatus::Running => {}
    }
    Ok((StatusCode::OK, body))
}

/// A completed task's result, with a download URL minted now and valid for the URL lifetime.
fn result(shared: &Shared, task: &Task, now: DateTime<Utc>) -> Value {
    let expires = add(now, shared.config.url_ttl).timestamp();
    let url = shared
        .signer
        .presign(&shared.base_url, &object_key(task), expires);
    match task.kind {
        TaskKind::Channels { .. } => json!({
            "url": url,
            "path": object_path(task),
            "s3_bucket_name": BUCKET,
        }),
        TaskKind::Users { .. } => json!({ "url": url }),
    }
}

fn create(shared: &Shared, kind: TaskKind) -> Answer {
    let fails = shared.faults.take_task_failure();
    let task = shared.tasks.create(kind, shared.clock.now(), fails);
    let mut body = Map::new();
    body.insert("task_id".into(), json!(task.id));
    Ok((StatusCode::CREATED, body))
}

fn object_body(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(ApiError::input("the request body must be a JSON object")),
        Err(e) => Err(ApiError::input(format!("invalid JSON body: {e}"))),
    }
}

fn flag(body: &Map<String, Value>, name: &str) -> Result<bool, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::input(format!("{name} must be a boolean"))),
    }
}

/// One item of `channels`: `type` + `id`, or `cid`, and an optional window.
fn selection(i: usize, item: &Value) -> Result<ChannelSelection, ApiError> {
    let required = || {
        ApiError::input(format!(
            "channels[{i}]: either cid or type and id are required"
        ))
    };
    let item = item.as_object().ok_or_else(required)?;
    let text = |name: &str| {
        item.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let from_parts = match (text("type"), text("id")) {
        (Some(t), Some(id)) => Some(format!("{t}:{id}")),
        _ => None,
    };
    let from_cid = text("cid")
        .map(|cid| match cid.split_once(':') {
            Some((t, id)) if !t.is_empty() && !id.is_empty() => Ok(cid.to_owned()),
            _ => Err(ApiError::input(format!(
                "channels[{i}].cid must look like type:id"
            ))),
        })
        .transpose()?;
    let cid = match (from_parts, from_cid) {
        (Some(a), Some(b)) if a != b => {
            return Err(ApiError::input(format!(
                "channels[{i}]: cid {b} does not match type and id"
            )));
        }
        (Some(cid), _) | (None, Some(cid)) => cid,
        (None, None) => return Err(required()),
    };
    let time = |name: &str| -> Result<Option<DateTime<Utc>>, ApiError> {
        match item.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => parse_time(s).map(Some).ok_or_else(|| {
                ApiError::input(format!(
                    "channels[{i}].{name} must be an RFC 3339 time, got {s:?}"
                ))
            }),
            Some(other) => Err(ApiError::input(format!(
                "channels[{i}].{name} must be an RFC 3339 time, got {other}"
            ))),
        }
    };
    let (since, until) = (time("messages_since")?, time("messages_until")?);
    if let (Some(s), Some(u)) = (since, until) {
        if s > u {
            return Err(ApiError::input(format!(
                "channels[{i}]: messages_since must not be after messages_until"
            )));
        }
    }
    Ok(ChannelSelection {
        cid,
        messages_since: since,
        messages_until: until,
    })
}

/// RFC 3339 with any offset, or (as Python's `isoformat()` of a naive datetime sends) without
/// one, taken as UTC.
pub(crate) fn parse_time(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .ok()
        .or_else(|| {
            NaiveDateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| n.and_utc())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_with_offsets_milliseconds_or_naive() {
        let want: DateTime<Utc> = "2024-01-01T00:00:00Z".parse().unwrap();
        assert_eq!(parse_time("2024-01-01T00:00:00Z"), Some(want));
        assert_eq!(parse_time("2024-01-01T00:00:00.000Z"), Some(want));
        assert_eq!(parse_time("2024-01-01T01:00:00+01:00"), Some(want));
        assert_eq!(parse_time("2024-01-01T00:00:00"), Some(want));
        assert_eq!(parse_time("yesterday"), None);
        assert_eq!(parse_time("2024-13-01T00:00:00Z"), None);
    }

    #[test]
    fn selections_take_type_and_id_or_cid() {
        let cid = |v: Value| selection(0, &v).map(|s| s.cid);
        assert_eq!(
            cid(json!({"type": "messaging", "id": "a"})),
            Ok("messaging:a".into())
        );
        assert_eq!(cid(json!({"cid": "messaging:a"})), Ok("messaging:a".into()));
        for bad in [
            json!({"type": "messaging"}),
            json!({"cid": "messaging"}),
            json!({"type": "", "id": "a"}),
            json!({"type": "messaging", "id": "a", "cid": "messaging:b"}),
            json!("messaging:a"),
        ] {
            assert_eq!(cid(bad).unwrap_err().code, 4);
        }
        let window = selection(
            0,
            &json!({"cid": "m:a", "messages_since": null, "messages_until": "2024-01-01T00:00:00Z"}),
        );
        assert!(window.unwrap().messages_until.is_some());
        let reversed = json!({"cid": "m:a", "messages_since": "2024-02-01T00:00:00Z", "messages_until": "2024-01-01T00:00:00Z"});
        assert_eq!(selection(0, &reversed).unwrap_err().code, 4);
    }
}
