//! Conversations: what was said between a lead and the business on one channel.
pub mod intent;
pub mod keywords;
pub mod message;
pub mod qualification;

pub use intent::Intent;
pub use keywords::Keyword;
pub use qualification::{evaluate as evaluate_qualification, Qualification};
pub use message::{DeliveryStatus, MessageContent, MessageOrigin, MAX_BODY_LEN};
