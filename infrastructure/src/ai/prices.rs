//! What a model's tokens cost, so every AI turn records an exact cost with the version of the
//! prices that produced it (historical costs never change when prices do).
//!
//! # Units and arithmetic
//! Prices are integers: micro-USD per one million tokens (gpt-4o-mini's $0.15 per 1M input
//! tokens is `150_000`). A turn costs
//! `(input − cached) × input_price + cached × cached_input_price + output × output_price`
//! micro-USD per million tokens, computed in `i128` (no overflow, no floats), then divided by
//! 1 000 000 **rounding half up** to whole micro-USD (203.5 → 204, 203.4 → 203). Cached tokens
//! are part of the prompt tokens; a provider reporting more cached than prompt tokens is read
//! as "all prompt tokens were cached".
//!
//! # Model lookup
//! The exact model name, else the longest table key followed in the name by `-`, `:` or `@`
//! (providers answer with dated names such as `gpt-4o-mini-2024-07-18`, which is priced as
//! `gpt-4o-mini`; `gpt-4o` does not price `gpt-4o-mini-…` because the longer key wins, and
//! `gpt-5` does not price `gpt-5.1`). No match: the model is unpriced and callers record
//! cost 0 with [`PriceTable::unpriced_version`].
//!
//! # JSON format ([`PriceTable::from_json`])
//! ```json
//! {
//!   "version": "2026-11-acme",
//!   "models": {
//!     "gpt-4o-mini": {
//!       "input_micros_per_million": 150000,
//!       "cached_input_micros_per_million": 75000,
//!       "output_micros_per_million": 600000
//!     }
//!   }
//! }
//! ```
//! Integers only (never floats); `cached_input_micros_per_million` may be left out, meaning
//! cached tokens cost the same as other input tokens. Unknown fields, negative prices, an
//! empty version or an empty model name are rejected.

use std::collections::BTreeMap;

use serde::Deserialize;

/// Micro-USD in one USD, and tokens in one priced unit (one million).
const MILLION: i128 = 1_000_000;

/// Prices of one model, in micro-USD per one million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ModelPrice {
    /// Prompt tokens not served from the cache.
    pub input_micros_per_million: i64,
    /// Prompt tokens served from the provider's cache.
    pub cached_input_micros_per_million: i64,
    /// Completion tokens (reasoning tokens included).
    pub output_micros_per_million: i64,
}

/// A versioned table of model prices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceTable {
    /// Recorded with every cost it computes.
    pub version: String,
    /// Prices by model name.
    pub models: BTreeMap<String, ModelPrice>,
}

/// Why a price table could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PriceTableError {
    /// Not JSON of the documented shape.
    #[error("the price table is not valid: {0}")]
    Invalid(#[from] serde_json::Error),
    /// The version is empty.
    #[error("the price table has no version")]
    MissingVersion,
    /// A model name is empty.
    #[error("the price table has a model with an empty name")]
    EmptyModelName,
    /// A price is below zero.
    #[error("the price of {model} is negative")]
    NegativePrice {
        /// The model.
        model: String,
    },
}

/// The JSON form, checked before use.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    /// See [`PriceTable::version`].
    version: String,
    /// See [`PriceTable::models`].
    models: BTreeMap<String, RawPrice>,
}

/// One model's prices as written; the cached price defaults to the input price.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPrice {
    /// See [`ModelPrice::input_micros_per_million`].
    input_micros_per_million: i64,
    /// See [`ModelPrice::cached_input_micros_per_million`].
    #[serde(default)]
    cached_input_micros_per_million: Option<i64>,
    /// See [`ModelPrice::output_micros_per_million`].
    output_micros_per_million: i64,
}

/// `(model, input, cached input, output)` in micro-USD per 1M tokens, from OpenAI's price list.
const BUILTIN: [(&str, i64, i64, i64); 10] = [
    ("gpt-4o-mini", 150_000, 75_000, 600_000),
    ("gpt-4o", 2_500_000, 1_250_000, 10_000_000),
    ("gpt-4.1", 2_000_000, 500_000, 8_000_000),
    ("gpt-4.1-mini", 400_000, 100_000, 1_600_000),
    ("gpt-4.1-nano", 100_000, 25_000, 400_000),
    ("gpt-5", 1_250_000, 125_000, 10_000_000),
    ("gpt-5.1", 1_250_000, 125_000, 10_000_000),
    ("gpt-5-mini", 250_000, 25_000, 2_000_000),
    ("gpt-5-nano", 50_000, 5_000, 400_000),
    ("o4-mini", 1_100_000, 275_000, 4_400_000),
];

impl PriceTable {
    /// The prices shipped with BookerBot (OpenAI list prices as of November 2026).
    #[must_use]
    pub fn builtin() -> Self {
        Self {
            version: "builtin-2026-11".to_owned(),
            models: BUILTIN
                .iter()
                .map(|&(name, input, cached, output)| {
                    (
                        name.to_owned(),
                        ModelPrice {
                            input_micros_per_million: input,
                            cached_input_micros_per_million: cached,
                            output_micros_per_million: output,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Loads a table in the JSON format described in the module documentation.
    pub fn from_json(json: &str) -> Result<Self, PriceTableError> {
        let raw: RawTable = serde_json::from_str(json)?;
        let version = raw.version.trim().to_owned();
        if version.is_empty() {
            return Err(PriceTableError::MissingVersion);
        }
        let mut models = BTreeMap::new();
        for (name, price) in raw.models {
            let name = name.trim().to_owned();
            if name.is_empty() {
                return Err(PriceTableError::EmptyModelName);
            }
            let price = ModelPrice {
                input_micros_per_million: price.input_micros_per_million,
                cached_input_micros_per_million: price
                    .cached_input_micros_per_million
                    .unwrap_or(price.input_micros_per_million),
                output_micros_per_million: price.output_micros_per_million,
            };
            if price.input_micros_per_million < 0
                || price.cached_input_micros_per_million < 0
                || price.output_micros_per_million < 0
            {
                return Err(PriceTableError::NegativePrice { model: name });
            }
            models.insert(name, price);
        }
        Ok(Self { version, models })
    }

    /// The prices for `model`: the exact name, else the longest key it extends with `-`, `:`
    /// or `@` (dated or tagged names).
    #[must_use]
    pub fn price(&self, model: &str) -> Option<&ModelPrice> {
        if let Some(price) = self.models.get(model) {
            return Some(price);
        }
        self.models
            .iter()
            .filter(|(key, _)| {
                model
                    .strip_prefix(key.as_str())
                    .is_some_and(|rest| rest.starts_with(['-', ':', '@']))
            })
            .max_by_key(|(key, _)| key.len())
            .map(|(_, price)| price)
    }

    /// What `input` prompt tokens (`cached` of them from the cache) and `output` completion
    /// tokens of `model` cost, in whole micro-USD rounded half up; `None` if `model` is not
    /// priced.
    #[must_use]
    pub fn cost_micros(&self, model: &str, input: u32, cached: u32, output: u32) -> Option<i64> {
        let price = self.price(model)?;
        let cached = i128::from(cached.min(input));
        let uncached = i128::from(input) - cached;
        let scaled = uncached * i128::from(price.input_micros_per_million)
            + cached * i128::from(price.cached_input_micros_per_million)
            + i128::from(output) * i128::from(price.output_micros_per_million);
        let rounded = (scaled + MILLION / 2) / MILLION;
        Some(i64::try_from(rounded).unwrap_or(i64::MAX))
    }

    /// The price version to record with a turn whose model is not in the table (cost 0).
    #[must_use]
    pub fn unpriced_version(&self) -> String {
        format!("{}:unpriced", self.version)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn cost_is_exact_and_rounds_half_up() {
        let table = PriceTable::builtin();
        // 1034 × 150 000 + 200 × 75 000 + 56 × 600 000 = 203 700 000 → 203.7 → 204.
        assert_eq!(table.cost_micros("gpt-4o-mini", 1234, 200, 56), Some(204));
        // 1 × 150 000 + 0 + 0 → 0.15 → 0; 3 × 150 000 + 1 × 600 000 = 1.05 → 1.
        assert_eq!(table.cost_micros("gpt-4o-mini", 1, 0, 0), Some(0));
        assert_eq!(table.cost_micros("gpt-4o-mini", 3, 0, 1), Some(1));
        // Exactly half: 10 × 50 000 = 500 000 → 0.5 → 1.
        assert_eq!(table.cost_micros("gpt-5-nano", 10, 0, 0), Some(1));
        assert_eq!(table.cost_micros("gpt-4o-mini", 0, 0, 0), Some(0));
    }

    #[test]
    fn more_cached_than_prompt_tokens_counts_all_as_cached() {
        let table = PriceTable::builtin();
        assert_eq!(
            table.cost_micros("gpt-4o-mini", 100, 500, 0),
            table.cost_micros("gpt-4o-mini", 100, 100, 0)
        );
    }

    #[test]
    fn the_largest_counts_do_not_overflow() {
        let table = PriceTable::builtin();
        let cost = table.cost_micros("gpt-4o", u32::MAX, 0, u32::MAX).unwrap();
        // 4 294 967 295 × 12 500 000 = 53 687 091 187 500 000 → 53 687 091 187.5 → …188.
        assert_eq!(cost, 53_687_091_188);
    }

    #[test]
    fn dated_names_use_the_longest_matching_key() {
        let table = PriceTable::builtin();
        let mini = table.price("gpt-4o-mini").copied();
        assert_eq!(table.price("gpt-4o-mini-2024-07-18").copied(), mini);
        assert_eq!(
            table
                .price("gpt-4o-2024-08-06")
                .unwrap()
                .input_micros_per_million,
            2_500_000
        );
        assert!(table.price("gpt-4omni").is_none());
        assert_eq!(
            table
                .price("gpt-5.1-2025-11-13")
                .unwrap()
                .input_micros_per_million,
            1_250_000
        );
        assert!(table.price("gpt-5.2").is_none());
        assert_eq!(table.cost_micros("llama-3.1-8b", 10, 0, 10), None);
        assert_eq!(table.unpriced_version(), "builtin-2026-11:unpriced");
    }

    #[test]
    fn a_table_loads_from_integer_json() {
        let table = PriceTable::from_json(
            r#"{"version": " v7 ", "models": {
                "local-llm": {"input_micros_per_million": 1000, "output_micros_per_million": 2000},
                "gpt-4o-mini": {"input_micros_per_million": 150000,
                    "cached_input_micros_per_million": 75000, "output_micros_per_million": 600000}
            }}"#,
        )
        .unwrap();
        assert_eq!(table.version, "v7");
        assert_eq!(
            table.models["local-llm"],
            ModelPrice {
                input_micros_per_million: 1000,
                cached_input_micros_per_million: 1000,
                output_micros_per_million: 2000,
            }
        );
        assert_eq!(table.cost_micros("gpt-4o-mini", 1234, 200, 56), Some(204));
    }

    #[test]
    fn bad_tables_are_rejected() {
        let negative = r#"{"version": "v", "models": {"m": {"input_micros_per_million": -1,
            "output_micros_per_million": 0}}}"#;
        assert!(matches!(
            PriceTable::from_json(negative),
            Err(PriceTableError::NegativePrice { model }) if model == "m"
        ));
        let float = r#"{"version": "v", "models": {"m": {"input_micros_per_million": 0.5,
            "output_micros_per_million": 0}}}"#;
        assert!(matches!(
            PriceTable::from_json(float),
            Err(PriceTableError::Invalid(_))
        ));
        assert!(matches!(
            PriceTable::from_json(r#"{"version": " ", "models": {}}"#),
            Err(PriceTableError::MissingVersion)
        ));
        assert!(matches!(
            PriceTable::from_json(
                r#"{"version": "v", "models": {"": {"input_micros_per_million": 0, "output_micros_per_million": 0}}}"#
            ),
            Err(PriceTableError::EmptyModelName)
        ));
        assert!(matches!(
            PriceTable::from_json(r#"{"version": "v", "models": {}, "currency": "EUR"}"#),
            Err(PriceTableError::Invalid(_))
        ));
    }
}
