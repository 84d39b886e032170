//! A question the AI asks to decide whether a lead qualifies, with the answers that count as
//! qualifying. The key names the answer in reports and custom fields, so it is a stable
//! snake_case identifier.

use serde::{Deserialize, Serialize};

use crate::values::ValueError;

/// Longest key, in characters.
const MAX_KEY_LEN: usize = 64;
/// Longest question, in characters.
const MAX_QUESTION_LEN: usize = 500;
/// Longest qualifying answer, in characters.
const MAX_ANSWER_LEN: usize = 200;

/// A qualification question with its qualifying answers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawQuestion")]
pub struct QualificationQuestion {
    /// Stable identifier: 1 to 64 of `[a-z0-9_]`.
    key: String,
    /// The question as asked, trimmed.
    question: String,
    /// Answers that qualify the lead, trimmed; at least one.
    qualifying_answers: Vec<String>,
}

/// The wire form, checked through `parse`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawQuestion {
    /// See `QualificationQuestion::key`.
    key: String,
    /// See `QualificationQuestion::question`.
    question: String,
    /// See `QualificationQuestion::qualifying_answers`.
    qualifying_answers: Vec<String>,
}

impl QualificationQuestion {
    /// Parses a question. The question and answers are trimmed; the key is taken as is.
    pub fn parse<I>(key: &str, question: &str, qualifying_answers: I) -> Result<Self, ValueError>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let key_ok = (1..=MAX_KEY_LEN).contains(&key.len())
            && key
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !key_ok {
            return Err(ValueError::InvalidQuestionKey(key.to_owned()));
        }
        let question = question.trim();
        if question.is_empty() || question.chars().count() > MAX_QUESTION_LEN {
            return Err(ValueError::QuestionLength {
                max: MAX_QUESTION_LEN,
            });
        }
        let answers = qualifying_answers
            .into_iter()
            .map(|answer| {
                let answer = answer.as_ref().trim();
                if answer.is_empty() || answer.chars().count() > MAX_ANSWER_LEN {
                    Err(ValueError::QualifyingAnswerLength {
                        max: MAX_ANSWER_LEN,
                    })
                } else {
                    Ok(answer.to_owned())
                }
            })
            .collect::<Result<Vec<_>, _>>()?;
        if answers.is_empty() {
            return Err(ValueError::NoQualifyingAnswers);
        }
        Ok(Self {
            key: key.to_owned(),
            question: question.to_owned(),
            qualifying_answers: answers,
        })
    }

    /// Stable identifier of the question.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The question as asked.
    #[must_use]
    pub fn question(&self) -> &str {
        &self.question
    }

    /// Answers that qualify the lead.
    #[must_use]
    pub fn qualifying_answers(&self) -> &[String] {
        &self.qualifying_answers
    }
}

impl TryFrom<RawQuestion> for QualificationQuestion {
    type Error = ValueError;

    fn try_from(raw: RawQuestion) -> Result<Self, Self::Error> {
        Self::parse(&raw.key, &raw.question, raw.qualifying_answers)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_question_is_parsed_and_trimmed() {
        let q = QualificationQuestion::parse("budget", " What is your budget? ", [" over 5k "])
            .unwrap();
        assert_eq!(q.key(), "budget");
        assert_eq!(q.question(), "What is your budget?");
        assert_eq!(q.qualifying_answers(), ["over 5k"]);
    }

    #[test]
    fn a_key_outside_lower_snake_case_is_rejected() {
        for key in ["", "Budget", "has space", "dash-ed", &"k".repeat(65)] {
            assert_eq!(
                QualificationQuestion::parse(key, "Q?", ["yes"]),
                Err(ValueError::InvalidQuestionKey(key.into())),
                "{key}"
            );
        }
    }

    #[test]
    fn a_blank_or_overlong_question_is_rejected() {
        let rule = Err(ValueError::QuestionLength { max: 500 });
        assert_eq!(QualificationQuestion::parse("k", "  ", ["yes"]), rule);
        assert_eq!(
            QualificationQuestion::parse("k", &"q".repeat(501), ["yes"]),
            rule
        );
    }

    #[test]
    fn a_question_without_qualifying_answers_is_rejected() {
        let none: [&str; 0] = [];
        assert_eq!(
            QualificationQuestion::parse("k", "Q?", none),
            Err(ValueError::NoQualifyingAnswers)
        );
    }

    #[test]
    fn a_blank_or_overlong_answer_is_rejected() {
        let rule = Err(ValueError::QualifyingAnswerLength { max: 200 });
        assert_eq!(QualificationQuestion::parse("k", "Q?", ["yes", " "]), rule);
        assert_eq!(
            QualificationQuestion::parse("k", "Q?", ["a".repeat(201)]),
            rule
        );
    }

    #[test]
    fn deserializing_goes_through_the_same_rules() {
        let json = r#"{"key":"Budget","question":"Q?","qualifying_answers":["yes"]}"#;
        assert!(serde_json::from_str::<QualificationQuestion>(json).is_err());
    }

    proptest! {
        #[test]
        fn a_valid_question_round_trips_through_json(
            key in "[a-z0-9_]{1,64}",
            question in "[a-zA-Z ?]{0,20}[a-z?]",
            answers in proptest::collection::vec("[a-z]{1,20}", 1..4),
        ) {
            let q = QualificationQuestion::parse(&key, &question, &answers).unwrap();
            let json = serde_json::to_string(&q).unwrap();
            prop_assert_eq!(serde_json::from_str::<QualificationQuestion>(&json).unwrap(), q);
        }
    }
}
