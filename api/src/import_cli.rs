//! `bookerbot leads import FILE --tenant ID`: the CSV import straight on the database, for files
//! too big to upload or for operators at a shell. The same library code as the API, under the
//! actor `system:cli`, with a progress bar over the bytes read.

use std::path::PathBuf;

use anyhow::Context;
use application::{Actor, CommandContext};
use domain::values::{LeadSource, Tag, TenantId, WorkflowId};
use infrastructure::lead_import::{self, CsvFile, Field, ImportOptions, ImportReport};
use infrastructure::tenants::TenantStore;

use crate::progress::Progress;
use crate::settings::Settings;

/// Rejected rows printed after the counts.
const ERRORS_SHOWN: usize = 20;

/// Options of `bookerbot leads import`.
#[derive(Debug, Clone, clap::Args)]
pub struct ImportArgs {
    /// The CSV file (the first row names the columns).
    pub file: PathBuf,
    /// The tenant to import into.
    #[arg(long)]
    pub tenant: String,
    /// Workflow for new leads (and merged leads that have none).
    #[arg(long)]
    pub workflow: Option<String>,
    /// A tag for every imported lead (repeat for several).
    #[arg(long = "tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Source recorded on the leads.
    #[arg(long, default_value = "csv_import")]
    pub source: String,
    /// Validate and report without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// A column for a field, e.g. `--map phone="Mobile No"` (fields: phone, email,
    /// first_name, last_name, name); repeat for several.
    #[arg(long = "map", value_name = "FIELD=HEADER")]
    pub map: Vec<String>,
    /// Idempotency key; without it the id is derived from the file and the options.
    #[arg(long)]
    pub import_id: Option<String>,
    /// `,` `;` `|` or `tab`; detected from the header line when absent.
    #[arg(long)]
    pub delimiter: Option<String>,
}

/// Runs the import and prints its report.
pub async fn run(settings: Settings, args: ImportArgs) -> anyhow::Result<()> {
    let tenant_id: TenantId = args
        .tenant
        .parse()
        .map_err(|e| anyhow::anyhow!("--tenant: {e}"))?;
    let db = crate::server::open_database(&settings).await?;
    let tenant = TenantStore::new(db.pool.clone(), settings.secrets_key.clone())
        .get(tenant_id)
        .await?
        .with_context(|| format!("--tenant: no tenant {tenant_id}"))?;
    let options = options(&args, tenant.default_country)?;
    let file = CsvFile::open(&args.file)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let ctx = CommandContext {
        tenant_id,
        actor: Actor::System("cli"),
        request_id: format!("cli-{}", uuid::Uuid::now_v7()),
        issued_at: chrono::Utc::now(),
    };
    let label = if options.dry_run { "dry run" } else { "import" };
    let bar = Progress::new(label, Some(file.size()), "bytes");
    let report = lead_import::import(&db.pool, &ctx, &file, &options, &|p| bar.set(p.bytes)).await;
    bar.finish();
    print_report(&report.map_err(|e| anyhow::anyhow!("{e}"))?);
    Ok(())
}

fn options(
    args: &ImportArgs,
    country: domain::values::CountryCode,
) -> anyhow::Result<ImportOptions> {
    let mut options = ImportOptions::new(country);
    options.workflow_id = args
        .workflow
        .as_deref()
        .map(|w| w.parse::<WorkflowId>())
        .transpose()
        .map_err(|e| anyhow::anyhow!("--workflow: {e}"))?;
    options.tags = args
        .tags
        .iter()
        .map(|t| Tag::parse(t).map_err(|e| anyhow::anyhow!("--tag {t}: {e}")))
        .collect::<anyhow::Result<_>>()?;
    options.source = args
        .source
        .parse::<LeadSource>()
        .map_err(|e| anyhow::anyhow!("--source: {e}"))?;
    options.dry_run = args.dry_run;
    options.import_id.clone_from(&args.import_id);
    options.delimiter = args
        .delimiter
        .as_deref()
        .map(lead_import::parse_delimiter)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--delimiter: {e}"))?;
    for entry in &args.map {
        let (field, header) = entry
            .split_once('=')
            .with_context(|| format!("--map {entry}: write FIELD=HEADER"))?;
        let field: Field = field
            .parse()
            .map_err(|e| anyhow::anyhow!("--map {entry}: {e}"))?;
        options.mapping.insert(field, header.to_string());
    }
    Ok(options)
}

fn print_report(report: &ImportReport) {
    let how = match (report.dry_run, report.replayed) {
        (true, _) => " (dry run: nothing written)",
        (false, true) => " (already imported: nothing written)",
        (false, false) => "",
    };
    println!("import {}{how}", report.import_id);
    println!(
        "  rows {}  created {}  merged {}  rejected {}",
        report.rows, report.created, report.merged, report.rejected
    );
    if let Some(position) = report.position {
        println!("  last event position {position}");
    }
    for error in report.errors.iter().take(ERRORS_SHOWN) {
        println!(
            "  row {} column '{}': {}",
            error.row, error.column, error.reason
        );
    }
    if report.errors.len() > ERRORS_SHOWN {
        println!(
            "  … and {} more rejected rows",
            report.errors.len() - ERRORS_SHOWN
        );
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        args: ImportArgs,
    }

    fn parse(argv: &[&str]) -> anyhow::Result<ImportOptions> {
        let cli = Cli::try_parse_from(argv)?;
        options(&cli.args, domain::values::CountryCode::default())
    }

    #[test]
    fn flags_become_options() {
        let options = parse(&[
            "import",
            "leads.csv",
            "--tenant",
            "x",
            "--tag",
            "Spring",
            "--tag",
            "vip",
            "--map",
            "phone=Mobile No",
            "--delimiter",
            "tab",
            "--dry-run",
        ])
        .unwrap();
        assert_eq!(
            options.tags,
            vec![Tag::parse("spring").unwrap(), Tag::parse("vip").unwrap()]
        );
        assert_eq!(options.mapping.get(&Field::Phone).unwrap(), "Mobile No");
        assert_eq!(options.delimiter, Some(b'\t'));
        assert!(options.dry_run);
        assert_eq!(options.source, LeadSource::CsvImport);
    }

    #[test]
    fn a_bad_mapping_or_source_is_refused_naming_the_flag() {
        let error = parse(&["import", "f.csv", "--tenant", "x", "--map", "phone"]).unwrap_err();
        assert!(error.to_string().starts_with("--map phone"), "{error}");
        let error = parse(&["import", "f.csv", "--tenant", "x", "--source", "fax"]).unwrap_err();
        assert!(error.to_string().starts_with("--source"), "{error}");
    }
}
