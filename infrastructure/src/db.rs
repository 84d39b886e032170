//! The connection pool and the migrations, embedded in the binary so `bookerbot migrate` and
//! server start need no files on disk.

use std::borrow::Cow;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, PgPool};

/// The migrations, in order. Never edit one that has been released: add a new one.
const MIGRATIONS: [(i64, &str, &str); 12] = [
    (
        1,
        "event store",
        include_str!("../../migrations/0001_event_store.sql"),
    ),
    (
        2,
        "tenants",
        include_str!("../../migrations/0002_tenants.sql"),
    ),
    (
        3,
        "search",
        include_str!("../../migrations/0003_search.sql"),
    ),
    (
        4,
        "lead imports",
        include_str!("../../migrations/0004_lead_imports.sql"),
    ),
    (
        5,
        "jobs and tags",
        include_str!("../../migrations/0005_jobs_and_tags.sql"),
    ),
    (
        6,
        "tenant channels",
        include_str!("../../migrations/0006_tenant_channels.sql"),
    ),
    (
        7,
        "messaging",
        include_str!("../../migrations/0007_messaging.sql"),
    ),
    (
        8,
        "send rate",
        include_str!("../../migrations/0008_send_rate.sql"),
    ),
    (
        9,
        "appointments",
        include_str!("../../migrations/0009_appointments.sql"),
    ),
    (
        10,
        "calendar connections",
        include_str!("../../migrations/0010_calendar_connections.sql"),
    ),
    (
        11,
        "reservations per tenant",
        include_str!("../../migrations/0011_reservations_per_tenant.sql"),
    ),
    (
        12,
        "ai budgets",
        include_str!("../../migrations/0012_ai_budgets.sql"),
    ),
];

/// The migrator over the embedded migrations.
pub fn migrator() -> Migrator {
    let migrations = MIGRATIONS
        .iter()
        .map(|(version, description, sql)| {
            Migration::new(
                *version,
                Cow::Borrowed(*description),
                MigrationType::Simple,
                Cow::Borrowed(*sql),
                false,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ignore_missing: false,
        locking: true,
        no_tx: false,
    }
}

/// Applies every pending migration (safe when several instances start at once: sqlx takes an
/// advisory lock).
pub async fn migrate(pool: &PgPool) -> anyhow::Result<()> {
    migrator()
        .run(pool)
        .await
        .context("Failed to apply database migrations")
}

/// Whether every embedded migration has been applied (for `/health/ready`).
pub async fn migrations_applied(pool: &PgPool) -> anyhow::Result<bool> {
    let applied: Option<i64> = sqlx::query_scalar(
        "SELECT count(*) FROM _sqlx_migrations WHERE success AND version = ANY($1)",
    )
    .bind(MIGRATIONS.iter().map(|m| m.0).collect::<Vec<_>>())
    .fetch_one(pool)
    .await
    .context("Failed to read applied migrations")?;
    Ok(applied == Some(MIGRATIONS.len() as i64))
}

/// Opens a pool. The pool does not ping a connection on every checkout
/// (`test_before_acquire(false)`): that doubled the round trips of every command.
pub async fn connect(url: &str, max_connections: u32) -> anyhow::Result<PgPool> {
    let options: PgConnectOptions = url
        .parse::<PgConnectOptions>()
        .context("Failed to parse the database URL")?
        .log_statements(tracing::log::LevelFilter::Trace)
        .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
    PgPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(5))
        .test_before_acquire(false)
        .connect_with(options)
        .await
        .context("Failed to connect to PostgreSQL")
}
