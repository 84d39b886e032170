//! A partial edit of a workflow definition. The aggregate merges it into the current definition
//! and checks the result as a whole, so cross-field rules hold after every edit.

use crate::values::{
    AppointmentDuration, BusinessHours, FollowUpCount, FollowUpDelayHours, MessageTemplate,
    WorkflowName,
};

use super::{Channel, FollowUpStep, QualificationQuestion, WorkflowDefinition};

/// One optional replacement per definition field; `None` leaves the field as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkflowPatch {
    /// New name.
    pub name: Option<WorkflowName>,
    /// New description.
    pub description: Option<String>,
    /// New channel.
    pub channel: Option<Channel>,
    /// New AI instructions.
    pub ai_instructions: Option<String>,
    /// New model override; `Some(None)` falls back to the tenant's model.
    pub ai_model: Option<Option<String>>,
    /// New initial message.
    pub initial_message: Option<MessageTemplate>,
    /// New opt-out confirmation.
    pub opt_out_message: Option<String>,
    /// New follow-up count.
    pub follow_up_count: Option<FollowUpCount>,
    /// New delay between follow-ups.
    pub follow_up_delay_hours: Option<FollowUpDelayHours>,
    /// New follow-up texts (the whole list).
    pub follow_up_templates: Option<Vec<MessageTemplate>>,
    /// New follow-up sequence (the whole list); `Some(vec![])` clears it, so the count, delay
    /// and templates apply again.
    pub follow_up_steps: Option<Vec<FollowUpStep>>,
    /// New appointment length.
    pub appointment_duration_minutes: Option<AppointmentDuration>,
    /// New qualification questions (the whole list).
    pub qualification_questions: Option<Vec<QualificationQuestion>>,
    /// New business hours; `Some(None)` falls back to the tenant's hours.
    pub business_hours: Option<Option<BusinessHours>>,
    /// New reminder offsets (the whole list; `Some(vec![])`: no reminders).
    pub reminder_offsets_minutes: Option<Vec<u32>>,
    /// New buffer around appointments.
    pub appointment_buffer_minutes: Option<u32>,
    /// New minimum notice for a booking.
    pub booking_notice_minutes: Option<u32>,
}

impl WorkflowPatch {
    /// `def` with this patch's fields replaced; not checked.
    #[must_use]
    pub fn apply_to(&self, def: &WorkflowDefinition) -> WorkflowDefinition {
        let pick = |new: &Option<String>, old: &String| new.clone().unwrap_or_else(|| old.clone());
        WorkflowDefinition {
            name: self.name.clone().unwrap_or_else(|| def.name.clone()),
            description: pick(&self.description, &def.description),
            channel: self.channel.unwrap_or(def.channel),
            ai_instructions: pick(&self.ai_instructions, &def.ai_instructions),
            ai_model: self
                .ai_model
                .clone()
                .unwrap_or_else(|| def.ai_model.clone()),
            initial_message: self
                .initial_message
                .clone()
                .unwrap_or_else(|| def.initial_message.clone()),
            opt_out_message: pick(&self.opt_out_message, &def.opt_out_message),
            follow_up_count: self.follow_up_count.unwrap_or(def.follow_up_count),
            follow_up_delay_hours: self
                .follow_up_delay_hours
                .unwrap_or(def.follow_up_delay_hours),
            follow_up_templates: self
                .follow_up_templates
                .clone()
                .unwrap_or_else(|| def.follow_up_templates.clone()),
            follow_up_steps: self
                .follow_up_steps
                .clone()
                .unwrap_or_else(|| def.follow_up_steps.clone()),
            appointment_duration_minutes: self
                .appointment_duration_minutes
                .unwrap_or(def.appointment_duration_minutes),
            qualification_questions: self
                .qualification_questions
                .clone()
                .unwrap_or_else(|| def.qualification_questions.clone()),
            business_hours: self.business_hours.unwrap_or(def.business_hours),
            reminder_offsets_minutes: self
                .reminder_offsets_minutes
                .clone()
                .unwrap_or_else(|| def.reminder_offsets_minutes.clone()),
            appointment_buffer_minutes: self
                .appointment_buffer_minutes
                .unwrap_or(def.appointment_buffer_minutes),
            booking_notice_minutes: self
                .booking_notice_minutes
                .unwrap_or(def.booking_notice_minutes),
        }
    }

    /// Whether the patch changes no field at all.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
