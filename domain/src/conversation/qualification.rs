//! Whether a lead qualifies, from the workflow's questions and the answers recorded so far. An
//! answer qualifies when it matches one of the question's qualifying answers, ignoring case,
//! surrounding whitespace and punctuation, or contains it as whole words ("yes please" matches
//! "yes"; "yesterday" does not).

use std::collections::BTreeMap;

use crate::QualificationQuestion;

/// Where qualification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Qualification<'a> {
    /// This question is the next one without an answer.
    Asking(&'a QualificationQuestion),
    /// Every question is answered and every answer qualifies (also when there are no questions).
    Qualified,
    /// Every question is answered and at least one answer does not qualify.
    NotQualified,
}

/// Evaluates `answers` (by question key) against `questions`, asked in order.
#[must_use]
pub fn evaluate<'a>(
    questions: &'a [QualificationQuestion],
    answers: &BTreeMap<String, String>,
) -> Qualification<'a> {
    let mut all_qualify = true;
    for question in questions {
        match answers.get(question.key()) {
            None => return Qualification::Asking(question),
            Some(answer) => all_qualify &= answer_qualifies(question, answer),
        }
    }
    if all_qualify {
        Qualification::Qualified
    } else {
        Qualification::NotQualified
    }
}

/// Whether `answer` matches one of the question's qualifying answers.
#[must_use]
pub fn answer_qualifies(question: &QualificationQuestion, answer: &str) -> bool {
    let answer = words(answer);
    question.qualifying_answers().iter().any(|expected| {
        let expected = words(expected);
        !expected.is_empty()
            && answer
                .windows(expected.len())
                .any(|window| window == expected.as_slice())
    })
}

/// Lower-case words, punctuation dropped.
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '£' && c != '$' && c != '€')
        .filter(|word| !word.is_empty())
        .map(str::to_lowercase)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn question(key: &str, answers: &[&str]) -> QualificationQuestion {
        QualificationQuestion::parse(key, "Q?", answers).unwrap()
    }

    #[test]
    fn questions_are_asked_in_order_until_all_are_answered() {
        let questions = [question("a", &["yes"]), question("b", &["soon"])];
        let mut answers = BTreeMap::new();
        assert_eq!(
            evaluate(&questions, &answers),
            Qualification::Asking(&questions[0])
        );
        answers.insert("a".to_owned(), "Yes please!".to_owned());
        assert_eq!(
            evaluate(&questions, &answers),
            Qualification::Asking(&questions[1])
        );
        answers.insert("b".to_owned(), "very soon".to_owned());
        assert_eq!(evaluate(&questions, &answers), Qualification::Qualified);
        answers.insert("b".to_owned(), "next year".to_owned());
        assert_eq!(evaluate(&questions, &answers), Qualification::NotQualified);
    }

    #[test]
    fn matching_is_by_whole_words_ignoring_case() {
        let q = question("a", &["yes", "over 5k"]);
        assert!(answer_qualifies(&q, "YES."));
        assert!(answer_qualifies(&q, "it's over 5k I think"));
        assert!(!answer_qualifies(&q, "yesterday"));
        assert!(!answer_qualifies(&q, "over"));
    }

    #[test]
    fn no_questions_means_qualified() {
        assert_eq!(evaluate(&[], &BTreeMap::new()), Qualification::Qualified);
    }
}
