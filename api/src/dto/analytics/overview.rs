//! The body of `GET /api/v1/analytics`: a tenant's all-time dashboard — leads, funnel rates, AI
//! usage and messages, per workflow too, and the latest activity. Every figure comes from the
//! all-time tables of the funnel and costs models (a few rows per workflow), so the answer costs
//! the same for ten thousand leads as for a million.

use std::collections::{BTreeMap, BTreeSet};

use poem_openapi::Object;
use projections::activity::fold::ActivityRow;
use projections::costs::query::CostSums;
use projections::costs::totals::CostTotals;
use projections::funnel::query::FunnelCounts;
use projections::funnel::totals::WorkflowFunnel;
use uuid::Uuid;

use super::messages::ChannelMessagesDto;
use super::{micros_to_decimal, tokens_per_conversation, FunnelRatesDto};
use crate::dto::activity::ActivityItemDto;

/// Lead counts of the overview.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Object)]
#[oai(rename = "OverviewCounts")]
pub struct OverviewCountsDto {
    /// Current status: leads now, whatever their status (archived ones included).
    pub total_contacts: i64,
    /// Ever reached: leads that were ever contacted (or went past contacted: in conversation,
    /// qualified, booked), whatever their status now.
    pub contacted: i64,
    /// Ever reached: leads that were ever qualified.
    pub qualified: i64,
    /// Ever reached: leads that were ever booked.
    pub booked: i64,
    /// Ever reached: leads that ever opted out (re-subscribed ones included).
    pub opted_out: i64,
}

impl OverviewCountsDto {
    fn new(leads: i64, reached: &FunnelCounts) -> Self {
        Self {
            total_contacts: leads,
            contacted: reached.contacted,
            qualified: reached.qualified,
            booked: reached.booked,
            opted_out: reached.opted_out,
        }
    }
}

/// AI usage over all time.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "AiUsage")]
pub struct AiUsageDto {
    /// Input (prompt, cached included) plus output (completion) tokens.
    pub total_tokens: i64,
    /// The cost in USD as a decimal string with six places, from `cost_micros`.
    pub total_cost: String,
    /// The cost in micro-USD, exact.
    pub cost_micros: i64,
    /// AI calls (answers and follow-ups).
    pub calls: i64,
    /// Distinct conversations that spent.
    pub conversations: i64,
    /// `total_tokens / conversations`; `null` when no conversation spent.
    #[oai(nullable)]
    pub average_tokens_per_conversation: Option<f64>,
}

impl From<&CostSums> for AiUsageDto {
    fn from(sums: &CostSums) -> Self {
        Self {
            total_tokens: sums.input_tokens + sums.output_tokens,
            total_cost: micros_to_decimal(sums.cost_micros),
            cost_micros: sums.cost_micros,
            calls: sums.calls,
            conversations: sums.conversations,
            average_tokens_per_conversation: tokens_per_conversation(sums),
        }
    }
}

/// One workflow's part of the overview.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "WorkflowOverview")]
pub struct WorkflowOverviewDto {
    /// The workflow (the nil uuid: leads in no workflow).
    pub workflow_id: String,
    /// Its name, `null` for no workflow.
    #[oai(nullable)]
    pub name: Option<String>,
    /// Its leads: `total_contacts` counts the leads in it now; the other counts are of leads
    /// that reached the stage while in it.
    pub overview: OverviewCountsDto,
    /// Its rates, as for the tenant.
    pub rates: FunnelRatesDto,
    /// AI usage of its leads' conversations while in it.
    pub ai_usage: AiUsageDto,
}

/// A tenant's all-time analytics.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "AnalyticsOverview")]
pub struct AnalyticsOverviewDto {
    /// Lead counts.
    pub overview: OverviewCountsDto,
    /// Rates from the ever-reached counts, defined as for the funnel (four decimals, `null` for
    /// a zero denominator).
    pub rates: FunnelRatesDto,
    /// AI usage.
    pub ai_usage: AiUsageDto,
    /// Messages and their reported prices per channel that carried any, by channel.
    pub messaging: Vec<ChannelMessagesDto>,
    /// Per workflow that ever counted a lead or spent, by id.
    pub by_workflow: Vec<WorkflowOverviewDto>,
    /// The latest 10 activity items, newest first (as `GET /api/v1/activity`).
    pub recent_activity: Vec<ActivityItemDto>,
}

/// What the overview is made of.
#[derive(Debug, Clone, Default)]
pub struct OverviewParts {
    /// The all-time funnel per workflow.
    pub funnel: BTreeMap<Uuid, WorkflowFunnel>,
    /// All-time AI spend and messages.
    pub costs: CostTotals,
    /// The workflows' names.
    pub names: BTreeMap<Uuid, String>,
    /// The latest activity, newest first.
    pub activity: Vec<ActivityRow>,
}

impl From<OverviewParts> for AnalyticsOverviewDto {
    fn from(parts: OverviewParts) -> Self {
        let mut reached = FunnelCounts::default();
        let mut leads = 0;
        for workflow in parts.funnel.values() {
            reached.add_all(&workflow.reached);
            leads += workflow.leads;
        }
        let workflows: BTreeSet<Uuid> = parts
            .funnel
            .keys()
            .chain(parts.costs.by_workflow.keys())
            .copied()
            .collect();
        let by_workflow = workflows
            .into_iter()
            .map(|id| {
                let funnel = parts.funnel.get(&id).copied().unwrap_or_default();
                let spend = parts
                    .costs
                    .by_workflow
                    .get(&id)
                    .copied()
                    .unwrap_or_default();
                WorkflowOverviewDto {
                    workflow_id: id.to_string(),
                    name: parts.names.get(&id).cloned(),
                    overview: OverviewCountsDto::new(funnel.leads, &funnel.reached),
                    rates: funnel.reached.into(),
                    ai_usage: (&spend).into(),
                }
            })
            .collect();
        Self {
            overview: OverviewCountsDto::new(leads, &reached),
            rates: reached.into(),
            ai_usage: (&parts.costs.total).into(),
            messaging: parts.costs.messages.into_iter().map(Into::into).collect(),
            by_workflow,
            recent_activity: parts.activity.into_iter().map(Into::into).collect(),
        }
    }
}
