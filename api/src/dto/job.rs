//! Job bodies: a background job's progress, outcome and per-lead failures.

use chrono::{DateTime, Utc};
use infrastructure::jobs::{Job, JobFailure};
use poem_openapi::Object;

/// A background job (a bulk action).
#[derive(Debug, Clone, Object)]
#[oai(rename = "Job")]
pub struct JobDto {
    /// Id.
    pub id: String,
    /// What kind of job (`bulk_update`).
    pub kind: String,
    /// `queued`, `running`, `completed` (every lead processed; some may have failed) or
    /// `failed` (the job itself could not go on: see `error`).
    pub status: String,
    /// The action, as accepted.
    pub action: serde_json::Value,
    /// How many leads the job acts on; `null` until it has started and resolved its target.
    pub total: Option<i64>,
    /// Leads processed so far.
    pub processed: i64,
    /// Leads changed.
    pub succeeded: i64,
    /// Leads the action left as they were (already tagged, already in that status, …).
    pub skipped: i64,
    /// Leads refused (listed in `failures`).
    pub failed: i64,
    /// Percentage of leads processed, 0 to 100.
    pub progress: f64,
    /// Global position of the last event the job wrote: pass it as `min_position` to the list
    /// to see the job's effect. `null` while nothing has been written.
    pub position: Option<i64>,
    /// Why the job failed, when `status` is `failed`.
    pub error: Option<String>,
    /// Accepted.
    pub created_at: DateTime<Utc>,
    /// First picked up by a worker.
    pub started_at: Option<DateTime<Utc>>,
    /// Completed or failed.
    pub finished_at: Option<DateTime<Utc>>,
    /// The first failures, in target order (all of them: `GET /api/v1/jobs/{id}/failures`).
    pub failures: Vec<JobFailureDto>,
}

impl JobDto {
    /// The job as shown, with the first of its failures.
    pub fn new(job: Job, failures: Vec<JobFailure>) -> Self {
        let progress = match job.total {
            Some(0) => 100.0,
            Some(total) => (job.processed as f64 * 1000.0 / total as f64).round() / 10.0,
            None => 0.0,
        };
        Self {
            id: job.id.to_string(),
            kind: job.kind,
            status: job.status.as_str().to_string(),
            action: job.action,
            total: job.total,
            processed: job.processed,
            succeeded: job.succeeded,
            skipped: job.skipped,
            failed: job.failed,
            progress,
            position: job.last_position,
            error: job.error,
            created_at: job.created_at,
            started_at: job.started_at,
            finished_at: job.finished_at,
            failures: failures.into_iter().map(JobFailureDto::from).collect(),
        }
    }
}

/// A lead the job could not act on.
#[derive(Debug, Clone, Object)]
#[oai(rename = "JobFailure")]
pub struct JobFailureDto {
    /// The lead.
    pub lead_id: String,
    /// The rule that refused it (`not_found`, `opted_out_is_final`, `invalid_transition`, …).
    pub code: String,
    /// Why, for people.
    pub message: String,
}

impl From<JobFailure> for JobFailureDto {
    fn from(failure: JobFailure) -> Self {
        Self {
            lead_id: failure.lead_id.to_string(),
            code: failure.code,
            message: failure.message,
        }
    }
}
