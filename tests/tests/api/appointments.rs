//! Appointments over HTTP: no double booking under concurrency on two instances, availability
//! across the London DST change and around booked time, cancelling, refusals, isolation.

use std::sync::Arc;

use api::settings::Settings;
use chrono::{DateTime, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::helpers::{TestApp, ADMIN};

/// Creates a workflow with hour-long appointments and returns its id.
async fn hour_workflow(app: &TestApp, key: &str) -> String {
    let reply = app
        .post(
            key,
            "/api/v1/workflows",
            json!({
                "name": "Consultations",
                "channel": "sms",
                "initial_message": "Hi {first_name}, want to book?",
                "appointment_duration_minutes": 60,
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_str().unwrap().to_string()
}

/// Captures a lead with phone number `n` and returns its id.
async fn lead(app: &TestApp, key: &str, n: u32) -> String {
    app.capture_new(
        key,
        json!({"first_name": format!("Lead {n}"), "phone": format!("+44 7700 9{n:05}")}),
    )
    .await
    .0
}

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn time_of(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

fn starts(reply: &Value) -> Vec<DateTime<Utc>> {
    reply["slots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|slot| time_of(&slot["start"]))
        .collect()
}

async fn lead_status(app: &TestApp, key: &str, lead: &str, position: i64) -> String {
    let reply = app
        .get(
            key,
            &format!("/api/v1/leads/{lead}?min_position={position}"),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    reply.body["status"].as_str().unwrap().to_owned()
}

async fn book(app: &TestApp, key: &str, body: Value) -> crate::helpers::Reply {
    app.post(key, "/api/v1/appointments", body).await
}

async fn availability(app: &TestApp, key: &str, query: &str) -> crate::helpers::Reply {
    app.get(key, &format!("/api/v1/availability?{query}")).await
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    sqlx::query_scalar(sql)
        .fetch_one(app.db.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn fifty_concurrent_bookings_of_one_slot_on_two_instances_book_exactly_one() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Clinic").await;
    let workflow = hour_workflow(&app, &tenant.key).await;
    let mut leads = Vec::new();
    for n in 0..50 {
        let id = lead(&app, &tenant.key, n).await;
        let qualified = app
            .post(
                &tenant.key,
                &format!("/api/v1/leads/{id}/status"),
                json!({"status": "qualified", "reason": "called us"}),
            )
            .await;
        assert_eq!(qualified.status, StatusCode::OK, "{}", qualified.text);
        leads.push(id);
    }
    // A second instance: its own pool and server on the same database.
    let pool = sqlx::postgres::PgPoolOptions::new()
        .max_connections(10)
        .connect(app.db.url())
        .await
        .unwrap();
    let second = api::server::start(
        pool,
        Arc::new(app.clock.clone()),
        Settings::for_tests(app.db.url().to_string(), ADMIN),
    )
    .await
    .unwrap();
    let bases = [app.base.clone(), format!("http://{}", second.addr)];
    let client = reqwest::Client::new();
    // Monday 30 March 2026, 10:00 in London (BST).
    let start = "2026-03-30T09:00:00Z";
    let requests = leads.iter().enumerate().map(|(i, lead)| {
        let request = client
            .post(format!("{}/api/v1/appointments", bases[i % 2]))
            .bearer_auth(&tenant.key)
            .json(&json!({"lead_id": lead, "workflow_id": workflow, "start": start}));
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (lead.clone(), status, body)
        }
    });
    let replies = futures::future::join_all(requests).await;
    second.stop().await.unwrap();

    let created: Vec<_> = replies
        .iter()
        .filter(|(_, status, _)| *status == StatusCode::CREATED)
        .collect();
    assert_eq!(created.len(), 1, "exactly one booking wins: {replies:?}");
    let (winner, _, booked) = created[0];
    assert_eq!(booked["status"], "confirmed");
    assert_eq!(time_of(&booked["start"]), at(start));
    assert_eq!(time_of(&booked["end"]), at("2026-03-30T10:00:00Z"));
    for (_, status, body) in replies.iter().filter(|(l, _, _)| l != winner) {
        assert_eq!(*status, StatusCode::CONFLICT, "{body}");
        assert_eq!(body["error"]["code"], "slot_taken", "{body}");
        let alternatives: Vec<DateTime<Utc>> = body["error"]["details"]["alternatives"]
            .as_array()
            .unwrap()
            .iter()
            .map(|slot| time_of(&slot["start"]))
            .collect();
        assert_eq!(
            alternatives,
            vec![
                at("2026-03-30T10:00:00Z"),
                at("2026-03-30T11:00:00Z"),
                at("2026-03-30T12:00:00Z")
            ],
            "the next three free hours after the taken one"
        );
    }
    assert_eq!(
        count(&app, "SELECT count(*) FROM appointment_reservations").await,
        1
    );
    assert_eq!(
        count(
            &app,
            "SELECT count(*) FROM events WHERE event_type = 'AppointmentBooked'"
        )
        .await,
        1
    );
    let position = booked["position"].as_i64().unwrap();
    assert_eq!(
        lead_status(&app, &tenant.key, winner, position).await,
        "booked"
    );
    let loser = leads.iter().find(|l| *l != winner).unwrap();
    assert_eq!(
        lead_status(&app, &tenant.key, loser, position).await,
        "qualified"
    );
}

#[tokio::test]
async fn availability_follows_london_across_the_dst_change_and_leaves_out_booked_time() {
    let app = TestApp::spawn().await;
    app.clock.set(at("2026-03-26T12:00:00Z"));
    let tenant = app.create_tenant("Clinic").await;
    let workflow = hour_workflow(&app, &tenant.key).await;
    let path = format!(
        "/api/v1/availability?workflow_id={workflow}&from=2026-03-27T00:00:00Z&to=2026-03-31T00:00:00Z"
    );
    let reply = app.get(&tenant.key, &path).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    // Friday 27 March: GMT, 09:00-17:00 local is 09:00-17:00 UTC. The weekend is closed, and
    // the clocks go forward on Sunday 29 March, so Monday's 09:00-17:00 BST is 08:00-16:00 UTC.
    let friday = (9..17).map(|h| at(&format!("2026-03-27T{h:02}:00:00Z")));
    let monday = (8..16).map(|h| at(&format!("2026-03-30T{h:02}:00:00Z")));
    let expected: Vec<_> = friday.chain(monday).collect();
    assert_eq!(starts(&reply.body), expected);
    assert_eq!(
        time_of(&reply.body["slots"][0]["end"]),
        at("2026-03-27T10:00:00Z")
    );

    let lead = lead(&app, &tenant.key, 1).await;
    let booked = app
        .post(
            &tenant.key,
            "/api/v1/appointments",
            json!({"lead_id": lead, "workflow_id": workflow, "start": "2026-03-30T10:00:00+01:00", "notes": "first visit"}),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.text);
    let after = app.get(&tenant.key, &path).await;
    let left = starts(&after.body);
    assert_eq!(left.len(), expected.len() - 1);
    assert!(!left.contains(&at("2026-03-30T09:00:00Z")));

    // Minimum notice: an hour from now, so at 08:30 UTC on Monday the first slot is 10:00 UTC.
    app.clock.set(at("2026-03-30T08:30:00Z"));
    let soon = app
        .get(
            &tenant.key,
            &format!(
                "/api/v1/availability?workflow_id={workflow}&from=2026-03-30T00:00:00Z&to=2026-03-31T00:00:00Z"
            ),
        )
        .await;
    assert_eq!(
        starts(&soon.body).first().copied(),
        Some(at("2026-03-30T10:00:00Z"))
    );
}

#[tokio::test]
async fn cancelling_frees_the_slot_and_sends_the_lead_back_to_qualified() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Clinic").await;
    let workflow = hour_workflow(&app, &tenant.key).await;
    let first = lead(&app, &tenant.key, 1).await;
    let second = lead(&app, &tenant.key, 2).await;
    let start = "2026-03-31T14:00:00Z";
    let booked = app
        .post(
            &tenant.key,
            "/api/v1/appointments",
            json!({"lead_id": first, "workflow_id": workflow, "start": start}),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.text);
    let id = booked.body["id"].as_str().unwrap().to_owned();
    let position = booked.body["position"].as_i64().unwrap();
    assert_eq!(
        lead_status(&app, &tenant.key, &first, position).await,
        "booked",
        "a pending lead is booked by an override"
    );
    let overlapping = app
        .post(
            &tenant.key,
            "/api/v1/appointments",
            json!({"lead_id": second, "workflow_id": workflow, "start": "2026-03-31T14:30:00Z"}),
        )
        .await;
    assert_eq!(overlapping.status, StatusCode::CONFLICT);
    assert_eq!(overlapping.error_code(), Some("slot_taken"));
    let back_to_back = app
        .post(
            &tenant.key,
            "/api/v1/appointments",
            json!({"lead_id": second, "workflow_id": workflow, "start": "2026-03-31T15:00:00Z"}),
        )
        .await;
    assert_eq!(
        back_to_back.status,
        StatusCode::CREATED,
        "{}",
        back_to_back.text
    );

    let no_reason = app
        .post(
            &tenant.key,
            &format!("/api/v1/appointments/{id}/cancel"),
            json!({"reason": "  "}),
        )
        .await;
    assert_eq!(no_reason.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(no_reason.error_field(), Some("reason"));
    let cancelled = app
        .post(
            &tenant.key,
            &format!("/api/v1/appointments/{id}/cancel"),
            json!({"reason": "the lead is ill"}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.text);
    assert_eq!(cancelled.body["status"], "cancelled");
    let position = cancelled.body["position"].as_i64().unwrap();
    assert_eq!(
        lead_status(&app, &tenant.key, &first, position).await,
        "qualified"
    );
    let again = app
        .post(
            &tenant.key,
            &format!("/api/v1/appointments/{id}/cancel"),
            json!({"reason": "the lead is ill"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.text);
    assert_eq!(again.body["position"], Value::Null);

    let rebooked = app
        .post(
            &tenant.key,
            "/api/v1/appointments",
            json!({"lead_id": second, "workflow_id": workflow, "start": "2026-03-31T14:00:00Z"}),
        )
        .await;
    assert_eq!(rebooked.status, StatusCode::CREATED, "{}", rebooked.text);
    assert_eq!(
        count(&app, "SELECT count(*) FROM appointment_reservations").await,
        2
    );
}

#[tokio::test]
async fn refused_bookings_name_the_field_or_the_resource_and_write_nothing() {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Clinic").await;
    let workflow = hour_workflow(&app, &tenant.key).await;
    let lead = lead(&app, &tenant.key, 1).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let events = app.event_count().await;

    for (body, field) in [
        (
            json!({"lead_id": "x", "workflow_id": workflow, "start": "2026-03-31T09:00:00Z"}),
            "lead_id",
        ),
        (
            json!({"lead_id": lead, "workflow_id": "x", "start": "2026-03-31T09:00:00Z"}),
            "workflow_id",
        ),
        (
            json!({"lead_id": lead, "workflow_id": workflow, "start": "tomorrow"}),
            "start",
        ),
        (
            json!({"lead_id": lead, "workflow_id": workflow, "start": "2026-03-28T09:00:00Z"}),
            "start",
        ),
        (json!({"lead_id": lead, "workflow_id": workflow}), "start"),
    ] {
        let reply = book(&app, &tenant.key, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.error_field(), Some(field), "{body}: {}", reply.text);
    }
    for (body, resource) in [
        (
            json!({"lead_id": unknown, "workflow_id": workflow, "start": "2026-03-31T09:00:00Z"}),
            "lead",
        ),
        (
            json!({"lead_id": lead, "workflow_id": unknown, "start": "2026-03-31T09:00:00Z"}),
            "workflow",
        ),
    ] {
        let reply = book(&app, &tenant.key, body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.body["error"]["details"]["resource"], resource);
    }
    let cancel_unknown = app
        .post(
            &tenant.key,
            &format!("/api/v1/appointments/{unknown}/cancel"),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(cancel_unknown.status, StatusCode::NOT_FOUND);

    assert_eq!(app.event_count().await, events, "refusals write nothing");
    let archived = self::lead(&app, &tenant.key, 2).await;
    let reply = app
        .send(
            Method::POST,
            &format!("/api/v1/leads/{archived}/archive"),
            Some(&tenant.key),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let opted = self::lead(&app, &tenant.key, 3).await;
    let reply = app
        .post(
            &tenant.key,
            &format!("/api/v1/leads/{opted}/opt-out"),
            json!({"reason": "STOP"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let events = app.event_count().await;
    for (id, code) in [(archived, "archived"), (opted, "opted_out")] {
        let reply = book(
            &app,
            &tenant.key,
            json!({"lead_id": id, "workflow_id": workflow, "start": "2026-03-31T09:00:00Z"}),
        )
        .await;
        assert_eq!(reply.status, StatusCode::CONFLICT, "{}", reply.text);
        assert_eq!(reply.error_code(), Some(code));
    }
    assert_eq!(app.event_count().await, events, "refusals write nothing");
    assert_eq!(
        count(&app, "SELECT count(*) FROM appointment_reservations").await,
        0
    );

    for (query, field) in [
        (
            "from=2026-03-30T00:00:00Z&to=2026-03-31T00:00:00Z".to_owned(),
            "workflow_id",
        ),
        (
            "workflow_id=x&from=2026-03-30T00:00:00Z&to=2026-03-31T00:00:00Z".to_owned(),
            "workflow_id",
        ),
        (
            format!("workflow_id={workflow}&from=monday&to=2026-03-31T00:00:00Z"),
            "from",
        ),
        (
            format!("workflow_id={workflow}&from=2026-03-30T00:00:00Z"),
            "to",
        ),
        (
            format!("workflow_id={workflow}&from=2026-03-31T00:00:00Z&to=2026-03-30T00:00:00Z"),
            "to",
        ),
        (
            format!("workflow_id={workflow}&from=2026-03-30T00:00:00Z&to=2026-06-30T00:00:00Z"),
            "to",
        ),
    ] {
        let reply = availability(&app, &tenant.key, &query).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            reply.text
        );
        assert_eq!(reply.error_field(), Some(field), "{query}: {}", reply.text);
    }
    let reply = availability(
        &app,
        &tenant.key,
        &format!("workflow_id={unknown}&from=2026-03-30T00:00:00Z&to=2026-03-31T00:00:00Z"),
    )
    .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.text);
}

#[tokio::test]
async fn another_tenants_leads_workflows_and_appointments_are_not_found_and_calendars_are_apart() {
    let app = TestApp::spawn().await;
    let owner = app.create_tenant("Owner").await;
    let other = app.create_tenant("Other").await;
    let workflow = hour_workflow(&app, &owner.key).await;
    let lead = lead(&app, &owner.key, 1).await;
    let other_workflow = hour_workflow(&app, &other.key).await;
    let other_lead = self::lead(&app, &other.key, 2).await;
    let start = "2026-03-31T09:00:00Z";
    let booked = app
        .post(
            &owner.key,
            "/api/v1/appointments",
            json!({"lead_id": lead, "workflow_id": workflow, "start": start}),
        )
        .await;
    assert_eq!(booked.status, StatusCode::CREATED, "{}", booked.text);
    let id = booked.body["id"].as_str().unwrap().to_owned();

    let foreign_lead = app
        .post(
            &other.key,
            "/api/v1/appointments",
            json!({"lead_id": lead, "workflow_id": other_workflow, "start": start}),
        )
        .await;
    assert_eq!(foreign_lead.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign_lead.body["error"]["details"]["resource"], "lead");
    let foreign_workflow = app
        .post(
            &other.key,
            "/api/v1/appointments",
            json!({"lead_id": other_lead, "workflow_id": workflow, "start": start}),
        )
        .await;
    assert_eq!(foreign_workflow.status, StatusCode::NOT_FOUND);
    assert_eq!(
        foreign_workflow.body["error"]["details"]["resource"],
        "workflow"
    );
    let foreign_cancel = app
        .post(
            &other.key,
            &format!("/api/v1/appointments/{id}/cancel"),
            json!({"reason": "mine now"}),
        )
        .await;
    assert_eq!(foreign_cancel.status, StatusCode::NOT_FOUND);
    let foreign_availability = app
        .get(
            &other.key,
            &format!("/api/v1/availability?workflow_id={workflow}&from=2026-03-31T00:00:00Z&to=2026-04-01T00:00:00Z"),
        )
        .await;
    assert_eq!(foreign_availability.status, StatusCode::NOT_FOUND);

    // The other tenant's calendar is its own: the same hour is free there.
    let free = app
        .get(
            &other.key,
            &format!("/api/v1/availability?workflow_id={other_workflow}&from=2026-03-31T00:00:00Z&to=2026-04-01T00:00:00Z"),
        )
        .await;
    assert!(starts(&free.body).contains(&at(start)), "{}", free.text);
    let same_hour = app
        .post(
            &other.key,
            "/api/v1/appointments",
            json!({"lead_id": other_lead, "workflow_id": other_workflow, "start": start}),
        )
        .await;
    assert_eq!(same_hour.status, StatusCode::CREATED, "{}", same_hour.text);
}

/// Books `lead` at `start` and returns the appointment's id and position.
async fn booked(
    app: &TestApp,
    key: &str,
    lead: &str,
    workflow: &str,
    start: &str,
) -> (String, i64) {
    let reply = book(
        app,
        key,
        json!({"lead_id": lead, "workflow_id": workflow, "start": start, "notes": "first"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    (
        reply.body["id"].as_str().unwrap().to_owned(),
        reply.body["position"].as_i64().unwrap(),
    )
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The ids under each day of a calendar view, days with none left out.
fn days(reply: &Value) -> Vec<(String, Vec<String>)> {
    reply["days"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|day| !day["appointments"].as_array().unwrap().is_empty())
        .map(|day| {
            (
                day["date"].as_str().unwrap().to_owned(),
                ids(&day["appointments"]),
            )
        })
        .collect()
}

#[tokio::test]
async fn the_list_filters_and_groups_weeks_and_months_by_the_local_day_across_the_dst_change() {
    let app = TestApp::spawn().await;
    app.clock.set(at("2026-03-26T12:00:00Z"));
    let tenant = app.create_tenant("Clinic").await;
    let key = &tenant.key;
    let workflow = hour_workflow(&app, key).await;
    let other_workflow = hour_workflow(&app, key).await;
    let (one, two) = (lead(&app, key, 1).await, lead(&app, key, 2).await);
    // Saturday 28 March 23:30 GMT; Sunday 29 March 00:30 GMT (clocks go forward at 01:00 UTC);
    // Sunday 29 March 23:30 UTC is already Monday 30 March 00:30 BST; Wednesday 1 April.
    let (a, _) = booked(&app, key, &one, &workflow, "2026-03-28T23:30:00Z").await;
    let (c, _) = booked(&app, key, &one, &workflow, "2026-03-29T00:30:00Z").await;
    let (b, _) = booked(&app, key, &two, &workflow, "2026-03-29T23:30:00Z").await;
    let (d, last) = booked(&app, key, &two, &other_workflow, "2026-04-01T09:00:00Z").await;

    let list = |query: String| {
        let app = &app;
        async move {
            app.get(
                key,
                &format!("/api/v1/appointments?min_position={last}&{query}"),
            )
            .await
        }
    };
    let reply = list(String::new()).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        ids(&reply.body["items"]),
        [a.as_str(), c.as_str(), b.as_str(), d.as_str()]
    );
    assert_eq!(reply.body["items"][0]["notes"], "first");
    assert_eq!(reply.body["items"][0]["timezone"], "Europe/London");
    assert!(reply.body["next_cursor"].is_null());
    let first = list("limit=3".into()).await;
    assert_eq!(
        ids(&first.body["items"]),
        [a.as_str(), c.as_str(), b.as_str()]
    );
    let cursor = first.body["next_cursor"].as_str().unwrap().to_owned();
    let rest = list(format!("limit=3&cursor={cursor}")).await;
    assert_eq!(ids(&rest.body["items"]), [d.as_str()]);
    assert_eq!(
        ids(&list(format!("lead_id={one}")).await.body["items"]),
        [a.as_str(), c.as_str()]
    );
    assert_eq!(
        ids(&list(format!("workflow_id={other_workflow}")).await.body["items"]),
        [d.as_str()]
    );
    assert_eq!(
        ids(
            &list("from=2026-03-29T00:30:00Z&to=2026-04-01T09:00:00Z".into())
                .await
                .body["items"]
        ),
        [c.as_str(), b.as_str()]
    );
    assert!(ids(&list("status=cancelled".into()).await.body["items"]).is_empty());
    assert_eq!(
        ids(&list("status=confirmed".into()).await.body["items"]).len(),
        4
    );

    // Monday 23 to Sunday 29 March: Monday 00:30 BST belongs to the next week.
    let week = list("view=week&from=2026-03-27T12:00:00Z".into()).await;
    assert_eq!(week.status, StatusCode::OK, "{}", week.text);
    assert_eq!(week.body["days"].as_array().unwrap().len(), 7);
    assert_eq!(week.body["days"][0]["date"], "2026-03-23");
    assert_eq!(week.body["days"][6]["date"], "2026-03-29");
    assert_eq!(
        days(&week.body),
        [
            ("2026-03-28".to_owned(), vec![a.clone()]),
            ("2026-03-29".to_owned(), vec![c.clone()])
        ]
    );
    let next_week = list("view=week&from=2026-04-05T20:00:00Z".into()).await;
    assert_eq!(
        days(&next_week.body),
        [
            ("2026-03-30".to_owned(), vec![b.clone()]),
            ("2026-04-01".to_owned(), vec![d.clone()])
        ]
    );
    let month = list("view=month&from=2026-03-15T00:00:00Z".into()).await;
    assert_eq!(month.body["days"].as_array().unwrap().len(), 31);
    assert_eq!(
        days(&month.body),
        [
            ("2026-03-28".to_owned(), vec![a.clone()]),
            ("2026-03-29".to_owned(), vec![c.clone()]),
            ("2026-03-30".to_owned(), vec![b.clone()]),
        ]
    );
    // Without `from`, the clock's week (Thursday 26 March: 23 to 29 March).
    let now = list("view=week".into()).await;
    assert_eq!(now.body["days"][0]["date"], "2026-03-23");

    for (query, field) in [
        ("status=booked", "status"),
        ("lead_id=nope", "lead_id"),
        ("workflow_id=1", "workflow_id"),
        ("from=yesterday", "from"),
        ("to=2026-13-01T00:00:00Z", "to"),
        ("view=year", "view"),
        ("limit=0", "limit"),
        ("cursor=abc", "cursor"),
    ] {
        let reply = list(query.into()).await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}: {}",
            reply.text
        );
        assert_eq!(reply.error_field(), Some(field), "{query}");
    }
}

#[tokio::test]
async fn notes_and_outcomes_are_patched_and_an_outcome_waits_for_the_start() {
    let app = TestApp::spawn().await;
    app.clock.set(at("2026-03-26T12:00:00Z"));
    let tenant = app.create_tenant("Clinic").await;
    let key = &tenant.key;
    let workflow = hour_workflow(&app, key).await;
    let lead = lead(&app, key, 1).await;
    let (id, position) = booked(&app, key, &lead, &workflow, "2026-03-30T09:00:00Z").await;

    let got = app
        .get(
            key,
            &format!("/api/v1/appointments/{id}?min_position={position}"),
        )
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert_eq!(got.body["status"], "confirmed");
    assert_eq!(time_of(&got.body["end"]), at("2026-03-30T10:00:00Z"));
    assert_eq!(got.body["lead_id"], lead.as_str());

    let path = format!("/api/v1/appointments/{id}");
    let patched = app
        .patch(key, &path, json!({"notes": "bring the contract"}))
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.body["notes"], "bring the contract");
    let position = patched.body["position"].as_i64().unwrap();
    let got = app
        .get(key, &format!("{path}?min_position={position}"))
        .await;
    assert_eq!(got.body["notes"], "bring the contract");
    let same = app
        .patch(key, &path, json!({"notes": "bring the contract"}))
        .await;
    assert!(same.body["position"].is_null(), "{}", same.text);

    let early = app.patch(key, &path, json!({"status": "completed"})).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.text);
    assert_eq!(early.error_code(), Some("invalid_state"));
    let bad = app.patch(key, &path, json!({"status": "cancelled"})).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.text);
    assert_eq!(bad.error_field(), Some("status"));

    app.clock.set(at("2026-03-30T09:30:00Z"));
    let done = app
        .patch(
            key,
            &path,
            json!({"status": "completed", "notes": "signed"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(done.body["status"], "completed");
    let position = done.body["position"].as_i64().unwrap();
    let got = app
        .get(key, &format!("{path}?min_position={position}"))
        .await;
    assert_eq!(
        (&got.body["status"], &got.body["notes"]),
        (&json!("completed"), &json!("signed"))
    );
    let no_show = app.patch(key, &path, json!({"status": "no_show"})).await;
    assert_eq!(no_show.status, StatusCode::CONFLICT, "{}", no_show.text);

    // Another tenant sees nothing and changes nothing.
    let other = app.create_tenant("Other").await;
    assert_eq!(
        app.get(&other.key, &path).await.status,
        StatusCode::NOT_FOUND
    );
    let foreign = app.patch(&other.key, &path, json!({"notes": "x"})).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.text);
    let moved = app
        .post(
            &other.key,
            &format!("{path}/reschedule"),
            json!({"start": "2026-04-01T09:00:00Z"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::NOT_FOUND, "{}", moved.text);
    assert_eq!(
        app.get(key, "/api/v1/appointments/nope").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn rescheduling_moves_the_slot_frees_the_old_one_and_refuses_a_taken_time() {
    let app = TestApp::spawn().await;
    app.clock.set(at("2026-03-26T12:00:00Z"));
    let tenant = app.create_tenant("Clinic").await;
    let key = &tenant.key;
    let workflow = hour_workflow(&app, key).await;
    let (one, two, three) = (
        lead(&app, key, 1).await,
        lead(&app, key, 2).await,
        lead(&app, key, 3).await,
    );
    let (a, _) = booked(&app, key, &one, &workflow, "2026-03-30T09:00:00Z").await;
    booked(&app, key, &two, &workflow, "2026-03-30T11:00:00Z").await;
    let path = format!("/api/v1/appointments/{a}");

    let moved = app
        .post(
            key,
            &format!("{path}/reschedule"),
            json!({"start": "2026-03-30T10:00:00Z"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert_eq!(time_of(&moved.body["start"]), at("2026-03-30T10:00:00Z"));
    assert_eq!(time_of(&moved.body["end"]), at("2026-03-30T11:00:00Z"));
    let position = moved.body["position"].as_i64().unwrap();
    let got = app
        .get(key, &format!("{path}?min_position={position}"))
        .await;
    assert_eq!(time_of(&got.body["start"]), at("2026-03-30T10:00:00Z"));
    // The old slot is free again.
    booked(&app, key, &three, &workflow, "2026-03-30T09:00:00Z").await;

    let taken = app
        .post(
            key,
            &format!("{path}/reschedule"),
            json!({"start": "2026-03-30T10:30:00Z"}),
        )
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text);
    assert_eq!(taken.error_code(), Some("slot_taken"));
    assert!(!taken.body["error"]["details"]["alternatives"]
        .as_array()
        .unwrap()
        .is_empty());
    let got = app.get(key, &path).await;
    assert_eq!(time_of(&got.body["start"]), at("2026-03-30T10:00:00Z"));
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT count(*) FROM appointment_reservations WHERE appointment_id = '{a}' \
             AND lower(during) = '2026-03-30T10:00:00Z'"
            )
        )
        .await,
        1
    );

    let past = app
        .post(
            key,
            &format!("{path}/reschedule"),
            json!({"start": "2026-03-20T10:00:00Z"}),
        )
        .await;
    assert_eq!(
        past.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{}",
        past.text
    );
    let bad = app
        .post(key, &format!("{path}/reschedule"), json!({"start": "soon"}))
        .await;
    assert_eq!(bad.error_field(), Some("start"), "{}", bad.text);
}
