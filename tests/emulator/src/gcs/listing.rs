//! One page of a bucket listing (XML API, `list-type=2`): objects under a prefix, names rolled
//! up into common prefixes at the delimiter, in name order, `max-keys` entries a page.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as TOKEN;

use super::model::Object;

/// GCS's largest (and default) page.
pub const MAX_KEYS: usize = 1000;

#[derive(Debug, Clone, Default)]
pub struct Query {
    pub prefix: String,
    pub delimiter: String,
    pub max_keys: usize,
    pub continuation_token: Option<String>,
    pub start_after: Option<String>,
}

#[derive(Debug, Clone)]
pub enum Entry<'a> {
    Object(&'a str, &'a Object),
    Prefix(String),
}

#[derive(Debug)]
pub struct Page<'a> {
    pub entries: Vec<Entry<'a>>,
    pub next_token: Option<String>,
}

/// The page `query` asks for; `None` when its continuation token is not one this server made.
pub fn page<'a>(objects: &'a BTreeMap<String, Object>, query: &Query) -> Option<Page<'a>> {
    let resume = match &query.continuation_token {
        Some(token) => Some(Resume::decode(token)?),
        None => query.start_after.clone().map(Resume::After),
    };
    let max = query.max_keys.clamp(1, MAX_KEYS);
    let mut entries: Vec<Entry<'a>> = Vec::new();
    let mut more = false;
    for (name, object) in objects.range(query.prefix.clone()..) {
        if !name.starts_with(&query.prefix) {
            break;
        }
        if resume.as_ref().is_some_and(|r| r.skips(name)) {
            continue;
        }
        let entry = match rolled_up(name, &query.prefix, &query.delimiter) {
            Some(prefix) => {
                if matches!(entries.last(), Some(Entry::Prefix(last)) if *last == prefix) {
                    continue;
                }
                Entry::Prefix(prefix)
            }
            None => Entry::Object(name, object),
        };
        if entries.len() == max {
            more = true;
            break;
        }
        entries.push(entry);
    }
    let next_token = match entries.last() {
        Some(last) if more => Some(Resume::from(last).encode()),
        _ => None,
    };
    Some(Page {
        entries,
        next_token,
    })
}

/// The common prefix `name` rolls up into, if the delimiter follows the prefix in it.
fn rolled_up(name: &str, prefix: &str, delimiter: &str) -> Option<String> {
    if delimiter.is_empty() {
        return None;
    }
    let rest = &name[prefix.len()..];
    rest.find(delimiter)
        .map(|at| format!("{prefix}{}", &rest[..at + delimiter.len()]))
}

/// Where the next page starts: after a name, or after everything under a common prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Resume {
    After(String),
    PastPrefix(String),
}

impl Resume {
    fn skips(&self, name: &str) -> bool {
        match self {
            Resume::After(after) => name <= after.as_str(),
            Resume::PastPrefix(prefix) => name <= prefix.as_str() || name.starts_with(prefix),
        }
    }

    fn encode(&self) -> String {
        let tagged = match self {
            Resume::After(name) => format!("o{name}"),
            Resume::PastPrefix(prefix) => format!("p{prefix}"),
        };
        TOKEN.encode(tagged)
    }

    fn decode(token: &str) -> Option<Resume> {
        let tagged = String::from_utf8(TOKEN.decode(token).ok()?).ok()?;
        match tagged.split_at_checked(1)? {
            ("o", name) => Some(Resume::After(name.to_owned())),
            ("p", prefix) => Some(Resume::PastPrefix(prefix.to_owned())),
            _ => None,
        }
    }
}

impl From<&Entry<'_>> for Resume {
    fn from(entry: &Entry<'_>) -> Resume {
        match entry {
            Entry::Object(name, _) => Resume::After((*name).to_owned()),
            Entry::Prefix(prefix) => Resume::PastPrefix(prefix.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gcs::model::{Attributes, Model, Precondition};
    use axum::body::Bytes;
    use chrono::Utc;

    fn bucket(names: &[&str]) -> Model {
        let mut m = Model::with_buckets(&["b"]);
        for name in names {
            m.put(
                "b",
                name,
                Bytes::new(),
                Attributes::default(),
                Precondition::None,
                Utc::now(),
            )
            .expect("put");
        }
        m
    }

    fn names(page: &Page<'_>) -> Vec<String> {
        page.entries
            .iter()
            .map(|e| match e {
                Entry::Object(name, _) => (*name).to_owned(),
                Entry::Prefix(p) => format!("[{p}]"),
            })
            .collect()
    }

    #[test]
    fn the_delimiter_rolls_names_up_into_prefixes() {
        let m = bucket(&["a/1", "a/b/2", "a/b/3", "a/c/4", "ab", "z"]);
        let objects = m.objects("b").expect("bucket");
        let query = Query {
            prefix: "a/".into(),
            delimiter: "/".into(),
            max_keys: MAX_KEYS,
            ..Query::default()
        };
        let page = page(objects, &query).expect("page");
        assert_eq!(names(&page), ["a/1", "[a/b/]", "[a/c/]"]);
        assert_eq!(page.next_token, None);
    }

    #[test]
    fn pages_continue_past_a_rolled_up_prefix() {
        let m = bucket(&["a", "b/1", "b/2", "b0", "c"]);
        let objects = m.objects("b").expect("bucket");
        let mut query = Query {
            delimiter: "/".into(),
            max_keys: 2,
            ..Query::default()
        };
        let mut seen = Vec::new();
        loop {
            let page = page(objects, &query).expect("page");
            seen.extend(names(&page));
            match page.next_token {
                Some(token) => query.continuation_token = Some(token),
                None => break,
            }
        }
        assert_eq!(seen, ["a", "[b/]", "b0", "c"]);
    }

    #[test]
    fn start_after_and_a_foreign_token() {
        let m = bucket(&["a", "b", "c"]);
        let objects = m.objects("b").expect("bucket");
        let query = Query {
            max_keys: MAX_KEYS,
            start_after: Some("a".into()),
            ..Query::default()
        };
        assert_eq!(names(&page(objects, &query).expect("page")), ["b", "c"]);
        let forged = Query {
            continuation_token: Some("not a token".into()),
            ..query
        };
        assert!(page(objects, &forged).is_none());
    }
}
