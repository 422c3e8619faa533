//! Writing an archive again without one person: its bytes stream out of the store (checked
//! against its manifest's size and SHA-256) into the path a download takes into the store
//! (`transfer::store_export`): the scrubbing stage runs leave erased users out with, the
//! counting, the original's compression, the upload. A line that names nobody erased is
//! written byte for byte; a v1 document is read whole.

use std::collections::BTreeSet;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use async_compression::tokio::bufread::{GzipDecoder, ZstdDecoder};
use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, BufReader};
use tokio_util::io::StreamReader;

use super::EraseError;
use crate::archive::entities::Layout;
use crate::archive::manifest::Manifest;
use crate::archive::media::refs::FoundRef;
use crate::archive::read::layout;
use crate::archive::replacement::Removed;
use crate::archive::tally::Tally;
use crate::archive::transfer::{Target, TransferError, store_export};
use crate::config::job::Compression;
use crate::store::Store;

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
    let target = Target {
        key,
        compression: compression(original),
        content_type: match layout {
            Layout::Document => "application/json",
            Layout::Lines => "application/x-ndjson",
        },
        layout,
        progress: None,
        erased,
    };
    let stored = store_export(http, decoded, None, store, target).await;
    let (digest, read) = {
        let held = hashed.lock().unwrap_or_else(PoisonError::into_inner);
        (format!("{:x}", held.0.clone().finalize()), held.1)
    };
    let problem = match &stored {
        _ if read != original.bytes_stored => Some(format!(
            "{read} bytes, the manifest says {}",
            original.bytes_stored
        )),
        _ if digest != original.sha256 => Some(format!(
            "SHA-256 {digest}, the manifest says {}",
            original.sha256
        )),
        // The stage refused what it could not read (a v1 document that is not JSON).
        Err(TransferError::Read(e)) => Some(e.to_string()),
        _ => None,
    };
    if let Some(problem) = problem {
        let written = ObjectPath::from(key);
        if let Err(e) = store.object_store().delete(&written).await {
            tracing::warn!(key, error = %e, "could not delete the replacement not committed");
        }
        return Err(corrupt(problem));
    }
    let stored = stored.map_err(|source| EraseError::Write {
        key: key.to_owned(),
        source,
    })?;
    Ok(Rewritten {
        bytes_source: stored.bytes_source,
        bytes_stored: stored.bytes_stored,
        sha256: stored.sha256,
        tally: stored.tally,
        removed: stored.scrubbed.items,
        kept: stored.media,
    })
}

/// Rewrites `bytes`, stored as they are, without the users of `erased`, for the tests: what
/// is written and what was removed.
#[cfg(test)]
async fn scrubbed(bytes: &[u8], layout: Layout, erased: &[&str]) -> (Vec<u8>, Removed) {
    let store = Store::memory();
    let key = match layout {
        Layout::Lines => "a.jsonl",
        Layout::Document => "a.json",
    };
    store
        .object_store()
        .put(
            &ObjectPath::from(key),
            object_store::PutPayload::from(bytes.to_vec()),
        )
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let original: Manifest = serde_json::from_value(serde_json::json!({
        "format": 2, "job": "j", "tick": "2026-03-02T00:00:00Z", "kind": "channels",
        "batch": 1, "task_id": "t",
        "export_version": if layout == Layout::Lines { "v2" } else { "v1" },
        "key": key, "bytes_source": bytes.len(), "bytes_stored": bytes.len(),
        "sha256": crate::archive::transfer::hex(&Sha256::digest(bytes)),
        "content_encoding": "none", "archived_at": "2026-03-02T00:00:00Z",
        "exported_at": null, "chatvault_version": "0"
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let erased = erased.iter().map(|s| (*s).to_owned()).collect();
    let replacement = "replacement";
    let written = rewrite(
        &reqwest::Client::new(),
        &store,
        &original,
        replacement,
        &erased,
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let out = store
        .object_store()
        .get(&ObjectPath::from(replacement))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (out.to_vec(), written.removed)
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::archive::entities::Splitter;
    use crate::archive::people;

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
        assert!(
            !out.ends_with('\n'),
            "the last line is kept as it came, without a newline"
        );
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
    async fn a_v1_document_that_is_not_json_is_not_replaced_and_leaves_nothing() {
        let store = Store::memory();
        let body = br#"{"channel":{"cid":"messaging:a"},"messages":[{"user":{"id":"gone"}"#;
        store
            .object_store()
            .put(
                &ObjectPath::from("a.json"),
                object_store::PutPayload::from(body.to_vec()),
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let original: Manifest = serde_json::from_value(serde_json::json!({
            "format": 2, "job": "j", "tick": "2026-03-02T00:00:00Z", "kind": "channels",
            "batch": 1, "task_id": "t", "export_version": "v1", "key": "a.json",
            "bytes_source": body.len(), "bytes_stored": body.len(),
            "sha256": crate::archive::transfer::hex(&Sha256::digest(body)),
            "content_encoding": "none", "archived_at": "2026-03-02T00:00:00Z",
            "exported_at": null, "chatvault_version": "0"
        }))
        .unwrap_or_else(|e| panic!("{e}"));
        let erased = BTreeSet::from(["gone".to_owned()]);
        let key = "a.erased-1.json";
        let refused = rewrite(&reqwest::Client::new(), &store, &original, key, &erased).await;
        assert!(
            matches!(refused, Err(EraseError::Corrupt { .. })),
            "{refused:?}"
        );
        let left = store.object_store().head(&ObjectPath::from(key)).await;
        assert!(left.is_err(), "nothing is left under the replacement's key");
    }
}
