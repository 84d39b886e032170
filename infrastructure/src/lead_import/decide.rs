//! What the rows of a batch become, decided by the Lead aggregate itself (`Aggregate::handle`
//! with an `EventSink`, as the executor does), so an imported lead obeys exactly the rules of a
//! captured one. A row the aggregate refuses is rejected naming the column the rule is about.

use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use domain::values::{LeadId, PhoneNumber, TenantId};
use domain::{Lead, LeadCommand, LeadError, LeadEvent, NewLead};

use super::columns::{Columns, Field};
use super::identity;
use super::reader::{ParsedRow, RowData};
use super::{ImportOptions, RowError};

/// A valid row and the `LeadCaptured` it produces if its phone is new.
#[derive(Debug, Clone)]
pub(crate) struct Candidate {
    /// Spreadsheet row number.
    pub row: u32,
    /// The lead this row creates (derived from tenant, import and row).
    pub lead_id: LeadId,
    /// The dedupe key, if the row has a phone.
    pub phone: Option<PhoneNumber>,
    /// The capture, decided by the aggregate.
    pub captured: LeadEvent,
}

/// A batch's rows sorted into candidates and rejections.
#[derive(Debug, Default)]
pub(crate) struct Sorted {
    /// Rows the aggregate accepts, in file order.
    pub candidates: Vec<Candidate>,
    /// Rows refused while reading or by the aggregate, in file order.
    pub rejected: Vec<RowError>,
}

/// Lets the aggregate decide the capture of every readable row.
pub(crate) async fn sort_rows(
    rows: Vec<ParsedRow>,
    tenant: TenantId,
    import_id: &str,
    options: &ImportOptions,
    columns: &Columns,
) -> Sorted {
    let mut sorted = Sorted {
        candidates: Vec::with_capacity(rows.len()),
        rejected: Vec::new(),
    };
    for row in rows {
        match row {
            Err(error) => sorted.rejected.push(error),
            Ok(data) => match capture(data, tenant, import_id, options, columns).await {
                Ok(candidate) => sorted.candidates.push(candidate),
                Err(error) => sorted.rejected.push(error),
            },
        }
    }
    sorted
}

async fn capture(
    data: RowData,
    tenant: TenantId,
    import_id: &str,
    options: &ImportOptions,
    columns: &Columns,
) -> Result<Candidate, RowError> {
    let RowData {
        row,
        first_name,
        last_name,
        split_name,
        phone,
        email,
        custom_fields,
    } = data;
    let command = LeadCommand::CaptureLead(NewLead {
        first_name,
        last_name,
        phone: phone.clone(),
        email,
        custom_fields,
        source: options.source,
        tags: options.tags.clone(),
        workflow_id: options.workflow_id,
    });
    let mut events = handle(&mut Lead::default(), command)
        .await
        .map_err(|error| RowError {
            row,
            column: column_of(&error, split_name, columns),
            reason: error.to_string(),
        })?;
    let captured = events.pop().ok_or_else(|| RowError {
        row,
        column: columns.label(Field::Phone),
        reason: "the lead could not be captured".to_string(),
    })?;
    Ok(Candidate {
        row,
        lead_id: identity::lead_id(tenant, import_id, row),
        phone,
        captured,
    })
}

/// The column a refusal is about, as the file names it.
fn column_of(error: &LeadError, split_name: bool, columns: &Columns) -> String {
    match error {
        LeadError::NameTooLong { .. } if split_name => columns.label(Field::Name),
        LeadError::NameTooLong {
            field: "last_name", ..
        } => columns.label(Field::LastName),
        LeadError::NameTooLong { .. } => columns.label(Field::FirstName),
        _ => columns.label(Field::Phone),
    }
}

/// What a merged row does to the known lead: add the import's source and tags, and its
/// workflow when the lead has none. Details are never overwritten. Applies the events to `lead`
/// and returns them (none when the lead already has it all).
pub(crate) async fn merge(
    lead: &mut Lead,
    options: &ImportOptions,
) -> Result<Vec<LeadEvent>, LeadError> {
    let mut events = handle(
        lead,
        LeadCommand::AddSource {
            source: options.source,
        },
    )
    .await?;
    for tag in &options.tags {
        events.extend(handle(lead, LeadCommand::AddTag { tag: tag.clone() }).await?);
    }
    if let (Some(workflow_id), None) = (options.workflow_id, lead.workflow_id()) {
        events.extend(
            handle(
                lead,
                LeadCommand::AssignWorkflow {
                    workflow_id: Some(workflow_id),
                },
            )
            .await?,
        );
    }
    Ok(events)
}

/// Runs one command on `lead`, which the sink brings up to date with the events.
async fn handle(lead: &mut Lead, command: LeadCommand) -> Result<Vec<LeadEvent>, LeadError> {
    let sink = EventSink::default();
    lead.handle(command, &(), &sink).await?;
    Ok(sink.collect().await)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use domain::values::{CountryCode, CustomFields, LeadSource, Tag, WorkflowId};

    use super::*;

    fn options() -> ImportOptions {
        let mut options = ImportOptions::new(CountryCode::parse("GB").unwrap());
        options.tags = vec![Tag::parse("spring").unwrap()];
        options.workflow_id = Some(WorkflowId::new());
        options
    }

    fn columns() -> Columns {
        let headers = ["Given", "Family", "Full", "Mobile"]
            .iter()
            .map(|s| (*s).to_string())
            .collect();
        let mapping = BTreeMap::from([
            (Field::FirstName, "Given".to_string()),
            (Field::LastName, "Family".to_string()),
            (Field::Name, "Full".to_string()),
        ]);
        Columns::resolve(headers, &mapping).unwrap()
    }

    fn row(row: u32, first: &str, last: &str, split_name: bool) -> ParsedRow {
        Ok(RowData {
            row,
            first_name: first.to_string(),
            last_name: last.to_string(),
            split_name,
            phone: Some(PhoneNumber::parse("07400 100001", CountryCode::default()).unwrap()),
            email: None,
            custom_fields: CustomFields::default(),
        })
    }

    #[tokio::test]
    async fn a_name_too_long_is_rejected_naming_the_column_it_came_from() {
        let long = "x".repeat(101);
        let rows = vec![
            row(2, &long, "", false),
            row(3, "Ada", &long, false),
            row(4, &long, "", true),
            row(5, "Ada", "Lovelace", false),
        ];
        let tenant = TenantId::new();
        let sorted = sort_rows(rows, tenant, "imp", &options(), &columns()).await;
        let columns: Vec<_> = sorted
            .rejected
            .iter()
            .map(|e| (e.row, e.column.as_str()))
            .collect();
        assert_eq!(columns, vec![(2, "Given"), (3, "Family"), (4, "Full")]);
        assert_eq!(
            sorted.rejected[0].reason,
            "first_name must be at most 100 characters"
        );
        assert_eq!(sorted.candidates.len(), 1);
        let candidate = &sorted.candidates[0];
        assert_eq!(candidate.lead_id, identity::lead_id(tenant, "imp", 5));
        let LeadEvent::LeadCaptured { tags, source, .. } = &candidate.captured else {
            panic!("expected a capture");
        };
        assert_eq!(tags, &vec![Tag::parse("spring").unwrap()]);
        assert_eq!(*source, LeadSource::CsvImport);
    }

    #[tokio::test]
    async fn a_merge_adds_source_and_tags_and_a_workflow_only_when_there_is_none() {
        let options = options();
        let mut lead = Lead::default();
        lead.apply(LeadEvent::LeadCaptured {
            first_name: "Ada".into(),
            last_name: String::new(),
            phone: None,
            email: Some(domain::values::EmailAddress::parse("a@example.com").unwrap()),
            custom_fields: CustomFields::default(),
            source: LeadSource::Website,
            tags: vec![],
            workflow_id: None,
        });
        let events = merge(&mut lead, &options).await.unwrap();
        assert_eq!(
            events,
            vec![
                LeadEvent::LeadSourceAdded {
                    source: LeadSource::CsvImport
                },
                LeadEvent::LeadTagged {
                    tag: Tag::parse("spring").unwrap()
                },
                LeadEvent::LeadWorkflowAssigned {
                    workflow_id: options.workflow_id
                },
            ]
        );
        assert!(merge(&mut lead, &options).await.unwrap().is_empty());
        let mut other = options.clone();
        other.workflow_id = Some(WorkflowId::new());
        assert!(
            merge(&mut lead, &other).await.unwrap().is_empty(),
            "a workflow is never replaced"
        );
    }
}
