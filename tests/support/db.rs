//! A fresh, migrated database per test, dropped when the test ends.

use std::time::Duration;

use infrastructure::locate::{drop_database, ensure_database, locate, LocatedPostgres, Purpose};
use sqlx::PgPool;
use tokio::sync::OnceCell;

/// Connections per test pool unless a test asks for more: two tests run at once per CPU and
/// the server allows 100 connections in all, shared with other suites.
const DEFAULT_POOL_SIZE: u32 = 10;

/// How many times dropping a test database is tried before giving up (and saying so).
const DROP_ATTEMPTS: u32 = 5;

/// The server every test of this process uses, found once. It lives in a `static`, so it is
/// never dropped: a server that `locate` started is stopped by its watcher process when the test
/// process exits.
static SERVER: OnceCell<LocatedPostgres> = OnceCell::const_new();

/// Finds the server once per test process (`TEST_DATABASE_URL`, else `DATABASE_URL`, else
/// whatever [`locate`] finds).
async fn server() -> &'static LocatedPostgres {
    SERVER
        .get_or_init(|| async {
            let explicit = ["TEST_DATABASE_URL", "DATABASE_URL"]
                .into_iter()
                .filter_map(|name| std::env::var(name).ok())
                .find(|url| !url.trim().is_empty());
            locate(explicit.as_deref(), Purpose::Tests)
                .await
                .unwrap_or_else(|error| panic!("no PostgreSQL for the tests: {error}"))
        })
        .await
}

/// A freshly created and migrated database of its own for one test; dropped with the value.
#[derive(Debug)]
pub struct TestDb {
    /// A pool on it. Declared first, so it is dropped (its connections hung up) before the
    /// database is.
    pool: PgPool,
    /// Its URL.
    url: String,
    /// Drops the database when the test is done with it.
    guard: DropOnDrop,
}

impl TestDb {
    /// A new database with every migration applied and a pool of ten connections.
    ///
    /// Panics, with the reason, when no server can be found or the database cannot be set up:
    /// nothing else makes sense in a test.
    pub async fn new() -> Self {
        Self::with_pool_size(DEFAULT_POOL_SIZE).await
    }

    /// Like [`TestDb::new`], with a pool of `max_connections` (for tests that hold many
    /// transactions open at once).
    pub async fn with_pool_size(max_connections: u32) -> Self {
        // Tests call providers' fakes and servers with reqwest, built without a TLS provider.
        infrastructure::http_client::install_crypto_provider();
        let server = server().await;
        let name = format!("bbtest_{}", uuid::Uuid::new_v4().simple());
        let url = server.database_url(&name);
        ensure_database(&url)
            .await
            .unwrap_or_else(|error| panic!("failed to create test database {name}: {error}"));
        // From here on a panic still drops the database, through the guard.
        let guard = DropOnDrop {
            admin_url: server.admin_url().to_owned(),
            name,
        };
        let pool = infrastructure::db::connect(&url, max_connections)
            .await
            .unwrap_or_else(|error| panic!("failed to connect to {}: {error:#}", guard.name));
        infrastructure::db::migrate(&pool)
            .await
            .unwrap_or_else(|error| panic!("failed to migrate {}: {error:#}", guard.name));
        Self { pool, url, guard }
    }

    /// The pool on this test's database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The URL of this test's database (to open more pools or a listener).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.guard.name
    }
}

/// Drops database `name` when dropped.
#[derive(Debug)]
struct DropOnDrop {
    /// The server's maintenance database, to drop the test database from.
    admin_url: String,
    /// The test database (`bbtest_<uuid>`).
    name: String,
}

impl Drop for DropOnDrop {
    /// Drops the database `WITH (FORCE)`, which also ends connections other tasks still hold.
    /// `Drop` cannot await, and the test's runtime may be a current-thread one that blocking
    /// here would stall, so the statement runs on a thread of its own with its own small
    /// runtime. A failure is reported, never raised: panicking in `drop` during a test's panic
    /// would abort the whole test process.
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(async {
                // The server may be out of connection slots for a moment while many tests run:
                // try again a few times rather than leave the database behind.
                let mut attempt = 1;
                loop {
                    let dropped = tokio::time::timeout(
                        Duration::from_secs(30),
                        drop_database(&admin_url, &name),
                    )
                    .await
                    .map_err(|_| "timed out".to_owned())
                    .and_then(|dropped| dropped.map_err(|error| error.to_string()));
                    match dropped {
                        Err(_) if attempt < DROP_ATTEMPTS => {
                            tokio::time::sleep(Duration::from_millis(200 * u64::from(attempt)))
                                .await;
                            attempt += 1;
                        }
                        result => return result,
                    }
                }
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(why)) => eprintln!("failed to drop test database {}: {why}", self.name),
            Err(_) => eprintln!(
                "failed to drop test database {}: the thread panicked",
                self.name
            ),
        }
    }
}

/// How many events the store holds.
pub async fn event_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(pool)
        .await
        .unwrap_or_else(|error| panic!("failed to count events: {error}"))
}
