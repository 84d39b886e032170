//! Projection effects are exactly-once, however a runner dies.
//!
//! A batch's read-model writes and its checkpoint commit in one transaction, so a batch that
//! fails, a runner that is killed, or a batch future dropped half-way leaves the read model
//! exactly as if the batch had never started; and two runners of one target never both apply a
//! batch. Each test checks the live tables against a rebuild from position zero (every column of
//! every row, both ways), and a witness table written in each batch's transaction — one row per
//! event applied, never deduplicated — shows each event applied exactly once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use bookerbot_tests::{
    checkpoint, event_count, new_lead, query_difference, rebuild, table_difference, tag,
    tenant_ctx, wait_for_feed_to_settle, TestDb,
};
use domain::lead::{Lead, LeadCommand, LeadStatus};
use domain::values::{LeadId, TenantId, WorkflowId};
use infrastructure::executor::{CommandExecutor, Existence};
use infrastructure::feed::{FeedPosition, RecordedEvent, EVENTS_CHANNEL};
use projections::contacts::ContactsProjection;
use projections::runner::{self, catch_up, prepare, run_batch, BatchOutcome};
use projections::status::{wait_for, WaitOutcome};
use projections::workflows::WorkflowsProjection;
use projections::{Projection, Target};
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

const LIVE_CONTACTS: &str = "rm_contacts_v3";
const LIVE_WORKFLOWS: &str = "rm_workflows_v1";

// ---------------------------------------------------------------------------------------------
// The backlog: real Lead commands through the command executor.

/// The commands of lead number `n`'s life, all accepted by the aggregate: capture (most into one
/// of the tenant's workflows), tags, status moves along the lifecycle, an override, a change of
/// workflow, an opt-out — which ones is a fixed function of `n`.
fn lead_story(n: u32, workflows: &[WorkflowId]) -> Vec<LeadCommand> {
    let workflow = |k: u32| workflows[(k as usize) % workflows.len()];
    let mut lead = new_lead(n);
    lead.workflow_id = (n % 4 != 3).then(|| workflow(n));
    let mut story = vec![
        LeadCommand::CaptureLead(lead),
        LeadCommand::AddTag {
            tag: tag(&format!("group-{}", n % 5)),
        },
        LeadCommand::AdvanceStatus {
            to: LeadStatus::Contacted,
        },
    ];
    if n % 3 == 2 {
        story.push(LeadCommand::AdvanceStatus {
            to: LeadStatus::InConversation,
        });
        if n % 6 == 5 {
            story.push(LeadCommand::AdvanceStatus {
                to: LeadStatus::Qualified,
            });
        }
        if n % 12 == 11 {
            story.push(LeadCommand::AdvanceStatus {
                to: LeadStatus::Booked,
            });
        }
    }
    if n % 5 == 1 {
        let to = (n % 10 != 1).then(|| workflow(n + 1));
        story.push(LeadCommand::AssignWorkflow { workflow_id: to });
    }
    if n % 7 == 2 {
        story.push(LeadCommand::OverrideStatus {
            to: LeadStatus::HandedOff,
            reason: "asked for a human".to_owned(),
        });
    }
    if n % 4 == 1 {
        story.push(LeadCommand::RemoveTag {
            tag: tag("imported"),
        });
    }
    if n % 8 == 3 {
        story.push(LeadCommand::OptOut {
            reason: "STOP".to_owned(),
        });
    }
    story
}

/// Writes the stories of `leads` leads across two tenants (three workflows each) from
/// `writers` concurrent tasks, so their events interleave in the feed. Returns how many events
/// were written.
async fn write_backlog(pool: &PgPool, leads: u32, writers: u32) -> i64 {
    let tenants = [TenantId::new(), TenantId::new()];
    let workflows: Vec<Vec<WorkflowId>> = tenants
        .iter()
        .map(|_| (0..3).map(|_| WorkflowId::new()).collect())
        .collect();
    let executor = CommandExecutor::new(pool.clone(), 10);
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let executor = executor.clone();
            let workflows = workflows.clone();
            tokio::spawn(async move {
                let mut written = 0i64;
                for n in (w..leads).step_by(writers as usize) {
                    let tenant = (n % 2) as usize;
                    let id = LeadId::new().to_string();
                    let mut version = 0;
                    for command in lead_story(n, &workflows[tenant]) {
                        let existence = if matches!(command, LeadCommand::CaptureLead(_)) {
                            Existence::MayCreate
                        } else {
                            Existence::MustExist
                        };
                        let committed = executor
                            .execute::<Lead>(&tenant_ctx(tenants[tenant]), &id, existence, command)
                            .await
                            .unwrap();
                        version = committed.version;
                    }
                    written += version;
                }
                written
            })
        })
        .collect();
    let mut written = 0;
    for task in tasks {
        written += task.await.unwrap();
    }
    written
}

// ---------------------------------------------------------------------------------------------
// A projection wrapper that witnesses, pauses, counts and fails on demand.

/// Wraps a real projection (same name and version, so the same live schema): delegates every
/// batch to it, then logs the batch's events into `<schema>.witness` in the same transaction.
/// It can hold each batch for `pause` (to widen races), fail its `fail_on`-th batch *after* the
/// real writes, and it records how many batches were being applied at once.
struct Witnessed {
    inner: Arc<dyn Projection>,
    pause: Duration,
    fail_on: Option<usize>,
    started: AtomicUsize,
    applying: AtomicUsize,
    most_at_once: AtomicUsize,
    /// First and last position of every batch that returned successfully, in call order.
    batches: Mutex<Vec<(FeedPosition, FeedPosition)>>,
}

impl Witnessed {
    fn new(inner: Arc<dyn Projection>) -> Self {
        Self {
            inner,
            pause: Duration::ZERO,
            fail_on: None,
            started: AtomicUsize::new(0),
            applying: AtomicUsize::new(0),
            most_at_once: AtomicUsize::new(0),
            batches: Mutex::new(Vec::new()),
        }
    }

    fn pausing(mut self, pause: Duration) -> Self {
        self.pause = pause;
        self
    }

    fn failing_on_batch(mut self, n: usize) -> Self {
        self.fail_on = Some(n);
        self
    }
}

/// Counts a batch as being applied for as long as it lives, even if its future is dropped.
struct Applying<'a>(&'a AtomicUsize);

impl Drop for Applying<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

#[async_trait]
impl Projection for Witnessed {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn version(&self) -> u32 {
        self.inner.version()
    }

    async fn create_tables(&self, conn: &mut PgConnection, schema: &str) -> anyhow::Result<()> {
        self.inner.create_tables(conn, schema).await?;
        sqlx::query(&format!(
            "CREATE TABLE IF NOT EXISTS {schema}.witness (global_position bigint NOT NULL)"
        ))
        .execute(conn)
        .await
        .context("Failed to create the witness table")?;
        Ok(())
    }

    async fn apply(
        &self,
        tx: &mut PgConnection,
        schema: &str,
        events: &[RecordedEvent],
    ) -> anyhow::Result<()> {
        let now = self.applying.fetch_add(1, Ordering::SeqCst) + 1;
        let _applying = Applying(&self.applying);
        self.most_at_once.fetch_max(now, Ordering::SeqCst);
        let batch = self.started.fetch_add(1, Ordering::SeqCst) + 1;

        self.inner.apply(tx, schema, events).await?;
        let positions: Vec<i64> = events.iter().map(|e| e.position.global_position).collect();
        sqlx::query(&format!(
            "INSERT INTO {schema}.witness (global_position) SELECT unnest($1::bigint[])"
        ))
        .bind(&positions)
        .execute(&mut *tx)
        .await
        .context("Failed to witness a batch")?;
        if !self.pause.is_zero() {
            tokio::time::sleep(self.pause).await;
        }
        if self.fail_on == Some(batch) {
            anyhow::bail!("injected failure in batch {batch}, after its writes");
        }
        if let (Some(first), Some(last)) = (events.first(), events.last()) {
            self.batches
                .lock()
                .unwrap()
                .push((first.position, last.position));
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Checks.

/// Every event the store holds was witnessed exactly once in `schema`, and the checkpoint
/// counted each once too.
async fn assert_each_event_applied_once(pool: &PgPool, schema: &str) {
    let twice: Vec<(i64, i64)> = sqlx::query_as(&format!(
        "SELECT global_position, count(*) FROM {schema}.witness GROUP BY 1 HAVING count(*) > 1 LIMIT 5"
    ))
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(twice.is_empty(), "events applied more than once: {twice:?}");
    let missed: Vec<i64> = sqlx::query_scalar(&format!(
        "SELECT global_position FROM events EXCEPT SELECT global_position FROM {schema}.witness LIMIT 5"
    ))
    .fetch_all(pool)
    .await
    .unwrap();
    assert!(missed.is_empty(), "events never applied: {missed:?}");
    let (_, applied) = checkpoint(pool, schema).await;
    assert_eq!(
        applied,
        event_count(pool).await,
        "the checkpoint's count of applied events"
    );
}

/// The live contacts table holds exactly what a rebuild from position zero holds.
async fn assert_contacts_equal_a_rebuild(pool: &PgPool) {
    rebuild(pool, Arc::new(ContactsProjection), "rebuild_contacts").await;
    let difference = table_difference(
        pool,
        &format!("{LIVE_CONTACTS}.contacts"),
        "rebuild_contacts.contacts",
    )
    .await;
    assert!(
        difference.is_empty(),
        "live contacts differ from a rebuild:\n{difference}"
    );
    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {LIVE_CONTACTS}.contacts"))
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(rows > 0, "the comparison compared nothing");
}

/// The workflows projection's lead counts equal a recount of the contacts table, and its tables
/// equal a rebuild's.
async fn assert_workflow_counts_match_contacts(pool: &PgPool) {
    let recount = query_difference(
        pool,
        &format!(
            "SELECT tenant_id, workflow_id, status, leads FROM {LIVE_WORKFLOWS}.workflow_lead_counts \
             WHERE leads <> 0"
        ),
        &format!(
            "SELECT tenant_id, workflow_id, status, count(*) FROM {LIVE_CONTACTS}.contacts \
             WHERE workflow_id IS NOT NULL GROUP BY 1, 2, 3"
        ),
    )
    .await;
    assert!(
        recount.is_empty(),
        "workflow lead counts differ from a recount:\n{recount}"
    );
    rebuild(pool, Arc::new(WorkflowsProjection), "rebuild_workflows").await;
    for table in ["workflow_members", "workflows"] {
        let difference = table_difference(
            pool,
            &format!("{LIVE_WORKFLOWS}.{table}"),
            &format!("rebuild_workflows.{table}"),
        )
        .await;
        assert!(
            difference.is_empty(),
            "live {table} differs from a rebuild:\n{difference}"
        );
    }
    // A count that went back to zero keeps its row (queries skip it), and which ones went
    // through zero depends on where batches ended: compare the counts that are there.
    let counts = "SELECT * FROM {schema}.workflow_lead_counts WHERE leads <> 0";
    let difference = query_difference(
        pool,
        &counts.replace("{schema}", LIVE_WORKFLOWS),
        &counts.replace("{schema}", "rebuild_workflows"),
    )
    .await;
    assert!(
        difference.is_empty(),
        "live lead counts differ from a rebuild:\n{difference}"
    );
}

fn channels() -> (
    watch::Sender<bool>,
    watch::Receiver<bool>,
    watch::Receiver<u64>,
) {
    let (stop, shutdown) = watch::channel(false);
    // No NOTIFY listener: these runners find work by polling and by catching up.
    let (_wake_tx, wake) = watch::channel(0u64);
    (stop, shutdown, wake)
}

// ---------------------------------------------------------------------------------------------
// The tests.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_that_fails_after_writing_leaves_no_trace_and_a_restart_equals_a_rebuild() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let total = write_backlog(pool, 120, 4).await;
    assert_eq!(event_count(pool).await, total);
    // So that every batch below is full: no other test's transaction holds the feed back.
    wait_for_feed_to_settle(pool).await;

    const BATCH: i64 = 50;
    const FAIL_ON: usize = 4;
    let failing = Arc::new(Witnessed::new(Arc::new(ContactsProjection)).failing_on_batch(FAIL_ON));
    let target = Target::live(failing.clone());
    assert_eq!(target.schema, LIVE_CONTACTS);
    prepare(pool, &target).await.unwrap();
    let failed = catch_up(pool, &target, BATCH).await;
    assert!(failed.is_err(), "the injected failure did not surface");

    // Batches 1..FAIL_ON-1 committed; the failed one rolled back its writes and its checkpoint.
    let (_, applied) = checkpoint(pool, LIVE_CONTACTS).await;
    assert_eq!(applied, (FAIL_ON as i64 - 1) * BATCH);
    let witnessed: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM {LIVE_CONTACTS}.witness"))
            .fetch_one(pool)
            .await
            .unwrap();
    assert_eq!(witnessed, applied, "the failed batch's writes survived");
    // The contacts table is exactly what the first FAIL_ON-1 batches make.
    let partial = Target::in_schema(Arc::new(ContactsProjection), "partial_contacts");
    prepare(pool, &partial).await.unwrap();
    for _ in 1..FAIL_ON {
        assert!(matches!(
            run_batch(pool, &partial, BATCH).await.unwrap(),
            BatchOutcome::Applied(_)
        ));
    }
    let difference = table_difference(
        pool,
        &format!("{LIVE_CONTACTS}.contacts"),
        "partial_contacts.contacts",
    )
    .await;
    assert!(
        difference.is_empty(),
        "the failed batch left writes behind:\n{difference}"
    );

    // Restart with a runner that does not fail: it picks up at the failed batch.
    let restarted = Target::live(Arc::new(Witnessed::new(Arc::new(ContactsProjection))));
    prepare(pool, &restarted).await.unwrap();
    catch_up(pool, &restarted, BATCH).await.unwrap();

    assert_each_event_applied_once(pool, LIVE_CONTACTS).await;
    assert_contacts_equal_a_rebuild(pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runner_killed_mid_run_again_and_again_ends_equal_to_a_rebuild() {
    let db = TestDb::new().await;
    let pool = db.pool();
    let total = write_backlog(pool, 200, 4).await;

    let projection = Arc::new(Witnessed::new(Arc::new(ContactsProjection)));
    let target = Target::live(projection.clone());
    prepare(pool, &target).await.unwrap();
    let (_stop, shutdown, wake) = channels();
    // Kill the runner as it passes 20 %, 40 %, … of the backlog, wherever it happens to be.
    for percent in [20, 40, 60, 80] {
        let runner = tokio::spawn(runner::run(
            pool.clone(),
            target.clone(),
            7,
            wake.clone(),
            shutdown.clone(),
        ));
        loop {
            let (_, applied) = checkpoint(pool, LIVE_CONTACTS).await;
            if applied * 100 >= total * percent {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        runner.abort();
        assert!(runner.await.unwrap_err().is_cancelled());
    }
    let (_, applied) = checkpoint(pool, LIVE_CONTACTS).await;
    assert!(
        applied < total,
        "the runner finished before the last kill; kill earlier"
    );

    let (stop, shutdown, wake) = channels();
    let runner = tokio::spawn(runner::run(pool.clone(), target.clone(), 7, wake, shutdown));
    let (tenant, last): (uuid::Uuid, i64) = sqlx::query_as(
        "SELECT tenant_id, global_position FROM events ORDER BY global_position DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    assert_eq!(
        wait_for(pool, LIVE_CONTACTS, tenant, last, Duration::from_secs(8))
            .await
            .unwrap(),
        WaitOutcome::Reached,
        "the restarted runner did not catch up"
    );
    stop.send(true).unwrap();
    runner.await.unwrap();

    assert_each_event_applied_once(pool, LIVE_CONTACTS).await;
    assert_contacts_equal_a_rebuild(pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_dropped_at_any_await_point_is_all_or_nothing() {
    let db = TestDb::new().await;
    let pool = db.pool();
    write_backlog(pool, 80, 4).await;
    // So that "caught up" below means the end of the backlog.
    wait_for_feed_to_settle(pool).await;
    let target = Target::live(Arc::new(Witnessed::new(Arc::new(ContactsProjection))));
    prepare(pool, &target).await.unwrap();

    // Give each batch a deadline that grows after every drop and shrinks after every success,
    // so batches are dropped at every await point: before locking the checkpoint, while
    // reading, applying or committing.
    let step = Duration::from_micros(200);
    let mut deadline = Duration::ZERO;
    let mut dropped = 0;
    loop {
        match tokio::time::timeout(deadline, run_batch(pool, &target, 11)).await {
            Err(_) => {
                dropped += 1;
                deadline += step;
            }
            Ok(Ok(BatchOutcome::CaughtUp)) => break,
            Ok(Ok(BatchOutcome::Applied(_))) => deadline = deadline.saturating_sub(step * 5),
            // A dropped batch's connection is still rolling back and holds the checkpoint.
            Ok(Ok(BatchOutcome::Busy)) => tokio::time::sleep(Duration::from_millis(1)).await,
            Ok(Err(error)) => panic!("a batch failed: {error:#}"),
        }
    }
    assert!(
        dropped > 10,
        "only {dropped} batches were dropped mid-flight"
    );

    assert_each_event_applied_once(pool, LIVE_CONTACTS).await;
    assert_contacts_equal_a_rebuild(pool).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_runners_of_one_target_never_apply_a_batch_at_the_same_time() {
    let db = TestDb::with_pool_size(16).await;
    let pool = db.pool();
    // Half the backlog is there when the runners start; the rest arrives while they run.
    let before = write_backlog(pool, 300, 4).await;

    let contacts =
        Arc::new(Witnessed::new(Arc::new(ContactsProjection)).pausing(Duration::from_millis(2)));
    let target = Target::live(contacts.clone());
    prepare(pool, &target).await.unwrap();
    let workflows = Target::live(Arc::new(WorkflowsProjection));
    prepare(pool, &workflows).await.unwrap();
    let (stop, shutdown) = watch::channel(false);
    let wake = runner::spawn_listener(pool.clone(), EVENTS_CHANNEL, shutdown.clone());
    let runners: Vec<_> = [&target, &target, &workflows]
        .into_iter()
        .map(|t| {
            tokio::spawn(runner::run(
                pool.clone(),
                t.clone(),
                25,
                wake.clone(),
                shutdown.clone(),
            ))
        })
        .collect();
    // Two more contenders that never back off: plain batch loops on the same target.
    let loops: Vec<_> = (0..2)
        .map(|_| {
            let (pool, target, shutdown) = (pool.clone(), target.clone(), shutdown.clone());
            tokio::spawn(async move {
                let mut busy = 0;
                while !*shutdown.borrow() {
                    match run_batch(&pool, &target, 25).await.unwrap() {
                        BatchOutcome::Applied(_) => {}
                        BatchOutcome::Busy => {
                            busy += 1;
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                        BatchOutcome::CaughtUp => {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                }
                busy
            })
        })
        .collect();
    let after = write_backlog(pool, 300, 4).await;
    let total = before + after;
    assert_eq!(event_count(pool).await, total);

    let (tenant, last): (uuid::Uuid, i64) = sqlx::query_as(
        "SELECT tenant_id, global_position FROM events ORDER BY global_position DESC LIMIT 1",
    )
    .fetch_one(pool)
    .await
    .unwrap();
    for schema in [LIVE_CONTACTS, LIVE_WORKFLOWS] {
        assert_eq!(
            wait_for(pool, schema, tenant, last, Duration::from_secs(8))
                .await
                .unwrap(),
            WaitOutcome::Reached,
            "{schema} did not catch up"
        );
    }
    stop.send(true).unwrap();
    for runner in runners {
        runner.await.unwrap();
    }
    let mut found_busy = 0;
    for batch_loop in loops {
        found_busy += batch_loop.await.unwrap();
    }

    assert_eq!(
        contacts.most_at_once.load(Ordering::SeqCst),
        1,
        "two batches were applied at once"
    );
    // The batches, in the order they were applied, tile the feed: each starts after the last one
    // ended, and together they hold every event once.
    let batches = contacts.batches.lock().unwrap().clone();
    assert!(batches.len() > 20, "only {} batches", batches.len());
    for pair in batches.windows(2) {
        assert!(
            pair[0].1 < pair[1].0,
            "batch {:?} overlaps or precedes {:?}",
            pair[1],
            pair[0]
        );
    }
    assert!(found_busy > 0, "the runners never contended for the target");
    assert_each_event_applied_once(pool, LIVE_CONTACTS).await;
    assert_contacts_equal_a_rebuild(pool).await;
    assert_workflow_counts_match_contacts(pool).await;
}
