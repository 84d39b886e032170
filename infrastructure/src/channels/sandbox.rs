//! The sandbox channel: the default when a tenant has no provider account. It "sends" by
//! recording the message in `sandbox_messages` (the lead's phone screen in the demo), keyed by our
//! message id, so sending the same message twice records it once — an idempotent provider. It
//! reports every message delivered.

use anyhow::Context;
use application::{MessageChannel, OutboundRequest, SendError, SendReceipt};
use async_trait::async_trait;
use sqlx::PgPool;

/// The sandbox channel.
#[derive(Debug, Clone)]
pub struct SandboxChannel {
    pool: PgPool,
    clock: std::sync::Arc<dyn application::Clock>,
}

impl SandboxChannel {
    /// A sandbox writing into `pool`, stamping messages with `clock`.
    pub fn new(pool: PgPool, clock: std::sync::Arc<dyn application::Clock>) -> Self {
        Self { pool, clock }
    }
}

#[async_trait]
impl MessageChannel for SandboxChannel {
    fn provider(&self) -> &'static str {
        "sandbox"
    }

    async fn send(&self, request: &OutboundRequest) -> Result<SendReceipt, SendError> {
        let content =
            serde_json::to_value(&request.content).map_err(|error| SendError::Permanent {
                kind: application::PermanentFailure::Refused,
                code: None,
                message: error.to_string(),
            })?;
        sqlx::query(
            "INSERT INTO sandbox_messages (message_id, tenant_id, channel, to_phone, content, sent_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (message_id) DO NOTHING",
        )
        .bind(request.message_id.as_uuid())
        .bind(request.tenant_id.as_uuid())
        .bind(request.channel.as_str())
        .bind(request.to.as_str())
        .bind(content)
        .bind(self.clock.now())
        .execute(&self.pool)
        .await
        .context("Failed to record a sandbox message")
        .map_err(|error| SendError::Transient {
            code: None,
            message: format!("{error:#}"),
            retry_after: None,
        })?;
        Ok(SendReceipt {
            provider: "sandbox",
            provider_message_id: format!("sandbox-{}", request.message_id),
            delivered: true,
        })
    }
}
