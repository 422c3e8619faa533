//! The media links an export holds, found in the entities `entities::Splitter` cuts out: an
//! attachment's `asset_url`, `image_url` and `thumb_url`, a user's `image` (a message's author,
//! a member, a reaction's user, a users export's user) and a channel's `image`.
//!
//! The links are kept as they stand, signature and all, because the capture needs a working
//! link; they live in memory only and are never written anywhere (records keep the link
//! without its query). Entities are parsed into borrowed structs that skip every other field,
//! and a field of an unexpected type loses only itself: the input is written by end users.

use std::borrow::Cow;
use std::collections::HashSet;
use std::fmt;
use std::marker::PhantomData;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::record::Owner;
use crate::archive::entities::{Kind, Splitter};
use crate::archive::manifest::Manifest;
use crate::archive::read::{self, ReadError};
use crate::links;
use crate::store::Store;

/// A media link and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRef {
    pub owner: Owner,
    /// e.g. `attachments[0].image_url`, `image`.
    pub field: String,
    /// As exported: signed, with its query string.
    pub url: String,
}

/// Collects the media links of the entities fed to it, each (owner, field, link without its
/// query) once, in the order first seen.
#[derive(Debug, Default)]
pub struct RefCollector {
    seen: HashSet<(Owner, String, String)>,
    found: Vec<FoundRef>,
}

impl RefCollector {
    pub fn new() -> Self {
        RefCollector::default()
    }

    /// One entity as `entities::Splitter` hands it on.
    pub fn entity(&mut self, kind: Kind, bytes: &[u8]) {
        match kind {
            Kind::Message => {
                if let Ok(message) = serde_json::from_slice::<MessageLinks<'_>>(bytes) {
                    self.message(message);
                }
            }
            Kind::Channel => {
                if let Ok(channel) = serde_json::from_slice::<ChannelLinks<'_>>(bytes)
                    && let Some(cid) = channel.cid()
                {
                    self.add(Owner::Channel(cid), "image".to_owned(), &channel.image);
                }
            }
            Kind::User => {
                if let Ok(user) = serde_json::from_slice::<UserLinks<'_>>(bytes) {
                    self.user(&user);
                }
            }
            Kind::Other => {
                if let Ok(OtherLinks {
                    user: Object(Some(user)),
                }) = serde_json::from_slice::<OtherLinks<'_>>(bytes)
                {
                    self.user(&user);
                }
            }
        }
    }

    pub fn finish(self) -> Vec<FoundRef> {
        self.found
    }

    fn message(&mut self, message: MessageLinks<'_>) {
        if let Some(id) = message.id.0.filter(|id| !id.is_empty()) {
            let owner = Owner::Message(id.into_owned());
            for (i, attachment) in message.attachments.0.iter().enumerate() {
                let Object(Some(attachment)) = attachment else {
                    continue;
                };
                for (name, link) in [
                    ("asset_url", &attachment.asset_url),
                    ("image_url", &attachment.image_url),
                    ("thumb_url", &attachment.thumb_url),
                ] {
                    if link.0.is_some() {
                        self.add(owner.clone(), format!("attachments[{i}].{name}"), link);
                    }
                }
            }
        }
        if let Object(Some(user)) = &message.user {
            self.user(user);
        }
    }

    fn user(&mut self, user: &UserLinks<'_>) {
        if let Some(id) = user.id.0.as_deref().filter(|id| !id.is_empty()) {
            self.add(Owner::User(id.to_owned()), "image".to_owned(), &user.image);
        }
    }

    fn add(&mut self, owner: Owner, field: String, link: &Text<'_>) {
        let Some(url) = link.0.as_deref().filter(|url| links::is_web(url)) else {
            return;
        };
        let key = (owner, field, links::without_query(url).to_owned());
        if self.seen.insert(key.clone()) {
            let (owner, field, _) = key;
            self.found.push(FoundRef {
                owner,
                field,
                url: url.to_owned(),
            });
        }
    }
}

/// Reads a stored archive once (its size and SHA-256 checked against `manifest` as it
/// streams) and collects its links as the count pass does: for archives written before
/// captures were.
pub async fn refs_in_archive(
    store: &Store,
    manifest: &Manifest,
) -> Result<Vec<FoundRef>, ReadError> {
    let mut collector = RefCollector::new();
    let splitter = Splitter::new(read::layout(manifest));
    read::entities(store, manifest, splitter, &mut |kind, bytes| {
        collector.entity(kind, bytes);
    })
    .await?;
    Ok(collector.finish())
}

#[derive(Deserialize)]
struct MessageLinks<'a> {
    #[serde(default, borrow)]
    id: Text<'a>,
    #[serde(default, borrow)]
    user: Object<UserLinks<'a>>,
    #[serde(default, borrow)]
    attachments: Items<Object<AttachmentLinks<'a>>>,
}

#[derive(Deserialize)]
struct AttachmentLinks<'a> {
    #[serde(default, borrow)]
    asset_url: Text<'a>,
    #[serde(default, borrow)]
    image_url: Text<'a>,
    #[serde(default, borrow)]
    thumb_url: Text<'a>,
}

#[derive(Deserialize)]
struct UserLinks<'a> {
    #[serde(default, borrow)]
    id: Text<'a>,
    #[serde(default, borrow)]
    image: Text<'a>,
}

#[derive(Deserialize)]
struct ChannelLinks<'a> {
    #[serde(default, borrow)]
    cid: Text<'a>,
    #[serde(default, borrow, rename = "type")]
    channel_type: Text<'a>,
    #[serde(default, borrow)]
    id: Text<'a>,
    #[serde(default, borrow)]
    image: Text<'a>,
}

impl ChannelLinks<'_> {
    /// `type:id`, from `cid` or from the two fields (as `entities::ChannelHead` reads it).
    fn cid(&self) -> Option<String> {
        match (&self.cid.0, &self.channel_type.0, &self.id.0) {
            (Some(cid), _, _) if !cid.is_empty() => Some(cid.to_string()),
            (_, Some(t), Some(id)) if !t.is_empty() && !id.is_empty() => Some(format!("{t}:{id}")),
            _ => None,
        }
    }
}

/// Members, reactions: their `user`.
#[derive(Deserialize)]
struct OtherLinks<'a> {
    #[serde(default, borrow)]
    user: Object<UserLinks<'a>>,
}

/// A string, or `None` for any other JSON value.
#[derive(Default)]
struct Text<'a>(Option<Cow<'a, str>>);

/// An object read as `T`, or `None` for any other JSON value.
struct Object<T>(Option<T>);

/// An array's elements, or none for any other JSON value.
struct Items<T>(Vec<T>);

impl<T> Default for Object<T> {
    fn default() -> Self {
        Object(None)
    }
}

impl<T> Default for Items<T> {
    fn default() -> Self {
        Items(Vec::new())
    }
}

/// The visits a lenient value takes as "not what was wanted": scalars.
macro_rules! scalars_are {
    ($none:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
    };
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Some(Cow::Owned(v))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|()| Text(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(|()| Text(None))
            }
            scalars_are!(Text(None));
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Object<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|t| Object(Some(t)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|()| Object(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Object(None))
            }
            scalars_are!(Object(None));
        }
        d.deserialize_any(V(PhantomData))
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Items<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Items<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Items(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(|()| Items(Vec::new()))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Items(Vec::new()))
            }
            scalars_are!(Items(Vec::new()));
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use sha2::Digest as _;

    use super::*;
    use crate::archive::entities::Layout;

    fn collect(layout: Layout, file: &str) -> Vec<(Owner, String, String)> {
        let mut collector = RefCollector::new();
        let mut splitter = Splitter::new(layout);
        for piece in file.as_bytes().chunks(7) {
            splitter.push(piece, &mut |kind, bytes| collector.entity(kind, bytes));
        }
        splitter.finish(&mut |kind, bytes| collector.entity(kind, bytes));
        collector
            .finish()
            .into_iter()
            .map(|r| (r.owner, r.field, r.url))
            .collect()
    }

    fn m(id: &str) -> Owner {
        Owner::Message(id.into())
    }

    fn u(id: &str) -> Owner {
        Owner::User(id.into())
    }

    fn found(owner: Owner, field: &str, url: &str) -> (Owner, String, String) {
        (owner, field.into(), url.into())
    }

    const SIGNED: &str = "https://us-east.stream-io-cdn.com/1/a.png?Expires=1&Signature=S";

    #[test]
    fn every_media_field_of_a_v2_export_is_found_with_its_signature() {
        let message = format!(
            r#"{{"type":"message","item":{{"id":"m1","cid":"messaging:a","user":{{"id":"u1","image":"http://cdn.example/u1.jpg"}},"attachments":[{{"type":"image","image_url":"{SIGNED}","thumb_url":"https://cdn.example/t.png"}},{{"type":"file","asset_url":"https://cdn.example/f.pdf"}}]}}}}"#
        );
        let file = [
            r#"{"type":"channel","item":{"cid":"messaging:a","image":"https://cdn.example/c.png"}}"#,
            r#"{"type":"member","item":{"user_id":"u2","user":{"id":"u2","image":"https://cdn.example/u2.jpg"}}}"#,
            &message,
            r#"{"type":"reaction","item":{"message_id":"m1","user":{"id":"u3","image":"https://cdn.example/u3.jpg"}}}"#,
        ]
        .join("\n");
        assert_eq!(
            collect(Layout::Lines, &file),
            [
                found(
                    Owner::Channel("messaging:a".into()),
                    "image",
                    "https://cdn.example/c.png"
                ),
                found(u("u2"), "image", "https://cdn.example/u2.jpg"),
                found(m("m1"), "attachments[0].image_url", SIGNED),
                found(
                    m("m1"),
                    "attachments[0].thumb_url",
                    "https://cdn.example/t.png"
                ),
                found(
                    m("m1"),
                    "attachments[1].asset_url",
                    "https://cdn.example/f.pdf"
                ),
                found(u("u1"), "image", "http://cdn.example/u1.jpg"),
                found(u("u3"), "image", "https://cdn.example/u3.jpg"),
            ]
        );
    }

    #[test]
    fn a_v1_document_gives_its_channel_messages_and_members_links() {
        let one = r#"{"channel":{"type":"messaging","id":"a","image":"https://cdn.example/c.png"},
            "messages":[{"id":"m1","text":"","user":{"id":"u1","image":"https://cdn.example/u1.jpg"},
                         "attachments":[{"asset_url":"https://cdn.example/v.mp4"}]}],
            "members":[{"user_id":"u2","user":{"id":"u2","image":"https://cdn.example/u2.jpg"}}]}"#;
        let want = [
            found(
                Owner::Channel("messaging:a".into()),
                "image",
                "https://cdn.example/c.png",
            ),
            found(
                m("m1"),
                "attachments[0].asset_url",
                "https://cdn.example/v.mp4",
            ),
            found(u("u1"), "image", "https://cdn.example/u1.jpg"),
            found(u("u2"), "image", "https://cdn.example/u2.jpg"),
        ];
        assert_eq!(collect(Layout::Document, one), want);
        let several = format!(r#"{{"channels":[{one},{one}]}}"#);
        assert_eq!(collect(Layout::Document, &several), want, "deduplicated");
    }

    #[test]
    fn a_users_export_gives_its_users_images() {
        let file = concat!(
            r#"{"type":"user","item":{"id":"u1","image":"https://cdn.example/u1.jpg"}}"#,
            "\n",
            r#"{"type":"message","item":{"id":"m","user":{"id":"u1","image":"https://cdn.example/u1.jpg"}}}"#,
        );
        assert_eq!(
            collect(Layout::Lines, file),
            [found(u("u1"), "image", "https://cdn.example/u1.jpg")]
        );
    }

    #[test]
    fn a_link_is_kept_once_per_owner_field_and_path_whatever_its_signature() {
        let file = concat!(
            r#"{"type":"message","item":{"id":"m","attachments":[{"image_url":"https://h/a.png?Expires=1"}]}}"#,
            "\n",
            r#"{"type":"message","item":{"id":"m","attachments":[{"image_url":"https://h/a.png?Expires=2"}]}}"#,
            "\n",
            r#"{"type":"message","item":{"id":"n","attachments":[{"image_url":"https://h/a.png?Expires=2"}]}}"#,
        );
        assert_eq!(
            collect(Layout::Lines, file),
            [
                found(
                    m("m"),
                    "attachments[0].image_url",
                    "https://h/a.png?Expires=1"
                ),
                found(
                    m("n"),
                    "attachments[0].image_url",
                    "https://h/a.png?Expires=2"
                ),
            ]
        );
    }

    #[test]
    fn only_web_links_are_collected() {
        let file = r#"{"type":"message","item":{"id":"m","attachments":[{"image_url":"data:image/png;base64,AAAA","asset_url":"HTTPS://H/x","thumb_url":"ftp://h/x"},{"image_url":"javascript:alert(1)"},{"image_url":"/relative.png"}]}}"#;
        assert_eq!(
            collect(Layout::Lines, file),
            [found(m("m"), "attachments[0].asset_url", "HTTPS://H/x")]
        );
    }

    #[test]
    fn fields_of_the_wrong_type_lose_only_themselves() {
        let file = concat!(
            r#"{"type":"message","item":{"id":"m","user":"u","attachments":[7,"x",null,[1],{"image_url":{"a":1},"thumb_url":"https://h/t\u002epng"},{"asset_url":"https://h/f"}]}}"#,
            "\n",
            r#"{"type":"message","item":{"id":5,"user":{"id":"u","image":["https://h/no"]},"attachments":{"0":{}}}}"#,
            "\n",
            r#"{"type":"channel","item":{"cid":7,"type":"t","id":"i","image":"https://h/c"}}"#,
            "\n",
            r#"{"type":"user","item":{"id":"","image":"https://h/nobody"}}"#,
        );
        assert_eq!(
            collect(Layout::Lines, file),
            [
                found(m("m"), "attachments[4].thumb_url", "https://h/t.png"),
                found(m("m"), "attachments[5].asset_url", "https://h/f"),
                found(Owner::Channel("t:i".into()), "image", "https://h/c"),
            ]
        );
    }

    fn manifest(key: &str, stored: &[u8], version: &str, encoding: &str) -> Manifest {
        let at = chrono::DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        Manifest {
            format: crate::archive::manifest::FORMAT,
            job: "demo".into(),
            tick: at,
            window_since: None,
            window_until: None,
            snapshot_at: None,
            kind: "channels".into(),
            batch: 0,
            channels: vec!["messaging:a".into()],
            users: Vec::new(),
            missing: Vec::new(),
            task_id: "t".into(),
            export_version: version.into(),
            key: key.into(),
            bytes_source: 0,
            bytes_stored: stored.len() as u64,
            sha256: format!("{:x}", sha2::Sha256::digest(stored)),
            content_encoding: encoding.into(),
            exported_at: None,
            archived_at: at,
            chatvault_version: "0".into(),
            contents: None,
            supersedes: None,
        }
    }

    async fn put(store: &Store, key: &str, bytes: &[u8]) {
        let path = object_store::path::Path::from(key);
        let put = object_store::ObjectStoreExt::put(
            store.object_store().as_ref(),
            &path,
            bytes.to_vec().into(),
        )
        .await;
        assert!(put.is_ok(), "{put:?}");
    }

    #[tokio::test]
    async fn a_stored_archive_is_read_once_for_its_links_and_checked() {
        use std::io::Write as _;
        let store = Store::memory();
        let v2 = r#"{"type":"message","item":{"id":"m","attachments":[{"image_url":"https://h/a.png?Expires=1"}]}}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let written = gz.write_all(v2.as_bytes());
        assert!(written.is_ok());
        let gzipped = gz.finish().unwrap_or_default();
        put(&store, "a.jsonl.gz", &gzipped).await;
        let found = refs_in_archive(&store, &manifest("a.jsonl.gz", &gzipped, "v2", "gzip")).await;
        let urls: Vec<String> = found
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.url)
            .collect();
        assert_eq!(urls, ["https://h/a.png?Expires=1"]);

        let v1 = r#"{"channel":{"cid":"messaging:a","image":"https://h/c.png"},"messages":[],"members":[]}"#;
        put(&store, "b.json", v1.as_bytes()).await;
        let found = refs_in_archive(&store, &manifest("b.json", v1.as_bytes(), "v1", "none")).await;
        assert_eq!(
            found.map(|f| f.len()).ok(),
            Some(1),
            "a v1 document is read as one"
        );

        let mut other = manifest("a.jsonl.gz", &gzipped, "v2", "gzip");
        other.sha256 = "0".repeat(64);
        let corrupt = refs_in_archive(&store, &other).await;
        assert!(matches!(corrupt, Err(ReadError::Corrupt(_))), "{corrupt:?}");
        let missing = refs_in_archive(&store, &manifest("gone.jsonl", b"", "v2", "none")).await;
        assert!(matches!(missing, Err(ReadError::Missing)), "{missing:?}");
    }

    #[test]
    fn hostile_input_never_panics() {
        for file in [
            "{\"type\":\"message\",\"item\":{\"id\":\"m\",\"attachments\":[{\"image_url\":",
            "{\"type\":\"message\",\"item\":{\"id\":\"m\",\"id\":\"n\"}}",
            "{\"messages\":[{\"id\":\"m\",\"attachments\":[[[[{}]]]]}]}",
            "{\"type\":\"message\",\"item\":{\"id\":\"m\",\"attachments\":[{\"image_url\":\"https://h/\\ud800\"}]}}",
            "\u{0}\u{ff}\"\\",
            "{\"channel\":{\"image\":\"https://h/x\"},\"members\":[1,{\"user\":[]}]}",
        ] {
            let _ = collect(Layout::Lines, file);
            let _ = collect(Layout::Document, file);
        }
        let deep = format!(
            "{{\"type\":\"message\",\"item\":{{\"id\":\"m\",\"attachments\":{}{}}}}}",
            "[".repeat(10_000),
            "]".repeat(10_000)
        );
        assert!(collect(Layout::Lines, &deep).is_empty());
    }
}
