//! When jobs run: the cron schedules users write in job files, time zones, and
//! the instants a schedule fires at, daylight-saving transitions included.
//!
//! # The dialect users write
//!
//! Standard crontab(5) (Vixie cron): `minute hour day-of-month month
//! day-of-week`, with numbers, ranges `a-b`, lists `a,b`, steps `*/n` and
//! `a-b/n`, month names `JAN`-`DEC` and day names `SUN`-`SAT` in any case.
//! Day-of-week runs 0-7 and both 0 and 7 are Sunday. Six fields mean a seconds
//! field comes first. The macros `@yearly`, `@annually`, `@monthly`, `@weekly`
//! (Sunday 00:00), `@daily`, `@midnight` and `@hourly` stand alone; `@reboot`
//! is refused because jobs here only run on time.
//!
//! Decisions beyond crontab(5):
//! - When both day-of-month and day-of-week are restricted, a day matches if
//!   *either* matches (`0 0 13 * 5` fires on every 13th and every Friday).
//!   A field counts as unrestricted only when written as a bare `*`; Vixie
//!   also treats `*/n` that way, a quirk not copied here.
//! - `a/n` means `a-max/n`, as in cronie.
//! - Macros, like names, are accepted in any case (`@Daily`).
//! - At the end of a day-of-week range `SUN` means 7, so `SAT-SUN` is the weekend.
//! - A step larger than the field's span (`*/90` minutes) is an error rather
//!   than a silent single value, and so is an expression that can never fire
//!   (`0 0 30 2 *`).
//!
//! The `cron` crate does the calendar arithmetic, but its dialect (seconds
//! first, 1 = Sunday) never reaches users: `cron_expr` expands each field to
//! explicit values and hands them over as plain lists and day names.
//!
//! # Time zones and daylight saving
//!
//! A schedule is read on the zone's wall clock, then each wall time is placed
//! on the UTC axis:
//! - a wall time the clocks skip fires once, at the first instant after the
//!   gap, marked [`DstNote::Gap`]; all ticks in one gap share that single firing;
//! - a wall time the clocks show twice fires once, at its first occurrence,
//!   marked [`DstNote::Repeated`].
//!
//! If the first instant after a gap is itself a scheduled wall time (e.g.
//! `*/15` crossing 02:00→03:00), the single firing is marked
//! [`DstNote::Normal`]: `Gap` is kept for firings whose wall time the schedule
//! does not name, so `Gap` always means "moved".
//!
//! Nothing reads the host's zone or clock: callers pass zones and instants in.
//! Firings are found up to the end of 2100.

mod cron_expr;
mod error;
mod zone;

#[cfg(test)]
mod tests;

use std::iter::Peekable;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, Utc};
use chrono_tz::Tz;

pub use error::{Field, FieldProblem, ScheduleError};
pub use zone::parse_timezone;

/// A parsed cron schedule, kept together with the text it came from so that
/// messages and logs can quote the job file.
#[derive(Clone, Debug)]
pub struct Schedule {
    source: String,
    /// Firing wall times are the merge of all of these (two when the day
    /// fields are ORed, one otherwise).
    compiled: Vec<cron::Schedule>,
}

/// One firing of a schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tick {
    pub at: DateTime<Utc>,
    pub local: DateTime<Tz>,
    pub dst: DstNote,
}

/// How daylight saving shaped a [`Tick`], so callers can explain an unusual
/// firing time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DstNote {
    Normal,
    /// The clocks skipped `scheduled`; the tick fires at the first instant
    /// after the gap. If several scheduled wall times fell in the gap, this is
    /// the earliest of them.
    Gap {
        scheduled: NaiveDateTime,
    },
    /// The wall time occurs twice; the tick fires at the first occurrence only.
    Repeated,
}

/// Bounds of the years the `cron` crate evaluates (1970-2100), with a day
/// or more to spare for any zone offset.
const SEARCH_FROM: DateTime<Utc> = match NaiveDate::from_ymd_opt(1969, 12, 30) {
    Some(day) => day.and_time(NaiveTime::MIN).and_utc(),
    None => DateTime::<Utc>::MIN_UTC,
};
const SEARCH_UNTIL: DateTime<Utc> = match NaiveDate::from_ymd_opt(2101, 1, 2) {
    Some(day) => day.and_time(NaiveTime::MIN).and_utc(),
    None => DateTime::<Utc>::MAX_UTC,
};

/// How far back [`Schedule::tick_before`] looks before giving up.
const LOOK_BACK: TimeDelta = TimeDelta::days(5 * 366);

impl Schedule {
    /// Validates up front, so a bad job file is reported when it is loaded
    /// rather than when the job is due; any input yields a value or an error
    /// written for the job file's author, never a panic.
    pub fn parse(expr: &str) -> Result<Schedule, ScheduleError> {
        let fields = cron_expr::parse(expr)?;
        let compiled = fields
            .to_cron_dialect()
            .iter()
            .map(|translated| cron::Schedule::from_str(translated))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| ScheduleError::Untranslatable {
                written: expr.to_owned(),
            })?;
        Ok(Schedule {
            source: expr.to_owned(),
            compiled,
        })
    }

    /// The schedule exactly as the user wrote it.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Ticks strictly after `after`, ascending, never two equal instants.
    pub fn ticks_after(&self, tz: Tz, after: DateTime<Utc>) -> impl Iterator<Item = Tick> + '_ {
        // A wall time at or before `after`'s own wall time lands at or before
        // `after`, so the wall-clock search can start there. Clamping first
        // keeps the zone conversion inside chrono's range; the `cron` crate
        // has nothing outside 1970-2100 anyway.
        let wall = after
            .clamp(SEARCH_FROM, SEARCH_UNTIL)
            .with_timezone(&tz)
            .naive_local();
        Ticks {
            walls: WallTimes::after(&self.compiled, wall).peekable(),
            tz,
            last: after,
        }
    }

    /// The latest tick strictly before `before`, looking back at most five years.
    ///
    /// Built on [`Schedule::ticks_after`] so both always agree, including on
    /// how daylight-saving gaps collapse. The window widens geometrically,
    /// which keeps dense schedules cheap and sparse ones to a few dozen scans.
    pub fn tick_before(&self, tz: Tz, before: DateTime<Utc>) -> Option<Tick> {
        let limit = before
            .checked_sub_signed(LOOK_BACK)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        let mut span = TimeDelta::minutes(1);
        loop {
            let start = before
                .checked_sub_signed(span)
                .map_or(limit, |start| start.max(limit));
            let found = self
                .ticks_after(tz, start)
                .take_while(|tick| tick.at < before)
                .last();
            if found.is_some() || start <= limit {
                return found;
            }
            span = span.checked_mul(2).unwrap_or(LOOK_BACK);
        }
    }
}

/// Scheduled wall-clock times in ascending order, without repeats.
///
/// The `cron` crate is driven with UTC only as a carrier for naive times, so
/// it never applies a zone of its own.
struct WallTimes<'a> {
    streams: Vec<cron::ScheduleIterator<'a, Utc>>,
    heads: Vec<Option<DateTime<Utc>>>,
}

impl<'a> WallTimes<'a> {
    fn after(compiled: &'a [cron::Schedule], wall: NaiveDateTime) -> WallTimes<'a> {
        // The `cron` crate only knows years 1970-2100; past them it has
        // nothing to offer, and near chrono's limits its arithmetic would overflow.
        let mut streams: Vec<_> = if wall.year() <= 2100 {
            let start = wall.and_utc();
            compiled.iter().map(|s| s.after(&start)).collect()
        } else {
            Vec::new()
        };
        let heads = streams.iter_mut().map(Iterator::next).collect();
        WallTimes { streams, heads }
    }
}

impl Iterator for WallTimes<'_> {
    type Item = NaiveDateTime;

    fn next(&mut self) -> Option<NaiveDateTime> {
        let earliest = self.heads.iter().flatten().min().copied()?;
        for (head, stream) in self.heads.iter_mut().zip(&mut self.streams) {
            if *head == Some(earliest) {
                *head = stream.next();
            }
        }
        Some(earliest.naive_utc())
    }
}

/// Turns scheduled wall times into firings, applying the DST policy.
///
/// Each call consumes wall times until one lands after the previous firing;
/// the wall-time stream ends in 2100, so every call is bounded.
struct Ticks<'a> {
    walls: Peekable<WallTimes<'a>>,
    tz: Tz,
    last: DateTime<Utc>,
}

impl Iterator for Ticks<'_> {
    type Item = Tick;

    fn next(&mut self) -> Option<Tick> {
        loop {
            let wall = self.walls.next()?;
            let Some((at, mut dst)) = zone::place(self.tz, wall) else {
                continue;
            };
            if at <= self.last {
                continue;
            }
            if matches!(dst, DstNote::Gap { .. }) {
                // Later wall times in the same gap, and a scheduled wall time
                // right at its end, land on the same instant: one firing.
                while let Some(&next) = self.walls.peek() {
                    match zone::place(self.tz, next) {
                        Some((next_at, next_dst)) if next_at == at => {
                            self.walls.next();
                            if next_dst == DstNote::Normal {
                                dst = DstNote::Normal;
                            }
                        }
                        _ => break,
                    }
                }
            }
            self.last = at;
            return Some(Tick {
                at,
                local: at.with_timezone(&self.tz),
                dst,
            });
        }
    }
}
