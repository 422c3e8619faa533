//! The XML bodies of the XML API: errors, listings, multipart uploads and copies, written by
//! hand (they are small and fixed), and the one body clients send, `CompleteMultipartUpload`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;

use super::listing::{Entry, Page, Query};
use super::model::{NamedPart, Object};

const DECLARATION: &str = "<?xml version='1.0' encoding='UTF-8'?>";

/// `<Error><Code>…</Code><Message>…</Message></Error>`, GCS's shape for every XML API error.
pub fn error(code: &str, message: &str) -> String {
    format!(
        "{DECLARATION}<Error><Code>{}</Code><Message>{}</Message></Error>",
        escape(code),
        escape(message)
    )
}

pub fn list(bucket: &str, query: &Query, page: &Page<'_>) -> String {
    let mut out = format!(
        "{DECLARATION}<ListBucketResult xmlns='http://doc.s3.amazonaws.com/2006-03-01'>\
         <Name>{}</Name><Prefix>{}</Prefix><Delimiter>{}</Delimiter><MaxKeys>{}</MaxKeys>\
         <KeyCount>{}</KeyCount><IsTruncated>{}</IsTruncated>",
        escape(bucket),
        escape(&query.prefix),
        escape(&query.delimiter),
        query.max_keys,
        page.entries.len(),
        page.next_token.is_some(),
    );
    if let Some(token) = &page.next_token {
        out.push_str(&format!(
            "<NextContinuationToken>{}</NextContinuationToken>",
            escape(token)
        ));
    }
    for entry in &page.entries {
        match entry {
            Entry::Object(name, object) => out.push_str(&format!(
                "<Contents><Key>{}</Key><Generation>{}</Generation><MetaGeneration>1</MetaGeneration>\
                 <LastModified>{}</LastModified><ETag>{}</ETag><Size>{}</Size></Contents>",
                escape(name),
                object.generation,
                timestamp(object.updated),
                escape(&object.etag),
                object.data.len(),
            )),
            Entry::Prefix(prefix) => out.push_str(&format!(
                "<CommonPrefixes><Prefix>{}</Prefix></CommonPrefixes>",
                escape(prefix)
            )),
        }
    }
    out.push_str("</ListBucketResult>");
    out
}

pub fn initiated(bucket: &str, name: &str, upload_id: &str) -> String {
    format!(
        "{DECLARATION}<InitiateMultipartUploadResult xmlns='http://s3.amazonaws.com/doc/2006-03-01/'>\
         <Bucket>{}</Bucket><Key>{}</Key><UploadId>{}</UploadId></InitiateMultipartUploadResult>",
        escape(bucket),
        escape(name),
        escape(upload_id)
    )
}

pub fn completed(location: &str, bucket: &str, name: &str, object: &Object) -> String {
    format!(
        "{DECLARATION}<CompleteMultipartUploadResult xmlns='http://s3.amazonaws.com/doc/2006-03-01/'>\
         <Location>{}</Location><Bucket>{}</Bucket><Key>{}</Key><ETag>{}</ETag>\
         </CompleteMultipartUploadResult>",
        escape(location),
        escape(bucket),
        escape(name),
        escape(&object.etag)
    )
}

pub fn copied(object: &Object) -> String {
    format!(
        "{DECLARATION}<CopyObjectResult><LastModified>{}</LastModified><ETag>{}</ETag></CopyObjectResult>",
        timestamp(object.updated),
        escape(&object.etag)
    )
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompleteMultipartUpload {
    #[serde(default)]
    part: Vec<CompletePart>,
}

#[derive(Deserialize)]
struct CompletePart {
    #[serde(rename = "PartNumber")]
    number: u32,
    #[serde(rename = "ETag")]
    etag: String,
}

/// The parts a completion names, in the order it names them; `None` for a body that is not a
/// `CompleteMultipartUpload` document.
pub fn parts_named(body: &[u8]) -> Option<Vec<NamedPart>> {
    let text = std::str::from_utf8(body).ok()?;
    let doc: CompleteMultipartUpload = quick_xml::de::from_str(text).ok()?;
    Some(
        doc.part
            .into_iter()
            .map(|p| NamedPart {
                number: p.number,
                etag: p.etag,
            })
            .collect(),
    )
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_completion_body_names_its_parts_in_order() {
        let body = br#"<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"b"</ETag></Part></CompleteMultipartUpload>"#;
        let parts = parts_named(body).expect("parsed");
        assert_eq!(
            parts,
            [
                NamedPart {
                    number: 1,
                    etag: "\"a\"".into()
                },
                NamedPart {
                    number: 2,
                    etag: "\"b\"".into()
                },
            ]
        );
        assert!(parts_named(b"<NotThat/>").is_none_or(|p| p.is_empty()));
        assert!(parts_named(b"not xml <").is_none());
    }

    #[test]
    fn names_are_escaped() {
        let body = error("NoSuchKey", "<a & 'b'>");
        assert!(body.contains("&lt;a &amp; &apos;b&apos;&gt;"), "{body}");
    }
}
