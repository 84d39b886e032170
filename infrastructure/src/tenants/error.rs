//! Why a tenant could not be created or changed, apart from bad input values (the API refuses
//! those before they get here): a provider set up with missing settings, a secret given while
//! no secrets key is configured, or the database failing.

use thiserror::Error;

/// A refused or failed creation or change of a tenant.
#[derive(Debug, Error)]
pub enum TenantChangeError {
    /// A provider that is not configured yet was given without one of its required settings.
    #[error(
        "is required: the provider is not configured yet, so every required setting must be given"
    )]
    Required {
        /// The missing setting's path, e.g. `channels.twilio.auth_token`.
        field: &'static str,
    },
    /// A Twilio account would be left without any sender.
    #[error("at least one of from_number and whatsapp_from is required")]
    NoSender {
        /// `channels.twilio.from_number`.
        field: &'static str,
    },
    /// A secret was given but this server has no key to seal it with.
    #[error("cannot be stored: no secrets key is configured")]
    NoSecretsKey {
        /// The secret's path, e.g. `channels.whatsapp_cloud.access_token`.
        field: &'static str,
    },
    /// The database or the sealing failed.
    #[error(transparent)]
    Storage(#[from] anyhow::Error),
}

impl TenantChangeError {
    /// The path of the setting at fault, for a refusal (not for a storage failure).
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::Required { field } | Self::NoSender { field } | Self::NoSecretsKey { field } => {
                Some(field)
            }
            Self::Storage(_) => None,
        }
    }
}
