//! `chatvault transcript`: one channel's conversation, rendered for people (HTML, Markdown,
//! text) with where it came from, or as JSON Lines as the archives hold the messages.

use std::path::PathBuf;

use super::archives::{reading_keys, say_empty, sources_and_settings};
use super::args::Transcript;
use super::search::report;
use super::{World, exit, output, runtime};
use crate::archive::files;
use crate::archive::read::Keep;
use crate::archive::reading::thread::Conversation;
use crate::archive::search::{Page, search};
use crate::archive::transcript::{Header, html, md, txt};
use crate::cli::{TranscriptArgs, TranscriptFormat};
use crate::query::Query;

pub fn run(
    args: &TranscriptArgs,
    resolved: Transcript,
    config: Option<PathBuf>,
    world: &World<'_>,
) -> u8 {
    let Transcript {
        cid,
        zone,
        after,
        before,
    } = resolved;
    let (sources, settings) = match sources_and_settings(&args.archives, config, world) {
        Ok(found) => found,
        Err(code) => return code,
    };
    let keys = match reading_keys(settings.as_ref()) {
        Ok(keys) => keys,
        Err(code) => return code,
    };
    let query = Query {
        channels: vec![cid.clone()],
        after,
        before,
        ..Query::default()
    };
    let Some(runtime) = runtime() else {
        return exit::FAILED;
    };
    let keep = if args.format == TranscriptFormat::Jsonl {
        Keep::Exported
    } else {
        Keep::Fields
    };
    let (listing, found) = runtime.block_on(search(&sources, &keys, &query, Page::default(), keep));
    if let Err(code) = say_empty(&listing) {
        report(&found, "the transcript's messages");
        return code;
    }
    if found.hits.is_empty() && !listing.holds_channel(&cid) {
        output::error(
            &format!("no listed archive holds the channel {cid}"),
            Some(
                "check the channel's TYPE:ID: the viewer's Channels page lists those the archives hold",
            ),
        );
        report(&found, "the transcript's messages");
        return exit::FAILED;
    }
    let files = runtime.block_on(files::gather(
        &listing,
        &found.sources,
        found.hits.iter().map(|h| &h.message),
        args.media.as_deref(),
        args.format == TranscriptFormat::Html,
    ));
    let conversation = Conversation::new(found.hits.iter().map(|h| h.message.clone()));
    let threads = conversation.threads();
    let range = match (&args.after, &args.before) {
        (None, None) => "everything archived".to_owned(),
        (Some(a), None) => format!("from {a}"),
        (None, Some(b)) => format!("before {b}"),
        (Some(a), Some(b)) => format!("from {a}, before {b}"),
    };
    let header = Header {
        cid: &cid,
        zone,
        range,
        made_at: world.now,
        version: env!("CARGO_PKG_VERSION"),
        sources: &found.sources,
        problems: &found.problems,
        undated: found.undated,
        files: &files,
    };
    output::stdout(&match args.format {
        TranscriptFormat::Html => html(&header, &threads),
        TranscriptFormat::Md => md(&header, &threads),
        TranscriptFormat::Txt => txt(&header, &threads),
        TranscriptFormat::Jsonl => conversation
            .messages()
            .iter()
            .map(|m| match &m.exported {
                Some(json) => format!("{}\n", crate::links::unsigned_json(json)),
                None => serde_json::to_string(m).unwrap_or_default() + "\n",
            })
            .collect(),
    });
    let code = report(&found, "the transcript's messages");
    if files.problems.is_empty() {
        return code;
    }
    let mut text = String::new();
    for p in &files.problems {
        text.push_str(&format!("error: {}: {}\n", p.key, p.problem));
    }
    text.push_str(&format!(
        "{} media file(s) or record(s) could not be read; the transcript names them\n",
        files.problems.len()
    ));
    output::stderr(&text);
    exit::FAILED
}
