//! The `bookerbot audit` subcommand: parses its arguments, builds the [`super::AuditReport`] and
//! prints it as a table and the states, or as one JSON document for tooling.

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::values::{LeadId, TenantId};
use serde::Serialize;

use super::{AggregateState, AuditReport};
use crate::settings::Settings;

/// Options of `bookerbot audit`.
#[derive(Debug, Clone, clap::Args)]
pub struct AuditArgs {
    /// The lead.
    pub lead_id: String,
    /// The instant of the state (RFC 3339); events that occurred after it are left out.
    /// Default: now.
    #[arg(long)]
    pub at: Option<String>,
    /// Only a lead of this tenant (another tenant's lead is then unknown).
    #[arg(long)]
    pub tenant: Option<String>,
    /// Print one JSON document (events and states) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs the audit and prints it.
pub async fn run(settings: Settings, args: AuditArgs) -> anyhow::Result<()> {
    let lead: LeadId = args
        .lead_id
        .parse()
        .map_err(|e| anyhow::anyhow!("LEAD_ID: {e}"))?;
    let tenant: Option<TenantId> = args
        .tenant
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--tenant: {e}"))?;
    let at = match args.at.as_deref() {
        Some(text) => DateTime::parse_from_rfc3339(text)
            .with_context(|| format!("--at: {text} is not an RFC 3339 time"))?
            .with_timezone(&Utc),
        None => Utc::now(),
    };
    let db = crate::server::open_database(&settings).await?;
    let report = super::audit(&db.pool, lead, tenant, at).await?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).context("Failed to encode the audit")?
        );
    } else {
        print!("{}", render(&report)?);
    }
    Ok(())
}

/// The report as text: a line per event, then each state as indented JSON.
pub fn render(report: &AuditReport) -> anyhow::Result<String> {
    let mut out = format!(
        "lead {} (tenant {}) as of {}\n\n{:>10}  {:<24}  {:<12}  {:<48}  {:<34}  {:<24}  {:<40}  summary\n",
        report.lead_id,
        report.tenant_id,
        report.at.to_rfc3339(),
        "position",
        "occurred at",
        "aggregate",
        "id",
        "event",
        "actor",
        "request",
    );
    for e in &report.events {
        out.push_str(&format!(
            "{:>10}  {:<24}  {:<12}  {:<48}  {:<34}  {:<24}  {:<40}  {}\n",
            e.position,
            e.occurred_at.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
            e.aggregate_type,
            e.aggregate_id,
            e.event_type,
            e.actor,
            e.request_id,
            e.summary,
        ));
    }
    match &report.lead {
        Some(lead) => state(&mut out, "lead", lead)?,
        None => out.push_str("\nlead: not captured yet\n"),
    }
    for conversation in &report.conversations {
        state(&mut out, "conversation", conversation)?;
    }
    for appointment in &report.appointments {
        state(&mut out, "appointment", appointment)?;
    }
    Ok(out)
}

fn state<A: Serialize>(out: &mut String, kind: &str, s: &AggregateState<A>) -> anyhow::Result<()> {
    let json = serde_json::to_string_pretty(&s.state)
        .with_context(|| format!("Failed to encode {kind} {}", s.id))?;
    out.push_str(&format!(
        "\n{kind} {} (version {}):\n{json}\n",
        s.id, s.version
    ));
    Ok(())
}
