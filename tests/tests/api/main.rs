//! The API end to end: a real server on an ephemeral port, a real database per test, requests
//! over HTTP. One binary with a module per feature and a shared `helpers.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod activity;
mod ai_budget_settings;
mod analytics_costs;
mod analytics_funnel;
mod analytics_overview;
mod appointments;
mod automation;
mod bad_input;
mod budgets;
mod bulk;
mod bulk_outreach;
mod calendar_connection;
mod conversation;
mod conversation_booking;
mod export;
mod google_booking;
mod helpers;
mod imports;
mod isolation;
mod lead_list;
mod leads;
mod message_prices;
mod messaging;
mod operations;
mod reminders;
mod tags;
mod tenants;
mod webhooks;
mod workflow_bulk;
mod workflows;
