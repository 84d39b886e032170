//! A tenant's monthly AI budget: how much its AI may spend in a UTC calendar month, the
//! percentages of it worth an alert, and whether the AI stops when the budget is spent. Parsed
//! once at the edge, so every holder of an [`AiBudget`] has a positive limit and a short,
//! ordered, duplicate-free list of thresholds.

use serde::{Deserialize, Serialize};

use crate::values::ValueError;

/// Largest monthly limit: one million USD, in micro-USD.
pub const MAX_MONTHLY_LIMIT_MICROS: i64 = 1_000_000 * 1_000_000;
/// Highest threshold, in percent of the limit (alerts past the limit are allowed, up to 10×).
pub const MAX_THRESHOLD_PERCENT: u16 = 1000;
/// Most thresholds per budget.
pub const MAX_THRESHOLDS: usize = 10;
/// Thresholds when none are given.
pub const DEFAULT_THRESHOLDS: [u16; 3] = [50, 80, 100];

/// A percentage of the monthly limit at which the tenant is told, 1 to [`MAX_THRESHOLD_PERCENT`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u16", into = "u16")]
pub struct ThresholdPercent(u16);

impl ThresholdPercent {
    /// `percent` if it is within 1 to [`MAX_THRESHOLD_PERCENT`].
    ///
    /// # Errors
    /// [`ValueError::OutOfRange`] otherwise.
    pub fn new(percent: i64) -> Result<Self, ValueError> {
        u16::try_from(percent)
            .ok()
            .filter(|p| (1..=MAX_THRESHOLD_PERCENT).contains(p))
            .map(Self)
            .ok_or(ValueError::OutOfRange {
                min: 1,
                max: i64::from(MAX_THRESHOLD_PERCENT),
            })
    }

    /// The percentage.
    #[must_use]
    pub const fn get(self) -> u16 {
        self.0
    }

    /// Whether `spend_micros` reaches this share of `limit_micros` (exact integer arithmetic).
    #[must_use]
    pub fn reached(self, spend_micros: i64, limit_micros: i64) -> bool {
        i128::from(spend_micros) * 100 >= i128::from(self.0) * i128::from(limit_micros)
    }
}

impl TryFrom<u16> for ThresholdPercent {
    type Error = ValueError;

    fn try_from(value: u16) -> Result<Self, Self::Error> {
        Self::new(i64::from(value))
    }
}

impl From<ThresholdPercent> for u16 {
    fn from(value: ThresholdPercent) -> Self {
        value.0
    }
}

impl std::fmt::Display for ThresholdPercent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}%", self.0)
    }
}

/// A tenant's monthly AI budget.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RawBudget", into = "RawBudget")]
pub struct AiBudget {
    monthly_limit_micros: i64,
    thresholds: Vec<ThresholdPercent>,
    hard_stop: bool,
}

impl AiBudget {
    /// A budget of `monthly_limit_micros` micro-USD per UTC month, alerting at `thresholds`
    /// (sorted and de-duplicated here; [`DEFAULT_THRESHOLDS`] when `None`), stopping the AI
    /// once the limit is spent when `hard_stop`.
    ///
    /// # Errors
    /// - [`ValueError::OutOfRange`] for a limit that is not positive or above
    ///   [`MAX_MONTHLY_LIMIT_MICROS`], or a threshold out of range;
    /// - [`ValueError::TooMany`] for more than [`MAX_THRESHOLDS`] distinct thresholds.
    pub fn new(
        monthly_limit_micros: i64,
        thresholds: Option<Vec<ThresholdPercent>>,
        hard_stop: bool,
    ) -> Result<Self, ValueError> {
        if !(1..=MAX_MONTHLY_LIMIT_MICROS).contains(&monthly_limit_micros) {
            return Err(ValueError::OutOfRange {
                min: 1,
                max: MAX_MONTHLY_LIMIT_MICROS,
            });
        }
        let mut thresholds = thresholds.unwrap_or_else(|| {
            DEFAULT_THRESHOLDS
                .iter()
                .map(|p| ThresholdPercent(*p))
                .collect()
        });
        thresholds.sort_unstable();
        thresholds.dedup();
        if thresholds.len() > MAX_THRESHOLDS {
            return Err(ValueError::TooMany {
                max: MAX_THRESHOLDS,
            });
        }
        Ok(Self {
            monthly_limit_micros,
            thresholds,
            hard_stop,
        })
    }

    /// The limit per UTC month, micro-USD.
    #[must_use]
    pub const fn monthly_limit_micros(&self) -> i64 {
        self.monthly_limit_micros
    }

    /// The alert thresholds, ascending.
    #[must_use]
    pub fn thresholds(&self) -> &[ThresholdPercent] {
        &self.thresholds
    }

    /// Whether the AI stops once the month's spend reaches the limit.
    #[must_use]
    pub const fn hard_stop(&self) -> bool {
        self.hard_stop
    }

    /// The thresholds `spend_micros` reaches, ascending.
    pub fn reached(&self, spend_micros: i64) -> impl Iterator<Item = ThresholdPercent> + '_ {
        self.thresholds
            .iter()
            .copied()
            .filter(move |t| t.reached(spend_micros, self.monthly_limit_micros))
    }

    /// Whether the AI must stop at `spend_micros`: a hard stop and the limit reached.
    #[must_use]
    pub const fn stops_at(&self, spend_micros: i64) -> bool {
        self.hard_stop && spend_micros >= self.monthly_limit_micros
    }
}

/// The stored and serialized shape.
#[derive(Serialize, Deserialize)]
struct RawBudget {
    monthly_limit_micros: i64,
    thresholds: Vec<ThresholdPercent>,
    hard_stop: bool,
}

impl TryFrom<RawBudget> for AiBudget {
    type Error = ValueError;

    fn try_from(raw: RawBudget) -> Result<Self, Self::Error> {
        Self::new(
            raw.monthly_limit_micros,
            Some(raw.thresholds),
            raw.hard_stop,
        )
    }
}

impl From<AiBudget> for RawBudget {
    fn from(budget: AiBudget) -> Self {
        Self {
            monthly_limit_micros: budget.monthly_limit_micros,
            thresholds: budget.thresholds,
            hard_stop: budget.hard_stop,
        }
    }
}
