//! JSON request bodies read with serde, so a refusal names the exact field: malformed JSON is a
//! 400, a well-formed body whose field has the wrong type, an unknown enum value or an unknown
//! key is a 422 with `details.field` set to the path (`custom_fields.plan`,
//! `qualification_questions[0].key`). The OpenAPI schema is still the poem-openapi type's.

use poem::{Request, RequestBody};
use poem_openapi::payload::{ParsePayload, Payload};
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::Type;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest JSON body accepted.
pub const MAX_JSON_BODY: usize = 256 * 1024;

/// A JSON body parsed with serde into `T`.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<T: Type> Payload for JsonBody<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn check_content_type(content_type: &str) -> bool {
        let essence = content_type.split(';').next().unwrap_or_default().trim();
        essence.eq_ignore_ascii_case("application/json")
            || essence.to_ascii_lowercase().ends_with("+json")
    }

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

poem_openapi::impl_apirequest_for_payload!(JsonBody<T>, T: Type + DeserializeOwned + Send);

impl<T: Type + DeserializeOwned + Send> ParsePayload for JsonBody<T> {
    const IS_REQUIRED: bool = true;

    async fn from_request(_request: &Request, body: &mut RequestBody) -> poem::Result<Self> {
        // Read at most one byte past the limit: a huge body is refused without being buffered.
        let bytes = body
            .take()?
            .into_bytes_limit(MAX_JSON_BODY + 1)
            .await
            .map_err(|error| match error {
                poem::error::ReadBodyError::PayloadTooLarge => {
                    poem::Error::from(ApiError::payload_too_large(MAX_JSON_BODY))
                }
                other => poem::Error::from(other),
            })?;
        parse(&bytes).map(JsonBody).map_err(poem::Error::from)
    }
}

/// Parses `bytes` as `T`, naming the offending field on failure.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    parse_within(bytes, MAX_JSON_BODY)
}

/// [`parse`] for a body allowed up to `limit` bytes (bulk requests listing many ids).
pub fn parse_within<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, ApiError> {
    if bytes.len() > limit {
        return Err(ApiError::payload_too_large(limit));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "missing_body",
            "a JSON body is required",
            None,
        ));
    }
    let malformed = |error: serde_json::Error| {
        ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {error}"),
            None,
        )
    };
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        if inner.classify() != serde_json::error::Category::Data {
            return malformed(inner);
        }
        let message = inner.to_string();
        let field = match missing_field(&message) {
            Some(missing) if path == "." => missing.to_string(),
            Some(missing) => format!("{path}.{missing}"),
            None if path == "." => "body".to_string(),
            None => path,
        };
        ApiError::invalid_field(&field, strip_position(&message))
    })?;
    deserializer.end().map_err(malformed)?;
    Ok(value)
}

/// The field named by serde's "missing field `x`" message.
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

/// serde_json appends " at line L column C"; the field path says more.
fn strip_position(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |at| &message[..at])
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Sample {
        name: String,
        inner: Option<Inner>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        count: u32,
    }

    fn status_and_field(bytes: &[u8]) -> (u16, serde_json::Value) {
        let error = parse::<Sample>(bytes).unwrap_err();
        let status = error.status().as_u16();
        let body = match error {
            ApiError::BadRequest(b) | ApiError::Unprocessable(b) => b.0,
            other => panic!("unexpected {other:?}"),
        };
        (status, body.error.details["field"].clone())
    }

    #[test]
    fn malformed_json_is_a_400_without_a_field() {
        assert_eq!(
            status_and_field(b"{\"name\": "),
            (400, serde_json::Value::Null)
        );
        assert_eq!(
            status_and_field(br#"{"name": "a"} trailing"#),
            (400, serde_json::Value::Null)
        );
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        let (status, field) = status_and_field(br#"{"name": "a", "inner": {"count": "x"}}"#);
        assert_eq!(status, 422);
        assert_eq!(field, "inner.count");
    }

    #[test]
    fn a_missing_field_is_named() {
        let (status, field) = status_and_field(br#"{"inner": null}"#);
        assert_eq!((status, field), (422, serde_json::json!("name")));
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let (status, _) = status_and_field(br#"{"name": "a", "nmae": "b"}"#);
        assert_eq!(status, 422);
    }

    #[test]
    fn an_empty_body_is_a_400() {
        assert_eq!(status_and_field(b"  ").0, 400);
    }
}
