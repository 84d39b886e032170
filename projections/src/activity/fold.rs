//! The pure part of the activity feed: which events are activity, their kind and their summary,
//! folded with the lead names and appointment leads the batch started from.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::conversation::{ConversationEvent, ConversationId};
use domain::{AppointmentEvent, Channel, LeadEvent, LeadStatus};
use infrastructure::feed::RecordedEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A row of the `activity` table (JSON field names are the column names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRow {
    /// The event's global position: the row's identity and the feed's order.
    pub position: i64,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// When it happened (the command's clock).
    pub occurred_at: DateTime<Utc>,
    /// What happened, in stable snake_case (see [`kind`] for the list).
    pub kind: String,
    /// The lead it concerns.
    pub lead_id: Uuid,
    /// The appointment, for appointment kinds.
    pub appointment_id: Option<Uuid>,
    /// The channel, for message and handoff kinds.
    pub channel: Option<String>,
    /// The message, for message kinds.
    pub message_id: Option<Uuid>,
    /// A short sentence for people ("Ada Lovelace replied on SMS").
    pub summary: String,
}

/// The stable names of the activity kinds.
pub mod kind {
    /// `LeadCaptured`.
    pub const LEAD_CAPTURED: &str = "lead_captured";
    /// `InboundMessageReceived`.
    pub const MESSAGE_RECEIVED: &str = "message_received";
    /// `OutboundMessageSent`.
    pub const MESSAGE_SENT: &str = "message_sent";
    /// The lead's status changed (or was set) to `qualified`.
    pub const LEAD_QUALIFIED: &str = "lead_qualified";
    /// The lead's status changed (or was set) to `booked`.
    pub const LEAD_BOOKED: &str = "lead_booked";
    /// `LeadOptedOut`.
    pub const LEAD_OPTED_OUT: &str = "lead_opted_out";
    /// `LeadResubscribed`.
    pub const LEAD_RESUBSCRIBED: &str = "lead_resubscribed";
    /// `ConversationHandedOff`.
    pub const HANDED_OFF: &str = "handed_off";
    /// `AppointmentBooked`.
    pub const APPOINTMENT_BOOKED: &str = "appointment_booked";
    /// `AppointmentRescheduled`.
    pub const APPOINTMENT_RESCHEDULED: &str = "appointment_rescheduled";
    /// `AppointmentCancelled`.
    pub const APPOINTMENT_CANCELLED: &str = "appointment_cancelled";
    /// `AppointmentCompleted`.
    pub const APPOINTMENT_COMPLETED: &str = "appointment_completed";
    /// `AppointmentNoShow`.
    pub const APPOINTMENT_NO_SHOW: &str = "appointment_no_show";

    /// Every kind.
    pub const ALL: [&str; 13] = [
        LEAD_CAPTURED,
        MESSAGE_RECEIVED,
        MESSAGE_SENT,
        LEAD_QUALIFIED,
        LEAD_BOOKED,
        LEAD_OPTED_OUT,
        LEAD_RESUBSCRIBED,
        HANDED_OFF,
        APPOINTMENT_BOOKED,
        APPOINTMENT_RESCHEDULED,
        APPOINTMENT_CANCELLED,
        APPOINTMENT_COMPLETED,
        APPOINTMENT_NO_SHOW,
    ];
}

/// A lead's name as the projection keeps it: given and family name.
pub type LeadName = (String, String);

/// What a batch reads, changes and writes.
#[derive(Debug, Default)]
pub struct State {
    /// Lead names by (tenant, lead).
    pub names: BTreeMap<(Uuid, Uuid), LeadName>,
    /// The leads whose name the batch set.
    pub changed_names: BTreeSet<(Uuid, Uuid)>,
    /// The lead of each appointment by (tenant, appointment).
    pub appointment_leads: BTreeMap<(Uuid, Uuid), Uuid>,
    /// The appointments the batch booked.
    pub new_appointments: BTreeSet<(Uuid, Uuid)>,
    /// The activity rows of the batch, in feed order.
    pub rows: Vec<ActivityRow>,
}

/// The row of `event` about `lead`, with no appointment, channel or message.
fn row(event: &RecordedEvent, lead: Uuid, kind: &str, summary: String) -> ActivityRow {
    ActivityRow {
        position: event.position.global_position,
        tenant_id: event.metadata.tenant_id,
        occurred_at: event.metadata.occurred_at,
        kind: kind.to_owned(),
        lead_id: lead,
        appointment_id: None,
        channel: None,
        message_id: None,
        summary,
    }
}

/// How a channel reads in a summary.
fn channel_label(channel: Channel) -> &'static str {
    match channel {
        Channel::Sms => "SMS",
        Channel::Whatsapp => "WhatsApp",
    }
}

impl State {
    /// The display name of a lead: "Given Family", or "A lead" when it has none.
    fn name(&self, tenant: Uuid, lead: Uuid) -> String {
        let full = self
            .names
            .get(&(tenant, lead))
            .map(|(first, last)| format!("{} {}", first.trim(), last.trim()))
            .unwrap_or_default();
        let full = full.trim();
        if full.is_empty() {
            "A lead".to_owned()
        } else {
            full.to_owned()
        }
    }

    fn push(&mut self, event: &RecordedEvent, lead: Uuid, kind: &str, summary: String) {
        self.rows.push(row(event, lead, kind, summary));
    }

    /// Applies a lead event: names, and the activity it is.
    pub fn apply_lead(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let tenant = event.metadata.tenant_id;
        let lead = event.aggregate_uuid()?;
        match event.decode::<LeadEvent>()? {
            LeadEvent::LeadCaptured {
                first_name,
                last_name,
                source,
                ..
            } => {
                self.names.insert((tenant, lead), (first_name, last_name));
                self.changed_names.insert((tenant, lead));
                let source = source.as_str().replace('_', " ");
                let summary = format!("{} was captured from {source}", self.name(tenant, lead));
                self.push(event, lead, kind::LEAD_CAPTURED, summary);
            }
            LeadEvent::LeadDetailsUpdated {
                first_name,
                last_name,
                ..
            } if first_name.is_some() || last_name.is_some() => {
                let entry = self.names.entry((tenant, lead)).or_default();
                if let Some(first) = first_name {
                    entry.0 = first;
                }
                if let Some(last) = last_name {
                    entry.1 = last;
                }
                self.changed_names.insert((tenant, lead));
            }
            LeadEvent::LeadStatusChanged { to, .. }
            | LeadEvent::LeadStatusOverridden { to, .. }
                if to == LeadStatus::Qualified =>
            {
                let summary = format!("{} qualified", self.name(tenant, lead));
                self.push(event, lead, kind::LEAD_QUALIFIED, summary);
            }
            LeadEvent::LeadStatusChanged { to, .. }
            | LeadEvent::LeadStatusOverridden { to, .. }
                if to == LeadStatus::Booked =>
            {
                let summary = format!("{} is booked", self.name(tenant, lead));
                self.push(event, lead, kind::LEAD_BOOKED, summary);
            }
            LeadEvent::LeadOptedOut { .. } => {
                let summary = format!("{} opted out", self.name(tenant, lead));
                self.push(event, lead, kind::LEAD_OPTED_OUT, summary);
            }
            LeadEvent::LeadResubscribed { .. } => {
                let summary = format!("{} re-subscribed", self.name(tenant, lead));
                self.push(event, lead, kind::LEAD_RESUBSCRIBED, summary);
            }
            _ => {}
        }
        Ok(())
    }

    /// Applies a conversation event: messages in and out, handoffs.
    pub fn apply_conversation(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let tenant = event.metadata.tenant_id;
        let id: ConversationId = event
            .aggregate_id
            .parse()
            .with_context(|| format!("conversation id {}", event.aggregate_id))?;
        let (lead, channel) = (id.lead_id().as_uuid(), id.channel());
        let name = self.name(tenant, lead);
        let label = channel_label(channel);
        let (kind, summary, message_id) = match event.decode::<ConversationEvent>()? {
            ConversationEvent::InboundMessageReceived { message_id, .. } => (
                kind::MESSAGE_RECEIVED,
                format!("{name} replied on {label}"),
                Some(message_id.as_uuid()),
            ),
            ConversationEvent::OutboundMessageSent { message_id, .. } => (
                kind::MESSAGE_SENT,
                format!("Message sent to {name} on {label}"),
                Some(message_id.as_uuid()),
            ),
            ConversationEvent::ConversationHandedOff { .. } => (
                kind::HANDED_OFF,
                format!("{name} was handed off to a person on {label}"),
                None,
            ),
            _ => return Ok(()),
        };
        self.rows.push(ActivityRow {
            channel: Some(channel.as_str().to_owned()),
            message_id,
            ..row(event, lead, kind, summary)
        });
        Ok(())
    }

    /// Applies an appointment event: booked, moved, cancelled, and its outcome.
    pub fn apply_appointment(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let tenant = event.metadata.tenant_id;
        let appointment = event.aggregate_uuid()?;
        let payload: AppointmentEvent = event.decode()?;
        if let AppointmentEvent::AppointmentBooked { lead_id, .. } = &payload {
            self.appointment_leads
                .insert((tenant, appointment), lead_id.as_uuid());
            self.new_appointments.insert((tenant, appointment));
        }
        let when = |at: &DateTime<Utc>| at.format("%Y-%m-%d %H:%M UTC").to_string();
        let (kind, what) = match &payload {
            AppointmentEvent::AppointmentBooked { start, .. } => (
                kind::APPOINTMENT_BOOKED,
                format!("booked an appointment for {}", when(start)),
            ),
            AppointmentEvent::AppointmentRescheduled { start, .. } => (
                kind::APPOINTMENT_RESCHEDULED,
                format!("moved their appointment to {}", when(start)),
            ),
            AppointmentEvent::AppointmentCancelled { .. } => (
                kind::APPOINTMENT_CANCELLED,
                "had their appointment cancelled".to_owned(),
            ),
            AppointmentEvent::AppointmentCompleted { .. } => (
                kind::APPOINTMENT_COMPLETED,
                "attended their appointment".to_owned(),
            ),
            AppointmentEvent::AppointmentNoShow { .. } => (
                kind::APPOINTMENT_NO_SHOW,
                "missed their appointment".to_owned(),
            ),
            _ => return Ok(()),
        };
        let Some(lead) = self.appointment_leads.get(&(tenant, appointment)).copied() else {
            anyhow::bail!(
                "{} for appointment {appointment} arrived before its booking",
                event.event_type
            );
        };
        let summary = format!("{} {what}", self.name(tenant, lead));
        self.rows.push(ActivityRow {
            appointment_id: Some(appointment),
            ..row(event, lead, kind, summary)
        });
        Ok(())
    }
}
