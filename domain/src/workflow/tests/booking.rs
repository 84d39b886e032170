//! Given/when/then tests of the booking settings: reminders before an appointment, the buffer
//! around it and the notice a booking needs.

use super::*;

fn reminding(offsets: Vec<u32>) -> WorkflowDefinition {
    WorkflowDefinition {
        reminder_offsets_minutes: offsets,
        ..definition()
    }
}

fn create(definition: WorkflowDefinition) -> WorkflowCommand {
    WorkflowCommand::CreateWorkflow { definition }
}

fn update(patch: WorkflowPatch) -> WorkflowCommand {
    WorkflowCommand::UpdateWorkflow { patch }
}

#[test]
fn a_new_definition_reminds_a_day_and_an_hour_before_with_no_buffer_and_an_hours_notice() {
    let def = definition();
    assert_eq!(def.reminder_offsets_minutes, [1440, 60]);
    assert_eq!(def.appointment_buffer_minutes, 0);
    assert_eq!(def.booking_notice_minutes, 60);
    assert_eq!(def.check(), Ok(()));
}

#[test]
fn reminders_are_recorded_longest_first() {
    workflow()
        .given_no_previous_events()
        .when(create(reminding(vec![60, 10_080, 5])))
        .then_expect_events(vec![WorkflowEvent::WorkflowCreated {
            definition: reminding(vec![10_080, 60, 5]),
        }]);
}

#[test]
fn the_same_reminders_in_another_order_change_nothing() {
    workflow()
        .given(vec![created()])
        .when(update(WorkflowPatch {
            reminder_offsets_minutes: Some(vec![60, 1440]),
            ..WorkflowPatch::default()
        }))
        .then_expect_events(vec![]);
}

#[test]
fn an_edit_replaces_the_booking_settings_it_names() {
    workflow()
        .given(vec![created()])
        .when(update(WorkflowPatch {
            reminder_offsets_minutes: Some(vec![30, 120]),
            appointment_buffer_minutes: Some(15),
            ..WorkflowPatch::default()
        }))
        .then_expect_events(vec![WorkflowEvent::WorkflowUpdated {
            definition: WorkflowDefinition {
                reminder_offsets_minutes: vec![120, 30],
                appointment_buffer_minutes: 15,
                ..definition()
            },
        }]);
    workflow()
        .given(vec![created()])
        .when(update(WorkflowPatch {
            reminder_offsets_minutes: Some(vec![]),
            booking_notice_minutes: Some(0),
            ..WorkflowPatch::default()
        }))
        .then_expect_events(vec![WorkflowEvent::WorkflowUpdated {
            definition: WorkflowDefinition {
                reminder_offsets_minutes: vec![],
                booking_notice_minutes: 0,
                ..definition()
            },
        }]);
}

#[test]
fn the_limits_themselves_are_accepted() {
    let def = WorkflowDefinition {
        reminder_offsets_minutes: vec![10_080, 1440, 60, 30, 5],
        appointment_buffer_minutes: 240,
        booking_notice_minutes: 10_080,
        ..definition()
    };
    assert_eq!(def.check(), Ok(()));
}

#[test]
fn booking_settings_out_of_bounds_are_refused_naming_the_field() {
    let cases = [
        (
            reminding(vec![10_080, 1440, 60, 30, 15, 5]),
            WorkflowError::TooManyReminders { count: 6, max: 5 },
            "reminder_offsets_minutes",
        ),
        (
            reminding(vec![60, 4]),
            WorkflowError::ReminderOffsetOutOfRange {
                offset: 4,
                min: 5,
                max: 10_080,
            },
            "reminder_offsets_minutes",
        ),
        (
            reminding(vec![10_081]),
            WorkflowError::ReminderOffsetOutOfRange {
                offset: 10_081,
                min: 5,
                max: 10_080,
            },
            "reminder_offsets_minutes",
        ),
        (
            reminding(vec![60, 1440, 60]),
            WorkflowError::DuplicateReminderOffset(60),
            "reminder_offsets_minutes",
        ),
        (
            WorkflowDefinition {
                appointment_buffer_minutes: 241,
                ..definition()
            },
            WorkflowError::MinutesTooLarge {
                field: "appointment_buffer_minutes",
                max: 240,
            },
            "appointment_buffer_minutes",
        ),
        (
            WorkflowDefinition {
                booking_notice_minutes: 10_081,
                ..definition()
            },
            WorkflowError::MinutesTooLarge {
                field: "booking_notice_minutes",
                max: 10_080,
            },
            "booking_notice_minutes",
        ),
    ];
    for (definition, error, field) in cases {
        assert!(error.to_string().starts_with(field), "{error}");
        workflow()
            .given_no_previous_events()
            .when(create(definition))
            .then_expect_error(error);
    }
}

#[test]
fn an_edit_that_breaks_a_booking_rule_is_refused() {
    workflow()
        .given(vec![created()])
        .when(update(WorkflowPatch {
            appointment_buffer_minutes: Some(300),
            ..WorkflowPatch::default()
        }))
        .then_expect_error(WorkflowError::MinutesTooLarge {
            field: "appointment_buffer_minutes",
            max: 240,
        });
}

#[test]
fn a_definition_stored_before_the_booking_settings_loads_with_the_defaults() {
    let mut json = serde_json::to_value(WorkflowDefinition {
        reminder_offsets_minutes: vec![30],
        appointment_buffer_minutes: 10,
        booking_notice_minutes: 0,
        ..definition()
    })
    .unwrap();
    let fields = json.as_object_mut().unwrap();
    for field in [
        "reminder_offsets_minutes",
        "appointment_buffer_minutes",
        "booking_notice_minutes",
    ] {
        assert!(fields.remove(field).is_some(), "{field} is stored");
    }
    let loaded: WorkflowDefinition = serde_json::from_value(json).unwrap();
    assert_eq!(loaded, definition());
}
