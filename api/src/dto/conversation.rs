//! What a client reads of a lead's conversations: its threads (one per channel) and the
//! messages either way, each with how far it got and, on the lead's messages, what the AI made
//! of them and what that cost.

use std::collections::BTreeMap;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use domain::conversation::WHATSAPP_WINDOW_HOURS;
use poem_openapi::{Enum, Object};
use projections::conversations::query::ConversationView;
use projections::conversations::rows::{AiTurnRow, MessageRow, ThreadRow, ANSWERED, FOLLOW_UP};
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::dto::workflow::Channel;

/// Which way a message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename = "MessageDirection", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum DirectionDto {
    /// From the lead.
    Inbound,
    /// To the lead.
    Outbound,
}

/// Where a message stands. Inbound messages are `received`; an outbound message moves
/// `queued` → `sent` → `delivered` | `undelivered` | `failed` → `read`, only ever forward
/// (late or repeated provider callbacks change nothing), or is `cancelled` while queued.
/// A `failed` message an operator retries is `queued` again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename = "MessageStatus", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum MessageStatusDto {
    /// From the lead.
    Received,
    /// Waiting in the outbox.
    Queued,
    /// Accepted by the provider.
    Sent,
    /// Reached the handset.
    Delivered,
    /// The carrier could not deliver it.
    Undelivered,
    /// Refused by the provider, or sending gave up.
    Failed,
    /// Read by the lead (WhatsApp).
    Read,
    /// Withdrawn before it was sent (opt-out, operator).
    Cancelled,
}

/// Why an outbound message was queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename = "MessageOrigin", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum MessageOriginDto {
    /// The workflow's initial message.
    Outreach,
    /// A follow-up to a silent lead.
    FollowUp,
    /// The AI's reply.
    Ai,
    /// Written by an operator.
    Operator,
    /// The one confirmation sent after an opt-out.
    OptOutConfirmation,
    /// Confirmation of a re-subscription (START).
    Resubscribed,
    /// The answer to HELP/INFO.
    Help,
    /// A reminder of a booked appointment.
    Reminder,
}

/// What the lead's message meant, as the AI read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename = "Intent", rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum IntentDto {
    /// Asked never to be messaged again.
    OptOut,
    /// Wants an appointment, or picked an offered time.
    Booking,
    /// Asked a question.
    Question,
    /// Raised a concern (price, timing, trust).
    Objection,
    /// Not interested.
    NotInterested,
    /// Not the person we think.
    WrongNumber,
    /// Wants to talk to a person.
    HumanRequest,
    /// Answered a qualification question.
    Answer,
    /// Anything else.
    Other,
}

/// A lead's conversations: its threads and a window of its messages.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Conversation")]
pub struct ConversationDto {
    /// The lead.
    pub lead_id: String,
    /// One per channel the lead has talked on, by channel; empty if none.
    pub threads: Vec<ThreadDto>,
    /// The window's messages, oldest first (by `created_at`, then `id`): the newest `limit`
    /// of those that match, or those before `before`.
    pub messages: Vec<MessageDto>,
    /// When older messages match too: pass it as `before` to read them (it is the first
    /// message's id). `null` when the window reaches the beginning.
    pub next_before: Option<String>,
}

/// One conversation: the lead on one channel.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ConversationThread")]
pub struct ThreadDto {
    /// The channel.
    pub channel: Channel,
    /// A human has the conversation: the AI stays silent until resumed.
    pub handed_off: bool,
    /// Why it was handed off (`human_request`, `ai_unavailable`, `operator`, …), while it is.
    pub handed_off_reason: Option<String>,
    /// When it was handed off, while it is.
    pub handed_off_at: Option<DateTime<Utc>>,
    /// When the tenant's contact was told about the current handoff (`null`: not yet, or not
    /// handed off).
    pub handoff_notified_at: Option<DateTime<Utc>>,
    /// When the lead last wrote on this channel.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// When a message to the lead was last accepted by the provider.
    pub last_outbound_at: Option<DateTime<Utc>>,
    /// WhatsApp only: free text is accepted before this instant (24 hours after the lead's last
    /// message); from then on, only approved templates. A past instant means the window is
    /// closed. `null` for SMS, or before the lead has written.
    pub whatsapp_window_open_until: Option<DateTime<Utc>>,
    /// Messages from the lead.
    pub inbound_messages: i32,
    /// Messages to the lead, whatever became of them.
    pub outbound_messages: i32,
    /// When the conversation started.
    pub started_at: DateTime<Utc>,
}

/// One message, either way.
#[derive(Debug, Clone, Object)]
#[oai(rename = "ConversationMessage")]
pub struct MessageDto {
    /// Our id of the message (for outbound messages also the provider's idempotency key).
    pub id: String,
    /// The channel.
    pub channel: Channel,
    /// Which way.
    pub direction: DirectionDto,
    /// The text; for a template, `[template <name>: <variables>]`.
    pub body: String,
    /// Outbound: what is sent, `{"type": "text", "body"}` or
    /// `{"type": "template", "name", "language", "variables"}`. `null` for inbound messages.
    pub content: Option<serde_json::Value>,
    /// Where it stands.
    pub status: MessageStatusDto,
    /// Outbound: why it was queued. `null` for inbound messages.
    pub origin: Option<MessageOriginDto>,
    /// The provider that delivered (inbound) or accepted (outbound) it: `twilio`,
    /// `whatsapp_cloud`, `sandbox`.
    pub provider: Option<String>,
    /// The provider's id (`SM…`, `wamid.…`).
    pub provider_message_id: Option<String>,
    /// The provider's error code of the last failure, if it gave one.
    pub error_code: Option<String>,
    /// What went wrong last (a failed attempt being retried, or the final failure).
    pub error: Option<String>,
    /// Why sending failed for good (`unsubscribed`, `invalid_number`, `window_closed`,
    /// `blocked`, `refused`, `gave_up`, `no_phone`) or why it was cancelled (`opted_out`, …).
    pub reason: Option<String>,
    /// Failed send attempts since it was last queued.
    pub attempts: i32,
    /// When it was received (inbound) or queued (outbound).
    pub created_at: DateTime<Utc>,
    /// Accepted by the provider.
    pub sent_at: Option<DateTime<Utc>>,
    /// Reached the handset.
    pub delivered_at: Option<DateTime<Utc>>,
    /// Read by the lead.
    pub read_at: Option<DateTime<Utc>>,
    /// Failed, or reported undelivered.
    pub failed_at: Option<DateTime<Utc>>,
    /// Withdrawn before it was sent.
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Outbound: what the provider charged, in micro-units of `price_currency` (Twilio's
    /// `-0.00750` USD is `7500`), as its first status callback carrying a price reported it;
    /// `null` until then and for providers that report no amount (WhatsApp).
    #[oai(nullable)]
    pub price_micros: Option<i64>,
    /// ISO 4217 code of `price_micros`, upper case.
    #[oai(nullable)]
    pub price_currency: Option<String>,
    /// Outbound: whether the provider bills the message (WhatsApp's `pricing.billable`).
    #[oai(nullable)]
    pub billable: Option<bool>,
    /// Outbound: the provider's billing category, lower case (WhatsApp: `service`, `utility`,
    /// `marketing`, `authentication`, …).
    #[oai(nullable)]
    pub billing_category: Option<String>,
    /// Inbound: the AI's answer to this message, if it answered. Always `null` on outbound
    /// messages (the AI's reply is the outbound message `ai_turn.reply_message_id` names).
    pub ai_turn: Option<AiTurnDto>,
    /// Inbound: the AI's failed attempts at answering this message, in order.
    pub ai_failures: Vec<AiFailureDto>,
    /// A follow-up the AI wrote: what writing it cost. `null` on every other message.
    pub ai_follow_up: Option<AiFollowUpDto>,
}

/// The AI's work on a follow-up it wrote, with what it cost.
#[derive(Debug, Clone, Object)]
#[oai(rename = "AiFollowUpWork")]
pub struct AiFollowUpDto {
    /// `rules`, or the provider's engine.
    pub engine: String,
    /// The model (empty for the rules engine).
    pub model: String,
    /// Prompt tokens, cached ones included.
    pub input_tokens: i64,
    /// Prompt tokens served from the provider's cache.
    pub cached_input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// What it cost, in millionths of a US dollar (exact).
    pub cost_micros: i64,
    /// The version of the price table that priced it.
    pub price_version: String,
    /// How long the model took, in milliseconds.
    pub latency_ms: i64,
    /// Why the rules engine wrote it instead of the model (the model failed), if it did.
    pub fallback_reason: Option<String>,
    /// When it was written.
    pub at: DateTime<Utc>,
}

/// The AI's answer to one of the lead's messages, with what it cost.
#[derive(Debug, Clone, Object)]
#[oai(rename = "AiTurn")]
pub struct AiTurnDto {
    /// `rules`, or the provider's engine.
    pub engine: String,
    /// The model (empty for the rules engine).
    pub model: String,
    /// What the lead's message meant.
    pub intent: IntentDto,
    /// Qualification answers found in the message, by question key.
    pub answers: BTreeMap<String, String>,
    /// Prompt tokens, cached ones included.
    pub input_tokens: i64,
    /// Prompt tokens served from the provider's cache.
    pub cached_input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// What it cost, in millionths of a US dollar (exact).
    pub cost_micros: i64,
    /// The version of the price table that priced it.
    pub price_version: String,
    /// How long the model took, in milliseconds.
    pub latency_ms: i64,
    /// The reply queued with the answer, if any (one of the outbound messages).
    pub reply_message_id: Option<String>,
    /// When it was recorded.
    pub at: DateTime<Utc>,
}

/// A failed attempt of the AI at answering a message.
#[derive(Debug, Clone, Object)]
#[oai(rename = "AiFailure")]
pub struct AiFailureDto {
    /// Which attempt, from 1.
    pub attempt: i32,
    /// What went wrong.
    pub error: String,
    /// When it is tried again; `null`: given up (the conversation was handed off).
    pub retry_at: Option<DateTime<Utc>>,
    /// When it failed.
    pub at: DateTime<Utc>,
}

impl ConversationDto {
    /// The answer for lead `lead_id` from what the read model holds.
    pub fn from_view(lead_id: String, view: ConversationView) -> anyhow::Result<Self> {
        let next_before = if view.more_before {
            view.messages.first().map(|m| m.message_id.to_string())
        } else {
            None
        };
        let mut turns: BTreeMap<uuid::Uuid, Vec<AiTurnRow>> = BTreeMap::new();
        for turn in view.turns {
            turns.entry(turn.in_reply_to).or_default().push(turn);
        }
        Ok(Self {
            lead_id,
            threads: view
                .threads
                .into_iter()
                .map(ThreadDto::try_from)
                .collect::<anyhow::Result<_>>()?,
            messages: view
                .messages
                .into_iter()
                .map(|m| {
                    let turns = turns.remove(&m.message_id).unwrap_or_default();
                    message(m, turns)
                })
                .collect::<anyhow::Result<_>>()?,
            next_before,
        })
    }
}

impl TryFrom<ThreadRow> for ThreadDto {
    type Error = anyhow::Error;

    fn try_from(row: ThreadRow) -> anyhow::Result<Self> {
        let channel: Channel = wire("channel", &row.channel)?;
        let whatsapp_window_open_until = match channel {
            Channel::Whatsapp => row
                .last_inbound_at
                .map(|at| at + Duration::hours(WHATSAPP_WINDOW_HOURS)),
            Channel::Sms => None,
        };
        Ok(Self {
            channel,
            handed_off: row.handed_off,
            handed_off_reason: row.handed_off_reason,
            handed_off_at: row.handed_off_at,
            handoff_notified_at: row.handoff_notified_at,
            last_inbound_at: row.last_inbound_at,
            last_outbound_at: row.last_outbound_at,
            whatsapp_window_open_until,
            inbound_messages: row.inbound_messages,
            outbound_messages: row.outbound_messages,
            started_at: row.started_at,
        })
    }
}

/// A message with the AI turns recorded on it (answers and failures, in order).
fn message(row: MessageRow, turns: Vec<AiTurnRow>) -> anyhow::Result<MessageDto> {
    let mut ai_turn = None;
    let mut ai_failures = Vec::new();
    let mut ai_follow_up = None;
    for turn in turns {
        if turn.outcome == ANSWERED {
            ai_turn = Some(answer(turn)?);
        } else if turn.outcome == FOLLOW_UP {
            ai_follow_up = Some(AiFollowUpDto {
                engine: turn.engine.unwrap_or_default(),
                model: turn.model.unwrap_or_default(),
                input_tokens: turn.input_tokens.unwrap_or_default(),
                cached_input_tokens: turn.cached_input_tokens.unwrap_or_default(),
                output_tokens: turn.output_tokens.unwrap_or_default(),
                cost_micros: turn.cost_micros.unwrap_or_default(),
                price_version: turn.price_version.unwrap_or_default(),
                latency_ms: turn.latency_ms.unwrap_or_default(),
                fallback_reason: turn.error,
                at: turn.at,
            });
        } else {
            ai_failures.push(AiFailureDto {
                attempt: turn.attempt.unwrap_or_default(),
                error: turn.error.unwrap_or_default(),
                retry_at: turn.retry_at,
                at: turn.at,
            });
        }
    }
    Ok(MessageDto {
        id: row.message_id.to_string(),
        channel: wire("channel", &row.channel)?,
        direction: wire("direction", &row.direction)?,
        body: row.body,
        content: row.content,
        status: wire("status", &row.status)?,
        origin: row
            .origin
            .as_deref()
            .map(|origin| wire("origin", origin))
            .transpose()?,
        provider: row.provider,
        provider_message_id: row.provider_message_id,
        error_code: row.error_code,
        error: row.error,
        reason: row.reason,
        attempts: row.attempts,
        created_at: row.created_at,
        sent_at: row.sent_at,
        delivered_at: row.delivered_at,
        read_at: row.read_at,
        failed_at: row.failed_at,
        cancelled_at: row.cancelled_at,
        price_micros: row.price_micros,
        price_currency: row.price_currency,
        billable: row.billable,
        billing_category: row.billing_category,
        ai_turn,
        ai_failures,
        ai_follow_up,
    })
}

fn answer(turn: AiTurnRow) -> anyhow::Result<AiTurnDto> {
    Ok(AiTurnDto {
        engine: turn.engine.unwrap_or_default(),
        model: turn.model.unwrap_or_default(),
        intent: wire("intent", turn.intent.as_deref().unwrap_or_default())?,
        answers: turn
            .answers
            .map(serde_json::from_value)
            .transpose()
            .context("Failed to read an AI turn's answers")?
            .unwrap_or_default(),
        input_tokens: turn.input_tokens.unwrap_or_default(),
        cached_input_tokens: turn.cached_input_tokens.unwrap_or_default(),
        output_tokens: turn.output_tokens.unwrap_or_default(),
        cost_micros: turn.cost_micros.unwrap_or_default(),
        price_version: turn.price_version.unwrap_or_default(),
        latency_ms: turn.latency_ms.unwrap_or_default(),
        reply_message_id: turn.reply_message_id.map(|id| id.to_string()),
        at: turn.at,
    })
}

/// A wire name as stored in the read model, as its API enum.
fn wire<T: DeserializeOwned>(field: &str, value: &str) -> anyhow::Result<T> {
    serde_json::from_value(serde_json::Value::String(value.to_string()))
        .with_context(|| format!("Unknown {field} {value:?} in the conversations model"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_wire_name_of_the_domain_reads_as_its_api_enum() {
        use domain::conversation::{DeliveryStatus, Intent, MessageOrigin};
        for status in DeliveryStatus::ALL {
            assert!(wire::<MessageStatusDto>("status", status.as_str()).is_ok());
        }
        for intent in Intent::ALL {
            assert!(wire::<IntentDto>("intent", intent.as_str()).is_ok());
        }
        for origin in [
            MessageOrigin::Outreach,
            MessageOrigin::FollowUp,
            MessageOrigin::Ai,
            MessageOrigin::Operator,
            MessageOrigin::OptOutConfirmation,
            MessageOrigin::Resubscribed,
            MessageOrigin::Help,
            MessageOrigin::Reminder,
        ] {
            assert!(wire::<MessageOriginDto>("origin", origin.as_str()).is_ok());
        }
        assert!(wire::<MessageStatusDto>("status", "received").is_ok());
        assert!(wire::<MessageStatusDto>("status", "lost").is_err());
    }
}
