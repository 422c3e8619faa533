//! Writing to the terminal. A closed pipe (`chatvault plan | head`) is not an error.

use std::error::Error as StdError;
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

/// A problem that has no error value behind it (a bad flag, an unknown job name): `error:`
/// and, when known, `hint:`.
pub fn error(message: &str, hint: Option<&str>) {
    stderr(&render(message, &[], hint));
}

/// A typed error, shown the one way every command shows them (see [`render_error`]).
pub fn report(error: &dyn StdError, hint: Option<&str>) {
    stderr(&render_error(None, error, hint));
}

/// The same, with what failed put in front of its message (`daily: tick …: `).
pub fn report_for(context: &str, error: &dyn StdError, hint: Option<&str>) {
    stderr(&render_error(Some(context), error, hint));
}

/// `error: <message>`, then one `  caused by: <cause>` line for each cause in the `source()`
/// chain that says something the lines above did not (many messages carry their cause inline
/// already, so repeating it would only add noise), then `hint: <what to do>` unless the
/// message already ends with it. As uv shows its errors: the first line is what a one-line
/// form (a ledger, a webhook) keeps, the rest is for the person at the terminal.
pub fn render_error(context: Option<&str>, error: &dyn StdError, hint: Option<&str>) -> String {
    let message = match context {
        Some(context) => format!("{context}: {error}"),
        None => error.to_string(),
    };
    let mut causes = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    render(&message, &causes, hint)
}

fn render(message: &str, causes: &[String], hint: Option<&str>) -> String {
    let mut text = format!("error: {message}\n");
    let mut shown = vec![message.to_owned()];
    for cause in causes {
        let cause = cause.trim();
        if cause.is_empty() || shown.iter().any(|s| s.contains(cause)) {
            continue;
        }
        text.push_str(&format!("  caused by: {cause}\n"));
        shown.push(cause.to_owned());
    }
    if let Some(hint) = hint.filter(|hint| !message.contains(hint)) {
        text.push_str(&format!("hint: {hint}\n"));
    }
    text
}

/// The `  warning:` lines under a successful tick's line: channels or users Stream does not
/// have, then what the archives lack (`warnings`); empty when there is nothing to say. The
/// run still succeeds (exit 0). `run --once`'s lines and the progress bars both print these.
pub fn warning_lines(missing: &crate::state::Missing, warnings: &[String]) -> String {
    let mut text = String::new();
    for (what, ids) in [("channel", &missing.channels), ("user", &missing.users)] {
        if !ids.is_empty() {
            text.push_str(&format!(
                "\n  warning: Stream does not have {} {what}(s), exported without: {}",
                ids.len(),
                ids.join(", ")
            ));
        }
    }
    for warning in warnings {
        text.push_str("\n  warning: ");
        text.push_str(warning);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("writing a/b.jsonl to s3://b/ failed: {0}")]
    struct Outer(#[source] Middle);

    #[derive(Debug, thiserror::Error)]
    #[error("the store said no")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn causes_get_a_line_each_unless_a_line_above_says_them_already() {
        let error = Outer(Middle(std::io::Error::other("connection reset")));
        assert_eq!(
            render_error(Some("daily"), &error, Some("check the store")),
            "error: daily: writing a/b.jsonl to s3://b/ failed: the store said no\n\
             \x20 caused by: connection reset\n\
             hint: check the store\n"
        );
    }

    #[test]
    fn a_hint_the_message_already_ends_with_is_not_repeated() {
        assert_eq!(
            render(
                "no API key: set STREAM_API_KEY",
                &[],
                Some("set STREAM_API_KEY")
            ),
            "error: no API key: set STREAM_API_KEY\n"
        );
    }
}
