//! The HTTP surface: the Stream routes (legacy paths), the download route, the control routes,
//! and the pipeline every Stream request goes through: delay fault, credentials, injected 429,
//! rate limit, injected 5xx, handler; then `duration`, the `X-RateLimit-*` headers and the log.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::auth::{self, Caller, Credentials};
use crate::endpoint::Endpoint;
use crate::error::{ApiError, duration_text, html_error, json_response};
use crate::export_api::{self, Answer};
use crate::limits::{Quota, Verdict};
use crate::log::LoggedRequest;
use crate::state::Shared;
use crate::{cdn, control, download, query_channels, refresh};

/// The largest request body read.
const MAX_BODY: usize = 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/export_channels", post(export_channels))
        .route("/export_channels/{task_id}", get(export_channels_status))
        .route("/export/users", post(export_users))
        .route("/tasks/{task_id}", get(get_task))
        .route("/channels", post(query))
        .route("/rate_limits", get(rate_limits))
        .route("/files/{*key}", get(files))
        .route("/messages/{id}", get(get_message))
        .route("/users", get(query_users))
        .route("/cdn/{*path}", get(cdn_file))
        .nest("/_emulator", control::router())
        .fallback(fallback)
        .with_state(shared)
}

async fn export_channels(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    api(shared, Endpoint::ExportChannels, request, |s, _, body| {
        export_api::export_channels(s, body)
    })
    .await
}

async fn export_channels_status(
    State(shared): State<Arc<Shared>>,
    task_id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let task_id = path_text(task_id);
    api(
        shared,
        Endpoint::GetExportChannelsStatus,
        request,
        move |s, _, _| export_api::task_status(s, &task_id, true),
    )
    .await
}

async fn export_users(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    api(shared, Endpoint::ExportUsers, request, |s, _, body| {
        export_api::export_users(s, body)
    })
    .await
}

async fn get_task(
    State(shared): State<Arc<Shared>>,
    task_id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let task_id = path_text(task_id);
    api(shared, Endpoint::GetTask, request, move |s, _, _| {
        export_api::task_status(s, &task_id, false)
    })
    .await
}

async fn query(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    api(
        shared,
        Endpoint::QueryChannels,
        request,
        query_channels::query_channels,
    )
    .await
}

async fn rate_limits(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let query = query_params(request.uri().query());
    api(shared, Endpoint::GetRateLimits, request, move |s, _, _| {
        Ok((StatusCode::OK, rate_limits_body(s, &query)))
    })
    .await
}

/// `GET /rate_limits?server_side=true&endpoints=A,B`: `{"server_side": {Name: {limit,
/// remaining, reset}}}`. Only server-side limits exist here.
fn rate_limits_body(
    shared: &Shared,
    query: &HashMap<String, String>,
) -> serde_json::Map<String, Value> {
    let now = shared.clock.now();
    let wanted: Option<Vec<&str>> = query.get("endpoints").map(|list| {
        list.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    });
    let mut limits = serde_json::Map::new();
    for endpoint in Endpoint::ALL {
        if wanted
            .as_ref()
            .is_some_and(|w| !w.contains(&endpoint.name()))
        {
            continue;
        }
        if let Some(quota) = shared.limiter.peek(endpoint, now) {
            limits.insert(
                endpoint.name().to_owned(),
                json!({"limit": quota.limit, "remaining": quota.remaining, "reset": quota.reset}),
            );
        }
    }
    let mut body = serde_json::Map::new();
    body.insert("server_side".into(), Value::Object(limits));
    body
}

async fn files(
    State(shared): State<Arc<Shared>>,
    key: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let at = shared.clock.now();
    let query = query_params(request.uri().query());
    let path = request.uri().path().to_owned();
    let key = path_text(key);
    let response = download::serve(Arc::clone(&shared), &key, &query, request.headers()).await;
    shared.log.push(LoggedRequest {
        method: request.method().to_string(),
        path,
        endpoint: Some(Endpoint::DownloadExport),
        status: response.status().as_u16(),
        at,
        headers: Vec::new(),
        query_names: Vec::new(),
    });
    response
}

async fn get_message(
    State(shared): State<Arc<Shared>>,
    id: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let id = path_text(id);
    api(shared, Endpoint::GetMessage, request, move |s, _, _| {
        refresh::get_message(s, &id)
    })
    .await
}

async fn query_users(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let query = query_params(request.uri().query());
    api(shared, Endpoint::QueryUsers, request, move |s, _, _| {
        refresh::query_users(s, &query)
    })
    .await
}

async fn cdn_file(
    State(shared): State<Arc<Shared>>,
    path: Result<Path<String>, PathRejection>,
    request: Request,
) -> Response {
    let at = shared.clock.now();
    let query = query_params(request.uri().query());
    let path = path_text(path);
    let response = cdn::serve(&shared, &path, &query).await;
    shared.log.push(LoggedRequest {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        endpoint: Some(Endpoint::CdnFile),
        status: response.status().as_u16(),
        at,
        headers: cdn::logged_headers(request.headers()),
        query_names: cdn::query_names(request.uri().query()),
    });
    response
}

async fn fallback(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let error = ApiError::not_found(format!(
        "no route for {} {}",
        request.method(),
        request.uri().path()
    ));
    let response = json_response(
        error.status,
        &Value::Object(error_map(&error, "Unknown", "0.00ms")),
    );
    shared.log.push(LoggedRequest {
        method: request.method().to_string(),
        path: request.uri().path().to_owned(),
        endpoint: None,
        status: response.status().as_u16(),
        at: shared.clock.now(),
        headers: Vec::new(),
        query_names: Vec::new(),
    });
    response
}

/// Runs a Stream request through the pipeline.
async fn api<F>(shared: Arc<Shared>, endpoint: Endpoint, request: Request, handler: F) -> Response
where
    F: FnOnce(&Shared, &Caller, &[u8]) -> Answer,
{
    let started = Instant::now();
    let at = shared.clock.now();
    let (parts, body) = request.into_parts();
    let (response, quota) = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => run(
            &shared,
            endpoint,
            &parts.headers,
            parts.uri.query(),
            &body,
            handler,
            started,
        ),
        Err(_) => {
            let error = ApiError::input("the request body could not be read or is over 1 MiB");
            (
                error_response(&error, endpoint, started),
                shared.limiter.peek(endpoint, at),
            )
        }
    };
    // The work is done before the delay, as on a slow server: a client that gives up waiting
    // has still started whatever it asked for (this is how a lost answer to a create looks).
    if let Some(delay) = shared.faults.delay(endpoint) {
        tokio::time::sleep(delay).await;
    }
    let mut response = response;
    if let Some(quota) = quota {
        rate_limit_headers(response.headers_mut(), &quota);
    }
    shared.log.push(LoggedRequest {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        endpoint: Some(endpoint),
        status: response.status().as_u16(),
        at,
        headers: Vec::new(),
        query_names: Vec::new(),
    });
    response
}

/// Authentication, limits, faults and the handler; returns the answer and the quota to report.
fn run<F>(
    shared: &Shared,
    endpoint: Endpoint,
    headers: &HeaderMap,
    query: Option<&str>,
    body: &[u8],
    handler: F,
    started: Instant,
) -> (Response, Option<Quota>)
where
    F: FnOnce(&Shared, &Caller, &[u8]) -> Answer,
{
    let now = shared.clock.now();
    let params = query_params(query);
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let credentials = Credentials {
        api_key: params.get("api_key").map(String::as_str),
        authorization: header("authorization"),
        auth_type: header("stream-auth-type"),
    };
    let fail = |error: ApiError| error_response(&error, endpoint, started);
    let peek = || shared.limiter.peek(endpoint, now);
    let caller = match auth::authenticate(
        &credentials,
        &shared.config.api_key,
        &shared.config.api_secret,
        now,
    ) {
        Ok(caller) => caller,
        Err(error) => return (fail(error), peek()),
    };
    if endpoint.server_only() && matches!(caller, Caller::User(_)) {
        let error = ApiError::not_allowed(format!(
            "{endpoint} is a server-side only endpoint; use a server token (without user_id)"
        ));
        return (fail(error), peek());
    }
    if shared.faults.take_rate_limited(endpoint) {
        let quota = peek().map(|q| Quota { remaining: 0, ..q });
        let retry = quota.map_or(1, |q| (q.reset - now.timestamp()).max(1));
        return (too_many(endpoint, started, retry), quota);
    }
    let quota = match shared.limiter.acquire(endpoint, now) {
        Some(Verdict::Limited(quota, retry)) => {
            return (too_many(endpoint, started, retry), Some(quota));
        }
        Some(Verdict::Allowed(quota)) => Some(quota),
        None => None,
    };
    if let Some(status) = shared.faults.take_server_error(endpoint) {
        let response = match StatusCode::from_u16(status) {
            Ok(StatusCode::INTERNAL_SERVER_ERROR) | Err(_) => fail(ApiError::internal(
                "internal server error (fault injected by the emulator)",
            )),
            Ok(status) => html_error(status),
        };
        return (response, quota);
    }
    let response = match handler(shared, &caller, body) {
        Ok((status, mut body)) => {
            body.insert("duration".into(), json!(duration_text(started.elapsed())));
            json_response(status, &Value::Object(body))
        }
        Err(error) => fail(error),
    };
    (response, quota)
}

fn too_many(endpoint: Endpoint, started: Instant, retry_after: i64) -> Response {
    let mut response = error_response(&ApiError::rate_limited(endpoint), endpoint, started);
    if let Ok(value) = HeaderValue::from_str(&retry_after.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

fn error_response(error: &ApiError, endpoint: Endpoint, started: Instant) -> Response {
    let body = error_map(error, endpoint.name(), &duration_text(started.elapsed()));
    json_response(error.status, &Value::Object(body))
}

fn error_map(error: &ApiError, operation: &str, duration: &str) -> serde_json::Map<String, Value> {
    match error.body(operation, duration) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    }
}

fn rate_limit_headers(headers: &mut HeaderMap, quota: &Quota) {
    for (name, value) in [
        ("x-ratelimit-limit", i64::from(quota.limit)),
        ("x-ratelimit-remaining", i64::from(quota.remaining)),
        ("x-ratelimit-reset", quota.reset),
    ] {
        if let Ok(value) = HeaderValue::from_str(&value.to_string()) {
            headers.insert(name, value);
        }
    }
}

/// A path parameter; one that does not decode (not UTF-8) names nothing that exists.
fn path_text(param: Result<Path<String>, PathRejection>) -> String {
    param.map(|Path(text)| text).unwrap_or_default()
}

/// Query parameters, percent-decoded; the last of repeated names wins.
pub(crate) fn query_params(query: Option<&str>) -> HashMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect()
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(byte) => {
                        out.push(byte);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_decoded() {
        let params = query_params(Some("api_key=a%20b&x=1+2&empty=&bad=%zz&tail=%4"));
        assert_eq!(params["api_key"], "a b");
        assert_eq!(params["x"], "1 2");
        assert_eq!(params["empty"], "");
        assert_eq!(params["bad"], "%zz");
        assert_eq!(params["tail"], "%4");
        assert!(query_params(None).is_empty());
    }
}
