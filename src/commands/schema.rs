//! `chatvault schema`: writes (or checks) the JSON Schemas under `schemas/`.

use std::fs;

use super::{exit, output};
use crate::cli::SchemaArgs;
use crate::config::schema::{DOCUMENTS, render};

pub fn run(args: &SchemaArgs) -> u8 {
    let mut stale = Vec::new();
    for doc in DOCUMENTS {
        let path = args.out.join(doc.file_name());
        let text = render(doc);
        if args.check {
            if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                stale.push(path.display().to_string());
            }
            continue;
        }
        let written = fs::create_dir_all(&args.out).and_then(|()| write_atomically(&path, &text));
        if let Err(e) = written {
            output::error(&format!("cannot write {}: {e}", path.display()), None);
            return exit::FAILED;
        }
        output::stdout(&format!("wrote {}\n", path.display()));
    }
    if stale.is_empty() {
        exit::OK
    } else {
        output::error(
            &format!("out of date: {}", stale.join(", ")),
            Some("run `chatvault schema` and commit the result"),
        );
        exit::FAILED
    }
}

/// A reader never sees half a schema: write beside it, then rename over it.
fn write_atomically(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    fs::write(&tmp, text)?;
    fs::rename(&tmp, path)
}
