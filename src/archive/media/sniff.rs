//! A file's content type, from its first bytes only: the server's `Content-Type` and the
//! link's name are the uploader's word, and a file that says `image/png` while it is HTML must
//! never be served as something a browser renders.

/// How many first bytes [`content_type`] looks at.
pub const SNIFF_LEN: usize = 512;

/// The media type the magic numbers at the start of a file say; `text/plain` for UTF-8 text
/// that is none of the known kinds, `application/octet-stream` for anything else.
pub fn content_type(first_bytes: &[u8]) -> &'static str {
    let b = &first_bytes[..first_bytes.len().min(SNIFF_LEN)];
    let at = |offset: usize, magic: &[u8]| b.get(offset..offset + magic.len()) == Some(magic);
    if at(0, b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if at(0, b"\xff\xd8\xff") {
        "image/jpeg"
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        "image/gif"
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        "image/webp"
    } else if at(0, b"RIFF") && at(8, b"WAVE") {
        "audio/wav"
    } else if at(0, b"RIFF") && at(8, b"AVI ") {
        "video/x-msvideo"
    } else if at(4, b"ftyp") {
        iso_media(b.get(8..12).unwrap_or_default())
    } else if at(0, b"\x1a\x45\xdf\xa3") {
        "video/webm"
    } else if at(0, b"OggS") {
        "audio/ogg"
    } else if at(0, b"fLaC") {
        "audio/flac"
    } else if at(0, b"ID3") || (b.len() >= 2 && b[0] == 0xff && matches!(b[1], 0xfb | 0xf3 | 0xf2))
    {
        "audio/mpeg"
    } else if at(0, b"%PDF-") {
        "application/pdf"
    } else if at(0, b"PK\x03\x04") {
        "application/zip"
    } else if at(0, b"\x1f\x8b") {
        "application/gzip"
    } else if at(0, b"BM") {
        "image/bmp"
    } else if at(0, b"II*\0") || at(0, b"MM\0*") {
        "image/tiff"
    } else if at(0, b"\0\0\x01\0") {
        "image/vnd.microsoft.icon"
    } else {
        markup_or_text(b)
    }
}

/// MP4, QuickTime, HEIF and AVIF share one box layout; the brand says which.
fn iso_media(brand: &[u8]) -> &'static str {
    match brand {
        b"qt  " => "video/quicktime",
        b"M4A " | b"M4B " => "audio/mp4",
        b"avif" | b"avis" => "image/avif",
        b"heic" | b"heix" | b"mif1" | b"msf1" => "image/heic",
        _ => "video/mp4",
    }
}

/// SVG and HTML from their opening tags (after a byte order mark, white space, an XML
/// declaration, comments or a doctype); other UTF-8 text is plain text.
fn markup_or_text(b: &[u8]) -> &'static str {
    let text = b.strip_prefix(b"\xef\xbb\xbf").unwrap_or(b);
    let lower: Vec<u8> = text.iter().map(u8::to_ascii_lowercase).collect();
    let trimmed = lower.trim_ascii_start();
    let has = |needle: &[u8]| lower.windows(needle.len()).any(|w| w == needle);
    if trimmed.starts_with(b"<") {
        if has(b"<svg") {
            return "image/svg+xml";
        }
        if [
            &b"<!doctype html"[..],
            b"<html",
            b"<head",
            b"<body",
            b"<script",
            b"<iframe",
        ]
        .iter()
        .any(|tag| has(tag))
        {
            return "text/html";
        }
        if trimmed.starts_with(b"<?xml") {
            return "application/xml";
        }
    }
    // A cut multi-byte character at the end of the sniffed bytes is still text.
    let valid = match std::str::from_utf8(text) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    };
    let controls = text
        .iter()
        .any(|&c| c < 0x20 && !matches!(c, b'\n' | b'\r' | b'\t' | 0x0c));
    if valid && !controls && !text.is_empty() {
        "text/plain"
    } else {
        "application/octet-stream"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_magic_number_names_its_type() {
        let cases: &[(&[u8], &str)] = &[
            (b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", "image/png"),
            (b"\xff\xd8\xff\xe0\0\x10JFIF", "image/jpeg"),
            (b"GIF89a\x01\0", "image/gif"),
            (b"GIF87a\x01\0", "image/gif"),
            (b"RIFF\x24\0\0\0WEBPVP8 ", "image/webp"),
            (b"RIFF\x24\0\0\0WAVEfmt ", "audio/wav"),
            (b"RIFF\x24\0\0\0AVI LIST", "video/x-msvideo"),
            (b"\0\0\0\x18ftypisom\0\0\0\0", "video/mp4"),
            (b"\0\0\0\x14ftypqt  \0\0\0\0", "video/quicktime"),
            (b"\0\0\0\x1cftypM4A \0\0\0\0", "audio/mp4"),
            (b"\0\0\0\x1cftypavif\0\0\0\0", "image/avif"),
            (b"\0\0\0\x18ftypheic\0\0\0\0", "image/heic"),
            (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81", "video/webm"),
            (b"OggS\0\x02", "audio/ogg"),
            (b"fLaC\0\0\0\x22", "audio/flac"),
            (b"ID3\x04\0\0", "audio/mpeg"),
            (b"\xff\xfb\x90\x64", "audio/mpeg"),
            (b"%PDF-1.7\n", "application/pdf"),
            (b"PK\x03\x04\x14\0", "application/zip"),
            (b"\x1f\x8b\x08\0", "application/gzip"),
            (b"BM\x36\0\0\0", "image/bmp"),
            (b"II*\0\x08\0", "image/tiff"),
            (b"MM\0*\0\0", "image/tiff"),
            (b"\0\0\x01\0\x01\0", "image/vnd.microsoft.icon"),
            (
                b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>",
                "image/svg+xml",
            ),
            (b"\xef\xbb\xbf  <SVG>", "image/svg+xml"),
            (b"<!DOCTYPE html><html><body>", "text/html"),
            (b"\n<script>alert(1)</script>", "text/html"),
            (b"<?xml version=\"1.0\"?><feed/>", "application/xml"),
            (b"just some notes\n", "text/plain"),
            ("caf\u{e9}".as_bytes(), "text/plain"),
            (b"\0\x01\x02\x03", "application/octet-stream"),
            (b"", "application/octet-stream"),
        ];
        for (bytes, want) in cases {
            assert_eq!(content_type(bytes), *want, "{bytes:?}");
        }
    }

    #[test]
    fn an_html_file_that_starts_like_text_is_not_taken_for_an_image() {
        assert_eq!(content_type(b"<html>\x89PNG"), "text/html");
    }

    #[test]
    fn only_the_first_bytes_count() {
        let mut text = vec![b'a'; SNIFF_LEN];
        text.extend_from_slice(b"\0\0<svg>");
        assert_eq!(content_type(&text), "text/plain");
    }
}
