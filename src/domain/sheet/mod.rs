//! Reading the sheets operators make (CSV and XLSX) as typed cells, one row at a time, with
//! every size checked before anything is allocated for it; and the rules for what a cell may
//! hold when it becomes an amount, an account number or a name.
//!
//! Nothing here keeps a whole sheet: rows are handed to a callback as they are read. An XLSX is
//! read with our own small reader (zip + XML) rather than a general spreadsheet library, because
//! those allocate the sheet's declared extent and turn every cell into a float or text, which
//! loses what matters here: that a cell is a date, or a number Excel already rounded.

use std::fmt;
use std::io::Read;
use std::ops::ControlFlow;

use self::csv::read_csv;
use self::xlsx::read_xlsx;

mod cells;
mod csv;
mod xlsx;

pub use cells::{account_value, beyond_header, crypto_value, text_value, yuan_value};

/// One cell as the file stores it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Cell {
    Empty,
    Text(String),
    /// A number, as the exact decimal text stored in the file (never through a float).
    Number {
        text: String,
    },
    /// A date or date-time cell, shown as `2026-01-01` or `2026-01-01 08:30:00`.
    Date(String),
    /// A time-of-day cell, shown as `08:30:00`.
    Time(String),
    /// A number whose format shows it scaled, as a percentage (`1.5` shown `150%`) or in
    /// thousands (`123450` shown `123.45`): what the operator reads is not the value.
    Scaled(String),
    /// A number with more decimals than its format shows (`1234.5` shown as `1,235`).
    Rounded {
        text: String,
        places: u8,
    },
    /// A number or text whose format does not show it (`;;;`, or only a quoted text): the
    /// operator sees an empty cell or another text, not the value that would be paid.
    Unshown(String),
    Bool(bool),
    /// An error value such as `#DIV/0!`.
    Error(String),
    /// A formula, with the value it last showed.
    Formula(Box<Cell>),
}

impl Cell {
    /// What the cell looks like to an operator: "a date, 2026-01-01".
    pub fn describe(&self) -> String {
        match self {
            Cell::Empty => "empty".to_owned(),
            Cell::Text(t) => format!("text “{t}”"),
            Cell::Number { text } => format!("a number, {text}"),
            Cell::Date(d) => format!("a date, {d}"),
            Cell::Time(t) => format!("a time, {t}"),
            Cell::Rounded { text, places } => {
                format!("a number shown with {places} decimal(s), so not as it is stored, {text}")
            }
            Cell::Scaled(v) => format!(
                "a number whose format shows it scaled (as a percentage or in thousands), stored as {v}"
            ),
            Cell::Unshown(v) => format!(
                "a value whose format does not show it (such as ;;; or a quoted text), stored as {v}"
            ),
            Cell::Bool(b) => format!("a TRUE/FALSE value, {}", if *b { "TRUE" } else { "FALSE" }),
            Cell::Error(e) => format!("an error value, {e}"),
            Cell::Formula(shown) => format!("a formula showing {}", shown.describe()),
        }
    }

    pub fn is_blank(&self) -> bool {
        match self {
            Cell::Empty => true,
            Cell::Text(t) => t.trim().is_empty(),
            _ => false,
        }
    }
}

/// The sizes a file may have; each is checked before memory is taken for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The file itself (default 100 MB).
    pub max_file_bytes: u64,
    /// Rows of a sheet (Excel's own 1,048,576).
    pub max_rows: u32,
    /// Columns of a sheet: our files have a handful; 64 leaves room for notes.
    pub max_columns: u32,
    /// Characters of one cell (Excel's own 32,767).
    pub max_cell_chars: usize,
    /// Uncompressed size of the sheet inside an XLSX (streamed, never held).
    pub max_sheet_xml_bytes: u64,
    /// Uncompressed size of the shared strings inside an XLSX.
    pub max_shared_xml_bytes: u64,
    /// Uncompressed size of the small parts of an XLSX (workbook, relationships, styles).
    pub max_part_bytes: u64,
    /// Number of shared strings kept, and their total size in bytes.
    pub max_shared_strings: usize,
    pub max_shared_text_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_file_bytes: 100_000_000,
            max_rows: 1_048_576,
            max_columns: 64,
            max_cell_chars: 32_767,
            max_sheet_xml_bytes: 2_000_000_000,
            max_shared_xml_bytes: 500_000_000,
            max_part_bytes: 16_000_000,
            max_shared_strings: 8_000_000,
            max_shared_text_bytes: 100_000_000,
        }
    }
}

impl Limits {
    /// The defaults, with the file size limit taken from `PAYDESK_MAX_FILE_MB` (whole
    /// megabytes) when it is set to a positive number: the one setting of these limits, read
    /// here so the console and the CLI use the same value.
    pub fn configured() -> Self {
        let mut limits = Limits::default();
        if let Some(mb) = std::env::var("PAYDESK_MAX_FILE_MB")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|mb| *mb > 0)
        {
            limits.max_file_bytes = mb.saturating_mul(1_000_000);
        }
        limits
    }
}

/// A file that cannot be read, located where possible (row 0: the file as a whole).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct SheetError {
    pub row: usize,
    /// 0-based column, if the problem is in one cell.
    pub column: Option<u32>,
    pub message: String,
}

impl SheetError {
    fn file(message: impl Into<String>) -> Self {
        SheetError {
            row: 0,
            column: None,
            message: message.into(),
        }
    }

    fn at(row: usize, column: u32, message: impl Into<String>) -> Self {
        SheetError {
            row,
            column: Some(column),
            message: message.into(),
        }
    }
}

impl fmt::Display for SheetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.row, self.column) {
            (0, _) => write!(f, "{}", self.message),
            (r, Some(c)) => write!(f, "cell {}{r}: {}", column_letters(c), self.message),
            (r, None) => write!(f, "row {r}: {}", self.message),
        }
    }
}

/// `0` → `A`, `25` → `Z`, `26` → `AA`.
pub fn column_letters(column: u32) -> String {
    let mut n = u64::from(column) + 1;
    let mut out = Vec::new();
    while n > 0 {
        let rem = (n - 1) % 26;
        out.push(b'A' + rem as u8);
        n = (n - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

/// `"B5"` → (1, 5): 0-based column, 1-based row. Absurd references give `None`.
fn parse_ref(r: &str) -> Option<(u64, u64)> {
    let r = r.trim().trim_start_matches('$');
    let split = r.find(|c: char| !c.is_ascii_alphabetic())?;
    let (letters, digits) = r.split_at(split);
    if letters.is_empty() || letters.len() > 7 {
        return None;
    }
    let mut col: u64 = 0;
    for b in letters.bytes() {
        col = col * 26 + u64::from(b.to_ascii_uppercase() - b'A') + 1;
    }
    let row: u64 = digits.trim_start_matches('$').parse().ok()?;
    Some((col - 1, row))
}

/// Reads a file within its size limit, refusing a bigger one before reading it.
pub fn read_file(path: &std::path::Path, limits: &Limits) -> Result<Vec<u8>, String> {
    let file =
        std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let size = file.metadata().map_or(0, |m| m.len());
    if size > limits.max_file_bytes {
        return Err(too_big_file(size, limits));
    }
    read_stream(file, &path.display().to_string(), limits)
}

/// Reads a stream (standard input) within the same size limit as a file: one byte past the
/// limit refuses it, so no more than that is ever held.
pub fn read_stream(stream: impl Read, what: &str, limits: &Limits) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    stream
        .take(limits.max_file_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {what}: {e}"))?;
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(too_big_file(bytes.len() as u64, limits));
    }
    Ok(bytes)
}

fn too_big_file(size: u64, limits: &Limits) -> String {
    format!(
        "the file has {size} bytes; files of at most {} bytes are read (split it into smaller files)",
        limits.max_file_bytes
    )
}

/// Reads every row of a CSV (UTF-8, byte-order mark skipped, CRLF or LF) or of the first sheet
/// of an XLSX, handing each non-missing row to `on_row` with its 1-based row number. Blank rows
/// of a CSV are handed over too; rows an XLSX does not store are not.
pub fn read_rows(
    name: &str,
    bytes: &[u8],
    limits: &Limits,
    mut on_row: impl FnMut(usize, &[Cell]),
) -> Result<(), SheetError> {
    read_rows_while(name, bytes, limits, |row, cells| {
        on_row(row, cells);
        ControlFlow::Continue(())
    })
}

/// As [`read_rows`], stopping without error after the row for which `on_row` breaks (to read
/// a header without reading the whole file).
pub fn read_rows_while(
    name: &str,
    bytes: &[u8],
    limits: &Limits,
    mut on_row: impl FnMut(usize, &[Cell]) -> ControlFlow<()>,
) -> Result<(), SheetError> {
    if bytes.len() as u64 > limits.max_file_bytes {
        return Err(SheetError::file(too_big_file(bytes.len() as u64, limits)));
    }
    let extension = std::path::Path::new(name)
        .extension()
        .map(|e| e.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if extension == "xls" || bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(SheetError::file(
            "this is an old Excel (.xls) file: save it as .xlsx or as CSV (UTF-8)",
        ));
    }
    if extension == "xlsx" || extension == "xlsm" || bytes.starts_with(b"PK\x03\x04") {
        return read_xlsx(bytes, limits, &mut on_row);
    }
    read_csv(bytes, limits, &mut on_row)
}

/// A reader that refuses a stream longer than `max_total` bytes, or with a run of more than
/// `max_run` bytes without one of `breaks` (a line for CSV, text between tags for XML): both
/// bound what a parser buffers, whatever the file declares.
struct Bounded<R> {
    inner: R,
    breaks: &'static [u8],
    run: usize,
    max_run: usize,
    total: u64,
    max_total: u64,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.total += n as u64;
        if self.total > self.max_total {
            return Err(std::io::Error::other(TOO_LONG_STREAM));
        }
        for b in &buf[..n] {
            if self.breaks.contains(b) {
                self.run = 0;
            } else {
                self.run += 1;
                if self.run > self.max_run {
                    return Err(std::io::Error::other(TOO_LONG_RUN));
                }
            }
        }
        Ok(n)
    }
}

const TOO_LONG_STREAM: &str = "the data inside the file is far larger than the file (a zip bomb?)";
const TOO_LONG_RUN: &str = "a cell or line is longer than Excel allows (32,767 characters)";

fn check_cell_len(text: &str, row: usize, column: u32, limits: &Limits) -> Result<(), SheetError> {
    if text.len() > limits.max_cell_chars && text.chars().count() > limits.max_cell_chars {
        return Err(SheetError::at(
            row,
            column,
            format!(
                "the cell has more than {} characters, Excel's own limit",
                limits.max_cell_chars
            ),
        ));
    }
    Ok(())
}

fn too_many_rows(row: usize, limits: &Limits) -> SheetError {
    SheetError {
        row,
        column: None,
        message: format!("the sheet has more than {} rows", limits.max_rows),
    }
}

fn too_far_right(row: usize, column: u32, limits: &Limits) -> SheetError {
    SheetError::at(
        row,
        column,
        format!(
            "this cell is beyond column {} (at most {} columns are read): delete what is there",
            column_letters(limits.max_columns - 1),
            limits.max_columns
        ),
    )
}

#[cfg(test)]
pub(crate) mod tests;
