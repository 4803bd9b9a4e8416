//! The XLSX reader: the zip, the workbook's relationships, the first sheet's XML read as a
//! stream, each cell typed by its style; every size bounded while reading.

mod shared;
mod styles;

use std::fmt;
use std::io::{BufReader, Cursor, Read};
use std::ops::ControlFlow;

use quick_xml::Reader;
use quick_xml::events::{BytesRef, BytesStart, Event};

use self::shared::{Shared, read_shared, stream_error, unescape_excel};
use self::styles::{Shown, parse_styles, serial_to_text};
use super::{
    Bounded, Cell, Limits, SheetError, TOO_LONG_RUN, TOO_LONG_STREAM, check_cell_len,
    column_letters, parse_ref, too_far_right,
};

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
    // The sheet Excel opens on (its view comes before the sheets); and the first sheet's name.
    let mut active_tab = 0usize;
    let mut sheets = 0usize;
    let mut first_name = String::new();
    let mut reader = Reader::from_str(&workbook);
    loop {
        match reader.read_event() {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.local_name().as_ref() {
                "workbookPr" => {
                    date1904 = matches!(attr(&e, "date1904").as_deref(), Some("1" | "true"));
                }
                "workbookView" => {
                    active_tab = attr(&e, "activeTab")
                        .and_then(|v| v.trim().parse().ok())
                        .unwrap_or(0);
                }
                "sheet" if sheet_rel.is_some() => {
                    sheets += 1;
                    if sheets == active_tab {
                        // The operator checked the sheet Excel shows, not the one that is read.
                        return Err(SheetError::file(format!(
                            "the workbook opens on its sheet “{}”, but Paydesk reads the first \
                             sheet “{first_name}”: move the sheet to pay to the front (or delete \
                             the others) and save the workbook showing it",
                            attr(&e, "name").unwrap_or_default()
                        )));
                    }
                }
                "sheet" => {
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
                    first_name = attr(&e, "name").unwrap_or_default();
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
    /// A cell holds one value; a second `<v>` would be joined to the first (`100` and `5000`
    /// read as `1005000`), so it is refused.
    has_value: bool,
}

pub(super) fn read_xlsx(
    bytes: &[u8],
    limits: &Limits,
    on_row: &mut dyn FnMut(usize, &[Cell]) -> ControlFlow<()>,
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
                if e.local_name().as_ref() == "col"
                    && (is_true(attr(&e, "hidden").as_deref())
                        || below(attr(&e, "width"), MIN_SEEN_WIDTH))
                {
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
                    row_hidden = is_true(attr(&e, "hidden").as_deref())
                        || below(attr(&e, "ht"), MIN_SEEN_HEIGHT);
                    in_row = true;
                    next_column = 0;
                    cells.clear();
                }
                "c" => cell = Some(start_cell(&e, row, &mut next_column)?),
                "v" => {
                    if let Some(c) = cell.as_mut() {
                        if c.has_value {
                            return Err(SheetError::at(row, c.column, TWO_VALUES));
                        }
                        c.in_value = true;
                        c.has_value = true;
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
                    if on_row(row, &cells).is_break() {
                        return Ok(());
                    }
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
                    if on_row(row, &cells).is_break() {
                        return Ok(());
                    }
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

const HIDDEN_ROW: &str = "this row is hidden in the workbook (by a filter, Hide or a height too small to show it), so it \
     cannot be checked there: show all rows, and delete the rows that are not to be paid";
const HIDDEN_COLUMN: &str = "this column is hidden in the workbook, so it cannot be checked \
     there: unhide it, or delete it";

const TWO_VALUES: &str = "not a readable XLSX file: the cell holds two values";

fn is_true(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "true"))
}

/// A row lower than this (in points) shows no text: as hidden as one marked hidden.
const MIN_SEEN_HEIGHT: f64 = 3.0;
/// A column narrower than this (in characters) shows no digit.
const MIN_SEEN_WIDTH: f64 = 1.0;

fn below(v: Option<String>, min: f64) -> bool {
    v.and_then(|v| v.trim().parse::<f64>().ok())
        .is_some_and(|n| n < min)
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
    styles: &[(Shown, bool)],
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
            match styles.get(c.style).map_or(Shown::Number, |s| s.0) {
                Shown::Number => Cell::Number { text },
                Shown::Scaled => Cell::Scaled(text),
                Shown::Unshown => Cell::Unshown(text),
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
                s @ (Shown::Date | Shown::DateTime) => {
                    Cell::Date(serial_to_text(&text, s, date1904).unwrap_or(text))
                }
                s @ Shown::Time => Cell::Time(serial_to_text(&text, s, date1904).unwrap_or(text)),
            }
        }
    };
    // A text under a format whose text section shows something else (`;;;` shows nothing).
    let shown = match shown {
        Cell::Text(t) if !t.trim().is_empty() && styles.get(c.style).is_some_and(|s| s.1) => {
            Cell::Unshown(t)
        }
        other => other,
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

#[cfg(test)]
mod tests;
