//! The lead filter, one shape for every place that selects leads: the list's query parameters,
//! the CSV export's, and the target of a bulk action (a JSON object). Each is turned into a
//! [`LeadFilter`] and parsed in one place into the read model's [`ContactFilter`], naming the
//! field that was wrong.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::values::{LeadSource, Tag, WorkflowId};
use poem_openapi::Object;
use projections::contacts::query::{ArchivedFilter, ContactFilter, TagMatch};
use serde::Deserialize;

use crate::error::{invalid, ApiError};

/// Longest `q` accepted, in characters.
const MAX_QUERY_LEN: usize = 200;
/// Most days a "days since last contact" bound may name (a century).
const MAX_DAYS: u32 = 36_500;

/// Which leads: every field narrows the selection; absent fields do not constrain it.
/// Ranges include their start and exclude their end; a bare date (`2026-03-29`) means its
/// midnight UTC.
#[derive(Debug, Clone, Default, PartialEq, Eq, Object, Deserialize)]
#[oai(deny_unknown_fields)]
#[serde(deny_unknown_fields)]
pub struct LeadFilter {
    /// Any of these statuses (each item may also be comma-separated).
    #[serde(default)]
    pub status: Option<Vec<String>>,
    /// In this workflow.
    #[serde(default)]
    pub workflow_id: Option<String>,
    /// With these tags (see `tag_match`).
    #[serde(default)]
    pub tag: Option<Vec<String>>,
    /// `any` (default): at least one of the tags; `all`: every one.
    #[serde(default)]
    pub tag_match: Option<String>,
    /// From this source (first or additional).
    #[serde(default)]
    pub source: Option<String>,
    /// Substring of name, phone or email, case-insensitive; a phone typed nationally
    /// (`07700 900123`) matches too.
    #[serde(default)]
    pub q: Option<String>,
    /// Captured at or after (RFC 3339 or a date).
    #[serde(default)]
    pub created_from: Option<String>,
    /// Captured before.
    #[serde(default)]
    pub created_to: Option<String>,
    /// Last message (either direction) at or after.
    #[serde(default)]
    pub last_message_from: Option<String>,
    /// Last message before.
    #[serde(default)]
    pub last_message_to: Option<String>,
    /// Last contacted at least this many days ago (never-contacted leads do not match).
    #[serde(default)]
    pub days_since_contact_min: Option<u32>,
    /// Last contacted at most this many days ago.
    #[serde(default)]
    pub days_since_contact_max: Option<u32>,
    /// At least this many follow-ups sent.
    #[serde(default)]
    pub follow_ups_sent_min: Option<u32>,
    /// At most this many follow-ups sent.
    #[serde(default)]
    pub follow_ups_sent_max: Option<u32>,
    /// Custom fields equal to these values (`cf.<key>=value` in a query string).
    #[serde(default)]
    pub custom_fields: Option<BTreeMap<String, String>>,
    /// Only opted-out leads (`true`) or only the others (`false`).
    #[serde(default)]
    pub opted_out: Option<bool>,
    /// `false` (default): hide archived leads; `true`: only archived; `any`: both.
    #[serde(default)]
    pub archived: Option<String>,
}

impl LeadFilter {
    /// The filter given in a raw query string (repeated or comma-separated `status` and `tag`,
    /// `cf.<key>=value` for custom fields). Parameters that are not filters are ignored, so
    /// paging and sorting can travel in the same string.
    pub fn from_query(query: Option<&str>) -> Result<Self, ApiError> {
        let mut filter = Self::default();
        for (name, value) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
            let value = value.into_owned();
            if let Some(key) = name.strip_prefix("cf.") {
                filter
                    .custom_fields
                    .get_or_insert_with(BTreeMap::new)
                    .insert(key.to_string(), value);
                continue;
            }
            match name.as_ref() {
                "status" => filter.status.get_or_insert_with(Vec::new).push(value),
                "tag" => filter.tag.get_or_insert_with(Vec::new).push(value),
                "workflow_id" => filter.workflow_id = Some(value),
                "tag_match" => filter.tag_match = Some(value),
                "source" => filter.source = Some(value),
                "q" => filter.q = Some(value),
                "created_from" => filter.created_from = Some(value),
                "created_to" => filter.created_to = Some(value),
                "last_message_from" => filter.last_message_from = Some(value),
                "last_message_to" => filter.last_message_to = Some(value),
                "days_since_contact_min" => {
                    filter.days_since_contact_min = Some(number(&name, &value)?);
                }
                "days_since_contact_max" => {
                    filter.days_since_contact_max = Some(number(&name, &value)?);
                }
                "follow_ups_sent_min" => filter.follow_ups_sent_min = Some(number(&name, &value)?),
                "follow_ups_sent_max" => filter.follow_ups_sent_max = Some(number(&name, &value)?),
                "opted_out" => filter.opted_out = Some(boolean("opted_out", &value)?),
                "archived" => filter.archived = Some(value),
                _ => {}
            }
        }
        Ok(filter)
    }

    /// The read model's filter. `now` anchors "days since last contact".
    pub fn to_contact_filter(&self, now: DateTime<Utc>) -> Result<ContactFilter, ApiError> {
        let q = self
            .q
            .as_deref()
            .map(str::trim)
            .filter(|q| !q.is_empty())
            .map(str::to_string);
        if q.as_ref()
            .is_some_and(|q| q.chars().count() > MAX_QUERY_LEN)
        {
            return Err(ApiError::invalid_field(
                "q",
                format!("must be at most {MAX_QUERY_LEN} characters"),
            ));
        }
        let filter = ContactFilter {
            statuses: split(self.status.as_deref())
                .map(|s| {
                    s.parse::<domain::LeadStatus>()
                        .map(|status| status.as_str().to_string())
                        .map_err(invalid("status"))
                })
                .collect::<Result<_, _>>()?,
            workflow_id: self
                .workflow_id
                .as_deref()
                .map(|w| {
                    w.trim()
                        .parse::<WorkflowId>()
                        .map_err(invalid("workflow_id"))
                })
                .transpose()?
                .map(|w| w.as_uuid()),
            tags: split(self.tag.as_deref())
                .map(|t| {
                    Tag::parse(t)
                        .map(|t| t.as_str().to_string())
                        .map_err(invalid("tag"))
                })
                .collect::<Result<_, _>>()?,
            tag_match: match self.tag_match.as_deref().map(str::trim) {
                None | Some("any") => TagMatch::Any,
                Some("all") => TagMatch::All,
                Some(_) => {
                    return Err(ApiError::invalid_field("tag_match", "must be any or all"));
                }
            },
            source: self
                .source
                .as_deref()
                .map(|s| s.trim().parse::<LeadSource>().map_err(invalid("source")))
                .transpose()?
                .map(|s| s.as_str().to_string()),
            phone_digits: q.as_deref().and_then(phone_digits),
            q,
            created_from: instant("created_from", self.created_from.as_deref())?,
            created_to: instant("created_to", self.created_to.as_deref())?,
            last_message_from: instant("last_message_from", self.last_message_from.as_deref())?,
            last_message_to: instant("last_message_to", self.last_message_to.as_deref())?,
            contacted_at_or_before: days_ago(
                "days_since_contact_min",
                self.days_since_contact_min,
                now,
            )?,
            contacted_at_or_after: days_ago(
                "days_since_contact_max",
                self.days_since_contact_max,
                now,
            )?,
            follow_ups_min: count("follow_ups_sent_min", self.follow_ups_sent_min)?,
            follow_ups_max: count("follow_ups_sent_max", self.follow_ups_sent_max)?,
            custom_fields: self
                .custom_fields
                .iter()
                .flatten()
                .map(|(key, value)| {
                    if key.is_empty() || key.len() > 64 {
                        return Err(ApiError::invalid_field(
                            "custom_fields",
                            "a custom field key must have 1 to 64 characters",
                        ));
                    }
                    Ok((key.clone(), value.clone()))
                })
                .collect::<Result<_, _>>()?,
            opted_out: self.opted_out,
            archived: match self.archived.as_deref().map(str::trim) {
                None | Some("false") => ArchivedFilter::Live,
                Some("true") => ArchivedFilter::Only,
                Some("any") => ArchivedFilter::Any,
                Some(_) => {
                    return Err(ApiError::invalid_field(
                        "archived",
                        "must be true, false or any",
                    ));
                }
            },
        };
        check_order("created", filter.created_from, filter.created_to)?;
        check_order(
            "last_message",
            filter.last_message_from,
            filter.last_message_to,
        )?;
        if let (Some(min), Some(max)) = (self.days_since_contact_min, self.days_since_contact_max) {
            if min > max {
                return Err(ApiError::invalid_field(
                    "days_since_contact_min",
                    "must not exceed days_since_contact_max",
                ));
            }
        }
        if let (Some(min), Some(max)) = (filter.follow_ups_min, filter.follow_ups_max) {
            if min > max {
                return Err(ApiError::invalid_field(
                    "follow_ups_sent_min",
                    "must not exceed follow_ups_sent_max",
                ));
            }
        }
        Ok(filter)
    }
}

/// The non-empty, trimmed items of a list whose items may themselves be comma-separated.
fn split(values: Option<&[String]>) -> impl Iterator<Item = &str> {
    values
        .unwrap_or_default()
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// The digits of a search that looks like a phone number (only digits, spaces, `+-().`, at
/// least three digits), without a national trunk `0`, so `07700 900123` finds `+447700900123`.
fn phone_digits(q: &str) -> Option<String> {
    if !q
        .chars()
        .all(|c| c.is_ascii_digit() || " +-().".contains(c))
    {
        return None;
    }
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.strip_prefix('0').unwrap_or(&digits).to_string();
    (digits.len() >= 3).then_some(digits)
}

pub(crate) fn instant(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, ApiError> {
    let Some(value) = value.map(str::trim) else {
        return Ok(None);
    };
    if let Ok(at) = DateTime::parse_from_rfc3339(value) {
        return Ok(Some(at.with_timezone(&Utc)));
    }
    NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|midnight| Some(midnight.and_utc()))
        .ok_or_else(|| {
            ApiError::invalid_field(
                field,
                "must be an RFC 3339 time (2026-03-29T09:00:00Z) or a date (2026-03-29)",
            )
        })
}

fn days_ago(
    field: &str,
    days: Option<u32>,
    now: DateTime<Utc>,
) -> Result<Option<DateTime<Utc>>, ApiError> {
    match days {
        None => Ok(None),
        Some(days) if days > MAX_DAYS => Err(ApiError::invalid_field(
            field,
            format!("must be at most {MAX_DAYS}"),
        )),
        Some(days) => Ok(Some(now - Duration::days(i64::from(days)))),
    }
}

fn count(field: &str, value: Option<u32>) -> Result<Option<i32>, ApiError> {
    value
        .map(|v| i32::try_from(v).map_err(|_| ApiError::invalid_field(field, "is too large")))
        .transpose()
}

fn check_order(
    name: &str,
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
) -> Result<(), ApiError> {
    match (from, to) {
        (Some(from), Some(to)) if from > to => Err(ApiError::invalid_field(
            &format!("{name}_from"),
            format!("must not be after {name}_to"),
        )),
        _ => Ok(()),
    }
}

fn number(field: &str, value: &str) -> Result<u32, ApiError> {
    value
        .trim()
        .parse()
        .map_err(|_| ApiError::invalid_field(field, "must be a whole number of at least 0"))
}

fn boolean(field: &str, value: &str) -> Result<bool, ApiError> {
    match value.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(ApiError::invalid_field(field, "must be true or false")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;
    use crate::error::field_of;

    fn now() -> DateTime<Utc> {
        "2026-03-29T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_query_string_becomes_a_filter() {
        let filter = LeadFilter::from_query(Some(
            "status=pending,contacted&status=booked&tag=vip&tag=new&tag_match=all&cf.plan=gold\
             &days_since_contact_min=3&opted_out=false&page=2&sort=name",
        ))
        .unwrap();
        let parsed = filter.to_contact_filter(now()).unwrap();
        assert_eq!(parsed.statuses, ["pending", "contacted", "booked"]);
        assert_eq!(parsed.tags, ["vip", "new"]);
        assert_eq!(parsed.tag_match, TagMatch::All);
        assert_eq!(parsed.custom_fields, [("plan".into(), "gold".into())]);
        assert_eq!(
            parsed.contacted_at_or_before,
            Some("2026-03-26T12:00:00Z".parse().unwrap())
        );
        assert_eq!(parsed.opted_out, Some(false));
        assert_eq!(parsed.archived, ArchivedFilter::Live);
    }

    #[test]
    fn each_bad_value_names_its_field() {
        for (query, field) in [
            ("status=lost", "status"),
            ("workflow_id=nope", "workflow_id"),
            ("tag_match=some", "tag_match"),
            ("source=fax", "source"),
            ("created_from=yesterday", "created_from"),
            (
                "created_from=2026-03-02&created_to=2026-03-01",
                "created_from",
            ),
            ("last_message_to=3pm", "last_message_to"),
            ("days_since_contact_min=-1", "days_since_contact_min"),
            (
                "days_since_contact_min=5&days_since_contact_max=2",
                "days_since_contact_min",
            ),
            ("follow_ups_sent_max=x", "follow_ups_sent_max"),
            ("opted_out=maybe", "opted_out"),
            ("archived=sometimes", "archived"),
        ] {
            let error = LeadFilter::from_query(Some(query))
                .and_then(|f| f.to_contact_filter(now()))
                .unwrap_err();
            assert_eq!(field_of(error), field, "{query}");
        }
    }

    #[test]
    fn a_phone_typed_nationally_searches_by_its_digits() {
        assert_eq!(phone_digits("07700 900-123"), Some("7700900123".into()));
        assert_eq!(phone_digits("+44 7700"), Some("447700".into()));
        assert_eq!(phone_digits("ada"), None);
        assert_eq!(phone_digits("12"), None);
    }

    #[test]
    fn a_date_means_its_midnight_utc() {
        assert_eq!(
            instant("created_from", Some("2026-03-29")).unwrap(),
            Some("2026-03-29T00:00:00Z".parse().unwrap())
        );
    }
}
