//! The CDN's files: what a path holds. Nothing is stored: a path names its kind (the extension)
//! and size (a segment of its own), and the bytes are a pure function of the seed and the path,
//! produced in any slice on demand, so a file of hundreds of MiB is streamed in constant memory
//! and every download of a path is byte-identical.
//!
//! Paths look like `emulator/<section>/<id>/<size>/<name>.<ext>`. Each kind starts with its real
//! magic number: PNGs and GIFs are whole 1×1 images (a decoder shows them; the filler follows
//! their end marker, which decoders ignore), JPEG, WebP, PDF, MP4, MP3, Ogg and ZIP files only
//! begin (and, where the format has one, end) as theirs do, and the SVG is text with a
//! `<script>` inside.

use std::fmt;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::rng::{hash, mix};

/// The first segment of every path: Stream's CDN paths start with the app's id.
pub(crate) const APP: &str = "emulator";

/// The sort of bytes a CDN file holds, from its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Png,
    Jpeg,
    Gif,
    Webp,
    Pdf,
    Mp4,
    Mp3,
    Ogg,
    /// An SVG image with a `<script>` inside; the CDN claims it is `image/png`.
    Svg,
    Zip,
}

impl MediaKind {
    /// Every kind, in a fixed order.
    pub const ALL: [MediaKind; 10] = [
        MediaKind::Png,
        MediaKind::Jpeg,
        MediaKind::Gif,
        MediaKind::Webp,
        MediaKind::Pdf,
        MediaKind::Mp4,
        MediaKind::Mp3,
        MediaKind::Ogg,
        MediaKind::Svg,
        MediaKind::Zip,
    ];

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            MediaKind::Png => "png",
            MediaKind::Jpeg => "jpg",
            MediaKind::Gif => "gif",
            MediaKind::Webp => "webp",
            MediaKind::Pdf => "pdf",
            MediaKind::Mp4 => "mp4",
            MediaKind::Mp3 => "mp3",
            MediaKind::Ogg => "ogg",
            MediaKind::Svg => "svg",
            MediaKind::Zip => "zip",
        }
    }

    /// The content type the CDN sends, which a client must not trust: the SVG claims to be a
    /// PNG.
    pub fn claimed_content_type(self) -> &'static str {
        match self {
            MediaKind::Png | MediaKind::Svg => "image/png",
            MediaKind::Jpeg => "image/jpeg",
            MediaKind::Gif => "image/gif",
            MediaKind::Webp => "image/webp",
            MediaKind::Pdf => "application/pdf",
            MediaKind::Mp4 => "video/mp4",
            MediaKind::Mp3 => "audio/mpeg",
            MediaKind::Ogg => "audio/ogg",
            MediaKind::Zip => "application/zip",
        }
    }

    fn from_extension(extension: &str) -> Option<MediaKind> {
        MediaKind::ALL
            .into_iter()
            .find(|k| k.extension() == extension)
    }
}

impl fmt::Display for MediaKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

/// The path of a CDN file: `emulator/<section>/<id>/<size>/<name>.<kind>`.
pub(crate) fn path(section: &str, id: &str, size: u64, name: &str, kind: MediaKind) -> String {
    format!("{APP}/{section}/{id}/{size}/{name}.{}", kind.extension())
}

/// One file of the CDN.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CdnFile {
    pub kind: MediaKind,
    pub size: u64,
    /// Seeds the filler.
    key: u64,
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl CdnFile {
    /// The file at `path`, or `None` for a path that names no file.
    pub fn at(seed: u64, path: &str) -> Option<CdnFile> {
        let mut segments = path.rsplit('/');
        let (name, size, id) = (segments.next()?, segments.next()?, segments.next()?);
        if id.is_empty() || segments.next().is_none() {
            return None;
        }
        let kind = MediaKind::from_extension(name.rsplit_once('.')?.1)?;
        let wanted: u64 = size.parse().ok()?;
        let key = hash(&[seed, text_hash(path)]);
        let (head, tail) = frame(kind, key, wanted);
        let size = wanted.max((head.len() + tail.len()) as u64);
        Some(CdnFile {
            kind,
            size,
            key,
            head,
            tail,
        })
    }

    /// Fills `buf` with the bytes from `offset` on (the caller keeps within the size).
    pub fn fill(&self, offset: u64, buf: &mut [u8]) {
        let head = self.head.len() as u64;
        let tail_start = self.size - self.tail.len() as u64;
        let mut at = offset;
        let mut rest = buf;
        while let Some((first, _)) = rest.split_first_mut() {
            if at < head || at >= tail_start {
                *first = if at < head {
                    self.head[at as usize]
                } else {
                    self.tail[(at - tail_start) as usize]
                };
                rest = &mut rest[1..];
                at += 1;
                continue;
            }
            // The filler, a word of eight bytes at a time, up to the tail.
            let word = self.filler_word(at / 8).to_le_bytes();
            let from = (at % 8) as usize;
            let n = (8 - from).min(rest.len()).min((tail_start - at) as usize);
            rest[..n].copy_from_slice(&word[from..from + n]);
            rest = &mut rest[n..];
            at += n as u64;
        }
    }

    /// Filler word `index`: random bytes, or lower-case letters for the SVG (a text file).
    fn filler_word(&self, index: u64) -> u64 {
        let raw = mix(self.key ^ mix(index));
        if self.kind != MediaKind::Svg {
            return raw;
        }
        let letters = raw.to_le_bytes().map(|b| b'a' + b % 26);
        u64::from_le_bytes(letters)
    }

    /// The whole file (for tests and the ground truth; the CDN streams it instead).
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = vec![0; self.size as usize];
        self.fill(0, &mut out);
        out
    }

    /// The SHA-256 of the bytes, in lower-case hex, computed in slices.
    pub fn sha256(&self) -> String {
        let mut hasher = Sha256::new();
        let mut buf = vec![0; 64 * 1024];
        let mut offset = 0;
        while offset < self.size {
            let n = (self.size - offset).min(buf.len() as u64) as usize;
            self.fill(offset, &mut buf[..n]);
            hasher.update(&buf[..n]);
            offset += n as u64;
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

/// FNV-1a over the path's bytes.
fn text_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The bytes a file of `kind` starts and ends with.
fn frame(kind: MediaKind, key: u64, size: u64) -> (Vec<u8>, Vec<u8>) {
    let colour = [(key >> 8) as u8, (key >> 16) as u8, (key >> 24) as u8];
    match kind {
        MediaKind::Png => (png(colour), Vec::new()),
        MediaKind::Gif => {
            let mut gif = b"GIF89a\x01\x00\x01\x00\x80\x00\x00".to_vec();
            gif.extend_from_slice(&colour);
            gif.extend_from_slice(b"\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00;");
            (gif, Vec::new())
        }
        MediaKind::Jpeg => (
            b"\xFF\xD8\xFF\xE0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00".to_vec(),
            b"\xFF\xD9".to_vec(),
        ),
        MediaKind::Webp => {
            let riff = u32::try_from(size.max(20) - 8).unwrap_or(u32::MAX);
            let mut webp = b"RIFF".to_vec();
            webp.extend_from_slice(&riff.to_le_bytes());
            webp.extend_from_slice(b"WEBPVP8L");
            (webp, Vec::new())
        }
        MediaKind::Pdf => (b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n".to_vec(), b"\n%%EOF\n".to_vec()),
        MediaKind::Mp4 => (
            b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom".to_vec(),
            Vec::new(),
        ),
        MediaKind::Mp3 => (b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec(), Vec::new()),
        MediaKind::Ogg => (b"OggS\x00\x02".to_vec(), Vec::new()),
        MediaKind::Zip => (b"PK\x03\x04".to_vec(), Vec::new()),
        MediaKind::Svg => (
            b"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"8\" height=\"8\"><script>alert(document.domain)</script><rect width=\"8\" height=\"8\"/><!-- "
                .to_vec(),
            b" --></svg>\n".to_vec(),
        ),
    }
}

/// A whole 1×1 PNG of one colour.
fn png(colour: [u8; 3]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut out, b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
    let raw = [0, colour[0], colour[1], colour[2]];
    // A zlib stream of one stored block holding the filter byte and the pixel.
    let mut zlib = vec![0x78, 0x01, 0x01, 0x04, 0x00, 0xFB, 0xFF];
    zlib.extend_from_slice(&raw);
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());
    chunk(&mut out, b"IDAT", &zlib);
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_names_its_kind_and_size_and_the_bytes_are_the_same_every_time() {
        let p = path("attachments", "ab12", 5000, "photo", MediaKind::Png);
        assert_eq!(p, "emulator/attachments/ab12/5000/photo.png");
        let file = CdnFile::at(7, &p).unwrap();
        assert_eq!((file.kind, file.size), (MediaKind::Png, 5000));
        let bytes = file.bytes();
        assert_eq!(bytes.len(), 5000);
        assert_eq!(bytes, CdnFile::at(7, &p).unwrap().bytes());
        assert_ne!(bytes, CdnFile::at(8, &p).unwrap().bytes(), "seeded");
        let other = path("attachments", "ab13", 5000, "photo", MediaKind::Png);
        assert_ne!(bytes, CdnFile::at(7, &other).unwrap().bytes());
        // Any slice agrees with the whole.
        let mut slice = vec![0; 1000];
        file.fill(2345, &mut slice);
        assert_eq!(slice, bytes[2345..3345]);
        assert_eq!(file.sha256().len(), 64);
    }

    #[test]
    fn every_kind_starts_with_its_magic_number() {
        let magic: [(MediaKind, &[u8]); 10] = [
            (MediaKind::Png, b"\x89PNG\r\n\x1a\n"),
            (MediaKind::Jpeg, b"\xFF\xD8\xFF"),
            (MediaKind::Gif, b"GIF89a"),
            (MediaKind::Webp, b"RIFF"),
            (MediaKind::Pdf, b"%PDF-"),
            (MediaKind::Mp4, b"\x00\x00\x00\x18ftyp"),
            (MediaKind::Mp3, b"ID3"),
            (MediaKind::Ogg, b"OggS"),
            (MediaKind::Svg, b"<svg"),
            (MediaKind::Zip, b"PK\x03\x04"),
        ];
        for (kind, start) in magic {
            let file = CdnFile::at(1, &path("a", "x", 300, "f", kind)).unwrap();
            let bytes = file.bytes();
            assert!(bytes.starts_with(start), "{kind}");
        }
        let webp = CdnFile::at(1, &path("a", "x", 300, "f", MediaKind::Webp)).unwrap();
        assert_eq!(&webp.bytes()[8..12], b"WEBP");
        let jpeg = CdnFile::at(1, &path("a", "x", 300, "f", MediaKind::Jpeg)).unwrap();
        assert!(jpeg.bytes().ends_with(b"\xFF\xD9"));
        let svg = CdnFile::at(1, &path("a", "x", 300, "f", MediaKind::Svg)).unwrap();
        let text = String::from_utf8(svg.bytes()).unwrap();
        assert!(text.contains("<script>") && text.ends_with("</svg>\n"));
        assert_eq!(MediaKind::Svg.claimed_content_type(), "image/png");
    }

    #[test]
    fn a_png_is_a_whole_image_with_valid_checksums() {
        let bytes = png([1, 2, 3]);
        // IHDR's CRC, as every PNG of this header has it.
        assert_eq!(&bytes[29..33], &[0x90, 0x77, 0x53, 0xDE]);
        assert!(bytes.ends_with(&[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]));
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
    }

    #[test]
    fn a_file_is_never_smaller_than_its_frame_and_bad_paths_name_nothing() {
        let tiny = CdnFile::at(1, &path("a", "x", 1, "f", MediaKind::Pdf)).unwrap();
        assert!(tiny.size > 10);
        assert_eq!(tiny.bytes().len() as u64, tiny.size);
        for bad in [
            "",
            "x.png",
            "b/5/x.png",
            "emulator/a/x/notanumber/f.png",
            "emulator/a/x/5/f.exe",
            "emulator/a/x/5/noextension",
            "emulator/a//5/f.png",
        ] {
            assert_eq!(CdnFile::at(1, bad), None, "{bad}");
        }
    }
}
