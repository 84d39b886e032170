//! The application layer: what a command needs besides the aggregate itself — who asks, on
//! behalf of which tenant, and what time it is — and the ports the use cases talk through.
//!
//! # Layout
//! - [`context`]: [`CommandContext`] and [`Actor`], carried into every event's metadata.
//! - [`clock`]: the [`Clock`] port, so tests and replays can pin time.
//! - [`calendar`]: the [`CalendarProvider`] port: an external calendar's busy times and events.
//! - [`channel`]: the [`MessageChannel`] port: send one message through a provider.
//! - [`conversation_model`]: the [`ConversationModel`] port: read a lead's message, write the
//!   reply (rules engine or an LLM).

pub mod calendar;
pub mod channel;
pub mod clock;
pub mod context;
pub mod conversation_model;

pub use calendar::{
    CalendarError, CalendarEvent, CalendarProvider, ConferenceStatus, FreeBusy, InsertedEvent,
};
pub use channel::{MessageChannel, OutboundRequest, PermanentFailure, SendError, SendReceipt};
pub use clock::{Clock, ManualClock, SystemClock};
pub use context::{Actor, CommandContext};
pub use conversation_model::{
    ConversationModel, HistoryLine, ModelError, ModelReply, ModelRequest, ModelUsage, OfferedSlot,
    Speaker,
};
