//! Configuration, typed and loaded once. The CLI (clap, with `env` fallbacks) is the only place
//! that reads the environment; everything else is handed a [`Settings`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How logs are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Everything the server needs to run.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Explicit PostgreSQL URL (`DATABASE_URL`); when absent, one is found (see `locate`).
    pub database_url: Option<String>,
    /// Where the embedded throwaway cluster keeps its data when it is used.
    pub data_dir: PathBuf,
    /// Always use the embedded cluster under `data_dir`, whatever else is reachable.
    pub embedded: bool,
    /// Address to listen on.
    pub listen: SocketAddr,
    /// The platform administrator's token (`BOOKERBOT_ADMIN_TOKEN`); admin routes are closed
    /// without it.
    pub admin_token: Option<String>,
    /// Largest pool of database connections.
    pub max_connections: u32,
    /// Longest a read waits for `min_position` before answering 503.
    pub read_wait: Duration,
    /// Attempts for a command that keeps hitting optimistic conflicts.
    pub command_attempts: u32,
    /// Whether this instance runs the projection runners.
    pub run_projections: bool,
    /// Largest CSV upload `POST /api/v1/leads/import` accepts, in bytes.
    pub import_max_bytes: u64,
}

impl Settings {
    /// Settings for tests and benchmarks: given database, ephemeral port, admin token set.
    pub fn for_tests(database_url: String, admin_token: &str) -> Self {
        Self {
            database_url: Some(database_url),
            data_dir: PathBuf::from(".bookerbot"),
            embedded: false,
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            admin_token: Some(admin_token.to_string()),
            max_connections: 20,
            read_wait: Duration::from_secs(5),
            command_attempts: 10,
            run_projections: true,
            import_max_bytes: infrastructure::lead_import::DEFAULT_MAX_BYTES,
        }
    }
}
