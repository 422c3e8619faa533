//! Which ticks of a job are due, given the newest tick it finished: the `catch_up` policy.
//! Pure, so `run --once`, the daemon, `status`, the viewer and `plan --state` agree.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::job::{CatchUp, Job};

/// `catch_up: none` still runs a tick this late (a CronJob's pod takes a while to start);
/// later than this it counts as missed.
pub const MISSED_AFTER: TimeDelta = TimeDelta::minutes(10);
/// `catch_up: all` runs at most this many of the newest missed ticks; the incremental window
/// of the first of them still starts at the watermark, so older ones lose nothing.
pub const MAX_CATCH_UP: usize = 1000;

/// The ticks to run at `now`, oldest first. A job that never finished a tick runs its latest
/// tick at or before `now`, except under `catch_up: none`: there, as for every job, only a
/// tick at most [`MISSED_AFTER`] old runs, so a new job starts at its next tick.
pub fn due_ticks(
    job: &Job,
    last_tick: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Vec<DateTime<Utc>> {
    let Some(latest) = latest_tick(job, now) else {
        return Vec::new();
    };
    if last_tick.is_some_and(|done| done >= latest) {
        return Vec::new();
    }
    match job.catch_up {
        CatchUp::Latest => vec![latest],
        CatchUp::None => {
            if now - latest <= MISSED_AFTER {
                vec![latest]
            } else {
                Vec::new()
            }
        }
        CatchUp::All => {
            let Some(done) = last_tick else {
                return vec![latest];
            };
            let mut missed = VecDeque::new();
            for tick in job
                .schedule
                .ticks_after(job.timezone, done)
                .take_while(|t| t.at <= latest)
            {
                if missed.len() == MAX_CATCH_UP {
                    missed.pop_front();
                }
                missed.push_back(tick.at);
            }
            missed.into()
        }
    }
}

/// The newest tick at or before `now`.
pub fn latest_tick(job: &Job, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let after_now = now.checked_add_signed(TimeDelta::nanoseconds(1))?;
    job.schedule
        .tick_before(job.timezone, after_now)
        .map(|t| t.at)
}

/// The first tick after `now`.
pub fn next_tick(job: &Job, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    job.schedule
        .ticks_after(job.timezone, now)
        .next()
        .map(|t| t.at)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::load::test_job;

    fn hourly(catch_up: &str) -> Job {
        test_job(&format!(
            "schedule: \"0 * * * *\"\ncatch_up: {catch_up}\nusers: [a]\n"
        ))
    }

    fn at(hour: u32, minute: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-03-01T{hour:02}:{minute:02}:00Z"))
            .expect("time")
            .to_utc()
    }

    #[test]
    fn latest_runs_the_newest_tick_once_whatever_was_missed() {
        let job = hourly("latest");
        assert_eq!(due_ticks(&job, None, at(5, 30)), [at(5, 0)], "never ran");
        assert_eq!(due_ticks(&job, Some(at(1, 0)), at(5, 30)), [at(5, 0)]);
        assert!(
            due_ticks(&job, Some(at(5, 0)), at(5, 30)).is_empty(),
            "done"
        );
    }

    #[test]
    fn all_runs_every_missed_tick_in_order() {
        let job = hourly("all");
        assert_eq!(due_ticks(&job, None, at(5, 30)), [at(5, 0)], "never ran");
        assert_eq!(
            due_ticks(&job, Some(at(2, 0)), at(5, 30)),
            [at(3, 0), at(4, 0), at(5, 0)]
        );
        assert!(due_ticks(&job, Some(at(5, 0)), at(5, 59)).is_empty());
    }

    #[test]
    fn all_keeps_the_newest_ticks_when_too_many_were_missed() {
        let job = test_job("schedule: \"* * * * *\"\ncatch_up: all\nusers: [a]\n");
        let due = due_ticks(&job, Some(at(0, 0)), at(23, 0));
        assert_eq!(due.len(), MAX_CATCH_UP);
        assert_eq!(due.last(), Some(&at(23, 0)));
    }

    #[test]
    fn none_runs_only_a_tick_at_most_ten_minutes_old_even_for_a_new_job() {
        let job = hourly("none");
        assert_eq!(due_ticks(&job, None, at(5, 10)), [at(5, 0)], "new, on time");
        assert!(
            due_ticks(&job, None, at(5, 11)).is_empty(),
            "new, late: waits"
        );
        assert_eq!(due_ticks(&job, Some(at(1, 0)), at(5, 5)), [at(5, 0)]);
        assert!(
            due_ticks(&job, Some(at(1, 0)), at(5, 30)).is_empty(),
            "the missed ticks are skipped"
        );
    }
}
