//! What a stored file is, where showing it depends on it: only the four raster formats a
//! browser draws without running anything (PNG, JPEG, GIF, WebP) are ever shown inline, and
//! that is decided by the file's first bytes, never by a name or a server's header. Everything
//! else (SVG and HTML included) is handed over as a file.

/// Bytes enough to tell the raster formats apart.
pub const HEAD_LEN: usize = 12;

/// The raster image type the first bytes of a file show, if they show one.
pub fn raster_type(head: &[u8]) -> Option<&'static str> {
    Some(super::sniff::content_type(head)).filter(|t| is_raster(t))
}

/// Whether a content type (as a media record holds it) names one of the raster formats.
pub fn is_raster(content_type: &str) -> bool {
    matches!(
        essence(content_type).as_str(),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

/// A content type that is safe to put in a header as it is: `type/subtype` of token
/// characters, lowercase, no parameters; anything else reads as `application/octet-stream`.
pub fn header_type(content_type: &str) -> String {
    let t = essence(content_type);
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match t.split_once('/') {
        Some((a, b)) if token(a) && token(b) => t,
        _ => "application/octet-stream".to_owned(),
    }
}

/// The file name extension of a content type, for files named by their SHA-256; `bin` when
/// the type is not one people open by extension.
pub fn extension(content_type: &str) -> &'static str {
    match essence(content_type).as_str() {
        "image/png" => "png",
        "image/jpeg" => "jpg",
        "image/gif" => "gif",
        "image/webp" => "webp",
        "image/svg+xml" => "svg",
        "image/heic" => "heic",
        "application/pdf" => "pdf",
        "application/zip" => "zip",
        "text/plain" => "txt",
        "text/html" => "html",
        "video/mp4" => "mp4",
        "video/quicktime" => "mov",
        "video/webm" => "webm",
        "audio/mpeg" => "mp3",
        "audio/mp4" | "audio/aac" => "m4a",
        "audio/ogg" => "ogg",
        "audio/wav" | "audio/x-wav" => "wav",
        _ => "bin",
    }
}

/// The name a file is saved under: the last segment of its link's path (the query cut off,
/// percent-decoded), kept to ASCII letters, digits and `.-_+()` (anything else becomes `_`), so
/// that no quote, slash, control or invisible character reaches a header or a file system;
/// `<sha256>.<ext>` when nothing of it is left.
pub fn download_name(url: &str, sha256: &str, content_type: &str) -> String {
    const LONGEST: usize = 120;
    let path = crate::links::without_query(url);
    let last = path.rsplit('/').next().unwrap_or("");
    let decoded = percent_encoding::percent_decode_str(last).decode_utf8_lossy();
    let mut name: String = decoded
        .chars()
        .map(|c| match c {
            c if c.is_ascii_alphanumeric() || "-_+().".contains(c) => c,
            _ => '_',
        })
        .collect();
    name = name.trim_start_matches(['.', '_']).to_owned();
    if name.len() > LONGEST {
        let cut = name.len() - LONGEST;
        name.drain(..cut);
    }
    if name.bytes().any(|b| b.is_ascii_alphanumeric()) {
        name
    } else {
        format!("{sha256}.{}", extension(content_type))
    }
}

fn essence(content_type: &str) -> String {
    content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_four_raster_formats_are_told_from_their_first_bytes() {
        assert_eq!(
            raster_type(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some("image/png")
        );
        assert_eq!(raster_type(b"\xFF\xD8\xFF\xE0"), Some("image/jpeg"));
        assert_eq!(raster_type(b"GIF89a\x01\0"), Some("image/gif"));
        assert_eq!(raster_type(b"GIF87a"), Some("image/gif"));
        assert_eq!(raster_type(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(raster_type(b"RIFF\x10\0\0\0WAVEfmt "), None);
        assert_eq!(raster_type(b"RIFF\x10\0\0\0WEB"), None);
        assert_eq!(raster_type(b"<svg xmlns="), None);
        assert_eq!(raster_type(b"%PDF-1.7"), None);
        assert_eq!(raster_type(b""), None);
        assert_eq!(raster_type(b"\x89PN"), None);
    }

    #[test]
    fn content_types_are_checked_before_a_header_or_a_name_uses_them() {
        assert!(is_raster("image/PNG; charset=binary"));
        assert!(!is_raster("image/svg+xml"));
        assert_eq!(header_type("Application/PDF"), "application/pdf");
        assert_eq!(header_type("text/html; charset=utf-8"), "text/html");
        assert_eq!(
            header_type("text/html\r\nSet-Cookie: x"),
            "application/octet-stream"
        );
        assert_eq!(header_type("nonsense"), "application/octet-stream");
        assert_eq!(extension("image/jpeg"), "jpg");
        assert_eq!(extension("application/x-unknown"), "bin");
    }

    #[test]
    fn a_download_is_named_from_its_link_with_nothing_a_header_or_a_folder_could_misread() {
        let sha = "ab".repeat(32);
        let name = |url: &str| download_name(url, &sha, "application/pdf");
        assert_eq!(
            name("https://cdn.example/1/a/report%20Q1.pdf?Signature=S&Expires=1"),
            "report_Q1.pdf"
        );
        assert_eq!(
            name("https://cdn.example/x/%22evil%22%0d%0a.pdf"),
            "evil___.pdf"
        );
        assert_eq!(
            name("https://cdn.example/x/..%2F..%2Fetc%2Fpasswd"),
            "etc_passwd"
        );
        assert_eq!(name("https://cdn.example/x/\u{202e}fdp.exe"), "fdp.exe");
        assert_eq!(name("https://cdn.example/x/%E2%80%AEgnp.exe"), "gnp.exe");
        assert_eq!(name("https://cdn.example/"), format!("{sha}.pdf"));
        assert_eq!(
            name("https://cdn.example/x/%F0%9F%98%80"),
            format!("{sha}.pdf")
        );
        assert!(name(&format!("https://c/{}.pdf", "a".repeat(300))).len() <= 120);
    }
}
