//! A lead's message arrives — from a provider's webhook or the sandbox — and is recorded once per
//! provider message id, however often the provider retries. Keywords act at once, in the same
//! transaction: STOP opts the lead out (and nothing queued for them is sent), START re-subscribes,
//! HELP answers with the business's identity. Any other message moves the lead into conversation
//! and, when the lead's workflow is active, leaves a pending reply for the AI.

use application::CommandContext;
use domain::conversation::{
    Conversation, ConversationCommand, ConversationId, Keyword, MessageOrigin,
};
use domain::values::{CustomFields, LeadId, LeadSource, MessageId, PhoneNumber};
use domain::{Channel, Lead, LeadCommand, LeadStatus, NewLead, Workflow};
use sqlx::PgConnection;

use crate::executor::{CommandError, Existence};
use crate::lead_phones;
use crate::messaging::suppression::{self, exec, later, load, StepResult};
use crate::messaging::{Messaging, MessagingError};
use crate::tenants::Tenant;

/// A message from a lead, as a provider delivered it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// SMS or WhatsApp.
    pub channel: Channel,
    /// Who wrote it.
    pub from: PhoneNumber,
    /// The provider (`twilio`, `whatsapp_cloud`, `sandbox`).
    pub provider: String,
    /// The provider's id: the deduplication key.
    pub provider_message_id: String,
    /// The text.
    pub body: String,
    /// The sender's profile name (WhatsApp), used as the first name of a new lead.
    pub profile_name: Option<String>,
}

/// What receiving did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundOutcome {
    /// The lead who wrote.
    pub lead_id: LeadId,
    /// Our id of the message; `None` when the provider id was seen before (nothing recorded).
    pub message_id: Option<MessageId>,
    /// Whether an unknown number became a new lead.
    pub created_lead: bool,
    /// The keyword the message was, if any.
    pub keyword: Option<Keyword>,
    /// Position of the last event written.
    pub position: Option<i64>,
}

/// Records a message from a phone number: the tenant's lead with that number, or a new lead
/// (`wa_direct` for WhatsApp, `inbound` for SMS).
pub async fn receive(
    messaging: &Messaging,
    ctx: &CommandContext,
    message: InboundMessage,
) -> Result<InboundOutcome, CommandError<MessagingError>> {
    let tenant = identity(messaging, ctx).await?;
    messaging
        .executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            let message = message.clone();
            let tenant = tenant.clone();
            Box::pin(async move {
                let (lead_id, created) = find_or_capture(conn, &ctx, &message).await?;
                let mut outcome = receive_in(
                    conn,
                    &ctx,
                    &tenant,
                    lead_id,
                    message.channel,
                    &message.provider,
                    &message.provider_message_id,
                    &message.body,
                )
                .await?;
                outcome.created_lead = created;
                Ok(outcome)
            })
        })
        .await
}

/// Records a message from a known lead (the sandbox plays the lead's side this way).
pub async fn receive_from_lead(
    messaging: &Messaging,
    ctx: &CommandContext,
    lead_id: LeadId,
    channel: Channel,
    provider_message_id: &str,
    body: &str,
) -> Result<InboundOutcome, CommandError<MessagingError>> {
    let tenant = identity(messaging, ctx).await?;
    messaging
        .executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            let tenant = tenant.clone();
            let provider_message_id = provider_message_id.to_owned();
            let body = body.to_owned();
            Box::pin(async move {
                receive_in(
                    conn,
                    &ctx,
                    &tenant,
                    lead_id,
                    channel,
                    "sandbox",
                    &provider_message_id,
                    &body,
                )
                .await
            })
        })
        .await
}

async fn identity(messaging: &Messaging, ctx: &CommandContext) -> StepResult<Tenant> {
    messaging
        .tenants
        .get(ctx.tenant_id)
        .await
        .map_err(CommandError::Database)?
        .ok_or(CommandError::NotFound)
}

async fn find_or_capture(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    message: &InboundMessage,
) -> StepResult<(LeadId, bool)> {
    let tenant = ctx.tenant_id.as_uuid();
    if let Some(owner) = lead_phones::owner(conn, tenant, message.from.as_str())
        .await
        .map_err(CommandError::Database)?
    {
        return Ok((LeadId::from_uuid(owner), false));
    }
    let source = match message.channel {
        Channel::Whatsapp => LeadSource::WaDirect,
        Channel::Sms => LeadSource::Inbound,
    };
    let first_name: String = message
        .profile_name
        .as_deref()
        .unwrap_or_default()
        .trim()
        .chars()
        .take(100)
        .collect();
    let captured = crate::leads::capture_in(
        conn,
        ctx,
        NewLead {
            first_name,
            last_name: String::new(),
            phone: Some(message.from.clone()),
            email: None,
            custom_fields: CustomFields::default(),
            source,
            tags: Vec::new(),
            workflow_id: None,
        },
    )
    .await
    .map_err(|error| error.map_rejection(MessagingError::from))?;
    Ok((captured.lead_id, !captured.merged))
}

/// Records the message on the lead's conversation and acts on it, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
async fn receive_in(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    tenant: &Tenant,
    lead_id: LeadId,
    channel: Channel,
    provider: &str,
    provider_message_id: &str,
    body: &str,
) -> StepResult<InboundOutcome> {
    let lead: Lead = load(conn, ctx, &lead_id.to_string()).await?;
    if !lead.is_captured() {
        return Err(CommandError::NotFound);
    }
    let keyword = Keyword::classify(body);
    let workflow_active = match lead.workflow_id() {
        Some(workflow) => load::<Workflow>(conn, ctx, &workflow.to_string())
            .await?
            .is_active(),
        None => false,
    };
    let engage_ai =
        keyword.is_none() && !lead.is_opted_out() && !lead.is_archived() && workflow_active;
    if matches!(keyword, Some(Keyword::OptOut | Keyword::OptIn)) {
        // Before anything is written: a send in flight for this lead holds the lock shared and
        // must be able to record its outcome on the conversation while we wait for it.
        suppression::lock_for_opt_out(conn, lead_id).await?;
    }
    let conversation = ConversationId::new(lead_id, channel).to_string();
    let message_id = MessageId::new();
    let (_, received) = exec::<Conversation>(
        conn,
        ctx,
        &conversation,
        Existence::MayCreate,
        ConversationCommand::ReceiveInbound {
            lead_id,
            channel,
            message_id,
            provider: provider.to_owned(),
            provider_message_id: provider_message_id.to_owned(),
            body: body.to_owned(),
            received_at: ctx.issued_at,
            engage_ai,
        },
    )
    .await?;
    let mut outcome = InboundOutcome {
        lead_id,
        message_id: None,
        created_lead: false,
        keyword,
        position: received,
    };
    if received.is_none() {
        return Ok(outcome);
    }
    outcome.message_id = Some(message_id);
    let position = match keyword {
        Some(Keyword::OptOut) => {
            let word: String = body.trim().to_uppercase().chars().take(40).collect();
            let reason = format!("the lead texted {word}");
            suppression::opt_out_in(conn, ctx, lead_id, &reason, Some(channel)).await?
        }
        Some(Keyword::OptIn) => resubscribe_in(conn, ctx, tenant, &lead, lead_id, channel).await?,
        Some(Keyword::Help) if !lead.is_opted_out() => {
            let text = help_text(tenant);
            crate::messaging::outbound::queue_system_text(
                conn,
                ctx,
                lead_id,
                channel,
                &text,
                MessageOrigin::Help,
            )
            .await?
        }
        Some(Keyword::Help) => None,
        None => enter_conversation(conn, ctx, &lead, lead_id).await?,
    };
    outcome.position = later(outcome.position, position);
    Ok(outcome)
}

/// A reply moves a lead that was waiting for one into conversation.
async fn enter_conversation(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead: &Lead,
    lead_id: LeadId,
) -> StepResult<Option<i64>> {
    let waiting = matches!(
        lead.status(),
        LeadStatus::Pending | LeadStatus::Contacted | LeadStatus::Unresponsive
    );
    if !waiting || lead.is_archived() {
        return Ok(None);
    }
    let (_, at) = exec::<Lead>(
        conn,
        ctx,
        &lead_id.to_string(),
        Existence::MustExist,
        LeadCommand::AdvanceStatus {
            to: LeadStatus::InConversation,
        },
    )
    .await?;
    Ok(at)
}

/// START: an opted-out lead may be messaged again; confirmed once.
async fn resubscribe_in(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    tenant: &Tenant,
    lead: &Lead,
    lead_id: LeadId,
    channel: Channel,
) -> StepResult<Option<i64>> {
    if !lead.is_opted_out() {
        return Ok(None);
    }
    suppression::lock_for_opt_out(conn, lead_id).await?;
    let (_, at) = exec::<Lead>(
        conn,
        ctx,
        &lead_id.to_string(),
        Existence::MustExist,
        LeadCommand::Resubscribe,
    )
    .await?;
    let text = format!(
        "{}: you are subscribed to messages again. Reply STOP to opt out.",
        tenant.brand_name
    );
    let queued = crate::messaging::outbound::queue_system_text(
        conn,
        ctx,
        lead_id,
        channel,
        &text,
        MessageOrigin::Resubscribed,
    )
    .await?;
    Ok(later(at, queued))
}

/// The HELP answer: who is texting, and how to stop it.
fn help_text(tenant: &Tenant) -> String {
    let mut contact = Vec::new();
    if let Some(phone) = &tenant.admin_phone {
        contact.push(phone.as_str().to_owned());
    }
    if let Some(email) = &tenant.admin_email {
        contact.push(email.as_str().to_owned());
    }
    if contact.is_empty() {
        format!("{}: reply STOP to opt out of messages.", tenant.brand_name)
    } else {
        format!(
            "{}: for help contact {}. Reply STOP to opt out.",
            tenant.brand_name,
            contact.join(" or ")
        )
    }
}
