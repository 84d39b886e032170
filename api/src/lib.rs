//! BookerBot's HTTP API and command-line entry points.
//!
//! # Layout
//! - [`server`]: database start-up, the route tree, projection runners, graceful shutdown.
//! - [`routes`]: one module per resource (`tenants`, `workflows`, `leads`, `admin`, `health`).
//! - [`dto`]: request and response bodies, kept apart from domain types.
//! - [`job_runner`]: the background worker that runs bulk jobs.
//! - [`error`]: the one place errors become HTTP statuses and the JSON error shape.
//! - [`body`]: JSON bodies read with serde so refusals name the field.
//! - [`auth`]: bearer tokens → admin or a tenant's key.
//! - [`middleware`]: request ids, request spans and metrics.
//! - [`metrics`]: Prometheus exposition.
//! - [`settings`], [`telemetry`], [`state`]: configuration, logging, shared state.
//! - [`demo`], [`bench`]: the demo data and the command benchmark behind the CLI.
//! - [`bench_list`]: the lead list benchmark (HTTP beside raw SQL, database growth, deep pages).
//! - [`bench_messaging`]: inbound webhook ingestion and AI reply latency, beside raw inserts.
//! - [`bench_automation`]: outreach latency during an import, and the timer dispatcher's rate.
//! - [`bench_analytics`]: the all-time overview for a 10k and a 1M tenant, a 365-day funnel.
//! - [`bench_appointments`]: availability of a busy month, and booking under contention beside
//!   raw reservation inserts.
//! - [`progress`]: a progress bar on stderr for long CLI operations.
//! - [`import_cli`], [`bench_import`]: `bookerbot leads import` and the CSV import benchmark.
//! - [`audit`]: `bookerbot audit`, a lead's events and its state at any instant.
//! - [`seed`], [`bench_rebuild`]: synthetic tenants and leads, and the projection rebuild benchmark.

pub mod audit;
pub mod auth;
pub mod bench;
pub mod bench_analytics;
pub mod bench_appointments;
pub mod bench_automation;
pub mod bench_import;
pub mod bench_list;
pub mod bench_messaging;
pub mod bench_rebuild;
pub mod body;
pub mod demo;
pub mod dto;
pub mod error;
pub mod import_cli;
pub mod job_runner;
pub mod metrics;
pub mod middleware;
pub mod progress;
pub mod responses;
pub mod routes;
pub mod seed;
pub mod server;
pub mod settings;
pub mod state;
pub mod telemetry;
