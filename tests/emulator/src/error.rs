//! Error answers: Stream's JSON error body for the API, S3's XML error body for downloads.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::endpoint::Endpoint;

const MORE_INFO: &str = "https://getstream.io/chat/docs/api_errors_response";

/// A Stream API error: an HTTP status, a Stream error code and a detail text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: i32,
    pub detail: String,
}

impl ApiError {
    fn new(status: StatusCode, code: i32, detail: impl Into<String>) -> Self {
        Self {
            status,
            code,
            detail: detail.into(),
        }
    }

    /// 400, code 4: the request is not valid.
    pub fn input(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, 4, detail)
    }

    /// 401 with an authentication code (2 bad API key, 5 generic, 40–43 token problems).
    pub fn auth(code: i32, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail)
    }

    /// 403, code 17: the caller may not do this.
    pub fn not_allowed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, 17, detail)
    }

    /// 404, code 16: the thing does not exist.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, 16, detail)
    }

    /// 429, code 9: rate limited.
    pub fn rate_limited(endpoint: Endpoint) -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            9,
            format!("Too many requests, check response headers for {endpoint} rate limits"),
        )
    }

    /// 500, code -1: an internal error.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, -1, detail)
    }

    /// The JSON body, with the message in Stream's `<Op> failed with error: "<detail>"` form.
    pub fn body(&self, operation: &str, duration: &str) -> serde_json::Value {
        json!({
            "code": self.code,
            "message": format!("{operation} failed with error: \"{}\"", self.detail),
            "StatusCode": self.status.as_u16(),
            "duration": duration,
            "more_info": MORE_INFO,
            "details": [],
        })
    }
}

/// The `duration` string of a Stream response body, e.g. `"0.42ms"`.
pub(crate) fn duration_text(elapsed: std::time::Duration) -> String {
    format!("{:.2}ms", elapsed.as_secs_f64() * 1000.0)
}

/// A JSON response with Stream's content type.
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    response
}

/// An edge-proxy style non-JSON error page (some real 5xx answers are HTML).
pub(crate) fn html_error(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n</body>\r\n</html>\r\n",
        code = status.as_u16()
    );
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
    response
}

/// An S3-style XML error answer, as a presigned-URL download would get.
pub(crate) fn s3_error(
    status: StatusCode,
    code: &str,
    message: &str,
    extra: &[(&str, String)],
) -> Response {
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>{}</Code><Message>{}</Message>",
        xml_escape(code),
        xml_escape(message)
    );
    for (name, value) in extra {
        body.push_str(&format!("<{name}>{}</{name}>", xml_escape(value)));
    }
    body.push_str("<RequestId>EMULATOR</RequestId></Error>");
    let mut response = (status, body).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    response
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_body_has_streams_shape() {
        let body = ApiError::not_found("Can't find task with id abc").body("GetTask", "0.10ms");
        assert_eq!(body["code"], 16);
        assert_eq!(body["StatusCode"], 404);
        assert_eq!(
            body["message"],
            "GetTask failed with error: \"Can't find task with id abc\""
        );
        assert_eq!(body["details"], json!([]));
        assert_eq!(body["duration"], "0.10ms");
    }

    #[test]
    fn durations_are_milliseconds_with_two_decimals() {
        assert_eq!(
            duration_text(std::time::Duration::from_micros(420)),
            "0.42ms"
        );
    }

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(xml_escape("a<b&\"c\">"), "a&lt;b&amp;&quot;c&quot;&gt;");
    }
}
