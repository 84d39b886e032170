//! The HTTP surface, one module per resource. Every handler authenticates, builds a command or a
//! query scoped to the caller's tenant, and maps failures through [`crate::error`].

pub mod activity;
pub mod admin;
pub mod analytics;
pub mod appointments;
pub mod budget;
pub mod bulk;
pub mod conversation;
pub mod export;
pub mod health;
pub mod imports;
pub mod jobs;
pub mod leads;
pub mod messages;
pub mod sandbox;
pub mod scheduled;
pub mod tags;
pub mod tenants;
pub mod webhooks;
pub mod workflow_bulk;
pub mod workflows;

use poem_openapi::Tags;

/// Groups of operations in the OpenAPI document.
#[derive(Debug, Tags)]
pub enum ApiTags {
    /// Client businesses and their API keys (platform admin).
    Tenants,
    /// How leads are engaged: message templates, follow-ups, qualification.
    Workflows,
    /// Contacts: capture, details, status, tags, history.
    Leads,
    /// A lead's conversation: sending, outreach, handoff to a human and back, retries.
    Conversations,
    /// Appointments: booking without double booking, cancelling, free slots.
    Appointments,
    /// The lead's side of the sandbox channel, for trying the product without a provider.
    Sandbox,
    /// Analytics: the overview, the funnel, AI costs per day, workflow and model, AI budgets.
    Analytics,
    /// Operations: projections and their lag.
    Admin,
    /// Liveness, readiness and metrics.
    Health,
}

/// Every API of this service, for the OpenAPI service.
#[allow(
    clippy::type_complexity,
    reason = "poem-openapi combines APIs as one tuple, one element per API"
)]
pub fn apis() -> (
    tenants::TenantsApi,
    workflows::WorkflowsApi,
    workflow_bulk::WorkflowBulkApi,
    leads::LeadsApi,
    conversation::ConversationApi,
    appointments::AppointmentsApi,
    messages::MessagesApi,
    scheduled::ScheduledApi,
    sandbox::SandboxApi,
    imports::ImportsApi,
    export::ExportApi,
    bulk::BulkApi,
    jobs::JobsApi,
    tags::TagsApi,
    admin::AdminApi,
    (
        health::HealthApi,
        analytics::AnalyticsApi,
        activity::ActivityApi,
        budget::BudgetApi,
    ),
) {
    (
        tenants::TenantsApi,
        workflows::WorkflowsApi,
        workflow_bulk::WorkflowBulkApi,
        leads::LeadsApi,
        conversation::ConversationApi,
        appointments::AppointmentsApi,
        messages::MessagesApi,
        scheduled::ScheduledApi,
        sandbox::SandboxApi,
        imports::ImportsApi,
        export::ExportApi,
        bulk::BulkApi,
        jobs::JobsApi,
        tags::TagsApi,
        admin::AdminApi,
        (
            health::HealthApi,
            analytics::AnalyticsApi,
            activity::ActivityApi,
            budget::BudgetApi,
        ),
    )
}
