//! The list's filters and sorts, checked against an independent computation: the test builds a
//! known dataset through the API while keeping its own model of every lead, then compares each
//! filtered, sorted listing — walked page by page and cursor by cursor — with what the model says.

use std::collections::{BTreeMap, BTreeSet};

use application::Clock;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::helpers::{TestApp, TestTenant};

/// What the test knows about a lead, independently of the server.
#[derive(Debug, Clone)]
struct Known {
    id: Uuid,
    first_name: String,
    last_name: String,
    phone: Option<String>,
    email: Option<String>,
    status: String,
    workflow: Option<String>,
    sources: BTreeSet<String>,
    tags: BTreeSet<String>,
    plan: Option<String>,
    seats: Option<i64>,
    archived: bool,
    created_at: DateTime<Utc>,
    last_activity_at: DateTime<Utc>,
}

const FIRST: [&str; 6] = ["Ada", "ada", "Grace", "Alan", "Édith", "Zoë"];
const LAST: [&str; 5] = ["Lovelace", "Hopper", "Turing", "O'Brien", "Smith"];
const SOURCES: [&str; 4] = ["website", "referral", "api", "facebook_lead_ad"];
const TAGS: [&str; 4] = ["vip", "new", "cold", "warm"];
const STATUSES: [&str; 6] = [
    "contacted",
    "in_conversation",
    "qualified",
    "booked",
    "unresponsive",
    "handed_off",
];

/// Which leads a filter should select, computed from the test's own model.
type Selection<'a> = Box<dyn Fn(&Known) -> bool + 'a>;

/// A small deterministic generator, so the dataset is the same on every run.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, below: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % below
    }
}

struct Dataset {
    app: TestApp,
    tenant: TestTenant,
    workflows: [String; 2],
    leads: Vec<Known>,
    position: i64,
}

async fn dataset() -> Dataset {
    let app = TestApp::spawn().await;
    let tenant = app.create_tenant("Listing Co").await;
    let other = app.create_tenant("Other Co").await;
    let workflows = [
        app.create_workflow(&tenant.key, "Spring").await,
        app.create_workflow(&tenant.key, "Autumn").await,
    ];
    let mut rng = Lcg(42);
    let mut leads = Vec::new();
    let mut position = 0;
    for i in 0..60u32 {
        // Several leads share a capture instant, so ties are broken by id.
        if rng.next(3) > 0 {
            app.clock.advance(Duration::minutes(7));
        }
        let now = app.clock.now();
        let first = FIRST[rng.next(6) as usize];
        let last = LAST[rng.next(5) as usize];
        let phone = (rng.next(5) > 0).then(|| format!("+4474001{i:05}"));
        let email = (phone.is_none() || rng.next(2) == 0)
            .then(|| format!("{}.{i}@example.com", last.to_lowercase().replace('\'', "")));
        let source = SOURCES[rng.next(4) as usize];
        let tags: BTreeSet<String> = TAGS
            .iter()
            .filter(|_| rng.next(3) == 0)
            .map(|t| t.to_string())
            .collect();
        let workflow = match rng.next(3) {
            0 => None,
            n => Some(workflows[n as usize - 1].clone()),
        };
        let plan = match rng.next(3) {
            0 => None,
            1 => Some("gold".to_string()),
            _ => Some("silver".to_string()),
        };
        let seats = (rng.next(2) == 0).then(|| 1 + rng.next(3) as i64);
        let mut custom = serde_json::Map::new();
        if let Some(plan) = &plan {
            custom.insert("plan".into(), json!(plan));
        }
        if let Some(seats) = seats {
            custom.insert("seats".into(), json!(seats));
        }
        let (id, at) = app
            .capture_new(
                &tenant.key,
                json!({
                    "first_name": first, "last_name": last, "phone": phone, "email": email,
                    "source": source, "tags": tags, "workflow_id": workflow,
                    "custom_fields": custom,
                }),
            )
            .await;
        position = position.max(at);
        leads.push(Known {
            id: id.parse().unwrap(),
            first_name: first.into(),
            last_name: last.into(),
            phone,
            email,
            status: "pending".into(),
            workflow,
            sources: BTreeSet::from([source.to_string()]),
            tags,
            plan,
            seats,
            archived: false,
            created_at: now,
            last_activity_at: now,
        });
    }
    // A lead of another tenant that matches everything must never show.
    app.capture_new(
        &other.key,
        json!({"first_name": "Ada", "phone": "+447400199999"}),
    )
    .await;
    for lead in &mut leads {
        app.clock.advance(Duration::minutes(1));
        let now = app.clock.now();
        let path = format!("/api/v1/leads/{}", lead.id);
        let mut changed = false;
        match rng.next(4) {
            0 => {
                let status = STATUSES[rng.next(6) as usize];
                let reply = app
                    .post(
                        &tenant.key,
                        &format!("{path}/status"),
                        json!({"status": status, "reason": "test"}),
                    )
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
                position = position.max(reply.body["position"].as_i64().unwrap());
                lead.status = status.into();
                changed = true;
            }
            1 => {
                let reply = app
                    .post(&tenant.key, &format!("{path}/opt-out"), json!({}))
                    .await;
                assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
                position = position.max(reply.body["position"].as_i64().unwrap());
                lead.status = "opted_out".into();
                changed = true;
            }
            _ => {}
        }
        if rng.next(5) == 0 {
            let reply = app
                .post(&tenant.key, &format!("{path}/archive"), json!({}))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            position = position.max(reply.body["position"].as_i64().unwrap());
            lead.archived = true;
            changed = true;
        }
        if let (Some(phone), 0) = (&lead.phone, rng.next(4)) {
            let source = SOURCES[rng.next(4) as usize];
            let reply = app
                .capture(&tenant.key, json!({"phone": phone, "source": source}))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
            if lead.sources.insert(source.to_string()) {
                position = position.max(reply.body["position"].as_i64().unwrap());
                changed = true;
            }
        }
        if changed {
            lead.last_activity_at = now;
        }
    }
    Dataset {
        app,
        tenant,
        workflows,
        leads,
        position,
    }
}

impl Dataset {
    /// Every lead the API lists for `query` (without paging parameters), walking all pages by
    /// cursor; checks that page numbers give the same sequence.
    async fn list(&self, query: &str) -> Vec<Uuid> {
        let separator = if query.is_empty() { "" } else { "&" };
        let base = format!(
            "/api/v1/leads?{query}{separator}page_size=7&min_position={}",
            self.position
        );
        let mut by_cursor = Vec::new();
        let mut url = base.clone();
        let mut total = None;
        loop {
            let reply = self.app.get(&self.tenant.key, &url).await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
            total.get_or_insert(reply.body["total"].as_i64().unwrap());
            by_cursor.extend(ids(&reply.body));
            match reply.body["next_cursor"].as_str() {
                Some(cursor) => url = format!("{base}&cursor={cursor}"),
                None => break,
            }
        }
        assert_eq!(total, Some(by_cursor.len() as i64), "{query}: total");
        let mut by_number = Vec::new();
        for page in 1.. {
            let reply = self
                .app
                .get(&self.tenant.key, &format!("{base}&page={page}"))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
            let page_ids = ids(&reply.body);
            if page_ids.is_empty() {
                break;
            }
            by_number.extend(page_ids);
        }
        assert_eq!(
            by_cursor, by_number,
            "{query}: cursor and page numbers agree"
        );
        by_cursor
    }

    /// The model's answer: the leads `keep` selects, newest first (the default order).
    fn expect(&self, keep: impl Fn(&Known) -> bool) -> Vec<Uuid> {
        let mut selected: Vec<&Known> = self.leads.iter().filter(|l| keep(l)).collect();
        selected.sort_by_key(|l| (l.created_at, l.id));
        selected.reverse();
        selected.into_iter().map(|l| l.id).collect()
    }
}

fn ids(body: &Value) -> Vec<Uuid> {
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["id"].as_str().unwrap().parse().unwrap())
        .collect()
}

#[tokio::test]
async fn every_filter_matches_an_independent_computation() {
    let data = dataset().await;
    let live = |l: &Known| !l.archived;
    let start = crate::helpers::start_time();
    let cut = data.leads[30].created_at;
    let [spring, autumn] = &data.workflows;
    let checks: Vec<(String, Selection)> = vec![
        ("".into(), Box::new(live)),
        (
            "status=pending".into(),
            Box::new(move |l| live(l) && l.status == "pending"),
        ),
        (
            "status=booked,qualified&status=handed_off".into(),
            Box::new(move |l| {
                live(l) && ["booked", "qualified", "handed_off"].contains(&l.status.as_str())
            }),
        ),
        (
            format!("workflow_id={spring}"),
            Box::new(move |l| live(l) && l.workflow.as_deref() == Some(spring.as_str())),
        ),
        (
            format!("workflow_id={autumn}&status=pending"),
            Box::new(move |l| {
                live(l) && l.workflow.as_deref() == Some(autumn.as_str()) && l.status == "pending"
            }),
        ),
        (
            "tag=vip".into(),
            Box::new(move |l| live(l) && l.tags.contains("vip")),
        ),
        (
            "tag=vip&tag=cold".into(),
            Box::new(move |l| live(l) && (l.tags.contains("vip") || l.tags.contains("cold"))),
        ),
        (
            "tag=vip,cold&tag_match=all".into(),
            Box::new(move |l| live(l) && l.tags.contains("vip") && l.tags.contains("cold")),
        ),
        (
            "source=referral".into(),
            Box::new(move |l| live(l) && l.sources.contains("referral")),
        ),
        (
            "q=LOVE".into(),
            Box::new(move |l| {
                live(l)
                    && (format!("{} {}", l.first_name, l.last_name)
                        .to_lowercase()
                        .contains("love")
                        || l.email.as_deref().is_some_and(|e| e.contains("love")))
            }),
        ),
        (
            "q=o%27brien".into(),
            Box::new(move |l| {
                live(l)
                    && format!("{} {}", l.first_name, l.last_name)
                        .to_lowercase()
                        .contains("o'brien")
            }),
        ),
        (
            "q=07400%20100007".into(),
            Box::new(move |l| live(l) && l.phone.as_deref() == Some("+447400100007")),
        ),
        (
            format!(
                "created_from={}",
                cut.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            Box::new(move |l| live(l) && l.created_at >= cut),
        ),
        (
            format!(
                "created_to={}",
                cut.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            Box::new(move |l| live(l) && l.created_at < cut),
        ),
        (
            format!(
                "created_from={}&created_to={}",
                start.format("%Y-%m-%d"),
                cut.to_rfc3339_opts(SecondsFormat::Secs, true)
            ),
            Box::new(move |l| live(l) && l.created_at < cut),
        ),
        ("last_message_from=2026-01-01".into(), Box::new(|_| false)),
        ("days_since_contact_max=30".into(), Box::new(|_| false)),
        (
            "follow_ups_sent_min=0&follow_ups_sent_max=0".into(),
            Box::new(live),
        ),
        ("follow_ups_sent_min=1".into(), Box::new(|_| false)),
        (
            "cf.plan=gold".into(),
            Box::new(move |l| live(l) && l.plan.as_deref() == Some("gold")),
        ),
        (
            "cf.seats=2&cf.plan=silver".into(),
            Box::new(move |l| live(l) && l.seats == Some(2) && l.plan.as_deref() == Some("silver")),
        ),
        (
            "opted_out=true".into(),
            Box::new(move |l| live(l) && l.status == "opted_out"),
        ),
        (
            "opted_out=false".into(),
            Box::new(move |l| live(l) && l.status != "opted_out"),
        ),
        ("archived=true".into(), Box::new(|l| l.archived)),
        ("archived=any".into(), Box::new(|_| true)),
        (
            "archived=any&status=opted_out&tag=new".into(),
            Box::new(|l| l.status == "opted_out" && l.tags.contains("new")),
        ),
    ];
    for (query, keep) in &checks {
        let expected = data.expect(keep);
        assert_eq!(data.list(query).await, expected, "filter {query:?}");
    }
    // The dataset exercises every filter: none of the meaningful ones is trivially empty.
    for (query, keep) in &checks[1..15] {
        assert!(!data.expect(keep).is_empty(), "{query} selects something");
    }
    data.app.stop().await;
}

#[tokio::test]
async fn every_sort_matches_an_independent_computation() {
    let data = dataset().await;
    let live: Vec<&Known> = data.leads.iter().filter(|l| !l.archived).collect();
    let name = |l: &Known| format!("{} {}", l.first_name, l.last_name).to_lowercase();
    let mut by_key: BTreeMap<&str, Vec<Uuid>> = BTreeMap::new();
    let mut sorted = live.clone();
    sorted.sort_by_key(|l| (l.created_at, l.id));
    by_key.insert("created", sorted.iter().map(|l| l.id).collect());
    sorted.sort_by_key(|l| (l.last_activity_at, l.id));
    by_key.insert("last_activity", sorted.iter().map(|l| l.id).collect());
    sorted.sort_by_key(|l| (name(l).into_bytes(), l.id));
    by_key.insert("name", sorted.iter().map(|l| l.id).collect());
    sorted.sort_by_key(|l| (l.status.clone(), l.created_at, l.id));
    by_key.insert("status", sorted.iter().map(|l| l.id).collect());
    for (key, ascending) in &by_key {
        let descending: Vec<Uuid> = ascending.iter().rev().copied().collect();
        assert_eq!(
            &data.list(&format!("sort={key}&order=asc")).await,
            ascending,
            "{key} asc"
        );
        assert_eq!(
            data.list(&format!("sort={key}&order=desc")).await,
            descending,
            "{key} desc"
        );
    }
    // Defaults: newest first; names A to Z.
    assert_eq!(
        data.list("").await,
        data.list("sort=created&order=desc").await
    );
    assert_eq!(data.list("sort=name").await, by_key["name"]);
    // A filter and a sort together.
    let mut vip: Vec<&Known> = live
        .iter()
        .copied()
        .filter(|l| l.tags.contains("vip"))
        .collect();
    vip.sort_by_key(|l| (l.last_activity_at, l.id));
    assert_eq!(
        data.list("tag=vip&sort=last_activity&order=asc").await,
        vip.iter().map(|l| l.id).collect::<Vec<_>>()
    );
    data.app.stop().await;
}

#[tokio::test]
async fn a_cursor_only_continues_the_list_it_came_from() {
    let data = dataset().await;
    let key = &data.tenant.key;
    let first = data
        .app
        .get(
            key,
            &format!(
                "/api/v1/leads?page_size=5&sort=name&min_position={}",
                data.position
            ),
        )
        .await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    for (query, field) in [
        (format!("sort=created&cursor={cursor}"), "cursor"),
        (format!("sort=name&order=desc&cursor={cursor}"), "cursor"),
        ("cursor=not-a-cursor".to_string(), "cursor"),
        (format!("sort=name&page=2&cursor={cursor}"), "cursor"),
        ("sort=size".to_string(), "sort"),
        ("order=sideways".to_string(), "order"),
    ] {
        let reply = data.app.get(key, &format!("/api/v1/leads?{query}")).await;
        assert!(reply.status.is_client_error(), "{query}: {}", reply.text);
        assert_eq!(reply.error_field(), Some(field), "{query}: {}", reply.text);
    }
    data.app.stop().await;
}
