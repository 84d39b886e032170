//! Wiring and running the service: find and migrate the database, build the route tree, start
//! the projection runners, serve until SIGTERM/Ctrl-C, then stop in order — in-flight requests
//! finish, runners stop at a batch boundary.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use application::Clock;
use infrastructure::locate::{self, LocatedPostgres, Purpose};
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::{Endpoint, EndpointExt, Route};
use poem_openapi::OpenApiService;
use sqlx::PgPool;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::middleware::RequestContext;
use crate::routes;
use crate::settings::Settings;
use crate::state::AppState;

/// The database the server uses, when it has to pick the name itself.
pub const DATABASE_NAME: &str = "bookerbot";

/// A connected, migrated database, and whatever keeps its server alive (a throwaway cluster).
#[derive(Debug)]
pub struct Database {
    /// The pool.
    pub pool: PgPool,
    /// The URL connected to.
    pub url: String,
    /// Keeps a located server (container, throwaway cluster) running while held.
    pub located: LocatedPostgres,
}

/// Finds PostgreSQL as DESIGN.md orders it, creates the database if missing, and migrates it.
pub async fn open_database(settings: &Settings) -> anyhow::Result<Database> {
    let purpose = Purpose::Server {
        data_dir: settings.data_dir.join("pgdata"),
    };
    let located = if settings.embedded {
        locate::start_throwaway(purpose).await
    } else {
        locate::locate(settings.database_url.as_deref(), purpose).await
    }
    .context("Failed to find a PostgreSQL server")?;
    let url = match &settings.database_url {
        Some(url) if !settings.embedded => url.clone(),
        _ => located.database_url(DATABASE_NAME),
    };
    locate::ensure_database(&url)
        .await
        .context("Failed to create the database")?;
    let pool = infrastructure::db::connect(&url, settings.max_connections).await?;
    infrastructure::db::migrate(&pool).await?;
    tracing::info!(source = %located.source(), "database ready");
    Ok(Database { pool, url, located })
}

/// The whole HTTP surface: the API, its OpenAPI document and Swagger UI, wrapped in the request
/// middleware.
pub fn app(state: AppState) -> impl Endpoint {
    let api = OpenApiService::new(routes::apis(), "BookerBot", env!("CARGO_PKG_VERSION"))
        .description(
            "Turns a business's leads into booked appointments. Every query and command is \
             scoped to the tenant of the bearer API key. Commands answer with the `position` of \
             their last event: pass it as `min_position` to a read to see your own write.",
        );
    let spec = api.spec_endpoint();
    let docs = api.swagger_ui();
    Route::new()
        .at("/api/openapi.json", spec)
        .nest("/docs", docs)
        .nest("/webhooks", routes::webhooks::routes())
        .nest("/", api)
        .with(RequestContext)
        .data(state)
}

/// A running instance.
#[derive(Debug)]
pub struct Running {
    /// Where it listens.
    pub addr: std::net::SocketAddr,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<std::io::Result<()>>,
    runners: Vec<JoinHandle<()>>,
}

impl Running {
    /// Stops serving (in-flight requests finish) and stops the runners at a batch boundary.
    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.shutdown.send(true);
        let served = self.server.await.context("The server task failed")?;
        for runner in self.runners {
            runner.await.context("A projection runner failed")?;
        }
        served.context("The server failed")
    }

    /// Waits until SIGTERM or Ctrl-C, then stops.
    pub async fn run_until_signal(self) -> anyhow::Result<()> {
        shutdown_signal().await;
        tracing::info!("shutting down");
        self.stop().await
    }
}

/// Binds the listener, starts the projection runners (unless disabled) and serves.
pub async fn start(
    pool: PgPool,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> anyhow::Result<Running> {
    let (shutdown, shutdown_rx) = watch::channel(false);
    let mut runners = Vec::new();
    if settings.run_projections {
        let wake = projections::runner::spawn_listener(
            pool.clone(),
            infrastructure::feed::EVENTS_CHANNEL,
            shutdown_rx.clone(),
        );
        for target in projections::all() {
            projections::runner::prepare(&pool, &target).await?;
            runners.push(tokio::spawn(projections::runner::run(
                pool.clone(),
                target,
                projections::runner::DEFAULT_BATCH_SIZE,
                wake.clone(),
                shutdown_rx.clone(),
            )));
        }
    } else {
        for target in projections::all() {
            projections::runner::prepare(&pool, &target).await?;
        }
    }
    let acceptor = TcpListener::bind(settings.listen)
        .into_acceptor()
        .await
        .with_context(|| format!("Failed to listen on {}", settings.listen))?;
    let addr = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().copied())
        .context("The listener has no address")?;
    let state = AppState::new(pool, clock, settings)?;
    runners.push(crate::job_runner::spawn(state.clone(), shutdown_rx.clone()));
    if state.settings.run_workers {
        runners.push(tokio::spawn(infrastructure::messaging::workers::run(
            state.messaging.clone(),
            shutdown_rx.clone(),
        )));
        runners.push(tokio::spawn(infrastructure::messaging::budget::run(
            state.messaging.clone(),
            shutdown_rx.clone(),
        )));
    }
    let mut stop = shutdown_rx.clone();
    let server = tokio::spawn(
        poem::Server::new_with_acceptor(acceptor).run_with_graceful_shutdown(
            app(state),
            async move {
                let _ = stop.wait_for(|stopped| *stopped).await;
            },
            Some(Duration::from_secs(30)),
        ),
    );
    tracing::info!(%addr, "listening");
    Ok(Running {
        addr,
        shutdown,
        server,
        runners,
    })
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; Ctrl-C only");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
