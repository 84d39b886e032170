//! Message channel adapters behind [`application::MessageChannel`].
pub mod credentials;
mod provider_error;
pub mod router;
pub mod sandbox;
pub mod twilio;
pub mod twilio_webhook;
pub mod whatsapp_cloud;
pub mod whatsapp_webhook;

pub use credentials::{ChannelCredentials, TwilioCredentials, WhatsAppCloudCredentials};
pub use router::{ChannelRouter, ProviderEndpoints};
pub use sandbox::SandboxChannel;
pub use twilio::TwilioChannel;
pub use twilio_webhook::{
    parse_twilio_inbound, parse_twilio_pricing, parse_twilio_status, twilio_signature,
    verify_twilio_signature, TwilioInbound, TwilioStatus, TwilioWebhookError,
};
pub use whatsapp_cloud::WhatsAppCloudChannel;
pub use whatsapp_webhook::{
    hub_signature, parse_whatsapp_webhook, verify_handshake, verify_hub_signature, WhatsAppInbound,
    WhatsAppStatus, WhatsAppWebhook, WhatsAppWebhookError,
};
