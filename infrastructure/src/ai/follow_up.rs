//! The rules engine's follow-ups: what to send a lead who has not answered our last message,
//! when a workflow step asks the AI to write it and no LLM is configured, or the LLM failed.
//!
//! Deterministic and short (at most [`MAX_FOLLOW_UP_CHARS`] characters, never empty):
//! - a qualification question still unanswered: a nudge that asks it again,
//!   "Hi Ada, just following up — Do you own your home?";
//! - nothing left to ask: a check-in naming the business,
//!   "Hi Ada, just checking in from Acme Solar — reply here whenever you're ready to pick things
//!   up.";
//! - the workflow's last follow-up (`number == of`) says it is the last, first, so that a long
//!   question cut to fit never loses it: "Hi Ada, this is our last follow-up — …".

use application::conversation_model::ModelRequest;
use domain::conversation::{evaluate_qualification, Qualification};

/// Longest follow-up, in characters: two SMS segments at most, the way the rules engine and the
/// LLM adapter both check it.
pub const MAX_FOLLOW_UP_CHARS: usize = 320;

/// The rules engine's follow-up `number` (from 1) of `of` for `request`'s lead.
#[must_use]
pub fn rules_follow_up(request: &ModelRequest, number: u32, of: u32) -> String {
    let name = request.lead_first_name.trim();
    let greeting = if name.is_empty() {
        "Hi there".to_owned()
    } else {
        format!("Hi {name}")
    };
    let last = number >= of;
    let brand = request.brand_name.trim();
    let text = match evaluate_qualification(&request.questions, &request.answers) {
        Qualification::Asking(question) if last => {
            format!(
                "{greeting}, this is our last follow-up — {}",
                question.question()
            )
        }
        Qualification::Asking(question) => {
            format!("{greeting}, just following up — {}", question.question())
        }
        Qualification::Qualified | Qualification::NotQualified if last => {
            let from = if brand.is_empty() {
                String::new()
            } else {
                format!(" from {brand}")
            };
            format!(
                "{greeting}, a last check-in{from}: we won't message again, but reply here any \
                 time if you'd like to pick things up."
            )
        }
        Qualification::Qualified | Qualification::NotQualified => {
            let from = if brand.is_empty() {
                String::new()
            } else {
                format!(" from {brand}")
            };
            format!(
                "{greeting}, just checking in{from} — reply here whenever you're ready to pick \
                 things up."
            )
        }
    };
    fit(&text)
}

/// `text` trimmed, cut to [`MAX_FOLLOW_UP_CHARS`] with an ellipsis when longer.
fn fit(text: &str) -> String {
    let text = text.trim();
    if text.chars().count() <= MAX_FOLLOW_UP_CHARS {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(MAX_FOLLOW_UP_CHARS - 1).collect();
    cut.truncate(cut.trim_end().len());
    cut.push('…');
    cut
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::BTreeMap;

    use application::conversation_model::ModelPurpose;
    use chrono::{TimeZone, Utc};
    use domain::QualificationQuestion;

    use super::*;

    fn request(first_name: &str, brand: &str, question: &str) -> ModelRequest {
        ModelRequest {
            purpose: ModelPurpose::FollowUp { number: 1, of: 2 },
            brand_name: brand.to_owned(),
            instructions: String::new(),
            questions: vec![QualificationQuestion::parse("q", question, ["Yes"]).unwrap()],
            answers: BTreeMap::new(),
            lead_first_name: first_name.to_owned(),
            timezone: "Europe/London".to_owned(),
            offered_slots: Vec::new(),
            history: Vec::new(),
            now: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
        }
    }

    #[test]
    fn a_missing_name_or_brand_still_reads_well() {
        let mut bare = request(" ", " ", "Own your home?");
        assert_eq!(
            rules_follow_up(&bare, 1, 2),
            "Hi there, just following up — Own your home?"
        );
        bare.answers.insert("q".to_owned(), "Yes".to_owned());
        assert_eq!(
            rules_follow_up(&bare, 1, 2),
            "Hi there, just checking in — reply here whenever you're ready to pick things up."
        );
        assert_eq!(
            rules_follow_up(&bare, 2, 2),
            "Hi there, a last check-in: we won't message again, but reply here any time if \
             you'd like to pick things up."
        );
    }

    #[test]
    fn a_long_question_is_cut_but_the_last_notice_stays() {
        let long = "Which of these would you say describes your home? ".repeat(9);
        let text = rules_follow_up(&request("Ada", "Acme", long.trim()), 3, 3);
        assert!(text.chars().count() <= MAX_FOLLOW_UP_CHARS);
        assert!(text.starts_with("Hi Ada, this is our last follow-up — Which"));
        assert!(text.ends_with('…'));
    }
}
