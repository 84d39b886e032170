//! CSV import over HTTP: a CSV body or a multipart form; created, merged and rejected rows; tags
//! and workflow applied (a merge keeps the lead's details and workflow); sending the import again
//! replays its report; header detection and mapping; `;`, BOM, CRLF and quoted line breaks; dry
//! runs; size limits; options refused naming the option; imports private to their tenant.

use std::sync::Arc;

use api::settings::Settings;
use application::ManualClock;
use bookerbot_tests::TestDb;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{start_time, Reply, TestApp, ADMIN};

/// Posts `body` to the import endpoint with `query` and `content_type`.
async fn upload(base: &str, key: &str, query: &str, content_type: &str, body: Vec<u8>) -> Reply {
    let response = reqwest::Client::new()
        .post(format!("{base}/api/v1/leads/import{query}"))
        .bearer_auth(key)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("the request is answered");
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Reply { status, body, text }
}

async fn csv(app: &TestApp, key: &str, query: &str, content: &str) -> Reply {
    upload(
        &app.base,
        key,
        query,
        "text/csv",
        content.as_bytes().to_vec(),
    )
    .await
}

/// A multipart form with a text part before the `file` part.
fn form(content: &[u8]) -> (String, Vec<u8>) {
    let boundary = "bookerbot-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"leads.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(content);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn errors(reply: &Reply) -> Vec<(u64, String)> {
    reply.body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["column"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn counts(reply: &Reply) -> (u64, u64, u64, u64) {
    let n = |k: &str| reply.body[k].as_u64().unwrap();
    (n("rows"), n("created"), n("merged"), n("rejected"))
}

#[tokio::test]
async fn an_upload_creates_merges_and_rejects_rows_and_sending_it_again_replays_its_report() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme Dental").await;
    let key = &tenant.key;
    let workflow = app.create_workflow(key, "Spring recall").await;
    let (known, _) = app
        .capture_new(
            key,
            json!({"first_name": "Known", "phone": "+44 7700 900001", "source": "website",
                   "tags": ["vip"]}),
        )
        .await;
    let content = "First Name,Last Name,Phone,Email,Plan\n\
                   Ada,Lovelace,07700 900002,ada@example.com,gold\n\
                   Changed,Name,07700 900001,,silver\n\
                   Grace,Hopper,not a phone,,bronze\n\
                   ,,,,\n\
                   Alan,Turing,+44 7700 900002,,\n";
    let query = format!("?import_id=spring&tag=spring&tag=Recall&workflow_id={workflow}");
    let events_before = app.event_count().await;

    let reply = csv(&app, key, &query, content).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["import_id"], "spring");
    assert_eq!(reply.body["replayed"], false);
    assert_eq!(reply.body["dry_run"], false);
    assert_eq!(counts(&reply), (4, 1, 2, 1));
    assert_eq!(
        reply.body["errors"],
        json!([{"row": 4, "column": "Phone", "reason": "is not a valid phone number for country GB"}])
    );
    assert!(reply.body.get("preview").is_none());
    let position = reply.body["position"].as_i64().unwrap();

    let rows = app
        .get(key, "/api/v1/leads/imports/spring/rows?outcome=created")
        .await;
    assert_eq!(rows.status, StatusCode::OK, "{}", rows.text);
    assert_eq!(rows.body["total"], 1);
    let ada = rows.body["items"][0]["lead_id"]
        .as_str()
        .unwrap()
        .to_string();
    let lead = app
        .get(key, &format!("/api/v1/leads/{ada}?min_position={position}"))
        .await;
    assert_eq!(lead.status, StatusCode::OK, "{}", lead.text);
    assert_eq!(lead.body["first_name"], "Ada");
    assert_eq!(lead.body["phone"], "+447700900002");
    assert_eq!(lead.body["source"], "csv_import");
    assert_eq!(lead.body["tags"], json!(["recall", "spring"]));
    assert_eq!(lead.body["workflow_id"], workflow.as_str());
    assert_eq!(lead.body["custom_fields"], json!({"plan": "gold"}));

    // The known phone was merged: source, tags and workflow added, details untouched.
    let lead = app.get(key, &format!("/api/v1/leads/{known}")).await;
    assert_eq!(lead.body["first_name"], "Known");
    assert_eq!(lead.body["source"], "website");
    assert_eq!(lead.body["additional_sources"], json!(["csv_import"]));
    assert_eq!(lead.body["tags"], json!(["recall", "spring", "vip"]));
    assert_eq!(lead.body["workflow_id"], workflow.as_str());
    assert_eq!(lead.body["custom_fields"], json!({}));

    let merged = app
        .get(key, "/api/v1/leads/imports/spring/rows?outcome=merged")
        .await;
    assert_eq!(
        merged.body["items"],
        json!([
            {"row": 3, "outcome": "merged", "lead_id": known, "column": null, "reason": null},
            {"row": 6, "outcome": "merged", "lead_id": ada, "column": null, "reason": null},
        ])
    );
    let all = app
        .get(key, "/api/v1/leads/imports/spring/rows?page=2&page_size=3")
        .await;
    assert_eq!(all.body["total"], 4);
    assert_eq!(all.body["items"][0]["row"], 6);

    let events = app.event_count().await;
    // Ada's capture; for Known: source added, two tags, workflow assigned.
    assert_eq!(events - events_before, 5);
    let again = csv(&app, key, &query, content).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["replayed"], true);
    assert_eq!(counts(&again), (4, 1, 2, 1));
    assert_eq!(again.body["errors"], reply.body["errors"]);
    assert_eq!(again.body["position"], position);
    assert_eq!(app.event_count().await, events, "a replay writes nothing");

    let summary = app.get(key, "/api/v1/leads/imports/spring").await;
    assert_eq!(summary.status, StatusCode::OK, "{}", summary.text);
    assert_eq!(summary.body["status"], "completed");
    assert_eq!(summary.body["rows"], 4);
    assert_eq!(summary.body["options"]["tags"], json!(["recall", "spring"]));
    assert_eq!(summary.body["options"]["workflow_id"], workflow.as_str());
    assert_eq!(summary.body["created_at"], "2026-03-29T00:30:00+00:00");
    assert!(summary.body["finished_at"].is_string());

    // The same id for another file is refused.
    let other = csv(&app, key, "?import_id=spring", "phone\n07700 900003\n").await;
    assert_eq!(other.status, StatusCode::CONFLICT, "{}", other.text);
    assert_eq!(other.error_code(), Some("import_id_reused"));
}

#[tokio::test]
async fn a_multipart_form_with_semicolons_bom_crlf_and_quoted_line_breaks_is_read() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme Dental").await;
    let content = "\u{feff}Full Name;Mobile;Notes\r\n\
                   Grace Brewster Hopper;07700 900010;\"first line;\r\nsecond line\"\r\n\
                   Ada;07700 900011;\"said \"\"hi\"\"\"\r\n\
                   Bad;0770;x\r\n";
    let (content_type, body) = form(content.as_bytes());

    let dry = upload(
        &app.base,
        &tenant.key,
        "?dry_run=true",
        &content_type,
        body.clone(),
    )
    .await;
    assert_eq!(dry.status, StatusCode::OK, "{}", dry.text);
    assert_eq!(dry.body["dry_run"], true);
    assert_eq!(counts(&dry), (3, 2, 0, 1));
    assert_eq!(errors(&dry), vec![(4, "Mobile".to_string())]);
    assert_eq!(
        dry.body["preview"][0],
        json!({"row": 2, "outcome": "created", "lead_id": null, "first_name": "Grace",
               "last_name": "Brewster Hopper", "phone": "+447700900010", "email": null,
               "custom_fields": {"notes": "first line;\r\nsecond line"}})
    );
    assert_eq!(
        dry.body["preview"][1]["custom_fields"],
        json!({"notes": "said \"hi\""})
    );
    assert_eq!(dry.body["position"], Value::Null);
    assert_eq!(app.event_count().await, 0, "a dry run writes nothing");
    let id = dry.body["import_id"].as_str().unwrap();
    let missing = app
        .get(&tenant.key, &format!("/api/v1/leads/imports/{id}"))
        .await;
    assert_eq!(
        missing.status,
        StatusCode::NOT_FOUND,
        "not even the import's record"
    );

    let real = upload(&app.base, &tenant.key, "", &content_type, body).await;
    assert_eq!(real.status, StatusCode::CREATED, "{}", real.text);
    assert_eq!(
        real.body["import_id"], id,
        "the same file and options: the same import"
    );
    assert_eq!(counts(&real), (3, 2, 0, 1));
    assert_eq!(app.event_count().await, 2);
}

#[tokio::test]
async fn columns_are_detected_or_mapped_and_a_mapped_header_the_file_lacks_is_named() {
    let app = TestApp::spawn().await;
    let key = &app.create_tenant("Acme Dental").await.key;
    let content = "Given,Family Name,Cell No,E-mail Address,Mail,Post Code\n\
                   Ada,Lovelace,07700 900020,ada@example.com,ada@old.example,SW1A 1AA\n";
    let mapping = r#"{"first_name":"Given","phone":"Cell No"}"#;
    let query = format!("?dry_run=true&mapping={}", urlencode(mapping));

    let reply = csv(&app, key, &query, content).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let row = &reply.body["preview"][0];
    assert_eq!(row["first_name"], "Ada");
    assert_eq!(row["last_name"], "Lovelace", "detected: family name");
    assert_eq!(row["phone"], "+447700900020");
    assert_eq!(row["email"], "ada@example.com", "detected: e-mail address");
    assert_eq!(
        row["custom_fields"],
        json!({"mail": "ada@old.example", "post_code": "SW1A 1AA"})
    );

    let query = format!("?mapping={}", urlencode(r#"{"email":"Email Address 2"}"#));
    let reply = csv(&app, key, &query, content).await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert_eq!(reply.error_field(), Some("mapping"));
    assert!(reply.text.contains("Email Address 2"), "{}", reply.text);

    let reply = csv(&app, key, "", "Name,Plan\nAda,gold\n").await;
    assert_eq!(
        reply.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        reply.text
    );
    assert_eq!(
        reply.error_field(),
        Some("mapping"),
        "no phone or email column"
    );
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn bad_options_and_unusable_files_are_refused_naming_the_option() {
    let app = TestApp::spawn().await;
    let key = &app.create_tenant("Acme Dental").await.key;
    let content = "phone\n07700 900030\n";
    let unknown_workflow = format!("?workflow_id={}", uuid::Uuid::now_v7());
    let long_tag = format!("?tag={}", "x".repeat(51));
    let cases = [
        ("?tag=", "tag"),
        (long_tag.as_str(), "tag"),
        ("?source=fax", "source"),
        ("?delimiter=%3A%3A", "delimiter"),
        ("?workflow_id=nope", "workflow_id"),
        (unknown_workflow.as_str(), "workflow_id"),
        ("?import_id=has%20space", "import_id"),
        ("?mapping=%7B%22fax%22%3A%22Fax%22%7D", "mapping"),
        ("?mapping=nope", "mapping"),
    ];
    for (query, field) in cases {
        let reply = csv(&app, key, query, content).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            reply.text
        );
        assert_eq!(reply.error_field(), Some(field), "{query}");
    }
    let empty = csv(&app, key, "", "").await;
    assert_eq!(
        empty.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        empty.text
    );
    assert_eq!(empty.error_field(), Some("file"));
    let utf16 = upload(&app.base, key, "", "text/csv", vec![0xff, 0xfe, b'p', 0]).await;
    assert_eq!(utf16.error_field(), Some("file"), "{}", utf16.text);
    let (content_type, _) = form(b"");
    let no_file = upload(
        &app.base,
        key,
        "",
        &content_type,
        b"--bookerbot-test-boundary--\r\n".to_vec(),
    )
    .await;
    assert_eq!(
        no_file.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        no_file.text
    );
    assert_eq!(no_file.error_field(), Some("file"));
    let json = upload(&app.base, key, "", "application/json", b"{}".to_vec()).await;
    assert_eq!(
        json.status,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "{}",
        json.text
    );
    let outcome = app
        .get(key, "/api/v1/leads/imports/x/rows?outcome=skipped")
        .await;
    assert_eq!(outcome.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(outcome.error_field(), Some("outcome"));
    assert_eq!(app.event_count().await, 0);
}

#[tokio::test]
async fn an_upload_over_the_size_limit_is_refused_with_413_and_writes_nothing() {
    let db = TestDb::new().await;
    let settings = Settings {
        import_max_bytes: 1024,
        ..Settings::for_tests(db.url().to_string(), ADMIN)
    };
    let running = api::server::start(
        db.pool().clone(),
        Arc::new(ManualClock::new(start_time())),
        settings,
    )
    .await
    .unwrap();
    let base = format!("http://{}", running.addr);
    let created: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/tenants"))
        .bearer_auth(ADMIN)
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = created["api_key"].as_str().unwrap();
    let mut content = String::from("phone\n");
    for n in 0..100 {
        content.push_str(&format!("07700 9{n:05}\n"));
    }
    assert!(content.len() > 1024);

    let reply = upload(&base, key, "", "text/csv", content.clone().into_bytes()).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
    assert_eq!(reply.error_code(), Some("payload_too_large"));
    assert_eq!(reply.body["error"]["details"]["limit"], 1024);
    let (content_type, body) = form(content.as_bytes());
    let reply = upload(&base, key, "", &content_type, body).await;
    assert_eq!(
        reply.status,
        StatusCode::PAYLOAD_TOO_LARGE,
        "{}",
        reply.text
    );
    let small = upload(
        &base,
        key,
        "",
        "text/csv",
        b"phone\n07700 900001\n".to_vec(),
    )
    .await;
    assert_eq!(small.status, StatusCode::CREATED, "{}", small.text);
    let imports: i64 = sqlx::query_scalar("SELECT count(*) FROM lead_imports")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(imports, 1, "only the small file was recorded");
    running.stop().await.unwrap();
}

#[tokio::test]
async fn an_import_is_private_to_its_tenant_and_its_id_is_the_tenants_own() {
    let app = TestApp::spawn().await;
    let mine = app.create_tenant("Acme Dental").await;
    let theirs = app.create_tenant("Other Dental").await;
    let reply = csv(
        &app,
        &mine.key,
        "?import_id=shared",
        "phone\n07700 900040\n",
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);

    for path in [
        "/api/v1/leads/imports/shared",
        "/api/v1/leads/imports/shared/rows",
    ] {
        let other = app.get(&theirs.key, path).await;
        assert_eq!(
            other.status,
            StatusCode::NOT_FOUND,
            "{path}: {}",
            other.text
        );
        assert_eq!(other.body["error"]["details"]["resource"], "import");
        let own = app.get(&mine.key, path).await;
        assert_eq!(own.status, StatusCode::OK, "{path}: {}", own.text);
    }
    let same_id = csv(
        &app,
        &theirs.key,
        "?import_id=shared",
        "phone\n07700 900041\n",
    )
    .await;
    assert_eq!(same_id.status, StatusCode::CREATED, "{}", same_id.text);
    assert_eq!(same_id.body["replayed"], false);
    let unknown = app.get(&mine.key, "/api/v1/leads/imports/nope").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
}

/// Percent-encodes a query value.
fn urlencode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
