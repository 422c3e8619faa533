//! The GCS XML-API server, driven the way chatvault drives GCS: through object_store's
//! `GoogleCloudStorageBuilder` with `with_base_url` and HTTP allowed. One test per call
//! object_store makes, and raw requests where object_store would hide GCS's answer.
//!
//! The client sends a fixed bearer token: object_store 0.14's GCS writes ask for a token even
//! with `with_skip_signature(true)` (only its reads honour it), and the server checks none.

use chatvault_emulator::gcs::GcsServer;
use futures_util::TryStreamExt;
use object_store::gcp::{GoogleCloudStorage, GoogleCloudStorageBuilder};
use object_store::list::{PaginatedListOptions, PaginatedListStore};
use object_store::path::Path;
use object_store::{
    Attribute, Attributes, ClientOptions, CopyOptions, GetOptions, GetRange, ObjectStore,
    ObjectStoreExt, PutMode, PutMultipartOptions, PutOptions, PutPayload, UpdateVersion,
    WriteMultipart,
};

const BUCKET: &str = "bucket";
const MIB: usize = 1024 * 1024;

async fn server() -> (GcsServer, GoogleCloudStorage) {
    let server = GcsServer::start(&[BUCKET]).await.expect("starts");
    let store = store_of(&server, BUCKET);
    (server, store)
}

fn store_of(server: &GcsServer, bucket: &str) -> GoogleCloudStorage {
    GoogleCloudStorageBuilder::new()
        .with_bucket_name(bucket)
        .with_base_url(&server.base_url())
        .with_bearer_token("any-token")
        .with_client_options(ClientOptions::new().with_allow_http(true))
        .with_retry(object_store::RetryConfig {
            max_retries: 0,
            ..Default::default()
        })
        .build()
        .expect("store")
}

fn p(name: &str) -> Path {
    Path::from(name)
}

#[tokio::test]
async fn a_put_object_reads_back_with_its_generation_etag_and_attributes() {
    let (_server, store) = server().await;
    let mut attributes = Attributes::new();
    attributes.insert(Attribute::ContentType, "application/x-ndjson".into());
    attributes.insert(Attribute::ContentEncoding, "zstd".into());
    attributes.insert(Attribute::Metadata("origin".into()), "test".into());
    let put = store
        .put_opts(
            &p("dir/a b.json"),
            PutPayload::from_static(b"hello"),
            PutOptions {
                attributes,
                ..PutOptions::default()
            },
        )
        .await
        .expect("put");
    let generation = put.version.clone().expect("x-goog-generation");
    assert_eq!(
        put.e_tag.as_deref(),
        Some("\"5d41402abc4b2a76b9719d911017c592\"")
    );

    let got = store.get(&p("dir/a b.json")).await.expect("get");
    assert_eq!(got.meta.version.as_deref(), Some(generation.as_str()));
    assert_eq!(got.meta.e_tag, put.e_tag);
    assert_eq!(got.meta.size, 5);
    let attrs = got.attributes.clone();
    assert_eq!(&got.bytes().await.expect("bytes")[..], b"hello");
    assert_eq!(
        attrs.get(&Attribute::ContentType).map(|v| v.as_ref()),
        Some("application/x-ndjson")
    );
    assert_eq!(
        attrs.get(&Attribute::ContentEncoding).map(|v| v.as_ref()),
        Some("zstd")
    );
    assert_eq!(
        attrs
            .get(&Attribute::Metadata("origin".into()))
            .map(|v| v.as_ref()),
        Some("test")
    );

    let head = store.head(&p("dir/a b.json")).await.expect("head");
    assert_eq!((head.size, head.version), (5, Some(generation)));
    let missing = store.head(&p("nothing")).await;
    assert!(
        matches!(missing, Err(object_store::Error::NotFound { .. })),
        "{missing:?}"
    );
}

#[tokio::test]
async fn create_is_refused_once_the_object_exists() {
    let (_server, store) = server().await;
    let create = || PutOptions::from(PutMode::Create);
    store
        .put_opts(&p("m.json"), PutPayload::from_static(b"first"), create())
        .await
        .expect("created");
    let again = store
        .put_opts(&p("m.json"), PutPayload::from_static(b"second"), create())
        .await;
    assert!(
        matches!(again, Err(object_store::Error::AlreadyExists { .. })),
        "{again:?}"
    );
    let kept = store
        .get(&p("m.json"))
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&kept[..], b"first");
}

#[tokio::test]
async fn an_update_needs_the_current_generation() {
    let (_server, store) = server().await;
    let first = store
        .put(&p("lease"), PutPayload::from_static(b"1"))
        .await
        .expect("put");
    let update = |version: Option<String>| {
        PutOptions::from(PutMode::Update(UpdateVersion {
            e_tag: None,
            version,
        }))
    };
    let second = store
        .put_opts(
            &p("lease"),
            PutPayload::from_static(b"2"),
            update(first.version.clone()),
        )
        .await
        .expect("updated with the current generation");
    assert_ne!(second.version, first.version);
    let stale = store
        .put_opts(
            &p("lease"),
            PutPayload::from_static(b"3"),
            update(first.version),
        )
        .await;
    assert!(
        matches!(stale, Err(object_store::Error::Precondition { .. })),
        "{stale:?}"
    );
    let gone = store
        .put_opts(
            &p("never-written"),
            PutPayload::from_static(b"x"),
            update(second.version),
        )
        .await;
    assert!(
        matches!(gone, Err(object_store::Error::Precondition { .. })),
        "{gone:?}"
    );
}

#[tokio::test]
async fn ranges_are_served_as_206_and_past_the_end_as_416() {
    let (server, store) = server().await;
    store
        .put(&p("r"), PutPayload::from_static(b"0123456789"))
        .await
        .expect("put");
    let range = |r: GetRange| {
        let store = &store;
        async move {
            store
                .get_opts(
                    &p("r"),
                    GetOptions {
                        range: Some(r),
                        ..GetOptions::default()
                    },
                )
                .await
                .expect("ranged get")
                .bytes()
                .await
                .expect("bytes")
        }
    };
    assert_eq!(&range(GetRange::Bounded(2..5)).await[..], b"234");
    assert_eq!(&range(GetRange::Offset(7)).await[..], b"789");
    assert_eq!(&range(GetRange::Suffix(2)).await[..], b"89");
    assert_eq!(
        &store.get_range(&p("r"), 8..20).await.expect("clamped")[..],
        b"89"
    );

    let raw = reqwest::Client::new()
        .get(format!("{}/{BUCKET}/r", server.base_url()))
        .header("Range", "bytes=10-")
        .send()
        .await
        .expect("sent");
    assert_eq!(raw.status(), 416);
    assert_eq!(
        raw.headers()
            .get("content-range")
            .map(|v| v.to_str().unwrap()),
        Some("bytes */10")
    );
    let past = store.get_range(&p("r"), 10..12).await;
    assert!(past.is_err(), "{past:?}");
}

#[tokio::test]
async fn conditional_gets_follow_the_etag() {
    let (_server, store) = server().await;
    let put = store
        .put(&p("c"), PutPayload::from_static(b"c"))
        .await
        .expect("put");
    let not_modified = store
        .get_opts(
            &p("c"),
            GetOptions {
                if_none_match: put.e_tag.clone(),
                ..GetOptions::default()
            },
        )
        .await;
    assert!(
        matches!(not_modified, Err(object_store::Error::NotModified { .. })),
        "{not_modified:?}"
    );
    let other = store
        .get_opts(
            &p("c"),
            GetOptions {
                if_match: Some("\"other\"".into()),
                ..GetOptions::default()
            },
        )
        .await;
    assert!(
        matches!(other, Err(object_store::Error::Precondition { .. })),
        "{other:?}"
    );
}

#[tokio::test]
async fn a_multipart_upload_joins_its_parts_and_leaves_no_upload_open() {
    let (server, store) = server().await;
    let upload = store
        .put_multipart_opts(&p("big"), PutMultipartOptions::default())
        .await
        .expect("initiated");
    let mut writer = WriteMultipart::new_with_chunk_size(upload, 5 * MIB);
    let data: Vec<u8> = (0..11 * MIB).map(|i| (i % 251) as u8).collect();
    writer.write(&data);
    let done = writer.finish().await.expect("completed");
    assert!(
        done.e_tag.as_deref().is_some_and(|e| e.ends_with("-3\"")),
        "{done:?}"
    );
    assert!(done.version.is_some(), "x-goog-generation on completion");
    let back = store
        .get(&p("big"))
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert!(back[..] == data[..], "the parts join up");
    assert!(
        server.open_uploads().is_empty(),
        "{:?}",
        server.open_uploads()
    );
}

#[tokio::test]
async fn an_aborted_multipart_upload_leaves_nothing() {
    let (server, store) = server().await;
    let mut upload = store
        .put_multipart_opts(&p("cut"), PutMultipartOptions::default())
        .await
        .expect("initiated");
    upload
        .put_part(PutPayload::from(vec![1u8; 5 * MIB]))
        .await
        .expect("part");
    assert_eq!(server.open_uploads().len(), 1);
    upload.abort().await.expect("aborted");
    assert!(server.open_uploads().is_empty());
    let head = store.head(&p("cut")).await;
    assert!(
        matches!(head, Err(object_store::Error::NotFound { .. })),
        "{head:?}"
    );
}

#[tokio::test]
async fn a_small_part_before_the_last_is_refused() {
    let (_server, store) = server().await;
    let mut upload = store
        .put_multipart_opts(&p("small"), PutMultipartOptions::default())
        .await
        .expect("initiated");
    upload
        .put_part(PutPayload::from_static(b"tiny"))
        .await
        .expect("part 1");
    upload
        .put_part(PutPayload::from_static(b"tail"))
        .await
        .expect("part 2");
    let err = upload.complete().await.expect_err("EntityTooSmall");
    assert!(err.to_string().contains("EntityTooSmall"), "{err}");
}

#[tokio::test]
async fn an_empty_multipart_upload_becomes_an_empty_object() {
    let (server, store) = server().await;
    let mut upload = store
        .put_multipart_opts(&p("empty"), PutMultipartOptions::default())
        .await
        .expect("initiated");
    upload.complete().await.expect("completed as a plain PUT");
    assert_eq!(store.head(&p("empty")).await.expect("there").size, 0);
    assert!(server.open_uploads().is_empty());
}

#[tokio::test]
async fn delete_removes_and_a_second_delete_finds_nothing() {
    let (_server, store) = server().await;
    store
        .put(&p("d"), PutPayload::from_static(b"d"))
        .await
        .expect("put");
    store.delete(&p("d")).await.expect("deleted");
    let head = store.head(&p("d")).await;
    assert!(
        matches!(head, Err(object_store::Error::NotFound { .. })),
        "{head:?}"
    );
    let again = store.delete(&p("d")).await;
    assert!(
        matches!(again, Err(object_store::Error::NotFound { .. })),
        "{again:?}"
    );
}

#[tokio::test]
async fn copy_makes_a_new_object_and_copy_if_not_exists_refuses_a_taken_name() {
    let (_server, store) = server().await;
    store
        .put(&p("from"), PutPayload::from_static(b"source"))
        .await
        .expect("put");
    store
        .put(&p("taken"), PutPayload::from_static(b"old"))
        .await
        .expect("put");
    store.copy(&p("from"), &p("to")).await.expect("copied");
    let copied = store
        .get(&p("to"))
        .await
        .expect("get")
        .bytes()
        .await
        .expect("bytes");
    assert_eq!(&copied[..], b"source");
    let refused = store.copy_if_not_exists(&p("from"), &p("taken")).await;
    assert!(
        matches!(refused, Err(object_store::Error::AlreadyExists { .. })),
        "{refused:?}"
    );
    store
        .copy_opts(&p("from"), &p("fresh"), CopyOptions::default())
        .await
        .expect("copied");
}

#[tokio::test]
async fn listings_take_prefix_and_delimiter_and_page_through_everything() {
    let (_server, store) = server().await;
    let names = ["a/1", "a/2", "a/b/3", "a/b/4", "a/c/5", "ab", "z/6"];
    for name in names {
        store
            .put(&p(name), PutPayload::from_static(b"x"))
            .await
            .expect("put");
    }
    let listed = store
        .list_with_delimiter(Some(&p("a")))
        .await
        .expect("list");
    let objects: Vec<String> = listed
        .objects
        .iter()
        .map(|o| o.location.to_string())
        .collect();
    let prefixes: Vec<String> = listed
        .common_prefixes
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(objects, ["a/1", "a/2"]);
    assert_eq!(prefixes, ["a/b", "a/c"]);

    let mut all = Vec::new();
    let mut page_token = None;
    loop {
        let page = store
            .list_paginated(
                None,
                PaginatedListOptions {
                    max_keys: Some(2),
                    page_token,
                    ..PaginatedListOptions::default()
                },
            )
            .await
            .expect("a page");
        assert!(page.result.objects.len() <= 2);
        all.extend(page.result.objects.iter().map(|o| o.location.to_string()));
        match page.page_token {
            Some(token) => page_token = Some(token),
            None => break,
        }
    }
    assert_eq!(all, names);
    let after: Vec<String> = store
        .list_with_offset(Some(&p("a")), &p("a/b/3"))
        .map_ok(|o| o.location.to_string())
        .try_collect()
        .await
        .expect("offset list");
    assert_eq!(after, ["a/b/4", "a/c/5"]);
}

#[tokio::test]
async fn a_missing_bucket_is_no_such_bucket() {
    let (server, _store) = server().await;
    let other = store_of(&server, "other");
    let err = other
        .put(&p("k"), PutPayload::from_static(b"k"))
        .await
        .expect_err("404");
    assert!(err.to_string().contains("NoSuchBucket"), "{err}");
}
