//! Projection rebuilds: built into fresh tables from position zero while the live ones keep
//! serving, then switched in atomically.
//!
//! After a random history of real commands, a rebuild equals the incrementally built models row
//! for row; a rebuild switched in while commands are written and readers query the live tables
//! causes no reader error and loses nothing; a second concurrent rebuild is refused; a failed or
//! interrupted rebuild leaves the live model as it was, and its leftovers go with the next
//! rebuild. Status, the admin endpoint and `/metrics` show position and lag.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bookerbot_tests::{
    assert_same_schemas, checkpoint, copy_schema, event_count, rebuild as reference_rebuild,
    schema_tables, wait_for_feed_to_settle, HistoryWriter, TestDb,
};
use infrastructure::feed::{RecordedEvent, EVENTS_CHANNEL};
use projections::rebuild::{
    rebuild, rebuild_prefix, AlreadyRunning, RebuildOptions, RebuildReport,
};
use projections::runner::{self, catch_up, prepare};
use projections::{Projection, Target};
use sqlx::{PgConnection, PgPool};
use tokio::sync::{watch, Notify, Semaphore};

fn contacts() -> Target {
    projections::rebuild::find("contacts").unwrap()
}

fn workflows() -> Target {
    projections::rebuild::find("workflows").unwrap()
}

fn options(batch_size: i64) -> RebuildOptions {
    RebuildOptions { batch_size }
}

async fn switch(pool: &PgPool, target: &Target, batch_size: i64) -> RebuildReport {
    rebuild(pool, target, options(batch_size), &mut |_| {})
        .await
        .unwrap_or_else(|error| panic!("rebuild of {} failed: {error:#}", target.schema))
}

/// Schemas (and checkpoints) that rebuilds of `live` left behind.
async fn leftovers(pool: &PgPool, live: &str) -> (Vec<String>, Vec<String>) {
    let prefix = rebuild_prefix(live);
    let schemas = sqlx::query_scalar(
        "SELECT nspname::text FROM pg_namespace WHERE left(nspname, length($1)) = $1",
    )
    .bind(&prefix)
    .fetch_all(pool)
    .await
    .unwrap();
    let checkpoints = sqlx::query_scalar(
        "SELECT target FROM projection_checkpoints WHERE left(target, length($1)) = $1",
    )
    .bind(&prefix)
    .fetch_all(pool)
    .await
    .unwrap();
    (schemas, checkpoints)
}

/// The last event in feed order.
async fn last_position(pool: &PgPool) -> i64 {
    sqlx::query_scalar(
        "SELECT global_position FROM events ORDER BY transaction_id DESC, global_position DESC \
         LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap()
}

#[tokio::test]
async fn after_a_random_history_a_rebuild_equals_the_incrementally_built_models_row_for_row() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let live = [contacts(), workflows()];
    for target in &live {
        prepare(pool, target).await.unwrap();
    }
    let mut history = HistoryWriter::new(pool, 42, 0).await;
    // The live models are built incrementally, in small batches between bursts of commands.
    for _ in 0..40 {
        history.run(30).await;
        for target in &live {
            catch_up(pool, target, 7).await.unwrap();
        }
    }
    wait_for_feed_to_settle(pool).await;
    for target in &live {
        catch_up(pool, target, 7).await.unwrap();
    }
    let kinds: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT event_type FROM events WHERE aggregate_type = 'lead' ORDER BY 1",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    assert_eq!(
        kinds,
        [
            "LeadArchived",
            "LeadCaptured",
            "LeadDetailsUpdated",
            "LeadOptedOut",
            "LeadRestored",
            "LeadSourceAdded",
            "LeadStatusChanged",
            "LeadStatusOverridden",
            "LeadTagged",
            "LeadUntagged",
            "LeadWorkflowAssigned",
        ],
        "the history covers every kind of lead event"
    );
    let events = event_count(pool).await;
    for (n, target) in live.iter().enumerate() {
        let before = checkpoint(pool, &target.schema).await;
        assert_eq!(
            before.1, events,
            "{} applied every event once",
            target.schema
        );
        let incremental = format!("incremental_{n}");
        copy_schema(pool, &target.schema, &incremental).await;
        let report = switch(pool, target, 50).await;
        assert_eq!(report.events, events as u64);
        assert_eq!(report.target, target.schema);
        assert_eq!(checkpoint(pool, &target.schema).await, before);
        assert_same_schemas(pool, &incremental, &target.schema).await;
        assert_eq!(leftovers(pool, &target.schema).await, (vec![], vec![]));
    }
    let (leads, tagged): (i64, i64) = sqlx::query_as(&format!(
        "SELECT (SELECT count(*) FROM {0}.contacts), (SELECT count(*) FROM {0}.tag_counts)",
        live[0].schema
    ))
    .fetch_one(pool)
    .await
    .unwrap();
    assert!(
        leads > 150 && tagged >= 5,
        "{leads} leads, {tagged} tag counts"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_rebuild_switches_in_while_commands_are_written_and_readers_read() {
    let db = TestDb::with_pool_size(40).await;
    let pool = db.pool().clone();
    let live = [contacts(), workflows()];
    for target in &live {
        prepare(&pool, target).await.unwrap();
    }
    let mut history = HistoryWriter::new(&pool, 7, 0).await;
    history.run(400).await;
    let tenant = history.tenants()[0].as_uuid();

    let (stop, stopped) = watch::channel(false);
    let wake = runner::spawn_listener(pool.clone(), EVENTS_CHANNEL, stopped.clone());
    let runners: Vec<_> = live
        .iter()
        .map(|target| {
            tokio::spawn(runner::run(
                pool.clone(),
                target.clone(),
                100,
                wake.clone(),
                stopped.clone(),
            ))
        })
        .collect();

    let writing = Arc::new(AtomicBool::new(true));
    let writer = {
        let (pool, writing) = (pool.clone(), writing.clone());
        tokio::spawn(async move {
            let mut history = HistoryWriter::new(&pool, 8, 500_000).await;
            let mut commands = 0usize;
            while writing.load(Ordering::SeqCst) {
                history.step().await;
                commands += 1;
            }
            commands
        })
    };
    let reading = Arc::new(AtomicBool::new(true));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (pool, reading) = (pool.clone(), reading.clone());
            let (contacts, workflows) = (live[0].schema.clone(), live[1].schema.clone());
            tokio::spawn(async move {
                let (mut reads, mut errors) = (0usize, Vec::new());
                while reading.load(Ordering::SeqCst) {
                    // Prepared and cached per connection, as every query of the API is.
                    let read: Result<(i64, i64, i64), sqlx::Error> = sqlx::query_as(&format!(
                        "SELECT (SELECT count(*) FROM {contacts}.contacts WHERE tenant_id = $1), \
                                (SELECT coalesce(sum(leads), 0)::bigint FROM {contacts}.tag_counts \
                                 WHERE tenant_id = $1), \
                                (SELECT count(*) FROM {workflows}.workflows WHERE tenant_id = $1)"
                    ))
                    .bind(tenant)
                    .fetch_one(&pool)
                    .await;
                    match read {
                        Ok(_) => reads += 1,
                        Err(error) => errors.push(error.to_string()),
                    }
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                (reads, errors)
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(200)).await;
    let events_at_start = event_count(&pool).await as u64;
    let mut reports = Vec::new();
    for target in &live {
        reports.push(switch(&pool, target, 50).await);
    }
    // Readers go on with the statements they prepared before the switch.
    tokio::time::sleep(Duration::from_millis(300)).await;
    writing.store(false, Ordering::SeqCst);
    let commands = writer.await.unwrap();
    reading.store(false, Ordering::SeqCst);
    for reader in readers {
        let (reads, errors) = reader.await.unwrap();
        assert!(errors.is_empty(), "readers failed: {errors:?}");
        assert!(reads > 10, "a reader read {reads} times");
    }
    assert!(commands > 20, "the writer ran {commands} commands");
    // Everything committed before the rebuild started is in it; what the writer adds while it
    // runs lands before the switch or, after it, through the live runner (checked below).
    assert!(
        reports[0].events >= events_at_start,
        "the rebuild missed events committed before it started ({} of {events_at_start})",
        reports[0].events
    );

    wait_for_feed_to_settle(&pool).await;
    for target in &live {
        catch_up(&pool, target, 500).await.unwrap();
    }
    stop.send(true).unwrap();
    for runner in runners {
        runner.await.unwrap();
    }
    let events = event_count(&pool).await;
    let last = last_position(&pool).await;
    for (n, target) in live.iter().enumerate() {
        let reference = format!("reference_{n}");
        reference_rebuild(&pool, target.projection.clone(), &reference).await;
        assert_same_schemas(&pool, &reference, &target.schema).await;
        let (position, applied) = checkpoint(&pool, &target.schema).await;
        assert_eq!(
            applied, events,
            "{}: every event applied once",
            target.schema
        );
        assert_eq!(position.global_position, last);
        assert_eq!(checkpoint(&pool, &reference).await, (position, applied));
    }
}

/// A real projection whose batches wait for a permit: a rebuild can be held mid-load.
struct Gated {
    inner: Arc<dyn Projection>,
    entered: Notify,
    release: Semaphore,
    fail_on: Option<usize>,
    batches: AtomicUsize,
}

impl Gated {
    fn new(inner: Arc<dyn Projection>, open: bool, fail_on: Option<usize>) -> Arc<Self> {
        let permits = if open { Semaphore::MAX_PERMITS } else { 0 };
        Arc::new(Self {
            inner,
            entered: Notify::new(),
            release: Semaphore::new(permits),
            fail_on,
            batches: AtomicUsize::new(0),
        })
    }
}

#[async_trait]
impl Projection for Gated {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn version(&self) -> u32 {
        self.inner.version()
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        self.inner.create_tables(conn, schema).await
    }

    fn indexes(&self, schema: &str) -> Vec<String> {
        self.inner.indexes(schema)
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let batch = self.batches.fetch_add(1, Ordering::SeqCst) + 1;
        self.entered.notify_one();
        let _permit = self.release.acquire().await?;
        self.inner.apply(tx, schema, events).await?;
        if self.fail_on == Some(batch) {
            anyhow::bail!("batch {batch} fails on purpose");
        }
        Ok(())
    }
}

/// A database with a history applied to the live contacts model, and a copy of that model.
async fn history_with_live_contacts(db: &TestDb) -> Target {
    let pool = db.pool();
    let target = contacts();
    prepare(pool, &target).await.unwrap();
    HistoryWriter::new(pool, 3, 0).await.run(300).await;
    wait_for_feed_to_settle(pool).await;
    catch_up(pool, &target, 100).await.unwrap();
    copy_schema(pool, &target.schema, "before").await;
    target
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_rebuild_of_the_same_projection_is_refused_while_one_runs() {
    let db = TestDb::new().await;
    let pool = db.pool().clone();
    let target = history_with_live_contacts(&db).await;
    let gated = Gated::new(target.projection.clone(), false, None);
    let held = Target::in_schema(gated.clone(), target.schema.clone());
    let first = {
        let pool = pool.clone();
        tokio::spawn(async move { rebuild(&pool, &held, options(50), &mut |_| {}).await })
    };
    gated.entered.notified().await;
    let refused = rebuild(&pool, &target, options(50), &mut |_| {})
        .await
        .expect_err("a second rebuild must be refused");
    assert_eq!(
        refused.downcast_ref::<AlreadyRunning>(),
        Some(&AlreadyRunning {
            target: target.schema.clone()
        })
    );
    assert_eq!(
        refused.to_string(),
        format!(
            "a rebuild of {} is already running; wait for it to finish",
            target.schema
        )
    );
    gated.release.add_permits(Semaphore::MAX_PERMITS);
    first.await.unwrap().unwrap();
    switch(&pool, &target, 50).await;
    assert_same_schemas(&pool, "before", &target.schema).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_or_interrupted_rebuild_leaves_the_live_model_as_it_was() {
    let db = TestDb::new().await;
    let pool = db.pool().clone();
    let target = history_with_live_contacts(&db).await;
    let before = checkpoint(&pool, &target.schema).await;

    // A batch fails half-way through the load: the rebuild reports it and cleans up.
    let failing = Gated::new(target.projection.clone(), true, Some(3));
    let error = rebuild(
        &pool,
        &Target::in_schema(failing, target.schema.clone()),
        options(50),
        &mut |_| {},
    )
    .await
    .expect_err("the failing batch fails the rebuild");
    assert!(
        format!("{error:#}").contains("batch 3 fails on purpose"),
        "{error:#}"
    );
    assert_same_schemas(&pool, "before", &target.schema).await;
    assert_eq!(checkpoint(&pool, &target.schema).await, before);
    assert_eq!(leftovers(&pool, &target.schema).await, (vec![], vec![]));

    // The process stops mid-load (the future is dropped): the live model is untouched, and
    // what the rebuild left is dropped by the next one.
    let gated = Gated::new(target.projection.clone(), false, None);
    let held = Target::in_schema(gated.clone(), target.schema.clone());
    let interrupted = {
        let pool = pool.clone();
        tokio::spawn(async move { rebuild(&pool, &held, options(50), &mut |_| {}).await })
    };
    gated.entered.notified().await;
    interrupted.abort();
    assert!(interrupted.await.unwrap_err().is_cancelled());
    let (schemas, checkpoints) = leftovers(&pool, &target.schema).await;
    assert_eq!(schemas.len(), 1, "{schemas:?}");
    assert_eq!(checkpoints, schemas);
    assert!(!schema_tables(&pool, &schemas[0]).await.is_empty());
    assert_same_schemas(&pool, "before", &target.schema).await;
    assert_eq!(checkpoint(&pool, &target.schema).await, before);

    let report = switch(&pool, &target, 50).await;
    assert_eq!(report.events, before.1 as u64);
    assert_eq!(leftovers(&pool, &target.schema).await, (vec![], vec![]));
    assert_same_schemas(&pool, "before", &target.schema).await;
    assert_eq!(checkpoint(&pool, &target.schema).await, before);
}

/// The value of the metric line `name{target="<target>"} <value>`.
fn metric(text: &str, name: &str, target: &str) -> f64 {
    let prefix = format!("{name}{{target=\"{target}\"}} ");
    text.lines()
        .find_map(|line| line.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
        .parse()
        .unwrap()
}

#[tokio::test]
async fn status_the_admin_endpoint_and_metrics_show_position_and_lag() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let live = [contacts(), workflows()];
    for target in &live {
        prepare(pool, target).await.unwrap();
    }
    HistoryWriter::new(pool, 5, 0).await.run(80).await;
    wait_for_feed_to_settle(pool).await;
    // The oldest unapplied event was recorded two minutes ago.
    sqlx::query("UPDATE events SET recorded_at = recorded_at - interval '120 seconds'")
        .execute(pool)
        .await
        .unwrap();
    let events = event_count(pool).await;

    let mut settings = api::settings::Settings::for_tests(db.url().to_string(), "admin-token");
    settings.run_projections = false;
    let server = api::server::start(pool.clone(), Arc::new(application::SystemClock), settings)
        .await
        .unwrap();
    let client = reqwest::Client::new();
    let admin = |path: &str| {
        client
            .get(format!("http://{}{path}", server.addr))
            .bearer_auth("admin-token")
            .send()
    };

    let statuses = projections::status::all(pool).await.unwrap();
    let body: serde_json::Value = admin("/api/v1/admin/projections")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let metrics = admin("/metrics").await.unwrap().text().await.unwrap();
    for target in &live {
        let status = statuses.iter().find(|s| s.target == target.schema).unwrap();
        assert_eq!(status.lag_events, events);
        assert_eq!(status.events_applied, 0);
        assert_eq!(status.position.global_position, 0);
        assert!(
            (120.0..180.0).contains(&status.lag_seconds),
            "{}",
            status.lag_seconds
        );
        let shown = body
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["target"] == target.schema.as_str())
            .unwrap();
        assert_eq!(shown["lag_events"], events);
        assert_eq!(shown["position"], 0);
        assert!((120.0..180.0).contains(&shown["lag_seconds"].as_f64().unwrap()));
        let name = target.schema.as_str();
        assert_eq!(
            metric(&metrics, "bookerbot_projection_lag_events", name),
            events as f64
        );
        assert!((120.0..180.0).contains(&metric(
            &metrics,
            "bookerbot_projection_lag_seconds",
            name
        )));
        assert_eq!(metric(&metrics, "bookerbot_projection_position", name), 0.0);
    }

    for target in &live {
        catch_up(pool, target, 25).await.unwrap();
    }
    let last = last_position(pool).await;
    let statuses = projections::status::all(pool).await.unwrap();
    let body: serde_json::Value = admin("/api/v1/admin/projections")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let metrics = admin("/metrics").await.unwrap().text().await.unwrap();
    for target in &live {
        let status = statuses.iter().find(|s| s.target == target.schema).unwrap();
        assert_eq!(
            (
                status.lag_events,
                status.lag_seconds,
                status.events_applied,
                status.position.global_position
            ),
            (0, 0.0, events, last)
        );
        let shown = body
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["target"] == target.schema.as_str())
            .unwrap();
        assert_eq!(shown["lag_events"], 0);
        assert_eq!(shown["lag_seconds"], 0.0);
        assert_eq!(shown["events_applied"], events);
        assert_eq!(shown["position"], last);
        let name = target.schema.as_str();
        assert_eq!(
            metric(&metrics, "bookerbot_projection_lag_events", name),
            0.0
        );
        assert_eq!(
            metric(&metrics, "bookerbot_projection_lag_seconds", name),
            0.0
        );
        assert_eq!(
            metric(&metrics, "bookerbot_projection_position", name),
            last as f64
        );
    }
    server.stop().await.unwrap();
}
