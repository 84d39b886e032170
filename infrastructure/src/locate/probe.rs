//! Talking to a server: is it there, wait until it is, create and drop databases.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{ConnectOptions, Connection};

use super::{url, LocateError};

/// How long [`locate`](super::locate) waits for a server that may be there: long enough for a
/// loaded machine, short enough not to be noticed when nothing listens.
pub(super) const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How long [`ensure_database`] and [`drop_database`] wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLSTATE of "database does not exist".
const INVALID_CATALOG_NAME: &str = "3D000";
/// SQLSTATE of "database already exists".
const DUPLICATE_DATABASE: &str = "42P04";
/// SQLSTATE of a unique violation: what a concurrent CREATE DATABASE of the same name may get
/// instead of [`DUPLICATE_DATABASE`], from the `pg_database` name index.
const UNIQUE_VIOLATION: &str = "23505";

/// Connect to `url` once and hang up; the error says why it failed.
pub(super) async fn try_connect(url: &str, timeout: Duration) -> Result<(), String> {
    let options = PgConnectOptions::from_str(url).map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await {
        Ok(Ok(connection)) => {
            // Closing politely is a courtesy; a failure here says nothing about the server.
            let _ = connection.close().await;
            Ok(())
        }
        Ok(Err(error)) => Err(error.to_string()),
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    }
}

/// Retry [`try_connect`] until the server at `url` accepts connections or `deadline` passes.
pub(super) async fn wait_until_ready(url: &str, deadline: Duration) -> Result<(), String> {
    let started = tokio::time::Instant::now();
    loop {
        match try_connect(url, PROBE_TIMEOUT).await {
            Ok(()) => return Ok(()),
            Err(why) if started.elapsed() >= deadline => {
                return Err(format!(
                    "{} did not accept connections within {} s: {why}",
                    url::redacted(url),
                    deadline.as_secs()
                ))
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// Create the database named in `url` if it does not exist (connects to the maintenance db of the
/// same server). Safe when several processes race to create it. A URL naming no database needs
/// nothing created: the server's default (the user's name) applies.
pub async fn ensure_database(url: &str) -> Result<(), LocateError> {
    let options = parse(url)?;
    let Some(name) = options.get_database().map(str::to_owned) else {
        return Ok(());
    };
    match connect(&options, url).await {
        Ok(connection) => {
            let _ = connection.close().await;
            return Ok(());
        }
        Err(LocateError::Connect {
            source: sqlx::Error::Database(error),
            ..
        }) if error.code().as_deref() == Some(INVALID_CATALOG_NAME) => {}
        Err(other) => return Err(other),
    }

    let admin_url = url::with_database(url, "postgres");
    let mut admin = connect(&options.database("postgres"), &admin_url).await?;
    let created = sqlx::query(&format!("CREATE DATABASE {}", quote_identifier(&name)))
        .execute(&mut admin)
        .await;
    let _ = admin.close().await;
    match created {
        Ok(_) => {
            tracing::info!(database = %name, "created database");
            Ok(())
        }
        Err(sqlx::Error::Database(error))
            if matches!(
                error.code().as_deref(),
                Some(DUPLICATE_DATABASE | UNIQUE_VIOLATION)
            ) =>
        {
            // Another process created it between our check and our CREATE: that is what we wanted.
            Ok(())
        }
        Err(source) => Err(LocateError::Statement {
            action: format!("create database {}", quote_identifier(&name)),
            source,
        }),
    }
}

/// Drop database `name` (WITH (FORCE)), used by the test harness. A missing database is fine.
pub async fn drop_database(admin_url: &str, name: &str) -> Result<(), LocateError> {
    let mut admin = connect(&parse(admin_url)?, admin_url).await?;
    let statement = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_identifier(name)
    );
    let dropped = sqlx::query(&statement).execute(&mut admin).await;
    let _ = admin.close().await;
    dropped.map(drop).map_err(|source| LocateError::Statement {
        action: format!("drop database {}", quote_identifier(name)),
        source,
    })
}

/// Parses a `postgres://` or `postgresql://` URL, reporting it with its password hidden. (sqlx
/// takes any scheme, so a `sqlite:` URL meant for something else would otherwise get through.)
pub(super) fn parse(url: &str) -> Result<PgConnectOptions, LocateError> {
    let invalid = |reason: String| LocateError::InvalidUrl {
        url: url::redacted(url),
        reason,
    };
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(invalid(
            "it must start with postgres:// or postgresql://".to_owned(),
        ));
    }
    PgConnectOptions::from_str(url).map_err(|error| invalid(error.to_string()))
}

/// One connection for administrative statements, which are not worth logging.
async fn connect(options: &PgConnectOptions, url: &str) -> Result<PgConnection, LocateError> {
    let options = options.clone().disable_statement_logging();
    match tokio::time::timeout(CONNECT_TIMEOUT, PgConnection::connect_with(&options)).await {
        Ok(Ok(connection)) => Ok(connection),
        Ok(Err(source)) => Err(LocateError::Connect {
            url: url::redacted(url),
            source,
        }),
        Err(_) => Err(LocateError::ConnectTimeout {
            url: url::redacted(url),
            seconds: CONNECT_TIMEOUT.as_secs(),
        }),
    }
}

/// `name` as a quoted SQL identifier: database names cannot be bound as parameters.
fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_are_quoted_with_inner_quotes_doubled() {
        assert_eq!(quote_identifier("plain"), "\"plain\"");
        assert_eq!(quote_identifier("we\"ird"), "\"we\"\"ird\"");
    }
}
