//! The HTTP client links are fetched with: its own, never the API client's, so no Stream
//! credential, cookie or API header can reach a CDN. Every host name is resolved by a resolver
//! that drops refused addresses before a connection is tried (IP literals never reach a
//! resolver: the link rules check them), and every redirect passes the link rules again.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::sync::Arc;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::redirect;

use super::hosts::Rules;
use super::{FetchFailure, Policy};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Redirects followed for one link; a CDN needs one or two.
pub const MAX_REDIRECTS: usize = 5;

/// Sent with every fetch, and nothing that identifies the app or its users.
pub const USER_AGENT: &str = concat!("chatvault/", env!("CARGO_PKG_VERSION"));

/// Why the client stopped on its own; found again in reqwest's error chain.
#[derive(Debug, thiserror::Error)]
enum Stop {
    #[error("{0}")]
    Refused(String),
    #[error("more than {MAX_REDIRECTS} redirects")]
    TooManyRedirects,
}

pub fn build(policy: &Policy, rules: Arc<Rules>) -> Result<reqwest::Client, FetchFailure> {
    let for_redirects = Arc::clone(&rules);
    let redirects = redirect::Policy::custom(move |attempt| {
        // `previous` holds the first request too.
        if attempt.previous().len() > MAX_REDIRECTS {
            return attempt.error(Stop::TooManyRedirects);
        }
        match for_redirects.refusal(attempt.url()) {
            None => attempt.follow(),
            Some(why) => attempt.error(Stop::Refused(format!("redirected: {why}"))),
        }
    });
    reqwest::Client::builder()
        .user_agent(USER_AGENT)
        .redirect(redirects)
        // The Referer would carry a signed link's query to the next host.
        .referer(false)
        // A proxy from the environment would resolve and connect in our stead, past the
        // address checks.
        .no_proxy()
        .https_only(!policy.allow_http)
        .dns_resolver(GuardedResolver { rules })
        .connect_timeout(policy.connect_timeout)
        .read_timeout(policy.read_timeout)
        .timeout(policy.total_timeout)
        .build()
        .map_err(|e| FetchFailure::Failed(format!("cannot set up the HTTP client: {}", chain(&e))))
}

/// The system resolver, keeping only the addresses the rules allow.
struct GuardedResolver {
    rules: Arc<Rules>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let rules = Arc::clone(&self.rules);
        Box::pin(async move {
            let lookup = host.clone();
            let found: Vec<SocketAddr> =
                tokio::task::spawn_blocking(move || (lookup.as_str(), 0).to_socket_addrs())
                    .await??
                    .collect();
            let mut refused = None;
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match rules.address_refusal(a.ip()) {
                    None => true,
                    Some(why) => {
                        refused.get_or_insert(why);
                        false
                    }
                })
                .collect();
            match (kept.is_empty(), refused) {
                (true, Some(why)) => {
                    let stop: BoxError = Box::new(Stop::Refused(format!("{host}: {why}")));
                    Err(stop)
                }
                _ => Ok(Box::new(kept.into_iter()) as Addrs),
            }
        })
    }
}

/// A reqwest error as a failure: a refusal of our own stays one, and the text names no URL.
pub fn failure(e: reqwest::Error) -> FetchFailure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(err) = source {
        match err.downcast_ref::<Stop>() {
            Some(Stop::Refused(why)) => return FetchFailure::Refused(why.clone()),
            Some(Stop::TooManyRedirects) => {
                return FetchFailure::Failed(Stop::TooManyRedirects.to_string());
            }
            None => source = err.source(),
        }
    }
    if e.is_timeout() {
        return FetchFailure::Failed("timed out".to_owned());
    }
    FetchFailure::Failed(chain(&e.without_url()))
}

/// The error and its causes, one after the other, each said once.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut source = Some(e);
    while let Some(err) = source {
        let text = err.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        source = err.source();
    }
    parts.join(": ")
}
