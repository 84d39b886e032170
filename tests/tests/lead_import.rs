//! The CSV import through its library, against a real database: exact counts and rejected rows
//! on a 100k-row file with 1% invalid rows and 2% duplicate phones, a second sending that
//! writes nothing, an interrupted import that resumes without duplicates, a dry run that writes
//! nothing, an import that is already running, and import ids scoped to their tenant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use api::bench_import::{write_sample_csv, SampleCsv};
use application::CommandContext;
use bookerbot_tests::{event_count, tenant_ctx, TestDb};
use domain::values::{CountryCode, TenantId};
use infrastructure::lead_import::{
    self, CsvFile, ImportError, ImportOptions, ImportReport, ImportStatus,
};
use sqlx::PgPool;

fn options() -> ImportOptions {
    ImportOptions::new(CountryCode::parse("GB").unwrap())
}

/// A generated sample file of `rows` rows, and what it must import as.
fn sample(rows: usize) -> (tempfile::NamedTempFile, SampleCsv) {
    let file = tempfile::NamedTempFile::new().unwrap();
    let sample = write_sample_csv(std::io::BufWriter::new(file.as_file()), rows).unwrap();
    (file, sample)
}

async fn import(
    pool: &PgPool,
    ctx: &CommandContext,
    path: &std::path::Path,
    options: &ImportOptions,
) -> Result<ImportReport, ImportError> {
    let file = CsvFile::open(path).await.unwrap();
    lead_import::import(pool, ctx, &file, options, &|_| {}).await
}

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Every table an import writes, counted.
async fn footprint(pool: &PgPool) -> [i64; 4] {
    [
        event_count(pool).await,
        count(pool, "SELECT count(*) FROM lead_phones").await,
        count(pool, "SELECT count(*) FROM lead_imports").await,
        count(pool, "SELECT count(*) FROM lead_import_rows").await,
    ]
}

fn assert_matches_sample(report: &ImportReport, sample: &SampleCsv) {
    assert_eq!(report.rows, sample.rows);
    assert_eq!(report.created, sample.created);
    assert_eq!(report.merged, sample.merged);
    assert_eq!(report.rejected, sample.rejected.len() as u64);
    let named: Vec<(u32, &str)> = report
        .errors
        .iter()
        .map(|e| (e.row, e.column.as_str()))
        .collect();
    assert_eq!(
        named, sample.rejected,
        "every rejected row, with its column"
    );
}

#[tokio::test]
async fn a_100k_row_file_imports_with_exact_counts_and_sending_it_again_changes_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let ctx = tenant_ctx(TenantId::new());
    let (file, sample) = sample(100_000);
    assert_eq!(
        (sample.created, sample.merged, sample.rejected.len()),
        (97_000, 2_000, 1_000)
    );

    let started = Instant::now();
    let report = import(pool, &ctx, file.path(), &options()).await.unwrap();
    eprintln!(
        "imported 100k rows in {:.2} s",
        started.elapsed().as_secs_f64()
    );
    assert!(!report.replayed && !report.dry_run);
    assert_matches_sample(&report, &sample);
    let reasons: Vec<&str> = report
        .errors
        .iter()
        .take(4)
        .map(|e| e.reason.as_str())
        .collect();
    assert_eq!(
        reasons,
        vec![
            "is not a valid phone number for country GB",
            "must have a domain such as example.com after the '@'",
            "a lead needs a phone number or an email address",
            "first_name must be at most 100 characters",
        ]
    );
    // Duplicates merge into a lead of the same import with the same source: no event at all.
    assert_eq!(
        footprint(pool).await,
        [97_000, 97_000, 1, 100_000],
        "events, phones, imports, row outcomes"
    );
    let captured = count(
        pool,
        "SELECT count(DISTINCT aggregate_id) FROM events WHERE event_type = 'LeadCaptured'",
    )
    .await;
    assert_eq!(captured, 97_000);
    assert_eq!(report.position, Some(97_000));

    let again = import(pool, &ctx, file.path(), &options()).await.unwrap();
    assert!(again.replayed);
    assert_eq!(
        ImportReport {
            replayed: false,
            ..again
        },
        report
    );
    assert_eq!(footprint(pool).await, [97_000, 97_000, 1, 100_000]);
}

#[tokio::test]
async fn an_interrupted_import_resumes_after_its_last_batch_without_duplicates() {
    let db = TestDb::new().await;
    let pool = db.pool().clone();
    let ctx = tenant_ctx(TenantId::new());
    let (file, sample) = sample(5_500);

    // The process "dies" right after its second batch committed.
    let crashing = {
        let (pool, ctx) = (pool.clone(), ctx.clone());
        let path = file.path().to_path_buf();
        tokio::spawn(async move {
            let file = CsvFile::open(&path).await.unwrap();
            let crash = |p: lead_import::ImportProgress| {
                assert!(p.rows < 2_000, "the process died");
            };
            lead_import::import(&pool, &ctx, &file, &options(), &crash).await
        })
    };
    assert!(crashing.await.unwrap_err().is_panic());
    let id: String = sqlx::query_scalar("SELECT import_id FROM lead_imports")
        .fetch_one(&pool)
        .await
        .unwrap();
    let summary = lead_import::find_summary(&pool, ctx.tenant_id, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.status, ImportStatus::Running);
    assert_eq!(summary.rows, 2_000);
    let events_after_crash = event_count(&pool).await;
    assert_eq!(events_after_crash as u64, summary.created);

    let resumed = import(&pool, &ctx, file.path(), &options()).await.unwrap();
    assert!(!resumed.replayed);
    assert_eq!(resumed.import_id, id);
    assert_matches_sample(&resumed, &sample);
    let created = sample.created as i64;
    assert_eq!(
        footprint(&pool).await,
        [created, created, 1, 5_500],
        "no row written twice"
    );
    let summary = lead_import::find_summary(&pool, ctx.tenant_id, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(summary.status, ImportStatus::Completed);
    assert!(summary.finished_at.is_some());
}

#[tokio::test]
async fn a_dry_run_reports_what_the_import_will_do_and_writes_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let ctx = tenant_ctx(TenantId::new());
    let (file, sample) = sample(3_000);
    let mut dry = options();
    dry.dry_run = true;

    let preview = import(pool, &ctx, file.path(), &dry).await.unwrap();
    assert!(preview.dry_run);
    assert_matches_sample(&preview, &sample);
    assert_eq!(preview.position, None);
    assert_eq!(preview.preview.len(), lead_import::PREVIEW_ROWS);
    assert_eq!(preview.preview[0].first_name, "Olivia");
    assert_eq!(preview.preview[0].phone.as_deref(), Some("+447400000000"));
    assert_eq!(footprint(pool).await, [0, 0, 0, 0], "nothing written");

    let real = import(pool, &ctx, file.path(), &options()).await.unwrap();
    assert_eq!(
        (
            real.import_id.as_str(),
            real.created,
            real.merged,
            real.rejected
        ),
        (
            preview.import_id.as_str(),
            preview.created,
            preview.merged,
            preview.rejected
        )
    );
    assert_eq!(real.errors, preview.errors);

    // After the import, a dry run of the same file finds every phone known.
    let after = import(pool, &ctx, file.path(), &dry).await.unwrap();
    assert_eq!(
        (after.created, after.merged),
        (0, sample.created + sample.merged)
    );
}

#[tokio::test]
async fn an_import_that_is_running_is_refused_and_an_id_reused_for_another_file_too() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let ctx = tenant_ctx(TenantId::new());
    let (file, _) = sample(100);
    let mut keyed = options();
    keyed.import_id = Some("spring-2026".to_string());

    // Another session writing this import holds its lock.
    let mut other = pool.acquire().await.unwrap();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock(hashtextextended($1, 0))")
        .bind(format!("lead-import:{}:spring-2026", ctx.tenant_id))
        .fetch_one(&mut *other)
        .await
        .unwrap();
    assert!(locked);
    let error = import(pool, &ctx, file.path(), &keyed).await.unwrap_err();
    assert!(
        matches!(error, ImportError::Running(ref id) if id == "spring-2026"),
        "{error:?}"
    );
    assert_eq!(footprint(pool).await, [0, 0, 0, 0]);
    other.close().await.unwrap();

    let report = import(pool, &ctx, file.path(), &keyed).await.unwrap();
    assert_eq!(report.import_id, "spring-2026");
    let (different, _) = sample(101);
    let error = import(pool, &ctx, different.path(), &keyed)
        .await
        .unwrap_err();
    assert!(matches!(error, ImportError::IdReused(_)), "{error:?}");
}

#[tokio::test]
async fn import_ids_belong_to_their_tenant() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let first = tenant_ctx(TenantId::new());
    let second = tenant_ctx(TenantId::new());
    let (file, sample) = sample(200);

    let mine = import(pool, &first, file.path(), &options()).await.unwrap();
    assert!(
        lead_import::find_summary(pool, second.tenant_id, &mine.import_id)
            .await
            .unwrap()
            .is_none()
    );
    let (rows, total) =
        lead_import::row_outcomes(pool, second.tenant_id, &mine.import_id, None, 1, 50)
            .await
            .unwrap();
    assert_eq!((rows.len(), total), (0, 0));

    // The same file in another tenant is that tenant's own import, with its own leads.
    let theirs = import(pool, &second, file.path(), &options())
        .await
        .unwrap();
    assert_eq!(theirs.import_id, mine.import_id);
    assert!(!theirs.replayed);
    assert_eq!(theirs.created, sample.created);
    let distinct = count(pool, "SELECT count(DISTINCT aggregate_id) FROM events").await;
    assert_eq!(distinct as u64, 2 * sample.created);
}
