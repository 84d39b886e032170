//! Where a workflow is in its life: drafted, engaging leads, paused, or retired for good.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::values::ValueError;

/// The lifecycle status of a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkflowStatus {
    /// Being written; no lead is contacted.
    #[default]
    Draft,
    /// Leads are contacted and followed up.
    Active,
    /// No new messages go out until resumed.
    Paused,
    /// Retired; final.
    Archived,
}

impl WorkflowStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [Self; 4] = [Self::Draft, Self::Active, Self::Paused, Self::Archived];

    /// The wire name, e.g. `"paused"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Archived => "archived",
        }
    }
}

impl fmt::Display for WorkflowStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for WorkflowStatus {
    type Err = ValueError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str() == s)
            .ok_or_else(|| ValueError::UnknownWorkflowStatus(s.to_owned()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn every_status_parses_from_its_wire_name_and_serde_agrees() {
        for status in WorkflowStatus::ALL {
            assert_eq!(status.as_str().parse::<WorkflowStatus>(), Ok(status));
            let json = serde_json::to_string(&status).unwrap();
            assert_eq!(json, format!("\"{}\"", status.as_str()));
        }
    }

    #[test]
    fn an_unknown_status_is_rejected() {
        assert_eq!(
            "deleted".parse::<WorkflowStatus>(),
            Err(ValueError::UnknownWorkflowStatus("deleted".into()))
        );
    }
}
