//! `chatvault transcript` as a file handed over: it names every archive it was read from (key,
//! SHA-256, manifest format), when and by which version it was made, and opens with an
//! INCOMPLETE banner when an archive could not be read; `--format jsonl` prints each message
//! as the archive holds it, byte for byte. The whole txt and md outputs of a small fixed
//! archive are kept as snapshots.

use chatvault::config::job::Compression;
use chatvault_emulator::{DataSpec, Emulator};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;

use crate::common::ground_truth::decompress;
use crate::common::processes::{command, finish, realtime_config, start_emulator};
use crate::common::{
    Project, chatvault_in, files_below, midnight, snapshot_settings, write_archive,
};

/// Runs `chatvault transcript --in messaging:x --url URL ARGS` in `dir`: (exit code, stdout,
/// stderr).
fn transcript(dir: &std::path::Path, url: &str, args: &[&str]) -> (i32, String, String) {
    let out = chatvault_in(dir)
        .args(["transcript", "--in", "messaging:x", "--url", url])
        .args(args)
        .output()
        .expect("runs");
    (
        out.status.code().expect("an exit code"),
        String::from_utf8(out.stdout).expect("UTF-8"),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A message of channel `messaging:x`, in the v2 envelope.
fn line(id: &str, user: &str, second: u32, extra: Value) -> Value {
    let mut item = serde_json::json!({
        "id": id, "cid": "messaging:x", "type": "regular", "text": format!("message {id}"),
        "user": {"id": user, "name": format!("{user} name")},
        "created_at": format!("2026-01-01T10:00:{second:02}Z"),
        "updated_at": format!("2026-01-01T10:00:{second:02}Z"),
    });
    if let (Some(item), Value::Object(extra)) = (item.as_object_mut(), extra) {
        item.extend(extra);
    }
    serde_json::json!({"type": "message", "item": item})
}

/// Three archives of one channel, written as an older chatvault wrote them (so their manifests
/// and hashes are fixed): `a` and `b` hold two messages each, `c` three.
fn three_archives(store: &std::path::Path) -> [String; 3] {
    let keys = [
        "x/a/channels-0001.jsonl",
        "x/b/channels-0001.jsonl",
        "x/c/channels-0001.jsonl",
    ];
    for (n, key) in keys.iter().enumerate() {
        let lines: Vec<Value> = (0..2 + n / 2)
            .map(|i| {
                let id = format!("m{n}{i}");
                line(&id, "ann", (n * 10 + i) as u32, Value::Null)
            })
            .collect();
        write_archive(store, key, "x", &lines);
    }
    keys.map(str::to_owned)
}

fn manifest(store: &std::path::Path, key: &str) -> Value {
    let text = std::fs::read_to_string(store.join(format!("{key}.manifest.json"))).expect("read");
    serde_json::from_str(&text).expect("a manifest")
}

#[test]
fn a_transcript_with_an_unreadable_archive_opens_with_the_incomplete_banner_and_lists_every_source()
{
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let keys = three_archives(&store);
    let url = format!("file://{}", store.display());
    let hashes: Vec<String> = keys
        .iter()
        .map(|k| {
            manifest(&store, k)["sha256"]
                .as_str()
                .expect("a hash")
                .to_owned()
        })
        .collect();

    // Whole: every source named, no banner, exit 0.
    for format in ["txt", "md", "html"] {
        let (code, out, stderr) = transcript(dir.path(), &url, &["--format", format]);
        assert_eq!(code, 0, "{stderr}");
        assert!(!out.contains("INCOMPLETE"), "{out}");
        for (key, hash) in keys.iter().zip(&hashes) {
            assert!(out.contains(hash), "{format} names {key}'s SHA-256: {out}");
        }
        assert!(out.contains("manifest format 1"), "{out}");
        let version = match format {
            "md" => env!("CARGO_PKG_VERSION").replace('.', "\\."),
            _ => env!("CARGO_PKG_VERSION").to_owned(),
        };
        assert!(out.contains(&format!("chatvault {version}")), "{out}");
    }

    // `a` cut short, `b` edited in place (same size): both named, with what is wrong.
    let a = store.join(&keys[0]);
    let bytes = std::fs::read(&a).expect("read");
    std::fs::write(&a, &bytes[..bytes.len() / 2]).expect("truncate");
    let b = store.join(&keys[1]);
    let mut bytes = std::fs::read(&b).expect("read");
    let at = bytes
        .iter()
        .position(|&c| c == b'm')
        .expect("a letter to edit");
    bytes[at] = b'M';
    std::fs::write(&b, bytes).expect("edit");

    for format in ["txt", "md", "html"] {
        let (code, out, stderr) = transcript(dir.path(), &url, &["--format", format]);
        assert_eq!(code, 1, "an incomplete transcript is a failure: {stderr}");
        let opening = match format {
            "txt" => out.lines().next().map(str::to_owned),
            "md" => out
                .lines()
                .next()
                .map(|l| l.trim_start_matches("> **").replace('\\', "")),
            _ => out.split("<body>\n").nth(1).map(|body| {
                body.trim_start_matches("<div class=\"incomplete\" role=\"alert\"><p><strong>")
                    .to_owned()
            }),
        }
        .unwrap_or_default();
        assert!(
            opening.starts_with("INCOMPLETE: 2 archive(s) could not be read"),
            "{format} opens with the banner: {out}"
        );
        let title = if format == "html" {
            "<h1>"
        } else {
            "Transcript of messaging"
        };
        let banner_end = out.find(title).expect("the title");
        let banner = &out[..banner_end];
        let escaped = |key: &str| match format {
            "md" => key.replace('-', "\\-").replace('.', "\\."),
            _ => key.to_owned(),
        };
        for key in &keys[..2] {
            assert!(
                banner.contains(&escaped(key)),
                "{format}: {key} in the banner: {banner}"
            );
        }
        assert!(banner.contains("corrupt"), "{banner}");
        assert!(!banner.contains(&escaped(&keys[2])), "{banner}");
        for hash in &hashes {
            assert!(
                out[banner_end..].contains(hash.as_str()),
                "{format}: {hash}: {out}"
            );
        }
        let three = match format {
            "md" => "3 message\\(s\\)",
            _ => "3 message(s)",
        };
        assert!(out.contains(three), "only c's messages: {out}");
        assert!(
            stderr.contains(&keys[0]) && stderr.contains(&keys[1]),
            "{stderr}"
        );
    }
}

#[test]
fn transcripts_of_a_small_archive_whole_and_incomplete_read_as_their_snapshots_in_txt_and_md() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let lines = vec![
        line(
            "q1",
            "ann",
            1,
            serde_json::json!({
                "text": "Is the *invoice* <ready>?\nSecond line",
                "attachments": [{"type": "file", "title": "invoice [draft].pdf",
                                 "asset_url": "https://files.invalid/i.pdf"}],
                "reaction_counts": {"like": 2},
            }),
        ),
        line(
            "r1",
            "bob",
            2,
            serde_json::json!({
                "parent_id": "q1", "type": "reply", "text": "Yes, sent.",
                "message_text_updated_at": "2026-01-01T10:05:00Z",
            }),
        ),
        line(
            "d1",
            "cy",
            3,
            serde_json::json!({
                "type": "deleted", "deleted_at": "2026-01-01T10:06:00Z", "text": "oops",
            }),
        ),
        line(
            "o1",
            "ann",
            4,
            serde_json::json!({
                "parent_id": "before", "text": "Following up on yesterday",
            }),
        ),
    ];
    write_archive(&store, "x/2026/01/01/channels-0001.jsonl", "x", &lines);
    let url = format!("file://{}", store.display());
    let mut settings = snapshot_settings();
    settings.add_filter(
        r"Made \S+ by chatvault \S+",
        "Made [TIME] by chatvault [VERSION]",
    );
    settings.set_snapshot_path("snapshots/transcript");
    settings.set_prepend_module_to_snapshot(false);
    let run = |format: &str| {
        transcript(
            dir.path(),
            &url,
            &["--format", format, "--tz", "Europe/Berlin"],
        )
    };
    settings.bind(|| {
        for format in ["txt", "md"] {
            let (code, out, stderr) = run(format);
            assert_eq!(code, 0, "{stderr}");
            insta::assert_snapshot!(format!("transcript-{format}"), out);
        }
    });
    // A second day's archive, cut short: the same transcripts, incomplete.
    let key = "x/2026/01/02/channels-0001.jsonl";
    write_archive(&store, key, "x", &[line("n1", "bob", 5, Value::Null)]);
    let path = store.join(key);
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() - 10]).expect("truncate");
    settings.bind(|| {
        for format in ["txt", "md"] {
            let (code, out, stderr) = run(format);
            assert_eq!(code, 1, "{stderr}");
            insta::assert_snapshot!(format!("transcript-incomplete-{format}"), out);
        }
    });
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(borrow)]
    item: &'a RawValue,
}

#[derive(Deserialize)]
struct Document<'a> {
    #[serde(borrow)]
    messages: Vec<&'a RawValue>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transcript_jsonl_prints_each_message_byte_for_byte_as_the_archive_holds_it() {
    let end = midnight();
    let since = end - chrono::TimeDelta::days(2);
    let mut config = realtime_config(24);
    // History from `since` to `end`, whatever the time of day: the same messages every day.
    config.start_time = end;
    config.data = DataSpec {
        days_of_history: 2,
        truncated_per_type: 0,
        reply_every: 4,
        hostile_every: 5,
        tangle_every: 6,
        undated_every: 7,
        bidi_every: 5,
        ..config.data
    };
    let emu: Emulator = start_emulator(config).await;
    let project = Project::new();
    project.file(
        "chatvault.yaml",
        format!("api:\n  base_url: {}\n", emu.base_url()),
    );
    for (name, cid, version) in [
        ("lines", "messaging:general-000", "v2"),
        ("document", "team:project-000", "v1"),
    ] {
        project.job(
            &format!("{name}.yaml"),
            format!(
                "name: {name}\nschedule: \"0 0 * * *\"\nwindow:\n  since: {}\n  max: 24h\n\
                 channels:\n  - cid: {cid}\nexport:\n  version: {version}\n\
                 destination:\n  url: file://archive\n  compression: gzip\n",
                since.to_rfc3339()
            ),
        );
    }
    let (code, stdout, stderr) = finish(command(&project, &emu, &["run", "--once", "jobs"])).await;
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let archive = project.dir.path().join("archive");

    for (job, cid) in [
        ("lines", "messaging:general-000"),
        ("document", "team:project-000"),
    ] {
        let mut held = Vec::new();
        for file in files_below(&archive.join(job), ".gz") {
            let text = String::from_utf8(decompress(
                &std::fs::read(&file).expect("read"),
                Compression::Gzip,
            ))
            .expect("UTF-8");
            if job == "lines" {
                for l in text.lines() {
                    let line: Envelope<'_> = serde_json::from_str(l).expect("a line");
                    if line.kind == "message" {
                        held.push(line.item.get().to_owned());
                    }
                }
            } else {
                let doc: Document<'_> = serde_json::from_str(&text).expect("a v1 document");
                held.extend(doc.messages.iter().map(|m| m.get().to_owned()));
            }
        }
        assert!(held.len() > 10, "{job}: {} messages", held.len());
        assert!(held.iter().any(|m| m.contains("\"html\":\"<p>")));
        let undated = |m: &String| {
            serde_json::from_str::<Value>(m).is_ok_and(|m| m.get("created_at").is_none())
        };
        assert!(held.iter().any(undated), "{job}: undated ones");
        let (code, out, stderr) = finish(command(
            &project,
            &emu,
            &[
                "transcript",
                "--in",
                cid,
                "--job",
                job,
                "--format",
                "jsonl",
                "jobs",
            ],
        ))
        .await;
        assert_eq!(code, 0, "{stderr}");
        let mut printed: Vec<&str> = out.lines().collect();
        let mut held: Vec<&str> = held.iter().map(String::as_str).collect();
        printed.sort_unstable();
        held.sort_unstable();
        assert_eq!(printed, held, "{job}: every message, byte for byte");
    }
    emu.shutdown().await;
}

/// The files of [`media_archive`]: a small PNG, one over 1 MiB, a PDF, and a PNG whose object
/// is missing; by SHA-256.
struct MediaFiles {
    small: (String, Vec<u8>),
    big: (String, Vec<u8>),
    pdf: (String, Vec<u8>),
    missing: String,
}

/// `store` with one archive of `messaging:x` whose messages link (signed) to stored files and
/// to files not captured, its media record, and the stored objects but one.
fn media_archive(store: &std::path::Path) -> MediaFiles {
    use chatvault::archive::media::layout::object_key;
    use chatvault::archive::media::record::{
        FORMAT, MediaRecord, Outcome, Owner, Reference, Stored, record_key,
    };
    let sha =
        |b: &[u8]| chatvault::archive::transfer::hex(&<sha2::Sha256 as sha2::Digest>::digest(b));
    let png = |len: usize| {
        let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
        bytes.resize(len, 7);
        bytes
    };
    let small = png(100);
    let big = png((1 << 20) + 1);
    let pdf = b"%PDF-1.7 a document".to_vec();
    let files = MediaFiles {
        small: (sha(&small), small),
        big: (sha(&big), big),
        pdf: (sha(&pdf), pdf),
        missing: sha(b"never stored"),
    };
    let signed = "?Key-Pair-Id=K&Policy=P&Signature=SIG&Expires=1767225600";
    let cdn = "https://us-east.stream-io-cdn.com/1/x";
    let attachments = [
        ("small", "image", "photo.png", "image_url"),
        ("big", "image", "poster.png", "image_url"),
        ("pdf", "file", "report.pdf", "asset_url"),
        ("missing", "image", "lost.png", "image_url"),
        ("gone", "file", "gone.pdf", "asset_url"),
        ("old", "file", "old.pdf", "asset_url"),
    ];
    let lines: Vec<Value> = attachments
        .iter()
        .enumerate()
        .map(|(n, (id, kind, name, field))| {
            line(
                &format!("m-{id}"),
                "ann",
                n as u32,
                serde_json::json!({"attachments": [{
                    "type": kind, "title": name, *field: format!("{cdn}/{name}{signed}"),
                }]}),
            )
        })
        .collect();
    let key = "x/2026/01/01/channels-0001.jsonl";
    write_archive(store, key, "x", &lines);
    let stored = |(sha256, bytes): &(String, Vec<u8>), content_type: &str| {
        Outcome::Stored(Stored {
            sha256: sha256.clone(),
            size: bytes.len() as u64,
            content_type: content_type.to_owned(),
        })
    };
    let reference = |name: &str, outcome: Outcome| Reference {
        owner: Owner::Message(format!("m-{name}")),
        field: "attachments[0]".into(),
        url: format!("{cdn}/{name}"),
        outcome,
    };
    let record = MediaRecord {
        format: FORMAT,
        job: "x".into(),
        archive: key.into(),
        attempt: 1,
        written_at: "2026-01-02T00:20:00Z".parse().expect("a time"),
        chatvault_version: "0".into(),
        prefix: "_media".into(),
        references: vec![
            reference("photo.png", stored(&files.small, "image/png")),
            reference("poster.png", stored(&files.big, "image/png")),
            reference("report.pdf", stored(&files.pdf, "application/pdf")),
            reference(
                "lost.png",
                Outcome::Stored(Stored {
                    sha256: files.missing.clone(),
                    size: 12,
                    content_type: "image/png".into(),
                }),
            ),
            reference(
                "gone.pdf",
                Outcome::Gone {
                    reason: "404".into(),
                },
            ),
        ],
    };
    std::fs::write(
        store.join(record_key(key, 1)),
        serde_json::to_string(&record).expect("JSON"),
    )
    .expect("write the record");
    for (sha256, bytes) in [&files.small, &files.big, &files.pdf] {
        let path = store.join(object_key("_media", sha256));
        std::fs::create_dir_all(path.parent().expect("a folder")).expect("mkdir");
        std::fs::write(path, bytes).expect("write the object");
    }
    files
}

fn assert_no_signature(format: &str, out: &str) {
    for secret in ["Signature", "Key-Pair-Id", "Policy=", "Expires="] {
        assert!(!out.contains(secret), "{format} prints {secret}: {out}");
    }
}

#[test]
fn transcript_media_copies_the_captured_files_and_links_them_relatively() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let files = media_archive(&store);
    let url = format!("file://{}", store.display());
    for format in ["html", "md", "txt"] {
        let folder = format!("files-{format}");
        let (code, out, stderr) =
            transcript(dir.path(), &url, &["--format", format, "--media", &folder]);
        // Markdown escapes its punctuation; it reads the same.
        let out = out.replace('\\', "");
        // The PNG whose object is gone is named: the transcript is incomplete.
        assert_eq!(code, 1, "{stderr}");
        assert!(stderr.contains(&files.missing), "{stderr}");
        assert!(out.contains("INCOMPLETE"), "{out}");
        assert!(
            out.contains("1 media file(s) or record(s) could not be read"),
            "{out}"
        );
        assert_no_signature(format, &out);
        let mut copied: Vec<String> = std::fs::read_dir(dir.path().join(&folder))
            .expect("the folder")
            .map(|e| {
                e.expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        copied.sort();
        let mut expected = vec![
            format!("{}.png", files.small.0),
            format!("{}.png", files.big.0),
            format!("{}.pdf", files.pdf.0),
        ];
        expected.sort();
        assert_eq!(
            copied, expected,
            "{format}: the stored files, no partial one"
        );
        for (sha256, bytes) in [&files.small, &files.big, &files.pdf] {
            let name = if bytes.starts_with(b"%PDF") {
                "pdf"
            } else {
                "png"
            };
            let link = format!("{folder}/{sha256}.{name}");
            // Relative to the folder the transcript is written in.
            assert_eq!(
                std::fs::read(dir.path().join(&link)).expect("the copy"),
                *bytes
            );
            let shown = match format {
                "html" => format!("→ <a href=\"{link}\">"),
                "md" => format!("]({link})"),
                _ => format!("→ {link}"),
            };
            assert!(out.contains(&shown), "{format}: {shown} in {out}");
        }
        assert!(!out.contains("data:image"), "{format}: nothing embedded");
        let gone = "not captured: link expired and Stream no longer has the file";
        assert!(out.contains(gone), "{format}: {out}");
    }
}

#[test]
fn html_embeds_images_up_to_1_mib_and_lists_the_rest_by_name_size_and_sha256() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let files = media_archive(&store);
    let url = format!("file://{}", store.display());
    let (code, html, stderr) = transcript(dir.path(), &url, &["--format", "html"]);
    assert_eq!(code, 1, "the missing object: {stderr}");
    assert_no_signature("html", &html);
    use base64::Engine as _;
    let data = base64::engine::general_purpose::STANDARD.encode(&files.small.1);
    assert!(
        html.contains(&format!(
            "<img src=\"data:image/png;base64,{data}\" alt=\"photo.png\">"
        )),
        "{html}"
    );
    assert!(
        html.contains("content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\""),
        "the policy lets images be data: URIs and nothing more: {html}"
    );
    assert_eq!(
        html.matches("<img ").count(),
        1,
        "only the small one: {html}"
    );
    for (name, size, sha256) in [
        ("poster.png", "1.0 MiB", &files.big.0),
        ("report.pdf", "19 B", &files.pdf.0),
    ] {
        let listed = format!("{name}</bdi>");
        assert!(html.contains(name), "{listed}: {html}");
        assert!(html.contains(&format!("{size}, ")), "{name} size: {html}");
        assert!(html.contains(sha256.as_str()), "{name}: {html}");
    }
    assert!(
        html.contains("INCOMPLETE: 1 media file(s) or record(s) could not be read"),
        "{html}"
    );
    assert!(
        html.contains(&files.missing),
        "the missing object is named: {html}"
    );
    assert!(
        html.contains("not captured (archived before media capture; run `chatvault media`)"),
        "{html}"
    );

    let (_, jsonl, _) = transcript(dir.path(), &url, &["--format", "jsonl"]);
    assert_no_signature("jsonl", &jsonl);
    assert!(
        jsonl.contains("/report.pdf\""),
        "the link stays, without its query: {jsonl}"
    );

    let (_, txt, _) = transcript(dir.path(), &url, &["--format", "txt"]);
    assert_no_signature("txt", &txt);
    assert!(
        txt.contains(&format!(
            "attachment: report.pdf (file), 19 B, application/pdf, SHA-256 {}: \
             https://us-east.stream-io-cdn.com/1/x/report.pdf\n",
            files.pdf.0
        )),
        "{txt}"
    );
    assert!(!txt.contains("data:"), "{txt}");
}
