//! What can go wrong while finding PostgreSQL, worded for the person who has to fix it.

use std::fmt;

use super::Source;

/// Finding, starting or preparing a PostgreSQL server failed.
#[derive(Debug, thiserror::Error)]
pub enum LocateError {
    /// The explicit URL cannot be parsed as a PostgreSQL URL.
    #[error("the database URL {url} is not a valid PostgreSQL URL: {reason}")]
    InvalidUrl {
        /// The URL, password hidden.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// No explicit URL and every fallback failed; each attempt says why.
    #[error("{}", NotFoundReport(.0))]
    NotFound(Vec<Attempt>),
    /// [`start_throwaway`](super::start_throwaway) could not start a cluster.
    #[error("could not start a throwaway PostgreSQL cluster: {0}")]
    Throwaway(String),
    /// Connecting to a server failed.
    #[error("could not connect to {url}: {source}")]
    Connect {
        /// The URL, password hidden.
        url: String,
        /// The connection error.
        source: sqlx::Error,
    },
    /// Connecting to a server did not finish in time.
    #[error("could not connect to {url} within {seconds} s")]
    ConnectTimeout {
        /// The URL, password hidden.
        url: String,
        /// How long we waited.
        seconds: u64,
    },
    /// A statement on the maintenance database failed.
    #[error("failed to {action}: {source}")]
    Statement {
        /// What we were doing, e.g. `create database "x"`.
        action: String,
        /// The database error.
        source: sqlx::Error,
    },
}

/// One way of finding PostgreSQL that was tried, and why it did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// What was tried.
    pub source: Source,
    /// Why it did not work.
    pub failure: String,
}

impl Attempt {
    /// Record that `source` failed because of `failure`.
    pub fn new(source: Source, failure: impl Into<String>) -> Self {
        Self {
            source,
            failure: failure.into(),
        }
    }
}

/// Renders [`LocateError::NotFound`]: every attempt, then the fixes.
struct NotFoundReport<'a>(&'a [Attempt]);

impl fmt::Display for NotFoundReport<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "no PostgreSQL server found. Tried, in order:")?;
        for attempt in self.0 {
            writeln!(f, "  - {}: {}", attempt.source, attempt.failure)?;
        }
        write!(
            f,
            "To fix, do one of:\n  \
             - set DATABASE_URL (tests: TEST_DATABASE_URL) to a server you can reach, \
             e.g. postgres://postgres@127.0.0.1:5432/postgres\n  \
             - install PostgreSQL (Debian/Ubuntu: `apt-get install postgresql`): it provides both a \
             server on 127.0.0.1:5432 and the initdb/pg_ctl binaries for a throwaway cluster\n  \
             - start a Docker engine"
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_not_found_message_lists_each_attempt_and_the_fixes() {
        let error = LocateError::NotFound(vec![
            Attempt::new(Source::LocalServer, "connection refused"),
            Attempt::new(Source::Docker, "`docker` is not installed"),
        ]);
        let message = error.to_string();
        assert!(message.contains("local server at 127.0.0.1:5432: connection refused"));
        assert!(message.contains("Docker container: `docker` is not installed"));
        assert!(message.contains("DATABASE_URL"));
        assert!(message.contains("apt-get install postgresql"));
    }
}
