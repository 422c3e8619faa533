//! The `Range` header of a GET: one byte range, as GCS serves it.

use std::ops::Range;

/// What to send of an object `len` bytes long.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Served {
    /// No usable range header: the whole object, 200.
    Whole,
    /// 206 with `Content-Range: bytes start-end/len`.
    Part(Range<usize>),
    /// 416 with `Content-Range: bytes */len`.
    Unsatisfiable,
}

/// Reads `bytes=a-b`, `bytes=a-` and `bytes=-n`. Anything else (several ranges, other units,
/// garbage) is ignored, as HTTP lets a server do, and the whole object is sent.
pub fn served(header: Option<&str>, len: usize) -> Served {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return Served::Whole;
    };
    if spec.contains(',') {
        return Served::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Served::Whole;
    };
    let number = |s: &str| s.trim().parse::<usize>().ok();
    match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => Served::Whole,
        (true, false) => match number(last) {
            Some(0) => Served::Unsatisfiable,
            Some(_) if len == 0 => Served::Unsatisfiable,
            Some(n) => Served::Part(len.saturating_sub(n)..len),
            None => Served::Whole,
        },
        (false, open_end) => {
            let Some(start) = number(first) else {
                return Served::Whole;
            };
            let end = if open_end {
                Some(len)
            } else {
                number(last).map(|l| l.saturating_add(1).min(len))
            };
            match end {
                None => Served::Whole,
                Some(end) if !open_end && end <= start && start < len => Served::Whole,
                Some(_) if start >= len => Served::Unsatisfiable,
                Some(end) => Served::Part(start..end),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_of_one_range_is_served() {
        assert_eq!(served(Some("bytes=1-2"), 6), Served::Part(1..3));
        assert_eq!(served(Some("bytes=4-100"), 6), Served::Part(4..6));
        assert_eq!(served(Some("bytes=2-"), 6), Served::Part(2..6));
        assert_eq!(served(Some("bytes=-2"), 6), Served::Part(4..6));
        assert_eq!(served(Some("bytes=-10"), 6), Served::Part(0..6));
    }

    #[test]
    fn a_range_past_the_end_is_unsatisfiable() {
        assert_eq!(served(Some("bytes=6-"), 6), Served::Unsatisfiable);
        assert_eq!(served(Some("bytes=9-12"), 6), Served::Unsatisfiable);
        assert_eq!(served(Some("bytes=-0"), 6), Served::Unsatisfiable);
        assert_eq!(served(Some("bytes=0-"), 0), Served::Unsatisfiable);
    }

    #[test]
    fn what_is_not_one_byte_range_gets_the_whole_object() {
        for header in [
            None,
            Some("items=1-2"),
            Some("bytes=1-2,4-5"),
            Some("bytes=x-"),
            Some("bytes=3-1"),
        ] {
            assert_eq!(served(header, 6), Served::Whole, "{header:?}");
        }
    }
}
