//! `chatvault transcript`: one channel's conversation, rendered for people (HTML, Markdown,
//! text) or as JSON Lines.

use std::path::PathBuf;

use super::archives::sources;
use super::args::Transcript;
use super::search::report;
use super::{World, exit, output, runtime};
use crate::archive::search::search;
use crate::archive::transcript::{Header, html, md, threads, txt};
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
    let sources = match sources(&args.archives, config, world) {
        Ok(sources) => sources,
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
    let found = runtime.block_on(search(&sources, &query, None));
    let messages: Vec<_> = found.hits.iter().map(|h| h.message.clone()).collect();
    let entries = threads(&messages);
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
    };
    output::stdout(&match args.format {
        TranscriptFormat::Html => html(&header, &entries),
        TranscriptFormat::Md => md(&header, &entries),
        TranscriptFormat::Txt => txt(&header, &entries),
        TranscriptFormat::Jsonl => messages
            .iter()
            .map(|m| serde_json::to_string(m).unwrap_or_default() + "\n")
            .collect(),
    });
    report(&found)
}
