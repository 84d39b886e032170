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
//! - `support/db.rs`: [`TestDb`] and [`event_count`].
//! - `support/context.rs`: [`tenant_ctx`], the command context of a test tenant.
//! - `support/feed.rs`: [`read_feed`] until the expected events come, and
//!   [`wait_for_feed_to_settle`].
//! - `support/leads.rs`: Lead commands for fixtures ([`new_lead`], [`phone`], [`tag`]).
//! - `support/projections.rs`: [`rebuild`] a projection from zero, read a
//!   [`checkpoint`].
//! - `support/history.rs`: [`HistoryWriter`], a random history of real lead commands, and
//!   [`assert_same_schemas`] / [`copy_schema`] for comparing whole read models.
//! - `support/fake_http.rs`: [`FakeHttp`], a local provider fake that records exact requests
//!   and answers as scripted.
//! - `support/compare.rs`: [`table_difference`] and [`query_difference`], comparing
//!   two tables or queries row for row.

mod support;

pub use support::compare::{query_difference, table_difference, TableDifference};
pub use support::context::tenant_ctx;
pub use support::db::{event_count, TestDb};
pub use support::fake_http::{form_pairs, FakeHttp, FakeResponse, RecordedRequest};
pub use support::feed::{read_feed, wait_for_feed_to_settle};
pub use support::history::{assert_same_schemas, copy_schema, schema_tables, HistoryWriter};
pub use support::leads::{new_lead, phone, tag};
pub use support::projections::{checkpoint, rebuild};
