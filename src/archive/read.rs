//! Reading archives back: an archive's bytes from its store, checked against its manifest's
//! size and SHA-256 as they stream, decompressed as the manifest says, cut into entities
//! (`entities`), each message handed on as it is read. Memory does not grow with the archive:
//! only the message being read is held. Reading never writes.

use std::collections::BTreeMap;

use async_compression::tokio::bufread::{GzipDecoder, ZstdDecoder};
use chrono::{DateTime, Utc};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;
use tokio::io::{AsyncRead, AsyncReadExt, BufReader};
use tokio_util::io::StreamReader;

use super::entities::{ChannelHead, Kind, Layout, Splitter};
use super::manifest::Manifest;
use crate::query::Needles;
use crate::store::Store;

/// A message as it was exported, with the fields reading it back needs. Stream's `html` is
/// deliberately not read: it is never shown as markup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Message {
    pub id: String,
    #[serde(default)]
    pub cid: Option<String>,
    #[serde(default)]
    pub text: String,
    /// Stream's message type: `regular`, `reply`, `deleted`, `system`, …
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub user: Option<Author>,
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub deleted_at: Option<DateTime<Utc>>,
    /// When the text was last edited, where Stream says so.
    #[serde(default)]
    pub message_text_updated_at: Option<DateTime<Utc>>,
    /// The message replied to: in Stream, the thread's first message; archived data may name
    /// a reply, the message itself or a loop (`reading::thread` places them all).
    #[serde(default)]
    pub parent_id: Option<String>,
    #[serde(default, deserialize_with = "list_or_null")]
    pub attachments: Vec<serde_json::Value>,
    #[serde(default, deserialize_with = "counts_or_null")]
    pub reaction_counts: BTreeMap<String, u64>,
    /// The message's JSON as the archive holds it, every field and its text as exported, kept
    /// only when the reader is asked to ([`Keep::Exported`]).
    #[serde(skip)]
    pub exported: Option<Box<str>>,
}

/// What a reader keeps of each message besides the fields above.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Keep {
    /// The fields only: what search and the viewer need.
    #[default]
    Fields,
    /// The message's JSON as exported too (`Message::exported`), for `transcript --format
    /// jsonl`: a JSON Lines item as it stands, a v1 document's message without the whitespace
    /// around its tokens (so that it fits on a line), its fields in their order.
    Exported,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Author {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// The link to their picture, as exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

impl Message {
    pub fn user_id(&self) -> Option<&str> {
        self.user.as_ref().map(|u| u.id.as_str())
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some() || self.kind.as_deref() == Some("deleted")
    }

    /// Edited after it was written (deleting is not editing).
    pub fn is_edited(&self) -> bool {
        match (self.message_text_updated_at, self.created_at) {
            (Some(edited), Some(created)) => edited > created,
            _ => false,
        }
    }
}

fn list_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vec<serde_json::Value>, D::Error> {
    Ok(Option::<Vec<serde_json::Value>>::deserialize(d)?.unwrap_or_default())
}

fn counts_or_null<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, u64>, D::Error> {
    Ok(Option::<BTreeMap<String, u64>>::deserialize(d)?.unwrap_or_default())
}

/// A message's bytes, which parsed as JSON, as one line: a JSON Lines item as it is, a v1
/// document's message with the whitespace between its tokens left out (a pretty-printed
/// document spreads it over many lines). Strings, numbers and the order of fields stay as
/// exported.
fn as_exported(bytes: &[u8], layout: Layout) -> Box<str> {
    let text = String::from_utf8_lossy(bytes);
    if layout == Layout::Lines {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in text.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            in_string = c == '"';
            out.push(c);
        }
    }
    out.into()
}

/// Why an archive could not be read (the search goes on without it).
#[derive(Debug, Error)]
pub enum ReadError {
    #[error("the archive is missing (its manifest names it)")]
    Missing,
    #[error("cannot read the archive: {0}")]
    Store(#[source] object_store::Error),
    #[error("the archive is corrupt: {0}")]
    Corrupt(String),
}

/// How an archive is laid out, from its manifest.
pub fn layout(manifest: &Manifest) -> Layout {
    if manifest.export_version == "v1" && manifest.kind == "channels" {
        Layout::Document
    } else {
        Layout::Lines
    }
}

/// Reads the archive of `manifest`, handing `each` every message in file order that `needles`
/// does not rule out unparsed (all of them, with empty needles). A message without a `cid` (a
/// v1 document may leave it to the channel it sits in) gets its channel's. The bytes must
/// match the manifest's size and SHA-256, or it is an error after the last message: a caller
/// that keeps what it got must drop it then.
pub async fn messages(
    store: &Store,
    manifest: &Manifest,
    needles: &Needles,
    keep: Keep,
    each: &mut (dyn FnMut(Message) + Send),
) -> Result<(), ReadError> {
    let layout = layout(manifest);
    let mut splitter = Splitter::new(layout);
    if !needles.is_empty() {
        let line_needles = needles.clone();
        let mut scratch = Vec::new();
        splitter = splitter.with_filter(Box::new(move |line| {
            line_needles.may_match(line, &mut scratch)
        }));
    }
    let mut scratch = Vec::new();
    let mut channel: Option<String> = None;
    let mut bad: Option<String> = None;
    let mut found = |kind: Kind, bytes: &[u8]| match kind {
        Kind::Channel => {
            channel = serde_json::from_slice::<ChannelHead<'_>>(bytes)
                .ok()
                .and_then(|c| c.cid());
        }
        Kind::Message if !needles.may_match(bytes, &mut scratch) => {}
        Kind::Message => match serde_json::from_slice::<Message>(bytes) {
            Ok(mut message) => {
                if message.cid.is_none() {
                    message.cid.clone_from(&channel);
                }
                if keep == Keep::Exported {
                    message.exported = Some(as_exported(bytes, layout));
                }
                each(message);
            }
            Err(e) => {
                bad.get_or_insert_with(|| format!("a message that cannot be read: {e}"));
            }
        },
        Kind::User | Kind::Other => {}
    };
    entities(store, manifest, splitter, &mut found).await?;
    match bad {
        Some(problem) => Err(ReadError::Corrupt(problem)),
        None => Ok(()),
    }
}

/// Reads the archive of `manifest` through `splitter`, handing `found` every entity in file
/// order; the bytes must match the manifest's size and SHA-256, or it is an error after the
/// last entity.
pub async fn entities(
    store: &Store,
    manifest: &Manifest,
    mut splitter: Splitter,
    found: &mut (dyn FnMut(Kind, &[u8]) + Send),
) -> Result<(), ReadError> {
    let path = ObjectPath::from(manifest.key.as_str());
    let got = match store.object_store().get(&path).await {
        Ok(got) => got,
        Err(object_store::Error::NotFound { .. }) => return Err(ReadError::Missing),
        Err(e) => return Err(ReadError::Store(e)),
    };
    let mut hasher = Sha256::new();
    let mut stored = 0u64;
    let tapped = got
        .into_stream()
        .map_ok(|chunk| {
            hasher.update(&chunk);
            stored += chunk.len() as u64;
            chunk
        })
        .map_err(std::io::Error::other);
    let raw = BufReader::new(StreamReader::new(tapped));
    let mut decoded: Box<dyn AsyncRead + Send + Unpin> = match manifest.content_encoding.as_str() {
        "gzip" => Box::new(GzipDecoder::new(raw)),
        "zstd" => Box::new(ZstdDecoder::new(raw)),
        _ => Box::new(raw),
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = decoded
            .read(&mut buf)
            .await
            .map_err(|e| ReadError::Corrupt(format!("cannot be decoded: {e}")))?;
        if n == 0 {
            break;
        }
        splitter.push(&buf[..n], found);
    }
    splitter.finish(found);
    drop(decoded);
    if stored != manifest.bytes_stored {
        return Err(ReadError::Corrupt(format!(
            "{stored} bytes, the manifest says {}",
            manifest.bytes_stored
        )));
    }
    let sha256 = format!("{:x}", hasher.finalize());
    if sha256 != manifest.sha256 {
        return Err(ReadError::Corrupt(format!(
            "SHA-256 {sha256}, the manifest says {}",
            manifest.sha256
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_v1_message_as_exported_loses_only_the_space_between_tokens() {
        let pretty = b"{\n  \"id\" : \"m 1\",\n  \"text\": \"a \\\" b\\\\\",\n  \"n\": 1.50,\n  \"b\": [ 1, {\"z\": null} ]\n}";
        assert_eq!(
            &*as_exported(pretty, Layout::Document),
            r#"{"id":"m 1","text":"a \" b\\","n":1.50,"b":[1,{"z":null}]}"#
        );
        let line = br#"{"id": "m", "text": "as  is"}"#;
        assert_eq!(
            &*as_exported(line, Layout::Lines),
            r#"{"id": "m", "text": "as  is"}"#
        );
    }
}
