//! Why a raw input could not become a value object. One variant per rule, so callers and tests
//! match on the rule, not on text. Messages are read by API clients next to the field name, so
//! they never start with a field name of their own.

use thiserror::Error;

/// A rule a raw input broke while being parsed into a value object.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValueError {
    /// An identifier is not a UUID.
    #[error("is not a valid UUID")]
    InvalidId,
    /// A text is empty (after trimming).
    #[error("must not be empty")]
    Empty,
    /// A text is longer than allowed, counted in characters.
    #[error("must be at most {max} characters")]
    TooLong {
        /// The maximum number of characters.
        max: usize,
    },
    /// A number is outside its allowed range.
    #[error("must be between {min} and {max}")]
    OutOfRange {
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A country code is not a known ISO 3166-1 alpha-2 region.
    #[error("is not a known ISO 3166-1 alpha-2 country code (e.g. GB)")]
    UnknownCountry,
    /// A phone number cannot be read, or is not a valid number, in the given default country.
    #[error("is not a valid phone number for country {country}")]
    InvalidPhoneNumber {
        /// The default country used to read national numbers.
        country: String,
    },
    /// A stored phone number is not in E.164 form.
    #[error("must be an E.164 phone number such as +447400123456")]
    NotE164,
    /// An email address does not have exactly one '@'.
    #[error("must contain exactly one '@'")]
    EmailAt,
    /// The part of an email address before the '@' is empty, too long or has spaces.
    #[error("must have 1 to 64 characters, without spaces, before the '@'")]
    EmailLocalPart,
    /// The domain of an email address has no dot.
    #[error("must have a domain such as example.com after the '@'")]
    EmailDomain,
    /// A label of an email domain has characters other than letters, digits and '-', or starts
    /// or ends with '-'.
    #[error("has an invalid domain label '{0}': use letters, digits and '-' (not at either end)")]
    EmailDomainLabel(String),
    /// A delivery status is not one of the known wire names.
    #[error("is not a known delivery status: '{0}'")]
    UnknownDeliveryStatus(String),
    /// An amount of money is not a plain decimal with at most six significant decimals, or is
    /// too large.
    #[error("must be a decimal amount such as -0.00750, exact to six decimals (got '{0}')")]
    InvalidAmount(String),
    /// A currency is not a three-letter ISO 4217 code.
    #[error("must be a three-letter ISO 4217 currency code such as USD (got '{0}')")]
    InvalidCurrency(String),
    /// A time zone is not a known IANA name.
    #[error("is not a known IANA time zone (e.g. Europe/London)")]
    UnknownTimezone,
    /// A time of day is not written as HH:MM.
    #[error("must be a time of day written as HH:MM, got '{0}'")]
    InvalidTime(String),
    /// A time range does not start before it ends.
    #[error("must start before it ends")]
    EmptyTimeRange,
    /// A time range is not an object with `start` and `end`.
    #[error("must be an object with \"start\" and \"end\" written as HH:MM")]
    MalformedTimeRange,
    /// Business hours name a day that is not a weekday.
    #[error("has an unknown day '{0}'; expected monday, tuesday, ..., sunday")]
    UnknownWeekday(String),
    /// The hours of one weekday are invalid.
    #[error("has invalid hours on {day}: {reason}")]
    InvalidDayHours {
        /// The weekday, lower case.
        day: &'static str,
        /// The rule the day's hours broke.
        reason: Box<ValueError>,
    },
    /// A JSON value that must be an object is something else.
    #[error("must be a JSON object")]
    NotAnObject,
    /// Custom fields have too many keys.
    #[error("must have at most {max} fields")]
    TooManyFields {
        /// The maximum number of keys.
        max: usize,
    },
    /// A custom field key has the wrong length or characters.
    #[error("has an invalid key '{0}': keys are 1 to 64 characters of letters, digits and '_'")]
    InvalidFieldKey(String),
    /// A custom field holds an array or object.
    #[error("has a nested array or object under '{0}'; only strings, numbers, booleans and null are allowed")]
    NestedFieldValue(String),
    /// A custom field's text is too long.
    #[error("has a value under '{key}' longer than {max} characters")]
    FieldValueTooLong {
        /// The key whose value is too long.
        key: String,
        /// The maximum number of characters.
        max: usize,
    },
    /// Custom fields take too much space once serialized.
    #[error("must be at most {max_bytes} bytes once serialized as JSON")]
    TooLarge {
        /// The maximum size in bytes.
        max_bytes: usize,
    },
    /// A text contains control characters.
    #[error("must not contain control characters")]
    ControlCharacter,
    /// A tag contains a comma (commas separate tags in CSV and filters).
    #[error("must not contain commas")]
    Comma,
    /// A lead source is not one of the known sources.
    #[error("must be one of wa_direct, facebook_lead_ad, referral, website, csv_import, api, inbound (got '{0}')")]
    UnknownLeadSource(String),
    /// A lead status is not one of the known statuses.
    #[error("must be one of pending, contacted, in_conversation, qualified, booked, opted_out, unresponsive, handed_off (got '{0}')")]
    UnknownStatus(String),
    /// A channel is not one of the known channels.
    #[error("must be one of sms, whatsapp (got '{0}')")]
    UnknownChannel(String),
    /// A workflow status is not one of the known statuses.
    #[error("must be one of draft, active, paused, archived (got '{0}')")]
    UnknownWorkflowStatus(String),
    /// A message template names a merge field that does not exist.
    #[error("uses an unknown merge field '{{{0}}}'; use {{first_name}}, {{last_name}}, {{brand_name}} or {{custom.KEY}}")]
    UnknownMergeField(String),
    /// A message template has a '{' without its '}', or the reverse.
    #[error("has an unmatched '{{' or '}}'")]
    UnbalancedBraces,
    /// A qualification question key has the wrong length or characters.
    #[error("has an invalid question key '{0}': keys are 1 to 64 characters of a-z, 0-9 and '_'")]
    InvalidQuestionKey(String),
    /// A qualification question's text is empty or too long.
    #[error("must have a question of 1 to {max} characters")]
    QuestionLength {
        /// The maximum number of characters.
        max: usize,
    },
    /// A qualification question lists no qualifying answer.
    #[error("must list at least one qualifying answer")]
    NoQualifyingAnswers,
    /// A qualifying answer is empty or too long.
    #[error("must have qualifying answers of 1 to {max} characters each")]
    QualifyingAnswerLength {
        /// The maximum number of characters.
        max: usize,
    },
    /// A list has more items than allowed.
    #[error("must have at most {max} items")]
    TooMany {
        /// The maximum number of items.
        max: usize,
    },
}
