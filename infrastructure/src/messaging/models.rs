//! Which conversation model answers a tenant's leads: the tenant's OpenAI-compatible endpoint
//! when it configured one — with the workflow's model when the workflow names one — else the
//! built-in rules engine.

use std::sync::Arc;

use application::ConversationModel;
use domain::values::TenantId;

use crate::ai::openai::OpenAiCompatibleModel;
use crate::ai::prices::PriceTable;
use crate::ai::rules::RulesEngine;
use crate::tenants::TenantStore;

/// Picks the model for a tenant.
#[derive(Debug, Clone)]
pub struct ModelRouter {
    client: reqwest::Client,
    tenants: TenantStore,
    prices: Arc<PriceTable>,
    rules: Arc<RulesEngine>,
}

impl ModelRouter {
    /// A router over `tenants`' AI settings, calling models with `client` and pricing with
    /// `prices`.
    pub fn new(client: reqwest::Client, tenants: TenantStore, prices: Arc<PriceTable>) -> Self {
        Self {
            client,
            tenants,
            prices,
            rules: Arc::new(RulesEngine::new()),
        }
    }

    /// The model answering `tenant`'s leads in a workflow that asks for `workflow_model` (if
    /// any).
    pub async fn model_for(
        &self,
        tenant: TenantId,
        workflow_model: Option<&str>,
    ) -> anyhow::Result<Arc<dyn ConversationModel>> {
        Ok(match self.tenants.ai_settings(tenant).await? {
            Some(ai) => Arc::new(OpenAiCompatibleModel::new(
                self.client.clone(),
                ai.base_url,
                ai.api_key,
                workflow_model.map_or(ai.model, str::to_owned),
                self.prices.clone(),
            )),
            None => self.rules.clone(),
        })
    }
}
