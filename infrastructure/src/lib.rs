//! Everything that touches PostgreSQL: the event store and its global feed, the command executor,
//! tenants and their API keys, and finding a database to talk to.
//!
//! # Layout
//! - [`locate`]: find or start a PostgreSQL server (explicit URL, local server, Docker, throwaway).
//! - [`db`]: the connection pool and the embedded migrations.
//! - [`metadata`]: what every event carries besides its payload.
//! - [`event_store`]: load an aggregate's events and append new ones, inside a caller's transaction.
//! - [`executor`]: run a command — load, decide, append — in one transaction, with bounded retries.
//! - [`feed`]: read every committed event exactly once, in a total order, for projections.
//! - [`lead_import`]: CSV import of leads in batches, resumable and safe to send again.
//! - [`lead_phones`]: the one-lead-per-phone reservation written with the lead's events.
//! - [`appointments`]: booking without double booking, cancelling, free slots.
//! - [`leads`]: lead use cases that span the aggregate and the phone reservation.
//! - [`messaging`]: conversations in motion: inbound, outbox, the AI orchestrator, opt-out.
//! - [`calendars`]: external calendars (Google Calendar) and which one a tenant uses.
//! - [`channels`]: provider adapters (Twilio, WhatsApp Cloud API, sandbox) and routing.
//! - [`ai`]: conversation models (rules engine, OpenAI-compatible).
//! - [`tenants`]: tenant configuration and API keys.
//! - [`secrets`]: AES-256-GCM sealing of the secrets tenants store (provider tokens, model keys).
//! - [`jobs`]: background jobs (bulk actions): claim, lease, progress, failures.
//! - [`bulk`]: one bulk action applied to a chunk of leads.
//! - [`tags`]: a tenant's tag definitions (colours).
//! - [`ttl_cache`]: short-lived in-process caches of keys and tenant settings.
//! - [`webhook`]: one JSON POST to a tenant's webhook URL.

pub mod ai;
pub mod appointments;
pub mod bulk;
pub mod calendars;
pub mod channels;
pub mod db;
pub mod event_store;
pub mod executor;
pub mod feed;
pub mod http_client;
pub mod jobs;
pub mod lead_import;
pub mod lead_phones;
pub mod leads;
pub mod locate;
pub mod messaging;
pub mod metadata;
pub mod secrets;
pub mod tags;
pub mod tenants;
pub mod ttl_cache;
pub mod webhook;
