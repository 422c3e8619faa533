//! The calls that hand out freshly signed media links: `GET /messages/{id}` (a message, its
//! attachments' links signed now) and `GET /users?payload=…` (query users, avatars signed now).
//! Query channels (`POST /channels`) signs its channels' links now too.

use std::collections::HashMap;

use axum::http::StatusCode;
use serde_json::{Map, Value, json};

use crate::cdn_link::Signing;
use crate::error::ApiError;
use crate::export_api::Answer;
use crate::objects::{message_json, user_json};
use crate::state::Shared;

const DEFAULT_USER_LIMIT: u64 = 30;
const MAX_USER_LIMIT: u64 = 100;
const MAX_USER_OFFSET: u64 = 1000;

/// `GET /messages/{id}`: `{"message": {...}}`, as it is now, its links signed now.
pub(crate) fn get_message(shared: &Shared, id: &str) -> Answer {
    let now = shared.clock.now();
    let data = &shared.data;
    let message = data
        .find_message(id, now)
        .ok_or_else(|| ApiError::not_found(format!("Can't find message with id {id}")))?;
    let detail = data.detail(&message, now);
    let json = message_json(data, &message, &detail, false, Signing::Fresh(now));
    let mut answer = Map::new();
    answer.insert("message".into(), json!(json));
    Ok((StatusCode::OK, answer))
}

/// `GET /users?payload=<JSON>`: the payload's `filter_conditions` may name users by `id`
/// (`"id": "a"`, `{"$eq": "a"}` or `{"$in": ["a", "b"]}`); `limit` (default 30, at most 100)
/// and `offset` page through them. Users come in id order, avatars signed now.
pub(crate) fn query_users(shared: &Shared, query: &HashMap<String, String>) -> Answer {
    let payload: Map<String, Value> = match query.get("payload") {
        None => Map::new(),
        Some(text) => match serde_json::from_str(text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(ApiError::input("payload must be a JSON object")),
            Err(e) => return Err(ApiError::input(format!("invalid payload JSON: {e}"))),
        },
    };
    let wanted = match payload.get("filter_conditions") {
        None | Some(Value::Null) => None,
        Some(Value::Object(filter)) => match filter.get("id") {
            None => None,
            Some(condition) => Some(ids(condition)?),
        },
        Some(_) => return Err(ApiError::input("filter_conditions must be an object")),
    };
    let limit = match number(&payload, "limit", MAX_USER_LIMIT)? {
        None | Some(0) => DEFAULT_USER_LIMIT,
        Some(n) => n,
    };
    let offset = number(&payload, "offset", MAX_USER_OFFSET)?.unwrap_or(0);
    let now = shared.clock.now();
    let data = &shared.data;
    let users: Vec<Value> = data
        .users
        .iter()
        .filter(|u| wanted.as_ref().is_none_or(|w| w.contains(&u.id)))
        .skip(offset as usize)
        .take(limit as usize)
        .map(|u| json!(user_json(data, u, Signing::Fresh(now))))
        .collect();
    let mut answer = Map::new();
    answer.insert("users".into(), Value::Array(users));
    Ok((StatusCode::OK, answer))
}

/// The ids an `id` condition names.
fn ids(condition: &Value) -> Result<Vec<String>, ApiError> {
    let bad = || ApiError::input("id must be a string, {\"$eq\": id} or {\"$in\": [ids]}");
    let text = |v: &Value| v.as_str().map(str::to_owned).ok_or_else(bad);
    match condition {
        Value::String(id) => Ok(vec![id.clone()]),
        Value::Object(ops) if ops.len() == 1 => match ops.iter().next() {
            Some((op, value)) if op == "$eq" => Ok(vec![text(value)?]),
            Some((op, Value::Array(values))) if op == "$in" => values.iter().map(text).collect(),
            _ => Err(bad()),
        },
        _ => Err(bad()),
    }
}

/// A non-negative integer option, at most `max`.
fn number(body: &Map<String, Value>, name: &str, max: u64) -> Result<Option<u64>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => match value.as_u64() {
            Some(n) if n <= max => Ok(Some(n)),
            _ => Err(ApiError::input(format!(
                "{name} must be an integer between 0 and {max}"
            ))),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_filter_names_one_or_several_users() {
        assert_eq!(ids(&json!("a")).unwrap(), ["a"]);
        assert_eq!(ids(&json!({"$eq": "a"})).unwrap(), ["a"]);
        assert_eq!(ids(&json!({"$in": ["a", "b"]})).unwrap(), ["a", "b"]);
        assert!(ids(&json!({"$in": []})).unwrap().is_empty());
        for bad in [
            json!(1),
            json!({"$in": "a"}),
            json!({"$in": [1]}),
            json!({"$ne": "a"}),
            json!({"$eq": "a", "$in": ["b"]}),
        ] {
            assert!(ids(&bad).is_err(), "{bad}");
        }
    }
}
