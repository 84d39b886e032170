//! Unit tests of the budget settings in `settings.rs`: each rule of [`AiBudget`] and
//! [`ThresholdPercent`], kept apart so that file stays about the rules.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;

use super::*;
use crate::values::ValueError;

fn percents(raw: &[i64]) -> Vec<ThresholdPercent> {
    raw.iter()
        .map(|p| ThresholdPercent::new(*p).unwrap())
        .collect()
}

#[test]
fn a_threshold_is_1_to_1000_percent() {
    let range = Err(ValueError::OutOfRange { min: 1, max: 1000 });
    assert_eq!(ThresholdPercent::new(0), range);
    assert_eq!(ThresholdPercent::new(1001), range);
    assert_eq!(ThresholdPercent::new(-50), range);
    assert_eq!(ThresholdPercent::new(1000).unwrap().get(), 1000);
    assert_eq!(ThresholdPercent::new(80).unwrap().to_string(), "80%");
}

#[test]
fn a_threshold_is_reached_at_exactly_its_share() {
    let eighty = ThresholdPercent::new(80).unwrap();
    assert!(!eighty.reached(15_999_999, 20_000_000));
    assert!(eighty.reached(16_000_000, 20_000_000));
    assert!(ThresholdPercent::new(1000)
        .unwrap()
        .reached(i64::MAX, MAX_MONTHLY_LIMIT_MICROS));
}

#[test]
fn a_budget_without_thresholds_alerts_at_50_80_and_100_percent() {
    let budget = AiBudget::new(20_000_000, None, false).unwrap();
    assert_eq!(budget.thresholds(), percents(&[50, 80, 100]));
    assert_eq!(budget.monthly_limit_micros(), 20_000_000);
    assert!(!budget.hard_stop());
}

#[test]
fn thresholds_are_sorted_and_kept_once() {
    let budget = AiBudget::new(1, Some(percents(&[100, 50, 100, 75])), true).unwrap();
    assert_eq!(budget.thresholds(), percents(&[50, 75, 100]));
}

#[test]
fn a_limit_outside_1_micro_to_a_million_usd_is_refused() {
    let range = Err(ValueError::OutOfRange {
        min: 1,
        max: 1_000_000_000_000,
    });
    assert_eq!(AiBudget::new(0, None, false), range);
    assert_eq!(
        AiBudget::new(MAX_MONTHLY_LIMIT_MICROS + 1, None, false),
        range
    );
    assert!(AiBudget::new(MAX_MONTHLY_LIMIT_MICROS, None, false).is_ok());
}

#[test]
fn more_than_ten_distinct_thresholds_are_refused() {
    let eleven: Vec<i64> = (1..=11).map(|i| i * 10).collect();
    assert_eq!(
        AiBudget::new(1, Some(percents(&eleven)), false),
        Err(ValueError::TooMany { max: 10 })
    );
    let ten_with_repeats: Vec<i64> = (1..=10).chain(1..=5).collect();
    assert!(AiBudget::new(1, Some(percents(&ten_with_repeats)), false).is_ok());
}

#[test]
fn a_budget_lists_the_thresholds_a_spend_reaches_and_stops_only_when_hard() {
    let soft = AiBudget::new(20_000_000, None, false).unwrap();
    let hard = AiBudget::new(20_000_000, None, true).unwrap();
    assert_eq!(
        soft.reached(16_000_000).collect::<Vec<_>>(),
        percents(&[50, 80])
    );
    assert_eq!(soft.reached(9_999_999).count(), 0);
    assert!(!soft.stops_at(25_000_000));
    assert!(!hard.stops_at(19_999_999));
    assert!(hard.stops_at(20_000_000));
}

#[test]
fn a_budget_is_stored_as_its_three_fields_and_checked_when_loaded() {
    let budget = AiBudget::new(20_000_000, Some(percents(&[90])), true).unwrap();
    let json = serde_json::to_value(&budget).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"monthly_limit_micros": 20_000_000, "thresholds": [90], "hard_stop": true})
    );
    assert_eq!(serde_json::from_value::<AiBudget>(json).unwrap(), budget);
    let zero = serde_json::json!({"monthly_limit_micros": 0, "thresholds": [], "hard_stop": false});
    assert!(serde_json::from_value::<AiBudget>(zero).is_err());
}

proptest! {
    #[test]
    fn reached_agrees_with_the_percentage_of_the_limit(
        percent in 1_i64..=1000,
        limit in 1_i64..=MAX_MONTHLY_LIMIT_MICROS,
        spend in 0_i64..=10 * MAX_MONTHLY_LIMIT_MICROS,
    ) {
        let threshold = ThresholdPercent::new(percent).unwrap();
        let share = spend as f64 / limit as f64 * 100.0;
        // Away from the boundary, where float rounding could disagree with exact arithmetic.
        prop_assume!((share - percent as f64).abs() > 1e-6);
        prop_assert_eq!(threshold.reached(spend, limit), share > percent as f64);
    }
}
