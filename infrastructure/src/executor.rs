//! Runs a command the way DESIGN.md asks: one connection, one transaction — load the aggregate's
//! events, let the aggregate decide, append what it decided — and hands back what was committed
//! (version and global position) so the caller can read its own writes.
//!
//! Optimistic concurrency comes from the `events` primary key: a writer that lost the race gets a
//! unique violation, and the whole command is retried on fresh state a bounded number of times.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use anyhow::Context;
use application::CommandContext;
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use sqlx::{PgConnection, PgPool};
use tracing::Instrument;

use crate::event_store::{self, StoreError};
use crate::metadata::EventMetadata;

/// What a successful command committed, and the aggregate as it now stands.
#[derive(Debug)]
pub struct Committed<A> {
    /// The aggregate after the command.
    pub aggregate: A,
    /// Its version (number of events) after the command.
    pub version: i64,
    /// Global position of the last event written, if any was; `None` for a no-op command.
    pub position: Option<i64>,
}

/// Whether the command may create the aggregate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Existence {
    /// The aggregate must already exist for this tenant; otherwise [`CommandError::NotFound`].
    MustExist,
    /// The command may create it (the aggregate refuses what makes no sense).
    MayCreate,
    /// The id was generated for this command and cannot have events yet: skip loading. A
    /// collision would still be caught by the events primary key.
    New,
}

/// Why a command did not commit.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E> {
    /// The aggregate refused the command.
    #[error(transparent)]
    Rejected(E),
    /// No such aggregate for this tenant.
    #[error("not found")]
    NotFound,
    /// A value that must be unique is already held by another aggregate.
    #[error("{field} is already used by {existing_id}")]
    Taken {
        /// The field whose value is taken.
        field: &'static str,
        /// The aggregate holding it.
        existing_id: String,
    },
    /// A field refers to something the tenant does not have (or that cannot be used).
    #[error("{field}: {reason}")]
    InvalidReference {
        /// The field holding the reference.
        field: &'static str,
        /// Why it cannot be used.
        reason: String,
    },
    /// Concurrent writers kept winning the race; the caller may retry.
    #[error("the resource was changed concurrently; retry")]
    Conflict,
    /// The database failed.
    #[error(transparent)]
    Database(anyhow::Error),
}

impl<E> CommandError<E> {
    /// The same error with the aggregate's refusal turned into another type, for use cases
    /// that command several aggregates and answer with one error type.
    pub fn map_rejection<F>(self, into: impl FnOnce(E) -> F) -> CommandError<F> {
        match self {
            Self::Rejected(error) => CommandError::Rejected(into(error)),
            Self::NotFound => CommandError::NotFound,
            Self::Taken { field, existing_id } => CommandError::Taken { field, existing_id },
            Self::InvalidReference { field, reason } => {
                CommandError::InvalidReference { field, reason }
            }
            Self::Conflict => CommandError::Conflict,
            Self::Database(error) => CommandError::Database(error),
        }
    }
}

impl<E> From<StoreError> for CommandError<E> {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::OtherTenant => Self::NotFound,
            StoreError::Conflict => Self::Conflict,
            StoreError::Database(error) => Self::Database(error),
        }
    }
}

/// Executes commands against the PostgreSQL event store.
#[derive(Debug, Clone)]
pub struct CommandExecutor {
    pool: PgPool,
    max_attempts: u32,
}

impl CommandExecutor {
    /// An executor that tries a conflicting command up to `max_attempts` times.
    pub fn new(pool: PgPool, max_attempts: u32) -> Self {
        Self {
            pool,
            max_attempts: max_attempts.max(1),
        }
    }

    /// The pool commands run on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Runs `command` on aggregate `id` in its own transaction, retrying on conflict.
    pub async fn execute<A>(
        &self,
        ctx: &CommandContext,
        id: &str,
        existence: Existence,
        command: A::Command,
    ) -> Result<Committed<A>, CommandError<A::Error>>
    where
        A: Aggregate<Services = ()> + 'static,
        A::Command: Clone + Send + 'static,
        A::Error: Send,
    {
        let span =
            tracing::info_span!("infrastructure.execute", aggregate = A::TYPE, aggregate_id = %id);
        self.in_transaction(|conn| {
            let ctx = ctx.clone();
            let id = id.to_string();
            let command = command.clone();
            Box::pin(async move { execute_in::<A>(conn, &ctx, &id, existence, command).await })
        })
        .instrument(span)
        .await
    }

    /// Runs `work` in a transaction and commits it; when `work` reports a
    /// [`CommandError::Conflict`], rolls back and runs it again on fresh state, up to the bounded
    /// number of attempts. For use cases that change more than one aggregate or table at once.
    pub async fn in_transaction<T, E, F>(&self, work: F) -> Result<T, CommandError<E>>
    where
        F: for<'c> FnMut(&'c mut PgConnection) -> TransactionWork<'c, T, E>,
    {
        let mut conn = self
            .pool
            .acquire()
            .await
            .context("Failed to acquire a connection for a command")
            .map_err(CommandError::Database)?;
        self.in_transaction_on(&mut conn, work).await
    }

    /// Like [`CommandExecutor::in_transaction`], on a connection the caller already holds (so a
    /// use case that must record an outcome can be sure to have a connection to do it with).
    pub async fn in_transaction_on<T, E, F>(
        &self,
        conn: &mut PgConnection,
        mut work: F,
    ) -> Result<T, CommandError<E>>
    where
        F: for<'c> FnMut(&'c mut PgConnection) -> TransactionWork<'c, T, E>,
    {
        let mut attempt = 1;
        loop {
            let mut tx = sqlx::Connection::begin(&mut *conn)
                .await
                .context("Failed to begin a command transaction")
                .map_err(CommandError::Database)?;
            match work(&mut tx).await {
                Ok(value) => {
                    tx.commit()
                        .await
                        .context("Failed to commit a command")
                        .map_err(CommandError::Database)?;
                    return Ok(value);
                }
                Err(CommandError::Database(error)) if is_lock_conflict(&error) => {
                    drop(tx);
                    if attempt >= self.max_attempts {
                        return Err(CommandError::Conflict);
                    }
                    tracing::debug!(
                        attempt,
                        error = format!("{error:#}"),
                        "lock conflict; retrying"
                    );
                    tokio::time::sleep(conflict_backoff(attempt)).await;
                    attempt += 1;
                }
                Err(CommandError::Conflict) if attempt < self.max_attempts => {
                    drop(tx);
                    tracing::debug!(attempt, "optimistic conflict; retrying");
                    tokio::time::sleep(conflict_backoff(attempt)).await;
                    attempt += 1;
                }
                Err(error) => return Err(error),
            }
        }
    }
}

/// The future a unit of work inside [`CommandExecutor::in_transaction`] returns.
pub type TransactionWork<'c, T, E> =
    Pin<Box<dyn Future<Output = Result<T, CommandError<E>>> + Send + 'c>>;

/// Whether PostgreSQL aborted the transaction because it collided with another one (a deadlock,
/// or a serialization failure): like an optimistic conflict, running it again on fresh state
/// succeeds or gets the real answer. Two leads swapping phones is one way to get there.
pub fn is_lock_conflict(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        matches!(
            cause.downcast_ref::<sqlx::Error>(),
            Some(sqlx::Error::Database(db))
                if matches!(db.code().as_deref(), Some("40P01" | "40001"))
        )
    })
}

/// A short, growing, jittered pause so racing writers do not collide again in lockstep.
pub fn conflict_backoff(attempt: u32) -> Duration {
    let base = 2u64.saturating_pow(attempt.min(6));
    Duration::from_millis(base + rand::random_range(0..=base))
}

/// Runs `command` on aggregate `id` inside the caller's transaction, without committing.
pub async fn execute_in<A>(
    conn: &mut PgConnection,
    ctx: &CommandContext,
    id: &str,
    existence: Existence,
    command: A::Command,
) -> Result<Committed<A>, CommandError<A::Error>>
where
    A: Aggregate<Services = ()>,
{
    let loaded = match existence {
        Existence::New => event_store::LoadedAggregate {
            aggregate: A::default(),
            version: 0,
        },
        Existence::MustExist | Existence::MayCreate => {
            event_store::load::<A>(conn, ctx.tenant_id.as_uuid(), id).await?
        }
    };
    if existence == Existence::MustExist && loaded.version == 0 {
        return Err(CommandError::NotFound);
    }
    let mut aggregate = loaded.aggregate;
    let sink = EventSink::default();
    aggregate
        .handle(command, &(), &sink)
        .await
        .map_err(CommandError::Rejected)?;
    let events = sink.collect().await;
    if events.is_empty() {
        return Ok(Committed {
            aggregate,
            version: loaded.version,
            position: None,
        });
    }
    let metadata = EventMetadata::from_context(ctx);
    let position = event_store::append::<A>(conn, id, loaded.version, &events, &metadata).await?;
    Ok(Committed {
        aggregate,
        version: loaded.version + events.len() as i64,
        position: Some(position),
    })
}
