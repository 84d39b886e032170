//! Finding PostgreSQL against the real thing: a throwaway cluster started here, and whatever
//! answers on 127.0.0.1:5432 (PostgreSQL 15 in CI).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{Ipv4Addr, SocketAddrV4, TcpStream};
use std::str::FromStr;
use std::time::Duration;

use infrastructure::locate::{
    drop_database, ensure_database, locate, start_throwaway, LocateError, LocatedPostgres, Purpose,
    Source,
};
use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;

fn port_of(url: &str) -> u16 {
    PgConnectOptions::from_str(url).unwrap().get_port()
}

fn answers(port: u16) -> bool {
    let address = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into();
    TcpStream::connect_timeout(&address, Duration::from_millis(500)).is_ok()
}

async fn select_one(url: &str) -> i32 {
    let mut connection = PgConnection::connect(url).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    one
}

async fn database_count(located: &LocatedPostgres, name: &str) -> i64 {
    let mut connection = PgConnection::connect(located.admin_url()).await.unwrap();
    sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut connection)
        .await
        .unwrap()
}

fn unique_name(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_throwaway_cluster_answers_and_is_gone_after_drop() {
    let located = start_throwaway(Purpose::Tests).await.unwrap();
    assert_eq!(located.source(), Source::ThrowawayCluster);
    assert_eq!(select_one(located.admin_url()).await, 1);
    let port = port_of(located.admin_url());
    let dir = located.data_dir().unwrap().to_path_buf();
    assert!(dir.join("PG_VERSION").exists());

    drop(located);

    assert!(!answers(port), "port {port} still answers after drop");
    assert!(!dir.exists(), "{} still exists after drop", dir.display());
}

#[tokio::test]
async fn a_server_cluster_keeps_its_data_and_reuses_a_running_postmaster() {
    let dir = std::env::temp_dir().join(unique_name("bookerbot-locate-test"));
    let purpose = Purpose::Server {
        data_dir: dir.clone(),
    };

    let first = start_throwaway(purpose.clone()).await.unwrap();
    let mut connection = PgConnection::connect(first.admin_url()).await.unwrap();
    sqlx::query("CREATE TABLE kept (id int)")
        .execute(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    let first_port = port_of(first.admin_url());
    drop(first);
    assert!(
        !answers(first_port),
        "a started cluster stops when its guard drops"
    );

    let mut second = start_throwaway(purpose.clone()).await.unwrap();
    let mut connection = PgConnection::connect(second.admin_url()).await.unwrap();
    let kept: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename = 'kept'")
        .fetch_one(&mut connection)
        .await
        .unwrap();
    connection.close().await.unwrap();
    assert_eq!(kept, 1, "the data survived a restart");
    second.leave_running();
    let port = port_of(second.admin_url());
    drop(second);
    assert!(answers(port), "leave_running() left it running");

    let third = start_throwaway(purpose).await.unwrap();
    assert_eq!(
        port_of(third.admin_url()),
        port,
        "the running postmaster is reused"
    );
    drop(third);
    assert!(answers(port), "a reused postmaster is not ours to stop");

    // Immediate shutdown of the postmaster named in postmaster.pid, then wait for the port to close.
    let pid_file = std::fs::read_to_string(dir.join("postmaster.pid")).unwrap();
    let pid = pid_file.lines().next().unwrap().trim().to_owned();
    let killed = std::process::Command::new("kill")
        .args(["-QUIT", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    for _ in 0..50 {
        if !answers(port) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(!answers(port));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn an_explicit_url_is_used_as_given() {
    let url = "postgres://alice:s3cr%2Ft@db.invalid:6543/app?sslmode=disable&application_name=bb";
    let located = locate(Some(url), Purpose::Tests).await.unwrap();
    assert_eq!(located.source(), Source::ExplicitUrl);
    assert_eq!(
        located.admin_url(),
        "postgres://alice:s3cr%2Ft@db.invalid:6543/postgres?sslmode=disable&application_name=bb"
    );
    assert_eq!(located.data_dir(), None);
}

#[tokio::test]
async fn database_url_keeps_credentials_and_parameters() {
    let url = "postgresql://bob:p%40ss@10.0.0.7:5433/main?sslmode=prefer&options=-c%20x%3D1";
    let located = locate(Some(url), Purpose::Tests).await.unwrap();
    let other = located.database_url("test_42");
    assert_eq!(
        other,
        "postgresql://bob:p%40ss@10.0.0.7:5433/test_42?sslmode=prefer&options=-c%20x%3D1"
    );
    let options = PgConnectOptions::from_str(&other).unwrap();
    assert_eq!(options.get_username(), "bob");
    assert_eq!(options.get_host(), "10.0.0.7");
    assert_eq!(options.get_port(), 5433);
    assert_eq!(options.get_database(), Some("test_42"));
}

#[tokio::test]
async fn an_invalid_explicit_url_is_an_error_that_hides_the_password() {
    let error = locate(Some("mysql://u:hunter2@h/db"), Purpose::Tests)
        .await
        .unwrap_err();
    assert!(matches!(error, LocateError::InvalidUrl { .. }), "{error:?}");
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

#[tokio::test]
async fn ensure_database_twice_concurrently_creates_one_database() {
    let located = locate(None, Purpose::Tests).await.unwrap();
    let name = unique_name("locate_test");
    let url = located.database_url(&name);

    let (first, second) = tokio::join!(ensure_database(&url), ensure_database(&url));
    first.unwrap();
    second.unwrap();
    assert_eq!(database_count(&located, &name).await, 1);
    assert_eq!(select_one(&url).await, 1);
    ensure_database(&url).await.unwrap();

    drop_database(located.admin_url(), &name).await.unwrap();
    assert_eq!(database_count(&located, &name).await, 0);
    drop_database(located.admin_url(), &name).await.unwrap();
}

#[tokio::test]
async fn without_a_url_the_server_on_port_5432_is_picked_when_it_lets_postgres_in() {
    let local = "postgres://postgres@127.0.0.1:5432/postgres";
    let trusted = tokio::time::timeout(Duration::from_secs(2), PgConnection::connect(local))
        .await
        .is_ok_and(|connected| connected.is_ok());
    let located = locate(None, Purpose::Tests).await.unwrap();
    if trusted {
        assert_eq!(located.source(), Source::LocalServer);
        assert_eq!(located.admin_url(), local);
    } else {
        // CI carries on without a usable system server; the fallbacks must still work.
        assert_ne!(located.source(), Source::LocalServer);
    }
    assert_eq!(select_one(located.admin_url()).await, 1);
}
