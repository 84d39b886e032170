//! Request and response bodies. They hold primitives (validators are for the docs); handlers
//! parse them into domain values, naming the field that was wrong.

pub mod hours;
pub mod lead;
pub mod tenant;
pub mod workflow;
