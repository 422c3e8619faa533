//! The rules a link (and every redirect) must pass before any request: its scheme, its host
//! against the allow-list, no credentials in it, and an IP-literal host against the address
//! rules (host names are checked once resolved, in `client`).

use std::net::IpAddr;

use url::{Host, Url};

use super::address::special_use;
use crate::config::hosts::{HostPattern, HostPatternError};

#[derive(Debug, Clone)]
pub struct Rules {
    patterns: Vec<HostPattern>,
    allow_http: bool,
    allow_private_addresses: bool,
}

impl Rules {
    /// `hosts` as `media.hosts` holds them; validation has already refused a bad one.
    pub fn new(
        hosts: &[String],
        allow_http: bool,
        allow_private_addresses: bool,
    ) -> Result<Rules, (String, HostPatternError)> {
        let patterns = hosts
            .iter()
            .map(|h| HostPattern::parse(h).map_err(|e| (h.clone(), e)))
            .collect::<Result<_, _>>()?;
        Ok(Rules {
            patterns,
            allow_http,
            allow_private_addresses,
        })
    }

    /// Why `url` may not be requested, in words that never quote its query.
    pub fn refusal(&self, url: &Url) -> Option<String> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return Some(
                    "http links are not fetched, only https (media.allow_http allows http)"
                        .to_owned(),
                );
            }
            _ => return Some("only http(s) links are fetched".to_owned()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Some("a link with a user name or password in it is not fetched".to_owned());
        }
        let Some(host) = url.host() else {
            return Some("the link has no host".to_owned());
        };
        if !self.patterns.iter().any(|p| p.matches(&host)) {
            return Some(format!(
                "host {host} is not on the allow-list (media.hosts)"
            ));
        }
        let ip = match host {
            Host::Ipv4(a) => IpAddr::V4(a),
            Host::Ipv6(a) => IpAddr::V6(a),
            Host::Domain(_) => return None,
        };
        self.address_refusal(ip)
    }

    /// Why a connection to `ip` may not be made.
    pub fn address_refusal(&self, ip: IpAddr) -> Option<String> {
        if self.allow_private_addresses {
            return None;
        }
        special_use(ip)
            .map(|what| format!("address {ip} is {what} (media.allow_private_addresses allows it)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(hosts: &[&str], allow_http: bool, allow_private: bool) -> Rules {
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        Rules::new(&hosts, allow_http, allow_private).expect("valid patterns")
    }

    fn refusal(rules: &Rules, link: &str) -> Option<String> {
        rules.refusal(&Url::parse(link).expect("a URL"))
    }

    #[test]
    fn only_https_to_listed_hosts_passes_by_default() {
        let r = rules(
            &["*.stream-io-cdn.com", "stream-chat-*.imgix.net"],
            false,
            false,
        );
        assert_eq!(
            refusal(&r, "https://us-east.stream-io-cdn.com/a.png?Signature=S"),
            None
        );
        assert_eq!(
            refusal(&r, "https://stream-chat-us-east-1.imgix.net/a.png"),
            None
        );
        for link in [
            "http://us-east.stream-io-cdn.com/a.png",
            "ftp://us-east.stream-io-cdn.com/a.png",
            "https://user:pw@us-east.stream-io-cdn.com/a.png",
            "https://user@us-east.stream-io-cdn.com/a.png",
            "https://example.com/a.png",
            "https://stream-io-cdn.com.evil.com/a.png",
            "https://169.254.169.254/latest/meta-data/",
            "file:///etc/passwd",
        ] {
            assert!(refusal(&r, link).is_some(), "{link}");
        }
    }

    #[test]
    fn a_listed_ip_literal_is_still_refused_when_private() {
        let r = rules(&["127.0.0.1", "::1"], true, false);
        for link in [
            "http://127.0.0.1:8080/x",
            "http://2130706433/x",
            "http://0177.0.0.1/x",
            "http://[::1]/x",
        ] {
            let why = refusal(&r, link).expect("refused");
            assert!(why.contains("loopback"), "{link}: {why}");
        }
        let r = rules(&["127.0.0.1"], true, true);
        assert_eq!(refusal(&r, "http://127.0.0.1:8080/x"), None);
        assert!(refusal(&r, "http://[::ffff:127.0.0.1]/x").is_some());
    }

    #[test]
    fn refusals_never_quote_the_query() {
        let r = rules(&["cdn.example.com"], false, false);
        for link in [
            "https://evil.example.com/a?Signature=SECRET",
            "http://cdn.example.com/a?Signature=SECRET",
            "https://u:SECRET@cdn.example.com/a?Signature=SECRET",
        ] {
            let why = refusal(&r, link).expect("refused");
            assert!(!why.contains("SECRET"), "{why}");
        }
    }
}
