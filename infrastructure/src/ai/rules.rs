//! The built-in conversation model: fixed, ordered rules over the lead's latest message. It
//! costs nothing, needs no provider, and gives the same reply to the same request, so it is
//! the default engine and the fallback when an LLM is down.
//!
//! # Intent
//! Phrases are matched as whole words, ignoring case and punctuation (`don't` = `dont`); the
//! first rule that matches wins:
//! 1. `opt_out`: natural opt-outs ("please stop texting me", "remove me from your list",
//!    "unsubscribe me", "don't contact me", a message starting with "stop"). Bare keywords
//!    such as STOP are handled before the model by the caller.
//! 2. `human_request`: "speak/talk to a person/someone/an agent…", "call me", "real person",
//!    "agent", "representative".
//! 3. `wrong_number`: "wrong number", "wrong person", "didn't sign up", "don't know you".
//!    "Who is this?" is a question (answered by saying who we are).
//! 4. `not_interested`: "not interested", "no thanks", "leave me alone", "not for me".
//! 5. `booking`: "book", "appointment", "schedule", "available", or a pick among the offered
//!    slots (see [`super::slots`]).
//! 6. `objection`: "too expensive", "price", "cost", "not sure", "think about it", "afford".
//! 7. `question`: ends with `?`, or starts with what/when/where/how/why/who/which/can/could/
//!    do/does/is/are/will/would/should.
//! 8. otherwise `answer` when a qualification question is pending (a bare greeting such as
//!    "hi" or "thanks" is `other`), else `other`.
//!
//! # Answers
//! Only the pending question (the first unanswered one) is answered. A message of intents 5 to
//! 8 that contains one of its qualifying answers records that answer as configured; an `answer`
//! message matching none records the lead's trimmed text (at most
//! [`MAX_ANSWER_CHARS`](super::MAX_ANSWER_CHARS) characters). Questions and objections record
//! nothing unless they contain a qualifying answer, and then keep their intent.
//!
//! # Replies
//! Short enough for one SMS where the configured texts allow: the next question after an
//! answer, a "you qualify — shall we book?" or a polite thanks once all are answered; an
//! acknowledgement plus the pending question for questions and objections; the picked slot's
//! label for bookings; no reply for opt-outs (the caller sends the opt-out confirmation).
//!
//! # Follow-ups
//! A request for a follow-up ([`ModelPurpose::FollowUp`]) reads nothing: it is written by
//! [`super::follow_up`] (intent `other`, no answers).

use std::collections::BTreeMap;
use std::time::Instant;

use application::conversation_model::{
    ConversationModel, ModelError, ModelPurpose, ModelReply, ModelRequest, OfferedSlot,
};
use async_trait::async_trait;
use domain::conversation::qualification::answer_qualifies;
use domain::conversation::{evaluate_qualification, Intent, Qualification};
use domain::QualificationQuestion;

use super::follow_up::rules_follow_up;
use super::slots::read_slot_choice;
use super::MAX_ANSWER_CHARS;

/// The engine name recorded with the rules engine's turns.
pub const RULES_ENGINE: &str = "rules";

/// Natural ways of asking not to be messaged again.
const OPT_OUT: &[&str] = &[
    "stop texting",
    "stop messaging",
    "stop contacting",
    "stop sending",
    "stop emailing",
    "stop calling",
    "stop the texts",
    "stop the messages",
    "quit texting",
    "quit messaging",
    "remove me",
    "take me off",
    "unsubscribe",
    "opt out",
    "optout",
    "dont text",
    "do not text",
    "dont message",
    "do not message",
    "dont contact",
    "do not contact",
    "dont call me",
    "do not call me",
    "never contact me",
    "no more texts",
    "no more messages",
    "lose my number",
    "delete my number",
    "remove my number",
    "no mas",
    "no más",
];

/// Ways of asking for a person.
const HUMAN_REQUEST: &[&str] = &[
    "call me",
    "give me a call",
    "phone me",
    "ring me",
    "real person",
    "live person",
    "actual person",
    "human being",
    "agent",
    "representative",
];
/// "speak to …": the verbs…
const HUMAN_VERBS: &[&str] = &["speak", "talk", "chat"];
/// …the prepositions…
const HUMAN_PREPOSITIONS: &[&str] = &["to", "with"];
/// …and who.
const HUMAN_OBJECTS: &[&str] = &[
    "someone",
    "somebody",
    "anyone",
    "anybody",
    "a person",
    "a human",
    "a real",
    "a live",
    "an actual",
    "an agent",
    "a rep",
    "a manager",
    "an advisor",
    "an adviser",
    "a member",
    "a specialist",
    "your team",
    "the team",
    "staff",
    "you guys",
];

/// Ways of saying we have the wrong person.
const WRONG_NUMBER: &[&str] = &[
    "wrong number",
    "wrong person",
    "wrong guy",
    "wrong girl",
    "wrong phone",
    "have the wrong",
    "got the wrong",
    "dont know you",
    "do not know you",
    "didnt sign up",
    "did not sign up",
    "never signed up",
    "didnt request",
    "did not request",
    "no idea who you are",
];

/// Ways of declining.
const NOT_INTERESTED: &[&str] = &[
    "not interested",
    "no thanks",
    "no thank you",
    "nah thanks",
    "no thx",
    "leave me alone",
    "not for me",
    "no longer interested",
    "no longer looking",
    "not looking anymore",
    "changed my mind",
    "already found",
    "went with someone",
    "went with another",
];

/// Words of wanting an appointment.
const BOOKING: &[&str] = &[
    "book",
    "booking",
    "appointment",
    "appointments",
    "appt",
    "schedule",
    "scheduling",
    "available",
    "availability",
    "sign me up",
    "set up a call",
    "set up a time",
];

/// Concerns: price, certainty, timing, trust.
const OBJECTION: &[&str] = &[
    "too expensive",
    "expensive",
    "price",
    "prices",
    "pricing",
    "cost",
    "costs",
    "how much",
    "too much",
    "afford",
    "not sure",
    "unsure",
    "think about it",
    "think it over",
    "thinking about it",
    "need to think",
    "not right now",
    "maybe later",
    "check with my",
    "talk to my",
    "ask my",
    "scam",
    "legit",
];

/// First words of a question.
const QUESTION_STARTS: &[&str] = &[
    "what", "whats", "when", "where", "how", "hows", "why", "who", "whos", "which", "can", "could",
    "do", "does", "is", "are", "will", "would", "should",
];

/// Questions about who is texting.
const IDENTITY_QUESTIONS: &[&str] = &[
    "who is this",
    "whos this",
    "who are you",
    "who is texting",
    "what company",
    "what is this about",
    "whats this about",
];

/// Whole messages that greet or thank rather than answer.
const GREETINGS: &[&str] = &[
    "hi",
    "hello",
    "hey",
    "hiya",
    "hi there",
    "hello there",
    "hey there",
    "thanks",
    "thank you",
    "thx",
    "ty",
    "cheers",
    "good morning",
    "good afternoon",
    "good evening",
    "morning",
];

/// The deterministic rules engine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RulesEngine;

impl RulesEngine {
    /// The engine.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }

    /// Reads the lead's latest message and writes the reply (what [`ConversationModel::respond`]
    /// returns, without the `async`).
    #[must_use]
    pub fn answer(&self, request: &ModelRequest) -> ModelReply {
        let started = Instant::now();
        if let ModelPurpose::FollowUp { number, of } = request.purpose {
            return ModelReply {
                intent: Intent::Other,
                answers: BTreeMap::new(),
                chosen_slot: None,
                reply: Some(rules_follow_up(request, number, of)),
                usage: None,
                engine: RULES_ENGINE.to_owned(),
                latency: started.elapsed(),
            };
        }
        let message = Message::new(request.latest_from_lead());
        let chosen = read_slot_choice(
            &message.text,
            &request.offered_slots,
            &request.timezone,
            request.now,
        );
        let intent = classify(&message, !chosen.is_empty());
        let answers = extract_answers(request, &message, intent);
        let intent = match intent {
            Intent::Other if !answers.is_empty() => Intent::Answer,
            Intent::Answer if answers.is_empty() => Intent::Other,
            other => other,
        };
        let chosen_slot = match chosen.as_slice() {
            [only] if intent == Intent::Booking => Some(*only),
            _ => None,
        };
        let reply = Replies::new(request, &answers).reply(intent, chosen_slot, &chosen, &message);
        ModelReply {
            intent,
            answers,
            chosen_slot,
            reply,
            usage: None,
            engine: RULES_ENGINE.to_owned(),
            latency: started.elapsed(),
        }
    }
}

#[async_trait]
impl ConversationModel for RulesEngine {
    async fn respond(&self, request: &ModelRequest) -> Result<ModelReply, ModelError> {
        Ok(self.answer(request))
    }
}

/// The lead's message, trimmed, with its words.
struct Message {
    /// Trimmed text.
    text: String,
    /// Lower-case words, apostrophes dropped.
    words: Vec<String>,
}

impl Message {
    /// Splits `text` into words.
    fn new(text: &str) -> Self {
        Self {
            text: text.trim().to_owned(),
            words: words(text),
        }
    }

    /// Whether the words of `phrase` appear in order, next to each other.
    fn has(&self, phrase: &str) -> bool {
        let phrase = words(phrase);
        !phrase.is_empty()
            && self
                .words
                .windows(phrase.len())
                .any(|window| window == phrase.as_slice())
    }

    /// Whether any of `phrases` appears.
    fn has_any(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|phrase| self.has(phrase))
    }

    /// Whether the message is exactly one of `phrases`.
    fn is_one_of(&self, phrases: &[&str]) -> bool {
        phrases.iter().any(|phrase| words(phrase) == self.words)
    }

    /// The first word, if any.
    fn first_word(&self) -> Option<&str> {
        self.words.first().map(String::as_str)
    }

    /// "stop …" (but not "stop by").
    fn starts_with_stop(&self) -> bool {
        self.first_word() == Some("stop") && self.words.get(1).map(String::as_str) != Some("by")
    }

    /// "speak to someone", "talk with an agent", …
    fn asks_for_a_person(&self) -> bool {
        HUMAN_VERBS.iter().any(|verb| {
            HUMAN_PREPOSITIONS.iter().any(|preposition| {
                HUMAN_OBJECTS
                    .iter()
                    .any(|object| self.has(&format!("{verb} {preposition} {object}")))
            })
        })
    }

    /// Ends with `?` or starts like a question.
    fn is_question(&self) -> bool {
        self.text.ends_with('?')
            || self
                .first_word()
                .is_some_and(|word| QUESTION_STARTS.contains(&word))
    }
}

/// Lower-case words: letters and digits, apostrophes dropped, anything else separates.
fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '\u{2019}')
        .map(|word| word.replace(['\'', '\u{2019}'], ""))
        .filter(|word| !word.is_empty())
        .collect()
}

/// The intent, by the ordered rules in the module documentation.
fn classify(message: &Message, picks_a_slot: bool) -> Intent {
    if message.has_any(OPT_OUT) || message.starts_with_stop() {
        Intent::OptOut
    } else if message.has_any(HUMAN_REQUEST) || message.asks_for_a_person() {
        Intent::HumanRequest
    } else if message.has_any(WRONG_NUMBER) {
        Intent::WrongNumber
    } else if message.has_any(NOT_INTERESTED) {
        Intent::NotInterested
    } else if picks_a_slot || message.has_any(BOOKING) {
        Intent::Booking
    } else if message.has_any(OBJECTION) {
        Intent::Objection
    } else if message.is_question() {
        Intent::Question
    } else if message.words.is_empty() || message.is_one_of(GREETINGS) {
        Intent::Other
    } else {
        Intent::Answer
    }
}

/// The answer to the pending question the message gives, if any. `Answer` messages with no
/// pending question come back as `Other` through an empty map.
fn extract_answers(
    request: &ModelRequest,
    message: &Message,
    intent: Intent,
) -> BTreeMap<String, String> {
    let mut answers = BTreeMap::new();
    let Qualification::Asking(question) =
        evaluate_qualification(&request.questions, &request.answers)
    else {
        return answers;
    };
    let answer = match intent {
        Intent::Booking | Intent::Objection | Intent::Question | Intent::Other => {
            qualifying_answer(question, &message.text)
        }
        Intent::Answer => qualifying_answer(question, &message.text)
            .or_else(|| Some(message.text.chars().take(MAX_ANSWER_CHARS).collect())),
        Intent::OptOut | Intent::HumanRequest | Intent::WrongNumber | Intent::NotInterested => None,
    };
    if let Some(answer) = answer {
        answers.insert(question.key().to_owned(), answer);
    }
    answers
}

/// The first of the question's qualifying answers that `text` contains, as configured.
fn qualifying_answer(question: &QualificationQuestion, text: &str) -> Option<String> {
    question
        .qualifying_answers()
        .iter()
        .find(|expected| {
            QualificationQuestion::parse(question.key(), question.question(), [expected.as_str()])
                .is_ok_and(|single| answer_qualifies(&single, text))
        })
        .cloned()
}

/// Builds replies in the lead's conversation.
struct Replies<'a> {
    /// The request answered.
    request: &'a ModelRequest,
    /// Where qualification stands once this message's answers are recorded.
    state: Qualification<'a>,
}

impl<'a> Replies<'a> {
    /// Replies for `request`, once `new_answers` are recorded.
    fn new(request: &'a ModelRequest, new_answers: &BTreeMap<String, String>) -> Self {
        let mut answers = request.answers.clone();
        answers.extend(new_answers.iter().map(|(k, v)| (k.clone(), v.clone())));
        let state = evaluate_qualification(&request.questions, &answers);
        Self { request, state }
    }

    /// ", Sam" (or nothing without a first name).
    fn name(&self) -> String {
        let name = self.request.lead_first_name.trim();
        if name.is_empty() {
            String::new()
        } else {
            format!(", {name}")
        }
    }

    /// "the Acme team" (or "our team").
    fn team(&self) -> String {
        let brand = self.request.brand_name.trim();
        if brand.is_empty() {
            "our team".to_owned()
        } else {
            format!("the {brand} team")
        }
    }

    /// " with Acme" (or nothing).
    fn with_brand(&self) -> String {
        let brand = self.request.brand_name.trim();
        if brand.is_empty() {
            String::new()
        } else {
            format!(" with {brand}")
        }
    }

    /// The pending question's text.
    fn pending(&self) -> Option<&'a str> {
        match self.state {
            Qualification::Asking(question) => Some(question.question()),
            Qualification::Qualified | Qualification::NotQualified => None,
        }
    }

    /// What to say for `intent`.
    fn reply(
        &self,
        intent: Intent,
        chosen_slot: Option<usize>,
        matching: &[usize],
        message: &Message,
    ) -> Option<String> {
        let name = self.name();
        let text = match intent {
            Intent::OptOut => return None,
            Intent::HumanRequest => format!(
                "Of course{name}. A member of {} will be in touch shortly.",
                self.team()
            ),
            Intent::WrongNumber => {
                "Sorry for the mix-up! We'll update our records. Have a great day.".to_owned()
            }
            Intent::NotInterested => format!(
                "No problem{name}, thanks for letting us know. If anything changes, just reply here."
            ),
            Intent::Booking => self.booking(chosen_slot, matching),
            Intent::Objection => self.then_next(format!(
                "I completely understand{name}, there's no pressure at all."
            )),
            Intent::Question if message.has_any(IDENTITY_QUESTIONS) => {
                let brand = self.request.brand_name.trim();
                let who = if brand.is_empty() { "us" } else { brand };
                self.then_next(format!("Hi{name}, it's {who}, following up on your enquiry."))
            }
            Intent::Question => self.then_next(format!(
                "Good question{name}! Someone from {} will follow up on that.",
                self.team()
            )),
            Intent::Answer => self.after_answers(),
            Intent::Other => match self.pending() {
                Some(question) => format!("Hi{name}! {question}"),
                None => self.after_answers(),
            },
        };
        Some(text)
    }

    /// `opening`, then the pending question or the booking invitation.
    fn then_next(&self, opening: String) -> String {
        match self.state {
            Qualification::Asking(question) => format!("{opening} {}", question.question()),
            Qualification::Qualified => {
                format!(
                    "{opening} Would you like to book a time{}?",
                    self.with_brand()
                )
            }
            Qualification::NotQualified => opening,
        }
    }

    /// The next question, or the outcome once everything is answered.
    fn after_answers(&self) -> String {
        let name = self.name();
        match self.state {
            Qualification::Asking(question) => question.question().to_owned(),
            Qualification::Qualified => format!(
                "Great news{name}, you qualify! Would you like to book an appointment{}?",
                self.with_brand()
            ),
            Qualification::NotQualified => format!(
                "Thanks for your answers{name}. It doesn't look like we're the right fit right now, \
                 but we appreciate your time."
            ),
        }
    }

    /// Confirms the pick, asks which one, or promises times.
    fn booking(&self, chosen_slot: Option<usize>, matching: &[usize]) -> String {
        let name = self.name();
        let slots = &self.request.offered_slots;
        if let Some(slot) = chosen_slot.and_then(|index| slots.get(index)) {
            return format!(
                "Great choice{name}! {} it is. We'll send your confirmation shortly.",
                slot.label
            );
        }
        if matching.len() > 1 {
            let labels: Vec<&str> = matching
                .iter()
                .filter_map(|&index| {
                    slots
                        .get(index)
                        .map(|slot: &OfferedSlot| slot.label.as_str())
                })
                .take(3)
                .collect();
            return format!(
                "Happy to book that{name}! Which works best: {}?",
                labels.join(" or ")
            );
        }
        match self.pending() {
            Some(question) => {
                format!("Happy to get you booked{name}! Just one thing first: {question}")
            }
            None => format!("Great{name}! We'll text you some available times shortly."),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn intent(text: &str) -> Intent {
        classify(&Message::new(text), false)
    }

    #[test]
    fn phrases_match_whole_words_ignoring_case_and_apostrophes() {
        assert_eq!(intent("DON’T TEXT ME"), Intent::OptOut);
        assert_eq!(intent("Please remove me."), Intent::OptOut);
        assert_eq!(intent("no más"), Intent::OptOut);
        assert_eq!(intent("Can I stop by the showroom?"), Intent::Question);
        assert_eq!(intent("I'll have to talk to my wife"), Intent::Objection);
        assert_eq!(intent("bookshelf"), Intent::Answer);
        assert_eq!(intent("agents"), Intent::Answer);
        assert_eq!(intent("  "), Intent::Other);
    }

    #[test]
    fn earlier_rules_win() {
        assert_eq!(intent("Not interested, remove me"), Intent::OptOut);
        assert_eq!(intent("wrong number, not interested"), Intent::WrongNumber);
        assert_eq!(
            intent("no thanks, I don't want to book"),
            Intent::NotInterested
        );
        assert_eq!(intent("what does an appointment cost?"), Intent::Booking);
        assert_eq!(intent("is the price fixed?"), Intent::Objection);
    }

    #[test]
    fn the_canonical_qualifying_answer_is_recorded() {
        let question =
            QualificationQuestion::parse("budget", "Budget?", ["Under 5k", "Over 5k"]).unwrap();
        assert_eq!(
            qualifying_answer(&question, "probably over 5K I'd say"),
            Some("Over 5k".to_owned())
        );
        assert_eq!(qualifying_answer(&question, "5k"), None);
    }
}
