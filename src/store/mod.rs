//! Opening the object store behind a store URL: S3, GCS or a local folder, through
//! `object_store`, with options from the config and the usual `AWS_*` / `GOOGLE_*` variables.
//!
//! object_store ignores option names it does not know; a misspelt `aws_endpoint` would then
//! send archives to real AWS. So every option name is checked here first, and an unknown one
//! is an error naming the store and the accepted spelling.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use ::url::Url;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64_STANDARD;
use object_store::ObjectStore;
use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey, Checksum};
use object_store::client::ClientConfigKey;
use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::signer::{SignedUrlOptions, Signer};
use reqwest::header::{HeaderName, HeaderValue};
use thiserror::Error;

use self::problem::{Cloud, LastResort};
use self::url::StoreUrl;

pub mod json;
pub mod problem;
pub mod url;

/// Options as written under `options:`. Values may be credentials, so `Debug` shows names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoreOptions(BTreeMap<String, String>);

impl StoreOptions {
    pub fn new() -> Self {
        Self::default()
    }
}

impl std::ops::Deref for StoreOptions {
    type Target = BTreeMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.0
    }
}

impl std::ops::DerefMut for StoreOptions {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.0
    }
}

impl FromIterator<(String, String)> for StoreOptions {
    fn from_iter<I: IntoIterator<Item = (String, String)>>(iter: I) -> Self {
        StoreOptions(iter.into_iter().collect())
    }
}

impl std::fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

#[derive(Debug, Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("unknown option `{name}` for {scheme}:// stores{hint}")]
    UnknownOption {
        scheme: &'static str,
        name: String,
        hint: String,
    },
    #[error("cannot open {url}: {source}")]
    Open {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("cannot create the folder {path}: {source}")]
    Folder {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// An opened destination or state store, rooted at the URL's prefix.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    url: String,
    /// What a LIST of this store covers, said for people: a bucket's prefix, a folder.
    root: String,
    /// Local folders refuse object attributes (content type, encoding).
    takes_attributes: bool,
    signed_put: Option<SignedPut>,
}

/// One streaming PUT of a whole object, sent by chatvault itself through a presigned URL.
///
/// object_store's single PUT takes the whole body in memory, so a large archive goes as a
/// multipart upload, and the server then assembles the object from its parts: on S3-like
/// servers that is a second pass over every byte (a quarter to a third of the transfer in
/// `benches/transfer.sh`). When the export's length is known, one streaming PUT (up to S3's
/// 5 GiB) needs no assembly. Offered only for S3 stores whose settings add nothing to a PUT
/// (no server-side encryption, checksum, requester-pays or client options but `allow_http`):
/// those headers and client settings exist only on object_store's own request path.
///
/// On a write-once bucket ([`Uploads::Checksummed`]) every PUT names its body's SHA-256 in
/// `x-amz-checksum-sha256`, signed into the URL (S3 refuses a presigned request carrying an
/// `x-amz-*` header its signature does not cover). Only a caller that knows the hash before
/// it sends (a captured file, hashed while spooled) can use it there.
#[derive(Debug, Clone)]
pub struct SignedPut {
    s3: AmazonS3,
    prefix: Path,
    checksummed: bool,
}

/// The header that carries an upload's SHA-256 (base64) to S3.
const CHECKSUM_SHA256: HeaderName = HeaderName::from_static("x-amz-checksum-sha256");

impl SignedPut {
    /// How long a presigned URL is good for; checked when the request starts.
    const VALID_FOR: Duration = Duration::from_secs(3600);

    /// Whether each PUT must name its body's SHA-256 (a write-once bucket).
    pub fn needs_sha256(&self) -> bool {
        self.checksummed
    }

    /// A URL that lets one PUT of `key` (below the store's prefix) through, with the
    /// `x-amz-checksum-sha256` header `checksum` when given. It carries a signature: never
    /// log it.
    pub async fn url(
        &self,
        key: &Path,
        checksum: Option<&HeaderValue>,
    ) -> object_store::Result<Url> {
        let path: Path = self.prefix.parts().chain(key.parts()).collect();
        let mut options = SignedUrlOptions::default();
        if let Some(checksum) = checksum {
            options = options.with_signed_header(CHECKSUM_SHA256, checksum.clone());
        }
        self.s3
            .signed_url_opts(reqwest::Method::PUT, &path, Self::VALID_FOR, &options)
            .await
    }

    /// Sends `body`, exactly `length` bytes, as one PUT of `key`; `sha256`, the body's hash,
    /// goes with it where the bucket needs one ([`Self::needs_sha256`]), and is then required.
    /// A refusal reads as [`problem::Refused`] with the error body's code; a broken connection
    /// names its causes, never the URL (it carries the signature).
    pub async fn put(
        &self,
        http: &reqwest::Client,
        key: &Path,
        body: reqwest::Body,
        length: u64,
        content_type: Option<&str>,
        sha256: Option<&[u8; 32]>,
    ) -> object_store::Result<()> {
        let generic =
            |source: Box<dyn std::error::Error + Send + Sync>| object_store::Error::Generic {
                store: "S3",
                source,
            };
        let checksum = match (self.checksummed, sha256) {
            (false, _) => None,
            (true, Some(digest)) => {
                let encoded = BASE64_STANDARD.encode(digest);
                Some(HeaderValue::from_str(&encoded).map_err(|e| generic(e.into()))?)
            }
            (true, None) => {
                return Err(generic(
                    "a write-once bucket takes an upload only with its SHA-256".into(),
                ));
            }
        };
        let url = self.url(key, checksum.as_ref()).await?;
        let mut request = http
            .put(url)
            .header(reqwest::header::CONTENT_LENGTH, length)
            .body(body);
        if let Some(content_type) = content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, content_type);
        }
        if let Some(checksum) = checksum {
            request = request.header(CHECKSUM_SHA256, checksum);
        }
        let response = request
            .send()
            .await
            .map_err(|e| generic(problem::with_causes(&e.without_url()).into()))?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let text = response.text().await.unwrap_or_default();
        Err(generic(Box::new(problem::Refused {
            method: "PUT",
            status: status.as_u16(),
            code: problem::s3_error_code(&text).map(str::to_owned),
        })))
    }
}

impl Store {
    pub fn object_store(&self) -> &Arc<dyn ObjectStore> {
        &self.inner
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// What a LIST of this store covers (the prefix `p/` of bucket `b`, the folder /x), for
    /// messages about what it holds.
    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn takes_attributes(&self) -> bool {
        self.takes_attributes
    }

    /// The streaming single PUT, where this store allows it (see [`SignedPut`]).
    pub fn signed_put(&self) -> Option<&SignedPut> {
        self.signed_put.as_ref()
    }

    /// An empty in-memory store, for tests.
    pub fn memory() -> Store {
        Store {
            inner: Arc::new(InMemory::new()),
            url: "memory://".into(),
            root: "the whole store".into(),
            takes_attributes: true,
            signed_put: None,
        }
    }

    /// Wraps any object store (tests put faulty ones in front of real ones).
    pub fn wrap(inner: Arc<dyn ObjectStore>, url: &str, takes_attributes: bool) -> Store {
        Store {
            inner,
            url: url.to_owned(),
            root: format!("everything at {url}"),
            takes_attributes,
            signed_put: None,
        }
    }
}

/// The option names a store of this scheme accepts; `Err` carries a hint for a near miss.
pub fn check_option(url: &StoreUrl, name: &str) -> Result<(), StoreError> {
    let (scheme, known) = match url {
        StoreUrl::S3 { .. } => ("s3", AmazonS3ConfigKey::from_str(name).is_ok()),
        StoreUrl::Gcs { .. } => ("gs", GoogleConfigKey::from_str(name).is_ok()),
        StoreUrl::File { .. } => ("file", false),
    };
    if known {
        return Ok(());
    }
    let hint = match url {
        StoreUrl::File { .. } => ": local folders take no options".to_owned(),
        StoreUrl::S3 { .. } => crate::suggest::did_you_mean(name, S3_OPTIONS.iter().copied())
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_else(|| format!(" (e.g. {})", S3_OPTIONS.join(", "))),
        StoreUrl::Gcs { .. } => crate::suggest::did_you_mean(name, GCS_OPTIONS.iter().copied())
            .map(|s| format!("; did you mean `{s}`?"))
            .unwrap_or_else(|| format!(" (e.g. {})", GCS_OPTIONS.join(", "))),
    };
    Err(StoreError::UnknownOption {
        scheme,
        name: name.to_owned(),
        hint,
    })
}

/// The options people set most, for suggestions (object_store accepts more).
const S3_OPTIONS: &[&str] = &[
    "aws_access_key_id",
    "aws_secret_access_key",
    "aws_session_token",
    "aws_region",
    "aws_endpoint",
    "aws_allow_http",
    "aws_virtual_hosted_style_request",
    "aws_skip_signature",
    "aws_server_side_encryption",
    "aws_sse_kms_key_id",
];
const GCS_OPTIONS: &[&str] = &[
    "google_service_account",
    "google_service_account_key",
    "google_application_credentials",
    "google_base_url",
    "google_skip_signature",
    "google_allow_http",
];

/// Opens the store. `env` is the process environment (passed in, so tests control it);
/// `AWS_*` and `GOOGLE_*` variables object_store knows are applied first, then `options`.
/// A local folder is created when missing, for the writes to come.
pub fn open(
    url: &StoreUrl,
    options: &StoreOptions,
    env: &[(String, String)],
) -> Result<Store, StoreError> {
    open_with(url, options, env, Access::Write, Uploads::Plain)
}

/// Opens the store for commands that only read (the viewer, search, status): a missing local
/// folder is not created, and reads as empty until something writes it.
pub fn open_to_read(
    url: &StoreUrl,
    options: &StoreOptions,
    env: &[(String, String)],
) -> Result<Store, StoreError> {
    open_with(url, options, env, Access::Read, Uploads::Plain)
}

/// What the store is opened for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Reading, and the odd document a reader adds (catalog records, captured files): a
    /// missing local folder is not created.
    Read,
    /// Writing: a missing local folder is created.
    Write,
}

/// How uploads to an S3 store are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Uploads {
    /// As object_store sends them, and large ones as one streaming PUT where the settings
    /// allow ([`SignedPut`]).
    Plain,
    /// For a write-once bucket (`destination.immutable`). An S3 bucket with Object Lock and a
    /// default retention refuses an upload that carries neither Content-MD5 nor an
    /// `x-amz-checksum-*` header, so object_store sends `x-amz-checksum-sha256` with every
    /// PUT and every part (and names the parts' checksums when completing), unless the
    /// options chose another algorithm (`aws_checksum_algorithm`). The streaming PUT
    /// ([`SignedPut`]) then carries the checksum too, so only uploads whose hash is known
    /// before they start can take it. GCS and local folders need nothing added.
    Checksummed,
}

/// Opens the store for `access`, sending uploads as `uploads` says.
pub fn open_with(
    url: &StoreUrl,
    options: &StoreOptions,
    env: &[(String, String)],
    access: Access,
    uploads: Uploads,
) -> Result<Store, StoreError> {
    for name in options.keys() {
        check_option(url, name)?;
    }
    let open_error = |source| StoreError::Open {
        url: url.to_string(),
        source,
    };
    let mut signed_put = None;
    let (inner, takes_attributes): (Arc<dyn ObjectStore>, bool) = match url {
        StoreUrl::S3 { bucket, prefix } => {
            let mut builder = configure(
                AmazonS3Builder::new(),
                "aws_",
                env,
                options,
                AmazonS3Builder::with_config,
            )
            .with_bucket_name(bucket);
            if uploads == Uploads::Checksummed && !names_checksum(env, options) {
                builder = builder.with_checksum_algorithm(Checksum::SHA256);
            }
            if s3_last_resort(env, options) {
                let inner = builder
                    .clone()
                    .with_retry(last_resort_retry())
                    .build()
                    .map_err(open_error)?
                    .credentials()
                    .clone();
                builder = builder.with_credentials(Arc::new(LastResort {
                    cloud: Cloud::S3,
                    inner,
                }));
            }
            let store = builder.build().map_err(open_error)?;
            if plain_puts(bucket, env, options) {
                signed_put = Some(SignedPut {
                    s3: store.clone(),
                    prefix: Path::from(prefix.as_str()),
                    checksummed: uploads == Uploads::Checksummed,
                });
            }
            (prefixed(store, prefix), true)
        }
        StoreUrl::Gcs { bucket, prefix } => {
            let mut builder = configure(
                GoogleCloudStorageBuilder::new(),
                "google_",
                env,
                options,
                GoogleCloudStorageBuilder::with_config,
            )
            .with_bucket_name(bucket);
            if gcs_last_resort(env, options) {
                let inner = builder
                    .clone()
                    .with_retry(last_resort_retry())
                    .build()
                    .map_err(open_error)?
                    .credentials()
                    .clone();
                builder = builder.with_credentials(Arc::new(LastResort {
                    cloud: Cloud::Gcs,
                    inner,
                }));
            }
            let store = builder.build().map_err(open_error)?;
            (prefixed(store, prefix), true)
        }
        StoreUrl::File { path } if access == Access::Read && !path.exists() => {
            // The folder is looked up on every request, so it is found once a run makes it.
            let prefix = Path::from_absolute_path(path).map_err(|e| open_error(e.into()))?;
            let store = PrefixStore::new(LocalFileSystem::new(), prefix);
            (Arc::new(store) as Arc<dyn ObjectStore>, false)
        }
        StoreUrl::File { path } => {
            // A reader never makes folders: something else in the folder's place (a file) is
            // then said by the first read, with the path it tried.
            if access == Access::Write {
                std::fs::create_dir_all(path).map_err(|source| StoreError::Folder {
                    path: path.display().to_string(),
                    source,
                })?;
            }
            let store = LocalFileSystem::new_with_prefix(path).map_err(open_error)?;
            (Arc::new(store), false)
        }
    };
    Ok(Store {
        inner,
        url: url.to_string(),
        root: root(url),
        takes_attributes,
        signed_put,
    })
}

fn root(url: &StoreUrl) -> String {
    match url {
        StoreUrl::S3 { bucket, prefix } | StoreUrl::Gcs { bucket, prefix } => {
            if prefix.is_empty() {
                format!("the whole bucket `{bucket}`")
            } else {
                format!("the prefix `{prefix}/` of bucket `{bucket}`")
            }
        }
        StoreUrl::File { path } => format!("the folder {}", path.display()),
    }
}

/// Whether object_store will ask S3 credentials of the instance-metadata service: nothing
/// earlier in its chain (keys, web identity, ECS or EKS pod credentials) is set. Mirrors
/// `AmazonS3Builder::build`, which tries them in this order.
fn s3_last_resort(env: &[(String, String)], options: &StoreOptions) -> bool {
    use AmazonS3ConfigKey as K;
    let keys: Vec<K> = settings::<K>("aws_", env, options)
        .map(|(k, _)| k)
        .collect();
    let has = |want: K| keys.contains(&want);
    !(has(K::AccessKeyId)
        || has(K::SecretAccessKey)
        || (has(K::WebIdentityTokenFile) && has(K::RoleArn))
        || has(K::ContainerCredentialsRelativeUri)
        || (has(K::ContainerCredentialsFullUri) && has(K::ContainerAuthorizationTokenFile))
        || has(K::SkipSignature))
}

/// The same for GCS: no service account, bearer token or application-default credentials
/// (gcloud's well-known file under `$HOME`, which object_store reads itself).
fn gcs_last_resort(env: &[(String, String)], options: &StoreOptions) -> bool {
    use GoogleConfigKey as K;
    let explicit = settings::<K>("google_", env, options).any(|(k, _)| {
        matches!(
            k,
            K::ServiceAccount
                | K::ServiceAccountKey
                | K::ApplicationCredentials
                | K::BearerToken
                | K::SkipSignature
        )
    });
    let well_known = env
        .iter()
        .find(|(k, _)| k == "HOME")
        .is_some_and(|(_, home)| {
            std::path::Path::new(home)
                .join(".config/gcloud/application_default_credentials.json")
                .exists()
        });
    !explicit && !well_known
}

/// Whether `aws_checksum_algorithm` is set: any algorithm S3 takes satisfies Object Lock.
fn names_checksum(env: &[(String, String)], options: &StoreOptions) -> bool {
    settings::<AmazonS3ConfigKey>("aws_", env, options)
        .any(|(key, _)| key == AmazonS3ConfigKey::Checksum)
}

/// How long the instance-metadata service is given. object_store's default (10 retries over
/// up to 3 minutes) suits a flaky network, but off a cloud VM nothing answers there, and a
/// run would wait minutes to learn that no credentials are set. The service is on the
/// machine's own link: when it exists, it answers within these few tries.
fn last_resort_retry() -> object_store::RetryConfig {
    object_store::RetryConfig {
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
        ..object_store::RetryConfig::default()
    }
}

/// Whether an S3 store's PUT is a plain one: every setting made is about where the bucket is
/// and who signs, nothing that adds headers to a PUT or changes how requests are sent.
fn plain_puts(bucket: &str, env: &[(String, String)], options: &StoreOptions) -> bool {
    use AmazonS3ConfigKey as K;
    // S3 Express buckets sign with session credentials of their own.
    !bucket.ends_with("--x-s3")
        && settings::<AmazonS3ConfigKey>("aws_", env, options).all(|(key, _)| {
            matches!(
                key,
                K::AccessKeyId
                    | K::SecretAccessKey
                    | K::DefaultRegion
                    | K::Region
                    | K::Bucket
                    | K::Endpoint
                    | K::Token
                    | K::VirtualHostedStyleRequest
                    | K::ImdsV1Fallback
                    | K::MetadataEndpoint
                    | K::UnsignedPayload
                    | K::ContainerCredentialsRelativeUri
                    | K::ContainerCredentialsFullUri
                    | K::ContainerAuthorizationTokenFile
                    | K::WebIdentityTokenFile
                    | K::RoleArn
                    | K::RoleSessionName
                    | K::StsEndpoint
                    | K::CopyIfNotExists
                    | K::ConditionalPut
                    | K::DisableTagging
                    | K::DisableBulkDelete
                    | K::Client(ClientConfigKey::AllowHttp)
            )
        })
}

/// Applies the environment variables named `<prefix>*` that the builder knows, then `options`.
fn configure<B, K: FromStr>(
    builder: B,
    prefix: &str,
    env: &[(String, String)],
    options: &StoreOptions,
    with: impl Fn(B, K, String) -> B,
) -> B {
    settings(prefix, env, options).fold(builder, |b, (key, v)| with(b, key, v))
}

/// The settings that apply, in order: the environment variables named `<prefix>*` that parse
/// as keys, then `options`.
fn settings<'a, K: FromStr>(
    prefix: &'a str,
    env: &'a [(String, String)],
    options: &'a StoreOptions,
) -> impl Iterator<Item = (K, String)> + 'a {
    env.iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
        .filter(move |(k, _)| k.starts_with(prefix))
        .chain(options.iter().map(|(k, v)| (k.clone(), v.clone())))
        .filter_map(|(k, v)| K::from_str(&k).ok().map(|key| (key, v)))
}

fn prefixed<T: ObjectStore>(store: T, prefix: &str) -> Arc<dyn ObjectStore> {
    if prefix.is_empty() {
        Arc::new(store)
    } else {
        Arc::new(PrefixStore::new(store, prefix))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn s3() -> StoreUrl {
        StoreUrl::S3 {
            bucket: "b".into(),
            prefix: String::new(),
        }
    }

    #[test]
    fn unknown_options_are_refused_with_a_suggestion() {
        let err = check_option(&s3(), "aws_endpont").expect_err("misspelt");
        assert_eq!(
            err.to_string(),
            "unknown option `aws_endpont` for s3:// stores; did you mean `aws_endpoint`?"
        );
        assert!(check_option(&s3(), "aws_endpoint").is_ok());
        assert!(check_option(&s3(), "allow_http").is_ok());
        let gcs = StoreUrl::Gcs {
            bucket: "b".into(),
            prefix: String::new(),
        };
        assert!(check_option(&gcs, "google_base_url").is_ok());
        assert!(check_option(&gcs, "aws_endpoint").is_err());
        let file = StoreUrl::File {
            path: PathBuf::from("/tmp"),
        };
        assert!(check_option(&file, "anything").is_err());
    }

    #[test]
    fn local_folders_are_created_and_take_no_attributes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = StoreUrl::File {
            path: dir.path().join("archive/nested"),
        };
        let store = open(&url, &StoreOptions::new(), &[]).expect("opens");
        assert!(!store.takes_attributes());
        assert!(store.signed_put().is_none());
        assert!(dir.path().join("archive/nested").is_dir());
    }

    #[tokio::test]
    async fn a_folder_opened_to_read_is_not_created_and_is_found_once_made() {
        use futures::TryStreamExt as _;
        use object_store::ObjectStoreExt as _;

        let dir = tempfile::tempdir().expect("tempdir");
        let folder = dir.path().join("state");
        let url = StoreUrl::File {
            path: folder.clone(),
        };
        let store = open_to_read(&url, &StoreOptions::new(), &[]).expect("opens");
        let list = |store: &Store| {
            store
                .object_store()
                .list(None)
                .map_ok(|m| m.location.to_string())
                .try_collect::<Vec<_>>()
        };
        assert_eq!(list(&store).await.expect("lists"), Vec::<String>::new());
        let missing = store.object_store().get(&Path::from("a/b.json")).await;
        assert!(matches!(missing, Err(object_store::Error::NotFound { .. })));
        assert!(!folder.exists(), "reading made the folder");

        std::fs::create_dir_all(folder.join("a")).expect("mkdir");
        std::fs::write(folder.join("a/b.json"), "{}").expect("write");
        assert_eq!(list(&store).await.expect("lists"), ["a/b.json"]);
        let opened = open_to_read(&url, &StoreOptions::new(), &[]).expect("opens");
        assert_eq!(list(&opened).await.expect("lists"), ["a/b.json"]);
    }

    /// The streaming PUT bypasses object_store's request path, so any setting that adds a
    /// header to a PUT or changes how requests go out keeps archives on that path.
    #[tokio::test]
    async fn only_plain_s3_stores_take_the_streaming_put() {
        let options = |extra: &[(&str, &str)]| -> StoreOptions {
            [
                ("aws_endpoint", "http://127.0.0.1:9"),
                ("aws_allow_http", "true"),
                ("aws_region", "us-east-1"),
                ("aws_access_key_id", "AKIDEXAMPLE"),
                ("aws_secret_access_key", "not-a-secret"),
            ]
            .iter()
            .chain(extra)
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
        };
        let url = StoreUrl::S3 {
            bucket: "b".into(),
            prefix: "archive/x".into(),
        };
        let plain = open(&url, &options(&[]), &[]).expect("opens");
        let put = plain.signed_put().expect("a plain S3 store streams");
        assert!(!put.needs_sha256());
        // A write-once bucket's PUT names its body's SHA-256, signed into the URL.
        let write_once = open_with(
            &url,
            &options(&[]),
            &[],
            Access::Write,
            Uploads::Checksummed,
        )
        .expect("opens");
        let checked = write_once.signed_put().expect("streams too");
        assert!(checked.needs_sha256());
        let checksum = HeaderValue::from_static("uU0nuZNNPgilLlLX2n2r+sSE7+N6U4DukIj3rOLvzek=");
        let signed = checked
            .url(&Path::from("k.jsonl"), Some(&checksum))
            .await
            .expect("signs");
        assert!(
            signed
                .query_pairs()
                .any(|(k, v)| k == "X-Amz-SignedHeaders" && v.contains("x-amz-checksum-sha256")),
            "{}",
            signed.path()
        );
        let signed = put.url(&Path::from("k.jsonl"), None).await.expect("signs");
        assert_eq!(signed.path(), "/b/archive/x/k.jsonl", "the prefix is kept");
        assert!(
            signed
                .query()
                .is_some_and(|q| q.contains("X-Amz-Signature"))
        );

        for extra in [
            ("aws_server_side_encryption", "aws:kms"),
            ("aws_sse_kms_key_id", "key"),
            ("aws_checksum_algorithm", "sha256"),
            ("aws_request_payer", "true"),
            ("aws_skip_signature", "true"),
            ("aws_proxy_url", "http://127.0.0.1:3128"),
        ] {
            let store = open(&url, &options(&[extra]), &[]).expect("opens");
            assert!(store.signed_put().is_none(), "{extra:?}");
        }
        let env = [("AWS_SERVER_SIDE_ENCRYPTION".to_owned(), "AES256".to_owned())];
        assert!(
            open(&url, &options(&[]), &env)
                .expect("opens")
                .signed_put()
                .is_none()
        );
        let express = StoreUrl::S3 {
            bucket: "fast--use1-az4--x-s3".into(),
            prefix: String::new(),
        };
        assert!(
            open(&express, &options(&[]), &[])
                .expect("opens")
                .signed_put()
                .is_none()
        );
        let gcs = StoreUrl::Gcs {
            bucket: "b".into(),
            prefix: String::new(),
        };
        let anonymous = [("google_skip_signature".to_owned(), "true".to_owned())];
        let gcs = open(&gcs, &anonymous.into_iter().collect(), &[]).expect("opens");
        assert!(gcs.signed_put().is_none());
    }
}
