//! Which offered appointment slot a lead's message picks, read the way people text: by number
//! ("2", "option 2", "#2", "the second one", "2nd one", "last one") or by time and day
//! ("Tuesday 3pm", "3pm", "15:00", "tomorrow at 10", "noon", "Friday"). Times and days are read
//! in the lead's timezone, so a slot stored in UTC matches the wall-clock time the lead saw, on
//! either side of a daylight-saving change.
//!
//! Rules, so the reading stays predictable:
//! - A number picks a slot only as a choice: alone or in a message of at most three words
//!   ("2 please"), after `#`/`option`/`number`/`slot`/`choice`, or as an ordinal. Out of range:
//!   no pick.
//! - A time needs `am`/`pm`, minutes (`15:00`, `3.30`), `at`/`@` before an hour, `o'clock`, or is
//!   `noon`/`midday`. Without `am`/`pm`, an hour from 1 to 11 may be morning or afternoon.
//! - A day is a full weekday name, `today` or `tomorrow`; abbreviations (`tue`, `sat`) count only
//!   next to a time, since "sat" and "sun" are also words.
//! - Every slot matching the time and the day is returned: one is a pick, several are ambiguous.
//! - An unknown timezone name reads times in the domain's default zone.

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc, Weekday};
use domain::values::Timezone;

use application::conversation_model::OfferedSlot;

/// Words that introduce a slot number: "option 2".
const NUMBER_PREFIXES: [&str; 5] = ["option", "number", "slot", "choice", "opt"];
/// Words that may follow an ordinal: "the second one".
const ORDINAL_NOUNS: [&str; 5] = ["one", "option", "slot", "time", "choice"];
/// Ordinal words, first to fifth.
const ORDINALS: [&str; 5] = ["first", "second", "third", "fourth", "fifth"];
/// Suffixes of numeric ordinals ("2nd").
const ORDINAL_SUFFIXES: [&str; 4] = ["st", "nd", "rd", "th"];
/// Longest message, in tokens, in which a bare number is read as a choice.
const BARE_NUMBER_MAX_TOKENS: usize = 3;

/// A piece of the lead's message.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// Letters (apostrophes dropped), lower case.
    Word(String),
    /// Digits, with minutes when written `h:mm` or `h.mm`.
    Number {
        /// The number (the hour when minutes follow).
        value: u32,
        /// Minutes after `:` or `.`.
        minutes: Option<u32>,
        /// Written with a leading zero ("09:00"), so a 24-hour time.
        leading_zero: bool,
    },
    /// `#`.
    Hash,
    /// `@`.
    At,
}

/// The indexes of the offered slots `text` refers to: empty when it names none, one when it
/// picks one, several when it is ambiguous ("3pm" with 3pm slots on two days).
#[must_use]
pub fn read_slot_choice(
    text: &str,
    slots: &[OfferedSlot],
    timezone: &str,
    now: DateTime<Utc>,
) -> Vec<usize> {
    if slots.is_empty() {
        return Vec::new();
    }
    let tokens = tokenize(text);
    if let Some(number) = slot_number(&tokens, slots.len()) {
        return vec![number - 1];
    }
    let tz = Timezone::parse(timezone).unwrap_or_default().tz();
    let times = times_of_day(&tokens);
    let today = now.with_timezone(&tz).date_naive();
    let day = day_reference(&tokens, !times.is_empty(), today);
    if times.is_empty() && day.is_none() {
        return Vec::new();
    }
    slots
        .iter()
        .enumerate()
        .filter(|(_, slot)| {
            let local = slot.start.with_timezone(&tz);
            let time_ok = times.is_empty() || times.contains(&(local.hour(), local.minute()));
            let day_ok = day.is_none_or(|day| day.matches(local.date_naive()));
            time_ok && day_ok
        })
        .map(|(index, _)| index)
        .collect()
}

/// Splits `text` into words, numbers (with minutes) and the `#`/`@` signs.
fn tokenize(text: &str) -> Vec<Token> {
    let chars: Vec<char> = text.to_lowercase().chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_ascii_digit() {
            let start = i;
            while i < chars.len() && chars[i].is_ascii_digit() {
                i += 1;
            }
            let digits: String = chars[start..i].iter().collect();
            let minutes = match chars.get(i..i + 3) {
                Some([sep, a, b])
                    if (*sep == ':' || *sep == '.')
                        && a.is_ascii_digit()
                        && b.is_ascii_digit()
                        && !chars.get(i + 3).is_some_and(char::is_ascii_digit) =>
                {
                    i += 3;
                    a.to_digit(10).zip(b.to_digit(10)).map(|(a, b)| a * 10 + b)
                }
                _ => None,
            };
            if let Ok(value) = digits.parse::<u32>() {
                tokens.push(Token::Number {
                    value,
                    minutes,
                    leading_zero: digits.len() > 1 && digits.starts_with('0'),
                });
            }
        } else if c.is_alphabetic() {
            let mut word = String::new();
            while i < chars.len() && (chars[i].is_alphabetic() || is_apostrophe(chars[i])) {
                if !is_apostrophe(chars[i]) {
                    word.push(chars[i]);
                }
                i += 1;
            }
            tokens.push(Token::Word(word));
        } else {
            match c {
                '#' => tokens.push(Token::Hash),
                '@' => tokens.push(Token::At),
                _ => {}
            }
            i += 1;
        }
    }
    tokens
}

/// Straight or curly apostrophe.
const fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}')
}

/// The word at `index`, if that token is a word.
fn word(tokens: &[Token], index: usize) -> Option<&str> {
    match tokens.get(index) {
        Some(Token::Word(word)) => Some(word.as_str()),
        _ => None,
    }
}

/// Whether the token at `index` is a word in `list`.
fn word_in(tokens: &[Token], index: usize, list: &[&str]) -> bool {
    word(tokens, index).is_some_and(|word| list.contains(&word))
}

/// A whole number without minutes at `index`.
fn bare_number(tokens: &[Token], index: usize) -> Option<u32> {
    match tokens.get(index) {
        Some(Token::Number {
            value,
            minutes: None,
            ..
        }) => Some(*value),
        _ => None,
    }
}

/// The 1-based slot number the message picks, within `1..=count`.
fn slot_number(tokens: &[Token], count: usize) -> Option<usize> {
    let in_range = |n: usize| (1..=count).contains(&n).then_some(n);
    let as_index = |n: u32| usize::try_from(n).ok().and_then(in_range);
    for i in 0..tokens.len() {
        let next_is_noun_or_end = i + 1 == tokens.len() || word_in(tokens, i + 1, &ORDINAL_NOUNS);
        if let Some(n) = bare_number(tokens, i + 1) {
            if tokens[i] == Token::Hash || word_in(tokens, i, &NUMBER_PREFIXES) {
                return as_index(n);
            }
        }
        if let Some(position) = word(tokens, i).and_then(|w| ORDINALS.iter().position(|o| *o == w))
        {
            if next_is_noun_or_end {
                return in_range(position + 1);
            }
        }
        if word(tokens, i) == Some("last") && next_is_noun_or_end && i > 0 {
            return in_range(count);
        }
        if let Some(n) = bare_number(tokens, i) {
            if word_in(tokens, i + 1, &ORDINAL_SUFFIXES)
                && (i + 2 == tokens.len() || word_in(tokens, i + 2, &ORDINAL_NOUNS))
            {
                return as_index(n);
            }
        }
    }
    if tokens.len() <= BARE_NUMBER_MAX_TOKENS {
        for i in 0..tokens.len() {
            let Some(n) = bare_number(tokens, i) else {
                continue;
            };
            let is_time_or_ordinal = word_in(tokens, i + 1, &["am", "pm", "a", "p", "oclock"])
                || word_in(tokens, i + 1, &ORDINAL_SUFFIXES)
                || (i > 0 && (word(tokens, i - 1) == Some("at") || tokens[i - 1] == Token::At));
            if !is_time_or_ordinal {
                return as_index(n);
            }
        }
    }
    None
}

/// The local times of day (hour, minute) the first time expression may mean: none, one, or
/// morning and afternoon when it could be either.
fn times_of_day(tokens: &[Token]) -> Vec<(u32, u32)> {
    for i in 0..tokens.len() {
        if word_in(tokens, i, &["noon", "midday"]) {
            return vec![(12, 0)];
        }
        let Some(Token::Number {
            value: hour,
            minutes,
            leading_zero,
        }) = tokens.get(i)
        else {
            continue;
        };
        let (hour, minute) = (*hour, minutes.unwrap_or(0));
        if minute > 59 {
            continue;
        }
        if let Some(pm) = meridiem(tokens, i + 1) {
            if (1..=12).contains(&hour) {
                return vec![(hour % 12 + if pm { 12 } else { 0 }, minute)];
            }
            continue;
        }
        let marked = minutes.is_some()
            || word(tokens, i + 1) == Some("oclock")
            || (i > 0 && (word(tokens, i - 1) == Some("at") || tokens[i - 1] == Token::At));
        if !marked || hour > 23 {
            continue;
        }
        return if *leading_zero || hour == 0 || hour >= 12 {
            vec![(hour, minute)]
        } else {
            vec![(hour, minute), (hour + 12, minute)]
        };
    }
    Vec::new()
}

/// `Some(true)` for pm, `Some(false)` for am, when the tokens from `index` say so ("pm",
/// "p.m.", "p m").
fn meridiem(tokens: &[Token], index: usize) -> Option<bool> {
    match word(tokens, index)? {
        "am" => Some(false),
        "pm" => Some(true),
        "a" if word(tokens, index + 1) == Some("m") => Some(false),
        "p" if word(tokens, index + 1) == Some("m") => Some(true),
        _ => None,
    }
}

/// A day the lead named.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DayReference {
    /// Any date on this weekday.
    Weekday(Weekday),
    /// This date ("today", "tomorrow").
    Date(NaiveDate),
}

impl DayReference {
    /// Whether a slot on local date `date` is on this day.
    fn matches(self, date: NaiveDate) -> bool {
        match self {
            Self::Weekday(weekday) => date.weekday() == weekday,
            Self::Date(day) => date == day,
        }
    }
}

/// The first day named in the message; abbreviations only when `with_time`.
fn day_reference(tokens: &[Token], with_time: bool, today: NaiveDate) -> Option<DayReference> {
    tokens.iter().find_map(|token| {
        let Token::Word(word) = token else {
            return None;
        };
        match word.as_str() {
            "today" | "tonight" => Some(DayReference::Date(today)),
            "tomorrow" | "tmrw" | "tmr" | "tomorow" => today.succ_opt().map(DayReference::Date),
            other => weekday(other, with_time).map(DayReference::Weekday),
        }
    })
}

/// The weekday `word` names: full names always, abbreviations when `abbreviations` is set.
fn weekday(word: &str, abbreviations: bool) -> Option<Weekday> {
    const DAYS: [(Weekday, &str, &[&str]); 7] = [
        (Weekday::Mon, "monday", &["mon"]),
        (Weekday::Tue, "tuesday", &["tue", "tues"]),
        (Weekday::Wed, "wednesday", &["wed", "weds"]),
        (Weekday::Thu, "thursday", &["thu", "thur", "thurs"]),
        (Weekday::Fri, "friday", &["fri"]),
        (Weekday::Sat, "saturday", &["sat"]),
        (Weekday::Sun, "sunday", &["sun"]),
    ];
    DAYS.iter()
        .find(|(_, full, short)| word == *full || (abbreviations && short.contains(&word)))
        .map(|(day, _, _)| *day)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    /// Slots at these UTC times, labelled by their index.
    fn slots(starts: &[(i32, u32, u32, u32, u32)]) -> Vec<OfferedSlot> {
        starts
            .iter()
            .enumerate()
            .map(|(i, &(y, mo, d, h, mi))| OfferedSlot {
                start: Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap(),
                label: format!("slot {i}"),
            })
            .collect()
    }

    fn now() -> DateTime<Utc> {
        // Monday 2 March 2026, 09:00 in London (GMT).
        Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap()
    }

    /// Tue 3 Mar 10:00, Tue 3 Mar 15:00, Wed 4 Mar 15:00, Thu 5 Mar 09:30 (London = UTC).
    fn week() -> Vec<OfferedSlot> {
        slots(&[
            (2026, 3, 3, 10, 0),
            (2026, 3, 3, 15, 0),
            (2026, 3, 4, 15, 0),
            (2026, 3, 5, 9, 30),
        ])
    }

    fn read(text: &str) -> Vec<usize> {
        read_slot_choice(text, &week(), "Europe/London", now())
    }

    #[test]
    fn numbers_and_ordinals_pick_by_position() {
        for text in [
            "2",
            "2.",
            "#2",
            "option 2",
            "Option 2 please",
            "2 please",
            "the second one",
            "Second",
            "2nd one",
            "I'll take number 2",
        ] {
            assert_eq!(read(text), vec![1], "{text}");
        }
        assert_eq!(read("the last one"), vec![3]);
        assert_eq!(read("first option"), vec![0]);
    }

    #[test]
    fn numbers_out_of_range_or_in_sentences_pick_nothing() {
        for text in [
            "9",
            "option 7",
            "I have 2 kids at home",
            "first, can I ask something",
            "",
        ] {
            assert_eq!(read(text), Vec::<usize>::new(), "{text}");
        }
    }

    #[test]
    fn times_and_days_pick_in_local_time() {
        assert_eq!(read("Tuesday 3pm"), vec![1]);
        assert_eq!(read("tue 3 p.m."), vec![1]);
        assert_eq!(read("Wednesday at 3"), vec![2]);
        assert_eq!(read("15:00 on Wednesday works"), vec![2]);
        assert_eq!(read("9:30"), vec![3]);
        assert_eq!(read("10am"), vec![0]);
        assert_eq!(read("tomorrow at 10"), vec![0]);
        assert_eq!(read("Thursday"), vec![3]);
        assert_eq!(read("3pm"), vec![1, 2]);
        assert_eq!(read("Tuesday"), vec![0, 1]);
        assert_eq!(read("5pm"), Vec::<usize>::new());
        assert_eq!(read("I sat down"), Vec::<usize>::new());
    }

    #[test]
    fn times_follow_the_leads_timezone_across_a_dst_change() {
        // London moves to BST on Sunday 29 March 2026. Friday 27 March: 15:00 GMT = 15:00 UTC;
        // Tuesday 31 March: 15:00 BST = 14:00 UTC.
        let offered = slots(&[
            (2026, 3, 27, 15, 0),
            (2026, 3, 31, 15, 0),
            (2026, 3, 31, 14, 0),
        ]);
        let before = Utc.with_ymd_and_hms(2026, 3, 26, 12, 0, 0).unwrap();
        let pick = |text| read_slot_choice(text, &offered, "Europe/London", before);
        assert_eq!(pick("Tuesday 3pm"), vec![2]);
        assert_eq!(pick("Tuesday 4pm"), vec![1]);
        assert_eq!(pick("Friday 3pm"), vec![0]);
        let new_york = read_slot_choice("Tuesday 10am", &offered, "America/New_York", before);
        assert_eq!(new_york, vec![2]);
    }

    #[test]
    fn no_offered_slots_means_no_pick() {
        assert!(read_slot_choice("2", &[], "Europe/London", now()).is_empty());
    }
}
