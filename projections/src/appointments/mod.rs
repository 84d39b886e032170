//! The appointments read model: a row per appointment (who, when, where, status), for the
//! calendar views and lists of the API.
//!
//! Handler kind: replayable. Each batch reads the rows of the appointments it touches, folds
//! their events in memory ([`fold`]) and writes them back with one upsert.

pub mod fold;
pub mod query;

use std::collections::HashMap;

use anyhow::Context;
use async_trait::async_trait;
use cqrs_es::Aggregate;
use domain::Appointment;
use infrastructure::feed::RecordedEvent;
use sqlx::types::Json;
use sqlx::{Executor, PgConnection};
use uuid::Uuid;

use crate::projection::{aggregate_keys, live_schema, Projection};
use fold::AppointmentRow;

/// The appointments projection.
#[derive(Debug, Clone, Copy, Default)]
pub struct AppointmentsProjection;

/// Its name.
pub const NAME: &str = "appointments";
/// Its table layout version.
pub const VERSION: u32 = 1;

/// The schema queries read from.
pub fn live() -> String {
    live_schema(NAME, VERSION)
}

const COLUMNS: &str = "id, tenant_id, lead_id, workflow_id, start, \"end\", timezone, calendar, \
     location, meeting_link, notes, status, cancel_reason, created_at, updated_at, version";

#[async_trait]
impl Projection for AppointmentsProjection {
    fn name(&self) -> &'static str {
        NAME
    }

    fn version(&self) -> u32 {
        VERSION
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        let ddl = format!(
            "CREATE TABLE IF NOT EXISTS {schema}.appointments (
                id uuid NOT NULL,
                tenant_id uuid NOT NULL,
                lead_id uuid NOT NULL,
                workflow_id uuid NOT NULL,
                start timestamptz NOT NULL,
                \"end\" timestamptz NOT NULL,
                timezone text NOT NULL,
                calendar text NOT NULL,
                location text,
                meeting_link text,
                notes text NOT NULL,
                status text NOT NULL,
                cancel_reason text,
                created_at timestamptz NOT NULL,
                updated_at timestamptz NOT NULL,
                version bigint NOT NULL,
                PRIMARY KEY (tenant_id, id)
            );"
        );
        conn.execute(ddl.as_str())
            .await
            .context("Failed to create the appointments table")?;
        Ok(())
    }

    fn indexes(&self, schema: &str) -> Vec<String> {
        vec![
            format!(
                "CREATE INDEX IF NOT EXISTS appointments_by_start \
                 ON {schema}.appointments (tenant_id, start, id)"
            ),
            format!(
                "CREATE INDEX IF NOT EXISTS appointments_by_lead \
                 ON {schema}.appointments (tenant_id, lead_id)"
            ),
        ]
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let events: Vec<&RecordedEvent> = events
            .iter()
            .filter(|e| e.aggregate_type == Appointment::TYPE)
            .collect();
        if events.is_empty() {
            return Ok(());
        }
        let (tenants, ids) = aggregate_keys(events.iter().copied())?;
        let existing: Vec<Json<AppointmentRow>> = sqlx::query_scalar(&format!(
            "SELECT to_jsonb(a) FROM {schema}.appointments a \
             WHERE (tenant_id, id) IN (SELECT * FROM UNNEST($1::uuid[], $2::uuid[]))"
        ))
        .bind(tenants)
        .bind(ids)
        .fetch_all(&mut *tx)
        .await
        .context("Failed to read appointments")?;
        let before: HashMap<Uuid, AppointmentRow> =
            existing.into_iter().map(|row| (row.0.id, row.0)).collect();
        let mut rows = before.clone();
        for event in events {
            fold::apply_event(&mut rows, event)?;
        }
        let changed: Vec<&AppointmentRow> = rows
            .values()
            .filter(|row| before.get(&row.id) != Some(*row))
            .collect();
        if changed.is_empty() {
            return Ok(());
        }
        sqlx::query(&format!(
            "INSERT INTO {schema}.appointments ({COLUMNS}) \
             SELECT {COLUMNS} FROM jsonb_populate_recordset(NULL::{schema}.appointments, $1) \
             ON CONFLICT (tenant_id, id) DO UPDATE SET start = EXCLUDED.start, \
               \"end\" = EXCLUDED.\"end\", notes = EXCLUDED.notes, status = EXCLUDED.status, \
               cancel_reason = EXCLUDED.cancel_reason, meeting_link = EXCLUDED.meeting_link, \
               updated_at = EXCLUDED.updated_at, \
               version = EXCLUDED.version"
        ))
        .bind(Json(&changed))
        .execute(&mut *tx)
        .await
        .context("Failed to write appointments")?;
        Ok(())
    }
}
