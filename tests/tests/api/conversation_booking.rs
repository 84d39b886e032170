//! Booking in the conversation, end to end through the sandbox with the server's workers and the
//! rules engine: outreach → reply → qualified → free times offered in the lead's zone → the lead
//! picks one ("2", "Tuesday 4am") → booked, confirmation sent, reminders scheduled, the lead
//! `booked` in the list; and a time that went meanwhile is not booked: new times are offered.

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{TestApp, TestTenant, ADMIN};
use crate::messaging::{
    conversation_events, eventually, inbound, post_ok, sandbox_shows, status_becomes, BRAND, WAIT,
};

const Q1: &str = "Do you own your home?";
const Q2: &str = "When are you looking to start?";
const OUTREACH: &str = "Hi Sam, this is Acme Solar. Want to book a visit?";
const QUALIFIED: &str =
    "Great news, Sam, you qualify! Would you like to book an appointment with Acme Solar?";

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn instant(value: &Value) -> DateTime<Utc> {
    at(value.as_str().unwrap())
}

/// Monday 2026-03-30, 10:00 UTC: 11:00 in London (BST), 06:00 in New York (EDT).
fn monday_morning() -> DateTime<Utc> {
    at("2026-03-30T10:00:00Z")
}

/// A London tenant (Mon–Fri 09:00–17:00) with an active SMS workflow of 30-minute appointments
/// asking [`Q1`] then [`Q2`]; the clock at [`monday_morning`].
async fn tenant_with_workflow(app: &TestApp, name: &str) -> (TestTenant, String) {
    app.clock.set(monday_morning());
    let reply = app
        .post(
            ADMIN,
            "/api/v1/tenants",
            json!({"name": name, "brand_name": BRAND, "timezone": "Europe/London"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let tenant = TestTenant {
        id: reply.body["tenant"]["id"].as_str().unwrap().to_owned(),
        key: reply.body["api_key"].as_str().unwrap().to_owned(),
    };
    let created = post_ok(
        app,
        &tenant.key,
        "/api/v1/workflows",
        json!({
            "name": "Solar visits",
            "channel": "sms",
            "initial_message": "Hi {first_name}, this is {brand_name}. Want to book a visit?",
            "appointment_duration_minutes": 30,
            "qualification_questions": [
                {"key": "homeowner", "question": Q1, "qualifying_answers": ["Yes"]},
                {"key": "timeline", "question": Q2, "qualifying_answers": ["ASAP"]}
            ],
        }),
        StatusCode::CREATED,
    )
    .await;
    let workflow = created["id"].as_str().unwrap().to_owned();
    post_ok(
        app,
        &tenant.key,
        &format!("/api/v1/workflows/{workflow}/activate"),
        json!({}),
        StatusCode::OK,
    )
    .await;
    (tenant, workflow)
}

/// Captures Sam into `workflow` and answers both questions: the lead is qualified, and the
/// fourth message it received is returned (the qualification with the offer).
async fn qualified_sam(app: &TestApp, key: &str, workflow: &str, extra: Value) -> (String, String) {
    let mut body =
        json!({"first_name": "Sam", "phone": "+44 7700 900301", "workflow_id": workflow});
    for (field, value) in extra.as_object().unwrap() {
        body[field] = value.clone();
    }
    let lead = app.capture_new(key, body).await.0;
    assert_eq!(sandbox_shows(app, key, &lead, 1).await, [OUTREACH]);
    status_becomes(app, key, &lead, "contacted").await;
    inbound(app, key, &lead, "Hello").await;
    assert_eq!(
        sandbox_shows(app, key, &lead, 2).await[1],
        format!("Hi, Sam! {Q1}")
    );
    inbound(app, key, &lead, "Yes I do").await;
    assert_eq!(sandbox_shows(app, key, &lead, 3).await[2], Q2);
    inbound(app, key, &lead, "ASAP").await;
    let offer = sandbox_shows(app, key, &lead, 4).await[3].clone();
    status_becomes(app, key, &lead, "qualified").await;
    (lead, offer)
}

/// The lead's appointments (list view).
async fn appointments_of(app: &TestApp, key: &str, lead: &str) -> Vec<Value> {
    let reply = app
        .get(key, &format!("/api/v1/appointments?lead_id={lead}"))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["items"].as_array().unwrap().clone()
}

/// Waits until the lead has `count` appointments.
async fn appointments_become(app: &TestApp, key: &str, lead: &str, count: usize) -> Vec<Value> {
    eventually(&format!("{count} appointments"), WAIT, || async {
        let items = appointments_of(app, key, lead).await;
        (items.len() == count).then_some(items)
    })
    .await
}

#[tokio::test]
async fn a_qualified_lead_picks_an_offered_time_and_is_booked_confirmed_and_reminded() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Chat booking").await;
    let key = tenant.key.as_str();
    let (lead, offer) = qualified_sam(&app, key, &workflow, json!({})).await;

    // 11:00 BST now, one hour's notice: 12:00 today, then the first time of the next two days.
    assert_eq!(
        offer,
        format!(
            "{QUALIFIED} Here are the next available times (Europe/London):\n\
             1. Mon 30 Mar 12:00\n2. Tue 31 Mar 09:00\n3. Wed 1 Apr 09:00\n\
             Reply with the number of the time that suits you."
        )
    );
    let offered = conversation_events(&app, &lead, "AppointmentSlotsOffered").await;
    assert_eq!(offered.len(), 1);
    let starts: Vec<&str> = offered[0]["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| slot["start"].as_str().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2026-03-30T11:00:00Z",
            "2026-03-31T08:00:00Z",
            "2026-04-01T08:00:00Z"
        ]
    );

    inbound(&app, key, &lead, "3").await;
    let sent = sandbox_shows(&app, key, &lead, 5).await;
    assert_eq!(
        sent[4],
        "You're booked, Sam! Your appointment with Acme Solar is on Wed 1 Apr 09:00 \
         (Europe/London). See you then."
    );
    status_becomes(&app, key, &lead, "booked").await;
    let booked = appointments_become(&app, key, &lead, 1).await;
    assert_eq!(instant(&booked[0]["start"]), at("2026-04-01T08:00:00Z"));
    assert_eq!(instant(&booked[0]["end"]), at("2026-04-01T08:30:00Z"));
    assert_eq!(booked[0]["status"], "confirmed");
    assert_eq!(booked[0]["workflow_id"], workflow.as_str());
    let recorded = conversation_events(&app, &lead, "AppointmentBookedInConversation").await;
    assert_eq!(recorded.len(), 1);
    assert_eq!(recorded[0]["appointment_id"], booked[0]["id"]);

    // The reminders are planned: a day and an hour before (the workflow's defaults).
    let appointment = booked[0]["id"].as_str().unwrap();
    let reminders = eventually("two reminders scheduled", WAIT, || async {
        let reply = app
            .get(key, &format!("/api/v1/scheduled?lead_id={lead}"))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let due: Vec<String> = reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["kind"] == "reminder")
            .map(|item| item["due_at"].as_str().unwrap().to_owned())
            .collect();
        (due.len() == 2).then_some(due)
    })
    .await;
    let mut reminders: Vec<DateTime<Utc>> = reminders.iter().map(|due| at(due)).collect();
    reminders.sort();
    assert_eq!(
        reminders,
        [at("2026-03-31T08:00:00Z"), at("2026-04-01T07:00:00Z")],
        "appointment {appointment}"
    );

    // The lead is `booked` in the list.
    let listed = app.get(key, "/api/v1/leads?status=booked").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let ids: Vec<&str> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [lead.as_str()]);

    // Picking again books nothing more: the offer is used up and the lead is booked.
    inbound(&app, key, &lead, "2").await;
    sandbox_shows(&app, key, &lead, 6).await;
    assert_eq!(appointments_of(&app, key, &lead).await.len(), 1);
    app.stop().await;
}

#[tokio::test]
async fn a_time_taken_meanwhile_is_not_booked_and_new_times_are_offered() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Taken").await;
    let key = tenant.key.as_str();
    let (lead, _) = qualified_sam(&app, key, &workflow, json!({})).await;

    // An operator books the first offered time for someone else.
    let other = app
        .capture_new(
            key,
            json!({"first_name": "Kim", "phone": "+44 7700 900399"}),
        )
        .await
        .0;
    post_ok(
        &app,
        key,
        "/api/v1/appointments",
        json!({"lead_id": other, "workflow_id": workflow, "start": "2026-03-30T11:00:00Z"}),
        StatusCode::CREATED,
    )
    .await;

    inbound(&app, key, &lead, "the first one").await;
    let sent = sandbox_shows(&app, key, &lead, 5).await;
    assert_eq!(
        sent[4],
        "Sorry, Sam, Mon 30 Mar 12:00 has just been taken. Here are the next available times \
         (Europe/London):\n1. Mon 30 Mar 12:30\n2. Tue 31 Mar 09:00\n3. Wed 1 Apr 09:00\n\
         Reply with the number of the time that suits you."
    );
    assert!(appointments_of(&app, key, &lead).await.is_empty());
    status_becomes(&app, key, &lead, "qualified").await;

    // Picked by day and time instead of number.
    inbound(&app, key, &lead, "Tuesday 9am works").await;
    let sent = sandbox_shows(&app, key, &lead, 6).await;
    assert!(sent[5].starts_with("You're booked, Sam!"), "{sent:?}");
    let booked = appointments_become(&app, key, &lead, 1).await;
    assert_eq!(instant(&booked[0]["start"]), at("2026-03-31T08:00:00Z"));
    status_becomes(&app, key, &lead, "booked").await;
    app.stop().await;
}

#[tokio::test]
async fn times_are_offered_and_read_in_the_leads_own_zone() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Zones").await;
    let key = tenant.key.as_str();
    // 08:30 in New York (13:30 in London): inside the lead's allowed hours, so the outreach goes.
    app.clock.set(at("2026-03-30T12:30:00Z"));
    let (lead, offer) = qualified_sam(
        &app,
        key,
        &workflow,
        json!({"custom_fields": {"timezone": "America/New_York"}}),
    )
    .await;
    // The London times (14:30 today at the earliest), shown in New York's: five hours behind.
    assert!(
        offer.ends_with(
            "Here are the next available times (America/New_York):\n\
             1. Mon 30 Mar 09:30\n2. Tue 31 Mar 04:00\n3. Wed 1 Apr 04:00\n\
             Reply with the number of the time that suits you."
        ),
        "{offer}"
    );
    inbound(&app, key, &lead, "Tuesday 4am").await;
    let sent = sandbox_shows(&app, key, &lead, 5).await;
    assert_eq!(
        sent[4],
        "You're booked, Sam! Your appointment with Acme Solar is on Tue 31 Mar 04:00 \
         (America/New_York). See you then."
    );
    let booked = appointments_become(&app, key, &lead, 1).await;
    assert_eq!(instant(&booked[0]["start"]), at("2026-03-31T08:00:00Z"));
    app.stop().await;
}

#[tokio::test]
async fn a_lead_asking_to_book_before_qualifying_is_asked_the_question_first() {
    let app = TestApp::spawn().await;
    let (tenant, workflow) = tenant_with_workflow(&app, "Not yet").await;
    let key = tenant.key.as_str();
    let lead = app
        .capture_new(
            key,
            json!({"first_name": "Sam", "phone": "+44 7700 900302", "workflow_id": workflow}),
        )
        .await
        .0;
    sandbox_shows(&app, key, &lead, 1).await;
    inbound(&app, key, &lead, "Can I book an appointment?").await;
    let sent = sandbox_shows(&app, key, &lead, 2).await;
    assert_eq!(
        sent[1],
        format!("Happy to get you booked, Sam! Just one thing first: {Q1}")
    );
    assert!(conversation_events(&app, &lead, "AppointmentSlotsOffered")
        .await
        .is_empty());
    app.stop().await;
}
