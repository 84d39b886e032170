//! Finding PostgreSQL, for the server, the demo and the tests alike.
//!
//! [`locate`] takes the first of these that works:
//!
//! 1. **An explicit URL** (`DATABASE_URL`; the tests pass `TEST_DATABASE_URL` first). Whoever set it
//!    meant that server, so it is used as given and nothing else is tried: a typo must fail loudly,
//!    not quietly fall back to another server.
//! 2. **A server answering at `127.0.0.1:5432`** as user `postgres` with trust authentication: the
//!    usual developer machine and CI (`apt-get install postgresql`). It costs one connection attempt.
//! 3. **A container** where a Docker engine runs, started through the `docker` CLI (not the
//!    testcontainers crate: same behaviour, far less to compile; see
//!    `docs/decisions/0002-finding-postgresql.md`).
//! 4. **A private throwaway cluster** from the local binaries (`initdb` + `pg_ctl`) on a free port,
//!    listening on 127.0.0.1 only. It needs nothing running, so it is the embedded default
//!    ([`start_throwaway`], `--embedded`). Tests get a temp dir with durability off; `serve` and
//!    `demo` keep their data in the caller's data dir.
//!
//! If none works, the error lists every attempt, why it failed and how to fix it.
//!
//! Nothing here reads the environment: configuration is read once elsewhere and passed in. (sqlx
//! itself still honours the `PG*` variables and `~/.pgpass` when it parses a URL.)
//!
//! Whatever this module starts belongs to the returned [`LocatedPostgres`]: dropping it stops the
//! server (and, for tests, deletes its data). A small watcher process does the same if the owner
//! exits without dropping it — a guard kept in a `static`, a killed test.
//!
//! # Layout
//! - `url`: derive one database's URL from another's, hide passwords in messages.
//! - `probe`: connect with a deadline; [`ensure_database`], [`drop_database`].
//! - `docker`: a `postgres:15` container through the `docker` CLI.
//! - `cluster`: a private cluster from `initdb` + `pg_ctl`.
//! - `process`: run helper programs with a deadline; undo what they started.
//! - `error`: [`LocateError`] and the per-attempt report.

mod cluster;
mod docker;
mod error;
mod probe;
mod process;
mod url;

use std::fmt;
use std::path::{Path, PathBuf};

pub use error::{Attempt, LocateError};
pub use probe::{drop_database, ensure_database};

use process::Cleanup;

/// The address [`locate`] probes for an already running server.
const LOCAL_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// What the server is for; decides where a started server keeps its data and how it is tuned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Purpose {
    /// `serve` and `demo`: data must survive restarts.
    Server {
        /// Data directory of the throwaway cluster (e.g. `./.bookerbot/pgdata`), reused if it exists.
        /// A Docker container keeps its data in a volume named after this path instead.
        data_dir: PathBuf,
    },
    /// Tests: fast and disposable; everything started is removed when the guard drops.
    Tests,
}

/// Where the server came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Source {
    /// The URL the caller passed in.
    ExplicitUrl,
    /// A server already answering at `127.0.0.1:5432`.
    LocalServer,
    /// A `postgres:15` container started (or, for the server, reused) through the `docker` CLI.
    Docker,
    /// A private cluster started from the local `initdb` and `pg_ctl`.
    ThrowawayCluster,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::ExplicitUrl => "explicit URL",
            Self::LocalServer => "local server at 127.0.0.1:5432",
            Self::Docker => "Docker container",
            Self::ThrowawayCluster => "throwaway cluster",
        })
    }
}

/// A PostgreSQL server to use, and the guard of anything started to provide it.
pub struct LocatedPostgres {
    /// Where the server came from.
    source: Source,
    /// The URL every other database URL is derived from (keeps credentials and parameters).
    base_url: String,
    /// `base_url` with the maintenance database `postgres`.
    admin_url: String,
    /// Data directory of a throwaway cluster.
    data_dir: Option<PathBuf>,
    /// Stops what was started, when this guard drops.
    cleanup: Cleanup,
}

impl LocatedPostgres {
    /// Guard for a server at `base_url`; `cleanup` undoes whatever was started for it.
    fn new(source: Source, base_url: String, data_dir: Option<PathBuf>, cleanup: Cleanup) -> Self {
        let admin_url = url::with_database(&base_url, "postgres");
        Self {
            source,
            base_url,
            admin_url,
            data_dir,
            cleanup,
        }
    }

    /// Where the server came from.
    pub fn source(&self) -> Source {
        self.source
    }

    /// URL of the server's maintenance database (for CREATE/DROP DATABASE).
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// URL of database `name` on the same server.
    pub fn database_url(&self, name: &str) -> String {
        url::with_database(&self.base_url, name)
    }

    /// Data directory of a throwaway cluster; `None` for the other sources.
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_deref()
    }

    /// Keep a server this guard started running after it drops (a test cluster keeps its temp dir).
    /// By default `serve` and `demo` stop their cluster on exit; this is for callers that would
    /// rather start faster next time.
    pub fn leave_running(&mut self) {
        self.cleanup.disarm();
    }
}

/// Shows the URL without its password.
impl fmt::Debug for LocatedPostgres {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocatedPostgres")
            .field("source", &self.source)
            .field("admin_url", &url::redacted(&self.admin_url))
            .field("data_dir", &self.data_dir)
            .finish_non_exhaustive()
    }
}

/// Find a PostgreSQL server, in the order the module documentation gives and explains.
///
/// `explicit_url` is the configured URL (server: `DATABASE_URL`; tests: `TEST_DATABASE_URL`, else
/// `DATABASE_URL`); a blank one counts as unset.
#[tracing::instrument(name = "infrastructure.locate", skip_all, err)]
pub async fn locate(
    explicit_url: Option<&str>,
    purpose: Purpose,
) -> Result<LocatedPostgres, LocateError> {
    if let Some(given) = explicit_url.map(str::trim).filter(|u| !u.is_empty()) {
        probe::parse(given)?;
        tracing::info!(source = %Source::ExplicitUrl, url = %url::redacted(given), "using PostgreSQL");
        return Ok(LocatedPostgres::new(
            Source::ExplicitUrl,
            given.to_owned(),
            None,
            Cleanup::none(),
        ));
    }
    let mut attempts = vec![Attempt::new(
        Source::ExplicitUrl,
        "none given (DATABASE_URL; for tests TEST_DATABASE_URL or DATABASE_URL)",
    )];

    match probe::try_connect(LOCAL_URL, probe::PROBE_TIMEOUT).await {
        Ok(()) => {
            tracing::info!(source = %Source::LocalServer, url = LOCAL_URL, "using PostgreSQL");
            let url = LOCAL_URL.to_owned();
            return Ok(LocatedPostgres::new(
                Source::LocalServer,
                url,
                None,
                Cleanup::none(),
            ));
        }
        Err(why) => attempts.push(Attempt::new(Source::LocalServer, why)),
    }

    match docker::start(&purpose).await {
        Ok(found) => return Ok(found),
        Err(why) => attempts.push(Attempt::new(Source::Docker, why)),
    }

    match cluster::start(&purpose).await {
        Ok(found) => return Ok(found),
        Err(why) => attempts.push(Attempt::new(Source::ThrowawayCluster, why)),
    }

    Err(LocateError::NotFound(attempts))
}

/// Start a throwaway cluster regardless of what else is available (tests of this module,
/// `--embedded`).
#[tracing::instrument(name = "infrastructure.locate.throwaway", skip_all, err)]
pub async fn start_throwaway(purpose: Purpose) -> Result<LocatedPostgres, LocateError> {
    cluster::start(&purpose)
        .await
        .map_err(LocateError::Throwaway)
}
