//! Booking in the conversation: the part of the orchestrator that turns "I'd like to book" into an
//! appointment. Once a lead is ready to book (qualified, or the workflow asks nothing), the
//! orchestrator offers a few free times in the lead's own time zone; the lead picks one by
//! number or by time ("2", "Tuesday 3pm"); the appointment is booked in the same transaction as
//! the AI turn, and the confirmation is the reply. A time that went meanwhile (another lead, an
//! operator, the calendar) is not booked: fresh times are offered instead.
//!
//! What is said is written here, not by the model: offers and confirmations state facts (times,
//! zone) that must match what was booked, so they never depend on what a model made up.
//!
//! # Rules
//! - Ready: the lead is `qualified` (before or by this turn), or the workflow has no
//!   qualification questions. A lead already `booked` is not offered more times (an operator
//!   books a second appointment).
//! - Offered: up to [`OFFERED_SLOTS`] free times in the next [`HORIZON_DAYS`] days from the
//!   workflow's availability (business hours, buffer, minimum notice, every busy time), the first
//!   of each of the soonest days, so the lead chooses between days rather than between 09:00 and
//!   09:30; labelled "Tue 4 Mar 09:00" in the lead's zone.
//! - When times are offered: as the lead becomes qualified, or when they ask to book without
//!   picking one. A message that matches several offered times ("3pm" on two days) is left to the
//!   model's reply, which asks which one.
//! - No free time in the horizon: the lead is told someone will be in touch, and the
//!   conversation is handed to a human (`no_availability`). The same when the tenant's Google
//!   calendar cannot say what is busy (`calendar_unavailable`): unknown is not free. A booking
//!   refused for another reason than its time keeps the turn's answers and status, and a person
//!   takes over (`booking_failed`).

use chrono::{DateTime, Duration, Utc};
use domain::conversation::{Intent, SlotOffer};
use domain::values::{Interval, TenantId, Timezone, WorkflowId};
use domain::CalendarRef;

use crate::appointments;
use crate::executor::CommandError;
use crate::messaging::suppression::StepResult;
use crate::messaging::{Messaging, MessagingError};

/// How many times an offer lists.
pub const OFFERED_SLOTS: usize = 3;
/// How far ahead times are looked for, in days.
pub const HORIZON_DAYS: i64 = 14;
/// Why a conversation with no free time to offer goes to a human.
pub const NO_AVAILABILITY: &str = "no_availability";
/// Why a conversation goes to a human when the tenant's calendar cannot say what is free.
pub const CALENDAR_UNAVAILABLE: &str = "calendar_unavailable";
/// Why a conversation goes to a human when a booking was refused for another reason than the
/// time being taken.
pub const BOOKING_FAILED: &str = "booking_failed";

/// What the lead's message means for booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookingMove {
    /// Nothing: the model's reply stands.
    Leave,
    /// Offer free times.
    Offer,
    /// Book this offered time.
    Book(SlotOffer),
}

/// What the orchestrator knows when deciding.
#[derive(Debug, Clone, Copy)]
pub struct BookingState<'a> {
    /// The lead is qualified (before or by this turn), or the workflow asks nothing.
    pub ready: bool,
    /// The lead is already `booked`.
    pub booked: bool,
    /// The lead became qualified by this turn.
    pub just_qualified: bool,
    /// The times offered earlier and not booked.
    pub offered: &'a [SlotOffer],
    /// The offered times the lead's message matches (several: ambiguous).
    pub matching: usize,
}

/// Decides the booking move for a model answer with `intent` and `chosen_slot`.
#[must_use]
pub fn decide(state: BookingState<'_>, intent: Intent, chosen_slot: Option<usize>) -> BookingMove {
    if !state.ready || state.booked {
        return BookingMove::Leave;
    }
    if let Some(slot) = chosen_slot.and_then(|index| state.offered.get(index)) {
        return BookingMove::Book(slot.clone());
    }
    if intent == Intent::Booking && state.matching > 1 {
        return BookingMove::Leave;
    }
    if state.just_qualified || intent == Intent::Booking {
        BookingMove::Offer
    } else {
        BookingMove::Leave
    }
}

/// What can be offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FreeTimes {
    /// The times to offer (none: nothing free in the horizon, or unknown).
    pub offer: Vec<SlotOffer>,
    /// Why the tenant's external calendar cannot say what is free, if it cannot.
    pub unknown: Option<String>,
}

/// The free times to offer for `workflow`, from now: see the module docs.
pub async fn offers(
    messaging: &Messaging,
    tenant: TenantId,
    workflow: WorkflowId,
    zone: Timezone,
    now: DateTime<Utc>,
) -> StepResult<FreeTimes> {
    let free = appointments::availability(
        messaging.executor.pool(),
        &messaging.calendars,
        tenant,
        workflow,
        now,
        now + Duration::days(HORIZON_DAYS),
        now,
    )
    .await
    .map_err(|error| error.map_rejection(MessagingError::Appointment))?;
    Ok(FreeTimes {
        offer: spread(&free.slots, zone, OFFERED_SLOTS),
        unknown: free.unknown,
    })
}

/// The calendar `slot` is still free in for `workflow`, if it is (availability changes: notice,
/// hours, other bookings, the external calendar).
pub async fn still_free(
    messaging: &Messaging,
    tenant: TenantId,
    workflow: WorkflowId,
    slot: &SlotOffer,
    now: DateTime<Utc>,
) -> StepResult<Option<CalendarRef>> {
    if slot.start <= now {
        return Ok(None);
    }
    let free = appointments::availability(
        messaging.executor.pool(),
        &messaging.calendars,
        tenant,
        workflow,
        slot.start,
        slot.end,
        now,
    )
    .await
    .map_err(|error: CommandError<_>| error.map_rejection(MessagingError::Appointment))?;
    let open = free
        .slots
        .iter()
        .any(|free| free.start == slot.start && free.end == slot.end);
    Ok(open.then_some(free.calendar))
}

/// Up to `count` of `free` (soonest first): the first of each local day, soonest days first, then
/// the next ones in time order if there are fewer days than `count`; labelled in `zone`.
#[must_use]
pub fn spread(free: &[Interval], zone: Timezone, count: usize) -> Vec<SlotOffer> {
    let mut chosen: Vec<&Interval> = Vec::with_capacity(count);
    let mut last_day = None;
    for slot in free {
        let day = slot.start.with_timezone(&zone.tz()).date_naive();
        if last_day != Some(day) {
            last_day = Some(day);
            chosen.push(slot);
            if chosen.len() == count {
                break;
            }
        }
    }
    for slot in free {
        if chosen.len() == count {
            break;
        }
        if !chosen.iter().any(|taken| taken.start == slot.start) {
            chosen.push(slot);
        }
    }
    chosen.sort_by_key(|slot| slot.start);
    chosen
        .into_iter()
        .map(|slot| SlotOffer {
            start: slot.start,
            end: slot.end,
            label: label(slot.start, zone),
        })
        .collect()
}

/// How a time is shown to a lead in `zone`: "Tue 4 Mar 09:00".
#[must_use]
pub fn label(start: DateTime<Utc>, zone: Timezone) -> String {
    start
        .with_timezone(&zone.tz())
        .format("%a %-d %b %H:%M")
        .to_string()
}

/// The message offering `slots`: `intro`, the numbered times with the zone, how to pick.
#[must_use]
pub fn offer_text(intro: &str, slots: &[SlotOffer], zone: Timezone) -> String {
    let mut text = String::new();
    if !intro.trim().is_empty() {
        text.push_str(intro.trim());
        text.push(' ');
    }
    text.push_str(&format!(
        "Here are the next available times ({}):",
        zone.as_str()
    ));
    for (number, slot) in slots.iter().enumerate() {
        text.push_str(&format!("\n{}. {}", number + 1, slot.label));
    }
    text.push_str("\nReply with the number of the time that suits you.");
    text
}

/// The confirmation of a booking made in the conversation.
#[must_use]
pub fn confirmation_text(
    first_name: &str,
    brand: &str,
    slot: &SlotOffer,
    zone: Timezone,
) -> String {
    let name = salutation(first_name);
    let with = if brand.trim().is_empty() {
        String::new()
    } else {
        format!(" with {}", brand.trim())
    };
    format!(
        "You're booked{name}! Your appointment{with} is on {} ({}). See you then.",
        slot.label,
        zone.as_str()
    )
}

/// The opening of an offer made because the lead asked to book.
#[must_use]
pub fn booking_intro(first_name: &str) -> String {
    format!("Happy to get you booked{}!", salutation(first_name))
}

/// The opening of an offer made because the picked time went meanwhile.
#[must_use]
pub fn taken_intro(first_name: &str, slot: &SlotOffer) -> String {
    format!(
        "Sorry{}, {} has just been taken.",
        salutation(first_name),
        slot.label
    )
}

/// What the lead is told when there is no free time to offer.
#[must_use]
pub fn no_availability_text(first_name: &str, brand: &str) -> String {
    format!(
        "Sorry{}, there are no free times in the next {HORIZON_DAYS} days. Someone from {} \
         will get in touch to find one.",
        salutation(first_name),
        team(brand)
    )
}

/// What the lead is told when the calendar cannot say what is free.
#[must_use]
pub fn calendar_unavailable_text(first_name: &str, brand: &str) -> String {
    format!(
        "Sorry{}, I can't check the calendar right now. Someone from {} will get in touch to \
         find a time.",
        salutation(first_name),
        team(brand)
    )
}

/// What the lead is told when a booking was refused for another reason than the time.
#[must_use]
pub fn booking_failed_text(first_name: &str, brand: &str) -> String {
    format!(
        "Sorry{}, I couldn't book that time. Someone from {} will get in touch to confirm it.",
        salutation(first_name),
        team(brand)
    )
}

/// "the Acme team" (or "our team").
fn team(brand: &str) -> String {
    if brand.trim().is_empty() {
        "our team".to_owned()
    } else {
        format!("the {} team", brand.trim())
    }
}

/// ", Ada" (or nothing).
fn salutation(first_name: &str) -> String {
    let name = first_name.trim();
    if name.is_empty() {
        String::new()
    } else {
        format!(", {name}")
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn london() -> Timezone {
        Timezone::parse("Europe/London").unwrap()
    }

    fn at(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 3, day, hour, minute, 0).unwrap()
    }

    fn free(starts: &[(u32, u32, u32)]) -> Vec<Interval> {
        starts
            .iter()
            .map(|&(day, hour, minute)| Interval {
                start: at(day, hour, minute),
                end: at(day, hour, minute) + Duration::minutes(30),
            })
            .collect()
    }

    fn offer(day: u32, hour: u32) -> SlotOffer {
        SlotOffer {
            start: at(day, hour, 0),
            end: at(day, hour, 30),
            label: label(at(day, hour, 0), london()),
        }
    }

    fn state(offered: &[SlotOffer]) -> BookingState<'_> {
        BookingState {
            ready: true,
            booked: false,
            just_qualified: false,
            offered,
            matching: 0,
        }
    }

    #[test]
    fn the_first_time_of_each_day_is_offered_before_a_second_time_of_a_day() {
        let slots = free(&[(4, 9, 0), (4, 9, 30), (5, 14, 0), (5, 14, 30), (7, 10, 0)]);
        let offered = spread(&slots, london(), 3);
        let starts: Vec<_> = offered.iter().map(|slot| slot.start).collect();
        assert_eq!(starts, [at(4, 9, 0), at(5, 14, 0), at(7, 10, 0)]);
        let two_days = spread(&slots[..4], london(), 3);
        let starts: Vec<_> = two_days.iter().map(|slot| slot.start).collect();
        assert_eq!(starts, [at(4, 9, 0), at(4, 9, 30), at(5, 14, 0)]);
        assert!(spread(&[], london(), 3).is_empty());
    }

    #[test]
    fn labels_are_the_leads_wall_clock_across_dst() {
        // London moves to BST on 30 March 2025: 09:00 UTC is 09:00 before, 10:00 after.
        assert_eq!(label(at(28, 9, 0), london()), "Fri 28 Mar 09:00");
        assert_eq!(label(at(31, 9, 0), london()), "Mon 31 Mar 10:00");
        let new_york = Timezone::parse("America/New_York").unwrap();
        assert_eq!(label(at(4, 15, 0), new_york), "Tue 4 Mar 10:00");
    }

    #[test]
    fn a_pick_of_an_offered_time_books_it() {
        let offered = [offer(4, 9), offer(5, 14)];
        assert_eq!(
            decide(state(&offered), Intent::Booking, Some(1)),
            BookingMove::Book(offer(5, 14))
        );
        assert_eq!(
            decide(state(&offered), Intent::Booking, Some(2)),
            BookingMove::Offer,
            "out of range: offer again"
        );
    }

    #[test]
    fn times_are_offered_on_qualification_or_when_asked() {
        let qualified_now = BookingState {
            just_qualified: true,
            ..state(&[])
        };
        assert_eq!(
            decide(qualified_now, Intent::Answer, None),
            BookingMove::Offer
        );
        assert_eq!(
            decide(state(&[]), Intent::Booking, None),
            BookingMove::Offer
        );
        assert_eq!(
            decide(state(&[]), Intent::Question, None),
            BookingMove::Leave
        );
    }

    #[test]
    fn nothing_is_offered_or_booked_before_the_lead_is_ready_or_once_booked() {
        let offered = [offer(4, 9)];
        let not_ready = BookingState {
            ready: false,
            ..state(&offered)
        };
        let booked = BookingState {
            booked: true,
            ..state(&offered)
        };
        for state in [not_ready, booked] {
            assert_eq!(decide(state, Intent::Booking, Some(0)), BookingMove::Leave);
            assert_eq!(decide(state, Intent::Booking, None), BookingMove::Leave);
        }
    }

    #[test]
    fn an_ambiguous_pick_is_left_to_the_model_which_asks_which() {
        let offered = [offer(4, 15), offer(5, 15)];
        let ambiguous = BookingState {
            matching: 2,
            ..state(&offered)
        };
        assert_eq!(decide(ambiguous, Intent::Booking, None), BookingMove::Leave);
    }

    #[test]
    fn the_texts_state_the_times_and_the_zone() {
        let offered = [offer(4, 9), offer(5, 14)];
        assert_eq!(
            offer_text("Happy to get you booked, Ada!", &offered, london()),
            "Happy to get you booked, Ada! Here are the next available times (Europe/London):\n\
             1. Tue 4 Mar 09:00\n2. Wed 5 Mar 14:00\nReply with the number of the time that suits you."
        );
        assert_eq!(
            confirmation_text("Ada", "Acme", &offered[1], london()),
            "You're booked, Ada! Your appointment with Acme is on Wed 5 Mar 14:00 (Europe/London). \
             See you then."
        );
        assert_eq!(
            taken_intro("", &offered[0]),
            "Sorry, Tue 4 Mar 09:00 has just been taken."
        );
    }
}
