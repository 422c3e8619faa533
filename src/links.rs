//! Links written by end users or signed by Stream's CDN, as every output prints them.
//!
//! Stream's CDN signs each file link (CloudFront's `Expires`, `Signature`, `Policy`,
//! `Key-Pair-Id`): while it lives the query string is a credential, and after it expires it is
//! noise. Nothing chatvault prints or records keeps it; what identifies a file is the link
//! without its query.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

/// The query parameters that make a CDN link a credential (lowercase).
pub const SIGNED_PARAMS: [&str; 4] = ["expires", "signature", "policy", "key-pair-id"];

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

/// Only web links are files to fetch: a `data:` URI holds its bytes already, anything else
/// (`javascript:`, `mailto:`) is no file at all.
pub fn is_web(url: &str) -> bool {
    let scheme = |s: &str| {
        url.get(..s.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(s))
    };
    scheme("https://") || scheme("http://")
}

/// Whether `text` may hold a signed link somewhere: one of [`SIGNED_PARAMS`] followed by `=`.
pub fn may_hold_signed(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    SIGNED_PARAMS
        .iter()
        .any(|name| lower.contains(&format!("{name}=")))
}

/// A JSON document with every string value that is a signed link cut to the link without its
/// query, for output that otherwise shows a document as stored. A document with no signed link
/// comes back as it was, byte for byte; one that is not JSON too.
pub fn unsigned_json(json: &str) -> Cow<'_, str> {
    if !may_hold_signed(json) {
        return Cow::Borrowed(json);
    }
    let Ok(mut value) = serde_json::from_str::<serde_json::Value>(json) else {
        return Cow::Borrowed(json);
    };
    if !unsign(&mut value) {
        return Cow::Borrowed(json);
    }
    serde_json::to_string(&value).map_or(Cow::Borrowed(json), Cow::Owned)
}

/// Cuts signed links in `value`; whether any was cut. Iterative: a document nested a
/// thousand deep must not exhaust the stack.
fn unsign(value: &mut serde_json::Value) -> bool {
    let mut cut = false;
    let mut todo = vec![value];
    while let Some(v) = todo.pop() {
        match v {
            serde_json::Value::String(s) if is_signed_link(s) => {
                *s = without_query(s).to_owned();
                cut = true;
            }
            serde_json::Value::Array(items) => todo.extend(items.iter_mut()),
            serde_json::Value::Object(fields) => todo.extend(fields.values_mut()),
            _ => {}
        }
    }
    cut
}

/// A whole string that is a web link whose query carries a signature parameter.
fn is_signed_link(s: &str) -> bool {
    is_web(s)
        && !s.contains(char::is_whitespace)
        && s.split_once('?').is_some_and(|(_, query)| {
            query.split(['&', '#']).any(|pair| {
                let name = pair.split('=').next().unwrap_or_default();
                SIGNED_PARAMS.iter().any(|p| name.eq_ignore_ascii_case(p))
            })
        })
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

    #[test]
    fn signed_links_in_a_document_are_cut_and_other_documents_kept_byte_for_byte() {
        let plain = r#"{"id":"1","text":"see https://h/a?x=1",  "n":2}"#;
        assert!(matches!(unsigned_json(plain), Cow::Borrowed(_)));
        let signed = r#"{"id":"1","text":"Expires=soon is not a link","attachments":[{"image_url":"https://cdn.example/a.png?Key-Pair-Id=K&Signature=S&Expires=1"}],"user":{"image":"HTTPS://cdn.example/u.png?expires=2"}}"#;
        let out = unsigned_json(signed);
        assert!(!out.contains("Signature"), "{out}");
        assert!(!out.to_ascii_lowercase().contains("expires=2"), "{out}");
        assert!(
            out.contains(r#""image_url":"https://cdn.example/a.png""#),
            "{out}"
        );
        assert!(
            out.contains("Expires=soon is not a link"),
            "text is the user's words: {out}"
        );
        assert!(matches!(
            unsigned_json("not json Signature=x"),
            Cow::Borrowed(_)
        ));
        let deep = format!(
            "{}\"https://h/a?Signature=1\"{}",
            "[".repeat(100),
            "]".repeat(100)
        );
        assert!(!unsigned_json(&deep).contains("Signature"));
    }
}
