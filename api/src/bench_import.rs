//! `bookerbot bench import`: generates a realistic CSV file (1% invalid rows of four kinds, 2%
//! duplicate phones, quoted commas and line breaks), imports it into a fresh tenant of a fresh
//! database on the configured server through the import library, then catches the projections
//! up, and prints rows/s for the import alone and until the contacts model has caught up.
//! `--rows 2000` is the seconds-long smoke mode.

use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::Context;
use application::{Actor, CommandContext};
use infrastructure::lead_import::{self, CsvFile, ImportOptions};
use infrastructure::tenants::{TenantSettings, TenantStore};
use sqlx::PgPool;

use crate::settings::Settings;

/// Options of the import benchmark.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportBench {
    /// Data rows in the generated file.
    #[arg(long, default_value_t = 100_000)]
    pub rows: usize,
}

/// Target rate until the contacts model has caught up, rows/s.
const TARGET_ROWS_PER_SECOND: f64 = 20_000.0;

const FIRST_NAMES: [&str; 12] = [
    "Olivia", "Noah", "Amelia", "George", "Isla", "Arthur", "Ava", "Muhammad", "Freya", "Leo",
    "Zoë", "Oscar",
];
const LAST_NAMES: [&str; 12] = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "O'Brien", "Robinson", "Wright",
];
const COMPANIES: [&str; 4] = [
    "Acme Ltd",
    "\"Smith, Jones & Co\"",
    "Bright Smile Dental",
    "",
];
const PLANS: [&str; 3] = ["gold", "silver", "bronze"];

/// What a generated file must import as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleCsv {
    /// Data rows.
    pub rows: u64,
    /// Rows that create a lead.
    pub created: u64,
    /// Rows whose phone an earlier row had.
    pub merged: u64,
    /// The invalid rows: spreadsheet row number and the header of the column at fault.
    pub rejected: Vec<(u32, &'static str)>,
}

/// Writes a CSV file of `rows` leads: every 100th row (from the 38th) is invalid — in turn a bad
/// phone, a bad email, no contact at all, a first name over 100 characters — and every 50th
/// (from the 12th) repeats the phone of the row seven above it, written internationally.
pub fn write_sample_csv(mut out: impl Write, rows: usize) -> std::io::Result<SampleCsv> {
    writeln!(out, "First Name,Last Name,Mobile,Email,Company,Plan,Notes")?;
    let mut sample = SampleCsv {
        rows: rows as u64,
        created: 0,
        merged: 0,
        rejected: Vec::new(),
    };
    let long_name = "X".repeat(101);
    for i in 0..rows {
        let row = u32::try_from(i + 2).unwrap_or(u32::MAX);
        let first = FIRST_NAMES[i % FIRST_NAMES.len()];
        let last = LAST_NAMES[(i / FIRST_NAMES.len()) % LAST_NAMES.len()];
        let mut first_cell = first.to_string();
        let mut mobile = national(i);
        let mut email = if i % 10 == 3 {
            String::new()
        } else {
            format!(
                "{}.{}{i}@example.com",
                first.to_lowercase(),
                last.to_lowercase()
            )
            .replace('\'', "")
        };
        if i % 100 == 37 {
            let column = match (i / 100) % 4 {
                0 => {
                    mobile = "07400 12".to_string();
                    "Mobile"
                }
                1 => {
                    email = format!("{}@", first.to_lowercase());
                    "Email"
                }
                2 => {
                    mobile.clear();
                    email.clear();
                    "Mobile"
                }
                _ => {
                    first_cell.clone_from(&long_name);
                    "First Name"
                }
            };
            sample.rejected.push((row, column));
        } else if i % 50 == 11 {
            mobile = international(i - 7);
            sample.merged += 1;
        } else {
            sample.created += 1;
        }
        let notes = if i % 1000 == 500 {
            "\"called twice,\nprefers evenings\""
        } else {
            ""
        };
        writeln!(
            out,
            "{first_cell},{last},{mobile},{email},{},{},{notes}",
            COMPANIES[i % COMPANIES.len()],
            PLANS[i % PLANS.len()],
        )?;
    }
    out.flush()?;
    Ok(sample)
}

/// The distinct UK mobile of row index `i`, written nationally: `07400 000123`.
fn national(i: usize) -> String {
    format!("074{:02} {:06}", i / 1_000_000, i % 1_000_000)
}

/// The same number written internationally: `+44 7400 000123`.
fn international(i: usize) -> String {
    format!("+44 74{:02} {:06}", i / 1_000_000, i % 1_000_000)
}

/// Runs the benchmark on a fresh database and prints the figures.
pub async fn run_import(settings: Settings, options: ImportBench) -> anyhow::Result<()> {
    crate::bench::on_scratch_database(
        &settings,
        |url| async move { measure(&url, &options).await },
    )
    .await
}

async fn measure(url: &str, options: &ImportBench) -> anyhow::Result<()> {
    let pool = infrastructure::db::connect(url, 8).await?;
    let result = measure_on(&pool, options).await;
    pool.close().await;
    result
}

async fn measure_on(pool: &PgPool, options: &ImportBench) -> anyhow::Result<()> {
    infrastructure::db::migrate(pool).await?;
    let targets = projections::all();
    for target in &targets {
        projections::runner::prepare(pool, target).await?;
    }
    let (tenant, _) = TenantStore::new(pool.clone(), None)
        .create(
            "Import bench".to_string(),
            TenantSettings::default(),
            chrono::Utc::now(),
        )
        .await?;
    let spooled = tempfile::NamedTempFile::new().context("Failed to create the CSV file")?;
    let sample = write_sample_csv(std::io::BufWriter::new(spooled.as_file()), options.rows)
        .context("Failed to write the CSV file")?;
    let rejected = u64::try_from(sample.rejected.len()).unwrap_or(u64::MAX);
    let ctx = CommandContext {
        tenant_id: tenant.id,
        actor: Actor::System("bench"),
        request_id: format!("bench-{}", uuid::Uuid::now_v7()),
        issued_at: chrono::Utc::now(),
    };
    let started = Instant::now();
    let file = CsvFile::open(spooled.path())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let report = lead_import::import(
        pool,
        &ctx,
        &file,
        &ImportOptions::new(tenant.default_country),
        &|_| {},
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let imported = started.elapsed();
    anyhow::ensure!(
        (report.created, report.merged, report.rejected)
            == (sample.created, sample.merged, rejected),
        "the import reported created {} merged {} rejected {}, expected {} {} {}",
        report.created,
        report.merged,
        report.rejected,
        sample.created,
        sample.merged,
        rejected
    );
    let rate = |elapsed: Duration| sample.rows as f64 / elapsed.as_secs_f64().max(f64::EPSILON);
    println!(
        "bench import: {} rows ({} invalid, {} duplicate phones), {:.1} MiB of CSV",
        sample.rows,
        rejected,
        sample.merged,
        file.size() as f64 / 1024.0 / 1024.0
    );
    println!(
        "  import alone:        {:>7.2} s  {:>9.0} rows/s  (created {}, merged {}, rejected {})",
        imported.as_secs_f64(),
        rate(imported),
        report.created,
        report.merged,
        report.rejected
    );
    let mut runners = Vec::new();
    for target in targets {
        let pool = pool.clone();
        runners.push(tokio::spawn(async move {
            let applied = projections::runner::catch_up(
                &pool,
                &target,
                projections::runner::DEFAULT_BATCH_SIZE,
            )
            .await?;
            anyhow::Ok((target.schema, applied, started.elapsed()))
        }));
    }
    let mut caught_up = Vec::new();
    for runner in runners {
        caught_up.push(runner.await.context("A projection runner panicked")??);
    }
    let all_caught_up = started.elapsed();
    for (schema, applied, elapsed) in &caught_up {
        println!(
            "  {schema:<18} caught up {:>7.2} s after the import started ({applied} events, {:.0} events/s once the import was done)",
            elapsed.as_secs_f64(),
            *applied as f64 / (*elapsed - imported).as_secs_f64().max(f64::EPSILON)
        );
    }
    println!(
        "  import + catch-up:   {:>7.2} s  {:>9.0} rows/s  (every projection caught up; target >= {TARGET_ROWS_PER_SECOND:.0} rows/s)",
        all_caught_up.as_secs_f64(),
        rate(all_caught_up)
    );
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_has_one_percent_invalid_and_two_percent_duplicate_rows() {
        let mut out = Vec::new();
        let sample = write_sample_csv(&mut out, 10_000).unwrap();
        assert_eq!(sample.rejected.len(), 100);
        assert_eq!(sample.merged, 200);
        assert_eq!(sample.created, 9_700);
        assert_eq!(sample.rejected[0], (39, "Mobile"));
        assert_eq!(sample.rejected[1], (139, "Email"));
        assert_eq!(sample.rejected[2], (239, "Mobile"));
        assert_eq!(sample.rejected[3], (339, "First Name"));
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("\"called twice,\nprefers evenings\""));
    }
}
