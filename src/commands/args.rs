//! Arguments resolved in one stage, right after clap and before any command starts: time zones,
//! times read in the zone given, channel ids and queries become the typed values the commands
//! take. clap checks what a value looks like alone; what depends on another flag (a date in
//! `--tz`) is resolved here, so no command parses its own arguments. A bad value is said once,
//! with what is expected, and is exit 2.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

use super::{exit, output};
use crate::cli::{SearchArgs, TranscriptArgs, UiArgs};
use crate::query::{Query, is_cid, parse_time_in};

/// A value that cannot be used: what is wrong, and what to do.
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid {
    pub message: String,
    pub hint: Option<&'static str>,
}

impl Invalid {
    /// Said on stderr; the exit code.
    pub fn report(&self) -> u8 {
        output::error(&self.message, self.hint);
        exit::INVALID
    }
}

/// `search`, resolved.
#[derive(Debug)]
pub struct Search {
    pub query: Query,
    /// The zone of the query's dates and of the table's times.
    pub zone: Tz,
}

/// `transcript`, resolved.
#[derive(Debug)]
pub struct Transcript {
    pub cid: String,
    pub zone: Tz,
    pub after: Option<DateTime<Utc>>,
    pub before: Option<DateTime<Utc>>,
}

pub fn search(args: &SearchArgs) -> Result<Search, Invalid> {
    let zone = zone(&args.tz)?;
    let query = Query::parse_in(&args.query, zone).map_err(|e| Invalid {
        message: e.to_string(),
        hint: Some("`chatvault search --help` lists the terms"),
    })?;
    Ok(Search { query, zone })
}

pub fn transcript(args: &TranscriptArgs) -> Result<Transcript, Invalid> {
    let zone = zone(&args.tz)?;
    let time = |flag: &str, text: &Option<String>| match text {
        None => Ok(None),
        Some(t) => parse_time_in(t, zone).map(Some).ok_or_else(|| Invalid {
            message: format!(
                "{flag} {t}: expected RFC 3339 (2026-03-01T12:00:00Z) or a date (2026-03-01)"
            ),
            hint: None,
        }),
    };
    let after = time("--after", &args.after)?;
    let before = time("--before", &args.before)?;
    if !is_cid(&args.cid) {
        return Err(Invalid {
            message: format!(
                "--in {}: expected a channel as TYPE:ID, e.g. messaging:general",
                args.cid
            ),
            hint: None,
        });
    }
    Ok(Transcript {
        cid: args.cid.clone(),
        zone,
        after,
        before,
    })
}

/// `ui`'s zone.
pub fn ui(args: &UiArgs) -> Result<Tz, Invalid> {
    zone(&args.tz)
}

/// `--tz`: an IANA zone name.
fn zone(text: &str) -> Result<Tz, Invalid> {
    text.parse().map_err(|_| Invalid {
        message: format!("--tz {text}: not an IANA time zone"),
        hint: Some("use a name such as UTC, Europe/Berlin or America/New_York"),
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};

    fn parsed(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("chatvault").chain(args.iter().copied()))
            .expect("clap accepts it")
            .command
    }

    fn transcript_of(args: &[&str]) -> Result<Transcript, Invalid> {
        match parsed(args) {
            Command::Transcript(a) => transcript(&a),
            other => panic!("{other:?}"),
        }
    }

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().expect("a time")
    }

    #[test]
    fn transcript_dates_are_midnight_in_the_zone_given() {
        let t = transcript_of(&[
            "transcript",
            "--in",
            "messaging:x",
            "--tz",
            "America/New_York",
            "--after",
            "2026-12-05",
            "--before",
            "2026-12-06T12:00:00+01:00",
        ])
        .expect("valid");
        assert_eq!(t.after, Some(at("2026-12-05T05:00:00Z")));
        assert_eq!(
            t.before,
            Some(at("2026-12-06T11:00:00Z")),
            "an offset is its own"
        );
        assert_eq!(t.zone, chrono_tz::America::New_York);
        let utc = transcript_of(&["transcript", "--in", "messaging:x", "--after", "2026-12-05"])
            .expect("valid");
        assert_eq!(utc.after, Some(at("2026-12-05T00:00:00Z")));
    }

    #[test]
    fn bad_values_say_what_is_expected() {
        let e = transcript_of(&["transcript", "--in", "general"]).expect_err("no type");
        assert!(e.message.contains("expected a channel as TYPE:ID"), "{e:?}");
        let e = transcript_of(&["transcript", "--in", "a:b", "--after", "March"])
            .expect_err("not a time");
        assert!(
            e.message.starts_with("--after March: expected RFC 3339"),
            "{e:?}"
        );
        let e = transcript_of(&["transcript", "--in", "a:b", "--tz", "Mars/Base"])
            .expect_err("not a zone");
        assert_eq!(e.message, "--tz Mars/Base: not an IANA time zone");
        let Command::Search(a) = parsed(&["search", "form:u1"]) else {
            panic!("search");
        };
        let e = search(&a).expect_err("a near miss");
        assert!(e.message.contains("did you mean `from:`"), "{e:?}");
        assert_eq!(e.hint, Some("`chatvault search --help` lists the terms"));
    }

    #[test]
    fn search_dates_are_read_in_its_zone() {
        let Command::Search(a) = parsed(&["search", "after:2026-12-05", "--tz", "Asia/Tokyo"])
        else {
            panic!("search");
        };
        let s = search(&a).expect("valid");
        assert_eq!(s.query.after, Some(at("2026-12-04T15:00:00Z")));
    }
}
