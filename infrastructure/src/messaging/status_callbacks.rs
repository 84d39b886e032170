//! Providers report how far a message got by its provider id only (`MessageSid`, `wamid`). The
//! id was stored with the send; here it leads back to our message, and the report becomes a
//! `RecordDeliveryStatus`, which the aggregate applies only when it moves the message forward —
//! so callbacks arriving late, twice or out of order leave the furthest status. A report may also
//! price the message; the price goes in the same transaction as a `RecordMessagePrice`, whether
//! or not the status moved, and the aggregate keeps only the first one.

use application::CommandContext;
use domain::conversation::{Conversation, ConversationCommand, DeliveryStatus, MessagePricing};
use domain::values::MessageId;
use sqlx::PgPool;
use uuid::Uuid;

use crate::executor::{CommandError, Existence};
use crate::messaging::suppression::{exec, later, load};
use crate::messaging::{Messaging, MessagingError};

/// A provider's report about one of our messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The provider (`twilio`, `whatsapp_cloud`).
    pub provider: String,
    /// The provider's message id.
    pub provider_message_id: String,
    /// How far it got.
    pub status: DeliveryStatus,
    /// The provider's error code, if any.
    pub error_code: Option<String>,
}

/// Records `report` on its message and, in the same transaction, the `pricing` it carried (the
/// first pricing of a message only); `Ok(None)` when the message is unknown to this tenant (a
/// report about a message sent elsewhere, or before its send was recorded) or the report is
/// about an earlier send of a retried message.
pub async fn record(
    messaging: &Messaging,
    ctx: &CommandContext,
    report: StatusReport,
    pricing: Option<MessagePricing>,
) -> Result<Option<i64>, CommandError<MessagingError>> {
    let Some((conversation_id, message_id)) = find(messaging.executor.pool(), ctx, &report).await?
    else {
        return Ok(None);
    };
    messaging
        .executor
        .in_transaction(|conn| {
            let report = report.clone();
            let pricing = pricing.clone();
            let conversation_id = conversation_id.clone();
            let ctx = ctx.clone();
            Box::pin(async move {
                let ctx = &ctx;
                let conversation: Conversation = load(conn, ctx, &conversation_id).await?;
                let current = conversation
                    .outbound(message_id)
                    .and_then(|m| m.provider_message_id.as_deref());
                if current != Some(report.provider_message_id.as_str()) {
                    return Ok(None);
                }
                let (_, status_position) = exec::<Conversation>(
                    conn,
                    ctx,
                    &conversation_id,
                    Existence::MustExist,
                    ConversationCommand::RecordDeliveryStatus {
                        message_id,
                        status: report.status,
                        at: ctx.issued_at,
                        error_code: report.error_code,
                    },
                )
                .await?;
                let Some(pricing) = pricing else {
                    return Ok(status_position);
                };
                let (_, price_position) = exec::<Conversation>(
                    conn,
                    ctx,
                    &conversation_id,
                    Existence::MustExist,
                    ConversationCommand::RecordMessagePrice {
                        message_id,
                        provider: report.provider,
                        pricing,
                        at: ctx.issued_at,
                    },
                )
                .await?;
                Ok(later(status_position, price_position))
            })
        })
        .await
}

async fn find(
    pool: &PgPool,
    ctx: &CommandContext,
    report: &StatusReport,
) -> Result<Option<(String, MessageId)>, CommandError<MessagingError>> {
    let row: Option<(String, Uuid)> = sqlx::query_as(
        "SELECT conversation_id, message_id FROM provider_messages \
         WHERE provider = $1 AND provider_message_id = $2 AND tenant_id = $3",
    )
    .bind(&report.provider)
    .bind(&report.provider_message_id)
    .bind(ctx.tenant_id.as_uuid())
    .fetch_optional(pool)
    .await
    .map_err(|error| CommandError::Database(error.into()))?;
    Ok(row.map(|(conversation, message)| (conversation, MessageId::from_uuid(message))))
}
