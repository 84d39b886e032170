//! `/api/v1/tags`: a tenant's tags, with colours and how many live leads carry each. A tag is
//! listed when it is defined or carried by a lead; defining one only gives it a colour, and
//! deleting the definition leaves the leads' tags as they are.

use std::collections::BTreeMap;

use domain::values::Tag;
use infrastructure::tags;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::OpenApi;
use serde_json::json;

use crate::auth::BearerAuth;
use crate::body::JsonBody;
use crate::dto::tag::{CreateTagRequest, TagDto, UpdateTagRequest};
use crate::error::{invalid, ApiError};
use crate::responses::{Created, NoContent};
use crate::routes::ApiTags;
use crate::state::AppState;

/// The tags API.
#[derive(Debug, Clone, Copy)]
pub struct TagsApi;

#[OpenApi(prefix_path = "/api/v1", tag = "ApiTags::Leads")]
impl TagsApi {
    /// List tags
    ///
    /// Every tag the tenant has defined or that a live (not archived) lead carries, by name,
    /// with its colour (`null` if not defined) and how many live leads carry it.
    #[oai(path = "/tags", method = "get", operation_id = "list_tags")]
    async fn list(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// Wait until the counts include the event at this position.
        min_position: Query<Option<i64>>,
    ) -> Result<Json<Vec<TagDto>>, ApiError> {
        let tenant = auth.0.tenant()?;
        let schema = projections::contacts::live();
        state
            .wait_for_position(&schema, tenant, min_position.0)
            .await?;
        let mut merged: BTreeMap<String, TagDto> = BTreeMap::new();
        for (name, leads) in
            projections::contacts::tags::counts(&state.pool, &schema, tenant.as_uuid()).await?
        {
            merged.insert(
                name.clone(),
                TagDto {
                    name,
                    colour: None,
                    leads,
                },
            );
        }
        for definition in tags::list(&state.pool, tenant.as_uuid()).await? {
            merged
                .entry(definition.name.clone())
                .or_insert_with(|| TagDto {
                    name: definition.name,
                    colour: None,
                    leads: 0,
                })
                .colour = Some(definition.colour);
        }
        Ok(Json(merged.into_values().collect()))
    }

    /// Define a tag
    ///
    /// Gives a tag a colour. 409 if the tenant has already defined it.
    #[oai(path = "/tags", method = "post", operation_id = "create_tag")]
    async fn create(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        body: JsonBody<CreateTagRequest>,
    ) -> Result<Created<TagDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let name = Tag::parse(&body.0.name).map_err(invalid("name"))?;
        let colour = parse_colour(&body.0.colour)?;
        let now = state.clock.now();
        let created = tags::create(&state.pool, tenant.as_uuid(), name.as_str(), &colour, now)
            .await?
            .ok_or_else(|| {
                ApiError::conflict(
                    "already_defined",
                    format!("the tag {name} is already defined"),
                    json!({ "field": "name" }),
                )
            })?;
        let leads = leads_with(&state, tenant.as_uuid(), &created.name).await?;
        Ok(Created::Created(Json(TagDto {
            name: created.name,
            colour: Some(created.colour),
            leads,
        })))
    }

    /// Change a tag's colour
    #[oai(path = "/tags/:name", method = "patch", operation_id = "update_tag")]
    async fn update(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The tag.
        name: Path<String>,
        body: JsonBody<UpdateTagRequest>,
    ) -> Result<Json<TagDto>, ApiError> {
        let tenant = auth.0.tenant()?;
        let name = tag_in_path(&name.0)?;
        let colour = parse_colour(&body.0.colour)?;
        let now = state.clock.now();
        let updated = tags::set_colour(&state.pool, tenant.as_uuid(), name.as_str(), &colour, now)
            .await?
            .ok_or_else(|| ApiError::not_found("tag"))?;
        let leads = leads_with(&state, tenant.as_uuid(), &updated.name).await?;
        Ok(Json(TagDto {
            name: updated.name,
            colour: Some(updated.colour),
            leads,
        }))
    }

    /// Delete a tag's definition
    ///
    /// Removes the colour; leads keep the tag (remove it from them with a bulk `remove_tag`).
    #[oai(path = "/tags/:name", method = "delete", operation_id = "delete_tag")]
    async fn delete(
        &self,
        auth: BearerAuth,
        state: Data<&AppState>,
        /// The tag.
        name: Path<String>,
    ) -> Result<NoContent, ApiError> {
        let tenant = auth.0.tenant()?;
        let name = tag_in_path(&name.0)?;
        if tags::delete(&state.pool, tenant.as_uuid(), name.as_str()).await? {
            Ok(NoContent::NoContent)
        } else {
            Err(ApiError::not_found("tag"))
        }
    }
}

/// A tag named in a path: one that cannot be a tag names none, so it is a 404 like any other.
fn tag_in_path(raw: &str) -> Result<Tag, ApiError> {
    Tag::parse(raw).map_err(|_| ApiError::not_found("tag"))
}

/// How many live leads of the tenant carry `tag`.
async fn leads_with(state: &AppState, tenant: uuid::Uuid, tag: &str) -> Result<i64, ApiError> {
    let counts =
        projections::contacts::tags::counts(&state.pool, &projections::contacts::live(), tenant)
            .await?;
    Ok(counts
        .into_iter()
        .find(|(name, _)| name == tag)
        .map_or(0, |(_, leads)| leads))
}

/// A colour: exactly `#` and six hexadecimal digits; stored lower-case.
fn parse_colour(raw: &str) -> Result<String, ApiError> {
    let valid =
        raw.len() == 7 && raw.starts_with('#') && raw[1..].chars().all(|c| c.is_ascii_hexdigit());
    if valid {
        Ok(raw.to_ascii_lowercase())
    } else {
        Err(ApiError::invalid_field(
            "colour",
            "must be # followed by six hexadecimal digits (#RRGGBB)",
        ))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::field_of;

    #[test]
    fn a_colour_is_exactly_hash_and_six_hex_digits_kept_lower_case() {
        assert_eq!(parse_colour("#FFaa00").unwrap(), "#ffaa00");
        for bad in [
            "ffaa00", "#ffaa0", "#ffaa000", "#ggaa00", " #ffaa00", "#ffé00", "",
        ] {
            assert_eq!(field_of(parse_colour(bad).unwrap_err()), "colour", "{bad}");
        }
    }
}
