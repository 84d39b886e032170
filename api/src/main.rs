//! The `bookerbot` command: serve the API, migrate, run the demo, inspect projections, benchmark.
//! This is the one place that reads the environment (through clap's `env` fallbacks).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use api::settings::{LogFormat, Settings};
use application::SystemClock;
use clap::{Args, Parser, Subcommand};

/// BookerBot: turns leads into booked appointments over SMS and WhatsApp.
#[derive(Debug, Parser)]
#[command(name = "bookerbot", version, about)]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Command,
}

/// Configuration shared by every subcommand (flags override environment variables).
#[derive(Debug, Args)]
struct Config {
    /// PostgreSQL URL. Without it: a server at 127.0.0.1:5432, then Docker, then a private
    /// cluster started from the local PostgreSQL binaries under the data directory.
    #[arg(long, env = "DATABASE_URL", global = true)]
    database_url: Option<String>,
    /// Where local state (the embedded cluster's data) lives.
    #[arg(
        long,
        env = "BOOKERBOT_DATA_DIR",
        default_value = ".bookerbot",
        global = true
    )]
    data_dir: PathBuf,
    /// Always run the private cluster under the data directory (ignores DATABASE_URL).
    #[arg(long, env = "BOOKERBOT_EMBEDDED_POSTGRES", global = true)]
    embedded: bool,
    /// Address to listen on.
    #[arg(
        long,
        env = "BOOKERBOT_LISTEN",
        default_value = "127.0.0.1:8080",
        global = true
    )]
    listen: SocketAddr,
    /// The platform admin's bearer token (admin routes are closed without one).
    #[arg(
        long,
        env = "BOOKERBOT_ADMIN_TOKEN",
        hide_env_values = true,
        global = true
    )]
    admin_token: Option<String>,
    /// Log format.
    #[arg(
        long,
        env = "BOOKERBOT_LOG_FORMAT",
        value_enum,
        default_value = "pretty",
        global = true
    )]
    log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax).
    #[arg(
        long,
        env = "RUST_LOG",
        default_value = "info,sqlx=warn",
        global = true
    )]
    log: String,
    /// Largest number of database connections.
    #[arg(
        long,
        env = "BOOKERBOT_MAX_CONNECTIONS",
        default_value_t = 32,
        global = true
    )]
    max_connections: u32,
    /// How long a read with `min_position` may wait, in milliseconds.
    #[arg(
        long,
        env = "BOOKERBOT_READ_WAIT_MS",
        default_value_t = 5000,
        global = true
    )]
    read_wait_ms: u64,
    /// Whether this instance runs the projection runners (any number of instances may).
    #[arg(long, env = "BOOKERBOT_PROJECTIONS", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    projections: bool,
    /// Largest CSV upload the import endpoint accepts, in bytes.
    #[arg(
        long,
        env = "BOOKERBOT_IMPORT_MAX_BYTES",
        default_value_t = infrastructure::lead_import::DEFAULT_MAX_BYTES,
        global = true
    )]
    import_max_bytes: u64,
    /// Key sealing tenants' provider secrets and model keys: 64 hex characters or base64 of 32
    /// bytes (`openssl rand -hex 32`). Without it no secret can be stored.
    #[arg(
        long,
        env = "BOOKERBOT_SECRETS_KEY",
        hide_env_values = true,
        value_parser = api::settings::parse_secrets_key,
        global = true
    )]
    secrets_key: Option<infrastructure::secrets::SecretBox>,
    /// The public https base URL providers call: webhook signatures are checked against it and
    /// Twilio status callback URLs are built from it.
    #[arg(
        long,
        env = "BOOKERBOT_PUBLIC_URL",
        value_parser = api::settings::parse_base_url,
        global = true
    )]
    public_url: Option<String>,
    /// Base URL of Twilio's REST API.
    #[arg(
        long,
        env = "BOOKERBOT_TWILIO_API_BASE",
        default_value = api::settings::DEFAULT_TWILIO_API_BASE,
        value_parser = api::settings::parse_base_url,
        global = true
    )]
    twilio_api_base: String,
    /// Base URL of the Graph API serving the WhatsApp Cloud API.
    #[arg(
        long,
        env = "BOOKERBOT_WHATSAPP_API_BASE",
        default_value = api::settings::DEFAULT_WHATSAPP_API_BASE,
        value_parser = api::settings::parse_base_url,
        global = true
    )]
    whatsapp_api_base: String,
    /// Graph API version of the WhatsApp Cloud API calls.
    #[arg(
        long,
        env = "BOOKERBOT_WHATSAPP_API_VERSION",
        default_value = api::settings::DEFAULT_WHATSAPP_API_VERSION,
        global = true
    )]
    whatsapp_api_version: String,
    /// Google's OAuth token endpoint (refreshing tenants' calendar access tokens).
    #[arg(
        long,
        env = "BOOKERBOT_GOOGLE_TOKEN_URL",
        default_value = api::settings::DEFAULT_GOOGLE_TOKEN_URL,
        value_parser = api::settings::parse_base_url,
        global = true
    )]
    google_token_url: String,
    /// Base URL of the Google Calendar API.
    #[arg(
        long,
        env = "BOOKERBOT_GOOGLE_API_BASE",
        default_value = api::settings::DEFAULT_GOOGLE_API_BASE,
        value_parser = api::settings::parse_base_url,
        global = true
    )]
    google_api_base: String,
    /// A JSON price table for model calls (default: the built-in table).
    #[arg(long, env = "BOOKERBOT_AI_PRICES", global = true)]
    ai_prices: Option<PathBuf>,
    /// How long a call to a message provider may take, in milliseconds.
    #[arg(
        long,
        env = "BOOKERBOT_PROVIDER_TIMEOUT_MS",
        default_value_t = api::settings::DEFAULT_PROVIDER_TIMEOUT_MS,
        global = true
    )]
    provider_timeout_ms: u64,
    /// How long a call to a conversation model may take, in milliseconds.
    #[arg(
        long,
        env = "BOOKERBOT_MODEL_TIMEOUT_MS",
        default_value_t = api::settings::DEFAULT_MODEL_TIMEOUT_MS,
        global = true
    )]
    model_timeout_ms: u64,
    /// Whether this instance sends messages and runs the model (any number of instances may).
    #[arg(long, env = "BOOKERBOT_WORKERS", default_value_t = true, action = clap::ArgAction::Set, global = true)]
    workers: bool,
    /// Sends per second per tenant and channel, shared by every instance (0: no limit).
    #[arg(
        long,
        env = "BOOKERBOT_SEND_RATE_PER_SECOND",
        default_value_t = api::settings::DEFAULT_SEND_RATE_PER_SECOND,
        global = true
    )]
    send_rate_per_second: u32,
}

impl Config {
    fn settings(&self) -> Settings {
        Settings {
            database_url: self.database_url.clone(),
            data_dir: self.data_dir.clone(),
            embedded: self.embedded,
            listen: self.listen,
            admin_token: self.admin_token.clone().filter(|t| !t.is_empty()),
            max_connections: self.max_connections,
            read_wait: Duration::from_millis(self.read_wait_ms),
            command_attempts: 10,
            run_projections: self.projections,
            import_max_bytes: self.import_max_bytes,
            secrets_key: self.secrets_key.clone(),
            public_url: self.public_url.clone(),
            twilio_api_base: self.twilio_api_base.clone(),
            whatsapp_api_base: self.whatsapp_api_base.clone(),
            whatsapp_api_version: self.whatsapp_api_version.clone(),
            google_token_url: self.google_token_url.clone(),
            google_api_base: self.google_api_base.clone(),
            ai_prices_path: self.ai_prices.clone(),
            provider_timeout: Duration::from_millis(self.provider_timeout_ms),
            model_timeout: Duration::from_millis(self.model_timeout_ms),
            run_workers: self.workers,
            send_rate_per_second: self.send_rate_per_second,
        }
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (migrates the database first).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Create a demo tenant with a workflow and leads, print its API key, then serve.
    Demo,
    /// Work with leads.
    Leads {
        #[command(subcommand)]
        command: LeadsCommand,
    },
    /// A lead's events (with its conversations' and appointments') and its state at any instant.
    Audit(api::audit::cli::AuditArgs),
    /// Inspect projections.
    Projections {
        #[command(subcommand)]
        command: ProjectionsCommand,
    },
    /// Create synthetic tenants, workflows and leads with histories (benchmarks, demos).
    Seed(api::seed::SeedOptions),
    /// Measure throughput and latency.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
}

#[derive(Debug, Subcommand)]
enum LeadsCommand {
    /// Import leads from a CSV file, with a progress bar.
    Import(api::import_cli::ImportArgs),
}

#[derive(Debug, Subcommand)]
enum ProjectionsCommand {
    /// Each projection's position and lag.
    Status,
    /// Rebuild a projection into fresh tables from position zero, then switch atomically.
    Rebuild {
        /// The projection (`contacts` or `workflows`).
        name: String,
        /// Events per loading batch.
        #[arg(long, default_value_t = projections::rebuild::DEFAULT_BATCH_SIZE)]
        batch_size: i64,
    },
}

#[derive(Debug, Subcommand)]
enum BenchCommand {
    /// Commands over HTTP versus the raw-SQL equivalent, at the same concurrency.
    Commands(api::bench::CommandsBench),
    /// CSV import of generated leads, until the projections have caught up.
    Import(api::bench_import::ImportBench),
    /// A filtered, sorted page of leads over HTTP beside its raw SQL, small and large databases, deep pages.
    List(api::bench_list::ListBench),
    /// Rebuild of contacts versus merely reading the same events (COPY).
    Rebuild(api::bench_rebuild::RebuildBench),
    /// Signed Twilio inbound webhooks from concurrent clients versus raw event inserts.
    Webhooks(api::bench_messaging::WebhooksBench),
    /// Latency from a lead's inbound message until the AI's reply is queued.
    Replies(api::bench_messaging::RepliesBench),
    /// Latency from a lead's capture until its outreach is queued, while a CSV import runs.
    Outreach(api::bench_automation::OutreachBench),
    /// Due timers run per second by 1 and 3 dispatchers, beside the raw claim rate.
    Timers(api::bench_automation::TimersBench),
    /// A month's free slots over HTTP on a calendar of live appointments, answers checked.
    Availability(api::bench_appointments::AvailabilityBench),
    /// Bookings racing for the same hour over HTTP, beside raw reservation inserts.
    Booking(api::bench_appointments::BookingBench),
    /// The all-time analytics overview for a 10k and a 1M tenant, and a 365-day funnel.
    Analytics(api::bench_analytics::AnalyticsBench),
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    api::telemetry::init(cli.config.log_format, &cli.config.log);
    infrastructure::http_client::install_crypto_provider();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "bookerbot failed");
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = cli.config.settings();
    match cli.command {
        Command::Serve => {
            let db = api::server::open_database(&settings).await?;
            let running = api::server::start(db.pool, Arc::new(SystemClock), settings).await?;
            running.run_until_signal().await
        }
        Command::Migrate => {
            let db = api::server::open_database(&settings).await?;
            println!("migrations applied to {}", redact(&db.url));
            Ok(())
        }
        Command::Demo => api::demo::run(settings).await,
        Command::Leads {
            command: LeadsCommand::Import(args),
        } => api::import_cli::run(settings, args).await,
        Command::Audit(args) => api::audit::cli::run(settings, args).await,
        Command::Bench {
            command: BenchCommand::Import(options),
        } => api::bench_import::run_import(settings, options)
            .await
            .context("The benchmark failed"),
        Command::Projections {
            command: ProjectionsCommand::Status,
        } => {
            let db = api::server::open_database(&settings).await?;
            for target in projections::all() {
                projections::runner::prepare(&db.pool, &target).await?;
            }
            let statuses = projections::status::all(&db.pool).await?;
            println!(
                "{:<24} {:>12} {:>14} {:>10} {:>10}",
                "target", "position", "events", "lag", "lag (s)"
            );
            for s in statuses {
                println!(
                    "{:<24} {:>12} {:>14} {:>10} {:>10.1}",
                    s.target,
                    s.position.global_position,
                    s.events_applied,
                    s.lag_events,
                    s.lag_seconds
                );
            }
            Ok(())
        }
        Command::Projections {
            command: ProjectionsCommand::Rebuild { name, batch_size },
        } => {
            let target = projections::rebuild::find(&name)?;
            let db = api::server::open_database(&settings).await?;
            let total = projections::rebuild::feed_size(&db.pool).await?;
            let bar =
                api::progress::Progress::new(&format!("rebuild {name}"), Some(total), "events");
            let options = projections::rebuild::RebuildOptions { batch_size };
            let report = projections::rebuild::rebuild(&db.pool, &target, options, &mut |p| {
                bar.set(p.applied)
            })
            .await?;
            bar.finish();
            println!(
                "rebuilt {} from {} events in {:.1} s ({:.0} events/s); switch took {:.0} ms",
                report.target,
                report.events,
                report.total.as_secs_f64(),
                report.events_per_second(),
                report.switch.as_secs_f64() * 1e3
            );
            Ok(())
        }
        Command::Seed(options) => api::seed::run(settings, options).await,
        Command::Bench {
            command: BenchCommand::List(options),
        } => api::bench_list::run_list(settings, options)
            .await
            .context("The list benchmark failed"),
        Command::Bench {
            command: BenchCommand::Rebuild(options),
        } => api::bench_rebuild::run_rebuild(settings, options)
            .await
            .context("The benchmark failed"),
        Command::Bench {
            command: BenchCommand::Commands(options),
        } => api::bench::run_commands(settings, options)
            .await
            .context("The benchmark failed"),
        Command::Bench {
            command: BenchCommand::Webhooks(options),
        } => api::bench_messaging::run_webhooks(settings, options)
            .await
            .context("The webhook benchmark failed"),
        Command::Bench {
            command: BenchCommand::Replies(options),
        } => api::bench_messaging::run_replies(settings, options)
            .await
            .context("The reply benchmark failed"),
        Command::Bench {
            command: BenchCommand::Outreach(options),
        } => api::bench_automation::run_outreach(settings, options)
            .await
            .context("The outreach benchmark failed"),
        Command::Bench {
            command: BenchCommand::Timers(options),
        } => api::bench_automation::run_timers(settings, options)
            .await
            .context("The timers benchmark failed"),
        Command::Bench {
            command: BenchCommand::Availability(options),
        } => api::bench_appointments::run_availability(settings, options)
            .await
            .context("The availability benchmark failed"),
        Command::Bench {
            command: BenchCommand::Booking(options),
        } => api::bench_appointments::run_booking(settings, options)
            .await
            .context("The booking benchmark failed"),
        Command::Bench {
            command: BenchCommand::Analytics(options),
        } => api::bench_analytics::run_analytics(settings, options)
            .await
            .context("The analytics benchmark failed"),
    }
}

/// The URL without its password, for printing.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}
