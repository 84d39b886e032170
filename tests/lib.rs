//! Test support for BookerBot's cross-crate integration tests, which run against a real
//! PostgreSQL.
//!
//! Every test gets a world of its own: [`TestDb::new`] creates a fresh, uniquely named database on
//! the server found by [`infrastructure::locate`] (once per test process), migrates it, and drops
//! it again when the [`TestDb`] goes out of scope — even when the test panics. So tests run in
//! parallel and leave nothing behind.
//!
//! The server is the one `TEST_DATABASE_URL` (else `DATABASE_URL`) names; without either, whatever
//! `locate` finds: a server on `127.0.0.1:5432`, a Docker container, or a throwaway cluster.
//!
//! # Layout
//! - [`db`](support::db): [`TestDb`] and [`event_count`].
//! - [`context`](support::context): [`tenant_ctx`], the command context of a test tenant.
//! - [`leads`](support::leads): Lead commands for fixtures ([`new_lead`], [`phone`], [`tag`]).
//! - [`compare`](support::compare): [`table_difference`], comparing two tables row for row.

mod support;

pub use support::compare::{table_difference, TableDifference};
pub use support::context::tenant_ctx;
pub use support::db::{event_count, TestDb};
pub use support::leads::{new_lead, phone, tag};
