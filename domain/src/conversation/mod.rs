//! Conversations: what was said between a lead and the business on one channel.
pub mod intent;
pub mod keywords;
pub mod message;

pub use intent::Intent;
pub use keywords::Keyword;
pub use message::{DeliveryStatus, MessageContent, MessageOrigin, MAX_BODY_LEN};
