//! `chatvault verify`: checks archives against their manifests, captured files against their
//! media records, every document's signature against the public keys given, and each job's
//! chain of seals against the documents.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use super::archives::EMPTY_HINT;
use super::keys::configured_keys;
use super::{Wanted, World, exit, load_and_pick, output, runtime, state_to_read};
use crate::archive::verify::{Checks, Report, StateHead, VerifyError, verify_with};
use crate::cli::{PlanFormat, VerifyArgs};
use crate::config::MissingVars;
use crate::config::job::DEFAULT_MEDIA_PREFIX;
use crate::signing::{Keyring, PublicKey};
use crate::state::{StateError, seal_head};
use crate::store::url::StoreUrl;
use crate::store::{self, Store, StoreOptions};
use crate::text;

pub fn run(args: &VerifyArgs, config: Option<PathBuf>, world: &World<'_>) -> u8 {
    let mut keys = Keyring::default();
    for path in &args.public_keys {
        match PublicKey::from_file(path) {
            Ok(key) => keys.add(key),
            Err(e) => {
                output::error(&format!("--public-key: {e}"), None);
                return exit::INVALID;
            }
        }
    }
    let (url, options, media_prefix, state) = match (&args.job, &args.url) {
        (Some(name), _) => {
            let wanted = Wanted {
                paths: &args.paths.paths,
                config,
                jobs: std::slice::from_ref(name),
                missing_vars: MissingVars::Warn,
                now: world.now,
                warnings: false,
            };
            let picked = match load_and_pick(&wanted, world) {
                Ok(picked) => picked,
                Err(code) => return code,
            };
            if let Err(e) = configured_keys(&mut keys, &picked.set.settings) {
                output::error(&format!("signing: {e}"), e.hint());
                return exit::INVALID;
            }
            let state = match state_to_read(&picked.set, world) {
                Ok(state) => state,
                Err(code) => return code,
            };
            let Some(job) = picked.jobs.into_iter().next() else {
                return exit::INVALID;
            };
            (
                job.destination.url,
                job.destination.options,
                job.media.prefix,
                Some(state),
            )
        }
        (None, Some(text)) => {
            let url = match StoreUrl::parse(text, Path::new(".")) {
                Ok(url) => url,
                Err(e) => {
                    output::error(&format!("--url: {e}"), None);
                    return exit::INVALID;
                }
            };
            let state = match args.state.as_deref().map(|text| open_state(text, world)) {
                None => None,
                Some(Ok(state)) => Some(state),
                Some(Err(code)) => return code,
            };
            (
                url,
                StoreOptions::new(),
                DEFAULT_MEDIA_PREFIX.to_owned(),
                state,
            )
        }
        (None, None) => {
            output::error("say what to verify: --job NAME or --url URL", None);
            return exit::INVALID;
        }
    };
    if args.require_signatures && keys.is_empty() {
        output::error(
            "--require-signatures needs a public key to check the signatures with",
            Some("give --public-key FILE, or set signing.public_key_files in the global config"),
        );
        return exit::INVALID;
    }
    let Some(runtime) = runtime() else {
        return exit::FAILED;
    };
    let report = runtime.block_on(async {
        let store = store::open_to_read(&url, &options, &world.env_vars)
            .map_err(|e| (e.to_string(), false))?;
        let checks = Checks {
            job: args.job.as_deref(),
            media_prefix: &media_prefix,
            keys: &keys,
            require_signatures: args.require_signatures,
        };
        let mut report = verify_with(&store, &checks).await.map_err(|e| {
            let empty = matches!(e, VerifyError::Nothing(_));
            (e.to_string(), empty)
        })?;
        if let Some(state) = &state {
            let heads = heads(state, &report)
                .await
                .map_err(|e| (format!("the state store: {e}"), false))?;
            report.compare_heads(&heads);
        }
        Ok(report)
    });
    let report = match report {
        Ok(report) => report,
        Err((e, empty)) => {
            let hint = if empty {
                EMPTY_HINT
            } else {
                "check the destination URL and its credentials"
            };
            output::error(&e, Some(hint));
            return exit::FAILED;
        }
    };
    match args.format {
        PlanFormat::Human => output::stdout(&human(&url.to_string(), &report, !keys.is_empty())),
        PlanFormat::Json => {
            let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
            text.push('\n');
            output::stdout(&text);
        }
    }
    if report.is_clean() {
        exit::OK
    } else {
        exit::FAILED
    }
}

/// The state store at `text`, opened to read; `Err` holds the exit code, the problem printed.
fn open_state(text: &str, world: &World<'_>) -> Result<Store, u8> {
    let url = StoreUrl::parse(text, Path::new(".")).map_err(|e| {
        output::error(&format!("--state: {e}"), None);
        exit::INVALID
    })?;
    store::open_to_read(&url, &StoreOptions::new(), &world.env_vars).map_err(|e| {
        output::error(&format!("--state: {e}"), None);
        exit::FAILED
    })
}

/// The newest seal the state's ledger records for each job the report found.
async fn heads(state: &Store, report: &Report) -> Result<BTreeMap<String, StateHead>, StateError> {
    let mut heads = BTreeMap::new();
    for chain in &report.seals.jobs {
        if let Some(head) = seal_head(state, &chain.job).await? {
            heads.insert(
                chain.job.clone(),
                StateHead {
                    sequence: head.sequence,
                    sha256: head.sha256,
                },
            );
        }
    }
    Ok(heads)
}

/// The report for people; `keys_given`: whether signatures were checked at all.
fn human(url: &str, report: &Report, keys_given: bool) -> String {
    let mut out = String::new();
    for key in report.missing.iter().map(|k| line(k)) {
        let _ = writeln!(
            out,
            "missing  {key}: the manifest names it, the store has no such object"
        );
    }
    for p in &report.corrupt {
        let _ = writeln!(out, "corrupt  {}: {}", line(&p.key), line(&p.problem));
    }
    for p in &report.unreadable {
        let _ = writeln!(
            out,
            "unreadable manifest  {}: {}",
            line(&p.key),
            line(&p.problem)
        );
    }
    for key in report.extra.iter().map(|k| line(k)) {
        let _ = writeln!(out, "extra    {key}: no manifest names it");
    }
    let media = &report.media;
    for p in &media.missing {
        let _ = writeln!(out, "missing media  {}: {}", line(&p.key), line(&p.problem));
    }
    for p in &media.corrupt {
        let _ = writeln!(out, "corrupt media  {}: {}", line(&p.key), line(&p.problem));
    }
    for p in &media.unreadable {
        let _ = writeln!(
            out,
            "unreadable media record  {}: {}",
            line(&p.key),
            line(&p.problem)
        );
    }
    for key in media.extra.iter().map(|k| line(k)) {
        let _ = writeln!(out, "extra media  {key}: no media record names it");
    }
    let _ = writeln!(
        out,
        "media: {} file(s) verified ({}), {} missing, {} corrupt, {} extra; {} not captured ({} outstanding)",
        media.verified,
        crate::archive::attachments::size(media.bytes),
        media.missing.len(),
        media.corrupt.len() + media.unreadable.len(),
        media.extra.len(),
        media.not_captured,
        media.outstanding
    );
    let signatures = &report.signatures;
    for p in &signatures.problems {
        let _ = writeln!(out, "signature  {}: {}", line(&p.key), line(&p.problem));
    }
    let seals = &report.seals;
    for p in &seals.problems {
        let _ = writeln!(out, "seal     {}: {}", line(&p.key), line(&p.problem));
    }
    let mut by_record: BTreeMap<&str, usize> = BTreeMap::new();
    for removed in &seals.removed {
        *by_record.entry(removed.by.as_str()).or_default() += 1;
    }
    for (record, documents) in &by_record {
        let _ = writeln!(
            out,
            "removed  {documents} document(s) named by seals are gone, as {record} says"
        );
    }
    for p in &seals.unfinished {
        let _ = writeln!(
            out,
            "warning: unfinished  {}: {}",
            line(&p.key),
            line(&p.problem)
        );
    }
    for not in &seals.not_sealed {
        let _ = writeln!(
            out,
            "warning: job {}: {} document(s) not sealed yet: written before sealing began",
            line(&not.job),
            not.documents
        );
    }
    let _ = write!(
        out,
        "signatures: {} valid, {} bad, {} unsigned",
        signatures.valid,
        signatures.problems.len(),
        signatures.unsigned,
    );
    if keys_given {
        out.push('\n');
    } else {
        let _ = writeln!(
            out,
            ", {} signed, not checked (give --public-key or set signing.public_key_files)",
            signatures.not_checked
        );
    }
    let _ = write!(
        out,
        "seals: {} seal(s) of {} job(s), {} document(s) sealed, {} awaiting seal",
        seals.jobs.iter().map(|j| j.seals).sum::<usize>(),
        seals.jobs.len(),
        seals.sealed,
        seals.awaiting,
    );
    if seals.awaiting_not_checked > 0 {
        let _ = write!(
            out,
            " ({} of them signed, signatures not checked)",
            seals.awaiting_not_checked
        );
    }
    let _ = writeln!(
        out,
        ", {} removed by removal records, {} not sealed yet, {} problem(s)",
        seals.removed.len(),
        seals.not_sealed.iter().map(|n| n.documents).sum::<usize>(),
        seals.problems.len()
    );
    let _ = writeln!(
        out,
        "{url}: {} verified, {} missing, {} corrupt, {} extra",
        report.verified.len(),
        report.missing.len(),
        report.corrupt.len() + report.unreadable.len(),
        report.extra.len()
    );
    out
}

/// `text` on one line as it is: control characters and the invisible ones that reorder text
/// written as `\u{…}`, so an object's name can neither forge nor hide a line of the report.
fn line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (_, c, hidden) in text::chars(text) {
        if c.is_control() || hidden {
            text::escape_char(&mut out, c);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::archive::reading::Problem;

    #[test]
    fn an_object_s_name_cannot_forge_or_hide_a_line_of_the_report() {
        let mut report = Report::default();
        report.seals.problems.push(Problem::new(
            "a\nsignatures: 9 valid",
            "named by seal 1, missing",
        ));
        report.extra.push("gnp\u{202e}.exe".to_owned());
        let out = human("file://./archive", &report, true);
        assert!(
            out.contains("seal     a\\u{a}signatures: 9 valid: named by seal 1, missing\n"),
            "{out}"
        );
        assert!(
            out.contains("extra    gnp\\u{202e}.exe: no manifest names it"),
            "{out}"
        );
        assert!(
            !out.lines().any(|l| l.starts_with("signatures: 9")),
            "{out}"
        );
    }

    #[test]
    fn the_summary_asks_for_a_public_key_only_when_none_was_given() {
        let report = Report::default();
        let checked = human("file://./archive", &report, true);
        assert!(
            checked.contains("signatures: 0 valid, 0 bad, 0 unsigned\n"),
            "{checked}"
        );
        assert!(!checked.contains("not checked"), "{checked}");
        let unchecked = human("file://./archive", &report, false);
        assert!(
            unchecked.contains(
                "0 signed, not checked (give --public-key or set signing.public_key_files)"
            ),
            "{unchecked}"
        );
    }
}
