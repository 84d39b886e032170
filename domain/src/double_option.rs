//! Serde for `Option<Option<T>>` fields meaning "unchanged / cleared / set". Plain serde writes
//! both `None` and `Some(None)` as `null` and reads `null` back as `None`, so a persisted
//! "clear the phone" would replay as "leave the phone". Here an absent field is `None`, `null`
//! is `Some(None)` and a value is `Some(Some(v))`. Use with
//! `#[serde(default, skip_serializing_if = "Option::is_none", with = "crate::double_option")]`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Writes `Some(None)` as `null` and `Some(Some(v))` as `v`; `None` is skipped by the caller.
pub(crate) fn serialize<T, S>(value: &Option<Option<T>>, serializer: S) -> Result<S::Ok, S::Error>
where
    T: Serialize,
    S: Serializer,
{
    match value {
        Some(inner) => inner.serialize(serializer),
        None => serializer.serialize_none(),
    }
}

/// Reads a present field: `null` as `Some(None)`, a value as `Some(Some(v))`.
pub(crate) fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: Deserialize<'de>,
    D: Deserializer<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
