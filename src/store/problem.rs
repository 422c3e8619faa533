//! What a failed store operation means for the person running chatvault: credentials that
//! nobody provided, a bucket that does not exist, access the store denied. object_store's own
//! messages say what it tried (a request to the instance-metadata address, an XML body);
//! these say what is wrong and what to do.

use std::error::Error as StdError;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;

use object_store::client::CredentialProvider;
use thiserror::Error;

/// The cloud a store lives in, for hints that name its settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    S3,
    Gcs,
}

impl Cloud {
    fn name(self) -> &'static str {
        match self {
            Cloud::S3 => "S3",
            Cloud::Gcs => "GCS",
        }
    }
}

/// The credential chain found nothing: no keys in the environment or the store's options, no
/// web or workload identity, and the instance-metadata service (the last resort) did not
/// give any. Its source is that last attempt.
#[derive(Debug, Error)]
#[error(
    "no {} credentials: none are set, and the instance metadata service gave none",
    cloud.name()
)]
pub struct MissingCredentials {
    pub cloud: Cloud,
    #[source]
    source: object_store::Error,
}

/// What went wrong with a store, when it is one of the things a person can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    MissingCredentials(Cloud),
    NoSuchBucket,
    AccessDenied,
    /// A bucket with Object Lock and a default retention refused an upload without a checksum.
    ObjectLockNeedsChecksum,
}

impl Problem {
    /// Says plainly what is wrong, then what to do.
    pub fn hint(self) -> &'static str {
        match self {
            Problem::MissingCredentials(Cloud::S3) => {
                "no S3 credentials were found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                 (or aws_access_key_id and aws_secret_access_key in the store's `options`), \
                 AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN (EKS IRSA), \
                 AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (ECS), or run where an instance profile \
                 is attached"
            }
            Problem::MissingCredentials(Cloud::Gcs) => {
                "no GCS credentials were found: set GOOGLE_APPLICATION_CREDENTIALS to a \
                 service-account key file (or google_service_account / google_service_account_key \
                 in the store's `options`), run `gcloud auth application-default login`, or run \
                 where workload identity or the GCE metadata server provides them"
            }
            Problem::NoSuchBucket => {
                "the bucket does not exist: create it, or correct the bucket name in the store URL"
            }
            Problem::AccessDenied => {
                "the store denied access: check its credentials (the secret key must belong to \
                 the access key) and that they may read and write the bucket"
            }
            Problem::ObjectLockNeedsChecksum => {
                "the bucket has Object Lock with a default retention and takes only uploads with \
                 a checksum: set destination.immutable: true in the job"
            }
        }
    }
}

/// What the S3-compatible server answered to a request chatvault sent itself (the streaming
/// PUT), with the `<Code>` of its error body.
#[derive(Debug, Error)]
#[error("the {method} was answered HTTP {status}{}", code_suffix(.code.as_deref()))]
pub struct Refused {
    pub method: &'static str,
    pub status: u16,
    pub code: Option<String>,
}

fn code_suffix(code: Option<&str>) -> String {
    match (code, code.and_then(|c| judge(None, Some(c)))) {
        (Some(code), Some(Problem::NoSuchBucket)) => {
            format!(" ({code}): the bucket does not exist")
        }
        (Some(code), Some(Problem::AccessDenied)) => format!(" ({code}): access denied"),
        (Some(code), _) => format!(" ({code})"),
        (None, _) => String::new(),
    }
}

/// Finds the first fixable problem anywhere in an error's chain.
pub fn diagnose(error: &(dyn StdError + 'static)) -> Option<Problem> {
    let mut next = Some(error);
    while let Some(e) = next {
        if let Some(missing) = e.downcast_ref::<MissingCredentials>() {
            return Some(Problem::MissingCredentials(missing.cloud));
        }
        if let Some(refused) = e.downcast_ref::<Refused>() {
            return judge(Some(refused.status), refused.code.as_deref());
        }
        // object_store's request error is private; its message carries the answer's body.
        let text = e.to_string();
        if let Some(problem) = judge(None, s3_error_code(&text)) {
            return Some(problem);
        }
        if lock_refused(&text) {
            return Some(Problem::ObjectLockNeedsChecksum);
        }
        if let Some(
            object_store::Error::PermissionDenied { .. }
            | object_store::Error::Unauthenticated { .. },
        ) = e.downcast_ref::<object_store::Error>()
        {
            return Some(Problem::AccessDenied);
        }
        next = e.source();
    }
    None
}

/// What an HTTP status and an S3 error code mean.
fn judge(status: Option<u16>, code: Option<&str>) -> Option<Problem> {
    match (status, code) {
        (_, Some("NoSuchBucket")) => Some(Problem::NoSuchBucket),
        // moto's code for what AWS answers as an `InvalidRequest` ([`lock_refused`]).
        (_, Some("MissingUploadObjectWithObjectLockHeaders")) => {
            Some(Problem::ObjectLockNeedsChecksum)
        }
        (
            _,
            Some(
                "AccessDenied"
                | "SignatureDoesNotMatch"
                | "InvalidAccessKeyId"
                | "InvalidToken"
                | "ExpiredToken",
            ),
        )
        | (Some(401 | 403), _) => Some(Problem::AccessDenied),
        _ => None,
    }
}

/// Whether an S3 error body refuses an upload for want of a checksum on a bucket with Object
/// Lock. AWS answers `InvalidRequest` ("Content-MD5 OR x-amz-checksum- HTTP header is
/// required for Put Object requests with Object Lock parameters"), a code used for much else.
fn lock_refused(body: &str) -> bool {
    s3_error_code(body) == Some("InvalidRequest") && body.contains("Object Lock")
}

/// The `<Code>` of an S3 error body (`SignatureDoesNotMatch`, `AccessDenied`, …): enough to
/// act on, and unlike the rest of the body it cannot echo a request's signature.
pub fn s3_error_code(body: &str) -> Option<&str> {
    let start = body.find("<Code>")? + "<Code>".len();
    let len = body[start..].find("</Code>")?;
    let code = &body[start..start + len];
    (!code.is_empty() && code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric()))
        .then_some(code)
}

/// object_store's last resort, the instance-metadata provider, with its failure turned into
/// [`MissingCredentials`]: by the time it is asked, every other source in the chain was found
/// empty when the store was opened, so its failure means no credentials anywhere.
pub struct LastResort<C> {
    pub cloud: Cloud,
    pub inner: Arc<dyn CredentialProvider<Credential = C>>,
}

impl<C> fmt::Debug for LastResort<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LastResort")
            .field("cloud", &self.cloud)
            .field("inner", &self.inner)
            .finish()
    }
}

type CredentialFuture<'a, C> =
    Pin<Box<dyn Future<Output = object_store::Result<Arc<C>>> + Send + 'a>>;

// `CredentialProvider` is an `async_trait` trait; this is the signature it expands to.
impl<C: Send + Sync + 'static> CredentialProvider for LastResort<C> {
    type Credential = C;

    fn get_credential<'life0, 'async_trait>(&'life0 self) -> CredentialFuture<'async_trait, C>
    where
        'life0: 'async_trait,
        Self: 'async_trait,
    {
        Box::pin(async move {
            self.inner
                .get_credential()
                .await
                .map_err(|source| object_store::Error::Generic {
                    store: self.cloud.name(),
                    source: Box::new(MissingCredentials {
                        cloud: self.cloud,
                        source,
                    }),
                })
        })
    }
}

/// An error with every cause after it: a connection error's own text says only that the
/// request failed.
pub fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn other() -> object_store::Error {
        object_store::Error::Generic {
            store: "S3",
            source: "connection reset".into(),
        }
    }

    #[test]
    fn problems_are_found_anywhere_in_the_chain() {
        let missing = object_store::Error::Generic {
            store: "S3",
            source: Box::new(MissingCredentials {
                cloud: Cloud::S3,
                source: other(),
            }),
        };
        assert_eq!(
            diagnose(&missing),
            Some(Problem::MissingCredentials(Cloud::S3))
        );
        let refused = object_store::Error::Generic {
            store: "S3",
            source: Box::new(Refused {
                method: "PUT",
                status: 404,
                code: Some("NoSuchBucket".into()),
            }),
        };
        assert_eq!(diagnose(&refused), Some(Problem::NoSuchBucket));
        assert!(refused.to_string().contains("the bucket does not exist"));
        let denied = Refused {
            method: "PUT",
            status: 403,
            code: Some("SignatureDoesNotMatch".into()),
        };
        assert_eq!(diagnose(&denied), Some(Problem::AccessDenied));
        assert_eq!(diagnose(&other()), None);
    }

    #[test]
    fn an_upload_refused_by_object_lock_asks_for_immutable() {
        let answered = |body: &str| object_store::Error::Generic {
            store: "S3",
            source: format!("Client error with status 400 Bad Request: {body}").into(),
        };
        let aws = answered(
            "<Error><Code>InvalidRequest</Code><Message>Content-MD5 OR x-amz-checksum- HTTP \
             header is required for Put Object requests with Object Lock parameters</Message>\
             </Error>",
        );
        assert_eq!(diagnose(&aws), Some(Problem::ObjectLockNeedsChecksum));
        let moto = answered("<Error><Code>MissingUploadObjectWithObjectLockHeaders</Code></Error>");
        assert_eq!(diagnose(&moto), Some(Problem::ObjectLockNeedsChecksum));
        let other_invalid =
            answered("<Error><Code>InvalidRequest</Code><Message>no</Message></Error>");
        assert_eq!(diagnose(&other_invalid), None);
        assert!(
            Problem::ObjectLockNeedsChecksum
                .hint()
                .contains("destination.immutable: true")
        );
    }
}
