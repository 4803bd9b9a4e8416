//! Reading the sheets operators make (CSV and XLSX) as typed cells, one row at a time, with
//! every size checked before anything is allocated for it; and the rules for what a cell may
//! hold when it becomes an amount, an account number or a name.
//!
//! Nothing here keeps a whole sheet: rows are handed to a callback as they are read. An XLSX is
//! read with our own small reader (zip + XML) rather than a general spreadsheet library, because
//! those allocate the sheet's declared extent and turn every cell into a float or text, which
//! loses what matters here: that a cell is a date, or a number Excel already rounded.

use std::fmt;
use std::io::{BufReader, Cursor, Read};

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};

use crate::money::GATEPAY_MAX_PLACES;

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
    let mut bytes = Vec::new();
    file.take(limits.max_file_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
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

fn read_csv(
    bytes: &[u8],
    limits: &Limits,
    on_row: &mut dyn FnMut(usize, &[Cell]),
) -> Result<(), SheetError> {
    let body = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let max_line = (limits.max_columns as usize + 1) * (limits.max_cell_chars * 4 + 3);
    let input = Bounded {
        inner: body,
        breaks: b"\n",
        run: 0,
        max_run: max_line,
        total: 0,
        max_total: u64::MAX,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input);
    let mut record = csv::ByteRecord::new();
    let mut cells: Vec<Cell> = Vec::new();
    let mut row = 0usize;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(e) => {
                let at = e.position().map_or(row + 1, |p| p.record() as usize + 1);
                let message = match e.kind() {
                    csv::ErrorKind::Io(io) => io.to_string(),
                    _ => format!("the CSV cannot be read: {e}"),
                };
                return Err(SheetError {
                    row: at,
                    column: None,
                    message,
                });
            }
        }
        row += 1;
        if row > limits.max_rows as usize {
            return Err(too_many_rows(row, limits));
        }
        cells.clear();
        for (i, field) in record.iter().enumerate() {
            let column = i as u32;
            if column >= limits.max_columns {
                if field.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Err(too_far_right(row, column, limits));
            }
            let text = std::str::from_utf8(field).map_err(|_| {
                SheetError::at(row, column, "not UTF-8 text: save the CSV as “CSV UTF-8”")
            })?;
            check_cell_len(text, row, column, limits)?;
            cells.push(if text.is_empty() {
                Cell::Empty
            } else {
                Cell::Text(text.to_owned())
            });
        }
        on_row(row, &cells);
    }
}

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

// ---- XLSX ----

type Zip<'a> = zip::ZipArchive<Cursor<&'a [u8]>>;

fn xlsx_err(e: impl fmt::Display) -> SheetError {
    SheetError::file(format!("not a readable XLSX file: {e}"))
}

/// A small part of the workbook, as text, or `None` if the file does not have it.
fn read_part(zip: &mut Zip<'_>, path: &str, max: u64) -> Result<Option<String>, SheetError> {
    let file = match zip.by_name(path) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(xlsx_err(e)),
    };
    if file.size() > max {
        return Err(SheetError::file(format!(
            "not a readable XLSX file: its part {path} is {} bytes unpacked",
            file.size()
        )));
    }
    let mut text = String::new();
    file.take(max + 1)
        .read_to_string(&mut text)
        .map_err(xlsx_err)?;
    if text.len() as u64 > max {
        return Err(SheetError::file(TOO_LONG_STREAM));
    }
    Ok(Some(text))
}

type XmlStream<'z, 'a> = Reader<BufReader<Bounded<zip::read::ZipFile<'z, Cursor<&'a [u8]>>>>>;

/// Opens a big part as a bounded stream.
fn open_stream<'z, 'a>(
    zip: &'z mut Zip<'a>,
    path: &str,
    max: u64,
    limits: &Limits,
) -> Result<Option<XmlStream<'z, 'a>>, SheetError> {
    let file = match zip.by_name(path) {
        Ok(f) => f,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(xlsx_err(e)),
    };
    if file.size() > max {
        return Err(SheetError::file(TOO_LONG_STREAM));
    }
    let bounded = Bounded {
        inner: file,
        breaks: b"<>",
        run: 0,
        // Escaped text of a cell at its limit (`&quot;` is six bytes for one character).
        max_run: limits.max_cell_chars * 6 + 64,
        total: 0,
        max_total: max,
    };
    Ok(Some(Reader::from_reader(BufReader::new(bounded))))
}

fn attr(e: &BytesStart<'_>, local: &str) -> Option<String> {
    e.attributes().flatten().find_map(|a| {
        let key = a.key.as_ref();
        let name = key.rsplit(':').next().unwrap_or(key);
        (name == local).then(|| {
            quick_xml::escape::unescape(&a.value)
                .map_or_else(|_| a.value.to_string(), std::borrow::Cow::into_owned)
        })
    })
}

fn local(e: &BytesStart<'_>) -> String {
    e.local_name().as_ref().to_owned()
}

fn push_ref(r: &BytesRef<'_>, out: &mut String) {
    match &**r {
        "lt" => out.push('<'),
        "gt" => out.push('>'),
        "amp" => out.push('&'),
        "apos" => out.push('\''),
        "quot" => out.push('"'),
        _ => {
            if let Ok(Some(c)) = r.resolve_char_ref() {
                out.push(c);
            }
        }
    }
}

/// Excel writes characters XML cannot carry as `_xHHHH_` (UTF-16 units), and a literal
/// `_x…_` as `_x005F_x…_`; undoing it lets the text rules see a hidden control character.
fn unescape_excel(text: &str) -> String {
    if !text.contains("_x") {
        return text.to_owned();
    }
    let mut units: Vec<u16> = Vec::with_capacity(text.len());
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut plain_from = 0;
    let mut out = String::with_capacity(text.len());
    while i + 7 <= bytes.len() {
        if bytes[i] == b'_'
            && bytes[i + 1] == b'x'
            && bytes[i + 6] == b'_'
            && bytes[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit)
        {
            let hex = &text[i + 2..i + 6];
            if let Ok(unit) = u16::from_str_radix(hex, 16) {
                out.push_str(&text[plain_from..i]);
                units.clear();
                units.push(unit);
                i += 7;
                // A surrogate pair is two escapes in a row.
                while i + 7 <= bytes.len()
                    && bytes[i] == b'_'
                    && bytes[i + 1] == b'x'
                    && bytes[i + 6] == b'_'
                    && bytes[i + 2..i + 6].iter().all(u8::is_ascii_hexdigit)
                    && (0xD800..0xDC00).contains(units.last().unwrap_or(&0))
                {
                    if let Ok(u) = u16::from_str_radix(&text[i + 2..i + 6], 16) {
                        units.push(u);
                    }
                    i += 7;
                }
                out.extend(
                    char::decode_utf16(units.iter().copied()).map(|c| c.unwrap_or('\u{FFFD}')),
                );
                plain_from = i;
                continue;
            }
        }
        i += 1;
    }
    out.push_str(&text[plain_from..]);
    out
}

/// What a number format makes of a numeric cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shown {
    Number,
    Date,
    Time,
    /// A percentage, or thousands-scaling commas (`0.00,`).
    Scaled,
    /// A number shown with at most this many decimals (`#,##0` shows `1234.5` as `1,235`).
    Places(u8),
}

fn builtin_format(id: u32) -> Shown {
    match id {
        // 14–17 and 22 are Excel's date formats; 27–36 and 50–58 the East Asian ones
        // (年月日), which a Chinese Excel uses for dates.
        14..=17 | 22 | 27..=36 | 50..=58 => Shown::Date,
        18..=21 | 45..=47 => Shown::Time,
        9 | 10 => Shown::Scaled,
        1 | 3 | 37 | 38 => Shown::Places(0),
        2 | 4 | 39 | 40 => Shown::Places(2),
        _ => Shown::Number,
    }
}

/// Whether a custom format code shows a date or a time: its tokens outside quotes, brackets
/// (except elapsed `[h]`, `[m]`, `[s]`) and escapes.
fn custom_format(code: &str) -> Shown {
    let (mut date, mut time, mut month, mut scaled) = (false, false, false, false);
    // Digit placeholders before and after the decimal point, and whether it is scientific.
    let (mut whole, mut places, mut point, mut exponent) = (0u32, 0u8, false, false);
    let mut chars = code.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for d in chars.by_ref() {
                    if d == '"' {
                        break;
                    }
                }
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            '[' => {
                let mut inner = String::new();
                for d in chars.by_ref() {
                    if d == ']' {
                        break;
                    }
                    inner.push(d);
                }
                let l = inner.to_lowercase();
                if !l.is_empty() && l.chars().all(|c| matches!(c, 'h' | 'm' | 's')) {
                    time = true;
                }
            }
            ';' => break,
            '%' => scaled = true,
            '.' => point = true,
            '0' | '#' | '?' if point => places = places.saturating_add(1),
            '0' | '#' | '?' => whole += 1,
            // A comma not followed by a digit placeholder divides what is shown by 1,000.
            ',' if !matches!(chars.peek(), Some('0' | '#' | '?' | ',')) => scaled = true,
            _ => match c.to_ascii_lowercase() {
                'y' | 'd' => date = true,
                'e' => exponent = true,
                'h' | 's' => time = true,
                'm' => month = true,
                _ => {}
            },
        }
    }
    if date || (month && !time) {
        Shown::Date
    } else if time {
        Shown::Time
    } else if scaled {
        Shown::Scaled
    } else if !exponent && (point || whole > 0) {
        Shown::Places(places)
    } else {
        Shown::Number
    }
}

fn parse_styles(xml: &str) -> Vec<Shown> {
    let mut custom: Vec<(u32, Shown)> = Vec::new();
    let mut xfs = Vec::new();
    let mut reader = Reader::from_str(xml);
    let mut in_xfs = false;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => match local(&e).as_str() {
                "numFmt" => {
                    if let (Some(id), Some(code)) = (attr(&e, "numFmtId"), attr(&e, "formatCode")) {
                        custom.push((id.parse().unwrap_or(0), custom_format(&code)));
                    }
                }
                "cellXfs" => in_xfs = true,
                "xf" if in_xfs => {
                    let id: u32 = attr(&e, "numFmtId")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    let shown = custom
                        .iter()
                        .find(|(c, _)| *c == id)
                        .map_or_else(|| builtin_format(id), |(_, s)| *s);
                    xfs.push(shown);
                }
                _ => {}
            },
            Ok(Event::End(e)) if e.local_name().as_ref() == "cellXfs" => in_xfs = false,
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    xfs
}

/// The relationships of a part: (id, type, target).
fn parse_rels(xml: &str) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut reader = Reader::from_str(xml);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == "Relationship" => {
                out.push((
                    attr(&e, "Id").unwrap_or_default(),
                    attr(&e, "Type").unwrap_or_default(),
                    attr(&e, "Target").unwrap_or_default(),
                ));
            }
            Ok(Event::Eof) | Err(_) => break,
            _ => {}
        }
    }
    out
}

/// A target relative to the part's folder (`xl/`), or absolute (`/xl/…`).
fn resolve(dir: &str, target: &str) -> String {
    if let Some(abs) = target.strip_prefix('/') {
        return abs.to_owned();
    }
    let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
    for seg in target.split('/') {
        match seg {
            ".." => {
                parts.pop();
            }
            "." | "" => {}
            s => parts.push(s),
        }
    }
    parts.join("/")
}

/// Shared strings kept compactly: one text buffer and where each string ends.
struct Shared {
    text: String,
    ends: Vec<u32>,
}

impl Shared {
    fn get(&self, i: usize) -> Option<&str> {
        let end = *self.ends.get(i)? as usize;
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        self.text.get(start..end)
    }
}

fn read_shared(zip: &mut Zip<'_>, path: &str, limits: &Limits) -> Result<Shared, SheetError> {
    let mut shared = Shared {
        text: String::new(),
        ends: Vec::new(),
    };
    let Some(mut reader) = open_stream(zip, path, limits.max_shared_xml_bytes, limits)? else {
        return Ok(shared);
    };
    let mut buf = Vec::new();
    let mut cur = String::new();
    let (mut in_t, mut phonetic) = (false, 0u32);
    let refuse = |m: String| SheetError::file(format!("the workbook's shared text: {m}"));
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| refuse(stream_error(&e)))?;
        match event {
            Event::Start(e) => match e.local_name().as_ref() {
                "sst" => {
                    let declared: usize = attr(&e, "uniqueCount")
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(0);
                    if declared > limits.max_shared_strings {
                        return Err(refuse(format!(
                            "it declares {declared} strings; at most {} are read",
                            limits.max_shared_strings
                        )));
                    }
                }
                "si" => cur.clear(),
                "rPh" => phonetic += 1,
                "t" if phonetic == 0 => in_t = true,
                _ => {}
            },
            Event::Empty(e) if e.local_name().as_ref() == "si" => {
                cur.clear();
                push_shared(&mut shared, &cur, limits).map_err(refuse)?;
            }
            Event::Text(t) if in_t => {
                cur.push_str(&t);
                if cur.len() > limits.max_cell_chars * 4 {
                    return Err(refuse(TOO_LONG_RUN.to_owned()));
                }
            }
            Event::GeneralRef(r) if in_t => push_ref(&r, &mut cur),
            Event::End(e) => match e.local_name().as_ref() {
                "t" => in_t = false,
                "rPh" => phonetic = phonetic.saturating_sub(1),
                "si" => {
                    let text = unescape_excel(&cur);
                    if text.chars().count() > limits.max_cell_chars {
                        return Err(refuse(TOO_LONG_RUN.to_owned()));
                    }
                    push_shared(&mut shared, &text, limits).map_err(refuse)?;
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    Ok(shared)
}

fn push_shared(shared: &mut Shared, text: &str, limits: &Limits) -> Result<(), String> {
    if shared.ends.len() >= limits.max_shared_strings
        || shared.text.len() + text.len() > limits.max_shared_text_bytes
    {
        return Err(format!(
            "more than {} strings or {} bytes of text",
            limits.max_shared_strings, limits.max_shared_text_bytes
        ));
    }
    shared.text.push_str(text);
    shared.ends.push(shared.text.len() as u32);
    Ok(())
}

fn stream_error(e: &quick_xml::Error) -> String {
    let text = e.to_string();
    for known in [TOO_LONG_STREAM, TOO_LONG_RUN] {
        if text.contains(known) {
            return known.to_owned();
        }
    }
    format!("not a readable XLSX file: {text}")
}

/// Serial date text → `2026-01-01` (and the time if there is one); `None` if it is no date.
fn serial_to_text(text: &str, shown: Shown, date1904: bool) -> Option<String> {
    // Only ever used to show the operator what the cell looks like, never as money.
    let serial: f64 = text.trim().parse().ok()?;
    if !serial.is_finite() || !(0.0..3_000_000.0).contains(&serial) {
        return None;
    }
    let days = serial.floor() as i64;
    let secs = ((serial - serial.floor()) * 86_400.0).round() as i64;
    let clock = format!(
        "{:02}:{:02}:{:02}",
        secs / 3600 % 24,
        secs / 60 % 60,
        secs % 60
    );
    if shown == Shown::Time {
        return Some(clock);
    }
    let date = if date1904 {
        jiff::civil::date(1904, 1, 1).checked_add(jiff::Span::new().days(days))
    } else if days == 60 {
        return Some("1900-02-29".to_owned());
    } else if days < 60 {
        jiff::civil::date(1899, 12, 31).checked_add(jiff::Span::new().days(days))
    } else {
        jiff::civil::date(1899, 12, 30).checked_add(jiff::Span::new().days(days))
    }
    .ok()?;
    Some(if secs == 0 {
        date.to_string()
    } else {
        format!("{date} {clock}")
    })
}

/// Where the first sheet is, and how its dates count.
fn locate_sheet(
    zip: &mut Zip<'_>,
    limits: &Limits,
) -> Result<(String, Option<String>, Option<String>, bool), SheetError> {
    let max = limits.max_part_bytes;
    let root = read_part(zip, "_rels/.rels", max)?.unwrap_or_default();
    let workbook_path = parse_rels(&root)
        .into_iter()
        .find(|(_, kind, _)| kind.ends_with("/officeDocument"))
        .map_or_else(|| "xl/workbook.xml".to_owned(), |(_, _, t)| resolve("", &t));
    let workbook =
        read_part(zip, &workbook_path, max)?.ok_or_else(|| xlsx_err("it has no workbook"))?;
    let (dir, file) = workbook_path
        .rsplit_once('/')
        .unwrap_or(("", workbook_path.as_str()));
    let rels_path = if dir.is_empty() {
        format!("_rels/{file}.rels")
    } else {
        format!("{dir}/_rels/{file}.rels")
    };
    let rels = parse_rels(&read_part(zip, &rels_path, max)?.unwrap_or_default());
    let mut sheet_rel = None;
    let mut date1904 = false;
    let mut reader = Reader::from_str(&workbook);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.local_name().as_ref() {
                "workbookPr" => {
                    date1904 = matches!(attr(&e, "date1904").as_deref(), Some("1" | "true"));
                }
                "sheet" if sheet_rel.is_none() => {
                    // The operator checks what Excel shows: a hidden first sheet would be
                    // paid unseen.
                    if matches!(attr(&e, "state").as_deref(), Some("hidden" | "veryHidden")) {
                        return Err(SheetError::file(format!(
                            "the workbook's first sheet “{}” is hidden, and it is the one Paydesk \
                             reads: unhide it and check it, or move the payouts to the first sheet",
                            attr(&e, "name").unwrap_or_default()
                        )));
                    }
                    sheet_rel = attr(&e, "id");
                }
                _ => {}
            },
            Ok(Event::Eof) => break,
            Err(e) => return Err(xlsx_err(e)),
            _ => {}
        }
    }
    let target = |pred: &dyn Fn(&(String, String, String)) -> bool| {
        rels.iter()
            .find(|r| pred(r))
            .map(|(_, _, t)| resolve(dir, t))
    };
    let sheet = match sheet_rel {
        Some(id) => target(&|r| r.0 == id),
        None => None,
    }
    .ok_or_else(|| SheetError::file("the workbook has no sheet"))?;
    let shared = target(&|r| r.1.ends_with("/sharedStrings"));
    let styles = target(&|r| r.1.ends_with("/styles"));
    Ok((sheet, shared, styles, date1904))
}

/// A cell being read.
#[derive(Default)]
struct Pending {
    column: u32,
    kind: String,
    style: usize,
    value: String,
    formula: bool,
    in_value: bool,
    in_inline: bool,
    phonetic: bool,
}

fn read_xlsx(
    bytes: &[u8],
    limits: &Limits,
    on_row: &mut dyn FnMut(usize, &[Cell]),
) -> Result<(), SheetError> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).map_err(xlsx_err)?;
    let (sheet_path, shared_path, styles_path, date1904) = locate_sheet(&mut zip, limits)?;
    let styles = match styles_path {
        Some(p) => read_part(&mut zip, &p, limits.max_part_bytes)?
            .map(|x| parse_styles(&x))
            .unwrap_or_default(),
        None => Vec::new(),
    };
    let shared = match shared_path {
        Some(p) => read_shared(&mut zip, &p, limits)?,
        None => Shared {
            text: String::new(),
            ends: Vec::new(),
        },
    };
    let mut reader = open_stream(&mut zip, &sheet_path, limits.max_sheet_xml_bytes, limits)?
        .ok_or_else(|| SheetError::file("the workbook's first sheet is missing"))?;
    let mut buf = Vec::new();
    let mut cells: Vec<Cell> = Vec::new();
    let mut row = 0usize;
    let mut in_row = false;
    let mut next_column = 0u32;
    let mut cell: Option<Pending> = None;
    // Hidden columns (ranges, 0-based, at most a few) and whether the current row is hidden:
    // what is filtered out or hidden is not seen by the operator, so it is never paid.
    let mut hidden_columns: Vec<(u32, u32)> = Vec::new();
    let mut row_hidden = false;
    loop {
        let event = reader.read_event_into(&mut buf).map_err(|e| SheetError {
            row,
            column: cell.as_ref().map(|c| c.column),
            message: stream_error(&e),
        })?;
        match event {
            Event::Start(e) | Event::Empty(e)
                if !matches!(
                    e.local_name().as_ref(),
                    "c" | "v" | "f" | "t" | "is" | "row"
                ) =>
            {
                if e.local_name().as_ref() == "dimension" {
                    check_dimension(attr(&e, "ref").as_deref().unwrap_or(""), limits)?;
                }
                if e.local_name().as_ref() == "col" && is_true(attr(&e, "hidden").as_deref()) {
                    let bound = |a: &str| {
                        attr(&e, a)
                            .and_then(|v| v.trim().parse::<u32>().ok())
                            .map(|n| n.saturating_sub(1))
                    };
                    if let (Some(min), Some(max)) = (bound("min"), bound("max"))
                        && hidden_columns.len() < 1024
                    {
                        hidden_columns.push((min, max));
                    }
                }
                if e.local_name().as_ref() == "rPh"
                    && let Some(c) = cell.as_mut()
                {
                    // Phonetic guides are not the cell's text.
                    c.phonetic = e.local_name().as_ref() == "rPh";
                }
            }
            Event::Start(e) => match e.local_name().as_ref() {
                "row" => {
                    start_row(&e, &mut row, limits)?;
                    row_hidden = is_true(attr(&e, "hidden").as_deref());
                    in_row = true;
                    next_column = 0;
                    cells.clear();
                }
                "c" => cell = Some(start_cell(&e, row, &mut next_column)?),
                "v" => {
                    if let Some(c) = cell.as_mut() {
                        c.in_value = true;
                    }
                }
                "f" => {
                    if let Some(c) = cell.as_mut() {
                        c.formula = true;
                    }
                }
                "t" => {
                    if let Some(c) = cell
                        .as_mut()
                        .filter(|c| c.kind == "inlineStr" && !c.phonetic)
                    {
                        c.in_inline = true;
                    }
                }
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                "row" => {
                    start_row(&e, &mut row, limits)?;
                    cells.clear();
                    on_row(row, &cells);
                }
                "c" => {
                    let c = start_cell(&e, row, &mut next_column)?;
                    place(&mut cells, c.column, Cell::Empty, row, limits)?;
                }
                "f" => {
                    if let Some(c) = cell.as_mut() {
                        c.formula = true;
                    }
                }
                _ => {}
            },
            Event::Text(t) => {
                if let Some(c) = cell.as_mut().filter(|c| c.in_value || c.in_inline) {
                    c.value.push_str(&t);
                    if c.value.len() > limits.max_cell_chars * 4 {
                        return Err(SheetError::at(row, c.column, TOO_LONG_RUN));
                    }
                }
            }
            Event::GeneralRef(r) => {
                if let Some(c) = cell.as_mut().filter(|c| c.in_value || c.in_inline) {
                    push_ref(&r, &mut c.value);
                }
            }
            Event::End(e) => match e.local_name().as_ref() {
                "v" => {
                    if let Some(c) = cell.as_mut() {
                        c.in_value = false;
                    }
                }
                "t" => {
                    if let Some(c) = cell.as_mut() {
                        c.in_inline = false;
                    }
                }
                "rPh" => {
                    if let Some(c) = cell.as_mut() {
                        c.phonetic = false;
                    }
                }
                "c" => {
                    if let Some(c) = cell.take() {
                        let column = c.column;
                        let value = finish_cell(c, row, &shared, &styles, date1904, limits)?;
                        if !value.is_blank() {
                            if row_hidden {
                                return Err(SheetError::at(row, column, HIDDEN_ROW));
                            }
                            if hidden_columns
                                .iter()
                                .any(|(min, max)| (*min..=*max).contains(&column))
                            {
                                return Err(SheetError::at(row, column, HIDDEN_COLUMN));
                            }
                        }
                        place(&mut cells, column, value, row, limits)?;
                    }
                }
                "row" if in_row => {
                    in_row = false;
                    on_row(row, &cells);
                }
                "sheetData" => return Ok(()),
                _ => {}
            },
            // A row cut off is never handed over as if it were whole.
            Event::Eof if in_row || cell.is_some() => {
                return Err(SheetError {
                    row,
                    column: None,
                    message: "not a readable XLSX file: the sheet ends in the middle of a row"
                        .into(),
                });
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
        buf.clear();
    }
}

const HIDDEN_ROW: &str = "this row is hidden in the workbook (by a filter or Hide), so it \
     cannot be checked there: show all rows, and delete the rows that are not to be paid";
const HIDDEN_COLUMN: &str = "this column is hidden in the workbook, so it cannot be checked \
     there: unhide it, or delete it";

fn is_true(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "true"))
}

fn check_dimension(reference: &str, limits: &Limits) -> Result<(), SheetError> {
    let last = reference.rsplit(':').next().unwrap_or("");
    let Some((column, row)) = parse_ref(last) else {
        return Ok(());
    };
    if column >= u64::from(limits.max_columns) || row > u64::from(limits.max_rows) {
        return Err(SheetError::file(format!(
            "the sheet says it reaches cell {last}; at most {} columns (to {}) and {} rows are read: \
             delete the unused columns and rows, or copy the payouts into a new sheet",
            limits.max_columns,
            column_letters(limits.max_columns - 1),
            limits.max_rows
        )));
    }
    Ok(())
}

fn start_row(e: &BytesStart<'_>, row: &mut usize, limits: &Limits) -> Result<(), SheetError> {
    let number = match attr(e, "r") {
        Some(r) => r.trim().parse::<u64>().map_err(|_| SheetError {
            row: *row + 1,
            column: None,
            message: format!("not a readable XLSX file: row number “{r}”"),
        })?,
        None => *row as u64 + 1,
    };
    if number > u64::from(limits.max_rows) {
        return Err(SheetError::file(format!(
            "the sheet has a row {number}; at most {} rows are read",
            limits.max_rows
        )));
    }
    if number as usize <= *row {
        return Err(SheetError {
            row: number as usize,
            column: None,
            message: "not a readable XLSX file: rows out of order".into(),
        });
    }
    *row = number as usize;
    Ok(())
}

fn start_cell(
    e: &BytesStart<'_>,
    row: usize,
    next_column: &mut u32,
) -> Result<Pending, SheetError> {
    let column = match attr(e, "r") {
        // Far to the right is kept as it is: the cell's value decides whether it is refused.
        Some(r) => match parse_ref(&r) {
            Some((c, _)) => u32::try_from(c).unwrap_or(u32::MAX),
            None => {
                return Err(SheetError {
                    row,
                    column: None,
                    message: format!("not a readable XLSX file: cell reference “{r}”"),
                });
            }
        },
        None => *next_column,
    };
    *next_column = column.saturating_add(1);
    Ok(Pending {
        column,
        kind: attr(e, "t").unwrap_or_default(),
        style: attr(e, "s").and_then(|s| s.parse().ok()).unwrap_or(0),
        ..Pending::default()
    })
}

fn finish_cell(
    c: Pending,
    row: usize,
    shared: &Shared,
    styles: &[Shown],
    date1904: bool,
    limits: &Limits,
) -> Result<Cell, SheetError> {
    let value = c.value;
    let shown = match c.kind.as_str() {
        "s" => {
            let text = value
                .trim()
                .parse::<usize>()
                .ok()
                .and_then(|i| shared.get(i))
                .ok_or_else(|| {
                    SheetError::at(
                        row,
                        c.column,
                        "not a readable XLSX file: missing shared text",
                    )
                })?;
            Cell::Text(text.to_owned())
        }
        "inlineStr" | "str" => {
            let text = unescape_excel(&value);
            check_cell_len(&text, row, c.column, limits)?;
            if text.is_empty() {
                Cell::Empty
            } else {
                Cell::Text(text)
            }
        }
        "b" => Cell::Bool(value.trim() == "1"),
        "e" => Cell::Error(value.trim().to_owned()),
        "d" => Cell::Date(value.trim().to_owned()),
        _ if value.trim().is_empty() => Cell::Empty,
        _ => {
            let text = value.trim().to_owned();
            match styles.get(c.style).copied().unwrap_or(Shown::Number) {
                Shown::Number => Cell::Number { text },
                Shown::Scaled => Cell::Scaled(text),
                Shown::Places(places) => {
                    let decimals = text.split_once('.').map_or(0, |(_, f)| f.len());
                    if text.bytes().any(|b| matches!(b, b'e' | b'E'))
                        || decimals <= usize::from(places)
                    {
                        Cell::Number { text }
                    } else {
                        Cell::Rounded { text, places }
                    }
                }
                s @ Shown::Date => Cell::Date(serial_to_text(&text, s, date1904).unwrap_or(text)),
                s @ Shown::Time => Cell::Time(serial_to_text(&text, s, date1904).unwrap_or(text)),
            }
        }
    };
    Ok(if c.formula {
        Cell::Formula(Box::new(shown))
    } else {
        shown
    })
}

fn place(
    cells: &mut Vec<Cell>,
    column: u32,
    value: Cell,
    row: usize,
    limits: &Limits,
) -> Result<(), SheetError> {
    if column >= limits.max_columns {
        if value.is_blank() {
            return Ok(());
        }
        return Err(too_far_right(row, column, limits));
    }
    let i = column as usize;
    if i < cells.len() {
        return Err(SheetError::at(
            row,
            column,
            "not a readable XLSX file: the cell appears twice",
        ));
    }
    cells.resize(i, Cell::Empty);
    cells.push(value);
    Ok(())
}

// ---- What a cell may hold ----

/// The first cell of a data row beyond the header's `width` that holds something, with why
/// that is refused: the row does not line up with the header (in a CSV, often an unquoted
/// comma such as `1,234.56`), so which cell is which cannot be known.
pub fn beyond_header(cells: &[Cell], width: usize) -> Option<(usize, String)> {
    let i = cells
        .iter()
        .enumerate()
        .skip(width)
        .find(|(_, c)| !c.is_blank())?
        .0;
    Some((
        i,
        format!(
            "this cell is beyond the header's last column {}: the row has more cells than the \
             header, so its cells may have moved (an unquoted comma, as in 1,234.56?): quote \
             the value, or remove the cell",
            column_letters(u32::try_from(width.max(1) - 1).unwrap_or(u32::MAX))
        ),
    ))
}

/// Text for a name, bank, branch, ID or similar field: text cells as they are; a whole number
/// Excel can hold exactly (at most 15 digits) as its digits; anything else is refused.
pub fn text_value(cell: &Cell) -> Result<String, String> {
    match cell {
        Cell::Empty => Ok(String::new()),
        Cell::Text(t) => Ok(t.trim().to_owned()),
        Cell::Number { text } if text.len() <= 15 && text.bytes().all(|b| b.is_ascii_digit()) => {
            Ok(text.clone())
        }
        Cell::Number { .. } => Err(format!(
            "{}: format the column as text and type it again",
            cell.describe()
        )),
        other => Err(refused(other, "text")),
    }
}

/// An account number (CNY) or an address (GatePay) must be a text cell: a number has already
/// lost its digits beyond the 15th, or its leading zeros, when Excel stored it.
pub fn account_value(cell: &Cell) -> Result<String, String> {
    match cell {
        Cell::Empty => Ok(String::new()),
        Cell::Text(t) => Ok(t.trim().to_owned()),
        Cell::Number { .. } => Err(format!(
            "{}: Excel keeps only 15 digits of a number: format the column as text and type it again",
            cell.describe()
        )),
        other => Err(refused(other, "text")),
    }
}

/// The text of a CNY amount: a text cell, or a number whose value is exact in fen (plain digits
/// with at most two decimals). A stored text longer than Excel's own precision of 15
/// significant digits (`1234.5599999999999`, which Excel shows and computes with as `1234.56`)
/// is read at that precision, by decimal arithmetic on the text; what still has more decimals
/// is refused, never rounded to fen.
pub fn yuan_value(cell: &Cell) -> Result<String, String> {
    decimal_value(cell, 2)
}

/// The text of a GatePay amount: a text cell, or a number stored as plain digits with at most
/// six decimals (never an exponent form such as `1E-7`).
pub fn crypto_value(cell: &Cell) -> Result<String, String> {
    decimal_value(cell, GATEPAY_MAX_PLACES as usize)
}

fn decimal_value(cell: &Cell, places: usize) -> Result<String, String> {
    match cell {
        Cell::Empty => Ok(String::new()),
        Cell::Text(t) => Ok(t.trim().to_owned()),
        Cell::Number { text } => {
            // A sign passes through, so the amount rules say what is wrong with it.
            let unsigned = text.strip_prefix('-').unwrap_or(text);
            let (whole, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
            let plain = !whole.is_empty()
                && whole.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit());
            if plain && frac.len() <= places {
                Ok(text.clone())
            } else if let Some(shown) = plain
                .then(|| at_excel_precision(whole, frac))
                .flatten()
                .filter(|t| t.split_once('.').is_none_or(|(_, f)| f.len() <= places))
            {
                Ok(if text.starts_with('-') {
                    format!("-{shown}")
                } else {
                    shown
                })
            } else {
                Err(format!(
                    "{}, which is not an exact amount with at most {places} decimals: \
                     type the amount again, or format the column as text",
                    cell.describe()
                ))
            }
        }
        other => Err(refused(other, "number or text")),
    }
}

/// Excel keeps 15 significant digits of a number. A stored text with more (`9805.7199999999993`)
/// is rounded to 15, half away from zero, on its decimal digits (no float), and trailing zeros
/// of the fraction dropped: `9805.72`. `None` when the text has 15 significant digits or fewer
/// (it is then exactly what Excel holds).
fn at_excel_precision(whole: &str, frac: &str) -> Option<String> {
    const EXCEL_DIGITS: usize = 15;
    let mut digits: Vec<u8> = whole
        .bytes()
        .chain(frac.bytes())
        .map(|b| b - b'0')
        .collect();
    let mut point = whole.len();
    let first = digits.iter().position(|d| *d != 0)?;
    if digits.len() - first <= EXCEL_DIGITS {
        return None;
    }
    let keep = first + EXCEL_DIGITS;
    let round_up = digits[keep] >= 5;
    digits.truncate(keep);
    if round_up {
        let mut i = keep;
        loop {
            if i == 0 {
                digits.insert(0, 1);
                point += 1;
                break;
            }
            i -= 1;
            if digits[i] == 9 {
                digits[i] = 0;
            } else {
                digits[i] += 1;
                break;
            }
        }
    }
    // Digits cut off before the point stand for zeros.
    while digits.len() < point {
        digits.push(0);
    }
    let text: String = digits.iter().map(|d| char::from(b'0' + d)).collect();
    let (w, f) = text.split_at(point);
    let w = w.trim_start_matches('0');
    let w = if w.is_empty() { "0" } else { w };
    let f = f.trim_end_matches('0');
    Some(if f.is_empty() {
        w.to_owned()
    } else {
        format!("{w}.{f}")
    })
}

fn refused(cell: &Cell, wanted: &str) -> String {
    format!("{}: format the column as {wanted}", cell.describe())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::io::Write as _;

    /// What Excel shows at its 15 digits is the amount; more decimals than that are refused.
    #[test]
    fn amounts_stored_past_excels_precision_are_read_as_excel_shows_them() {
        let n = |t: &str| Cell::Number { text: t.into() };
        assert_eq!(yuan_value(&n("9805.7199999999993")).unwrap(), "9805.72");
        assert_eq!(yuan_value(&n("1234.5599999999999")).unwrap(), "1234.56");
        assert_eq!(yuan_value(&n("0.30000000000000004")).unwrap(), "0.3");
        assert_eq!(yuan_value(&n("99.999999999999999")).unwrap(), "100");
        assert_eq!(yuan_value(&n("-5.0000000000000001")).unwrap(), "-5");
        // Within 15 digits the text is what Excel holds: three decimals stay refused.
        assert!(yuan_value(&n("1234.567")).is_err());
        assert!(yuan_value(&n("1234.5670000000001")).is_err());
        assert_eq!(crypto_value(&n("1.1000000000000001")).unwrap(), "1.1");
        assert!(crypto_value(&n("0.12345670000000001")).is_err());
    }

    /// Builds an XLSX from its sheet XML (and optional shared strings and styles), the way
    /// Excel lays the parts out.
    pub(crate) fn xlsx(sheet: &str, shared: Option<&str>, styles: Option<&str>) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Deflated);
        let mut put = |name: &str, body: &str| {
            zip.start_file(name, opts).unwrap();
            zip.write_all(body.as_bytes()).unwrap();
        };
        put(
            "_rels/.rels",
            r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#,
        );
        put(
            "xl/workbook.xml",
            r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
        );
        put(
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/><Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>"#,
        );
        put(
            "xl/worksheets/sheet1.xml",
            &format!(
                r#"<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">{sheet}</worksheet>"#
            ),
        );
        if let Some(s) = shared {
            put("xl/sharedStrings.xml", s);
        }
        if let Some(s) = styles {
            put("xl/styles.xml", s);
        }
        zip.finish().unwrap();
        out.into_inner()
    }

    /// The same workbook with one part's text replaced.
    fn with_part(bytes: &[u8], part: &str, body: &str) -> Vec<u8> {
        let mut from = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut out = Cursor::new(Vec::new());
        let mut zip = zip::ZipWriter::new(&mut out);
        for i in 0..from.len() {
            let mut f = from.by_index(i).unwrap();
            let name = f.name().unwrap().into_owned();
            let mut text = String::new();
            std::io::Read::read_to_string(&mut f, &mut text).unwrap();
            zip.start_file(name.as_str(), zip::write::SimpleFileOptions::default())
                .unwrap();
            zip.write_all(if name == part { body } else { &text }.as_bytes())
                .unwrap();
        }
        zip.finish().unwrap();
        out.into_inner()
    }

    const PAYOUT_ROWS: &str = r#"<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>amount</t></is></c><c r="B1" t="inlineStr"><is><t>number</t></is></c></row><row r="2"><c r="A2" t="inlineStr"><is><t>123.45</t></is></c><c r="B2" t="inlineStr"><is><t>6222020200001243</t></is></c></row></sheetData>"#;

    #[test]
    fn adv_hidden_rows_columns_and_first_sheet_are_refused_not_paid_unseen() {
        // A row filtered out (or hidden) in Excel: the operator never saw it.
        let hidden_row = PAYOUT_ROWS.replace(r#"<row r="2">"#, r#"<row r="2" hidden="1">"#);
        let e = rows("p.xlsx", &xlsx(&hidden_row, None, None)).unwrap_err();
        assert_eq!((e.row, e.column), (2, Some(0)), "{e}");
        assert!(e.message.contains("hidden"), "{e}");
        // A hidden column B holding the account.
        let hidden_col =
            format!(r#"<cols><col min="2" max="2" width="0" hidden="1"/></cols>{PAYOUT_ROWS}"#);
        let e = rows("p.xlsx", &xlsx(&hidden_col, None, None)).unwrap_err();
        assert_eq!((e.row, e.column), (1, Some(1)), "{e}");
        // Hidden empty columns to the right (a common tidy-up) are no problem.
        let tidy = format!(r#"<cols><col min="3" max="16384" hidden="1"/></cols>{PAYOUT_ROWS}"#);
        assert_eq!(rows("p.xlsx", &xlsx(&tidy, None, None)).unwrap().len(), 2);
        // A hidden (or very hidden) first sheet is the one that would be read.
        let book = xlsx(PAYOUT_ROWS, None, None);
        let hidden_sheet = with_part(
            &book,
            "xl/workbook.xml",
            r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Pay" sheetId="1" state="veryHidden" r:id="rId1"/></sheets></workbook>"#,
        );
        let e = rows("p.xlsx", &hidden_sheet).unwrap_err();
        assert!(e.message.contains("“Pay” is hidden"), "{e}");
        assert_eq!(rows("p.xlsx", &book).unwrap().len(), 2);
    }

    #[test]
    fn adv_percent_and_thousands_scaled_amounts_are_refused() {
        assert_eq!(custom_format("0.00%"), Shown::Scaled);
        assert_eq!(custom_format("0.00,"), Shown::Scaled);
        assert_eq!(custom_format("#,##0,\"K\""), Shown::Scaled);
        assert_eq!(custom_format("0,,"), Shown::Scaled);
        assert_eq!(custom_format("#,##0.00"), Shown::Places(2));
        assert_eq!(
            custom_format("#,##0.00_);[Red](#,##0.00)"),
            Shown::Places(2)
        );
        assert_eq!(custom_format("\"1,000\" 0.00\"%\""), Shown::Places(2));
        assert_eq!(builtin_format(10), Shown::Scaled);
        // 1.5 shown as 150.00% and 123450 shown as 123.45 (a `0.00,` format): neither is
        // what the operator read, so neither is paid.
        let styles = r#"<styleSheet><numFmts count="1"><numFmt numFmtId="164" formatCode="0.00,"/></numFmts><cellXfs count="3"><xf numFmtId="0"/><xf numFmtId="10"/><xf numFmtId="164"/></cellXfs></styleSheet>"#;
        let sheet = r#"<sheetData><row r="1"><c r="A1" s="1"><v>1.5</v></c><c r="B1" s="2"><v>123450</v></c><c r="C1"><v>123.45</v></c></row></sheetData>"#;
        let got = rows("p.xlsx", &xlsx(sheet, None, Some(styles))).unwrap();
        let cells = &got[0].1;
        assert_eq!(cells[0], Cell::Scaled("1.5".into()));
        assert_eq!(cells[1], Cell::Scaled("123450".into()));
        let e = yuan_value(&cells[0]).unwrap_err();
        assert!(e.contains("scaled"), "{e}");
        assert!(yuan_value(&cells[1]).is_err());
        assert!(crypto_value(&cells[1]).is_err());
        assert_eq!(yuan_value(&cells[2]).unwrap(), "123.45");
    }

    #[test]
    fn adv_amounts_shown_rounded_by_their_format_are_refused() {
        assert_eq!(custom_format("#,##0"), Shown::Places(0));
        assert_eq!(custom_format("¥#,##0.0;[Red]-¥#,##0.0"), Shown::Places(1));
        assert_eq!(custom_format("0.00E+00"), Shown::Number);
        assert_eq!(custom_format("General"), Shown::Number);
        // 1234.5 under `#,##0` shows 1,235; 1234.56 under builtin 4 (#,##0.00) shows as
        // stored; 1234 under builtin 3 (#,##0) too.
        let styles = r##"<styleSheet><numFmts count="1"><numFmt numFmtId="164" formatCode="#,##0"/></numFmts><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="4"/><xf numFmtId="3"/></cellXfs></styleSheet>"##;
        let sheet = r#"<sheetData><row r="1"><c r="A1" s="1"><v>1234.5</v></c><c r="B1" s="2"><v>1234.56</v></c><c r="C1" s="3"><v>1234</v></c></row></sheetData>"#;
        let got = rows("p.xlsx", &xlsx(sheet, None, Some(styles))).unwrap();
        let cells = &got[0].1;
        let e = yuan_value(&cells[0]).unwrap_err();
        assert!(
            e.contains("shown with 0 decimal(s)") && e.contains("1234.5"),
            "{e}"
        );
        assert_eq!(yuan_value(&cells[1]).unwrap(), "1234.56");
        assert_eq!(yuan_value(&cells[2]).unwrap(), "1234");
    }

    fn rows(name: &str, bytes: &[u8]) -> Result<Vec<(usize, Vec<Cell>)>, SheetError> {
        let mut out = Vec::new();
        read_rows(name, bytes, &Limits::default(), |r, c| {
            out.push((r, c.to_vec()));
        })?;
        Ok(out)
    }

    const DATE_STYLES: &str = r##"<styleSheet><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy&quot;年&quot;m&quot;月&quot;d&quot;日&quot;"/><numFmt numFmtId="165" formatCode="#,##0.00_);[Red]\(#,##0.00\)"/></numFmts><cellStyleXfs><xf numFmtId="14"/></cellStyleXfs><cellXfs count="5"><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="20"/></cellXfs></styleSheet>"##;

    #[test]
    fn xlsx_cells_are_typed() {
        let sheet = r#"<dimension ref="A1:H2"/><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" s="1"><v>46023</v></c><c r="C1" s="2"><v>46023</v></c><c r="D1" s="3"><v>1234.56</v></c><c r="E1" s="4"><v>0.5</v></c><c r="F1" t="b"><v>1</v></c><c r="H1" t="e"><v>#DIV/0!</v></c></row><row r="3"><c r="A3" s="1"><f>TODAY()</f><v>46023</v></c><c r="B3" t="inlineStr"><is><t>a&amp;b_x000D_</t></is></c><c r="C3" t="str"><f>A1</f><v>x</v></c><c r="D3"><v>6.2220212345678899E+18</v></c></row></sheetData>"#;
        let shared = r#"<sst uniqueCount="1"><si><r><t>王小</t></r><r><t xml:space="preserve">头</t></r><rPh><t>ワン</t></rPh></si></sst>"#;
        let got = rows("a.xlsx", &xlsx(sheet, Some(shared), Some(DATE_STYLES))).unwrap();
        assert_eq!(got[0].0, 1);
        assert_eq!(
            got[0].1,
            [
                Cell::Text("王小头".into()),
                Cell::Date("2026-01-01".into()),
                Cell::Date("2026-01-01".into()),
                Cell::Number {
                    text: "1234.56".into()
                },
                Cell::Time("12:00:00".into()),
                Cell::Bool(true),
                Cell::Empty,
                Cell::Error("#DIV/0!".into()),
            ]
        );
        assert_eq!(got[1].0, 3);
        assert_eq!(
            got[1].1[0].describe(),
            "a formula showing a date, 2026-01-01"
        );
        assert_eq!(got[1].1[1], Cell::Text("a&b\r".into()));
        assert_eq!(got[1].1[2], Cell::Formula(Box::new(Cell::Text("x".into()))));
        assert_eq!(
            got[1].1[3],
            Cell::Number {
                text: "6.2220212345678899E+18".into()
            }
        );
    }

    #[test]
    fn csv_rows_are_text_with_bom_and_crlf() {
        let got = rows("a.csv", "\u{feff}a,b\r\n1,\"x\r\ny\"\r\n\r\n".as_bytes()).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].1[0], Cell::Text("a".into()));
        assert_eq!(got[1].1[1], Cell::Text("x\r\ny".into()));
        let bad = rows("a.csv", b"a,b\n1,\xff\n").unwrap_err();
        assert_eq!((bad.row, bad.column), (2, Some(1)));
    }

    #[test]
    fn finding_7_huge_extent_xlsx_is_refused_at_once() {
        let sheet = r#"<dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>"#;
        let bytes = xlsx(sheet, None, None);
        assert!(bytes.len() < 5_000);
        let started = std::time::Instant::now();
        let e = rows("big.xlsx", &bytes).unwrap_err();
        assert!(e.message.contains("XFD1048576"), "{e}");
        assert!(started.elapsed().as_secs() < 2);
        // Without the dimension, the cell itself is refused, named.
        let sheet = r#"<sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>"#;
        let e = rows("big.xlsx", &xlsx(sheet, None, None)).unwrap_err();
        assert_eq!(e.row, 1_048_576);
        assert!(
            e.to_string()
                .starts_with("cell XFD1048576: this cell is beyond column BL"),
            "{e}"
        );
        let sheet = r#"<sheetData><row r="1048577"><c r="A1048577"><v>1</v></c></row></sheetData>"#;
        assert!(rows("big.xlsx", &xlsx(sheet, None, None)).is_err());
        let cut = r#"<sheetData><row r="1"><c r="A1"><v>1</v></c>"#;
        assert!(rows("cut.xlsx", &xlsx(cut, None, None)).is_err());
        // Empty formatted cells far to the right are no reason to refuse.
        let sheet =
            r#"<sheetData><row r="1"><c r="A1"><v>1</v></c><c r="XFD1" s="0"/></row></sheetData>"#;
        assert_eq!(
            rows("ok.xlsx", &xlsx(sheet, None, None)).unwrap()[0]
                .1
                .len(),
            1
        );
    }

    #[test]
    fn finding_7_huge_cell_is_refused() {
        let huge = "9".repeat(40_000);
        let sheet = format!(
            r#"<sheetData><row r="1"><c r="B1" t="inlineStr"><is><t>{huge}</t></is></c></row></sheetData>"#
        );
        let e = rows("h.xlsx", &xlsx(&sheet, None, None)).unwrap_err();
        assert_eq!((e.row, e.column), (1, Some(1)));
        let shared = format!("<sst><si><t>{huge}</t></si></sst>");
        let sheet = r#"<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>"#;
        assert!(rows("h.xlsx", &xlsx(sheet, Some(&shared), None)).is_err());
        let csv = format!("a,b\n1,{huge}\n");
        let e = rows("h.csv", csv.as_bytes()).unwrap_err();
        assert_eq!((e.row, e.column), (2, Some(1)));
        // One line of megabytes is refused while reading, not after.
        let csv = format!("a,b\n{}\n", "x,".repeat(5_000_000));
        assert!(rows("h.csv", csv.as_bytes()).is_err());
    }

    #[test]
    fn finding_7_zip_bomb_shared_strings_are_refused() {
        let limits = Limits {
            max_shared_xml_bytes: 1_000_000,
            ..Limits::default()
        };
        let mut shared = String::from("<sst>");
        for _ in 0..200_000 {
            shared.push_str("<si><t>aaaaaaaa</t></si>");
        }
        shared.push_str("</sst>");
        let sheet = r#"<sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>"#;
        let bytes = xlsx(sheet, Some(&shared), None);
        assert!(bytes.len() < 100_000, "{}", bytes.len());
        let e = read_rows("bomb.xlsx", &bytes, &limits, |_, _| {}).unwrap_err();
        assert!(e.message.contains("zip bomb"), "{e}");
        let e = read_rows(
            "bomb.xlsx",
            &xlsx(sheet, Some(r#"<sst uniqueCount="999999999"></sst>"#), None),
            &Limits::default(),
            |_, _| {},
        )
        .unwrap_err();
        assert!(e.message.contains("999999999"), "{e}");
        let small = Limits {
            max_shared_strings: 1000,
            ..Limits::default()
        };
        assert!(read_rows("bomb.xlsx", &bytes, &small, |_, _| {}).is_err());
    }

    #[test]
    fn file_size_is_limited() {
        let limits = Limits {
            max_file_bytes: 10,
            ..Limits::default()
        };
        assert!(read_rows("a.csv", b"amount,bank,name\n", &limits, |_, _| {}).is_err());
    }

    #[test]
    fn formats_tell_dates() {
        assert_eq!(custom_format("yyyy-mm-dd"), Shown::Date);
        assert_eq!(custom_format("[h]:mm:ss"), Shown::Time);
        assert_eq!(custom_format("mm:ss"), Shown::Time);
        assert_eq!(custom_format("#,##0.00\"d\""), Shown::Places(2));
        assert_eq!(custom_format("0.00E+00"), Shown::Number);
        assert_eq!(custom_format("General"), Shown::Number);
        assert_eq!(custom_format("[$-804]yyyy\"年\"m\"月\""), Shown::Date);
        assert_eq!(custom_format("[Red]0.00"), Shown::Places(2));
    }

    #[test]
    fn finding_2_cell_rules() {
        let date = Cell::Date("2026-01-01".into());
        assert_eq!(
            yuan_value(&date).unwrap_err(),
            "a date, 2026-01-01: format the column as number or text"
        );
        let n = |t: &str| Cell::Number { text: t.into() };
        assert_eq!(yuan_value(&n("1234.5")).unwrap(), "1234.5");
        assert_eq!(yuan_value(&n("-5")).unwrap(), "-5");
        assert!(yuan_value(&n("1234.567")).is_err());
        assert!(yuan_value(&n("1E+3")).is_err());
        assert!(
            account_value(&n("6.2220212345678899E+18"))
                .unwrap_err()
                .contains("Excel keeps only 15 digits")
        );
        assert!(account_value(&n("6216667451674374")).is_err());
        assert_eq!(crypto_value(&n("0.123456")).unwrap(), "0.123456");
        assert!(crypto_value(&n("1E-7")).is_err());
        assert!(crypto_value(&n("0.1234567")).is_err());
        assert!(yuan_value(&Cell::Formula(Box::new(n("1")))).is_err());
        assert!(yuan_value(&Cell::Bool(true)).is_err());
        assert_eq!(text_value(&n("12345")).unwrap(), "12345");
        assert!(text_value(&n("1.5")).is_err());
    }

    #[test]
    fn excel_escapes_are_undone() {
        assert_eq!(unescape_excel("a_x000D_b"), "a\rb");
        assert_eq!(unescape_excel("_xD83D__xDCF7_"), "\u{1F4F7}");
        assert_eq!(unescape_excel("_x005F_x000D_"), "_x000D_");
        assert_eq!(unescape_excel("plain_x"), "plain_x");
        assert_eq!(column_letters(16_383), "XFD");
        assert_eq!(parse_ref("XFD1048576"), Some((16_383, 1_048_576)));
    }
}
