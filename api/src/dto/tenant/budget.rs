//! A tenant's monthly AI budget in and out (`ai_budget`). The limit travels as a decimal string
//! of US dollars (`"50.00"`), never a JSON number, so it is read exactly into micro-USD; a
//! refusal names `ai_budget.monthly_limit` or `ai_budget.thresholds`.

use domain::budget::{AiBudget, ThresholdPercent, MAX_MONTHLY_LIMIT_MICROS};
use domain::values::{Price, ValueError};
use poem_openapi::Object;
use serde::Deserialize;

use crate::dto::analytics::micros_to_decimal;
use crate::error::ApiError;

/// The field a refused limit is reported on.
const LIMIT_FIELD: &str = "ai_budget.monthly_limit";
/// The field refused thresholds are reported on.
const THRESHOLDS_FIELD: &str = "ai_budget.thresholds";
/// Most decimal places of a limit: one micro-USD.
const MAX_DECIMALS: usize = 6;

/// A tenant's monthly AI budget as shown.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "TenantAiBudget")]
pub struct AiBudgetDto {
    /// The most the AI may spend per UTC calendar month, in US dollars with six decimals
    /// (`"50.000000"`).
    pub monthly_limit: String,
    /// The same limit in micro-USD (millionths of a dollar), exact.
    pub monthly_limit_micros: i64,
    /// Percentages of the limit at which the tenant is alerted, ascending.
    pub thresholds: Vec<u16>,
    /// Whether the AI stops answering once the month's spend reaches the limit.
    pub hard_stop: bool,
}

impl From<&AiBudget> for AiBudgetDto {
    fn from(budget: &AiBudget) -> Self {
        Self {
            monthly_limit: micros_to_decimal(budget.monthly_limit_micros()),
            monthly_limit_micros: budget.monthly_limit_micros(),
            thresholds: budget.thresholds().iter().map(|t| t.get()).collect(),
            hard_stop: budget.hard_stop(),
        }
    }
}

/// A monthly AI budget, given whole (a change replaces the previous budget). A month is a UTC
/// calendar month: spend counts from 00:00 UTC on the 1st.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(rename = "TenantAiBudgetChange", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct AiBudgetRequest {
    /// The most the AI may spend per UTC calendar month, in US dollars, as a decimal string
    /// with at most 6 decimals (`"50"`, `"50.00"`, `"0.000001"`); greater than 0 and at most
    /// `"1000000"`.
    pub monthly_limit: String,
    /// Percentages of the limit at which the tenant is alerted (each 1 to 1000, at most 10;
    /// sorted and de-duplicated); defaults to `[50, 80, 100]`, `[]` for no alerts.
    #[serde(default)]
    pub thresholds: Option<Vec<i64>>,
    /// When `true`, once the month's AI spend reaches the limit the AI stops answering and
    /// conversations are handed off to a person, until the limit is raised or the month ends.
    /// When `false` (the default), the limit only drives the alerts.
    #[serde(default)]
    pub hard_stop: Option<bool>,
}

impl AiBudgetRequest {
    /// The checked budget.
    pub fn parse(self) -> Result<AiBudget, ApiError> {
        let limit = monthly_limit(&self.monthly_limit)?;
        let thresholds = self.thresholds.map(thresholds).transpose()?;
        AiBudget::new(limit, thresholds, self.hard_stop.unwrap_or(false)).map_err(|error| {
            let field = match error {
                ValueError::TooMany { .. } => THRESHOLDS_FIELD,
                _ => LIMIT_FIELD,
            };
            ApiError::invalid_field(field, error)
        })
    }
}

/// Whole micro-USD of a decimal string of dollars: plain digits with an optional fraction of
/// 1 to 6 digits, greater than 0, at most [`MAX_MONTHLY_LIMIT_MICROS`]. The arithmetic is
/// [`Price::parse`]'s; the checks before it refuse what a price reads leniently (a sign, zeros
/// past the sixth decimal).
fn monthly_limit(raw: &str) -> Result<i64, ApiError> {
    let refuse = |reason: &str| ApiError::invalid_field(LIMIT_FIELD, reason);
    let amount = raw.trim();
    let unsigned = amount.strip_prefix('-').unwrap_or(amount);
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (unsigned, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(whole) || !fraction.is_none_or(digits) {
        return Err(refuse(
            "must be a decimal amount of US dollars in a string, e.g. \"50.00\"",
        ));
    }
    if fraction.is_some_and(|f| f.len() > MAX_DECIMALS) {
        return Err(refuse("must have at most 6 decimals (one micro-dollar)"));
    }
    if unsigned.len() < amount.len() {
        return Err(refuse("must be greater than 0"));
    }
    let too_large = || refuse("must be at most 1000000 (one million US dollars)");
    let micros = Price::parse(amount, "USD")
        .map_err(|_| too_large())?
        .amount_micros();
    if micros == 0 {
        Err(refuse("must be greater than 0"))
    } else if micros > MAX_MONTHLY_LIMIT_MICROS {
        Err(too_large())
    } else {
        Ok(micros)
    }
}

/// Each threshold checked (how many distinct ones a budget may have is [`AiBudget::new`]'s to
/// say, after duplicates are dropped).
fn thresholds(given: Vec<i64>) -> Result<Vec<ThresholdPercent>, ApiError> {
    given
        .into_iter()
        .map(|percent| {
            ThresholdPercent::new(percent).map_err(crate::error::invalid(THRESHOLDS_FIELD))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::field_of;

    fn parse(json: serde_json::Value) -> Result<AiBudget, ApiError> {
        serde_json::from_value::<AiBudgetRequest>(json)
            .unwrap()
            .parse()
    }

    fn limit(raw: &str) -> Result<i64, String> {
        monthly_limit(raw).map_err(field_of)
    }

    #[test]
    fn a_limit_is_read_exactly_into_micro_dollars() {
        assert_eq!(limit("50"), Ok(50_000_000));
        assert_eq!(limit("50.00"), Ok(50_000_000));
        assert_eq!(limit(" 12.345678 "), Ok(12_345_678));
        assert_eq!(limit("0.000001"), Ok(1));
        assert_eq!(limit("1000000"), Ok(MAX_MONTHLY_LIMIT_MICROS));
        assert_eq!(limit("1000000.000000"), Ok(MAX_MONTHLY_LIMIT_MICROS));
    }

    #[test]
    fn a_limit_that_is_not_a_positive_micro_dollar_amount_is_refused() {
        for raw in [
            "",
            " ",
            "-",
            "abc",
            ".5",
            "5.",
            "1e3",
            "1,5",
            "+5",
            "0x10",
            "NaN",
            "1 000",
            "--1",
            "0",
            "0.000000",
            "-0",
            "-5",
            "-0.01",
            "0.0000001",
            "50.0000000",
            "1000000.000001",
            "99999999999999999999",
        ] {
            assert_eq!(limit(raw), Err(LIMIT_FIELD.to_owned()), "{raw:?}");
        }
    }

    #[test]
    fn thresholds_and_hard_stop_default_and_are_kept_sorted() {
        let default = parse(serde_json::json!({"monthly_limit": "50.00"})).unwrap();
        assert_eq!(
            default,
            AiBudget::new(
                50_000_000,
                Some(
                    [50, 80, 100]
                        .map(|p| ThresholdPercent::new(p).unwrap())
                        .to_vec()
                ),
                false
            )
            .unwrap()
        );
        let given = parse(serde_json::json!(
            {"monthly_limit": "7", "thresholds": [90, 25, 90], "hard_stop": true}
        ))
        .unwrap();
        let shown = AiBudgetDto::from(&given);
        assert_eq!(
            (
                shown.monthly_limit.as_str(),
                shown.thresholds,
                shown.hard_stop
            ),
            ("7.000000", vec![25, 90], true)
        );
    }

    #[test]
    fn bad_thresholds_name_the_thresholds() {
        for thresholds in [
            serde_json::json!([0]),
            serde_json::json!([1001]),
            serde_json::json!([-50]),
            serde_json::json!([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]),
        ] {
            let refused =
                parse(serde_json::json!({"monthly_limit": "5", "thresholds": thresholds}));
            assert_eq!(field_of(refused.unwrap_err()), THRESHOLDS_FIELD);
        }
    }
}
