//! Which stretch of message time a tick covers, and how long stretches are cut up.
//!
//! Shared by the dry-run plan and real runs, so a dry run shows exactly what a run would do.

use chrono::{DateTime, TimeDelta, Utc};

use crate::config::job::{Job, Window};

/// A half-open window `[since, until)` of message time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span {
    pub since: DateTime<Utc>,
    pub until: DateTime<Utc>,
}

impl Span {
    pub fn length(&self) -> TimeDelta {
        self.until - self.since
    }
}

/// The window a run at `tick` covers, or `None` when there is nothing new to archive.
///
/// `watermark` is where the last fully successful run ended; `previous_tick` is the tick
/// before this one, which bounds the very first incremental window.
pub fn window_for_tick(
    job: &Job,
    tick: DateTime<Utc>,
    watermark: Option<DateTime<Utc>>,
    previous_tick: Option<DateTime<Utc>>,
) -> Option<Span> {
    let span = match job.window {
        Window::Incremental { lag, start, .. } => {
            let until = tick - lag;
            let since = watermark.or(start).or(previous_tick.map(|p| p - lag))?;
            Span { since, until }
        }
        Window::Rolling { last, lag, .. } => {
            let until = tick - lag;
            Span {
                since: until - last,
                until,
            }
        }
        Window::Fixed { since, until, .. } => Span {
            since: watermark.map_or(since, |w| w.max(since)),
            until,
        },
    };
    (span.since < span.until).then_some(span)
}

/// More pieces than this in one window is a mistake in `window.max` (each piece is an export
/// request, and `max: 1s` over a year would be 31 million of them): the job-file checks refuse
/// it, and plans list no more than this many.
pub const MAX_PIECES: usize = 10_000;

/// How many pieces [`split`] cuts `span` into, counted without cutting.
pub fn piece_count(span: Span, max: Option<TimeDelta>) -> u128 {
    let nanos = |d: TimeDelta| {
        let n = i128::from(d.num_seconds()) * 1_000_000_000 + i128::from(d.subsec_nanos());
        u128::try_from(n).unwrap_or(0)
    };
    let length = nanos(span.length());
    match max.map(nanos).filter(|m| *m > 0) {
        None => u128::from(length > 0),
        Some(max) => length.div_ceil(max),
    }
}

/// Cuts `span` into consecutive pieces of at most `max` (all of it when `max` is `None`).
pub fn split(span: Span, max: Option<TimeDelta>) -> Vec<Span> {
    split_at_most(span, max, usize::MAX)
}

/// The first `limit` pieces of [`split`].
pub fn split_at_most(span: Span, max: Option<TimeDelta>, limit: usize) -> Vec<Span> {
    let Some(max) = max.filter(|m| *m > TimeDelta::zero()) else {
        return vec![span];
    };
    let mut pieces = Vec::new();
    let mut since = span.since;
    while since < span.until && pieces.len() < limit {
        let until = since
            .checked_add_signed(max)
            .map_or(span.until, |u| u.min(span.until));
        pieces.push(Span { since, until });
        since = until;
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn t(h: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .expect("valid")
            + TimeDelta::hours(h)
    }

    #[test]
    fn pieces_are_counted_without_cutting() {
        let span = Span {
            since: t(0),
            until: t(50),
        };
        assert_eq!(piece_count(span, Some(TimeDelta::hours(24))), 3);
        assert_eq!(piece_count(span, Some(TimeDelta::hours(25))), 2);
        assert_eq!(piece_count(span, None), 1);
        // The job_file fuzz input: 26 years in 1s pieces, which split cut one by one.
        let long = Span {
            since: DateTime::from_timestamp(946_684_800, 0).expect("2000"),
            until: DateTime::from_timestamp(1_767_225_600, 0).expect("2026"),
        };
        assert_eq!(piece_count(long, Some(TimeDelta::seconds(1))), 820_540_800);
        assert_eq!(
            piece_count(long, Some(TimeDelta::nanoseconds(1))),
            820_540_800_000_000_000
        );
        assert_eq!(
            split_at_most(long, Some(TimeDelta::seconds(1)), MAX_PIECES).len(),
            MAX_PIECES
        );
    }

    #[test]
    fn split_covers_the_span_exactly_in_max_sized_pieces() {
        let pieces = split(
            Span {
                since: t(0),
                until: t(50),
            },
            Some(TimeDelta::hours(24)),
        );
        assert_eq!(
            pieces,
            vec![
                Span {
                    since: t(0),
                    until: t(24)
                },
                Span {
                    since: t(24),
                    until: t(48)
                },
                Span {
                    since: t(48),
                    until: t(50)
                },
            ]
        );
        assert_eq!(
            split(
                Span {
                    since: t(0),
                    until: t(5)
                },
                None
            )
            .len(),
            1
        );
    }
}
