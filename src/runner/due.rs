//! Which ticks of a job are due, given the newest tick it finished: the `catch_up` policy.
//! Pure, so `run --once`, the daemon and `status` agree.

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
/// tick at or before `now`.
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
