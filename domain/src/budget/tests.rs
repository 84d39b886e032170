//! Given/when/then tests of the BudgetMonth aggregate: recording thresholds once per month, the
//! notices about them, the state, and the events' stored JSON.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use cqrs_es::{Aggregate, DomainEvent};

use super::*;

type BudgetTestFramework = TestFramework<BudgetMonth>;

fn budget() -> BudgetTestFramework {
    BudgetTestFramework::with(())
}

/// A poll in November 2026.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 20, 9, 30, 0).unwrap()
}

fn november() -> UtcMonth {
    UtcMonth::parse("2026-11").unwrap()
}

fn percent(p: i64) -> ThresholdPercent {
    ThresholdPercent::new(p).unwrap()
}

/// The limit of every test: 20 USD.
const LIMIT: i64 = 20_000_000;

fn reach(threshold: i64, spend_micros: i64) -> BudgetCommand {
    BudgetCommand::RecordThresholdReached {
        month: november(),
        threshold_percent: percent(threshold),
        monthly_limit_micros: LIMIT,
        spend_micros,
        hard_stop: true,
        at: now(),
    }
}

fn reached(threshold: i64, spend_micros: i64) -> BudgetEvent {
    BudgetEvent::CostThresholdReached {
        month: november(),
        threshold_percent: percent(threshold),
        monthly_limit_micros: LIMIT,
        spend_micros,
        hard_stop: true,
        at: now(),
    }
}

fn notify(threshold: i64, notified: Vec<String>, failed: Vec<String>) -> BudgetCommand {
    BudgetCommand::RecordThresholdNotified {
        threshold_percent: percent(threshold),
        notified,
        failed,
        at: now(),
    }
}

fn notified(threshold: i64, notified: Vec<String>, failed: Vec<String>) -> BudgetEvent {
    BudgetEvent::CostThresholdNotified {
        threshold_percent: percent(threshold),
        notified,
        failed,
        at: now(),
    }
}

fn hook() -> Vec<String> {
    vec!["https://hooks.example.com/budget".to_owned()]
}

#[test]
fn the_first_crossing_of_a_threshold_is_recorded() {
    budget()
        .given_no_previous_events()
        .when(reach(50, 10_000_000))
        .then_expect_events(vec![reached(50, 10_000_000)]);
}

#[test]
fn the_same_threshold_again_records_nothing_whatever_the_amounts() {
    for spend in [10_000_000, 19_000_000, 0] {
        budget()
            .given(vec![reached(50, 10_000_000)])
            .when(reach(50, spend))
            .then_expect_events(vec![]);
    }
}

#[test]
fn two_thresholds_crossed_by_one_spend_are_each_recorded_by_their_own_command() {
    budget()
        .given_no_previous_events()
        .when(reach(50, 17_000_000))
        .then_expect_events(vec![reached(50, 17_000_000)]);
    budget()
        .given(vec![reached(50, 17_000_000)])
        .when(reach(80, 17_000_000))
        .then_expect_events(vec![reached(80, 17_000_000)]);
}

#[test]
fn a_spend_below_the_threshold_is_refused() {
    // 80% of 20 USD is 16 USD: one micro-USD short is not enough, exactly 16 USD is.
    budget()
        .given_no_previous_events()
        .when(reach(80, 15_999_999))
        .then_expect_error(BudgetError::NotReached {
            threshold_percent: percent(80),
            spend_micros: 15_999_999,
            monthly_limit_micros: LIMIT,
        });
    budget()
        .given_no_previous_events()
        .when(reach(80, 16_000_000))
        .then_expect_events(vec![reached(80, 16_000_000)]);
}

#[test]
fn a_threshold_of_another_month_is_refused() {
    let december = UtcMonth::parse("2026-12").unwrap();
    let command = match reach(80, 16_000_000) {
        BudgetCommand::RecordThresholdReached {
            threshold_percent,
            monthly_limit_micros,
            spend_micros,
            hard_stop,
            at,
            ..
        } => BudgetCommand::RecordThresholdReached {
            month: december,
            threshold_percent,
            monthly_limit_micros,
            spend_micros,
            hard_stop,
            at,
        },
        BudgetCommand::RecordThresholdNotified { .. } => unreachable!(),
    };
    budget()
        .given(vec![reached(50, 10_000_000)])
        .when(command)
        .then_expect_error(BudgetError::WrongMonth {
            month: november(),
            requested: december,
        });
}

#[test]
fn a_limit_that_is_not_positive_or_a_negative_spend_is_refused() {
    for limit in [0, -1] {
        budget()
            .given_no_previous_events()
            .when(BudgetCommand::RecordThresholdReached {
                month: november(),
                threshold_percent: percent(50),
                monthly_limit_micros: limit,
                spend_micros: 0,
                hard_stop: false,
                at: now(),
            })
            .then_expect_error(BudgetError::LimitNotPositive);
    }
    budget()
        .given(vec![reached(50, 10_000_000)])
        .when(reach(50, -1))
        .then_expect_error(BudgetError::NegativeSpend);
}

#[test]
fn a_notice_is_recorded_once() {
    let failed = vec!["ops@example.com: mailbox full".to_owned()];
    budget()
        .given(vec![reached(80, 16_000_000)])
        .when(notify(80, hook(), failed.clone()))
        .then_expect_events(vec![notified(80, hook(), failed)]);
}

#[test]
fn a_notice_for_a_threshold_not_reached_is_refused() {
    budget()
        .given(vec![reached(50, 10_000_000)])
        .when(notify(80, hook(), vec![]))
        .then_expect_error(BudgetError::UnknownThreshold(percent(80)));
    budget()
        .given_no_previous_events()
        .when(notify(50, hook(), vec![]))
        .then_expect_error(BudgetError::UnknownThreshold(percent(50)));
}

#[test]
fn a_second_notice_records_nothing() {
    budget()
        .given(vec![reached(80, 16_000_000), notified(80, hook(), vec![])])
        .when(notify(80, vec![], vec!["retry".to_owned()]))
        .then_expect_events(vec![]);
}

#[test]
fn a_notice_keeps_ten_entries_of_500_characters_each() {
    let long = "é".repeat(MAX_NOTICE_TARGET_LEN + 1);
    let many: Vec<String> = (0..12)
        .map(|i| format!("https://h{i}.example.com"))
        .collect();
    budget()
        .given(vec![reached(80, 16_000_000)])
        .when(notify(80, many.clone(), vec![long, "short".to_owned()]))
        .then_expect_events(vec![notified(
            80,
            many[..10].to_vec(),
            vec!["é".repeat(500), "short".to_owned()],
        )]);
}

#[test]
fn the_state_holds_the_month_each_threshold_reached_and_its_notice() {
    let mut state = BudgetMonth::default();
    assert_eq!(state.month(), None);
    assert!(!state.notice_due(percent(50)));
    for event in [
        reached(80, 17_000_000),
        reached(50, 17_000_000),
        notified(50, hook(), vec![]),
    ] {
        state.apply(event);
    }
    assert_eq!(state.month(), Some(november()));
    assert_eq!(
        state.reached().collect::<Vec<_>>(),
        [percent(50), percent(80)]
    );
    assert!(!state.notice_due(percent(50)));
    assert!(state.notice_due(percent(80)));
    assert!(!state.notice_due(percent(100)));
    assert_eq!(
        state.reached_threshold(percent(80)),
        Some(&ReachedThreshold {
            monthly_limit_micros: LIMIT,
            spend_micros: 17_000_000,
            hard_stop: true,
            at: now(),
            notified: false,
        })
    );
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<BudgetMonth>(&json).unwrap(), state);
}

#[test]
fn the_events_keep_their_stored_json() {
    let json = serde_json::to_value(reached(80, 16_000_000)).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"CostThresholdReached": {
            "month": "2026-11",
            "threshold_percent": 80,
            "monthly_limit_micros": 20_000_000,
            "spend_micros": 16_000_000,
            "hard_stop": true,
            "at": "2026-11-20T09:30:00Z",
        }})
    );
    let json = serde_json::to_value(notified(80, hook(), vec!["x".into()])).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"CostThresholdNotified": {
            "threshold_percent": 80,
            "notified": ["https://hooks.example.com/budget"],
            "failed": ["x"],
            "at": "2026-11-20T09:30:00Z",
        }})
    );
}

#[test]
fn every_event_round_trips_through_json_with_a_stable_name() {
    for (event, name) in [
        (reached(100, 20_000_000), "CostThresholdReached"),
        (notified(100, hook(), vec![]), "CostThresholdNotified"),
    ] {
        assert_eq!(event.event_type(), name);
        assert_eq!(event.event_version(), "1");
        let json = serde_json::to_string(&event).unwrap();
        assert_eq!(serde_json::from_str::<BudgetEvent>(&json).unwrap(), event);
    }
}

#[test]
fn an_event_with_a_malformed_month_or_threshold_does_not_load() {
    let mut json = serde_json::to_value(reached(80, 16_000_000)).unwrap();
    json["CostThresholdReached"]["month"] = serde_json::json!("2026-13");
    assert!(serde_json::from_value::<BudgetEvent>(json.clone()).is_err());
    json["CostThresholdReached"]["month"] = serde_json::json!("2026-11");
    json["CostThresholdReached"]["threshold_percent"] = serde_json::json!(0);
    assert!(serde_json::from_value::<BudgetEvent>(json).is_err());
}

#[test]
fn the_aggregate_id_is_the_tenant_and_the_month() {
    let tenant = crate::values::TenantId::from_uuid(uuid::Uuid::from_u128(0xabc));
    assert_eq!(
        budget_month_id(tenant, november()),
        "00000000-0000-0000-0000-000000000abc:2026-11"
    );
}

#[test]
fn the_aggregate_type_is_stable() {
    assert_eq!(BudgetMonth::TYPE, "budget_month");
}
