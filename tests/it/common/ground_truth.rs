//! Reading archives back and holding them against the emulator's ground truth: every archive
//! checked against its manifest (size, SHA-256, encoding), the messages it holds, and the check
//! that a set of archives holds each message of a period exactly once.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::Read as _;

use chatvault::archive::manifest::{MANIFEST_SUFFIX, Manifest};
use chatvault::archive::media::record::parse_record_key;
use chatvault::archive::seal::parse_seal_key;
use chatvault::config::job::{Compression, Job};
use chatvault::store::Store;
use chatvault_emulator::{Emulator, GroundTruthOptions};
use chrono::{DateTime, Utc};
use futures::{StreamExt as _, TryStreamExt as _};
use object_store::ObjectStoreExt as _;
use serde::Deserialize;
use sha2::Digest as _;

/// One committed archive: its manifest and the `(cid, message id)` of every message line.
pub struct Archive {
    pub manifest: Manifest,
    pub messages: Vec<(String, String)>,
}

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: String,
    item: Item,
}

#[derive(Deserialize)]
struct Item {
    id: Option<String>,
    cid: Option<String>,
}

/// The file extension of a v2 archive stored with `compression`.
pub fn extension(compression: Compression) -> &'static str {
    match compression {
        Compression::None => ".jsonl",
        Compression::Gzip => ".jsonl.gz",
        Compression::Zstd => ".jsonl.zst",
    }
}

pub fn decompress(bytes: &[u8], compression: Compression) -> Vec<u8> {
    match compression {
        Compression::None => bytes.to_vec(),
        Compression::Gzip => {
            let mut out = Vec::new();
            flate2::read::GzDecoder::new(bytes)
                .read_to_end(&mut out)
                .expect("a gzip archive");
            out
        }
        Compression::Zstd => zstd::decode_all(bytes).expect("a zstd archive"),
    }
}

/// The archive stored under `key` as `stored`, checked against its `manifest`: the key, the
/// size and hash of the stored bytes, the encoding and the size before compression.
pub fn archive(key: &str, stored: &[u8], manifest: Manifest, compression: Compression) -> Archive {
    assert_eq!(manifest.key, key, "the manifest names its archive");
    assert_eq!(manifest.bytes_stored, stored.len() as u64, "{key}: size");
    assert_eq!(
        manifest.sha256,
        chatvault::archive::transfer::hex(&sha2::Sha256::digest(stored)),
        "{key}: the manifest's hash is of the stored bytes"
    );
    assert_eq!(manifest.content_encoding, compression.to_string(), "{key}");
    let raw = decompress(stored, compression);
    assert_eq!(
        manifest.bytes_source,
        raw.len() as u64,
        "{key}: source size"
    );
    let text = std::str::from_utf8(&raw).expect("UTF-8 JSON lines");
    let messages = text
        .lines()
        .map(|l| serde_json::from_str::<Line>(l).expect("a v2 export line"))
        .filter(|l| l.kind == "message")
        .map(|l| {
            (
                l.item.cid.expect("a message names its channel"),
                l.item.id.expect("a message has an id"),
            )
        })
        .collect();
    Archive { manifest, messages }
}

/// Every archive in `store`, each checked against its manifest (`concurrency` at a time), in
/// no particular order. An archive without a manifest, a manifest without its archive, or any other
/// object but the job's seals fails the test.
pub async fn read_store(
    store: &Store,
    compression: Compression,
    concurrency: usize,
) -> Vec<Archive> {
    let objects = store.object_store();
    let keys: Vec<String> = objects
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_filter(|key| std::future::ready(parse_seal_key(key).is_none()))
        .try_collect()
        .await
        .expect("list the destination");
    let manifests: BTreeSet<&str> = keys
        .iter()
        .filter_map(|k| k.strip_suffix(MANIFEST_SUFFIX))
        .collect();
    let archives: BTreeSet<&str> = keys
        .iter()
        .map(String::as_str)
        .filter(|k| !k.ends_with(MANIFEST_SUFFIX) && parse_record_key(k).is_none())
        .collect();
    assert!(
        archives.iter().all(|k| k.ends_with(extension(compression))),
        "only archives, manifests and media records in the destination: {:?}",
        archives
            .iter()
            .filter(|k| !k.ends_with(extension(compression)))
            .take(5)
            .collect::<Vec<_>>()
    );
    assert_eq!(
        archives, manifests,
        "every archive has a manifest and every manifest its archive"
    );
    let get = |key: String| async move {
        let path = object_store::path::Path::from(key.as_str());
        objects
            .get(&path)
            .await
            .unwrap_or_else(|e| panic!("get {key}: {e}"))
            .bytes()
            .await
            .unwrap_or_else(|e| panic!("read {key}: {e}"))
    };
    // Each archive is read, checked and reduced to its messages as it comes, so memory holds
    // the messages, not the files.
    futures::stream::iter(archives)
        .map(|key| async move {
            let manifest: Manifest =
                serde_json::from_slice(&get(format!("{key}{MANIFEST_SUFFIX}")).await)
                    .expect("a valid manifest");
            archive(key, &get(key.to_owned()).await, manifest, compression)
        })
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await
}

/// The union of `archives` holds exactly the messages of `cids` in `[since, until)`, each once.
/// Returns how many messages that is.
pub fn assert_complete(
    emu: &Emulator,
    job: &Job,
    archives: &[Archive],
    cids: &[String],
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> usize {
    let mut archived: HashMap<&str, Vec<&str>> = HashMap::new();
    for archive in archives {
        for (cid, id) in &archive.messages {
            archived.entry(cid).or_default().push(id);
        }
    }
    // The windows are closed before their tasks were created, so what they hold no longer
    // changes (deletion flags aside, which move no message in or out): now is as good a
    // snapshot as each task's own.
    let options = GroundTruthOptions {
        include_truncated_messages: job.export.include_truncated_messages,
        include_soft_deleted_channels: job.export.include_soft_deleted_channels,
        as_of: None,
    };
    let mut total = 0;
    for cid in cids {
        let want = emu.ground_truth(cid, Some(since), Some(until), options);
        let have = archived.remove(cid.as_str()).unwrap_or_default();
        let mut seen = HashSet::new();
        let twice: Vec<&str> = have
            .iter()
            .copied()
            .filter(|id| !seen.insert(*id))
            .collect();
        assert!(
            twice.is_empty(),
            "{cid}: {} messages archived more than once, e.g. {:?}",
            twice.len(),
            &twice[..twice.len().min(3)]
        );
        let wanted: HashSet<&str> = want.iter().map(String::as_str).collect();
        let missing: Vec<&str> = want
            .iter()
            .map(String::as_str)
            .filter(|id| !seen.contains(id))
            .collect();
        let extra: Vec<&str> = have
            .iter()
            .copied()
            .filter(|id| !wanted.contains(id))
            .collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{cid} over [{since}, {until}): {} of {} messages missing (e.g. {:?}), {} not in the \
             ground truth (e.g. {:?})",
            missing.len(),
            want.len(),
            &missing[..missing.len().min(3)],
            extra.len(),
            &extra[..extra.len().min(3)]
        );
        total += want.len();
    }
    assert!(
        archived.is_empty(),
        "messages of channels the job does not name: {:?}",
        archived.keys().collect::<Vec<_>>()
    );
    assert!(total > 0, "the period holds messages at all");
    total
}
