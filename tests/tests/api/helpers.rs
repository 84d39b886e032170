//! `TestApp`: a running server over its own database, with one method per endpoint used.

use std::sync::Arc;

use api::server::Running;
use api::settings::Settings;
use application::ManualClock;
use bookerbot_tests::TestDb;
use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

/// The admin token of every test server.
pub const ADMIN: &str = "test-admin-token";

/// A server and what a test needs to talk to it.
pub struct TestApp {
    /// The database (dropped with the app).
    pub db: TestDb,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    /// The server's clock: it moves only when a test moves it.
    pub clock: ManualClock,
    client: reqwest::Client,
    running: Option<Running>,
}

/// A response: status and JSON body (`Value::Null` when empty or not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
    pub text: String,
}

impl Reply {
    /// The body's `error.details.field`.
    pub fn error_field(&self) -> Option<&str> {
        self.body["error"]["details"]["field"].as_str()
    }

    /// The body's `error.code`.
    pub fn error_code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }
}

/// A tenant made through the API.
#[derive(Debug, Clone)]
pub struct TestTenant {
    pub id: String,
    pub key: String,
}

impl TestApp {
    /// Starts a server on a fresh database, its clock stopped at [`start_time`].
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// Starts a server whose test settings `configure` changed first (e.g. provider URLs
    /// pointing at a local fake).
    pub async fn spawn_with(configure: impl FnOnce(&mut Settings)) -> Self {
        let db = TestDb::new().await;
        let mut settings = Settings::for_tests(db.url().to_string(), ADMIN);
        configure(&mut settings);
        let clock = ManualClock::new(start_time());
        let running = api::server::start(db.pool().clone(), Arc::new(clock.clone()), settings)
            .await
            .expect("the server starts");
        Self {
            base: format!("http://{}", running.addr),
            clock,
            db,
            client: reqwest::Client::new(),
            running: Some(running),
        }
    }

    /// Stops the server gracefully.
    pub async fn stop(mut self) {
        if let Some(running) = self.running.take() {
            running.stop().await.expect("the server stops cleanly");
        }
    }

    /// Sends a request with an optional bearer token and JSON body.
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.expect("the request is answered");
        reply(response).await
    }

    /// Sends raw bytes as the body with the given content type.
    pub async fn send_raw(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        content_type: &str,
        body: &'static str,
    ) -> Reply {
        let response = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token)
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("the request is answered");
        reply(response).await
    }

    pub async fn get(&self, token: &str, path: &str) -> Reply {
        self.send(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(token), Some(&body))
            .await
    }

    pub async fn patch(&self, token: &str, path: &str, body: Value) -> Reply {
        self.send(reqwest::Method::PATCH, path, Some(token), Some(&body))
            .await
    }

    pub async fn delete(&self, token: &str, path: &str) -> Reply {
        self.send(reqwest::Method::DELETE, path, Some(token), None)
            .await
    }

    /// Creates a tenant (admin) and returns its id and first key.
    pub async fn create_tenant(&self, name: &str) -> TestTenant {
        let reply = self
            .post(ADMIN, "/api/v1/tenants", json!({"name": name}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        TestTenant {
            id: reply.body["tenant"]["id"].as_str().unwrap().to_string(),
            key: reply.body["api_key"].as_str().unwrap().to_string(),
        }
    }

    /// Creates an SMS workflow and returns its id.
    pub async fn create_workflow(&self, key: &str, name: &str) -> String {
        let reply = self
            .post(
                key,
                "/api/v1/workflows",
                json!({
                    "name": name,
                    "channel": "sms",
                    "initial_message": "Hi {first_name}, this is {brand_name}. Want to book a visit?",
                }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body["id"].as_str().unwrap().to_string()
    }

    /// Captures a lead and returns the reply.
    pub async fn capture(&self, key: &str, body: Value) -> Reply {
        self.post(key, "/api/v1/leads", body).await
    }

    /// Captures a lead that must be new and returns its id and position.
    pub async fn capture_new(&self, key: &str, body: Value) -> (String, i64) {
        let reply = self.capture(key, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        (
            reply.body["id"].as_str().unwrap().to_string(),
            reply.body["position"].as_i64().unwrap(),
        )
    }

    /// Events in the store.
    pub async fn event_count(&self) -> i64 {
        bookerbot_tests::event_count(self.db.pool()).await
    }
}

/// Where every test server's clock starts.
pub fn start_time() -> DateTime<Utc> {
    "2026-03-29T00:30:00Z".parse().expect("a valid instant")
}

async fn reply(response: reqwest::Response) -> Reply {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, body, text }
}
