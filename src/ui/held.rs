//! Which legal holds keep an archive, and the days of message time held archives cover, as
//! the viewer shows them. The viewer decides from the manifests alone (it never reads an
//! archive on page load): where a hold names users and a manifest does not count everyone the
//! archive names, the archive may be held, and the page says so.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::archive::manifest::Manifest;
use crate::config::hold::Hold;
use crate::lifecycle::holds::{covering, need_everyone};
use crate::ui::calendar::{day_of, day_start};

/// The holds covering one archive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeldBy<'a> {
    pub holds: Vec<&'a Hold>,
    /// The manifest's counts decide it; otherwise the holds listed may cover it (the hold
    /// wins: expire and erase leave it alone, `chatvault holds` reads it to decide).
    pub certain: bool,
}

pub fn held_by<'a>(holds: &'a [Hold], m: &Manifest) -> HeldBy<'a> {
    let counts = if need_everyone(holds) && !m.counts_everyone() {
        None
    } else {
        m.contents.as_ref()
    };
    HeldBy {
        holds: covering(holds, m, counts),
        certain: counts.is_some(),
    }
}

/// Per day of `zone`, the names of the holds covering an archive of that day: a channel
/// archive's window, a users snapshot's day.
pub fn held_days<'a>(
    holds: &'a [Hold],
    manifests: &[&Manifest],
    zone: Tz,
) -> BTreeMap<NaiveDate, BTreeSet<&'a str>> {
    let mut days: BTreeMap<NaiveDate, BTreeSet<&str>> = BTreeMap::new();
    if holds.is_empty() {
        return days;
    }
    for m in manifests {
        let by = held_by(holds, m);
        if by.holds.is_empty() {
            continue;
        }
        let dates: Vec<NaiveDate> = match (m.window_since, m.window_until) {
            (Some(since), Some(until)) if m.kind == "channels" && since < until => {
                let last = day_of(zone, until - chrono::TimeDelta::microseconds(1));
                day_of(zone, since)
                    .iter_days()
                    .take_while(|d| *d <= last && day_start(zone, *d) < until)
                    .collect()
            }
            _ => vec![day_of(zone, m.snapshot_at.unwrap_or(m.tick))],
        };
        for date in dates {
            days.entry(date)
                .or_default()
                .extend(by.holds.iter().map(|h| h.name.as_str()));
        }
    }
    days
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone as _, Utc};

    use super::*;
    use crate::config::hold::HoldCovers;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, day, hour, 0, 0)
            .single()
            .expect("a time")
    }

    fn manifest(format: u32, kind: &str, since: DateTime<Utc>, until: DateTime<Utc>) -> Manifest {
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "format": format, "job": "support", "tick": until, "kind": kind, "batch": 1,
            "channels": ["messaging:a"], "task_id": "t", "export_version": "v2",
            "key": "k", "bytes_source": 1, "bytes_stored": 1, "sha256": "00",
            "content_encoding": "none", "archived_at": until, "chatvault_version": "0",
            "contents": {"channels": {"messaging:a": {"messages": 1}}, "users": {"u1": {"messages": 1}}}
        }))
        .expect("a manifest");
        if kind == "channels" {
            m.window_since = Some(since);
            m.window_until = Some(until);
        } else {
            m.snapshot_at = Some(until);
        }
        m
    }

    fn hold(name: &str, covers: HoldCovers) -> Hold {
        Hold {
            name: name.into(),
            reason: "r".into(),
            set_by: "s".into(),
            set_at: at(1, 0),
            covers,
            file: format!("holds/{name}.yaml").into(),
        }
    }

    #[test]
    fn a_hold_on_a_user_is_certain_only_where_the_manifest_counts_everyone() {
        let holds = [hold(
            "u1",
            HoldCovers {
                users: vec!["u1".into()],
                ..HoldCovers::default()
            },
        )];
        let counted = manifest(3, "channels", at(1, 0), at(2, 0));
        let by = held_by(&holds, &counted);
        assert_eq!((by.holds.len(), by.certain), (1, true));
        let older = manifest(2, "channels", at(1, 0), at(2, 0));
        let by = held_by(&holds, &older);
        assert_eq!((by.holds.len(), by.certain), (1, false));
        let channel = [hold(
            "c",
            HoldCovers {
                channels: vec!["messaging:b".into()],
                ..HoldCovers::default()
            },
        )];
        let by = held_by(&channel, &older);
        assert_eq!((by.holds.len(), by.certain), (0, true));
    }

    #[test]
    fn held_days_are_the_windows_days_and_the_snapshots_day() {
        let holds = [hold(
            "all",
            HoldCovers {
                jobs: vec!["support".into()],
                ..HoldCovers::default()
            },
        )];
        let window = manifest(3, "channels", at(1, 12), at(3, 0));
        let snapshot = manifest(3, "users", at(5, 0), at(5, 10));
        let days = held_days(&holds, &[&window, &snapshot], chrono_tz::UTC);
        let dates: Vec<String> = days.keys().map(ToString::to_string).collect();
        assert_eq!(dates, ["2026-03-01", "2026-03-02", "2026-03-05"]);
        assert!(held_days(&[], &[&window], chrono_tz::UTC).is_empty());
    }
}
