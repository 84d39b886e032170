//! The import pipeline: check the options, open the file, settle the import's identity (new,
//! resumed, or already done), then stream batches of parsed rows from a blocking reader thread
//! through a bounded channel into the writer — or into the dry run.

use anyhow::Context;
use application::CommandContext;
use domain::{Workflow, WorkflowStatus};
use sqlx::{PgConnection, PgPool};
use tokio::sync::mpsc;

use super::columns::Columns;
use super::decide;
use super::identity::{self, NormalisedOptions};
use super::preview::DryRun;
use super::reader::{CsvReader, ParsedRow};
use super::writer::{self, Batch};
use super::{
    records, CsvFile, ImportError, ImportOptions, ImportProgress, ImportReport, ImportStatus,
    BATCH_ROWS,
};
use crate::event_store::{self, StoreError};

/// Parsed batches waiting for the writer: enough to keep it busy, few enough to bound memory.
const CHANNEL_BATCHES: usize = 2;

/// Rows read by the reader thread, for the writer.
struct ParsedBatch {
    rows: Vec<ParsedRow>,
    /// The last row read.
    last_row: u32,
    /// Bytes of the file read.
    bytes: u64,
}

/// Imports `file` for the tenant of `ctx` (or, with `options.dry_run`, reports what an import
/// would do without writing anything). `progress` is told how far it got after every batch.
///
/// Sending the same import again answers its stored report (`replayed`) once it completed,
/// resumes it after its last batch if it was interrupted, and is refused while it runs.
pub async fn import(
    pool: &PgPool,
    ctx: &CommandContext,
    file: &CsvFile,
    options: &ImportOptions,
    progress: &(dyn Fn(ImportProgress) + Send + Sync),
) -> Result<ImportReport, ImportError> {
    let mut conn = pool
        .acquire()
        .await
        .context("Failed to get a database connection")?;
    if let Some(workflow) = options.workflow_id {
        check_workflow(&mut conn, ctx, workflow).await?;
    }
    let path = file.path().to_path_buf();
    let reader_options = options.clone();
    let reader = tokio::task::spawn_blocking(move || CsvReader::open(&path, &reader_options))
        .await
        .context("The CSV reader panicked")??;
    let normalised = NormalisedOptions::new(options, reader.delimiter());
    let fingerprint = identity::fingerprint(file.sha256(), &normalised);
    let import_id = identity::import_id(options.import_id.as_deref(), &fingerprint)?;
    if options.dry_run {
        return dry_run(&mut conn, ctx, reader, import_id, options, progress).await;
    }
    // The session lock says "this import is being written"; closing the connection (whatever
    // happens to this task) is what releases it.
    conn.close_on_drop();
    if !records::try_lock(&mut conn, ctx.tenant_id, &import_id).await? {
        return Err(ImportError::Running(import_id));
    }
    let resume_after = match records::find(&mut conn, ctx.tenant_id, &import_id).await? {
        Some(record) if record.fingerprint != fingerprint => {
            return Err(ImportError::IdReused(import_id))
        }
        Some(record) if record.status == ImportStatus::Completed => {
            return Ok(records::report(&mut conn, ctx.tenant_id, &import_id, true).await?);
        }
        Some(record) => {
            records::set_status(&mut conn, ctx.tenant_id, &import_id, ImportStatus::Running)
                .await?;
            record.last_row
        }
        None => {
            records::start(
                &mut conn,
                ctx.tenant_id,
                &import_id,
                &fingerprint,
                &normalised.to_json(),
                ctx.issued_at,
            )
            .await?;
            1
        }
    };
    let written = write_all(
        &mut conn,
        ctx,
        reader,
        resume_after,
        &import_id,
        options,
        progress,
    )
    .await;
    if let Err(error) = written {
        if let Err(also) =
            records::set_status(&mut conn, ctx.tenant_id, &import_id, ImportStatus::Failed).await
        {
            tracing::warn!(
                error = format!("{also:#}"),
                import_id,
                "could not mark the import failed"
            );
        }
        return Err(error);
    }
    records::set_status(
        &mut conn,
        ctx.tenant_id,
        &import_id,
        ImportStatus::Completed,
    )
    .await?;
    Ok(records::report(&mut conn, ctx.tenant_id, &import_id, false).await?)
}

/// Streams the file's rows after `resume_after` into the writer, batch by batch.
async fn write_all(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    reader: CsvReader,
    resume_after: u32,
    import_id: &str,
    options: &ImportOptions,
    progress: &(dyn Fn(ImportProgress) + Send + Sync),
) -> Result<(), ImportError> {
    let mut pipeline = Pipeline::start(reader, resume_after, ctx, import_id, options);
    let mut rows = 0u64;
    let mut result = Ok(());
    while let Some(decided) = pipeline.batches.recv().await {
        let written = match decided {
            Ok(decided) => {
                rows += decided.rows;
                writer::write_batch(conn, ctx, import_id, options, &decided.batch)
                    .await
                    .map(|_| decided.bytes)
            }
            Err(error) => Err(error),
        };
        match written {
            Ok(bytes) => progress(ImportProgress { bytes, rows }),
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }
    pipeline.close().await?;
    result
}

/// Validates and counts every row without writing.
async fn dry_run(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    reader: CsvReader,
    import_id: String,
    options: &ImportOptions,
    progress: &(dyn Fn(ImportProgress) + Send + Sync),
) -> Result<ImportReport, ImportError> {
    let mut pipeline = Pipeline::start(reader, 1, ctx, &import_id, options);
    let mut run = DryRun::new(import_id);
    let mut rows = 0u64;
    let mut result = Ok(());
    while let Some(decided) = pipeline.batches.recv().await {
        let counted = match decided {
            Ok(decided) => {
                rows += decided.rows;
                run.batch(conn, ctx.tenant_id, decided.batch.sorted)
                    .await
                    .map(|()| decided.bytes)
                    .map_err(ImportError::from)
            }
            Err(error) => Err(error),
        };
        match counted {
            Ok(bytes) => progress(ImportProgress { bytes, rows }),
            Err(error) => {
                result = Err(error);
                break;
            }
        }
    }
    pipeline.close().await?;
    result.map(|()| run.finish())
}

/// A batch decided by the aggregate, ready for the writer.
struct Decided {
    batch: Batch,
    /// Data rows in it.
    rows: u64,
    /// Bytes of the file read once it was.
    bytes: u64,
}

/// The stages before the writer, each bounded so memory stays flat: a blocking thread reads and
/// parses rows, a task lets the aggregate decide them (while the writer waits on the database).
struct Pipeline {
    batches: mpsc::Receiver<Result<Decided, ImportError>>,
    reader: tokio::task::JoinHandle<()>,
    decider: tokio::task::JoinHandle<()>,
}

impl Pipeline {
    fn start(
        reader: CsvReader,
        resume_after: u32,
        ctx: &CommandContext,
        import_id: &str,
        options: &ImportOptions,
    ) -> Self {
        let columns: Columns = reader.columns().clone();
        let (mut parsed, reader) = spawn_reader(reader, resume_after);
        let (sender, batches) = mpsc::channel(CHANNEL_BATCHES);
        let (tenant, import_id, options) = (ctx.tenant_id, import_id.to_string(), options.clone());
        let decider = tokio::spawn(async move {
            while let Some(batch) = parsed.recv().await {
                let decided = match batch {
                    Ok(batch) => Ok(Decided {
                        rows: batch.rows.len() as u64,
                        batch: Batch {
                            sorted: decide::sort_rows(
                                batch.rows, tenant, &import_id, &options, &columns,
                            )
                            .await,
                            last_row: batch.last_row,
                        },
                        bytes: batch.bytes,
                    }),
                    Err(error) => Err(error),
                };
                if sender.send(decided).await.is_err() {
                    return;
                }
            }
        });
        Self {
            batches,
            reader,
            decider,
        }
    }

    /// Stops the stages (they notice the closed channel) and waits for them.
    async fn close(self) -> anyhow::Result<()> {
        drop(self.batches);
        self.decider
            .await
            .context("The import's decider panicked")?;
        self.reader.await.context("The CSV reader panicked")?;
        Ok(())
    }
}

/// Reads rows after `resume_after` on a blocking thread and sends them in batches of
/// [`BATCH_ROWS`]; stops early when the receiver is gone.
fn spawn_reader(
    mut reader: CsvReader,
    resume_after: u32,
) -> (
    mpsc::Receiver<Result<ParsedBatch, ImportError>>,
    tokio::task::JoinHandle<()>,
) {
    let (sender, receiver) = mpsc::channel(CHANNEL_BATCHES);
    let handle = tokio::task::spawn_blocking(move || {
        let mut rows = Vec::with_capacity(BATCH_ROWS);
        let mut last_row = resume_after;
        loop {
            match reader.next_row(resume_after) {
                Ok(Some(row)) => {
                    last_row = match &row {
                        Ok(data) => data.row,
                        Err(error) => error.row,
                    };
                    rows.push(row);
                    if rows.len() < BATCH_ROWS {
                        continue;
                    }
                }
                Ok(None) => {
                    if !rows.is_empty() {
                        let _ = sender.blocking_send(Ok(ParsedBatch {
                            rows,
                            last_row,
                            bytes: reader.bytes_read(),
                        }));
                    }
                    return;
                }
                Err(error) => {
                    let _ = sender.blocking_send(Err(error));
                    return;
                }
            }
            let full = std::mem::replace(&mut rows, Vec::with_capacity(BATCH_ROWS));
            let batch = ParsedBatch {
                rows: full,
                last_row,
                bytes: reader.bytes_read(),
            };
            if sender.blocking_send(Ok(batch)).is_err() {
                return;
            }
        }
    });
    (receiver, handle)
}

/// Refuses a workflow the tenant does not have, or one that is archived.
async fn check_workflow(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    workflow: domain::values::WorkflowId,
) -> Result<(), ImportError> {
    let loaded =
        match event_store::load::<Workflow>(conn, ctx.tenant_id.as_uuid(), &workflow.to_string())
            .await
        {
            Ok(loaded) => loaded,
            Err(StoreError::OtherTenant) => {
                return Err(ImportError::invalid("workflow_id", "no such workflow"))
            }
            Err(StoreError::Conflict) => {
                return Err(anyhow::anyhow!("loading a workflow reported a conflict").into())
            }
            Err(StoreError::Database(error)) => return Err(error.into()),
        };
    if loaded.version == 0 {
        return Err(ImportError::invalid("workflow_id", "no such workflow"));
    }
    if loaded.aggregate.status() == WorkflowStatus::Archived {
        return Err(ImportError::invalid(
            "workflow_id",
            "the workflow is archived",
        ));
    }
    Ok(())
}
