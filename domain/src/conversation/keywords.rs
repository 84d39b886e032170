//! Carrier-style keywords: a whole message that is exactly one of them (any case, surrounding
//! whitespace and punctuation ignored) is a command, not conversation. "stop texting me" is not
//! a keyword (the AI's opt-out intent catches that).

/// A keyword a lead can text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    /// STOP, STOPALL, UNSUBSCRIBE, END, QUIT, CANCEL, REVOKE, OPTOUT: stop all messages.
    OptOut,
    /// START, UNSTOP: messages may resume.
    OptIn,
    /// HELP, INFO: who is texting me?
    Help,
}

/// The opt-out keywords (Twilio's defaults and the FCC's per-se revocation words).
pub const OPT_OUT_KEYWORDS: [&str; 8] = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "END",
    "QUIT",
    "CANCEL",
    "REVOKE",
    "OPTOUT",
];
/// The re-subscription keywords.
pub const OPT_IN_KEYWORDS: [&str; 2] = ["START", "UNSTOP"];
/// The help keywords.
pub const HELP_KEYWORDS: [&str; 2] = ["HELP", "INFO"];

impl Keyword {
    /// The keyword `body` is, if the whole message is one.
    #[must_use]
    pub fn classify(body: &str) -> Option<Self> {
        let word = body
            .trim()
            .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace())
            .to_ascii_uppercase();
        let is = |list: &[&str]| list.contains(&word.as_str());
        if is(&OPT_OUT_KEYWORDS) || word == "OPT OUT" || word == "OPT-OUT" {
            Some(Self::OptOut)
        } else if is(&OPT_IN_KEYWORDS) {
            Some(Self::OptIn)
        } else if is(&HELP_KEYWORDS) {
            Some(Self::Help)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_opt_out_keyword_in_any_case_is_an_opt_out() {
        for word in OPT_OUT_KEYWORDS {
            assert_eq!(Keyword::classify(word), Some(Keyword::OptOut), "{word}");
            assert_eq!(
                Keyword::classify(&format!("  {}. ", word.to_lowercase())),
                Some(Keyword::OptOut)
            );
        }
        assert_eq!(Keyword::classify("Opt out"), Some(Keyword::OptOut));
    }

    #[test]
    fn keywords_inside_a_sentence_are_conversation() {
        assert_eq!(Keyword::classify("stop texting me"), None);
        assert_eq!(Keyword::classify("please help me book"), None);
        assert_eq!(Keyword::classify("stopped"), None);
    }

    #[test]
    fn start_unstop_help_and_info_are_recognised() {
        assert_eq!(Keyword::classify("start"), Some(Keyword::OptIn));
        assert_eq!(Keyword::classify("UNSTOP"), Some(Keyword::OptIn));
        assert_eq!(Keyword::classify("Help"), Some(Keyword::Help));
        assert_eq!(Keyword::classify("info?"), Some(Keyword::Help));
    }
}
