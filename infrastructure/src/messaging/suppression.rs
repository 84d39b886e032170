//! Opt-out is the one rule that must never bend: once a lead's opt-out is committed, not one
//! message reaches a provider for that lead. Sends take a shared per-lead advisory lock from
//! their last suppression check until the provider has answered; an opt-out takes the same lock
//! exclusively. So an opt-out waits for sends already at the provider, and every send that checks
//! after it sees it. Both locks are transaction-scoped: a crash releases them.
//!
//! The exclusive lock must be the first thing an opt-out transaction takes, before it writes any
//! event: a send holding the shared lock records its outcome on the conversation in a second
//! transaction, and would otherwise wait on the opt-out's uncommitted event while the opt-out
//! waits on its lock — a cycle PostgreSQL cannot see, since it spans two of the sender's sessions.

use domain::conversation::{Conversation, ConversationCommand, ConversationId, MessageOrigin};
use domain::values::LeadId;
use domain::{Channel, Lead, LeadCommand, Workflow, WorkflowDefinition};
use sqlx::PgConnection;

use application::CommandContext;

use crate::event_store;
use crate::executor::{execute_in, CommandError, Existence};
use crate::messaging::MessagingError;

/// Result of a messaging step inside a transaction.
pub type StepResult<T> = Result<T, CommandError<MessagingError>>;

/// Takes the lead's send lock in shared mode, until the transaction ends.
pub async fn lock_for_send(conn: &mut PgConnection, lead: LeadId) -> StepResult<()> {
    lock(conn, lead, "pg_advisory_xact_lock_shared").await
}

/// Takes the lead's send lock exclusively, until the transaction ends: waits for sends in
/// flight.
pub async fn lock_for_opt_out(conn: &mut PgConnection, lead: LeadId) -> StepResult<()> {
    lock(conn, lead, "pg_advisory_xact_lock").await
}

/// Takes the send locks of many leads exclusively (bulk opt-out), in id order so that two bulk
/// opt-outs over overlapping leads cannot deadlock.
pub async fn lock_many_for_opt_out(
    conn: &mut PgConnection,
    leads: &[uuid::Uuid],
) -> anyhow::Result<()> {
    sqlx::query(
        "SELECT count(pg_advisory_xact_lock(hashtextextended('suppression:' || l::text, 0))) \
         FROM (SELECT l FROM UNNEST($1::uuid[]) AS l ORDER BY l) AS sorted",
    )
    .bind(leads)
    .execute(conn)
    .await
    .map_err(anyhow::Error::from)?;
    Ok(())
}

/// Takes the lead's engagement lock exclusively, until the transaction ends: whoever queues the
/// lead's outreach or a follow-up (a timer, an operator, a bulk job) checks what was already
/// queued and queues in one critical section, so two of them never both find the step undone.
/// Take it after the send lock, never before.
pub async fn lock_engagement(conn: &mut PgConnection, lead: LeadId) -> StepResult<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))")
        .bind(format!("engagement:{lead}"))
        .execute(conn)
        .await
        .map_err(|error| CommandError::Database(error.into()))?;
    Ok(())
}

async fn lock(conn: &mut PgConnection, lead: LeadId, function: &str) -> StepResult<()> {
    sqlx::query(&format!("SELECT {function}(hashtextextended($1, 0))"))
        .bind(format!("suppression:{lead}"))
        .execute(conn)
        .await
        .map_err(|error| CommandError::Database(error.into()))?;
    Ok(())
}

/// Runs `command` on aggregate `A` inside the caller's transaction, with the refusal lifted
/// into [`MessagingError`]; returns the position written, if any.
pub async fn exec<A>(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    id: &str,
    existence: Existence,
    command: A::Command,
) -> StepResult<(A, Option<i64>)>
where
    A: cqrs_es::Aggregate<Services = ()>,
    MessagingError: From<A::Error>,
{
    let committed = execute_in::<A>(conn, ctx, id, existence, command)
        .await
        .map_err(|error| error.map_rejection(MessagingError::from))?;
    Ok((committed.aggregate, committed.position))
}

/// Loads aggregate `A` (default state if it has no events) in the caller's transaction.
pub async fn load<A: cqrs_es::Aggregate>(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    id: &str,
) -> StepResult<A> {
    Ok(event_store::load::<A>(conn, ctx.tenant_id.as_uuid(), id)
        .await?
        .aggregate)
}

/// The highest of two optional positions.
#[must_use]
pub fn later(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    a.max(b)
}

/// The workflow's opt-out confirmation, or the default one.
pub async fn opt_out_text(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead: &Lead,
) -> StepResult<String> {
    let Some(workflow_id) = lead.workflow_id() else {
        return Ok(WorkflowDefinition::DEFAULT_OPT_OUT_MESSAGE.to_owned());
    };
    let workflow: Workflow = load(conn, ctx, &workflow_id.to_string()).await?;
    Ok(workflow.definition().map_or_else(
        || WorkflowDefinition::DEFAULT_OPT_OUT_MESSAGE.to_owned(),
        |definition| definition.opt_out_message.clone(),
    ))
}

/// Opts the lead out inside the caller's transaction: waits for sends in flight, records the
/// opt-out (if not already), cancels every queued message and expected AI reply on every
/// channel, and — only when this call opted the lead out — queues the one confirmation on
/// `confirm_on`.
pub async fn opt_out_in(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    lead_id: LeadId,
    reason: &str,
    confirm_on: Option<Channel>,
) -> StepResult<Option<i64>> {
    lock_for_opt_out(conn, lead_id).await?;
    let lead: Lead = load(conn, ctx, &lead_id.to_string()).await?;
    let mut position = None;
    let newly = !lead.is_opted_out();
    if newly {
        let (_, at) = exec::<Lead>(
            conn,
            ctx,
            &lead_id.to_string(),
            Existence::MustExist,
            LeadCommand::OptOut {
                reason: reason.to_owned(),
            },
        )
        .await?;
        position = later(position, at);
    }
    for channel in Channel::ALL {
        let id = ConversationId::new(lead_id, channel).to_string();
        let conversation: Conversation = load(conn, ctx, &id).await?;
        if conversation.started().is_none() {
            continue;
        }
        let (_, at) = exec::<Conversation>(
            conn,
            ctx,
            &id,
            Existence::MustExist,
            ConversationCommand::CancelPending {
                reason: "opted_out".to_owned(),
                at: ctx.issued_at,
            },
        )
        .await?;
        position = later(position, at);
    }
    if let (true, Some(channel)) = (newly, confirm_on) {
        let text = opt_out_text(conn, ctx, &lead).await?;
        let at = crate::messaging::outbound::queue_system_text(
            conn,
            ctx,
            lead_id,
            channel,
            &text,
            MessageOrigin::OptOutConfirmation,
        )
        .await?;
        position = later(position, at);
    }
    Ok(position)
}

/// An operator (or the API) opts a lead out: the lock first, then the opt-out (refused as the
/// Lead aggregate refuses it, e.g. when already opted out), then every queued message and expected
/// AI reply cancelled. Answers the lead's version and the last position written.
pub async fn operator_opt_out(
    executor: &crate::executor::CommandExecutor,
    ctx: &CommandContext,
    lead_id: LeadId,
    reason: &str,
) -> Result<(i64, Option<i64>), CommandError<MessagingError>> {
    executor
        .in_transaction(|conn| {
            let ctx = ctx.clone();
            let reason = reason.to_owned();
            Box::pin(async move {
                lock_for_opt_out(conn, lead_id).await?;
                let committed = execute_in::<Lead>(
                    conn,
                    &ctx,
                    &lead_id.to_string(),
                    Existence::MustExist,
                    LeadCommand::OptOut { reason },
                )
                .await
                .map_err(|error| error.map_rejection(MessagingError::from))?;
                let cancelled = opt_out_in(conn, &ctx, lead_id, "operator", None).await?;
                Ok((committed.version, later(committed.position, cancelled)))
            })
        })
        .await
}
