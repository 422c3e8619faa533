//! The local storage servers integration tests run against: moto (S3, no signature checks; one
//! of its buckets has Object Lock), s3s-fs (S3 with SigV4 checks), fake-gcs-server (GCS JSON
//! API: reads only) and the emulator crate's GCS XML-API server (every GCS call object_store
//! makes, writes included).
//!
//! `scripts/test-servers start` starts the first three and writes `target/test-servers.env`;
//! `scripts/test` does that and exports the variables. The values come from the process
//! environment first and otherwise from that file, so a plain `cargo nextest run` works after a
//! manual start. A test that asks for a server that is not there panics and says so: it never
//! skips. The GCS XML-API server needs no script: [`local_gcs`] starts one inside the test, in
//! milliseconds, and it stops with the test's runtime.

use std::collections::HashMap;
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const HOW_TO_START: &str =
    "start the servers with scripts/test-servers start (scripts/test does this)";

/// An S3-compatible server with a bucket that already exists.
#[derive(Debug, Clone)]
pub struct S3Server {
    /// `http://127.0.0.1:PORT`, no trailing slash; buckets are path-style (`{endpoint}/{bucket}`).
    pub endpoint: String,
    pub bucket: String,
    pub access_key: String,
    pub secret_key: String,
    pub region: String,
}

impl S3Server {
    /// `prefix` of this server's bucket, opened as chatvault opens a write-once destination:
    /// every upload carries its SHA-256.
    pub fn write_once_store(&self, prefix: &str) -> chatvault::store::Store {
        let url = chatvault::store::url::StoreUrl::S3 {
            bucket: self.bucket.clone(),
            prefix: prefix.to_owned(),
        };
        chatvault::store::open_with(
            &url,
            &self.options(),
            &[],
            chatvault::store::Access::Write,
            chatvault::store::Uploads::Checksummed,
        )
        .expect("the write-once store opens")
    }

    /// chatvault's options for this server: its region and keys, signing with `secret`, reached
    /// at `endpoint` (its own, or a proxy in front of it).
    pub fn options_via(&self, endpoint: &str, secret: &str) -> chatvault::store::StoreOptions {
        [
            ("aws_endpoint", endpoint),
            ("aws_allow_http", "true"),
            ("aws_region", self.region.as_str()),
            ("aws_access_key_id", self.access_key.as_str()),
            ("aws_secret_access_key", secret),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
    }

    /// chatvault's options for this server, as it is.
    pub fn options(&self) -> chatvault::store::StoreOptions {
        self.options_via(&self.endpoint, &self.secret_key)
    }

    /// `METHOD /bucket/PATH_AND_QUERY` with `headers`, signed with object_store's SigV4
    /// authorizer, for what object_store does not ask (a version, a checksum): moto checks no
    /// signature but refuses a request without one (as anonymous).
    pub async fn signed(
        &self,
        method: reqwest::Method,
        path_and_query: &str,
        headers: &[(&str, &str)],
    ) -> reqwest::Response {
        use object_store::aws::{AwsAuthorizer, AwsCredential};

        let url = format!("{}/{}/{path_and_query}", self.endpoint, self.bucket);
        let mut request = headers
            .iter()
            .fold(
                axum::http::Request::builder()
                    .method(method.clone())
                    .uri(&url),
                |r, (name, value)| r.header(*name, *value),
            )
            .body(object_store::client::HttpRequestBody::from(Vec::new()))
            .expect("a request");
        let credential = AwsCredential {
            key_id: self.access_key.clone(),
            secret_key: self.secret_key.clone(),
            token: None,
        };
        AwsAuthorizer::new(&credential, "s3", &self.region)
            .try_authorize(&mut request, None)
            .expect("signs");
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("an HTTP client");
        http.request(method, &url)
            .headers(request.headers().clone())
            .send()
            .await
            .expect("the server answers")
    }

    /// The SHA-256 checksum the server keeps for `key` (below the bucket), as
    /// `x-amz-checksum-sha256` says it (base64; a multipart upload's ends in `-PARTS` on AWS).
    pub async fn stored_checksum(&self, key: &str) -> Option<String> {
        let head = self
            .signed(
                reqwest::Method::HEAD,
                key,
                &[("x-amz-checksum-mode", "ENABLED")],
            )
            .await;
        assert!(head.status().is_success(), "HEAD {key}: {}", head.status());
        head.headers()
            .get("x-amz-checksum-sha256")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    }
}

/// fake-gcs-server with a bucket that already exists.
#[derive(Debug, Clone)]
pub struct GcsServer {
    /// `http://127.0.0.1:PORT`, no trailing slash; JSON API under `{endpoint}/storage/v1/`.
    pub endpoint: String,
    pub bucket: String,
}

/// The bucket archives go to on [`local_gcs`], and the one state goes to.
pub const GCS_BUCKET: &str = "chatvault-test";
pub const GCS_STATE_BUCKET: &str = "chatvault-state";

/// The bearer token stores send to [`local_gcs`] (which checks none). A token, not
/// `google_skip_signature`: object_store 0.14's GCS writes ask for a credential even when told to
/// skip signing (only its reads honour that), and without one they go to the metadata server.
pub const LOCAL_GCS_TOKEN: &str = "local-gcs-token";

/// The emulator crate's GCS XML-API server, in this test's runtime, with [`GCS_BUCKET`] and
/// [`GCS_STATE_BUCKET`] empty.
pub struct LocalGcs {
    pub server: chatvault_emulator::gcs::GcsServer,
}

pub async fn local_gcs() -> LocalGcs {
    let server = chatvault_emulator::gcs::GcsServer::start(&[GCS_BUCKET, GCS_STATE_BUCKET])
        .await
        .expect("the GCS XML-API server starts on 127.0.0.1");
    LocalGcs { server }
}

impl LocalGcs {
    /// `http://127.0.0.1:PORT`: the `google_base_url`.
    pub fn endpoint(&self) -> String {
        self.server.base_url()
    }

    /// chatvault's options for this server.
    pub fn options(&self) -> chatvault::store::StoreOptions {
        [
            ("google_base_url", self.endpoint()),
            ("google_allow_http", "true".to_owned()),
            ("google_bearer_token", LOCAL_GCS_TOKEN.to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// The store `gs://{bucket}/{prefix}` on this server.
    pub fn store(&self, bucket: &str, prefix: &str) -> chatvault::store::Store {
        let url = chatvault::store::url::StoreUrl::Gcs {
            bucket: bucket.to_owned(),
            prefix: prefix.to_owned(),
        };
        chatvault::store::open(&url, &self.options(), &[]).expect("GCS store opens")
    }

    /// The `options:` block of a config file for this server (indented for `destination:` or
    /// `state:`), the token read from `${var}`: a token written inline draws a warning.
    pub fn options_yaml(&self, var: &str) -> String {
        format!(
            "  options:\n    google_base_url: {}\n    google_allow_http: \"true\"\n    \
             google_bearer_token: \"${{{var}}}\"\n",
            self.endpoint()
        )
    }
}

/// moto: every S3 operation object_store uses; accepts any signature (and unsigned requests).
pub fn moto() -> S3Server {
    let endpoint = reachable("CHATVAULT_TEST_MOTO_ENDPOINT");
    S3Server {
        endpoint,
        bucket: var("CHATVAULT_TEST_BUCKET"),
        access_key: var("CHATVAULT_TEST_MOTO_ACCESS_KEY"),
        secret_key: var("CHATVAULT_TEST_MOTO_SECRET_KEY"),
        region: var("CHATVAULT_TEST_REGION"),
    }
}

/// moto with its second bucket (`chatvault-state`), for tests that need two.
pub fn moto_state() -> S3Server {
    S3Server {
        bucket: var("CHATVAULT_TEST_STATE_BUCKET"),
        ..moto()
    }
}

/// moto with its write-once bucket (`chatvault-locked`): Object Lock with a default retention
/// of one day in compliance mode. Every version written there is locked, uploads without a
/// checksum are refused, and a plain DELETE only adds a delete marker.
pub fn moto_locked() -> S3Server {
    S3Server {
        bucket: var("CHATVAULT_TEST_LOCKED_BUCKET"),
        ..moto()
    }
}

/// s3s-fs: checks SigV4 signatures (unsigned or wrongly signed requests get 403).
pub fn s3s() -> S3Server {
    let endpoint = reachable("CHATVAULT_TEST_S3S_ENDPOINT");
    S3Server {
        endpoint,
        bucket: var("CHATVAULT_TEST_BUCKET"),
        access_key: var("CHATVAULT_TEST_S3S_ACCESS_KEY"),
        secret_key: var("CHATVAULT_TEST_S3S_SECRET_KEY"),
        region: var("CHATVAULT_TEST_REGION"),
    }
}

/// fake-gcs-server: reads, lists and deletes work (seed objects through its JSON upload API);
/// object_store's GCS writes (XML API) do not.
pub fn gcs() -> GcsServer {
    let endpoint = reachable("CHATVAULT_TEST_GCS_ENDPOINT");
    GcsServer {
        endpoint,
        bucket: var("CHATVAULT_TEST_BUCKET"),
    }
}

/// A prefix no other test (in this or any other test process) uses, so tests can share buckets:
/// `NAME-<nanoseconds>-<pid>-<n>`, with characters other than `[A-Za-z0-9_-]` in NAME replaced.
/// No trailing slash.
pub fn unique_prefix(name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock before 1970")
        .as_nanos();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{name}-{nanos}-{}-{n}", std::process::id())
}

/// `target/test-servers.env` in the crate root (where `scripts/test-servers` writes it).
pub fn env_file() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("test-servers.env")
}

/// A setting: the process environment first, then `target/test-servers.env`; panics if neither
/// has it.
pub fn var(name: &str) -> String {
    if let Ok(value) = std::env::var(name)
        && !value.is_empty()
    {
        return value;
    }
    match env_file_vars().get(name) {
        Some(value) if !value.is_empty() => value.clone(),
        _ => panic!(
            "{name} is not set (neither in the environment nor in {}): {HOW_TO_START}",
            env_file().display()
        ),
    }
}

/// The endpoint in variable `name`, after checking something listens there (a stale env file
/// left by servers that have since stopped must fail clearly, not with a retry timeout).
fn reachable(name: &str) -> String {
    let endpoint = var(name).trim_end_matches('/').to_owned();
    let host_port = endpoint
        .strip_prefix("http://")
        .or_else(|| endpoint.strip_prefix("https://"))
        .unwrap_or(&endpoint)
        .split('/')
        .next()
        .unwrap_or_default();
    let addrs: Vec<_> = match host_port.to_socket_addrs() {
        Ok(addrs) => addrs.collect(),
        Err(e) => panic!(
            "{name}={endpoint} is not a usable http://HOST:PORT endpoint ({e}): {HOW_TO_START}"
        ),
    };
    let connected = addrs
        .iter()
        .any(|addr| TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_ok());
    assert!(
        connected,
        "nothing answers at {name}={endpoint} (servers stopped?): {HOW_TO_START}"
    );
    endpoint
}

fn env_file_vars() -> &'static HashMap<String, String> {
    static VARS: OnceLock<HashMap<String, String>> = OnceLock::new();
    VARS.get_or_init(|| {
        let Ok(text) = std::fs::read_to_string(env_file()) else {
            return HashMap::new();
        };
        text.lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect()
    })
}
