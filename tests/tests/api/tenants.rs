//! Tenants: created by the platform admin with their first key, configured by themselves,
//! including provider accounts and a model whose secrets are stored sealed and never shown.

use std::sync::Arc;

use api::settings::Settings;
use application::ManualClock;
use bookerbot_tests::TestDb;
use domain::values::TenantId;
use infrastructure::channels::ChannelCredentials;
use infrastructure::secrets::SecretBox;
use infrastructure::tenants::TenantStore;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{start_time, TestApp, ADMIN};

#[tokio::test]
async fn the_admin_creates_a_tenant_with_defaults_and_the_tenant_configures_itself() {
    let app = TestApp::spawn().await;
    let created = app
        .post(
            ADMIN,
            "/api/v1/tenants",
            json!({"name": "Bright Smile", "brand_name": "Bright Smile Dental"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let tenant = &created.body["tenant"];
    assert_eq!(tenant["timezone"], "Europe/London");
    assert_eq!(tenant["default_country"], "GB");
    assert_eq!(tenant["brand_name"], "Bright Smile Dental");
    assert_eq!(
        tenant["quiet_hours"],
        json!({"start": "08:00", "end": "21:00"})
    );
    assert_eq!(
        tenant["business_hours"]["monday"],
        json!({"start": "09:00", "end": "17:00"})
    );
    assert_eq!(tenant["business_hours"]["sunday"], serde_json::Value::Null);
    let id = tenant["id"].as_str().unwrap();
    let key = created.body["api_key"].as_str().unwrap();

    let patched = app
        .patch(
            key,
            &format!("/api/v1/tenants/{id}"),
            json!({"timezone": "America/New_York", "default_country": "us",
                   "business_hours": {"saturday": {"start": "10:00", "end": "14:00"}}}),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["timezone"], "America/New_York");
    assert_eq!(patched.body["default_country"], "US");
    assert_eq!(patched.body["business_hours"]["saturday"]["start"], "10:00");
    assert_eq!(
        patched.body["business_hours"]["monday"],
        serde_json::Value::Null
    );

    // National numbers now read as US numbers.
    let (lead, position) = app
        .capture_new(key, json!({"phone": "(201) 555-0123"}))
        .await;
    let read = app
        .get(
            key,
            &format!("/api/v1/leads/{lead}?min_position={position}"),
        )
        .await;
    assert_eq!(read.body["phone"], "+12015550123");

    for (body, field) in [
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"default_country": "XX"}), "default_country"),
        (
            json!({"quiet_hours": {"start": "22:00", "end": "07:00"}}),
            "quiet_hours",
        ),
    ] {
        let refused = app.patch(key, &format!("/api/v1/tenants/{id}"), body).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            refused.text
        );
        assert!(
            refused.error_field().unwrap_or_default().starts_with(field),
            "{field}: {}",
            refused.text
        );
    }
    let listed = app.get(ADMIN, "/api/v1/tenants").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    app.stop().await;
}

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "twilio-auth-token-3f9a";
const ACCESS_TOKEN: &str = "EAAG-access-token-77c1";
const APP_SECRET: &str = "meta-app-secret-5d2e";
const VERIFY_TOKEN: &str = "verify-token-a8b0";
const AI_KEY: &str = "sk-model-key-19e4";

/// Every provider and the model, complete.
fn full_settings() -> serde_json::Value {
    json!({
        "channels": {
            "twilio": {"account_sid": SID, "auth_token": AUTH_TOKEN,
                       "from_number": "+14155550100", "whatsapp_from": "+14155238886"},
            "whatsapp_cloud": {"phone_number_id": "106540352242922", "access_token": ACCESS_TOKEN,
                               "app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN}
        },
        "ai": {"base_url": "https://models.example.com/v1/", "model": "gpt-4o-mini", "api_key": AI_KEY},
        "admin_email": "frontdesk@example.com",
        "admin_phone": "07700 900123",
        "webhook_url": "https://hooks.example.com/bookerbot"
    })
}

fn tenant_id(id: &str) -> TenantId {
    id.parse().unwrap()
}

/// The store as the workers see it, with the test servers' key.
fn store(app: &TestApp) -> TenantStore {
    TenantStore::new(app.db.pool().clone(), Some(SecretBox::new([7; 32])))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn provider_secrets_are_stored_sealed_and_shown_only_as_set() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Sealed").await;
    let path = format!("/api/v1/tenants/{}", tenant.id);
    let patched = app.patch(&tenant.key, &path, full_settings()).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let read = app.get(&tenant.key, &path).await;
    assert_eq!(read.body, patched.body);
    assert_eq!(
        read.body["channels"],
        json!({
            "twilio": {"account_sid": SID, "from_number": "+14155550100",
                       "whatsapp_from": "+14155238886", "auth_token_set": true},
            "whatsapp_cloud": {"phone_number_id": "106540352242922", "access_token_set": true,
                               "app_secret_set": true, "verify_token_set": true}
        })
    );
    assert_eq!(
        read.body["ai"],
        json!({"base_url": "https://models.example.com/v1", "model": "gpt-4o-mini", "api_key_set": true})
    );
    assert_eq!(read.body["admin_email"], "frontdesk@example.com");
    assert_eq!(read.body["admin_phone"], "+447700900123");
    assert_eq!(
        read.body["webhook_url"],
        "https://hooks.example.com/bookerbot"
    );
    let listed = app.get(ADMIN, "/api/v1/tenants").await;
    let row: String = sqlx::query_scalar("SELECT t::text FROM tenants t WHERE id = $1")
        .bind(tenant_id(&tenant.id).as_uuid())
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    for secret in [AUTH_TOKEN, ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN, AI_KEY] {
        for text in [&patched.text, &read.text, &listed.text] {
            assert!(!text.contains(secret), "{secret} shown: {text}");
        }
        assert!(!row.contains(secret), "{secret} stored in clear: {row}");
        assert!(
            !row.contains(&hex(secret.as_bytes())),
            "{secret} stored as hex"
        );
    }
    assert!(
        row.contains(SID) && row.contains("106540352242922"),
        "{row}"
    );

    let opened = store(&app)
        .channel_credentials(tenant_id(&tenant.id))
        .await
        .unwrap();
    let twilio = opened.twilio.unwrap();
    assert_eq!(twilio.account_sid, SID);
    assert_eq!(twilio.auth_token, AUTH_TOKEN);
    assert_eq!(twilio.from_number.as_deref(), Some("+14155550100"));
    assert_eq!(twilio.whatsapp_from.as_deref(), Some("+14155238886"));
    let whatsapp = opened.whatsapp_cloud.unwrap();
    assert_eq!(whatsapp.phone_number_id, "106540352242922");
    assert_eq!(
        (
            whatsapp.access_token.as_str(),
            whatsapp.app_secret.as_str(),
            whatsapp.verify_token.as_str()
        ),
        (ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN)
    );
    let ai = store(&app)
        .ai_settings(tenant_id(&tenant.id))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(ai.base_url, "https://models.example.com/v1");
    assert_eq!(ai.api_key.as_deref(), Some(AI_KEY));

    // A sealed value moved to another tenant's row does not open there.
    let other = app.create_tenant("Thief").await;
    let other_path = format!("/api/v1/tenants/{}", other.id);
    let only_ai = json!({"ai": {"api_key": "sk-other"}});
    assert_eq!(
        app.patch(&other.key, &other_path, only_ai).await.status,
        StatusCode::OK
    );
    sqlx::query("UPDATE tenants SET ai_api_key = (SELECT ai_api_key FROM tenants WHERE id = $1) WHERE id = $2")
        .bind(tenant_id(&tenant.id).as_uuid())
        .bind(tenant_id(&other.id).as_uuid())
        .execute(app.db.pool())
        .await
        .unwrap();
    assert!(store(&app).ai_settings(tenant_id(&other.id)).await.is_err());
    app.stop().await;
}

#[tokio::test]
async fn provider_settings_merge_one_by_one_and_null_removes_a_provider() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Merging").await;
    let path = format!("/api/v1/tenants/{}", tenant.id);
    let id = tenant_id(&tenant.id);
    assert_eq!(
        app.patch(&tenant.key, &path, full_settings()).await.status,
        StatusCode::OK
    );

    let token_only = json!({"channels": {"twilio": {"auth_token": "rotated-token"}}});
    let patched = app.patch(&tenant.key, &path, token_only).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["channels"]["twilio"]["account_sid"], SID);
    assert_eq!(
        patched.body["channels"]["twilio"]["from_number"],
        "+14155550100"
    );
    let twilio = store(&app).channel_credentials(id).await.unwrap().twilio;
    assert_eq!(twilio.unwrap().auth_token, "rotated-token");

    let whatsapp_only = json!({"channels": {"twilio": {"from_number": null}}});
    let patched = app.patch(&tenant.key, &path, whatsapp_only).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(
        patched.body["channels"]["twilio"]["from_number"],
        serde_json::Value::Null
    );
    assert_eq!(
        patched.body["channels"]["twilio"]["whatsapp_from"],
        "+14155238886"
    );
    let no_sender = json!({"channels": {"twilio": {"whatsapp_from": null}}});
    let refused = app.patch(&tenant.key, &path, no_sender).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.error_field(), Some("channels.twilio.from_number"));

    let model_only = json!({"ai": {"model": "llama3.1:8b"}});
    let patched = app.patch(&tenant.key, &path, model_only).await;
    assert_eq!(patched.body["ai"]["model"], "llama3.1:8b");
    assert_eq!(patched.body["ai"]["api_key_set"], true);
    let keyless = json!({"ai": {"api_key": null}});
    let patched = app.patch(&tenant.key, &path, keyless).await;
    assert_eq!(patched.body["ai"]["api_key_set"], false);
    assert_eq!(
        patched.body["ai"]["base_url"],
        "https://models.example.com/v1"
    );
    let ai = store(&app).ai_settings(id).await.unwrap().unwrap();
    assert_eq!((ai.model.as_str(), ai.api_key), ("llama3.1:8b", None));

    let removed = json!({"channels": {"twilio": null}, "ai": null, "admin_email": null});
    let patched = app.patch(&tenant.key, &path, removed).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["channels"]["twilio"], serde_json::Value::Null);
    assert_eq!(
        patched.body["channels"]["whatsapp_cloud"]["phone_number_id"],
        "106540352242922"
    );
    assert_eq!(patched.body["ai"], serde_json::Value::Null);
    assert_eq!(patched.body["admin_email"], serde_json::Value::Null);
    assert_eq!(patched.body["admin_phone"], "+447700900123");
    let opened = store(&app).channel_credentials(id).await.unwrap();
    assert_eq!(opened.twilio, None);
    assert!(opened.whatsapp_cloud.is_some());
    assert_eq!(store(&app).ai_settings(id).await.unwrap(), None);

    // Set up again from nothing, a model takes the defaults for what it leaves out.
    let fresh = json!({"ai": {}});
    let patched = app.patch(&tenant.key, &path, fresh).await;
    assert_eq!(
        patched.body["ai"],
        json!({"base_url": "https://api.openai.com/v1", "model": "gpt-4o-mini", "api_key_set": false})
    );
    app.stop().await;
}

#[tokio::test]
async fn each_refused_setting_names_its_path_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Strict").await;
    let path = format!("/api/v1/tenants/{}", tenant.id);
    let partial_whatsapp = json!({"channels": {"whatsapp_cloud": {
        "phone_number_id": "106540352242922", "access_token": ACCESS_TOKEN, "app_secret": APP_SECRET}}});
    let twilio_without_token = json!({"channels": {"twilio": {
        "account_sid": SID, "from_number": "+14155550100"}}});
    let twilio_without_sender = json!({"channels": {"twilio": {
        "account_sid": SID, "auth_token": AUTH_TOKEN}}});
    let cases = [
        (partial_whatsapp, "channels.whatsapp_cloud.verify_token"),
        (twilio_without_token, "channels.twilio.auth_token"),
        (twilio_without_sender, "channels.twilio.from_number"),
        (
            json!({"channels": {"twilio": {"account_sid": "AC123", "auth_token": "t", "from_number": "+14155550100"}}}),
            "channels.twilio.account_sid",
        ),
        (
            json!({"channels": {"twilio": {"account_sid": SID, "auth_token": "t", "from_number": "4155550100"}}}),
            "channels.twilio.from_number",
        ),
        (
            json!({"channels": {"twilio": {"account_sid": SID, "auth_token": "", "whatsapp_from": "+14155238886"}}}),
            "channels.twilio.auth_token",
        ),
        (
            json!({"channels": {"whatsapp_cloud": {"access_token": "x".repeat(513)}}}),
            "channels.whatsapp_cloud.access_token",
        ),
        (
            json!({"channels": {"whatsapp_cloud": {"phone_number_id": "1", "access_token": "a",
                                                    "app_secret": "b", "verify_token": "c", "extra": 1}}}),
            "channels.whatsapp_cloud.extra",
        ),
        (
            json!({"ai": {"base_url": "file:///etc/passwd"}}),
            "ai.base_url",
        ),
        (json!({"ai": {"model": ""}}), "ai.model"),
        (json!({"ai": {"model": "m".repeat(201)}}), "ai.model"),
        (json!({"ai": {"api_key": "k".repeat(513)}}), "ai.api_key"),
        (json!({"admin_email": "front desk"}), "admin_email"),
        (json!({"admin_phone": "12"}), "admin_phone"),
        (json!({"webhook_url": "hooks.example.com"}), "webhook_url"),
        // A valid part is not applied when another part of the request is refused.
        (
            json!({"name": "Renamed", "admin_email": "ok@example.com", "webhook_url": "ftp://x.example"}),
            "webhook_url",
        ),
    ];
    let before = app.get(&tenant.key, &path).await;
    for (body, field) in cases {
        let refused = app.patch(&tenant.key, &path, body.clone()).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            refused.text
        );
        assert_eq!(
            refused.error_field(),
            Some(field),
            "{body}: {}",
            refused.text
        );
        assert_eq!(
            app.get(&tenant.key, &path).await.body,
            before.body,
            "{body}"
        );
    }
    let row: String = sqlx::query_scalar("SELECT t::text FROM tenants t WHERE id = $1")
        .bind(tenant_id(&tenant.id).as_uuid())
        .fetch_one(app.db.pool())
        .await
        .unwrap();
    assert!(!row.contains(ACCESS_TOKEN) && !row.contains(SID), "{row}");

    // At creation too: a provider must be complete.
    let created = app
        .post(
            ADMIN,
            "/api/v1/tenants",
            json!({"name": "Half", "channels": {"twilio": {"account_sid": SID}}}),
        )
        .await;
    assert_eq!(created.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(created.error_field(), Some("channels.twilio.auth_token"));
    app.stop().await;
}

#[tokio::test]
async fn a_tenant_is_created_with_its_channels_and_no_other_key_can_touch_them() {
    let app = TestApp::spawn().await;
    let mut body = full_settings();
    body["name"] = json!("Complete");
    body["default_country"] = json!("US");
    body["admin_phone"] = json!("(201) 555-0123");
    let created = app.post(ADMIN, "/api/v1/tenants", body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let tenant = &created.body["tenant"];
    assert_eq!(tenant["channels"]["twilio"]["auth_token_set"], true);
    assert_eq!(tenant["ai"]["api_key_set"], true);
    assert_eq!(tenant["admin_phone"], "+12015550123");
    for secret in [AUTH_TOKEN, ACCESS_TOKEN, APP_SECRET, VERIFY_TOKEN, AI_KEY] {
        assert!(!created.text.contains(secret));
    }
    let id = tenant["id"].as_str().unwrap();
    let opened = store(&app)
        .channel_credentials(tenant_id(id))
        .await
        .unwrap();
    assert_eq!(opened.twilio.unwrap().auth_token, AUTH_TOKEN);

    let intruder = app.create_tenant("Intruder").await;
    let path = format!("/api/v1/tenants/{id}");
    let hijack = json!({"channels": {"twilio": null}});
    assert_eq!(
        app.patch(&intruder.key, &path, hijack).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&intruder.key, &path).await.status,
        StatusCode::NOT_FOUND
    );
    let unchanged = app.get(ADMIN, &path).await;
    assert_eq!(unchanged.body["channels"]["twilio"]["account_sid"], SID);
    app.stop().await;
}

#[tokio::test]
async fn the_admin_phone_is_read_in_the_tenants_country() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Phones").await;
    let path = format!("/api/v1/tenants/{}", tenant.id);
    let national = app
        .patch(&tenant.key, &path, json!({"admin_phone": "07700 900456"}))
        .await;
    assert_eq!(national.body["admin_phone"], "+447700900456");
    let international = app
        .patch(
            &tenant.key,
            &path,
            json!({"admin_phone": "+1 201-555-0123"}),
        )
        .await;
    assert_eq!(international.body["admin_phone"], "+12015550123");
    // The country changed in the same request is the one national numbers are read in.
    let moved = app
        .patch(
            &tenant.key,
            &path,
            json!({"default_country": "US", "admin_phone": "(201) 555-0199"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert_eq!(moved.body["admin_phone"], "+12015550199");
    let uk_national = app
        .patch(&tenant.key, &path, json!({"admin_phone": "07700 900456"}))
        .await;
    assert_eq!(uk_national.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(uk_national.error_field(), Some("admin_phone"));
    let cleared = app
        .patch(&tenant.key, &path, json!({"admin_phone": null}))
        .await;
    assert_eq!(cleared.body["admin_phone"], serde_json::Value::Null);
    app.stop().await;
}

#[tokio::test]
async fn without_a_secrets_key_tenants_work_but_secrets_are_refused() {
    let db = TestDb::new().await;
    let mut settings = Settings::for_tests(db.url().to_string(), ADMIN);
    settings.secrets_key = None;
    let running = api::server::start(
        db.pool().clone(),
        Arc::new(ManualClock::new(start_time())),
        settings,
    )
    .await
    .unwrap();
    let base = format!("http://{}", running.addr);
    let client = reqwest::Client::new();
    let send = |method: reqwest::Method, path: String, body: serde_json::Value| {
        client
            .request(method, format!("{base}{path}"))
            .bearer_auth(ADMIN)
            .json(&body)
            .send()
    };
    let created = send(
        reqwest::Method::POST,
        "/api/v1/tenants".into(),
        json!({"name": "Keyless"}),
    )
    .await
    .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let created: serde_json::Value = created.json().await.unwrap();
    let path = format!(
        "/api/v1/tenants/{}",
        created["tenant"]["id"].as_str().unwrap()
    );

    let plain = json!({"admin_email": "owner@example.com", "ai": {"model": "local-model"}});
    let patched = send(reqwest::Method::PATCH, path.clone(), plain)
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    let patched: serde_json::Value = patched.json().await.unwrap();
    assert_eq!(patched["admin_email"], "owner@example.com");
    assert_eq!(patched["ai"]["api_key_set"], false);

    for (body, field) in [
        (
            json!({"channels": {"twilio": {"account_sid": SID, "auth_token": AUTH_TOKEN, "from_number": "+14155550100"}}}),
            "channels.twilio.auth_token",
        ),
        (json!({"ai": {"api_key": AI_KEY}}), "ai.api_key"),
    ] {
        let refused = send(reqwest::Method::PATCH, path.clone(), body)
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let refused: serde_json::Value = refused.json().await.unwrap();
        assert_eq!(refused["error"]["details"]["field"], field);
        let message = refused["error"]["message"].as_str().unwrap();
        assert!(message.contains("BOOKERBOT_SECRETS_KEY"), "{message}");
    }
    let keyless_store = TenantStore::new(db.pool().clone(), None);
    let id = tenant_id(created["tenant"]["id"].as_str().unwrap());
    assert_eq!(
        keyless_store.channel_credentials(id).await.unwrap(),
        ChannelCredentials::default()
    );
    running.stop().await.unwrap();
}
