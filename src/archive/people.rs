//! Where an export names people: every user id an item holds, by the role it holds it in
//! (the counts of holds and erasure need all of them, not only message authors), and taking
//! one person out of an item (erasure, and the runs that drop erased users from new exports).

use std::collections::BTreeSet;

use serde_json::Value;

use super::entities::{Kind, Splitter};
use super::manifest::Manifest;
use super::read::{ReadError, entities, layout};
use super::tally::{Tally, UserCount};
use crate::store::Store;

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

/// Hands `found` every user id `item` (an entity of `kind`) names, with its role; an id
/// named twice in one item comes twice.
pub fn named(kind: Kind, item: &Value, found: &mut dyn FnMut(Role, &str)) {
    let id_of = |v: &Value| {
        v.get("id")
            .or_else(|| v.get("user_id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let user_of = |v: &Value| {
        v.get("user")
            .and_then(|u| u.get("id"))
            .or_else(|| v.get("user_id"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let each = |v: &Value, key: &str, role: Role, f: &mut dyn FnMut(Role, &str), by_user: bool| {
        if let Some(list) = v.get(key).and_then(Value::as_array) {
            for entry in list {
                let id = if by_user {
                    user_of(entry)
                } else {
                    id_of(entry)
                };
                if let Some(id) = id {
                    f(role, &id);
                }
            }
        }
    };
    match kind {
        Kind::Message => {
            if let Some(id) = user_of(item) {
                found(Role::Author, &id);
            }
            each(item, "mentioned_users", Role::Mention, found, false);
            each(item, "thread_participants", Role::Mention, found, false);
            each(item, "latest_reactions", Role::Reaction, found, true);
            each(item, "own_reactions", Role::Reaction, found, true);
        }
        Kind::Channel => {
            each(item, "members", Role::Member, found, true);
            each(item, "read", Role::Read, found, true);
        }
        Kind::User => {
            if let Some(id) = id_of(item) {
                found(Role::Record, &id);
            }
        }
        Kind::Other => {
            if let Some(id) = user_of(item) {
                let role = if item.get("message_id").is_some() {
                    Role::Reaction
                } else {
                    Role::Member
                };
                found(role, &id);
            }
        }
    }
}

/// Adds what `item` names to `count`'s users.
pub fn count(tally: &mut Tally, kind: Kind, item: &Value) {
    named(kind, item, &mut |role, id| {
        let user: &mut UserCount = tally.users.entry(id.to_owned()).or_default();
        match role {
            Role::Author => user.messages += 1,
            Role::Reaction => user.reactions += 1,
            Role::Member => user.memberships += 1,
            Role::Mention => user.mentions += 1,
            Role::Read => user.reads += 1,
            Role::Record => user.records += 1,
        }
    });
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

/// Takes the users of `erased` out of `item` (an entity of `kind`).
pub fn scrub(kind: Kind, item: &mut Value, erased: &BTreeSet<String>) -> Verdict {
    let mut theirs = None;
    named(kind, item, &mut |role, id| {
        if erased.contains(id) && matches!(role, Role::Author | Role::Record) {
            theirs = Some(role);
        }
        if erased.contains(id) && kind == Kind::Other {
            theirs = Some(role);
        }
    });
    if let Some(role) = theirs {
        return Verdict::Drop(role);
    }
    let mut rewritten = false;
    if let Some(list) = item
        .get_mut("mentioned_users")
        .and_then(Value::as_array_mut)
    {
        for user in list {
            if user
                .get("id")
                .and_then(Value::as_str)
                .is_some_and(|id| erased.contains(id))
            {
                *user = serde_json::json!({ "id": PLACEHOLDER_ID, "name": PLACEHOLDER_NAME });
                rewritten = true;
            }
        }
    }
    if rewritten {
        Verdict::Rewritten
    } else {
        Verdict::Keep
    }
}

/// The counts of every user the archive of `manifest` holds anything of: from its manifest
/// when it counts everyone (format 3 on), else by reading the archive.
pub async fn everyone(store: &Store, manifest: &Manifest) -> Result<Tally, ReadError> {
    if manifest.counts_everyone()
        && let Some(contents) = &manifest.contents
    {
        return Ok(contents.clone());
    }
    let mut tally = Tally::default();
    let mut found = |kind: Kind, bytes: &[u8]| {
        if let Ok(item) = serde_json::from_slice::<Value>(bytes) {
            count(&mut tally, kind, &item);
        }
    };
    entities(store, manifest, Splitter::new(layout(manifest)), &mut found).await?;
    Ok(tally)
}
