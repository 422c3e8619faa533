//! `POST /channels`: query channels, with the request shape of stream-chat-js `queryChannels`
//! (`filter_conditions`, `sort`, `limit`, `offset`, `state`, `watch`, `presence`,
//! `message_limit`, `member_limit`, and `user_id` for server-side queries on a user's behalf).
//! Soft-deleted channels are never returned.

use std::cmp::Ordering;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};

use crate::auth::Caller;
use crate::cdn_link::Signing;
use crate::data::{Channel, DataSet};
use crate::error::ApiError;
use crate::export_api::{Answer, parse_time};
use crate::objects::{channel_json, members_json, message_json};
use crate::state::Shared;

const DEFAULT_LIMIT: u64 = 10;
const MAX_LIMIT: u64 = 30;
const MAX_OFFSET: u64 = 1000;
const DEFAULT_MESSAGE_LIMIT: u64 = 25;
const MAX_MESSAGE_LIMIT: u64 = 300;
const MAX_MEMBER_LIMIT: u64 = 100;

/// `POST /channels`
pub(crate) fn query_channels(shared: &Shared, caller: &Caller, body: &[u8]) -> Answer {
    let body = if body.iter().all(u8::is_ascii_whitespace) {
        Map::new()
    } else {
        match serde_json::from_slice(body) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err(ApiError::input("the request body must be a JSON object")),
            Err(e) => return Err(ApiError::input(format!("invalid JSON body: {e}"))),
        }
    };
    let filter = match body.get("filter_conditions") {
        None | Some(Value::Null) => Filter::All(Vec::new()),
        Some(value) => Filter::parse(value)?,
    };
    let sort = parse_sort(body.get("sort"))?;
    let limit = match number(&body, "limit", MAX_LIMIT)? {
        None | Some(0) => DEFAULT_LIMIT,
        Some(n) => n,
    };
    let offset = number(&body, "offset", MAX_OFFSET)?.unwrap_or(0);
    let message_limit =
        number(&body, "message_limit", MAX_MESSAGE_LIMIT)?.unwrap_or(DEFAULT_MESSAGE_LIMIT);
    let member_limit = number(&body, "member_limit", MAX_MEMBER_LIMIT)?.unwrap_or(MAX_MEMBER_LIMIT);
    let state = match body.get("state") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(ApiError::input("state must be a boolean")),
    };
    let user = match caller {
        Caller::User(id) => Some(id.as_str()),
        Caller::Server => body.get("user_id").and_then(Value::as_str),
    };
    let user = match user {
        Some(id) => Some(
            shared
                .data
                .user(id)
                .ok_or_else(|| ApiError::input(format!("user {id} does not exist")))?,
        ),
        None => None,
    };

    let data = &shared.data;
    let now = shared.clock.now();
    let mut found = Vec::new();
    for channel in &data.channels {
        let visible =
            channel.deleted_by(now).is_none() && user.is_none_or(|u| channel.members.contains(&u));
        if visible && filter.matches(data, channel, now)? {
            let keys: Vec<_> = sort
                .iter()
                .map(|(f, _)| field(data, channel, f, now))
                .collect();
            found.push((keys, channel));
        }
    }
    found.sort_by(|(a, ca), (b, cb)| {
        sort.iter()
            .zip(a.iter().zip(b))
            .map(|((_, direction), (x, y))| {
                let ordering = compare_keys(x, y);
                if *direction < 0 {
                    ordering.reverse()
                } else {
                    ordering
                }
            })
            .find(|o| o.is_ne())
            .unwrap_or_else(|| ca.cid.cmp(&cb.cid))
    });

    let channels: Vec<Value> = found
        .into_iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|(_, channel)| channel_state(data, channel, now, state, message_limit, member_limit))
        .collect();
    let mut answer = Map::new();
    answer.insert("channels".into(), Value::Array(channels));
    Ok((StatusCode::CREATED, answer))
}

/// One entry of `channels`: the channel with its state.
fn channel_state(
    data: &DataSet,
    channel: &Channel,
    now: DateTime<Utc>,
    state: bool,
    messages: u64,
    members: u64,
) -> Value {
    let (members, messages) = if state {
        let members: Vec<Value> = members_json(data, channel, Signing::Fresh(now))
            .take(members as usize)
            .map(|m| json!(m))
            .collect();
        let messages: Vec<Value> = data
            .latest(channel, now, messages as usize)
            .iter()
            .map(|m| {
                let detail = data.detail(m, now);
                json!(message_json(data, m, &detail, false, Signing::Fresh(now)))
            })
            .collect();
        (members, messages)
    } else {
        (Vec::new(), Vec::new())
    };
    json!({
        "channel": channel_json(data, channel, now, Signing::Fresh(now)),
        "members": members,
        "messages": messages,
        "pinned_messages": [],
        "read": [],
        "watcher_count": 0,
    })
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

/// `sort`: `[{"field": f, "direction": ±1}, …]` (what the SDKs send), or `{f: ±1, …}`.
/// Default: `last_updated` descending. Ties go by CID.
fn parse_sort(value: Option<&Value>) -> Result<Vec<(String, i64)>, ApiError> {
    let bad =
        || ApiError::input("sort must be a list of {field, direction} with direction 1 or -1");
    let direction = |v: Option<&Value>| match v.and_then(Value::as_i64) {
        Some(d @ (1 | -1)) => Ok(d),
        _ => Err(bad()),
    };
    let sort = match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                let field = item.get("field").and_then(Value::as_str).ok_or_else(bad)?;
                Ok((field.to_owned(), direction(item.get("direction"))?))
            })
            .collect::<Result<_, ApiError>>()?,
        Some(Value::Object(map)) => map
            .iter()
            .map(|(field, d)| Ok((field.clone(), direction(Some(d))?)))
            .collect::<Result<_, ApiError>>()?,
        Some(_) => return Err(bad()),
    };
    Ok(if sort.is_empty() {
        vec![("last_updated".to_owned(), -1)]
    } else {
        sort
    })
}

/// A channel field's value, for filters and sorting.
#[derive(Debug, Clone, PartialEq, Eq)]
enum FieldValue<'a> {
    Str(&'a str),
    Time(DateTime<Utc>),
    Int(i64),
    Bool(bool),
}

fn field<'a>(
    data: &'a DataSet,
    channel: &'a Channel,
    name: &str,
    now: DateTime<Utc>,
) -> Option<FieldValue<'a>> {
    let last_message_at = || data.latest(channel, now, 1).first().map(|m| m.created_at);
    match name {
        "type" => Some(FieldValue::Str(channel.kind)),
        "id" => Some(FieldValue::Str(&channel.id)),
        "cid" => Some(FieldValue::Str(&channel.cid)),
        "name" => Some(FieldValue::Str(&channel.name)),
        "team" => channel.team.map(FieldValue::Str),
        "created_by_id" => Some(FieldValue::Str(&data.users[channel.members[0]].id)),
        "created_at" | "updated_at" => Some(FieldValue::Time(channel.created_at)),
        "last_message_at" => last_message_at().map(FieldValue::Time),
        "last_updated" => Some(FieldValue::Time(
            last_message_at().map_or(channel.created_at, |t| t.max(channel.created_at)),
        )),
        "member_count" => Some(FieldValue::Int(channel.members.len() as i64)),
        "frozen" | "disabled" => Some(FieldValue::Bool(false)),
        _ => None,
    }
}

/// Missing values sort first; values of different kinds compare equal.
fn compare_keys(a: &Option<FieldValue<'_>>, b: &Option<FieldValue<'_>>) -> Ordering {
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(a), Some(b)) => match (a, b) {
            (FieldValue::Str(a), FieldValue::Str(b)) => a.cmp(b),
            (FieldValue::Time(a), FieldValue::Time(b)) => a.cmp(b),
            (FieldValue::Int(a), FieldValue::Int(b)) => a.cmp(b),
            (FieldValue::Bool(a), FieldValue::Bool(b)) => a.cmp(b),
            _ => Ordering::Equal,
        },
    }
}

/// A MongoDB-style filter, as Stream takes them.
#[derive(Debug, Clone, PartialEq)]
enum Filter {
    All(Vec<Filter>),
    Any(Vec<Filter>),
    /// `field: {op: operand}`, or `field: value` for `$eq`.
    Condition {
        field: String,
        op: Op,
        operand: Value,
    },
    /// `members: {"$in": [...]}` (any of them is a member) or `members: [...]` (exactly them).
    Members {
        any: bool,
        users: Vec<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Eq,
    Ne,
    In,
    Nin,
    Gt,
    Gte,
    Lt,
    Lte,
    Exists,
}

impl Filter {
    fn parse(value: &Value) -> Result<Filter, ApiError> {
        let map = value
            .as_object()
            .ok_or_else(|| ApiError::input("filter_conditions must be an object"))?;
        map.iter()
            .map(|(key, value)| Filter::parse_entry(key, value))
            .collect::<Result<_, _>>()
            .map(Filter::All)
    }

    fn parse_entry(key: &str, value: &Value) -> Result<Filter, ApiError> {
        match key {
            "$and" | "$or" => {
                let parts = value
                    .as_array()
                    .ok_or_else(|| ApiError::input(format!("{key} must be a list of filters")))?
                    .iter()
                    .map(Filter::parse)
                    .collect::<Result<_, _>>()?;
                Ok(if key == "$and" {
                    Filter::All(parts)
                } else {
                    Filter::Any(parts)
                })
            }
            "members" => {
                let (any, list) = match value {
                    Value::Object(m) if m.len() == 1 && m.contains_key("$in") => (true, &m["$in"]),
                    Value::Object(m) if m.len() == 1 && m.contains_key("$eq") => (false, &m["$eq"]),
                    other => (false, other),
                };
                let users = string_list(list).ok_or_else(|| {
                    ApiError::input("members takes $in or $eq with a list of user IDs")
                })?;
                Ok(Filter::Members { any, users })
            }
            _ if key.starts_with('$') => {
                Err(ApiError::input(format!("unsupported operator {key}")))
            }
            field => {
                let (op, operand) = match value {
                    Value::Object(m) if m.len() == 1 && m.keys().all(|k| k.starts_with('$')) => {
                        let (name, operand) = m
                            .iter()
                            .next()
                            .ok_or_else(|| ApiError::input("empty operator"))?;
                        (operator(name)?, operand.clone())
                    }
                    other => (Op::Eq, other.clone()),
                };
                if matches!(op, Op::In | Op::Nin) && !operand.is_array() {
                    return Err(ApiError::input(format!(
                        "{field}: $in and $nin take a list"
                    )));
                }
                Ok(Filter::Condition {
                    field: field.to_owned(),
                    op,
                    operand,
                })
            }
        }
    }

    fn matches(
        &self,
        data: &DataSet,
        channel: &Channel,
        now: DateTime<Utc>,
    ) -> Result<bool, ApiError> {
        match self {
            Filter::All(parts) => {
                for part in parts {
                    if !part.matches(data, channel, now)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Filter::Any(parts) => {
                for part in parts {
                    if part.matches(data, channel, now)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Filter::Members { any, users } => {
                let ids: Vec<&str> = channel
                    .members
                    .iter()
                    .map(|&u| data.users[u].id.as_str())
                    .collect();
                Ok(if *any {
                    users.iter().any(|u| ids.contains(&u.as_str()))
                } else {
                    users.len() == ids.len() && users.iter().all(|u| ids.contains(&u.as_str()))
                })
            }
            Filter::Condition {
                field: name,
                op,
                operand,
            } => {
                let value = field(data, channel, name, now);
                let Some(value) = value else {
                    return Ok(match op {
                        Op::Exists => operand == &Value::Bool(false),
                        Op::Ne | Op::Nin => true,
                        _ => false,
                    });
                };
                let equals = |o: &Value| -> Result<bool, ApiError> {
                    Ok(compare(&value, o)? == Some(Ordering::Equal))
                };
                let list = || operand.as_array().map(Vec::as_slice).unwrap_or(&[]);
                let ordered = |want: &[Ordering]| -> Result<bool, ApiError> {
                    Ok(compare(&value, operand)?.is_some_and(|o| want.contains(&o)))
                };
                match op {
                    Op::Eq => equals(operand),
                    Op::Ne => Ok(!equals(operand)?),
                    Op::In => any_of(list(), equals),
                    Op::Nin => Ok(!any_of(list(), equals)?),
                    Op::Gt => ordered(&[Ordering::Greater]),
                    Op::Gte => ordered(&[Ordering::Greater, Ordering::Equal]),
                    Op::Lt => ordered(&[Ordering::Less]),
                    Op::Lte => ordered(&[Ordering::Less, Ordering::Equal]),
                    Op::Exists => Ok(operand == &Value::Bool(true)),
                }
            }
        }
    }
}

fn any_of(
    items: &[Value],
    mut test: impl FnMut(&Value) -> Result<bool, ApiError>,
) -> Result<bool, ApiError> {
    for item in items {
        if test(item)? {
            return Ok(true);
        }
    }
    Ok(false)
}

fn operator(name: &str) -> Result<Op, ApiError> {
    Ok(match name {
        "$eq" => Op::Eq,
        "$ne" => Op::Ne,
        "$in" => Op::In,
        "$nin" => Op::Nin,
        "$gt" => Op::Gt,
        "$gte" => Op::Gte,
        "$lt" => Op::Lt,
        "$lte" => Op::Lte,
        "$exists" => Op::Exists,
        other => return Err(ApiError::input(format!("unsupported operator {other}"))),
    })
}

/// Compares a field value with a JSON operand; `None` when the kinds differ.
fn compare(value: &FieldValue<'_>, operand: &Value) -> Result<Option<Ordering>, ApiError> {
    Ok(match (value, operand) {
        (FieldValue::Str(s), Value::String(o)) => Some((*s).cmp(o.as_str())),
        (FieldValue::Time(t), Value::String(o)) => {
            let o = parse_time(o)
                .ok_or_else(|| ApiError::input(format!("{o:?} is not an RFC 3339 time")))?;
            Some(t.cmp(&o))
        }
        (FieldValue::Int(i), Value::Number(n)) => {
            n.as_f64().and_then(|n| (*i as f64).partial_cmp(&n))
        }
        (FieldValue::Bool(b), Value::Bool(o)) => Some(b.cmp(o)),
        _ => None,
    })
}

fn string_list(value: &Value) -> Option<Vec<String>> {
    value
        .as_array()?
        .iter()
        .map(|v| v.as_str().map(str::to_owned))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::DataSpec;

    fn now() -> DateTime<Utc> {
        "2025-06-01T00:00:00Z".parse().unwrap()
    }

    fn cids(filter: Value) -> Result<Vec<String>, ApiError> {
        let data = DataSet::new(&DataSpec::default(), now());
        let filter = Filter::parse(&filter)?;
        let mut out = Vec::new();
        for channel in &data.channels {
            if filter.matches(&data, channel, now())? {
                out.push(channel.cid.clone());
            }
        }
        Ok(out)
    }

    #[test]
    fn filters_on_type_cid_id_and_custom_fields() {
        assert_eq!(cids(json!({"type": "team"})).unwrap().len(), 3);
        assert_eq!(
            cids(json!({"cid": {"$in": ["team:project-000", "messaging:general-001"]}})).unwrap(),
            ["messaging:general-001", "team:project-000"]
        );
        assert_eq!(
            cids(json!({"id": {"$in": ["general-001"]}})).unwrap(),
            ["messaging:general-001"]
        );
        assert_eq!(cids(json!({"team": "blue"})).unwrap(), ["team:project-001"]);
        assert_eq!(
            cids(json!({"team": {"$eq": "red"}})).unwrap(),
            ["team:project-000"]
        );
        assert_eq!(
            cids(json!({"team": {"$in": ["red", "green"]}}))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            cids(json!({"type": "team", "team": {"$ne": "red"}}))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(
            cids(json!({"$or": [{"team": "red"}, {"id": "general-000"}]}))
                .unwrap()
                .len(),
            2
        );
        assert_eq!(cids(json!({"nickname": "x"})).unwrap().len(), 0);
        assert_eq!(cids(json!({"member_count": {"$gte": 5}})).unwrap().len(), 9);
        assert_eq!(
            cids(json!({"created_at": {"$lt": "2000-01-01T00:00:00Z"}}))
                .unwrap()
                .len(),
            0
        );
        assert_eq!(
            cids(json!({"members": {"$in": ["user-000"]}})).unwrap(),
            ["messaging:general-000", "livestream:broadcast-002"]
        );
    }

    #[test]
    fn bad_filters_and_sorts_are_input_errors() {
        assert_eq!(cids(json!({"type": {"$regex": "x"}})).unwrap_err().code, 4);
        assert_eq!(cids(json!({"type": {"$in": "team"}})).unwrap_err().code, 4);
        assert_eq!(
            cids(json!({"created_at": {"$gt": "soon"}}))
                .unwrap_err()
                .code,
            4
        );
        assert_eq!(cids(json!([])).unwrap_err().code, 4);
        assert!(parse_sort(Some(&json!([{"field": "created_at", "direction": 2}]))).is_err());
        assert_eq!(
            parse_sort(Some(&json!({"created_at": 1}))).unwrap(),
            [("created_at".to_owned(), 1)]
        );
        assert_eq!(parse_sort(None).unwrap(), [("last_updated".to_owned(), -1)]);
    }
}
