//! Fetching the files messages link to, safely: links are user input, so a fetch goes only to
//! an `https` host on the allow-list, never to a loopback, private, link-local, CGNAT,
//! metadata or unspecified address (unless configured), follows redirects only to allowed
//! hosts, reads at most the size limit, times out, and sends no credential, cookie or API
//! header.
//!
//! INTERFACE SKELETON: the bodies are written on the fetcher branch.

use bytes::Bytes;

use crate::config::job::MediaSettings;

/// What may be fetched, from a job's `media` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub hosts: Vec<String>,
    pub allow_http: bool,
    pub allow_private_addresses: bool,
    pub max_size: u64,
}

impl Policy {
    pub fn from_settings(settings: &MediaSettings) -> Policy {
        Policy {
            hosts: settings.hosts.clone(),
            allow_http: settings.allow_http,
            allow_private_addresses: settings.allow_private_addresses,
            max_size: settings.max_file_size,
        }
    }
}

/// Why a link was not fetched or its file not had.
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

/// Fetches under one [`Policy`]. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Fetcher {
    policy: Policy,
}

/// A response being read: at most the policy's limit, chunk by chunk.
#[derive(Debug)]
pub struct Body {
    /// `Content-Length`, when the server gave one (already checked against the limit).
    pub length: Option<u64>,
}

impl Fetcher {
    pub fn new(policy: Policy) -> Result<Fetcher, FetchFailure> {
        Ok(Fetcher { policy })
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Whether `url` may be fetched at all, without any network: its scheme, its host against
    /// the allow-list, an IP literal against the address rules.
    pub fn check(&self, url: &str) -> Result<(), FetchFailure> {
        let _ = url;
        todo!("fetcher branch")
    }

    /// GETs `url` after [`Fetcher::check`], resolving its host and refusing a disallowed
    /// address before connecting, and following only allowed redirects.
    pub async fn get(&self, url: &str) -> Result<Body, FetchFailure> {
        let _ = url;
        todo!("fetcher branch")
    }
}

impl Body {
    /// The next chunk, or `None` at the end; `TooLarge` as soon as the bytes read pass the
    /// limit.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, FetchFailure> {
        todo!("fetcher branch")
    }
}
