//! Fetching the files messages link to, safely: links are user input, so a fetch goes only to
//! an `https` host on the allow-list, never to a loopback, private, link-local, CGNAT,
//! metadata or unspecified address (unless configured), follows redirects only to allowed
//! hosts, reads at most the size limit, times out, and sends no credential, cookie or API
//! header.
//!
//! The rules (`hosts.rs`) and the address classes (`address.rs`) are checked before any request;
//! the client (`client.rs`) is the one place that talks HTTP.

mod address;
mod client;
mod hosts;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::StatusCode;
use reqwest::header::CONTENT_LENGTH;

pub use address::special_use;
pub use client::{MAX_REDIRECTS, USER_AGENT};
use hosts::Rules;

use crate::config::job::MediaSettings;

/// How long a connection may take to open.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a response may go without a byte.
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long one fetch may take in all: a 100 MiB file at about 120 kB/s, so a server that
/// trickles bytes just inside the read timeout cannot hold a worker for ever.
pub const TOTAL_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// What may be fetched, from a job's `media` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub hosts: Vec<String>,
    pub allow_http: bool,
    pub allow_private_addresses: bool,
    pub max_size: u64,
    pub connect_timeout: Duration,
    /// Between two reads of a response.
    pub read_timeout: Duration,
    /// From connecting to the body's last byte.
    pub total_timeout: Duration,
}

impl Policy {
    pub fn from_settings(settings: &MediaSettings) -> Policy {
        Policy {
            hosts: settings.hosts.clone(),
            allow_http: settings.allow_http,
            allow_private_addresses: settings.allow_private_addresses,
            max_size: settings.max_file_size,
            connect_timeout: CONNECT_TIMEOUT,
            read_timeout: READ_TIMEOUT,
            total_timeout: TOTAL_TIMEOUT,
        }
    }
}

/// Why a link was not fetched or its file not had. No text in it quotes a link's query.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchFailure {
    /// The scheme, the host or an address it resolves to is not allowed; no request was made
    /// to it.
    #[error("refused: {0}")]
    Refused(String),
    /// Larger than the limit: said by `Content-Length` or found while reading.
    #[error("larger than the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// HTTP 403: a signed link that expired or whose signature does not hold.
    #[error("the link was refused (HTTP 403)")]
    Forbidden,
    /// HTTP 404 or 410.
    #[error("the file is gone (HTTP {status})")]
    Gone { status: u16 },
    /// Anything else: a timeout, a connection error, another status.
    #[error("{0}")]
    Failed(String),
}

/// Fetches under one [`Policy`]. Cheap to clone (the client's connection pool is shared).
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: Policy,
    rules: Arc<Rules>,
    client: reqwest::Client,
}

/// A response being read: at most the policy's limit, chunk by chunk.
#[derive(Debug)]
pub struct Body {
    /// `Content-Length`, when the server gave one (already checked against the limit).
    pub length: Option<u64>,
    response: reqwest::Response,
    read: u64,
    limit: u64,
}

impl Fetcher {
    /// Fails only on a host pattern validation would have refused, or a client that cannot be
    /// set up (no TLS roots).
    pub fn new(policy: Policy) -> Result<Fetcher, FetchFailure> {
        let rules = Rules::new(
            &policy.hosts,
            policy.allow_http,
            policy.allow_private_addresses,
        )
        .map_err(|(host, e)| FetchFailure::Failed(format!("media.hosts: `{host}`: {e}")))?;
        let rules = Arc::new(rules);
        let client = client::build(&policy, Arc::clone(&rules))?;
        Ok(Fetcher {
            policy,
            rules,
            client,
        })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether `url` may be fetched at all, without any network: its scheme, its host against
    /// the allow-list, an IP literal against the address rules.
    pub fn check(&self, url: &str) -> Result<(), FetchFailure> {
        self.parse(url).map(|_| ())
    }

    fn parse(&self, url: &str) -> Result<url::Url, FetchFailure> {
        let parsed =
            url::Url::parse(url).map_err(|e| FetchFailure::Refused(format!("not a link ({e})")))?;
        match self.rules.refusal(&parsed) {
            None => Ok(parsed),
            Some(why) => Err(FetchFailure::Refused(why)),
        }
    }

    /// GETs `url` after [`Fetcher::check`], resolving its host and refusing a disallowed
    /// address before connecting, and following only allowed redirects.
    pub async fn get(&self, url: &str) -> Result<Body, FetchFailure> {
        let parsed = self.parse(url)?;
        let response = self
            .client
            .get(parsed)
            .send()
            .await
            .map_err(client::failure)
            .map_err(|f| scrub(f, url))?;
        match response.status() {
            s if s.is_success() => {}
            StatusCode::FORBIDDEN => return Err(FetchFailure::Forbidden),
            s @ (StatusCode::NOT_FOUND | StatusCode::GONE) => {
                return Err(FetchFailure::Gone { status: s.as_u16() });
            }
            s => return Err(FetchFailure::Failed(format!("HTTP {}", s.as_u16()))),
        }
        let limit = self.policy.max_size;
        let length = response
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if length.is_some_and(|n| n > limit) {
            return Err(FetchFailure::TooLarge { limit });
        }
        Ok(Body {
            length,
            response,
            read: 0,
            limit,
        })
    }
}

impl Body {
    /// The next chunk, or `None` at the end; `TooLarge` as soon as the bytes read pass the
    /// limit.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, FetchFailure> {
        if self.read > self.limit {
            return Err(FetchFailure::TooLarge { limit: self.limit });
        }
        match self.response.chunk().await {
            Ok(Some(bytes)) => {
                self.read = self.read.saturating_add(bytes.len() as u64);
                if self.read > self.limit {
                    return Err(FetchFailure::TooLarge { limit: self.limit });
                }
                Ok(Some(bytes))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(scrub(client::failure(e), self.response.url().as_str())),
        }
    }
}

/// Belt and braces: whatever a lower layer put in an error's text, the link's query goes.
fn scrub(failure: FetchFailure, url: &str) -> FetchFailure {
    let query = url
        .split_once('?')
        .map(|(_, q)| q.split('#').next().unwrap_or(q))
        .filter(|q| !q.is_empty());
    let clean = |text: String| match query {
        Some(q) => text.replace(q, "…"),
        None => text,
    };
    match failure {
        FetchFailure::Refused(t) => FetchFailure::Refused(clean(t)),
        FetchFailure::Failed(t) => FetchFailure::Failed(clean(t)),
        other => other,
    }
}
