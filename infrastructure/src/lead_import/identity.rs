//! Identities that make an import safe to send again: the import id (the client's key, or a
//! digest of what was sent), the fingerprint that says whether a second sending is the same
//! import, and lead ids derived from (tenant, import, row) so that a resumed import can never
//! create a second lead for a row.

use domain::values::{LeadId, TenantId};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ImportError, ImportOptions};

/// Longest client-chosen import id.
const MAX_ID_LEN: usize = 100;

/// The options that change what an import does, in a stable form (stored with the import and
/// part of its fingerprint).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct NormalisedOptions {
    /// Country national numbers are read in.
    country: String,
    /// The delimiter in effect (detected or given).
    delimiter: String,
    /// Field → header, sorted by field.
    mapping: Vec<(String, String)>,
    /// Source recorded on the leads.
    source: String,
    /// Tags, sorted, without repeats.
    tags: Vec<String>,
    /// Workflow for new leads.
    workflow_id: Option<String>,
}

impl NormalisedOptions {
    /// The normal form of `options` read with `delimiter`.
    pub(crate) fn new(options: &ImportOptions, delimiter: u8) -> Self {
        let mut tags: Vec<String> = options
            .tags
            .iter()
            .map(|t| t.as_str().to_string())
            .collect();
        tags.sort();
        tags.dedup();
        Self {
            country: options.country.as_str().to_string(),
            delimiter: char::from(delimiter).to_string(),
            mapping: options
                .mapping
                .iter()
                .map(|(field, header)| (field.as_str().to_string(), header.trim().to_string()))
                .collect(),
            source: options.source.as_str().to_string(),
            tags,
            workflow_id: options.workflow_id.map(|w| w.to_string()),
        }
    }

    /// As stored in `lead_imports.options`.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
}

/// Hex SHA-256 of the content digest and the normalised options: equal exactly when the same
/// file is sent with the same options.
pub(crate) fn fingerprint(content_sha256: &[u8; 32], options: &NormalisedOptions) -> String {
    let mut hasher = Sha256::new();
    hasher.update(content_sha256);
    hasher.update(options.to_json().to_string().as_bytes());
    hex::encode(hasher.finalize())
}

/// The client's id when given (checked), else `csv-` and the first 32 hex digits of the
/// fingerprint.
pub(crate) fn import_id(given: Option<&str>, fingerprint: &str) -> Result<String, ImportError> {
    let Some(given) = given else {
        return Ok(format!(
            "csv-{}",
            fingerprint.get(..32).unwrap_or(fingerprint)
        ));
    };
    let valid = (1..=MAX_ID_LEN).contains(&given.len())
        && given
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if valid {
        Ok(given.to_string())
    } else {
        Err(ImportError::invalid(
            "import_id",
            format!(
                "must be 1 to {MAX_ID_LEN} characters of letters, digits, '-', '_', '.' and ':'"
            ),
        ))
    }
}

/// The lead a row of an import creates: a version 8 UUID over SHA-256(tenant, import, row).
pub(crate) fn lead_id(tenant: TenantId, import_id: &str, row: u32) -> LeadId {
    let mut hasher = Sha256::new();
    hasher.update(b"bookerbot/lead-import/v1\0");
    hasher.update(tenant.as_uuid().as_bytes());
    hasher.update(import_id.as_bytes());
    hasher.update([0]);
    hasher.update(row.to_be_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(digest.get(..16).unwrap_or(&[0u8; 16]));
    LeadId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use domain::values::{CountryCode, Tag};

    fn options() -> ImportOptions {
        ImportOptions::new(CountryCode::parse("GB").unwrap())
    }

    #[test]
    fn lead_ids_are_stable_and_differ_by_tenant_import_and_row() {
        let tenant = TenantId::new();
        let id = lead_id(tenant, "a", 2);
        assert_eq!(id, lead_id(tenant, "a", 2));
        assert_eq!(id.as_uuid().get_version_num(), 8);
        assert_ne!(id, lead_id(tenant, "a", 3));
        assert_ne!(id, lead_id(tenant, "b", 2));
        assert_ne!(id, lead_id(TenantId::new(), "a", 2));
    }

    #[test]
    fn tag_order_and_repeats_do_not_change_the_fingerprint() {
        let digest = [7u8; 32];
        let mut first = options();
        first.tags = vec![Tag::parse("b").unwrap(), Tag::parse("a").unwrap()];
        let mut second = options();
        second.tags = vec![
            Tag::parse("a").unwrap(),
            Tag::parse("b").unwrap(),
            Tag::parse("a").unwrap(),
        ];
        assert_eq!(
            fingerprint(&digest, &NormalisedOptions::new(&first, b',')),
            fingerprint(&digest, &NormalisedOptions::new(&second, b','))
        );
    }

    #[test]
    fn content_and_options_change_the_fingerprint() {
        let plain = NormalisedOptions::new(&options(), b',');
        let base = fingerprint(&[1; 32], &plain);
        assert_ne!(base, fingerprint(&[2; 32], &plain));
        assert_ne!(
            base,
            fingerprint(&[1; 32], &NormalisedOptions::new(&options(), b';'))
        );
    }

    #[test]
    fn a_derived_import_id_is_a_prefix_of_the_fingerprint() {
        let fingerprint = "ab".repeat(32);
        assert_eq!(
            import_id(None, &fingerprint).unwrap(),
            format!("csv-{}", "ab".repeat(16))
        );
    }

    #[test]
    fn a_client_import_id_is_checked() {
        assert_eq!(
            import_id(Some("batch-2026.03:1"), "x").unwrap(),
            "batch-2026.03:1"
        );
        assert!(import_id(Some(""), "x").is_err());
        assert!(import_id(Some("has space"), "x").is_err());
        assert!(import_id(Some(&"x".repeat(101)), "x").is_err());
    }
}
