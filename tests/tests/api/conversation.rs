//! `GET /api/v1/leads/{id}/conversation`: a lead's threads and messages, with delivery and the
//! AI's turns, scoped to the tenant. Messages are written by executing Conversation commands
//! against the app's database, with the server's messaging workers off so nothing else writes.

use std::collections::BTreeSet;

use bookerbot_tests::tenant_ctx;
use chrono::{DateTime, Duration, Utc};
use domain::conversation::{
    AiTurn, Conversation, ConversationCommand, ConversationId, DeliveryStatus, Intent,
    MessageContent, MessageOrigin,
};
use domain::values::{LeadId, MessageId, TenantId};
use domain::Channel;
use infrastructure::executor::{CommandExecutor, Existence};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{start_time, TestApp};

/// A server whose messaging workers are off: the conversations hold exactly what a test wrote.
async fn quiet_app() -> TestApp {
    TestApp::spawn_with(|settings| settings.run_workers = false).await
}

fn at(minutes: i64) -> DateTime<Utc> {
    start_time() + Duration::minutes(minutes)
}

fn time(value: &Value) -> DateTime<Utc> {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{value} is not a time"))
        .parse()
        .unwrap()
}

/// Runs conversation commands for one tenant's lead, remembering the last position written.
struct Writer {
    executor: CommandExecutor,
    tenant: TenantId,
    lead: LeadId,
    position: i64,
}

impl Writer {
    fn new(app: &TestApp, tenant: &str, lead: &str) -> Self {
        Self {
            executor: CommandExecutor::new(app.db.pool().clone(), 10),
            tenant: tenant.parse().unwrap(),
            lead: lead.parse().unwrap(),
            position: 0,
        }
    }

    async fn run(&mut self, channel: Channel, command: ConversationCommand) {
        let committed = self
            .executor
            .execute::<Conversation>(
                &tenant_ctx(self.tenant),
                &ConversationId::new(self.lead, channel).to_string(),
                Existence::MayCreate,
                command,
            )
            .await
            .unwrap_or_else(|error| panic!("a conversation command failed: {error}"));
        self.position = committed.position.unwrap_or(self.position);
    }

    async fn inbound(&mut self, channel: Channel, id: MessageId, body: &str, minute: i64) {
        let lead_id = self.lead;
        self.run(
            channel,
            ConversationCommand::ReceiveInbound {
                lead_id,
                channel,
                message_id: id,
                provider: "twilio".into(),
                provider_message_id: format!("SM{}", id.as_uuid().simple()),
                body: body.into(),
                received_at: at(minute),
                engage_ai: true,
            },
        )
        .await;
    }

    async fn queue(&mut self, channel: Channel, id: MessageId, body: &str, minute: i64) {
        let lead_id = self.lead;
        self.run(
            channel,
            ConversationCommand::QueueOutbound {
                lead_id,
                channel,
                message_id: id,
                content: MessageContent::text(body).unwrap(),
                origin: MessageOrigin::Outreach,
                now: at(minute),
            },
        )
        .await;
    }
}

/// The lead's thread: an SMS outreach, then on WhatsApp a question the AI answers after one
/// failed attempt, its reply delivered. Returns (outreach, question, reply).
async fn write_thread(writer: &mut Writer) -> (MessageId, MessageId, MessageId) {
    let (outreach, question, reply) = (MessageId::new(), MessageId::new(), MessageId::new());
    writer
        .queue(Channel::Sms, outreach, "Hi Ada, want to book a visit?", 0)
        .await;
    writer
        .run(
            Channel::Sms,
            ConversationCommand::RecordSent {
                message_id: outreach,
                provider: "twilio".into(),
                provider_message_id: "SM-outreach".into(),
                sent_at: at(1),
            },
        )
        .await;
    writer
        .inbound(Channel::Whatsapp, question, "How much is it?", 30)
        .await;
    writer
        .run(
            Channel::Whatsapp,
            ConversationCommand::RecordAiFailure {
                in_reply_to: question,
                error: "model timed out".into(),
                retry_at: Some(at(31)),
            },
        )
        .await;
    writer
        .run(
            Channel::Whatsapp,
            ConversationCommand::RecordAiTurn {
                turn: AiTurn {
                    in_reply_to: question,
                    engine: "openai".into(),
                    model: "gpt-test".into(),
                    input_tokens: 900,
                    cached_input_tokens: 512,
                    output_tokens: 60,
                    cost_micros: 4_321,
                    price_version: "2026-03".into(),
                    latency_ms: 640,
                    intent: Intent::Question,
                    answers: [("budget".to_string(), "200".to_string())].into(),
                    reply_message_id: Some(reply),
                    at: at(32),
                },
                reply: Some(MessageContent::text("It is £40 a visit.").unwrap()),
            },
        )
        .await;
    writer
        .run(
            Channel::Whatsapp,
            ConversationCommand::RecordSent {
                message_id: reply,
                provider: "whatsapp_cloud".into(),
                provider_message_id: "wamid.reply".into(),
                sent_at: at(32),
            },
        )
        .await;
    writer
        .run(
            Channel::Whatsapp,
            ConversationCommand::RecordDeliveryStatus {
                message_id: reply,
                status: DeliveryStatus::Delivered,
                at: at(33),
                error_code: None,
            },
        )
        .await;
    (outreach, question, reply)
}

#[tokio::test]
async fn the_conversation_shows_threads_messages_delivery_and_ai_turns() {
    let app = quiet_app().await;
    let owner = app.create_tenant("Owner").await;
    let (lead, _) = app
        .capture_new(
            &owner.key,
            json!({"first_name": "Ada", "phone": "+44 7700 900123"}),
        )
        .await;
    let mut writer = Writer::new(&app, &owner.id, &lead);
    let (outreach, question, reply) = write_thread(&mut writer).await;

    let path = format!(
        "/api/v1/leads/{lead}/conversation?min_position={}",
        writer.position
    );
    let answer = app.get(&owner.key, &path).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let body = &answer.body;
    assert_eq!(body["lead_id"], json!(lead));
    assert_eq!(body["next_before"], Value::Null);

    let threads = body["threads"].as_array().unwrap();
    assert_eq!(threads.len(), 2);
    let (sms, whatsapp) = (&threads[0], &threads[1]);
    assert_eq!(sms["channel"], "sms");
    assert_eq!(sms["whatsapp_window_open_until"], Value::Null);
    assert_eq!(sms["last_inbound_at"], Value::Null);
    assert_eq!(time(&sms["last_outbound_at"]), at(1));
    assert_eq!(whatsapp["channel"], "whatsapp");
    assert_eq!(whatsapp["handed_off"], false);
    assert_eq!(whatsapp["handed_off_reason"], Value::Null);
    assert_eq!(time(&whatsapp["last_inbound_at"]), at(30));
    assert_eq!(
        time(&whatsapp["whatsapp_window_open_until"]),
        at(30) + Duration::hours(24)
    );
    assert_eq!(
        (
            &whatsapp["inbound_messages"],
            &whatsapp["outbound_messages"]
        ),
        (&json!(1), &json!(1))
    );

    let messages = body["messages"].as_array().unwrap();
    let ids: Vec<&str> = messages.iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            outreach.to_string(),
            question.to_string(),
            reply.to_string()
        ]
    );
    let keys: BTreeSet<&str> = messages[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "id",
        "channel",
        "direction",
        "body",
        "status",
        "origin",
        "provider",
        "provider_message_id",
        "error_code",
        "error",
        "attempts",
        "created_at",
        "sent_at",
        "delivered_at",
        "read_at",
        "failed_at",
        "ai_turn",
        "ai_failures",
    ] {
        assert!(keys.contains(key), "a message lacks {key}: {}", messages[0]);
    }

    let sent = &messages[0];
    assert_eq!(
        (
            &sent["channel"],
            &sent["direction"],
            &sent["status"],
            &sent["origin"]
        ),
        (
            &json!("sms"),
            &json!("outbound"),
            &json!("sent"),
            &json!("outreach")
        )
    );
    assert_eq!(sent["provider_message_id"], "SM-outreach");
    assert_eq!(
        sent["content"],
        json!({"type": "text", "body": "Hi Ada, want to book a visit?"})
    );
    assert_eq!(time(&sent["sent_at"]), at(1));
    assert_eq!(sent["ai_turn"], Value::Null);

    let asked = &messages[1];
    assert_eq!(
        (&asked["direction"], &asked["status"], &asked["origin"]),
        (&json!("inbound"), &json!("received"), &Value::Null)
    );
    assert_eq!(asked["body"], "How much is it?");
    assert_eq!(
        asked["ai_turn"],
        json!({
            "engine": "openai",
            "model": "gpt-test",
            "intent": "question",
            "answers": {"budget": "200"},
            "input_tokens": 900,
            "cached_input_tokens": 512,
            "output_tokens": 60,
            "cost_micros": 4321,
            "price_version": "2026-03",
            "latency_ms": 640,
            "reply_message_id": reply.to_string(),
            "at": asked["ai_turn"]["at"],
        })
    );
    assert_eq!(time(&asked["ai_turn"]["at"]), at(32));
    let failures = asked["ai_failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1);
    assert_eq!(
        (&failures[0]["attempt"], &failures[0]["error"]),
        (&json!(1), &json!("model timed out"))
    );
    assert_eq!(time(&failures[0]["retry_at"]), at(31));

    let answered = &messages[2];
    assert_eq!(
        (
            &answered["channel"],
            &answered["status"],
            &answered["origin"]
        ),
        (&json!("whatsapp"), &json!("delivered"), &json!("ai"))
    );
    assert_eq!(time(&answered["delivered_at"]), at(33));
    assert_eq!(answered["ai_turn"], Value::Null);
    assert_eq!(answered["ai_failures"], json!([]));

    // The lead answer gained the time of the lead's last message.
    let lead_answer = app
        .get(
            &owner.key,
            &format!("/api/v1/leads/{lead}?min_position={}", writer.position),
        )
        .await;
    assert_eq!(lead_answer.status, StatusCode::OK, "{}", lead_answer.text);
    assert_eq!(time(&lead_answer.body["last_inbound_at"]), at(30));
    assert_eq!(time(&lead_answer.body["last_contacted_at"]), at(32));
    assert_eq!(time(&lead_answer.body["last_message_at"]), at(32));
}

#[tokio::test]
async fn the_newest_messages_come_first_and_before_pages_back_through_a_channel() {
    let app = quiet_app().await;
    let owner = app.create_tenant("Owner").await;
    let (lead, _) = app
        .capture_new(&owner.key, json!({"phone": "+44 7700 900124"}))
        .await;
    let mut writer = Writer::new(&app, &owner.id, &lead);
    let sms: Vec<MessageId> = (0..3).map(|_| MessageId::new()).collect();
    for (n, id) in sms.iter().enumerate() {
        writer.queue(Channel::Sms, *id, "Hello", n as i64).await;
    }
    writer
        .inbound(Channel::Whatsapp, MessageId::new(), "Hi there", 10)
        .await;
    let base = format!("/api/v1/leads/{lead}/conversation");

    let page = app
        .get(
            &owner.key,
            &format!(
                "{base}?channel=sms&limit=2&min_position={}",
                writer.position
            ),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let ids = |body: &Value| -> Vec<String> {
        body["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(ids(&page.body), [sms[1].to_string(), sms[2].to_string()]);
    assert_eq!(page.body["next_before"], json!(sms[1].to_string()));
    let channels: Vec<&str> = page.body["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["sms"]);

    let older = app
        .get(
            &owner.key,
            &format!("{base}?channel=sms&limit=2&before={}", sms[1]),
        )
        .await;
    assert_eq!(older.status, StatusCode::OK, "{}", older.text);
    assert_eq!(ids(&older.body), [sms[0].to_string()]);
    assert_eq!(older.body["next_before"], Value::Null);

    let all = app.get(&owner.key, &base).await;
    assert_eq!(all.body["messages"].as_array().unwrap().len(), 4);
    assert_eq!(all.body["threads"].as_array().unwrap().len(), 2);

    let unknown = format!("before={}", MessageId::new());
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("before=nonsense", "before"),
        (unknown.as_str(), "before"),
    ] {
        let refused = app.get(&owner.key, &format!("{base}?{query}")).await;
        assert_eq!(
            refused.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            refused.text
        );
        assert_eq!(refused.error_field(), Some(field), "{query}");
    }
    let bad_channel = app.get(&owner.key, &format!("{base}?channel=fax")).await;
    assert_eq!(
        bad_channel.status,
        StatusCode::BAD_REQUEST,
        "{}",
        bad_channel.text
    );
    assert_eq!(bad_channel.error_field(), Some("channel"));
}

#[tokio::test]
async fn a_lead_without_messages_has_an_empty_conversation_and_others_get_404() {
    let app = quiet_app().await;
    let owner = app.create_tenant("Owner").await;
    let intruder = app.create_tenant("Intruder").await;
    let (quiet, _) = app
        .capture_new(&owner.key, json!({"phone": "+44 7700 900125"}))
        .await;
    let (talked, _) = app
        .capture_new(&owner.key, json!({"phone": "+44 7700 900126"}))
        .await;
    let mut writer = Writer::new(&app, &owner.id, &talked);
    writer
        .inbound(Channel::Sms, MessageId::new(), "Hello?", 0)
        .await;

    let empty = app
        .get(&owner.key, &format!("/api/v1/leads/{quiet}/conversation"))
        .await;
    assert_eq!(empty.status, StatusCode::OK, "{}", empty.text);
    assert_eq!(
        empty.body,
        json!({"lead_id": quiet, "threads": [], "messages": [], "next_before": null})
    );

    let path = format!(
        "/api/v1/leads/{talked}/conversation?min_position={}",
        writer.position
    );
    let seen = app.get(&owner.key, &path).await;
    assert_eq!(seen.body["messages"].as_array().unwrap().len(), 1);
    for (key, lead) in [
        (&intruder.key, talked.clone()),
        (&intruder.key, quiet.clone()),
        (&owner.key, LeadId::new().to_string()),
        (&owner.key, "not-a-lead".to_string()),
    ] {
        let hidden = app
            .get(key, &format!("/api/v1/leads/{lead}/conversation"))
            .await;
        assert_eq!(
            hidden.status,
            StatusCode::NOT_FOUND,
            "{lead}: {}",
            hidden.text
        );
        assert_eq!(hidden.error_code(), Some("not_found"));
    }
    let anonymous = app
        .send(
            reqwest::Method::GET,
            &format!("/api/v1/leads/{talked}/conversation"),
            None,
            None,
        )
        .await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_spec_documents_the_conversation_and_its_enums() {
    let app = quiet_app().await;
    let spec = app
        .send(reqwest::Method::GET, "/api/openapi.json", None, None)
        .await;
    assert_eq!(spec.status, StatusCode::OK);
    let operation = &spec.body["paths"]["/api/v1/leads/{id}/conversation"]["get"];
    assert_eq!(operation["operationId"], "get_lead_conversation");
    let parameters: BTreeSet<&str> = operation["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        parameters,
        BTreeSet::from(["id", "channel", "limit", "before", "min_position"])
    );
    let schemas = &spec.body["components"]["schemas"];
    for (schema, values) in [
        (
            "MessageStatus",
            vec![
                "received",
                "queued",
                "sent",
                "delivered",
                "undelivered",
                "failed",
                "read",
                "cancelled",
            ],
        ),
        ("MessageDirection", vec!["inbound", "outbound"]),
    ] {
        assert_eq!(schemas[schema]["enum"], json!(values), "{schema}");
    }
    for schema in [
        "Conversation",
        "ConversationThread",
        "ConversationMessage",
        "AiTurn",
        "AiFailure",
    ] {
        assert!(schemas[schema].is_object(), "the spec documents {schema}");
    }
}
