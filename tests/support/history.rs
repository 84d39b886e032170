//! A random but reproducible history of real lead commands, through the same use cases the API
//! runs (captures with phone dedupe, detail and workflow updates through
//! `infrastructure::leads`, everything else through the command executor), and comparing every
//! table of two projection schemas — what a rebuild must reproduce.

use application::CommandContext;
use domain::lead::{Lead, LeadCommand, LeadStatus, NewLead};
use domain::values::{
    CustomFields, EmailAddress, LeadId, LeadSource, MessageTemplate, TenantId, WorkflowId,
    WorkflowName,
};
use domain::{Channel, Workflow, WorkflowCommand, WorkflowDefinition};
use infrastructure::executor::{CommandError, CommandExecutor, Existence};
use infrastructure::leads::{self, LeadUpdate};
use sqlx::PgPool;

use super::compare::table_difference;
use super::context::tenant_ctx;
use super::leads::{phone, tag};

/// Writes random lead commands for two tenants (two workflows each), reproducibly for a seed.
#[derive(Debug)]
pub struct HistoryWriter {
    executor: CommandExecutor,
    tenants: Vec<TenantId>,
    workflows: Vec<Vec<WorkflowId>>,
    leads: Vec<(usize, LeadId)>,
    phones: Vec<(usize, u32)>,
    next_phone: u32,
    state: u64,
    /// Commands the aggregate or a use case refused (a history has some; they write nothing).
    pub refused: usize,
}

const TAGS: [&str; 5] = ["vip", "hot", "cold", "spanish", "weekend"];

impl HistoryWriter {
    /// Two fresh tenants with two active workflows each; `seed` fixes every later choice.
    /// Phones are numbered from `first_phone` (give concurrent writers disjoint ranges).
    pub async fn new(pool: &PgPool, seed: u64, first_phone: u32) -> Self {
        let executor = CommandExecutor::new(pool.clone(), 20);
        let tenants = vec![TenantId::new(), TenantId::new()];
        let mut workflows = Vec::new();
        for tenant in &tenants {
            let mut ids = Vec::new();
            for n in 0..2 {
                let id = WorkflowId::new();
                let definition = WorkflowDefinition::new(
                    WorkflowName::parse(&format!("Workflow {n}")).unwrap_or_else(|e| panic!("{e}")),
                    Channel::Sms,
                    MessageTemplate::parse("Hi {first_name}!").unwrap_or_else(|e| panic!("{e}")),
                );
                for command in [
                    WorkflowCommand::CreateWorkflow { definition },
                    WorkflowCommand::Activate,
                ] {
                    executor
                        .execute::<Workflow>(
                            &tenant_ctx(*tenant),
                            &id.to_string(),
                            Existence::MayCreate,
                            command,
                        )
                        .await
                        .unwrap_or_else(|e| panic!("failed to create a workflow: {e}"));
                }
                ids.push(id);
            }
            workflows.push(ids);
        }
        Self {
            executor,
            tenants,
            workflows,
            leads: Vec::new(),
            phones: Vec::new(),
            next_phone: first_phone,
            state: seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
            refused: 0,
        }
    }

    /// The tenants written to.
    pub fn tenants(&self) -> &[TenantId] {
        &self.tenants
    }

    /// A number in `0..n` (xorshift64*).
    fn below(&mut self, n: usize) -> usize {
        self.state ^= self.state >> 12;
        self.state ^= self.state << 25;
        self.state ^= self.state >> 27;
        let x = self.state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        ((u128::from(x) * n as u128) >> 64) as usize
    }

    fn workflow(&mut self, tenant: usize) -> WorkflowId {
        let n = self.below(self.workflows[tenant].len());
        self.workflows[tenant][n]
    }

    fn fresh_phone(&mut self, tenant: usize) -> domain::values::PhoneNumber {
        self.next_phone += 1;
        self.phones.push((tenant, self.next_phone));
        phone(self.next_phone)
    }

    fn custom_fields(&mut self) -> CustomFields {
        let city = ["Leeds", "Austin", "Cardiff"][self.below(3)];
        CustomFields::parse(serde_json::json!({ "city": city, "score": self.below(100) }))
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs `n` random commands.
    pub async fn run(&mut self, n: usize) {
        for _ in 0..n {
            self.step().await;
        }
    }

    /// Runs one random command (a capture while there are few leads).
    pub async fn step(&mut self) {
        let roll = if self.leads.len() < 4 {
            0
        } else {
            self.below(100)
        };
        if roll < 25 {
            return self.capture().await;
        }
        let pick = self.below(self.leads.len());
        let (tenant, lead) = self.leads[pick];
        let ctx = tenant_ctx(self.tenants[tenant]);
        let command = match roll {
            25..=34 => return self.update(&ctx, tenant, lead).await,
            35..=49 => LeadCommand::AddTag {
                tag: tag(TAGS[self.below(TAGS.len())]),
            },
            50..=59 => LeadCommand::RemoveTag {
                tag: tag(TAGS[self.below(TAGS.len())]),
            },
            60..=76 => LeadCommand::AdvanceStatus {
                to: LeadStatus::ALL[self.below(LeadStatus::ALL.len())],
            },
            77..=80 => LeadCommand::OverrideStatus {
                to: LeadStatus::ALL[self.below(LeadStatus::ALL.len())],
                reason: "operator".to_owned(),
            },
            81..=84 => LeadCommand::OptOut {
                reason: "STOP".to_owned(),
            },
            85..=90 => LeadCommand::Archive,
            91..=95 => LeadCommand::Restore,
            _ => LeadCommand::AddSource {
                source: LeadSource::ALL[self.below(LeadSource::ALL.len())],
            },
        };
        let result = self
            .executor
            .execute::<Lead>(&ctx, &lead.to_string(), Existence::MustExist, command)
            .await
            .map(|_| ());
        self.count(result);
    }

    async fn capture(&mut self) {
        let tenant = self.below(self.tenants.len());
        let known: Vec<u32> = self
            .phones
            .iter()
            .filter(|(t, _)| *t == tenant)
            .map(|(_, n)| *n)
            .collect();
        let roll = self.below(100);
        let phone = if roll < 12 && !known.is_empty() {
            Some(phone(known[self.below(known.len())]))
        } else if roll < 92 {
            Some(self.fresh_phone(tenant))
        } else {
            None
        };
        let email = (phone.is_none() || self.below(2) == 0).then(|| {
            EmailAddress::parse(&format!("lead{}@example.com", self.below(1_000_000)))
                .unwrap_or_else(|e| panic!("{e}"))
        });
        let workflow_id = (self.below(10) < 7).then(|| self.workflow(tenant));
        let tags = (0..self.below(3))
            .map(|_| tag(TAGS[self.below(TAGS.len())]))
            .collect();
        let lead = NewLead {
            first_name: ["Ann", "Bob", "Cy", "Di"][self.below(4)].to_owned(),
            last_name: ["Lee", "Khan", "Ruiz"][self.below(3)].to_owned(),
            phone,
            email,
            custom_fields: self.custom_fields(),
            source: LeadSource::ALL[self.below(LeadSource::ALL.len())],
            tags,
            workflow_id,
        };
        let ctx = tenant_ctx(self.tenants[tenant]);
        match leads::capture(&self.executor, &ctx, lead).await {
            Ok(captured) if !captured.merged => self.leads.push((tenant, captured.lead_id)),
            result => self.count(result.map(|_| ())),
        }
    }

    async fn update(&mut self, ctx: &CommandContext, tenant: usize, lead: LeadId) {
        let mut update = LeadUpdate::default();
        match self.below(5) {
            0 => update.details.first_name = Some(["Eve", "Finn", "Gus"][self.below(3)].into()),
            1 => {
                update.details.email = Some(Some(
                    EmailAddress::parse(&format!("new{}@example.org", self.below(1000)))
                        .unwrap_or_else(|e| panic!("{e}")),
                ));
            }
            2 => update.details.custom_fields = Some(self.custom_fields()),
            3 => update.details.phone = Some(Some(self.fresh_phone(tenant))),
            _ => {
                update.workflow = Some((self.below(4) > 0).then(|| self.workflow(tenant)));
            }
        }
        let result = leads::update(&self.executor, ctx, lead, update).await;
        self.count(result.map(|_| ()));
    }

    /// Counts a refusal; panics on a database failure (the history must be what was asked).
    fn count<E: std::fmt::Display>(&mut self, result: Result<(), CommandError<E>>) {
        match result {
            Ok(()) => {}
            Err(CommandError::Database(error)) => panic!("a command failed: {error:#}"),
            Err(CommandError::Conflict) => panic!("a command kept conflicting"),
            Err(_) => self.refused += 1,
        }
    }
}

/// The tables of `schema`, sorted.
pub async fn schema_tables(pool: &PgPool, schema: &str) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = $1 ORDER BY tablename",
    )
    .bind(schema)
    .fetch_all(pool)
    .await
    .unwrap_or_else(|error| panic!("failed to list the tables of {schema}: {error}"))
}

/// Copies every table of `schema` into a new schema `copy` (a still picture of a read model).
pub async fn copy_schema(pool: &PgPool, schema: &str, copy: &str) {
    sqlx::query(&format!("CREATE SCHEMA {copy}"))
        .execute(pool)
        .await
        .unwrap_or_else(|error| panic!("failed to create {copy}: {error}"));
    for table in schema_tables(pool, schema).await {
        sqlx::query(&format!(
            "CREATE TABLE {copy}.{table} AS TABLE {schema}.{table}"
        ))
        .execute(pool)
        .await
        .unwrap_or_else(|error| panic!("failed to copy {schema}.{table}: {error}"));
    }
}

/// Panics unless `left` and `right` hold the same tables with the same rows, every column
/// and row for row.
pub async fn assert_same_schemas(pool: &PgPool, left: &str, right: &str) {
    let tables = schema_tables(pool, left).await;
    assert!(!tables.is_empty(), "{left} has no tables");
    assert_eq!(
        tables,
        schema_tables(pool, right).await,
        "{left} vs {right}"
    );
    for table in tables {
        let difference = table_difference(
            pool,
            &format!("{left}.{table}"),
            &format!("{right}.{table}"),
        )
        .await;
        assert!(
            difference.is_empty(),
            "{left}.{table} differs from {right}.{table}:\n{difference}"
        );
    }
}
