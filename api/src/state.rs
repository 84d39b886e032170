//! What every handler shares: the pool, the command executor, tenants, the clock, settings, and
//! the messaging use cases.

use std::sync::Arc;

use anyhow::Context;
use application::{Actor, Clock, CommandContext};
use cqrs_es::Aggregate;
use domain::values::TenantId;
use infrastructure::ai::prices::PriceTable;
use infrastructure::calendars::{CalendarResolver, GoogleEndpoints};
use infrastructure::channels::{ChannelRouter, ProviderEndpoints, SandboxChannel};
use infrastructure::executor::{CommandExecutor, Existence};
use infrastructure::http_client::provider_client;
use infrastructure::messaging::{Messaging, MessagingSettings, ModelRouter};
use infrastructure::tenants::TenantStore;
use projections::status::WaitOutcome;
use sqlx::PgPool;

use crate::auth::Caller;
use crate::error::{ApiError, DomainRefusal};
use crate::middleware::RequestId;
use crate::responses::CommandResult;
use crate::settings::Settings;

/// The messaging use cases over the configured providers and models.
fn messaging(
    pool: &PgPool,
    executor: &CommandExecutor,
    tenants: &TenantStore,
    clock: &Arc<dyn Clock>,
    settings: &Settings,
) -> anyhow::Result<Messaging> {
    let prices = match &settings.ai_prices_path {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("Failed to read the AI price table {}", path.display()))?;
            PriceTable::from_json(&text)
                .with_context(|| format!("Invalid AI price table {}", path.display()))?
        }
        None => PriceTable::builtin(),
    };
    let provider_client = provider_client(settings.provider_timeout)?;
    let model_client = provider_client_for_models(settings)?;
    let channels = ChannelRouter::new(
        provider_client.clone(),
        ProviderEndpoints {
            twilio_api_base: settings.twilio_api_base.clone(),
            whatsapp_api_base: settings.whatsapp_api_base.clone(),
            whatsapp_api_version: settings.whatsapp_api_version.clone(),
        },
        tenants.clone(),
        SandboxChannel::new(pool.clone(), clock.clone()),
    );
    let mut messaging_settings = MessagingSettings::new(
        projections::tasks::live_table(),
        projections::timers::live_table(),
        projections::calendar_sync::live_table(),
        projections::budgets::live(),
    );
    messaging_settings.public_url = settings.public_url.clone();
    messaging_settings.send_rate_per_second = settings.send_rate_per_second;
    messaging_settings.model_timeout = settings.model_timeout;
    // A send holds two pooled connections at once: leave most of the pool to the API.
    messaging_settings.concurrency = usize::try_from(settings.max_connections / 4)
        .unwrap_or(1)
        .max(1);
    messaging_settings.batch_size = i64::try_from(messaging_settings.concurrency * 2).unwrap_or(16);
    let calendars = CalendarResolver::new(
        provider_client,
        GoogleEndpoints {
            token_url: settings.google_token_url.clone(),
            api_base: settings.google_api_base.clone(),
        },
        tenants.clone(),
        clock.clone(),
    );
    Ok(Messaging {
        executor: executor.clone(),
        tenants: tenants.clone(),
        channels,
        models: ModelRouter::new(model_client, tenants.clone(), Arc::new(prices)),
        calendars,
        clock: clock.clone(),
        settings: messaging_settings,
    })
}

/// Models may take longer than providers: their client times out with the model timeout.
fn provider_client_for_models(settings: &Settings) -> anyhow::Result<reqwest::Client> {
    provider_client(settings.model_timeout)
}

/// Shared application state (cheap to clone).
#[derive(Debug, Clone)]
pub struct AppState {
    /// Database pool.
    pub pool: PgPool,
    /// Runs commands.
    pub executor: CommandExecutor,
    /// Tenants and API keys.
    pub tenants: TenantStore,
    /// The time source.
    pub clock: Arc<dyn Clock>,
    /// Configuration.
    pub settings: Arc<Settings>,
    /// Conversations (inbound, outbox, AI, opt-out) and each tenant's external calendar.
    pub messaging: Messaging,
}

impl AppState {
    /// State over `pool`; fails only when the configured AI price table cannot be read.
    pub fn new(pool: PgPool, clock: Arc<dyn Clock>, settings: Settings) -> anyhow::Result<Self> {
        let executor = CommandExecutor::new(pool.clone(), settings.command_attempts);
        let tenants = TenantStore::new(pool.clone(), settings.secrets_key.clone());
        let messaging = messaging(&pool, &executor, &tenants, &clock, &settings)?;
        Ok(Self {
            executor,
            tenants,
            pool,
            clock,
            settings: Arc::new(settings),
            messaging,
        })
    }

    /// The context for a command issued by `caller` on behalf of `tenant`.
    pub fn context(
        &self,
        caller: &Caller,
        tenant: TenantId,
        request: &RequestId,
    ) -> CommandContext {
        CommandContext {
            tenant_id: tenant,
            actor: match caller {
                Caller::Admin => Actor::Admin,
                Caller::Tenant { key_id, .. } => Actor::ApiKey(*key_id),
            },
            request_id: request.0.clone(),
            issued_at: self.clock.now(),
        }
    }

    /// Runs one command on aggregate `id` for `tenant` and reports what was committed; a
    /// refusal becomes the error its rule documents, naming `resource` when it is not found.
    #[allow(clippy::too_many_arguments)]
    pub async fn run_command<A>(
        &self,
        caller: &Caller,
        tenant: TenantId,
        request: &RequestId,
        id: &str,
        existence: Existence,
        command: A::Command,
        resource: &str,
    ) -> Result<CommandResult, ApiError>
    where
        A: Aggregate<Services = ()> + 'static,
        A::Command: Clone + Send + 'static,
        A::Error: DomainRefusal + Send,
    {
        let ctx = self.context(caller, tenant, request);
        let committed = self
            .executor
            .execute::<A>(&ctx, id, existence, command)
            .await
            .map_err(|error| ApiError::from_command(error, resource))?;
        Ok(CommandResult {
            id: id.to_string(),
            version: committed.version,
            position: committed.position,
        })
    }

    /// Waits until the read model `target` has applied the event at `min_position`, if one was
    /// asked for (read your writes). 503 when it does not get there in time.
    pub async fn wait_for_position(
        &self,
        target: &str,
        tenant: TenantId,
        min_position: Option<i64>,
    ) -> Result<(), ApiError> {
        let Some(position) = min_position else {
            return Ok(());
        };
        if position < 1 {
            return Err(ApiError::invalid_field(
                "min_position",
                "must be at least 1",
            ));
        }
        let outcome = projections::status::wait_for(
            &self.pool,
            target,
            tenant.as_uuid(),
            position,
            self.settings.read_wait,
        )
        .await?;
        match outcome {
            WaitOutcome::Reached => return Ok(()),
            WaitOutcome::UnknownPosition => {
                return Err(ApiError::invalid_field(
                    "min_position",
                    "no event of yours has this position; use the position a command answered with",
                ))
            }
            WaitOutcome::TimedOut => {}
        }
        Err(ApiError::unavailable(
            "read_model_behind",
            format!(
                "the read model has not reached position {position} within {} ms; retry",
                self.settings.read_wait.as_millis()
            ),
            1,
        ))
    }
}
