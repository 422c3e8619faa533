//! S3-presigned-style download URLs pointing back at the emulator:
//! `{base}/files/{bucket}/{path}?AWSAccessKeyId=…&Expires=<unix>&Signature=<hmac>`.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::tasks::{ExportVersion, Task, TaskKind};

/// The bucket name reported as `s3_bucket_name`.
pub(crate) const BUCKET: &str = "stream-chat-exports-emulator";
const ACCESS_KEY_ID: &str = "EMULATORACCESSKEY";

/// Why a download URL was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum UrlRejection {
    /// `Expires`, `Signature` or `AWSAccessKeyId` is missing.
    Missing,
    /// The signature does not match.
    BadSignature,
    /// The URL was valid until `expires` (unix seconds).
    Expired(i64),
}

/// Signs and checks download URLs with a key derived from the API secret.
pub(crate) struct UrlSigner {
    key: Vec<u8>,
}

impl UrlSigner {
    pub fn new(api_secret: &str) -> Self {
        Self {
            key: format!("files:{api_secret}").into_bytes(),
        }
    }

    /// A URL for the object `key` (`{bucket}/{path}`), valid until `expires`.
    pub fn presign(&self, base_url: &str, key: &str, expires: i64) -> String {
        format!(
            "{base_url}/files/{key}?AWSAccessKeyId={ACCESS_KEY_ID}&Expires={expires}&Signature={}",
            self.signature(key, expires)
        )
    }

    /// Checks a request for `key` with these query parameters at `now`: first the signature,
    /// then the expiry, as S3 does.
    pub fn check(
        &self,
        key: &str,
        query: &HashMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<(), UrlRejection> {
        let (Some(expires), Some(signature), Some(_)) = (
            query.get("Expires"),
            query.get("Signature"),
            query.get("AWSAccessKeyId"),
        ) else {
            return Err(UrlRejection::Missing);
        };
        let expires: i64 = expires.parse().map_err(|_| UrlRejection::BadSignature)?;
        let given = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| UrlRejection::BadSignature)?;
        let mut mac = self.mac();
        mac.update(string_to_sign(key, expires).as_bytes());
        mac.verify_slice(&given)
            .map_err(|_| UrlRejection::BadSignature)?;
        if now.timestamp() >= expires {
            return Err(UrlRejection::Expired(expires));
        }
        Ok(())
    }

    fn signature(&self, key: &str, expires: i64) -> String {
        let mut mac = self.mac();
        mac.update(string_to_sign(key, expires).as_bytes());
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length, so this never fails.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!())
    }
}

fn string_to_sign(key: &str, expires: i64) -> String {
    format!("GET\n{expires}\n/{key}")
}

/// The object path of a task's export file (the `path` of the result), e.g.
/// `exports/channels/<task_id>/channels-export.json`; users exports live under `exports/users/`.
pub(crate) fn object_path(task: &Task) -> String {
    let (folder, file) = match &task.kind {
        TaskKind::Channels { options, .. } => match options.version {
            ExportVersion::V1 => ("channels", "channels-export.json"),
            ExportVersion::V2 => ("channels", "channels-export.jsonl"),
        },
        TaskKind::Users { .. } => ("users", "users-export.jsonl"),
    };
    format!("exports/{folder}/{}/{file}", task.id)
}

/// The object key (`{bucket}/{path}`) of a task's export file.
pub(crate) fn object_key(task: &Task) -> String {
    format!("{BUCKET}/{}", object_path(task))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(url: &str) -> HashMap<String, String> {
        let (_, q) = url.split_once('?').unwrap();
        q.split('&')
            .map(|kv| {
                let (k, v) = kv.split_once('=').unwrap();
                (k.to_owned(), v.to_owned())
            })
            .collect()
    }

    #[test]
    fn presigned_urls_verify_until_they_expire() {
        let signer = UrlSigner::new("secret");
        let now: DateTime<Utc> = "2025-01-01T00:00:00Z".parse().unwrap();
        let expires = now.timestamp() + 10;
        let url = signer.presign("http://h", "b/exports/users/x/f", expires);
        assert!(url.starts_with("http://h/files/b/exports/users/x/f?"));
        let q = query(&url);
        assert_eq!(signer.check("b/exports/users/x/f", &q, now), Ok(()));
        assert_eq!(
            signer.check("b/exports/users/x/g", &q, now),
            Err(UrlRejection::BadSignature)
        );
        let later = now + chrono::Duration::seconds(10);
        assert_eq!(
            signer.check("b/exports/users/x/f", &q, later),
            Err(UrlRejection::Expired(expires))
        );
        assert_eq!(
            UrlSigner::new("other").check("b/exports/users/x/f", &q, now),
            Err(UrlRejection::BadSignature)
        );
        assert_eq!(
            signer.check("b/exports/users/x/f", &HashMap::new(), now),
            Err(UrlRejection::Missing)
        );
    }
}
