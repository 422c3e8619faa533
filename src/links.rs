//! Links written by end users or signed by Stream's CDN, as every output prints them.
//!
//! Stream's CDN signs each file link (CloudFront's `Expires`, `Signature`, `Policy`,
//! `Key-Pair-Id`): while it lives the query string is a credential, and after it expires it is
//! noise. Nothing chatvault prints or records keeps it; what identifies a file is the link
//! without its query.

use chrono::{DateTime, Utc};

/// `url` without its query string and fragment: what records, transcripts, the viewer and
/// search print of a link.
pub fn without_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
}

/// When a signed link stops working, from its `Expires` parameter (seconds since the epoch);
/// `None` for a link that does not say.
pub fn expires_at(url: &str) -> Option<DateTime<Utc>> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| name.eq_ignore_ascii_case("expires"))
        .and_then(|(_, value)| value.parse::<i64>().ok())
        .and_then(|seconds| DateTime::from_timestamp(seconds, 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_cut_off_and_the_path_kept() {
        let signed = "https://us-east.stream-io-cdn.com/1/images/a.png?Key-Pair-Id=K&Policy=P&Signature=S&Expires=1700000000";
        assert_eq!(
            without_query(signed),
            "https://us-east.stream-io-cdn.com/1/images/a.png"
        );
        assert_eq!(without_query("https://h/a#frag"), "https://h/a");
        assert_eq!(without_query("https://h/a"), "https://h/a");
        assert_eq!(without_query(""), "");
    }

    #[test]
    fn expiry_is_read_from_the_expires_parameter_only() {
        let at = expires_at("https://h/a.png?Signature=S&Expires=1700000000#x");
        assert_eq!(at.map(|t| t.timestamp()), Some(1_700_000_000));
        assert_eq!(
            expires_at("https://h/a.png?expires=12"),
            DateTime::from_timestamp(12, 0)
        );
        assert_eq!(expires_at("https://h/a.png?Expires=soon"), None);
        assert_eq!(expires_at("https://h/a.png"), None);
        assert_eq!(
            expires_at("https://h/a.png?Expires=99999999999999999999"),
            None
        );
    }
}
