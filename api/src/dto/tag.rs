//! Tag bodies: a tenant's tag definitions (name and colour) and how many leads carry each tag.

use poem_openapi::Object;
use serde::Deserialize;

/// A tag to define.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct CreateTagRequest {
    /// The tag (trimmed, lower-cased, at most 50 characters, no commas).
    pub name: String,
    /// `#RRGGBB`.
    pub colour: String,
}

/// A change of a tag's definition.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct UpdateTagRequest {
    /// `#RRGGBB`.
    pub colour: String,
}

/// A tag: defined, carried by leads, or both.
#[derive(Debug, Clone, Object)]
#[oai(rename = "Tag")]
pub struct TagDto {
    /// The tag.
    pub name: String,
    /// `#rrggbb`; `null` when the tag is carried by leads but not defined.
    pub colour: Option<String>,
    /// How many live (not archived) leads carry it.
    pub leads: i64,
}
