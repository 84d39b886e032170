//! The pure part of the contacts projection: how one lead event changes a contact row (and
//! the count deltas a batch makes). Conversation events are in [`super::messages`].

use std::collections::{BTreeMap, HashMap};

use anyhow::{bail, Context};
use chrono::{DateTime, Utc};
use domain::LeadEvent;
use infrastructure::feed::RecordedEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A row of the contacts table, as stored (JSON field names are the column names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactRow {
    /// Owning tenant.
    pub tenant_id: Uuid,
    /// The lead.
    pub lead_id: Uuid,
    /// Given name.
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// E.164 phone.
    pub phone: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// Lifecycle status (snake_case).
    pub status: String,
    /// Workflow engaging the lead.
    pub workflow_id: Option<Uuid>,
    /// First source.
    pub source: String,
    /// Later sources, in order of arrival.
    pub additional_sources: Vec<String>,
    /// Tags, sorted.
    pub tags: Vec<String>,
    /// Custom fields (a JSON object).
    pub custom_fields: serde_json::Value,
    /// Captured.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
    /// Last thing that happened with the lead.
    pub last_activity_at: DateTime<Utc>,
    /// Last message in either direction.
    pub last_message_at: Option<DateTime<Utc>>,
    /// Last message sent to the lead (accepted by the provider).
    pub last_contacted_at: Option<DateTime<Utc>>,
    /// Last message from the lead.
    pub last_inbound_at: Option<DateTime<Utc>>,
    /// Follow-ups sent so far.
    pub follow_ups_sent: i32,
    /// Put away by an operator; hidden from lists unless asked for.
    pub archived: bool,
    /// Aggregate sequence of the last event applied.
    pub version: i64,
}

impl<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow> for ContactRow {
    /// Reads the columns of [`COLUMNS`](super::COLUMNS) by name (other columns of the row are
    /// ignored): typed, without building JSON on the server and parsing it here.
    fn from_row(row: &'r sqlx::postgres::PgRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row;
        let tags: Vec<String> = row.try_get("tags")?;
        Ok(Self {
            tenant_id: row.try_get("tenant_id")?,
            lead_id: row.try_get("lead_id")?,
            first_name: row.try_get("first_name")?,
            last_name: row.try_get("last_name")?,
            phone: row.try_get("phone")?,
            email: row.try_get("email")?,
            status: row.try_get("status")?,
            workflow_id: row.try_get("workflow_id")?,
            source: row.try_get("source")?,
            additional_sources: row.try_get("additional_sources")?,
            tags,
            custom_fields: row
                .try_get::<sqlx::types::Json<serde_json::Value>, _>("custom_fields")?
                .0,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
            last_activity_at: row.try_get("last_activity_at")?,
            last_message_at: row.try_get("last_message_at")?,
            last_contacted_at: row.try_get("last_contacted_at")?,
            last_inbound_at: row.try_get("last_inbound_at")?,
            follow_ups_sent: row.try_get("follow_ups_sent")?,
            archived: row.try_get("archived")?,
            version: row.try_get("version")?,
        })
    }
}

/// Applies one lead event to the rows being folded. Events at or below a row's version were
/// applied before and are skipped.
pub fn apply(rows: &mut HashMap<Uuid, ContactRow>, event: &RecordedEvent) -> anyhow::Result<()> {
    let lead_id = event.aggregate_uuid()?;
    let payload: LeadEvent = event.decode()?;
    let at = event.metadata.occurred_at;
    if let LeadEvent::LeadCaptured {
        first_name,
        last_name,
        phone,
        email,
        custom_fields,
        source,
        tags,
        workflow_id,
    } = payload
    {
        if rows
            .get(&lead_id)
            .is_some_and(|row| row.version >= event.sequence)
        {
            return Ok(());
        }
        let mut tags: Vec<String> = tags.iter().map(|t| t.as_str().to_string()).collect();
        tags.sort();
        tags.dedup();
        rows.insert(
            lead_id,
            ContactRow {
                tenant_id: event.metadata.tenant_id,
                lead_id,
                first_name,
                last_name,
                phone: phone.map(|p| p.as_str().to_string()),
                email: email.map(|e| e.as_str().to_string()),
                status: domain::LeadStatus::Pending.as_str().to_string(),
                workflow_id: workflow_id.map(|w| w.as_uuid()),
                source: source.as_str().to_string(),
                additional_sources: Vec::new(),
                tags,
                custom_fields: serde_json::to_value(&custom_fields)
                    .context("Failed to encode custom fields")?,
                created_at: at,
                updated_at: at,
                last_activity_at: at,
                last_message_at: None,
                last_contacted_at: None,
                last_inbound_at: None,
                follow_ups_sent: 0,
                archived: false,
                version: event.sequence,
            },
        );
        return Ok(());
    }
    let Some(row) = rows.get_mut(&lead_id) else {
        bail!(
            "{} for lead {lead_id} arrived before the lead was captured",
            event.event_type
        );
    };
    if row.version >= event.sequence {
        return Ok(());
    }
    crate::projection::ensure_next(row.version, event)?;
    match payload {
        LeadEvent::LeadCaptured { .. } => {}
        LeadEvent::LeadSourceAdded { source } => {
            let source = source.as_str().to_string();
            if row.source != source && !row.additional_sources.contains(&source) {
                row.additional_sources.push(source);
            }
        }
        LeadEvent::LeadDetailsUpdated {
            first_name,
            last_name,
            phone,
            email,
            custom_fields,
        } => {
            if let Some(first_name) = first_name {
                row.first_name = first_name;
            }
            if let Some(last_name) = last_name {
                row.last_name = last_name;
            }
            if let Some(phone) = phone {
                row.phone = phone.map(|p| p.as_str().to_string());
            }
            if let Some(email) = email {
                row.email = email.map(|e| e.as_str().to_string());
            }
            if let Some(custom_fields) = custom_fields {
                row.custom_fields = serde_json::to_value(&custom_fields)
                    .context("Failed to encode custom fields")?;
            }
        }
        LeadEvent::LeadWorkflowAssigned { workflow_id } => {
            row.workflow_id = workflow_id.map(|w| w.as_uuid());
        }
        LeadEvent::LeadTagged { tag } => {
            let tag = tag.as_str().to_string();
            if let Err(at) = row.tags.binary_search(&tag) {
                row.tags.insert(at, tag);
            }
        }
        LeadEvent::LeadUntagged { tag } => {
            row.tags.retain(|t| t != tag.as_str());
        }
        LeadEvent::LeadStatusChanged { to, .. } | LeadEvent::LeadStatusOverridden { to, .. } => {
            row.status = to.as_str().to_string();
        }
        LeadEvent::LeadOptedOut { .. } => {
            row.status = domain::LeadStatus::OptedOut.as_str().to_string();
        }
        LeadEvent::LeadResubscribed { to } => row.status = to.as_str().to_string(),
        LeadEvent::LeadAnswersRecorded { .. }
        | LeadEvent::LeadMarkedUnreachable { .. }
        | LeadEvent::LeadEngagementDeferred { .. }
        | LeadEvent::LeadEngagementSkipped { .. } => {}
        LeadEvent::LeadArchived => row.archived = true,
        LeadEvent::LeadRestored => row.archived = false,
    }
    row.updated_at = at;
    row.last_activity_at = at;
    row.version = event.sequence;
    Ok(())
}

/// Counts of live leads (archived ones are not counted) by tenant and a key, for one batch.
pub type CountDeltas = BTreeMap<(Uuid, String), i64>;

/// How many more (or fewer) live leads carry each (tenant, tag) after a batch.
pub fn tag_count_deltas(
    before: &HashMap<Uuid, ContactRow>,
    after: &HashMap<Uuid, ContactRow>,
) -> CountDeltas {
    count_deltas(before, after, |row| row.tags.clone())
}

/// How many more (or fewer) live leads are in each (tenant, status) after a batch.
pub fn status_count_deltas(
    before: &HashMap<Uuid, ContactRow>,
    after: &HashMap<Uuid, ContactRow>,
) -> CountDeltas {
    count_deltas(before, after, |row| vec![row.status.clone()])
}

/// The change of live-lead counts per (tenant, key) between two sets of rows: −1 for each key
/// of a row before, +1 for each key after; zeros dropped.
fn count_deltas(
    before: &HashMap<Uuid, ContactRow>,
    after: &HashMap<Uuid, ContactRow>,
    keys: impl Fn(&ContactRow) -> Vec<String>,
) -> CountDeltas {
    let mut deltas = BTreeMap::new();
    let mut add = |row: &ContactRow, delta: i64| {
        if !row.archived {
            for key in keys(row) {
                *deltas.entry((row.tenant_id, key)).or_insert(0) += delta;
            }
        }
    };
    for row in before.values() {
        add(row, -1);
    }
    for row in after.values() {
        add(row, 1);
    }
    deltas.retain(|_, delta| *delta != 0);
    deltas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(lead: u128, tags: &[&str], archived: bool) -> ContactRow {
        let at = DateTime::<Utc>::UNIX_EPOCH;
        ContactRow {
            tenant_id: Uuid::from_u128(7),
            lead_id: Uuid::from_u128(lead),
            first_name: String::new(),
            last_name: String::new(),
            phone: None,
            email: None,
            status: "pending".into(),
            workflow_id: None,
            source: "api".into(),
            additional_sources: vec![],
            tags: tags.iter().map(|t| t.to_string()).collect(),
            custom_fields: serde_json::json!({}),
            created_at: at,
            updated_at: at,
            last_activity_at: at,
            last_message_at: None,
            last_contacted_at: None,
            last_inbound_at: None,
            follow_ups_sent: 0,
            archived,
            version: 1,
        }
    }

    fn delta(deltas: &BTreeMap<(Uuid, String), i64>, tag: &str) -> Option<i64> {
        deltas.get(&(Uuid::from_u128(7), tag.to_string())).copied()
    }

    #[test]
    fn tagging_untagging_and_new_leads_move_the_counts() {
        let before = HashMap::from([(Uuid::from_u128(1), row(1, &["vip", "cold"], false))]);
        let after = HashMap::from([
            (Uuid::from_u128(1), row(1, &["vip", "warm"], false)),
            (Uuid::from_u128(2), row(2, &["vip"], false)),
        ]);
        let deltas = tag_count_deltas(&before, &after);
        assert_eq!(delta(&deltas, "vip"), Some(1));
        assert_eq!(delta(&deltas, "cold"), Some(-1));
        assert_eq!(delta(&deltas, "warm"), Some(1));
        assert_eq!(deltas.len(), 3);
    }

    #[test]
    fn a_status_change_moves_a_live_lead_between_status_counts() {
        let before = HashMap::from([(Uuid::from_u128(1), row(1, &[], false))]);
        let mut moved = row(1, &[], false);
        moved.status = "booked".into();
        let after = HashMap::from([(Uuid::from_u128(1), moved.clone())]);
        let deltas = status_count_deltas(&before, &after);
        assert_eq!(delta(&deltas, "pending"), Some(-1));
        assert_eq!(delta(&deltas, "booked"), Some(1));
        moved.archived = true;
        let archived = HashMap::from([(Uuid::from_u128(1), moved)]);
        assert_eq!(
            delta(&status_count_deltas(&after, &archived), "booked"),
            Some(-1)
        );
    }

    #[test]
    fn archiving_takes_a_lead_out_of_the_counts_and_restoring_puts_it_back() {
        let live = HashMap::from([(Uuid::from_u128(1), row(1, &["vip"], false))]);
        let archived = HashMap::from([(Uuid::from_u128(1), row(1, &["vip"], true))]);
        assert_eq!(delta(&tag_count_deltas(&live, &archived), "vip"), Some(-1));
        assert_eq!(delta(&tag_count_deltas(&archived, &live), "vip"), Some(1));
        assert!(tag_count_deltas(&archived, &archived).is_empty());
    }
}
