//! One batch of an import, one transaction: claim the batch's phones set-wise, decide merges on
//! the known leads (loaded in one query), append every lead's events in one statement, and record
//! the rows' outcomes and counters with them. When another writer got in the way (an optimistic
//! conflict on a merged lead, a deadlock, a phone released meanwhile) the batch is rolled back
//! and run again on fresh state.

use std::collections::{HashMap, HashSet};

use anyhow::Context;
use application::CommandContext;
use cqrs_es::Aggregate;
use domain::values::LeadId;
use domain::{Lead, LeadEvent};
use sqlx::{Connection, PgConnection};
use uuid::Uuid;

use super::decide::{self, Sorted};
use super::{records, ImportError, ImportOptions, Outcome, RowOutcome};
use crate::event_store::{self, NewEvents, StoreError};
use crate::executor::{conflict_backoff, is_lock_conflict};
use crate::lead_phones;
use crate::metadata::EventMetadata;

/// Attempts per batch before the import fails.
const MAX_ATTEMPTS: u32 = 10;

/// A batch ready to be written.
#[derive(Debug)]
pub(crate) struct Batch {
    /// Its rows, decided.
    pub sorted: Sorted,
    /// The last row it covers.
    pub last_row: u32,
}

/// Why an attempt did not commit.
enum Failure {
    /// Another writer got in the way: run the batch again.
    Retry,
    /// Anything else.
    Fatal(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(error: anyhow::Error) -> Self {
        if is_lock_conflict(&error) {
            Self::Retry
        } else {
            Self::Fatal(error)
        }
    }
}

impl From<StoreError> for Failure {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => Self::Retry,
            StoreError::OtherTenant => {
                Self::Fatal(anyhow::anyhow!("a phone's lead belongs to another tenant"))
            }
            StoreError::Database(error) => error.into(),
        }
    }
}

/// Writes `batch` in its own transaction on `conn`, retrying on conflicts, and returns the
/// global position of its last event (`None` if it wrote none).
pub(crate) async fn write_batch(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    import_id: &str,
    options: &ImportOptions,
    batch: &Batch,
) -> Result<Option<i64>, ImportError> {
    let mut attempt = 1;
    loop {
        let mut tx = conn
            .begin()
            .await
            .context("Failed to begin an import batch")?;
        // A batch that a crash loses before its WAL is flushed is simply written again on
        // resume (its outcomes go with it); the import's final, synchronous commit flushes all.
        sqlx::query("SET LOCAL synchronous_commit = off")
            .execute(&mut *tx)
            .await
            .context("Failed to relax the batch's commit")?;
        match attempt_batch(&mut tx, ctx, import_id, options, batch).await {
            Ok(position) => {
                tx.commit()
                    .await
                    .context("Failed to commit an import batch")?;
                return Ok(position);
            }
            Err(Failure::Retry) if attempt < MAX_ATTEMPTS => {
                drop(tx);
                tracing::debug!(attempt, import_id, "import batch conflicted; retrying");
                tokio::time::sleep(conflict_backoff(attempt)).await;
                attempt += 1;
            }
            Err(Failure::Retry) => {
                return Err(anyhow::anyhow!(
                    "an import batch kept conflicting with other writers; send the import again"
                )
                .into())
            }
            Err(Failure::Fatal(error)) => return Err(error.into()),
        }
    }
}

/// A lead the batch appends to.
struct Pending {
    id: String,
    lead: Lead,
    version: i64,
    events: Vec<LeadEvent>,
}

async fn attempt_batch(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    import_id: &str,
    options: &ImportOptions,
    batch: &Batch,
) -> Result<Option<i64>, Failure> {
    let tenant = ctx.tenant_id;
    let candidates = &batch.sorted.candidates;
    let mut seen = HashSet::with_capacity(candidates.len());
    let claims: Vec<(&str, Uuid)> = candidates
        .iter()
        .filter_map(|c| c.phone.as_ref().map(|p| (p.as_str(), c.lead_id.as_uuid())))
        .filter(|(phone, _)| seen.insert(*phone))
        .collect();
    let holders = lead_phones::claim_many(conn, tenant.as_uuid(), &claims).await?;
    // Each candidate's lead: its own when new, the phone's holder when merged.
    let mut targets = Vec::with_capacity(candidates.len());
    for candidate in candidates {
        let target = match &candidate.phone {
            None => candidate.lead_id.as_uuid(),
            Some(phone) => *holders.get(phone.as_str()).ok_or(Failure::Retry)?,
        };
        targets.push(target);
    }
    let merged_into: HashSet<Uuid> = candidates
        .iter()
        .zip(&targets)
        .filter(|(c, target)| c.lead_id.as_uuid() != **target)
        .map(|(_, target)| *target)
        .collect();
    let mut pending = Vec::with_capacity(candidates.len());
    let mut index = HashMap::with_capacity(candidates.len());
    for (candidate, target) in candidates.iter().zip(&targets) {
        if candidate.lead_id.as_uuid() != *target {
            continue;
        }
        let mut lead = Lead::default();
        if merged_into.contains(target) {
            lead.apply(candidate.captured.clone());
        }
        index.insert(*target, pending.len());
        pending.push(Pending {
            id: candidate.lead_id.to_string(),
            lead,
            version: 0,
            events: vec![candidate.captured.clone()],
        });
    }
    let known: Vec<Uuid> = merged_into
        .iter()
        .filter(|id| !index.contains_key(*id))
        .copied()
        .collect();
    for (id, (lead, version)) in load_leads(conn, ctx, &known).await? {
        index.insert(id, pending.len());
        pending.push(Pending {
            id: id.to_string(),
            lead,
            version,
            events: Vec::new(),
        });
    }
    let mut outcomes: Vec<RowOutcome> = batch
        .sorted
        .rejected
        .iter()
        .map(|error| RowOutcome {
            row: error.row,
            outcome: Outcome::Rejected,
            lead_id: None,
            column: Some(error.column.clone()),
            reason: Some(error.reason.clone()),
        })
        .collect();
    for (candidate, target) in candidates.iter().zip(&targets) {
        let created = candidate.lead_id.as_uuid() == *target;
        if !created {
            let lead = index
                .get(target)
                .and_then(|&i| pending.get_mut(i))
                .context("A merged lead was not loaded")?;
            let events = decide::merge(&mut lead.lead, options)
                .await
                .map_err(|refusal| anyhow::anyhow!("a merge was refused: {refusal}"))?;
            lead.events.extend(events);
        }
        outcomes.push(RowOutcome {
            row: candidate.row,
            outcome: if created {
                Outcome::Created
            } else {
                Outcome::Merged
            },
            lead_id: Some(LeadId::from_uuid(*target)),
            column: None,
            reason: None,
        });
    }
    outcomes.sort_unstable_by_key(|o| o.row);
    let appends: Vec<NewEvents<'_, LeadEvent>> = pending
        .iter()
        .filter(|p| !p.events.is_empty())
        .map(|p| NewEvents {
            id: &p.id,
            version: p.version,
            events: &p.events,
        })
        .collect();
    let metadata = EventMetadata::from_context(ctx);
    let position = event_store::append_many::<Lead>(conn, &appends, &metadata).await?;
    records::record_batch(conn, tenant, import_id, &outcomes, batch.last_row, position).await?;
    Ok(position)
}

/// The tenant's leads `ids` with their versions; each must exist (it holds a phone).
async fn load_leads(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    ids: &[Uuid],
) -> Result<Vec<(Uuid, (Lead, i64))>, Failure> {
    let keys: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    let mut leads = event_store::load_many::<Lead>(conn, ctx.tenant_id.as_uuid(), &keys).await?;
    ids.iter()
        .map(|id| {
            leads
                .remove(&id.to_string())
                .map(|loaded| (*id, (loaded.aggregate, loaded.version)))
                .with_context(|| format!("Lead {id} holds a phone but has no events"))
                .map_err(Failure::Fatal)
        })
        .collect()
}
