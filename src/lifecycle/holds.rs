//! Which holds cover an archive. Decided from the archive's counts, and conservatively: a
//! part of a hold matches when the archive may hold it, so a hold keeps more rather than
//! less (a hold on a user and a channel keeps an archive holding both, even if the user
//! wrote nothing in that channel).

use chrono::{DateTime, Utc};

use crate::archive::manifest::Manifest;
use crate::archive::people;
use crate::archive::read::ReadError;
use crate::archive::tally::Tally;
use crate::config::hold::{Hold, HoldCovers};
use crate::store::Store;

/// Whether deciding `holds` needs every user an archive names: any hold names users. Then an
/// archive whose manifest does not count everyone must be counted (`people::everyone`).
pub fn need_everyone(holds: &[Hold]) -> bool {
    holds.iter().any(|h| !h.covers.users.is_empty())
}

/// The counts to decide `holds` on for the archive of `manifest` in `store`: every user it
/// names when a hold names users and the manifest does not count everyone (the archive is
/// read, or its catalog record), else the manifest's own counts (`None` when it has none,
/// which [`covering`] takes as "may hold anything"). `Err` when the archive could not be read:
/// the caller reports it and decides with `None`, so the hold wins.
pub async fn deciding_counts(
    holds: &[Hold],
    store: &Store,
    manifest: &Manifest,
) -> Result<Option<Tally>, ReadError> {
    if need_everyone(holds) && !manifest.counts_everyone() {
        return people::everyone(store, manifest).await.map(Some);
    }
    Ok(manifest.contents.clone())
}

/// The holds that cover the archive of `manifest`, whose counts are `contents` (every user,
/// when any hold names users; `None` when unknown, which matches every channel and user).
pub fn covering<'a>(
    holds: &'a [Hold],
    manifest: &Manifest,
    contents: Option<&Tally>,
) -> Vec<&'a Hold> {
    holds
        .iter()
        .filter(|h| covers(&h.covers, manifest, contents))
        .collect()
}

/// Whether the jobs part of a hold (if it has one) matches `job`: all an archive whose
/// manifest cannot be trusted can be decided on.
pub fn jobs_match(covers: &HoldCovers, job: &str) -> bool {
    covers.jobs.is_empty() || covers.jobs.iter().any(|j| j == job)
}

fn covers(covers: &HoldCovers, manifest: &Manifest, contents: Option<&Tally>) -> bool {
    let jobs = jobs_match(covers, &manifest.job);
    let channels = covers.channels.is_empty()
        || match contents {
            Some(tally) => covers
                .channels
                .iter()
                .any(|c| tally.channels.contains_key(c)),
            None => {
                manifest.kind != "channels"
                    || manifest.channels.is_empty()
                    || covers
                        .channels
                        .iter()
                        .any(|c| manifest.channels.contains(c))
            }
        };
    let users = covers.users.is_empty()
        || contents.is_none_or(|tally| covers.users.iter().any(|u| tally.users.contains_key(u)));
    let time = (covers.from.is_none() && covers.until.is_none()) || {
        let (first, last) = span(manifest, contents);
        let after_from = match (covers.from, last) {
            (Some(from), Some(last)) => last >= from,
            _ => true,
        };
        let before_until = match (covers.until, first) {
            (Some(until), Some(first)) => first < until,
            _ => true,
        };
        after_from && before_until
    };
    jobs && channels && users && time
}

/// The message time an archive may hold, as far as known: its messages' first and last
/// time; without any, its window; a users snapshot any time up to when it was taken.
fn span(
    manifest: &Manifest,
    contents: Option<&Tally>,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let counted = contents.map(|tally| {
        let first = tally
            .channels
            .values()
            .filter_map(|c| c.first_message_at)
            .min();
        let last = tally
            .channels
            .values()
            .filter_map(|c| c.last_message_at)
            .max();
        (first, last)
    });
    match counted {
        Some((Some(first), Some(last))) => (Some(first), Some(last)),
        _ if manifest.snapshot_at.is_some() => (None, manifest.snapshot_at),
        _ => (manifest.window_since, manifest.window_until),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::archive::tally::{ChannelCount, UserCount};

    fn at(day: u32) -> DateTime<Utc> {
        format!("2026-03-{day:02}T00:00:00Z")
            .parse()
            .unwrap_or_default()
    }

    fn manifest() -> Manifest {
        serde_json::from_value(serde_json::json!({
            "format": 3, "job": "support", "tick": "2026-03-02T00:00:00Z", "kind": "channels",
            "window_since": "2026-03-01T00:00:00Z", "window_until": "2026-03-02T00:00:00Z",
            "batch": 1, "task_id": "t", "export_version": "v2", "key": "a.jsonl",
            "bytes_source": 1, "bytes_stored": 1, "sha256": "00",
            "content_encoding": "none", "archived_at": "2026-03-02T00:00:00Z",
            "chatvault_version": "0"
        }))
        .expect("a manifest")
    }

    fn tally() -> Tally {
        Tally {
            channels: BTreeMap::from([(
                "messaging:a".to_owned(),
                ChannelCount {
                    messages: 2,
                    first_message_at: Some(at(1)),
                    last_message_at: Some(at(1)),
                },
            )]),
            users: BTreeMap::from([(
                "reacted-only".to_owned(),
                UserCount {
                    reactions: 1,
                    ..UserCount::default()
                },
            )]),
        }
    }

    fn hold(covers: HoldCovers) -> Hold {
        Hold {
            name: "matter-1".into(),
            reason: "r".into(),
            set_by: "legal".into(),
            set_at: at(1),
            covers,
            file: "holds/matter-1.yaml".into(),
        }
    }

    #[test]
    fn every_part_given_must_match_and_any_entry_of_a_part_does() {
        let tally = tally();
        let names = |covers: HoldCovers| covering(&[hold(covers)], &manifest(), Some(&tally)).len();
        let users = |u: &[&str]| u.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            names(HoldCovers {
                users: users(&["reacted-only"]),
                ..HoldCovers::default()
            }),
            1
        );
        assert_eq!(
            names(HoldCovers {
                users: users(&["other"]),
                ..HoldCovers::default()
            }),
            0
        );
        assert_eq!(
            names(HoldCovers {
                users: users(&["reacted-only"]),
                jobs: users(&["sales"]),
                ..HoldCovers::default()
            }),
            0
        );
        assert_eq!(
            names(HoldCovers {
                channels: users(&["messaging:b", "messaging:a"]),
                ..HoldCovers::default()
            }),
            1
        );
        assert_eq!(
            names(HoldCovers {
                from: Some(at(2)),
                ..HoldCovers::default()
            }),
            0
        );
        assert_eq!(
            names(HoldCovers {
                until: Some(at(2)),
                ..HoldCovers::default()
            }),
            1
        );
        assert_eq!(
            names(HoldCovers {
                until: Some(at(1)),
                ..HoldCovers::default()
            }),
            0
        );
    }

    #[test]
    fn unknown_contents_match_every_user_so_the_hold_wins() {
        let hold = hold(HoldCovers {
            users: vec!["anyone".into()],
            ..HoldCovers::default()
        });
        assert_eq!(covering(&[hold], &manifest(), None).len(), 1);
    }
}
