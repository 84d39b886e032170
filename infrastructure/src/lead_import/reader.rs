//! Reading the CSV file into lead values, row by row, on a blocking thread. Handles what real
//! exports contain: a UTF-8 byte order mark, CRLF line ends, quoted fields with delimiters and
//! line breaks inside, `;` or tab delimiters (detected from the header line), short rows (missing
//! cells are empty), rows with values past the last header and cells that are not UTF-8 (those
//! rows are rejected, naming the column). A UTF-16 file is refused as a whole.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use domain::values::{CountryCode, CustomFields, EmailAddress, PhoneNumber};
use serde_json::{Map, Value};

use super::columns::{Columns, Field};
use super::{ImportError, ImportOptions, RowError};

/// Bytes looked at to find the delimiter.
const SNIFF_BYTES: usize = 64 * 1024;
/// Delimiters tried when none is given, in order of preference on a tie.
const CANDIDATES: [u8; 4] = [b',', b';', b'\t', b'|'];
/// What a lead without contact is told (the Lead aggregate's own rule).
const NO_CONTACT: &str = "a lead needs a phone number or an email address";

/// A row read into lead values, not yet checked by the aggregate.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RowData {
    /// Spreadsheet row number.
    pub row: u32,
    /// Given name (trimmed; possibly empty).
    pub first_name: String,
    /// Family name.
    pub last_name: String,
    /// Whether both names came from splitting the full-name column.
    pub split_name: bool,
    /// Phone, parsed.
    pub phone: Option<PhoneNumber>,
    /// Email, parsed.
    pub email: Option<EmailAddress>,
    /// Every other non-empty cell under its key.
    pub custom_fields: CustomFields,
}

/// One row: its values, or why it cannot be imported.
pub(crate) type ParsedRow = Result<RowData, RowError>;

/// An open CSV file positioned after its header.
pub(crate) struct CsvReader {
    reader: csv::Reader<BufReader<File>>,
    columns: Columns,
    country: CountryCode,
    delimiter: u8,
    /// Bytes before the parser's start (the BOM).
    offset: u64,
    /// Row number of the last record read (the header is row 1).
    row: u32,
    record: csv::ByteRecord,
}

impl CsvReader {
    /// Opens `path`, reads the header and resolves the columns with `options`.
    pub(crate) fn open(path: &Path, options: &ImportOptions) -> Result<Self, ImportError> {
        let unreadable =
            |e: std::io::Error| ImportError::invalid("file", format!("cannot be read: {e}"));
        let mut file = File::open(path).map_err(unreadable)?;
        let mut head = Vec::with_capacity(SNIFF_BYTES);
        file.by_ref()
            .take(SNIFF_BYTES as u64)
            .read_to_end(&mut head)
            .map_err(unreadable)?;
        if head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]) {
            return Err(ImportError::invalid(
                "file",
                "is UTF-16; save it as UTF-8 (\"CSV UTF-8\" in Excel)",
            ));
        }
        let offset = if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
            3
        } else {
            0
        };
        let delimiter = match options.delimiter {
            Some(delimiter) => delimiter,
            None => detect_delimiter(head.get(offset..).unwrap_or_default()),
        };
        file.seek(SeekFrom::Start(offset as u64))
            .map_err(unreadable)?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .delimiter(delimiter)
            .buffer_capacity(256 * 1024)
            .from_reader(BufReader::with_capacity(256 * 1024, file));
        let mut header = csv::ByteRecord::new();
        let read = reader
            .read_byte_record(&mut header)
            .map_err(|e| ImportError::invalid("file", format!("cannot be read: {e}")))?;
        if !read {
            return Err(ImportError::invalid(
                "file",
                "is empty; the first row must name the columns",
            ));
        }
        let headers = header
            .iter()
            .map(|cell| {
                std::str::from_utf8(cell)
                    .map(|h| h.trim().to_string())
                    .map_err(|_| {
                        ImportError::invalid(
                            "file",
                            "has a header row that is not UTF-8; save the file as UTF-8",
                        )
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let columns = Columns::resolve(headers, &options.mapping)?;
        Ok(Self {
            reader,
            columns,
            country: options.country,
            delimiter,
            offset: offset as u64,
            row: 1,
            record: csv::ByteRecord::new(),
        })
    }

    /// The delimiter in effect.
    pub(crate) fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// The resolved columns.
    pub(crate) fn columns(&self) -> &Columns {
        &self.columns
    }

    /// Bytes of the file consumed so far.
    pub(crate) fn bytes_read(&self) -> u64 {
        self.offset + self.reader.position().byte()
    }

    /// The next row, skipping those at or before `resume_after` without parsing them and those
    /// whose cells are all empty (a spreadsheet's trailing `,,,`); `None` at the end of the file.
    pub(crate) fn next_row(&mut self, resume_after: u32) -> Result<Option<ParsedRow>, ImportError> {
        loop {
            let read = self
                .reader
                .read_byte_record(&mut self.record)
                .map_err(|e| {
                    ImportError::invalid(
                        "file",
                        format!("cannot be read after row {}: {e}", self.row),
                    )
                })?;
            if !read {
                return Ok(None);
            }
            self.row += 1;
            let blank = self.record.iter().all(|cell| cell.trim_ascii().is_empty());
            if self.row <= resume_after || blank {
                continue;
            }
            return Ok(Some(parse_row(
                self.row,
                &self.record,
                &self.columns,
                self.country,
            )));
        }
    }
}

/// The candidate delimiter seen most often outside quotes on the first line (`,` if none).
fn detect_delimiter(head: &[u8]) -> u8 {
    let mut counts = [0usize; CANDIDATES.len()];
    let mut quoted = false;
    for &byte in head {
        match byte {
            b'"' => quoted = !quoted,
            b'\n' | b'\r' if !quoted => break,
            _ if !quoted => {
                if let Some(i) = CANDIDATES.iter().position(|&c| c == byte) {
                    if let Some(count) = counts.get_mut(i) {
                        *count += 1;
                    }
                }
            }
            _ => {}
        }
    }
    let mut best = 0;
    for (i, &count) in counts.iter().enumerate() {
        if count > counts.get(best).copied().unwrap_or_default() {
            best = i;
        }
    }
    CANDIDATES.get(best).copied().unwrap_or(b',')
}

/// Reads one record into lead values, naming the column of the first problem.
pub(crate) fn parse_row(
    row: u32,
    record: &csv::ByteRecord,
    columns: &Columns,
    country: CountryCode,
) -> ParsedRow {
    let reject = |column: String, reason: String| RowError {
        row,
        column,
        reason,
    };
    if let Some(extra) = (columns.width()..record.len()).find(|&i| {
        record
            .get(i)
            .is_some_and(|cell| !cell.trim_ascii().is_empty())
    }) {
        return Err(reject(
            format!("column {}", extra + 1),
            format!(
                "has a value past the last column: the row has {} cells, the header {}",
                record.len(),
                columns.width()
            ),
        ));
    }
    let cell = |index: Option<usize>| -> Result<&str, RowError> {
        let Some(index) = index else {
            return Ok("");
        };
        let bytes = record.get(index).unwrap_or_default();
        std::str::from_utf8(bytes).map(str::trim).map_err(|_| {
            reject(
                columns.header(index).to_string(),
                "is not valid UTF-8; save the file as UTF-8".to_string(),
            )
        })
    };
    let phone_text = cell(columns.index(Field::Phone))?;
    let phone = if phone_text.is_empty() {
        None
    } else {
        Some(
            PhoneNumber::parse(phone_text, country)
                .map_err(|e| reject(columns.label(Field::Phone), e.to_string()))?,
        )
    };
    let email_text = cell(columns.index(Field::Email))?;
    let email = if email_text.is_empty() {
        None
    } else {
        Some(
            EmailAddress::parse(email_text)
                .map_err(|e| reject(columns.label(Field::Email), e.to_string()))?,
        )
    };
    if phone.is_none() && email.is_none() {
        let field = if columns.index(Field::Phone).is_some() {
            Field::Phone
        } else {
            Field::Email
        };
        return Err(reject(columns.label(field), NO_CONTACT.to_string()));
    }
    let mut first_name = cell(columns.index(Field::FirstName))?.to_string();
    let mut last_name = cell(columns.index(Field::LastName))?.to_string();
    let full_name = cell(columns.index(Field::Name))?;
    let split_name = first_name.is_empty() && last_name.is_empty() && !full_name.is_empty();
    if split_name {
        let (first, rest) = full_name
            .split_once(char::is_whitespace)
            .unwrap_or((full_name, ""));
        first_name = first.to_string();
        last_name = rest.trim().to_string();
    }
    let mut map = Map::new();
    for (index, key) in columns.custom() {
        let value = cell(Some(*index))?;
        if !value.is_empty() {
            map.insert(key.clone(), Value::String(value.to_string()));
        }
    }
    let custom_fields = if map.is_empty() {
        CustomFields::default()
    } else {
        CustomFields::parse(Value::Object(map)).map_err(|e| {
            let column = match &e {
                domain::values::ValueError::FieldValueTooLong { key, .. } => columns
                    .custom()
                    .iter()
                    .find(|(_, k)| k == key)
                    .map_or_else(|| key.clone(), |(i, _)| columns.header(*i).to_string()),
                _ => "custom fields".to_string(),
            };
            reject(column, e.to_string())
        })?
    };
    Ok(RowData {
        row,
        first_name,
        last_name,
        split_name,
        phone,
        email,
        custom_fields,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::io::Write;

    use super::*;

    fn options() -> ImportOptions {
        ImportOptions::new(CountryCode::parse("GB").unwrap())
    }

    fn read_all(content: &[u8], options: &ImportOptions) -> (CsvReader, Vec<ParsedRow>) {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content).unwrap();
        let mut reader = CsvReader::open(file.path(), options).unwrap();
        let mut rows = Vec::new();
        while let Some(row) = reader.next_row(0).unwrap() {
            rows.push(row);
        }
        (reader, rows)
    }

    fn open_error(content: &[u8]) -> ImportError {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(content).unwrap();
        CsvReader::open(file.path(), &options()).err().unwrap()
    }

    #[test]
    fn bom_crlf_semicolons_and_quoted_line_breaks_are_read() {
        let content = "\u{feff}First Name;Phone;Notes\r\n\
                       Ada;07400 100001;\"likes; semicolons\r\nand two lines\"\r\n\
                       Grace;07400 100002;plain\r\n";
        let (reader, rows) = read_all(content.as_bytes(), &options());
        assert_eq!(reader.delimiter(), b';');
        assert_eq!(reader.bytes_read(), content.len() as u64);
        let ada = rows[0].as_ref().unwrap();
        assert_eq!(ada.row, 2);
        assert_eq!(ada.first_name, "Ada");
        assert_eq!(ada.phone.as_ref().unwrap().as_str(), "+447400100001");
        assert_eq!(
            ada.custom_fields.get("notes").unwrap(),
            "likes; semicolons\r\nand two lines"
        );
        let grace = rows[1].as_ref().unwrap();
        assert_eq!(grace.row, 3, "a record with a line break inside is one row");
        assert_eq!(grace.custom_fields.get("notes").unwrap(), "plain");
    }

    #[test]
    fn tabs_are_detected() {
        let (reader, rows) = read_all(
            b"email\tname\na@example.com\tAda Lovelace King\n",
            &options(),
        );
        assert_eq!(reader.delimiter(), b'\t');
        let row = rows[0].as_ref().unwrap();
        assert_eq!(
            (row.first_name.as_str(), row.last_name.as_str()),
            ("Ada", "Lovelace King")
        );
        assert!(row.split_name);
    }

    #[test]
    fn a_given_delimiter_is_used_even_if_another_is_more_frequent() {
        let mut options = options();
        options.delimiter = Some(b',');
        let (_, rows) = read_all(b"phone,note\n07400 100001,a;b;c\n", &options);
        assert_eq!(
            rows[0].as_ref().unwrap().custom_fields.get("note").unwrap(),
            "a;b;c"
        );
    }

    #[test]
    fn bad_values_are_rejected_naming_the_column_in_the_file() {
        let content = "Mobile,E-mail,Plan\n\
                       not a phone,,gold\n\
                       ,ada@,gold\n\
                       ,,gold\n\
                       07400 100001,,gold,extra\n\
                       07400 100002\n";
        let (_, rows) = read_all(content.as_bytes(), &options());
        let errors: Vec<_> = rows.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(
            errors
                .iter()
                .map(|e| (e.row, e.column.as_str()))
                .collect::<Vec<_>>(),
            vec![(2, "Mobile"), (3, "E-mail"), (4, "Mobile"), (5, "column 4")]
        );
        assert_eq!(
            errors[0].reason,
            "is not a valid phone number for country GB"
        );
        assert_eq!(errors[2].reason, NO_CONTACT);
        let short = rows[4].as_ref().unwrap();
        assert_eq!(short.row, 6);
        assert!(short.custom_fields.is_empty(), "missing cells are empty");
    }

    #[test]
    fn a_cell_that_is_not_utf8_rejects_its_row_only() {
        let (_, rows) = read_all(
            b"phone,city\n07400 100001,M\xfcnchen\n07400 100002,Bonn\n",
            &options(),
        );
        let error = rows[0].as_ref().unwrap_err();
        assert_eq!((error.row, error.column.as_str()), (2, "city"));
        assert!(error.reason.contains("UTF-8"));
        assert!(rows[1].is_ok());
    }

    #[test]
    fn a_too_long_custom_value_names_its_header() {
        let content = format!("phone,Long Notes\n07400 100001,{}\n", "x".repeat(1001));
        let (_, rows) = read_all(content.as_bytes(), &options());
        assert_eq!(rows[0].as_ref().unwrap_err().column, "Long Notes");
    }

    #[test]
    fn utf16_and_empty_files_are_refused() {
        assert!(matches!(
            open_error(b"\xff\xfep\x00"),
            ImportError::Invalid { field: "file", .. }
        ));
        assert!(matches!(
            open_error(b""),
            ImportError::Invalid { field: "file", .. }
        ));
    }

    #[test]
    fn rows_of_empty_cells_are_skipped_but_keep_their_row_number() {
        let (_, rows) = read_all(b"phone,plan\n , \n,\n07400 100001,gold\n", &options());
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].as_ref().unwrap().row, 4);
    }

    #[test]
    fn resumed_rows_are_skipped_but_still_counted() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        file.write_all(b"phone\n07400 100001\n07400 100002\n07400 100003\n")
            .unwrap();
        let mut reader = CsvReader::open(file.path(), &options()).unwrap();
        let row = reader.next_row(3).unwrap().unwrap().unwrap();
        assert_eq!(row.row, 4);
        assert!(reader.next_row(3).unwrap().is_none());
    }
}
