//! Business-specific facts about a lead (budget, postcode, …) that the product does not model.
//! Flat and bounded so that they fit in a row, a CSV column and a message template.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ValueError;

/// Most keys an object may have.
const MAX_FIELDS: usize = 100;
/// Longest key, in characters.
const MAX_KEY_LEN: usize = 64;
/// Longest string value, in characters.
const MAX_VALUE_LEN: usize = 1000;
/// Largest serialized size, in bytes.
const MAX_BYTES: usize = 16 * 1024;

/// A flat JSON object of strings, numbers, booleans and nulls.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct CustomFields(Map<String, Value>);

impl CustomFields {
    /// Parses a JSON value, which must be a flat object within the limits.
    pub fn parse(value: Value) -> Result<Self, ValueError> {
        let Value::Object(map) = value else {
            return Err(ValueError::NotAnObject);
        };
        if map.len() > MAX_FIELDS {
            return Err(ValueError::TooManyFields { max: MAX_FIELDS });
        }
        for (key, value) in &map {
            if !is_valid_key(key) {
                return Err(ValueError::InvalidFieldKey(key.clone()));
            }
            match value {
                Value::Array(_) | Value::Object(_) => {
                    return Err(ValueError::NestedFieldValue(key.clone()));
                }
                Value::String(text) if text.chars().count() > MAX_VALUE_LEN => {
                    return Err(ValueError::FieldValueTooLong {
                        key: key.clone(),
                        max: MAX_VALUE_LEN,
                    });
                }
                _ => {}
            }
        }
        // Serializing a map of scalars cannot fail; an error would count as oversized.
        let size = serde_json::to_vec(&map).map_or(usize::MAX, |bytes| bytes.len());
        if size > MAX_BYTES {
            return Err(ValueError::TooLarge {
                max_bytes: MAX_BYTES,
            });
        }
        Ok(Self(map))
    }

    /// The fields as a JSON map.
    #[must_use]
    pub const fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The value under `key`, if any.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.get(key)
    }

    /// Whether there are no fields.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A field key: 1 to 64 ASCII letters, digits or '_'. Shared with `{custom.KEY}` merge fields.
pub(crate) fn is_valid_key(key: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&key.len())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl TryFrom<Value> for CustomFields {
    type Error = ValueError;

    fn try_from(value: Value) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<CustomFields> for Value {
    fn from(fields: CustomFields) -> Self {
        Self::Object(fields.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn a_flat_object_of_scalars_is_accepted() {
        let fields = CustomFields::parse(
            json!({"budget": 5000, "postcode": "SW1A 1AA", "vip": true, "notes": null}),
        )
        .unwrap();
        assert_eq!(fields.get("budget"), Some(&json!(5000)));
        assert_eq!(fields.as_map().len(), 4);
        assert!(!fields.is_empty());
    }

    #[test]
    fn the_default_is_empty() {
        assert!(CustomFields::default().is_empty());
    }

    #[test]
    fn a_value_that_is_not_an_object_is_rejected() {
        assert_eq!(
            CustomFields::parse(json!([1, 2])),
            Err(ValueError::NotAnObject)
        );
    }

    #[test]
    fn more_than_100_fields_are_rejected() {
        let map: Map<String, Value> = (0..101).map(|i| (format!("k{i}"), json!(i))).collect();
        assert_eq!(
            CustomFields::parse(Value::Object(map)),
            Err(ValueError::TooManyFields { max: 100 })
        );
    }

    #[test]
    fn a_key_with_odd_characters_is_rejected() {
        for key in ["", "has space", "dash-ed", "dot.ted", &"k".repeat(65)] {
            let mut map = Map::new();
            map.insert(key.to_owned(), json!(1));
            assert_eq!(
                CustomFields::parse(Value::Object(map)),
                Err(ValueError::InvalidFieldKey(key.to_owned())),
                "{key}"
            );
        }
    }

    #[test]
    fn a_nested_value_is_rejected() {
        assert_eq!(
            CustomFields::parse(json!({"tags": ["a"]})),
            Err(ValueError::NestedFieldValue("tags".into()))
        );
        assert_eq!(
            CustomFields::parse(json!({"address": {"city": "Leeds"}})),
            Err(ValueError::NestedFieldValue("address".into()))
        );
    }

    #[test]
    fn a_string_value_longer_than_1000_characters_is_rejected() {
        assert_eq!(
            CustomFields::parse(json!({"notes": "x".repeat(1001)})),
            Err(ValueError::FieldValueTooLong {
                key: "notes".into(),
                max: 1000
            })
        );
    }

    #[test]
    fn fields_larger_than_16_kib_are_rejected() {
        let map: Map<String, Value> = (0..20)
            .map(|i| (format!("k{i}"), json!("x".repeat(900))))
            .collect();
        assert_eq!(
            CustomFields::parse(Value::Object(map)),
            Err(ValueError::TooLarge { max_bytes: 16384 })
        );
    }

    #[test]
    fn custom_fields_serialize_as_the_plain_object() {
        let fields = CustomFields::parse(json!({"budget": 5000})).unwrap();
        assert_eq!(
            serde_json::to_value(&fields).unwrap(),
            json!({"budget": 5000})
        );
        assert!(serde_json::from_value::<CustomFields>(json!({"a": [1]})).is_err());
    }

    proptest! {
        #[test]
        fn valid_fields_round_trip_through_json(
            entries in proptest::collection::btree_map("[A-Za-z0-9_]{1,64}", "\\PC{0,50}", 0..20)
        ) {
            let map: Map<String, Value> = entries.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let fields = CustomFields::parse(Value::Object(map)).unwrap();
            let json = serde_json::to_string(&fields).unwrap();
            prop_assert_eq!(serde_json::from_str::<CustomFields>(&json).unwrap(), fields);
        }
    }
}
