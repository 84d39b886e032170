//! `GET /api/v1/activity`: the tenant's activity feed end to end — newest first, a cursor that
//! visits every item once, kind and lead filters, 422s naming the field, and tenant isolation.
//! Leads are captured and changed over HTTP; an inbound message is written by executing a
//! Conversation command against the app's database, with the messaging workers off.

use bookerbot_tests::tenant_ctx;
use chrono::Utc;
use domain::conversation::{Conversation, ConversationCommand, ConversationId};
use domain::values::{LeadId, MessageId, TenantId};
use domain::Channel;
use infrastructure::executor::{CommandExecutor, Existence};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::TestApp;

/// The lead writes on SMS; returns the position written.
async fn inbound(app: &TestApp, tenant: &str, lead: &str) -> i64 {
    let lead: LeadId = lead.parse().unwrap();
    let message_id = MessageId::new();
    let committed = CommandExecutor::new(app.db.pool().clone(), 10)
        .execute::<Conversation>(
            &tenant_ctx(tenant.parse::<TenantId>().unwrap()),
            &ConversationId::new(lead, Channel::Sms).to_string(),
            Existence::MayCreate,
            ConversationCommand::ReceiveInbound {
                lead_id: lead,
                channel: Channel::Sms,
                message_id,
                provider: "twilio".into(),
                provider_message_id: format!("SM{}", message_id.as_uuid().simple()),
                body: "Is Friday free?".into(),
                received_at: Utc::now(),
                engage_ai: false,
            },
        )
        .await
        .unwrap();
    committed.position.unwrap()
}

/// The (kind, summary) of each item of a reply.
fn kinds_and_summaries(body: &Value) -> Vec<(String, String)> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| {
            (
                item["kind"].as_str().unwrap().to_owned(),
                item["summary"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn positions(body: &Value) -> Vec<i64> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["position"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_feed_is_newest_first_paged_filtered_validated_and_scoped_to_the_tenant() {
    let app = TestApp::spawn_with(|settings| settings.run_workers = false).await;
    let acme = app.create_tenant("Acme").await;
    let other = app.create_tenant("Other").await;
    let (ada, _) = app
        .capture_new(
            &acme.key,
            json!({"first_name": "Ada", "last_name": "Lovelace", "phone": "+44 7700 900301"}),
        )
        .await;
    let (bob, _) = app
        .capture_new(
            &acme.key,
            json!({"first_name": "Bob", "phone": "+44 7700 900302", "source": "referral"}),
        )
        .await;
    let (eve, _) = app
        .capture_new(
            &other.key,
            json!({"first_name": "Eve", "phone": "+44 7700 900303"}),
        )
        .await;
    let replied = inbound(&app, &acme.id, &ada).await;
    let qualified = app
        .post(
            &acme.key,
            &format!("/api/v1/leads/{ada}/status"),
            json!({"status": "qualified", "reason": "called the office"}),
        )
        .await;
    assert_eq!(qualified.status, StatusCode::OK, "{}", qualified.text);
    let opted = app
        .post(
            &acme.key,
            &format!("/api/v1/leads/{bob}/opt-out"),
            json!({"reason": "asked by phone"}),
        )
        .await;
    assert_eq!(opted.status, StatusCode::OK, "{}", opted.text);
    let last = opted.body["position"].as_i64().unwrap();
    let theirs_at = inbound(&app, &other.id, &eve).await;

    let all = app
        .get(&acme.key, &format!("/api/v1/activity?min_position={last}"))
        .await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    let expected = vec![
        ("lead_opted_out", "Bob opted out"),
        ("lead_qualified", "Ada Lovelace qualified"),
        ("message_received", "Ada Lovelace replied on SMS"),
        ("lead_captured", "Bob was captured from referral"),
        ("lead_captured", "Ada Lovelace was captured from api"),
    ];
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(k, s)| (k.to_owned(), s.to_owned()))
        .collect();
    assert_eq!(kinds_and_summaries(&all.body), expected);
    assert_eq!(all.body["next_cursor"], Value::Null);
    let message = &all.body["items"][2];
    assert_eq!(
        (
            message["position"].as_i64(),
            message["lead_id"].as_str(),
            message["channel"].as_str(),
            &message["appointment_id"],
        ),
        (Some(replied), Some(ada.as_str()), Some("sms"), &Value::Null)
    );
    let mut keys: Vec<&str> = message
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        vec![
            "appointment_id",
            "at",
            "channel",
            "kind",
            "lead_id",
            "position",
            "summary"
        ]
    );

    // Two at a time, the cursor visits every item once, in the same order.
    let mut visited = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/api/v1/activity?limit=2&cursor={cursor}"),
            None => "/api/v1/activity?limit=2".to_owned(),
        };
        let page = app.get(&acme.key, &path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        visited.extend(positions(&page.body));
        pages += 1;
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(visited, positions(&all.body));

    // Filters by kind and by lead.
    let captured = app
        .get(&acme.key, "/api/v1/activity?kind=lead_captured")
        .await;
    assert_eq!(kinds_and_summaries(&captured.body), expected[3..].to_vec());
    let bobs = app
        .get(&acme.key, &format!("/api/v1/activity?lead_id={bob}"))
        .await;
    assert_eq!(
        kinds_and_summaries(&bobs.body),
        vec![expected[0].clone(), expected[3].clone()]
    );
    let adas_messages = app
        .get(
            &acme.key,
            &format!("/api/v1/activity?lead_id={ada}&kind=message_received"),
        )
        .await;
    assert_eq!(positions(&adas_messages.body), vec![replied]);

    // 422 naming the field.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("cursor=nonsense", "cursor"),
        ("cursor=a-5", "cursor"),
        ("kind=lead_exploded", "kind"),
        ("lead_id=not-a-uuid", "lead_id"),
    ] {
        let reply = app
            .get(&acme.key, &format!("/api/v1/activity?{query}"))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            reply.text
        );
        assert_eq!(reply.error_field(), Some(field), "{query}: {}", reply.text);
    }
    let most = app.get(&acme.key, "/api/v1/activity?limit=200").await;
    assert_eq!(most.status, StatusCode::OK, "{}", most.text);

    // The other tenant sees its own activity only, even when naming Acme's lead.
    let theirs = app
        .get(
            &other.key,
            &format!("/api/v1/activity?min_position={theirs_at}"),
        )
        .await;
    assert_eq!(
        kinds_and_summaries(&theirs.body),
        vec![
            (
                "message_received".to_owned(),
                "Eve replied on SMS".to_owned()
            ),
            (
                "lead_captured".to_owned(),
                "Eve was captured from api".to_owned()
            ),
        ]
    );
    let snooping = app
        .get(&other.key, &format!("/api/v1/activity?lead_id={ada}"))
        .await;
    assert_eq!(snooping.status, StatusCode::OK, "{}", snooping.text);
    assert_eq!(snooping.body["items"], json!([]));
    let unauthenticated = app.get("not-a-key", "/api/v1/activity").await;
    assert_eq!(unauthenticated.status, StatusCode::UNAUTHORIZED);
}
