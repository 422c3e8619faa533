//! Re-reading archives and checking them against their manifests: what `chatvault verify`
//! reports.

use std::collections::BTreeSet;

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::Serialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

use super::catalog::CATALOG_SUFFIX;
use super::manifest::{self, MANIFEST_SUFFIX, Manifest, ManifestError};
use super::transfer::hex;
use crate::store::Store;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Archives whose bytes match their manifest.
    pub verified: Vec<String>,
    /// Manifests whose archive is not there.
    pub missing: Vec<String>,
    /// Archives whose size or SHA-256 differ from their manifest, with what differs.
    pub corrupt: Vec<Problem>,
    /// Objects that no manifest names: unfinished or foreign files.
    pub extra: Vec<String>,
    /// Manifests that cannot be read.
    pub unreadable: Vec<Problem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub key: String,
    pub problem: String,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.corrupt.is_empty()
            && self.extra.is_empty()
            && self.unreadable.is_empty()
    }
}

#[derive(Debug, Error)]
pub enum VerifyError {
    #[error("cannot list {url}: {source}")]
    List {
        url: String,
        #[source]
        source: object_store::Error,
    },
}

/// Checks every archive in the store, or only those of `job`. Objects no manifest names are
/// reported whatever the job, since they belong to none.
pub async fn verify(store: &Store, job: Option<&str>) -> Result<Report, VerifyError> {
    let keys: BTreeSet<String> = store
        .object_store()
        .list(None)
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .map_err(|source| VerifyError::List {
            url: store.url().to_owned(),
            source,
        })?;
    let mut report = Report::default();
    let mut named = BTreeSet::new();
    for key in keys.iter().filter(|k| k.ends_with(MANIFEST_SUFFIX)) {
        let manifest = match manifest::read_at(store, key).await {
            Ok(Some(m)) => m,
            Ok(None) => continue,
            Err(e) => {
                report.unreadable.push(Problem {
                    key: key.clone(),
                    problem: describe(&e),
                });
                continue;
            }
        };
        named.insert(manifest.key.clone());
        if job.is_some_and(|j| j != manifest.job) {
            continue;
        }
        if !keys.contains(&manifest.key) {
            report.missing.push(manifest.key.clone());
            continue;
        }
        match check(store, &manifest).await {
            Ok(()) => report.verified.push(manifest.key.clone()),
            Err(problem) => report.corrupt.push(Problem {
                key: manifest.key.clone(),
                problem,
            }),
        }
    }
    // A catalog record (`chatvault index`) belongs to the archive it names, like a manifest.
    let sidecar = |k: &str| {
        k.strip_suffix(CATALOG_SUFFIX)
            .is_some_and(|archive| named.contains(archive))
    };
    report.extra = keys
        .into_iter()
        .filter(|k| !k.ends_with(MANIFEST_SUFFIX) && !named.contains(k) && !sidecar(k))
        .collect();
    Ok(report)
}

fn describe(e: &ManifestError) -> String {
    match e {
        ManifestError::Invalid { source, .. } => format!("not a chatvault manifest: {source}"),
        other => other.to_string(),
    }
}

/// Streams the archive through SHA-256 and compares it with the manifest.
pub async fn check(store: &Store, manifest: &Manifest) -> Result<(), String> {
    let got = store
        .object_store()
        .get(&ObjectPath::from(manifest.key.as_str()))
        .await
        .map_err(|e| format!("cannot read: {e}"))?;
    let mut stream = got.into_stream();
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    while let Some(chunk) = stream
        .try_next()
        .await
        .map_err(|e| format!("cannot read: {e}"))?
    {
        size += chunk.len() as u64;
        hasher.update(&chunk);
    }
    let sha256 = hex(&hasher.finalize());
    if size != manifest.bytes_stored {
        return Err(format!(
            "{size} bytes where the manifest says {}",
            manifest.bytes_stored
        ));
    }
    if sha256 != manifest.sha256 {
        return Err(format!(
            "SHA-256 {sha256} where the manifest says {}",
            manifest.sha256
        ));
    }
    Ok(())
}
