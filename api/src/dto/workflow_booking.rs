//! The booking settings of a workflow body — reminders before an appointment, the buffer around
//! it, the notice a booking needs — read as whole minutes. Numbers arrive as `i64` like every
//! number the API takes; here they are narrowed, naming the field (and the reminder's index)
//! refused. Their ranges are the Workflow aggregate's rules, which name the field too.

use crate::error::ApiError;

/// Minutes for `field`: refused when negative or absurdly large.
pub fn minutes(field: &str, value: i64) -> Result<u32, ApiError> {
    if value < 0 {
        return Err(ApiError::invalid_field(field, "must not be negative"));
    }
    u32::try_from(value).map_err(|_| ApiError::invalid_field(field, "is too large"))
}

/// The reminder offsets, each narrowed; a refusal names its index
/// (`reminder_offsets_minutes[1]`).
pub fn reminder_offsets(list: &[i64]) -> Result<Vec<u32>, ApiError> {
    list.iter()
        .enumerate()
        .map(|(i, offset)| minutes(&format!("reminder_offsets_minutes[{i}]"), *offset))
        .collect()
}

/// Stored minutes as the API shows them.
#[must_use]
pub fn shown(list: &[u32]) -> Vec<i64> {
    list.iter().copied().map(i64::from).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::error::field_of;

    #[test]
    fn negative_minutes_are_refused_naming_the_field_and_index() {
        assert_eq!(minutes("booking_notice_minutes", 90).unwrap(), 90);
        assert_eq!(
            field_of(minutes("booking_notice_minutes", -1).unwrap_err()),
            "booking_notice_minutes"
        );
        assert_eq!(
            field_of(minutes("appointment_buffer_minutes", i64::MAX).unwrap_err()),
            "appointment_buffer_minutes"
        );
        assert_eq!(reminder_offsets(&[1440, 60]).unwrap(), [1440, 60]);
        assert_eq!(
            field_of(reminder_offsets(&[1440, -60]).unwrap_err()),
            "reminder_offsets_minutes[1]"
        );
        assert_eq!(shown(&[1440, 60]), [1440, 60]);
    }
}
