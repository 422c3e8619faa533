//! Server-side authentication: the `api_key` query parameter and an HS256 JWT in a bare
//! `Authorization` header, with `Stream-Auth-Type: jwt`.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::error::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// Who a valid token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Caller {
    /// A server token (no `user_id` claim).
    Server,
    /// A user token.
    User(String),
}

/// What a request presented: the `api_key` parameter and the two auth headers.
pub(crate) struct Credentials<'a> {
    pub api_key: Option<&'a str>,
    pub authorization: Option<&'a str>,
    pub auth_type: Option<&'a str>,
}

/// Checks a request's credentials against the app's key and secret at emulator time `now`.
pub(crate) fn authenticate(
    credentials: &Credentials<'_>,
    api_key: &str,
    secret: &str,
    now: DateTime<Utc>,
) -> Result<Caller, ApiError> {
    match credentials.api_key {
        Some(key) if key == api_key => {}
        Some(_) => return Err(ApiError::auth(2, "api_key not found")),
        None => return Err(ApiError::auth(2, "api_key is missing")),
    }
    let token = credentials
        .authorization
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::auth(5, "Authorization header is missing"))?;
    if !credentials
        .auth_type
        .is_some_and(|t| t.trim().eq_ignore_ascii_case("jwt"))
    {
        return Err(ApiError::auth(5, "Stream-Auth-Type header must be jwt"));
    }
    verify(token, secret, now)
}

/// Verifies an HS256 token: shape, signature, then `exp`, `nbf` and `iat` against `now`.
pub(crate) fn verify(token: &str, secret: &str, now: DateTime<Utc>) -> Result<Caller, ApiError> {
    let malformed = |why: &str| ApiError::auth(5, format!("JWT token is malformed: {why}"));
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(malformed("expected three dot-separated parts"));
    };
    let header = decode_json(header).ok_or_else(|| malformed("bad header"))?;
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(malformed("alg must be HS256"));
    }
    let claims = decode_json(payload).ok_or_else(|| malformed("bad payload"))?;
    let signature = URL_SAFE_NO_PAD
        .decode(signature.trim_end_matches('='))
        .map_err(|_| malformed("bad signature encoding"))?;
    let mut mac = mac(secret);
    mac.update(&token.as_bytes()[..header_and_payload_len(token)]);
    if mac.verify_slice(&signature).is_err() {
        return Err(ApiError::auth(
            43,
            "JWTAuth error: signature is not valid. Make sure the token is created using the secret for this API key",
        ));
    }
    let now_secs = now.timestamp() as f64;
    let time_claim = |name: &str| -> Result<Option<f64>, ApiError> {
        match claims.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(v) => v
                .as_f64()
                .map(Some)
                .ok_or_else(|| malformed(&format!("{name} must be a number"))),
        }
    };
    if time_claim("exp")?.is_some_and(|exp| now_secs >= exp) {
        return Err(ApiError::auth(40, "JWTAuth error: token has expired"));
    }
    if time_claim("nbf")?.is_some_and(|nbf| now_secs < nbf) {
        return Err(ApiError::auth(41, "JWTAuth error: token is not valid yet"));
    }
    if time_claim("iat")?.is_some_and(|iat| iat > now_secs) {
        return Err(ApiError::auth(
            42,
            "JWTAuth error: token issued at (iat) is in the future",
        ));
    }
    match claims.get("user_id") {
        None | Some(Value::Null) => Ok(Caller::Server),
        Some(Value::String(user)) => Ok(Caller::User(user.clone())),
        Some(_) => Err(malformed("user_id must be a string")),
    }
}

/// Signs `claims` as an HS256 JWT with `secret`.
pub(crate) fn sign(claims: &Value, secret: &str) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = mac(secret);
    mac.update(signing_input.as_bytes());
    let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
    format!("{signing_input}.{signature}")
}

fn mac(secret: &str) -> HmacSha256 {
    // HMAC takes keys of any length, so this never fails.
    <HmacSha256 as Mac>::new_from_slice(secret.as_bytes()).unwrap_or_else(|_| unreachable!())
}

fn header_and_payload_len(token: &str) -> usize {
    token.rfind('.').unwrap_or(token.len())
}

fn decode_json(part: &str) -> Option<serde_json::Map<String, Value>> {
    let bytes = URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const SECRET: &str = "s3cret";

    fn now() -> DateTime<Utc> {
        "2025-06-01T00:00:00Z".parse().unwrap()
    }

    fn code(result: Result<Caller, ApiError>) -> i32 {
        result.unwrap_err().code
    }

    #[test]
    fn server_tokens_with_or_without_time_claims_are_accepted() {
        let t = now().timestamp();
        for claims in [
            json!({"server": true}),
            json!({}),
            json!({"iat": t - 5, "exp": t + 300}),
        ] {
            assert_eq!(
                verify(&sign(&claims, SECRET), SECRET, now()),
                Ok(Caller::Server)
            );
        }
        let user = sign(&json!({"user_id": "u1"}), SECRET);
        assert_eq!(verify(&user, SECRET, now()), Ok(Caller::User("u1".into())));
    }

    #[test]
    fn token_problems_map_to_streams_codes() {
        let t = now().timestamp();
        assert_eq!(code(verify(&sign(&json!({}), "other"), SECRET, now())), 43);
        assert_eq!(
            code(verify(&sign(&json!({"exp": t}), SECRET), SECRET, now())),
            40
        );
        assert_eq!(
            code(verify(
                &sign(&json!({"nbf": t + 60}), SECRET),
                SECRET,
                now()
            )),
            41
        );
        assert_eq!(
            code(verify(
                &sign(&json!({"iat": t + 60}), SECRET),
                SECRET,
                now()
            )),
            42
        );
        assert_eq!(code(verify("not-a-token", SECRET, now())), 5);
        assert_eq!(code(verify("a.b.c", SECRET, now())), 5);
    }

    #[test]
    fn api_key_and_headers_are_checked_first() {
        let token = sign(&json!({"server": true}), SECRET);
        let creds = |key, auth_type| Credentials {
            api_key: key,
            authorization: Some(token.as_str()),
            auth_type,
        };
        let check = |c: Credentials<'_>| authenticate(&c, "key", SECRET, now());
        assert_eq!(code(check(creds(None, Some("jwt")))), 2);
        assert_eq!(code(check(creds(Some("nope"), Some("jwt")))), 2);
        assert_eq!(code(check(creds(Some("key"), None))), 5);
        assert_eq!(check(creds(Some("key"), Some("JWT"))), Ok(Caller::Server));
    }
}
