//! When a business may text a lead: inside its business hours (in the business's time zone) and
//! inside the allowed hours (quiet hours, 08:00–21:00 by default) in the recipient's own time
//! zone. Both are read in wall-clock time of their zone, so daylight-saving changes move the
//! window with the clocks; a start time the clocks skip opens at the first instant after the gap.
//!
//! The window is an intersection of two unions of daily intervals, so it always opens at the
//! start of one of them: [`SendingWindow::next_opening`] tries those starts in order.

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;

use super::{BusinessHours, CountryCode, QuietHours, Timezone};

/// How far ahead [`SendingWindow::next_opening`] looks before concluding there is no opening.
const HORIZON_DAYS: i64 = 15;

/// The hours in which a business may text one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendingWindow {
    business_hours: BusinessHours,
    business_zone: Timezone,
    quiet_hours: QuietHours,
    recipient_zone: Timezone,
}

impl SendingWindow {
    /// The window of a business open `business_hours` in `business_zone`, texting someone in
    /// `recipient_zone` only within `quiet_hours` of their local time.
    #[must_use]
    pub const fn new(
        business_hours: BusinessHours,
        business_zone: Timezone,
        quiet_hours: QuietHours,
        recipient_zone: Timezone,
    ) -> Self {
        Self {
            business_hours,
            business_zone,
            quiet_hours,
            recipient_zone,
        }
    }

    /// Whether a message may go out at `at`.
    #[must_use]
    pub fn is_open(&self, at: DateTime<Utc>) -> bool {
        let business = at.with_timezone(&self.business_zone.tz());
        let recipient = at.with_timezone(&self.recipient_zone.tz());
        self.business_hours
            .is_open_at(business.weekday(), business.time())
            && self.quiet_hours.permits(recipient.time())
    }

    /// `at` if the window is open then, else the next instant it opens; `None` if it does not
    /// open within about two weeks (no business day at all, or no overlap with the allowed
    /// hours).
    #[must_use]
    pub fn next_opening(&self, at: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.is_open(at) {
            return Some(at);
        }
        let mut starts: Vec<DateTime<Utc>> = Vec::new();
        let business = self.business_zone.tz();
        let recipient = self.recipient_zone.tz();
        let first_business_day = at.with_timezone(&business).date_naive();
        let first_recipient_day = at.with_timezone(&recipient).date_naive();
        for offset in 0..HORIZON_DAYS {
            let day = first_business_day + Duration::days(offset);
            if let Some(range) = self.business_hours.for_weekday(day.weekday()) {
                starts.push(first_instant(business, day, range.start()));
            }
            let day = first_recipient_day + Duration::days(offset);
            starts.push(first_instant(
                recipient,
                day,
                self.quiet_hours.allowed().start(),
            ));
        }
        starts.sort_unstable();
        starts
            .into_iter()
            .filter(|start| *start > at)
            .find(|start| self.is_open(*start))
    }
}

/// The first instant at which the wall clock of `zone` shows `time` on `day` or, when the clocks
/// skip that time (spring forward), the first instant after the gap.
pub(crate) fn first_instant(zone: Tz, day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let mut local = day.and_time(time);
    for _ in 0..=4 * 60 {
        match zone.from_local_datetime(&local) {
            LocalResult::Single(instant) => return instant.with_timezone(&Utc),
            LocalResult::Ambiguous(earliest, _) => return earliest.with_timezone(&Utc),
            LocalResult::None => local += Duration::minutes(1),
        }
    }
    // No zone skips more than a few hours; read the time as UTC rather than fail.
    Utc.from_utc_datetime(&day.and_time(time))
}

/// The time zone of phone numbers of `country`, when the country keeps one zone (so a number
/// tells where its owner is); `None` for countries spanning several (US, Canada, Australia,
/// Brazil, Mexico, Russia, …), where the caller falls back to another source.
#[must_use]
pub fn single_zone_of(country: &CountryCode) -> Option<Timezone> {
    let name = match country.as_str() {
        "GB" => "Europe/London",
        "IE" => "Europe/Dublin",
        "FR" => "Europe/Paris",
        "DE" => "Europe/Berlin",
        "IT" => "Europe/Rome",
        "NL" => "Europe/Amsterdam",
        "BE" => "Europe/Brussels",
        "CH" => "Europe/Zurich",
        "AT" => "Europe/Vienna",
        "SE" => "Europe/Stockholm",
        "NO" => "Europe/Oslo",
        "DK" => "Europe/Copenhagen",
        "FI" => "Europe/Helsinki",
        "PL" => "Europe/Warsaw",
        "GR" => "Europe/Athens",
        "IN" => "Asia/Kolkata",
        "SG" => "Asia/Singapore",
        "JP" => "Asia/Tokyo",
        "ZA" => "Africa/Johannesburg",
        "NZ" => "Pacific/Auckland",
        "AE" => "Asia/Dubai",
        "IL" => "Asia/Jerusalem",
        _ => return None,
    };
    Timezone::parse(name).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::values::LocalTimeRange;

    fn zone(name: &str) -> Timezone {
        Timezone::parse(name).unwrap()
    }

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    /// Open every day 09:00–17:00 (so weekends do not hide the DST cases).
    fn every_day(start: &str, end: &str) -> BusinessHours {
        BusinessHours::new([Some(LocalTimeRange::parse(start, end).unwrap()); 7])
    }

    fn window(business: &str, recipient: &str) -> SendingWindow {
        SendingWindow::new(
            every_day("09:00", "17:00"),
            zone(business),
            QuietHours::default(),
            zone(recipient),
        )
    }

    #[test]
    fn inside_the_window_is_now_and_outside_is_the_next_opening() {
        let w = window("Europe/London", "Europe/London");
        // 12:00 BST on a summer day: open now.
        let noon = utc("2026-07-01T11:00:00Z");
        assert_eq!(w.next_opening(noon), Some(noon));
        // 18:00 BST: closed until 09:00 BST tomorrow.
        assert_eq!(
            w.next_opening(utc("2026-07-01T17:00:00Z")),
            Some(utc("2026-07-02T08:00:00Z"))
        );
        // At 17:00 exactly the window has closed (end exclusive).
        assert!(!w.is_open(utc("2026-07-01T16:00:00Z")));
    }

    #[test]
    fn london_opens_at_nine_local_on_both_sides_of_its_dst_changes() {
        let w = window("Europe/London", "Europe/London");
        // Spring forward 2026-03-29 01:00 UTC: 09:00 is 09:00 GMT on the 28th, 09:00 BST after.
        assert_eq!(
            w.next_opening(utc("2026-03-28T20:00:00Z")),
            Some(utc("2026-03-29T08:00:00Z"))
        );
        assert_eq!(
            w.next_opening(utc("2026-03-27T20:00:00Z")),
            Some(utc("2026-03-28T09:00:00Z"))
        );
        // Fall back 2026-10-25 01:00 UTC: 09:00 GMT again.
        assert_eq!(
            w.next_opening(utc("2026-10-24T20:00:00Z")),
            Some(utc("2026-10-25T09:00:00Z"))
        );
    }

    #[test]
    fn new_york_follows_its_own_dst_changes() {
        let w = window("America/New_York", "America/New_York");
        // 2025-03-09: EST → EDT. 09:00 EDT = 13:00 UTC; the day before 09:00 EST = 14:00 UTC.
        assert_eq!(
            w.next_opening(utc("2025-03-08T23:00:00Z")),
            Some(utc("2025-03-09T13:00:00Z"))
        );
        // 2025-11-02: EDT → EST. 09:00 EST = 14:00 UTC.
        assert_eq!(
            w.next_opening(utc("2025-11-01T23:00:00Z")),
            Some(utc("2025-11-02T14:00:00Z"))
        );
    }

    #[test]
    fn the_recipients_quiet_hours_narrow_the_business_hours() {
        // A London business texting someone in New York: 09:00–17:00 London is 04:00–12:00 in
        // New York, and the recipient may only be texted from 08:00 their time (13:00 London).
        let w = window("Europe/London", "America/New_York");
        assert_eq!(
            w.next_opening(utc("2026-07-01T07:00:00Z")),
            Some(utc("2026-07-01T12:00:00Z"))
        );
        assert!(!w.is_open(utc("2026-07-01T11:59:00Z")));
        assert!(w.is_open(utc("2026-07-01T12:00:00Z")));
    }

    #[test]
    fn a_start_the_clocks_skip_opens_right_after_the_gap() {
        // Open from 01:30 local; on 2026-03-29 London jumps from 01:00 to 02:00.
        let w = SendingWindow::new(
            every_day("01:30", "23:00"),
            zone("Europe/London"),
            QuietHours::new(LocalTimeRange::parse("00:00", "23:59").unwrap()),
            zone("Europe/London"),
        );
        assert_eq!(
            w.next_opening(utc("2026-03-29T00:30:00Z")),
            Some(utc("2026-03-29T01:00:00Z"))
        );
    }

    #[test]
    fn weekends_closed_move_to_monday_and_no_overlap_means_never() {
        let weekdays = BusinessHours::default();
        let w = SendingWindow::new(
            weekdays,
            zone("Europe/London"),
            QuietHours::default(),
            zone("Europe/London"),
        );
        // Saturday 2026-07-04 10:00 BST → Monday 09:00 BST.
        assert_eq!(
            w.next_opening(utc("2026-07-04T09:00:00Z")),
            Some(utc("2026-07-06T08:00:00Z"))
        );
        let never = SendingWindow::new(
            every_day("01:00", "06:00"),
            zone("Europe/London"),
            QuietHours::default(),
            zone("Europe/London"),
        );
        assert_eq!(never.next_opening(utc("2026-07-04T09:00:00Z")), None);
    }

    #[test]
    fn single_zone_countries_name_their_zone_and_others_do_not() {
        assert_eq!(
            single_zone_of(&CountryCode::parse("GB").unwrap()),
            Some(zone("Europe/London"))
        );
        assert_eq!(single_zone_of(&CountryCode::parse("US").unwrap()), None);
    }
}
