//! How conversation events put and take away tasks. Pure: no reads, so any batching of the same
//! events gives the same table.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use domain::conversation::{Conversation, ConversationEvent, ConversationId};
use domain::values::MessageId;
use infrastructure::feed::RecordedEvent;
use uuid::Uuid;

/// What kind of work a task is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Hand an outbound message to its provider.
    Send,
    /// Let the AI answer the conversation's pending inbound message.
    Reply,
    /// Tell the tenant's admin contact that a human must take over the conversation.
    Notify,
}

impl TaskKind {
    /// The wire name (the `kind` column and the task key's prefix).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Send => "send",
            Self::Reply => "reply",
            Self::Notify => "notify",
        }
    }

    /// The kind named `name`.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Send, Self::Reply, Self::Notify]
            .into_iter()
            .find(|kind| kind.as_str() == name)
    }
}

/// A row of the tasks table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskRow {
    /// The tenant.
    pub tenant_id: Uuid,
    /// What to do.
    pub kind: TaskKind,
    /// The lead concerned.
    pub lead_id: Uuid,
    /// The conversation (`<lead>:<channel>`).
    pub conversation_id: String,
    /// The message to send, or the inbound message to answer.
    pub message_id: Uuid,
    /// When it is due.
    pub due_at: DateTime<Utc>,
    /// Failed attempts so far.
    pub attempt: i32,
    /// Global position of the event that last put the task: any change gives a new revision,
    /// which is what a worker's lease holds.
    pub revision: i64,
}

impl TaskRow {
    /// The task's key: one send per message, one pending reply per conversation.
    #[must_use]
    pub fn key(&self) -> String {
        task_key(self.kind, &self.conversation_id, self.message_id)
    }
}

fn task_key(kind: TaskKind, conversation_id: &str, message_id: Uuid) -> String {
    match kind {
        TaskKind::Send => format!("send:{message_id}"),
        TaskKind::Reply => format!("reply:{conversation_id}"),
        TaskKind::Notify => format!("notify:{conversation_id}"),
    }
}

/// Records what `event` does to the tasks: `Some(row)` puts, `None` takes away.
pub fn apply(
    changes: &mut BTreeMap<String, Option<TaskRow>>,
    event: &RecordedEvent,
) -> anyhow::Result<()> {
    if event.aggregate_type != Conversation::TYPE {
        return Ok(());
    }
    let conversation: ConversationId = event
        .aggregate_id
        .parse()
        .map_err(|error| anyhow::anyhow!("conversation id {}: {error}", event.aggregate_id))?;
    let payload: ConversationEvent = event.decode()?;
    let row =
        |kind: TaskKind, message_id: MessageId, due_at: DateTime<Utc>, attempt: u32| TaskRow {
            tenant_id: event.metadata.tenant_id,
            kind,
            lead_id: conversation.lead_id().as_uuid(),
            conversation_id: event.aggregate_id.clone(),
            message_id: message_id.as_uuid(),
            due_at,
            attempt: i32::try_from(attempt).unwrap_or(i32::MAX),
            revision: event.position.global_position,
        };
    let mut put = |row: TaskRow| {
        changes.insert(row.key(), Some(row));
    };
    match payload {
        ConversationEvent::OutboundMessageQueued {
            message_id,
            queued_at,
            ..
        } => put(row(TaskKind::Send, message_id, queued_at, 0)),
        ConversationEvent::OutboundMessageRequeued { message_id, at } => {
            put(row(TaskKind::Send, message_id, at, 0));
        }
        ConversationEvent::OutboundSendAttemptFailed {
            message_id,
            attempt,
            retry_at,
            ..
        } => put(row(TaskKind::Send, message_id, retry_at, attempt)),
        ConversationEvent::OutboundSendDeferred { message_id, until } => {
            put(row(TaskKind::Send, message_id, until, 0));
        }
        ConversationEvent::OutboundMessageSent { message_id, .. }
        | ConversationEvent::OutboundMessageFailed { message_id, .. }
        | ConversationEvent::OutboundMessageCancelled { message_id, .. } => {
            changes.insert(
                task_key(TaskKind::Send, &event.aggregate_id, message_id.as_uuid()),
                None,
            );
        }
        ConversationEvent::InboundMessageReceived {
            message_id,
            received_at,
            ai_reply_expected: true,
            ..
        } => put(row(TaskKind::Reply, message_id, received_at, 0)),
        ConversationEvent::AiTurnFailed {
            in_reply_to,
            attempt,
            retry_at: Some(retry_at),
            ..
        } => put(row(TaskKind::Reply, in_reply_to, retry_at, attempt)),
        ConversationEvent::ConversationHandedOff { at, .. } => {
            changes.insert(
                task_key(TaskKind::Reply, &event.aggregate_id, Uuid::nil()),
                None,
            );
            let notify = row(TaskKind::Notify, MessageId::from_uuid(Uuid::nil()), at, 0);
            changes.insert(notify.key(), Some(notify));
        }
        ConversationEvent::AiTurnFailed { retry_at: None, .. }
        | ConversationEvent::AiTurnRecorded(_)
        | ConversationEvent::AiReplySkipped { .. } => {
            changes.insert(
                task_key(TaskKind::Reply, &event.aggregate_id, Uuid::nil()),
                None,
            );
        }
        ConversationEvent::HandoffNotified { .. } | ConversationEvent::AiResumed { .. } => {
            changes.insert(
                task_key(TaskKind::Notify, &event.aggregate_id, Uuid::nil()),
                None,
            );
        }
        ConversationEvent::ConversationStarted { .. }
        | ConversationEvent::InboundMessageReceived { .. }
        | ConversationEvent::OutboundMessageStatusUpdated { .. }
        | ConversationEvent::OutboundMessagePriced { .. }
        | ConversationEvent::AiFollowUpWritten(_)
        | ConversationEvent::AppointmentSlotsOffered { .. }
        | ConversationEvent::AppointmentBookedInConversation { .. } => {}
    }
    Ok(())
}
