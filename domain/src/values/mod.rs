//! Value objects: small immutable types that can only be built through a parsing constructor,
//! so a value that exists is a value that is valid. Each (de)serializes as its plain string or
//! JSON form and deserialization goes through the same parser, so stored events and API input
//! obey the same rules.

mod appointment_duration;
mod availability;
mod bounded;
mod business_hours;
mod country_code;
mod custom_fields;
mod email_address;
mod error;
mod follow_up_count;
mod follow_up_delay_hours;
mod ids;
mod lead_source;
mod local_time_range;
mod merge_field;
mod message_template;
mod money;
mod phone_number;
mod quiet_hours;
mod sending_window;
mod tag;
mod timezone;
mod workflow_name;

pub use appointment_duration::AppointmentDuration;
pub use availability::{free_slots, Interval, SlotRules};
pub use business_hours::BusinessHours;
pub use country_code::CountryCode;
pub use custom_fields::CustomFields;
pub use email_address::EmailAddress;
pub use error::ValueError;
pub use follow_up_count::FollowUpCount;
pub use follow_up_delay_hours::FollowUpDelayHours;
pub use ids::{AppointmentId, LeadId, MessageId, TenantId, WorkflowId};
pub use lead_source::LeadSource;
pub use local_time_range::LocalTimeRange;
pub use merge_field::MergeField;
pub use message_template::MessageTemplate;
pub use money::{Price, MAX_PRICE_MICROS};
pub use phone_number::PhoneNumber;
pub use quiet_hours::QuietHours;
pub use sending_window::{single_zone_of, SendingWindow};
pub use tag::Tag;
pub use timezone::Timezone;
pub use workflow_name::WorkflowName;
