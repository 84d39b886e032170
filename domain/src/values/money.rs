//! What a provider charges for a message, as it reports it: a decimal string and a currency
//! (Twilio's `price` "-0.00750" and `price_unit` "USD"). Amounts become whole micro-units of the
//! currency, exactly, without going through floats, so costs add up to the last digit. A price
//! finer than a micro-unit cannot be represented exactly: it is refused rather than rounded, and
//! callers keep the rest of the report.

use serde::{Deserialize, Serialize};

use super::ValueError;

/// Micro-units in one unit of a currency.
const MICROS_PER_UNIT: i64 = 1_000_000;
/// Decimal places a micro-unit amount can hold.
const MICRO_DECIMALS: usize = 6;
/// The largest price: a million units of its currency (far above any message's price, and low
/// enough that millions of them still add up within an `i64` of micro-units).
pub const MAX_PRICE_MICROS: i64 = 1_000_000 * MICROS_PER_UNIT;

/// An amount of money in micro-units of an ISO 4217 currency, never negative.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "PriceParts", into = "PriceParts")]
pub struct Price {
    /// Micro-units of `currency`.
    amount_micros: i64,
    /// Three upper-case letters.
    currency: String,
}

/// The stored form of a [`Price`], checked on the way back in.
#[derive(Serialize, Deserialize)]
struct PriceParts {
    amount_micros: i64,
    currency: String,
}

impl Price {
    /// Parses a provider's decimal amount (`"-0.00750"`, `"0.0075"`, `"2"`) and currency code
    /// (`"USD"`, `"usd"`). The sign is dropped: Twilio writes what it charges as a negative
    /// number. Digits beyond the sixth decimal must be zeros; anything finer, exponents,
    /// separators or an amount above [`MAX_PRICE_MICROS`] is refused.
    pub fn parse(amount: &str, currency: &str) -> Result<Self, ValueError> {
        let amount_micros =
            parse_micros(amount).ok_or_else(|| ValueError::InvalidAmount(amount.to_owned()))?;
        Ok(Self {
            amount_micros,
            currency: parse_currency(currency)?,
        })
    }

    /// A price already in micro-units (from a stored event): 0 to [`MAX_PRICE_MICROS`], and a
    /// valid code.
    pub fn from_micros(amount_micros: i64, currency: &str) -> Result<Self, ValueError> {
        if !(0..=MAX_PRICE_MICROS).contains(&amount_micros) {
            return Err(ValueError::OutOfRange {
                min: 0,
                max: MAX_PRICE_MICROS,
            });
        }
        Ok(Self {
            amount_micros,
            currency: parse_currency(currency)?,
        })
    }

    /// The amount in micro-units of [`Price::currency`].
    #[must_use]
    pub const fn amount_micros(&self) -> i64 {
        self.amount_micros
    }

    /// The ISO 4217 code, upper case.
    #[must_use]
    pub fn currency(&self) -> &str {
        &self.currency
    }
}

impl TryFrom<PriceParts> for Price {
    type Error = ValueError;

    fn try_from(parts: PriceParts) -> Result<Self, Self::Error> {
        Self::from_micros(parts.amount_micros, &parts.currency)
    }
}

impl From<Price> for PriceParts {
    fn from(price: Price) -> Self {
        Self {
            amount_micros: price.amount_micros,
            currency: price.currency,
        }
    }
}

/// Whole micro-units of an optionally signed decimal, its sign dropped; `None` when it is not a
/// plain decimal, is finer than a micro-unit, or is above [`MAX_PRICE_MICROS`].
fn parse_micros(raw: &str) -> Option<i64> {
    let unsigned = raw.trim().trim_start_matches(['-', '+']);
    if unsigned.len() + 1 < raw.trim().len() {
        return None;
    }
    let (whole, fraction) = match unsigned.split_once('.') {
        Some((_, "")) => return None,
        Some(parts) => parts,
        None => (unsigned, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !all_digits(whole) || !all_digits(fraction) {
        return None;
    }
    let (kept, finer) = fraction.split_at(fraction.len().min(MICRO_DECIMALS));
    if finer.bytes().any(|b| b != b'0') {
        return None;
    }
    let fraction_micros = kept
        .bytes()
        .chain(std::iter::repeat(b'0'))
        .take(MICRO_DECIMALS)
        .fold(0_i64, |micros, digit| micros * 10 + i64::from(digit - b'0'));
    whole
        .parse::<i64>()
        .ok()?
        .checked_mul(MICROS_PER_UNIT)?
        .checked_add(fraction_micros)
        .filter(|micros| *micros <= MAX_PRICE_MICROS)
}

/// Three ASCII letters, upper-cased.
fn parse_currency(raw: &str) -> Result<String, ValueError> {
    let code = raw.trim();
    if code.len() == 3 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(code.to_ascii_uppercase())
    } else {
        Err(ValueError::InvalidCurrency(raw.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn micros(amount: &str) -> Result<i64, ValueError> {
        Price::parse(amount, "USD").map(|price| price.amount_micros())
    }

    #[test]
    fn twilios_negative_price_becomes_a_positive_amount_in_micros() {
        let price = Price::parse("-0.00750", "USD").unwrap();
        assert_eq!((price.amount_micros(), price.currency()), (7500, "USD"));
    }

    #[test]
    fn plain_decimals_are_read_exactly() {
        assert_eq!(micros("0.0075"), Ok(7500));
        assert_eq!(micros("+0.0075"), Ok(7500));
        assert_eq!(micros("2"), Ok(2_000_000));
        assert_eq!(micros("12.5"), Ok(12_500_000));
        assert_eq!(micros("0.000001"), Ok(1));
        assert_eq!(micros("0"), Ok(0));
        assert_eq!(micros(" -1.10 "), Ok(1_100_000));
    }

    #[test]
    fn zeros_beyond_the_sixth_decimal_are_exact_and_accepted() {
        assert_eq!(micros("-0.007500000"), Ok(7500));
    }

    #[test]
    fn a_price_finer_than_a_micro_unit_is_refused_not_rounded() {
        assert_eq!(
            micros("-0.0000075"),
            Err(ValueError::InvalidAmount("-0.0000075".into()))
        );
    }

    #[test]
    fn anything_but_a_plain_decimal_is_refused() {
        for amount in [
            "", "-", ".5", "1.", "1e-3", "0,0075", "--1", "-+1", "1 000", "abc", "0x10", "NaN",
        ] {
            assert_eq!(
                micros(amount),
                Err(ValueError::InvalidAmount(amount.into())),
                "{amount:?}"
            );
        }
    }

    #[test]
    fn an_amount_above_a_million_units_is_refused() {
        assert_eq!(micros("-1000000.000000"), Ok(MAX_PRICE_MICROS));
        assert!(micros("1000000.000001").is_err());
        assert!(micros("9223372036854.775808").is_err());
        assert!(micros("99999999999999999999").is_err());
        assert!(Price::from_micros(MAX_PRICE_MICROS + 1, "USD").is_err());
    }

    #[test]
    fn the_currency_is_three_letters_upper_cased() {
        assert_eq!(Price::parse("1", " usd ").unwrap().currency(), "USD");
        for code in ["", "US", "USDT", "U$D", "12 "] {
            assert_eq!(
                Price::parse("1", code),
                Err(ValueError::InvalidCurrency(code.into()))
            );
        }
    }

    #[test]
    fn a_stored_price_must_not_be_negative() {
        assert_eq!(Price::from_micros(7500, "eur").unwrap().currency(), "EUR");
        assert!(Price::from_micros(-1, "EUR").is_err());
    }

    #[test]
    fn the_price_serializes_as_micros_and_code_and_is_checked_when_read() {
        let price = Price::parse("-0.00750", "USD").unwrap();
        assert_eq!(
            serde_json::to_value(&price).unwrap(),
            serde_json::json!({"amount_micros": 7500, "currency": "USD"})
        );
        assert!(
            serde_json::from_str::<Price>(r#"{"amount_micros": -1, "currency": "USD"}"#).is_err()
        );
    }

    proptest! {
        #[test]
        fn every_micro_amount_written_as_a_decimal_reads_back_exactly(
            micros_in in 0_i64..=MAX_PRICE_MICROS,
            negative in any::<bool>(),
        ) {
            let sign = if negative { "-" } else { "" };
            let written = format!(
                "{sign}{}.{:06}",
                micros_in / MICROS_PER_UNIT,
                micros_in % MICROS_PER_UNIT
            );
            prop_assert_eq!(micros(&written), Ok(micros_in));
        }
    }
}
