//! A tenant's conversation model: an OpenAI-compatible endpoint, model and optional API key.
//! A tenant without one is answered by the built-in rules engine.
//!
//! Stored as the `ai` `jsonb` column (`base_url`, `model`) and the sealed `ai_api_key` column.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::sealing::Sealer;
use super::TenantChangeError;
use crate::secrets::Secret;

/// The endpoint used when a tenant sets up a model without naming one.
pub const DEFAULT_AI_BASE_URL: &str = "https://api.openai.com/v1";
/// The model used when a tenant sets up a model without naming one.
pub const DEFAULT_AI_MODEL: &str = "gpt-4o-mini";

const AI_API_KEY: &str = "ai.api_key";

/// A change to a tenant's model: settings left `None` keep their value (or take the default
/// when the model is set up).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AiPatch {
    /// The OpenAI-compatible base URL (requests go to `{base_url}/chat/completions`).
    pub base_url: Option<String>,
    /// The model name.
    pub model: Option<String>,
    /// The API key; `Some(None)` removes it (for endpoints that need none).
    pub api_key: Option<Option<Secret>>,
}

/// A tenant's model as anyone may see it: never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AiView {
    /// The OpenAI-compatible base URL.
    pub base_url: String,
    /// The model name.
    pub model: String,
    /// Whether an API key is stored.
    pub api_key_set: bool,
}

/// A tenant's model with its key opened, for the model adapter. `Debug` hides the key.
#[derive(Clone, PartialEq, Eq)]
pub struct AiSettings {
    /// The OpenAI-compatible base URL.
    pub base_url: String,
    /// The model name.
    pub model: String,
    /// The API key (sent as `Authorization: Bearer …`), if the endpoint needs one. Secret.
    pub api_key: Option<String>,
}

impl fmt::Debug for AiSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AiSettings")
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("api_key", &self.api_key.as_ref().map(|_| "<secret>"))
            .finish()
    }
}

/// The non-secret settings of a model (the `ai` column).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct AiPlain {
    pub(super) base_url: String,
    pub(super) model: String,
}

/// A stored model, its key sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoredAi {
    pub(super) plain: AiPlain,
    pub(super) api_key: Option<Vec<u8>>,
}

impl StoredAi {
    /// What may be shown.
    pub(super) fn view(&self) -> AiView {
        AiView {
            base_url: self.plain.base_url.clone(),
            model: self.plain.model.clone(),
            api_key_set: self.api_key.is_some(),
        }
    }

    /// The model with its key opened.
    pub(super) fn open(&self, sealer: &Sealer<'_>) -> anyhow::Result<AiSettings> {
        Ok(AiSettings {
            base_url: self.plain.base_url.clone(),
            model: self.plain.model.clone(),
            api_key: self
                .api_key
                .as_deref()
                .map(|sealed| sealer.open(AI_API_KEY, sealed))
                .transpose()?,
        })
    }
}

/// The model after `patch`: `None` keeps `current`, `Some(None)` removes it, `Some(Some(p))`
/// merges `p` into it (or sets it up with the defaults for what `p` leaves out).
pub(super) fn apply(
    current: Option<StoredAi>,
    patch: Option<Option<AiPatch>>,
    sealer: &Sealer<'_>,
) -> Result<Option<StoredAi>, TenantChangeError> {
    let change = match patch {
        None => return Ok(current),
        Some(None) => return Ok(None),
        Some(Some(change)) => change,
    };
    let (plain, key) = match current {
        Some(stored) => (Some(stored.plain), stored.api_key),
        None => (None, None),
    };
    let api_key = match change.api_key {
        None => key,
        Some(None) => None,
        Some(Some(secret)) => Some(sealer.seal(AI_API_KEY, &secret)?),
    };
    Ok(Some(StoredAi {
        plain: AiPlain {
            base_url: change
                .base_url
                .or_else(|| plain.as_ref().map(|p| p.base_url.clone()))
                .unwrap_or_else(|| DEFAULT_AI_BASE_URL.to_owned()),
            model: change
                .model
                .or_else(|| plain.as_ref().map(|p| p.model.clone()))
                .unwrap_or_else(|| DEFAULT_AI_MODEL.to_owned()),
        },
        api_key,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use domain::values::TenantId;

    use super::*;
    use crate::secrets::SecretBox;

    #[test]
    fn a_model_set_up_empty_takes_the_defaults_and_then_merges() {
        let key = SecretBox::new([7; 32]);
        let sealer = Sealer::new(Some(&key), TenantId::new());
        let stored = apply(None, Some(Some(AiPatch::default())), &sealer)
            .unwrap()
            .unwrap();
        assert_eq!(
            stored.view(),
            AiView {
                base_url: DEFAULT_AI_BASE_URL.into(),
                model: DEFAULT_AI_MODEL.into(),
                api_key_set: false,
            }
        );
        let with_key = AiPatch {
            model: Some("llama3".into()),
            api_key: Some(Some(Secret::new("sk-1"))),
            ..AiPatch::default()
        };
        let stored = apply(Some(stored), Some(Some(with_key)), &sealer)
            .unwrap()
            .unwrap();
        let opened = stored.open(&sealer).unwrap();
        assert_eq!(opened.model, "llama3");
        assert_eq!(opened.base_url, DEFAULT_AI_BASE_URL);
        assert_eq!(opened.api_key.as_deref(), Some("sk-1"));
        assert!(!format!("{opened:?}").contains("sk-1"));
        let keyless = AiPatch {
            api_key: Some(None),
            ..AiPatch::default()
        };
        let stored = apply(Some(stored), Some(Some(keyless)), &sealer)
            .unwrap()
            .unwrap();
        assert_eq!(stored.api_key, None);
        assert_eq!(stored.plain.model, "llama3");
        assert_eq!(apply(Some(stored), Some(None), &sealer).unwrap(), None);
    }
}
