//! Where an export names people: every user id an item holds, by the role it holds it in
//! (the counts of holds and erasure need all of them, not only message authors), and taking
//! one person out of an item (erasure, and the runs that drop erased users from new exports).
//! `people` is the face of it; this file sits below the counting (`tally`), which
//! `people::everyone` uses through catalog records and reading archives.
//!
//! The places, in Stream's regular API shapes (the export files use them):
//! - a message: `user` (or `user_id`), its author; `mentioned_users[]`,
//!   `thread_participants[]` and `pinned_by`, users it names; `latest_reactions[]` and
//!   `own_reactions[]`, reactions with their `user`; `quoted_message`, an embedded copy of
//!   another message, whose every user is named by the quoting message;
//! - a channel: `created_by`; `members[]` and `read[]`, each entry with `user_id` or `user`;
//! - a member or reaction line (`Kind::Other`, a v1 document's `members` too): its `user` or
//!   `user_id`, a reaction when it names a `message_id`, else a membership;
//! - a users export's user line (or a bare object with an `id` and nothing else that places
//!   it): the user's record.
//!
//! Ids are non-empty strings; anything else in those places (a number, an empty string, an
//! object where a string should be) names nobody. Nothing here panics on any input.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::entities::Kind;

/// Stands for an erased user inside other people's items: in `user`, `mentioned_users`,
/// reactions and read state.
pub const PLACEHOLDER_ID: &str = "erased-user";
pub const PLACEHOLDER_NAME: &str = "Erased user";

/// The part a user has in an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Wrote the message.
    Author,
    Reaction,
    Member,
    /// Named in someone else's item: mentioned, quoted, a thread participant, pinned by.
    Mention,
    Read,
    /// Their user record.
    Record,
}

/// How deep quoted messages are followed. Stream embeds one level; a deeper chain is
/// hostile data, and past this depth a scrub removes the quote rather than read it.
const MAX_QUOTES: usize = 8;

/// A message's lists of users, each entry a user object (or a bare id).
const USER_LISTS: [&str; 2] = ["mentioned_users", "thread_participants"];
/// A message's lists of reactions, each entry with its `user` or `user_id`.
const REACTION_LISTS: [&str; 2] = ["latest_reactions", "own_reactions"];
/// A channel's lists of per-user entries, each with its `user_id` or `user`.
const CHANNEL_LISTS: [(&str, Role); 2] = [("members", Role::Member), ("read", Role::Read)];

/// A non-empty string id.
fn id(v: &Value) -> Option<&str> {
    v.as_str().filter(|s| !s.is_empty())
}

/// The user a user object is (its `id`), or a bare id.
fn user_ref(v: &Value) -> Option<&str> {
    match v {
        Value::Object(o) => o.get("id").and_then(id),
        other => id(other),
    }
}

/// Whose an entry is: its `user`'s id and its `user_id`, each once (they may disagree in
/// hostile data, and then both count); a bare id is its own.
fn owners(v: &Value) -> [Option<&str>; 2] {
    match v {
        Value::Object(o) => {
            let by_user = o.get("user").and_then(user_ref);
            let by_id = o.get("user_id").and_then(id);
            [by_user, by_id.filter(|i| Some(*i) != by_user)]
        }
        other => [id(other), None],
    }
}

fn list<'a>(item: &'a Value, key: &str) -> &'a [Value] {
    item.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// The role of a member, reaction or other line's user, when it has one.
fn other_role(item: &Map<String, Value>) -> Option<Role> {
    if item.contains_key("user") || item.contains_key("user_id") {
        Some(if item.contains_key("message_id") {
            Role::Reaction
        } else {
            Role::Member
        })
    } else if item.contains_key("id")
        && !item.contains_key("cid")
        && !item.contains_key("message_id")
    {
        Some(Role::Record)
    } else {
        None
    }
}

/// Hands `found` every user id `item` (an entity of `kind`) names, with its role; an id
/// named twice in one item comes twice.
pub fn named(kind: Kind, item: &Value, found: &mut dyn FnMut(Role, &str)) {
    let Some(object) = item.as_object() else {
        return;
    };
    match kind {
        Kind::Message => message_named(item, Role::Author, found, 0),
        Kind::Channel => {
            if let Some(id) = item.get("created_by").and_then(user_ref) {
                found(Role::Mention, id);
            }
            for (key, role) in CHANNEL_LISTS {
                for entry in list(item, key) {
                    for id in owners(entry).into_iter().flatten() {
                        found(role, id);
                    }
                }
            }
        }
        Kind::User => {
            if let Some(id) = object.get("id").and_then(id) {
                found(Role::Record, id);
            }
        }
        Kind::Other => match other_role(object) {
            Some(Role::Record) => {
                if let Some(id) = object.get("id").and_then(id) {
                    found(Role::Record, id);
                }
            }
            Some(role) => {
                for id in owners(item).into_iter().flatten() {
                    found(role, id);
                }
            }
            None => {}
        },
    }
}

/// A message's users; the author's role is `author` (a quoted message's author is a
/// mention of the quoting one, as is everyone it names).
fn message_named(m: &Value, author: Role, found: &mut dyn FnMut(Role, &str), depth: usize) {
    let quoted = author != Role::Author;
    let mut say = |role: Role, id: &str| found(if quoted { Role::Mention } else { role }, id);
    for id in owners(m).into_iter().flatten() {
        say(author, id);
    }
    for key in USER_LISTS {
        for user in list(m, key) {
            if let Some(id) = user_ref(user) {
                say(Role::Mention, id);
            }
        }
    }
    if let Some(id) = m.get("pinned_by").and_then(user_ref) {
        say(Role::Mention, id);
    }
    for key in REACTION_LISTS {
        for reaction in list(m, key) {
            for id in owners(reaction).into_iter().flatten() {
                say(Role::Reaction, id);
            }
        }
    }
    if depth < MAX_QUOTES
        && let Some(q) = m.get("quoted_message").filter(|q| q.is_object())
    {
        message_named(q, Role::Mention, &mut say, depth + 1);
    }
}

/// What taking the erased users out of an item did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Names none of them.
    Keep,
    /// Theirs (their message, reaction, membership, read state or record): leave it out.
    Drop(Role),
    /// Someone else's item that named them: their id and name are now the placeholder.
    Rewritten,
}

/// What stands in a user object's place: the placeholder's id and name, nothing else of
/// theirs (a picture's link, custom fields and the like say who it was as well as the id).
fn placeholder(was: &Value) -> Value {
    if was.is_object() {
        serde_json::json!({ "id": PLACEHOLDER_ID, "name": PLACEHOLDER_NAME })
    } else {
        Value::String(PLACEHOLDER_ID.to_owned())
    }
}

/// Takes the users of `erased` out of `item` (an entity of `kind`): their own items are to be
/// dropped, and inside others' their user objects become the placeholder, their reactions,
/// memberships and read state go, and a quoted copy of their message goes (its
/// `quoted_message_id` stays).
pub fn scrub(kind: Kind, item: &mut Value, erased: &BTreeSet<String>) -> Verdict {
    if erased.is_empty() {
        return Verdict::Keep;
    }
    let is_erased = |id: Option<&str>| id.is_some_and(|id| erased.contains(id));
    let Some(object) = item.as_object() else {
        return Verdict::Keep;
    };
    let theirs = match kind {
        Kind::Message => owners(item)
            .into_iter()
            .any(is_erased)
            .then_some(Role::Author),
        Kind::User => is_erased(object.get("id").and_then(id)).then_some(Role::Record),
        Kind::Other => match other_role(object) {
            Some(Role::Record) => is_erased(object.get("id").and_then(id)).then_some(Role::Record),
            Some(role) => owners(item).into_iter().any(is_erased).then_some(role),
            None => None,
        },
        Kind::Channel => None,
    };
    if let Some(role) = theirs {
        return Verdict::Drop(role);
    }
    let changed = match kind {
        Kind::Message => scrub_message(item, erased, 0),
        Kind::Channel => scrub_channel(item, erased),
        Kind::User | Kind::Other => false,
    };
    if changed {
        Verdict::Rewritten
    } else {
        Verdict::Keep
    }
}

/// Leaves out of `key`'s list the entries an erased user owns; whether any went.
fn drop_owned(item: &mut Value, key: &str, erased: &BTreeSet<String>) -> bool {
    let Some(entries) = item.get_mut(key).and_then(Value::as_array_mut) else {
        return false;
    };
    let before = entries.len();
    entries.retain(|e| {
        !owners(e)
            .into_iter()
            .flatten()
            .any(|id| erased.contains(id))
    });
    entries.len() != before
}

/// Puts the placeholder in place of an erased user's object at `slot`; whether it did.
fn replace_user(slot: &mut Value, erased: &BTreeSet<String>) -> bool {
    if user_ref(slot).is_some_and(|id| erased.contains(id)) {
        *slot = placeholder(slot);
        true
    } else {
        false
    }
}

fn scrub_message(m: &mut Value, erased: &BTreeSet<String>, depth: usize) -> bool {
    let mut changed = false;
    for key in USER_LISTS {
        if let Some(users) = m.get_mut(key).and_then(Value::as_array_mut) {
            for user in users {
                changed |= replace_user(user, erased);
            }
        }
    }
    if let Some(pinned) = m.get_mut("pinned_by") {
        changed |= replace_user(pinned, erased);
    }
    for key in REACTION_LISTS {
        changed |= drop_owned(m, key, erased);
    }
    let Some(object) = m.as_object_mut() else {
        return changed;
    };
    if let Some(quoted) = object.get_mut("quoted_message").filter(|q| q.is_object()) {
        let theirs = owners(quoted)
            .into_iter()
            .flatten()
            .any(|id| erased.contains(id));
        if theirs || depth + 1 >= MAX_QUOTES {
            object.remove("quoted_message");
            changed = true;
        } else {
            changed |= scrub_message(quoted, erased, depth + 1);
        }
    }
    changed
}

fn scrub_channel(c: &mut Value, erased: &BTreeSet<String>) -> bool {
    let mut changed = false;
    if let Some(creator) = c.get_mut("created_by") {
        changed |= replace_user(creator, erased);
    }
    for (key, _) in CHANNEL_LISTS {
        changed |= drop_owned(c, key, erased);
    }
    changed
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn all(kind: Kind, item: &Value) -> Vec<(Role, String)> {
        let mut out = Vec::new();
        named(kind, item, &mut |role, id| out.push((role, id.to_owned())));
        out
    }

    fn ids(kind: Kind, item: &Value) -> BTreeSet<String> {
        all(kind, item).into_iter().map(|(_, id)| id).collect()
    }

    fn gone() -> BTreeSet<String> {
        BTreeSet::from(["gone".to_owned()])
    }

    fn message() -> Value {
        json!({
            "id": "m", "cid": "messaging:a", "text": "hi",
            "user": {"id": "author", "name": "A"},
            "mentioned_users": [{"id": "gone", "name": "Gone Person", "image": "https://cdn/g.png"}, {"id": "other"}],
            "thread_participants": [{"id": "gone"}, {"id": "author"}],
            "pinned_by": {"id": "gone"},
            "latest_reactions": [{"user": {"id": "gone"}, "type": "like"}, {"user_id": "other", "type": "love"}],
            "own_reactions": [{"user_id": "gone"}],
            "quoted_message_id": "q",
            "quoted_message": {"id": "q", "user": {"id": "quoted"}, "mentioned_users": [{"id": "gone"}]}
        })
    }

    #[test]
    fn a_message_names_its_author_mentions_reactions_and_quote() {
        let got = all(Kind::Message, &message());
        let want = [
            (Role::Author, "author"),
            (Role::Mention, "gone"),
            (Role::Mention, "other"),
            (Role::Mention, "gone"),
            (Role::Mention, "author"),
            (Role::Mention, "gone"),
            (Role::Reaction, "gone"),
            (Role::Reaction, "other"),
            (Role::Reaction, "gone"),
            (Role::Mention, "quoted"),
            (Role::Mention, "gone"),
        ];
        let want: Vec<(Role, String)> = want.iter().map(|(r, i)| (*r, (*i).to_owned())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_channel_names_its_creator_members_and_readers() {
        let channel = json!({
            "cid": "messaging:a",
            "created_by": {"id": "boss"},
            "members": [{"user_id": "a"}, {"user": {"id": "b"}}, {"user_id": "c", "user": {"id": "c"}}],
            "read": [{"user": {"id": "a"}, "last_read": "2026-01-01T00:00:00Z"}]
        });
        let got = all(Kind::Channel, &channel);
        assert_eq!(
            got,
            [
                (Role::Mention, "boss".to_owned()),
                (Role::Member, "a".to_owned()),
                (Role::Member, "b".to_owned()),
                (Role::Member, "c".to_owned()),
                (Role::Read, "a".to_owned()),
            ]
        );
    }

    #[test]
    fn member_reaction_and_record_lines_are_told_apart_by_their_fields() {
        let member = json!({"user_id": "u", "user": {"id": "u"}, "channel_role": "channel_member"});
        let reaction = json!({"message_id": "m", "user": {"id": "u"}, "type": "like"});
        let record = json!({"id": "u", "name": "U", "role": "user"});
        assert_eq!(all(Kind::Other, &member), [(Role::Member, "u".to_owned())]);
        assert_eq!(
            all(Kind::Other, &reaction),
            [(Role::Reaction, "u".to_owned())]
        );
        assert_eq!(all(Kind::Other, &record), [(Role::Record, "u".to_owned())]);
        assert_eq!(all(Kind::User, &record), [(Role::Record, "u".to_owned())]);
    }

    #[test]
    fn scrubbing_someone_elses_message_leaves_nothing_of_them() {
        let mut m = message();
        assert_eq!(scrub(Kind::Message, &mut m, &gone()), Verdict::Rewritten);
        assert!(!ids(Kind::Message, &m).contains("gone"), "{m}");
        let text = m.to_string();
        assert!(
            !text.contains("Gone Person") && !text.contains("g.png"),
            "{text}"
        );
        assert_eq!(m["mentioned_users"][0]["id"], PLACEHOLDER_ID);
        assert_eq!(m["mentioned_users"][0]["name"], PLACEHOLDER_NAME);
        assert_eq!(m["mentioned_users"][1]["id"], "other");
        assert_eq!(m["pinned_by"]["id"], PLACEHOLDER_ID);
        assert_eq!(m["latest_reactions"].as_array().map(Vec::len), Some(1));
        assert_eq!(m["own_reactions"].as_array().map(Vec::len), Some(0));
        assert_eq!(
            m["quoted_message"]["user"]["id"], "quoted",
            "not theirs: kept"
        );
        assert_eq!(
            m["quoted_message"]["mentioned_users"][0]["id"],
            PLACEHOLDER_ID
        );
        assert_eq!(m["text"], "hi");
    }

    #[test]
    fn their_own_items_are_dropped_and_a_quote_of_theirs_removed() {
        let erased = gone();
        let mut own = json!({"id": "1", "user": {"id": "gone"}});
        assert_eq!(
            scrub(Kind::Message, &mut own, &erased),
            Verdict::Drop(Role::Author)
        );
        let mut by_user_id = json!({"id": "1", "user": {"id": "x"}, "user_id": "gone"});
        assert_eq!(
            scrub(Kind::Message, &mut by_user_id, &erased),
            Verdict::Drop(Role::Author),
            "user and user_id disagree: either is enough"
        );
        for (kind, item, role) in [
            (Kind::Other, json!({"user_id": "gone"}), Role::Member),
            (
                Kind::Other,
                json!({"message_id": "m", "user": {"id": "gone"}}),
                Role::Reaction,
            ),
            (
                Kind::Other,
                json!({"id": "gone", "name": "G"}),
                Role::Record,
            ),
            (Kind::User, json!({"id": "gone"}), Role::Record),
        ] {
            let mut item = item;
            assert_eq!(
                scrub(kind, &mut item, &erased),
                Verdict::Drop(role),
                "{item}"
            );
        }
        let mut quoting = json!({"id": "2", "user": {"id": "x"}, "quoted_message_id": "1", "quoted_message": {"id": "1", "user": {"id": "gone"}}});
        assert_eq!(
            scrub(Kind::Message, &mut quoting, &erased),
            Verdict::Rewritten
        );
        assert!(quoting.get("quoted_message").is_none());
        assert_eq!(quoting["quoted_message_id"], "1");
        let mut channel = json!({"cid": "a:b", "created_by": {"id": "gone"}, "members": [{"user_id": "gone"}, {"user_id": "x"}], "read": [{"user": {"id": "gone"}}]});
        assert_eq!(
            scrub(Kind::Channel, &mut channel, &erased),
            Verdict::Rewritten
        );
        assert_eq!(
            ids(Kind::Channel, &channel),
            BTreeSet::from([PLACEHOLDER_ID.to_owned(), "x".to_owned()])
        );
    }

    #[test]
    fn an_item_naming_nobody_erased_is_kept_as_it_is() {
        let mut m = message();
        let before = m.clone();
        let erased = BTreeSet::from(["nobody".to_owned()]);
        assert_eq!(scrub(Kind::Message, &mut m, &erased), Verdict::Keep);
        assert_eq!(
            scrub(Kind::Message, &mut m, &BTreeSet::new()),
            Verdict::Keep
        );
        assert_eq!(m, before);
    }

    /// Hostile shapes: none panics, odd ids name nobody, and a scrub never leaves an erased
    /// id where `named` would find it.
    #[test]
    fn hostile_items_never_panic_and_scrubbing_leaves_no_erased_id() {
        let huge: Vec<Value> = (0..20_000)
            .map(|i| json!({"id": if i % 2 == 0 { "gone".to_owned() } else { format!("u{i}") }}))
            .collect();
        let mut nested = json!({"id": "deep", "user": {"id": "gone"}});
        for i in 0..40 {
            nested = json!({"id": format!("q{i}"), "user": {"id": format!("u{i}")}, "quoted_message": nested});
        }
        let bidi = "\u{202e}gone\u{202c}";
        let cases = [
            json!(null),
            json!(7),
            json!("gone"),
            json!(["gone", {"user": {"id": "gone"}}]),
            json!({"user": "gone"}),
            json!({"user": {"id": 42}, "user_id": ["gone"]}),
            json!({"user": {"id": ""}, "mentioned_users": ["gone", 5, null, {"id": {"id": "gone"}}]}),
            json!({"user": {"id": "a"}, "mentioned_users": {"id": "gone"}, "latest_reactions": "gone"}),
            json!({"user": {"id": "a", "name": bidi}, "mentioned_users": [{"id": bidi, "name": bidi}]}),
            json!({"user": {"id": "a"}, "mentioned_users": huge.clone(), "thread_participants": huge}),
            json!({"user": {"id": "a"}, "quoted_message": "gone"}),
            nested,
            json!({"members": [null, 1, "gone", {"user_id": 3}, {"user": "gone"}], "read": [[]], "created_by": "gone"}),
        ];
        let erased = BTreeSet::from(["gone".to_owned(), bidi.to_owned()]);
        for case in cases {
            for kind in [Kind::Message, Kind::Channel, Kind::User, Kind::Other] {
                let _ = ids(kind, &case);
                let mut item = case.clone();
                let verdict = scrub(kind, &mut item, &erased);
                if !matches!(verdict, Verdict::Drop(_)) {
                    let left = ids(kind, &item);
                    assert!(left.is_disjoint(&erased), "{kind:?} {verdict:?}: {left:?}");
                }
                if verdict == Verdict::Keep {
                    assert_eq!(item, case, "kept means untouched");
                }
            }
        }
        assert!(ids(Kind::Message, &json!({"user": {"id": 42}})).is_empty());
        assert!(ids(Kind::Message, &json!({"user": {"id": ""}})).is_empty());
    }
}
