//! The plan's checks, a phase the commands run after loading: what only planning a job's next
//! ticks can show. A `window.max` that cuts a window into more export requests than a run can
//! make, keys that cannot be made or that two windows (or two users snapshots) would share,
//! and, as a warning, users exported more often than daily.

use chrono::{DateTime, Utc};

use super::{key_problem, more_often_than_daily, window_problem};
use crate::config::Loaded;
use crate::config::load::in_parallel;
use crate::diagnostics::Diagnostics;
use crate::diagnostics::tree::FieldPath;

/// How many ticks of each job its windows and keys are tried on.
const PROBE_TICKS: usize = 24;

/// Adds the problems of every job that compiled, at its `window.max`, `destination.key` or
/// `users`.
pub fn check(loaded: &mut Loaded, now: DateTime<Utc>) {
    let found = in_parallel(&loaded.jobs, |compiled| {
        let job = &compiled.job;
        let mut found = if let Some(problem) = window_problem(job, now, PROBE_TICKS) {
            compiled.error(&FieldPath::root().key("window").key("max"), problem)
        } else if let Some(problem) = key_problem(job, now, PROBE_TICKS) {
            compiled.error(&FieldPath::root().key("destination").key("key"), problem)
        } else {
            Diagnostics::default()
        };
        if !job.users.is_empty() && more_often_than_daily(job, now, PROBE_TICKS) {
            found.extend(
                compiled.warning(
                    &FieldPath::root().key("users"),
                    "a users export is a snapshot of each user's data (up to 10,000 messages \
                 each), not a window: a schedule more often than daily exports the same data \
                 again each time; give the users a daily (or rarer) job of their own"
                        .to_owned(),
                ),
            );
        }
        found
    });
    for diagnostics in found {
        loaded.diagnostics.extend(diagnostics);
    }
    loaded.diagnostics.sort();
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::config::{LoadOptions, MissingVars, load_job_text};

    fn checked(text: &str) -> Loaded {
        let env = |_: &str| None;
        let opts = LoadOptions {
            paths: Vec::new(),
            config: None,
            env: &env,
            missing_vars: MissingVars::Warn,
        };
        let mut loaded = load_job_text(Path::new("a.yaml"), text.as_bytes(), &opts);
        check(
            &mut loaded,
            DateTime::from_timestamp(1_774_699_200, 0).expect("time"),
        );
        loaded
    }

    #[test]
    fn a_max_cutting_a_window_into_millions_of_requests_is_refused() {
        // A job_file fuzz input: 26 years cut into 1s pieces hung the key checks and plans.
        let text = "schedule: \"@daily\"\nusers: [a]\nwindow:\n  mode: fixed\n  \
                    since: 2000-01-01T00:00:00Z\n  until: 2026-01-01T00:00:00Z\n  max: 1s\n";
        let loaded = checked(text);
        let d = loaded.diagnostics.iter().next().expect("a diagnostic");
        assert_eq!(d.path.to_string(), "window.max");
        assert_eq!(d.pos.map(|p| p.line), Some(7));
        assert!(d.message.contains("820540800 pieces"), "{}", d.message);
        assert!(loaded.into_set().is_none(), "the job is refused");
        let fine = checked(&text.replace("max: 1s", "max: 30d"));
        assert!(fine.into_set().is_some());
    }

    #[test]
    fn users_exported_more_often_than_daily_are_a_warning_not_an_error() {
        let hourly = checked("schedule: \"@hourly\"\nusers: [a]\n");
        let d = hourly.diagnostics.iter().next().expect("a diagnostic");
        assert_eq!(d.severity, crate::diagnostics::Severity::Warning);
        assert_eq!(d.path.to_string(), "users");
        assert!(d.message.contains("snapshot"), "{}", d.message);
        assert!(hourly.into_set().is_some(), "still valid");
        assert!(
            checked("schedule: \"@daily\"\nusers: [a]\n")
                .diagnostics
                .is_empty()
        );
        let channels = "schedule: \"@hourly\"\nchannels:\n  - cid: messaging:a\n";
        assert!(checked(channels).diagnostics.is_empty(), "channels only");
    }

    #[test]
    fn keys_two_windows_would_share_are_refused_at_the_key() {
        let text = "schedule: \"@hourly\"\nwindow:\n  mode: fixed\n  \
                    since: 2024-01-01T00:00:00Z\n  until: 2024-01-02T00:00:00Z\n  max: 1h\n\
                    channels: [{cid: \"a:b\"}]\ndestination:\n  \
                    key: \"{job}/{window_start:%Y/%m/%d}/{kind}-{batch}.{ext}\"\n";
        let loaded = checked(text);
        let d = loaded.diagnostics.iter().next().expect("a diagnostic");
        assert_eq!(d.path.to_string(), "destination.key");
        assert_eq!(d.pos.map(|p| p.line), Some(9));
        assert!(d.message.contains("would both be written"), "{}", d.message);
    }
}
