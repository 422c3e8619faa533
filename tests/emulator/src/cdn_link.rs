//! The CDN's signed links, shaped like Stream's (CloudFront):
//! `<cdn_base>/cdn/<path>?Key-Pair-Id=…&Policy=…&Signature=<sig>&Expires=<unix secs>`. The
//! signature is an HMAC-SHA256 over the path and the expiry with a key of the CDN's own (never
//! the API secret); `Policy` only dresses the link as Stream's are dressed.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock::add;
use crate::rng::mix;

const KEY_PAIR_ID: &str = "APKAEMULATORCDN";

/// Why the CDN refused a link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkRejection {
    /// `Expires`, `Signature` or `Key-Pair-Id` is missing.
    Missing,
    /// The signature does not hold for this path and expiry.
    BadSignature,
    /// The link was valid until `expires` (unix seconds).
    Expired(i64),
}

/// When the links a JSON object carries expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Signing {
    /// As in an export file: a message's links `link_lifetime` after it was posted, users' and
    /// channels' after the emulator's start time.
    Exported,
    /// Freshly signed at this time (the refresh endpoints, query channels).
    Fresh(DateTime<Utc>),
}

/// Mints and checks the CDN's links.
#[derive(Debug, Clone)]
pub(crate) struct Cdn {
    /// `<scheme>://<host>:<port>`, without a trailing slash.
    pub base: String,
    pub lifetime: Duration,
    /// Where Open Graph previews point (another site).
    pub foreign_base: String,
    /// The emulator's start time: users' and channels' exported links count from it.
    pub start: DateTime<Utc>,
    key: Vec<u8>,
}

impl Cdn {
    pub fn new(
        seed: u64,
        base: String,
        lifetime: Duration,
        foreign_base: String,
        start: DateTime<Utc>,
    ) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            lifetime,
            foreign_base: foreign_base.trim_end_matches('/').to_owned(),
            start,
            key: format!("cdn:{:016x}", mix(seed ^ 0xCD)).into_bytes(),
        }
    }

    /// The expiry of a link under `signing` for something posted at `posted`.
    pub fn expiry(&self, signing: Signing, posted: DateTime<Utc>) -> i64 {
        let from = match signing {
            Signing::Exported => posted,
            Signing::Fresh(now) => now,
        };
        add(from, self.lifetime).timestamp()
    }

    /// The link without its query: what identifies the file.
    pub fn unsigned(&self, path: &str) -> String {
        format!("{}/cdn/{path}", self.base)
    }

    /// A signed link to `path`, valid until `expires` (unix seconds).
    pub fn link(&self, path: &str, expires: i64) -> String {
        let policy = URL_SAFE_NO_PAD.encode(format!(
            "{{\"Statement\":[{{\"Resource\":\"{}\",\"Condition\":{{\"DateLessThan\":{{\"AWS:EpochTime\":{expires}}}}}}}]}}",
            self.unsigned(path)
        ));
        format!(
            "{}?Key-Pair-Id={KEY_PAIR_ID}&Policy={policy}&Signature={}&Expires={expires}",
            self.unsigned(path),
            self.signature(path, expires)
        )
    }

    /// Checks a request for `path` with these query parameters at `now`: the signature first,
    /// then the expiry.
    pub fn check(
        &self,
        path: &str,
        query: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<(), LinkRejection> {
        let (Some(expires), Some(signature), Some(_)) = (
            query.get("Expires"),
            query.get("Signature"),
            query.get("Key-Pair-Id"),
        ) else {
            return Err(LinkRejection::Missing);
        };
        let expires: i64 = expires.parse().map_err(|_| LinkRejection::BadSignature)?;
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| LinkRejection::BadSignature)?;
        let mut mac = self.mac();
        mac.update(to_sign(path, expires).as_bytes());
        mac.verify_slice(&given)
            .map_err(|_| LinkRejection::BadSignature)?;
        if now.timestamp() >= expires {
            return Err(LinkRejection::Expired(expires));
        }
        Ok(())
    }

    fn signature(&self, path: &str, expires: i64) -> String {
        let mut mac = self.mac();
        mac.update(to_sign(path, expires).as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this never fails.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }
}

fn to_sign(path: &str, expires: i64) -> String {
    format!("{path}\n{expires}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::routes::query_params;

    fn now() -> DateTime<Utc> {
        "2025-06-01T00:00:00Z".parse().unwrap()
    }

    fn cdn(seed: u64) -> Cdn {
        Cdn::new(
            seed,
            "http://localhost:9/".into(),
            Duration::days(14),
            "https://example.com".into(),
            now(),
        )
    }

    fn query(link: &str) -> HashMap<String, String> {
        query_params(link.split_once('?').map(|(_, q)| q))
    }

    #[test]
    fn a_link_holds_until_it_expires() {
        let cdn = cdn(1);
        let expires = now().timestamp() + 60;
        let link = cdn.link("emulator/a/x/5/f.png", expires);
        assert!(link.starts_with("http://localhost:9/cdn/emulator/a/x/5/f.png?Key-Pair-Id="));
        assert!(link.ends_with(&format!("&Expires={expires}")));
        let q = query(&link);
        assert!(q.contains_key("Policy"));
        assert_eq!(cdn.check("emulator/a/x/5/f.png", &q, now()), Ok(()));
        assert_eq!(
            cdn.check("emulator/a/x/5/f.png", &q, now() + Duration::seconds(60)),
            Err(LinkRejection::Expired(expires))
        );
    }

    #[test]
    fn a_tampered_foreign_or_bare_link_is_refused() {
        let cdn = cdn(1);
        let expires = now().timestamp() + 60;
        let q = query(&cdn.link("emulator/a/x/5/f.png", expires));
        assert_eq!(
            cdn.check("emulator/a/x/5/g.png", &q, now()),
            Err(LinkRejection::BadSignature)
        );
        let mut later = q.clone();
        later.insert("Expires".into(), (expires + 3600).to_string());
        assert_eq!(
            cdn.check("emulator/a/x/5/f.png", &later, now()),
            Err(LinkRejection::BadSignature)
        );
        assert_eq!(
            self::cdn(2).check("emulator/a/x/5/f.png", &q, now()),
            Err(LinkRejection::BadSignature),
            "another CDN key"
        );
        for name in ["Expires", "Signature", "Key-Pair-Id"] {
            let mut without = q.clone();
            without.remove(name);
            assert_eq!(
                cdn.check("emulator/a/x/5/f.png", &without, now()),
                Err(LinkRejection::Missing),
                "{name}"
            );
        }
    }

    #[test]
    fn exported_links_count_from_the_post_and_fresh_ones_from_now() {
        let cdn = cdn(1);
        let posted = now() - Duration::days(20);
        assert_eq!(
            cdn.expiry(Signing::Exported, posted),
            (posted + Duration::days(14)).timestamp()
        );
        assert_eq!(
            cdn.expiry(Signing::Fresh(now()), posted),
            (now() + Duration::days(14)).timestamp()
        );
    }
}
