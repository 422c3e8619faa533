//! The local storage servers from `scripts/test-servers` are up, hold their buckets, and behave
//! the way the object-store tests rely on (moto takes unsigned requests, s3s-fs refuses them).

use std::time::Duration;

use reqwest::StatusCode;

use crate::common::servers;

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("building an HTTP client")
}

async fn get(url: &str) -> (StatusCode, String) {
    let response = client()
        .get(url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status();
    (
        status,
        response
            .text()
            .await
            .unwrap_or_else(|e| panic!("GET {url} body: {e}")),
    )
}

#[tokio::test]
async fn moto_lists_its_buckets() {
    for server in [servers::moto(), servers::moto_state()] {
        let url = format!("{}/{}", server.endpoint, server.bucket);
        let (status, body) = get(&url).await;
        assert_eq!(status, StatusCode::OK, "GET {url}: {body}");
        assert!(
            body.contains("<ListBucketResult"),
            "GET {url} is not a bucket listing: {body}"
        );
    }
}

#[tokio::test]
async fn s3s_refuses_unsigned_requests() {
    let server = servers::s3s();
    let url = format!("{}/{}", server.endpoint, server.bucket);
    let (status, body) = get(&url).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "GET {url} unsigned: {body}");
}

#[tokio::test]
async fn fake_gcs_has_the_bucket() {
    let server = servers::gcs();
    let url = format!("{}/storage/v1/b/{}", server.endpoint, server.bucket);
    let (status, body) = get(&url).await;
    assert_eq!(status, StatusCode::OK, "GET {url}: {body}");
    assert!(
        body.contains(&format!("\"{}\"", server.bucket)),
        "GET {url}: {body}"
    );
}

#[test]
fn unique_prefixes_differ() {
    let a = servers::unique_prefix("smoke test");
    let b = servers::unique_prefix("smoke test");
    assert_ne!(a, b);
    assert!(a.starts_with("smoke-test-"), "{a}");
}
