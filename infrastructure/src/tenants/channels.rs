//! A tenant's provider accounts (Twilio, WhatsApp Cloud API): what a change to them looks like,
//! how a change merges into what is stored, the view without secrets, and the decrypted
//! credentials the adapters use.
//!
//! Stored per provider as one `jsonb` column of non-secret settings and one `bytea` column per
//! secret, each sealed on its own (see `migrations/0006_tenant_channels.sql`). A change touches
//! only the columns of the settings it gives, so changing a sender number needs no key.

use domain::values::PhoneNumber;
use serde::{Deserialize, Serialize};

use super::sealing::Sealer;
use super::TenantChangeError;
use crate::channels::{ChannelCredentials, TwilioCredentials, WhatsAppCloudCredentials};
use crate::secrets::Secret;

const TWILIO_ACCOUNT_SID: &str = "channels.twilio.account_sid";
const TWILIO_AUTH_TOKEN: &str = "channels.twilio.auth_token";
const TWILIO_FROM_NUMBER: &str = "channels.twilio.from_number";
const WHATSAPP_PHONE_NUMBER_ID: &str = "channels.whatsapp_cloud.phone_number_id";
const WHATSAPP_ACCESS_TOKEN: &str = "channels.whatsapp_cloud.access_token";
const WHATSAPP_APP_SECRET: &str = "channels.whatsapp_cloud.app_secret";
const WHATSAPP_VERIFY_TOKEN: &str = "channels.whatsapp_cloud.verify_token";

/// A change to a tenant's provider accounts. For each provider: `None` leaves it as it is,
/// `Some(None)` removes it, `Some(Some(patch))` merges `patch` into it (or sets it up).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ChannelsPatch {
    /// Twilio.
    pub twilio: Option<Option<TwilioPatch>>,
    /// WhatsApp Cloud API.
    pub whatsapp_cloud: Option<Option<WhatsAppCloudPatch>>,
}

/// A change to a Twilio account: settings left `None` keep their value. Setting one up needs
/// `account_sid`, `auth_token` and at least one sender.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TwilioPatch {
    /// `AC` + 32 hex digits.
    pub account_sid: Option<String>,
    /// The auth token.
    pub auth_token: Option<Secret>,
    /// The SMS sender; `Some(None)` removes it.
    pub from_number: Option<Option<PhoneNumber>>,
    /// The WhatsApp sender; `Some(None)` removes it.
    pub whatsapp_from: Option<Option<PhoneNumber>>,
}

/// A change to a WhatsApp Cloud API number: settings left `None` keep their value. Setting one
/// up needs all four.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WhatsAppCloudPatch {
    /// The business phone number's id in the Graph API.
    pub phone_number_id: Option<String>,
    /// The system-user access token.
    pub access_token: Option<Secret>,
    /// The Meta app secret.
    pub app_secret: Option<Secret>,
    /// The webhook verification token.
    pub verify_token: Option<Secret>,
}

/// A tenant's provider accounts as anyone may see them: ids and senders, never a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChannelsView {
    /// Twilio, if configured.
    pub twilio: Option<TwilioView>,
    /// WhatsApp Cloud API, if configured.
    pub whatsapp_cloud: Option<WhatsAppCloudView>,
}

/// A Twilio account without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TwilioView {
    /// The account SID.
    pub account_sid: String,
    /// The SMS sender.
    pub from_number: Option<PhoneNumber>,
    /// The WhatsApp sender.
    pub whatsapp_from: Option<PhoneNumber>,
    /// Whether an auth token is stored.
    pub auth_token_set: bool,
}

/// A WhatsApp Cloud API number without its secrets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatsAppCloudView {
    /// The business phone number's id.
    pub phone_number_id: String,
    /// Whether an access token is stored.
    pub access_token_set: bool,
    /// Whether an app secret is stored.
    pub app_secret_set: bool,
    /// Whether a verify token is stored.
    pub verify_token_set: bool,
}

/// The non-secret settings of a Twilio account (the `twilio` column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct TwilioPlain {
    pub(super) account_sid: String,
    pub(super) from_number: Option<PhoneNumber>,
    pub(super) whatsapp_from: Option<PhoneNumber>,
}

/// A stored Twilio account, its token sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoredTwilio {
    pub(super) plain: TwilioPlain,
    pub(super) auth_token: Vec<u8>,
}

/// The non-secret settings of a WhatsApp Cloud API number (the `whatsapp_cloud` column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct WhatsAppPlain {
    pub(super) phone_number_id: String,
}

/// A stored WhatsApp Cloud API number, its secrets sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoredWhatsApp {
    pub(super) plain: WhatsAppPlain,
    pub(super) access_token: Vec<u8>,
    pub(super) app_secret: Vec<u8>,
    pub(super) verify_token: Vec<u8>,
}

/// A tenant's stored provider accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct StoredChannels {
    pub(super) twilio: Option<StoredTwilio>,
    pub(super) whatsapp_cloud: Option<StoredWhatsApp>,
}

impl StoredChannels {
    /// What may be shown.
    pub(super) fn view(&self) -> ChannelsView {
        ChannelsView {
            twilio: self.twilio.as_ref().map(|t| TwilioView {
                account_sid: t.plain.account_sid.clone(),
                from_number: t.plain.from_number.clone(),
                whatsapp_from: t.plain.whatsapp_from.clone(),
                auth_token_set: !t.auth_token.is_empty(),
            }),
            whatsapp_cloud: self.whatsapp_cloud.as_ref().map(|w| WhatsAppCloudView {
                phone_number_id: w.plain.phone_number_id.clone(),
                access_token_set: !w.access_token.is_empty(),
                app_secret_set: !w.app_secret.is_empty(),
                verify_token_set: !w.verify_token.is_empty(),
            }),
        }
    }

    /// The accounts after `patch`, secrets it gives sealed with `sealer`.
    pub(super) fn apply(
        self,
        patch: ChannelsPatch,
        sealer: &Sealer<'_>,
    ) -> Result<Self, TenantChangeError> {
        let twilio = match patch.twilio {
            None => self.twilio,
            Some(None) => None,
            Some(Some(change)) => Some(merge_twilio(self.twilio, change, sealer)?),
        };
        let whatsapp_cloud = match patch.whatsapp_cloud {
            None => self.whatsapp_cloud,
            Some(None) => None,
            Some(Some(change)) => Some(merge_whatsapp(self.whatsapp_cloud, change, sealer)?),
        };
        Ok(Self {
            twilio,
            whatsapp_cloud,
        })
    }

    /// The accounts with their secrets opened.
    pub(super) fn open(&self, sealer: &Sealer<'_>) -> anyhow::Result<ChannelCredentials> {
        let twilio = self
            .twilio
            .as_ref()
            .map(|t| -> anyhow::Result<_> {
                Ok(TwilioCredentials {
                    account_sid: t.plain.account_sid.clone(),
                    auth_token: sealer.open(TWILIO_AUTH_TOKEN, &t.auth_token)?,
                    from_number: t.plain.from_number.as_ref().map(|n| n.as_str().to_owned()),
                    whatsapp_from: t
                        .plain
                        .whatsapp_from
                        .as_ref()
                        .map(|n| n.as_str().to_owned()),
                })
            })
            .transpose()?;
        let whatsapp_cloud = self
            .whatsapp_cloud
            .as_ref()
            .map(|w| -> anyhow::Result<_> {
                Ok(WhatsAppCloudCredentials {
                    phone_number_id: w.plain.phone_number_id.clone(),
                    access_token: sealer.open(WHATSAPP_ACCESS_TOKEN, &w.access_token)?,
                    app_secret: sealer.open(WHATSAPP_APP_SECRET, &w.app_secret)?,
                    verify_token: sealer.open(WHATSAPP_VERIFY_TOKEN, &w.verify_token)?,
                })
            })
            .transpose()?;
        Ok(ChannelCredentials {
            twilio,
            whatsapp_cloud,
        })
    }
}

fn merge_twilio(
    current: Option<StoredTwilio>,
    change: TwilioPatch,
    sealer: &Sealer<'_>,
) -> Result<StoredTwilio, TenantChangeError> {
    let (plain, token) = match current {
        Some(stored) => (Some(stored.plain), Some(stored.auth_token)),
        None => (None, None),
    };
    let account_sid = change
        .account_sid
        .or_else(|| plain.as_ref().map(|p| p.account_sid.clone()))
        .ok_or(TenantChangeError::Required {
            field: TWILIO_ACCOUNT_SID,
        })?;
    let auth_token = match change.auth_token {
        Some(secret) => sealer.seal(TWILIO_AUTH_TOKEN, &secret)?,
        None => token.ok_or(TenantChangeError::Required {
            field: TWILIO_AUTH_TOKEN,
        })?,
    };
    let from_number = change
        .from_number
        .unwrap_or_else(|| plain.as_ref().and_then(|p| p.from_number.clone()));
    let whatsapp_from = change
        .whatsapp_from
        .unwrap_or_else(|| plain.as_ref().and_then(|p| p.whatsapp_from.clone()));
    if from_number.is_none() && whatsapp_from.is_none() {
        return Err(TenantChangeError::NoSender {
            field: TWILIO_FROM_NUMBER,
        });
    }
    Ok(StoredTwilio {
        plain: TwilioPlain {
            account_sid,
            from_number,
            whatsapp_from,
        },
        auth_token,
    })
}

fn merge_whatsapp(
    current: Option<StoredWhatsApp>,
    change: WhatsAppCloudPatch,
    sealer: &Sealer<'_>,
) -> Result<StoredWhatsApp, TenantChangeError> {
    let (phone_number_id, access_token, app_secret, verify_token) = match current {
        Some(s) => (
            Some(s.plain.phone_number_id),
            Some(s.access_token),
            Some(s.app_secret),
            Some(s.verify_token),
        ),
        None => (None, None, None, None),
    };
    let secret = |field: &'static str, given: Option<Secret>, stored: Option<Vec<u8>>| match given {
        Some(secret) => sealer.seal(field, &secret),
        None => stored.ok_or(TenantChangeError::Required { field }),
    };
    Ok(StoredWhatsApp {
        plain: WhatsAppPlain {
            phone_number_id: change.phone_number_id.or(phone_number_id).ok_or(
                TenantChangeError::Required {
                    field: WHATSAPP_PHONE_NUMBER_ID,
                },
            )?,
        },
        access_token: secret(WHATSAPP_ACCESS_TOKEN, change.access_token, access_token)?,
        app_secret: secret(WHATSAPP_APP_SECRET, change.app_secret, app_secret)?,
        verify_token: secret(WHATSAPP_VERIFY_TOKEN, change.verify_token, verify_token)?,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use domain::values::TenantId;

    use super::*;
    use crate::secrets::SecretBox;

    fn phone(e164: &str) -> PhoneNumber {
        PhoneNumber::parse_e164(e164).unwrap()
    }

    fn twilio_patch() -> TwilioPatch {
        TwilioPatch {
            account_sid: Some(format!("AC{}", "a".repeat(32))),
            auth_token: Some(Secret::new("tok-1")),
            from_number: Some(Some(phone("+447700900123"))),
            whatsapp_from: None,
        }
    }

    fn set_twilio(patch: TwilioPatch) -> ChannelsPatch {
        ChannelsPatch {
            twilio: Some(Some(patch)),
            whatsapp_cloud: None,
        }
    }

    #[test]
    fn a_new_twilio_account_needs_a_sid_a_token_and_a_sender() {
        let key = SecretBox::new([7; 32]);
        let sealer = Sealer::new(Some(&key), TenantId::new());
        for (patch, field) in [
            (
                TwilioPatch {
                    account_sid: None,
                    ..twilio_patch()
                },
                TWILIO_ACCOUNT_SID,
            ),
            (
                TwilioPatch {
                    auth_token: None,
                    ..twilio_patch()
                },
                TWILIO_AUTH_TOKEN,
            ),
            (
                TwilioPatch {
                    from_number: Some(None),
                    ..twilio_patch()
                },
                TWILIO_FROM_NUMBER,
            ),
        ] {
            let refused = StoredChannels::default()
                .apply(set_twilio(patch), &sealer)
                .unwrap_err();
            assert_eq!(refused.field(), Some(field));
        }
    }

    #[test]
    fn a_change_merges_setting_by_setting_and_null_removes_the_provider() {
        let key = SecretBox::new([7; 32]);
        let sealer = Sealer::new(Some(&key), TenantId::new());
        let stored = StoredChannels::default()
            .apply(set_twilio(twilio_patch()), &sealer)
            .unwrap();
        let token = stored.twilio.as_ref().unwrap().auth_token.clone();
        let changed = stored
            .apply(
                set_twilio(TwilioPatch {
                    whatsapp_from: Some(Some(phone("+14155238886"))),
                    from_number: Some(None),
                    ..TwilioPatch::default()
                }),
                &sealer,
            )
            .unwrap();
        let twilio = changed.twilio.as_ref().unwrap();
        assert_eq!(twilio.auth_token, token, "the token is not resealed");
        let opened = changed.open(&sealer).unwrap().twilio.unwrap();
        assert_eq!(opened.auth_token, "tok-1");
        assert_eq!(opened.account_sid, format!("AC{}", "a".repeat(32)));
        assert_eq!(opened.from_number, None);
        assert_eq!(opened.whatsapp_from.as_deref(), Some("+14155238886"));
        let removed = changed
            .apply(
                ChannelsPatch {
                    twilio: Some(None),
                    whatsapp_cloud: None,
                },
                &sealer,
            )
            .unwrap();
        assert_eq!(removed, StoredChannels::default());
    }

    #[test]
    fn whatsapp_needs_all_four_settings_first_and_then_takes_any_one() {
        let key = SecretBox::new([7; 32]);
        let sealer = Sealer::new(Some(&key), TenantId::new());
        let full = WhatsAppCloudPatch {
            phone_number_id: Some("106540352242922".into()),
            access_token: Some(Secret::new("EAAG")),
            app_secret: Some(Secret::new("app")),
            verify_token: Some(Secret::new("verify")),
        };
        let only_token = WhatsAppCloudPatch {
            access_token: Some(Secret::new("EAAH")),
            ..WhatsAppCloudPatch::default()
        };
        let patch = |p: WhatsAppCloudPatch| ChannelsPatch {
            twilio: None,
            whatsapp_cloud: Some(Some(p)),
        };
        let refused = StoredChannels::default()
            .apply(patch(only_token.clone()), &sealer)
            .unwrap_err();
        assert_eq!(refused.field(), Some(WHATSAPP_PHONE_NUMBER_ID));
        let stored = StoredChannels::default()
            .apply(patch(full), &sealer)
            .unwrap()
            .apply(patch(only_token), &sealer)
            .unwrap();
        let view = stored.view().whatsapp_cloud.unwrap();
        assert!(view.access_token_set && view.app_secret_set && view.verify_token_set);
        let opened = stored.open(&sealer).unwrap().whatsapp_cloud.unwrap();
        assert_eq!(opened.access_token, "EAAH");
        assert_eq!(opened.app_secret, "app");
        assert_eq!(opened.verify_token, "verify");
    }
}
