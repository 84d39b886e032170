//! `bookerbot demo`: a tenant with a workflow and a handful of leads on the built-in defaults,
//! created through the same use cases the API runs, then the server. Running it again reuses
//! the demo tenant and prints a fresh key.

use std::sync::Arc;

use anyhow::Context;
use application::{Actor, Clock, CommandContext, SystemClock};
use domain::budget::AiBudget;
use domain::values::{
    BusinessHours, CustomFields, EmailAddress, LeadSource, LocalTimeRange, MessageTemplate,
    PhoneNumber, Tag, WorkflowId, WorkflowName,
};
use domain::{
    Channel, NewLead, QualificationQuestion, Workflow, WorkflowCommand, WorkflowDefinition,
};
use infrastructure::executor::{CommandExecutor, Existence};
use infrastructure::tenants::{TenantSettings, TenantStore};

use crate::settings::Settings;

/// The demo tenant's name.
pub const DEMO_TENANT: &str = "BookerBot Demo";

/// The demo tenant's monthly AI budget: 25 USD, alerts at 50/80/100 %, no hard stop.
const DEMO_AI_BUDGET_MICROS: i64 = 25_000_000;

const DEMO_LEADS: [(&str, &str, &str, &str); 6] = [
    ("Amelia", "Hughes", "+44 7700 900123", "amelia@example.com"),
    ("Oliver", "Patel", "07700 900456", "oliver@example.com"),
    ("Isla", "Murphy", "07700 900789", ""),
    ("Noah", "Williams", "", "noah.williams@example.com"),
    ("Freya", "Clarke", "+44 7700 900321", ""),
    ("Amelia", "Hughes", "07700 900123", ""),
];

/// Seeds the demo (once) and serves.
pub async fn run(mut settings: Settings) -> anyhow::Result<()> {
    if settings.admin_token.is_none() {
        settings.admin_token = Some(format!("demo-admin-{}", uuid::Uuid::new_v4().simple()));
    }
    settings.use_local_secrets_key()?;
    let db = crate::server::open_database(&settings).await?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let tenants = TenantStore::new(db.pool.clone(), settings.secrets_key.clone());
    let existing = tenants
        .list()
        .await?
        .into_iter()
        .find(|t| t.name == DEMO_TENANT);
    let (tenant, key) = match existing {
        Some(tenant) => {
            let key = tenants.issue_key(tenant.id, "demo", clock.now()).await?;
            (tenant, key)
        }
        None => {
            let settings = TenantSettings {
                brand_name: Some("Bright Smile Dental".to_string()),
                ai_budget: Some(Some(AiBudget::new(DEMO_AI_BUDGET_MICROS, None, false)?)),
                ..TenantSettings::default()
            };
            let (tenant, key) = tenants
                .create(DEMO_TENANT.to_string(), settings, clock.now())
                .await?;
            seed(&db.pool, &tenant, clock.as_ref()).await?;
            (tenant, key)
        }
    };
    let running = crate::server::start(db.pool, clock, settings.clone()).await?;
    let base = format!("http://{}", running.addr);
    println!();
    println!("BookerBot demo is running at {base}");
    println!("  API docs (Swagger UI): {base}/docs");
    println!("  OpenAPI document:      {base}/api/openapi.json");
    println!("  tenant:                {} ({})", tenant.name, tenant.id);
    println!("  API key:               {}", key.secret);
    if let Some(admin) = &settings.admin_token {
        println!("  admin token:           {admin}");
    }
    println!();
    println!(
        "Try:  curl -H 'Authorization: Bearer {}' {base}/api/v1/leads",
        key.secret
    );
    println!(
        "The demo's leads are contacted on their own (08:00-21:00 their time); see what is planned:"
    );
    println!(
        "  curl -H 'Authorization: Bearer {}' {base}/api/v1/scheduled",
        key.secret
    );
    println!("Answer as a lead through the sandbox (rules-based AI); LEAD is an id from the list:");
    println!(
        "  curl -X POST -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' \\\n    \
         -d '{{\"body\": \"Hi, yes I am new\"}}' {base}/api/v1/sandbox/leads/LEAD/inbound",
        key.secret
    );
    println!(
        "  curl -H 'Authorization: Bearer {}' {base}/api/v1/leads/LEAD/conversation",
        key.secret
    );
    println!("Stop with Ctrl-C.");
    running.run_until_signal().await
}

async fn seed(
    pool: &sqlx::PgPool,
    tenant: &infrastructure::tenants::Tenant,
    clock: &dyn Clock,
) -> anyhow::Result<()> {
    let executor = CommandExecutor::new(pool.clone(), 10);
    let ctx = CommandContext {
        tenant_id: tenant.id,
        actor: Actor::System("demo"),
        request_id: "demo-seed".to_string(),
        issued_at: clock.now(),
    };
    let workflow_id = WorkflowId::new();
    let mut definition = WorkflowDefinition::new(
        WorkflowName::parse("New patient enquiries")?,
        Channel::Sms,
        MessageTemplate::parse(
            "Hi {first_name}, thanks for your interest in {brand_name}! Would you like to book a \
             free consultation? Reply STOP to opt out.",
        )?,
    );
    definition.description = "Qualifies website enquiries and books consultations.".to_string();
    // Every day, so the demo's leads are contacted whenever it is started (within the recipients'
    // allowed hours, 08:00–21:00 their time).
    definition.business_hours = Some(BusinessHours::new(
        [Some(LocalTimeRange::parse("08:00", "21:00")?); 7],
    ));
    definition.qualification_questions = vec![
        QualificationQuestion::parse(
            "new_patient",
            "Are you a new patient with us?",
            ["yes", "new"],
        )?,
        QualificationQuestion::parse(
            "timing",
            "When would you like to come in?",
            ["this week", "next week", "asap", "soon"],
        )?,
    ];
    executor
        .execute::<Workflow>(
            &ctx,
            &workflow_id.to_string(),
            Existence::MayCreate,
            WorkflowCommand::CreateWorkflow { definition },
        )
        .await
        .map_err(|e| anyhow::anyhow!("creating the demo workflow: {e}"))?;
    executor
        .execute::<Workflow>(
            &ctx,
            &workflow_id.to_string(),
            Existence::MustExist,
            WorkflowCommand::Activate,
        )
        .await
        .map_err(|e| anyhow::anyhow!("activating the demo workflow: {e}"))?;
    for (first, last, phone, email) in DEMO_LEADS {
        let lead = NewLead {
            first_name: first.to_string(),
            last_name: last.to_string(),
            phone: (!phone.is_empty())
                .then(|| PhoneNumber::parse(phone, tenant.default_country))
                .transpose()?,
            email: (!email.is_empty())
                .then(|| EmailAddress::parse(email))
                .transpose()?,
            custom_fields: CustomFields::parse(serde_json::json!({"treatment": "whitening"}))?,
            source: if email.is_empty() {
                LeadSource::Referral
            } else {
                LeadSource::Website
            },
            tags: vec![Tag::parse("demo")?],
            workflow_id: Some(workflow_id),
        };
        infrastructure::leads::capture(&executor, &ctx, lead)
            .await
            .map_err(|e| anyhow::anyhow!("capturing a demo lead: {e}"))
            .context("Failed to seed the demo")?;
    }
    Ok(())
}
