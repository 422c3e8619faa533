//! What can go wrong talking to Stream, sorted by what the user (or the retry loop) should do.

use std::time::Duration;

use thiserror::Error;

use super::endpoint::Endpoint;

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error("{endpoint}: Stream refused the credentials (HTTP {status}, code {code}): {message}")]
    Auth {
        endpoint: Endpoint,
        status: u16,
        code: i64,
        message: String,
    },
    #[error("{endpoint}: not allowed (HTTP 403, code {code}): {message}")]
    Forbidden {
        endpoint: Endpoint,
        code: i64,
        message: String,
    },
    #[error("{endpoint}: not found: {message}")]
    NotFound { endpoint: Endpoint, message: String },
    #[error("{endpoint}: Stream refused the request (HTTP {status}): {message}")]
    BadInput {
        endpoint: Endpoint,
        status: u16,
        message: String,
    },
    #[error("{endpoint}: rate limited by Stream (HTTP 429)")]
    RateLimited {
        endpoint: Endpoint,
        /// How long Stream asked us to wait, when it said.
        retry_after: Option<Duration>,
    },
    #[error("{endpoint}: Stream had a server error (HTTP {status}): {message}")]
    Server {
        endpoint: Endpoint,
        status: u16,
        message: String,
    },
    #[error("{endpoint}: could not reach Stream: {source}")]
    Transport {
        endpoint: Endpoint,
        /// The request provably never reached the server (connection refused, DNS, …).
        not_sent: bool,
        #[source]
        source: reqwest::Error,
    },
    #[error("{endpoint}: unexpected answer (HTTP {status}): {detail}")]
    Decode {
        endpoint: Endpoint,
        status: u16,
        detail: String,
    },
    #[error(
        "{endpoint}: the request was sent but no answer came back ({source}); an export may or may not have been started"
    )]
    OutcomeUnknown {
        endpoint: Endpoint,
        #[source]
        source: reqwest::Error,
    },
    #[error("export task {task_id} did not finish within {waited:?} (last state: {state})")]
    Deadline {
        task_id: String,
        waited: Duration,
        state: String,
    },
    #[error("gave up on {endpoint} after {attempts} attempts over {elapsed:?}: {last}")]
    RetriesExhausted {
        endpoint: Endpoint,
        attempts: u32,
        elapsed: Duration,
        last: Box<ApiError>,
    },
    #[error("invalid API settings: {0}")]
    Settings(String),
}

impl ApiError {
    /// Worth trying again soon: the server was busy, broken for a moment, or unreachable.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            ApiError::RateLimited { .. } | ApiError::Server { .. } | ApiError::Transport { .. }
        )
    }

    /// What the user can do about it.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            ApiError::Auth { code: 2, .. } => {
                Some("check STREAM_API_KEY (api.key): Stream does not know this API key")
            }
            ApiError::Auth { .. } => Some(
                "check STREAM_API_SECRET (api.secret or api.secret_file): it must be the secret of the app whose key is used",
            ),
            ApiError::Forbidden { code: 99, .. } => Some("the Stream app is suspended"),
            ApiError::Forbidden { .. } => {
                Some("exports need a server-side token: use the app's API secret, not a user token")
            }
            ApiError::Transport { .. } => Some("check api.base_url and the network path to Stream"),
            ApiError::RetriesExhausted { last, .. } => last.hint(),
            _ => None,
        }
    }
}
