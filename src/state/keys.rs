//! Where state lives in the store, and reading numbers back out of key names.
//!
//! ```text
//! jobs/<job>/ledger/<seq:012>.json                   ledger records, the highest is current
//! jobs/<job>/leases/<tick>/<attempt:06>.json         lease attempts, the highest is current
//! ```
//!
//! Numbers are zero-padded so listings sort like numbers, but they are always parsed and
//! compared as numbers, never by key order: a listing's order is not guaranteed.

use chrono::{DateTime, Utc};
use object_store::path::Path;

use super::error::StateError;

/// 12 digits: a commit a second would last 31,000 years.
pub const SEQ_WIDTH: usize = 12;
/// 6 digits: a lease renewed every 100 s would last a year on one tick.
pub const ATTEMPT_WIDTH: usize = 6;
const MAX_JOB_LEN: usize = 64;

/// The config's job-name rule. Checked again here because a name with `/`, or an empty one,
/// would put one job's state inside another's.
pub fn check_job(job: &str) -> Result<(), StateError> {
    let invalid = |reason| {
        Err(StateError::InvalidJob {
            job: job.to_owned(),
            reason,
        })
    };
    if !job
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric())
    {
        return invalid("a job name starts with a letter or digit");
    }
    if job.len() > MAX_JOB_LEN {
        return invalid("a job name has at most 64 characters");
    }
    if !job
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return invalid("a job name has only letters, digits, `-`, `_` and `.`");
    }
    Ok(())
}

pub fn ledger_dir(job: &str) -> Path {
    Path::from_iter(["jobs", job, "ledger"])
}

pub fn ledger_key(job: &str, seq: u64) -> Path {
    ledger_dir(job).join(numbered(seq, SEQ_WIDTH))
}

pub fn lease_dir(job: &str, tick: DateTime<Utc>) -> Path {
    Path::from_iter(["jobs", job, "leases", &tick_segment(tick)])
}

pub fn lease_key(job: &str, tick: DateTime<Utc>, attempt: u64) -> Path {
    lease_dir(job, tick).join(numbered(attempt, ATTEMPT_WIDTH))
}

/// A tick as one key segment: `20240131T235900Z`, with a fraction only when the tick has one
/// (cron ticks never do), so distinct ticks never share leases.
pub fn tick_segment(tick: DateTime<Utc>) -> String {
    tick.format("%Y%m%dT%H%M%S%.fZ").to_string()
}

fn numbered(n: u64, width: usize) -> String {
    format!("{n:0width$}.json")
}

/// The number in `location` when it is a direct child of `dir` named exactly as
/// `numbered` names it; anything else (stray files, other layouts) is not ours.
pub fn parse_numbered(dir: &Path, location: &Path, width: usize) -> Option<u64> {
    let mut rest = location.prefix_match(dir)?;
    let name = rest.next()?;
    if rest.next().is_some() {
        return None;
    }
    let stem = name.as_ref().strip_suffix(".json")?;
    if stem.len() < width || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = stem.parse::<u64>().ok()?;
    (format!("{n:0width$}") == stem).then_some(n)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn keys_are_laid_out_per_job() {
        assert_eq!(
            ledger_key("daily", 42).as_ref(),
            "jobs/daily/ledger/000000000042.json"
        );
        let tick = Utc
            .with_ymd_and_hms(2024, 1, 31, 23, 59, 0)
            .single()
            .expect("valid");
        assert_eq!(
            lease_key("daily", tick, 7).as_ref(),
            "jobs/daily/leases/20240131T235900Z/000007.json"
        );
        let fractional = tick + chrono::TimeDelta::milliseconds(250);
        assert_eq!(tick_segment(fractional), "20240131T235900.250Z");
    }

    #[test]
    fn only_canonical_numbered_children_parse() {
        let dir = ledger_dir("daily");
        let parse = |key: &str| parse_numbered(&dir, &Path::from(key), SEQ_WIDTH);
        assert_eq!(parse("jobs/daily/ledger/000000000042.json"), Some(42));
        assert_eq!(
            parse("jobs/daily/ledger/1000000000000.json"),
            Some(1_000_000_000_000)
        );
        assert_eq!(parse("jobs/daily/ledger/42.json"), None);
        assert_eq!(parse("jobs/daily/ledger/0000000000042.json"), None);
        assert_eq!(parse("jobs/daily/ledger/00000000004x.json"), None);
        assert_eq!(parse("jobs/daily/ledger/000000000042.tmp"), None);
        assert_eq!(parse("jobs/daily/ledger/x/000000000042.json"), None);
        assert_eq!(parse("jobs/other/ledger/000000000042.json"), None);
    }

    #[test]
    fn job_names_that_could_escape_their_folder_are_refused() {
        for bad in ["", "a/b", "..", ".hidden", "a b", &"x".repeat(65)] {
            assert!(check_job(bad).is_err(), "{bad:?}");
        }
        for good in ["daily", "a.b-c_d", "9"] {
            assert!(check_job(good).is_ok(), "{good:?}");
        }
    }
}
