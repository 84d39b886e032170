//! Background jobs stored in PostgreSQL: created by a request, claimed by whichever instance's
//! worker gets there first, resumed by another if that instance dies.
//!
//! A worker holds a job through a lease that every committed chunk renews; a job whose lease has
//! expired is claimable again. Progress moves only in the transaction that writes a chunk's
//! events, and only if the worker still holds the lease and nobody moved progress since it read
//! it: a resumed job continues right after the last committed chunk and never counts twice.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::postgres::PgRow;
use sqlx::{PgConnection, PgPool, Row};
use uuid::Uuid;

use crate::bulk::ChunkOutcome;

/// The channel `NOTIFY`ed when a job is created, to wake workers.
pub const JOBS_CHANNEL: &str = "bookerbot_jobs";

/// The kind of a bulk action on leads.
pub const BULK_UPDATE: &str = "bulk_update";

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobStatus {
    /// Waiting for a worker.
    Queued,
    /// A worker is on it (or was, and it will be resumed).
    Running,
    /// Every lead was processed (some may have failed).
    Completed,
    /// The job itself could not go on; see its error.
    Failed,
}

impl JobStatus {
    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Completed => "completed",
            Self::Failed => "failed",
        }
    }
}

impl FromStr for JobStatus {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Queued, Self::Running, Self::Completed, Self::Failed]
            .into_iter()
            .find(|status| status.as_str() == s)
            .with_context(|| format!("Unknown job status {s}"))
    }
}

/// A job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// Id.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// What kind of job ([`BULK_UPDATE`]).
    pub kind: String,
    /// What to do, as the kind defines it.
    pub action: Value,
    /// To what, as the kind defines it.
    pub target: Value,
    /// Where it is.
    pub status: JobStatus,
    /// How many leads it acts on; `None` until the target is resolved.
    pub total: Option<i64>,
    /// Leads done so far.
    pub processed: i64,
    /// Leads changed.
    pub succeeded: i64,
    /// Leads left as they were (already so).
    pub skipped: i64,
    /// Leads refused.
    pub failed: i64,
    /// Global position of the last event written.
    pub last_position: Option<i64>,
    /// Why the job failed, if it did.
    pub error: Option<String>,
    /// Who asked (`api_key:<id>`), recorded in the events' metadata.
    pub actor: String,
    /// The request that created it, recorded in the events' metadata.
    pub request_id: String,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// First claimed.
    pub started_at: Option<DateTime<Utc>>,
    /// Completed or failed.
    pub finished_at: Option<DateTime<Utc>>,
}

const JOB_COLUMNS: &str = "id, tenant_id, kind, action, target, status, total, processed, \
     succeeded, skipped, failed, last_position, error, actor, request_id, created_at, started_at, \
     finished_at";

fn job(row: &PgRow) -> anyhow::Result<Job> {
    let read = || -> Result<Job, sqlx::Error> {
        Ok(Job {
            id: row.try_get("id")?,
            tenant_id: row.try_get("tenant_id")?,
            kind: row.try_get("kind")?,
            action: row.try_get("action")?,
            target: row.try_get("target")?,
            status: JobStatus::Queued,
            total: row.try_get("total")?,
            processed: row.try_get("processed")?,
            succeeded: row.try_get("succeeded")?,
            skipped: row.try_get("skipped")?,
            failed: row.try_get("failed")?,
            last_position: row.try_get("last_position")?,
            error: row.try_get("error")?,
            actor: row.try_get("actor")?,
            request_id: row.try_get("request_id")?,
            created_at: row.try_get("created_at")?,
            started_at: row.try_get("started_at")?,
            finished_at: row.try_get("finished_at")?,
        })
    };
    let status: String = row.try_get("status").context("Failed to read a job")?;
    Ok(Job {
        status: status.parse()?,
        ..read().context("Failed to read a job")?
    })
}

/// A job to create.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Its id.
    pub id: Uuid,
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// Kind.
    pub kind: &'static str,
    /// What to do.
    pub action: Value,
    /// To what.
    pub target: Value,
    /// Who asked.
    pub actor: String,
    /// The request that asked.
    pub request_id: String,
    /// Now.
    pub created_at: DateTime<Utc>,
}

/// Queues a job and wakes the workers (the notification is delivered at commit).
pub async fn create(pool: &PgPool, new: &NewJob) -> anyhow::Result<Job> {
    let mut tx = pool.begin().await.context("Failed to begin")?;
    let row = sqlx::query(&format!(
        "INSERT INTO jobs (id, tenant_id, kind, action, target, actor, request_id, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {JOB_COLUMNS}"
    ))
    .bind(new.id)
    .bind(new.tenant_id)
    .bind(new.kind)
    .bind(&new.action)
    .bind(&new.target)
    .bind(&new.actor)
    .bind(&new.request_id)
    .bind(new.created_at)
    .fetch_one(&mut *tx)
    .await
    .context("Failed to create a job")?;
    sqlx::query("SELECT pg_notify($1, '')")
        .bind(JOBS_CHANNEL)
        .execute(&mut *tx)
        .await
        .context("Failed to notify the workers")?;
    tx.commit().await.context("Failed to commit a job")?;
    job(&row)
}

/// The tenant's job `id`, if it has one.
pub async fn get(pool: &PgPool, tenant: Uuid, id: Uuid) -> anyhow::Result<Option<Job>> {
    let row = sqlx::query(&format!(
        "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND tenant_id = $2"
    ))
    .bind(id)
    .bind(tenant)
    .fetch_optional(pool)
    .await
    .context("Failed to read a job")?;
    row.as_ref().map(job).transpose()
}

/// A lead a job could not act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// The lead.
    pub lead_id: Uuid,
    /// The rule's code.
    pub code: String,
    /// Why.
    pub message: String,
}

/// The failures of job `id` in target order, `limit` of them after the first `offset`.
pub async fn failures(
    pool: &PgPool,
    id: Uuid,
    offset: i64,
    limit: i64,
) -> anyhow::Result<Vec<JobFailure>> {
    let rows: Vec<(Uuid, String, String)> = sqlx::query_as(
        "SELECT lead_id, code, message FROM job_failures WHERE job_id = $1 \
         ORDER BY ordinal OFFSET $2 LIMIT $3",
    )
    .bind(id)
    .bind(offset)
    .bind(limit)
    .fetch_all(pool)
    .await
    .context("Failed to read a job's failures")?;
    Ok(rows
        .into_iter()
        .map(|(lead_id, code, message)| JobFailure {
            lead_id,
            code,
            message,
        })
        .collect())
}

/// Takes the oldest job that is queued, or running under an expired lease (its worker died), for
/// `owner` until `lease` from now. Safe for many workers at once: each gets a different job.
pub async fn claim(
    pool: &PgPool,
    owner: Uuid,
    lease: Duration,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<Job>> {
    let row = sqlx::query(&format!(
        "UPDATE jobs SET status = 'running', lease_owner = $1, \
           lease_expires_at = now() + make_interval(secs => $2), heartbeat_at = now(), \
           started_at = coalesce(started_at, $3) \
         WHERE id = (SELECT id FROM jobs \
           WHERE status = 'queued' OR (status = 'running' AND lease_expires_at < now()) \
           ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING {JOB_COLUMNS}"
    ))
    .bind(owner)
    .bind(lease.as_secs_f64())
    .bind(now)
    .fetch_optional(pool)
    .await
    .context("Failed to claim a job")?;
    row.as_ref().map(job).transpose()
}

/// Records the leads job `id` acts on, in order, and its total, if `owner` still holds it and
/// the target was not resolved yet. Returns whether it did.
pub async fn set_targets(
    pool: &PgPool,
    id: Uuid,
    owner: Uuid,
    leads: &[Uuid],
) -> anyhow::Result<bool> {
    let mut tx = pool.begin().await.context("Failed to begin")?;
    let updated = sqlx::query(
        "UPDATE jobs SET total = $3, heartbeat_at = now() \
         WHERE id = $1 AND lease_owner = $2 AND total IS NULL",
    )
    .bind(id)
    .bind(owner)
    .bind(leads.len() as i64)
    .execute(&mut *tx)
    .await
    .context("Failed to record a job's total")?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    sqlx::query(
        "INSERT INTO job_leads (job_id, ordinal, lead_id) \
         SELECT $1, t.ordinality - 1, t.lead_id FROM UNNEST($2::uuid[]) WITH ORDINALITY AS t(lead_id, ordinality)",
    )
    .bind(id)
    .bind(leads)
    .execute(&mut *tx)
    .await
    .context("Failed to record a job's leads")?;
    tx.commit()
        .await
        .context("Failed to commit a job's leads")?;
    Ok(true)
}

/// The next leads of a job to process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Leads done before this chunk (the ordinal of its first lead).
    pub processed: i64,
    /// Its leads, in order.
    pub leads: Vec<Uuid>,
}

/// The next (at most) `size` leads of job `id`, if `owner` still holds it. Takes no lock and
/// writes nothing, so the caller's transaction gets its id only when it appends events (after
/// loading them), as the feed's order requires; [`record_chunk`] checks nothing moved meanwhile.
pub async fn next_chunk(
    conn: &mut PgConnection,
    id: Uuid,
    owner: Uuid,
    size: i64,
) -> anyhow::Result<Option<Chunk>> {
    let processed: Option<i64> =
        sqlx::query_scalar("SELECT processed FROM jobs WHERE id = $1 AND lease_owner = $2")
            .bind(id)
            .bind(owner)
            .fetch_optional(&mut *conn)
            .await
            .context("Failed to read a job's progress")?;
    let Some(processed) = processed else {
        return Ok(None);
    };
    let leads: Vec<Uuid> = sqlx::query_scalar(
        "SELECT lead_id FROM job_leads WHERE job_id = $1 AND ordinal >= $2 \
         ORDER BY ordinal LIMIT $3",
    )
    .bind(id)
    .bind(processed)
    .bind(size)
    .fetch_all(&mut *conn)
    .await
    .context("Failed to read a job's leads")?;
    Ok(Some(Chunk { processed, leads }))
}

/// Moves job `id` past `chunk` with what applying it did, and renews `owner`'s lease for
/// `lease`, in the caller's transaction. Returns false (the caller must roll back) when `owner`
/// lost the job or its progress moved since the chunk was read.
pub async fn record_chunk(
    conn: &mut PgConnection,
    id: Uuid,
    owner: Uuid,
    chunk: &Chunk,
    outcome: &ChunkOutcome,
    lease: Duration,
) -> anyhow::Result<bool> {
    let updated = sqlx::query(
        "UPDATE jobs SET processed = processed + $4, succeeded = succeeded + $5, \
           skipped = skipped + $6, failed = failed + $7, \
           last_position = greatest(last_position, $8), \
           lease_expires_at = now() + make_interval(secs => $9), heartbeat_at = now() \
         WHERE id = $1 AND lease_owner = $2 AND processed = $3",
    )
    .bind(id)
    .bind(owner)
    .bind(chunk.processed)
    .bind(chunk.leads.len() as i64)
    .bind(outcome.succeeded)
    .bind(outcome.skipped)
    .bind(outcome.failures.len() as i64)
    .bind(outcome.position)
    .bind(lease.as_secs_f64())
    .execute(&mut *conn)
    .await
    .context("Failed to record a job's progress")?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    if outcome.failures.is_empty() {
        return Ok(true);
    }
    let mut ordinals = Vec::with_capacity(outcome.failures.len());
    let mut leads = Vec::with_capacity(outcome.failures.len());
    let mut codes = Vec::with_capacity(outcome.failures.len());
    let mut messages = Vec::with_capacity(outcome.failures.len());
    for failure in &outcome.failures {
        ordinals.push(chunk.processed + failure.index as i64);
        leads.push(failure.lead_id);
        codes.push(failure.code.as_str());
        messages.push(failure.message.as_str());
    }
    sqlx::query(
        "INSERT INTO job_failures (job_id, ordinal, lead_id, code, message) \
         SELECT $1, * FROM UNNEST($2::bigint[], $3::uuid[], $4::text[], $5::text[])",
    )
    .bind(id)
    .bind(&ordinals)
    .bind(&leads)
    .bind(&codes)
    .bind(&messages)
    .execute(&mut *conn)
    .await
    .context("Failed to record a job's failures")?;
    Ok(true)
}

/// Marks job `id` completed (every lead processed), if `owner` holds it.
pub async fn complete(
    pool: &PgPool,
    id: Uuid,
    owner: Uuid,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    finish(pool, id, owner, JobStatus::Completed, None, now).await
}

/// Marks job `id` failed with `error`, if `owner` holds it.
pub async fn fail(
    pool: &PgPool,
    id: Uuid,
    owner: Uuid,
    error: &str,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    finish(pool, id, owner, JobStatus::Failed, Some(error), now).await
}

async fn finish(
    pool: &PgPool,
    id: Uuid,
    owner: Uuid,
    status: JobStatus,
    error: Option<&str>,
    now: DateTime<Utc>,
) -> anyhow::Result<bool> {
    let mut tx = pool.begin().await.context("Failed to begin")?;
    let updated = sqlx::query(
        "UPDATE jobs SET status = $3, error = $4, finished_at = $5, lease_owner = NULL, \
           lease_expires_at = NULL, heartbeat_at = now() \
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .bind(status.as_str())
    .bind(error)
    .bind(now)
    .execute(&mut *tx)
    .await
    .context("Failed to finish a job")?
    .rows_affected();
    if updated == 0 {
        return Ok(false);
    }
    // A finished job is never resumed: its list of leads has served.
    sqlx::query("DELETE FROM job_leads WHERE job_id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await
        .context("Failed to clear a finished job's leads")?;
    tx.commit()
        .await
        .context("Failed to commit a finished job")?;
    Ok(true)
}

/// Gives job `id` up (the instance is stopping): its lease expires now, so any worker resumes it
/// at once.
pub async fn release(pool: &PgPool, id: Uuid, owner: Uuid) -> anyhow::Result<()> {
    sqlx::query(
        "UPDATE jobs SET lease_expires_at = now() - interval '1 second' \
         WHERE id = $1 AND lease_owner = $2",
    )
    .bind(id)
    .bind(owner)
    .execute(pool)
    .await
    .context("Failed to release a job")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn every_status_reads_back_from_its_name() {
        for status in [
            JobStatus::Queued,
            JobStatus::Running,
            JobStatus::Completed,
            JobStatus::Failed,
        ] {
            assert_eq!(status.as_str().parse::<JobStatus>().unwrap(), status);
        }
        assert!("done".parse::<JobStatus>().is_err());
    }
}
