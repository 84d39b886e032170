//! One synthetic lead's life: a capture with realistic details, then a history of commands —
//! status moves along the lifecycle, overrides, tags added and removed, detail changes, a new
//! workflow, an opt-out, archive and restore — each decided by the Lead aggregate itself, so
//! every event is one production could have written. Times advance from the capture, never
//! past `now`.

use chrono::{DateTime, Duration, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::Aggregate;
use domain::values::{CustomFields, EmailAddress, LeadSource, PhoneNumber, Tag, WorkflowId};
use domain::{Lead, LeadCommand, LeadDetailsPatch, LeadEvent, LeadStatus, NewLead};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use super::names::{
    CITIES, EMAIL_DOMAINS, FIRST_NAMES, INTERESTS, LAST_NAMES, OPT_OUT_REASONS, OVERRIDE_REASONS,
    TAGS, US_AREA_CODES,
};
use super::rng::Rng;

/// What the leads of one tenant share.
#[derive(Debug, Clone)]
pub struct TenantPlan {
    /// The tenant.
    pub tenant: Uuid,
    /// Its workflows.
    pub workflows: Vec<WorkflowId>,
    /// No event is later than this.
    pub now: DateTime<Utc>,
}

/// A lead and the events of its life, with when each happened.
#[derive(Debug, Clone)]
pub struct LeadStory {
    /// The lead's id.
    pub id: Uuid,
    /// The phone it holds at the end (to reserve in `lead_phones`).
    pub phone: Option<String>,
    /// Its events in order, with their times (never decreasing).
    pub events: Vec<(DateTime<Utc>, LeadEvent)>,
}

/// UK mobile prefixes after `+447`.
const GB_MOBILE_DIGITS: [u32; 5] = [4, 5, 7, 8, 9];
/// Numbers available per GB prefix digit (eight digits follow it).
const GB_PER_PREFIX: u64 = 100_000_000;
/// Numbers available per US area code: exchanges 200-999, four-digit lines.
const US_PER_AREA: u64 = 800 * 10_000;
/// A multiplier coprime with both number spaces: `k * MIX mod space` is a bijection, so
/// distinct lead numbers get distinct phones that do not look sequential.
const MIX: u64 = 387_420_489;

/// The phone of a tenant's lead number `index`, distinct for every index, UK or US as `uk`
/// says. Always a number `PhoneNumber::parse` accepts (a test checks many).
pub fn phone_number(index: u64, uk: bool) -> String {
    if uk {
        let space = GB_PER_PREFIX * GB_MOBILE_DIGITS.len() as u64;
        let n = (index.wrapping_mul(MIX) + 12_345_678) % space;
        let prefix = GB_MOBILE_DIGITS[(n / GB_PER_PREFIX) as usize];
        format!("+447{prefix}{:08}", n % GB_PER_PREFIX)
    } else {
        let space = US_PER_AREA * US_AREA_CODES.len() as u64;
        let n = (index.wrapping_mul(MIX) + 7_654_321) % space;
        let area = US_AREA_CODES[(n / US_PER_AREA) as usize];
        let rest = n % US_PER_AREA;
        format!("+1{area}{:03}{:04}", 200 + rest / 10_000, rest % 10_000)
    }
}

/// Lowercase letters of a name, for an email's local part.
fn mail_part(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphabetic)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Runs `command` through the aggregate; what it decides is recorded at `at`. A refusal
/// records nothing (the story simply does not take that turn).
async fn decide(
    lead: &mut Lead,
    command: LeadCommand,
    at: DateTime<Utc>,
    events: &mut Vec<(DateTime<Utc>, LeadEvent)>,
) {
    let sink = EventSink::default();
    if lead.handle(command, &(), &sink).await.is_ok() {
        events.extend(sink.collect().await.into_iter().map(|e| (at, e)));
    }
}

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    rng.pick(items).copied().unwrap_or_default()
}

fn custom_fields(rng: &mut Rng) -> anyhow::Result<CustomFields> {
    let mut fields = Map::new();
    fields.insert("city".into(), json!(pick(rng, &CITIES)));
    if rng.chance(0.7) {
        fields.insert("interest".into(), json!(pick(rng, &INTERESTS)));
    }
    if rng.chance(0.5) {
        fields.insert("budget".into(), json!(500 + 50 * rng.below(190)));
    }
    if rng.chance(0.2) {
        fields.insert("returning_patient".into(), json!(rng.chance(0.5)));
    }
    Ok(CustomFields::parse(Value::Object(fields))?)
}

fn random_tag(rng: &mut Rng) -> anyhow::Result<Tag> {
    Ok(Tag::parse(pick(rng, &TAGS))?)
}

/// Lead number `index` of a tenant, captured at `captured_at`, and its history.
pub async fn lead_story(
    rng: &mut Rng,
    index: u64,
    captured_at: DateTime<Utc>,
    plan: &TenantPlan,
) -> anyhow::Result<LeadStory> {
    let millis = u64::try_from(captured_at.timestamp_millis()).unwrap_or(0);
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &rng.bytes10()).into_uuid();
    let first_name = pick(rng, &FIRST_NAMES);
    let last_name = pick(rng, &LAST_NAMES);
    let phone = if rng.chance(0.92) {
        let text = phone_number(index, rng.chance(0.6));
        Some(PhoneNumber::parse_e164(&text).map_err(|e| anyhow::anyhow!("{text}: {e}"))?)
    } else {
        None
    };
    let email = if phone.is_none() || rng.chance(0.55) {
        let address = format!(
            "{}.{}{index}@{}",
            mail_part(first_name),
            mail_part(last_name),
            pick(rng, &EMAIL_DOMAINS)
        );
        Some(EmailAddress::parse(&address)?)
    } else {
        None
    };
    let mut tags = Vec::new();
    for _ in 0..rng.below(3) {
        tags.push(random_tag(rng)?);
    }
    let workflow_id = if rng.chance(0.75) {
        rng.pick(&plan.workflows).copied()
    } else {
        None
    };
    let new = NewLead {
        first_name: first_name.to_string(),
        last_name: last_name.to_string(),
        phone,
        email,
        custom_fields: custom_fields(rng)?,
        source: *rng.pick(&LeadSource::ALL).unwrap_or(&LeadSource::Website),
        tags,
        workflow_id,
    };
    let mut lead = Lead::default();
    let mut events = Vec::new();
    let mut at = captured_at;
    decide(&mut lead, LeadCommand::CaptureLead(new), at, &mut events).await;
    let mut later = |rng: &mut Rng| {
        at = (at + Duration::minutes(30 + rng.below(72 * 60) as i64)).min(plan.now);
        at
    };
    if rng.chance(0.05) {
        let source = *rng.pick(&LeadSource::ALL).unwrap_or(&LeadSource::Referral);
        decide(
            &mut lead,
            LeadCommand::AddSource { source },
            later(rng),
            &mut events,
        )
        .await;
    }
    let steps = *rng.pick(&[0, 1, 1, 1, 2, 2, 3, 3, 4, 6]).unwrap_or(&1);
    for _ in 0..steps {
        let from = lead.status();
        let next: Vec<LeadStatus> = LeadStatus::ALL
            .into_iter()
            .filter(|to| from.can_advance_to(*to))
            .collect();
        if let Some(&to) = rng.pick(&next) {
            decide(
                &mut lead,
                LeadCommand::AdvanceStatus { to },
                later(rng),
                &mut events,
            )
            .await;
        }
        if rng.chance(0.12) {
            let tag = random_tag(rng)?;
            decide(
                &mut lead,
                LeadCommand::AddTag { tag },
                later(rng),
                &mut events,
            )
            .await;
        }
    }
    if rng.chance(0.08) {
        let tags: Vec<Tag> = lead.tags().iter().cloned().collect();
        if let Some(tag) = rng.pick(&tags).cloned() {
            decide(
                &mut lead,
                LeadCommand::RemoveTag { tag },
                later(rng),
                &mut events,
            )
            .await;
        }
    }
    if rng.chance(0.10) {
        let patch = match rng.below(3) {
            0 => LeadDetailsPatch {
                last_name: Some(pick(rng, &LAST_NAMES).to_string()),
                ..LeadDetailsPatch::default()
            },
            1 => LeadDetailsPatch {
                email: Some(Some(EmailAddress::parse(&format!(
                    "{}{index}@{}",
                    mail_part(first_name),
                    pick(rng, &EMAIL_DOMAINS)
                ))?)),
                ..LeadDetailsPatch::default()
            },
            _ => LeadDetailsPatch {
                custom_fields: Some(custom_fields(rng)?),
                ..LeadDetailsPatch::default()
            },
        };
        decide(
            &mut lead,
            LeadCommand::UpdateDetails(patch),
            later(rng),
            &mut events,
        )
        .await;
    }
    if rng.chance(0.06) {
        let workflow_id = rng
            .pick(&plan.workflows)
            .copied()
            .filter(|_| rng.chance(0.8));
        let command = LeadCommand::AssignWorkflow { workflow_id };
        decide(&mut lead, command, later(rng), &mut events).await;
    }
    if rng.chance(0.05) {
        let to = *rng.pick(&LeadStatus::ALL).unwrap_or(&LeadStatus::HandedOff);
        let reason = pick(rng, &OVERRIDE_REASONS).to_string();
        let command = LeadCommand::OverrideStatus { to, reason };
        decide(&mut lead, command, later(rng), &mut events).await;
    }
    if rng.chance(0.04) {
        let reason = pick(rng, &OPT_OUT_REASONS).to_string();
        decide(
            &mut lead,
            LeadCommand::OptOut { reason },
            later(rng),
            &mut events,
        )
        .await;
    }
    if rng.chance(0.03) {
        decide(&mut lead, LeadCommand::Archive, later(rng), &mut events).await;
        if rng.chance(0.3) {
            decide(&mut lead, LeadCommand::Restore, later(rng), &mut events).await;
        }
    }
    Ok(LeadStory {
        id,
        phone: lead.phone().map(|p| p.as_str().to_string()),
        events,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn phones_are_distinct_and_all_parse() {
        let mut seen = HashSet::new();
        for index in 0..20_000u64 {
            let text = phone_number(index, index % 3 != 0);
            let parsed = PhoneNumber::parse_e164(&text);
            assert!(parsed.is_ok(), "{text} does not parse");
            assert!(seen.insert(text.clone()), "{text} repeats");
        }
    }

    #[tokio::test]
    async fn a_seed_gives_the_same_story_and_every_story_starts_with_its_capture() {
        let plan = TenantPlan {
            tenant: Uuid::nil(),
            workflows: vec![WorkflowId::new(), WorkflowId::new()],
            now: Utc::now(),
        };
        let at = plan.now - Duration::days(30);
        let mut a = Rng::new(&[1, 2]);
        let mut b = Rng::new(&[1, 2]);
        for index in 0..200 {
            let one = lead_story(&mut a, index, at, &plan).await.unwrap();
            let two = lead_story(&mut b, index, at, &plan).await.unwrap();
            assert_eq!(one.id, two.id);
            assert_eq!(
                serde_json::to_value(one.events.iter().map(|e| &e.1).collect::<Vec<_>>()).unwrap(),
                serde_json::to_value(two.events.iter().map(|e| &e.1).collect::<Vec<_>>()).unwrap()
            );
            assert!(matches!(one.events[0].1, LeadEvent::LeadCaptured { .. }));
            assert!(one.events.windows(2).all(|w| w[0].0 <= w[1].0));
            assert!(one.events.iter().all(|e| e.0 <= plan.now));
        }
    }
}
