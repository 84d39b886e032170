//! The dry run: the same reading, validation and decisions as an import, with phones looked up
//! read-only, so the report shows exactly what an import would do — and nothing is written, not
//! even the import's record. Duplicates inside the file are found with a set of the phones seen
//! so far, kept as E.164 digits in a `u64` (8 bytes a row).

use std::collections::HashMap;

use anyhow::Context;
use domain::values::{LeadId, TenantId};
use domain::LeadEvent;
use sqlx::PgConnection;

use super::decide::Sorted;
use super::{ImportReport, Outcome, RowPreview, PREVIEW_ROWS};
use crate::lead_phones;

/// A dry run's running totals.
#[derive(Debug)]
pub(crate) struct DryRun {
    report: ImportReport,
    /// Phones met so far (E.164 digits) and the lead each belongs to.
    seen: HashMap<u64, LeadId>,
}

impl DryRun {
    /// A dry run of import `import_id`.
    pub(crate) fn new(import_id: String) -> Self {
        Self {
            report: ImportReport {
                import_id,
                dry_run: true,
                replayed: false,
                rows: 0,
                created: 0,
                merged: 0,
                rejected: 0,
                errors: Vec::new(),
                position: None,
                preview: Vec::new(),
            },
            seen: HashMap::new(),
        }
    }

    /// Counts one batch, looking up its new phones without writing.
    pub(crate) async fn batch(
        &mut self,
        conn: &mut PgConnection,
        tenant: TenantId,
        sorted: Sorted,
    ) -> anyhow::Result<()> {
        let unseen: Vec<&str> = sorted
            .candidates
            .iter()
            .filter_map(|c| c.phone.as_ref())
            .filter(|p| !self.seen.contains_key(&phone_key(p.as_str())))
            .map(|p| p.as_str())
            .collect();
        let known = lead_phones::owners(conn, tenant.as_uuid(), &unseen)
            .await
            .context("Failed to look up the file's phones")?;
        let rows = sorted.candidates.len() + sorted.rejected.len();
        self.report.rows += rows as u64;
        self.report.rejected += sorted.rejected.len() as u64;
        let mut errors = sorted.rejected;
        self.report.errors.append(&mut errors);
        for candidate in sorted.candidates {
            let (outcome, lead_id) = match &candidate.phone {
                None => (Outcome::Created, None),
                Some(phone) => {
                    let key = phone_key(phone.as_str());
                    match self.seen.get(&key) {
                        Some(holder) => (Outcome::Merged, Some(*holder)),
                        None => match known.get(phone.as_str()) {
                            Some(holder) => {
                                let holder = LeadId::from_uuid(*holder);
                                self.seen.insert(key, holder);
                                (Outcome::Merged, Some(holder))
                            }
                            None => {
                                self.seen.insert(key, candidate.lead_id);
                                (Outcome::Created, None)
                            }
                        },
                    }
                }
            };
            match outcome {
                Outcome::Merged => self.report.merged += 1,
                _ => self.report.created += 1,
            }
            if self.report.preview.len() < PREVIEW_ROWS {
                self.report.preview.push(preview(
                    candidate.row,
                    outcome,
                    lead_id,
                    &candidate.captured,
                ));
            }
        }
        Ok(())
    }

    /// The report.
    pub(crate) fn finish(mut self) -> ImportReport {
        self.report.errors.sort_unstable_by_key(|e| e.row);
        self.report
    }
}

/// E.164 digits as a number: "+447400123456" → 447400123456 (at most 15 digits, so it fits).
fn phone_key(e164: &str) -> u64 {
    e164.bytes()
        .filter(u8::is_ascii_digit)
        .fold(0u64, |key, digit| key * 10 + u64::from(digit - b'0'))
}

fn preview(
    row: u32,
    outcome: Outcome,
    lead_id: Option<LeadId>,
    captured: &LeadEvent,
) -> RowPreview {
    let mut preview = RowPreview {
        row,
        outcome,
        lead_id,
        first_name: String::new(),
        last_name: String::new(),
        phone: None,
        email: None,
        custom_fields: serde_json::Value::Object(serde_json::Map::new()),
    };
    if let LeadEvent::LeadCaptured {
        first_name,
        last_name,
        phone,
        email,
        custom_fields,
        ..
    } = captured
    {
        preview.first_name.clone_from(first_name);
        preview.last_name.clone_from(last_name);
        preview.phone = phone.as_ref().map(|p| p.as_str().to_string());
        preview.email = email.as_ref().map(|e| e.as_str().to_string());
        preview.custom_fields = serde_json::Value::Object(custom_fields.as_map().clone());
    }
    preview
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_keys_are_the_e164_digits() {
        assert_eq!(phone_key("+447400123456"), 447_400_123_456);
        assert_ne!(phone_key("+12015550123"), phone_key("+12015550124"));
    }
}
