//! A handoff tells the tenant's admin contact that a person must take over: a text to the
//! tenant's `admin_phone` (through the tenant's SMS channel) and a JSON POST to its `webhook_url`,
//! whichever are set. One attempt each; where the notice went and where it could not go are
//! recorded on the conversation (`HandoffNotified`), which ends the task.

use application::{CommandContext, OutboundRequest};
use domain::conversation::{Conversation, ConversationCommand, ConversationId, MessageContent};
use domain::values::{MessageId, TenantId};
use domain::{Channel, Lead};
use serde_json::json;

use crate::executor::{CommandError, Existence};
use crate::messaging::suppression::{exec, load, StepResult};
use crate::messaging::task_queue::ClaimedTask;
use crate::messaging::Messaging;
use crate::tenants::Tenant;

/// What became of a notify task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// No handoff awaits a notice (already told, or the AI was resumed).
    NothingToDo,
    /// Told (where it went, where it failed).
    Notified {
        /// Where the notice went.
        notified: Vec<String>,
        /// Where it could not go.
        failed: Vec<String>,
    },
}

/// Tells the tenant about the handoff of a `notify` task's conversation.
pub async fn run(messaging: &Messaging, task: &ClaimedTask) -> anyhow::Result<NotifyOutcome> {
    let ctx = messaging.system_ctx(TenantId::from_uuid(task.tenant_id), "notifications");
    let conversation_id: ConversationId = task
        .conversation_id
        .parse()
        .map_err(|error| anyhow::anyhow!("task {}: {error}", task.task_key))?;
    notify(messaging, &ctx, conversation_id)
        .await
        .map_err(|error| anyhow::anyhow!("notify about {conversation_id}: {error:#}"))
}

async fn notify(
    messaging: &Messaging,
    ctx: &CommandContext,
    conversation_id: ConversationId,
) -> StepResult<NotifyOutcome> {
    let mut conn = messaging
        .executor
        .pool()
        .acquire()
        .await
        .map_err(|error| CommandError::Database(error.into()))?;
    let conversation: Conversation = load(&mut conn, ctx, &conversation_id.to_string()).await?;
    if !conversation.handoff_notice_due() {
        return Ok(NotifyOutcome::NothingToDo);
    }
    let lead: Lead = load(&mut conn, ctx, &conversation_id.lead_id().to_string()).await?;
    drop(conn);
    let tenant = messaging
        .tenants
        .get(ctx.tenant_id)
        .await
        .map_err(CommandError::Database)?
        .ok_or(CommandError::NotFound)?;
    let reason = conversation
        .handoff_reason()
        .unwrap_or("operator")
        .to_owned();
    let mut notified = Vec::new();
    let mut failed = Vec::new();
    if let Some(phone) = &tenant.admin_phone {
        let text = notice_text(&tenant, &lead, conversation_id, &reason);
        match text_admin(messaging, ctx, phone, &text).await {
            Ok(()) => notified.push(format!("sms:{}", phone.as_str())),
            Err(why) => failed.push(format!("sms:{}: {why}", phone.as_str())),
        }
    }
    if let Some(url) = &tenant.webhook_url {
        match post_webhook(messaging, ctx, url, conversation_id, &reason).await {
            Ok(()) => notified.push("webhook".to_owned()),
            Err(why) => failed.push(format!("webhook: {why}")),
        }
    }
    let id = conversation_id.to_string();
    let (sent, broke) = (notified.clone(), failed.clone());
    messaging
        .executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            let id = id.clone();
            let command = ConversationCommand::RecordHandoffNotified {
                notified: sent.clone(),
                failed: broke.clone(),
                at: ctx.issued_at,
            };
            Box::pin(async move {
                exec::<Conversation>(conn, &ctx, &id, Existence::MustExist, command).await?;
                Ok(())
            })
        })
        .await?;
    Ok(NotifyOutcome::Notified { notified, failed })
}

fn notice_text(tenant: &Tenant, lead: &Lead, conversation: ConversationId, reason: &str) -> String {
    let name = format!("{} {}", lead.first_name(), lead.last_name());
    let name = name.trim();
    let who = lead.phone().map_or_else(
        || name.to_owned(),
        |phone| {
            if name.is_empty() {
                phone.as_str().to_owned()
            } else {
                format!("{name} ({})", phone.as_str())
            }
        },
    );
    format!(
        "{}: {who} needs a person on {} ({reason}). Lead {}; resume the AI when done.",
        tenant.brand_name,
        conversation.channel(),
        conversation.lead_id()
    )
}

async fn text_admin(
    messaging: &Messaging,
    ctx: &CommandContext,
    phone: &domain::values::PhoneNumber,
    text: &str,
) -> Result<(), String> {
    let adapter = messaging
        .channels
        .channel_for(ctx.tenant_id, Channel::Sms)
        .await
        .map_err(|error| format!("{error:#}"))??;
    let content = MessageContent::text(text).map_err(|error| error.to_string())?;
    adapter
        .send(&OutboundRequest {
            tenant_id: ctx.tenant_id,
            message_id: MessageId::new(),
            channel: Channel::Sms,
            to: phone.clone(),
            content,
            status_callback: None,
        })
        .await
        .map(|_| ())
        .map_err(|error| error.to_string())
}

async fn post_webhook(
    messaging: &Messaging,
    ctx: &CommandContext,
    url: &str,
    conversation: ConversationId,
    reason: &str,
) -> Result<(), String> {
    let body = json!({
        "type": "conversation.handed_off",
        "tenant_id": ctx.tenant_id,
        "lead_id": conversation.lead_id(),
        "channel": conversation.channel().as_str(),
        "reason": reason,
        "at": ctx.issued_at,
    });
    let delivery = format!(
        "conversation.handed_off:{conversation}:{}",
        ctx.issued_at.timestamp_micros()
    );
    crate::webhook::post(
        messaging.channels.client(),
        url,
        "conversation.handed_off",
        &delivery,
        &body,
    )
    .await
}
