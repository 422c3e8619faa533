//! Time zones: reading IANA names and placing a wall-clock time on the UTC axis
//! when daylight-saving transitions make it missing or ambiguous.
//!
//! Nothing here assumes transitions are an hour long or happen on the hour;
//! the end of a gap is found by searching the UTC axis, which works for
//! Lord Howe's 30-minute shifts and for historical odd offsets alike.

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use chrono_tz::{TZ_VARIANTS, Tz};

use super::DstNote;
use super::error::ScheduleError;
use crate::suggest::closest;

/// Reads an IANA time zone name such as `Europe/Berlin`.
///
/// Names are matched exactly, as the tz database spells them, so a job file
/// means the same thing everywhere; near misses are answered with a suggestion
/// instead of being silently accepted.
pub fn parse_timezone(name: &str) -> Result<Tz, ScheduleError> {
    if let Ok(tz) = name.parse::<Tz>() {
        return Ok(tz);
    }
    Err(ScheduleError::UnknownTimeZone {
        written: name.to_owned(),
        suggestion: suggest_zone(name).map(str::to_owned),
    })
}

fn suggest_zone(name: &str) -> Option<&'static str> {
    let wanted = name.trim().replace(' ', "_").to_ascii_lowercase();
    if wanted.is_empty() {
        return None;
    }
    let names = || TZ_VARIANTS.iter().map(|tz| tz.name());
    let same_name = names().find(|candidate| candidate.eq_ignore_ascii_case(&wanted));
    // "berlin" is a city, not a zone name, but it is unambiguous enough to point at one.
    let same_city = || {
        names().find(|candidate| {
            candidate
                .rsplit_once('/')
                .is_some_and(|(_, city)| city.eq_ignore_ascii_case(&wanted))
        })
    };
    let max_distance = (wanted.len() / 5).max(1);
    same_name
        .or_else(same_city)
        .or_else(|| closest(&wanted, names(), max_distance))
}

/// Where a scheduled wall-clock time lands in `tz`: the first instant showing
/// it, or, if the clocks skip it, the first instant after the skip.
///
/// `None` only if the search would leave chrono's representable range.
pub(crate) fn place(tz: Tz, wall: NaiveDateTime) -> Option<(DateTime<Utc>, DstNote)> {
    match tz.from_local_datetime(&wall) {
        LocalResult::Single(at) => Some((at.with_timezone(&Utc), DstNote::Normal)),
        LocalResult::Ambiguous(a, b) => {
            let first = a.with_timezone(&Utc).min(b.with_timezone(&Utc));
            Some((first, DstNote::Repeated))
        }
        LocalResult::None => end_of_gap(tz, wall).map(|at| (at, DstNote::Gap { scheduled: wall })),
    }
}

/// The instant the clocks jump over `wall`, i.e. the first instant after the gap.
///
/// Bisects whole seconds on the UTC axis between two instants whose wall times
/// lie either side of `wall`. No real offset exceeds a day, so a 36-hour margin
/// each way always brackets it and the search takes at most 18 steps.
fn end_of_gap(tz: Tz, wall: NaiveDateTime) -> Option<DateTime<Utc>> {
    const MARGIN_SECONDS: i64 = 36 * 3600;
    let wall_at = |seconds: i64| {
        DateTime::from_timestamp(seconds, 0).map(|at| at.with_timezone(&tz).naive_local())
    };
    let probe = wall.and_utc().timestamp();
    let mut before = probe.checked_sub(MARGIN_SECONDS)?;
    let mut after = probe.checked_add(MARGIN_SECONDS)?;
    if wall_at(before)? >= wall || wall_at(after)? <= wall {
        return None;
    }
    while after - before > 1 {
        let middle = before + (after - before) / 2;
        if wall_at(middle)? < wall {
            before = middle;
        } else {
            after = middle;
        }
    }
    DateTime::from_timestamp(after, 0)
}
