//! A tenant's Google Calendar connection: set through `PATCH /api/v1/tenants/{id}`
//! (`calendar.google`), shown only as flags and a status, its secrets and access token sealed
//! in the database; a refused grant marks it disconnected and tells the tenant's webhook once.

use std::sync::Arc;
use std::time::Duration;

use application::{CalendarError, FreeBusy};
use bookerbot_tests::{FakeHttp, FakeResponse};
use chrono::{DateTime, Utc};
use domain::values::TenantId;
use infrastructure::calendars::{CalendarResolver, GoogleEndpoints};
use infrastructure::http_client::provider_client;
use infrastructure::secrets::SecretBox;
use infrastructure::tenants::TenantStore;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{start_time, TestApp, ADMIN};

const CLIENT_ID: &str = "1234-abc.apps.googleusercontent.com";
const CLIENT_SECRET: &str = "GOCSPX-sealed-client-secret";
const REFRESH_TOKEN: &str = "1//0sealed-refresh-token";
const ACCESS_TOKEN: &str = "ya29.sealed-access-token";
const REVOKED: &str = "invalid_grant: Token has been expired or revoked.";

fn connect() -> serde_json::Value {
    json!({"calendar": {"google": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                   "refresh_token": REFRESH_TOKEN,
                                   "calendar_id": "team@example.com"}}})
}

/// A resolver as another part of the deployment sees it: its own store (its own caches) over
/// the test server's database and key, calling the fake Google.
fn resolver(app: &TestApp, google: &FakeHttp) -> CalendarResolver {
    CalendarResolver::new(
        provider_client(Duration::from_secs(5)).unwrap(),
        GoogleEndpoints {
            token_url: format!("{}/token", google.base),
            api_base: google.base.clone(),
        },
        TenantStore::new(app.db.pool().clone(), Some(SecretBox::new([7; 32]))),
        Arc::new(app.clock.clone()),
    )
}

fn range() -> (DateTime<Utc>, DateTime<Utc>) {
    (
        "2026-03-30T00:00:00Z".parse().unwrap(),
        "2026-03-31T00:00:00Z".parse().unwrap(),
    )
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn row_text(app: &TestApp, tenant: TenantId) -> String {
    sqlx::query_scalar("SELECT t::text FROM tenants t WHERE id = $1")
        .bind(tenant.as_uuid())
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_google_connection_is_stored_sealed_and_shown_only_as_flags_and_status() {
    let google = FakeHttp::start(|request| {
        if request.path == "/token" {
            FakeResponse::json(
                200,
                json!({"access_token": ACCESS_TOKEN, "expires_in": 3599}),
            )
        } else {
            FakeResponse::json(
                200,
                json!({"calendars": {"team@example.com": {"busy": []}}}),
            )
        }
    })
    .await;
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Calendared").await;
    let id: TenantId = tenant.id.parse().unwrap();
    let path = format!("/api/v1/tenants/{}", tenant.id);

    let incomplete = app
        .patch(
            &tenant.key,
            &path,
            json!({"calendar": {"google": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}}}),
        )
        .await;
    assert_eq!(
        incomplete.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        incomplete.text
    );
    assert_eq!(
        incomplete.error_field(),
        Some("calendar.google.refresh_token")
    );

    let patched = app.patch(&tenant.key, &path, connect()).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let read = app.get(&tenant.key, &path).await;
    assert_eq!(read.body, patched.body);
    assert_eq!(
        read.body["calendar"],
        json!({"google": {"client_id": CLIENT_ID, "calendar_id": "team@example.com",
                          "client_secret_set": true, "refresh_token_set": true,
                          "status": "connected", "disconnected_reason": null,
                          "disconnected_at": null}})
    );

    // The adapter works through the stored connection, and stores its access token sealed.
    let calendars = resolver(&app, &google);
    let provider = calendars.provider_for(id).await.unwrap().unwrap();
    assert_eq!(provider.calendar().as_str(), "google:team@example.com");
    let (from, to) = range();
    assert_eq!(
        provider.free_busy(from, to).await.unwrap(),
        FreeBusy::Known(vec![])
    );
    let listed = app.get(ADMIN, "/api/v1/tenants").await;
    let row = row_text(&app, id).await;
    for secret in [CLIENT_SECRET, REFRESH_TOKEN, ACCESS_TOKEN] {
        for text in [&patched.text, &read.text, &listed.text] {
            assert!(!text.contains(secret), "{secret} shown: {text}");
        }
        assert!(!row.contains(secret), "{secret} stored in clear: {row}");
        assert!(
            !row.contains(&hex(secret.as_bytes())),
            "{secret} stored as hex"
        );
    }
    let (sealed, expires): (Option<Vec<u8>>, Option<DateTime<Utc>>) = sqlx::query_as(
        "SELECT google_access_token, google_access_token_expires_at FROM tenants WHERE id = $1",
    )
    .bind(id.as_uuid())
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert!(sealed.is_some_and(|bytes| !bytes.is_empty()));
    assert_eq!(
        expires,
        Some(start_time() + chrono::Duration::seconds(3599))
    );

    // Another instance uses the stored token: no second refresh.
    let another = resolver(&app, &google);
    let provider = another.provider_for(id).await.unwrap().unwrap();
    provider.free_busy(from, to).await.unwrap();
    let calls: Vec<String> = google
        .requests()
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r.method,
                r.path,
                r.header("authorization").unwrap_or("-")
            )
        })
        .collect();
    assert_eq!(
        calls,
        [
            "POST /token -".to_owned(),
            format!("POST /calendar/v3/freeBusy Bearer {ACCESS_TOKEN}"),
            format!("POST /calendar/v3/freeBusy Bearer {ACCESS_TOKEN}"),
        ]
    );

    // A sealed secret moved to another tenant's row does not open there.
    let other = app.create_tenant("Thief").await;
    let other_id: TenantId = other.id.parse().unwrap();
    let other_path = format!("/api/v1/tenants/{}", other.id);
    assert_eq!(
        app.patch(&other.key, &other_path, connect()).await.status,
        StatusCode::OK
    );
    sqlx::query(
        "UPDATE tenants SET google_client_secret = \
         (SELECT google_client_secret FROM tenants WHERE id = $1) WHERE id = $2",
    )
    .bind(id.as_uuid())
    .bind(other_id.as_uuid())
    .execute(app.db.pool())
    .await
    .unwrap();
    assert!(resolver(&app, &google)
        .provider_for(other_id)
        .await
        .is_err());

    // null disconnects: back to the built-in calendar.
    let removed = app
        .patch(&tenant.key, &path, json!({"calendar": {"google": null}}))
        .await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert_eq!(removed.body["calendar"], json!({"google": null}));
    assert!(resolver(&app, &google)
        .provider_for(id)
        .await
        .unwrap()
        .is_none());
    let cleared: (Option<Vec<u8>>, Option<Vec<u8>>) = sqlx::query_as(
        "SELECT google_refresh_token, google_access_token FROM tenants WHERE id = $1",
    )
    .bind(id.as_uuid())
    .fetch_one(app.db.pool())
    .await
    .unwrap();
    assert_eq!(cleared, (None, None));
    app.stop().await;
}

#[tokio::test]
async fn invalid_grant_disconnects_the_calendar_and_tells_the_tenant_once() {
    let google = FakeHttp::start(|_| {
        FakeResponse::json(
            400,
            json!({"error": "invalid_grant", "error_description": "Token has been expired or revoked."}),
        )
    })
    .await;
    let hooks = FakeHttp::start(|_| FakeResponse::text(200, "")).await;
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Revoked").await;
    let id: TenantId = tenant.id.parse().unwrap();
    let path = format!("/api/v1/tenants/{}", tenant.id);
    let settings = json!({
        "webhook_url": format!("{}/bookerbot", hooks.base),
        "calendar": {"google": {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                                "refresh_token": REFRESH_TOKEN}}
    });
    let patched = app.patch(&tenant.key, &path, settings).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["calendar"]["google"]["calendar_id"], "primary");

    // Two instances hold a connected adapter when the grant is refused; both hear it from Google.
    let (first, second) = (resolver(&app, &google), resolver(&app, &google));
    let on_first = first.provider_for(id).await.unwrap().unwrap();
    let on_second = second.provider_for(id).await.unwrap().unwrap();
    let (from, to) = range();
    let disconnected = CalendarError::Disconnected {
        reason: REVOKED.into(),
    };
    assert_eq!(
        on_first.free_busy(from, to).await.unwrap_err(),
        disconnected
    );
    assert_eq!(
        on_second.free_busy(from, to).await.unwrap_err(),
        disconnected
    );
    assert_eq!(google.requests().len(), 2);

    let notices = hooks.requests();
    assert_eq!(notices.len(), 1, "told once, not twice: {notices:?}");
    let notice = &notices[0];
    assert_eq!(
        (notice.method.as_str(), notice.path.as_str()),
        ("POST", "/bookerbot")
    );
    assert_eq!(
        notice.header("x-bookerbot-event"),
        Some("calendar_disconnected")
    );
    assert_eq!(notice.header("content-type"), Some("application/json"));
    assert_eq!(
        notice.json(),
        json!({"type": "calendar_disconnected", "tenant_id": tenant.id, "provider": "google",
               "calendar_id": "primary", "reason": REVOKED, "at": "2026-03-29T00:30:00Z"})
    );

    let read = app.get(&tenant.key, &path).await;
    assert_eq!(
        read.body["calendar"]["google"],
        json!({"client_id": CLIENT_ID, "calendar_id": "primary", "client_secret_set": true,
               "refresh_token_set": true, "status": "disconnected",
               "disconnected_reason": REVOKED, "disconnected_at": "2026-03-29T00:30:00+00:00"})
    );

    // From now on nothing calls Google: every instance resolves a disconnected calendar, even
    // one whose cached settings still say connected.
    for calendars in [&first, &second, &resolver(&app, &google)] {
        let provider = calendars.provider_for(id).await.unwrap().unwrap();
        assert_eq!(
            provider.free_busy(from, to).await.unwrap_err(),
            disconnected
        );
        assert_eq!(
            provider.delete_event("evt1").await.unwrap_err(),
            disconnected
        );
    }
    assert_eq!(google.requests().len(), 2);
    assert_eq!(hooks.requests().len(), 1);

    // New credentials reconnect; a refusal of the new grant is a new disconnection, told again.
    app.clock.advance(chrono::Duration::hours(1));
    let regrant = json!({"calendar": {"google": {"refresh_token": "1//0new-refresh-token"}}});
    let reconnected = app.patch(&tenant.key, &path, regrant).await;
    assert_eq!(reconnected.status, StatusCode::OK, "{}", reconnected.text);
    assert_eq!(
        reconnected.body["calendar"]["google"]["status"],
        "connected"
    );
    assert_eq!(
        reconnected.body["calendar"]["google"]["disconnected_reason"],
        json!(null)
    );
    let provider = resolver(&app, &google)
        .provider_for(id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        provider.free_busy(from, to).await.unwrap_err(),
        disconnected
    );
    assert_eq!(google.requests().len(), 3);
    assert_eq!(
        google.requests()[2].form_value("refresh_token").as_deref(),
        Some("1//0new-refresh-token")
    );
    let notices = hooks.requests();
    assert_eq!(notices.len(), 2, "{notices:?}");
    assert_eq!(notices[1].json()["at"], "2026-03-29T01:30:00Z");
    app.stop().await;
}
