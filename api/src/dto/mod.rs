//! Request and response bodies. They hold primitives (validators are for the docs); handlers
//! parse them into domain values, naming the field that was wrong.

pub mod activity;
pub mod analytics;
pub mod appointment;
pub mod budget;
pub mod bulk;
pub mod conversation;
pub mod hours;
pub mod import;
pub mod job;
pub mod lead;
pub mod lead_filter;
pub mod message;
pub mod scheduled;
pub mod tag;
pub mod tenant;
pub mod workflow;
pub mod workflow_booking;
pub mod workflow_bulk;
