//! Which provider sends a tenant's messages on a channel. A tenant with no provider account at
//! all gets the sandbox (the product runs end to end with nothing configured); a tenant with
//! accounts gets the one that serves the channel — WhatsApp Cloud API before Twilio for WhatsApp —
//! and a clear refusal when none does, never a silent fall-back to the sandbox.

use std::sync::Arc;

use application::MessageChannel;
use domain::values::TenantId;
use domain::Channel;

use crate::channels::sandbox::SandboxChannel;
use crate::channels::twilio::TwilioChannel;
use crate::channels::whatsapp_cloud::WhatsAppCloudChannel;
use crate::tenants::TenantStore;

/// Where the provider APIs are (configurable so tests and staging can point elsewhere).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderEndpoints {
    /// Twilio's API base, e.g. `https://api.twilio.com`.
    pub twilio_api_base: String,
    /// The Graph API base, e.g. `https://graph.facebook.com`.
    pub whatsapp_api_base: String,
    /// The Graph API version, e.g. `v21.0`.
    pub whatsapp_api_version: String,
}

/// Picks the channel adapter for a tenant and channel.
#[derive(Debug, Clone)]
pub struct ChannelRouter {
    client: reqwest::Client,
    endpoints: ProviderEndpoints,
    tenants: TenantStore,
    sandbox: Arc<SandboxChannel>,
}

impl ChannelRouter {
    /// A router over `tenants`' accounts, sending with `client`.
    pub fn new(
        client: reqwest::Client,
        endpoints: ProviderEndpoints,
        tenants: TenantStore,
        sandbox: SandboxChannel,
    ) -> Self {
        Self {
            client,
            endpoints,
            tenants,
            sandbox: Arc::new(sandbox),
        }
    }

    /// The HTTP client providers are called with (also for the tenant's own webhooks).
    #[must_use]
    pub const fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// The adapter for `tenant` on `channel`, or why there is none.
    pub async fn channel_for(
        &self,
        tenant: TenantId,
        channel: Channel,
    ) -> anyhow::Result<Result<Arc<dyn MessageChannel>, String>> {
        let credentials = self.tenants.channel_credentials(tenant).await?;
        if credentials.twilio.is_none() && credentials.whatsapp_cloud.is_none() {
            return Ok(Ok(self.sandbox.clone()));
        }
        let endpoints = &self.endpoints;
        Ok(match channel {
            Channel::Whatsapp => {
                if let Some(cloud) = credentials.whatsapp_cloud {
                    Ok(Arc::new(WhatsAppCloudChannel::new(
                        self.client.clone(),
                        endpoints.whatsapp_api_base.clone(),
                        endpoints.whatsapp_api_version.clone(),
                        cloud,
                    )))
                } else {
                    match credentials.twilio {
                        Some(twilio) if twilio.whatsapp_from.is_some() => {
                            Ok(Arc::new(TwilioChannel::new(
                                self.client.clone(),
                                endpoints.twilio_api_base.clone(),
                                twilio,
                            )) as Arc<dyn MessageChannel>)
                        }
                        _ => Err("no WhatsApp sender is configured for the tenant".to_owned()),
                    }
                }
            }
            Channel::Sms => match credentials.twilio {
                Some(twilio) if twilio.from_number.is_some() => Ok(Arc::new(TwilioChannel::new(
                    self.client.clone(),
                    endpoints.twilio_api_base.clone(),
                    twilio,
                ))
                    as Arc<dyn MessageChannel>),
                _ => Err("no SMS sender is configured for the tenant".to_owned()),
            },
        })
    }
}
