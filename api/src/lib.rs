//! BookerBot's HTTP API and command-line entry points.
//!
//! # Layout
//! - [`server`]: database start-up, the route tree, projection runners, graceful shutdown.
//! - [`routes`]: one module per resource (`tenants`, `workflows`, `leads`, `admin`, `health`).
//! - [`dto`]: request and response bodies, kept apart from domain types.
//! - [`error`]: the one place errors become HTTP statuses and the JSON error shape.
//! - [`body`]: JSON bodies read with serde so refusals name the field.
//! - [`auth`]: bearer tokens → admin or a tenant's key.
//! - [`middleware`]: request ids, request spans and metrics.
//! - [`metrics`]: Prometheus exposition.
//! - [`settings`], [`telemetry`], [`state`]: configuration, logging, shared state.
//! - [`demo`], [`bench`]: the demo data and the command benchmark behind the CLI.

pub mod auth;
pub mod bench;
pub mod body;
pub mod demo;
pub mod dto;
pub mod error;
pub mod metrics;
pub mod middleware;
pub mod responses;
pub mod routes;
pub mod server;
pub mod settings;
pub mod state;
pub mod telemetry;
