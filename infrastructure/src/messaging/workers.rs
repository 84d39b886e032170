//! The worker loop: claim due tasks and timers, run each (sends, AI replies, timers and
//! appointment reminders side by side, a bounded number at once), release them, repeat. It wakes
//! on `NOTIFY` from the tasks projection and polls as a fallback (also for tasks that fall due
//! later, e.g. retries). Any number of workers on any number of instances may run: claims never
//! overlap (see [`task_queue`]).

use std::time::Duration;

use futures::StreamExt;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use crate::appointments::calendar_sync;
use crate::messaging::task_queue::{self, ClaimedTask};
use crate::messaging::{notifications, orchestrator, outbox, reminders, timers, Messaging};

/// How long a finished task (this version of it) stays leased, so it is not claimed again before
/// the projection has removed it; a changed task is claimable at once.
const COOL_DOWN: chrono::Duration = chrono::Duration::seconds(30);
/// How long a task whose run failed (a database or configuration error, not a provider's
/// refusal: those are recorded) waits before it is claimed again.
const FAILED_TASK_PAUSE: chrono::Duration = chrono::Duration::seconds(30);
/// How often to look for due tasks without a notification.
const POLL: Duration = Duration::from_millis(500);

/// Runs one round: claims what is due — tasks first, then timers — and runs it. Returns how
/// many it ran.
pub async fn run_once(messaging: &Messaging, holder: &str) -> anyhow::Result<usize> {
    let settings = &messaging.settings;
    run_from(
        messaging,
        holder,
        &[
            &settings.tasks_table,
            &settings.timers_table,
            &settings.calendar_table,
        ],
    )
    .await
}

/// Runs one round over `tables` (tasks-shaped tables, claimed in this order, one batch in all;
/// a quarter of the batch is kept for the tables after the first, so a backlog of sends never
/// starves the timers).
pub async fn run_from(
    messaging: &Messaging,
    holder: &str,
    tables: &[&str],
) -> anyhow::Result<usize> {
    let settings = &messaging.settings;
    let now = messaging.clock.now();
    let mut tasks = Vec::new();
    let kept_for_the_rest = (settings.batch_size / 4).max(1);
    for (index, table) in tables.iter().enumerate() {
        let kept = if index + 1 < tables.len() {
            kept_for_the_rest
        } else {
            0
        };
        let room = settings.batch_size - kept - i64::try_from(tasks.len()).unwrap_or(i64::MAX);
        if room <= 0 {
            break;
        }
        tasks.extend(
            task_queue::claim(
                messaging.executor.pool(),
                table,
                holder,
                now,
                settings.lease,
                room,
            )
            .await?,
        );
    }
    let count = tasks.len();
    futures::stream::iter(tasks)
        .for_each_concurrent(settings.concurrency.max(1), |task| async move {
            run_task(messaging, holder, &task).await;
        })
        .await;
    Ok(count)
}

async fn run_task(messaging: &Messaging, holder: &str, task: &ClaimedTask) {
    let result = match task.kind.as_str() {
        "send" => outbox::run(messaging, task)
            .await
            .map(|o| (format!("{o:?}"), o.hold_until())),
        "reply" => orchestrator::run(messaging, task)
            .await
            .map(|o| (format!("{o:?}"), None)),
        "notify" => notifications::run(messaging, task)
            .await
            .map(|o| (format!("{o:?}"), None)),
        "outreach" | "follow_up" | "unresponsive" => timers::run(messaging, task)
            .await
            .map(|o| (format!("{o:?}"), None)),
        "reminder" => reminders::run(messaging, task)
            .await
            .map(|o| (format!("{o:?}"), None)),
        "calendar" => calendar_sync::run(messaging, task)
            .await
            .map(|o| (format!("{o:?}"), None)),
        other => Err(anyhow::anyhow!("unknown task kind {other}")),
    };
    let until = match &result {
        Ok((outcome, hold_until)) => {
            tracing::debug!(task = %task.task_key, outcome, "task done");
            hold_until.unwrap_or_else(|| messaging.clock.now() + COOL_DOWN)
        }
        Err(error) => {
            tracing::warn!(task = %task.task_key, error = format!("{error:#}"), "task failed; it will be claimed again");
            messaging.clock.now() + FAILED_TASK_PAUSE
        }
    };
    if let Err(error) =
        task_queue::release(messaging.executor.pool(), &task.task_key, holder, until).await
    {
        tracing::warn!(task = %task.task_key, error = format!("{error:#}"), "could not release a task");
    }
}

/// Runs rounds until `shutdown` turns true: right after a notification, else every half second.
pub async fn run(messaging: Messaging, mut shutdown: watch::Receiver<bool>) {
    let holder = format!("worker-{}", uuid::Uuid::now_v7());
    let mut listener = match PgListener::connect_with(messaging.executor.pool()).await {
        Ok(mut listener) => match listener.listen(crate::messaging::NOTIFY_CHANNEL).await {
            Ok(()) => Some(listener),
            Err(error) => {
                tracing::warn!(%error, "workers cannot LISTEN; polling only");
                None
            }
        },
        Err(error) => {
            tracing::warn!(%error, "workers cannot LISTEN; polling only");
            None
        }
    };
    let mut rounds: u64 = 0;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let ran = match run_once(&messaging, &holder).await {
            Ok(ran) => ran,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "a worker round failed");
                0
            }
        };
        rounds += 1;
        if rounds.is_multiple_of(1000) {
            let before = messaging.clock.now() - chrono::Duration::hours(1);
            if let Err(error) = task_queue::forget_expired(messaging.executor.pool(), before).await
            {
                tracing::warn!(
                    error = format!("{error:#}"),
                    "could not forget expired leases"
                );
            }
        }
        if ran > 0 {
            continue;
        }
        tokio::select! {
            _ = shutdown.changed() => {}
            _ = wait_for_notification(listener.as_mut()) => {}
            () = tokio::time::sleep(POLL) => {}
        }
    }
}

async fn wait_for_notification(listener: Option<&mut PgListener>) {
    match listener {
        Some(listener) => {
            let _ = listener.recv().await;
        }
        None => std::future::pending().await,
    }
}
