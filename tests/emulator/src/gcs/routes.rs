//! The XML API's requests, read off the method, path (`/{bucket}/{object}`, the object name
//! percent-encoded), query and headers, and answered from the model.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query as QueryString, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};

use super::listing::{self, MAX_KEYS};
use super::model::{Attributes, Model, Object, Precondition, Refusal};
use super::range::{self, Served};
use super::xml;

const META_PREFIX: &str = "x-goog-meta-";

/// What the server shares between requests.
#[derive(Debug)]
pub struct Shared {
    pub model: Mutex<Model>,
    pub base_url: String,
}

impl Shared {
    pub fn model(&self) -> MutexGuard<'_, Model> {
        // A panic while holding the lock leaves the model as whole as before the call.
        self.model
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        // Parts and single uploads are many megabytes; axum's default cap is 2 MB.
        .layer(DefaultBodyLimit::disable())
        .with_state(shared)
}

/// An answer that is not a success: its status and XML error body.
struct Failure(StatusCode, String);

impl From<Refusal> for Failure {
    fn from(refusal: Refusal) -> Failure {
        let (status, code, message) = match refusal {
            Refusal::NoSuchBucket => (
                StatusCode::NOT_FOUND,
                "NoSuchBucket",
                "The specified bucket does not exist.".to_owned(),
            ),
            Refusal::NoSuchKey => (
                StatusCode::NOT_FOUND,
                "NoSuchKey",
                "The specified key does not exist.".to_owned(),
            ),
            Refusal::NoSuchUpload => (
                StatusCode::NOT_FOUND,
                "NoSuchUpload",
                "The requested upload was not found.".to_owned(),
            ),
            Refusal::PreconditionFailed => (
                StatusCode::PRECONDITION_FAILED,
                "PreconditionFailed",
                "At least one of the pre-conditions you specified did not hold.".to_owned(),
            ),
            Refusal::InvalidArgument(why) => (StatusCode::BAD_REQUEST, "InvalidArgument", why),
            Refusal::InvalidPart(n) => (
                StatusCode::BAD_REQUEST,
                "InvalidPart",
                format!("Part {n} was not uploaded, or its ETag differs."),
            ),
            Refusal::InvalidPartOrder => (
                StatusCode::BAD_REQUEST,
                "InvalidPartOrder",
                "The parts must be named in ascending order.".to_owned(),
            ),
            Refusal::EntityTooSmall(n) => (
                StatusCode::BAD_REQUEST,
                "EntityTooSmall",
                format!("Part {n} is smaller than 5 MiB and is not the last."),
            ),
        };
        Failure(status, xml::error(code, &message))
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (
            self.0,
            [(header::CONTENT_TYPE, "application/xml; charset=UTF-8")],
            self.1,
        )
            .into_response()
    }
}

fn invalid(why: &str) -> Failure {
    Refusal::InvalidArgument(why.to_owned()).into()
}

/// One request, decoded.
struct Call<'a> {
    method: Method,
    bucket: String,
    name: String,
    query: HashMap<String, String>,
    headers: &'a HeaderMap,
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match answer(&shared, method, &uri, &headers, body) {
        Ok(response) => response,
        Err(failure) => failure.into_response(),
    }
}

fn answer(
    shared: &Shared,
    method: Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, Failure> {
    let path = uri.path().trim_start_matches('/');
    let (bucket, name) = path.split_once('/').unwrap_or((path, ""));
    let bucket = percent_decode(bucket).ok_or_else(|| invalid("bad percent-encoding"))?;
    let name = percent_decode(name).ok_or_else(|| invalid("bad percent-encoding"))?;
    let QueryString(pairs) = QueryString::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|_| invalid("bad query string"))?;
    let call = Call {
        method,
        bucket,
        name,
        query: pairs.into_iter().collect(),
        headers,
    };
    if !shared.model().has_bucket(&call.bucket) {
        return Err(Refusal::NoSuchBucket.into());
    }
    let has = |key: &str| call.query.contains_key(key);
    match (&call.method, call.name.is_empty()) {
        (&Method::GET, true) => list(shared, &call),
        (&Method::GET | &Method::HEAD, false) => get(shared, &call),
        (&Method::PUT, false) if has("uploadId") => put_part(shared, &call, body),
        (&Method::PUT, false) if call.headers.contains_key("x-goog-copy-source") => {
            copy(shared, &call)
        }
        (&Method::PUT, false) => put(shared, &call, body),
        (&Method::POST, false) if has("uploads") => initiate(shared, &call),
        (&Method::POST, false) if has("uploadId") => complete(shared, &call, &body),
        (&Method::DELETE, false) if has("uploadId") => abort(shared, &call),
        (&Method::DELETE, false) => delete(shared, &call),
        _ => Err(Failure(
            StatusCode::METHOD_NOT_ALLOWED,
            xml::error("MethodNotAllowed", "This server does not serve that call."),
        )),
    }
}

fn list(shared: &Shared, call: &Call<'_>) -> Result<Response, Failure> {
    if call.query.get("list-type").map(String::as_str) != Some("2") {
        return Err(invalid("only list-type=2 listings are served here"));
    }
    let max_keys = match call.query.get("max-keys") {
        Some(n) => n.parse().map_err(|_| invalid("max-keys is not a number"))?,
        None => MAX_KEYS,
    };
    let query = listing::Query {
        prefix: call.query.get("prefix").cloned().unwrap_or_default(),
        delimiter: call.query.get("delimiter").cloned().unwrap_or_default(),
        max_keys: max_keys.clamp(1, MAX_KEYS),
        continuation_token: call.query.get("continuation-token").cloned(),
        start_after: call.query.get("start-after").cloned(),
    };
    let model = shared.model();
    let objects = model.objects(&call.bucket)?;
    let page = listing::page(objects, &query)
        .ok_or_else(|| invalid("the continuation-token is not one this server gave"))?;
    Ok(xml_response(
        StatusCode::OK,
        xml::list(&call.bucket, &query, &page),
    ))
}

fn get(shared: &Shared, call: &Call<'_>) -> Result<Response, Failure> {
    let generation = match call.query.get("generation") {
        Some(g) => Some(
            g.parse()
                .map_err(|_| invalid("generation is not a number"))?,
        ),
        None => None,
    };
    let model = shared.model();
    let object = model.get(&call.bucket, &call.name, generation)?;
    if let Some(status) = conditional_get(call.headers, object) {
        if status == StatusCode::PRECONDITION_FAILED {
            return Err(Refusal::PreconditionFailed.into());
        }
        let mut response = StatusCode::NOT_MODIFIED.into_response();
        response
            .headers_mut()
            .extend(object_headers(object).into_iter().filter(|(k, _)| {
                k.as_ref()
                    .is_some_and(|k| k == header::ETAG || k == "x-goog-generation")
            }));
        return Ok(response);
    }
    let len = object.data.len();
    let (status, bytes, content_range) =
        match range::served(header_text(call.headers, header::RANGE.as_str()), len) {
            Served::Whole => (StatusCode::OK, object.data.clone(), None),
            Served::Part(r) => (
                StatusCode::PARTIAL_CONTENT,
                object.data.slice(r.clone()),
                Some(format!("bytes {}-{}/{len}", r.start, r.end - 1)),
            ),
            Served::Unsatisfiable => {
                let mut response = Failure(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    xml::error("InvalidRange", "The requested range cannot be satisfied."),
                )
                .into_response();
                insert(
                    &mut response,
                    header::CONTENT_RANGE.as_str(),
                    &format!("bytes */{len}"),
                );
                return Ok(response);
            }
        };
    let mut headers = object_headers(object);
    headers.insert(header::CONTENT_LENGTH, value(&bytes.len().to_string()));
    if let Some(content_range) = content_range {
        headers.insert(header::CONTENT_RANGE, value(&content_range));
    }
    let body = if call.method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(bytes)
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    *response.headers_mut() = headers;
    Ok(response)
}

/// The status a GET's conditional headers call for instead of the object, if any
/// (RFC 9110's order: If-Match, If-Unmodified-Since, If-None-Match, If-Modified-Since).
fn conditional_get(headers: &HeaderMap, object: &Object) -> Option<StatusCode> {
    let etag_in = |list: &str| {
        list.split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.trim_matches('"') == object.etag.trim_matches('"'))
    };
    let date = |name: &str| {
        header_text(headers, name)
            .and_then(|d| DateTime::parse_from_rfc2822(d).ok())
            .map(|d| d.timestamp())
    };
    let modified = object.updated.timestamp();
    if let Some(list) = header_text(headers, header::IF_MATCH.as_str()) {
        if !etag_in(list) {
            return Some(StatusCode::PRECONDITION_FAILED);
        }
    } else if date(header::IF_UNMODIFIED_SINCE.as_str()).is_some_and(|d| modified > d) {
        return Some(StatusCode::PRECONDITION_FAILED);
    }
    if let Some(list) = header_text(headers, header::IF_NONE_MATCH.as_str()) {
        if etag_in(list) {
            return Some(StatusCode::NOT_MODIFIED);
        }
    } else if date(header::IF_MODIFIED_SINCE.as_str()).is_some_and(|d| modified <= d) {
        return Some(StatusCode::NOT_MODIFIED);
    }
    None
}

fn put(shared: &Shared, call: &Call<'_>, body: Bytes) -> Result<Response, Failure> {
    let precondition = precondition(call.headers)?;
    let attributes = attributes(call.headers);
    let mut model = shared.model();
    let object = model.put(
        &call.bucket,
        &call.name,
        body,
        attributes,
        precondition,
        Utc::now(),
    )?;
    Ok(written(object))
}

fn copy(shared: &Shared, call: &Call<'_>) -> Result<Response, Failure> {
    let precondition = precondition(call.headers)?;
    let source = header_text(call.headers, "x-goog-copy-source").unwrap_or_default();
    let (from_bucket, from_name) = source
        .trim_start_matches('/')
        .split_once('/')
        .ok_or_else(|| invalid("x-goog-copy-source is not BUCKET/OBJECT"))?;
    let from_bucket = percent_decode(from_bucket).ok_or_else(|| invalid("bad percent-encoding"))?;
    let from_name = percent_decode(from_name).ok_or_else(|| invalid("bad percent-encoding"))?;
    let mut model = shared.model();
    let object = model.copy(
        (&from_bucket, &from_name),
        (&call.bucket, &call.name),
        precondition,
        Utc::now(),
    )?;
    let mut response = xml_response(StatusCode::OK, xml::copied(object));
    response.headers_mut().extend(generation_headers(object));
    Ok(response)
}

fn delete(shared: &Shared, call: &Call<'_>) -> Result<Response, Failure> {
    let precondition = precondition(call.headers)?;
    shared
        .model()
        .delete(&call.bucket, &call.name, precondition)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn initiate(shared: &Shared, call: &Call<'_>) -> Result<Response, Failure> {
    let attributes = attributes(call.headers);
    let upload_id = shared
        .model()
        .initiate(&call.bucket, &call.name, attributes)?;
    Ok(xml_response(
        StatusCode::OK,
        xml::initiated(&call.bucket, &call.name, &upload_id),
    ))
}

fn put_part(shared: &Shared, call: &Call<'_>, body: Bytes) -> Result<Response, Failure> {
    let number = call
        .query
        .get("partNumber")
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| invalid("partNumber is missing or not a number"))?;
    let upload_id = call
        .query
        .get("uploadId")
        .map(String::as_str)
        .unwrap_or_default();
    let etag = shared
        .model()
        .put_part(&call.bucket, &call.name, upload_id, number, body)?;
    let mut response = StatusCode::OK.into_response();
    insert(&mut response, header::ETAG.as_str(), &etag);
    Ok(response)
}

fn complete(shared: &Shared, call: &Call<'_>, body: &[u8]) -> Result<Response, Failure> {
    let precondition = precondition(call.headers)?;
    let named = xml::parts_named(body).ok_or_else(|| {
        Failure(
            StatusCode::BAD_REQUEST,
            xml::error(
                "MalformedXML",
                "The body is not a CompleteMultipartUpload document.",
            ),
        )
    })?;
    let upload_id = call
        .query
        .get("uploadId")
        .map(String::as_str)
        .unwrap_or_default();
    let location = format!("{}/{}/{}", shared.base_url, call.bucket, call.name);
    let mut model = shared.model();
    let object = model.complete(
        &call.bucket,
        &call.name,
        upload_id,
        &named,
        precondition,
        Utc::now(),
    )?;
    let mut response = xml_response(
        StatusCode::OK,
        xml::completed(&location, &call.bucket, &call.name, object),
    );
    response.headers_mut().extend(generation_headers(object));
    Ok(response)
}

fn abort(shared: &Shared, call: &Call<'_>) -> Result<Response, Failure> {
    let upload_id = call
        .query
        .get("uploadId")
        .map(String::as_str)
        .unwrap_or_default();
    shared.model().abort(&call.bucket, &call.name, upload_id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// A PUT's answer: no body, the new object's ETag, generation and hash.
fn written(object: &Object) -> Response {
    let mut response = StatusCode::OK.into_response();
    response.headers_mut().extend(generation_headers(object));
    insert(&mut response, header::ETAG.as_str(), &object.etag);
    if let Some(md5) = &object.md5 {
        insert(&mut response, "x-goog-hash", &format!("md5={md5}"));
    }
    response
}

fn generation_headers(object: &Object) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert("x-goog-generation", value(&object.generation.to_string()));
    headers.insert("x-goog-metageneration", HeaderValue::from_static("1"));
    headers
}

/// What GET and HEAD send about an object besides its bytes.
fn object_headers(object: &Object) -> HeaderMap {
    let mut headers = generation_headers(object);
    let a = &object.attributes;
    headers.insert(header::ETAG, value(&object.etag));
    headers.insert(
        header::LAST_MODIFIED,
        value(
            &object
                .updated
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string(),
        ),
    );
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_TYPE,
        value(
            a.content_type
                .as_deref()
                .unwrap_or("application/octet-stream"),
        ),
    );
    headers.insert(
        "x-goog-stored-content-length",
        value(&object.data.len().to_string()),
    );
    headers.insert(
        "x-goog-stored-content-encoding",
        value(a.content_encoding.as_deref().unwrap_or("identity")),
    );
    if let Some(md5) = &object.md5 {
        headers.insert("x-goog-hash", value(&format!("md5={md5}")));
    }
    for (name, v) in [
        (header::CONTENT_ENCODING, &a.content_encoding),
        (header::CONTENT_DISPOSITION, &a.content_disposition),
        (header::CONTENT_LANGUAGE, &a.content_language),
        (header::CACHE_CONTROL, &a.cache_control),
    ] {
        if let Some(v) = v {
            headers.insert(name, value(v));
        }
    }
    for (key, v) in &a.metadata {
        if let Ok(name) = header::HeaderName::try_from(format!("{META_PREFIX}{key}")) {
            headers.insert(name, value(v));
        }
    }
    headers
}

/// `x-goog-if-generation-match`, the only write precondition object_store sends.
fn precondition(headers: &HeaderMap) -> Result<Precondition, Failure> {
    match header_text(headers, "x-goog-if-generation-match") {
        None => Ok(Precondition::None),
        Some(g) => g
            .trim()
            .parse()
            .map(Precondition::GenerationMatch)
            .map_err(|_| invalid("x-goog-if-generation-match is not a number")),
    }
}

fn attributes(headers: &HeaderMap) -> Attributes {
    let text = |name: header::HeaderName| header_text(headers, name.as_str()).map(str::to_owned);
    Attributes {
        content_type: text(header::CONTENT_TYPE),
        content_encoding: text(header::CONTENT_ENCODING),
        content_disposition: text(header::CONTENT_DISPOSITION),
        content_language: text(header::CONTENT_LANGUAGE),
        cache_control: text(header::CACHE_CONTROL),
        metadata: headers
            .iter()
            .filter_map(|(name, v)| {
                let key = name.as_str().strip_prefix(META_PREFIX)?;
                Some((key.to_owned(), v.to_str().ok()?.to_owned()))
            })
            .collect(),
    }
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A header value from text this server produced or stored from a valid header; anything
/// unrepresentable becomes empty rather than failing the answer.
fn value(text: &str) -> HeaderValue {
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

fn insert(response: &mut Response, name: &str, text: &str) {
    if let Ok(name) = header::HeaderName::try_from(name) {
        response.headers_mut().insert(name, value(text));
    }
}

fn xml_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/xml; charset=UTF-8")],
        body,
    )
        .into_response()
}

/// `%XX` sequences back to bytes, the result as UTF-8; `None` for a broken escape or bytes that
/// are not UTF-8. `+` stays `+`: in a path it is no space.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn object_names_are_percent_decoded() {
        assert_eq!(percent_decode("a%2Fb%20c+d").as_deref(), Some("a/b c+d"));
        assert_eq!(percent_decode("%E2%9C%93").as_deref(), Some("✓"));
        assert_eq!(percent_decode("bad%2"), None);
        assert_eq!(percent_decode("%ZZ"), None);
        assert_eq!(percent_decode("%FF"), None);
    }
}
