//! Log lines on stderr through tracing: human or JSON, level from `CHATVAULT_LOG`.
//!
//! Both formats print one flat set of fields per line: the fields of every span the event is
//! in (the run's `job`, `tick`, `run_id`; the batch's `batch`, `kind`, `key`, `task_id`), then
//! the event's own, an event's field replacing a span's of the same name. tracing-subscriber's
//! own JSON format nests span fields under `span`/`spans`, which log pipelines cannot filter on
//! by job or run, and its human format prints them before the message, apart from the event's.

use std::fmt;
use std::io::IsTerminal as _;

use chrono::{SecondsFormat, Utc};
use serde_json::Value;
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::{JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormattedFields};
use tracing_subscriber::registry::LookupSpan;

use crate::cli::LogFormat;

/// Sets up logging once; `default` is the filter when `CHATVAULT_LOG` is unset.
pub fn init(format: LogFormat, default: &str) {
    let filter =
        EnvFilter::try_from_env("CHATVAULT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let json = matches!(format, LogFormat::Json);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(!json && std::io::stderr().is_terminal())
        // Spans keep their fields as JSON, which `Flat` reads back as values.
        .fmt_fields(JsonFields::new())
        .event_format(Flat { json })
        .try_init();
}

/// Span fields shown first, in this order (a span's fields come back sorted by name).
const LEADING: [&str; 7] = ["job", "tick", "run_id", "batch", "kind", "key", "task_id"];
/// Keys every line has; a span or event field by one of these names is shown as `field.NAME`.
const RESERVED: [&str; 4] = ["timestamp", "level", "target", "message"];

/// Formats an event with its spans' fields flattened into one line, as JSON or `key=value`.
#[derive(Debug, Clone, Copy)]
pub struct Flat {
    pub json: bool,
}

impl<S> FormatEvent<S, JsonFields> for Flat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, JsonFields>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = Line::default();
        if let Some(scope) = ctx.event_scope() {
            for span in scope.from_root() {
                let extensions = span.extensions();
                if let Some(fields) = extensions.get::<FormattedFields<JsonFields>>() {
                    line.add_span(&fields.fields);
                }
            }
        }
        event.record(&mut line);
        let meta = event.metadata();
        let target = line.log_target.take();
        let target = target.as_deref().unwrap_or(meta.target());
        let time = Utc::now().to_rfc3339_opts(SecondsFormat::Micros, true);
        if self.json {
            line.write_json(&mut writer, &time, meta.level(), target)
        } else {
            let ansi = writer.has_ansi_escapes();
            line.write_human(&mut writer, &time, meta.level(), target, ansi)
        }
    }
}

/// One event's fields as they are printed.
#[derive(Debug, Default)]
struct Line {
    message: String,
    fields: Vec<(String, Value)>,
    /// The real target of a record that came through the `log` crate.
    log_target: Option<String>,
}

impl Line {
    /// Adds a span's fields (its `FormattedFields<JsonFields>`, a JSON object), inner spans'
    /// replacing outer ones'. Text that does not parse adds nothing: a line with fewer fields
    /// beats no line.
    fn add_span(&mut self, json: &str) {
        let Ok(map) = serde_json::from_str::<serde_json::Map<String, Value>>(json) else {
            return;
        };
        let mut fields: Vec<(String, Value)> = map.into_iter().collect();
        fields.sort_by_key(|(name, _)| {
            LEADING
                .iter()
                .position(|l| l == name)
                .unwrap_or(LEADING.len())
        });
        for (name, value) in fields {
            self.set(name, value);
        }
    }

    /// Sets `name`, keeping its place when it is already there.
    fn set(&mut self, name: String, value: Value) {
        let name = if RESERVED.contains(&name.as_str()) {
            format!("field.{name}")
        } else {
            name
        };
        match self.fields.iter_mut().find(|(n, _)| *n == name) {
            Some((_, old)) => *old = value,
            None => self.fields.push((name, value)),
        }
    }

    fn record(&mut self, field: &Field, value: Value) {
        match field.name() {
            "message" => {
                self.message = match value {
                    Value::String(text) => text,
                    other => other.to_string(),
                }
            }
            "log.target" => self.log_target = value.as_str().map(str::to_owned),
            // The rest of a `log` record's metadata (module, file, line) says nothing to
            // an operator.
            name if name.starts_with("log.") => {}
            name => self.set(name.strip_prefix("r#").unwrap_or(name).to_owned(), value),
        }
    }

    fn write_json(
        &self,
        w: &mut Writer<'_>,
        time: &str,
        level: &Level,
        target: &str,
    ) -> fmt::Result {
        let head = [
            ("timestamp", Value::from(time)),
            ("level", Value::from(level.as_str())),
            ("target", Value::from(target)),
            ("message", Value::from(self.message.as_str())),
        ];
        let fields = self.fields.iter().map(|(n, v)| (n.as_str(), v.clone()));
        w.write_char('{')?;
        for (i, (name, value)) in head.into_iter().chain(fields).enumerate() {
            if i > 0 {
                w.write_char(',')?;
            }
            write!(w, "{}:{value}", Value::from(name))?;
        }
        w.write_str("}\n")
    }

    fn write_human(
        &self,
        w: &mut Writer<'_>,
        time: &str,
        level: &Level,
        target: &str,
        ansi: bool,
    ) -> fmt::Result {
        let color = match *level {
            Level::ERROR => "31",
            Level::WARN => "33",
            Level::INFO => "32",
            Level::DEBUG => "34",
            Level::TRACE => "35",
        };
        if ansi {
            write!(
                w,
                "{time} \x1b[{color}m{:>5}\x1b[0m {target}: ",
                level.as_str()
            )?;
        } else {
            write!(w, "{time} {:>5} {target}: ", level.as_str())?;
        }
        for c in self.message.chars() {
            if c.is_control() {
                write!(w, "{}", c.escape_debug())?;
            } else {
                w.write_char(c)?;
            }
        }
        for (name, value) in &self.fields {
            write!(w, " {name}=")?;
            match value {
                Value::String(text) if plain(text) => w.write_str(text)?,
                Value::String(text) => write!(w, "{text:?}")?,
                other => write!(w, "{other}")?,
            }
        }
        w.write_char('\n')
    }
}

/// Printed without quotes: one word, nothing a reader (or a terminal) could misread.
fn plain(text: &str) -> bool {
    !text.is_empty()
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '"' || c == '=')
}

impl Visit for Line {
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.record(field, Value::from(value));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.record(field, Value::from(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.record(field, Value::from(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.record(field, Value::from(value));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, Value::from(value));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.record(field, Value::from(value.to_string()));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, Value::from(format!("{value:?}")));
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex, PoisonError};

    use super::*;

    /// What the subscriber under test wrote.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// The lines `emit` logs through a `Flat` formatter.
    fn logged(json: bool, emit: impl FnOnce()) -> Vec<String> {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .fmt_fields(JsonFields::new())
            .event_format(Flat { json })
            .finish();
        tracing::subscriber::with_default(subscriber, emit);
        let bytes = captured.0.lock().unwrap_or_else(PoisonError::into_inner);
        String::from_utf8_lossy(&bytes)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    fn parsed(line: &str) -> serde_json::Map<String, Value> {
        serde_json::from_str(line).unwrap_or_else(|e| panic!("not a JSON object ({e}): {line}"))
    }

    #[test]
    fn span_fields_sit_beside_the_events_at_top_level() {
        let lines = logged(true, || {
            let run = tracing::error_span!("run", job = "daily", run_id = "ab12");
            let _run = run.enter();
            let batch =
                tracing::error_span!("batch", batch = 3u64, task_id = tracing::field::Empty);
            let _batch = batch.enter();
            batch.record("task_id", "t-1");
            tracing::warn!(attempt = 2u64, "retrying");
        });
        assert_eq!(lines.len(), 1, "{lines:?}");
        let line = parsed(&lines[0]);
        assert_eq!(line["level"], "WARN");
        assert_eq!(line["message"], "retrying");
        assert_eq!(line["job"], "daily");
        assert_eq!(line["run_id"], "ab12");
        assert_eq!(line["batch"], 3);
        assert_eq!(line["task_id"], "t-1");
        assert_eq!(line["attempt"], 2);
        assert!(line.get("span").is_none() && line.get("spans").is_none());
        assert!(
            chrono::DateTime::parse_from_rfc3339(line["timestamp"].as_str().unwrap_or("")).is_ok()
        );
    }

    #[test]
    fn an_events_field_wins_over_a_spans_and_is_shown_once() {
        let emit = || {
            let run = tracing::error_span!("run", job = "daily", key = "span-key");
            let _run = run.enter();
            tracing::info!(key = "event-key", "done");
        };
        let json = logged(true, emit);
        assert_eq!(parsed(&json[0])["key"], "event-key");
        assert_eq!(json[0].matches("\"key\"").count(), 1, "{}", json[0]);
        let human = logged(false, emit);
        assert!(
            human[0].ends_with(" done job=daily key=event-key"),
            "{}",
            human[0]
        );
    }

    #[test]
    fn odd_characters_in_values_keep_the_line_valid_json_and_one_line() {
        let odd = "quote \" backslash \\ newline \n tab \t escape \x1b[31m unicode é 🦀 {}";
        let emit = || {
            let run = tracing::error_span!("run", job = odd);
            let _run = run.enter();
            tracing::error!(error = odd, "failed: {odd}");
        };
        let json = logged(true, emit);
        assert_eq!(json.len(), 1, "{json:?}");
        let line = parsed(&json[0]);
        assert_eq!(line["job"], odd);
        assert_eq!(line["error"], odd);
        assert_eq!(line["message"], format!("failed: {odd}"));
        let human = logged(false, emit);
        assert_eq!(human.len(), 1, "{human:?}");
        assert!(!human[0].contains('\x1b'), "{}", human[0]);
    }

    #[test]
    fn human_lines_lead_with_the_runs_fields_in_a_fixed_order() {
        let lines = logged(false, || {
            let run = tracing::error_span!("run", run_id = "ab12", tick = "t", job = "daily");
            let _run = run.enter();
            tracing::info!(archives = 1u64, "run succeeded");
        });
        assert!(
            lines[0].ends_with(" INFO chatvault::commands::logging::tests: run succeeded job=daily tick=t run_id=ab12 archives=1"),
            "{}",
            lines[0]
        );
    }

    #[test]
    fn a_reserved_name_does_not_hide_the_lines_own_key() {
        let lines = logged(true, || tracing::info!(level = "custom", "hello"));
        let line = parsed(&lines[0]);
        assert_eq!(line["level"], "INFO");
        assert_eq!(line["field.level"], "custom");
    }
}
