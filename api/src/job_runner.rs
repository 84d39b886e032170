//! The background worker that runs bulk jobs inside the server process. Every instance runs one;
//! jobs live in PostgreSQL, so whichever worker claims a job runs it, and a job left behind by a
//! crashed instance is resumed by another once its lease expires.
//!
//! A job first resolves its target (explicit ids, or the list's filter evaluated against the
//! contacts model) into a numbered list of leads, then works through it in chunks: one
//! transaction per chunk writes the chunk's events and moves the job's progress together. The
//! worker wakes on `NOTIFY` when a job is created and polls as a fallback; it stops at a chunk
//! boundary when the server stops, handing the job back for immediate resumption.
//!
//! The `outreach` action queues messages with the messaging use cases, one transaction per lead
//! (`infrastructure::messaging::bulk_outreach`), so its chunk is not one transaction: the chunk
//! is read, its leads' outreach queued, then the progress recorded. If the worker dies in
//! between, the chunk runs again and the leads already given outreach are skipped; a database
//! failure at one lead records the leads before it and runs the rest again.

use std::time::Duration;

use anyhow::Context;
use application::{Actor, CommandContext};
use domain::values::TenantId;
use infrastructure::bulk::{self, BulkAction};
use infrastructure::executor::CommandError;
use infrastructure::jobs::{self, Job, JOBS_CHANNEL};
use infrastructure::messaging::bulk_outreach;
use infrastructure::metadata::EventMetadata;
use poem_openapi::types::ToJSON;
use serde_json::{json, Value};

use tokio::sync::watch;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::dto::lead_filter::LeadFilter;
use crate::error::ApiError;
use crate::state::AppState;

/// Leads per chunk (per transaction).
pub const CHUNK_SIZE: i64 = 500;

/// Leads per chunk of the `outreach` action (a transaction or two per lead, so progress is
/// recorded more often).
pub const OUTREACH_CHUNK_SIZE: i64 = 100;

/// How long a claimed job stays with its worker without progress before another may take it.
pub const LEASE: Duration = Duration::from_secs(30);

/// How often an idle worker looks for jobs without being woken (and for abandoned ones).
const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Consecutive failed attempts at one chunk after which the job is marked failed.
const MAX_CHUNK_ATTEMPTS: u32 = 5;

/// Which leads a bulk job acts on, as stored with the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkTarget {
    /// These leads, in this order, without repeats.
    Ids(Vec<Uuid>),
    /// The leads the list shows with this filter when the job starts.
    Filter(Box<LeadFilter>),
}

impl BulkTarget {
    /// The stored form: `{"ids": [...]}` or `{"filter": {...}}`.
    pub fn to_value(&self) -> Value {
        match self {
            Self::Ids(ids) => json!({ "ids": ids }),
            Self::Filter(filter) => json!({ "filter": filter.to_json() }),
        }
    }

    /// Reads the stored form back.
    pub fn from_value(value: &Value) -> anyhow::Result<Self> {
        if let Some(ids) = value.get("ids") {
            return Ok(Self::Ids(
                serde_json::from_value(ids.clone()).context("Bad stored job ids")?,
            ));
        }
        let filter = value.get("filter").context("A stored job has no target")?;
        Ok(Self::Filter(Box::new(
            serde_json::from_value(filter.clone()).context("Bad stored job filter")?,
        )))
    }
}

/// Starts the worker; it runs until `shutdown` turns true.
pub fn spawn(state: AppState, shutdown: watch::Receiver<bool>) -> JoinHandle<()> {
    tokio::spawn(run(Worker::new(state), shutdown))
}

/// One worker: claims jobs under its own owner id.
#[derive(Debug, Clone)]
pub struct Worker {
    state: AppState,
    owner: Uuid,
}

/// How a chunk went.
enum Step {
    /// Some leads were processed.
    Progressed,
    /// Every lead has been processed.
    Done,
    /// Another worker holds the job now.
    Lost,
}

impl Worker {
    /// A worker over the server's state.
    pub fn new(state: AppState) -> Self {
        Self {
            state,
            owner: Uuid::new_v4(),
        }
    }

    /// Claims one job and runs it until it completes, fails, or `shutdown` turns true (then it
    /// is handed back). Returns whether there was a job to claim.
    pub async fn run_next(&self, shutdown: &watch::Receiver<bool>) -> anyhow::Result<bool> {
        let now = self.state.clock.now();
        let Some(job) = jobs::claim(&self.state.pool, self.owner, LEASE, now).await? else {
            return Ok(false);
        };
        tracing::info!(job = %job.id, tenant = %job.tenant_id, processed = job.processed, "job claimed");
        if let Err(error) = self.run_job(&job, shutdown).await {
            let message = format!("{error:#}");
            tracing::error!(job = %job.id, error = %message, "job failed");
            jobs::fail(
                &self.state.pool,
                job.id,
                self.owner,
                &message,
                self.state.clock.now(),
            )
            .await?;
        }
        Ok(true)
    }

    async fn run_job(&self, job: &Job, shutdown: &watch::Receiver<bool>) -> anyhow::Result<()> {
        let action: BulkAction =
            serde_json::from_value(job.action.clone()).context("The job's action is unreadable")?;
        if job.total.is_none() {
            self.check_action(job.tenant_id, &action).await?;
            let leads = self.resolve(job).await?;
            if !jobs::set_targets(&self.state.pool, job.id, self.owner, &leads).await? {
                return Ok(());
            }
        }
        let mut attempts = 0;
        loop {
            if *shutdown.borrow() {
                jobs::release(&self.state.pool, job.id, self.owner).await?;
                tracing::info!(job = %job.id, "job handed back at shutdown");
                return Ok(());
            }
            let step = match &action {
                BulkAction::Outreach => self.outreach_chunk(job).await,
                _ => self.chunk(job, &action).await,
            };
            match step {
                Ok(Step::Progressed) => attempts = 0,
                Ok(Step::Done) => {
                    jobs::complete(&self.state.pool, job.id, self.owner, self.state.clock.now())
                        .await?;
                    tracing::info!(job = %job.id, "job completed");
                    return Ok(());
                }
                Ok(Step::Lost) => return Ok(()),
                Err(error) => {
                    attempts += 1;
                    if attempts >= MAX_CHUNK_ATTEMPTS {
                        return Err(error);
                    }
                    tracing::warn!(job = %job.id, attempts, error = format!("{error:#}"), "chunk failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempts))).await;
                }
            }
        }
    }

    /// Refuses, when the job starts, an action that was valid when it was accepted but no longer
    /// is (its workflow was archived since).
    async fn check_action(&self, tenant: Uuid, action: &BulkAction) -> anyhow::Result<()> {
        let BulkAction::AssignWorkflow {
            workflow_id: Some(workflow),
        } = action
        else {
            return Ok(());
        };
        let mut conn = self.state.pool.acquire().await.context("No connection")?;
        if let Err(refusal) = bulk::usable_workflow(&mut conn, tenant, *workflow)
            .await
            .map_err(anyhow::Error::from)?
        {
            anyhow::bail!("workflow {workflow}: {refusal}");
        }
        Ok(())
    }

    /// Queues the outreach of the job's next chunk of leads, lead by lead, then records the
    /// chunk's progress. Running a chunk again (after a failure, or by the worker that resumes
    /// the job) queues nothing twice: leads already given outreach are skipped.
    async fn outreach_chunk(&self, job: &Job) -> anyhow::Result<Step> {
        let pool = &self.state.pool;
        let chunk = {
            let mut conn = pool.acquire().await.context("No connection")?;
            jobs::next_chunk(&mut conn, job.id, self.owner, OUTREACH_CHUNK_SIZE).await?
        };
        let Some(chunk) = chunk else {
            return Ok(Step::Lost);
        };
        if chunk.leads.is_empty() {
            return Ok(Step::Done);
        }
        let tenant = TenantId::from_uuid(job.tenant_id);
        let brand_name = self
            .state
            .tenants
            .get(tenant)
            .await?
            .context("The job's tenant no longer exists")?
            .brand_name;
        let ctx = CommandContext {
            tenant_id: tenant,
            actor: actor_of(&job.actor),
            request_id: job.request_id.clone(),
            issued_at: self.state.clock.now(),
        };
        match bulk_outreach::apply(&self.state.messaging, &ctx, &chunk.leads, &brand_name).await {
            Ok(outcome) => {
                self.record(job, &chunk, &outcome).await?;
                Ok(Step::Progressed)
            }
            Err(interrupted) => {
                // Keep what the leads before the failure gave; the rest run again.
                if interrupted.done > 0 {
                    let done = jobs::Chunk {
                        processed: chunk.processed,
                        leads: chunk.leads[..interrupted.done].to_vec(),
                    };
                    self.record(job, &done, &interrupted.outcome).await?;
                }
                Err(interrupted.error)
            }
        }
    }

    /// Moves the job past `chunk` with its outcome, in a transaction of its own.
    async fn record(
        &self,
        job: &Job,
        chunk: &jobs::Chunk,
        outcome: &bulk::ChunkOutcome,
    ) -> anyhow::Result<()> {
        let mut tx = self.state.pool.begin().await.context("Failed to begin")?;
        if !jobs::record_chunk(&mut tx, job.id, self.owner, chunk, outcome, LEASE).await? {
            // The lease was lost: whoever holds the job now runs the chunk again (skipping the
            // leads given outreach here).
            anyhow::bail!("the job's progress could not be recorded: its lease was lost");
        }
        tx.commit()
            .await
            .context("Failed to record a job's progress")
    }

    /// The leads the job acts on, in order.
    async fn resolve(&self, job: &Job) -> anyhow::Result<Vec<Uuid>> {
        match BulkTarget::from_value(&job.target)? {
            BulkTarget::Ids(ids) => Ok(ids),
            BulkTarget::Filter(filter) => {
                let filter = filter
                    .to_contact_filter(self.state.clock.now())
                    .map_err(|error| {
                        anyhow::anyhow!("the job's filter is invalid: {}", reason(&error))
                    })?;
                projections::contacts::export::matching_ids(
                    &self.state.pool,
                    &projections::contacts::live(),
                    job.tenant_id,
                    &filter,
                )
                .await
            }
        }
    }

    /// Applies the action to the job's next chunk in one transaction (retried on conflicts with
    /// concurrent writers).
    async fn chunk(&self, job: &Job, action: &BulkAction) -> anyhow::Result<Step> {
        let metadata = EventMetadata {
            tenant_id: job.tenant_id,
            actor: job.actor.clone(),
            occurred_at: self.state.clock.now(),
            request_id: job.request_id.clone(),
        };
        let (id, tenant, owner) = (job.id, job.tenant_id, self.owner);
        let result = self
            .state
            .executor
            .in_transaction(|conn| {
                let metadata = metadata.clone();
                let action = action.clone();
                Box::pin(async move {
                    let Some(chunk) = jobs::next_chunk(conn, id, owner, CHUNK_SIZE)
                        .await
                        .map_err(CommandError::Database)?
                    else {
                        return Ok(Step::Lost);
                    };
                    if chunk.leads.is_empty() {
                        return Ok(Step::Done);
                    }
                    let outcome = bulk::apply(conn, tenant, &action, &chunk.leads, &metadata)
                        .await
                        .map_err(CommandError::<std::convert::Infallible>::from)?;
                    let recorded = jobs::record_chunk(conn, id, owner, &chunk, &outcome, LEASE)
                        .await
                        .map_err(CommandError::Database)?;
                    if !recorded {
                        // Progress moved or the lease was lost: roll back and look again.
                        return Err(CommandError::Conflict);
                    }
                    Ok(Step::Progressed)
                })
            })
            .await;
        match result {
            Ok(step) => Ok(step),
            Err(CommandError::Database(error)) => Err(error),
            Err(other) => Err(anyhow::anyhow!("{other}")),
        }
    }
}

/// The actor a job's commands are issued as, from its stored form (`api_key:<id>`, `admin`).
fn actor_of(stored: &str) -> Actor {
    match stored.split_once(':') {
        Some(("api_key", id)) => {
            Uuid::parse_str(id).map_or(Actor::System("bulk_job"), Actor::ApiKey)
        }
        _ if stored == "admin" => Actor::Admin,
        _ => Actor::System("bulk_job"),
    }
}

/// The message of an API error, for a job's `error`.
fn reason(error: &ApiError) -> String {
    match error {
        ApiError::Unprocessable(body) | ApiError::BadRequest(body) => body.0.error.message.clone(),
        other => other.status().to_string(),
    }
}

/// Runs jobs until `shutdown` turns true.
async fn run(worker: Worker, mut shutdown: watch::Receiver<bool>) {
    let mut wake = projections::runner::spawn_listener(
        worker.state.pool.clone(),
        JOBS_CHANNEL,
        shutdown.clone(),
    );
    let mut failures = 0u32;
    let mut wake_open = true;
    while !*shutdown.borrow() {
        wake.borrow_and_update();
        let pause = match worker.run_next(&shutdown).await {
            Ok(true) => {
                failures = 0;
                continue;
            }
            Ok(false) => {
                failures = 0;
                POLL_INTERVAL
            }
            Err(error) => {
                failures += 1;
                tracing::error!(error = format!("{error:#}"), "job worker failed");
                Duration::from_millis(100 * 2u64.pow(failures.min(6)))
            }
        };
        tokio::select! {
            changed = wake.changed(), if wake_open => wake_open = changed.is_ok(),
            _ = tokio::time::sleep(pause) => {}
            _ = shutdown.changed() => {}
        }
    }
    tracing::info!("job worker stopped");
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn a_job_acts_as_the_actor_that_created_it() {
        let key = Uuid::now_v7();
        for actor in [Actor::ApiKey(key), Actor::Admin] {
            assert_eq!(actor_of(&actor.to_string()), actor);
        }
        assert_eq!(actor_of("api_key:nope"), Actor::System("bulk_job"));
    }

    #[test]
    fn a_target_reads_back_as_stored() {
        let ids = BulkTarget::Ids(vec![Uuid::nil(), Uuid::max()]);
        assert_eq!(BulkTarget::from_value(&ids.to_value()).unwrap(), ids);
        let filter = BulkTarget::Filter(Box::new(LeadFilter {
            status: Some(vec!["booked".into()]),
            tag: Some(vec!["vip".into()]),
            custom_fields: Some([("plan".to_string(), "gold".to_string())].into()),
            days_since_contact_min: Some(3),
            ..LeadFilter::default()
        }));
        assert_eq!(BulkTarget::from_value(&filter.to_value()).unwrap(), filter);
    }
}
