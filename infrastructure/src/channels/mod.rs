//! Message channel adapters behind [`application::MessageChannel`].
pub mod credentials;

pub use credentials::{ChannelCredentials, TwilioCredentials, WhatsAppCloudCredentials};
