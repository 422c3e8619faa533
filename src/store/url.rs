//! Store locations written as URLs (`s3://`, `gs://`, `file://`), for archives and state alike.

use std::fmt;
use std::path::{Path, PathBuf};

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StoreUrl {
    S3 {
        bucket: String,
        prefix: String,
    },
    Gcs {
        bucket: String,
        prefix: String,
    },
    /// An absolute folder; relative URLs are resolved against the config folder when parsed.
    File {
        path: PathBuf,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum StoreUrlError {
    #[error(
        "unsupported URL scheme `{scheme}`: expected s3://bucket/prefix, gs://bucket/prefix or file://path"
    )]
    Scheme { scheme: String },
    #[error("expected a URL such as s3://bucket/prefix, gs://bucket/prefix or file://path")]
    NoScheme,
    #[error("bucket name `{bucket}` is not valid: {why}")]
    Bucket { bucket: String, why: &'static str },
    #[error("the prefix must not contain empty, `.` or `..` segments")]
    Prefix,
    #[error("a store URL takes no query or fragment (`?`, `#`): set options in the config")]
    Query,
    #[error("file:// needs a path, e.g. file://archive")]
    EmptyPath,
}

impl StoreUrl {
    /// Parses `text`; a relative `file://` path is taken from `base` (the config folder).
    pub fn parse(text: &str, base: &Path) -> Result<StoreUrl, StoreUrlError> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(StoreUrlError::NoScheme);
        };
        if rest.contains(['?', '#']) {
            return Err(StoreUrlError::Query);
        }
        match scheme {
            "s3" | "gs" => {
                let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
                check_bucket(bucket, scheme == "gs")?;
                let prefix = prefix.trim_end_matches('/');
                if !prefix.is_empty()
                    && prefix
                        .split('/')
                        .any(|s| s.is_empty() || s == "." || s == "..")
                {
                    return Err(StoreUrlError::Prefix);
                }
                let (bucket, prefix) = (bucket.to_owned(), prefix.to_owned());
                Ok(if scheme == "s3" {
                    StoreUrl::S3 { bucket, prefix }
                } else {
                    StoreUrl::Gcs { bucket, prefix }
                })
            }
            "file" => {
                if rest.is_empty() {
                    return Err(StoreUrlError::EmptyPath);
                }
                let path = Path::new(rest);
                Ok(StoreUrl::File {
                    path: if path.is_absolute() {
                        path.to_path_buf()
                    } else {
                        base.join(path)
                    },
                })
            }
            other => Err(StoreUrlError::Scheme {
                scheme: other.to_owned(),
            }),
        }
    }
}

/// The rules S3 and GCS share for bucket names, plus `_`, which only GCS takes (GCS also
/// allows longer dotted names; 63 characters covers the common case).
fn check_bucket(bucket: &str, underscore_ok: bool) -> Result<(), StoreUrlError> {
    let fail = |why| {
        Err(StoreUrlError::Bucket {
            bucket: bucket.to_owned(),
            why,
        })
    };
    if bucket.len() < 3 || bucket.len() > 63 {
        return fail("it must be 3 to 63 characters long");
    }
    let allowed = |c: char| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || c == '-'
            || c == '.'
            || (underscore_ok && c == '_')
    };
    if !bucket.chars().all(allowed) {
        return fail(if underscore_ok {
            "use lowercase letters, digits, `-`, `_` and `.`"
        } else {
            "use lowercase letters, digits, `-` and `.`"
        });
    }
    let ends_ok = |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric());
    if !ends_ok(bucket.chars().next()) || !ends_ok(bucket.chars().last()) {
        return fail("it must start and end with a letter or digit");
    }
    Ok(())
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (scheme, bucket, prefix) = match self {
            StoreUrl::S3 { bucket, prefix } => ("s3", bucket, prefix),
            StoreUrl::Gcs { bucket, prefix } => ("gs", bucket, prefix),
            StoreUrl::File { path } => return write!(f, "file://{}", path.display()),
        };
        if prefix.is_empty() {
            write!(f, "{scheme}://{bucket}")
        } else {
            write!(f, "{scheme}://{bucket}/{prefix}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<StoreUrl, StoreUrlError> {
        StoreUrl::parse(text, Path::new("/repo"))
    }

    #[test]
    fn cloud_urls_split_bucket_and_prefix() {
        assert_eq!(
            parse("s3://acme-archive/stream/"),
            Ok(StoreUrl::S3 {
                bucket: "acme-archive".into(),
                prefix: "stream".into()
            })
        );
        assert_eq!(
            parse("gs://acme").map(|u| u.to_string()),
            Ok("gs://acme".into())
        );
    }

    #[test]
    fn relative_file_urls_are_read_from_the_config_folder() {
        assert_eq!(
            parse("file://archive").map(|u| u.to_string()),
            Ok("file:///repo/archive".into())
        );
        assert_eq!(
            parse("file:///var/archive").map(|u| u.to_string()),
            Ok("file:///var/archive".into())
        );
    }

    #[test]
    fn bad_urls_say_what_is_expected() {
        assert!(matches!(
            parse("ftp://x/y"),
            Err(StoreUrlError::Scheme { .. })
        ));
        assert!(matches!(
            parse("memory://"),
            Err(StoreUrlError::Scheme { .. })
        ));
        assert_eq!(parse("archive"), Err(StoreUrlError::NoScheme));
        assert!(matches!(
            parse("s3://Acme"),
            Err(StoreUrlError::Bucket { .. })
        ));
        assert!(matches!(
            parse("s3://a_b_c"),
            Err(StoreUrlError::Bucket { .. })
        ));
        assert!(parse("gs://a_b_c").is_ok());
        assert_eq!(parse("s3://acme/a/../b"), Err(StoreUrlError::Prefix));
        assert_eq!(parse("s3://acme/a?x=1"), Err(StoreUrlError::Query));
    }
}
