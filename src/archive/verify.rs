//! Re-reading archives and checking them against their manifests, and their captured files
//! against their media records: what `chatvault verify` reports.

mod media;

use futures::TryStreamExt;
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::manifest::Manifest;
use super::media::layout;
use super::reading::{Listing, NoArchives, Problem, Source};
use super::transfer::hex;
use crate::store::Store;

pub use media::MediaReport;

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
    /// The captured files of the archives verified.
    pub media: MediaReport,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.corrupt.is_empty()
            && self.extra.is_empty()
            && self.unreadable.is_empty()
            && self.media.is_clean()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    List(String),
    #[error(transparent)]
    Nothing(#[from] NoArchives),
}

/// Checks every archive in the store, or only those of `job`, and the files their newest
/// media records say are stored (below `media_prefix`, or wherever a record says). Objects no
/// manifest or record names are reported whatever the job, since they belong to none. A store
/// without a manifest (of the job) is an error: there is nothing to verify, which a typo in
/// the URL also gives.
pub async fn verify(
    store: &Store,
    job: Option<&str>,
    media_prefix: &str,
) -> Result<Report, VerifyError> {
    let source = Source {
        job: job.map(str::to_owned),
        store: store.clone(),
        media_prefix: media_prefix.to_owned(),
    };
    let listing = Listing::list(std::slice::from_ref(&source)).await;
    if let Some(failed) = listing.problems.iter().find(|p| p.key == store.url()) {
        return Err(VerifyError::List(failed.problem.clone()));
    }
    let mut report = Report {
        unreadable: listing.problems.clone(),
        ..Report::default()
    };
    if report.unreadable.is_empty()
        && let Some(nothing) = listing.nothing()
    {
        return Err(VerifyError::Nothing(nothing));
    }
    for listed in &listing.archives {
        let manifest = &listed.manifest;
        if !listed.present {
            report.missing.push(manifest.key.clone());
            continue;
        }
        match check(store, manifest).await {
            Ok(()) => report.verified.push(manifest.key.clone()),
            Err(problem) => report.corrupt.push(Problem::new(&manifest.key, problem)),
        }
    }
    let (media, prefixes) = media::check(&listing).await;
    report.media = media;
    report.extra = listing
        .locations
        .iter()
        .flat_map(|l| l.extra())
        .filter(|key| !prefixes.iter().any(|p| layout::is_media_key(p, key)))
        .cloned()
        .collect();
    Ok(report)
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
