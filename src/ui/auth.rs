//! Who may look: the archive is personal data, so a viewer reachable from other machines must
//! ask for a token. The token is accepted as a bearer token (scripts) or as the password of
//! HTTP Basic auth (a browser's login prompt), and compared in constant time.

use std::net::SocketAddr;
use std::path::Path;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use thiserror::Error;

/// The shared secret every request must carry. Only its hash is kept: comparing hashes of
/// equal length in constant time leaks neither the token nor its length.
#[derive(Clone)]
pub struct Token {
    hash: [u8; 32],
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(redacted)")
    }
}

#[derive(Debug, Error)]
pub enum TokenError {
    #[error("--auth-token-file {path}: cannot read it: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("--auth-token-file {path}: the file is empty; put the token on its first line")]
    Empty { path: String },
}

impl Token {
    /// The file's first line, without surrounding whitespace (editors add a newline).
    pub fn from_file(path: &Path) -> Result<Token, TokenError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokenError::Read {
            path: shown.clone(),
            source,
        })?;
        let token = text.lines().next().unwrap_or("").trim();
        if token.is_empty() {
            return Err(TokenError::Empty { path: shown });
        }
        Ok(Token::new(token))
    }

    pub fn new(token: &str) -> Token {
        Token {
            hash: Sha256::digest(token.as_bytes()).into(),
        }
    }

    /// Whether `offered` is the token itself.
    pub fn matches(&self, offered: &[u8]) -> bool {
        let offered: [u8; 32] = Sha256::digest(offered).into();
        self.hash.ct_eq(&offered).into()
    }

    /// Whether an `Authorization` header carries the token: `Bearer TOKEN`, or `Basic` with
    /// any user name and the token as the password.
    pub fn admits(&self, authorization: Option<&[u8]>) -> bool {
        let Some(value) = authorization else {
            return false;
        };
        let Some((scheme, credentials)) = split_scheme(value) else {
            return false;
        };
        if scheme.eq_ignore_ascii_case(b"bearer") {
            return self.matches(credentials);
        }
        basic(value).is_some_and(|(_, password)| self.matches(&password))
    }
}

/// The user name and password of an `Authorization: Basic …` value.
pub fn basic(value: &[u8]) -> Option<(Vec<u8>, Vec<u8>)> {
    let (scheme, credentials) = split_scheme(value)?;
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let mut user = base64::engine::general_purpose::STANDARD
        .decode(credentials)
        .ok()?;
    let colon = user.iter().position(|&b| b == b':')?;
    let password = user.split_off(colon + 1);
    user.pop();
    Some((user, password))
}

fn split_scheme(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|&b| b == b' ')?;
    let credentials = value[space + 1..].trim_ascii();
    (!credentials.is_empty()).then_some((&value[..space], credentials))
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ListenError {
    #[error("--listen {0}: expected IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080")]
    Invalid(String),
    #[error(
        "--listen {0} can be reached from other machines, and the archive holds personal data: \
         give --auth-token-file FILE so every request must carry the token, or listen on \
         127.0.0.1"
    )]
    Unprotected(String),
}

/// Where to listen, refusing an address other machines can reach unless a token guards it.
pub fn listen_address(text: &str, token: bool) -> Result<SocketAddr, ListenError> {
    let addr: SocketAddr = text
        .parse()
        .map_err(|_| ListenError::Invalid(text.to_owned()))?;
    if !addr.ip().is_loopback() && !token {
        return Err(ListenError::Unprotected(text.to_owned()));
    }
    Ok(addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user_pass: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_pass)
        )
        .into_bytes()
    }

    #[test]
    fn the_token_is_admitted_as_bearer_or_as_the_basic_password_and_nothing_else() {
        let token = Token::new("s3cret:with colon");
        assert!(token.admits(Some(b"Bearer s3cret:with colon")));
        assert!(token.admits(Some(b"bearer   s3cret:with colon ")));
        assert!(token.admits(Some(&basic("anyone:s3cret:with colon"))));
        assert!(token.admits(Some(&basic(":s3cret:with colon"))));
        for wrong in [
            b"Bearer s3cret".to_vec(),
            b"Bearer ".to_vec(),
            b"Bearer".to_vec(),
            b"s3cret:with colon".to_vec(),
            b"Token s3cret:with colon".to_vec(),
            basic("s3cret:with colon"),
            basic("user:wrong"),
            b"Basic !!!not-base64".to_vec(),
        ] {
            assert!(
                !token.admits(Some(&wrong)),
                "{}",
                String::from_utf8_lossy(&wrong)
            );
        }
        assert!(!token.admits(None));
        assert_eq!(format!("{token:?}"), "Token(redacted)");
    }

    #[test]
    fn the_token_file_gives_its_first_line_and_an_empty_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        std::fs::write(&path, "  abc  \nignored\n").expect("write");
        assert!(
            Token::from_file(&path)
                .expect("read")
                .admits(Some(b"Bearer abc"))
        );
        std::fs::write(&path, "\n").expect("write");
        assert!(matches!(
            Token::from_file(&path),
            Err(TokenError::Empty { .. })
        ));
        let missing = Token::from_file(&dir.path().join("nope")).expect_err("missing");
        assert!(missing.to_string().contains("cannot read it"), "{missing}");
    }

    #[test]
    fn only_loopback_listens_without_a_token() {
        assert!(listen_address("127.0.0.1:8080", false).is_ok());
        assert!(listen_address("[::1]:0", false).is_ok());
        assert_eq!(
            listen_address("0.0.0.0:8080", false),
            Err(ListenError::Unprotected("0.0.0.0:8080".into()))
        );
        assert!(listen_address("192.168.1.5:80", true).is_ok());
        assert_eq!(
            listen_address("localhost", true),
            Err(ListenError::Invalid("localhost".into()))
        );
    }
}
