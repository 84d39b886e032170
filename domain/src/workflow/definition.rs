//! What a workflow does: the channel, the messages, the follow-up cadence, the qualification
//! questions, and when appointments can be booked and how leads are reminded of them. Each field
//! is a parsed value or bounded minutes; `check` adds the rules that span fields or bound free
//! text and minutes, and the aggregate runs it on every change.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use crate::values::{
    AppointmentDuration, BusinessHours, FollowUpCount, FollowUpDelayHours, MessageTemplate,
    WorkflowName,
};

use super::{Channel, FollowUpMessage, FollowUpStep, QualificationQuestion, WorkflowError};

/// Longest description, in characters.
const MAX_DESCRIPTION_LEN: usize = 2000;
/// Longest AI instructions, in characters.
const MAX_AI_INSTRUCTIONS_LEN: usize = 8000;
/// Longest model name, in characters.
const MAX_AI_MODEL_LEN: usize = 200;
/// Longest opt-out confirmation, in characters (three SMS segments).
const MAX_OPT_OUT_MESSAGE_LEN: usize = 480;
/// Most qualification questions.
const MAX_QUESTIONS: usize = 20;
/// Most follow-up steps (as many as `FollowUpCount` allows).
const MAX_FOLLOW_UP_STEPS: usize = FollowUpCount::MAX as usize;

/// The full definition of a workflow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkflowDefinition {
    /// Shown in lists and reports.
    pub name: WorkflowName,
    /// Free text for operators, at most 2000 characters.
    pub description: String,
    /// Where messages go.
    pub channel: Channel,
    /// Guidance for the AI, at most 8000 characters.
    pub ai_instructions: String,
    /// The model this workflow's conversations use, overriding the tenant's (OpenAI-compatible
    /// endpoint only; 1 to 200 characters). `None`: the tenant's model.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ai_model: Option<String>,
    /// The first message a lead receives.
    pub initial_message: MessageTemplate,
    /// Sent once when a lead opts out; 1 to 480 characters.
    pub opt_out_message: String,
    /// Follow-ups sent to a silent lead; ignored when `follow_up_steps` is given.
    pub follow_up_count: FollowUpCount,
    /// Wait before each follow-up; ignored when `follow_up_steps` is given.
    pub follow_up_delay_hours: FollowUpDelayHours,
    /// Texts of the follow-ups, in order; at most `follow_up_count`. Not with `follow_up_steps`.
    pub follow_up_templates: Vec<MessageTemplate>,
    /// The follow-up sequence, in order, at most 10 steps; when given it replaces
    /// `follow_up_count`, `follow_up_delay_hours` and `follow_up_templates`. Empty: those apply.
    /// See [`WorkflowDefinition::follow_up_plan`].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub follow_up_steps: Vec<FollowUpStep>,
    /// Length of a booked appointment.
    pub appointment_duration_minutes: AppointmentDuration,
    /// What the AI asks to qualify a lead; keys unique, at most 20.
    pub qualification_questions: Vec<QualificationQuestion>,
    /// When appointments can be booked; `None` means the tenant's hours apply.
    pub business_hours: Option<BusinessHours>,
    /// Reminders sent before each appointment booked through the workflow, in minutes before
    /// its start: at most 5, each 5 to 10080, none twice, longest first. See `booking.rs`.
    #[serde(default = "super::booking::default_reminder_offsets")]
    pub reminder_offsets_minutes: Vec<u32>,
    /// Free time kept before and after each appointment when offering slots, 0 to 240 minutes.
    #[serde(default)]
    pub appointment_buffer_minutes: u32,
    /// How far ahead of now the earliest offered slot starts, 0 to 10080 minutes.
    #[serde(default = "super::booking::default_booking_notice")]
    pub booking_notice_minutes: u32,
}

impl WorkflowDefinition {
    /// The opt-out confirmation used unless the workflow says otherwise.
    pub const DEFAULT_OPT_OUT_MESSAGE: &'static str =
        "You have been unsubscribed and will not receive further messages.";

    /// A definition with the required fields and defaults for the rest.
    #[must_use]
    pub fn new(name: WorkflowName, channel: Channel, initial_message: MessageTemplate) -> Self {
        Self {
            name,
            description: String::new(),
            channel,
            ai_instructions: String::new(),
            ai_model: None,
            initial_message,
            opt_out_message: Self::DEFAULT_OPT_OUT_MESSAGE.to_owned(),
            follow_up_count: FollowUpCount::default(),
            follow_up_delay_hours: FollowUpDelayHours::default(),
            follow_up_templates: Vec::new(),
            follow_up_steps: Vec::new(),
            appointment_duration_minutes: AppointmentDuration::default(),
            qualification_questions: Vec::new(),
            business_hours: None,
            reminder_offsets_minutes: Self::DEFAULT_REMINDER_OFFSETS_MINUTES.to_vec(),
            appointment_buffer_minutes: 0,
            booking_notice_minutes: Self::DEFAULT_BOOKING_NOTICE_MINUTES,
        }
    }

    /// The follow-ups in order: `follow_up_steps` when given, else `follow_up_count` steps of
    /// `follow_up_delay_hours`, step i saying `follow_up_templates[i]` when there is one, else
    /// written by the AI.
    #[must_use]
    pub fn follow_up_plan(&self) -> Vec<FollowUpStep> {
        if !self.follow_up_steps.is_empty() {
            return self.follow_up_steps.clone();
        }
        (0..usize::from(self.follow_up_count.get()))
            .map(|i| FollowUpStep {
                delay_hours: self.follow_up_delay_hours,
                message: self
                    .follow_up_templates
                    .get(i)
                    .map_or(FollowUpMessage::Ai, |t| {
                        FollowUpMessage::Template(t.clone())
                    }),
            })
            .collect()
    }

    /// How long the lead has to answer the last follow-up (or the outreach when there is none)
    /// before it is `unresponsive`: the last step's delay, else `follow_up_delay_hours`.
    #[must_use]
    pub fn unresponsive_after(&self) -> FollowUpDelayHours {
        self.follow_up_steps
            .last()
            .map_or(self.follow_up_delay_hours, |step| step.delay_hours)
    }

    /// Checks the rules no single field can check on its own.
    pub fn check(&self) -> Result<(), WorkflowError> {
        max_chars("description", &self.description, MAX_DESCRIPTION_LEN)?;
        max_chars(
            "ai_instructions",
            &self.ai_instructions,
            MAX_AI_INSTRUCTIONS_LEN,
        )?;
        if let Some(model) = &self.ai_model {
            if model.trim().is_empty() {
                return Err(WorkflowError::FieldEmpty { field: "ai_model" });
            }
            max_chars("ai_model", model, MAX_AI_MODEL_LEN)?;
        }
        if self.opt_out_message.trim().is_empty() {
            return Err(WorkflowError::FieldEmpty {
                field: "opt_out_message",
            });
        }
        max_chars(
            "opt_out_message",
            &self.opt_out_message,
            MAX_OPT_OUT_MESSAGE_LEN,
        )?;
        let follow_ups = usize::from(self.follow_up_count.get());
        if self.follow_up_templates.len() > follow_ups {
            return Err(WorkflowError::TooManyFollowUpTemplates {
                count: self.follow_up_templates.len(),
                max: follow_ups,
            });
        }
        if self.follow_up_steps.len() > MAX_FOLLOW_UP_STEPS {
            return Err(WorkflowError::TooManyFollowUpSteps {
                count: self.follow_up_steps.len(),
                max: MAX_FOLLOW_UP_STEPS,
            });
        }
        if !self.follow_up_steps.is_empty() && !self.follow_up_templates.is_empty() {
            return Err(WorkflowError::FollowUpStepsWithTemplates);
        }
        if self.qualification_questions.len() > MAX_QUESTIONS {
            return Err(WorkflowError::TooManyQuestions {
                count: self.qualification_questions.len(),
                max: MAX_QUESTIONS,
            });
        }
        let mut keys = HashSet::new();
        for question in &self.qualification_questions {
            if !keys.insert(question.key()) {
                return Err(WorkflowError::DuplicateQuestionKey(
                    question.key().to_owned(),
                ));
            }
        }
        self.check_booking()
    }
}

/// Refuses `text` if it has more than `max` characters.
fn max_chars(field: &'static str, text: &str, max: usize) -> Result<(), WorkflowError> {
    if text.chars().count() > max {
        Err(WorkflowError::FieldTooLong { field, max })
    } else {
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn definition() -> WorkflowDefinition {
        WorkflowDefinition::new(
            WorkflowName::parse("Promo").unwrap(),
            Channel::Sms,
            MessageTemplate::parse("Hi {first_name}").unwrap(),
        )
    }

    fn question(key: &str) -> QualificationQuestion {
        QualificationQuestion::parse(key, "Q?", ["yes"]).unwrap()
    }

    #[test]
    fn a_new_definition_uses_the_defaults_and_passes_its_check() {
        let def = definition();
        assert_eq!(
            def.opt_out_message,
            WorkflowDefinition::DEFAULT_OPT_OUT_MESSAGE
        );
        assert_eq!(def.follow_up_count.get(), 3);
        assert_eq!(def.check(), Ok(()));
    }

    #[test]
    fn an_overlong_description_is_refused() {
        let def = WorkflowDefinition {
            description: "d".repeat(2001),
            ..definition()
        };
        assert_eq!(
            def.check(),
            Err(WorkflowError::FieldTooLong {
                field: "description",
                max: 2000
            })
        );
    }

    #[test]
    fn a_blank_or_overlong_model_override_is_refused() {
        let blank = WorkflowDefinition {
            ai_model: Some("  ".into()),
            ..definition()
        };
        assert_eq!(
            blank.check(),
            Err(WorkflowError::FieldEmpty { field: "ai_model" })
        );
        let long = WorkflowDefinition {
            ai_model: Some("m".repeat(201)),
            ..definition()
        };
        assert_eq!(
            long.check(),
            Err(WorkflowError::FieldTooLong {
                field: "ai_model",
                max: 200
            })
        );
        let named = WorkflowDefinition {
            ai_model: Some("gpt-4.1-mini".into()),
            ..definition()
        };
        assert_eq!(named.check(), Ok(()));
    }

    #[test]
    fn overlong_ai_instructions_are_refused() {
        let def = WorkflowDefinition {
            ai_instructions: "i".repeat(8001),
            ..definition()
        };
        assert_eq!(
            def.check(),
            Err(WorkflowError::FieldTooLong {
                field: "ai_instructions",
                max: 8000
            })
        );
    }

    #[test]
    fn a_blank_or_overlong_opt_out_message_is_refused() {
        let blank = WorkflowDefinition {
            opt_out_message: " ".into(),
            ..definition()
        };
        assert_eq!(
            blank.check(),
            Err(WorkflowError::FieldEmpty {
                field: "opt_out_message"
            })
        );
        let long = WorkflowDefinition {
            opt_out_message: "o".repeat(481),
            ..definition()
        };
        assert_eq!(
            long.check(),
            Err(WorkflowError::FieldTooLong {
                field: "opt_out_message",
                max: 480
            })
        );
    }

    #[test]
    fn more_follow_up_templates_than_follow_ups_are_refused() {
        let template = MessageTemplate::parse("Still there?").unwrap();
        let def = WorkflowDefinition {
            follow_up_count: FollowUpCount::new(1).unwrap(),
            follow_up_templates: vec![template.clone(), template],
            ..definition()
        };
        assert_eq!(
            def.check(),
            Err(WorkflowError::TooManyFollowUpTemplates { count: 2, max: 1 })
        );
    }

    fn step(hours: i64, message: FollowUpMessage) -> FollowUpStep {
        FollowUpStep {
            delay_hours: FollowUpDelayHours::new(hours).unwrap(),
            message,
        }
    }

    fn template(text: &str) -> MessageTemplate {
        MessageTemplate::parse(text).unwrap()
    }

    #[test]
    fn without_steps_the_plan_is_count_steps_of_the_delay_templates_first_then_ai() {
        let def = WorkflowDefinition {
            follow_up_count: FollowUpCount::new(3).unwrap(),
            follow_up_delay_hours: FollowUpDelayHours::new(12).unwrap(),
            follow_up_templates: vec![template("One"), template("Two")],
            ..definition()
        };
        assert_eq!(
            def.follow_up_plan(),
            vec![
                step(12, FollowUpMessage::Template(template("One"))),
                step(12, FollowUpMessage::Template(template("Two"))),
                step(12, FollowUpMessage::Ai),
            ]
        );
        assert_eq!(def.unresponsive_after().get(), 12);
    }

    #[test]
    fn no_follow_ups_is_an_empty_plan_and_the_delay_still_bounds_the_silence() {
        let def = WorkflowDefinition {
            follow_up_count: FollowUpCount::new(0).unwrap(),
            follow_up_delay_hours: FollowUpDelayHours::new(36).unwrap(),
            ..definition()
        };
        assert_eq!(def.follow_up_plan(), vec![]);
        assert_eq!(def.unresponsive_after().get(), 36);
    }

    #[test]
    fn the_default_plan_is_three_ai_follow_ups_a_day_apart() {
        let def = definition();
        assert_eq!(def.follow_up_plan(), vec![step(24, FollowUpMessage::Ai); 3]);
        assert_eq!(def.unresponsive_after().get(), 24);
    }

    #[test]
    fn steps_replace_the_count_delay_and_templates() {
        let steps = vec![
            step(2, FollowUpMessage::Template(template("Hi {first_name}"))),
            step(48, FollowUpMessage::Ai),
            step(96, FollowUpMessage::Template(template("Last call"))),
        ];
        let def = WorkflowDefinition {
            follow_up_count: FollowUpCount::new(1).unwrap(),
            follow_up_delay_hours: FollowUpDelayHours::new(5).unwrap(),
            follow_up_steps: steps.clone(),
            ..definition()
        };
        assert_eq!(def.check(), Ok(()));
        assert_eq!(def.follow_up_plan(), steps);
        assert_eq!(def.unresponsive_after().get(), 96);
    }

    #[test]
    fn more_than_10_steps_are_refused() {
        let def = WorkflowDefinition {
            follow_up_steps: vec![step(24, FollowUpMessage::Ai); 11],
            ..definition()
        };
        assert_eq!(
            def.check(),
            Err(WorkflowError::TooManyFollowUpSteps { count: 11, max: 10 })
        );
        let ten = WorkflowDefinition {
            follow_up_steps: vec![step(24, FollowUpMessage::Ai); 10],
            ..definition()
        };
        assert_eq!(ten.check(), Ok(()));
    }

    #[test]
    fn steps_and_templates_together_are_refused() {
        let def = WorkflowDefinition {
            follow_up_templates: vec![template("Still there?")],
            follow_up_steps: vec![step(24, FollowUpMessage::Ai)],
            ..definition()
        };
        assert_eq!(def.check(), Err(WorkflowError::FollowUpStepsWithTemplates));
        assert!(WorkflowError::FollowUpStepsWithTemplates
            .to_string()
            .starts_with("follow_up_steps"));
    }

    #[test]
    fn a_definition_stored_before_steps_existed_still_deserializes() {
        let mut json = serde_json::to_value(definition()).unwrap();
        assert!(json.get("follow_up_steps").is_none());
        json.as_object_mut().unwrap().remove("follow_up_steps");
        let def: WorkflowDefinition = serde_json::from_value(json).unwrap();
        assert_eq!(def, definition());
    }

    #[test]
    fn more_than_20_questions_are_refused() {
        let questions = (0..21).map(|i| question(&format!("q{i}"))).collect();
        let def = WorkflowDefinition {
            qualification_questions: questions,
            ..definition()
        };
        assert_eq!(
            def.check(),
            Err(WorkflowError::TooManyQuestions { count: 21, max: 20 })
        );
    }

    #[test]
    fn a_repeated_question_key_is_refused() {
        let def = WorkflowDefinition {
            qualification_questions: vec![question("budget"), question("when"), question("budget")],
            ..definition()
        };
        assert_eq!(
            def.check(),
            Err(WorkflowError::DuplicateQuestionKey("budget".into()))
        );
    }
}
