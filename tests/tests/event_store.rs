//! The event store and the command executor on a real PostgreSQL: optimistic concurrency,
//! bounded retries, tenant isolation, what a command reports it committed, the metadata every
//! event carries, and compatibility with postgres-es 0.5's own repository in both directions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use bookerbot_tests::{event_count, new_lead, read_feed, tag, tenant_ctx, TestDb};
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore};
use cqrs_es::{EventEnvelope, EventStore};
use domain::lead::{Lead, LeadCommand, LeadError, LeadEvent, LeadStatus};
use domain::values::{LeadId, TenantId};
use infrastructure::event_store::{self, StoreError};
use infrastructure::executor::{CommandError, CommandExecutor, Committed, Existence};
use infrastructure::feed::FeedPosition;
use infrastructure::metadata::EventMetadata;
use postgres_es::PostgresEventRepository;
use sqlx::PgPool;

type LeadResult = Result<Committed<Lead>, CommandError<LeadError>>;

async fn run(
    executor: &CommandExecutor,
    tenant: TenantId,
    lead: LeadId,
    command: LeadCommand,
) -> LeadResult {
    let existence = match command {
        LeadCommand::CaptureLead(_) => Existence::MayCreate,
        _ => Existence::MustExist,
    };
    executor
        .execute::<Lead>(&tenant_ctx(tenant), &lead.to_string(), existence, command)
        .await
}

/// A captured lead (one event) of `tenant`.
async fn captured(executor: &CommandExecutor, tenant: TenantId, n: u32) -> LeadId {
    let lead = LeadId::new();
    run(
        executor,
        tenant,
        lead,
        LeadCommand::CaptureLead(new_lead(n)),
    )
    .await
    .unwrap();
    lead
}

fn tagged(text: &str) -> LeadEvent {
    LeadEvent::LeadTagged { tag: tag(text) }
}

/// The payloads of `lead`'s events, in sequence order.
async fn stored_events(pool: &PgPool, lead: LeadId) -> Vec<LeadEvent> {
    sqlx::query_scalar::<_, serde_json::Value>(
        "SELECT payload::jsonb FROM events WHERE aggregate_type = 'lead' AND aggregate_id = $1 \
         ORDER BY sequence",
    )
    .bind(lead.to_string())
    .fetch_all(pool)
    .await
    .unwrap()
    .into_iter()
    .map(|payload| serde_json::from_value(payload).unwrap())
    .collect()
}

/// Waits until some session of this test's database waits for a lock (at most 5 s).
async fn until_a_session_waits_for_a_lock(pool: &PgPool) {
    for _ in 0..500 {
        let waiting: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_stat_activity \
             WHERE datname = current_database() AND wait_event_type = 'Lock'",
        )
        .fetch_one(pool)
        .await
        .unwrap();
        if waiting > 0 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no session ever waited for a lock");
}

#[tokio::test]
async fn appending_at_a_stale_sequence_is_a_conflict_and_writes_nothing() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let tenant = TenantId::new();
    let lead = captured(&executor, tenant, 1).await;
    let metadata = EventMetadata::from_context(&tenant_ctx(tenant));

    let mut tx = db.pool().begin().await.unwrap();
    let stale =
        event_store::append::<Lead>(&mut tx, &lead.to_string(), 0, &[tagged("late")], &metadata)
            .await;
    assert!(matches!(stale, Err(StoreError::Conflict)), "{stale:?}");
    drop(tx);

    assert_eq!(event_count(db.pool()).await, 1);
    let mut conn = db.pool().acquire().await.unwrap();
    let loaded = event_store::load::<Lead>(&mut conn, tenant.as_uuid(), &lead.to_string())
        .await
        .unwrap();
    assert_eq!(loaded.version, 1);
    assert!(loaded.aggregate.tags().iter().all(|t| t.as_str() != "late"));
}

#[tokio::test]
async fn an_append_that_would_land_before_the_aggregates_last_event_in_the_feed_is_a_conflict() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let tenant = TenantId::new();
    let other = captured(&executor, tenant, 1).await;
    let lead = captured(&executor, tenant, 2).await;
    let metadata = EventMetadata::from_context(&tenant_ctx(tenant));

    // A transaction writes first (it gets the older transaction id)…
    let mut early = db.pool().begin().await.unwrap();
    event_store::append::<Lead>(
        &mut early,
        &other.to_string(),
        1,
        &[tagged("first")],
        &metadata,
    )
    .await
    .unwrap();
    // …another, younger one appends to `lead` and commits…
    let mut young = db.pool().begin().await.unwrap();
    event_store::append::<Lead>(
        &mut young,
        &lead.to_string(),
        1,
        &[tagged("young")],
        &metadata,
    )
    .await
    .unwrap();
    young.commit().await.unwrap();
    // …then the early one loads `lead` (seeing version 2) and appends after it: in the feed,
    // ordered by transaction id, its event would come before the one it follows.
    let loaded = event_store::load::<Lead>(&mut early, tenant.as_uuid(), &lead.to_string())
        .await
        .unwrap();
    assert_eq!(loaded.version, 2);
    let out_of_order = event_store::append::<Lead>(
        &mut early,
        &lead.to_string(),
        2,
        &[tagged("early")],
        &metadata,
    )
    .await;
    assert!(
        matches!(out_of_order, Err(StoreError::Conflict)),
        "{out_of_order:?}"
    );
    drop(early);

    // Run again in a fresh transaction, the same work lands, after the young event.
    let mut retry = db.pool().begin().await.unwrap();
    event_store::append::<Lead>(
        &mut retry,
        &other.to_string(),
        1,
        &[tagged("first")],
        &metadata,
    )
    .await
    .unwrap();
    event_store::append::<Lead>(
        &mut retry,
        &lead.to_string(),
        2,
        &[tagged("early")],
        &metadata,
    )
    .await
    .unwrap();
    retry.commit().await.unwrap();
    let order: Vec<i64> = sqlx::query_scalar(
        "SELECT sequence FROM events WHERE aggregate_id = $1 \
         ORDER BY transaction_id, global_position",
    )
    .bind(lead.to_string())
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(order, vec![1, 2, 3], "feed order is the aggregate's order");
}

#[tokio::test]
async fn of_two_concurrent_appends_at_the_same_sequence_the_second_is_a_conflict() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let tenant = TenantId::new();
    let lead = captured(&executor, tenant, 1).await.to_string();
    let metadata = EventMetadata::from_context(&tenant_ctx(tenant));

    let mut first = db.pool().begin().await.unwrap();
    event_store::append::<Lead>(&mut first, &lead, 1, &[tagged("first")], &metadata)
        .await
        .unwrap();
    let pool = db.pool().clone();
    let (lead2, metadata2) = (lead.clone(), metadata.clone());
    let second = tokio::spawn(async move {
        let mut second = pool.begin().await.unwrap();
        event_store::append::<Lead>(&mut second, &lead2, 1, &[tagged("second")], &metadata2).await
    });
    until_a_session_waits_for_a_lock(db.pool()).await;
    first.commit().await.unwrap();

    let second = second.await.unwrap();
    assert!(matches!(second, Err(StoreError::Conflict)), "{second:?}");
    assert_eq!(
        stored_events(db.pool(), lead.parse().unwrap()).await[1],
        tagged("first")
    );
}

#[tokio::test]
async fn the_executor_retries_a_command_that_lost_the_race_and_then_succeeds() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let tenant = TenantId::new();
    let lead = captured(&executor, tenant, 1).await;

    // A rival appends sequence 2 and holds it uncommitted: the command loads version 1, its
    // append at sequence 2 waits on the rival's row, and fails once the rival commits.
    let metadata = EventMetadata::from_context(&tenant_ctx(tenant));
    let mut rival = db.pool().begin().await.unwrap();
    event_store::append::<Lead>(
        &mut rival,
        &lead.to_string(),
        1,
        &[tagged("rival")],
        &metadata,
    )
    .await
    .unwrap();
    let command = {
        let executor = executor.clone();
        tokio::spawn(async move {
            run(
                &executor,
                tenant,
                lead,
                LeadCommand::AddTag { tag: tag("mine") },
            )
            .await
        })
    };
    until_a_session_waits_for_a_lock(db.pool()).await;
    rival.commit().await.unwrap();

    let committed = command.await.unwrap().unwrap();
    assert_eq!(
        committed.version, 3,
        "the retry appended after the rival's event"
    );
    let tags: Vec<&str> = committed
        .aggregate
        .tags()
        .iter()
        .map(|t| t.as_str())
        .collect();
    assert!(
        tags.contains(&"rival") && tags.contains(&"mine"),
        "{tags:?}"
    );
    assert_eq!(
        stored_events(db.pool(), lead).await[1..],
        [tagged("rival"), tagged("mine")]
    );
}

#[tokio::test]
async fn an_executor_allowed_one_attempt_reports_the_lost_race_as_a_conflict() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 1);
    let tenant = TenantId::new();
    let lead = captured(&executor, tenant, 1).await;

    let metadata = EventMetadata::from_context(&tenant_ctx(tenant));
    let mut rival = db.pool().begin().await.unwrap();
    event_store::append::<Lead>(
        &mut rival,
        &lead.to_string(),
        1,
        &[tagged("rival")],
        &metadata,
    )
    .await
    .unwrap();
    let command = {
        let executor = executor.clone();
        tokio::spawn(async move {
            run(
                &executor,
                tenant,
                lead,
                LeadCommand::AddTag { tag: tag("mine") },
            )
            .await
        })
    };
    until_a_session_waits_for_a_lock(db.pool()).await;
    rival.commit().await.unwrap();

    let result = command.await.unwrap();
    assert!(matches!(result, Err(CommandError::Conflict)), "{result:?}");
    assert_eq!(event_count(db.pool()).await, 2);
}

#[tokio::test]
async fn many_racing_commands_on_one_lead_all_land_in_a_gapless_sequence() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 50);
    let tenant = TenantId::new();
    let lead = captured(&executor, tenant, 1).await;

    let commands: Vec<_> = (0..8)
        .map(|i| {
            let executor = executor.clone();
            tokio::spawn(async move {
                run(
                    &executor,
                    tenant,
                    lead,
                    LeadCommand::AddTag {
                        tag: tag(&format!("t{i}")),
                    },
                )
                .await
            })
        })
        .collect();
    for command in commands {
        command.await.unwrap().unwrap();
    }

    let sequences: Vec<i64> =
        sqlx::query_scalar("SELECT sequence FROM events WHERE aggregate_id = $1 ORDER BY sequence")
            .bind(lead.to_string())
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(sequences, (1..=9).collect::<Vec<i64>>());
}

#[tokio::test]
async fn another_tenants_lead_is_not_found_and_cannot_be_captured_over() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let owner = TenantId::new();
    let intruder = TenantId::new();
    let lead = captured(&executor, owner, 1).await;

    let tagging = run(
        &executor,
        intruder,
        lead,
        LeadCommand::AddTag { tag: tag("x") },
    )
    .await;
    assert!(
        matches!(tagging, Err(CommandError::NotFound)),
        "{tagging:?}"
    );
    let capturing = run(
        &executor,
        intruder,
        lead,
        LeadCommand::CaptureLead(new_lead(2)),
    )
    .await;
    assert!(
        matches!(capturing, Err(CommandError::NotFound)),
        "{capturing:?}"
    );
    let mut conn = db.pool().acquire().await.unwrap();
    let loading = event_store::load::<Lead>(&mut conn, intruder.as_uuid(), &lead.to_string()).await;
    assert!(
        matches!(loading, Err(StoreError::OtherTenant)),
        "{loading:?}"
    );

    assert_eq!(event_count(db.pool()).await, 1);
}

#[tokio::test]
async fn a_command_on_a_lead_that_does_not_exist_is_not_found() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let result = run(
        &executor,
        TenantId::new(),
        LeadId::new(),
        LeadCommand::AddTag { tag: tag("x") },
    )
    .await;
    assert!(matches!(result, Err(CommandError::NotFound)), "{result:?}");
}

#[tokio::test]
async fn a_refused_command_writes_nothing() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let tenant = TenantId::new();
    let lead = captured(&executor, tenant, 1).await;

    let result = run(
        &executor,
        tenant,
        lead,
        LeadCommand::AdvanceStatus {
            to: LeadStatus::Booked,
        },
    )
    .await;
    assert!(
        matches!(
            result,
            Err(CommandError::Rejected(LeadError::InvalidTransition { .. }))
        ),
        "{result:?}"
    );
    assert_eq!(event_count(db.pool()).await, 1);
}

#[tokio::test]
async fn a_command_reports_the_global_position_of_its_last_event() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let tenant = TenantId::new();
    let lead = LeadId::new();
    let other = captured(&executor, tenant, 2).await;

    for command in [
        LeadCommand::CaptureLead(new_lead(1)),
        LeadCommand::AddTag { tag: tag("vip") },
        LeadCommand::AdvanceStatus {
            to: LeadStatus::Contacted,
        },
        LeadCommand::OptOut {
            reason: "STOP".to_owned(),
        },
    ] {
        let ctx = tenant_ctx(tenant);
        let existence = if matches!(command, LeadCommand::CaptureLead(_)) {
            Existence::MayCreate
        } else {
            Existence::MustExist
        };
        let committed = executor
            .execute::<Lead>(&ctx, &lead.to_string(), existence, command)
            .await
            .unwrap();
        // Interleave another lead's events so positions are not simply consecutive.
        run(
            &executor,
            tenant,
            other,
            LeadCommand::AddTag {
                tag: tag(&ctx.request_id[..12]),
            },
        )
        .await
        .unwrap();
        let (max, version): (i64, i64) = sqlx::query_as(
            "SELECT max(global_position), max(sequence) FROM events \
             WHERE aggregate_id = $1 AND metadata->>'request_id' = $2",
        )
        .bind(lead.to_string())
        .bind(&ctx.request_id)
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(committed.position, Some(max));
        assert_eq!(committed.version, version);
    }
}

#[tokio::test]
async fn appending_several_events_returns_the_highest_of_their_positions() {
    let db = TestDb::new().await;
    let tenant = TenantId::new();
    let lead = LeadId::new().to_string();
    let metadata = EventMetadata::from_context(&tenant_ctx(tenant));
    let mut captured_lead = Lead::default();
    let sink = cqrs_es::event_sink::EventSink::default();
    cqrs_es::Aggregate::handle(
        &mut captured_lead,
        LeadCommand::CaptureLead(new_lead(1)),
        &(),
        &sink,
    )
    .await
    .unwrap();
    let mut events = sink.collect().await;
    events.extend([tagged("a"), tagged("b"), tagged("c")]);

    let mut tx = db.pool().begin().await.unwrap();
    let position = event_store::append::<Lead>(&mut tx, &lead, 0, &events, &metadata)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let positions: Vec<i64> =
        sqlx::query_scalar("SELECT global_position FROM events ORDER BY sequence")
            .fetch_all(db.pool())
            .await
            .unwrap();
    assert_eq!(positions.len(), 4);
    assert_eq!(Some(&position), positions.iter().max());
}

#[tokio::test]
async fn a_command_that_changes_nothing_writes_nothing_and_reports_no_position() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let tenant = TenantId::new();
    let lead = captured(&executor, tenant, 1).await;
    run(
        &executor,
        tenant,
        lead,
        LeadCommand::AddTag { tag: tag("vip") },
    )
    .await
    .unwrap();
    let before = event_count(db.pool()).await;

    // `imported` came with the capture, `vip` was just added.
    for command in [
        LeadCommand::AddTag { tag: tag("vip") },
        LeadCommand::AddTag {
            tag: tag("imported"),
        },
        LeadCommand::RemoveTag {
            tag: tag("never-added"),
        },
    ] {
        let committed = run(&executor, tenant, lead, command).await.unwrap();
        assert_eq!(committed.position, None);
        assert_eq!(committed.version, 2);
    }
    assert_eq!(event_count(db.pool()).await, before);
}

#[tokio::test]
async fn every_event_carries_tenant_actor_request_and_time_of_its_command() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let tenant = TenantId::new();
    let lead = LeadId::new().to_string();
    let mut contexts = Vec::new();
    for command in [
        LeadCommand::CaptureLead(new_lead(1)),
        LeadCommand::AddTag { tag: tag("vip") },
        LeadCommand::OverrideStatus {
            to: LeadStatus::Qualified,
            reason: "called us".to_owned(),
        },
    ] {
        let ctx = tenant_ctx(tenant);
        let existence = if contexts.is_empty() {
            Existence::MayCreate
        } else {
            Existence::MustExist
        };
        executor
            .execute::<Lead>(&ctx, &lead, existence, command)
            .await
            .unwrap();
        contexts.push(ctx);
    }

    let events = read_feed(db.pool(), FeedPosition::default(), contexts.len()).await;
    for (event, ctx) in events.iter().zip(&contexts) {
        assert_eq!(
            event.metadata,
            EventMetadata {
                tenant_id: tenant.as_uuid(),
                actor: "system:tests".to_owned(),
                occurred_at: ctx.issued_at,
                request_id: ctx.request_id.clone(),
            }
        );
    }
    let mismatched: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events WHERE tenant_id IS DISTINCT FROM (metadata->>'tenant_id')::uuid \
           OR tenant_id <> $1",
    )
    .bind(tenant.as_uuid())
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(
        mismatched, 0,
        "the tenant_id column disagrees with the metadata"
    );
}

#[tokio::test]
async fn events_written_by_our_store_load_through_postgres_es() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let tenant = TenantId::new();
    let lead = LeadId::new();
    let mut last = None;
    for command in [
        LeadCommand::CaptureLead(new_lead(1)),
        LeadCommand::AddTag { tag: tag("vip") },
        LeadCommand::AdvanceStatus {
            to: LeadStatus::Contacted,
        },
        LeadCommand::OptOut {
            reason: "STOP".to_owned(),
        },
    ] {
        last = Some(run(&executor, tenant, lead, command).await.unwrap());
    }
    let ours = last.unwrap();
    let expected = stored_events(db.pool(), lead).await;
    assert_eq!(expected.len(), 4);

    let repo = PostgresEventRepository::new(db.pool().clone());
    let serialized = repo.get_events::<Lead>(&lead.to_string()).await.unwrap();
    assert_eq!(serialized.len(), expected.len());
    let envelopes: Vec<EventEnvelope<Lead>> = serialized
        .into_iter()
        .map(|event| EventEnvelope::try_from(event).unwrap())
        .collect();
    for (index, envelope) in envelopes.iter().enumerate() {
        assert_eq!(envelope.sequence, index + 1);
        assert_eq!(envelope.aggregate_id, lead.to_string());
        assert_eq!(envelope.payload, expected[index]);
        assert_eq!(envelope.metadata["tenant_id"], tenant.to_string());
        assert_eq!(envelope.metadata["actor"], "system:tests");
    }

    let store = PersistedEventStore::<_, Lead>::new_event_store(repo);
    let context = store.load_aggregate(&lead.to_string()).await.unwrap();
    assert_eq!(context.current_sequence, 4);
    assert_eq!(context.aggregate, ours.aggregate);
}

#[tokio::test]
async fn events_written_by_postgres_es_load_through_our_store_and_reach_the_feed() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 3);
    let tenant = TenantId::new();
    let lead = captured(&executor, tenant, 1).await;

    let store = PersistedEventStore::<_, Lead>::new_event_store(PostgresEventRepository::new(
        db.pool().clone(),
    ));
    let context = store.load_aggregate(&lead.to_string()).await.unwrap();
    let metadata = EventMetadata::from_context(&tenant_ctx(tenant));
    let metadata = serde_json::from_value(serde_json::to_value(&metadata).unwrap()).unwrap();
    store
        .commit(vec![tagged("from-postgres-es")], context, metadata)
        .await
        .unwrap();

    let mut conn = db.pool().acquire().await.unwrap();
    let loaded = event_store::load::<Lead>(&mut conn, tenant.as_uuid(), &lead.to_string())
        .await
        .unwrap();
    assert_eq!(loaded.version, 2);
    assert!(loaded
        .aggregate
        .tags()
        .iter()
        .any(|t| t.as_str() == "from-postgres-es"));
    let events = read_feed(db.pool(), FeedPosition::default(), 2).await;
    assert_eq!(
        events[1].decode::<LeadEvent>().unwrap(),
        tagged("from-postgres-es")
    );
    assert_eq!(events[1].metadata.tenant_id, tenant.as_uuid());
}

#[tokio::test]
async fn a_command_that_claims_a_taken_id_is_new_never_writes_into_that_stream() {
    let db = TestDb::new().await;
    let executor = CommandExecutor::new(db.pool().clone(), 2);
    let owner = TenantId::new();
    let lead = captured(&executor, owner, 1).await;

    // `Existence::New` skips loading: only the events primary key stands between a colliding id
    // and someone else's stream.
    for tenant in [owner, TenantId::new()] {
        let result = executor
            .execute::<Lead>(
                &tenant_ctx(tenant),
                &lead.to_string(),
                Existence::New,
                LeadCommand::CaptureLead(new_lead(2)),
            )
            .await;
        assert!(matches!(result, Err(CommandError::Conflict)), "{result:?}");
    }
    assert_eq!(event_count(db.pool()).await, 1);
}
