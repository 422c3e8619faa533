//! Log lines on stderr through tracing: human or JSON, level from `CHATVAULT_LOG`.

use std::io::IsTerminal as _;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// Sets up logging once; `default` is the filter when `CHATVAULT_LOG` is unset.
pub fn init(format: LogFormat, default: &str) {
    let filter =
        EnvFilter::try_from_env("CHATVAULT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = match format {
        LogFormat::Human => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
