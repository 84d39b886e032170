//! What an operator (or the API) asks of a lead's conversation: send a message now, send the
//! workflow's outreach, hand the conversation to a human and give it back to the AI, send a failed
//! message again. Each is one transaction over the lead and its conversation.

use application::CommandContext;
use domain::conversation::{
    Conversation, ConversationCommand, ConversationId, MessageContent, MessageOrigin,
};
use domain::values::{LeadId, MessageId};
use domain::{Channel, Lead, LeadStatus, Workflow};
use sqlx::PgConnection;

use crate::executor::{CommandError, Existence};
use crate::messaging::suppression::{exec, later, load, StepResult};
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

/// Queues the workflow's initial message, merge fields filled, on the workflow's channel.
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
                let text = definition.initial_message.render(
                    lead.first_name(),
                    lead.last_name(),
                    &brand_name,
                    lead.custom_fields(),
                );
                let content = MessageContent::text(&text).map_err(|error| {
                    CommandError::InvalidReference {
                        field: "initial_message",
                        reason: format!("the rendered message {error}"),
                    }
                })?;
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
