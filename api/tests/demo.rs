//! The README's run command, end to end: `bookerbot demo` on the embedded PostgreSQL (as on a
//! machine where PostgreSQL is installed but not running) comes up, prints a working API key,
//! serves `/docs`, and shuts down cleanly on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test]
async fn the_demo_comes_up_on_the_embedded_postgres_and_serves_docs_and_its_leads() {
    let data_dir =
        std::env::temp_dir().join(format!("bookerbot-demo-{}", uuid::Uuid::new_v4().simple()));
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bookerbot"))
        .args([
            "demo",
            "--embedded",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ])
        .arg("--data-dir")
        .arg(&data_dir)
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("the binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut key = None;
    while key.is_none() && Instant::now() < deadline {
        let line = tokio::time::timeout(Duration::from_secs(90), lines.next_line())
            .await
            .expect("the demo prints before the deadline")
            .unwrap()
            .expect("the demo keeps running");
        if let Some(rest) = line.trim().strip_prefix("API key:") {
            key = Some(rest.trim().to_string());
        }
    }
    let key = key.expect("the demo prints an API key");
    let base = format!("http://127.0.0.1:{port}");
    let client = infrastructure::http_client::provider_client(Duration::from_secs(30)).unwrap();
    let docs = client.get(format!("{base}/docs")).send().await.unwrap();
    assert_eq!(docs.status(), 200);
    let mut total = 0;
    while Instant::now() < deadline {
        let leads: serde_json::Value = client
            .get(format!("{base}/api/v1/leads"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        total = leads["total"].as_i64().unwrap_or_default();
        if total == 5 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(total, 5, "six demo captures, one a duplicate phone");
    let pid = child.id().unwrap().to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("the demo stops after SIGTERM")
        .unwrap();
    assert!(status.success(), "clean exit: {status:?}");
    let _ = std::fs::remove_dir_all(&data_dir);
}
