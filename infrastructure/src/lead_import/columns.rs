//! Which column of a CSV file holds which lead field. A mapping the caller gives wins; the rest is
//! recognised from common header spellings (case, spaces, `_` and `-` ignored), and every other
//! named column becomes a custom field under a key `CustomFields` accepts.

use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::str::FromStr;

use super::ImportError;

/// Longest custom field key (the limit `CustomFields` enforces).
const MAX_KEY_LEN: usize = 64;

/// A lead field a CSV column can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Field {
    /// Phone number, read in the tenant's default country.
    Phone,
    /// Email address.
    Email,
    /// Given name.
    FirstName,
    /// Family name.
    LastName,
    /// Full name, split into the first word (given name) and the rest (family name).
    Name,
}

impl Field {
    /// Every field, in the order detection tries them.
    pub const ALL: [Self; 5] = [
        Self::Phone,
        Self::Email,
        Self::FirstName,
        Self::LastName,
        Self::Name,
    ];

    /// The wire name, e.g. `"first_name"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Phone => "phone",
            Self::Email => "email",
            Self::FirstName => "first_name",
            Self::LastName => "last_name",
            Self::Name => "name",
        }
    }

    /// Header spellings recognised without a mapping, already squashed (see [`squash`]).
    const fn aliases(self) -> &'static [&'static str] {
        match self {
            Self::Phone => &[
                "phone",
                "mobile",
                "phonenumber",
                "mobilenumber",
                "mobilephone",
                "cell",
                "cellphone",
                "telephone",
                "tel",
            ],
            Self::Email => &["email", "emailaddress"],
            Self::FirstName => &["firstname", "givenname", "forename"],
            Self::LastName => &["lastname", "surname", "familyname"],
            Self::Name => &["name", "fullname"],
        }
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Field {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|field| field.as_str() == s.trim())
            .ok_or_else(|| {
                format!("unknown field '{s}'; use phone, email, first_name, last_name or name")
            })
    }
}

/// A header name folded for comparison: lower case, without spaces, `_` or `-`.
fn squash(header: &str) -> String {
    header
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where each field is in the file, and which columns are custom fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    /// The header names as written in the file (BOM and surrounding spaces removed).
    headers: Vec<String>,
    /// Column index of each recognised field.
    fields: BTreeMap<Field, usize>,
    /// Column index and custom field key of every other named column.
    custom: Vec<(usize, String)>,
}

impl Columns {
    /// Resolves `headers` with the caller's `mapping` (field → header) first, then detection.
    pub(crate) fn resolve(
        headers: Vec<String>,
        mapping: &BTreeMap<Field, String>,
    ) -> Result<Self, ImportError> {
        let mut fields = BTreeMap::new();
        let mut used = HashSet::new();
        for (field, header) in mapping {
            let wanted = header.trim();
            let index = headers
                .iter()
                .position(|h| h == wanted)
                .or_else(|| headers.iter().position(|h| squash(h) == squash(wanted)))
                .ok_or_else(|| {
                    ImportError::invalid(
                        "mapping",
                        format!("{field}: the file has no column '{wanted}'"),
                    )
                })?;
            if !used.insert(index) {
                return Err(ImportError::invalid(
                    "mapping",
                    format!("{field}: column '{wanted}' is already mapped to another field"),
                ));
            }
            fields.insert(*field, index);
        }
        for field in Field::ALL {
            if fields.contains_key(&field) {
                continue;
            }
            let found = headers.iter().enumerate().find(|(index, header)| {
                !used.contains(index) && field.aliases().contains(&squash(header).as_str())
            });
            if let Some((index, _)) = found {
                used.insert(index);
                fields.insert(field, index);
            }
        }
        if !fields.contains_key(&Field::Phone) && !fields.contains_key(&Field::Email) {
            return Err(ImportError::invalid(
                "mapping",
                format!(
                    "no phone or email column found among {}; name one with mapping",
                    headers
                        .iter()
                        .map(|h| format!("'{h}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        let mut keys = HashSet::new();
        let mut custom = Vec::new();
        for (index, header) in headers.iter().enumerate() {
            if used.contains(&index) || header.is_empty() {
                continue;
            }
            let base = field_key(header, index);
            let mut key = base.clone();
            let mut n = 2;
            while !keys.insert(key.clone()) {
                let suffix = format!("_{n}");
                let keep = MAX_KEY_LEN - suffix.len();
                key = format!("{}{suffix}", &base[..base.len().min(keep)]);
                n += 1;
            }
            custom.push((index, key));
        }
        Ok(Self {
            headers,
            fields,
            custom,
        })
    }

    /// Column index of `field`, if the file has it.
    pub(crate) fn index(&self, field: Field) -> Option<usize> {
        self.fields.get(&field).copied()
    }

    /// The header of column `index` as written in the file.
    pub(crate) fn header(&self, index: usize) -> &str {
        self.headers
            .get(index)
            .map_or("", String::as_str)
            .trim_start_matches('\u{feff}')
    }

    /// The header holding `field`, or the field's name when the file has no such column.
    pub(crate) fn label(&self, field: Field) -> String {
        self.index(field).map_or_else(
            || field.as_str().to_string(),
            |i| self.header(i).to_string(),
        )
    }

    /// Number of columns in the header.
    pub(crate) fn width(&self) -> usize {
        self.headers.len()
    }

    /// Custom field columns: index and key.
    pub(crate) fn custom(&self) -> &[(usize, String)] {
        &self.custom
    }
}

/// A custom field key for a header: lower case, runs of anything but ASCII letters and digits
/// become one `_`, at most 64 characters; `column_N` (1-based) when nothing is left.
pub(crate) fn field_key(header: &str, index: usize) -> String {
    let mut key = String::with_capacity(header.len());
    for c in header.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_alphanumeric() {
            key.push(c);
        } else if !key.is_empty() && !key.ends_with('_') {
            key.push('_');
        }
    }
    let key = key.trim_end_matches('_');
    if key.is_empty() {
        return format!("column_{}", index + 1);
    }
    key.chars().take(MAX_KEY_LEN).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| (*s).to_string()).collect()
    }

    fn detect(names: &[&str]) -> Columns {
        Columns::resolve(headers(names), &BTreeMap::new()).unwrap()
    }

    #[test]
    fn common_spellings_are_recognised_whatever_the_case_spaces_or_underscores() {
        let columns = detect(&["Given Name", "SURNAME", "Phone_Number", "E-mail", "Plan"]);
        assert_eq!(columns.index(Field::FirstName), Some(0));
        assert_eq!(columns.index(Field::LastName), Some(1));
        assert_eq!(columns.index(Field::Phone), Some(2));
        assert_eq!(columns.index(Field::Email), Some(3));
        assert_eq!(columns.custom(), &[(4, "plan".to_string())]);
    }

    #[test]
    fn mobile_and_full_name_are_recognised() {
        let columns = detect(&["Full Name", "mobile", "email_address"]);
        assert_eq!(columns.index(Field::Name), Some(0));
        assert_eq!(columns.index(Field::Phone), Some(1));
        assert_eq!(columns.index(Field::Email), Some(2));
        assert!(columns.custom().is_empty());
    }

    #[test]
    fn a_mapping_wins_over_detection_and_the_detected_column_becomes_custom() {
        let mapping = BTreeMap::from([(Field::Phone, "Mobile No".to_string())]);
        let columns =
            Columns::resolve(headers(&["Phone", "Mobile No", "Email"]), &mapping).unwrap();
        assert_eq!(columns.index(Field::Phone), Some(1));
        assert_eq!(columns.index(Field::Email), Some(2));
        assert_eq!(columns.custom(), &[(0, "phone".to_string())]);
        assert_eq!(columns.label(Field::Phone), "Mobile No");
    }

    #[test]
    fn a_mapped_header_missing_from_the_file_names_mapping() {
        let mapping = BTreeMap::from([(Field::Email, "Mail".to_string())]);
        let error = Columns::resolve(headers(&["Phone"]), &mapping).unwrap_err();
        let ImportError::Invalid { field, reason } = error else {
            panic!("expected an invalid field, got {error:?}");
        };
        assert_eq!(field, "mapping");
        assert_eq!(reason, "email: the file has no column 'Mail'");
    }

    #[test]
    fn a_file_without_phone_or_email_is_refused() {
        let error = Columns::resolve(headers(&["Name", "Plan"]), &BTreeMap::new()).unwrap_err();
        assert!(matches!(
            error,
            ImportError::Invalid {
                field: "mapping",
                ..
            }
        ));
    }

    #[test]
    fn custom_keys_are_normalised_and_kept_distinct() {
        let columns = detect(&["phone", "Post code", "post_code", "€€", "", "Budget (£)"]);
        assert_eq!(
            columns.custom(),
            &[
                (1, "post_code".to_string()),
                (2, "post_code_2".to_string()),
                (3, "column_4".to_string()),
                (5, "budget".to_string()),
            ]
        );
    }

    #[test]
    fn a_long_header_becomes_a_key_of_64_characters() {
        let key = field_key(&"x".repeat(80), 0);
        assert_eq!(key.len(), 64);
    }

    #[test]
    fn fields_parse_from_their_wire_names() {
        for field in Field::ALL {
            assert_eq!(field.as_str().parse::<Field>(), Ok(field));
        }
        assert!("mobile".parse::<Field>().is_err());
    }
}
