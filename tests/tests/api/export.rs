//! The CSV export over HTTP: the list's filters, custom fields as columns, CSV quoting, a
//! streamed body, and a round trip through the importer into an empty tenant.

use std::time::Instant;

use reqwest::StatusCode;
use serde_json::json;

use crate::bulk::{caught_up, lead, seed};
use crate::helpers::TestApp;

/// An export: status, content type, content disposition, whether a length was announced, body.
struct Export {
    status: StatusCode,
    content_type: String,
    disposition: String,
    length: Option<String>,
    text: String,
}

async fn export(app: &TestApp, key: &str, query: &str) -> Export {
    let response = reqwest::Client::new()
        .get(format!("{}/api/v1/leads/export.csv?{query}", app.base))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let content_type = header("content-type").unwrap_or_default();
    let disposition = header("content-disposition").unwrap_or_default();
    let length = header("content-length");
    let status = response.status();
    Export {
        status,
        content_type,
        disposition,
        length,
        text: response.text().await.unwrap(),
    }
}

#[tokio::test]
async fn an_export_follows_the_filters_puts_custom_fields_in_columns_and_quotes_properly() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Acme").await;
    let key = &tenant.key;
    let workflow = app.create_workflow(key, "Enquiries").await;
    let (amelia, _) = app
        .capture_new(
            key,
            json!({"first_name": "Amelia", "last_name": "O'Hara, Jr", "phone": "+44 7700 900201",
                   "email": "amelia@example.com", "tags": ["VIP", "spring"], "source": "website",
                   "workflow_id": workflow,
                   "custom_fields": {"plan": "gold", "note": "said \"hi\"\nthen left"}}),
        )
        .await;
    app.clock.advance(chrono::Duration::minutes(1));
    let (oliver, _) = app
        .capture_new(
            key,
            json!({"first_name": "Oliver", "phone": "+447700900202", "tags": ["spring"],
                   "custom_fields": {"visits": 3}}),
        )
        .await;
    app.clock.advance(chrono::Duration::minutes(1));
    let (_, position) = app
        .capture_new(
            key,
            json!({"first_name": "Noah", "email": "noah@example.org", "tags": ["autumn"],
                   "custom_fields": {"plan": "silver", "region": "north"}}),
        )
        .await;

    let spring = export(&app, key, &format!("tag=spring&min_position={position}")).await;
    assert_eq!(spring.status, StatusCode::OK, "{}", spring.text);
    assert_eq!(spring.content_type, "text/csv; charset=utf-8");
    assert_eq!(spring.disposition, "attachment; filename=\"leads.csv\"");
    assert_eq!(spring.length, None, "the body is streamed");
    let expected = format!(
        "id,first_name,last_name,phone,email,status,workflow_id,source,tags,created_at,\
         last_activity_at,note,plan,visits\n\
         {amelia},Amelia,\"O'Hara, Jr\",+447700900201,amelia@example.com,pending,{workflow},\
         website,spring|vip,2026-03-29T00:30:00Z,2026-03-29T00:30:00Z,\"said \"\"hi\"\"\nthen left\",gold,\n\
         {oliver},Oliver,,+447700900202,,pending,,api,spring,2026-03-29T00:31:00Z,\
         2026-03-29T00:31:00Z,,,3\n"
    );
    assert_eq!(spring.text, expected);

    let by_field = export(&app, key, "cf.plan=silver").await;
    assert_eq!(
        by_field.text.lines().next(),
        Some(
            "id,first_name,last_name,phone,email,status,workflow_id,source,tags,created_at,\
             last_activity_at,plan,region"
        ),
        "only the keys the exported leads use"
    );
    assert_eq!(by_field.text.lines().count(), 2);
    assert!(by_field
        .text
        .contains(",noah@example.org,pending,,api,autumn,"));

    let none = export(&app, key, "status=booked").await;
    assert_eq!(
        none.text,
        "id,first_name,last_name,phone,email,status,workflow_id,source,tags,created_at,\
         last_activity_at\n"
    );
    let bad = export(&app, key, "status=lost").await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("\"field\":\"status\""), "{}", bad.text);
    let other = app.create_tenant("Other").await;
    let theirs = export(&app, &other.key, "").await;
    assert_eq!(
        theirs.text.lines().count(),
        1,
        "another tenant's leads are not exported"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_large_export_is_streamed_in_order() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Big").await;
    let key = &tenant.key;
    let leads: Vec<_> = (0..20_000)
        .map(|n| lead(n, if n % 2 == 0 { &["even"] } else { &[] }))
        .collect();
    let (ids, position) = seed(app.db.pool(), &tenant.id, &leads).await;
    caught_up(&app, key, position).await;

    let started = Instant::now();
    let all = export(&app, key, "").await;
    let elapsed = started.elapsed();
    println!(
        "export of 20000 leads: {} bytes in {:.2} s ({:.0} rows/s)",
        all.text.len(),
        elapsed.as_secs_f64(),
        20_000.0 / elapsed.as_secs_f64()
    );
    assert_eq!(all.status, StatusCode::OK);
    assert_eq!(all.length, None, "the body is streamed");
    let exported: Vec<&str> = all
        .text
        .lines()
        .skip(1)
        .map(|line| line.split(',').next().unwrap())
        .collect();
    assert_eq!(exported, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let even = export(&app, key, "tag=even").await;
    assert_eq!(even.text.lines().count(), 10_001);
    app.stop().await;
}

/// The contact part of an export: one sorted line per lead of name, phone, email, tags and
/// every custom field (by key), so two tenants' exports compare regardless of ids and order.
fn contacts(csv_text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let keep: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(_, h)| {
            ![
                "id",
                "status",
                "workflow_id",
                "source",
                "created_at",
                "last_activity_at",
            ]
            .contains(&h.as_str())
        })
        .map(|(i, _)| i)
        .collect();
    let mut rows: Vec<Vec<String>> = reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            keep.iter().map(|i| record[*i].to_string()).collect()
        })
        .collect();
    rows.sort();
    (keep.iter().map(|i| headers[*i].clone()).collect(), rows)
}

/// Imports `csv_text` into the tenant of `key`, tagging every lead with `tags`.
async fn import(app: &TestApp, key: &str, csv_text: String, tags: &[&str]) -> serde_json::Value {
    let query: String = tags.iter().map(|t| format!("&tag={t}")).collect();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/api/v1/leads/import?source=csv_import{query}",
            app.base
        ))
        .bearer_auth(key)
        .header("content-type", "text/csv")
        .body(csv_text)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body
}

#[tokio::test]
async fn an_exported_tenant_imported_into_an_empty_tenant_gives_the_same_contacts() {
    let app = TestApp::spawn().await;
    let source = app.create_tenant("Source").await;
    let target = app.create_tenant("Target").await;
    let key = &source.key;
    let leads: Vec<_> = (0..1_000)
        .map(|n| {
            let mut lead = lead(n, if n % 3 == 0 { &["vip"] } else { &["vip", "spring"] });
            lead.custom_fields = domain::values::CustomFields::parse(
                json!({"member_no": format!("M{n:05}"), "plan": if n % 2 == 0 { "gold" } else { "basic" }}),
            )
            .unwrap();
            lead
        })
        .collect();
    seed(app.db.pool(), &source.id, &leads).await;
    for body in [
        json!({"first_name": "Zoë", "last_name": "O'Hara, Jr", "phone": "+44 7700 900301",
               "email": "zoe@example.com", "custom_fields": {"note": "said \"hi\"\nthen, left"}}),
        json!({"first_name": "Email", "last_name": "Only", "email": "only@example.org",
               "tags": ["spring"]}),
        json!({"first_name": "", "phone": "+447700900302", "tags": ["cold"],
               "custom_fields": {"plan": "trial"}}),
    ] {
        app.capture_new(key, body).await;
    }
    app.clock.advance(chrono::Duration::minutes(1));
    let (_, position) = app
        .capture_new(key, json!({"last_name": "Last", "phone": "+447700900303"}))
        .await;

    let exported = export(&app, key, &format!("min_position={position}")).await;
    assert_eq!(exported.status, StatusCode::OK);
    let (columns, original) = contacts(&exported.text);
    assert_eq!(original.len(), 1_004);

    // Re-import: drop the attribute columns the importer would take for custom fields, and
    // import each group of leads sharing a set of tags with those tags.
    let mut reader = csv::Reader::from_reader(exported.text.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    let tags_at = headers.iter().position(|h| h == "tags").unwrap();
    let kept: Vec<usize> = headers
        .iter()
        .enumerate()
        .filter(|(i, h)| *i != tags_at && columns.contains(h))
        .map(|(i, _)| i)
        .collect();
    let mut groups: std::collections::BTreeMap<String, csv::Writer<Vec<u8>>> = Default::default();
    for record in reader.records() {
        let record = record.unwrap();
        let writer = groups
            .entry(record[tags_at].to_string())
            .or_insert_with(|| {
                let mut writer = csv::Writer::from_writer(Vec::new());
                writer
                    .write_record(kept.iter().map(|i| &headers[*i]))
                    .unwrap();
                writer
            });
        writer
            .write_record(kept.iter().map(|i| &record[*i]))
            .unwrap();
    }
    let mut last = 0;
    let mut created = 0;
    for (tags, writer) in groups {
        let tags: Vec<&str> = tags.split('|').filter(|t| !t.is_empty()).collect();
        let text = String::from_utf8(writer.into_inner().unwrap()).unwrap();
        let report = import(&app, &target.key, text, &tags).await;
        assert_eq!(report["rejected"], 0, "{report}");
        created += report["created"].as_i64().unwrap();
        last = last.max(report["position"].as_i64().unwrap());
    }
    assert_eq!(created, 1_004);

    let reimported = export(&app, &target.key, &format!("min_position={last}")).await;
    let (reimported_columns, copy) = contacts(&reimported.text);
    assert_eq!(reimported_columns, columns);
    assert_eq!(copy, original);
    app.stop().await;
}
