//! The syntax of `media.hosts` patterns. Validation reports a bad one at its line; the
//! fetcher (`fetch::hosts`) matches links against the parsed form, so both read a pattern the
//! same way.

use std::fmt;
use std::net::IpAddr;

/// Longest host name DNS allows.
const MAX_NAME: usize = 253;
/// Longest DNS label.
const MAX_LABEL: usize = 63;

/// One allow-list entry, normalized: lower case, no trailing dot, an international name in its
/// `xn--` form, an IP literal in its canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostPattern {
    /// Matches only a link whose host is this same address written as a literal.
    Ip(IpAddr),
    /// Host name labels, left to right; a label may hold one `*`, which stands for one or more
    /// characters within that label (never a dot).
    Name(Vec<String>),
}

/// Why a pattern is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostPatternError {
    #[error("a host pattern must not be empty")]
    Empty,
    #[error("write the host alone, without a scheme: e.g. `*.stream-io-cdn.com`, not `https://…`")]
    Scheme,
    #[error("write the host alone, without a path, query or fragment")]
    Path,
    #[error("write the host alone, without a port")]
    Port,
    #[error("`{0}` may not appear in a host name: use letters, digits, `-`, `_`, `.` and `*`")]
    Character(char),
    #[error("a host name has no empty labels (`..`, or a leading dot)")]
    EmptyLabel,
    #[error("a host name is at most {MAX_NAME} characters and each label at most {MAX_LABEL}")]
    TooLong,
    #[error("a label takes at most one `*`")]
    TwoStars,
    #[error(
        "`*` may stand only in the labels left of the last two (as in `*.stream-io-cdn.com`): \
         a pattern that ends in one would allow whole top-level domains"
    )]
    StarTooFarRight,
    #[error("not a host name")]
    Invalid,
}

impl HostPattern {
    pub fn parse(text: &str) -> Result<HostPattern, HostPatternError> {
        if text.is_empty() {
            return Err(HostPatternError::Empty);
        }
        if text.contains("://") {
            return Err(HostPatternError::Scheme);
        }
        if text.contains(['/', '?', '#']) {
            return Err(HostPatternError::Path);
        }
        let unbracketed = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        if let Ok(ip) = unbracketed.parse::<IpAddr>() {
            return Ok(HostPattern::Ip(ip));
        }
        if text.contains(':') {
            return Err(HostPatternError::Port);
        }
        if let Some(c) = text
            .chars()
            .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '@' | '[' | ']' | '%'))
        {
            return Err(HostPatternError::Character(c));
        }
        let name = text.strip_suffix('.').unwrap_or(text);
        if name.contains('*') {
            wildcard(name)
        } else {
            literal(name)
        }
    }

    /// Matches the host of a parsed `http(s)` link. Host names are compared as the URL parser
    /// left them (lower case, `xn--` form), without a trailing dot; IP hosts only against IP
    /// patterns.
    pub fn matches(&self, host: &url::Host<&str>) -> bool {
        match (self, host) {
            (HostPattern::Ip(ip), url::Host::Ipv4(a)) => *ip == IpAddr::V4(*a),
            (HostPattern::Ip(ip), url::Host::Ipv6(a)) => *ip == IpAddr::V6(*a),
            (HostPattern::Name(labels), url::Host::Domain(name)) => {
                let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
                let theirs: Vec<&str> = name.split('.').collect();
                theirs.len() == labels.len()
                    && labels
                        .iter()
                        .zip(&theirs)
                        .all(|(pattern, label)| label_matches(pattern, label))
            }
            _ => false,
        }
    }
}

fn label_matches(pattern: &str, label: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == label,
        Some((before, after)) => {
            label.len() > before.len() + after.len()
                && label.starts_with(before)
                && label.ends_with(after)
        }
    }
}

/// A name without `*` goes through the URL parser's own host rules, so `0177.0.0.1` or
/// `2130706433` mean here what they mean in a link (127.0.0.1), and `bücher.example` becomes
/// `xn--bcher-kva.example` as in a link.
fn literal(name: &str) -> Result<HostPattern, HostPatternError> {
    match url::Host::parse(name).map_err(|_| HostPatternError::Invalid)? {
        url::Host::Ipv4(a) => Ok(HostPattern::Ip(IpAddr::V4(a))),
        url::Host::Ipv6(a) => Ok(HostPattern::Ip(IpAddr::V6(a))),
        url::Host::Domain(d) => labels(&d.to_ascii_lowercase()).map(HostPattern::Name),
    }
}

fn wildcard(name: &str) -> Result<HostPattern, HostPatternError> {
    let labels = labels(&name.to_ascii_lowercase())?;
    if labels.iter().any(|l| l.matches('*').count() > 1) {
        return Err(HostPatternError::TwoStars);
    }
    let literal_tail =
        labels.len() >= 3 && labels[labels.len() - 2..].iter().all(|l| !l.contains('*'));
    if !literal_tail {
        return Err(HostPatternError::StarTooFarRight);
    }
    Ok(HostPattern::Name(labels))
}

fn labels(name: &str) -> Result<Vec<String>, HostPatternError> {
    if name.len() > MAX_NAME {
        return Err(HostPatternError::TooLong);
    }
    let labels: Vec<String> = name.split('.').map(str::to_owned).collect();
    if labels.iter().any(String::is_empty) {
        return Err(HostPatternError::EmptyLabel);
    }
    if labels.iter().any(|l| l.len() > MAX_LABEL) {
        return Err(HostPatternError::TooLong);
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '*')))
    {
        return Err(HostPatternError::Character(c));
    }
    Ok(labels)
}

impl fmt::Display for HostPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HostPattern::Ip(ip) => write!(f, "{ip}"),
            HostPattern::Name(labels) => f.write_str(&labels.join(".")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_of(url: &str) -> url::Host<String> {
        url::Url::parse(url)
            .expect("a URL")
            .host()
            .expect("a host")
            .to_owned()
    }

    fn allows(pattern: &str, url: &str) -> bool {
        let pattern = HostPattern::parse(pattern).expect("a pattern");
        let host = host_of(url);
        let host = match &host {
            url::Host::Domain(d) => url::Host::Domain(d.as_str()),
            url::Host::Ipv4(a) => url::Host::Ipv4(*a),
            url::Host::Ipv6(a) => url::Host::Ipv6(*a),
        };
        pattern.matches(&host)
    }

    #[test]
    fn a_leading_star_label_matches_one_label_of_that_domain_only() {
        let p = "*.stream-io-cdn.com";
        assert!(allows(p, "https://us-east.stream-io-cdn.com/a.png"));
        assert!(allows(p, "https://US-East.Stream-IO-CDN.com/a.png"));
        assert!(allows(p, "https://us-east.stream-io-cdn.com./a.png"));
        assert!(!allows(p, "https://stream-io-cdn.com/a.png"));
        assert!(!allows(p, "https://stream-io-cdn.com.evil.com/a.png"));
        assert!(!allows(p, "https://evilstream-io-cdn.com/a.png"));
        assert!(!allows(p, "https://a.b.stream-io-cdn.com/a.png"));
        assert!(!allows(
            p,
            "https://us-east.stream-io-cdn.com.evil.com/a.png"
        ));
        assert!(!allows(p, "https://127.0.0.1/a.png"));
    }

    #[test]
    fn a_star_inside_a_label_needs_at_least_one_character() {
        let p = "stream-chat-*.imgix.net";
        assert!(allows(p, "https://stream-chat-us-east-1.imgix.net/x"));
        assert!(!allows(p, "https://stream-chat-.imgix.net/x"));
        assert!(!allows(p, "https://stream-chat.imgix.net/x"));
        assert!(!allows(p, "https://evil-stream-chat-x.imgix.net/x"));
        assert!(!allows(p, "https://stream-chat-x.imgix.net.evil.com/x"));
    }

    #[test]
    fn exact_names_match_only_themselves_in_any_case() {
        assert!(allows("cdn.example.com", "https://CDN.example.com/x"));
        assert!(allows("cdn.example.com.", "https://cdn.example.com/x"));
        assert!(!allows("cdn.example.com", "https://a.cdn.example.com/x"));
        assert!(!allows(
            "cdn.example.com",
            "https://cdn.example.com.evil.com/x"
        ));
        assert!(allows("localhost", "http://localhost:8080/x"));
    }

    #[test]
    fn ip_literals_match_only_the_same_address_as_a_literal() {
        assert!(allows("127.0.0.1", "http://127.0.0.1:9/x"));
        assert!(!allows("127.0.0.1", "http://localhost:9/x"));
        assert!(!allows("localhost", "http://127.0.0.1:9/x"));
        assert!(allows("::1", "http://[::1]:9/x"));
        assert!(allows("[::1]", "http://[0:0::1]/x"));
        assert!(!allows("::1", "http://127.0.0.1/x"));
        // The URL parser reads these as 127.0.0.1 (WHATWG's IPv4 parser): so does a pattern.
        assert!(allows("127.0.0.1", "http://2130706433/x"));
        assert!(allows("127.0.0.1", "http://0177.0.0.1/x"));
        assert!(allows("127.0.0.1", "http://0x7f.1/x"));
        assert_eq!(
            HostPattern::parse("2130706433"),
            Ok(HostPattern::Ip("127.0.0.1".parse().expect("an address")))
        );
        // A mapped address is another literal.
        assert!(!allows("127.0.0.1", "http://[::ffff:127.0.0.1]/x"));
    }

    #[test]
    fn patterns_that_are_not_hosts_are_refused_with_the_reason() {
        use HostPatternError as E;
        for (text, expected) in [
            ("", E::Empty),
            ("https://cdn.example.com", E::Scheme),
            ("cdn.example.com/files", E::Path),
            ("cdn.example.com:443", E::Port),
            ("cdn example.com", E::Character(' ')),
            ("user@cdn.example.com", E::Character('@')),
            ("a..example.com", E::EmptyLabel),
            (".example.com", E::EmptyLabel),
            ("*.com", E::StarTooFarRight),
            ("*", E::StarTooFarRight),
            ("cdn.*.com", E::StarTooFarRight),
            ("cdn.example.*", E::StarTooFarRight),
            ("**.example.com", E::TwoStars),
            ("a*b*.example.com", E::TwoStars),
            ("*!.example.com", E::Character('!')),
        ] {
            assert_eq!(HostPattern::parse(text), Err(expected), "{text:?}");
        }
        let long = format!("{}.example.com", "a".repeat(64));
        assert_eq!(HostPattern::parse(&long), Err(E::TooLong));
    }

    #[test]
    fn patterns_are_normalized() {
        let p = HostPattern::parse("*.Stream-IO-CDN.com.").expect("a pattern");
        assert_eq!(p.to_string(), "*.stream-io-cdn.com");
        let p = HostPattern::parse("bücher.example").expect("a pattern");
        assert_eq!(p.to_string(), "xn--bcher-kva.example");
        let p = HostPattern::parse("[0:0::1]").expect("a pattern");
        assert_eq!(p.to_string(), "::1");
    }
}
