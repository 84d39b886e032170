//! Typed aggregate and tenant identifiers, so a `LeadId` can never be passed where a
//! `WorkflowId` is expected. All are UUIDs; new ones are v7 so they sort by creation time.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ValueError;

macro_rules! uuid_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(Uuid);

        impl $name {
            /// A fresh, time-ordered (v7) identifier.
            #[must_use]
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// Wraps an existing UUID (e.g. read from storage).
            #[must_use]
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The underlying UUID.
            #[must_use]
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = ValueError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s.trim()).map(Self).map_err(|_| ValueError::InvalidId)
            }
        }

        impl From<Uuid> for $name {
            fn from(uuid: Uuid) -> Self {
                Self(uuid)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

uuid_id!(
    /// Identifies a tenant: one client business served by this deployment.
    TenantId
);
uuid_id!(
    /// Identifies a Lead aggregate.
    LeadId
);
uuid_id!(
    /// Identifies a Workflow aggregate.
    WorkflowId
);
uuid_id!(
    /// Identifies an Appointment aggregate.
    AppointmentId
);
uuid_id!(
    /// Identifies one message of a conversation, inbound or outbound. For an outbound message it
    /// is also the idempotency key handed to the provider.
    MessageId
);

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_new_id_is_a_version_7_uuid() {
        assert_eq!(LeadId::new().as_uuid().get_version_num(), 7);
    }

    #[test]
    fn ids_created_later_sort_later() {
        let first = WorkflowId::new();
        let second = WorkflowId::new();
        assert!(first < second);
    }

    #[test]
    fn an_id_parses_from_its_display_form() {
        let id = TenantId::new();
        assert_eq!(id.to_string().parse::<TenantId>().unwrap(), id);
    }

    #[test]
    fn an_appointment_id_is_a_version_7_uuid_that_parses_from_its_display_form() {
        let id = AppointmentId::new();
        assert_eq!(id.as_uuid().get_version_num(), 7);
        assert_eq!(id.to_string().parse::<AppointmentId>().unwrap(), id);
    }

    #[test]
    fn a_non_uuid_string_is_rejected() {
        assert_eq!("not-a-uuid".parse::<LeadId>(), Err(ValueError::InvalidId));
    }

    #[test]
    fn an_id_serializes_as_a_plain_uuid_string() {
        let uuid = Uuid::parse_str("0191e7a2-7b5e-7c3a-9a4f-1e2d3c4b5a69").unwrap();
        let json = serde_json::to_string(&LeadId::from_uuid(uuid)).unwrap();
        assert_eq!(json, "\"0191e7a2-7b5e-7c3a-9a4f-1e2d3c4b5a69\"");
    }

    proptest! {
        #[test]
        fn any_uuid_round_trips_through_text(bytes in any::<[u8; 16]>()) {
            let id = WorkflowId::from_uuid(Uuid::from_bytes(bytes));
            prop_assert_eq!(id.to_string().parse::<WorkflowId>(), Ok(id));
        }
    }
}
