//! What an operator (or the API) asks of a lead's conversation: send a message now, send the
//! workflow's outreach, hand the conversation to a human and give it back to the AI, send a failed
//! message again. Each is one transaction over the lead and its conversation.

use application::CommandContext;
use domain::conversation::{
    Conversation, ConversationCommand, ConversationId, DeliveryStatus, MessageContent,
    MessageOrigin,
};
use domain::values::{LeadId, MessageId, MessageTemplate};
use domain::{Channel, Lead, LeadStatus, Workflow};
use sqlx::PgConnection;

use crate::executor::{CommandError, Existence};
use crate::messaging::suppression::{exec, later, load, lock_engagement, StepResult};
use crate::messaging::{Messaging, MessagingError};

/// A queued message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Queued {
    /// Its id.
    pub message_id: MessageId,
    /// The channel it goes out on.
    pub channel: Channel,
    /// Position of the last event written.
    pub position: Option<i64>,
}

/// Queues a message written by an operator. `channel` defaults to the lead's workflow channel,
/// else SMS.
pub async fn send_manual(
    messaging: &Messaging,
    ctx: &CommandContext,
    lead_id: LeadId,
    channel: Option<Channel>,
    content: MessageContent,
) -> Result<Queued, CommandError<MessagingError>> {
    messaging
        .executor
        .in_transaction(|conn| {
            let content = content.clone();
            let ctx = ctx.clone();
            Box::pin(async move {
                let ctx = &ctx;
                let lead = sendable_lead(conn, ctx, lead_id).await?;
                let channel = match channel {
                    Some(channel) => channel,
                    None => workflow_channel(conn, ctx, &lead)
                        .await?
                        .unwrap_or(Channel::Sms),
                };
                queue_in(
                    conn,
                    ctx,
                    lead_id,
                    channel,
                    content,
                    MessageOrigin::Operator,
                )
                .await
            })
        })
        .await
}

/// Queues the workflow's initial message, merge fields filled, on the workflow's channel —
/// refused when the lead's outreach is already queued or sent (a failed one may be sent again).
pub async fn send_outreach(
    messaging: &Messaging,
    ctx: &CommandContext,
    lead_id: LeadId,
    brand_name: &str,
) -> Result<Queued, CommandError<MessagingError>> {
    messaging
        .executor
        .in_transaction(|conn| {
            let brand_name = brand_name.to_owned();
            let ctx = ctx.clone();
            Box::pin(async move {
                let ctx = &ctx;
                lock_engagement(conn, lead_id).await?;
                let lead = sendable_lead(conn, ctx, lead_id).await?;
                let Some(workflow_id) = lead.workflow_id() else {
                    return Err(CommandError::Rejected(MessagingError::NoWorkflow(
                        "the lead has no workflow".to_owned(),
                    )));
                };
                let workflow: Workflow = load(conn, ctx, &workflow_id.to_string()).await?;
                let definition = match workflow.definition() {
                    Some(definition) if workflow.is_active() => definition.clone(),
                    _ => {
                        return Err(CommandError::Rejected(MessagingError::NoWorkflow(
                            "the lead's workflow is not active".to_owned(),
                        )))
                    }
                };
                // Checked under the engagement lock, in the transaction that queues: a timer or
                // another request queueing the outreach meanwhile is either seen here or waits.
                for channel in Channel::ALL {
                    let id = ConversationId::new(lead_id, channel).to_string();
                    let conversation: Conversation = load(conn, ctx, &id).await?;
                    if has_outreach(&conversation) {
                        return Err(CommandError::Rejected(MessagingError::AlreadyContacted));
                    }
                }
                let content = render(
                    &definition.initial_message,
                    &lead,
                    &brand_name,
                    "initial_message",
                )?;
                queue_in(
                    conn,
                    ctx,
                    lead_id,
                    definition.channel,
                    content,
                    MessageOrigin::Outreach,
                )
                .await
            })
        })
        .await
}

/// Whether an outreach message in this status counts as the lead having been contacted: it is
/// waiting in the outbox or reached the provider. A failed, undelivered or cancelled one does
/// not (the operator may send it again).
#[must_use]
pub const fn counts_as_contacted(status: DeliveryStatus) -> bool {
    matches!(
        status,
        DeliveryStatus::Queued
            | DeliveryStatus::Sent
            | DeliveryStatus::Delivered
            | DeliveryStatus::Read
    )
}

/// Whether `conversation` holds an outreach message that counts as contact.
#[must_use]
pub fn has_outreach(conversation: &Conversation) -> bool {
    conversation.outbound_messages().any(|message| {
        message.origin == MessageOrigin::Outreach && counts_as_contacted(message.status)
    })
}

/// Hands the lead's conversations to a human: the AI stays silent until resumed.
pub async fn hand_off(
    messaging: &Messaging,
    ctx: &CommandContext,
    lead_id: LeadId,
    reason: &str,
) -> Result<Option<i64>, CommandError<MessagingError>> {
    let reason = reason.to_owned();
    on_every_conversation(
        messaging,
        ctx,
        lead_id,
        move |at| ConversationCommand::HandOff {
            reason: reason.clone(),
            at,
        },
        LeadStatus::HandedOff,
    )
    .await
}

/// Gives the lead's conversations back to the AI.
pub async fn resume_ai(
    messaging: &Messaging,
    ctx: &CommandContext,
    lead_id: LeadId,
) -> Result<Option<i64>, CommandError<MessagingError>> {
    on_every_conversation(
        messaging,
        ctx,
        lead_id,
        |at| ConversationCommand::ResumeAi { at },
        LeadStatus::InConversation,
    )
    .await
}

/// Runs `command` on each conversation the lead has and moves the lead to `status` when its
/// lifecycle allows.
async fn on_every_conversation(
    messaging: &Messaging,
    ctx: &CommandContext,
    lead_id: LeadId,
    command: impl Fn(chrono::DateTime<chrono::Utc>) -> ConversationCommand + Send + Sync,
    status: LeadStatus,
) -> Result<Option<i64>, CommandError<MessagingError>> {
    messaging
        .executor
        .in_transaction(|conn| {
            let command = command(ctx.issued_at);
            let ctx = ctx.clone();
            Box::pin(async move {
                let ctx = &ctx;
                let lead: Lead = load(conn, ctx, &lead_id.to_string()).await?;
                if !lead.is_captured() {
                    return Err(CommandError::NotFound);
                }
                let mut position = None;
                for channel in Channel::ALL {
                    let id = ConversationId::new(lead_id, channel).to_string();
                    let conversation: Conversation = load(conn, ctx, &id).await?;
                    if conversation.started().is_none() {
                        continue;
                    }
                    let (_, at) =
                        exec::<Conversation>(conn, ctx, &id, Existence::MustExist, command.clone())
                            .await?;
                    position = later(position, at);
                }
                if lead.status() != status && lead.status().can_advance_to(status) {
                    let (_, at) = exec::<Lead>(
                        conn,
                        ctx,
                        &lead_id.to_string(),
                        Existence::MustExist,
                        domain::LeadCommand::AdvanceStatus { to: status },
                    )
                    .await?;
                    position = later(position, at);
                }
                Ok(position)
            })
        })
        .await
}

/// Sends a failed message again (operator's retry).
pub async fn retry(
    messaging: &Messaging,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    message_id: MessageId,
) -> Result<Option<i64>, CommandError<MessagingError>> {
    messaging
        .executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            Box::pin(async move {
                let ctx = &ctx;
                sendable_lead(conn, ctx, conversation_id.lead_id()).await?;
                let (_, at) = exec::<Conversation>(
                    conn,
                    ctx,
                    &conversation_id.to_string(),
                    Existence::MustExist,
                    ConversationCommand::RetryMessage {
                        message_id,
                        at: ctx.issued_at,
                    },
                )
                .await?;
                Ok(at)
            })
        })
        .await
}

/// Queues a text the system writes (opt-out and START confirmations, HELP answers).
pub(crate) async fn queue_system_text(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead_id: LeadId,
    channel: Channel,
    text: &str,
    origin: MessageOrigin,
) -> StepResult<Option<i64>> {
    let content = MessageContent::text(text).map_err(|error| {
        CommandError::Database(anyhow::anyhow!("a {} message: {error}", origin.as_str()))
    })?;
    Ok(queue_in(conn, ctx, lead_id, channel, content, origin)
        .await?
        .position)
}

/// The lead, if a message may be queued for it.
async fn sendable_lead(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead_id: LeadId,
) -> StepResult<Lead> {
    let lead: Lead = load(conn, ctx, &lead_id.to_string()).await?;
    if !lead.is_captured() {
        return Err(CommandError::NotFound);
    }
    if lead.is_opted_out() {
        return Err(CommandError::Rejected(MessagingError::OptedOut));
    }
    if lead.is_archived() {
        return Err(CommandError::Rejected(MessagingError::Archived));
    }
    if lead.phone().is_none() {
        return Err(CommandError::Rejected(MessagingError::NoPhone));
    }
    Ok(lead)
}

/// The channel of the lead's workflow, if it has one.
async fn workflow_channel(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead: &Lead,
) -> StepResult<Option<Channel>> {
    let Some(workflow_id) = lead.workflow_id() else {
        return Ok(None);
    };
    let workflow: Workflow = load(conn, ctx, &workflow_id.to_string()).await?;
    Ok(workflow.definition().map(|definition| definition.channel))
}

/// A workflow's message template (`field` names it) filled with the lead's merge fields.
pub(crate) fn render(
    template: &MessageTemplate,
    lead: &Lead,
    brand_name: &str,
    field: &'static str,
) -> StepResult<MessageContent> {
    let text = template.render(
        lead.first_name(),
        lead.last_name(),
        brand_name,
        lead.custom_fields(),
    );
    MessageContent::text(&text).map_err(|error| CommandError::InvalidReference {
        field,
        reason: format!("the rendered message {error}"),
    })
}

/// Queues `content` on the lead's conversation on `channel` inside the caller's transaction.
pub(crate) async fn queue_in(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead_id: LeadId,
    channel: Channel,
    content: MessageContent,
    origin: MessageOrigin,
) -> StepResult<Queued> {
    let message_id = MessageId::new();
    let (_, position) = exec::<Conversation>(
        conn,
        ctx,
        &ConversationId::new(lead_id, channel).to_string(),
        Existence::MayCreate,
        ConversationCommand::QueueOutbound {
            lead_id,
            channel,
            message_id,
            content,
            origin,
            now: ctx.issued_at,
        },
    )
    .await?;
    Ok(Queued {
        message_id,
        channel,
        position,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use cqrs_es::Aggregate;
    use domain::conversation::ConversationEvent;

    use super::*;

    #[test]
    fn only_an_outreach_waiting_or_past_the_provider_counts_as_contact() {
        let contacted: Vec<DeliveryStatus> = DeliveryStatus::ALL
            .into_iter()
            .filter(|status| counts_as_contacted(*status))
            .collect();
        assert_eq!(
            contacted,
            [
                DeliveryStatus::Queued,
                DeliveryStatus::Sent,
                DeliveryStatus::Delivered,
                DeliveryStatus::Read
            ]
        );
    }

    fn conversation(origin: MessageOrigin, failed: bool) -> Conversation {
        let at = chrono::DateTime::UNIX_EPOCH;
        let message_id = MessageId::new();
        let mut conversation = Conversation::default();
        conversation.apply(ConversationEvent::ConversationStarted {
            lead_id: LeadId::new(),
            channel: Channel::Sms,
        });
        conversation.apply(ConversationEvent::OutboundMessageQueued {
            message_id,
            content: MessageContent::text("Hi").unwrap(),
            origin,
            queued_at: at,
        });
        if failed {
            conversation.apply(ConversationEvent::OutboundMessageFailed {
                message_id,
                code: None,
                error: "refused".into(),
                reason: "refused".into(),
                failed_at: at,
            });
        }
        conversation
    }

    #[test]
    fn a_queued_outreach_is_contact_a_failed_one_or_another_message_is_not() {
        assert!(!has_outreach(&Conversation::default()));
        assert!(has_outreach(&conversation(MessageOrigin::Outreach, false)));
        assert!(!has_outreach(&conversation(MessageOrigin::Outreach, true)));
        assert!(!has_outreach(&conversation(MessageOrigin::Operator, false)));
    }
}
