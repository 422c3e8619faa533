//! `GET /cdn/{*path}`: the emulator's stand-in for Stream's CDN. It checks the link's signature
//! and expiry on the emulator clock (403 when either fails), answers 404 for a file deleted from
//! it, and otherwise streams the file's bytes in 64 KiB slices generated as they are sent, with
//! a `Content-Length` and the content type the file *claims*; a path told to redirect answers
//! 302 to wherever it was told. API credentials mean nothing here:
//! they are neither needed nor looked at (the request log shows whether a client sent any).

use std::collections::HashMap;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::cdn_file::CdnFile;
use crate::cdn_link::LinkRejection;
use crate::endpoint::Endpoint;
use crate::error::s3_error;
use crate::objects::Ts;
use crate::state::Shared;

const CHUNK: u64 = 64 * 1024;
/// How long a cut body waits before breaking off, so the bytes before the cut leave the server's
/// buffers first (real time, only on an injected cut).
const CUT_FLUSH: std::time::Duration = std::time::Duration::from_millis(50);

/// Headers whose values the log blanks: they carry credentials.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "stream-auth-type",
];

/// Answers a request for the CDN file `path`.
pub(crate) async fn serve(
    shared: &Shared,
    path: &str,
    query: &HashMap<String, String>,
) -> Response {
    let now = shared.clock.now();
    if let Some(delay) = shared.faults.delay(Endpoint::CdnFile) {
        tokio::time::sleep(delay).await;
    }
    if shared.faults.take_rate_limited(Endpoint::CdnFile) {
        return s3_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Please reduce your request rate.",
            &[],
        );
    }
    if let Some(status) = shared.faults.take_server_error(Endpoint::CdnFile) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        return s3_error(
            status,
            "InternalError",
            "We encountered an internal error.",
            &[],
        );
    }
    match shared.data.cdn.check(path, query, now) {
        Ok(()) => {}
        Err(LinkRejection::Missing) => {
            return s3_error(
                StatusCode::FORBIDDEN,
                "MissingKey",
                "Missing Key-Pair-Id query parameter or cookie value",
                &[],
            );
        }
        Err(LinkRejection::BadSignature) => {
            return s3_error(StatusCode::FORBIDDEN, "AccessDenied", "Access denied", &[]);
        }
        Err(LinkRejection::Expired(expires)) => {
            let expires = chrono::DateTime::from_timestamp(expires, 0).unwrap_or_default();
            return s3_error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Access denied",
                &[
                    ("Expires", Ts(expires).to_string()),
                    ("ServerTime", Ts(now).to_string()),
                ],
            );
        }
    }
    if let Some(location) = shared.cdn_redirect(path) {
        let mut response = StatusCode::FOUND.into_response();
        if let Ok(location) = HeaderValue::from_str(&location) {
            response.headers_mut().insert(header::LOCATION, location);
        }
        return response;
    }
    let file =
        CdnFile::at(shared.config.data.seed, path).filter(|_| !shared.cdn_file_deleted(path));
    let Some(file) = file else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            &[],
        );
    };
    let cut = shared.faults.take_cdn_cut();
    let mut response = (StatusCode::OK, body(file.clone(), cut)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.kind.claimed_content_type()),
    );
    if let Ok(length) = HeaderValue::from_str(&file.size.to_string()) {
        headers.insert(header::CONTENT_LENGTH, length);
    }
    response
}

/// The file's bytes, generated a slice at a time as the client reads them; with `cut`, only that
/// many, then the connection breaks.
fn body(file: CdnFile, cut: Option<u64>) -> Body {
    let end = cut.map_or(file.size, |c| c.min(file.size));
    let broken = end < file.size;
    let stream = futures_util::stream::unfold((file, 0u64), move |(file, offset)| async move {
        if offset >= end {
            if !broken || offset > end {
                return None;
            }
            tokio::time::sleep(CUT_FLUSH).await;
            let error = std::io::Error::new(
                std::io::ErrorKind::ConnectionAborted,
                "CDN file cut by an injected fault",
            );
            return Some((Err(error), (file, end + 1)));
        }
        let n = (end - offset).min(CHUNK) as usize;
        let mut slice = vec![0; n];
        file.fill(offset, &mut slice);
        let next = offset + n as u64;
        Some((Ok(Bytes::from(slice)), (file, next)))
    });
    Body::from_stream(stream)
}

/// The request's headers as the log keeps them, credential values blanked.
pub(crate) fn logged_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str().to_ascii_lowercase();
            let value = if SECRET_HEADERS.contains(&name.as_str()) {
                "<redacted>".to_owned()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            (name, value)
        })
        .collect()
}

/// The names of the query parameters, in order.
pub(crate) fn query_names(query: Option<&str>) -> Vec<String> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            pair.split_once('=')
                .map_or(pair, |(name, _)| name)
                .to_owned()
        })
        .collect()
}
