//! `/_emulator/...`: control routes for scripts and benchmarks (no authentication: the server
//! only listens on loopback). Answers are JSON; bad input answers 400 `{"error": "..."}`.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::auth;
use crate::endpoint::Endpoint;
use crate::export_api::parse_time;
use crate::inspect::{self, GroundTruthOptions};
use crate::media_truth;
use crate::objects::Ts;
use crate::state::Shared;

pub(crate) fn router() -> Router<Arc<Shared>> {
    Router::new()
        .route("/clock", get(clock))
        .route("/clock/advance", post(advance))
        .route("/clock/set", post(set_clock))
        .route("/faults", post(fault))
        .route("/requests", get(requests).delete(clear_requests))
        .route("/tasks", get(tasks))
        .route("/channels", get(channels))
        .route("/ground_truth", get(ground_truth))
        .route("/token", post(token))
        .route("/media_truth", get(media_truth))
        .route("/cdn/delete", post(delete_cdn_file))
        .route("/cdn/redirect", post(redirect_cdn_file))
}

fn bad(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": message.into()})),
    )
        .into_response()
}

/// A JSON body, whatever the `Content-Type` (scripts often leave it out); empty reads as `{}`.
fn body<T: DeserializeOwned>(bytes: &[u8], expected: &str) -> Result<T, String> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    serde_json::from_slice(bytes).map_err(|e| format!("expected {expected}: {e}"))
}

fn now_body(shared: &Shared) -> Json<Value> {
    Json(json!({"now": Ts(shared.clock.now()).to_string(), "mode": shared.clock.mode()}))
}

/// `GET /_emulator/clock` → `{"now", "mode"}`
async fn clock(State(shared): State<Arc<Shared>>) -> Json<Value> {
    now_body(&shared)
}

#[derive(Deserialize)]
struct Advance {
    seconds: f64,
}

/// `POST /_emulator/clock/advance {"seconds": 3600}` → `{"now", "mode"}`
async fn advance(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let seconds = match body::<Advance>(&bytes, "{\"seconds\": number}") {
        Ok(Advance { seconds }) => seconds,
        Err(error) => return bad(error),
    };
    let by = chrono::Duration::try_milliseconds((seconds * 1000.0) as i64)
        .filter(|by| seconds.is_finite() && shared.clock.now().checked_add_signed(*by).is_some());
    let Some(by) = by else {
        return bad("seconds would take the clock out of range");
    };
    shared.clock.advance(by);
    now_body(&shared).into_response()
}

#[derive(Deserialize)]
struct SetClock {
    now: String,
}

/// `POST /_emulator/clock/set {"now": "2025-01-01T00:00:00Z"}` → `{"now", "mode"}`
async fn set_clock(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let expected = "{\"now\": RFC 3339 time}";
    let to = match body::<SetClock>(&bytes, expected) {
        Ok(SetClock { now }) => match parse_time(&now) {
            Some(to) => to,
            None => return bad(format!("expected {expected}, got {now:?}")),
        },
        Err(error) => return bad(error),
    };
    shared.clock.set(to);
    now_body(&shared).into_response()
}

/// One fault switch, as `POST /_emulator/faults` takes it.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum FaultRequest {
    ErrorRate {
        endpoint: Endpoint,
        rate: f64,
    },
    ServerErrors {
        endpoint: Endpoint,
        count: u32,
        status: Option<u16>,
    },
    RateLimited {
        endpoint: Endpoint,
        count: u32,
    },
    Delay {
        endpoint: Endpoint,
        millis: u64,
    },
    CutDownloads {
        count: u32,
        after_bytes: u64,
    },
    CutCdnFiles {
        count: u32,
        after_bytes: u64,
    },
    FailTasks {
        count: u32,
    },
    ExpireLinks {
        count: u32,
    },
    Clear,
}

/// `POST /_emulator/faults {"kind": ..., ...}` → `{"ok": true}`
async fn fault(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let expected = "a fault: {\"kind\": \"error_rate\"|\"server_errors\"|\"rate_limited\"|\"delay\"|\"cut_downloads\"|\"cut_cdn_files\"|\"fail_tasks\"|\"expire_links\"|\"clear\", ...}";
    let request = match body::<FaultRequest>(&bytes, expected) {
        Ok(request) => request,
        Err(error) => return bad(error),
    };
    let faults = &shared.faults;
    match request {
        FaultRequest::ErrorRate { endpoint, rate } => faults.set_error_rate(endpoint, rate),
        FaultRequest::ServerErrors {
            endpoint,
            count,
            status,
        } => {
            faults.fail_next_requests(endpoint, count, status.unwrap_or(500));
        }
        FaultRequest::RateLimited { endpoint, count } => faults.rate_limit_next(endpoint, count),
        FaultRequest::Delay { endpoint, millis } => {
            faults.set_delay(endpoint, std::time::Duration::from_millis(millis));
        }
        FaultRequest::CutDownloads { count, after_bytes } => {
            faults.cut_next_downloads(count, after_bytes)
        }
        FaultRequest::CutCdnFiles { count, after_bytes } => {
            faults.cut_next_cdn_files(count, after_bytes)
        }
        FaultRequest::FailTasks { count } => faults.fail_next_tasks(count),
        FaultRequest::ExpireLinks { count } => faults.expire_next_links(count),
        FaultRequest::Clear => faults.clear(),
    }
    Json(json!({"ok": true})).into_response()
}

/// `GET /_emulator/requests` → the request log
async fn requests(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(shared.log.entries()))
}

/// `DELETE /_emulator/requests` empties the request log.
async fn clear_requests(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.log.clear();
    Json(json!({"ok": true}))
}

/// `GET /_emulator/tasks` → every task, with its state now
async fn tasks(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(inspect::tasks(&shared)))
}

/// `GET /_emulator/channels` → the channels of the data set
async fn channels(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(json!(inspect::channels(&shared)))
}

#[derive(Deserialize)]
struct GroundTruthQuery {
    cid: String,
    since: Option<String>,
    until: Option<String>,
    as_of: Option<String>,
    #[serde(default)]
    include_truncated_messages: bool,
    #[serde(default)]
    include_soft_deleted_channels: bool,
    #[serde(default)]
    count_only: bool,
}

/// `GET /_emulator/ground_truth?cid=…[&since=…][&until=…][&as_of=…][&include_truncated_messages=true]
/// [&include_soft_deleted_channels=true][&count_only=true]` → `{"cid", "count", "message_ids"}`
async fn ground_truth(
    State(shared): State<Arc<Shared>>,
    query: Result<Query<GroundTruthQuery>, QueryRejection>,
) -> Response {
    let Ok(Query(q)) = query else {
        return bad("expected ?cid=type:id with optional since, until, as_of and include flags");
    };
    let time = |t: &Option<String>| match t {
        None => Ok(None),
        Some(s) => parse_time(s)
            .map(Some)
            .ok_or_else(|| format!("{s:?} is not an RFC 3339 time")),
    };
    let (since, until, as_of) = match (time(&q.since), time(&q.until), time(&q.as_of)) {
        (Ok(s), Ok(u), Ok(a)) => (s, u, a),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return bad(e),
    };
    let options = GroundTruthOptions {
        include_truncated_messages: q.include_truncated_messages,
        include_soft_deleted_channels: q.include_soft_deleted_channels,
        as_of,
    };
    let ids = inspect::ground_truth(&shared, &q.cid, since, until, options);
    let mut body = json!({"cid": q.cid, "count": ids.len()});
    if !q.count_only {
        body["message_ids"] = json!(ids);
    }
    Json(body).into_response()
}

#[derive(Deserialize)]
struct TokenRequest {
    user_id: Option<String>,
}

/// `POST /_emulator/token {}` → `{"token"}`: a server token, or a user token with `user_id`.
async fn token(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    let request = match body::<TokenRequest>(&bytes, "{} or {\"user_id\": string}") {
        Ok(request) => request,
        Err(error) => return bad(error),
    };
    let claims = match request.user_id {
        Some(user_id) => json!({"user_id": user_id}),
        None => json!({"server": true}),
    };
    Json(json!({"token": auth::sign(&claims, &shared.config.api_secret)})).into_response()
}

/// `GET /_emulator/media_truth` → every media reference with its file's size and SHA-256
/// (hashing every file: seconds for gigabytes).
async fn media_truth(State(shared): State<Arc<Shared>>) -> Response {
    match tokio::task::spawn_blocking(move || media_truth::media_truth(&shared)).await {
        Ok(truth) => Json(json!(truth)).into_response(),
        Err(error) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"error": error.to_string()})),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
struct DeleteCdnFile {
    path: String,
}

/// `POST /_emulator/cdn/delete {"path": "emulator/…"}` → `{"ok": true}`: the file answers 404
/// from now on.
async fn delete_cdn_file(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    match body::<DeleteCdnFile>(&bytes, "{\"path\": string}") {
        Ok(DeleteCdnFile { path }) => {
            shared.delete_cdn_file(&path);
            Json(json!({"ok": true})).into_response()
        }
        Err(error) => bad(error),
    }
}

#[derive(Deserialize)]
struct RedirectCdnFile {
    path: String,
    location: String,
}

/// `POST /_emulator/cdn/redirect {"path": "emulator/…", "location": "https://…"}` →
/// `{"ok": true}`: a valid link to the path answers 302 to the location from now on.
async fn redirect_cdn_file(State(shared): State<Arc<Shared>>, bytes: Bytes) -> Response {
    match body::<RedirectCdnFile>(&bytes, "{\"path\": string, \"location\": string}") {
        Ok(RedirectCdnFile { path, location }) => {
            shared.redirect_cdn_file(&path, &location);
            Json(json!({"ok": true})).into_response()
        }
        Err(error) => bad(error),
    }
}
