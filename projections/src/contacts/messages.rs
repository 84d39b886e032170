//! How conversation events change a contact: the times of the lead's last messages (what the
//! list filters `last_message_*` and `days_since_contact_*` read) and the follow-ups sent.
//!
//! A conversation is its own aggregate, so these events do not move the row's `version` (the
//! lead's sequence); the runner's exactly-once batches are what keep them from counting twice.

use std::collections::HashMap;

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::conversation::{Conversation, ConversationEvent, ConversationId, MessageOrigin};
use infrastructure::feed::RecordedEvent;
use uuid::Uuid;

use super::fold::ContactRow;

/// The conversation events a contact cares about, by type name.
const CONTACT_EVENTS: [&str; 2] = ["InboundMessageReceived", "OutboundMessageSent"];

/// The lead whose contact `event` changes, if it is a conversation event that changes one.
pub fn lead_of(event: &RecordedEvent) -> anyhow::Result<Option<Uuid>> {
    if event.aggregate_type != <Conversation as cqrs_es::Aggregate>::TYPE
        || !CONTACT_EVENTS.contains(&event.event_type.as_str())
    {
        return Ok(None);
    }
    let id: ConversationId = event
        .aggregate_id
        .parse()
        .with_context(|| format!("{} is not a conversation id", event.aggregate_id))?;
    Ok(Some(id.lead_id().as_uuid()))
}

/// Applies one conversation event of lead `lead_id` to the rows being folded. A lead the model
/// does not have (or another tenant's) is left alone: its capture comes first in the feed.
pub fn apply(
    rows: &mut HashMap<Uuid, ContactRow>,
    lead_id: Uuid,
    event: &RecordedEvent,
) -> anyhow::Result<()> {
    let Some(row) = rows
        .get_mut(&lead_id)
        .filter(|row| row.tenant_id == event.metadata.tenant_id)
    else {
        tracing::warn!(lead = %lead_id, event = %event.event_type,
            "a conversation event for a lead the contacts model does not have; skipped");
        return Ok(());
    };
    match event.decode::<ConversationEvent>()? {
        ConversationEvent::InboundMessageReceived { received_at, .. } => {
            row.last_message_at = latest(row.last_message_at, received_at);
            row.last_inbound_at = latest(row.last_inbound_at, received_at);
            row.last_activity_at = row.last_activity_at.max(received_at);
        }
        ConversationEvent::OutboundMessageSent {
            origin, sent_at, ..
        } => {
            row.last_message_at = latest(row.last_message_at, sent_at);
            row.last_contacted_at = latest(row.last_contacted_at, sent_at);
            row.last_activity_at = row.last_activity_at.max(sent_at);
            if origin == MessageOrigin::FollowUp {
                row.follow_ups_sent += 1;
            }
        }
        _ => {}
    }
    Ok(())
}

fn latest(current: Option<DateTime<Utc>>, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
    Some(current.map_or(at, |current| current.max(at)))
}
