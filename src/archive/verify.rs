//! Re-reading archives and checking them against their manifests, their captured files
//! against their media records, every document's signature, and each job's chain of seals
//! against the documents: what `chatvault verify` reports.

mod chain;
mod documents;
mod media;
mod signatures;
mod standing;

use std::collections::{BTreeMap, BTreeSet};

use futures::{StreamExt, TryStreamExt};
use object_store::ObjectStoreExt;
use object_store::path::Path as ObjectPath;
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::manifest::Manifest;
use super::media::layout;
use super::reading::{Listing, NoArchives, Problem, Source};
use super::seal::{SEALS_PREFIX, parse_seal_key, read_chain, seals_folder};
use super::transfer::hex;
use crate::signing::{self, Check, Keyring};
use crate::store::{Store, json};

pub use chain::{Head, JobChain, NotSealed, Removed, SealReport, StateHead};
use chain::{Newest, Removals};
pub use media::MediaReport;
pub use signatures::SignatureReport;
pub use standing::{Placed as SealPlaced, SealStatus, Shown as SealShown, seal_status};

/// Documents a seal names that are not among those read, read at once.
const NAMED_AT_ONCE: usize = 16;

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
    /// The signatures of the manifests, records and seals.
    pub signatures: SignatureReport,
    /// Each job's chain of seals, and the documents against it.
    pub seals: SealReport,
}

impl Report {
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.corrupt.is_empty()
            && self.extra.is_empty()
            && self.unreadable.is_empty()
            && self.media.is_clean()
            && self.signatures.problems.is_empty()
            && self.seals.problems.is_empty()
    }

    /// Compares each job's chain with the newest seal the state store records for it: a
    /// chain cut short at its end leaves no gap, only the state can tell.
    pub fn compare_heads(&mut self, heads: &BTreeMap<String, StateHead>) {
        let seals = &mut self.seals;
        for chain in &seals.jobs {
            if let Some(state) = heads.get(&chain.job) {
                chain::state_head(&chain.job, state, &chain.links, &mut seals.problems);
            }
        }
        seals.problems.sort();
    }
}

/// What `verify` trusts and requires beyond the archives themselves.
#[derive(Debug, Clone, Copy)]
pub struct Checks<'a> {
    /// Only this job's archives and seals; every job found when `None`.
    pub job: Option<&'a str>,
    /// Where the job keeps captured files (`media.prefix`).
    pub media_prefix: &'a str,
    /// The public keys signatures are checked against; none given: signed documents are
    /// counted as not checked.
    pub keys: &'a Keyring,
    /// Unsigned documents and jobs without a seal are errors.
    pub require_signatures: bool,
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
    let checks = Checks {
        job,
        media_prefix,
        keys: &Keyring::default(),
        require_signatures: false,
    };
    verify_with(store, &checks).await
}

/// [`verify`], and the signatures and seals of each job found: by its manifests' `job` and by
/// the folders of seals. A store with seals and no manifest is checked too: its archives may
/// have been deleted.
pub async fn verify_with(store: &Store, checks: &Checks<'_>) -> Result<Report, VerifyError> {
    let (job, media_prefix) = (checks.job, checks.media_prefix);
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
    let jobs = jobs(store, &listing, job).await?;
    let sealed_jobs = jobs.iter().filter(|j| *j.1).count();
    if report.unreadable.is_empty()
        && sealed_jobs == 0
        && let Some(nothing) = listing.nothing()
    {
        return Err(VerifyError::Nothing(nothing));
    }
    let jobs: BTreeSet<String> = jobs.into_keys().collect();
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
    let documents = documents::read(&listing, &jobs, checks.keys).await;
    let (media, prefixes) = media::check(&listing, &documents.media_records).await;
    report.media = media;
    let removals = seals(store, checks, &jobs, &documents, &mut report).await;
    let mut media_prefixes: Vec<String> = prefixes.iter().cloned().collect();
    media_prefixes.push(media_prefix.to_owned());
    unfinished(&removals, &media_prefixes, &mut report);
    report.extra.extend(
        listing
            .locations
            .iter()
            .flat_map(|l| l.extra())
            .filter(|key| !prefixes.iter().any(|p| layout::is_media_key(p, key)))
            .cloned(),
    );
    report.extra.sort();
    Ok(report)
}

/// Every job to check with whether it has a seals folder: `job` alone when given, else the
/// jobs of the manifests listed and those with a folder of seals.
async fn jobs(
    store: &Store,
    listing: &Listing,
    job: Option<&str>,
) -> Result<BTreeMap<String, bool>, VerifyError> {
    let root = ObjectPath::from(SEALS_PREFIX);
    let listed = store
        .object_store()
        .list_with_delimiter(Some(&root))
        .await
        .map_err(|e| VerifyError::List(format!("cannot list {SEALS_PREFIX}/: {e}")))?;
    let sealed = listed
        .common_prefixes
        .iter()
        .filter_map(|p| p.filename().map(str::to_owned));
    let mut jobs: BTreeMap<String, bool> = match job {
        Some(job) => [(job.to_owned(), false)].into(),
        None => listing
            .archives
            .iter()
            .map(|a| (a.manifest.job.clone(), false))
            .collect(),
    };
    for found in sealed {
        if job.is_none_or(|job| job == found) {
            jobs.insert(found, true);
        }
    }
    Ok(jobs)
}

/// What removal records name and is still there is unfinished, not missing or extra: an
/// archive whose manifest stays (the archive deleted first), a captured file whose records
/// are gone.
fn unfinished(removals: &Removals, prefixes: &[String], report: &mut Report) {
    let still = &mut report.seals.unfinished;
    report
        .missing
        .retain(|key| match removals.archives.get(key) {
            Some((record, kind)) => {
                still.push(Problem::new(
                    key,
                    format!(
                        "{} removes this archive; its manifest is still there: run expire (or \
                     erase) again to finish",
                        chain::record_name(*kind, *record)
                    ),
                ));
                false
            }
            None => true,
        });
    report.media.extra.retain(|key| {
        let named = prefixes
            .iter()
            .find_map(|p| layout::sha256_of(p, key))
            .and_then(|sha256| removals.media.get(&sha256));
        match named {
            Some((record, kind)) => {
                still.push(Problem::new(
                    key,
                    format!(
                        "{} removes this captured file, still there: run expire (or erase) \
                         again to finish",
                        chain::record_name(*kind, *record)
                    ),
                ));
                false
            }
            None => true,
        }
    });
    still.sort();
}

/// Checks every job's signatures and chain, and its documents against the chain; what the
/// removal records of every job name.
async fn seals(
    store: &Store,
    checks: &Checks<'_>,
    jobs: &BTreeSet<String>,
    documents: &documents::Documents,
    report: &mut Report,
) -> Removals {
    let mut all_removals = Removals::default();
    let keys_given = !checks.keys.is_empty();
    let require = checks.require_signatures;
    for document in documents.found.values() {
        report
            .signatures
            .count(&document.key, &document.signature, keys_given, require);
    }
    let found = &mut report.seals;
    found.problems.extend(documents.unreadable.iter().cloned());
    for job in jobs {
        let seals = match read_chain(store, job).await {
            Ok(seals) => seals,
            Err(e) => {
                found
                    .problems
                    .push(Problem::new(seals_folder(job), e.to_string()));
                continue;
            }
        };
        // Once a job's seals are signed they stay signed: an unsigned seal after a signed one
        // was added by someone without the key (and would otherwise "seal" what it names).
        let mut first_signed: Option<u64> = None;
        for (seal, doc) in seals
            .iter()
            .filter_map(|s| s.seal.as_ref().ok().map(|doc| (s, doc)))
        {
            let check = signing::check(&seal.bytes, checks.keys);
            match (check == Check::Unsigned, first_signed) {
                (false, None) => first_signed = Some(doc.sequence),
                (true, Some(signed)) => found.problems.push(Problem::new(
                    &seal.key,
                    format!(
                        "unsigned, though seal {signed} before it is signed: a seal added by \
                         someone without the key?"
                    ),
                )),
                _ => {}
            }
            report
                .signatures
                .count(&seal.key, &check, keys_given, require);
        }
        let newest_signed = first_signed.is_some();
        match stray_seal_files(store, job).await {
            Ok(stray) => report.extra.extend(stray),
            Err(problem) => found.problems.push(problem),
        }
        let (head, newest) = chain::links(job, &seals, &mut found.problems);
        let newest = newest.map(|sealed_at| Newest {
            sealed_at,
            signed: newest_signed,
        });
        let named = chain::named(&seals);
        let removals = chain::removals(&seals);
        let (elsewhere, unreadable) = read_named(store, &named, &documents.found).await;
        found.problems.extend(unreadable);
        let before = found.not_sealed.len();
        chain::coverage(
            job,
            &named,
            &removals,
            &documents.found,
            &elsewhere,
            newest,
            keys_given,
            found,
        );
        if require && let Some(not_sealed) = found.not_sealed.get(before) {
            found.problems.push(Problem::new(
                seals_folder(job),
                format!(
                    "no seal: {} document(s) of job {job} are not sealed, and \
                     --require-signatures says every one must be",
                    not_sealed.documents
                ),
            ));
        }
        found.jobs.push(JobChain {
            job: job.clone(),
            seals: seals.len(),
            head,
            links: seals
                .iter()
                .filter_map(|s| parse_seal_key(&s.key).map(|(_, n)| (n, s.sha256.clone())))
                .collect(),
        });
        all_removals.extend(removals);
    }
    found.problems.sort();
    found.removed.sort_by(|a, b| a.key.cmp(&b.key));
    found.unfinished.sort();
    report.signatures.problems.sort();
    all_removals
}

/// The objects in the seals folder of `job` that are no seal of it (a `notes.txt`, a
/// `….json.bak`): a seal is read only by its key, so anything else there is extra.
async fn stray_seal_files(store: &Store, job: &str) -> Result<Vec<String>, Problem> {
    let folder = seals_folder(job);
    let keys: Vec<String> = store
        .object_store()
        .list(Some(&ObjectPath::from(folder.as_str())))
        .map_ok(|meta| meta.location.to_string())
        .try_collect()
        .await
        .map_err(|e| Problem::new(&folder, format!("cannot list: {e}")))?;
    Ok(keys
        .into_iter()
        .filter(|key| parse_seal_key(key).is_none_or(|(j, _)| j != job))
        .collect())
}

/// The SHA-256 of every key the seals name that is not among the documents read (a record of
/// an archive whose manifest is gone, say); `None` for those the store does not hold. Those
/// that cannot be read are problems.
async fn read_named(
    store: &Store,
    named: &BTreeMap<String, (u64, String)>,
    found: &BTreeMap<String, documents::Document>,
) -> (BTreeMap<String, Option<String>>, Vec<Problem>) {
    let mut reads = futures::stream::iter(named.keys().filter(|k| !found.contains_key(*k)))
        .map(|key| async move {
            let got = json::read_bytes(store, &ObjectPath::from(key.as_str())).await;
            (key, got)
        })
        .buffer_unordered(NAMED_AT_ONCE);
    let (mut hashes, mut problems) = (BTreeMap::new(), Vec::new());
    while let Some((key, got)) = reads.next().await {
        match got {
            Ok(bytes) => {
                hashes.insert(key.clone(), bytes.map(|b| hex(&Sha256::digest(&b))));
            }
            Err(e) => problems.push(Problem::new(key, format!("cannot read: {e}"))),
        }
    }
    (hashes, problems)
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
