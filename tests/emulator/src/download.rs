//! `GET /files/{bucket}/{path}`: the presigned export-file download, answering like S3.
//!
//! The file is generated while it is sent: a blocking task writes it into 64 KiB chunks passed
//! through a channel of four, so memory stays bounded whatever the size, and the generator stops
//! as soon as the client goes away. `Content-Length` is exact (unless the configuration turns it
//! off): a first pass writes the file into a byte counter (constant memory) and the size is kept
//! with the task for later downloads. Single byte ranges (`Range: bytes=…`) are served by
//! generating and skipping.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::endpoint::Endpoint;
use crate::error::s3_error;
use crate::export_file::{self, ByteCounter};
use crate::objects::Ts;
use crate::signed_url::{UrlRejection, object_key};
use crate::state::Shared;
use crate::tasks::{Task, TaskStatus};

const CHUNK: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 4;
/// How long a cut body waits before breaking off, so the bytes before the cut leave the server's
/// buffers first (real time, only on an injected cut).
const CUT_FLUSH: std::time::Duration = std::time::Duration::from_millis(50);

/// Answers a download of the object `key` (`{bucket}/{path}`).
pub(crate) async fn serve(
    shared: Arc<Shared>,
    key: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Response {
    let now = shared.clock.now();
    if let Some(delay) = shared.faults.delay(Endpoint::DownloadExport) {
        tokio::time::sleep(delay).await;
    }
    if shared.faults.take_rate_limited(Endpoint::DownloadExport) {
        return s3_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SlowDown",
            "Please reduce your request rate.",
            &[],
        );
    }
    if let Some(status) = shared.faults.take_server_error(Endpoint::DownloadExport) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = internal_error();
        *response.status_mut() = status;
        return response;
    }
    let checked = match shared.signer.check(key, query, now) {
        // An injected expiry: the link is answered as if its time had run out.
        Ok(()) if shared.faults.take_expired_link() => Err(UrlRejection::Expired(
            query
                .get("Expires")
                .and_then(|e| e.parse().ok())
                .unwrap_or_else(|| now.timestamp()),
        )),
        checked => checked,
    };
    match checked {
        Ok(()) => {}
        Err(UrlRejection::Missing) => {
            return s3_error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters",
                &[],
            );
        }
        Err(UrlRejection::BadSignature) => {
            return s3_error(
                StatusCode::FORBIDDEN,
                "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.",
                &[],
            );
        }
        Err(UrlRejection::Expired(expires)) => {
            let expires = chrono::DateTime::from_timestamp(expires, 0).unwrap_or_default();
            return s3_error(
                StatusCode::FORBIDDEN,
                "AccessDenied",
                "Request has expired",
                &[
                    ("Expires", Ts(expires).to_string()),
                    ("ServerTime", Ts(now).to_string()),
                ],
            );
        }
    }
    let Some(task) = find_file(&shared, key, now) else {
        return s3_error(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
            &[("Key", key.to_owned())],
        );
    };
    let (status, start, len) = if shared.config.exact_content_length {
        let total = match size(&shared, &task).await {
            Ok(total) => total,
            Err(_) => return internal_error(),
        };
        let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
        match parse_range(range, total) {
            ByteRange::Full => (StatusCode::OK, 0, Some((total, total))),
            ByteRange::Part(first, last) => (
                StatusCode::PARTIAL_CONTENT,
                first,
                Some((last - first + 1, total)),
            ),
            ByteRange::Unsatisfiable => {
                let mut response = s3_error(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "InvalidRange",
                    "The requested range is not satisfiable",
                    &[],
                );
                insert(
                    &mut response,
                    header::CONTENT_RANGE,
                    format!("bytes */{total}"),
                );
                return response;
            }
        }
    } else {
        (StatusCode::OK, 0, None)
    };
    let cut = shared.faults.take_cut();
    let content_type = export_file::content_type(&task);
    let completed = task.state(now, &shared.config.task_durations).1;
    let body = stream(
        Arc::clone(&shared),
        task,
        start,
        len.map(|(len, _)| len),
        cut,
    );
    let mut response = (status, body).into_response();
    insert(&mut response, header::CONTENT_TYPE, content_type.to_owned());
    if let Some((len, total)) = len {
        insert(&mut response, header::CONTENT_LENGTH, len.to_string());
        insert(&mut response, header::ACCEPT_RANGES, "bytes".to_owned());
        if status == StatusCode::PARTIAL_CONTENT {
            insert(
                &mut response,
                header::CONTENT_RANGE,
                format!("bytes {start}-{}/{total}", start + len - 1),
            );
        }
    }
    insert(
        &mut response,
        header::LAST_MODIFIED,
        completed.format("%a, %d %b %Y %H:%M:%S GMT").to_string(),
    );
    response
}

fn internal_error() -> Response {
    s3_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "We encountered an internal error. Please try again.",
        &[],
    )
}

/// The completed, unlapsed task whose file is `key`.
fn find_file(shared: &Shared, key: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Arc<Task>> {
    let task_id = key.split('/').nth(3)?;
    let task = shared.tasks.get(task_id)?;
    let available = object_key(&task) == key
        && !task.lapsed(now, shared.config.retention)
        && task.state(now, &shared.config.task_durations).0 == TaskStatus::Completed;
    available.then_some(task)
}

/// The file's size: computed once by writing it into a counter, then remembered.
async fn size(shared: &Arc<Shared>, task: &Arc<Task>) -> io::Result<u64> {
    if let Some(size) = task.size.get() {
        return Ok(*size);
    }
    let (shared, task) = (Arc::clone(shared), Arc::clone(task));
    tokio::task::spawn_blocking(move || {
        let mut counter = ByteCounter::default();
        export_file::write(&shared.data, &task, &mut counter)?;
        Ok(*task.size.get_or_init(|| counter.0))
    })
    .await
    .map_err(io::Error::other)?
}

/// The body: bytes `[start, start + len)` of the file (to its end without `len`), cut short after
/// `cut` bytes if set.
fn stream(
    shared: Arc<Shared>,
    task: Arc<Task>,
    start: u64,
    len: Option<u64>,
    cut: Option<u64>,
) -> Body {
    let len = len.unwrap_or(u64::MAX);
    let (tx, rx) = mpsc::channel(CHUNKS_IN_FLIGHT);
    tokio::task::spawn_blocking(move || {
        let mut sink = ChunkSink {
            tx,
            buf: Vec::with_capacity(CHUNK),
            skip: start,
            remaining: cut.map_or(len, |c| c.min(len)),
            cut: cut.is_some_and(|c| c < len),
            done: false,
        };
        let result = export_file::write(&shared.data, &task, &mut sink);
        sink.finish(result);
    });
    Body::from_stream(futures_util::stream::unfold(rx, |mut rx| async move {
        let item = rx.recv().await?;
        if item.is_err() {
            tokio::time::sleep(CUT_FLUSH).await;
        }
        Some((item, rx))
    }))
}

/// A `Write` that sends a byte range of what is written as chunks over a channel.
struct ChunkSink {
    tx: mpsc::Sender<io::Result<Bytes>>,
    buf: Vec<u8>,
    /// Bytes still to skip before the range starts.
    skip: u64,
    /// Bytes still to send.
    remaining: u64,
    /// Whether to break the body off (an error) once `remaining` is sent.
    cut: bool,
    /// Everything wanted was sent, or the client went away: stop writing.
    done: bool,
}

impl ChunkSink {
    fn send_buffer(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.blocking_send(Ok(Bytes::from(chunk))).map_err(|_| {
            self.done = true;
            io::Error::new(io::ErrorKind::BrokenPipe, "client went away")
        })
    }

    fn finish(mut self, result: io::Result<()>) {
        if self.done {
            return;
        }
        let outcome = result.and_then(|()| self.send_buffer());
        if let Err(error) = outcome {
            // Dropping the body mid-way makes the server close the connection.
            let _ = self.tx.blocking_send(Err(error));
        }
    }
}

impl Write for ChunkSink {
    fn write(&mut self, mut data: &[u8]) -> io::Result<usize> {
        let written = data.len();
        if self.done {
            return Err(io::Error::other("download finished"));
        }
        let skipped = self.skip.min(data.len() as u64) as usize;
        self.skip -= skipped as u64;
        data = &data[skipped..];
        let take = self.remaining.min(data.len() as u64) as usize;
        self.buf.extend_from_slice(&data[..take]);
        self.remaining -= take as u64;
        if self.remaining == 0 && self.skip == 0 {
            self.send_buffer()?;
            self.done = true;
            if self.cut {
                let _ = self.tx.blocking_send(Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "download cut by an injected fault",
                )));
            }
        } else if self.buf.len() >= CHUNK {
            self.send_buffer()?;
        }
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A `Range` request header, resolved against the file size.
#[derive(Debug, PartialEq, Eq)]
enum ByteRange {
    /// No (usable) range: the whole file.
    Full,
    /// Bytes `first..=last`.
    Part(u64, u64),
    Unsatisfiable,
}

/// Single ranges only; anything else malformed or multi-range is ignored (the whole file is
/// sent), as HTTP allows.
fn parse_range(header: Option<&str>, total: u64) -> ByteRange {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return ByteRange::Full;
    };
    let Some((first, last)) = spec.split_once('-') else {
        return ByteRange::Full;
    };
    if spec.contains(',') {
        return ByteRange::Full;
    }
    let (first, last) = (first.trim(), last.trim());
    match (first.parse::<u64>(), last.parse::<u64>()) {
        (Ok(first), Ok(last)) if first <= last => {
            if first >= total {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part(first, last.min(total - 1))
            }
        }
        (Ok(first), Err(_)) if last.is_empty() => {
            if first >= total {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part(first, total - 1)
            }
        }
        (Err(_), Ok(suffix)) if first.is_empty() => {
            if suffix == 0 || total == 0 {
                ByteRange::Unsatisfiable
            } else {
                ByteRange::Part(total - suffix.min(total), total - 1)
            }
        }
        _ => ByteRange::Full,
    }
}

fn insert(response: &mut Response, name: header::HeaderName, value: String) {
    if let Ok(value) = HeaderValue::from_str(&value) {
        response.headers_mut().insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_against_the_size() {
        assert_eq!(parse_range(None, 10), ByteRange::Full);
        assert_eq!(parse_range(Some("bytes=2-4"), 10), ByteRange::Part(2, 4));
        assert_eq!(parse_range(Some("bytes=2-"), 10), ByteRange::Part(2, 9));
        assert_eq!(parse_range(Some("bytes=5-100"), 10), ByteRange::Part(5, 9));
        assert_eq!(parse_range(Some("bytes=-3"), 10), ByteRange::Part(7, 9));
        assert_eq!(parse_range(Some("bytes=-30"), 10), ByteRange::Part(0, 9));
        assert_eq!(parse_range(Some("bytes=10-"), 10), ByteRange::Unsatisfiable);
        assert_eq!(parse_range(Some("bytes=4-2"), 10), ByteRange::Full);
        assert_eq!(parse_range(Some("bytes=0-1,4-5"), 10), ByteRange::Full);
        assert_eq!(parse_range(Some("items=0-1"), 10), ByteRange::Full);
    }

    #[test]
    fn the_sink_sends_exactly_the_range() {
        let (tx, mut rx) = mpsc::channel(100);
        let mut sink = ChunkSink {
            tx,
            buf: Vec::new(),
            skip: 3,
            remaining: 4,
            cut: true,
            done: false,
        };
        sink.write_all(b"0123").unwrap();
        assert!(sink.write_all(b"456789").is_ok());
        assert!(sink.write_all(b"more").is_err());
        sink.finish(Ok(()));
        assert_eq!(rx.try_recv().unwrap().unwrap(), Bytes::from_static(b"3456"));
        assert!(rx.try_recv().unwrap().is_err());
        assert!(rx.try_recv().is_err());
    }
}
