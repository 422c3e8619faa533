//! The client of Stream's server-side export API.
//!
//! One pooled HTTP client; every request carries the `api_key` query parameter, the server
//! JWT as a bare `Authorization` header and `Stream-Auth-Type: jwt`. Requests pass a
//! per-endpoint [`Limiter`] first and are retried ([`crate::retry`]) when the failure is
//! transient. Time comes from the injected [`Clock`](crate::clock::Clock).
//!
//! Creating exports is the one place a blind retry could do harm. A create is retried only
//! when Stream answered (429, 5xx: the request failed there) or the connection was never
//! made. When the request went out and the answer was lost, the outcome is unknown: the
//! client returns [`ApiError::OutcomeUnknown`] and does not retry, because Stream offers no
//! way to look the task up. The caller records the batch as not started; the next run creates
//! it again, which at worst costs Stream a second export task and never a second archive
//! (archive keys are deterministic per window and batch).

mod auth;
mod endpoint;
mod error;
mod limiter;
mod stats;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use url::Url;

pub use auth::Token;
pub use endpoint::Endpoint;
pub use error::ApiError;
pub use limiter::{Limiter, Quota};
pub use stats::{ANSWERS, ClientStats, RequestStats};
use wire::{
    ChannelRequest, ErrorBody, ExportChannelsBody, ExportUsersBody, MessageResponse,
    QueryChannelsBody, QueryChannelsRaw, QueryChannelsResponse, SortField, TaskCreated, TaskStatus,
    UsersResponse,
};

use crate::clock::SharedClock;
use crate::config::job::{Cid, ExportOptions, MAX_BATCH};
use crate::retry::{GaveUp, Next, RetryPolicy};

/// Query-channels pages hold at most this many channels.
const QUERY_PAGE: usize = 30;
/// A request is tried 6 times within 5 minutes: an outage of Stream longer than that fails
/// the batch, and the next run tries again.
const REQUEST_RETRY: RetryPolicy =
    RetryPolicy::new(6, Duration::from_millis(500), Duration::from_secs(30))
        .within(Duration::from_secs(300));

#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub base_url: String,
    pub api_key: String,
    pub api_secret: String,
    /// Per request; a stalled connection is a failure, not a wait.
    pub request_timeout: Duration,
    pub retry: RetryPolicy,
    pub poll: PollPolicy,
}

impl ClientConfig {
    pub fn new(base_url: &str, api_key: &str, api_secret: &str) -> Self {
        ClientConfig {
            base_url: base_url.to_owned(),
            api_key: api_key.to_owned(),
            api_secret: api_secret.to_owned(),
            request_timeout: Duration::from_secs(30),
            retry: REQUEST_RETRY,
            poll: PollPolicy::default(),
        }
    }
}

/// How often to ask about a task: soon at first, then less and less often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PollPolicy {
    pub first: Duration,
    pub max: Duration,
    /// Give up on a task that has not finished after this long.
    pub deadline: Duration,
}

impl Default for PollPolicy {
    fn default() -> Self {
        PollPolicy {
            first: Duration::from_secs(1),
            max: Duration::from_secs(30),
            deadline: Duration::from_secs(6 * 3600),
        }
    }
}

/// What a channels export covers: a batch of channels and a window of message time.
#[derive(Debug, Clone)]
pub struct ChannelsExport<'a> {
    pub channels: &'a [Cid],
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub options: ExportOptions,
}

/// Which status route to poll: the typed one for channel exports, the generic one otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    Channels,
    Users,
}

pub struct StreamClient {
    http: reqwest::Client,
    base: Url,
    api_key: String,
    token: Token,
    clock: SharedClock,
    limiter: Arc<Limiter>,
    retry: RetryPolicy,
    poll: PollPolicy,
    stats: Arc<RequestStats>,
}

impl std::fmt::Debug for StreamClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamClient")
            .field("base", &self.base.as_str())
            .finish_non_exhaustive()
    }
}

impl StreamClient {
    pub fn new(config: &ClientConfig, clock: SharedClock) -> Result<Self, ApiError> {
        let mut base = Url::parse(&config.base_url).map_err(|e| {
            ApiError::Settings(format!(
                "api.base_url `{}` is not a URL: {e}",
                config.base_url
            ))
        })?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        if config.api_key.is_empty() {
            return Err(ApiError::Settings(
                "the API key is empty: set STREAM_API_KEY (or api.key)".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(config.request_timeout)
            // Stream's load balancer drops idle connections at 60 s.
            .pool_idle_timeout(Duration::from_secs(59))
            .user_agent(concat!("chatvault/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ApiError::Settings(format!("cannot build the HTTP client: {e}")))?;
        Ok(StreamClient {
            http,
            base,
            api_key: config.api_key.clone(),
            token: auth::server_token(&config.api_secret)?,
            limiter: Arc::new(Limiter::new(clock.clone())),
            clock,
            retry: config.retry,
            poll: config.poll,
            stats: Arc::default(),
        })
    }

    pub fn limiter(&self) -> &Limiter {
        &self.limiter
    }

    /// Requests sent so far, by endpoint and answer, and rate-limit waits: a handle that
    /// stays current.
    pub fn stats(&self) -> ClientStats {
        ClientStats {
            requests: self.stats.clone(),
            limiter: self.limiter.clone(),
        }
    }

    /// Starts an export of at most 25 channels; returns the task id.
    pub async fn export_channels(&self, export: &ChannelsExport<'_>) -> Result<String, ApiError> {
        check_batch(Endpoint::ExportChannels, export.channels.len())?;
        let since = export.since.map(wire::wire_time);
        let until = export.until.map(wire::wire_time);
        let body = ExportChannelsBody {
            channels: export
                .channels
                .iter()
                .map(|c| ChannelRequest {
                    channel_type: c.channel_type.clone(),
                    id: c.id.clone(),
                    messages_since: since.clone(),
                    messages_until: until.clone(),
                })
                .collect(),
            version: export.options.version.to_string(),
            include_truncated_messages: export.options.include_truncated_messages,
            include_soft_deleted_channels: export.options.include_soft_deleted_channels,
            clear_deleted_message_text: export.options.clear_deleted_message_text,
        };
        let created: TaskCreated = self
            .send(
                Endpoint::ExportChannels,
                Method::POST,
                &["export_channels"],
                Some(&body),
            )
            .await?;
        Ok(created.task_id)
    }

    /// Starts an export of at most 25 users' data; returns the task id.
    pub async fn export_users(&self, user_ids: &[String]) -> Result<String, ApiError> {
        check_batch(Endpoint::ExportUsers, user_ids.len())?;
        let body = ExportUsersBody {
            user_ids: user_ids.to_vec(),
        };
        let created: TaskCreated = self
            .send(
                Endpoint::ExportUsers,
                Method::POST,
                &["export", "users"],
                Some(&body),
            )
            .await?;
        Ok(created.task_id)
    }

    /// A fresh status of a task. Each call also renews a finished export's 24-hour link, so
    /// ask right before downloading.
    pub async fn status(&self, kind: TaskKind, task_id: &str) -> Result<TaskStatus, ApiError> {
        let (endpoint, route) = match kind {
            TaskKind::Channels => (Endpoint::GetExportChannelsStatus, "export_channels"),
            TaskKind::Users => (Endpoint::GetTask, "tasks"),
        };
        self.send::<TaskStatus, ()>(endpoint, Method::GET, &[route, task_id], None)
            .await
    }

    /// Polls until the task completes, fails or the poll deadline passes.
    pub async fn wait(&self, kind: TaskKind, task_id: &str) -> Result<TaskStatus, ApiError> {
        let started = self.clock.now();
        let mut interval = self.poll.first;
        loop {
            let status = self.status(kind, task_id).await?;
            if status.status.is_terminal() {
                return Ok(status);
            }
            let waited = (self.clock.now() - started).to_std().unwrap_or_default();
            if waited >= self.poll.deadline {
                return Err(ApiError::Deadline {
                    task_id: task_id.to_owned(),
                    waited,
                    state: status.status.as_str().to_owned(),
                });
            }
            self.clock
                .sleep(interval.min(self.poll.deadline - waited))
                .await;
            interval = interval.mul_f32(1.5).min(self.poll.max);
        }
    }

    /// Every channel of `channel_type` matching `filter`, sorted, through query-channels.
    pub async fn query_channels(
        &self,
        channel_type: &str,
        filter: &serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<Cid>, ApiError> {
        let mut conditions = filter.clone();
        conditions.insert("type".into(), channel_type.into());
        self.query(conditions).await
    }

    /// Which of `cids` query-channels finds, sorted: a read-only probe that costs no export
    /// task. Query-channels never returns soft-deleted channels, which an export may still
    /// accept, so a cid absent here is only a suspect until an export refuses it.
    pub async fn existing_channels(&self, cids: &[Cid]) -> Result<Vec<Cid>, ApiError> {
        let mut found = Vec::new();
        for chunk in cids.chunks(QUERY_PAGE) {
            let listed: Vec<serde_json::Value> =
                chunk.iter().map(|c| c.to_string().into()).collect();
            let mut conditions = serde_json::Map::new();
            conditions.insert("cid".into(), serde_json::json!({ "$in": listed }));
            found.extend(self.query(conditions).await?);
        }
        found.sort();
        found.dedup();
        Ok(found)
    }

    /// The message `id` as Stream holds it now, its file links freshly signed; `None` when
    /// Stream no longer has it.
    pub async fn get_message(&self, id: &str) -> Result<Option<serde_json::Value>, ApiError> {
        let got = self
            .send::<MessageResponse, ()>(Endpoint::GetMessage, Method::GET, &["messages", id], None)
            .await;
        match got {
            Ok(answer) => Ok(answer.message),
            Err(ApiError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The users of `ids` that Stream has (at most [`QUERY_PAGE`] a request), their images
    /// freshly signed.
    pub async fn query_users(&self, ids: &[String]) -> Result<Vec<serde_json::Value>, ApiError> {
        let mut found = Vec::new();
        for chunk in ids.chunks(QUERY_PAGE) {
            let payload = serde_json::json!({ "filter_conditions": { "id": { "$in": chunk } } });
            let answer: UsersResponse = self
                .send_with_query::<_, ()>(
                    Endpoint::QueryUsers,
                    Method::GET,
                    &["users"],
                    &[("payload", &payload.to_string())],
                    None,
                )
                .await?;
            found.extend(answer.users);
        }
        Ok(found)
    }

    /// The channel `cid` with its fields as Stream holds them now (its `image` freshly
    /// signed), through query-channels; `None` when Stream has no such channel.
    pub async fn channel(&self, cid: &str) -> Result<Option<serde_json::Value>, ApiError> {
        let mut conditions = serde_json::Map::new();
        conditions.insert("cid".into(), serde_json::json!({ "$in": [cid] }));
        let body = QueryChannelsBody {
            filter_conditions: conditions,
            sort: Vec::new(),
            limit: 1,
            offset: 0,
            state: false,
            watch: false,
            presence: false,
        };
        let page: QueryChannelsRaw = self
            .send(
                Endpoint::QueryChannels,
                Method::POST,
                &["channels"],
                Some(&body),
            )
            .await?;
        Ok(page.channels.into_iter().next().map(|c| c.channel))
    }

    /// Every channel matching `conditions`, page by page, sorted.
    async fn query(
        &self,
        conditions: serde_json::Map<String, serde_json::Value>,
    ) -> Result<Vec<Cid>, ApiError> {
        let mut found = Vec::new();
        loop {
            let body = QueryChannelsBody {
                filter_conditions: conditions.clone(),
                sort: vec![SortField {
                    field: "created_at".into(),
                    direction: 1,
                }],
                limit: QUERY_PAGE,
                offset: found.len(),
                state: false,
                watch: false,
                presence: false,
            };
            let page: QueryChannelsResponse = self
                .send(
                    Endpoint::QueryChannels,
                    Method::POST,
                    &["channels"],
                    Some(&body),
                )
                .await?;
            let n = page.channels.len();
            found.extend(page.channels.into_iter().map(|c| Cid {
                channel_type: c.channel.channel_type,
                id: c.channel.id,
            }));
            if n < QUERY_PAGE {
                break;
            }
        }
        found.sort();
        found.dedup();
        Ok(found)
    }

    /// One request with the limiter and retries around it.
    async fn send<T: DeserializeOwned, B: Serialize>(
        &self,
        endpoint: Endpoint,
        method: Method,
        path: &[&str],
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        self.send_with_query(endpoint, method, path, &[], body)
            .await
    }

    /// [`Self::send`] with query parameters besides the API key.
    async fn send_with_query<T: DeserializeOwned, B: Serialize>(
        &self,
        endpoint: Endpoint,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let method = &method;
        let attempt = move || async move {
            self.limiter.acquire(endpoint).await;
            self.attempt(endpoint, method.clone(), path, query, body)
                .await
        };
        let judge = |err: &ApiError, _| match err {
            // The limiter already holds the endpoint until Stream's reset.
            ApiError::RateLimited { .. } => Next::RetryNow,
            err if err.is_transient() => Next::Retry,
            _ => Next::Stop,
        };
        self.retry
            .run(self.clock.as_ref(), attempt, judge)
            .await
            .map_err(|gave_up| match gave_up {
                GaveUp::Stopped(err) => err,
                GaveUp::Exhausted {
                    last,
                    attempts,
                    elapsed,
                } => ApiError::RetriesExhausted {
                    endpoint,
                    attempts,
                    elapsed,
                    last: Box::new(last),
                },
            })
    }

    fn url(&self, path: &[&str], query: &[(&str, &str)]) -> Result<Url, ApiError> {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .map_err(|()| ApiError::Settings("api.base_url cannot take a path".into()))?
            .pop_if_empty()
            .extend(path);
        url.query_pairs_mut()
            .append_pair("api_key", &self.api_key)
            .extend_pairs(query);
        Ok(url)
    }

    async fn attempt<T: DeserializeOwned, B: Serialize>(
        &self,
        endpoint: Endpoint,
        method: Method,
        path: &[&str],
        query: &[(&str, &str)],
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        let mut request = self
            .http
            .request(method, self.url(path, query)?)
            .header("Authorization", self.token.expose())
            .header("Stream-Auth-Type", "jwt")
            .header(
                "X-Stream-Client",
                concat!("chatvault-", env!("CARGO_PKG_VERSION")),
            );
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                self.stats.record(endpoint, None);
                return Err(transport_error(endpoint, &self.base, e));
            }
        };
        let status = response.status();
        self.stats.record(endpoint, Some(status.as_u16()));
        let quota = Quota::from_headers(response.headers());
        let retry_after = retry_after(response.headers());
        self.limiter.observe(endpoint, quota);
        let bytes = response
            .bytes()
            .await
            .map_err(|e| transport_error(endpoint, &self.base, e))?;
        if status == StatusCode::TOO_MANY_REQUESTS {
            self.limiter.hold(endpoint, quota, retry_after);
        }
        decode_answer(endpoint, status, &bytes, retry_after)
    }
}

/// The `Retry-After` header in seconds, when it is one.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs)
}

/// What an answer's body means: `T` for a success, else the error it stands for. Pure, so
/// hostile bodies can be tried without a server.
pub fn decode_answer<T: DeserializeOwned>(
    endpoint: Endpoint,
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
) -> Result<T, ApiError> {
    if status.is_success() {
        return serde_json::from_slice(body).map_err(|e| ApiError::Decode {
            endpoint,
            status: status.as_u16(),
            detail: e.to_string(),
        });
    }
    Err(classify(endpoint, status, body, retry_after))
}

fn check_batch(endpoint: Endpoint, n: usize) -> Result<(), ApiError> {
    if (1..=MAX_BATCH).contains(&n) {
        Ok(())
    } else {
        Err(ApiError::BadInput {
            endpoint,
            status: 0,
            message: format!("a request takes 1 to {MAX_BATCH} items, not {n}"),
        })
    }
}

/// A failure before any answer. Only a refused connection proves nothing was sent; for a
/// create anything else leaves the outcome unknown (see the module doc).
fn transport_error(endpoint: Endpoint, base: &Url, e: reqwest::Error) -> ApiError {
    // The URL carries the API key: the error keeps none of it but host and port.
    let e = e.without_url();
    let target = format!(
        "{}:{}",
        base.host_str().unwrap_or("?"),
        base.port_or_known_default().unwrap_or(0)
    );
    let reason = unreachable_reason(&e);
    if e.is_connect() {
        ApiError::Transport {
            endpoint,
            target,
            reason,
            not_sent: true,
            error: e,
        }
    } else if endpoint.creates() {
        ApiError::OutcomeUnknown {
            endpoint,
            target,
            reason,
            error: e,
        }
    } else {
        ApiError::Transport {
            endpoint,
            target,
            reason,
            not_sent: false,
            error: e,
        }
    }
}

/// Why a request got no answer, in the words a person checks for: connection refused, a DNS
/// lookup that failed, a TLS handshake that failed, a timeout. reqwest says "error sending
/// request" and nests the reason in its causes (hyper, the OS); this finds it there.
fn unreachable_reason(error: &reqwest::Error) -> String {
    let mut causes: Vec<&(dyn std::error::Error + 'static)> = Vec::new();
    let mut next = std::error::Error::source(error);
    while let Some(cause) = next {
        causes.push(cause);
        next = cause.source();
    }
    let innermost = causes
        .last()
        .map_or_else(|| error.to_string(), ToString::to_string);
    let io_kind = causes
        .iter()
        .find_map(|c| c.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind);
    let said = |needle: &str| {
        causes
            .iter()
            .any(|c| c.to_string().to_ascii_lowercase().contains(needle))
    };
    match io_kind {
        Some(std::io::ErrorKind::ConnectionRefused) => return "connection refused".into(),
        Some(std::io::ErrorKind::ConnectionReset) => return "connection reset".into(),
        Some(std::io::ErrorKind::TimedOut) => return "timed out".into(),
        _ => {}
    }
    if said("dns error") || said("failed to lookup address") {
        format!("DNS lookup failed: {innermost}")
    } else if said("certificate") || said("tls") || said("handshake") {
        format!("TLS failed: {innermost}")
    } else if error.is_timeout() {
        "timed out".into()
    } else if said("connection refused") {
        "connection refused".into()
    } else {
        innermost
    }
}

/// An error answer, read by Stream's code where the body has one and by HTTP status where
/// it does not (edge proxies answer with HTML or nothing).
fn classify(
    endpoint: Endpoint,
    status: StatusCode,
    body: &[u8],
    retry_after: Option<Duration>,
) -> ApiError {
    let parsed: ErrorBody = serde_json::from_slice(body).unwrap_or_default();
    let message = parsed
        .message
        .unwrap_or_else(|| status.canonical_reason().unwrap_or("no message").to_owned());
    let code = parsed.code;
    let http = status.as_u16();
    match (http, code) {
        (429, _) | (_, Some(9)) => ApiError::RateLimited {
            endpoint,
            retry_after,
        },
        (401, _) | (_, Some(2 | 5 | 40..=43)) => ApiError::Auth {
            endpoint,
            status: http,
            code: code.unwrap_or(5),
            message,
        },
        (403, _) => ApiError::Forbidden {
            endpoint,
            code: code.unwrap_or(17),
            message,
        },
        (404, _) | (_, Some(16)) => ApiError::NotFound { endpoint, message },
        (408, _) | (500..=599, _) => ApiError::Server {
            endpoint,
            status: http,
            message,
        },
        _ => ApiError::BadInput {
            endpoint,
            status: http,
            message,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_read_by_code_then_by_status() {
        let e = classify(
            Endpoint::GetTask,
            StatusCode::NOT_FOUND,
            br#"{"code":16,"message":"GetTask failed with error: \"Can't find task with id x\"","StatusCode":404}"#,
            None,
        );
        assert!(
            matches!(e, ApiError::NotFound { ref message, .. } if message.contains("Can't find task"))
        );
        let e = classify(
            Endpoint::GetTask,
            StatusCode::UNAUTHORIZED,
            br#"{"code":43}"#,
            None,
        );
        assert!(matches!(e, ApiError::Auth { code: 43, .. }));
        assert!(e.hint().is_some_and(|h| h.contains("STREAM_API_SECRET")));
        let e = classify(
            Endpoint::GetTask,
            StatusCode::BAD_GATEWAY,
            b"<html>oops</html>",
            None,
        );
        assert!(matches!(e, ApiError::Server { status: 502, .. }) && e.is_transient());
        let e = classify(
            Endpoint::ExportChannels,
            StatusCode::TOO_MANY_REQUESTS,
            b"",
            None,
        );
        assert!(e.is_transient());
        let e = classify(
            Endpoint::ExportChannels,
            StatusCode::BAD_REQUEST,
            br#"{"code":4,"message":"bad"}"#,
            None,
        );
        assert!(matches!(e, ApiError::BadInput { .. }) && !e.is_transient());
    }

    #[test]
    fn answers_decode_on_success_and_classify_otherwise() {
        let ok: Result<TaskCreated, _> = decode_answer(
            Endpoint::ExportUsers,
            StatusCode::CREATED,
            br#"{"task_id":"t"}"#,
            None,
        );
        assert_eq!(ok.map(|c| c.task_id).ok().as_deref(), Some("t"));
        let bad: Result<TaskCreated, _> =
            decode_answer(Endpoint::ExportUsers, StatusCode::OK, b"<html>", None);
        assert!(matches!(bad, Err(ApiError::Decode { status: 200, .. })));
        let limited: Result<TaskCreated, _> = decode_answer(
            Endpoint::ExportUsers,
            StatusCode::TOO_MANY_REQUESTS,
            b"",
            Some(Duration::from_secs(3)),
        );
        assert!(matches!(
            limited,
            Err(ApiError::RateLimited { retry_after: Some(d), .. }) if d.as_secs() == 3
        ));
    }
}
