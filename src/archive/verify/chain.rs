//! A job's seals checked as one chain (sequences 1..n without a gap, each naming the SHA-256
//! of the one before, each in its own job's folder), and the job's documents against what the
//! seals name: every document a seal names is there with the bytes it had, and every document
//! is named by a seal, unless it was written after the newest one.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::documents::Document;
use crate::archive::reading::Problem;
use crate::archive::seal::{RemovalKind, StoredSeal, parse_seal_key, seal_key, seals_folder};
use crate::signing::Check;

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SealReport {
    /// Per job found (by its manifests and by its seals' folder), its chain.
    pub jobs: Vec<JobChain>,
    /// Documents a seal names that are there with the bytes it names.
    pub sealed: usize,
    /// Documents written after the newest seal of their job: the next run's seal names them.
    pub awaiting: usize,
    /// Of those, signed ones in a job whose seals are signed, counted as awaiting although no
    /// public key was given to check them.
    pub awaiting_not_checked: usize,
    /// Jobs with unsigned documents and no seal at all: written before sealing began.
    pub not_sealed: Vec<NotSealed>,
    /// A broken chain, a document a seal names missing or changed, a document no seal
    /// names, a state head the chain does not hold.
    pub problems: Vec<Problem>,
    /// Documents a seal named that an expiry or erasure record names with the same bytes,
    /// and that are gone: the gap the record accounts for.
    pub removed: Vec<Removed>,
    /// Things a removal record names that are still there: an `expire` or `erase` killed
    /// half-way, which a rerun finishes. A warning, not an error.
    pub unfinished: Vec<Problem>,
}

/// A document a removal record accounts for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Removed {
    pub key: String,
    /// In words: `expiry record 4`, `erasure record 7`.
    pub by: String,
}

/// What the removal records of a chain name, each with the first record naming it.
#[derive(Debug, Default, Clone)]
pub struct Removals {
    /// Per document key: the record's sequence and kind, and the SHA-256 it names.
    pub documents: BTreeMap<String, (u64, RemovalKind, String)>,
    pub archives: BTreeMap<String, (u64, RemovalKind)>,
    /// Captured files, by SHA-256.
    pub media: BTreeMap<String, (u64, RemovalKind)>,
}

impl Removals {
    pub fn extend(&mut self, other: Removals) {
        for (key, at) in other.documents {
            self.documents.entry(key).or_insert(at);
        }
        for (key, at) in other.archives {
            self.archives.entry(key).or_insert(at);
        }
        for (key, at) in other.media {
            self.media.entry(key).or_insert(at);
        }
    }
}

/// A removal record in words.
pub fn record_name(kind: RemovalKind, sequence: u64) -> String {
    match kind {
        RemovalKind::Expiry => format!("expiry record {sequence}"),
        RemovalKind::Erasure => format!("erasure record {sequence}"),
    }
}

/// What the removal records among `seals` name.
pub fn removals(seals: &[StoredSeal]) -> Removals {
    let mut found = Removals::default();
    for seal in seals.iter().filter_map(|s| s.seal.as_ref().ok()) {
        let Some(removal) = &seal.removal else {
            continue;
        };
        let at = (seal.sequence, removal.kind);
        for covered in &removal.documents {
            found.documents.entry(covered.key.clone()).or_insert((
                seal.sequence,
                removal.kind,
                covered.sha256.clone(),
            ));
        }
        for key in &removal.archives {
            found.archives.entry(key.clone()).or_insert(at);
        }
        for sha256 in &removal.media {
            found.media.entry(sha256.clone()).or_insert(at);
        }
    }
    found
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JobChain {
    pub job: String,
    /// Seals found.
    pub seals: usize,
    /// The newest seal found: the chain's head.
    pub head: Option<Head>,
    /// Each seal found: its sequence and SHA-256, for comparing the state's head.
    #[serde(skip)]
    pub links: Vec<(u64, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    pub key: String,
    pub sequence: u64,
    /// The SHA-256 (hex) of its stored bytes.
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotSealed {
    pub job: String,
    pub documents: usize,
}

/// What the state store says the newest seal of a job is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateHead {
    pub sequence: u64,
    pub sha256: String,
}

/// Checks that `seals` (of `job`, in key order) form one chain; returns the head and the
/// newest `sealed_at`.
pub fn links(
    job: &str,
    seals: &[StoredSeal],
    problems: &mut Vec<Problem>,
) -> (Option<Head>, Option<DateTime<Utc>>) {
    let mut expected = 1u64;
    let mut before: Option<(u64, &StoredSeal)> = None;
    let mut newest_sealed_at = None;
    for stored in seals {
        let Some((_, n)) = parse_seal_key(&stored.key) else {
            continue;
        };
        if n > expected {
            let missing = if n == expected + 1 {
                format!("missing: seal {expected} of job {job} is gone, seal {n} follows it")
            } else {
                format!(
                    "missing: seals {expected} to {} of job {job} are gone, seal {n} follows them",
                    n - 1
                )
            };
            problems.push(Problem::new(seal_key(job, expected), missing));
        }
        match &stored.seal {
            Err(reason) => problems.push(Problem::new(&stored.key, reason.clone())),
            Ok(seal) => {
                if seal.sequence != n {
                    problems.push(Problem::new(
                        &stored.key,
                        format!("says it is seal {}, its key says {n}", seal.sequence),
                    ));
                }
                if seal.job != job {
                    problems.push(Problem::new(
                        &stored.key,
                        format!("names job {}, but lies in the seals of job {job}", seal.job),
                    ));
                }
                match (&seal.previous, before) {
                    (None, _) if n == 1 => {}
                    (Some(_), _) if n == 1 => problems.push(Problem::new(
                        &stored.key,
                        "is the first seal but names a seal before it",
                    )),
                    (None, _) => problems.push(Problem::new(
                        &stored.key,
                        format!("names no seal before it, but is seal {n}"),
                    )),
                    (Some(previous), Some((m, prior))) if m + 1 == n => {
                        if *previous != prior.sha256 {
                            problems.push(Problem::new(
                                &stored.key,
                                format!(
                                    "its link does not match seal {m}: it names SHA-256 \
                                     {previous}, seal {m}'s bytes have {}; seal {m} was \
                                     replaced, or this seal's link was changed",
                                    prior.sha256
                                ),
                            ));
                        }
                    }
                    // The seal before is missing: reported as the gap.
                    (Some(_), _) => {}
                }
                newest_sealed_at = newest_sealed_at.max(Some(seal.sealed_at));
            }
        }
        before = Some((n, stored));
        expected = n + 1;
    }
    let head = before.map(|(sequence, stored)| Head {
        key: stored.key.clone(),
        sequence,
        sha256: stored.sha256.clone(),
    });
    (head, newest_sealed_at)
}

/// Each key the seals name, with the first seal naming it and the SHA-256 it names.
pub fn named(seals: &[StoredSeal]) -> BTreeMap<String, (u64, String)> {
    let mut named = BTreeMap::new();
    for seal in seals.iter().filter_map(|s| s.seal.as_ref().ok()) {
        for covered in &seal.covers {
            named
                .entry(covered.key.clone())
                .or_insert_with(|| (seal.sequence, covered.sha256.clone()));
        }
    }
    named
}

/// The newest seal of a job, as far as the documents after it are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Newest {
    pub sealed_at: DateTime<Utc>,
    /// It carries a signature (whether or not it could be checked): the job signs, so a
    /// document written since that does not verify was not written by it.
    pub signed: bool,
}

/// Compares what the seals of a job name with the documents: `found` the documents read,
/// `elsewhere` the SHA-256 of the named keys not among them (`None`: not in the store; a key
/// in neither could not be read). Without a seal, the job's unsigned documents count as not
/// sealed; signed ones are an error, since signing and sealing came in the same version.
/// `keys_given`: whether signatures could be checked at all.
/// A document a removal record names (`removals`) is accepted as gone when the record
/// names the bytes a seal sealed; one it names with other bytes, or that no seal named, is an
/// error, and one still there is unfinished.
#[allow(clippy::too_many_arguments)]
pub fn coverage(
    job: &str,
    named: &BTreeMap<String, (u64, String)>,
    removals: &Removals,
    found: &BTreeMap<String, Document>,
    elsewhere: &BTreeMap<String, Option<String>>,
    newest: Option<Newest>,
    keys_given: bool,
    report: &mut SealReport,
) {
    for (key, (record, kind, _)) in &removals.documents {
        if !named.contains_key(key) {
            report.problems.push(Problem::new(
                key,
                format!(
                    "{} names it as removed, but no seal of job {job} sealed it",
                    record_name(*kind, *record)
                ),
            ));
        }
    }
    for (key, (sequence, sealed)) in named {
        let removal = removals.documents.get(key);
        if let Some((record, kind, named_as)) = removal
            && named_as != sealed
        {
            report.problems.push(Problem::new(
                key,
                format!(
                    "{} names it with SHA-256 {named_as}, but seal {sequence} sealed \
                     {sealed}: the record does not account for these bytes",
                    record_name(*kind, *record)
                ),
            ));
            continue;
        }
        let now = match (found.get(key), elsewhere.get(key)) {
            (Some(document), _) => Some(&document.sha256),
            (None, Some(now)) => now.as_ref(),
            // It could not be read: reported as such.
            (None, None) => continue,
        };
        match (now, removal) {
            (None, Some((record, kind, _))) => report.removed.push(Removed {
                key: key.clone(),
                by: record_name(*kind, *record),
            }),
            (None, None) => report.problems.push(Problem::new(
                key,
                format!("named by seal {sequence}, missing"),
            )),
            (Some(now), _) if now != sealed => report.problems.push(Problem::new(
                key,
                format!(
                    "changed since seal {sequence} sealed it: SHA-256 {now} where the seal \
                     names {sealed}"
                ),
            )),
            (Some(_), Some((record, kind, _))) => {
                report.sealed += 1;
                report.unfinished.push(Problem::new(
                    key,
                    format!(
                        "{} removes it, but it is still there: run expire (or erase) again to \
                         finish",
                        record_name(*kind, *record)
                    ),
                ));
            }
            (Some(_), None) => report.sealed += 1,
        }
    }
    let mine: Vec<&Document> = found
        .values()
        .filter(|d| d.job == job && !named.contains_key(&d.key))
        .collect();
    let Some(newest) = newest else {
        if named.is_empty() && !mine.is_empty() {
            not_sealed(job, &mine, report);
        }
        return;
    };
    for document in mine {
        match document.written_at {
            Some(at) if at > newest.sealed_at => {
                awaiting(job, document, newest, keys_given, report)
            }
            _ => report.problems.push(Problem::new(
                &document.key,
                format!(
                    "no seal names it, though it was written before the newest seal of job \
                     {job} ({})",
                    newest.sealed_at.to_rfc3339()
                ),
            )),
        }
    }
}

/// The documents of a job without any seal: unsigned ones were written before sealing
/// began; signed ones cannot have been, so the seals were removed (or the first signed run
/// has not written its seal yet).
fn not_sealed(job: &str, mine: &[&Document], report: &mut SealReport) {
    let signed = mine
        .iter()
        .filter(|d| d.signature != Check::Unsigned)
        .count();
    let unsigned = mine.len() - signed;
    if signed > 0 {
        report.problems.push(Problem::new(
            seals_folder(job),
            format!(
                "{signed} signed document(s) and no seal: the job's seals were removed, or its \
                 first signed run has not written its seal yet"
            ),
        ));
    }
    if unsigned > 0 {
        report.not_sealed.push(NotSealed {
            job: job.to_owned(),
            documents: unsigned,
        });
    }
}

/// A document written after the newest seal. In a job whose seals are signed, only one
/// that verifies with a key given awaits its seal; without keys, a signed one is counted as
/// awaiting, its signature not checked.
fn awaiting(
    job: &str,
    document: &Document,
    newest: Newest,
    keys_given: bool,
    report: &mut SealReport,
) {
    if !newest.signed {
        report.awaiting += 1;
        return;
    }
    let why = match &document.signature {
        Check::Valid { .. } => {
            report.awaiting += 1;
            return;
        }
        Check::UnknownKey { .. } if !keys_given => {
            report.awaiting += 1;
            report.awaiting_not_checked += 1;
            return;
        }
        Check::Unsigned => "unsigned",
        Check::UnknownKey { .. } => "signed by a key none of the public keys given is",
        Check::Invalid { .. } | Check::Malformed { .. } => "its signature does not hold",
    };
    report.problems.push(Problem::new(
        &document.key,
        format!(
            "{why} and not sealed, though the seals of job {job} are signed: planted after the \
             fact?"
        ),
    ));
}

/// Compares the state's head of a job with its chain, given as the sequence and SHA-256 of
/// each seal found. A head older than the newest seal is no break (a run killed between its
/// seal and its end leaves one behind); a head the chain lacks is.
pub fn state_head(
    job: &str,
    state: &StateHead,
    links: &[(u64, String)],
    problems: &mut Vec<Problem>,
) {
    let key = seal_key(job, state.sequence);
    match links.iter().find(|(n, _)| *n == state.sequence) {
        Some((_, sha256)) if *sha256 == state.sha256 => {}
        Some((_, sha256)) => problems.push(Problem::new(
            key,
            format!(
                "the state says this seal has SHA-256 {}, its bytes have {sha256}",
                state.sha256
            ),
        )),
        None => {
            let newest = links.iter().map(|(n, _)| *n).max().unwrap_or(0);
            let problem = if state.sequence > newest {
                format!(
                    "missing: the state says seal {} of job {job} was written, the newest found \
                     is {newest}: seals were removed from the end",
                    state.sequence
                )
            } else {
                format!("missing: the state names it as job {job}'s newest seal")
            };
            problems.push(Problem::new(key, problem));
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use chrono::TimeZone as _;
    use sha2::{Digest, Sha256};

    use super::*;
    use crate::archive::seal::{Covered, FORMAT, Seal};
    use crate::archive::transfer::hex;
    use crate::signing::{Check, signed_json};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, hour, 0, 0)
            .single()
            .expect("a time")
    }

    /// A chain of `n` seals of `job`, seal `i` sealed at hour `i` naming `covers[i - 1]`.
    fn chain(job: &str, covers: &[&[(&str, &str)]]) -> Vec<StoredSeal> {
        let mut seals: Vec<StoredSeal> = Vec::new();
        for (i, covered) in covers.iter().enumerate() {
            let sequence = i as u64 + 1;
            let seal = Seal {
                format: FORMAT,
                job: job.to_owned(),
                sequence,
                sealed_at: at(sequence as u32),
                previous: seals.last().map(|s| s.sha256.clone()),
                covers: covered
                    .iter()
                    .map(|(key, sha256)| Covered {
                        key: (*key).to_owned(),
                        sha256: (*sha256).to_owned(),
                    })
                    .collect(),
                chatvault_version: "test".to_owned(),
                removal: None,
            };
            seals.push(stored(seal));
        }
        seals
    }

    fn stored(seal: Seal) -> StoredSeal {
        let bytes = signed_json(&seal, None).expect("json");
        StoredSeal {
            key: seal_key(&seal.job, seal.sequence),
            sha256: hex(&Sha256::digest(&bytes)),
            bytes: Bytes::from(bytes),
            seal: Ok(seal),
        }
    }

    fn document(key: &str, sha256: &str, hour: u32) -> (String, Document) {
        let document = Document {
            key: key.to_owned(),
            job: "daily".to_owned(),
            sha256: sha256.to_owned(),
            signature: Check::Unsigned,
            written_at: Some(at(hour)),
        };
        (key.to_owned(), document)
    }

    fn problems(job: &str, seals: &[StoredSeal]) -> Vec<Problem> {
        let mut problems = Vec::new();
        links(job, seals, &mut problems);
        problems
    }

    #[test]
    fn an_unbroken_chain_has_its_newest_seal_as_head() {
        let seals = chain("daily", &[&[], &[], &[]]);
        let mut found = Vec::new();
        let (head, newest) = links("daily", &seals, &mut found);
        assert_eq!(found, []);
        let head = head.expect("a head");
        assert_eq!((head.sequence, head.sha256), (3, seals[2].sha256.clone()));
        assert_eq!(newest, Some(at(3)));
    }

    #[test]
    fn a_seal_removed_from_the_middle_is_named() {
        let mut seals = chain("daily", &[&[], &[], &[], &[], &[]]);
        seals.remove(1);
        let found = problems("daily", &seals);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, seal_key("daily", 2));
        assert!(found[0].problem.starts_with("missing: seal 2"), "{found:?}");

        seals.remove(1);
        let found = problems("daily", &seals);
        assert!(
            found[0].problem.starts_with("missing: seals 2 to 3"),
            "{found:?}"
        );
    }

    #[test]
    fn a_replaced_seal_breaks_the_link_of_the_one_after_it() {
        let mut seals = chain("daily", &[&[], &[], &[]]);
        let mut forged = seals[1].seal.clone().expect("a seal");
        forged.sealed_at = at(20);
        seals[1] = stored(forged);
        let found = problems("daily", &seals);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(found[0].key, seal_key("daily", 3));
        assert!(
            found[0]
                .problem
                .starts_with("its link does not match seal 2"),
            "{found:?}"
        );
    }

    #[test]
    fn a_seal_of_another_job_or_number_is_named() {
        let mut seals = chain("daily", &[&[], &[]]);
        let mut moved = chain("hourly", &[&[], &[]])[1].clone();
        moved.key = seal_key("daily", 2);
        if let Ok(seal) = &mut moved.seal {
            seal.previous = Some(seals[0].sha256.clone());
            seal.sequence = 7;
        }
        seals[1] = moved;
        let found: Vec<String> = problems("daily", &seals)
            .into_iter()
            .map(|p| p.problem)
            .collect();
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(found[0].contains("seal 7"), "{found:?}");
        assert!(found[1].contains("job hourly"), "{found:?}");
    }

    #[test]
    fn documents_are_sealed_missing_changed_or_awaiting_by_what_the_seals_name() {
        let seals = chain(
            "daily",
            &[
                &[("a.manifest.json", "aa"), ("gone.manifest.json", "bb")],
                &[("b.manifest.json", "cc"), ("b.media.1.json", "dd")],
            ],
        );
        let found: BTreeMap<String, Document> = [
            document("a.manifest.json", "aa", 0),
            document("b.manifest.json", "c0", 1),
            document("late.manifest.json", "ee", 5),
            document("early.manifest.json", "ff", 1),
        ]
        .into_iter()
        .collect();
        let elsewhere = [("b.media.1.json".to_owned(), Some("dd".to_owned()))]
            .into_iter()
            .chain([("gone.manifest.json".to_owned(), None)])
            .collect();
        let mut report = SealReport::default();
        let named = named(&seals);
        coverage(
            "daily",
            &named,
            &Removals::default(),
            &found,
            &elsewhere,
            Some(unsigned_at(2)),
            true,
            &mut report,
        );
        assert_eq!((report.sealed, report.awaiting), (2, 1));
        let problems: Vec<(&str, &str)> = report
            .problems
            .iter()
            .map(|p| (p.key.as_str(), p.problem.as_str()))
            .collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].0 == "b.manifest.json", "{problems:?}");
        assert!(
            problems[0].1.starts_with("changed since seal 2 sealed it"),
            "{problems:?}"
        );
        assert_eq!(
            problems[1],
            ("gone.manifest.json", "named by seal 1, missing")
        );
        assert_eq!(problems[2].0, "early.manifest.json");
        assert!(
            problems[2].1.starts_with("no seal names it"),
            "{problems:?}"
        );
    }

    /// A removal record (seal `sequence`, after `before`) naming `documents`.
    fn removal_record(
        before: &StoredSeal,
        sequence: u64,
        documents: &[(&str, &str)],
    ) -> StoredSeal {
        let covered = |list: &[(&str, &str)]| {
            list.iter()
                .map(|(key, sha256)| Covered {
                    key: (*key).to_owned(),
                    sha256: (*sha256).to_owned(),
                })
                .collect::<Vec<_>>()
        };
        stored(Seal {
            format: FORMAT,
            job: "daily".to_owned(),
            sequence,
            sealed_at: at(sequence as u32),
            previous: Some(before.sha256.clone()),
            covers: Vec::new(),
            chatvault_version: "test".to_owned(),
            removal: Some(crate::archive::seal::Removal {
                kind: RemovalKind::Expiry,
                reason: "keep_for 1d".to_owned(),
                erasure: None,
                ended_before: None,
                archives: vec!["a".to_owned()],
                documents: covered(documents),
                media: Vec::new(),
                replacements: Vec::new(),
            }),
        })
    }

    #[test]
    fn a_removal_record_accounts_for_exactly_the_bytes_it_names() {
        let mut seals = chain(
            "daily",
            &[&[
                ("gone.manifest.json", "aa"),
                ("other.manifest.json", "bb"),
                ("left.manifest.json", "cc"),
                ("also-gone.manifest.json", "dd"),
            ]],
        );
        let record = removal_record(
            &seals[0],
            2,
            &[
                ("gone.manifest.json", "aa"),
                ("other.manifest.json", "b0"),
                ("left.manifest.json", "cc"),
                ("never-sealed.manifest.json", "ee"),
            ],
        );
        seals.push(record);
        let found: BTreeMap<String, Document> = [document("left.manifest.json", "cc", 0)]
            .into_iter()
            .collect();
        let elsewhere = [
            ("gone.manifest.json".to_owned(), None),
            ("other.manifest.json".to_owned(), None),
            ("also-gone.manifest.json".to_owned(), None),
        ]
        .into_iter()
        .collect();
        let mut report = SealReport::default();
        coverage(
            "daily",
            &named(&seals),
            &removals(&seals),
            &found,
            &elsewhere,
            Some(unsigned_at(3)),
            true,
            &mut report,
        );
        assert_eq!(
            report.removed,
            [Removed {
                key: "gone.manifest.json".into(),
                by: "expiry record 2".into()
            }]
        );
        let problems: Vec<(&str, &str)> = report
            .problems
            .iter()
            .map(|p| (p.key.as_str(), p.problem.as_str()))
            .collect();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(
            problems
                .iter()
                .any(|(k, p)| *k == "never-sealed.manifest.json"
                    && p.contains("no seal of job daily sealed it")),
            "{problems:?}"
        );
        assert!(
            problems.iter().any(|(k, p)| *k == "other.manifest.json"
                && p.starts_with("expiry record 2 names it with SHA-256 b0")),
            "{problems:?}"
        );
        assert!(
            problems
                .iter()
                .any(|(k, p)| *k == "also-gone.manifest.json" && *p == "named by seal 1, missing"),
            "{problems:?}"
        );
        assert_eq!(report.unfinished.len(), 1);
        assert_eq!(report.unfinished[0].key, "left.manifest.json");
        assert_eq!(report.sealed, 1);
    }

    #[test]
    fn a_job_without_seals_is_not_sealed_yet() {
        let found: BTreeMap<String, Document> =
            [document("a.manifest.json", "aa", 0)].into_iter().collect();
        let mut report = SealReport::default();
        coverage(
            "daily",
            &BTreeMap::new(),
            &Removals::default(),
            &found,
            &BTreeMap::new(),
            None,
            true,
            &mut report,
        );
        assert_eq!(
            report.not_sealed,
            [NotSealed {
                job: "daily".into(),
                documents: 1
            }]
        );
        assert!(report.problems.is_empty());
    }

    fn signed(key: &str, hour: u32, signature: Check) -> (String, Document) {
        let (key, mut document) = document(key, "aa", hour);
        document.signature = signature;
        (key, document)
    }

    fn unsigned_at(hour: u32) -> Newest {
        Newest {
            sealed_at: at(hour),
            signed: false,
        }
    }

    fn after_signed_seal(found: &[(String, Document)], keys_given: bool) -> SealReport {
        let found: BTreeMap<String, Document> = found.iter().cloned().collect();
        let newest = Newest {
            sealed_at: at(2),
            signed: true,
        };
        let mut report = SealReport::default();
        let (named, elsewhere) = (BTreeMap::new(), BTreeMap::new());
        coverage(
            "daily",
            &named,
            &Removals::default(),
            &found,
            &elsewhere,
            Some(newest),
            keys_given,
            &mut report,
        );
        report
    }

    #[test]
    fn after_a_signed_seal_only_documents_that_verify_await_the_next_seal() {
        let key_id = || "k1".to_owned();
        let found = [
            signed("valid.manifest.json", 5, Check::Valid { key_id: key_id() }),
            signed("planted.manifest.json", 5, Check::Unsigned),
            signed(
                "other.manifest.json",
                5,
                Check::UnknownKey { key_id: key_id() },
            ),
            signed(
                "forged.manifest.json",
                5,
                Check::Invalid { key_id: key_id() },
            ),
        ];
        let report = after_signed_seal(&found, true);
        assert_eq!((report.awaiting, report.awaiting_not_checked), (1, 0));
        let named: Vec<&str> = report.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            named,
            [
                "forged.manifest.json",
                "other.manifest.json",
                "planted.manifest.json"
            ]
        );
        assert!(
            report.problems[2]
                .problem
                .starts_with("unsigned and not sealed, though the seals of job daily are signed"),
            "{report:?}"
        );

        let unchecked = [signed(
            "a.manifest.json",
            5,
            Check::UnknownKey { key_id: key_id() },
        )];
        let report = after_signed_seal(&unchecked, false);
        assert_eq!((report.awaiting, report.awaiting_not_checked), (1, 1));
        assert_eq!(report.problems, []);
    }

    #[test]
    fn signed_documents_without_any_seal_mean_the_seals_were_removed() {
        let key_id = "k1".to_owned();
        let found: BTreeMap<String, Document> = [
            signed("a.manifest.json", 1, Check::UnknownKey { key_id }),
            signed("old.manifest.json", 0, Check::Unsigned),
        ]
        .into_iter()
        .collect();
        let mut report = SealReport::default();
        let none = BTreeMap::new();
        coverage(
            "daily",
            &none,
            &Removals::default(),
            &found,
            &BTreeMap::new(),
            None,
            false,
            &mut report,
        );
        assert_eq!(report.problems.len(), 1, "{report:?}");
        assert_eq!(report.problems[0].key, seals_folder("daily"));
        assert!(
            report.problems[0]
                .problem
                .starts_with("1 signed document(s) and no seal: the job's seals were removed"),
            "{report:?}"
        );
        assert_eq!(
            report.not_sealed,
            [NotSealed {
                job: "daily".into(),
                documents: 1
            }]
        );
    }

    #[test]
    fn a_state_head_the_chain_does_not_hold_is_named() {
        let seals = chain("daily", &[&[], &[]]);
        let seals: Vec<(u64, String)> = seals
            .iter()
            .zip(1..)
            .map(|(s, n)| (n, s.sha256.clone()))
            .collect();
        let mut found = Vec::new();
        let head = |sequence, sha256: &str| StateHead {
            sequence,
            sha256: sha256.to_owned(),
        };
        state_head("daily", &head(2, &seals[1].1), &seals, &mut found);
        assert_eq!(found, []);
        state_head("daily", &head(3, "ab"), &seals, &mut found);
        state_head("daily", &head(2, "ab"), &seals, &mut found);
        assert_eq!(found.len(), 2);
        assert_eq!(found[0].key, seal_key("daily", 3));
        assert!(
            found[0].problem.contains("seals were removed from the end"),
            "{found:?}"
        );
        assert!(found[1].problem.contains("its bytes have"), "{found:?}");
    }
}
