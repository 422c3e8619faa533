//! Writing to the terminal. A closed pipe (`chatvault plan | head`) is not an error.

use std::io::{self, Write};

pub fn stdout(text: &str) {
    let _ = write_all(&mut io::stdout().lock(), text);
}

pub fn stderr(text: &str) {
    let _ = write_all(&mut io::stderr().lock(), text);
}

fn write_all(out: &mut dyn Write, text: &str) -> io::Result<()> {
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// The one way errors reach the user: `error:`, then causes, then what to do.
pub fn error(message: &str, hint: Option<&str>) {
    let mut text = format!("error: {message}\n");
    if let Some(hint) = hint {
        text.push_str(&format!("hint: {hint}\n"));
    }
    stderr(&text);
}

/// What a successful tick's line adds when Stream lacked channels or users it asked for:
/// empty when nothing was missing. The run still succeeds (exit 0); this is its warning.
pub fn missing_note(missing: &crate::state::Missing) -> String {
    let mut text = String::new();
    for (what, ids) in [("channel", &missing.channels), ("user", &missing.users)] {
        if !ids.is_empty() {
            text.push_str(&format!(
                "; warning: Stream does not have {} {what}(s), exported without: {}",
                ids.len(),
                ids.join(", ")
            ));
        }
    }
    text
}
