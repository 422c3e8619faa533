//! Server-side authentication: an HS256 JWT signed with the API secret, without `user_id`.

use std::fmt;

use jsonwebtoken::{EncodingKey, Header, encode};
use serde::Serialize;

use super::error::ApiError;

/// A token that must never be printed: `Debug` and `Display` hide it.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

#[derive(Serialize)]
struct ServerClaims {
    server: bool,
}

/// The server token every legacy SDK sends: `{"server": true}`, with no `iat`, so a clock
/// ahead of Stream's can never trip "issued in the future" (code 42).
pub fn server_token(secret: &str) -> Result<Token, ApiError> {
    if secret.is_empty() {
        return Err(ApiError::Settings(
            "the API secret is empty: set STREAM_API_SECRET (or api.secret / api.secret_file)"
                .into(),
        ));
    }
    encode(
        &Header::default(),
        &ServerClaims { server: true },
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .map(Token)
    .map_err(|e| ApiError::Settings(format!("cannot sign the server token: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_is_hs256_with_the_server_claim_only() {
        let token = server_token("s3cr3t").expect("token");
        let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(
            token.expose(),
            &jsonwebtoken::DecodingKey::from_secret(b"s3cr3t"),
            &validation,
        )
        .expect("verifies");
        assert_eq!(data.claims, serde_json::json!({"server": true}));
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
