//! The bulk `outreach` action: each lead's workflow outreach, queued through
//! [`outbound::send_outreach`] — which refuses a lead whose outreach is already queued or sent
//! (on any channel, checked under the lead's engagement lock in the transaction that would queue
//! it), so running the same bulk action twice, two jobs over the same leads, or a job racing the
//! lead's outreach timer contact nobody twice.

use application::CommandContext;
use domain::values::LeadId;
use uuid::Uuid;

use crate::bulk::{refusal_code as lead_refusal_code, ChunkOutcome, LeadFailure};
use crate::executor::CommandError;
use crate::messaging::outbound::{self, Queued};
use crate::messaging::suppression::later;
use crate::messaging::{Messaging, MessagingError};

/// What asking for one lead's outreach did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outreach {
    /// The outreach was queued.
    Queued(Queued),
    /// The lead already has an outreach message queued or sent: nothing was queued.
    AlreadyContacted,
}

/// Queues the lead's workflow outreach unless it already has one queued or sent. Refusals are
/// `send_outreach`'s (no workflow, workflow not active, opted out, archived, no phone, no such
/// lead).
pub async fn send_outreach_once(
    messaging: &Messaging,
    ctx: &CommandContext,
    lead_id: LeadId,
    brand_name: &str,
) -> Result<Outreach, CommandError<MessagingError>> {
    match outbound::send_outreach(messaging, ctx, lead_id, brand_name).await {
        Ok(queued) => Ok(Outreach::Queued(queued)),
        Err(CommandError::Rejected(MessagingError::AlreadyContacted)) => {
            Ok(Outreach::AlreadyContacted)
        }
        Err(error) => Err(error),
    }
}

/// A chunk of the outreach action stopped by a database failure: what its first `done` leads
/// gave, and the failure. The leads after them were not touched.
#[derive(Debug)]
pub struct Interrupted {
    /// Leads of the chunk processed before the failure.
    pub done: usize,
    /// What those leads gave.
    pub outcome: ChunkOutcome,
    /// The failure.
    pub error: anyhow::Error,
}

/// Applies the outreach action to a chunk of `leads`, one lead after the other, each in its own
/// transactions. Refused leads are failures with the refusal's code; leads already contacted
/// are skipped. Every lead's command is issued at the clock's time when it runs, with `ctx`'s
/// tenant, actor and request id. A database failure stops the chunk at the lead it happened to
/// ([`Interrupted`]): record the leads done and run the rest again.
pub async fn apply(
    messaging: &Messaging,
    ctx: &CommandContext,
    leads: &[Uuid],
    brand_name: &str,
) -> Result<ChunkOutcome, Interrupted> {
    let mut outcome = ChunkOutcome::default();
    for (index, lead) in leads.iter().enumerate() {
        let ctx = CommandContext {
            issued_at: messaging.clock.now(),
            ..ctx.clone()
        };
        let lead_id = LeadId::from_uuid(*lead);
        let (code, message) = match send_outreach_once(messaging, &ctx, lead_id, brand_name).await {
            Ok(Outreach::Queued(queued)) => {
                outcome.succeeded += 1;
                outcome.position = later(outcome.position, queued.position);
                continue;
            }
            Ok(Outreach::AlreadyContacted) => {
                outcome.skipped += 1;
                continue;
            }
            Err(CommandError::Database(error)) => {
                return Err(Interrupted {
                    done: index,
                    outcome,
                    error,
                })
            }
            Err(error) => refusal(error),
        };
        outcome.failures.push(LeadFailure {
            index,
            lead_id: *lead,
            code: code.to_owned(),
            message,
        });
    }
    Ok(outcome)
}

/// The code and message of a refused outreach.
fn refusal(error: CommandError<MessagingError>) -> (&'static str, String) {
    match error {
        CommandError::Rejected(refusal) => (refusal_code(&refusal), refusal.to_string()),
        CommandError::NotFound => ("not_found", "no such lead".to_owned()),
        CommandError::Conflict => (
            "concurrent_modification",
            "the lead was changed concurrently (or given outreach by another request); run the \
             action again for it"
                .to_owned(),
        ),
        CommandError::InvalidReference { field, reason } => {
            ("invalid_message", format!("{field}: {reason}"))
        }
        CommandError::Taken { field, existing_id } => (
            "already_taken",
            format!("{field} is already used by {existing_id}"),
        ),
        CommandError::Database(error) => ("internal", format!("{error:#}")),
    }
}

/// A stable, machine-readable code for each reason a lead's outreach is refused: the codes
/// `POST /api/v1/leads/{id}/outreach` answers with.
#[must_use]
pub fn refusal_code(error: &MessagingError) -> &'static str {
    use domain::conversation::ConversationError as C;
    match error {
        MessagingError::Lead(error) => lead_refusal_code(error),
        MessagingError::Conversation(C::WindowClosed { .. }) => "whatsapp_window_closed",
        MessagingError::Conversation(C::NotRetryable(_)) => "not_retryable",
        MessagingError::Conversation(_) => "invalid_state",
        MessagingError::OptedOut => "opted_out",
        MessagingError::Archived => "archived",
        MessagingError::NoPhone => "no_phone",
        MessagingError::NoWorkflow(_) => "no_workflow",
        MessagingError::AlreadyContacted => "already_contacted",
        MessagingError::Appointment(crate::appointments::AppointmentRefusal::Taken) => "slot_taken",
        MessagingError::Appointment(_) => "invalid_state",
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn refusals_use_the_single_endpoints_codes() {
        assert_eq!(refusal_code(&MessagingError::OptedOut), "opted_out");
        assert_eq!(refusal_code(&MessagingError::Archived), "archived");
        assert_eq!(refusal_code(&MessagingError::NoPhone), "no_phone");
        assert_eq!(
            refusal_code(&MessagingError::NoWorkflow(
                "the lead has no workflow".into()
            )),
            "no_workflow"
        );
        assert_eq!(
            refusal(CommandError::NotFound),
            ("not_found", "no such lead".to_owned())
        );
    }
}
