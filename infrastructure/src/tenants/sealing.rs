//! Sealing one tenant's secrets. Each secret is bound (AES-GCM associated data) to its tenant's
//! id and to its setting's path, so a sealed value copied to another tenant or another column
//! does not open.

use anyhow::Context;
use domain::values::TenantId;

use super::TenantChangeError;
use crate::secrets::{Secret, SecretBox};

/// Seals and opens the secrets of one tenant with the server's key, if it has one.
#[derive(Debug, Clone, Copy)]
pub(super) struct Sealer<'a> {
    secrets: Option<&'a SecretBox>,
    tenant: TenantId,
}

impl<'a> Sealer<'a> {
    /// A sealer for `tenant`'s secrets.
    pub(super) fn new(secrets: Option<&'a SecretBox>, tenant: TenantId) -> Self {
        Self { secrets, tenant }
    }

    /// Seals the secret of setting `field` (e.g. `channels.twilio.auth_token`).
    pub(super) fn seal(
        &self,
        field: &'static str,
        secret: &Secret,
    ) -> Result<Vec<u8>, TenantChangeError> {
        let secrets = self
            .secrets
            .ok_or(TenantChangeError::NoSecretsKey { field })?;
        secrets
            .seal(secret.expose().as_bytes(), &self.aad(field))
            .with_context(|| format!("Failed to seal {field}"))
            .map_err(TenantChangeError::Storage)
    }

    /// Opens the sealed secret of setting `field`.
    pub(super) fn open(&self, field: &'static str, sealed: &[u8]) -> anyhow::Result<String> {
        let secrets = self.secrets.with_context(|| {
            format!(
                "Tenant {} has a sealed {field} but no secrets key is configured",
                self.tenant
            )
        })?;
        let plaintext = secrets
            .open(sealed, &self.aad(field))
            .with_context(|| format!("Failed to open tenant {}'s {field}", self.tenant))?;
        String::from_utf8(plaintext).with_context(|| format!("Sealed {field} is not UTF-8"))
    }

    /// The tenant's id (16 bytes) followed by the setting's path.
    fn aad(&self, field: &str) -> Vec<u8> {
        let mut aad = self.tenant.as_uuid().as_bytes().to_vec();
        aad.extend_from_slice(field.as_bytes());
        aad
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn a_secret_opens_only_for_its_tenant_and_setting() {
        let key = SecretBox::new([7; 32]);
        let tenant = TenantId::new();
        let sealer = Sealer::new(Some(&key), tenant);
        let sealed = sealer
            .seal("channels.twilio.auth_token", &Secret::new("tok"))
            .unwrap();
        assert_eq!(
            sealer.open("channels.twilio.auth_token", &sealed).unwrap(),
            "tok"
        );
        assert!(sealer.open("ai.api_key", &sealed).is_err());
        let other = Sealer::new(Some(&key), TenantId::new());
        assert!(other.open("channels.twilio.auth_token", &sealed).is_err());
    }

    #[test]
    fn without_a_key_sealing_is_refused_with_the_field() {
        let sealer = Sealer::new(None, TenantId::new());
        let refused = sealer.seal("ai.api_key", &Secret::new("k")).unwrap_err();
        assert_eq!(refused.field(), Some("ai.api_key"));
        assert!(matches!(refused, TenantChangeError::NoSecretsKey { .. }));
        assert!(sealer.open("ai.api_key", b"anything").is_err());
    }
}
