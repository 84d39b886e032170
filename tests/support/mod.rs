//! The modules behind the crate root's re-exports; see the crate documentation.

pub mod compare;
pub mod context;
pub mod db;
pub mod fake_http;
pub mod feed;
pub mod history;
pub mod leads;
pub mod projections;
