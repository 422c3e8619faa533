//! What every request passes: the token check (when one is set), the checks that keep other
//! web sites out (a host name of theirs pointing here; a form of theirs posting here), the
//! access log, and the headers that keep a page of personal data from being framed, cached,
//! sniffed or made to load anything from elsewhere.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::{Token, basic};

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
    let (name, _) = basic(request.headers().get(header::AUTHORIZATION)?.as_bytes())?;
    (!name.is_empty()).then(|| String::from_utf8_lossy(&name).into_owned())
}

/// The query string decoded (`q=from:ada hello`), so the log reads as the user typed it.
fn decoded_query(request: &Request) -> String {
    let query = request.uri().query().unwrap_or("");
    url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Whether `Host` names this machine's loopback (any port), or is absent (HTTP/1.0).
fn loopback_host(headers: &HeaderMap) -> bool {
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return headers.get(header::HOST).is_none();
    };
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(name, _)| name),
    };
    name.eq_ignore_ascii_case("localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Whether a browser says the request comes from another site's page.
fn cross_site(headers: &HeaderMap) -> bool {
    let value = |name| {
        headers
            .get(name)
            .and_then(|v: &HeaderValue| v.to_str().ok())
    };
    if let Some(site) = value(HeaderName::from_static("sec-fetch-site")) {
        return !matches!(site, "same-origin" | "none");
    }
    match (value(header::ORIGIN), value(header::HOST)) {
        (Some(origin), Some(host)) => origin.split_once("://").is_none_or(|(_, o)| o != host),
        (Some(_), None) => true,
        (None, _) => false,
    }
}

/// Why a request that carries the token (or needs none) is still refused. Without a token the
/// viewer listens on loopback only, and a page elsewhere could reach it there through a host
/// name of its own that resolves to 127.0.0.1 (DNS rebinding): only loopback names are
/// answered. A post from another site's page (which a browser sends with the saved login) is
/// refused too: verifying re-reads a whole archive.
fn refusal(method: &Method, headers: &HeaderMap, guarded: bool) -> Option<&'static str> {
    if !guarded && !loopback_host(headers) {
        return Some(
            "This viewer answers only to localhost, 127.0.0.1 or [::1]. To serve other \
             machines, listen on their network with --listen and --auth-token-file.\n",
        );
    }
    if *method != Method::GET && *method != Method::HEAD && cross_site(headers) {
        return Some("A form of another site cannot post here.\n");
    }
    None
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
    let refused = refusal(&method, request.headers(), token.is_some());
    let mut response = if let Some(why) = refused.filter(|_| admitted) {
        (StatusCode::FORBIDDEN, why).into_response()
    } else if admitted {
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
        // A captured file's answer sets its own, stricter policy (a sandbox): kept.
        if name == header::CONTENT_SECURITY_POLICY
            && response.headers().contains_key(&name)
            && response.status().is_success()
        {
            continue;
        }
        response
            .headers_mut()
            .insert(name, HeaderValue::from_static(value));
    }
    // The stylesheet and icon of every page are noise in the log, unless refused.
    if !path.starts_with("/assets/") || !response.status().is_success() {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| (HeaderName::from_static(k), HeaderValue::from_static(v)))
            .collect()
    }

    #[test]
    fn without_a_token_only_loopback_host_names_are_answered() {
        for host in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST",
            "[::1]:8080",
            "127.0.0.2",
        ] {
            let h = headers(&[("host", host)]);
            assert_eq!(refusal(&Method::GET, &h, false), None, "{host}");
        }
        for host in [
            "attacker.example:8080",
            "localhost.attacker.example",
            "10.0.0.1:8080",
        ] {
            let h = headers(&[("host", host)]);
            assert!(refusal(&Method::GET, &h, false).is_some(), "{host}");
            assert_eq!(refusal(&Method::GET, &h, true), None, "{host} with a token");
        }
        assert_eq!(refusal(&Method::GET, &HeaderMap::new(), false), None);
    }

    #[test]
    fn a_post_from_another_site_is_refused_and_one_from_the_viewer_is_not() {
        let same = [
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("sec-fetch-site", "same-origin"),
            ]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
            ]),
            headers(&[("host", "127.0.0.1:8080")]),
        ];
        for h in &same {
            assert_eq!(refusal(&Method::POST, h, true), None, "{h:?}");
        }
        let cross = [
            headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]),
            headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "same-site")]),
            headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://evil.example"),
            ]),
            headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]),
        ];
        for h in &cross {
            assert!(refusal(&Method::POST, h, true).is_some(), "{h:?}");
            assert_eq!(
                refusal(&Method::GET, h, true),
                None,
                "a link is fine: {h:?}"
            );
        }
    }
}
