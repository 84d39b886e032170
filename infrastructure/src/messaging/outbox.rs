//! One queued message to its provider. The lead's send lock is held (shared) from the last
//! suppression check until the provider has answered and the outcome is recorded, so an opt-out
//! committed before the check stops the send, and one arriving during it waits for the answer.
//! The outcome comes back as a command: sent (with the provider's id, kept for status callbacks),
//! a transient failure (retried with backoff, up to a limit), or a permanent one (never retried;
//! an unsubscribed number opts the lead out, an invalid one marks the lead unreachable).
//!
//! Right before the provider is called, after every check, the send takes a slot of its
//! tenant's and channel's send rate ([`rate_limit`]; over the rate it records nothing and comes
//! back [`SendOutcome::RateLimited`]) and commits a marker of this attempt in `send_attempts`.
//! An attempt whose marker is already there is one that died between the provider's answer and
//! our record of it: the provider may have the message, so it is failed (`outcome_unknown`, an
//! operator may retry it) rather than sent twice. Sends are at most once.

use anyhow::Context;
use application::{CommandContext, OutboundRequest, PermanentFailure, SendError};
use chrono::{DateTime, Utc};
use domain::conversation::{
    Conversation, ConversationCommand, ConversationId, DeliveryStatus, MessageOrigin,
    OutboundMessage,
};
use domain::values::{single_zone_of, MessageId, PhoneNumber, SendingWindow, TenantId, Timezone};
use domain::{Lead, LeadCommand, LeadStatus, Workflow};
use sqlx::PgConnection;

use crate::executor::{CommandError, Existence};
use crate::messaging::rate_limit::{self, Slot};
use crate::messaging::suppression::{self, exec, later, load, StepResult};
use crate::messaging::task_queue::ClaimedTask;
use crate::messaging::{retry_backoff, Messaging};

/// The lead's custom field naming its IANA time zone, which wins over the phone's.
pub const TIMEZONE_FIELD: &str = "timezone";
/// Attempt names (`send_attempts.try`) per requeue: more than any send makes attempts.
const TRIES_PER_REQUEUE: i64 = 1000;

/// What became of a send task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The message was no longer waiting (sent, failed or cancelled already).
    NothingToDo,
    /// Outside the recipient's sending window: it goes out when the window opens.
    Deferred(DateTime<Utc>),
    /// Over the tenant's send rate on the channel: nothing recorded, the message stays queued
    /// and may go from this instant.
    RateLimited(DateTime<Utc>),
    /// Withdrawn: the lead may not be messaged.
    Cancelled(String),
    /// The provider took it.
    Sent,
    /// Will be tried again.
    WillRetry,
    /// Failed for good.
    Failed(String),
    /// The provider refused it for good.
    Refused(Refusal),
}

impl SendOutcome {
    /// Until when the task should stay with its worker before it is tried again: the end of a
    /// rate limit's wait (nothing was recorded, so nothing else would move it); `None` otherwise.
    #[must_use]
    pub const fn hold_until(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::RateLimited(until) => Some(*until),
            _ => None,
        }
    }
}

/// A provider's permanent refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// What kind.
    pub kind: PermanentFailure,
    /// The provider's code.
    pub code: Option<String>,
    /// The provider's message.
    pub error: String,
}

/// Sends the message of a `send` task.
pub async fn run(messaging: &Messaging, task: &ClaimedTask) -> anyhow::Result<SendOutcome> {
    let ctx = messaging.system_ctx(TenantId::from_uuid(task.tenant_id), "outbox");
    let conversation_id: ConversationId = task
        .conversation_id
        .parse()
        .map_err(|error| anyhow::anyhow!("task {}: {error}", task.task_key))?;
    let message_id = MessageId::from_uuid(task.message_id);
    // The connection that records the outcome is taken before the provider is called: once the
    // provider has accepted a message, recording it must not wait for a free connection.
    let mut record_conn = messaging
        .executor
        .pool()
        .acquire()
        .await
        .context("Failed to acquire a connection for a send")?;
    let mut tx = messaging
        .executor
        .pool()
        .begin()
        .await
        .context("Failed to begin a send")?;
    let outcome = send_in(
        messaging,
        &mut tx,
        &mut record_conn,
        &ctx,
        conversation_id,
        message_id,
    )
    .await
    .map_err(|error| anyhow::anyhow!("send {message_id}: {error:#}"))?;
    tx.commit().await.context("Failed to end a send")?;
    // Marking the lead may take its send lock exclusively: only after ours is released.
    if let SendOutcome::Refused(refusal) = &outcome {
        mark_lead(messaging, &ctx, conversation_id, refusal)
            .await
            .map_err(|error| anyhow::anyhow!("mark the lead of {message_id}: {error:#}"))?;
    }
    Ok(outcome)
}

async fn send_in(
    messaging: &Messaging,
    lock_tx: &mut PgConnection,
    record_conn: &mut PgConnection,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    message_id: MessageId,
) -> StepResult<SendOutcome> {
    let lead_id = conversation_id.lead_id();
    if !claim_message(lock_tx, message_id).await? {
        // Another worker is sending this very message (its lease ran out meanwhile).
        return Ok(SendOutcome::NothingToDo);
    }
    suppression::lock_for_send(lock_tx, lead_id).await?;
    let lead: Lead = load(lock_tx, ctx, &lead_id.to_string()).await?;
    let conversation: Conversation = load(lock_tx, ctx, &conversation_id.to_string()).await?;
    let Some(message) = conversation.outbound(message_id) else {
        return Ok(SendOutcome::NothingToDo);
    };
    if message.status != DeliveryStatus::Queued {
        return Ok(SendOutcome::NothingToDo);
    }
    let origin = message.origin;
    let mut refused = refusal(&lead, origin);
    if refused.is_none() && matches!(origin, MessageOrigin::Outreach | MessageOrigin::FollowUp) {
        refused = engagement_over(lock_tx, ctx, &lead, &conversation, message_id).await?;
    }
    if let Some(reason) = refused {
        record(messaging, record_conn, ctx, conversation_id, {
            ConversationCommand::CancelMessage {
                message_id,
                reason: reason.to_owned(),
                at: ctx.issued_at,
            }
        })
        .await?;
        return Ok(SendOutcome::Cancelled(reason.to_owned()));
    }
    let Some(phone) = lead.phone().cloned().filter(|_| !lead.is_unreachable()) else {
        let reason = if lead.phone().is_none() {
            "no_phone"
        } else {
            "unreachable"
        };
        record(
            messaging,
            record_conn,
            ctx,
            conversation_id,
            ConversationCommand::RecordFailed {
                message_id,
                code: None,
                error: "the lead has no reachable phone number".to_owned(),
                reason: reason.to_owned(),
                failed_at: ctx.issued_at,
            },
        )
        .await?;
        return Ok(SendOutcome::Failed(reason.to_owned()));
    };
    if matches!(origin, MessageOrigin::Outreach | MessageOrigin::FollowUp) {
        let window = sending_window(messaging, lock_tx, ctx, &lead, &phone).await?;
        if !window.is_open(ctx.issued_at) {
            let (command, outcome) = match window.next_opening(ctx.issued_at) {
                Some(until) => (
                    ConversationCommand::DeferSend { message_id, until },
                    SendOutcome::Deferred(until),
                ),
                None => (
                    ConversationCommand::RecordFailed {
                        message_id,
                        code: None,
                        error: "the business hours and the recipient's allowed hours never overlap"
                            .to_owned(),
                        reason: "no_sending_window".to_owned(),
                        failed_at: ctx.issued_at,
                    },
                    SendOutcome::Failed("no_sending_window".to_owned()),
                ),
            };
            record(messaging, record_conn, ctx, conversation_id, command).await?;
            return Ok(outcome);
        }
    }
    let channel = conversation_id.channel();
    let adapter = messaging
        .channels
        .channel_for(ctx.tenant_id, channel)
        .await
        .map_err(CommandError::Database)?;
    let adapter = match adapter {
        Ok(adapter) => adapter,
        Err(why) => {
            record(
                messaging,
                record_conn,
                ctx,
                conversation_id,
                ConversationCommand::RecordFailed {
                    message_id,
                    code: None,
                    error: why,
                    reason: PermanentFailure::Refused.as_str().to_owned(),
                    failed_at: ctx.issued_at,
                },
            )
            .await?;
            return Ok(SendOutcome::Failed("no provider".to_owned()));
        }
    };
    let request = OutboundRequest {
        tenant_id: ctx.tenant_id,
        message_id,
        channel,
        to: phone,
        content: message.content.clone(),
        status_callback: messaging.settings.public_url.as_ref().map(|base| {
            format!(
                "{}/webhooks/twilio/{}/status",
                base.trim_end_matches('/'),
                ctx.tenant_id
            )
        }),
    };
    let slot = rate_limit::take(
        &mut *record_conn,
        ctx.tenant_id,
        channel,
        messaging.settings.send_rate_per_second,
        ctx.issued_at,
    )
    .await
    .map_err(CommandError::Database)?;
    if let Slot::Refused(until) = slot {
        return Ok(SendOutcome::RateLimited(until));
    }
    if !mark_attempt(record_conn, message_id, message, ctx.issued_at).await? {
        record(
            messaging,
            record_conn,
            ctx,
            conversation_id,
            ConversationCommand::RecordFailed {
                message_id,
                code: None,
                error: "a previous attempt may have reached the provider; not sent again"
                    .to_owned(),
                reason: "outcome_unknown".to_owned(),
                failed_at: ctx.issued_at,
            },
        )
        .await?;
        return Ok(SendOutcome::Failed("outcome_unknown".to_owned()));
    }
    let attempts = message.failed_attempts;
    match adapter.send(&request).await {
        Ok(receipt) => {
            record_sent(
                messaging,
                record_conn,
                ctx,
                conversation_id,
                message_id,
                origin,
                receipt,
            )
            .await?;
            Ok(SendOutcome::Sent)
        }
        Err(SendError::Transient {
            code,
            message,
            retry_after,
        }) => {
            let attempt = attempts + 1;
            if attempt >= messaging.settings.max_send_attempts {
                record(
                    messaging,
                    record_conn,
                    ctx,
                    conversation_id,
                    ConversationCommand::RecordFailed {
                        message_id,
                        code,
                        error: message,
                        reason: "gave_up".to_owned(),
                        failed_at: ctx.issued_at,
                    },
                )
                .await?;
                return Ok(SendOutcome::Failed("gave_up".to_owned()));
            }
            let wait = retry_backoff(attempt).max(
                retry_after
                    .and_then(|d| chrono::Duration::from_std(d).ok())
                    .unwrap_or_default(),
            );
            record(messaging, record_conn, ctx, conversation_id, {
                ConversationCommand::RecordSendAttemptFailed {
                    message_id,
                    code,
                    error: message,
                    retry_at: ctx.issued_at + wait,
                }
            })
            .await?;
            Ok(SendOutcome::WillRetry)
        }
        Err(SendError::Permanent {
            kind,
            code,
            message,
        }) => {
            let refusal = Refusal {
                kind,
                code,
                error: message,
            };
            let failed = refusal.clone();
            record(messaging, record_conn, ctx, conversation_id, {
                ConversationCommand::RecordFailed {
                    message_id,
                    code: failed.code.clone(),
                    error: failed.error.clone(),
                    reason: failed.kind.as_str().to_owned(),
                    failed_at: ctx.issued_at,
                }
            })
            .await?;
            Ok(SendOutcome::Refused(refusal))
        }
    }
}

/// Commits (autocommit on `conn`) the marker of this attempt at `message`: `false` when it was
/// already there, i.e. an earlier attempt of the same name never recorded its outcome.
/// The attempt's name is `requeues * 1000 + failed_attempts`: each recorded failure and each
/// operator retry moves it on.
async fn mark_attempt(
    conn: &mut PgConnection,
    message_id: MessageId,
    message: &OutboundMessage,
    at: DateTime<Utc>,
) -> StepResult<bool> {
    let name = i64::from(message.requeues) * TRIES_PER_REQUEUE + i64::from(message.failed_attempts);
    let name = i32::try_from(name).map_err(|_| {
        CommandError::Database(anyhow::anyhow!(
            "message {message_id}: attempt {name} is out of range"
        ))
    })?;
    let inserted = sqlx::query(
        "INSERT INTO send_attempts (message_id, try, started_at) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(message_id.as_uuid())
    .bind(name)
    .bind(at)
    .execute(conn)
    .await
    .map_err(|error| CommandError::Database(error.into()))?
    .rows_affected();
    Ok(inserted == 1)
}

/// When outreach and follow-ups may reach this lead: the workflow's business hours (else the
/// tenant's) in the tenant's zone, within the tenant's allowed hours in the lead's zone (see
/// [`recipient_zone`]).
pub(crate) async fn sending_window(
    messaging: &Messaging,
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead: &Lead,
    phone: &PhoneNumber,
) -> StepResult<SendingWindow> {
    let tenant = messaging
        .tenants
        .get(ctx.tenant_id)
        .await
        .map_err(CommandError::Database)?
        .ok_or(CommandError::NotFound)?;
    let mut business_hours = tenant.business_hours;
    if let Some(workflow_id) = lead.workflow_id() {
        let workflow: Workflow = load(conn, ctx, &workflow_id.to_string()).await?;
        if let Some(hours) = workflow.definition().and_then(|d| d.business_hours) {
            business_hours = hours;
        }
    }
    Ok(SendingWindow::new(
        business_hours,
        tenant.timezone,
        tenant.quiet_hours,
        recipient_zone(lead, phone, tenant.timezone),
    ))
}

/// Where the lead is: its custom field `timezone` when that holds an IANA name, else the zone of
/// the phone's country when the country keeps one, else `fallback` (the tenant's).
#[must_use]
pub fn recipient_zone(lead: &Lead, phone: &PhoneNumber, fallback: Timezone) -> Timezone {
    lead.custom_fields()
        .get(TIMEZONE_FIELD)
        .and_then(serde_json::Value::as_str)
        .and_then(|name| Timezone::parse(name).ok())
        .or_else(|| phone.region().and_then(|country| single_zone_of(&country)))
        .unwrap_or(fallback)
}

/// Takes the message's own lock for this transaction, if no one else holds it.
async fn claim_message(conn: &mut PgConnection, message_id: MessageId) -> StepResult<bool> {
    sqlx::query_scalar("SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("send:{message_id}"))
        .fetch_one(conn)
        .await
        .map_err(|error| CommandError::Database(error.into()))
}

/// Why an outreach or follow-up waiting in the outbox (for its window, a retry, the rate limit)
/// must not go any more, if so: the lead answered or moved on, a human took the conversation, or
/// the workflow was paused or archived meanwhile. Timers stop planning such steps; this stops
/// the ones already queued.
async fn engagement_over(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead: &Lead,
    conversation: &Conversation,
    message_id: MessageId,
) -> StepResult<Option<&'static str>> {
    if !matches!(lead.status(), LeadStatus::Pending | LeadStatus::Contacted) {
        return Ok(Some("lead_moved_on"));
    }
    if conversation.is_handed_off() {
        return Ok(Some("handed_off"));
    }
    let queued_at = conversation
        .transcript()
        .iter()
        .find(|line| line.message_id == message_id)
        .map(|line| line.at);
    if let (Some(queued_at), Some(replied_at)) = (queued_at, conversation.last_inbound_at()) {
        if replied_at > queued_at {
            return Ok(Some("replied"));
        }
    }
    let active = match lead.workflow_id() {
        Some(id) => load::<Workflow>(conn, ctx, &id.to_string())
            .await?
            .is_active(),
        None => false,
    };
    Ok((!active).then_some("workflow_not_active"))
}

/// Why `lead` may not receive a message of `origin`, if it may not.
fn refusal(lead: &Lead, origin: MessageOrigin) -> Option<&'static str> {
    if lead.is_opted_out() && !origin.allowed_after_opt_out() {
        Some("opted_out")
    } else if lead.is_archived() && origin != MessageOrigin::Operator {
        Some("archived")
    } else {
        None
    }
}

/// Runs one conversation command in its own (retried) transaction on `conn`.
async fn record(
    messaging: &Messaging,
    conn: &mut PgConnection,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    command: ConversationCommand,
) -> StepResult<Option<i64>> {
    let id = conversation_id.to_string();
    messaging
        .executor
        .in_transaction_on(conn, |conn| {
            let command = command.clone();
            let id = id.clone();
            let ctx = ctx.clone();
            Box::pin(async move {
                let ctx = &ctx;
                let (_, at) =
                    exec::<Conversation>(conn, ctx, &id, Existence::MustExist, command).await?;
                Ok(at)
            })
        })
        .await
}

/// Records the send, remembers the provider's id for callbacks, and moves a pending lead to
/// `contacted` when this was its outreach.
#[allow(clippy::too_many_arguments)]
async fn record_sent(
    messaging: &Messaging,
    conn: &mut PgConnection,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    message_id: MessageId,
    origin: MessageOrigin,
    receipt: application::SendReceipt,
) -> StepResult<Option<i64>> {
    let id = conversation_id.to_string();
    messaging
        .executor
        .in_transaction_on(conn, |conn| {
            let id = id.clone();
            let receipt = receipt.clone();
            let ctx = ctx.clone();
            Box::pin(async move {
                let ctx = &ctx;
                let (_, mut position) = exec::<Conversation>(
                    conn,
                    ctx,
                    &id,
                    Existence::MustExist,
                    ConversationCommand::RecordSent {
                        message_id,
                        provider: receipt.provider.to_owned(),
                        provider_message_id: receipt.provider_message_id.clone(),
                        sent_at: ctx.issued_at,
                    },
                )
                .await?;
                if position.is_none() {
                    return Ok(None);
                }
                remember_provider_id(conn, ctx, &id, message_id, &receipt).await?;
                if receipt.delivered {
                    let (_, at) = exec::<Conversation>(
                        conn,
                        ctx,
                        &id,
                        Existence::MustExist,
                        ConversationCommand::RecordDeliveryStatus {
                            message_id,
                            status: DeliveryStatus::Delivered,
                            at: ctx.issued_at,
                            error_code: None,
                        },
                    )
                    .await?;
                    position = later(position, at);
                }
                if matches!(origin, MessageOrigin::Outreach | MessageOrigin::FollowUp) {
                    let lead_id = conversation_id.lead_id().to_string();
                    let lead: Lead = load(conn, ctx, &lead_id).await?;
                    if lead.status() == LeadStatus::Pending {
                        let (_, at) = exec::<Lead>(
                            conn,
                            ctx,
                            &lead_id,
                            Existence::MustExist,
                            LeadCommand::AdvanceStatus {
                                to: LeadStatus::Contacted,
                            },
                        )
                        .await?;
                        position = later(position, at);
                    }
                }
                Ok(position)
            })
        })
        .await
}

async fn remember_provider_id(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    conversation_id: &str,
    message_id: MessageId,
    receipt: &application::SendReceipt,
) -> StepResult<()> {
    sqlx::query(
        "INSERT INTO provider_messages \
           (provider, provider_message_id, tenant_id, conversation_id, message_id) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
    )
    .bind(receipt.provider)
    .bind(&receipt.provider_message_id)
    .bind(ctx.tenant_id.as_uuid())
    .bind(conversation_id)
    .bind(message_id.as_uuid())
    .execute(conn)
    .await
    .map_err(|error| CommandError::Database(error.into()))?;
    Ok(())
}

/// Marks the lead after a permanent refusal about it: an unsubscribed number opts the lead out
/// (cancelling everything queued), an invalid one makes it unreachable.
async fn mark_lead(
    messaging: &Messaging,
    ctx: &CommandContext,
    conversation_id: ConversationId,
    refusal: &Refusal,
) -> StepResult<Option<i64>> {
    let lead_id = conversation_id.lead_id();
    let code = refusal.code.as_deref().unwrap_or("no code");
    match refusal.kind {
        PermanentFailure::Unsubscribed => {
            let reason = format!("the provider reports the number unsubscribed ({code})");
            messaging
                .executor
                .in_transaction(|conn| {
                    let reason = reason.clone();
                    let ctx = ctx.clone();
                    Box::pin(async move {
                        let ctx = &ctx;
                        suppression::opt_out_in(conn, ctx, lead_id, &reason, None).await
                    })
                })
                .await
        }
        PermanentFailure::InvalidNumber => {
            let reason = format!("{} ({code})", refusal.error);
            messaging
                .executor
                .in_transaction(|conn| {
                    let reason = reason.clone();
                    let ctx = ctx.clone();
                    Box::pin(async move {
                        let ctx = &ctx;
                        let (_, at) = exec::<Lead>(
                            conn,
                            ctx,
                            &lead_id.to_string(),
                            Existence::MustExist,
                            LeadCommand::MarkUnreachable { reason },
                        )
                        .await?;
                        Ok(at)
                    })
                })
                .await
        }
        PermanentFailure::WindowClosed | PermanentFailure::Blocked | PermanentFailure::Refused => {
            Ok(None)
        }
    }
}
