//! The conversation orchestrator (a process manager): a lead's pending message goes to the
//! tenant's conversation model, and what comes back is acted on in one transaction — the turn
//! recorded with its tokens and cost, answers kept on the lead, the lead moved along
//! (`in_conversation` → `qualified`, or `handed_off`), the reply queued. An opt-out intent takes
//! the same path as STOP. Offering free times and booking the one the lead picks happen here too,
//! in the same transaction (see [`booking`]). A model that times out, fails or answers nonsense is retried with
//! backoff; after the last attempt the conversation is handed to a human. The inbound message is
//! already recorded, so nothing the lead wrote is ever lost.

use std::collections::BTreeMap;

use application::{
    CommandContext, HistoryLine, ModelError, ModelReply, ModelRequest, OfferedSlot, Speaker,
};
use domain::conversation::{
    evaluate_qualification, AiTurn, Conversation, ConversationCommand, ConversationError,
    ConversationId, Direction, Intent, MessageContent, Qualification, SlotOffer,
};
use domain::values::{LeadId, MessageId, TenantId, Timezone, WorkflowId};
use domain::{AppointmentError, CalendarRef, Lead, LeadCommand, LeadStatus, Workflow};
use sqlx::PgConnection;

use crate::ai::read_slot_choice;
use crate::appointments::{self, AppointmentRefusal, BookRequest};
use crate::executor::{CommandError, Existence};
use crate::messaging::booking::{self, BookingMove, BookingState};
use crate::messaging::outbox::recipient_zone;
use crate::messaging::suppression::{self, exec, later, load, StepResult};
use crate::messaging::task_queue::ClaimedTask;
use crate::messaging::{budget, retry_backoff, Messaging, MessagingError};

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
    if budget::ai_paused(messaging, ctx.tenant_id, ctx.issued_at)
        .await
        .map_err(CommandError::Database)?
    {
        return budget_exhausted(messaging, ctx, conversation_id, in_reply_to).await;
    }
    let zone = lead.phone().map_or(tenant.timezone, |phone| {
        recipient_zone(&lead, phone, tenant.timezone)
    });
    let request = ModelRequest {
        purpose: application::conversation_model::ModelPurpose::Reply,
        brand_name: tenant.brand_name.clone(),
        instructions: workflow.ai_instructions.clone(),
        questions: workflow.qualification_questions.clone(),
        answers: lead.answers().clone(),
        lead_first_name: lead.first_name().to_owned(),
        timezone: zone.as_str().to_owned(),
        offered_slots: offered_slots(&conversation),
        history: history(&conversation),
        now: ctx.issued_at,
    };
    let turn = TurnContext {
        lead_id,
        lead: &lead,
        workflow,
        workflow_id: lead.workflow_id(),
        conversation: &conversation,
        brand_name: &tenant.brand_name,
        zone,
        latest: request.latest_from_lead(),
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
        Ok(answer) => act_on(messaging, ctx, conversation_id, in_reply_to, &turn, answer).await,
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

/// The times offered earlier, as the model sees them.
fn offered_slots(conversation: &Conversation) -> Vec<OfferedSlot> {
    conversation
        .offered_slots()
        .iter()
        .map(|slot| OfferedSlot {
            start: slot.start,
            label: slot.label.clone(),
        })
        .collect()
}

/// What an answer is acted on with, besides the answer.
struct TurnContext<'a> {
    lead_id: LeadId,
    lead: &'a Lead,
    workflow: &'a domain::WorkflowDefinition,
    workflow_id: Option<WorkflowId>,
    conversation: &'a Conversation,
    brand_name: &'a str,
    /// The lead's time zone: offers and confirmations are written in it.
    zone: Timezone,
    /// The lead's message being answered.
    latest: &'a str,
}

/// One command of an orchestrator transaction.
#[derive(Debug, Clone)]
enum Step {
    Conversation(ConversationCommand),
    Lead(LeadCommand),
    /// Move the lead along if the lifecycle allows it (no error otherwise).
    Advance(LeadStatus),
    OptOut(String),
    /// Book the time the lead picked, in this calendar, and record the booking on the
    /// conversation.
    Book(BookRequest, CalendarRef),
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
            Step::Book(request, calendar) => {
                let start = request.start;
                let booked = appointments::book_in(conn, ctx, request, &calendar)
                    .await
                    .map_err(|error| error.map_rejection(MessagingError::Appointment))?;
                let recorded = exec::<Conversation>(
                    conn,
                    ctx,
                    &conversation_id.to_string(),
                    Existence::MustExist,
                    ConversationCommand::RecordBooking {
                        appointment_id: booked.appointment_id,
                        start,
                        at: ctx.issued_at,
                    },
                )
                .await?
                .1;
                later(booked.position, recorded)
            }
        };
        position = later(position, at);
    }
    Ok(position)
}

/// Records the model's answer and what follows from it: the turn, the answers, the lead's move
/// (qualified, handed off, opted out) and the reply — or, when booking is under way, the offer
/// of free times or the booking and its confirmation (see [`booking`]).
async fn act_on(
    messaging: &Messaging,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    in_reply_to: MessageId,
    context: &TurnContext<'_>,
    answer: ModelReply,
) -> StepResult<ReplyOutcome> {
    let TurnContext { lead, workflow, .. } = *context;
    let intent = answer.intent;
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
        .iter()
        .filter(|(key, _)| {
            workflow
                .qualification_questions
                .iter()
                .any(|q| q.key() == key.as_str())
        })
        .map(|(key, value)| (key.clone(), value.clone()))
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
        reply_message_id: None,
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
    let mut steps = Vec::new();
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
    let model_reply = match (intent, answer.reply.as_deref()) {
        (Intent::OptOut, _) | (_, None) => None,
        (_, Some(text)) => Some(text.to_owned()),
    };
    let next = match (intent, handoff, context.workflow_id) {
        (Intent::OptOut, _, _) | (_, Some(_), _) | (_, _, None) => BookingMove::Leave,
        (_, None, Some(_)) => {
            let status = lead.status();
            let offered = context.conversation.offered_slots();
            booking::decide(
                BookingState {
                    ready: status == LeadStatus::Qualified
                        || qualified
                        || workflow.qualification_questions.is_empty(),
                    booked: status == LeadStatus::Booked,
                    just_qualified: qualified
                        && !matches!(status, LeadStatus::Qualified | LeadStatus::Booked),
                    offered,
                    matching: read_slot_choice(
                        context.latest,
                        &offered_slots(context.conversation),
                        context.zone.as_str(),
                        ctx.issued_at,
                    )
                    .len(),
                },
                intent,
                answer.chosen_slot,
            )
        }
    };
    let mut plan = match next {
        BookingMove::Leave => Plan::reply(model_reply),
        BookingMove::Offer => {
            let intro = if intent == Intent::Booking {
                booking::booking_intro(lead.first_name())
            } else {
                model_reply.unwrap_or_default()
            };
            offer_plan(messaging, ctx, context, &intro).await?
        }
        BookingMove::Book(slot) => book_plan(messaging, ctx, context, slot).await?,
    };
    loop {
        let outcome = record_turn(messaging, ctx, conversation_id, &turn, &steps, &plan).await;
        match outcome {
            Ok(_) => return Ok(ReplyOutcome::Answered(intent)),
            Err(CommandError::Rejected(MessagingError::Conversation(
                ConversationError::StaleReply | ConversationError::AiPaused,
            ))) => return Ok(ReplyOutcome::NothingToDo),
            Err(CommandError::Rejected(MessagingError::Appointment(refusal)))
                if plan.booking.is_some() =>
            {
                let Some((slot, _, _)) = plan.booking.take() else {
                    continue;
                };
                plan = if slot_gone(&refusal) {
                    // Another booking took the time between the check and the insert: offer
                    // what is free now instead.
                    let intro = booking::taken_intro(lead.first_name(), &slot);
                    offer_plan(messaging, ctx, context, &intro).await?
                } else {
                    // Anything else keeps the turn's answers and status, and a person
                    // takes over the booking.
                    tracing::warn!(%conversation_id, refusal = %refusal, "a booking in the conversation was refused");
                    Plan {
                        reply: Some(booking::booking_failed_text(
                            lead.first_name(),
                            context.brand_name,
                        )),
                        handoff: Some(booking::BOOKING_FAILED),
                        ..Plan::default()
                    }
                };
            }
            Err(CommandError::Rejected(refusal)) => {
                // The reply cannot be queued (say WhatsApp's window closed while workers were
                // down): keep the turn — its tokens were spent — without the reply, which ends
                // the task rather than asking the model again and again.
                let reason = refusal.to_string();
                tracing::warn!(%conversation_id, %reason, "an AI reply could not be queued");
                record(
                    messaging,
                    ctx,
                    conversation_id,
                    vec![Step::Conversation(ConversationCommand::RecordAiTurn {
                        turn: turn.clone(),
                        reply: None,
                    })],
                )
                .await?;
                return Ok(ReplyOutcome::Skipped(reason));
            }
            Err(error) => return Err(error),
        }
    }
}

/// Whether a refused booking failed only because the time is no longer free.
fn slot_gone(refusal: &AppointmentRefusal) -> bool {
    matches!(
        refusal,
        AppointmentRefusal::Taken
            | AppointmentRefusal::Appointment(AppointmentError::StartInPast { .. })
    )
}

/// What a turn says and does besides recording itself.
#[derive(Debug, Clone, Default)]
struct Plan {
    /// The reply's text, if any.
    reply: Option<String>,
    /// Times offered in the reply.
    offer: Vec<SlotOffer>,
    /// The time being booked (with its request and calendar), confirmed by the reply.
    booking: Option<(SlotOffer, BookRequest, CalendarRef)>,
    /// Hand the conversation to a human for this reason.
    handoff: Option<&'static str>,
}

impl Plan {
    fn reply(text: Option<String>) -> Self {
        Self {
            reply: text,
            ..Self::default()
        }
    }
}

/// Offers the free times, or says there are none and hands the conversation to a human.
async fn offer_plan(
    messaging: &Messaging,
    ctx: &CommandContext,
    context: &TurnContext<'_>,
    intro: &str,
) -> StepResult<Plan> {
    let Some(workflow_id) = context.workflow_id else {
        return Ok(Plan::reply(
            Some(intro.to_owned()).filter(|t| !t.is_empty()),
        ));
    };
    let free = booking::offers(
        messaging,
        ctx.tenant_id,
        workflow_id,
        context.zone,
        ctx.issued_at,
    )
    .await?;
    if free.unknown.is_some() {
        return Ok(Plan {
            reply: Some(booking::calendar_unavailable_text(
                context.lead.first_name(),
                context.brand_name,
            )),
            handoff: Some(booking::CALENDAR_UNAVAILABLE),
            ..Plan::default()
        });
    }
    let offer = free.offer;
    if offer.is_empty() {
        return Ok(Plan {
            reply: Some(booking::no_availability_text(
                context.lead.first_name(),
                context.brand_name,
            )),
            handoff: Some(booking::NO_AVAILABILITY),
            ..Plan::default()
        });
    }
    // A long model reply with the times appended may not fit one message: then the times go
    // with the standard opening.
    let mut text = booking::offer_text(intro, &offer, context.zone);
    if MessageContent::text(&text).is_err() {
        let intro = booking::booking_intro(context.lead.first_name());
        text = booking::offer_text(&intro, &offer, context.zone);
    }
    Ok(Plan {
        reply: Some(text),
        offer,
        ..Plan::default()
    })
}

/// Books `slot` with a confirmation, or offers other times if it is no longer free.
async fn book_plan(
    messaging: &Messaging,
    ctx: &CommandContext,
    context: &TurnContext<'_>,
    slot: SlotOffer,
) -> StepResult<Plan> {
    let Some(workflow_id) = context.workflow_id else {
        return Ok(Plan::default());
    };
    let Some(calendar) =
        booking::still_free(messaging, ctx.tenant_id, workflow_id, &slot, ctx.issued_at).await?
    else {
        let intro = booking::taken_intro(context.lead.first_name(), &slot);
        return offer_plan(messaging, ctx, context, &intro).await;
    };
    let request = BookRequest {
        lead_id: context.lead_id,
        workflow_id,
        start: slot.start,
        notes: String::new(),
    };
    Ok(Plan {
        reply: Some(booking::confirmation_text(
            context.lead.first_name(),
            context.brand_name,
            &slot,
            context.zone,
        )),
        booking: Some((slot, request, calendar)),
        ..Plan::default()
    })
}

/// Records `turn` with `plan` and the other `steps` in one transaction.
async fn record_turn(
    messaging: &Messaging,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    turn: &AiTurn,
    steps: &[Step],
    plan: &Plan,
) -> StepResult<Option<i64>> {
    let reply = plan
        .reply
        .as_deref()
        .and_then(|text| MessageContent::text(text).ok());
    let reply_message_id = reply.as_ref().map(|_| MessageId::new());
    let mut all = vec![Step::Conversation(ConversationCommand::RecordAiTurn {
        turn: AiTurn {
            reply_message_id,
            ..turn.clone()
        },
        reply,
    })];
    all.extend(steps.iter().cloned());
    if let (Some(message_id), false) = (reply_message_id, plan.offer.is_empty()) {
        all.push(Step::Conversation(ConversationCommand::OfferSlots {
            slots: plan.offer.clone(),
            message_id,
            at: ctx.issued_at,
        }));
    }
    if let Some((_, request, calendar)) = &plan.booking {
        all.push(Step::Book(request.clone(), calendar.clone()));
    }
    if let Some(reason) = plan.handoff {
        all.push(Step::Conversation(ConversationCommand::HandOff {
            reason: reason.to_owned(),
            at: ctx.issued_at,
        }));
        all.push(Step::Advance(LeadStatus::HandedOff));
    }
    record(messaging, ctx, conversation_id, all).await
}

/// The tenant's AI budget is spent and stops the AI: the message is left to a person.
async fn budget_exhausted(
    messaging: &Messaging,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    in_reply_to: MessageId,
) -> StepResult<ReplyOutcome> {
    record(
        messaging,
        ctx,
        conversation_id,
        vec![
            Step::Conversation(ConversationCommand::SkipAiReply {
                in_reply_to,
                reason: budget::BUDGET_EXHAUSTED.to_owned(),
            }),
            Step::Conversation(ConversationCommand::HandOff {
                reason: budget::BUDGET_EXHAUSTED.to_owned(),
                at: ctx.issued_at,
            }),
            Step::Advance(LeadStatus::HandedOff),
        ],
    )
    .await?;
    Ok(ReplyOutcome::HandedOff)
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
