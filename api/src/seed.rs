//! `bookerbot seed`: synthetic tenants, workflows and leads with realistic histories, for
//! benchmarks and demos. [`seed`] is the library entry point the benchmarks call.
//!
//! Each tenant is created through the tenant store (it gets an API key) with a few workflows
//! created through the command executor. Its leads are captured over the past months, in order,
//! and live out stories decided by the Lead aggregate (see `seed/story.rs`). Their events are
//! written in time order: the timeline is cut into slots of about [`EVENTS_PER_SLOT`] events,
//! each slot one `append_many` statement whose metadata carries the slot's time, a few dozen
//! slots per transaction together with the phones they reserve in `lead_phones`. Generation runs
//! on one task while another writes, and the same `--seed` gives the same leads and histories.

pub mod conversations;
mod names;
mod rng;
mod story;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Context;
use application::{Actor, CommandContext};
use chrono::{DateTime, Utc};
use domain::values::{CountryCode, MessageTemplate, TenantId, WorkflowId, WorkflowName};
use domain::{Channel, Lead, LeadEvent, Workflow, WorkflowCommand, WorkflowDefinition};
use infrastructure::event_store::{append_many, NewEvents};
use infrastructure::executor::{CommandExecutor, Existence};
use infrastructure::metadata::EventMetadata;
use infrastructure::tenants::{TenantSettings, TenantStore};
use sqlx::PgPool;
use tokio::sync::mpsc;
use uuid::Uuid;

use crate::progress::Progress;
use crate::settings::Settings;
use rng::Rng;
use story::{lead_story, TenantPlan};

/// Events per `append_many` statement the timeline aims at (a slot's worth).
pub const EVENTS_PER_SLOT: u64 = 250;
/// Leads generated per transaction written.
const CHUNK_LEADS: u64 = 4_000;
/// About how many events a seeded lead has (sizes the slots).
const EVENTS_PER_LEAD: u64 = 5;
/// Leads are captured over this many days…
const HISTORY_DAYS: i64 = 180;
/// …ending this many days ago, so their stories have time to unfold.
const QUIET_DAYS: i64 = 7;

/// Options of `bookerbot seed`.
#[derive(Debug, Clone, clap::Args)]
pub struct SeedOptions {
    /// Tenants to create.
    #[arg(long, default_value_t = 1)]
    pub tenants: u32,
    /// Leads per tenant.
    #[arg(long, default_value_t = 1_000)]
    pub leads: u64,
    /// Seed of the generator: the same seed gives the same leads and histories.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

/// A tenant the seed created.
#[derive(Debug, Clone)]
pub struct SeededTenant {
    /// Its id.
    pub id: TenantId,
    /// Its name.
    pub name: String,
    /// A fresh API key for it.
    pub api_key: String,
    /// Its workflows.
    pub workflows: Vec<WorkflowId>,
}

/// What a seed run wrote.
#[derive(Debug, Clone)]
pub struct SeedReport {
    /// The tenants created.
    pub tenants: Vec<SeededTenant>,
    /// Leads captured.
    pub leads: u64,
    /// Lead events written.
    pub events: u64,
    /// Wall time.
    pub elapsed: Duration,
}

impl SeedReport {
    /// Lead events written per second.
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Seeds `options.tenants` tenants of `options.leads` leads each; `progress` hears the number
/// of leads written so far after every transaction.
pub async fn seed(
    pool: &PgPool,
    options: &SeedOptions,
    progress: &mut (dyn FnMut(u64) + Send),
) -> anyhow::Result<SeedReport> {
    let started = Instant::now();
    let mut report = SeedReport {
        tenants: Vec::new(),
        leads: 0,
        events: 0,
        elapsed: Duration::ZERO,
    };
    for index in 0..options.tenants {
        let done = report.leads;
        let mut tenant_progress = |leads| progress(done + leads);
        let (tenant, events) = seed_tenant(
            pool,
            options.seed,
            index,
            options.leads,
            HISTORY_DAYS,
            &mut tenant_progress,
        )
        .await?;
        report.events += events;
        report.leads += options.leads;
        report.tenants.push(tenant);
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Seeds tenant number `index` of seed `seed` with `leads` leads captured over the
/// `history_days` days up to a week ago (at least [`QUIET_DAYS`] + 1); returns the tenant and
/// the lead events written. `progress` hears the leads written so far.
pub async fn seed_tenant(
    pool: &PgPool,
    seed: u64,
    index: u32,
    leads: u64,
    history_days: i64,
    progress: &mut (dyn FnMut(u64) + Send),
) -> anyhow::Result<(SeededTenant, u64)> {
    let tenant = create_tenant(pool, seed, index).await?;
    let plan = TenantPlan {
        tenant: tenant.id.as_uuid(),
        workflows: tenant.workflows.clone(),
        now: Utc::now(),
    };
    let timeline = Timeline::spanning(plan.now, leads, history_days.max(QUIET_DAYS + 1));
    let events = write_leads(pool, &plan, [seed, u64::from(index)], timeline, progress)
        .await
        .with_context(|| format!("Failed to seed the leads of tenant {}", tenant.id))?;
    Ok((tenant, events))
}

/// `bookerbot seed`: seeds the configured database, printing each tenant and its key.
pub async fn run(settings: Settings, options: SeedOptions) -> anyhow::Result<()> {
    let db = crate::server::open_database(&settings).await?;
    let bar = Progress::new(
        "seed",
        Some(u64::from(options.tenants) * options.leads),
        "leads",
    );
    let report = seed(&db.pool, &options, &mut |leads| bar.set(leads)).await?;
    bar.finish();
    for tenant in &report.tenants {
        println!(
            "tenant {} ({})  api key: {}",
            tenant.id, tenant.name, tenant.api_key
        );
    }
    println!(
        "seeded {} leads ({} events) in {:.1} s: {:.0} events/s",
        report.leads,
        report.events,
        report.elapsed.as_secs_f64(),
        report.events_per_second()
    );
    Ok(())
}

/// Creates tenant number `index` of seed `seed` with its workflows (two active, one paused).
async fn create_tenant(pool: &PgPool, seed: u64, index: u32) -> anyhow::Result<SeededTenant> {
    let now = Utc::now();
    let name = format!("Seed {seed}-{index}");
    let country = if index.is_multiple_of(2) { "GB" } else { "US" };
    let settings = TenantSettings {
        brand_name: Some(format!("Seeded Practice {index}")),
        default_country: Some(CountryCode::parse(country)?),
        ..TenantSettings::default()
    };
    let (tenant, key) = TenantStore::new(pool.clone(), None)
        .create(name.clone(), settings, now)
        .await?;
    let executor = CommandExecutor::new(pool.clone(), 10);
    let ctx = CommandContext {
        tenant_id: tenant.id,
        actor: Actor::System("seed"),
        request_id: format!("seed-{seed}"),
        issued_at: now - chrono::Duration::days(HISTORY_DAYS + 1),
    };
    let mut workflows = Vec::new();
    for (n, workflow_name) in names::WORKFLOWS.into_iter().enumerate() {
        let id = WorkflowId::new();
        let definition = WorkflowDefinition::new(
            WorkflowName::parse(workflow_name)?,
            Channel::Sms,
            MessageTemplate::parse(
                "Hi {first_name}, thanks for contacting {brand_name}! Would you like to book a \
                 visit? Reply STOP to opt out.",
            )?,
        );
        let mut commands = vec![
            WorkflowCommand::CreateWorkflow { definition },
            WorkflowCommand::Activate,
        ];
        if n == names::WORKFLOWS.len() - 1 {
            commands.push(WorkflowCommand::Pause);
        }
        for command in commands {
            executor
                .execute::<Workflow>(&ctx, &id.to_string(), Existence::MayCreate, command)
                .await
                .map_err(|e| anyhow::anyhow!("seeding a workflow: {e}"))?;
        }
        workflows.push(id);
    }
    Ok(SeededTenant {
        id: tenant.id,
        name,
        api_key: key.secret,
        workflows,
    })
}

/// One aggregate's run of events inside a slot.
#[derive(Debug)]
struct Run {
    id: String,
    version: i64,
    events: Vec<LeadEvent>,
}

/// The events of one slot of the timeline, and the phones first captured in it.
#[derive(Debug, Default)]
struct Slot {
    runs: Vec<Run>,
    phones: Vec<(String, Uuid)>,
}

/// The slots ready to be written in one transaction, and how many leads they complete.
#[derive(Debug)]
struct Flush {
    slots: Vec<(u64, Slot)>,
    leads: u64,
}

/// The tenant's timeline: captures spread evenly over the history, cut into slots.
#[derive(Debug, Clone, Copy)]
struct Timeline {
    start: DateTime<Utc>,
    capture_span_ms: i64,
    slot_ms: i64,
    leads: u64,
    now: DateTime<Utc>,
}

impl Timeline {
    /// Captures over the `history_days` days up to [`QUIET_DAYS`] ago.
    fn spanning(now: DateTime<Utc>, leads: u64, history_days: i64) -> Self {
        let start = now - chrono::Duration::days(history_days);
        let capture_span_ms = (history_days - QUIET_DAYS) * 86_400_000;
        let slots = (leads * EVENTS_PER_LEAD / EVENTS_PER_SLOT).max(1);
        Self {
            start,
            capture_span_ms,
            slot_ms: (capture_span_ms / slots as i64).max(60_000),
            leads,
            now,
        }
    }

    /// When lead number `index` is captured.
    fn capture(&self, index: u64) -> DateTime<Utc> {
        let offset =
            i128::from(self.capture_span_ms) * i128::from(index) / i128::from(self.leads.max(1));
        self.start + chrono::Duration::milliseconds(offset as i64)
    }

    fn slot_of(&self, at: DateTime<Utc>) -> u64 {
        ((at - self.start).num_milliseconds().max(0) / self.slot_ms) as u64
    }

    /// The time every event of `slot` is recorded with: its start.
    fn time_of(&self, slot: u64) -> DateTime<Utc> {
        let offset = i64::try_from(slot).map_or(i64::MAX, |slot| slot.saturating_mul(self.slot_ms));
        self.start
            .checked_add_signed(chrono::Duration::milliseconds(offset))
            .map_or(self.now, |at| at.min(self.now))
    }
}

/// Generates and writes the `timeline.leads` leads of `plan.tenant`; returns the events
/// written.
async fn write_leads(
    pool: &PgPool,
    plan: &TenantPlan,
    stream: [u64; 2],
    timeline: Timeline,
    progress: &mut (dyn FnMut(u64) + Send),
) -> anyhow::Result<u64> {
    let (sender, mut flushes) = mpsc::channel::<anyhow::Result<Flush>>(2);
    let generator_plan = plan.clone();
    let generator = tokio::spawn(async move {
        let generated = generate(&generator_plan, stream, timeline, &sender).await;
        if let Err(error) = generated {
            let _ = sender.send(Err(error)).await;
        }
    });
    let ctx = CommandContext {
        tenant_id: TenantId::from_uuid(plan.tenant),
        actor: Actor::System("seed"),
        request_id: format!("seed-{}", stream[0]),
        issued_at: plan.now,
    };
    let mut events = 0u64;
    let mut written = 0u64;
    let result = async {
        while let Some(flush) = flushes.recv().await {
            let flush = flush?;
            events += write_flush(pool, &ctx, &timeline, &flush).await?;
            written += flush.leads;
            progress(written);
        }
        Ok::<_, anyhow::Error>(events)
    }
    .await;
    generator.abort();
    result
}

/// Generates the tenant's leads chunk by chunk, sending each slot once no later lead can add
/// to it.
async fn generate(
    plan: &TenantPlan,
    stream: [u64; 2],
    timeline: Timeline,
    sender: &mpsc::Sender<anyhow::Result<Flush>>,
) -> anyhow::Result<()> {
    let mut pending: BTreeMap<u64, Slot> = BTreeMap::new();
    let mut first = 0u64;
    while first < timeline.leads {
        let end = (first + CHUNK_LEADS).min(timeline.leads);
        let mut rng = Rng::new(&[stream[0], stream[1], first]);
        for index in first..end {
            let captured = timeline.capture(index);
            let story = lead_story(&mut rng, index, captured, plan).await?;
            let id = story.id.to_string();
            for (seq, (at, event)) in story.events.into_iter().enumerate() {
                let slot = pending.entry(timeline.slot_of(at)).or_default();
                match slot.runs.last_mut() {
                    Some(run) if run.id == id => run.events.push(event),
                    _ => slot.runs.push(Run {
                        id: id.clone(),
                        version: seq as i64,
                        events: vec![event],
                    }),
                }
            }
            if let Some(phone) = story.phone {
                pending
                    .entry(timeline.slot_of(captured))
                    .or_default()
                    .phones
                    .push((phone, story.id));
            }
        }
        let ready = if end < timeline.leads {
            let rest = pending.split_off(&timeline.slot_of(timeline.capture(end)));
            std::mem::replace(&mut pending, rest)
        } else {
            std::mem::take(&mut pending)
        };
        let flush = Flush {
            slots: ready.into_iter().collect(),
            leads: end - first,
        };
        if sender.send(Ok(flush)).await.is_err() {
            return Ok(());
        }
        first = end;
    }
    Ok(())
}

/// Writes one flush in one transaction: the phones, then each slot with one `append_many`.
async fn write_flush(
    pool: &PgPool,
    ctx: &CommandContext,
    timeline: &Timeline,
    flush: &Flush,
) -> anyhow::Result<u64> {
    let mut tx = pool.begin().await.context("Failed to begin")?;
    let (phones, owners): (Vec<&str>, Vec<Uuid>) = flush
        .slots
        .iter()
        .flat_map(|(_, slot)| slot.phones.iter().map(|(p, id)| (p.as_str(), *id)))
        .unzip();
    sqlx::query(
        "INSERT INTO lead_phones (tenant_id, phone, lead_id) \
         SELECT $1, * FROM UNNEST($2::text[], $3::uuid[])",
    )
    .bind(ctx.tenant_id.as_uuid())
    .bind(&phones)
    .bind(&owners)
    .execute(&mut *tx)
    .await
    .context("Failed to reserve the seeded phones")?;
    let mut events = 0u64;
    for (slot, content) in &flush.slots {
        let batch: Vec<NewEvents<'_, LeadEvent>> = content
            .runs
            .iter()
            .map(|run| NewEvents {
                id: &run.id,
                version: run.version,
                events: &run.events,
            })
            .collect();
        let metadata = EventMetadata {
            occurred_at: timeline.time_of(*slot),
            ..EventMetadata::from_context(ctx)
        };
        append_many::<Lead>(&mut tx, &batch, &metadata)
            .await
            .context("Failed to append seeded events")?;
        events += content
            .runs
            .iter()
            .map(|r| r.events.len() as u64)
            .sum::<u64>();
    }
    tx.commit().await.context("Failed to commit seeded leads")?;
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_spread_over_the_history_and_slots_follow_time() {
        let now = Utc::now();
        let timeline = Timeline::spanning(now, 10_000, HISTORY_DAYS);
        assert_eq!(
            timeline.capture(0),
            now - chrono::Duration::days(HISTORY_DAYS)
        );
        assert!(timeline.capture(9_999) < now - chrono::Duration::days(QUIET_DAYS));
        assert_eq!(timeline.slot_of(timeline.capture(0)), 0);
        let last = timeline.slot_of(timeline.capture(9_999));
        assert_eq!(last, 10_000 * EVENTS_PER_LEAD / EVENTS_PER_SLOT - 1);
        assert!(timeline.time_of(last) <= timeline.capture(9_999));
        let beyond = timeline.slot_of(now + chrono::Duration::days(10));
        assert_eq!(timeline.time_of(beyond), now);
        assert_eq!(timeline.time_of(u64::MAX), now);
    }
}
