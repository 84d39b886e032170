//! Bodies of `/api/v1/workflows`: the definition a client sends to create or change a workflow,
//! and the workflow it reads back from the workflows read model. Requests hold primitives; the
//! `TryFrom`s here parse every field into its domain value and name the exact field refused
//! (`follow_up_templates[1]`, `follow_up_steps[1].delay_hours`, `qualification_questions[0].key`,
//! `business_hours.monday.start`).

use std::collections::{BTreeMap, HashSet};

use anyhow::Context;
use chrono::{DateTime, Utc};
use domain::values::{
    AppointmentDuration, FollowUpCount, FollowUpDelayHours, MessageTemplate, ValueError,
    WorkflowName,
};
use domain::{
    FollowUpMessage, FollowUpStep, LeadStatus, QualificationQuestion, WorkflowDefinition,
    WorkflowError, WorkflowPatch,
};
use poem_openapi::types::{Example, MaybeUndefined};
use poem_openapi::{Enum, Object, Union};
use projections::workflows::query::WorkflowView;
use serde::Deserialize;
use uuid::Uuid;

use crate::dto::hours::BusinessHoursDto;
use crate::dto::workflow_booking::{minutes, reminder_offsets, shown};
use crate::error::{invalid, ApiError};

/// The messaging channel a workflow speaks on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum, Deserialize)]
#[oai(rename_all = "snake_case")]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// Text messages.
    Sms,
    /// WhatsApp Business messages.
    Whatsapp,
}

impl From<Channel> for domain::Channel {
    fn from(channel: Channel) -> Self {
        match channel {
            Channel::Sms => Self::Sms,
            Channel::Whatsapp => Self::Whatsapp,
        }
    }
}

impl From<domain::Channel> for Channel {
    fn from(channel: domain::Channel) -> Self {
        match channel {
            domain::Channel::Sms => Self::Sms,
            domain::Channel::Whatsapp => Self::Whatsapp,
        }
    }
}

/// Where a workflow is in its life: `draft` → `active` ⇄ `paused` → `archived` (final).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "snake_case")]
pub enum WorkflowStatus {
    /// Being written; no lead is contacted.
    Draft,
    /// Leads are contacted and followed up.
    Active,
    /// No new messages go out until resumed.
    Paused,
    /// Retired; final.
    Archived,
}

impl From<WorkflowStatus> for domain::WorkflowStatus {
    fn from(status: WorkflowStatus) -> Self {
        match status {
            WorkflowStatus::Draft => Self::Draft,
            WorkflowStatus::Active => Self::Active,
            WorkflowStatus::Paused => Self::Paused,
            WorkflowStatus::Archived => Self::Archived,
        }
    }
}

impl From<domain::WorkflowStatus> for WorkflowStatus {
    fn from(status: domain::WorkflowStatus) -> Self {
        match status {
            domain::WorkflowStatus::Draft => Self::Draft,
            domain::WorkflowStatus::Active => Self::Active,
            domain::WorkflowStatus::Paused => Self::Paused,
            domain::WorkflowStatus::Archived => Self::Archived,
        }
    }
}

/// A question the AI asks to qualify a lead, with the answers that qualify.
#[derive(Debug, Clone, PartialEq, Eq, Object, Deserialize)]
#[oai(rename = "QualificationQuestion", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct QualificationQuestionDto {
    /// Stable identifier, 1 to 64 of `a-z`, `0-9`, `_`; unique within the workflow.
    #[oai(validator(pattern = "^[a-z0-9_]{1,64}$"))]
    pub key: String,
    /// The question as asked, 1 to 500 characters.
    #[oai(validator(min_length = 1, max_length = 500))]
    pub question: String,
    /// Answers that qualify the lead; at least one, each 1 to 200 characters.
    #[oai(validator(min_items = 1))]
    pub qualifying_answers: Vec<String>,
}

impl From<&QualificationQuestion> for QualificationQuestionDto {
    fn from(question: &QualificationQuestion) -> Self {
        Self {
            key: question.key().to_owned(),
            question: question.question().to_owned(),
            qualifying_answers: question.qualifying_answers().to_vec(),
        }
    }
}

/// One follow-up of a workflow's sequence: wait, then send.
#[derive(Debug, Clone, PartialEq, Eq, Object, Deserialize)]
#[oai(rename = "FollowUpStep", deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct FollowUpStepDto {
    /// Hours to wait for a reply after the previous message (the outreach, or the previous
    /// follow-up), 1 to 720. A reply stops the sequence.
    #[oai(validator(minimum(value = "1"), maximum(value = "720")))]
    pub delay_hours: i64,
    /// What the follow-up says.
    pub message: FollowUpMessageDto,
}

/// What a follow-up says, chosen by `kind`: `{"kind": "template", "template": "..."}` or
/// `{"kind": "ai"}`.
#[derive(Debug, Clone, PartialEq, Eq, Union, Deserialize)]
#[oai(rename = "FollowUpMessage", discriminator_name = "kind", one_of)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FollowUpMessageDto {
    /// This template, with the lead's merge fields filled in.
    #[oai(mapping = "template")]
    Template(TemplateFollowUp),
    /// A message the AI writes from the conversation so far and the workflow's instructions.
    #[oai(mapping = "ai")]
    Ai(AiFollowUp),
}

/// `template`: a fixed text.
#[derive(Debug, Clone, PartialEq, Eq, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct TemplateFollowUp {
    /// The text (template, 1 to 1600 characters): `{first_name}`, `{last_name}`,
    /// `{brand_name}` and `{custom.KEY}` are filled in.
    #[oai(validator(min_length = 1, max_length = 1600))]
    pub template: String,
}

/// `ai`: no parameters; the AI writes the follow-up.
#[derive(Debug, Clone, PartialEq, Eq, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct AiFollowUp {}

impl From<&FollowUpStep> for FollowUpStepDto {
    fn from(step: &FollowUpStep) -> Self {
        Self {
            delay_hours: i64::from(step.delay_hours.get()),
            message: match &step.message {
                FollowUpMessage::Template(template) => {
                    FollowUpMessageDto::Template(TemplateFollowUp {
                        template: template.as_str().to_owned(),
                    })
                }
                FollowUpMessage::Ai => FollowUpMessageDto::Ai(AiFollowUp {}),
            },
        }
    }
}

fn default_follow_up_count() -> i64 {
    i64::from(FollowUpCount::DEFAULT)
}

fn default_follow_up_delay_hours() -> i64 {
    i64::from(FollowUpDelayHours::DEFAULT)
}

fn default_appointment_duration_minutes() -> i64 {
    i64::from(AppointmentDuration::DEFAULT)
}

fn default_opt_out_message() -> String {
    WorkflowDefinition::DEFAULT_OPT_OUT_MESSAGE.to_owned()
}

fn default_reminder_offsets_minutes() -> Vec<i64> {
    shown(&WorkflowDefinition::DEFAULT_REMINDER_OFFSETS_MINUTES)
}

fn default_booking_notice_minutes() -> i64 {
    i64::from(WorkflowDefinition::DEFAULT_BOOKING_NOTICE_MINUTES)
}

/// A new workflow; it starts in `draft`. Templates may use the merge fields `{first_name}`,
/// `{last_name}`, `{brand_name}` and `{custom.KEY}`; any other field is refused.
#[derive(Debug, Clone, Object, Deserialize)]
#[oai(deny_unknown_fields, example)]
#[serde(deny_unknown_fields)]
pub struct CreateWorkflowRequest {
    /// Shown in lists and reports, 1 to 200 characters.
    #[oai(validator(min_length = 1, max_length = 200))]
    pub name: String,
    /// Free text for operators, at most 2000 characters.
    #[oai(default, validator(max_length = 2000))]
    #[serde(default)]
    pub description: String,
    /// Where messages go.
    pub channel: Channel,
    /// Guidance for the AI, at most 8000 characters.
    #[oai(default, validator(max_length = 8000))]
    #[serde(default)]
    pub ai_instructions: String,
    /// The model this workflow's conversations use instead of the tenant's (1 to 200
    /// characters; only with the tenant's OpenAI-compatible endpoint). Leave out for the
    /// tenant's model.
    #[oai(validator(min_length = 1, max_length = 200))]
    #[serde(default)]
    pub ai_model: Option<String>,
    /// The first message a lead receives (template, 1 to 1600 characters).
    #[oai(validator(min_length = 1, max_length = 1600))]
    pub initial_message: String,
    /// Sent once when a lead opts out, 1 to 480 characters.
    #[oai(
        default = "default_opt_out_message",
        validator(min_length = 1, max_length = 480)
    )]
    #[serde(default = "default_opt_out_message")]
    pub opt_out_message: String,
    /// Follow-ups sent to a lead who does not answer, 0 to 10. Ignored when `follow_up_steps`
    /// is given.
    #[oai(
        default = "default_follow_up_count",
        validator(minimum(value = "0"), maximum(value = "10"))
    )]
    #[serde(default = "default_follow_up_count")]
    pub follow_up_count: i64,
    /// Hours to wait before each follow-up, 1 to 720. Ignored when `follow_up_steps` is given,
    /// except that without any follow-up it is how long a lead has to answer the initial
    /// message before it is `unresponsive`.
    #[oai(
        default = "default_follow_up_delay_hours",
        validator(minimum(value = "1"), maximum(value = "720"))
    )]
    #[serde(default = "default_follow_up_delay_hours")]
    pub follow_up_delay_hours: i64,
    /// Texts of the follow-ups, in order (templates); at most `follow_up_count`. Follow-ups
    /// past the last template are written by the AI. Not together with `follow_up_steps`.
    #[oai(default)]
    #[serde(default)]
    pub follow_up_templates: Vec<String>,
    /// The follow-up sequence, in order, at most 10 steps: each waits `delay_hours` for a reply,
    /// then sends a template or a message the AI writes; a reply stops the sequence, and a lead
    /// who does not answer the last step within its `delay_hours` becomes `unresponsive`. When
    /// given it replaces `follow_up_count`, `follow_up_delay_hours` and `follow_up_templates`
    /// (which must then be empty). Empty or absent: those fields apply.
    #[oai(default, validator(max_items = 10))]
    #[serde(default)]
    pub follow_up_steps: Vec<FollowUpStepDto>,
    /// Length of a booked appointment in minutes, 5 to 480.
    #[oai(
        default = "default_appointment_duration_minutes",
        validator(minimum(value = "5"), maximum(value = "480"))
    )]
    #[serde(default = "default_appointment_duration_minutes")]
    pub appointment_duration_minutes: i64,
    /// What the AI asks to qualify a lead; at most 20, keys unique.
    #[oai(default, validator(max_items = 20))]
    #[serde(default)]
    pub qualification_questions: Vec<QualificationQuestionDto>,
    /// When appointments can be booked; absent or `null` uses the tenant's hours.
    #[oai(nullable)]
    #[serde(default)]
    pub business_hours: Option<BusinessHoursDto>,
    /// Reminders sent to the lead before each appointment booked through this workflow, in
    /// minutes before its start: at most 5, each 5 to 10080 (a week), none twice, kept longest
    /// first; `[]` sends none. Default: a day and an hour before. An appointment keeps the
    /// reminders in force when it was booked.
    #[oai(default = "default_reminder_offsets_minutes", validator(max_items = 5))]
    #[serde(default = "default_reminder_offsets_minutes")]
    pub reminder_offsets_minutes: Vec<i64>,
    /// Free time kept before and after each appointment when offering slots, 0 to 240 minutes.
    #[oai(default, validator(minimum(value = "0"), maximum(value = "240")))]
    #[serde(default)]
    pub appointment_buffer_minutes: i64,
    /// How far ahead of now the earliest offered slot starts, 0 to 10080 minutes (default 60).
    #[oai(
        default = "default_booking_notice_minutes",
        validator(minimum(value = "0"), maximum(value = "10080"))
    )]
    #[serde(default = "default_booking_notice_minutes")]
    pub booking_notice_minutes: i64,
}

impl Example for CreateWorkflowRequest {
    fn example() -> Self {
        Self {
            name: "Spring whitening offer".into(),
            description: "Leads from the spring Facebook campaign".into(),
            channel: Channel::Whatsapp,
            ai_instructions: "Be brief and friendly. Offer a free consultation.".into(),
            ai_model: None,
            initial_message: "Hi {first_name}, thanks for your interest in {brand_name}! \
                              Would you like to book a free consultation?"
                .into(),
            opt_out_message: default_opt_out_message(),
            follow_up_count: 2,
            follow_up_delay_hours: 24,
            follow_up_templates: vec![
                "Hi {first_name}, just checking in: still interested?".into(),
                "Last message from {brand_name}: reply YES to book.".into(),
            ],
            follow_up_steps: Vec::new(),
            appointment_duration_minutes: 30,
            qualification_questions: vec![QualificationQuestionDto {
                key: "treatment".into(),
                question: "Which treatment are you interested in?".into(),
                qualifying_answers: vec!["whitening".into(), "implants".into()],
            }],
            business_hours: None,
            reminder_offsets_minutes: default_reminder_offsets_minutes(),
            appointment_buffer_minutes: 15,
            booking_notice_minutes: default_booking_notice_minutes(),
        }
    }
}

impl TryFrom<CreateWorkflowRequest> for WorkflowDefinition {
    type Error = ApiError;

    fn try_from(body: CreateWorkflowRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            name: WorkflowName::parse(&body.name).map_err(invalid("name"))?,
            description: body.description,
            channel: body.channel.into(),
            ai_instructions: body.ai_instructions,
            ai_model: body.ai_model,
            initial_message: template("initial_message", &body.initial_message)?,
            opt_out_message: body.opt_out_message,
            follow_up_count: FollowUpCount::new(body.follow_up_count)
                .map_err(invalid("follow_up_count"))?,
            follow_up_delay_hours: FollowUpDelayHours::new(body.follow_up_delay_hours)
                .map_err(invalid("follow_up_delay_hours"))?,
            follow_up_templates: templates(&body.follow_up_templates)?,
            follow_up_steps: steps(&body.follow_up_steps)?,
            appointment_duration_minutes: AppointmentDuration::new(
                body.appointment_duration_minutes,
            )
            .map_err(invalid("appointment_duration_minutes"))?,
            qualification_questions: questions(&body.qualification_questions)?,
            business_hours: body
                .business_hours
                .map(|hours| hours.parse("business_hours"))
                .transpose()?,
            reminder_offsets_minutes: reminder_offsets(&body.reminder_offsets_minutes)?,
            appointment_buffer_minutes: minutes(
                "appointment_buffer_minutes",
                body.appointment_buffer_minutes,
            )?,
            booking_notice_minutes: minutes("booking_notice_minutes", body.booking_notice_minutes)?,
        })
    }
}

/// A change to a workflow: only the fields given change. Lists replace the whole list;
/// `business_hours: null` drops the override so the tenant's hours apply again. `null` on any
/// other field leaves it as it is.
#[derive(Debug, Clone, Default, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct UpdateWorkflowRequest {
    /// New name, 1 to 200 characters.
    #[oai(validator(min_length = 1, max_length = 200))]
    #[serde(default)]
    pub name: Option<String>,
    /// New description, at most 2000 characters.
    #[oai(validator(max_length = 2000))]
    #[serde(default)]
    pub description: Option<String>,
    /// New channel.
    #[serde(default)]
    pub channel: Option<Channel>,
    /// New AI instructions, at most 8000 characters.
    #[oai(validator(max_length = 8000))]
    #[serde(default)]
    pub ai_instructions: Option<String>,
    /// New model override (1 to 200 characters); `null` goes back to the tenant's model.
    #[oai(nullable, validator(min_length = 1, max_length = 200))]
    #[serde(default)]
    pub ai_model: MaybeUndefined<String>,
    /// New first message (template).
    #[oai(validator(min_length = 1, max_length = 1600))]
    #[serde(default)]
    pub initial_message: Option<String>,
    /// New opt-out confirmation, 1 to 480 characters.
    #[oai(validator(min_length = 1, max_length = 480))]
    #[serde(default)]
    pub opt_out_message: Option<String>,
    /// New number of follow-ups, 0 to 10.
    #[oai(validator(minimum(value = "0"), maximum(value = "10")))]
    #[serde(default)]
    pub follow_up_count: Option<i64>,
    /// New hours between follow-ups, 1 to 720.
    #[oai(validator(minimum(value = "1"), maximum(value = "720")))]
    #[serde(default)]
    pub follow_up_delay_hours: Option<i64>,
    /// New follow-up texts (the whole list).
    #[serde(default)]
    pub follow_up_templates: Option<Vec<String>>,
    /// New follow-up sequence (the whole list, at most 10 steps); `[]` clears it so
    /// `follow_up_count`, `follow_up_delay_hours` and `follow_up_templates` apply again. To switch
    /// from templates to steps, send `"follow_up_templates": []` with it.
    #[oai(validator(max_items = 10))]
    #[serde(default)]
    pub follow_up_steps: Option<Vec<FollowUpStepDto>>,
    /// New appointment length in minutes, 5 to 480.
    #[oai(validator(minimum(value = "5"), maximum(value = "480")))]
    #[serde(default)]
    pub appointment_duration_minutes: Option<i64>,
    /// New qualification questions (the whole list).
    #[oai(validator(max_items = 20))]
    #[serde(default)]
    pub qualification_questions: Option<Vec<QualificationQuestionDto>>,
    /// New business hours; `null` falls back to the tenant's hours.
    #[oai(nullable)]
    #[serde(default)]
    pub business_hours: MaybeUndefined<BusinessHoursDto>,
    /// New reminders before each appointment (the whole list, at most 5, each 5 to 10080
    /// minutes before the start; `[]`: none). Appointments already booked keep theirs.
    #[oai(validator(max_items = 5))]
    #[serde(default)]
    pub reminder_offsets_minutes: Option<Vec<i64>>,
    /// New free time kept around each appointment, 0 to 240 minutes.
    #[oai(validator(minimum(value = "0"), maximum(value = "240")))]
    #[serde(default)]
    pub appointment_buffer_minutes: Option<i64>,
    /// New minimum notice for a booking, 0 to 10080 minutes.
    #[oai(validator(minimum(value = "0"), maximum(value = "10080")))]
    #[serde(default)]
    pub booking_notice_minutes: Option<i64>,
}

impl TryFrom<UpdateWorkflowRequest> for WorkflowPatch {
    type Error = ApiError;

    fn try_from(body: UpdateWorkflowRequest) -> Result<Self, Self::Error> {
        Ok(Self {
            name: body
                .name
                .map(|name| WorkflowName::parse(&name).map_err(invalid("name")))
                .transpose()?,
            description: body.description,
            channel: body.channel.map(Into::into),
            ai_instructions: body.ai_instructions,
            ai_model: match body.ai_model {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(model) => Some(Some(model)),
            },
            initial_message: body
                .initial_message
                .map(|text| template("initial_message", &text))
                .transpose()?,
            opt_out_message: body.opt_out_message,
            follow_up_count: body
                .follow_up_count
                .map(|n| FollowUpCount::new(n).map_err(invalid("follow_up_count")))
                .transpose()?,
            follow_up_delay_hours: body
                .follow_up_delay_hours
                .map(|n| FollowUpDelayHours::new(n).map_err(invalid("follow_up_delay_hours")))
                .transpose()?,
            follow_up_templates: body
                .follow_up_templates
                .map(|texts| templates(&texts))
                .transpose()?,
            follow_up_steps: body.follow_up_steps.map(|list| steps(&list)).transpose()?,
            appointment_duration_minutes: body
                .appointment_duration_minutes
                .map(|n| {
                    AppointmentDuration::new(n).map_err(invalid("appointment_duration_minutes"))
                })
                .transpose()?,
            qualification_questions: body
                .qualification_questions
                .map(|list| questions(&list))
                .transpose()?,
            business_hours: match body.business_hours {
                MaybeUndefined::Undefined => None,
                MaybeUndefined::Null => Some(None),
                MaybeUndefined::Value(hours) => Some(Some(hours.parse("business_hours")?)),
            },
            reminder_offsets_minutes: body
                .reminder_offsets_minutes
                .map(|list| reminder_offsets(&list))
                .transpose()?,
            appointment_buffer_minutes: body
                .appointment_buffer_minutes
                .map(|n| minutes("appointment_buffer_minutes", n))
                .transpose()?,
            booking_notice_minutes: body
                .booking_notice_minutes
                .map(|n| minutes("booking_notice_minutes", n))
                .transpose()?,
        })
    }
}

/// Parses one message template.
fn template(field: &str, text: &str) -> Result<MessageTemplate, ApiError> {
    MessageTemplate::parse(text).map_err(|error| ApiError::invalid_field(field, error))
}

/// Parses follow-up templates, naming the index refused.
fn templates(texts: &[String]) -> Result<Vec<MessageTemplate>, ApiError> {
    texts
        .iter()
        .enumerate()
        .map(|(i, text)| template(&format!("follow_up_templates[{i}]"), text))
        .collect()
}

/// Parses follow-up steps, naming the index and the part refused
/// (`follow_up_steps[1].delay_hours`, `follow_up_steps[0].message.template`).
fn steps(list: &[FollowUpStepDto]) -> Result<Vec<FollowUpStep>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, step)| {
            let delay_hours = FollowUpDelayHours::new(step.delay_hours).map_err(|error| {
                ApiError::invalid_field(&format!("follow_up_steps[{i}].delay_hours"), error)
            })?;
            let message = match &step.message {
                FollowUpMessageDto::Template(body) => FollowUpMessage::Template(template(
                    &format!("follow_up_steps[{i}].message.template"),
                    &body.template,
                )?),
                FollowUpMessageDto::Ai(AiFollowUp {}) => FollowUpMessage::Ai,
            };
            Ok(FollowUpStep {
                delay_hours,
                message,
            })
        })
        .collect()
}

/// Parses qualification questions, naming the index and the part refused. A repeated key is
/// also refused by the aggregate; finding it here lets the error name the repeating entry.
fn questions(list: &[QualificationQuestionDto]) -> Result<Vec<QualificationQuestion>, ApiError> {
    let mut keys = HashSet::new();
    list.iter()
        .enumerate()
        .map(|(i, q)| {
            let field = |part: &str| format!("qualification_questions[{i}].{part}");
            let question = QualificationQuestion::parse(&q.key, &q.question, &q.qualifying_answers)
                .map_err(|error| {
                    let part = match error {
                        ValueError::InvalidQuestionKey(_) => "key",
                        ValueError::QuestionLength { .. } => "question",
                        _ => "qualifying_answers",
                    };
                    ApiError::invalid_field(&field(part), error)
                })?;
            if !keys.insert(q.key.as_str()) {
                let repeated = WorkflowError::DuplicateQuestionKey(q.key.clone());
                return Err(ApiError::invalid_field(&field("key"), repeated));
            }
            Ok(question)
        })
        .collect()
}

/// How many of a workflow's leads are in each status (every status is present).
#[derive(Debug, Clone, Default, PartialEq, Eq, Object)]
#[oai(rename = "WorkflowLeadCounts")]
pub struct LeadCountsDto {
    /// Captured, not yet messaged.
    pub pending: i64,
    /// Messaged, no reply yet.
    pub contacted: i64,
    /// Replied; the conversation is going on.
    pub in_conversation: i64,
    /// Meets the qualification criteria.
    pub qualified: i64,
    /// Has an appointment.
    pub booked: i64,
    /// Asked not to be contacted.
    pub opted_out: i64,
    /// Did not answer the initial message or any follow-up.
    pub unresponsive: i64,
    /// Passed to a person.
    pub handed_off: i64,
}

impl From<&BTreeMap<String, i64>> for LeadCountsDto {
    /// Reads the model's `status → count` map; statuses it lacks count 0.
    fn from(counts: &BTreeMap<String, i64>) -> Self {
        let mut dto = Self::default();
        for status in LeadStatus::ALL {
            let count = counts.get(status.as_str()).copied().unwrap_or(0);
            let slot = match status {
                LeadStatus::Pending => &mut dto.pending,
                LeadStatus::Contacted => &mut dto.contacted,
                LeadStatus::InConversation => &mut dto.in_conversation,
                LeadStatus::Qualified => &mut dto.qualified,
                LeadStatus::Booked => &mut dto.booked,
                LeadStatus::OptedOut => &mut dto.opted_out,
                LeadStatus::Unresponsive => &mut dto.unresponsive,
                LeadStatus::HandedOff => &mut dto.handed_off,
            };
            *slot = count;
        }
        dto
    }
}

/// A workflow as the API shows it, read from the workflows model.
#[derive(Debug, Clone, PartialEq, Object)]
#[oai(rename = "Workflow")]
pub struct WorkflowDto {
    /// Id.
    pub id: Uuid,
    /// Name.
    pub name: String,
    /// Free text for operators.
    pub description: String,
    /// Where messages go.
    pub channel: Channel,
    /// Lifecycle status.
    pub status: WorkflowStatus,
    /// Guidance for the AI.
    pub ai_instructions: String,
    /// The model this workflow uses instead of the tenant's; `null`: the tenant's.
    #[oai(nullable)]
    pub ai_model: Option<String>,
    /// The first message a lead receives (template).
    pub initial_message: String,
    /// Sent once when a lead opts out.
    pub opt_out_message: String,
    /// Follow-ups sent to a lead who does not answer.
    pub follow_up_count: i64,
    /// Hours between follow-ups.
    pub follow_up_delay_hours: i64,
    /// Texts of the follow-ups, in order.
    pub follow_up_templates: Vec<String>,
    /// The follow-up sequence as set; empty when `follow_up_count`, `follow_up_delay_hours` and
    /// `follow_up_templates` apply.
    pub follow_up_steps: Vec<FollowUpStepDto>,
    /// Length of a booked appointment in minutes.
    pub appointment_duration_minutes: i64,
    /// What the AI asks to qualify a lead.
    pub qualification_questions: Vec<QualificationQuestionDto>,
    /// The workflow's own booking hours; `null` when the tenant's hours apply.
    #[oai(nullable)]
    pub business_hours: Option<BusinessHoursDto>,
    /// Reminders before each appointment booked through it, in minutes before the start,
    /// longest first.
    pub reminder_offsets_minutes: Vec<i64>,
    /// Free time kept before and after each appointment when offering slots, in minutes.
    pub appointment_buffer_minutes: i64,
    /// How far ahead of now the earliest offered slot starts, in minutes.
    pub booking_notice_minutes: i64,
    /// How many of its leads are in each status.
    pub lead_counts: LeadCountsDto,
    /// Created.
    pub created_at: DateTime<Utc>,
    /// Last changed.
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<WorkflowView> for WorkflowDto {
    type Error = anyhow::Error;

    /// Fails only if the read model holds something the domain no longer reads (a bug).
    fn try_from(view: WorkflowView) -> Result<Self, Self::Error> {
        let row = view.row;
        let definition: WorkflowDefinition = serde_json::from_value(row.definition)
            .with_context(|| format!("Stored definition of workflow {}", row.workflow_id))?;
        let status: domain::WorkflowStatus = row
            .status
            .parse()
            .with_context(|| format!("Stored status of workflow {}", row.workflow_id))?;
        Ok(Self {
            id: row.workflow_id,
            name: definition.name.as_str().to_owned(),
            description: definition.description,
            channel: definition.channel.into(),
            status: status.into(),
            ai_instructions: definition.ai_instructions,
            ai_model: definition.ai_model,
            initial_message: definition.initial_message.as_str().to_owned(),
            opt_out_message: definition.opt_out_message,
            follow_up_count: i64::from(definition.follow_up_count.get()),
            follow_up_delay_hours: i64::from(definition.follow_up_delay_hours.get()),
            follow_up_templates: definition
                .follow_up_templates
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
            follow_up_steps: definition
                .follow_up_steps
                .iter()
                .map(FollowUpStepDto::from)
                .collect(),
            appointment_duration_minutes: i64::from(definition.appointment_duration_minutes.get()),
            qualification_questions: definition
                .qualification_questions
                .iter()
                .map(QualificationQuestionDto::from)
                .collect(),
            business_hours: definition
                .business_hours
                .as_ref()
                .map(BusinessHoursDto::from),
            reminder_offsets_minutes: shown(&definition.reminder_offsets_minutes),
            appointment_buffer_minutes: i64::from(definition.appointment_buffer_minutes),
            booking_notice_minutes: i64::from(definition.booking_notice_minutes),
            lead_counts: LeadCountsDto::from(&view.lead_counts),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::field_of;

    fn create(json: &str) -> Result<WorkflowDefinition, ApiError> {
        let body: CreateWorkflowRequest = crate::body::parse(json.as_bytes())?;
        WorkflowDefinition::try_from(body)
    }

    #[test]
    fn a_minimal_body_gets_the_documented_defaults() {
        let def = create(r#"{"name":"Promo","channel":"sms","initial_message":"Hi {first_name}"}"#)
            .unwrap();
        assert_eq!(def.follow_up_count.get(), 3);
        assert_eq!(def.follow_up_delay_hours.get(), 24);
        assert_eq!(def.appointment_duration_minutes.get(), 30);
        assert_eq!(
            def.opt_out_message,
            WorkflowDefinition::DEFAULT_OPT_OUT_MESSAGE
        );
        assert_eq!(def.business_hours, None);
        assert_eq!(def.reminder_offsets_minutes, [1440, 60]);
        assert_eq!(def.appointment_buffer_minutes, 0);
        assert_eq!(def.booking_notice_minutes, 60);
    }

    #[test]
    fn each_refusal_names_its_field() {
        let cases = [
            (r#""name":" ""#, "name"),
            (r#""initial_message":"Hi {nickname}""#, "initial_message"),
            (r#""follow_up_count":11"#, "follow_up_count"),
            (r#""follow_up_delay_hours":0"#, "follow_up_delay_hours"),
            (
                r#""appointment_duration_minutes":1"#,
                "appointment_duration_minutes",
            ),
            (
                r#""follow_up_templates":["ok","{oops"]"#,
                "follow_up_templates[1]",
            ),
            (
                r#""qualification_questions":[{"key":"Bad Key","question":"Q?","qualifying_answers":["y"]}]"#,
                "qualification_questions[0].key",
            ),
            (
                r#""qualification_questions":[{"key":"k","question":"Q?","qualifying_answers":[]}]"#,
                "qualification_questions[0].qualifying_answers",
            ),
            (
                r#""qualification_questions":[{"key":"k","question":"Q?","qualifying_answers":["y"]},{"key":"k","question":"Again?","qualifying_answers":["y"]}]"#,
                "qualification_questions[1].key",
            ),
            (
                r#""business_hours":{"friday":{"start":"9am","end":"17:00"}}"#,
                "business_hours.friday.start",
            ),
            (
                r#""follow_up_steps":[{"delay_hours":1,"message":{"kind":"ai"}},{"delay_hours":0,"message":{"kind":"ai"}}]"#,
                "follow_up_steps[1].delay_hours",
            ),
            (
                r#""follow_up_steps":[{"delay_hours":2,"message":{"kind":"template","template":"Hi {nick}"}}]"#,
                "follow_up_steps[0].message.template",
            ),
            (
                r#""follow_up_steps":[{"delay_hours":"soon","message":{"kind":"ai"}}]"#,
                "follow_up_steps[0].delay_hours",
            ),
            (
                r#""reminder_offsets_minutes":[60,-5]"#,
                "reminder_offsets_minutes[1]",
            ),
            (
                r#""appointment_buffer_minutes":-1"#,
                "appointment_buffer_minutes",
            ),
            (r#""booking_notice_minutes":-60"#, "booking_notice_minutes"),
        ];
        for (fields, expected) in cases {
            let mut body =
                serde_json::json!({"name": "Promo", "channel": "sms", "initial_message": "Hi"});
            let overrides: serde_json::Value =
                serde_json::from_str(&format!("{{{fields}}}")).unwrap();
            for (key, value) in overrides.as_object().unwrap() {
                body[key] = value.clone();
            }
            let error = create(&body.to_string()).unwrap_err();
            assert_eq!(field_of(error), expected, "{body}");
        }
    }

    #[test]
    fn steps_are_read_in_order_with_their_messages() {
        let def = create(
            r#"{"name":"Promo","channel":"sms","initial_message":"Hi","follow_up_steps":[
                {"delay_hours":24,"message":{"kind":"template","template":"Hi {first_name}"}},
                {"delay_hours":48,"message":{"kind":"ai"}}]}"#,
        )
        .unwrap();
        let hours: Vec<_> = def
            .follow_up_steps
            .iter()
            .map(|s| s.delay_hours.get())
            .collect();
        assert_eq!(hours, [24, 48]);
        assert_eq!(
            def.follow_up_steps[0]
                .message
                .template()
                .map(MessageTemplate::as_str),
            Some("Hi {first_name}")
        );
        assert_eq!(def.follow_up_steps[1].message, FollowUpMessage::Ai);
        let back: Vec<_> = def
            .follow_up_steps
            .iter()
            .map(FollowUpStepDto::from)
            .collect();
        assert_eq!(
            back[1],
            FollowUpStepDto {
                delay_hours: 48,
                message: FollowUpMessageDto::Ai(AiFollowUp {})
            }
        );
    }

    #[test]
    fn an_empty_step_list_in_a_patch_clears_the_sequence() {
        let parse = |json: &str| {
            let body: UpdateWorkflowRequest = crate::body::parse(json.as_bytes()).unwrap();
            WorkflowPatch::try_from(body).unwrap()
        };
        assert_eq!(
            parse(r#"{"follow_up_steps":[]}"#).follow_up_steps,
            Some(vec![])
        );
        assert_eq!(parse(r#"{"name":"New"}"#).follow_up_steps, None);
    }

    #[test]
    fn a_null_business_hours_in_a_patch_clears_the_override() {
        let parse = |json: &str| {
            let body: UpdateWorkflowRequest = crate::body::parse(json.as_bytes()).unwrap();
            WorkflowPatch::try_from(body).unwrap()
        };
        assert_eq!(
            parse(r#"{"business_hours":null}"#).business_hours,
            Some(None)
        );
        assert_eq!(parse(r#"{"name":"New"}"#).business_hours, None);
        assert!(parse("{}").is_empty());
    }

    #[test]
    fn lead_counts_list_every_status() {
        let counts = BTreeMap::from([("booked".to_owned(), 2), ("pending".to_owned(), 5)]);
        let dto = LeadCountsDto::from(&counts);
        assert_eq!((dto.booked, dto.pending, dto.contacted), (2, 5, 0));
    }
}
