//! Which channels the archives hold, from the counts manifests (or catalog records) keep: no
//! archive is read to list them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::archive::reading::Listed;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holding {
    pub cid: String,
    /// The messages its archives hold, summed over them.
    pub messages: u64,
    /// False when the sum may count a message twice: windows of one job overlap, or several
    /// jobs hold the channel (over the same time, or not: the counts cannot tell).
    pub exact: bool,
    pub first: Option<DateTime<Utc>>,
    pub last: Option<DateTime<Utc>>,
    pub archives: usize,
    pub jobs: BTreeSet<String>,
}

#[derive(Default)]
struct PerJob {
    messages: u64,
    spans: Vec<(DateTime<Utc>, DateTime<Utc>)>,
}

fn overlapping(spans: &mut [(DateTime<Utc>, DateTime<Utc>)]) -> bool {
    spans.sort();
    spans.windows(2).any(|w| w[1].0 < w[0].1)
}

/// Every channel with counted messages, by cid. Archives without counts (old ones, not
/// indexed) are left out: `chatvault index` counts them.
pub fn holdings(archives: &[Listed]) -> Vec<Holding> {
    let mut by_cid: BTreeMap<&str, (BTreeMap<&str, PerJob>, Holding)> = BTreeMap::new();
    for archived in archives {
        let m = &archived.manifest;
        let Some(contents) = &m.contents else {
            continue;
        };
        for (cid, count) in contents.channels.iter().filter(|(_, c)| c.messages > 0) {
            let (jobs, holding) = by_cid.entry(cid).or_insert_with(|| {
                (
                    BTreeMap::new(),
                    Holding {
                        cid: cid.clone(),
                        messages: 0,
                        exact: true,
                        first: None,
                        last: None,
                        archives: 0,
                        jobs: BTreeSet::new(),
                    },
                )
            });
            let per = jobs.entry(&m.job).or_default();
            per.messages += count.messages;
            if let Some(span) = m.window_since.zip(m.window_until) {
                per.spans.push(span);
            }
            holding.archives += 1;
            holding.jobs.insert(m.job.clone());
            holding.first = holding
                .first
                .into_iter()
                .chain(count.first_message_at)
                .min();
            holding.last = holding.last.into_iter().chain(count.last_message_at).max();
        }
    }
    by_cid
        .into_values()
        .map(|(mut jobs, mut holding)| {
            holding.messages = jobs.values().map(|p| p.messages).sum();
            holding.exact =
                jobs.len() == 1 && jobs.values_mut().all(|p| !overlapping(&mut p.spans));
            holding
        })
        .collect()
}

/// The newest counted message of one channel: where its page opens.
pub fn last_message(archives: &[Listed], cid: &str) -> Option<DateTime<Utc>> {
    archives
        .iter()
        .filter_map(|a| a.manifest.contents.as_ref()?.channels.get(cid))
        .filter(|c| c.messages > 0)
        .filter_map(|c| c.last_message_at)
        .max()
}

/// What one job's archives hold of one day: the archives whose window overlaps it (or whose
/// users snapshot was taken on it), and the channels their counts place in it.
#[derive(Debug, Default)]
pub struct DayHeld<'a> {
    pub archives: Vec<&'a Listed>,
    pub channels: Vec<DayChannel>,
}

/// A channel with messages on the day, by the counts of the archives holding it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DayChannel {
    pub cid: String,
    /// The messages of the archives holding the channel that day: an archive's count is of its
    /// whole window, so a window longer than the day counts its other days too.
    pub messages: u64,
    pub archives: usize,
    /// Whether an archive without counts (format 1, not indexed) names the channel too.
    pub uncounted: bool,
}

/// The day `date` of `zone` (`span`, from its start to the next day's) in `archives`, one job's,
/// newest window first as [`Listing::by_window`] gives them.
pub fn day<'a>(
    archives: &[&'a Listed],
    span: (DateTime<Utc>, DateTime<Utc>),
    taken_on: impl Fn(DateTime<Utc>) -> bool,
) -> DayHeld<'a> {
    let mut held = DayHeld::default();
    let mut channels: BTreeMap<String, DayChannel> = BTreeMap::new();
    let mut add = |cid: &str, messages: Option<u64>| {
        let channel = channels
            .entry(cid.to_owned())
            .or_insert_with(|| DayChannel {
                cid: cid.to_owned(),
                messages: 0,
                archives: 0,
                uncounted: false,
            });
        channel.messages += messages.unwrap_or(0);
        channel.archives += 1;
        channel.uncounted |= messages.is_none();
    };
    for &archived in archives {
        let m = &archived.manifest;
        let holds = match (m.window_since, m.window_until) {
            (Some(since), Some(until)) if m.kind == "channels" => since < span.1 && span.0 < until,
            _ => m.kind == "users" && taken_on(m.snapshot_at.unwrap_or(m.tick)),
        };
        if !holds {
            continue;
        }
        held.archives.push(archived);
        if m.kind != "channels" {
            continue;
        }
        match &m.contents {
            Some(contents) => {
                for (cid, count) in &contents.channels {
                    let on_day = match (count.first_message_at, count.last_message_at) {
                        (Some(first), Some(last)) => first < span.1 && span.0 <= last,
                        _ => true,
                    };
                    if count.messages > 0 && on_day {
                        add(cid, Some(count.messages));
                    }
                }
            }
            None => m.channels.iter().for_each(|cid| add(cid, None)),
        }
    }
    held.channels = channels.into_values().collect();
    held
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::archive::manifest::Manifest;
    use crate::archive::tally::{ChannelCount, Tally};

    fn at(hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, hour, 0, 0)
            .single()
            .expect("a time")
    }

    fn archived(job: &str, key: &str, window: (u32, u32), counts: &[(&str, u64)]) -> Listed {
        let mut m: Manifest = serde_json::from_value(serde_json::json!({
            "format": 2, "job": job, "tick": at(23), "kind": "channels", "batch": 1,
            "channels": [], "task_id": "t", "export_version": "v2", "key": key,
            "bytes_source": 1, "bytes_stored": 1, "sha256": "00",
            "content_encoding": "none", "archived_at": at(23), "chatvault_version": "0"
        }))
        .expect("a manifest");
        m.window_since = Some(at(window.0));
        m.window_until = Some(at(window.1));
        let mut tally = Tally::default();
        for (cid, n) in counts {
            tally.channels.insert(
                (*cid).to_owned(),
                ChannelCount {
                    messages: *n,
                    first_message_at: Some(at(window.0)),
                    last_message_at: Some(at(window.1 - 1)),
                },
            );
        }
        m.contents = Some(tally);
        Listed {
            source: 0,
            location: 0,
            manifest: m,
            cataloged: false,
            present: true,
            stored: bytes::Bytes::new(),
        }
    }

    #[test]
    fn a_day_holds_the_archives_over_it_and_the_channels_their_counts_place_on_it() {
        let morning = archived("daily", "a", (0, 6), &[("m:a", 3), ("m:b", 2)]);
        let evening = archived("daily", "b", (6, 12), &[("m:a", 4)]);
        let mut old = archived("daily", "c", (0, 12), &[]);
        old.manifest.contents = None;
        old.manifest.channels = vec!["m:a".into(), "m:old".into()];
        let later = archived("daily", "d", (12, 18), &[("m:c", 1)]);
        let mut users = archived("daily", "e", (0, 0), &[]);
        users.manifest.kind = "users".into();
        users.manifest.window_since = None;
        users.manifest.window_until = None;
        users.manifest.snapshot_at = Some(at(7));
        let list = [&morning, &evening, &old, &later, &users];
        let held = day(&list, (at(0), at(12)), |t| t == at(7));
        let keys: Vec<&str> = held
            .archives
            .iter()
            .map(|a| a.manifest.key.as_str())
            .collect();
        assert_eq!(keys, ["a", "b", "c", "e"]);
        let brief: Vec<(&str, u64, usize, bool)> = held
            .channels
            .iter()
            .map(|c| (c.cid.as_str(), c.messages, c.archives, c.uncounted))
            .collect();
        assert_eq!(
            brief,
            [
                ("m:a", 7, 3, true),
                ("m:b", 2, 1, false),
                ("m:old", 0, 1, true)
            ]
        );
    }

    #[test]
    fn channels_are_summed_per_job_and_flagged_when_copies_may_count_twice() {
        let listing = [
            archived(
                "daily",
                "a",
                (0, 6),
                &[("m:a", 3), ("m:b", 2), ("m:empty", 0)],
            ),
            archived("daily", "b", (6, 12), &[("m:a", 4)]),
            archived("rolling", "c", (0, 12), &[("m:b", 5)]),
            archived("rolling", "d", (6, 18), &[("m:c", 1)]),
            archived("rolling", "e", (12, 18), &[("m:c", 1)]),
        ];
        let got = holdings(&listing);
        let brief: Vec<(&str, u64, bool, usize)> = got
            .iter()
            .map(|h| (h.cid.as_str(), h.messages, h.exact, h.archives))
            .collect();
        assert_eq!(
            brief,
            [
                ("m:a", 7, true, 2),
                ("m:b", 7, false, 2),
                ("m:c", 2, false, 2)
            ]
        );
        assert_eq!((got[0].first, got[0].last), (Some(at(0)), Some(at(11))));
        assert_eq!(last_message(&listing, "m:c"), got[2].last);
        assert_eq!(last_message(&listing, "m:empty"), None);
    }
}
