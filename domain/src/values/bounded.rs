//! A macro for small integers with a range and a default (follow-up counts, delays,
//! durations), so each such value is a type of its own with one checked way in.

/// Defines `$name($repr)` accepting `$min..=$max`, defaulting to `$default`, serialized as the
/// bare number and deserialized through the same range check.
macro_rules! bounded_number {
    ($(#[$doc:meta])* $name:ident($repr:ty), min = $min:expr, max = $max:expr, default = $default:expr) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize,
        )]
        #[serde(try_from = "i64", into = "i64")]
        pub struct $name($repr);

        impl $name {
            /// Smallest allowed value.
            pub const MIN: $repr = $min;
            /// Largest allowed value.
            pub const MAX: $repr = $max;
            /// Value used when none is given.
            pub const DEFAULT: $repr = $default;

            /// Checks that `value` is within `MIN..=MAX`.
            pub fn new(value: impl Into<i64>) -> Result<Self, $crate::values::ValueError> {
                let value: i64 = value.into();
                <$repr>::try_from(value)
                    .ok()
                    .filter(|v| (Self::MIN..=Self::MAX).contains(v))
                    .map(Self)
                    .ok_or($crate::values::ValueError::OutOfRange {
                        min: i64::from(Self::MIN),
                        max: i64::from(Self::MAX),
                    })
            }

            /// The number.
            #[must_use]
            pub const fn get(self) -> $repr {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self(Self::DEFAULT)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl TryFrom<i64> for $name {
            type Error = $crate::values::ValueError;

            fn try_from(value: i64) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for i64 {
            fn from(value: $name) -> Self {
                i64::from(value.0)
            }
        }
    };
}

pub(crate) use bounded_number;
