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
    /// No answer: the message names where the request went and why it got nowhere. reqwest's
    /// own error says only "error sending request" with its causes nested below; `reason` is
    /// the part of them that matters, so the error is not a source here.
    #[error("{endpoint}: could not reach Stream at {target}: {reason}")]
    Transport {
        endpoint: Endpoint,
        /// `host:port` of `api.base_url`.
        target: String,
        reason: String,
        /// The request provably never reached the server (connection refused, DNS, …).
        not_sent: bool,
        error: reqwest::Error,
    },
    #[error("{endpoint}: unexpected answer (HTTP {status}): {detail}")]
    Decode {
        endpoint: Endpoint,
        status: u16,
        detail: String,
    },
    #[error(
        "{endpoint}: the request to {target} was sent but no answer came back ({reason}); an export may or may not have been started"
    )]
    OutcomeUnknown {
        endpoint: Endpoint,
        target: String,
        reason: String,
        error: reqwest::Error,
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
    /// Auth hints name the setting, never its value: the key, the secret and the token stay
    /// out of every message.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            // 2: unknown API key; 5: the request's credentials are incomplete or malformed.
            ApiError::Auth { code: 2 | 5, .. } => Some(
                "check STREAM_API_KEY (api.key in the global config): Stream does not accept this API key for the app",
            ),
            // 43: bad signature, i.e. the secret is not this app's.
            ApiError::Auth { code: 43, .. } => Some(
                "check STREAM_API_SECRET (api.secret or api.secret_file in the global config): it must be the secret of the app whose key is STREAM_API_KEY",
            ),
            // 40-42: the token's times (exp, nbf, iat) are off: a wrong secret would give 43.
            ApiError::Auth { code: 40..=42, .. } => Some(
                "check STREAM_API_SECRET (api.secret or api.secret_file) and this machine's clock: Stream refused the token signed with it as expired or not yet valid",
            ),
            ApiError::Auth { .. } => Some(
                "check STREAM_API_KEY (api.key) and STREAM_API_SECRET (api.secret or api.secret_file): they must be the key and secret of one Stream app",
            ),
            ApiError::Forbidden { code: 99, .. } => Some("the Stream app is suspended"),
            ApiError::Forbidden { .. } => {
                Some("exports need a server-side token: use the app's API secret, not a user token")
            }
            ApiError::Transport { .. } | ApiError::OutcomeUnknown { .. } => {
                Some("check api.base_url and the network path to Stream (proxy, firewall, DNS)")
            }
            ApiError::RetriesExhausted { last, .. } => last.hint(),
            _ => None,
        }
    }
}
