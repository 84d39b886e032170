//! Logging: one subscriber for the process, on stderr (stdout is for what a command prints),
//! pretty or JSON, filtered by `RUST_LOG` (default
//! `info`). Every request runs in a span carrying its request id, so every line it logs has it.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::settings::LogFormat;

/// Installs the global subscriber. Call once, at start-up.
pub fn init(format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(true)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    let result = match format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .try_init(),
        LogFormat::Pretty => builder.compact().try_init(),
    };
    if let Err(error) = result {
        eprintln!("logging was already initialised: {error}");
    }
}
