//! The application layer: what a command needs besides the aggregate itself — who asks, on
//! behalf of which tenant, and what time it is — and the ports the use cases talk through.
//!
//! # Layout
//! - [`context`]: [`CommandContext`] and [`Actor`], carried into every event's metadata.
//! - [`clock`]: the [`Clock`] port, so tests and replays can pin time.

pub mod clock;
pub mod context;

pub use clock::{Clock, ManualClock, SystemClock};
pub use context::{Actor, CommandContext};
