//! One rule for copies of a message (overlapping windows, a users snapshot beside a channel
//! archive, repeated snapshots): the copy with the latest `updated_at` is the message; on a
//! tie, the first read. And one order for messages: by `created_at`, then id; messages
//! without a time after all the others, by id.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use chrono::{DateTime, Utc};

use crate::archive::read::Message;

/// The key messages are ordered by: those with a time first.
pub fn order(m: &Message) -> (bool, Option<DateTime<Utc>>, &str) {
    (m.created_at.is_none(), m.created_at, m.id.as_str())
}

/// Whether `copy` replaces `kept`, a copy of the same message.
pub fn newer(copy: &Message, kept: &Message) -> bool {
    copy.updated_at > kept.updated_at
}

/// Each message once (its latest copy), in order, whatever the order of `messages`.
pub fn latest(messages: impl IntoIterator<Item = Message>) -> Vec<Message> {
    let mut by_id: HashMap<String, Message> = HashMap::new();
    for m in messages {
        match by_id.get_mut(&m.id) {
            Some(kept) if newer(&m, kept) => *kept = m,
            Some(_) => {}
            None => {
                by_id.insert(m.id.clone(), m);
            }
        }
    }
    let mut out: Vec<Message> = by_id.into_values().collect();
    out.sort_by(|a, b| order(a).cmp(&order(b)));
    out
}

/// A merge's result: the kept items, and how many distinct messages there were in all.
#[derive(Debug)]
pub struct Merged<T> {
    pub items: Vec<T>,
    pub total: usize,
}

/// Merges runs sorted by [`order`] into one, each message once (its latest copy): the copies
/// of a message share its id and creation time, so they meet side by side. The first `skip`
/// messages are passed over and at most `limit` kept; the rest are counted, not held.
pub fn merge<T>(
    runs: Vec<Vec<T>>,
    message: impl Fn(&T) -> &Message,
    skip: usize,
    limit: Option<usize>,
) -> Merged<T> {
    struct Head {
        key: (bool, Option<DateTime<Utc>>, String),
        run: usize,
    }
    impl PartialEq for Head {
        fn eq(&self, other: &Self) -> bool {
            self.cmp(other) == Ordering::Equal
        }
    }
    impl Eq for Head {}
    impl PartialOrd for Head {
        fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
            Some(self.cmp(other))
        }
    }
    impl Ord for Head {
        fn cmp(&self, other: &Self) -> Ordering {
            (&self.key, self.run).cmp(&(&other.key, other.run))
        }
    }
    let key = |m: &Message| (m.created_at.is_none(), m.created_at, m.id.clone());
    let mut runs: Vec<std::vec::IntoIter<T>> = runs.into_iter().map(Vec::into_iter).collect();
    let mut heads: Vec<Option<T>> = runs.iter_mut().map(Iterator::next).collect();
    let mut heap = BinaryHeap::new();
    for (run, head) in heads.iter().enumerate() {
        if let Some(item) = head {
            heap.push(Reverse(Head {
                key: key(message(item)),
                run,
            }));
        }
    }
    let mut items: Vec<T> = Vec::new();
    let mut total = 0;
    // The last message counted (its id), and whether it is the last one kept.
    let mut last: Option<(String, bool)> = None;
    while let Some(Reverse(Head { run, .. })) = heap.pop() {
        let Some(item) = heads[run].take() else {
            continue;
        };
        if let Some(next) = runs[run].next() {
            heap.push(Reverse(Head {
                key: key(message(&next)),
                run,
            }));
            heads[run] = Some(next);
        }
        let id = &message(&item).id;
        match &last {
            Some((last_id, kept)) if last_id == id => {
                if *kept
                    && let Some(held) = items.last_mut()
                    && newer(message(&item), message(held))
                {
                    *held = item;
                }
            }
            _ => {
                total += 1;
                let keep = total > skip && limit.is_none_or(|l| items.len() < l);
                last = Some((id.clone(), keep));
                if keep {
                    items.push(item);
                }
            }
        }
    }
    Merged { items, total }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, created: Option<i64>, updated: i64, text: &str) -> Message {
        let at = |s: i64| DateTime::<Utc>::from_timestamp(s, 0);
        serde_json::from_value(serde_json::json!({
            "id": id, "text": text,
            "created_at": created.and_then(at), "updated_at": at(updated),
        }))
        .expect("a message")
    }

    fn shape(messages: &[Message]) -> Vec<(&str, &str)> {
        messages
            .iter()
            .map(|m| (m.id.as_str(), m.text.as_str()))
            .collect()
    }

    #[test]
    fn runs_merge_in_time_order_each_message_once_its_latest_copy() {
        let a = vec![
            message("m1", Some(1), 1, "a"),
            message("m3", Some(3), 3, "a"),
            message("m9", None, 3, "a"),
        ];
        let b = vec![
            message("m1", Some(1), 9, "b"),
            message("m2", Some(2), 2, "b"),
            message("m3", Some(3), 3, "b"),
        ];
        let merged = merge(vec![a.clone(), b.clone()], |m| m, 0, None);
        assert_eq!(
            shape(&merged.items),
            [("m1", "b"), ("m2", "b"), ("m3", "a"), ("m9", "a")],
            "the latest copy; the first read on a tie; no time last"
        );
        assert_eq!(merged.total, 4);
        let page = merge(vec![a, b], |m| m, 1, Some(2));
        assert_eq!(shape(&page.items), [("m2", "b"), ("m3", "a")]);
        assert_eq!(page.total, 4, "those beyond the page are counted");
    }

    #[test]
    fn a_later_copy_past_the_limit_does_not_replace_a_kept_one() {
        let a = vec![
            message("m1", Some(1), 1, "a"),
            message("m2", Some(2), 1, "a"),
        ];
        let b = vec![message("m2", Some(2), 9, "b")];
        let merged = merge(vec![a, b], |m| m, 0, Some(1));
        assert_eq!(shape(&merged.items), [("m1", "a")]);
        assert_eq!(merged.total, 2);
    }

    #[test]
    fn latest_keeps_each_id_once_whatever_the_order() {
        let got = latest([
            message("b", None, 1, "old"),
            message("a", Some(5), 1, "x"),
            message("b", Some(1), 2, "new"),
            message("a", Some(5), 1, "tie"),
        ]);
        assert_eq!(shape(&got), [("b", "new"), ("a", "x")]);
    }
}
