//! The conversation models: the OpenAI-compatible adapter against a local fake of the chat
//! completions API (exact request, tool-call answers, exact token costs, every failure shape),
//! and the rules engine on scripted conversations (qualification, every intent, slot choice
//! across a daylight-saving change, determinism). Then follow-ups: the rules engine's texts, the
//! adapter's follow-up requests, and a timer's follow-up written (falling back to the rules
//! engine when the model fails) and recorded with its cost.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use application::conversation_model::{
    ConversationModel, HistoryLine, ModelError, ModelPurpose, ModelReply, ModelRequest,
    OfferedSlot, Speaker,
};
use bookerbot_tests::{FakeHttp, FakeResponse};
use chrono::{DateTime, TimeZone, Utc};
use domain::conversation::Intent;
use domain::QualificationQuestion;
use infrastructure::ai::{OpenAiCompatibleModel, PriceTable, RulesEngine, MAX_FOLLOW_UP_CHARS};
use infrastructure::http_client::provider_client;
use serde_json::{json, Value};

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

fn questions() -> Vec<QualificationQuestion> {
    vec![
        QualificationQuestion::parse("homeowner", "Do you own your home?", ["Yes"]).unwrap(),
        QualificationQuestion::parse(
            "timeline",
            "When are you looking to start?",
            ["ASAP", "this month"],
        )
        .unwrap(),
    ]
}

fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
}

/// Monday 2 March 2026, 09:00 in London.
fn now() -> DateTime<Utc> {
    at(2026, 3, 2, 9, 0)
}

/// A request whose history is the opening question, then `lines` alternating lead / business,
/// starting with the lead.
fn request(lines: &[&str]) -> ModelRequest {
    let mut history = vec![HistoryLine {
        speaker: Speaker::Business,
        text: "Hi Sam, thanks for your enquiry! Do you own your home?".to_owned(),
        at: now(),
    }];
    for (i, text) in lines.iter().enumerate() {
        history.push(HistoryLine {
            speaker: if i % 2 == 0 {
                Speaker::Lead
            } else {
                Speaker::Business
            },
            text: (*text).to_owned(),
            at: now(),
        });
    }
    ModelRequest {
        purpose: ModelPurpose::Reply,
        brand_name: "Acme Solar".to_owned(),
        instructions: "We install solar panels in Greater London.".to_owned(),
        questions: questions(),
        answers: BTreeMap::new(),
        lead_first_name: "Sam".to_owned(),
        timezone: "Europe/London".to_owned(),
        offered_slots: Vec::new(),
        history,
        now: now(),
    }
}

fn slot(start: DateTime<Utc>, label: &str) -> OfferedSlot {
    OfferedSlot {
        start,
        label: label.to_owned(),
    }
}

fn answers(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// OpenAI-compatible adapter
// ---------------------------------------------------------------------------------------------

fn model(fake: &FakeHttp, timeout: Duration) -> OpenAiCompatibleModel {
    OpenAiCompatibleModel::new(
        provider_client(timeout).unwrap(),
        format!("{}/", fake.base),
        Some("sk-test".to_owned()),
        "gpt-4o-mini".to_owned(),
        Arc::new(PriceTable::builtin()),
    )
}

/// A chat completion calling `respond_to_lead` with `arguments` (sent as a JSON string).
fn tool_call(model: &str, arguments: &str, usage: Value) -> FakeResponse {
    FakeResponse::json(
        200,
        json!({
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1_772_442_000,
            "model": model,
            "choices": [{
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": null,
                    "tool_calls": [{
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "respond_to_lead", "arguments": arguments}
                    }]
                },
                "finish_reason": "tool_calls"
            }],
            "usage": usage
        }),
    )
}

fn usage_1234_200_56() -> Value {
    json!({
        "prompt_tokens": 1234,
        "completion_tokens": 56,
        "total_tokens": 1290,
        "prompt_tokens_details": {"cached_tokens": 200, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0}
    })
}

fn simple_answer() -> FakeResponse {
    tool_call(
        "gpt-4o-mini",
        r#"{"intent":"answer","answers":{"homeowner":"Yes","timeline":null},"chosen_slot":null,"reply":"When are you looking to start?"}"#,
        json!({"prompt_tokens": 10, "completion_tokens": 2}),
    )
}

async fn respond_with(
    response: FakeResponse,
    request: &ModelRequest,
) -> Result<ModelReply, ModelError> {
    let fake = FakeHttp::start(move |_| response.clone()).await;
    model(&fake, Duration::from_secs(5)).respond(request).await
}

#[tokio::test]
async fn the_request_is_an_exact_chat_completion_forcing_the_tool() {
    let fake = FakeHttp::start(|_| simple_answer()).await;
    let mut req = request(&["Yes I do", "Great! When are you looking to start?", "hmm"]);
    req.answers = answers(&[("homeowner", "Yes")]);
    req.offered_slots = vec![slot(at(2026, 3, 3, 15, 0), "Tue 3 Mar 15:00")];

    model(&fake, Duration::from_secs(5))
        .respond(&req)
        .await
        .unwrap();

    let sent = fake.requests();
    assert_eq!(sent.len(), 1, "the adapter does not retry");
    let sent = &sent[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-test"));
    assert!(sent
        .header("content-type")
        .unwrap()
        .starts_with("application/json"));
    let body = sent.json();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(body["temperature"], 0);

    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "assistant", "user", "assistant", "user"]);
    let contents: Vec<&str> = messages[1..]
        .iter()
        .map(|m| m["content"].as_str().unwrap())
        .collect();
    assert_eq!(
        contents,
        [
            "Hi Sam, thanks for your enquiry! Do you own your home?",
            "Yes I do",
            "Great! When are you looking to start?",
            "hmm"
        ]
    );
    let system = messages[0]["content"].as_str().unwrap();
    for expected in [
        "Acme Solar",
        "a lead named Sam",
        "We install solar panels in Greater London.",
        "key \"homeowner\": Do you own your home?",
        "Answer so far: \"Yes\"",
        "key \"timeline\": When are you looking to start?",
        "Answer so far: not answered yet",
        "1. Tue 3 Mar 15:00 (Tuesday 2026-03-03 15:00)",
        "Monday 2 March 2026, 09:00",
        "Europe/London",
        "Never invent",
    ] {
        assert!(
            system.contains(expected),
            "{expected:?} missing from {system}"
        );
    }

    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "respond_to_lead"}})
    );
    let tools = body["tools"].as_array().unwrap();
    assert_eq!(tools.len(), 1);
    assert_eq!(tools[0]["type"], "function");
    let function = &tools[0]["function"];
    assert_eq!(function["name"], "respond_to_lead");
    assert_eq!(function["strict"], true);
    assert!(function["description"].as_str().is_some());
    let parameters = &function["parameters"];
    assert_eq!(parameters["type"], "object");
    assert_eq!(parameters["additionalProperties"], false);
    assert_eq!(
        parameters["required"],
        json!(["intent", "answers", "chosen_slot", "reply"])
    );
    let intents: Vec<&str> = Intent::ALL.iter().map(|i| i.as_str()).collect();
    assert_eq!(parameters["properties"]["intent"]["enum"], json!(intents));
    let answers_schema = &parameters["properties"]["answers"];
    assert_eq!(answers_schema["type"], "object");
    assert_eq!(answers_schema["additionalProperties"], false);
    assert_eq!(answers_schema["required"], json!(["homeowner", "timeline"]));
    let keys: Vec<&String> = answers_schema["properties"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(keys, ["homeowner", "timeline"]);
    assert_eq!(
        answers_schema["properties"]["timeline"]["type"],
        json!(["string", "null"])
    );
    assert_eq!(
        parameters["properties"]["chosen_slot"]["type"],
        json!(["integer", "null"])
    );
    assert_eq!(
        parameters["properties"]["reply"]["type"],
        json!(["string", "null"])
    );
}

#[tokio::test]
async fn without_a_key_no_authorization_is_sent_and_v1_is_not_doubled() {
    let fake = FakeHttp::start(|_| simple_answer()).await;
    let model = OpenAiCompatibleModel::new(
        provider_client(Duration::from_secs(5)).unwrap(),
        format!("{}/v1", fake.base),
        None,
        "llama3".to_owned(),
        Arc::new(PriceTable::builtin()),
    );
    model.respond(&request(&["yes"])).await.unwrap();
    let sent = &fake.requests()[0];
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), None);
}

#[tokio::test]
async fn a_tool_call_becomes_the_reply_with_exact_tokens_and_cost() {
    let mut req = request(&["Yes, and I'd like the Tuesday one"]);
    req.offered_slots = vec![
        slot(at(2026, 3, 3, 10, 0), "Tue 3 Mar 10:00"),
        slot(at(2026, 3, 3, 15, 0), "Tue 3 Mar 15:00"),
    ];
    let arguments = json!({
        "intent": "booking",
        "answers": {"homeowner": "Yes", "timeline": null, "budget": "10k"},
        "chosen_slot": 2,
        "reply": "  Great, Sam! Tue 3 Mar 15:00 it is.  "
    })
    .to_string();
    let response = tool_call("gpt-4o-mini-2024-07-18", &arguments, usage_1234_200_56());

    let reply = respond_with(response, &req).await.unwrap();

    assert_eq!(reply.intent, Intent::Booking);
    assert_eq!(reply.answers, answers(&[("homeowner", "Yes")]));
    assert_eq!(reply.chosen_slot, Some(1));
    assert_eq!(
        reply.reply.as_deref(),
        Some("Great, Sam! Tue 3 Mar 15:00 it is.")
    );
    assert_eq!(reply.engine, "openai");
    let usage = reply.usage.unwrap();
    assert_eq!(usage.model, "gpt-4o-mini-2024-07-18");
    assert_eq!(usage.input_tokens, 1234);
    assert_eq!(usage.cached_input_tokens, 200);
    assert_eq!(usage.output_tokens, 56);
    // (1234 − 200) × 150 000 + 200 × 75 000 + 56 × 600 000 = 203 700 000 µ$/1M → 203.7 → 204.
    assert_eq!(usage.cost_micros, 204);
    assert_eq!(usage.price_version, "builtin-2026-11");
}

#[tokio::test]
async fn an_unpriced_model_costs_zero_under_the_unpriced_version() {
    let response = tool_call(
        "my-local-llm",
        r#"{"intent":"other","answers":{},"chosen_slot":null,"reply":null}"#,
        json!({"prompt_tokens": 500, "completion_tokens": 20}),
    );
    let reply = respond_with(response, &request(&["hello"])).await.unwrap();
    let usage = reply.usage.unwrap();
    assert_eq!((usage.input_tokens, usage.output_tokens), (500, 20));
    assert_eq!(usage.cost_micros, 0);
    assert_eq!(usage.price_version, "builtin-2026-11:unpriced");
    assert_eq!(reply.reply, None);
}

#[tokio::test]
async fn out_of_range_slots_and_blank_replies_are_dropped() {
    let mut req = request(&["the fifth one"]);
    req.offered_slots = vec![slot(at(2026, 3, 3, 10, 0), "Tue 3 Mar 10:00")];
    for chosen in ["0", "2", "-1", "\"1\""] {
        let arguments = format!(
            r#"{{"intent":"booking","answers":{{}},"chosen_slot":{chosen},"reply":"   "}}"#
        );
        let response = tool_call("gpt-4o-mini", &arguments, json!({}));
        let reply = respond_with(response, &req).await.unwrap();
        assert_eq!(reply.chosen_slot, None, "{chosen}");
        assert_eq!(reply.reply, None);
        assert_eq!(reply.usage.unwrap().input_tokens, 0);
    }
}

#[tokio::test]
async fn server_errors_and_rate_limits_are_unavailable() {
    for status in [500, 502, 503, 429] {
        let response = FakeResponse::json(
            status,
            json!({"error": {"message": "The server had an error", "type": "server_error"}}),
        );
        let error = respond_with(response, &request(&["yes"]))
            .await
            .unwrap_err();
        match error {
            ModelError::Unavailable(message) => {
                assert!(message.contains(&status.to_string()), "{message}");
                assert!(message.contains("The server had an error"), "{message}");
            }
            other => panic!("{status}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn client_errors_are_refusals_with_the_providers_message() {
    let response = FakeResponse::json(
        401,
        json!({"error": {"message": "Incorrect API key provided: sk-test.", "type": "invalid_request_error", "code": "invalid_api_key"}}),
    );
    let error = respond_with(response, &request(&["yes"]))
        .await
        .unwrap_err();
    assert_eq!(
        error,
        ModelError::Refused("HTTP 401: Incorrect API key provided: sk-test.".to_owned())
    );
    let response = FakeResponse::json(
        404,
        json!({"error": {"message": "The model `gpt-9` does not exist", "code": "model_not_found"}}),
    );
    let error = respond_with(response, &request(&["yes"]))
        .await
        .unwrap_err();
    assert!(matches!(error, ModelError::Refused(m) if m.contains("gpt-9")));
}

#[tokio::test]
async fn an_answer_after_the_client_timeout_is_a_timeout() {
    let fake = FakeHttp::start(|_| simple_answer().delayed(Duration::from_secs(2))).await;
    let started = std::time::Instant::now();
    let error = model(&fake, Duration::from_millis(300))
        .respond(&request(&["yes"]))
        .await
        .unwrap_err();
    let ModelError::Timeout(waited) = error else {
        panic!("expected a timeout, got {error:?}");
    };
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(fake.requests().len(), 1);
}

#[tokio::test]
async fn a_provider_that_cannot_be_reached_is_unavailable() {
    let fake = FakeHttp::start(|_| simple_answer()).await;
    let base = fake.base.clone();
    drop(fake);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let model = OpenAiCompatibleModel::new(
        provider_client(Duration::from_secs(2)).unwrap(),
        base,
        None,
        "gpt-4o-mini".to_owned(),
        Arc::new(PriceTable::builtin()),
    );
    let error = model.respond(&request(&["yes"])).await.unwrap_err();
    assert!(matches!(error, ModelError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn unusable_answers_are_malformed() {
    let not_json = tool_call("gpt-4o-mini", "{\"intent\": \"answer\"", json!({}));
    let unknown_intent = tool_call(
        "gpt-4o-mini",
        r#"{"intent":"purchase","answers":{},"chosen_slot":null,"reply":"ok"}"#,
        json!({}),
    );
    let answers_not_text = tool_call(
        "gpt-4o-mini",
        r#"{"intent":"answer","answers":{"homeowner":["yes"]},"chosen_slot":null,"reply":"ok"}"#,
        json!({}),
    );
    let no_tool_calls = FakeResponse::json(
        200,
        json!({
            "id": "chatcmpl-2", "object": "chat.completion", "model": "gpt-4o-mini",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Sure!"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 10, "completion_tokens": 3}
        }),
    );
    let no_choices = FakeResponse::json(200, json!({"id": "x", "choices": []}));
    let not_a_completion = FakeResponse::text(200, "<html>gateway</html>");
    let cases = [
        ("not JSON", not_json, "not JSON"),
        (
            "unknown intent",
            unknown_intent,
            "unknown intent \"purchase\"",
        ),
        ("answers not text", answers_not_text, "homeowner"),
        ("no tool calls", no_tool_calls, "finish_reason: stop"),
        ("no choices", no_choices, "no choices"),
        (
            "not a completion",
            not_a_completion,
            "not a chat completion",
        ),
    ];
    for (case, response, expected) in cases {
        match respond_with(response, &request(&["yes"])).await {
            Err(ModelError::Malformed(message)) => {
                assert!(message.contains(expected), "{case}: {message}");
            }
            other => panic!("{case}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Rules engine
// ---------------------------------------------------------------------------------------------

async fn rules(request: &ModelRequest) -> ModelReply {
    let reply = RulesEngine::new().respond(request).await.unwrap();
    assert_eq!(reply.engine, "rules");
    assert_eq!(reply.usage, None);
    reply
}

#[tokio::test]
async fn a_qualification_dialogue_records_answers_in_order_then_qualifies() {
    let first = request(&["Yes I do!"]);
    let reply = rules(&first).await;
    assert_eq!(reply.intent, Intent::Answer);
    assert_eq!(reply.answers, answers(&[("homeowner", "Yes")]));
    assert_eq!(
        reply.reply.as_deref(),
        Some("When are you looking to start?")
    );

    let mut second = request(&["Yes I do!", "When are you looking to start?", "asap please"]);
    second.answers = reply.answers;
    let reply = rules(&second).await;
    assert_eq!(reply.intent, Intent::Answer);
    assert_eq!(reply.answers, answers(&[("timeline", "ASAP")]));
    assert_eq!(
        reply.reply.as_deref(),
        Some(
            "Great news, Sam, you qualify! Would you like to book an appointment with Acme Solar?"
        )
    );

    let mut late = second.clone();
    late.history.last_mut().unwrap().text = "Next year probably".to_owned();
    let reply = rules(&late).await;
    assert_eq!(
        reply.answers,
        answers(&[("timeline", "Next year probably")])
    );
    let text = reply.reply.unwrap();
    assert!(text.starts_with("Thanks for your answers, Sam."), "{text}");
}

#[tokio::test]
async fn every_intent_is_recognised() {
    let cases = [
        ("please stop texting me", Intent::OptOut),
        ("Remove me from your list", Intent::OptOut),
        ("unsubscribe me", Intent::OptOut),
        ("Stop it.", Intent::OptOut),
        ("Don't contact me again", Intent::OptOut),
        ("Can I speak to a real person?", Intent::HumanRequest),
        ("I'd rather talk to someone", Intent::HumanRequest),
        ("just call me tomorrow", Intent::HumanRequest),
        ("Sorry, wrong number", Intent::WrongNumber),
        ("I never signed up for this", Intent::WrongNumber),
        ("not interested", Intent::NotInterested),
        ("No thanks", Intent::NotInterested),
        ("leave me alone", Intent::NotInterested),
        ("I'd like to book an appointment", Intent::Booking),
        ("When are you available?", Intent::Booking),
        ("That's too expensive", Intent::Objection),
        ("How much does it cost?", Intent::Objection),
        ("I'm not sure, need to think about it", Intent::Objection),
        ("What areas do you cover?", Intent::Question),
        ("Who is this?", Intent::Question),
        ("do you offer financing", Intent::Question),
        ("I rent a flat", Intent::Answer),
        ("Hi", Intent::Other),
    ];
    for (text, expected) in cases {
        let reply = rules(&request(&[text])).await;
        assert_eq!(reply.intent, expected, "{text}");
        if expected == Intent::OptOut {
            assert_eq!(reply.reply, None, "{text}");
        } else {
            assert!(reply.reply.is_some(), "{text}");
        }
        if expected != Intent::Answer {
            assert!(reply.answers.is_empty(), "{text}: {:?}", reply.answers);
        }
    }
}

#[tokio::test]
async fn replies_fit_the_intent() {
    let reply = |text: &'static str| async move { rules(&request(&[text])).await.reply.unwrap() };
    assert!(reply("Can I speak to someone?")
        .await
        .contains("A member of the Acme Solar team will be in touch"));
    assert!(reply("wrong number")
        .await
        .starts_with("Sorry for the mix-up"));
    assert!(reply("no thanks").await.starts_with("No problem, Sam"));
    let objection = reply("too expensive").await;
    assert!(
        objection.starts_with("I completely understand, Sam"),
        "{objection}"
    );
    assert!(objection.ends_with("Do you own your home?"), "{objection}");
    let question = reply("Do you cover Kent?").await;
    assert!(question.contains("Someone from the Acme Solar team will follow up"));
    assert!(question.ends_with("Do you own your home?"), "{question}");
    let who = reply("who is this?").await;
    assert!(who.contains("it's Acme Solar"), "{who}");
    assert_eq!(reply("Hi").await, "Hi, Sam! Do you own your home?");
    let booking = reply("Can I book in?").await;
    assert!(
        booking.ends_with("Just one thing first: Do you own your home?"),
        "{booking}"
    );
}

#[tokio::test]
async fn a_question_answers_only_when_it_contains_a_qualifying_answer() {
    let reply = rules(&request(&["Yes, do you do battery storage too?"])).await;
    assert_eq!(reply.intent, Intent::Question);
    assert_eq!(reply.answers, answers(&[("homeowner", "Yes")]));
    assert!(reply
        .reply
        .unwrap()
        .ends_with("When are you looking to start?"));

    let reply = rules(&request(&["Why do you ask?"])).await;
    assert_eq!(reply.intent, Intent::Question);
    assert!(reply.answers.is_empty());
}

#[tokio::test]
async fn a_slot_is_chosen_by_number_or_by_day_and_time() {
    let mut req = request(&["2"]);
    req.answers = answers(&[("homeowner", "Yes"), ("timeline", "ASAP")]);
    req.offered_slots = vec![
        slot(at(2026, 3, 3, 10, 0), "Tue 3 Mar 10:00"),
        slot(at(2026, 3, 3, 15, 0), "Tue 3 Mar 15:00"),
        slot(at(2026, 3, 4, 15, 0), "Wed 4 Mar 15:00"),
    ];
    for (text, expected) in [
        ("2", Some(1)),
        ("option 3", Some(2)),
        ("the second one", Some(1)),
        ("Tuesday 3pm", Some(1)),
        ("15:00 on Wednesday", Some(2)),
        ("tomorrow at 10", Some(0)),
    ] {
        req.history.last_mut().unwrap().text = text.to_owned();
        let reply = rules(&req).await;
        assert_eq!(reply.intent, Intent::Booking, "{text}");
        assert_eq!(reply.chosen_slot, expected, "{text}");
        let label = &req.offered_slots[expected.unwrap()].label;
        assert!(reply.reply.unwrap().contains(label.as_str()), "{text}");
    }

    req.history.last_mut().unwrap().text = "3pm".to_owned();
    let reply = rules(&req).await;
    assert_eq!((reply.intent, reply.chosen_slot), (Intent::Booking, None));
    assert_eq!(
        reply.reply.as_deref(),
        Some("Happy to book that, Sam! Which works best: Tue 3 Mar 15:00 or Wed 4 Mar 15:00?")
    );

    req.history.last_mut().unwrap().text = "I'd like to book".to_owned();
    let reply = rules(&req).await;
    assert_eq!((reply.intent, reply.chosen_slot), (Intent::Booking, None));
    assert!(reply.reply.unwrap().contains("available times"));
}

#[tokio::test]
async fn tuesday_3pm_is_read_in_london_time_across_the_clocks_going_forward() {
    // UK clocks go forward on Sunday 29 March 2026. The lead writes on Thursday 26 March (GMT);
    // Tuesday 31 March 15:00 in London is 14:00 UTC (BST), while 15:00 UTC is 16:00 there.
    let mut req = request(&["Tuesday 3pm works for me"]);
    req.answers = answers(&[("homeowner", "Yes"), ("timeline", "ASAP")]);
    req.now = at(2026, 3, 26, 12, 0);
    req.offered_slots = vec![
        slot(at(2026, 3, 31, 15, 0), "Tue 31 Mar 16:00"),
        slot(at(2026, 3, 31, 14, 0), "Tue 31 Mar 15:00"),
        slot(at(2026, 3, 27, 15, 0), "Fri 27 Mar 15:00"),
    ];
    let reply = rules(&req).await;
    assert_eq!(reply.intent, Intent::Booking);
    assert_eq!(reply.chosen_slot, Some(1));
    assert!(reply.reply.unwrap().contains("Tue 31 Mar 15:00"));

    req.history.last_mut().unwrap().text = "friday 3pm".to_owned();
    assert_eq!(rules(&req).await.chosen_slot, Some(2));

    // The same instants read in New York (already on EDT): Tuesday 10am is 14:00 UTC.
    req.timezone = "America/New_York".to_owned();
    req.history.last_mut().unwrap().text = "Tuesday 10am".to_owned();
    assert_eq!(rules(&req).await.chosen_slot, Some(1));
}

#[tokio::test]
async fn the_rules_engine_is_deterministic() {
    let mut req = request(&["Yes I do", "When are you looking to start?", "Tuesday 3pm?"]);
    req.answers = answers(&[("homeowner", "Yes")]);
    req.offered_slots = vec![slot(at(2026, 3, 3, 15, 0), "Tue 3 Mar 15:00")];
    let without_latency = |mut reply: ModelReply| {
        reply.latency = Duration::ZERO;
        reply
    };
    let first = without_latency(rules(&req).await);
    for _ in 0..5 {
        assert_eq!(without_latency(rules(&req).await), first);
    }
    assert_eq!(first.intent, Intent::Booking);
    assert_eq!(first.chosen_slot, Some(0));
}

#[tokio::test]
async fn with_nothing_left_to_ask_plain_messages_are_other() {
    let mut req = request(&["ok great"]);
    req.answers = answers(&[("homeowner", "Yes"), ("timeline", "ASAP")]);
    let reply = rules(&req).await;
    assert_eq!(reply.intent, Intent::Other);
    assert!(reply.answers.is_empty());
    assert!(reply.reply.unwrap().contains("book"));
}

// ---------------------------------------------------------------------------------------------
// Follow-ups
// ---------------------------------------------------------------------------------------------

/// A request for follow-up `number` of `of` to Sam, who read our first question and the reply to
/// `lines` and went quiet.
fn follow_up(lines: &[&str], number: u32, of: u32) -> ModelRequest {
    let mut req = request(lines);
    req.purpose = ModelPurpose::FollowUp { number, of };
    req
}

/// The rules engine's follow-up text, checked to be a follow-up and to fit.
async fn rules_follow_up_text(request: &ModelRequest) -> String {
    let reply = rules(request).await;
    assert_eq!(reply.intent, Intent::Other);
    assert!(reply.answers.is_empty());
    assert_eq!(reply.chosen_slot, None);
    let text = reply.reply.unwrap();
    assert!(!text.trim().is_empty());
    assert!(text.chars().count() <= MAX_FOLLOW_UP_CHARS, "{text}");
    text
}

#[tokio::test]
async fn a_rules_follow_up_asks_the_pending_question_again() {
    assert_eq!(
        rules_follow_up_text(&follow_up(&[], 1, 3)).await,
        "Hi Sam, just following up — Do you own your home?"
    );
    let mut later = follow_up(&["Yes I do", "When are you looking to start?"], 2, 3);
    later.answers = answers(&[("homeowner", "Yes")]);
    assert_eq!(
        rules_follow_up_text(&later).await,
        "Hi Sam, just following up — When are you looking to start?"
    );
    // The lead's last words are not read as a new message to answer.
    let ignored = follow_up(&["stop"], 1, 3);
    assert_eq!(
        rules_follow_up_text(&ignored).await,
        "Hi Sam, just following up — Do you own your home?"
    );
}

#[tokio::test]
async fn a_rules_follow_up_with_nothing_to_ask_checks_in_naming_the_brand() {
    let mut req = follow_up(&["Yes", "When are you looking to start?", "ASAP"], 1, 2);
    req.answers = answers(&[("homeowner", "Yes"), ("timeline", "ASAP")]);
    assert_eq!(
        rules_follow_up_text(&req).await,
        "Hi Sam, just checking in from Acme Solar — reply here whenever you're ready to pick \
         things up."
    );
    req.questions.clear();
    req.answers.clear();
    assert!(rules_follow_up_text(&req).await.contains("from Acme Solar"));
}

#[tokio::test]
async fn the_last_rules_follow_up_says_it_is_the_last() {
    assert_eq!(
        rules_follow_up_text(&follow_up(&[], 3, 3)).await,
        "Hi Sam, this is our last follow-up — Do you own your home?"
    );
    let mut done = follow_up(&[], 2, 2);
    done.answers = answers(&[("homeowner", "Yes"), ("timeline", "ASAP")]);
    assert_eq!(
        rules_follow_up_text(&done).await,
        "Hi Sam, a last check-in from Acme Solar: we won't message again, but reply here any \
         time if you'd like to pick things up."
    );
    let earlier = rules_follow_up_text(&follow_up(&[], 2, 3)).await;
    assert!(!earlier.contains("last"), "{earlier}");
}

#[tokio::test]
async fn rules_follow_ups_are_deterministic_and_always_fit() {
    let mut long = follow_up(&[], 1, 1);
    long.lead_first_name = "Bartholomew-Maximilian".to_owned();
    long.questions = vec![QualificationQuestion::parse(
        "home",
        &"Please tell us which kind of home you live in and how old it is. ".repeat(7),
        ["House"],
    )
    .unwrap()];
    let text = rules_follow_up_text(&long).await;
    assert!(
        text.starts_with("Hi Bartholomew-Maximilian, this is our last follow-up — Please"),
        "{text}"
    );
    assert!(text.ends_with('…'), "{text}");
    for _ in 0..3 {
        assert_eq!(rules_follow_up_text(&long).await, text);
    }
}

#[tokio::test]
async fn an_openai_follow_up_asks_for_follow_up_n_of_m_and_is_priced() {
    let arguments = json!({
        "intent": "answer",
        "answers": {"homeowner": "Yes", "timeline": null},
        "chosen_slot": 1,
        "reply": " Hi Sam, still thinking about solar? When are you looking to start? "
    })
    .to_string();
    let response = tool_call("gpt-4o-mini-2024-07-18", &arguments, usage_1234_200_56());
    let fake = FakeHttp::start(move |_| response.clone()).await;
    let mut req = follow_up(&["Yes I do", "Great! When are you looking to start?"], 2, 3);
    req.answers = answers(&[("homeowner", "Yes")]);

    let reply = model(&fake, Duration::from_secs(5))
        .respond(&req)
        .await
        .unwrap();

    assert_eq!(
        reply.reply.as_deref(),
        Some("Hi Sam, still thinking about solar? When are you looking to start?")
    );
    assert_eq!(
        (reply.intent, reply.answers.len(), reply.chosen_slot),
        (Intent::Other, 0, None),
        "a follow-up reads nothing into the conversation"
    );
    assert_eq!(reply.engine, "openai");
    let usage = reply.usage.unwrap();
    assert_eq!(
        (
            usage.input_tokens,
            usage.cached_input_tokens,
            usage.output_tokens
        ),
        (1234, 200, 56)
    );
    assert_eq!(usage.cost_micros, 204);
    assert_eq!(usage.price_version, "builtin-2026-11");

    let sent = fake.requests();
    assert_eq!(sent.len(), 1);
    let body = sent[0].json();
    assert_eq!(body["model"], "gpt-4o-mini");
    assert_eq!(
        body["tool_choice"],
        json!({"type": "function", "function": {"name": "respond_to_lead"}})
    );
    let messages = body["messages"].as_array().unwrap();
    let roles: Vec<&str> = messages
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["system", "assistant", "user", "assistant"]);
    let system = messages[0]["content"].as_str().unwrap();
    for expected in [
        "Acme Solar",
        "a lead named Sam",
        "The lead has not replied to our last message.",
        "Write follow-up 2 of 3",
        "follow-up 2 of 3 to a lead who has not replied",
        "no pressure",
        "ask the first one again; ask nothing else",
        "Answer so far: not answered yet",
        "We install solar panels in Greater London.",
    ] {
        assert!(
            system.contains(expected),
            "{expected:?} missing from {system}"
        );
    }
    assert!(!system.contains("This is the last follow-up"), "{system}");
    assert!(
        !system.contains("Read the lead's latest message"),
        "{system}"
    );

    let last = follow_up(&[], 3, 3);
    model(&fake, Duration::from_secs(5))
        .respond(&last)
        .await
        .unwrap();
    let body = fake.requests()[1].json();
    let system = body["messages"][0]["content"].as_str().unwrap().to_owned();
    assert!(system.contains("Write follow-up 3 of 3"), "{system}");
    assert!(system.contains("This is the last follow-up"), "{system}");
}

#[tokio::test]
async fn an_openai_follow_up_without_usable_text_is_malformed() {
    let long = "x".repeat(MAX_FOLLOW_UP_CHARS + 1);
    for (case, reply, expected) in [
        ("null", Value::Null, "no text"),
        ("blank", json!("   "), "no text"),
        ("too long", json!(long), "over 320"),
    ] {
        let arguments =
            json!({"intent": "other", "answers": {}, "chosen_slot": null, "reply": reply})
                .to_string();
        let response = tool_call("gpt-4o-mini", &arguments, json!({"prompt_tokens": 10}));
        match respond_with(response, &follow_up(&[], 1, 2)).await {
            Err(ModelError::Malformed(message)) => {
                assert!(message.contains(expected), "{case}: {message}");
            }
            other => panic!("{case}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Follow-ups written for a timer, against the database
// ---------------------------------------------------------------------------------------------

#[path = "api/helpers.rs"]
#[allow(dead_code)]
mod helpers;

/// Writes follow-ups for a lead of a tenant whose model is `fake` (answering within 300 ms or
/// timing out), then records each on its queued message.
#[tokio::test]
async fn a_failed_model_never_stops_a_follow_up_and_every_one_records_what_it_cost() {
    use api::settings::Settings;
    use api::state::AppState;
    use domain::conversation::{
        Conversation, ConversationCommand, ConversationId, MessageContent, MessageOrigin,
    };
    use domain::values::{LeadId, MessageId, MessageTemplate, TenantId, WorkflowName};
    use domain::{Channel, Lead, WorkflowDefinition};
    use infrastructure::executor::Existence;
    use infrastructure::messaging::ai_follow_up::{self, WrittenFollowUp};

    let fake = FakeHttp::start(|_| FakeResponse::json(500, json!({"error": "overloaded"}))).await;
    let app = helpers::TestApp::spawn_with(|settings| settings.run_workers = false).await;
    let tenant = app.create_tenant("Acme Solar").await;
    let reply = app
        .patch(
            &tenant.key,
            &format!("/api/v1/tenants/{}", tenant.id),
            json!({"ai": {"base_url": fake.base, "model": "gpt-4o-mini", "api_key": "sk-test"}}),
        )
        .await;
    assert_eq!(reply.status.as_u16(), 200, "{}", reply.text);
    let (lead_id, _) = app
        .capture_new(
            &tenant.key,
            json!({"first_name": "Ada", "phone": "+14155550123", "source": "website"}),
        )
        .await;
    let mut settings = Settings::for_tests(app.db.url().to_string(), helpers::ADMIN);
    settings.model_timeout = Duration::from_millis(300);
    let state =
        AppState::new(app.db.pool().clone(), Arc::new(app.clock.clone()), settings).unwrap();
    let messaging = &state.messaging;
    let tenant_id = TenantId::from_uuid(tenant.id.parse().unwrap());
    let ctx = messaging.system_ctx(tenant_id, "timers");
    let lead: Lead = {
        let mut conn = app.db.pool().acquire().await.unwrap();
        infrastructure::event_store::load::<Lead>(&mut conn, tenant_id.as_uuid(), &lead_id)
            .await
            .unwrap()
            .aggregate
    };
    let mut definition = WorkflowDefinition::new(
        WorkflowName::parse("Solar").unwrap(),
        Channel::Sms,
        MessageTemplate::parse("Hi {first_name}").unwrap(),
    );
    definition.qualification_questions = questions();
    let conversation = Conversation::default();
    let write = |number: u32| {
        ai_follow_up::write(
            messaging,
            &ctx,
            &lead,
            &definition,
            &conversation,
            number,
            3,
        )
    };

    // The provider fails: the rules engine writes it, saying why.
    let failed = write(1).await.unwrap();
    assert_eq!(
        failed.content,
        MessageContent::text("Hi Ada, just following up — Do you own your home?").unwrap()
    );
    assert_eq!((failed.engine.as_str(), &failed.usage), ("rules", &None));
    let reason = failed.fallback_reason.clone().unwrap();
    assert!(
        reason.contains("HTTP 500") && reason.contains("overloaded"),
        "{reason}"
    );

    // Too slow: the same, after the model timeout.
    fake.enqueue(simple_answer().delayed(Duration::from_secs(1)));
    let slow = write(2).await.unwrap();
    assert_eq!(slow.engine, "rules");
    assert!(slow
        .fallback_reason
        .as_deref()
        .unwrap()
        .contains("did not answer"));

    // An answer without text is unusable: the same.
    fake.enqueue(tool_call(
        "gpt-4o-mini",
        r#"{"intent":"other","answers":{},"chosen_slot":null,"reply":null}"#,
        json!({"prompt_tokens": 10, "completion_tokens": 1}),
    ));
    let empty = write(2).await.unwrap();
    assert_eq!(empty.engine, "rules");
    assert!(empty
        .fallback_reason
        .as_deref()
        .unwrap()
        .contains("no text"));

    // The model writes the last one, and it is priced.
    fake.enqueue(tool_call(
        "gpt-4o-mini-2024-07-18",
        r#"{"intent":"other","answers":{},"chosen_slot":null,"reply":"Last note from Acme Solar, Ada: do you own your home?"}"#,
        usage_1234_200_56(),
    ));
    let written = write(3).await.unwrap();
    assert_eq!(
        written.content,
        MessageContent::text("Last note from Acme Solar, Ada: do you own your home?").unwrap()
    );
    assert_eq!(
        (written.engine.as_str(), written.fallback_reason.as_deref()),
        ("openai", None)
    );
    let last_prompt = fake.requests().last().unwrap().json();
    assert!(last_prompt["messages"][0]["content"]
        .as_str()
        .unwrap()
        .contains("Write follow-up 3 of 3"));

    // Each is recorded on the follow-up it was queued as, in the queuing transaction.
    let conversation_id =
        ConversationId::new(LeadId::from_uuid(lead_id.parse().unwrap()), Channel::Sms);
    for follow_up in [&failed, &written] {
        let message_id = MessageId::new();
        messaging
            .executor
            .execute::<Conversation>(
                &ctx,
                &conversation_id.to_string(),
                Existence::MayCreate,
                ConversationCommand::QueueOutbound {
                    lead_id: conversation_id.lead_id(),
                    channel: Channel::Sms,
                    message_id,
                    content: follow_up.content.clone(),
                    origin: MessageOrigin::FollowUp,
                    now: ctx.issued_at,
                },
            )
            .await
            .unwrap();
        let recorded: WrittenFollowUp = follow_up.clone();
        let position = messaging
            .executor
            .in_transaction(|conn| {
                let ctx = ctx.clone();
                let recorded = recorded.clone();
                Box::pin(async move {
                    ai_follow_up::record(conn, &ctx, conversation_id, message_id, &recorded).await
                })
            })
            .await
            .unwrap();
        assert!(position.is_some());
    }
    let payloads: Vec<Value> = sqlx::query_scalar(
        "SELECT payload FROM events WHERE event_type = 'AiFollowUpWritten' \
         ORDER BY global_position",
    )
    .fetch_all(app.db.pool())
    .await
    .unwrap();
    let [by_rules, by_model] = payloads.as_slice() else {
        panic!("two follow-ups expected: {payloads:?}");
    };
    let by_rules = &by_rules["AiFollowUpWritten"];
    assert_eq!(
        (
            &by_rules["engine"],
            &by_rules["number"],
            &by_rules["of"],
            &by_rules["cost_micros"]
        ),
        (&json!("rules"), &json!(1), &json!(3), &json!(0))
    );
    assert!(by_rules["fallback_reason"]
        .as_str()
        .unwrap()
        .contains("HTTP 500"));
    let by_model = &by_model["AiFollowUpWritten"];
    assert_eq!(
        (
            &by_model["engine"],
            &by_model["model"],
            &by_model["input_tokens"],
            &by_model["cached_input_tokens"],
            &by_model["output_tokens"],
            &by_model["cost_micros"],
            &by_model["price_version"],
            &by_model["fallback_reason"],
        ),
        (
            &json!("openai"),
            &json!("gpt-4o-mini-2024-07-18"),
            &json!(1234),
            &json!(200),
            &json!(56),
            &json!(204),
            &json!("builtin-2026-11"),
            &Value::Null
        )
    );

    // The conversations model lists both with the AI's turns, keyed by their messages.
    let sql = format!(
        "SELECT engine, cost_micros, error IS NOT NULL FROM {}.ai_turns \
         WHERE outcome = 'follow_up' AND in_reply_to = reply_message_id ORDER BY seq",
        projections::conversations::live()
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let rows: Vec<(String, i64, bool)> = sqlx::query_as(&sql)
            .fetch_all(app.db.pool())
            .await
            .unwrap_or_default();
        if rows.len() == 2 {
            assert_eq!(
                rows,
                [
                    ("rules".to_owned(), 0, true),
                    ("openai".to_owned(), 204, false)
                ]
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the conversations model never showed the follow-ups: {rows:?}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}
