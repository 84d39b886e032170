//! A follow-up the conversation model writes, for a workflow step whose message is
//! `FollowUpMessage::Ai`. The timer dispatcher ([`super::timers`]) calls [`write`] outside any
//! transaction (a model may take seconds), only once the step is due and may go out, then, in
//! the transaction that queues the message, [`record`] — so what the model cost lands on the
//! conversation (`AiFollowUpWritten`) together with the message it paid for, or not at all.
//!
//! A follow-up never waits on a model: when the tenant's model fails, times out
//! (`messaging.settings.model_timeout`) or answers something unusable, the rules engine writes
//! it instead, and the event says why (`fallback_reason`); so does a tenant whose AI budget is
//! spent and stops the AI (`ai_budget_exhausted`, see [`super::budget`]). So [`write`] fails
//! only when the tenant, its model settings or its month's spend cannot be read.

use std::time::Duration;

use application::conversation_model::ModelPurpose;
use application::{CommandContext, HistoryLine, ModelError, ModelReply, ModelRequest, Speaker};
use domain::conversation::{
    AiFollowUp, Conversation, ConversationCommand, ConversationId, Direction, MessageContent,
};
use domain::values::MessageId;
use domain::{Lead, WorkflowDefinition};
use sqlx::PgConnection;

use crate::ai::{RulesEngine, RULES_ENGINE};
use crate::executor::{CommandError, Existence};
use crate::messaging::suppression::{exec, StepResult};
use crate::messaging::{budget, Messaging};

/// Lines of the transcript the model sees (the most recent ones), as for replies.
const HISTORY_LINES: usize = 30;

/// A follow-up written for a lead, and what writing it took.
#[derive(Debug, Clone)]
pub struct WrittenFollowUp {
    /// The text to queue.
    pub content: MessageContent,
    /// Which follow-up of the workflow's sequence, from 1.
    pub number: u32,
    /// How many the sequence has.
    pub of: u32,
    /// The engine that wrote it: `rules`, or the provider's engine name.
    pub engine: String,
    /// The model, its tokens and their cost; `None` for the rules engine.
    pub usage: Option<application::ModelUsage>,
    /// How long the engine that wrote it took.
    pub latency: Duration,
    /// Why the rules engine wrote it instead of the tenant's model, if it did.
    pub fallback_reason: Option<String>,
}

/// Writes follow-up `number` (from 1) of `of` for `lead` in `definition`'s workflow, from
/// `conversation` (the thread on the workflow's channel) so far: by the tenant's model (the
/// workflow's model if it names one), else by the rules engine.
///
/// # Errors
/// The tenant or its AI settings cannot be read (`Database`), or the tenant is gone
/// (`NotFound`). A model that fails is never an error: see the module documentation.
pub async fn write(
    messaging: &Messaging,
    ctx: &CommandContext,
    lead: &Lead,
    definition: &WorkflowDefinition,
    conversation: &Conversation,
    number: u32,
    of: u32,
) -> StepResult<WrittenFollowUp> {
    let tenant = messaging
        .tenants
        .get(ctx.tenant_id)
        .await
        .map_err(CommandError::Database)?
        .ok_or(CommandError::NotFound)?;
    let request = ModelRequest {
        purpose: ModelPurpose::FollowUp { number, of },
        brand_name: tenant.brand_name.clone(),
        instructions: definition.ai_instructions.clone(),
        questions: definition.qualification_questions.clone(),
        answers: lead.answers().clone(),
        lead_first_name: lead.first_name().to_owned(),
        timezone: tenant.timezone.as_str().to_owned(),
        offered_slots: Vec::new(),
        history: history(conversation),
        now: ctx.issued_at,
    };
    if budget::ai_paused(messaging, ctx.tenant_id, ctx.issued_at)
        .await
        .map_err(CommandError::Database)?
    {
        return fallback(&request, number, of, budget::BUDGET_EXHAUSTED.to_owned());
    }
    let model = messaging
        .models
        .model_for(ctx.tenant_id, definition.ai_model.as_deref())
        .await
        .map_err(CommandError::Database)?;
    let timeout = messaging.settings.model_timeout;
    let answer = match tokio::time::timeout(timeout, model.respond(&request)).await {
        Ok(answer) => answer,
        Err(_) => Err(ModelError::Timeout(timeout)),
    };
    match answer.and_then(|reply| usable(reply, number, of)) {
        Ok(written) => Ok(written),
        Err(error) => {
            let reason = error.to_string();
            tracing::warn!(
                tenant = %ctx.tenant_id, number, of, error = %reason,
                "the conversation model could not write a follow-up; the rules engine writes it"
            );
            fallback(&request, number, of, reason)
        }
    }
}

/// Records on the conversation what writing `written` took, as the follow-up queued as
/// `message_id`; inside the caller's transaction, right after the message was queued. Returns
/// the position written (none if it was recorded already).
pub async fn record(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    message_id: MessageId,
    written: &WrittenFollowUp,
) -> StepResult<Option<i64>> {
    let (model, input_tokens, cached_input_tokens, output_tokens, cost_micros, price_version) =
        match &written.usage {
            Some(usage) => (
                usage.model.clone(),
                usage.input_tokens,
                usage.cached_input_tokens,
                usage.output_tokens,
                usage.cost_micros,
                usage.price_version.clone(),
            ),
            None => (String::new(), 0, 0, 0, 0, String::new()),
        };
    let follow_up = AiFollowUp {
        message_id,
        number: written.number,
        of: written.of,
        engine: written.engine.clone(),
        model,
        input_tokens,
        cached_input_tokens,
        output_tokens,
        cost_micros,
        price_version,
        latency_ms: u64::try_from(written.latency.as_millis()).unwrap_or(u64::MAX),
        fallback_reason: written.fallback_reason.clone(),
        at: ctx.issued_at,
    };
    let (_, position) = exec::<Conversation>(
        conn,
        ctx,
        &conversation_id.to_string(),
        Existence::MustExist,
        ConversationCommand::RecordAiFollowUp { follow_up },
    )
    .await?;
    Ok(position)
}

/// The model's follow-up, if it wrote text that can be sent.
fn usable(reply: ModelReply, number: u32, of: u32) -> Result<WrittenFollowUp, ModelError> {
    let text = reply
        .reply
        .ok_or_else(|| ModelError::Malformed("the follow-up has no text".to_owned()))?;
    let content = MessageContent::text(&text)
        .map_err(|error| ModelError::Malformed(format!("the follow-up {error}")))?;
    Ok(WrittenFollowUp {
        content,
        number,
        of,
        engine: reply.engine,
        usage: reply.usage,
        latency: reply.latency,
        fallback_reason: None,
    })
}

/// The rules engine's follow-up, noting why the model's was not used.
fn fallback(
    request: &ModelRequest,
    number: u32,
    of: u32,
    reason: String,
) -> StepResult<WrittenFollowUp> {
    let reply = RulesEngine::new().answer(request);
    let text = reply.reply.unwrap_or_default();
    // The rules engine's follow-ups are never empty and at most 320 characters.
    let content = MessageContent::text(&text).map_err(|error| CommandError::InvalidReference {
        field: "follow_up_steps",
        reason: format!("the rules engine's follow-up {error}"),
    })?;
    Ok(WrittenFollowUp {
        content,
        number,
        of,
        engine: RULES_ENGINE.to_owned(),
        usage: None,
        latency: reply.latency,
        fallback_reason: Some(reason),
    })
}

/// The transcript as the model sees it: the latest lines.
fn history(conversation: &Conversation) -> Vec<HistoryLine> {
    let lines = conversation.transcript();
    lines[lines.len().saturating_sub(HISTORY_LINES)..]
        .iter()
        .map(|line| HistoryLine {
            speaker: match line.direction {
                Direction::Inbound => Speaker::Lead,
                Direction::Outbound => Speaker::Business,
            },
            text: line.text.clone(),
            at: line.at,
        })
        .collect()
}
