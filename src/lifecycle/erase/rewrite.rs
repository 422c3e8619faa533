//! Writing an archive again without one person: its bytes stream out of the store (checked
//! against its manifest's size and SHA-256), each item goes through `people::scrub`, and what
//! is kept is encoded as the original was and stored under the replacement's key, hashed and
//! counted on the way. JSON Lines are rewritten a line at a time (a line kept as it was is
//! written byte for byte; the `{"type","item"}` envelope stays); a v1 document, one value, is
//! read whole and written again.

use std::collections::BTreeSet;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use async_compression::tokio::bufread::{GzipDecoder, GzipEncoder, ZstdDecoder, ZstdEncoder};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, BufReader, ReadBuf};
use tokio_util::io::StreamReader;

use super::EraseError;
use crate::archive::entities::{Kind, Layout, Splitter};
use crate::archive::manifest::Manifest;
use crate::archive::media::refs::{FoundRef, RefCollector};
use crate::archive::people::{self, Role, Verdict};
use crate::archive::read::layout;
use crate::archive::replacement::Removed;
use crate::archive::tally::{Counter, Tally};
use crate::archive::transfer::{Target, store_encoded};
use crate::config::job::Compression;
use crate::store::Store;

/// Read size from the decoded original.
const CHUNK: usize = 64 * 1024;

/// What was written under the replacement's key.
#[derive(Debug)]
pub struct Rewritten {
    pub bytes_source: u64,
    pub bytes_stored: u64,
    pub sha256: String,
    /// The counts of what was kept.
    pub tally: Tally,
    pub removed: Removed,
    /// The media links of what was kept.
    pub kept: Vec<FoundRef>,
}

/// What the rewrite found, shared with the reader the encoder pulls from.
struct Found {
    erased: BTreeSet<String>,
    counter: Option<Counter>,
    kept: RefCollector,
    removed: Removed,
    written: u64,
    /// The first item that could not be read as JSON: nothing can be said about it, so the
    /// archive is not replaced.
    bad: Option<String>,
}

impl Found {
    fn new(layout: Layout, erased: BTreeSet<String>) -> Found {
        Found {
            erased,
            counter: Some(Counter::new(layout)),
            kept: RefCollector::new(),
            removed: Removed::default(),
            written: 0,
            bad: None,
        }
    }

    fn verdict(&mut self, verdict: Verdict) {
        let removed = &mut self.removed;
        match verdict {
            Verdict::Keep => {}
            Verdict::Rewritten | Verdict::Drop(Role::Mention) => removed.rewritten += 1,
            Verdict::Drop(Role::Author) => removed.messages += 1,
            Verdict::Drop(Role::Reaction) => removed.reactions += 1,
            Verdict::Drop(Role::Member) => removed.memberships += 1,
            Verdict::Drop(Role::Read) => removed.reads += 1,
            Verdict::Drop(Role::Record) => removed.users += 1,
        }
    }

    /// Counts bytes about to be written.
    fn wrote(&mut self, bytes: &[u8]) {
        self.written += bytes.len() as u64;
        let kept = &mut self.kept;
        if let Some(counter) = self.counter.as_mut() {
            counter.push(bytes, &mut |kind, entity| kept.entity(kind, entity));
        }
    }

    /// One line of JSON Lines, scrubbed: what to write for it (nothing when it is dropped).
    fn line(&mut self, line: &[u8], out: &mut Vec<u8>) {
        let trimmed = line.trim_ascii();
        if trimmed.is_empty() {
            return;
        }
        let mut kind = Kind::Other;
        let mut splitter = Splitter::new(Layout::Lines);
        splitter.push(trimmed, &mut |_, _| {});
        splitter.finish(&mut |k, _| kind = k);
        let mut value: Value = match serde_json::from_slice(trimmed) {
            Ok(value) => value,
            Err(e) => {
                self.bad
                    .get_or_insert_with(|| format!("a line that is not JSON: {e}"));
                return;
            }
        };
        let enveloped = value.get("type").is_some_and(Value::is_string)
            && value.get("item").is_some_and(Value::is_object);
        let verdict = {
            let item = if enveloped {
                value.get_mut("item")
            } else {
                Some(&mut value)
            };
            let Some(item) = item else { return };
            let verdict = people::scrub(kind, item, &self.erased);
            self.verdict(verdict);
            verdict
        };
        let start = out.len();
        match verdict {
            Verdict::Drop(_) => return,
            Verdict::Keep => out.extend_from_slice(line),
            Verdict::Rewritten => match encode(&value, enveloped) {
                Ok(bytes) => out.extend_from_slice(&bytes),
                Err(e) => {
                    self.bad.get_or_insert_with(|| e.to_string());
                    return;
                }
            },
        }
        out.push(b'\n');
        let written = out[start..].to_vec();
        self.wrote(&written);
    }

    /// A whole v1 document, scrubbed: its channel, messages and members, at the top or in
    /// each of `channels[]`.
    fn document(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut value: Value = match serde_json::from_slice(bytes) {
            Ok(value) => value,
            Err(e) => {
                self.bad
                    .get_or_insert_with(|| format!("the document is not JSON: {e}"));
                return Vec::new();
            }
        };
        if let Some(channels) = value.get_mut("channels").and_then(Value::as_array_mut) {
            for channel in channels {
                self.one_channel(channel);
            }
        } else {
            self.one_channel(&mut value);
        }
        match serde_json::to_vec(&value) {
            Ok(out) => {
                self.wrote(&out);
                out
            }
            Err(e) => {
                self.bad.get_or_insert_with(|| e.to_string());
                Vec::new()
            }
        }
    }

    fn one_channel(&mut self, document: &mut Value) {
        if let Some(channel) = document.get_mut("channel") {
            let verdict = people::scrub(Kind::Channel, channel, &self.erased);
            self.verdict(verdict);
        }
        for (field, kind) in [("messages", Kind::Message), ("members", Kind::Other)] {
            let Some(items) = document.get_mut(field).and_then(Value::as_array_mut) else {
                continue;
            };
            let mut kept = Vec::with_capacity(items.len());
            for mut item in items.drain(..) {
                let verdict = people::scrub(kind, &mut item, &self.erased);
                self.verdict(verdict);
                if !matches!(verdict, Verdict::Drop(_)) {
                    kept.push(item);
                }
            }
            *items = kept;
        }
    }
}

/// A rewritten line: an envelope with `type` and `item` first, as exports write it.
fn encode(value: &Value, enveloped: bool) -> Result<Vec<u8>, serde_json::Error> {
    let Some(fields) = value.as_object().filter(|_| enveloped) else {
        return serde_json::to_vec(value);
    };
    let mut out = b"{".to_vec();
    let first = ["type", "item"]
        .into_iter()
        .filter_map(|k| fields.get_key_value(k));
    let rest = fields.iter().filter(|(k, _)| *k != "type" && *k != "item");
    for (i, (key, field)) in first.chain(rest).enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut out, key)?;
        out.push(b':');
        serde_json::to_writer(&mut out, field)?;
    }
    out.push(b'}');
    Ok(out)
}

/// The original's bytes decoded, scrubbed as they are read: what the encoder pulls from.
struct Scrubbing {
    inner: Pin<Box<dyn AsyncRead + Send>>,
    layout: Layout,
    found: Arc<Mutex<Found>>,
    /// A line not complete yet, or (v1) the whole document so far.
    pending: Vec<u8>,
    out: Vec<u8>,
    at: usize,
    ended: bool,
}

impl Scrubbing {
    fn take_lines(&mut self, last: bool) {
        let mut found = self.found.lock().unwrap_or_else(PoisonError::into_inner);
        match self.layout {
            Layout::Lines => {
                let mut start = 0;
                while let Some(end) = memchr::memchr(b'\n', &self.pending[start..]) {
                    found.line(&self.pending[start..start + end], &mut self.out);
                    start += end + 1;
                }
                self.pending.drain(..start);
                if last && !self.pending.is_empty() {
                    let rest = std::mem::take(&mut self.pending);
                    found.line(&rest, &mut self.out);
                }
            }
            Layout::Document if last => {
                let whole = std::mem::take(&mut self.pending);
                self.out = found.document(&whole);
            }
            Layout::Document => {}
        }
    }
}

impl AsyncRead for Scrubbing {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            if self.at < self.out.len() {
                let n = buf.remaining().min(self.out.len() - self.at);
                let at = self.at;
                buf.put_slice(&self.out[at..at + n]);
                self.at += n;
                return Poll::Ready(Ok(()));
            }
            self.out.clear();
            self.at = 0;
            if self.ended {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = [0u8; CHUNK];
            let mut read = ReadBuf::new(&mut chunk);
            match self.inner.as_mut().poll_read(cx, &mut read) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Ready(Ok(())) => {
                    let fresh = read.filled();
                    if fresh.is_empty() {
                        self.ended = true;
                        self.take_lines(true);
                    } else {
                        self.pending.extend_from_slice(fresh);
                        self.take_lines(false);
                    }
                }
            }
        }
    }
}

/// The store's compression named by a manifest's `content_encoding`.
fn compression(manifest: &Manifest) -> Compression {
    match manifest.content_encoding.as_str() {
        "gzip" => Compression::Gzip,
        "zstd" => Compression::Zstd,
        _ => Compression::None,
    }
}

/// Writes the archive of `original` again under `key` without the users of `erased`. The
/// original must read back as its manifest says, or the object written is deleted again and
/// it is an error.
pub async fn rewrite(
    http: &reqwest::Client,
    store: &Store,
    original: &Manifest,
    key: &str,
    erased: &BTreeSet<String>,
) -> Result<Rewritten, EraseError> {
    let corrupt = |problem: String| EraseError::Corrupt {
        key: original.key.clone(),
        problem,
    };
    let path = ObjectPath::from(original.key.as_str());
    let got = store
        .object_store()
        .get(&path)
        .await
        .map_err(|source| EraseError::Store {
            key: original.key.clone(),
            source,
        })?;
    let hashed = Arc::new(Mutex::new((Sha256::new(), 0u64)));
    let tap = hashed.clone();
    let raw = BufReader::new(StreamReader::new(
        got.into_stream()
            .map_ok(move |chunk| {
                let mut held = tap.lock().unwrap_or_else(PoisonError::into_inner);
                held.0.update(&chunk);
                held.1 += chunk.len() as u64;
                chunk
            })
            .map_err(io::Error::other),
    ));
    let decoded: Pin<Box<dyn AsyncRead + Send>> = match original.content_encoding.as_str() {
        "gzip" => Box::pin(GzipDecoder::new(raw)),
        "zstd" => Box::pin(ZstdDecoder::new(raw)),
        _ => Box::pin(raw),
    };
    let layout = layout(original);
    let found = Arc::new(Mutex::new(Found::new(layout, erased.clone())));
    let scrubbed = BufReader::new(Scrubbing {
        inner: decoded,
        layout,
        found: found.clone(),
        pending: Vec::new(),
        out: Vec::new(),
        at: 0,
        ended: false,
    });
    let compression = compression(original);
    let encoded: Pin<Box<dyn AsyncRead + Send>> = match compression {
        Compression::None => Box::pin(scrubbed),
        Compression::Gzip => Box::pin(GzipEncoder::new(scrubbed)),
        Compression::Zstd => Box::pin(ZstdEncoder::new(scrubbed)),
    };
    let target = Target {
        key,
        compression,
        content_type: match layout {
            Layout::Document => "application/json",
            Layout::Lines => "application/x-ndjson",
        },
        layout,
        progress: None,
        erased: &BTreeSet::new(),
    };
    let (bytes_stored, sha256, _) =
        store_encoded(http, encoded, store, target)
            .await
            .map_err(|source| EraseError::Write {
                key: key.to_owned(),
                source,
            })?;
    let (digest, read) = {
        let held = hashed.lock().unwrap_or_else(PoisonError::into_inner);
        (format!("{:x}", held.0.clone().finalize()), held.1)
    };
    let mut found = std::mem::replace(
        &mut *found.lock().unwrap_or_else(PoisonError::into_inner),
        Found::new(layout, BTreeSet::new()),
    );
    let problem = if read != original.bytes_stored {
        Some(format!(
            "{read} bytes, the manifest says {}",
            original.bytes_stored
        ))
    } else if digest != original.sha256 {
        Some(format!(
            "SHA-256 {digest}, the manifest says {}",
            original.sha256
        ))
    } else {
        found.bad.take()
    };
    if let Some(problem) = problem {
        let written = ObjectPath::from(key);
        if let Err(e) = store.object_store().delete(&written).await {
            tracing::warn!(key, error = %e, "could not delete the replacement not committed");
        }
        return Err(corrupt(problem));
    }
    let mut kept = found.kept;
    let tally = match found.counter.take() {
        Some(counter) => counter.finish(&mut |kind, entity| kept.entity(kind, entity)),
        None => Tally::default(),
    };
    Ok(Rewritten {
        bytes_source: found.written,
        bytes_stored,
        sha256,
        tally,
        removed: found.removed,
        kept: kept.finish(),
    })
}

/// Reads `bytes` through a scrub as [`rewrite`] does, for the tests: what it writes.
#[cfg(test)]
async fn scrubbed(bytes: &[u8], layout: Layout, erased: &[&str]) -> (Vec<u8>, Removed) {
    let erased = erased.iter().map(|s| (*s).to_owned()).collect();
    let found = Arc::new(Mutex::new(Found::new(layout, erased)));
    let mut reader = Scrubbing {
        inner: Box::pin(std::io::Cursor::new(bytes.to_vec())),
        layout,
        found: found.clone(),
        pending: Vec::new(),
        out: Vec::new(),
        at: 0,
        ended: false,
    };
    let mut out = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut reader, &mut out)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let removed = found
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .removed
        .clone();
    (out, removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn lines_of_the_user_go_others_stay_byte_for_byte_and_mentions_become_the_placeholder() {
        let file = concat!(
            r#"{"type":"channel","item":{"cid":"messaging:a"}}"#,
            "\n",
            r#"{"type":"message","item":{"id":"1","cid":"messaging:a","user":{"id":"gone"},"text":"mine"}}"#,
            "\n",
            r#"{"type":"message", "item":{"id":"2","cid":"messaging:a","user":{"id":"v"},"text":"hi","mentioned_users":[{"id":"gone","name":"G"}]}}"#,
            "\n",
            r#"{"type":"reaction","item":{"message_id":"2","user":{"id":"gone"}}}"#,
            "\n",
            r#"{"type":"message",  "item":{"id":"3","cid":"messaging:a","user":{"id":"v"},"text":"kept as is"}}"#,
        );
        let (out, removed) = scrubbed(file.as_bytes(), Layout::Lines, &["gone"]).await;
        let out = String::from_utf8(out).unwrap_or_default();
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines.len(), 3, "{out}");
        assert_eq!(
            lines[0],
            r#"{"type":"channel","item":{"cid":"messaging:a"}}"#
        );
        assert!(!lines[1].contains("gone"), "{}", lines[1]);
        assert!(lines[1].contains(people::PLACEHOLDER_ID));
        assert!(lines[1].starts_with(r#"{"type":"message","item":"#));
        assert_eq!(
            lines[2],
            r#"{"type":"message",  "item":{"id":"3","cid":"messaging:a","user":{"id":"v"},"text":"kept as is"}}"#
        );
        assert!(out.ends_with('\n'));
        assert_eq!(
            removed,
            Removed {
                messages: 1,
                reactions: 1,
                rewritten: 1,
                ..Removed::default()
            }
        );
    }

    #[tokio::test]
    async fn a_v1_document_loses_the_users_messages_and_membership() {
        let document = br#"{"channel":{"cid":"messaging:a"},
            "messages":[{"id":"1","user":{"id":"gone"},"text":"x"},{"id":"2","user":{"id":"v"},"text":"y"}],
            "members":[{"user_id":"gone","user":{"id":"gone"}},{"user_id":"v","user":{"id":"v"}}]}"#;
        let (out, removed) = scrubbed(document, Layout::Document, &["gone"]).await;
        let value: Value = serde_json::from_slice(&out).unwrap_or_default();
        assert_eq!(value["messages"].as_array().map(Vec::len), Some(1));
        assert_eq!(value["messages"][0]["id"], "2");
        assert_eq!(value["members"].as_array().map(Vec::len), Some(1));
        assert_eq!(value["members"][0]["user_id"], "v");
        assert_eq!((removed.messages, removed.memberships), (1, 1));
    }

    #[tokio::test]
    async fn a_zstd_archive_is_rewritten_as_zstd_and_reads_back_with_what_was_written() {
        let store = Store::memory();
        let plain = concat!(
            r#"{"type":"message","item":{"id":"1","cid":"messaging:a","user":{"id":"gone"},"text":"x"}}"#,
            "\n",
            r#"{"type":"message","item":{"id":"2","cid":"messaging:a","user":{"id":"v"},"text":"y"}}"#,
            "\n",
        );
        let stored = zstd::encode_all(plain.as_bytes(), 3).unwrap_or_default();
        store
            .object_store()
            .put(
                &ObjectPath::from("a.jsonl.zst"),
                object_store::PutPayload::from(stored.clone()),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let original: Manifest = serde_json::from_value(serde_json::json!({
            "format": 2, "job": "j", "tick": "2026-03-02T00:00:00Z", "kind": "channels",
            "batch": 1, "task_id": "t", "export_version": "v2", "key": "a.jsonl.zst",
            "bytes_source": plain.len(), "bytes_stored": stored.len(),
            "sha256": crate::archive::transfer::hex(&Sha256::digest(&stored)),
            "content_encoding": "zstd", "archived_at": "2026-03-02T00:00:00Z",
            "exported_at": null, "chatvault_version": "0"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let erased = BTreeSet::from(["gone".to_owned()]);
        let http = reqwest::Client::new();
        let key = "a.erased-1.jsonl.zst";
        let written = rewrite(&http, &store, &original, key, &erased)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(written.removed.messages, 1);
        assert_eq!(written.tally.channels["messaging:a"].messages, 1);
        let replacement = Manifest {
            key: key.to_owned(),
            bytes_stored: written.bytes_stored,
            sha256: written.sha256.clone(),
            ..original.clone()
        };
        let mut ids = Vec::new();
        crate::archive::read::entities(
            &store,
            &replacement,
            Splitter::new(Layout::Lines),
            &mut |_, bytes| {
                let item: Value = serde_json::from_slice(bytes).unwrap_or_default();
                ids.push(item["id"].as_str().unwrap_or_default().to_owned());
            },
        )
        .await
        .unwrap_or_else(|e| panic!("the replacement reads back as written: {e}"));
        assert_eq!(ids, ["2"]);

        let mut tampered = original;
        tampered.sha256 = "00".repeat(32);
        let refused = rewrite(&http, &store, &tampered, "a.erased-2.jsonl.zst", &erased).await;
        assert!(
            matches!(refused, Err(EraseError::Corrupt { .. })),
            "{refused:?}"
        );
        let left = store
            .object_store()
            .head(&ObjectPath::from("a.erased-2.jsonl.zst"))
            .await;
        assert!(
            left.is_err(),
            "nothing is left of a replacement of a corrupt archive"
        );
    }

    #[tokio::test]
    async fn a_line_that_is_not_json_stops_the_rewrite() {
        let erased = BTreeSet::from(["gone".to_owned()]);
        let mut found = Found::new(Layout::Lines, erased);
        let mut out = Vec::new();
        found.line(b"{not json", &mut out);
        assert!(found.bad.is_some());
        assert!(out.is_empty());
    }
}
