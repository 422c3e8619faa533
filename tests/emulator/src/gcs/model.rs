//! The buckets' contents: live objects with generation numbers, and the multipart uploads under
//! way. Every write goes through a precondition check here, so the routes only translate HTTP.

use std::collections::{BTreeMap, HashMap};

use axum::body::Bytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use md5::{Digest as _, Md5};

/// GCS's rule for XML multipart uploads: every part but the last holds at least 5 MiB.
pub const MIN_PART_SIZE: usize = 5 * 1024 * 1024;
/// The highest part number GCS accepts.
pub const MAX_PART_NUMBER: u32 = 10_000;

/// What a client may set on an object and reads back as headers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Attributes {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    /// `x-goog-meta-*` headers, by the name after the prefix (lower case, as HTTP carries it).
    pub metadata: BTreeMap<String, String>,
}

/// One live object.
#[derive(Debug, Clone)]
pub struct Object {
    pub data: Bytes,
    pub generation: i64,
    /// Quoted, as the `ETag` header carries it.
    pub etag: String,
    /// Base64 MD5 of the bytes, for `x-goog-hash`; GCS gives none for multipart objects.
    pub md5: Option<String>,
    pub attributes: Attributes,
    pub updated: DateTime<Utc>,
}

/// A write's condition, from `x-goog-if-generation-match`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precondition {
    None,
    /// `0`: no live object may exist; any other number: the live one has that generation.
    GenerationMatch(i64),
}

/// Why a call was refused, as GCS's XML error codes name it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoSuchBucket,
    NoSuchKey,
    NoSuchUpload,
    PreconditionFailed,
    InvalidArgument(String),
    InvalidPart(u32),
    InvalidPartOrder,
    EntityTooSmall(u32),
}

/// A part as the completion request names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPart {
    pub number: u32,
    pub etag: String,
}

/// A multipart upload's bucket and object, for tests that check an aborted upload is gone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenUpload {
    pub bucket: String,
    pub name: String,
    pub upload_id: String,
}

/// What a write stores, before it gets its generation.
struct Written {
    data: Bytes,
    etag: String,
    md5: Option<String>,
    attributes: Attributes,
}

#[derive(Debug)]
struct Part {
    data: Bytes,
    etag: String,
}

#[derive(Debug)]
struct Upload {
    bucket: String,
    name: String,
    attributes: Attributes,
    parts: BTreeMap<u32, Part>,
}

/// Every bucket's objects (in name order, as listings need them) and the open uploads.
#[derive(Debug, Default)]
pub struct Model {
    buckets: HashMap<String, BTreeMap<String, Object>>,
    uploads: HashMap<String, Upload>,
    last_generation: i64,
    uploads_started: u64,
}

impl Model {
    pub fn with_buckets(buckets: &[&str]) -> Model {
        Model {
            buckets: buckets
                .iter()
                .map(|b| ((*b).to_owned(), BTreeMap::new()))
                .collect(),
            ..Model::default()
        }
    }

    pub fn has_bucket(&self, bucket: &str) -> bool {
        self.buckets.contains_key(bucket)
    }

    pub fn objects(&self, bucket: &str) -> Result<&BTreeMap<String, Object>, Refusal> {
        self.buckets.get(bucket).ok_or(Refusal::NoSuchBucket)
    }

    /// The live object, and only if `generation` (when given) is still its generation: there
    /// is no object history here.
    pub fn get(
        &self,
        bucket: &str,
        name: &str,
        generation: Option<i64>,
    ) -> Result<&Object, Refusal> {
        let object = self.objects(bucket)?.get(name).ok_or(Refusal::NoSuchKey)?;
        match generation {
            Some(g) if g != object.generation => Err(Refusal::NoSuchKey),
            _ => Ok(object),
        }
    }

    /// Writes `data` as a new generation of `name`.
    pub fn put(
        &mut self,
        bucket: &str,
        name: &str,
        data: Bytes,
        attributes: Attributes,
        precondition: Precondition,
        now: DateTime<Utc>,
    ) -> Result<&Object, Refusal> {
        let md5 = Md5::digest(&data);
        let written = Written {
            etag: format!("\"{}\"", hex(&md5)),
            md5: Some(BASE64.encode(md5)),
            data,
            attributes,
        };
        self.store(bucket, name, written, precondition, now)
    }

    /// Copies the live `from` (its bytes and attributes) to `to` as a new generation.
    pub fn copy(
        &mut self,
        from: (&str, &str),
        to: (&str, &str),
        precondition: Precondition,
        now: DateTime<Utc>,
    ) -> Result<&Object, Refusal> {
        let source = self.get(from.0, from.1, None)?.clone();
        let written = Written {
            data: source.data,
            etag: source.etag,
            md5: source.md5,
            attributes: source.attributes,
        };
        self.store(to.0, to.1, written, precondition, now)
    }

    pub fn delete(
        &mut self,
        bucket: &str,
        name: &str,
        precondition: Precondition,
    ) -> Result<(), Refusal> {
        let objects = self.buckets.get_mut(bucket).ok_or(Refusal::NoSuchBucket)?;
        check(objects.get(name), precondition)?;
        objects.remove(name).map(|_| ()).ok_or(Refusal::NoSuchKey)
    }

    pub fn initiate(
        &mut self,
        bucket: &str,
        name: &str,
        attributes: Attributes,
    ) -> Result<String, Refusal> {
        if !self.has_bucket(bucket) {
            return Err(Refusal::NoSuchBucket);
        }
        self.uploads_started += 1;
        let upload_id = format!("upload-{}", self.uploads_started);
        self.uploads.insert(
            upload_id.clone(),
            Upload {
                bucket: bucket.to_owned(),
                name: name.to_owned(),
                attributes,
                parts: BTreeMap::new(),
            },
        );
        Ok(upload_id)
    }

    /// Stores (or replaces) part `number`; its quoted ETag.
    pub fn put_part(
        &mut self,
        bucket: &str,
        name: &str,
        upload_id: &str,
        number: u32,
        data: Bytes,
    ) -> Result<String, Refusal> {
        if !(1..=MAX_PART_NUMBER).contains(&number) {
            return Err(Refusal::InvalidArgument(format!(
                "partNumber must be between 1 and {MAX_PART_NUMBER}"
            )));
        }
        let upload = self.upload_mut(bucket, name, upload_id)?;
        let etag = format!("\"{}\"", hex(&Md5::digest(&data)));
        upload.parts.insert(
            number,
            Part {
                data,
                etag: etag.clone(),
            },
        );
        Ok(etag)
    }

    /// Joins the named parts into the object, S3-style: the ETag is the MD5 of the parts' MD5s
    /// followed by `-<parts>`.
    pub fn complete(
        &mut self,
        bucket: &str,
        name: &str,
        upload_id: &str,
        named: &[NamedPart],
        precondition: Precondition,
        now: DateTime<Utc>,
    ) -> Result<&Object, Refusal> {
        let upload = self.upload_mut(bucket, name, upload_id)?;
        if named.is_empty() {
            return Err(Refusal::InvalidArgument("no parts named".into()));
        }
        if named.windows(2).any(|w| w[0].number >= w[1].number) {
            return Err(Refusal::InvalidPartOrder);
        }
        let mut joined = Vec::new();
        let mut digests = Vec::new();
        for (i, wanted) in named.iter().enumerate() {
            let part = upload
                .parts
                .get(&wanted.number)
                .filter(|p| p.etag.trim_matches('"') == wanted.etag.trim_matches('"'))
                .ok_or(Refusal::InvalidPart(wanted.number))?;
            if i + 1 < named.len() && part.data.len() < MIN_PART_SIZE {
                return Err(Refusal::EntityTooSmall(wanted.number));
            }
            joined.extend_from_slice(&part.data);
            digests.extend_from_slice(&Md5::digest(&part.data));
        }
        let etag = format!("\"{}-{}\"", hex(&Md5::digest(&digests)), named.len());
        let written = Written {
            data: Bytes::from(joined),
            etag,
            md5: None,
            attributes: upload.attributes.clone(),
        };
        check(self.objects(bucket)?.get(name), precondition)?;
        self.uploads.remove(upload_id);
        self.store(bucket, name, written, precondition, now)
    }

    pub fn abort(&mut self, bucket: &str, name: &str, upload_id: &str) -> Result<(), Refusal> {
        self.upload_mut(bucket, name, upload_id)?;
        self.uploads.remove(upload_id);
        Ok(())
    }

    pub fn open_uploads(&self) -> Vec<OpenUpload> {
        let mut open: Vec<OpenUpload> = self
            .uploads
            .iter()
            .map(|(id, u)| OpenUpload {
                bucket: u.bucket.clone(),
                name: u.name.clone(),
                upload_id: id.clone(),
            })
            .collect();
        open.sort_by(|a, b| a.upload_id.cmp(&b.upload_id));
        open
    }

    fn upload_mut(
        &mut self,
        bucket: &str,
        name: &str,
        upload_id: &str,
    ) -> Result<&mut Upload, Refusal> {
        if !self.has_bucket(bucket) {
            return Err(Refusal::NoSuchBucket);
        }
        self.uploads
            .get_mut(upload_id)
            .filter(|u| u.bucket == bucket && u.name == name)
            .ok_or(Refusal::NoSuchUpload)
    }

    fn store(
        &mut self,
        bucket: &str,
        name: &str,
        written: Written,
        precondition: Precondition,
        now: DateTime<Utc>,
    ) -> Result<&Object, Refusal> {
        let generation = self.next_generation(now);
        let objects = self.buckets.get_mut(bucket).ok_or(Refusal::NoSuchBucket)?;
        check(objects.get(name), precondition)?;
        let object = Object {
            data: written.data,
            generation,
            etag: written.etag,
            md5: written.md5,
            attributes: written.attributes,
            updated: now,
        };
        objects.insert(name.to_owned(), object);
        objects.get(name).ok_or(Refusal::NoSuchKey)
    }

    /// Like GCS, generations are the write's time in microseconds, kept strictly increasing so
    /// an object rewritten within one microsecond still gets a new one.
    fn next_generation(&mut self, now: DateTime<Utc>) -> i64 {
        self.last_generation = now.timestamp_micros().max(self.last_generation + 1);
        self.last_generation
    }
}

fn check(live: Option<&Object>, precondition: Precondition) -> Result<(), Refusal> {
    match (precondition, live) {
        (Precondition::None, _) => Ok(()),
        (Precondition::GenerationMatch(0), None) => Ok(()),
        (Precondition::GenerationMatch(g), Some(o)) if o.generation == g => Ok(()),
        (Precondition::GenerationMatch(_), _) => Err(Refusal::PreconditionFailed),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> Model {
        Model::with_buckets(&["b"])
    }

    fn put(m: &mut Model, data: &'static [u8], p: Precondition) -> Result<i64, Refusal> {
        m.put(
            "b",
            "k",
            Bytes::from_static(data),
            Attributes::default(),
            p,
            Utc::now(),
        )
        .map(|o| o.generation)
    }

    #[test]
    fn generation_zero_creates_only_when_nothing_is_there() {
        let mut m = model();
        put(&mut m, b"one", Precondition::GenerationMatch(0)).expect("created");
        assert_eq!(
            put(&mut m, b"two", Precondition::GenerationMatch(0)),
            Err(Refusal::PreconditionFailed)
        );
        assert_eq!(&m.get("b", "k", None).expect("there").data[..], b"one");
    }

    #[test]
    fn an_update_needs_the_live_generation_and_makes_a_new_one() {
        let mut m = model();
        let first = put(&mut m, b"one", Precondition::None).expect("put");
        let second = put(&mut m, b"two", Precondition::GenerationMatch(first)).expect("updated");
        assert!(second > first);
        assert_eq!(
            put(&mut m, b"three", Precondition::GenerationMatch(first)),
            Err(Refusal::PreconditionFailed)
        );
        assert_eq!(
            m.get("b", "k", Some(first)).map(|_| ()),
            Err(Refusal::NoSuchKey)
        );
    }

    #[test]
    fn deletes_and_completions_hold_their_preconditions_too() {
        let mut m = model();
        let live = put(&mut m, b"one", Precondition::None).expect("put");
        assert_eq!(
            m.delete("b", "k", Precondition::GenerationMatch(live + 1)),
            Err(Refusal::PreconditionFailed)
        );
        let id = m
            .initiate("b", "k", Attributes::default())
            .expect("initiated");
        let etag = m
            .put_part("b", "k", &id, 1, Bytes::from_static(b"two"))
            .expect("part");
        let named = [NamedPart { number: 1, etag }];
        let taken = m.complete(
            "b",
            "k",
            &id,
            &named,
            Precondition::GenerationMatch(0),
            Utc::now(),
        );
        assert_eq!(taken.map(|_| ()), Err(Refusal::PreconditionFailed));
        assert_eq!(
            m.open_uploads().len(),
            1,
            "a refused completion keeps the upload"
        );
        assert_eq!(&m.get("b", "k", None).expect("kept").data[..], b"one");
        m.delete("b", "k", Precondition::GenerationMatch(live))
            .expect("deleted at its generation");
        assert_eq!(
            m.delete("b", "k", Precondition::None),
            Err(Refusal::NoSuchKey)
        );
    }

    #[test]
    fn parts_join_in_order_and_small_middle_parts_are_refused() {
        let mut m = model();
        let id = m
            .initiate("b", "k", Attributes::default())
            .expect("initiated");
        let big = Bytes::from(vec![7u8; MIN_PART_SIZE]);
        let e1 = m.put_part("b", "k", &id, 1, big).expect("part 1");
        let e2 = m
            .put_part("b", "k", &id, 2, Bytes::from_static(b"tail"))
            .expect("part 2");
        let small = m
            .put_part("b", "k", &id, 3, Bytes::from_static(b"x"))
            .expect("part 3");
        let named = |n: u32, etag: &str| NamedPart {
            number: n,
            etag: etag.into(),
        };
        assert_eq!(
            m.complete(
                "b",
                "k",
                &id,
                &[named(2, &e2), named(3, &small)],
                Precondition::None,
                Utc::now()
            )
            .map(|_| ()),
            Err(Refusal::EntityTooSmall(2))
        );
        assert_eq!(
            m.complete(
                "b",
                "k",
                &id,
                &[named(2, &e2), named(1, &e1)],
                Precondition::None,
                Utc::now()
            )
            .map(|_| ()),
            Err(Refusal::InvalidPartOrder)
        );
        let done = m
            .complete(
                "b",
                "k",
                &id,
                &[named(1, &e1), named(2, &e2)],
                Precondition::None,
                Utc::now(),
            )
            .expect("completed");
        assert_eq!(done.data.len(), MIN_PART_SIZE + 4);
        assert!(done.etag.ends_with("-2\""), "{}", done.etag);
        assert!(m.open_uploads().is_empty());
    }
}
