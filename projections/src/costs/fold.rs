//! How lead and conversation events change the cost and message counts (see the module docs of
//! [`super`]): a pure fold into per-key deltas, written by the caller in a few statements.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context;
use chrono::{DateTime, NaiveDate, Utc};
use domain::conversation::{ConversationEvent, ConversationId};
use domain::LeadEvent;
use infrastructure::feed::RecordedEvent;
use uuid::Uuid;

/// The model key of the rules engine, whose turns name no model.
pub const RULES_MODEL: &str = "rules";

/// A row key of `ai_costs_daily`: tenant, UTC day, workflow (nil when none), model.
pub type CostKey = (Uuid, NaiveDate, Uuid, String);

/// A row key of `messages_daily`: tenant, UTC day, channel, direction.
pub type MessageKey = (Uuid, NaiveDate, &'static str, &'static str);

/// A row key of `ai_costs_totals`: tenant, workflow (nil when none).
pub type TotalKey = (Uuid, Uuid);

/// A row key of `message_prices_daily`: tenant, UTC day, channel, currency (`""` when none).
pub type PriceKey = (Uuid, NaiveDate, &'static str, String);

/// What price reports in one key added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PriceDelta {
    /// Messages priced.
    pub priced: i64,
    /// Messages reported billable.
    pub billable: i64,
    /// Amounts in micro-units of the currency.
    pub amount_micros: i64,
}

/// What AI calls in one key added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CostDelta {
    /// AI calls (turns and follow-ups).
    pub calls: i64,
    /// Prompt tokens, cached ones included.
    pub input_tokens: i64,
    /// Prompt tokens served from the provider's cache.
    pub cached_input_tokens: i64,
    /// Completion tokens.
    pub output_tokens: i64,
    /// Cost in micro-USD.
    pub cost_micros: i64,
}

/// What a batch reads and writes.
#[derive(Debug, Default)]
pub struct State {
    /// Each known lead's workflow (nil when none), by (tenant, lead).
    pub workflows: BTreeMap<(Uuid, Uuid), Uuid>,
    /// Leads whose workflow this batch set, to write back.
    pub changed_leads: BTreeMap<(Uuid, Uuid), Uuid>,
    /// Cost sums to add, by key.
    pub costs: BTreeMap<CostKey, CostDelta>,
    /// The conversations that spent in each key (the caller counts those not seen before).
    pub conversations: BTreeMap<CostKey, BTreeSet<String>>,
    /// Message counts to add, by key.
    pub messages: BTreeMap<MessageKey, i64>,
    /// Message prices to add, by key.
    pub prices: BTreeMap<PriceKey, PriceDelta>,
}

/// The UTC calendar day of `at`.
#[must_use]
pub fn utc_day(at: DateTime<Utc>) -> NaiveDate {
    at.date_naive()
}

/// The key a model name is counted under: the model, or [`RULES_MODEL`] when it names none.
#[must_use]
pub fn model_key(model: &str) -> String {
    if model.is_empty() {
        RULES_MODEL.to_owned()
    } else {
        model.to_owned()
    }
}

impl State {
    /// Applies a lead event: only its workflow matters here.
    pub fn apply_lead(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let payload: LeadEvent = event
            .decode()
            .with_context(|| format!("lead event at {}", event.position))?;
        let workflow = match payload {
            LeadEvent::LeadCaptured { workflow_id, .. }
            | LeadEvent::LeadWorkflowAssigned { workflow_id } => workflow_id,
            _ => return Ok(()),
        };
        let key = (event.metadata.tenant_id, event.aggregate_uuid()?);
        let workflow = workflow.map_or(Uuid::nil(), |id| id.as_uuid());
        self.workflows.insert(key, workflow);
        self.changed_leads.insert(key, workflow);
        Ok(())
    }

    /// Applies a conversation event: AI spend, messages in and out, and their prices.
    pub fn apply_conversation(&mut self, event: &RecordedEvent) -> anyhow::Result<()> {
        let payload: ConversationEvent = event
            .decode()
            .with_context(|| format!("conversation event at {}", event.position))?;
        let conversation: ConversationId = event
            .aggregate_id
            .parse()
            .with_context(|| format!("conversation id {}", event.aggregate_id))?;
        let tenant = event.metadata.tenant_id;
        let channel = conversation.channel().as_str();
        match payload {
            ConversationEvent::AiTurnRecorded(turn) => {
                let spend = spend(
                    turn.input_tokens,
                    turn.cached_input_tokens,
                    turn.output_tokens,
                    turn.cost_micros,
                );
                self.spend(
                    tenant,
                    &event.aggregate_id,
                    conversation,
                    turn.at,
                    &turn.model,
                    spend,
                );
            }
            ConversationEvent::AiFollowUpWritten(follow_up) => {
                let spend = spend(
                    follow_up.input_tokens,
                    follow_up.cached_input_tokens,
                    follow_up.output_tokens,
                    follow_up.cost_micros,
                );
                let at = follow_up.at;
                self.spend(
                    tenant,
                    &event.aggregate_id,
                    conversation,
                    at,
                    &follow_up.model,
                    spend,
                );
            }
            ConversationEvent::InboundMessageReceived { received_at, .. } => {
                *self
                    .messages
                    .entry((tenant, utc_day(received_at), channel, "inbound"))
                    .or_default() += 1;
            }
            ConversationEvent::OutboundMessageSent { sent_at, .. } => {
                *self
                    .messages
                    .entry((tenant, utc_day(sent_at), channel, "outbound"))
                    .or_default() += 1;
            }
            ConversationEvent::OutboundMessagePriced {
                amount_micros,
                currency,
                billable,
                at,
                ..
            } => {
                let key = (tenant, utc_day(at), channel, currency.unwrap_or_default());
                let sums = self.prices.entry(key).or_default();
                sums.priced += 1;
                sums.billable += i64::from(billable == Some(true));
                sums.amount_micros += amount_micros.unwrap_or(0);
            }
            _ => {}
        }
        Ok(())
    }

    /// The batch's cost sums over every day and model: what to add to `ai_costs_totals`.
    #[must_use]
    pub fn totals(&self) -> BTreeMap<TotalKey, CostDelta> {
        let mut totals: BTreeMap<TotalKey, CostDelta> = BTreeMap::new();
        for ((tenant, _, workflow, _), delta) in &self.costs {
            let sums = totals.entry((*tenant, *workflow)).or_default();
            sums.calls += delta.calls;
            sums.input_tokens += delta.input_tokens;
            sums.cached_input_tokens += delta.cached_input_tokens;
            sums.output_tokens += delta.output_tokens;
            sums.cost_micros += delta.cost_micros;
        }
        totals
    }

    /// The conversations that spent in this batch, each once per (tenant, workflow).
    #[must_use]
    pub fn spenders(&self) -> BTreeSet<(Uuid, Uuid, &str)> {
        self.conversations
            .iter()
            .flat_map(|((tenant, _, workflow, _), ids)| {
                ids.iter().map(|id| (*tenant, *workflow, id.as_str()))
            })
            .collect()
    }

    fn spend(
        &mut self,
        tenant: Uuid,
        conversation_key: &str,
        conversation: ConversationId,
        at: DateTime<Utc>,
        model: &str,
        spend: CostDelta,
    ) {
        let workflow = self
            .workflows
            .get(&(tenant, conversation.lead_id().as_uuid()))
            .copied()
            .unwrap_or_else(Uuid::nil);
        let key = (tenant, utc_day(at), workflow, model_key(model));
        let sums = self.costs.entry(key.clone()).or_default();
        sums.calls += spend.calls;
        sums.input_tokens += spend.input_tokens;
        sums.cached_input_tokens += spend.cached_input_tokens;
        sums.output_tokens += spend.output_tokens;
        sums.cost_micros += spend.cost_micros;
        self.conversations
            .entry(key)
            .or_default()
            .insert(conversation_key.to_owned());
    }
}

fn spend(input: u32, cached: u32, output: u32, cost_micros: i64) -> CostDelta {
    CostDelta {
        calls: 1,
        input_tokens: i64::from(input),
        cached_input_tokens: i64::from(cached),
        output_tokens: i64::from(output),
        cost_micros,
    }
}
