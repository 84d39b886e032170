//! Success shapes shared by every resource: what a command answers, and the list envelope.

use poem_openapi::payload::Json;
use poem_openapi::types::{ParseFromJSON, ToJSON, Type};
use poem_openapi::{ApiResponse, Object};

/// What a command committed. Read the resource with `min_position` set to `position` to see
/// the change in the read models.
#[derive(Debug, Clone, Object)]
pub struct CommandResult {
    /// The aggregate the command acted on.
    pub id: String,
    /// The aggregate's version (number of events) after the command.
    pub version: i64,
    /// Global position of the last event written; `null` when the command changed nothing.
    pub position: Option<i64>,
}

/// A created resource.
#[derive(Debug, ApiResponse)]
pub enum Created<T: ToJSON + ParseFromJSON + Type + Send + Sync> {
    /// Created.
    #[oai(status = 201)]
    Created(Json<T>),
}

/// A page of items: `{"items", "total", "page", "page_size"}`.
#[derive(Debug, Clone, Object)]
pub struct Page<T: ToJSON + ParseFromJSON + Type + Send + Sync> {
    /// The items of this page.
    pub items: Vec<T>,
    /// How many items match in all.
    pub total: i64,
    /// This page's number (1-based).
    pub page: u32,
    /// Items per page.
    pub page_size: u32,
}

/// Default items per page.
pub const DEFAULT_PAGE_SIZE: u32 = 50;
/// Largest page size accepted.
pub const MAX_PAGE_SIZE: u32 = 500;

/// Checks `page`/`page_size` query values, applying the defaults.
pub fn paging(
    page: Option<u32>,
    page_size: Option<u32>,
) -> Result<(u32, u32), crate::error::ApiError> {
    let page = page.unwrap_or(1);
    if page == 0 {
        return Err(crate::error::ApiError::invalid_field(
            "page",
            "must be at least 1",
        ));
    }
    let page_size = page_size.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&page_size) {
        return Err(crate::error::ApiError::invalid_field(
            "page_size",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    Ok((page, page_size))
}

/// Done, nothing to return.
#[derive(Debug, ApiResponse)]
pub enum NoContent {
    /// Done.
    #[oai(status = 204)]
    NoContent,
}
