//! A `postgres:15` container, through the `docker` CLI rather than the testcontainers crate: the
//! same behaviour without its dependency tree (see `docs/decisions/0002-finding-postgresql.md`).

use std::path::Path;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::process::{argv, run, words, Cleanup, Step};
use super::{probe, LocatedPostgres, Purpose, Source};

/// `docker info` answers at once when an engine runs; waiting longer only delays the fallback.
const INFO_TIMEOUT: Duration = Duration::from_secs(2);
/// `docker run` may pull the image first.
const RUN_TIMEOUT: Duration = Duration::from_secs(300);
/// Short docker commands (`ps`, `port`).
const QUICK_TIMEOUT: Duration = Duration::from_secs(15);
/// The image initialises its cluster before it listens on TCP.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

const IMAGE: &str = "postgres:15";
/// Trust authentication is safe because the port is published on 127.0.0.1 only.
const RUN: &str = "docker run -d --rm -e POSTGRES_HOST_AUTH_METHOD=trust -p 127.0.0.1::5432";
/// The same durability trade as the throwaway test cluster.
const TEST_SETTINGS: &str =
    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300";

/// Start (for the server: reuse if running) a container and wait until it accepts connections.
pub(super) async fn start(purpose: &Purpose) -> Result<LocatedPostgres, String> {
    run(
        &argv(&["docker", "info", "--format", "{{.ServerVersion}}"]),
        INFO_TIMEOUT,
    )
    .await
    .map_err(|why| format!("no Docker engine answers: {why}"))?;

    let (id, cleanup) = match purpose {
        Purpose::Tests => start_for_tests().await?,
        Purpose::Server { data_dir } => start_for_server(data_dir).await?,
    };
    let mapped = run(&argv(&["docker", "port", &id, "5432/tcp"]), QUICK_TIMEOUT).await?;
    let port = mapped
        .lines()
        .find_map(|line| {
            line.rsplit_once(':')
                .and_then(|(_, port)| port.trim().parse::<u16>().ok())
        })
        .ok_or_else(|| format!("`docker port {id} 5432/tcp` printed no port: {mapped:?}"))?;
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    probe::wait_until_ready(&url, READY_TIMEOUT).await?;
    tracing::info!(source = %Source::Docker, container = %id, %url, "using PostgreSQL");
    Ok(LocatedPostgres::new(Source::Docker, url, None, cleanup))
}

/// A disposable container with durability off, removed (with its volume) when the guard drops.
async fn start_for_tests() -> Result<(String, Cleanup), String> {
    let mut command = words(RUN);
    command.push(IMAGE.to_owned());
    command.extend(words(TEST_SETTINGS));
    let started = run(&command, RUN_TIMEOUT).await?;
    let id = container_id(&started)?;
    let cleanup = Cleanup::arm(vec![Step::Run(argv(&["docker", "rm", "-f", "-v", &id]))]);
    Ok((id, cleanup))
}

/// A container named after the data dir, keeping its data in a volume of the same name so that
/// it survives restarts; one already running is reused and left alone.
async fn start_for_server(data_dir: &Path) -> Result<(String, Cleanup), String> {
    let absolute = std::path::absolute(data_dir)
        .map_err(|e| format!("cannot resolve data dir {}: {e}", data_dir.display()))?;
    let digest = hex::encode(Sha256::digest(absolute.to_string_lossy().as_bytes()));
    let suffix = digest.get(..12).unwrap_or(&digest);
    let name = format!("bookerbot-pg-{suffix}");
    let volume = format!("bookerbot-pgdata-{suffix}:/var/lib/postgresql/data");

    let filter = format!("name=^/{name}$");
    let running = run(
        &argv(&["docker", "ps", "-q", "--filter", &filter]),
        QUICK_TIMEOUT,
    )
    .await?;
    if let Some(id) = running.lines().map(str::trim).find(|line| !line.is_empty()) {
        return Ok((id.to_owned(), Cleanup::none()));
    }
    let mut command = words(RUN);
    command.extend([
        "--name".to_owned(),
        name,
        "-v".to_owned(),
        volume,
        IMAGE.to_owned(),
    ]);
    let started = run(&command, RUN_TIMEOUT).await?;
    let id = container_id(&started)?;
    let cleanup = Cleanup::arm(vec![Step::Run(argv(&["docker", "stop", &id]))]);
    Ok((id, cleanup))
}

/// The id `docker run -d` prints on its last line (earlier lines may report an image pull).
fn container_id(printed: &str) -> Result<String, String> {
    printed
        .lines()
        .map(str::trim)
        .rfind(|line| !line.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| "`docker run` printed no container id".to_owned())
}
