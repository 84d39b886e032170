//! A private cluster from the local PostgreSQL binaries: `initdb` (0.7 s) then `pg_ctl start`
//! (0.1 s) on a free port, listening on 127.0.0.1 only, with trust authentication.
//!
//! As root the binaries run as the `postgres` user through `runuser`, because initdb refuses to run
//! as root; the data dir is then owned by `postgres`.

use std::fs::OpenOptions;
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::process::{argv, run, tail, Cleanup, Step};
use super::{probe, LocatedPostgres, Purpose, Source};

/// initdb writes and syncs a few thousand files.
const INITDB_TIMEOUT: Duration = Duration::from_secs(120);
/// `pg_ctl start -w` waits this many seconds for the server to come up...
const PG_CTL_WAIT_SECONDS: u64 = 30;
/// ...and we wait a little longer for `pg_ctl` itself.
const PG_CTL_TIMEOUT: Duration = Duration::from_secs(PG_CTL_WAIT_SECONDS + 10);
/// The server has said it is ready; this only covers the first TCP connection.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// Another process may grab the free port between our check and the server's bind.
const START_ATTEMPTS: usize = 3;
/// Where Debian and Ubuntu install the binaries, one directory per major version.
const DEBIAN_ROOT: &str = "/usr/lib/postgresql";
/// Unix socket paths longer than this (108 bytes, minus the socket's own name) are refused.
const MAX_SOCKET_DIR_LEN: usize = 90;

/// Tests trade durability for speed and run many pools in parallel.
const TEST_SETTINGS: &[&str] = &[
    "fsync = off",
    "synchronous_commit = off",
    "full_page_writes = off",
    "max_connections = 300",
];

/// Start a cluster for `purpose`: a fresh one in a temp dir for tests, the caller's for the server.
pub(super) async fn start(purpose: &Purpose) -> Result<LocatedPostgres, String> {
    let binaries = Binaries::find().await?;
    match purpose {
        Purpose::Tests => start_for_tests(&binaries).await,
        Purpose::Server { data_dir } => start_persistent(&binaries, data_dir).await,
    }
}

/// A new cluster in a temp dir, stopped and deleted when the guard drops.
async fn start_for_tests(binaries: &Binaries) -> Result<LocatedPostgres, String> {
    let dir = std::env::temp_dir().join(format!("bookerbot-pg-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let data = path_str(&dir)?;
    // Armed before initdb, so that a failure below removes the directory too.
    let cleanup = Cleanup::arm(vec![
        Step::Run(binaries.argv("pg_ctl", &["stop", "-D", data, "-m", "immediate", "-s"])),
        Step::RemoveDir(dir.clone()),
    ]);
    binaries.initialise(&dir, false).await?;
    let mut failure = String::new();
    for _ in 0..START_ATTEMPTS {
        let port = free_port()?;
        match binaries.start(&dir, port).await {
            Ok(()) => return ready(port, dir, cleanup).await,
            Err(why) => failure = why,
        }
    }
    Err(failure)
}

/// The caller's cluster: created if missing, reused if its postmaster is already running (then it
/// is left running), else started and stopped when the guard drops.
async fn start_persistent(binaries: &Binaries, data_dir: &Path) -> Result<LocatedPostgres, String> {
    let dir = std::path::absolute(data_dir)
        .map_err(|e| format!("cannot resolve data dir {}: {e}", data_dir.display()))?;
    let data = path_str(&dir)?;
    if !dir.join("PG_VERSION").exists() {
        let has_files = std::fs::read_dir(&dir).is_ok_and(|mut entries| entries.next().is_some());
        if has_files {
            return Err(format!(
                "{} is not empty and holds no PostgreSQL cluster (no PG_VERSION): empty it or \
                 choose another data dir",
                dir.display()
            ));
        }
        std::fs::create_dir_all(&dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        binaries.initialise(&dir, true).await?;
    }
    let mut failure = String::new();
    for _ in 0..START_ATTEMPTS {
        if let Some(port) = binaries.running_port(&dir).await {
            tracing::info!(dir = %dir.display(), port, "reusing the running cluster");
            return ready(port, dir, Cleanup::none()).await;
        }
        let port = free_port()?;
        match binaries.start(&dir, port).await {
            Ok(()) => {
                let stop = binaries.argv("pg_ctl", &["stop", "-D", data, "-m", "fast", "-s"]);
                return ready(port, dir, Cleanup::arm(vec![Step::Run(stop)])).await;
            }
            // Perhaps another process started it meanwhile: the next round finds out.
            Err(why) => failure = why,
        }
    }
    Err(failure)
}

/// Wait for the first connection, then hand out the guard.
async fn ready(port: u16, dir: PathBuf, cleanup: Cleanup) -> Result<LocatedPostgres, String> {
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    probe::wait_until_ready(&url, READY_TIMEOUT).await?;
    tracing::info!(source = %Source::ThrowawayCluster, %url, dir = %dir.display(), "using PostgreSQL");
    Ok(LocatedPostgres::new(
        Source::ThrowawayCluster,
        url,
        Some(dir),
        cleanup,
    ))
}

/// How to run `initdb` and `pg_ctl` here.
struct Binaries {
    /// Directory holding them, or `None` to let PATH find them.
    dir: Option<PathBuf>,
    /// We are root, so they run as `postgres` through `runuser`.
    as_postgres: bool,
}

impl Binaries {
    /// `initdb` on PATH, else in the highest version's directory under [`DEBIAN_ROOT`].
    async fn find() -> Result<Self, String> {
        let as_postgres = run(&argv(&["id", "-u"]), Duration::from_secs(5))
            .await
            .is_ok_and(|uid| uid.trim() == "0");
        let on_path = Self {
            dir: None,
            as_postgres,
        };
        if on_path.runs("initdb").await && on_path.runs("pg_ctl").await {
            return Ok(on_path);
        }
        if let Some(dir) = highest_debian_bin_dir() {
            return Ok(Self {
                dir: Some(dir),
                as_postgres,
            });
        }
        Err(format!(
            "initdb and pg_ctl are not on PATH nor in {DEBIAN_ROOT}/<version>/bin \
             (install PostgreSQL: `apt-get install postgresql`)"
        ))
    }

    /// `name --version` succeeds.
    async fn runs(&self, name: &str) -> bool {
        let version = argv(&[&self.program(name), "--version"]);
        run(&version, Duration::from_secs(5)).await.is_ok()
    }

    /// How to invoke `name`: a full path, or a bare name for PATH to resolve.
    fn program(&self, name: &str) -> String {
        match &self.dir {
            Some(dir) => dir.join(name).to_string_lossy().into_owned(),
            None => name.to_owned(),
        }
    }

    /// The command line running `name` with `args`, as `postgres` when we are root.
    fn argv(&self, name: &str, args: &[&str]) -> Vec<String> {
        let mut command = vec![self.program(name)];
        command.extend(args.iter().map(|arg| (*arg).to_owned()));
        self.as_owner(command)
    }

    /// `command` run as the cluster's owner: `postgres` when we are root, else ourselves.
    fn as_owner(&self, command: Vec<String>) -> Vec<String> {
        if !self.as_postgres {
            return command;
        }
        let mut wrapped = argv(&["runuser", "-u", "postgres", "--"]);
        wrapped.extend(command);
        wrapped
    }

    /// `initdb` into `dir` (existing and empty, or missing), then our settings. `durable` keeps
    /// initdb's final sync and PostgreSQL's crash safety.
    async fn initialise(&self, dir: &Path, durable: bool) -> Result<(), String> {
        let data = path_str(dir)?;
        if self.as_postgres {
            run(
                &argv(&["chown", "postgres:", data]),
                Duration::from_secs(10),
            )
            .await
            .map_err(|why| format!("{why} (as root the cluster runs as user postgres)"))?;
            let writable = self.as_owner(argv(&["test", "-w", data]));
            run(&writable, Duration::from_secs(10)).await.map_err(|_| {
                format!(
                    "user postgres cannot write to {data}: as root the cluster runs as postgres, \
                     so make its parent directories searchable (chmod o+x) or choose another one"
                )
            })?;
        }
        let mut args = vec![
            "-D",
            data,
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
        ];
        if !durable {
            args.push("--no-sync");
        }
        run(&self.argv("initdb", &args), INITDB_TIMEOUT).await?;

        let socket_dir = if data.len() <= MAX_SOCKET_DIR_LEN {
            data.replace('\'', "''")
        } else {
            String::new()
        };
        let mut settings = vec![
            "# Added by bookerbot (infrastructure::locate): reachable from this machine only."
                .to_owned(),
            "listen_addresses = '127.0.0.1'".to_owned(),
            format!("unix_socket_directories = '{socket_dir}'"),
        ];
        if !durable {
            settings.extend(TEST_SETTINGS.iter().map(|line| (*line).to_owned()));
        }
        let conf = dir.join("postgresql.conf");
        OpenOptions::new()
            .append(true)
            .open(&conf)
            .and_then(|mut file| writeln!(file, "\n{}", settings.join("\n")))
            .map_err(|e| format!("cannot write {}: {e}", conf.display()))
    }

    /// `pg_ctl start` on `port`, waiting until the server is up; a failure quotes the server log.
    async fn start(&self, dir: &Path, port: u16) -> Result<(), String> {
        let data = path_str(dir)?;
        let log = dir.join("server.log");
        let log_path = path_str(&log)?;
        let wait = PG_CTL_WAIT_SECONDS.to_string();
        let port_option = format!("-p {port}");
        let mut args = vec!["start", "-w", "-s", "-D", data, "-l", log_path];
        args.extend(["-t", &wait, "-o", &port_option]);
        run(&self.argv("pg_ctl", &args), PG_CTL_TIMEOUT)
            .await
            .map_err(|why| {
                let logged = std::fs::read_to_string(&log).unwrap_or_default();
                format!("{why}; server log: {}", tail(&logged, 5))
            })
            .map(drop)
    }

    /// The port of a postmaster already running on `dir` and answering, if any.
    async fn running_port(&self, dir: &Path) -> Option<u16> {
        let pid_file = std::fs::read_to_string(dir.join("postmaster.pid")).ok()?;
        run(
            &self.argv("pg_ctl", &["status", "-D", path_str(dir).ok()?]),
            Duration::from_secs(10),
        )
        .await
        .ok()?;
        // postmaster.pid: pid, data dir, start time, port, ...
        let port = pid_file.lines().nth(3)?.trim().parse().ok()?;
        let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
        probe::try_connect(&url, probe::PROBE_TIMEOUT).await.ok()?;
        Some(port)
    }
}

/// `/usr/lib/postgresql/<highest version>/bin`, if it holds initdb and pg_ctl.
fn highest_debian_bin_dir() -> Option<PathBuf> {
    let entries = std::fs::read_dir(DEBIAN_ROOT).ok()?;
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version: Vec<u32> = entry
                .file_name()
                .to_str()?
                .split('.')
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            let bin = entry.path().join("bin");
            let complete = bin.join("initdb").exists() && bin.join("pg_ctl").exists();
            complete.then_some((version, bin))
        })
        .max()
        .map(|(_, bin)| bin)
}

/// A port nobody listens on right now; the server may still lose it to a race, hence the retries.
fn free_port() -> Result<u16, String> {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| format!("cannot find a free port: {e}"))
}

/// Paths go on command lines and into postgresql.conf, so they must be text.
fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not valid UTF-8", path.display()))
}
