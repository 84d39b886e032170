//! Free appointment slots: the starts on a grid inside business hours (on each local day of the
//! business's zone, daylight-saving changes included) whose whole appointment fits before
//! closing, far enough ahead (minimum notice), and clear of every busy interval by the buffer on
//! both sides. Pure: the caller brings the busy intervals (appointments, a calendar's busy times).

use chrono::{DateTime, Duration, Utc};

use super::sending_window::first_instant;
use super::{BusinessHours, Timezone};

/// A span of time, `start` included, `end` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Interval {
    /// Inclusive start.
    pub start: DateTime<Utc>,
    /// Exclusive end.
    pub end: DateTime<Utc>,
}

impl Interval {
    /// Whether the two overlap.
    #[must_use]
    pub fn overlaps(&self, other: &Self) -> bool {
        self.start < other.end && other.start < self.end
    }
}

/// How slots are cut.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotRules {
    /// When appointments can be.
    pub hours: BusinessHours,
    /// The zone the hours are in.
    pub zone: Timezone,
    /// An appointment's length.
    pub length: Duration,
    /// Free time kept before and after every busy interval.
    pub buffer: Duration,
    /// How far ahead of now the earliest slot starts.
    pub min_notice: Duration,
    /// Distance between two slot starts (from each day's opening).
    pub step: Duration,
}

/// The free slots starting in `[from, to)` (whole slots ending by `to`), soonest first.
#[must_use]
pub fn free_slots(
    rules: &SlotRules,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    now: DateTime<Utc>,
    busy: &[Interval],
) -> Vec<Interval> {
    if rules.length <= Duration::zero() || rules.step <= Duration::zero() || to <= from {
        return Vec::new();
    }
    let mut busy: Vec<Interval> = busy
        .iter()
        .map(|b| Interval {
            start: b.start - rules.buffer,
            end: b.end + rules.buffer,
        })
        .collect();
    busy.sort();
    let earliest = from.max(now + rules.min_notice);
    let zone = rules.zone.tz();
    let mut day = from
        .with_timezone(&zone)
        .date_naive()
        .pred_opt()
        .unwrap_or_default();
    let last_day = to.with_timezone(&zone).date_naive();
    let mut slots = Vec::new();
    while day <= last_day {
        if let Some(range) = rules.hours.for_weekday(chrono::Datelike::weekday(&day)) {
            let open = first_instant(zone, day, range.start());
            let close = first_instant(zone, day, range.end());
            let mut start = open;
            while start + rules.length <= close {
                let slot = Interval {
                    start,
                    end: start + rules.length,
                };
                if slot.start >= earliest && slot.end <= to && is_free(&busy, &slot) {
                    slots.push(slot);
                }
                start += rules.step;
            }
        }
        match day.succ_opt() {
            Some(next) => day = next,
            None => break,
        }
    }
    slots
}

/// Whether `slot` overlaps none of `busy` (sorted by start).
fn is_free(busy: &[Interval], slot: &Interval) -> bool {
    // Only intervals starting before the slot ends can overlap it.
    let candidates = busy.partition_point(|b| b.start < slot.end);
    !busy[..candidates].iter().any(|b| b.overlaps(slot))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::values::LocalTimeRange;

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    fn weekdays(start: &str, end: &str) -> BusinessHours {
        let range = Some(LocalTimeRange::parse(start, end).unwrap());
        BusinessHours::new([range, range, range, range, range, None, None])
    }

    fn rules(zone: &str) -> SlotRules {
        SlotRules {
            hours: weekdays("09:00", "12:00"),
            zone: Timezone::parse(zone).unwrap(),
            length: Duration::minutes(60),
            buffer: Duration::zero(),
            min_notice: Duration::zero(),
            step: Duration::minutes(60),
        }
    }

    fn starts(slots: &[Interval]) -> Vec<DateTime<Utc>> {
        slots.iter().map(|slot| slot.start).collect()
    }

    #[test]
    fn slots_follow_london_across_its_spring_change() {
        // Friday 27 March is GMT, Monday 30 March BST.
        let slots = free_slots(
            &rules("Europe/London"),
            utc("2026-03-27T00:00:00Z"),
            utc("2026-03-31T00:00:00Z"),
            utc("2026-03-01T00:00:00Z"),
            &[],
        );
        assert_eq!(
            starts(&slots),
            [
                utc("2026-03-27T09:00:00Z"),
                utc("2026-03-27T10:00:00Z"),
                utc("2026-03-27T11:00:00Z"),
                utc("2026-03-30T08:00:00Z"),
                utc("2026-03-30T09:00:00Z"),
                utc("2026-03-30T10:00:00Z"),
            ]
        );
    }

    #[test]
    fn slots_follow_new_york_across_its_autumn_change() {
        // Friday 30 October is EDT (UTC-4), Monday 2 November EST (UTC-5).
        let slots = free_slots(
            &rules("America/New_York"),
            utc("2026-10-30T00:00:00Z"),
            utc("2026-11-03T00:00:00Z"),
            utc("2026-10-01T00:00:00Z"),
            &[],
        );
        assert_eq!(slots.first().unwrap().start, utc("2026-10-30T13:00:00Z"));
        assert_eq!(slots[3].start, utc("2026-11-02T14:00:00Z"));
        assert_eq!(slots.len(), 6);
    }

    #[test]
    fn busy_times_and_their_buffer_take_slots_away() {
        let mut with_buffer = rules("Europe/London");
        with_buffer.buffer = Duration::minutes(15);
        let busy = [Interval {
            start: utc("2026-03-30T09:00:00Z"),
            end: utc("2026-03-30T09:30:00Z"),
        }];
        let day = (utc("2026-03-30T00:00:00Z"), utc("2026-03-31T00:00:00Z"));
        let now = utc("2026-03-01T00:00:00Z");
        assert_eq!(
            starts(&free_slots(
                &rules("Europe/London"),
                day.0,
                day.1,
                now,
                &busy
            )),
            [utc("2026-03-30T08:00:00Z"), utc("2026-03-30T10:00:00Z")]
        );
        // 08:00–09:00 now ends inside 08:45–09:45, and 10:00 starts after it.
        assert_eq!(
            starts(&free_slots(&with_buffer, day.0, day.1, now, &busy)),
            [utc("2026-03-30T10:00:00Z")]
        );
    }

    #[test]
    fn the_minimum_notice_and_the_range_bound_the_slots() {
        let mut notice = rules("Europe/London");
        notice.min_notice = Duration::hours(2);
        let slots = free_slots(
            &notice,
            utc("2026-03-30T00:00:00Z"),
            utc("2026-03-30T10:30:00Z"),
            utc("2026-03-30T06:30:00Z"),
            &[],
        );
        // 08:00 is within two hours of 06:30; 10:00 would end after `to`.
        assert_eq!(starts(&slots), [utc("2026-03-30T09:00:00Z")]);
    }

    #[test]
    fn nothing_for_an_empty_range_or_closed_days() {
        let saturday = (utc("2026-03-28T00:00:00Z"), utc("2026-03-29T00:00:00Z"));
        let now = utc("2026-03-01T00:00:00Z");
        assert!(free_slots(&rules("Europe/London"), saturday.0, saturday.1, now, &[]).is_empty());
        assert!(free_slots(&rules("Europe/London"), saturday.1, saturday.0, now, &[]).is_empty());
    }
}
