//! External calendars behind [`application::CalendarProvider`]: Google Calendar (Calendar API
//! v3 with OAuth refresh tokens), resolved per tenant. A tenant without a connection uses the
//! built-in calendar, which needs no adapter.
//!
//! # Layout
//! - [`resolver`]: [`CalendarResolver::provider_for`] — a tenant's provider, cached per tenant.
//! - [`google`]: [`GoogleCalendar`], the adapter: freeBusy, events.insert/patch/delete.
//! - [`oauth`]: [`GoogleTokens`], access tokens from the refresh token, refreshed on expiry or 401.
//! - [`connection`]: [`TenantConnection`], where a tenant's token is kept and who is told of a
//!   disconnection.
//! - [`credentials`]: [`GoogleCredentials`] and [`GoogleEndpoints`].
//!
//! # A crash never duplicates a booking
//! The event Google stores for an appointment has an id derived from the appointment
//! (its UUID's 32 hex digits: Google takes client-chosen ids of base32hex characters), and the
//! Meet creation request id is derived from it too. Inserting the same appointment again — a
//! retry after a timeout, a worker that crashed after Google answered — collides with the event
//! already written: Google answers 409, the adapter reads that event and answers it as inserted.
//! No second event, no second meeting. An event deleted since (Google keeps it as `cancelled`)
//! is not brought back: that insert is refused.
//!
//! # Unknown is not free
//! freeBusy answers per calendar; a calendar whose entry carries `errors` (or is missing) is
//! [`application::FreeBusy::Unknown`], never an empty busy list.
//!
//! # Tokens
//! The access token is kept in memory per connection and sealed in the tenant's row with its
//! expiry (AES-GCM, bound to the tenant and `calendar.google.access_token`), so every instance
//! shares one token and a restart does not refresh needlessly. It is refreshed 60 s before it
//! expires, and once (with one retry of the call) when the API answers 401. `invalid_grant`
//! from the token endpoint disconnects the connection: it is recorded on the tenant
//! (status `disconnected`, reason, time), the tenant's webhook gets one
//! `{"type": "calendar_disconnected", …}` POST, and nothing calls Google for that grant again
//! until the tenant changes the connection.

pub mod connection;
pub mod credentials;
mod exchange;
pub mod google;
pub mod oauth;
pub mod resolver;
mod wire;

pub use connection::{TenantConnection, DISCONNECTED_EVENT};
pub use credentials::{GoogleCredentials, GoogleEndpoints};
pub use google::GoogleCalendar;
pub use oauth::{AccessToken, GoogleTokens, TokenStore, REFRESH_MARGIN};
pub use resolver::{CalendarResolver, DisconnectedCalendar};
