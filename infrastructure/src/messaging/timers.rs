//! Running a timer of the timers projection: a lead's outreach, next follow-up, or the check that
//! marks a silent lead unresponsive. The timer only says *which step* is due; everything is
//! checked again against the aggregates when it runs, under the lead's send lock — the step must
//! still be the lead's next one (the outreach, once, and the follow-ups queued so far make the
//! step's number, none still in the outbox), the workflow active, the lead pending or contacted, not
//! archived, not opted out, reachable, not handed to a human. A timer that is no longer current
//! does nothing, so a timer run twice, or by two dispatchers, acts once (the conversation's
//! version makes the second writer retry and find the step done).
//!
//! A message step found far later than planned (after an outage) is re-planned — spread over the
//! next minutes — rather than sent in a burst; one due outside the recipient's sending window
//! waits for its next opening. Both are recorded on the lead (`LeadEngagementDeferred`), which
//! moves the timer.

use application::CommandContext;
use chrono::{DateTime, Duration, Utc};
use domain::conversation::{
    Conversation, ConversationId, DeliveryStatus, MessageContent, MessageOrigin,
};
use domain::lead::steps_taken;
use domain::values::{LeadId, TenantId};
use domain::{
    Channel, DeferralReason, FollowUpMessage, Lead, LeadCommand, LeadStatus, Workflow,
    WorkflowDefinition,
};
use sqlx::PgConnection;

use crate::executor::{CommandError, Existence};
use crate::messaging::ai_follow_up::{self, WrittenFollowUp};
use crate::messaging::outbound::{queue_in, render};
use crate::messaging::outbox::sending_window;
use crate::messaging::suppression::{exec, load, lock_engagement, lock_for_send, StepResult};
use crate::messaging::task_queue::ClaimedTask;
use crate::messaging::Messaging;

/// What became of a timer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimerOutcome {
    /// The step is no longer due (done already, or the lead may not be engaged): why.
    NothingToDo(&'static str),
    /// The step waits until then.
    Deferred(DateTime<Utc>, DeferralReason),
    /// The message was queued.
    Queued,
    /// The lead is now unresponsive.
    MarkedUnresponsive,
    /// The step can never be sent as it is (why): passed over.
    Skipped(&'static str),
}

/// What a due step does, once checked.
#[derive(Debug, Clone)]
enum Step {
    /// Queue the outreach or follow-up `number` (0: outreach) from `message`.
    Send { number: u32, message: StepMessage },
    /// Mark the lead unresponsive.
    Unresponsive,
}

/// What a message step says.
#[derive(Debug, Clone)]
enum StepMessage {
    Template(domain::values::MessageTemplate, &'static str),
    Ai { of: u32 },
}

/// The state a due step is checked against.
struct Checked {
    lead: Lead,
    definition: WorkflowDefinition,
    conversation: Conversation,
    step: Step,
    /// Why the step's message could never be accepted now, if so.
    blocked: Option<&'static str>,
}

/// Runs a timer task.
pub async fn run(messaging: &Messaging, task: &ClaimedTask) -> anyhow::Result<TimerOutcome> {
    let ctx = messaging.system_ctx(TenantId::from_uuid(task.tenant_id), "timers");
    let conversation_id: ConversationId = task
        .conversation_id
        .parse()
        .map_err(|error| anyhow::anyhow!("timer {}: {error}", task.task_key))?;
    let step = u32::try_from(task.attempt).unwrap_or_default();
    let may_be_written_by_ai = task.kind == "follow_up";
    run_step(
        messaging,
        &ctx,
        conversation_id,
        step,
        task.due_at,
        may_be_written_by_ai,
    )
    .await
    .map_err(|error| anyhow::anyhow!("timer {}: {error:#}", task.task_key))
}

async fn run_step(
    messaging: &Messaging,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    step: u32,
    due_at: DateTime<Utc>,
    may_be_written_by_ai: bool,
) -> StepResult<TimerOutcome> {
    // A message the AI writes is written before the transaction (a model may take seconds), only
    // when the step is due and may go out now, and used only if it still is once the lead is
    // locked.
    let written = if may_be_written_by_ai {
        let mut conn = messaging
            .executor
            .pool()
            .acquire()
            .await
            .map_err(|error| CommandError::Database(error.into()))?;
        let checked = match check(&mut conn, ctx, conversation_id, step).await? {
            Ok(checked) => checked,
            Err(why) => return Ok(TimerOutcome::NothingToDo(why)),
        };
        match &checked.step {
            Step::Send {
                number,
                message: StepMessage::Ai { of },
            } if checked.blocked.is_none()
                && timing(
                    messaging,
                    &mut conn,
                    ctx,
                    &checked.lead,
                    conversation_id.lead_id(),
                    due_at,
                )
                .await?
                    == Timing::Now =>
            {
                drop(conn);
                Some(
                    ai_follow_up::write(
                        messaging,
                        ctx,
                        &checked.lead,
                        &checked.definition,
                        &checked.conversation,
                        *number,
                        *of,
                    )
                    .await?,
                )
            }
            _ => None,
        }
    } else {
        None
    };
    messaging
        .executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            let written = written.clone();
            let messaging = messaging.clone();
            Box::pin(async move {
                run_in(
                    &messaging,
                    conn,
                    &ctx,
                    conversation_id,
                    step,
                    due_at,
                    written,
                )
                .await
            })
        })
        .await
}

async fn run_in(
    messaging: &Messaging,
    conn: &mut PgConnection,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    step: u32,
    due_at: DateTime<Utc>,
    written: Option<WrittenFollowUp>,
) -> StepResult<TimerOutcome> {
    let lead_id = conversation_id.lead_id();
    lock_for_send(conn, lead_id).await?;
    lock_engagement(conn, lead_id).await?;
    let checked = match check(conn, ctx, conversation_id, step).await? {
        Ok(checked) => checked,
        Err(why) => return Ok(TimerOutcome::NothingToDo(why)),
    };
    let (number, message) = match checked.step {
        Step::Unresponsive => {
            exec::<Lead>(
                conn,
                ctx,
                &lead_id.to_string(),
                Existence::MustExist,
                LeadCommand::AdvanceStatus {
                    to: LeadStatus::Unresponsive,
                },
            )
            .await?;
            return Ok(TimerOutcome::MarkedUnresponsive);
        }
        Step::Send { number, message } => (number, message),
    };
    let lead = &checked.lead;
    if let Some(why) = checked.blocked {
        return skip(conn, ctx, lead_id, step, why).await;
    }
    match timing(messaging, conn, ctx, lead, lead_id, due_at).await? {
        Timing::Now => {}
        Timing::Never => return skip(conn, ctx, lead_id, step, "no_sending_window").await,
        Timing::Wait(until, reason) => {
            exec::<Lead>(
                conn,
                ctx,
                &lead_id.to_string(),
                Existence::MustExist,
                LeadCommand::DeferEngagement {
                    step,
                    until,
                    reason,
                },
            )
            .await?;
            return Ok(TimerOutcome::Deferred(until, reason));
        }
    }
    let origin = if number == 0 {
        MessageOrigin::Outreach
    } else {
        MessageOrigin::FollowUp
    };
    let channel = checked.definition.channel;
    let (content, written): (MessageContent, _) = match (message, written) {
        (StepMessage::Template(template, field), _) => {
            let brand = brand_name(messaging, ctx).await?;
            match render(&template, lead, &brand, field) {
                Ok(content) => (content, None),
                // The merge fields made it empty or too long: it can never be sent as it is.
                Err(CommandError::InvalidReference { .. }) => {
                    return skip(conn, ctx, lead_id, step, "invalid_message").await
                }
                Err(error) => return Err(error),
            }
        }
        (StepMessage::Ai { .. }, Some(written)) => (written.content.clone(), Some(written)),
        // It could not go out when the AI would have written it: written on the next run.
        (StepMessage::Ai { .. }, None) => return Ok(TimerOutcome::NothingToDo("not_written")),
    };
    let queued = match queue_in(conn, ctx, lead_id, channel, content, origin).await {
        Ok(queued) => queued,
        // The conversation refuses it (nothing was written): pass the step over, not retry
        // it forever.
        Err(CommandError::Rejected(_)) => {
            return skip(conn, ctx, lead_id, step, "refused").await;
        }
        Err(error) => return Err(error),
    };
    if let Some(written) = written {
        ai_follow_up::record(
            conn,
            ctx,
            ConversationId::new(lead_id, channel),
            queued.message_id,
            &written,
        )
        .await?;
    }
    Ok(TimerOutcome::Queued)
}

/// Checks that `step` is the lead's due step and what it does, or says why not.
async fn check(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    step: u32,
) -> StepResult<Result<Checked, &'static str>> {
    let lead_id = conversation_id.lead_id();
    let now = ctx.issued_at;
    let lead: Lead = load(conn, ctx, &lead_id.to_string()).await?;
    let refusal = if !lead.is_captured() {
        Some("no_lead")
    } else if lead.is_archived() {
        Some("archived")
    } else if lead.is_opted_out() {
        Some("opted_out")
    } else if !matches!(lead.status(), LeadStatus::Pending | LeadStatus::Contacted) {
        Some("status")
    } else if lead.phone().is_none() || lead.is_unreachable() {
        Some("unreachable")
    } else {
        None
    };
    if let Some(why) = refusal {
        return Ok(Err(why));
    }
    let Some(workflow_id) = lead.workflow_id() else {
        return Ok(Err("no_workflow"));
    };
    let workflow: Workflow = load(conn, ctx, &workflow_id.to_string()).await?;
    let Some(definition) = workflow
        .definition()
        .filter(|_| workflow.is_active())
        .cloned()
    else {
        return Ok(Err("workflow_not_active"));
    };
    let mut outreach = false;
    let mut follow_ups = 0u32;
    let mut in_flight = false;
    let mut handed_off = false;
    let mut conversation = Conversation::default();
    for channel in Channel::ALL {
        let thread: Conversation = load(
            conn,
            ctx,
            &ConversationId::new(lead_id, channel).to_string(),
        )
        .await?;
        for message in thread.outbound_messages() {
            match message.origin {
                MessageOrigin::Outreach => outreach = true,
                MessageOrigin::FollowUp => follow_ups += 1,
                _ => continue,
            }
            in_flight |= message.status == DeliveryStatus::Queued;
        }
        handed_off |= thread.is_handed_off();
        if channel == definition.channel {
            conversation = thread;
        }
    }
    if handed_off {
        return Ok(Err("handed_off"));
    }
    let skipped: Vec<u32> = lead.skipped_engagement_steps().iter().copied().collect();
    let engaged = steps_taken(
        outreach,
        usize::try_from(follow_ups).unwrap_or(usize::MAX),
        &skipped,
    );
    if in_flight || engaged != step {
        return Ok(Err("not_current"));
    }
    let plan = definition.follow_up_plan();
    let of = u32::try_from(plan.len()).unwrap_or(u32::MAX);
    let step = match step.checked_sub(1) {
        None if lead.status() == LeadStatus::Pending => Step::Send {
            number: 0,
            message: StepMessage::Template(definition.initial_message.clone(), "initial_message"),
        },
        None => return Ok(Err("not_current")),
        Some(done) => match plan.get(usize::try_from(done).unwrap_or(usize::MAX)) {
            Some(follow_up) => Step::Send {
                number: step,
                message: match &follow_up.message {
                    FollowUpMessage::Template(template) => {
                        StepMessage::Template(template.clone(), "follow_up_steps")
                    }
                    FollowUpMessage::Ai => StepMessage::Ai { of },
                },
            },
            None if lead.status() == LeadStatus::Contacted => Step::Unresponsive,
            None => return Ok(Err("not_current")),
        },
    };
    // WhatsApp takes free text only within 24 hours of the lead's last message; outreach and
    // follow-ups are written as free text.
    let blocked = (definition.channel == Channel::Whatsapp
        && matches!(step, Step::Send { .. })
        && !conversation.window_open(now))
    .then_some("whatsapp_window_closed");
    Ok(Ok(Checked {
        lead,
        definition,
        conversation,
        step,
        blocked,
    }))
}

/// Whether a message step may go now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timing {
    /// Now.
    Now,
    /// Not before then.
    Wait(DateTime<Utc>, DeferralReason),
    /// Never: the business hours and the recipient's allowed hours do not overlap.
    Never,
}

/// Whether a message step due at `due_at` may go now: re-planned when found later than the grace
/// (spread by lead so an outage's backlog does not go out at once — also when it must wait for
/// the window to open), or held for the next opening of the sending window.
async fn timing(
    messaging: &Messaging,
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead: &Lead,
    lead_id: LeadId,
    due_at: DateTime<Utc>,
) -> StepResult<Timing> {
    let Some(phone) = lead.phone() else {
        return Ok(Timing::Never);
    };
    let now = ctx.issued_at;
    let window = sending_window(messaging, conn, ctx, lead, phone).await?;
    let settings = &messaging.settings;
    let overdue = now - due_at > settings.overdue_grace;
    let opening = if window.is_open(now) {
        now
    } else {
        match window.next_opening(now) {
            Some(opening) => opening,
            None => return Ok(Timing::Never),
        }
    };
    if overdue {
        let until = opening + spread(lead_id, settings.overdue_spread);
        let until = if window.is_open(until) {
            until
        } else {
            window.next_opening(until).unwrap_or(until)
        };
        return Ok(Timing::Wait(until, DeferralReason::Overdue));
    }
    Ok(if opening == now {
        Timing::Now
    } else {
        Timing::Wait(opening, DeferralReason::OutsideWindow)
    })
}

/// Passes over a step that cannot be sent (recorded on the lead, so the plan moves on).
async fn skip(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead_id: LeadId,
    step: u32,
    why: &'static str,
) -> StepResult<TimerOutcome> {
    exec::<Lead>(
        conn,
        ctx,
        &lead_id.to_string(),
        Existence::MustExist,
        LeadCommand::SkipEngagement {
            step,
            reason: why.to_owned(),
        },
    )
    .await?;
    Ok(TimerOutcome::Skipped(why))
}

/// A lead's place within `spread`: the same lead always lands on the same second.
fn spread(lead_id: LeadId, spread: Duration) -> Duration {
    let seconds = u128::try_from(spread.num_seconds().max(1)).unwrap_or(1);
    let offset = lead_id.as_uuid().as_u128() % seconds;
    Duration::seconds(i64::try_from(offset).unwrap_or_default() + 1)
}

async fn brand_name(messaging: &Messaging, ctx: &CommandContext) -> StepResult<String> {
    Ok(messaging
        .tenants
        .get(ctx.tenant_id)
        .await
        .map_err(CommandError::Database)?
        .ok_or(CommandError::NotFound)?
        .brand_name)
}
