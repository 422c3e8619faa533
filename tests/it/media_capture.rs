//! The capture engine against the emulator over HTTP: an export's links collected as the
//! count pass collects them, links that expired refreshed through Stream (`GET /messages/{id}`,
//! the users query, query-channels), files fetched from the emulator's CDN with the guarded
//! fetcher and stored by content; each outcome checked against the emulator's media ground
//! truth.

use std::io::Read;
use std::sync::Arc;

use chatvault::archive::entities::{Layout, Splitter};
use chatvault::archive::media::capture::{Capturer, RunCache};
use chatvault::archive::media::layout;
use chatvault::archive::media::record::{Outcome, Owner, Reference};
use chatvault::archive::media::refresh::ApiRefresher;
use chatvault::archive::media::refs::{FoundRef, RefCollector};
use chatvault::config::job::MediaSettings;
use chatvault::fetch::{Fetcher, Policy};
use chatvault::store::Store;
use chatvault::store::url::StoreUrl;
use chatvault::store::{self};
use chatvault_emulator::{DataSpec, Emulator, EmulatorConfig, Endpoint, MediaOwner};
use chrono::TimeDelta;
use object_store::ObjectStoreExt as _;
use object_store::path::Path;

use crate::common::emulated::{self, EmuClock};
use crate::common::servers;

const LIMIT: u64 = 1024 * 1024;

fn config() -> EmulatorConfig {
    EmulatorConfig {
        data: DataSpec {
            messages_per_channel_per_day: 2,
            days_of_history: 30,
            media_every: 3,
            avatars: true,
            ..DataSpec::default()
        },
        ..EmulatorConfig::default()
    }
}

/// A data set whose large file is larger than one PUT, and a limit above it.
const LARGE: u64 = 9 * 1024 * 1024;
const ABOVE_LARGE: u64 = 16 * 1024 * 1024;

/// The links of a finished export of two channels, as the count pass finds them.
async fn exported_links(
    config: EmulatorConfig,
) -> (Emulator, Arc<chatvault::api::StreamClient>, Vec<FoundRef>) {
    let (emu, client, task) = emulated::finished_export(config, 2).await;
    let url = emulated::link(&client, &task).await.expect("a link");
    let mut bytes = emulated::download(&url).await;
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut plain = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .read_to_end(&mut plain)
            .expect("gunzip");
        bytes = plain;
    }
    let mut collector = RefCollector::new();
    let mut splitter = Splitter::new(Layout::Lines);
    splitter.push(&bytes, &mut |kind, entity| collector.entity(kind, entity));
    splitter.finish(&mut |kind, entity| collector.entity(kind, entity));
    (emu, Arc::new(client), collector.finish())
}

fn capturer(
    emu: &Emulator,
    client: &Arc<chatvault::api::StreamClient>,
    store: &Store,
    cache: &RunCache,
) -> Capturer {
    capturer_up_to(emu, client, store, cache, LIMIT)
}

fn capturer_up_to(
    emu: &Emulator,
    client: &Arc<chatvault::api::StreamClient>,
    store: &Store,
    cache: &RunCache,
    limit: u64,
) -> Capturer {
    let cdn = url::Url::parse(emu.cdn_base()).expect("a URL");
    let policy = Policy::from_settings(&MediaSettings {
        hosts: vec![cdn.host_str().expect("a host").to_owned()],
        allow_http: true,
        allow_private_addresses: true,
        max_file_size: limit,
        ..MediaSettings::default()
    });
    Capturer::new(
        store.clone(),
        "_media".into(),
        Fetcher::new(policy).expect("a fetcher"),
        Arc::new(ApiRefresher::new(client.clone())),
        cache.clone(),
        4,
        Arc::new(EmuClock(emu.clock().clone())),
    )
}

fn owner(truth: &MediaOwner) -> Owner {
    match truth {
        MediaOwner::Message(id) => Owner::Message(id.clone()),
        MediaOwner::User(id) => Owner::User(id.clone()),
        MediaOwner::Channel(cid) => Owner::Channel(cid.clone()),
    }
}

/// Every reference's outcome is what the ground truth says of its file.
fn check_against_truth(emu: &Emulator, got: &[Reference]) {
    check_against_truth_up_to(emu, got, LIMIT);
}

fn check_against_truth_up_to(emu: &Emulator, got: &[Reference], limit: u64) {
    let truth = emu.media_truth();
    for reference in got {
        let file = truth
            .iter()
            .find(|t| {
                owner(&t.owner) == reference.owner
                    && t.field == reference.field
                    && t.url == reference.url
            })
            .unwrap_or_else(|| panic!("not in the ground truth: {reference:?}"));
        let outcome = &reference.outcome;
        if file.foreign {
            assert_eq!(outcome.status(), "refused", "{reference:?}");
        } else if file.deleted {
            assert_eq!(outcome.status(), "gone", "{reference:?}");
        } else if file.size > limit {
            assert_eq!(outcome, &Outcome::TooLarge { limit }, "{reference:?}");
        } else {
            let stored = outcome
                .stored()
                .unwrap_or_else(|| panic!("not stored: {reference:?}"));
            assert_eq!(Some(&stored.sha256), file.sha256.as_ref(), "{reference:?}");
            assert_eq!(stored.size, file.size, "{reference:?}");
        }
        assert!(!reference.url.contains('?'), "{reference:?}");
    }
}

fn requests(emu: &Emulator, endpoint: Endpoint) -> usize {
    emu.requests()
        .iter()
        .filter(|r| r.endpoint == Some(endpoint))
        .count()
}

#[tokio::test]
async fn an_exports_files_are_captured_refreshing_expired_links_through_stream() {
    let (emu, client, links) = exported_links(config()).await;
    // A month of history: the older messages' links expired long ago; 15 days on, every
    // avatar's and channel image's link has too.
    emu.clock().advance(TimeDelta::days(15));
    emu.clear_requests();
    let store = Store::memory();
    let capturer = capturer(&emu, &client, &store, &RunCache::default());
    let got = capturer.capture(links.clone()).await;
    assert_eq!(got.len(), links.len());
    for status in ["stored", "refused", "gone", "too_large"] {
        assert!(
            got.iter().any(|r| r.outcome.status() == status),
            "no {status} among {got:#?}"
        );
    }
    for kind in ["message", "user", "channel"] {
        let of_kind = |owner: &Owner| {
            matches!(
                (owner, kind),
                (Owner::Message(_), "message")
                    | (Owner::User(_), "user")
                    | (Owner::Channel(_), "channel")
            )
        };
        assert!(
            got.iter()
                .any(|r| r.outcome.stored().is_some() && of_kind(&r.owner)),
            "no {kind} file stored"
        );
    }
    check_against_truth(&emu, &got);
    assert!(requests(&emu, Endpoint::GetMessage) > 0);
    assert!(requests(&emu, Endpoint::QueryUsers) > 0);
    assert!(requests(&emu, Endpoint::QueryChannels) > 0);
    let cdn = emu
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("/cdn/"))
        .collect::<Vec<_>>();
    assert!(!cdn.is_empty());
    assert!(
        cdn.iter().all(|r| r.status != 403),
        "every expired link was refreshed before it was sent"
    );
    assert!(
        cdn.iter()
            .all(|r| !r.query_names.iter().any(|n| n == "api_key")),
        "no credential goes to the CDN"
    );

    // A later run: the same files are in the store and not uploaded again.
    let again = capturer_again(&emu, &client, &store, links).await;
    check_against_truth(&emu, &again.0);
    assert_eq!(again.1, 0, "nothing uploaded twice");
    assert!(again.0.iter().all(|r| r.outcome.status() != "stored"));
}

async fn capturer_again(
    emu: &Emulator,
    client: &Arc<chatvault::api::StreamClient>,
    store: &Store,
    links: Vec<FoundRef>,
) -> (Vec<Reference>, u64) {
    let capturer = capturer(emu, client, store, &RunCache::default());
    let got = capturer.capture(links).await;
    (got, capturer.counts().uploads)
}

#[tokio::test]
async fn a_failed_reference_is_retried_through_a_refresh() {
    let (emu, client, links) = exported_links(config()).await;
    let store = Store::memory();
    let capturer = capturer(&emu, &client, &store, &RunCache::default());
    let first = capturer.capture(links).await;
    let standing: Vec<Reference> = first
        .into_iter()
        .filter(|r| r.outcome.stored().is_some())
        .take(3)
        .map(|r| Reference {
            outcome: Outcome::Failed {
                reason: "timed out".into(),
            },
            ..r
        })
        .collect();
    assert_eq!(standing.len(), 3);
    emu.clear_requests();
    let retried = capturer_for_retry(&emu, &client, &store, &standing).await;
    assert!(
        retried.iter().all(|r| r.outcome.stored().is_some()),
        "{retried:#?}"
    );
    check_against_truth(&emu, &retried);
    assert!(
        requests(&emu, Endpoint::GetMessage)
            + requests(&emu, Endpoint::QueryUsers)
            + requests(&emu, Endpoint::QueryChannels)
            >= 3,
        "each was refreshed: a record keeps no signature"
    );
}

/// On GCS a file goes as one create-only PUT, and one larger than a part as a multipart
/// upload; each lands once under its hash, and a second capture uploads nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_reach_gcs_once_each_the_large_one_in_parts() {
    let mut config = config();
    config.data.large_file_size = LARGE;
    let (emu, client, links) = exported_links(config).await;
    let gcs = servers::local_gcs().await;
    let store = gcs.store(servers::GCS_BUCKET, "media-capture");
    let first = capturer_up_to(&emu, &client, &store, &RunCache::default(), ABOVE_LARGE);
    let got = first.capture(links.clone()).await;
    check_against_truth_up_to(&emu, &got, ABOVE_LARGE);
    let stored: Vec<_> = got.iter().filter_map(|r| r.outcome.stored()).collect();
    let large = stored
        .iter()
        .find(|s| s.size == LARGE)
        .expect("the large file is stored");
    let small = stored
        .iter()
        .find(|s| s.size < LARGE)
        .expect("a small file is stored");
    let etag_of = |sha256: &str| {
        let key = layout::object_key("_media", sha256);
        let store = &store;
        async move {
            let meta = store
                .object_store()
                .head(&Path::from(key.as_str()))
                .await
                .expect("the object is there");
            meta.e_tag.unwrap_or_default()
        }
    };
    assert!(
        etag_of(&large.sha256).await.contains('-'),
        "a multipart upload"
    );
    assert!(!etag_of(&small.sha256).await.contains('-'), "one PUT");
    assert!(first.counts().uploads > 1);
    assert_eq!(gcs.server.open_uploads(), []);

    let second = capturer_up_to(&emu, &client, &store, &RunCache::default(), ABOVE_LARGE);
    let again = second.capture(links).await;
    check_against_truth_up_to(&emu, &again, ABOVE_LARGE);
    assert_eq!(second.counts().uploads, 0, "nothing uploaded twice");
}

async fn capturer_for_retry(
    emu: &Emulator,
    client: &Arc<chatvault::api::StreamClient>,
    store: &Store,
    standing: &[Reference],
) -> Vec<Reference> {
    let due: Vec<bool> = standing.iter().map(|r| r.outcome.outstanding()).collect();
    capturer(emu, client, store, &RunCache::default())
        .retry(standing, &due)
        .await
}

#[tokio::test]
async fn files_reach_s3_in_one_streamed_put_each_and_only_once() {
    let mut config = config();
    config.data.large_file_size = LARGE;
    let (emu, client, links) = exported_links(config).await;
    let server = servers::moto();
    let url = StoreUrl::S3 {
        bucket: server.bucket.clone(),
        prefix: servers::unique_prefix("media-capture"),
    };
    let store = store::open(&url, &server.options(), &[]).expect("S3 store opens");
    let first = capturer_up_to(&emu, &client, &store, &RunCache::default(), ABOVE_LARGE);
    let got = first.capture(links.clone()).await;
    check_against_truth_up_to(&emu, &got, ABOVE_LARGE);
    let large = got
        .iter()
        .filter_map(|r| r.outcome.stored())
        .find(|s| s.size == LARGE)
        .expect("the large file is stored")
        .clone();
    let key = layout::object_key("_media", &large.sha256);
    let meta = store
        .object_store()
        .head(&Path::from(key.as_str()))
        .await
        .expect("the large object is there");
    assert_eq!(meta.size, LARGE);
    assert!(
        meta.e_tag.as_deref().is_some_and(|t| !t.contains('-')),
        "one PUT streamed from the spool, not a multipart upload: {:?}",
        meta.e_tag
    );
    let uploads = first.counts().uploads;
    assert!(uploads > 1);

    let second = capturer_up_to(&emu, &client, &store, &RunCache::default(), ABOVE_LARGE);
    let again = second.capture(links).await;
    check_against_truth_up_to(&emu, &again, ABOVE_LARGE);
    assert_eq!(second.counts().uploads, 0, "nothing uploaded twice");
    let meta_again = store
        .object_store()
        .head(&Path::from(key.as_str()))
        .await
        .expect("still there");
    assert_eq!(meta_again.e_tag, meta.e_tag);
}

/// A write-once bucket: each file still goes up in one streamed PUT, now naming its SHA-256
/// (signed into the URL), which the bucket keeps as the object's checksum.
#[tokio::test]
async fn files_reach_a_write_once_bucket_in_one_checksummed_put_each() {
    use base64::Engine as _;
    use sha2::Digest as _;

    let mut config = config();
    config.data.large_file_size = LARGE;
    let (emu, client, links) = exported_links(config).await;
    let server = servers::moto_locked();
    let prefix = servers::unique_prefix("media-write-once");
    let store = server.write_once_store(&prefix);
    let capturer = capturer_up_to(&emu, &client, &store, &RunCache::default(), ABOVE_LARGE);
    let got = capturer.capture(links).await;
    check_against_truth_up_to(&emu, &got, ABOVE_LARGE);
    let stored: Vec<_> = got.iter().filter_map(|r| r.outcome.stored()).collect();
    assert!(stored.iter().any(|s| s.size == LARGE), "the large file too");
    for file in stored {
        let key = layout::object_key("_media", &file.sha256);
        let object = store
            .object_store()
            .get(&Path::from(key.as_str()))
            .await
            .expect("stored");
        assert!(
            object
                .meta
                .e_tag
                .as_deref()
                .is_some_and(|t| !t.contains('-')),
            "one PUT, not a multipart upload: {:?}",
            object.meta.e_tag
        );
        let bytes = object.bytes().await.expect("reads");
        let want = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(&bytes));
        assert_eq!(
            server.stored_checksum(&format!("{prefix}/{key}")).await,
            Some(want),
            "{key}"
        );
    }
}
