//! The one threading of a conversation, which transcripts and the viewer both render. Every
//! message of the range appears exactly once:
//!
//! - a message without a parent starts a thread;
//! - a reply goes into the thread of its topmost ancestor present in the range (a → b → c
//!   with a absent: c sits under b, and b starts the thread, marked as a reply to a message
//!   not in the range); a reply to a reply is shown flat in that thread, marked with its
//!   parent;
//! - a reply to itself, and every message of a reply loop, starts a thread of its own, marked;
//!   replies leading into a loop sit under the loop's message they reach.
//!
//! Threads and the replies in each come in time order, messages without a time after the
//! others. Parents are followed iteratively, each message once, so chains of any depth and
//! loops of any length end.

use std::collections::HashMap;

use super::copies;
use crate::archive::read::Message;

/// Where a message stands in its conversation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place<'a> {
    /// Starts a thread: it has no parent.
    First,
    /// A reply to the thread's first message.
    Reply,
    /// A reply to another reply of the thread, shown flat in it.
    Nested { parent: &'a str },
    /// Starts a thread: a reply whose parent is not in the range.
    ParentAbsent { parent: &'a str },
    /// Starts a thread: a reply to itself.
    ToItself,
    /// Starts a thread: a message in a loop of replies.
    InLoop { parent: &'a str },
}

#[derive(Debug, Clone, Copy)]
pub struct Shown<'a> {
    pub message: &'a Message,
    pub place: Place<'a>,
}

/// A thread's first message and every message shown under it.
#[derive(Debug)]
pub struct Thread<'a> {
    pub first: Shown<'a>,
    pub replies: Vec<Shown<'a>>,
}

impl Thread<'_> {
    /// Whether `id` is this thread's first message or one of its replies.
    pub fn holds(&self, id: &str) -> bool {
        self.first.message.id == id || self.replies.iter().any(|r| r.message.id == id)
    }
}

/// The messages of a range: each once (its latest copy), in order.
#[derive(Debug, Default)]
pub struct Conversation {
    messages: Vec<Message>,
}

/// How far following the parents of one message has got.
#[derive(Debug, Clone, Copy)]
enum Walk {
    New,
    /// On the path being followed, at this position.
    On(usize),
    /// Its thread's first message is known.
    Placed(usize),
}

impl Conversation {
    pub fn new(messages: impl IntoIterator<Item = Message>) -> Conversation {
        Conversation {
            messages: copies::latest(messages),
        }
    }

    pub fn messages(&self) -> &[Message] {
        &self.messages
    }

    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub fn threads(&self) -> Vec<Thread<'_>> {
        let messages = &self.messages;
        let at: HashMap<&str, usize> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.as_str(), i))
            .collect();
        let parent = |i: usize| -> Option<Result<usize, &str>> {
            let p = messages[i].parent_id.as_deref().filter(|p| !p.is_empty())?;
            Some(at.get(p).copied().ok_or(p))
        };
        let mut walk = vec![Walk::New; messages.len()];
        let mut first_place: Vec<Option<Place<'_>>> = vec![None; messages.len()];
        let mut path = Vec::new();
        for start in 0..messages.len() {
            if matches!(walk[start], Walk::Placed(_)) {
                continue;
            }
            path.clear();
            let mut cur = start;
            let first = loop {
                match walk[cur] {
                    Walk::Placed(first) => break first,
                    Walk::On(from) => {
                        // A loop: each of its messages starts a thread; what led into it sits
                        // under the message where it entered.
                        for &m in &path[from..] {
                            walk[m] = Walk::Placed(m);
                            let p = messages[m].parent_id.as_deref().unwrap_or_default();
                            first_place[m] = Some(if p == messages[m].id {
                                Place::ToItself
                            } else {
                                Place::InLoop { parent: p }
                            });
                        }
                        path.truncate(from);
                        break cur;
                    }
                    Walk::New => {}
                }
                walk[cur] = Walk::On(path.len());
                path.push(cur);
                match parent(cur) {
                    None => {
                        first_place[cur] = Some(Place::First);
                        break cur;
                    }
                    Some(Err(absent)) => {
                        first_place[cur] = Some(Place::ParentAbsent { parent: absent });
                        break cur;
                    }
                    Some(Ok(p)) => cur = p,
                }
            };
            for &m in &path {
                walk[m] = Walk::Placed(first);
            }
        }
        let mut threads: Vec<Thread<'_>> = Vec::new();
        let mut thread_of: HashMap<usize, usize> = HashMap::new();
        for (i, m) in messages.iter().enumerate() {
            let Walk::Placed(first) = walk[i] else {
                continue;
            };
            if first == i {
                thread_of.insert(i, threads.len());
                threads.push(Thread {
                    first: Shown {
                        message: m,
                        place: first_place[i].unwrap_or(Place::First),
                    },
                    replies: Vec::new(),
                });
            }
        }
        for (i, m) in messages.iter().enumerate() {
            let Walk::Placed(first) = walk[i] else {
                continue;
            };
            if first == i {
                continue;
            }
            let Some(&t) = thread_of.get(&first) else {
                continue;
            };
            let parent = m.parent_id.as_deref().unwrap_or_default();
            let place = if at.get(parent) == Some(&first) {
                Place::Reply
            } else {
                Place::Nested { parent }
            };
            threads[t].replies.push(Shown { message: m, place });
        }
        threads
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::BTreeMap;

    use rand::rngs::StdRng;
    use rand::{RngExt as _, SeedableRng as _};

    use super::*;

    pub fn message(id: &str, parent: Option<&str>, at: Option<i64>, updated: i64) -> Message {
        let time = |s: i64| chrono::DateTime::<chrono::Utc>::from_timestamp(s, 0);
        serde_json::from_value(serde_json::json!({
            "id": id, "cid": "messaging:x", "parent_id": parent,
            "text": format!("QQ{id}ZZ"),
            "user": {"id": "u1"},
            "created_at": at.and_then(time),
            "updated_at": time(updated),
        }))
        .expect("a message")
    }

    /// A thread as `(first, its place, [(reply, its place)])`.
    type Shape<'a> = (&'a str, Place<'a>, Vec<(&'a str, Place<'a>)>);

    fn shape<'a>(threads: &'a [Thread<'a>]) -> Vec<Shape<'a>> {
        threads
            .iter()
            .map(|t| {
                (
                    t.first.message.id.as_str(),
                    t.first.place,
                    t.replies
                        .iter()
                        .map(|r| (r.message.id.as_str(), r.place))
                        .collect(),
                )
            })
            .collect()
    }

    #[test]
    fn replies_to_replies_sit_under_the_topmost_ancestor_present() {
        let c = Conversation::new([
            message("b", Some("a"), Some(1), 1),
            message("c", Some("b"), Some(2), 1),
            message("d", Some("c"), Some(3), 1),
            message("p", None, Some(4), 1),
            message("q", Some("p"), Some(5), 1),
            message("r", Some("q"), Some(6), 1),
        ]);
        let threads = c.threads();
        assert_eq!(
            shape(&threads),
            [
                (
                    "b",
                    Place::ParentAbsent { parent: "a" },
                    vec![("c", Place::Reply), ("d", Place::Nested { parent: "c" })]
                ),
                (
                    "p",
                    Place::First,
                    vec![("q", Place::Reply), ("r", Place::Nested { parent: "q" })]
                ),
            ]
        );
    }

    #[test]
    fn self_replies_and_loops_stand_alone_and_what_leads_in_sits_under_the_entry() {
        let c = Conversation::new([
            message("s", Some("s"), Some(1), 1),
            message("x", Some("y"), Some(2), 1),
            message("y", Some("x"), Some(3), 1),
            message("z", Some("y"), Some(4), 1),
            message("n", None, None, 1),
            message("o", Some("n"), None, 1),
        ]);
        let threads = c.threads();
        assert_eq!(
            shape(&threads),
            [
                ("s", Place::ToItself, vec![]),
                ("x", Place::InLoop { parent: "y" }, vec![]),
                (
                    "y",
                    Place::InLoop { parent: "x" },
                    vec![("z", Place::Reply)]
                ),
                ("n", Place::First, vec![("o", Place::Reply)]),
            ],
            "messages without a time come last"
        );
    }

    /// A parent graph with every shape the threading must survive: long chains, self-replies,
    /// loops, absent parents, copies with different `updated_at`, messages without a time.
    pub fn generated(seed: u64) -> Vec<Message> {
        let mut rng = StdRng::seed_from_u64(seed);
        let n = rng.random_range(1..400);
        let mut out = Vec::new();
        let id = |i: usize| format!("m{i}");
        for i in 0..n {
            let parent = match rng.random_range(0..10) {
                0..=2 => None,
                3 if i > 0 => Some(id(i - 1)),
                4 => Some(id(i)),
                5 => Some(format!("gone{i}")),
                _ => Some(id(rng.random_range(0..n))),
            };
            let at = (!rng.random_bool(0.05)).then(|| rng.random_range(0..1_000));
            out.push(message(&id(i), parent.as_deref(), at, 1));
            if rng.random_bool(0.1) {
                out.push(message(
                    &id(i),
                    parent.as_deref(),
                    at,
                    rng.random_range(0..3),
                ));
            }
        }
        if seed.is_multiple_of(4) {
            // A chain thousands deep, and one that closes into a loop at its end.
            let depth = 5_000;
            for i in 0..depth {
                let parent = (i > 0).then(|| format!("chain{}", i - 1));
                out.push(message(&format!("chain{i}"), parent.as_deref(), Some(i), 1));
            }
            for i in 0..depth {
                let parent = format!("ring{}", (i + 1) % depth);
                out.push(message(&format!("ring{i}"), Some(&parent), Some(i), 1));
            }
        }
        out
    }

    /// How many times each id is shown by the threading.
    pub fn shown_ids(threads: &[Thread<'_>]) -> BTreeMap<String, usize> {
        let mut seen = BTreeMap::new();
        for t in threads {
            for s in std::iter::once(&t.first).chain(&t.replies) {
                *seen.entry(s.message.id.clone()).or_insert(0) += 1;
            }
        }
        seen
    }

    #[test]
    fn every_message_of_any_parent_graph_is_shown_exactly_once() {
        for seed in 0..100 {
            let input = generated(seed);
            let mut ids: Vec<&str> = input.iter().map(|m| m.id.as_str()).collect();
            ids.sort_unstable();
            ids.dedup();
            let c = Conversation::new(input.clone());
            assert_eq!(c.len(), ids.len(), "seed {seed}: each id once");
            let threads = c.threads();
            let seen = shown_ids(&threads);
            assert_eq!(seen.len(), ids.len(), "seed {seed}: every id shown");
            assert!(seen.values().all(|&n| n == 1), "seed {seed}: none twice");
            for t in &threads {
                let times: Vec<_> = t.replies.iter().map(|r| copies::order(r.message)).collect();
                assert!(times.windows(2).all(|w| w[0] <= w[1]), "seed {seed}");
                for r in &t.replies {
                    assert!(
                        matches!(r.place, Place::Reply | Place::Nested { .. }),
                        "seed {seed}"
                    );
                }
            }
            let mut latest = HashMap::new();
            for m in &input {
                let kept = latest.entry(m.id.as_str()).or_insert(m.updated_at);
                *kept = (*kept).max(m.updated_at);
            }
            assert!(
                c.messages()
                    .iter()
                    .all(|m| latest.get(m.id.as_str()) == Some(&m.updated_at)),
                "seed {seed}: the latest copy"
            );
        }
    }
}
