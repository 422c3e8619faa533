//! `GET /media/<sha256>`: a captured file, streamed from the store that holds it. Only a file
//! that a media record of a shown archive names as stored is served (so the path is no way to
//! read other objects), and only a raster image, by its first bytes, is served to be shown;
//! everything else (SVG and HTML included) comes as a download. Every answer here carries
//! `nosniff` and a sandbox policy, so even a file opened directly runs nothing.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt as _;
use object_store::ObjectStoreExt as _;
use object_store::path::Path as ObjectPath;

use super::Viewer;
use super::reply::PageError;
use crate::archive::media::kind::{HEAD_LEN, download_name, header_type, raster_type};
use crate::archive::media::layout::object_key;

/// Media answers run nothing, load nothing, and are their own origin.
pub const MEDIA_POLICY: &str = "sandbox; default-src 'none'";

fn is_sha256(text: &str) -> bool {
    text.len() == 64
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

pub async fn serve(State(viewer): State<Arc<Viewer>>, Path(sha256): Path<String>) -> Response {
    match file(&viewer, &sha256).await {
        Ok(response) => response,
        Err(e) => e.into_response(),
    }
}

async fn file(viewer: &Viewer, sha256: &str) -> Result<Response, PageError> {
    let none = || PageError::NotFound("No shown archive names such a file.".to_owned());
    if !is_sha256(sha256) {
        return Err(none());
    }
    let listing = viewer.index.listing().await;
    let media = viewer.index.media(&listing).await;
    let found = media.stored(sha256).ok_or_else(none)?;
    let stored = found.reference.outcome.stored().ok_or_else(none)?;
    let store = &listing
        .locations
        .get(found.location)
        .ok_or_else(none)?
        .store;
    let key = object_key(&found.prefix, sha256);
    let got = match store
        .object_store()
        .get(&ObjectPath::from(key.as_str()))
        .await
    {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(PageError::NotFound(format!(
                "A media record names this file, but the store has no object {key}."
            )));
        }
        Err(e) => {
            return Err(PageError::Unavailable(format!(
                "The file {key} could not be read: {e}"
            )));
        }
    };
    let size = got.meta.size;
    let mut stream = got.into_stream();
    // The first bytes decide how it is served; they are sent first, then the rest as it comes.
    let mut head: Vec<Bytes> = Vec::new();
    let mut held = 0;
    while held < HEAD_LEN {
        match stream.next().await {
            Some(Ok(chunk)) => {
                held += chunk.len();
                head.push(chunk);
            }
            Some(Err(e)) => {
                return Err(PageError::Unavailable(format!(
                    "The file {key} could not be read: {e}"
                )));
            }
            None => break,
        }
    }
    let first: Vec<u8> = head
        .iter()
        .flat_map(|c| c.iter().copied())
        .take(HEAD_LEN)
        .collect();
    let raster = raster_type(&first);
    let body = Body::from_stream(futures::stream::iter(head.into_iter().map(Ok)).chain(stream));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    let value = |text: &str| {
        HeaderValue::from_str(text)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream"))
    };
    match raster {
        Some(kind) => {
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
        }
        None => {
            let kind = header_type(&stored.content_type);
            // A record that says "image" of bytes that are not one is not believed.
            let kind = if kind.starts_with("image/") && kind != "image/svg+xml" {
                "application/octet-stream".to_owned()
            } else {
                kind
            };
            let name = download_name(&found.reference.url, sha256, &kind);
            headers.insert(header::CONTENT_TYPE, value(&kind));
            headers.insert(
                header::CONTENT_DISPOSITION,
                value(&format!("attachment; filename=\"{name}\"")),
            );
        }
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(MEDIA_POLICY),
    );
    Ok(response)
}
