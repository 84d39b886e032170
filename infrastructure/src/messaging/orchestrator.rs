//! The conversation orchestrator (a process manager): a lead's pending message goes to the
//! tenant's conversation model, and what comes back is acted on in one transaction — the turn
//! recorded with its tokens and cost, answers kept on the lead, the lead moved along
//! (`in_conversation` → `qualified`, or `handed_off`), the reply queued. An opt-out intent takes
//! the same path as STOP. A model that times out, fails or answers nonsense is retried with
//! backoff; after the last attempt the conversation is handed to a human. The inbound message is
//! already recorded, so nothing the lead wrote is ever lost.

use std::collections::BTreeMap;

use application::{CommandContext, HistoryLine, ModelError, ModelReply, ModelRequest, Speaker};
use domain::conversation::{
    evaluate_qualification, AiTurn, Conversation, ConversationCommand, ConversationError,
    ConversationId, Direction, Intent, MessageContent, Qualification,
};
use domain::values::{MessageId, TenantId};
use domain::{Lead, LeadCommand, LeadStatus, Workflow};
use sqlx::PgConnection;

use crate::executor::{CommandError, Existence};
use crate::messaging::suppression::{self, exec, later, load, StepResult};
use crate::messaging::task_queue::ClaimedTask;
use crate::messaging::{retry_backoff, Messaging, MessagingError};

/// Lines of the transcript the model sees (the most recent ones).
const HISTORY_LINES: usize = 30;

/// What became of a reply task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// No reply was expected any more (answered, or a newer message took over).
    NothingToDo,
    /// The AI will not answer (why).
    Skipped(String),
    /// The turn was recorded.
    Answered(Intent),
    /// The model failed; it will be asked again.
    WillRetry,
    /// The model failed for the last time; a human has the conversation.
    HandedOff,
}

/// Answers the pending message of a `reply` task.
pub async fn run(messaging: &Messaging, task: &ClaimedTask) -> anyhow::Result<ReplyOutcome> {
    let tenant_id = TenantId::from_uuid(task.tenant_id);
    let ctx = messaging.system_ctx(tenant_id, "orchestrator");
    let conversation_id: ConversationId = task
        .conversation_id
        .parse()
        .map_err(|error| anyhow::anyhow!("task {}: {error}", task.task_key))?;
    let in_reply_to = MessageId::from_uuid(task.message_id);
    let outcome = reply(messaging, &ctx, conversation_id, in_reply_to).await;
    outcome.map_err(|error| anyhow::anyhow!("reply to {in_reply_to}: {error:#}"))
}

async fn reply(
    messaging: &Messaging,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    in_reply_to: MessageId,
) -> StepResult<ReplyOutcome> {
    let tenant = messaging
        .tenants
        .get(ctx.tenant_id)
        .await
        .map_err(CommandError::Database)?
        .ok_or(CommandError::NotFound)?;
    let mut conn = messaging
        .executor
        .pool()
        .acquire()
        .await
        .map_err(|error| CommandError::Database(error.into()))?;
    let lead_id = conversation_id.lead_id();
    let lead: Lead = load(&mut conn, ctx, &lead_id.to_string()).await?;
    let conversation: Conversation = load(&mut conn, ctx, &conversation_id.to_string()).await?;
    if conversation.pending_reply() != Some(in_reply_to) {
        return Ok(ReplyOutcome::NothingToDo);
    }
    let workflow = match lead.workflow_id() {
        Some(id) => Some(load::<Workflow>(&mut conn, ctx, &id.to_string()).await?),
        None => None,
    };
    drop(conn);
    let skip = if lead.is_opted_out() {
        Some("opted_out")
    } else if lead.is_archived() {
        Some("archived")
    } else if !workflow.as_ref().is_some_and(Workflow::is_active) {
        Some("workflow_not_active")
    } else {
        None
    };
    let (Some(workflow), None) = (workflow.as_ref().and_then(Workflow::definition), skip) else {
        let reason = skip.unwrap_or("workflow_not_active").to_owned();
        record(
            messaging,
            ctx,
            conversation_id,
            vec![Step::Conversation(ConversationCommand::SkipAiReply {
                in_reply_to,
                reason,
            })],
        )
        .await?;
        return Ok(ReplyOutcome::Skipped(
            skip.unwrap_or("workflow_not_active").to_owned(),
        ));
    };
    let request = ModelRequest {
        purpose: application::conversation_model::ModelPurpose::Reply,
        brand_name: tenant.brand_name.clone(),
        instructions: workflow.ai_instructions.clone(),
        questions: workflow.qualification_questions.clone(),
        answers: lead.answers().clone(),
        lead_first_name: lead.first_name().to_owned(),
        timezone: tenant.timezone.as_str().to_owned(),
        offered_slots: Vec::new(),
        history: history(&conversation),
        now: ctx.issued_at,
    };
    let model = messaging
        .models
        .model_for(ctx.tenant_id, workflow.ai_model.as_deref())
        .await
        .map_err(CommandError::Database)?;
    let answer =
        match tokio::time::timeout(messaging.settings.model_timeout, model.respond(&request)).await
        {
            Ok(answer) => answer,
            Err(_) => Err(ModelError::Timeout(messaging.settings.model_timeout)),
        };
    match answer {
        Ok(answer) => {
            act_on(
                messaging,
                ctx,
                conversation_id,
                in_reply_to,
                &lead,
                workflow,
                answer,
            )
            .await
        }
        Err(error) => {
            failed(
                messaging,
                ctx,
                conversation_id,
                in_reply_to,
                &conversation,
                &error,
            )
            .await
        }
    }
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

/// One command of an orchestrator transaction.
#[derive(Debug, Clone)]
enum Step {
    Conversation(ConversationCommand),
    Lead(LeadCommand),
    /// Move the lead along if the lifecycle allows it (no error otherwise).
    Advance(LeadStatus),
    OptOut(String),
}

/// Runs `steps` in one transaction (retried on conflict as a whole).
async fn record(
    messaging: &Messaging,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    steps: Vec<Step>,
) -> StepResult<Option<i64>> {
    messaging
        .executor
        .in_transaction(|conn| {
            let steps = steps.clone();
            let ctx = ctx.clone();
            Box::pin(async move {
                let ctx = &ctx;
                run_steps(conn, ctx, conversation_id, steps).await
            })
        })
        .await
}

async fn run_steps(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    steps: Vec<Step>,
) -> StepResult<Option<i64>> {
    let lead_id = conversation_id.lead_id();
    if steps.iter().any(|step| matches!(step, Step::OptOut(_))) {
        // First, before any write: see `suppression` (a send in flight must be able to finish).
        suppression::lock_for_opt_out(conn, lead_id).await?;
    }
    let mut position = None;
    for step in steps {
        let at = match step {
            Step::Conversation(command) => {
                exec::<Conversation>(
                    conn,
                    ctx,
                    &conversation_id.to_string(),
                    Existence::MustExist,
                    command,
                )
                .await?
                .1
            }
            Step::Lead(command) => {
                exec::<Lead>(
                    conn,
                    ctx,
                    &lead_id.to_string(),
                    Existence::MustExist,
                    command,
                )
                .await?
                .1
            }
            Step::Advance(to) => {
                let lead: Lead = load(conn, ctx, &lead_id.to_string()).await?;
                if lead.status() == to || !lead.status().can_advance_to(to) {
                    None
                } else {
                    exec::<Lead>(
                        conn,
                        ctx,
                        &lead_id.to_string(),
                        Existence::MustExist,
                        LeadCommand::AdvanceStatus { to },
                    )
                    .await?
                    .1
                }
            }
            Step::OptOut(reason) => {
                suppression::opt_out_in(
                    conn,
                    ctx,
                    lead_id,
                    &reason,
                    Some(conversation_id.channel()),
                )
                .await?
            }
        };
        position = later(position, at);
    }
    Ok(position)
}

/// Records the model's answer and what follows from it.
#[allow(clippy::too_many_arguments)]
async fn act_on(
    messaging: &Messaging,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    in_reply_to: MessageId,
    lead: &Lead,
    workflow: &domain::WorkflowDefinition,
    answer: ModelReply,
) -> StepResult<ReplyOutcome> {
    let intent = answer.intent;
    let reply = match (intent, answer.reply.as_deref()) {
        (Intent::OptOut, _) | (_, None) => None,
        (_, Some(text)) => MessageContent::text(text).ok(),
    };
    let reply_message_id = reply.as_ref().map(|_| MessageId::new());
    let (model, input, cached, output, cost, price_version) = match &answer.usage {
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
    let answers: BTreeMap<String, String> = answer
        .answers
        .into_iter()
        .filter(|(key, _)| {
            workflow
                .qualification_questions
                .iter()
                .any(|q| q.key() == key)
        })
        .collect();
    let turn = AiTurn {
        in_reply_to,
        engine: answer.engine.clone(),
        model,
        input_tokens: input,
        cached_input_tokens: cached,
        output_tokens: output,
        cost_micros: cost,
        price_version,
        latency_ms: u64::try_from(answer.latency.as_millis()).unwrap_or(u64::MAX),
        intent,
        answers: answers.clone(),
        reply_message_id,
        at: ctx.issued_at,
    };
    let mut all_answers = lead.answers().clone();
    all_answers.extend(answers.clone());
    let qualified = !workflow.qualification_questions.is_empty()
        && evaluate_qualification(&workflow.qualification_questions, &all_answers)
            == Qualification::Qualified;
    let handoff = match intent {
        Intent::HumanRequest => Some("human_request"),
        Intent::WrongNumber => Some("wrong_number"),
        _ => None,
    };
    let outcome = record(messaging, ctx, conversation_id, {
        let mut steps = vec![Step::Conversation(ConversationCommand::RecordAiTurn {
            turn: turn.clone(),
            reply: reply.clone(),
        })];
        if !answers.is_empty() {
            steps.push(Step::Lead(LeadCommand::RecordAnswers {
                answers: answers.clone(),
            }));
        }
        if intent == Intent::OptOut {
            steps.push(Step::OptOut(
                "the lead asked to stop (AI opt-out intent)".to_owned(),
            ));
        } else if let Some(reason) = handoff {
            steps.push(Step::Conversation(ConversationCommand::HandOff {
                reason: reason.to_owned(),
                at: ctx.issued_at,
            }));
            steps.push(Step::Advance(LeadStatus::HandedOff));
        } else if qualified {
            steps.push(Step::Advance(LeadStatus::Qualified));
        }
        steps
    })
    .await;
    match outcome {
        Ok(_) => Ok(ReplyOutcome::Answered(intent)),
        Err(CommandError::Rejected(MessagingError::Conversation(
            ConversationError::StaleReply | ConversationError::AiPaused,
        ))) => Ok(ReplyOutcome::NothingToDo),
        Err(CommandError::Rejected(refusal)) => {
            // The reply cannot be queued (say WhatsApp's window closed while workers were
            // down): keep the turn — its tokens were spent — without the reply, which ends the
            // task rather than asking the model again and again.
            let reason = refusal.to_string();
            tracing::warn!(%conversation_id, %reason, "an AI reply could not be queued");
            let silent = AiTurn {
                reply_message_id: None,
                ..turn
            };
            record(
                messaging,
                ctx,
                conversation_id,
                vec![Step::Conversation(ConversationCommand::RecordAiTurn {
                    turn: silent,
                    reply: None,
                })],
            )
            .await?;
            Ok(ReplyOutcome::Skipped(reason))
        }
        Err(error) => Err(error),
    }
}

/// The model failed: retry later, or hand the conversation to a human after the last attempt.
async fn failed(
    messaging: &Messaging,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    in_reply_to: MessageId,
    conversation: &Conversation,
    error: &ModelError,
) -> StepResult<ReplyOutcome> {
    let attempt = conversation.ai_attempts() + 1;
    let give_up = attempt >= messaging.settings.max_model_attempts;
    let retry_at = (!give_up).then(|| ctx.issued_at + retry_backoff(attempt));
    let error = error.to_string();
    tracing::warn!(%conversation_id, attempt, give_up, error = %error, "the conversation model failed");
    record(messaging, ctx, conversation_id, {
        let mut steps = vec![Step::Conversation(ConversationCommand::RecordAiFailure {
            in_reply_to,
            error: error.clone(),
            retry_at,
        })];
        if give_up {
            steps.push(Step::Conversation(ConversationCommand::HandOff {
                reason: "ai_unavailable".to_owned(),
                at: ctx.issued_at,
            }));
            steps.push(Step::Advance(LeadStatus::HandedOff));
        }
        steps
    })
    .await?;
    Ok(if give_up {
        ReplyOutcome::HandedOff
    } else {
        ReplyOutcome::WillRetry
    })
}
