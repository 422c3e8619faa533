//! What every request passes: the token check (when one is set), the access log, and the
//! headers that keep a page of personal data from being framed, cached, sniffed or made to
//! load anything from elsewhere.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;

use super::auth::Token;

/// No script runs, nothing loads from another origin, forms post only here.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const HEADERS: [(HeaderName, &str); 5] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-store"),
];

/// The user name of Basic auth, for the log (the password is the token and never logged).
fn user(request: &Request) -> Option<String> {
    let value = request.headers().get(header::AUTHORIZATION)?.as_bytes();
    let encoded = value
        .strip_prefix(b"Basic ")
        .or_else(|| value.strip_prefix(b"basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim_ascii())
        .ok()?;
    let name = &decoded[..decoded.iter().position(|&b| b == b':')?];
    (!name.is_empty()).then(|| String::from_utf8_lossy(name).into_owned())
}

/// The query string decoded (`q=from:ada hello`), so the log reads as the user typed it.
fn decoded_query(request: &Request) -> String {
    let query = request.uri().query().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

pub async fn guard(
    State(token): State<Option<Arc<Token>>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let query = decoded_query(&request);
    let admitted = token.as_ref().is_none_or(|t| {
        t.admits(
            request
                .headers()
                .get(header::AUTHORIZATION)
                .map(HeaderValue::as_bytes),
        )
    });
    // Only a user name that came with the token is logged: a refused one may be the token
    // typed into the wrong field.
    let user = user(&request)
        .filter(|_| admitted)
        .filter(|u| !token.as_ref().is_some_and(|t| t.matches(u.as_bytes())));
    let mut response = if admitted {
        next.run(request).await
    } else {
        (
            StatusCode::UNAUTHORIZED,
            [(
                header::WWW_AUTHENTICATE,
                "Basic realm=\"chatvault\", charset=\"UTF-8\"",
            )],
            "The archive viewer needs its token: as a bearer token, or as the password when \
             the browser asks (any user name).\n",
        )
            .into_response()
    };
    for (name, value) in HEADERS {
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    if !path.starts_with("/assets/") {
        tracing::info!(
            target: "chatvault::ui::access",
            %peer,
            user = user.as_deref().unwrap_or("-"),
            %method,
            path,
            query,
            status = response.status().as_u16(),
            "ui request"
        );
    }
    response
}
