//! Builders of test workbooks, shared with the tests of the readers that use sheets.

use std::io::{Cursor, Write as _};

use super::{Cell, Limits, SheetError, read_rows};

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
pub(crate) fn with_part(bytes: &[u8], part: &str, body: &str) -> Vec<u8> {
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

pub(crate) fn rows(name: &str, bytes: &[u8]) -> Result<Vec<(usize, Vec<Cell>)>, SheetError> {
    let mut out = Vec::new();
    read_rows(name, bytes, &Limits::default(), |r, c| {
        out.push((r, c.to_vec()));
    })?;
    Ok(out)
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
fn csv_rows_are_text_with_bom_and_crlf() {
    let got = rows("a.csv", "\u{feff}a,b\r\n1,\"x\r\ny\"\r\n\r\n".as_bytes()).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1[0], Cell::Text("a".into()));
    assert_eq!(got[1].1[1], Cell::Text("x\r\ny".into()));
    let bad = rows("a.csv", b"a,b\n1,\xff\n").unwrap_err();
    assert_eq!((bad.row, bad.column), (2, Some(1)));
}

#[test]
fn csv_row_numbers_count_empty_lines_as_a_spreadsheet_shows_them() {
    // Empty lines are rows in a spreadsheet; a quoted cell over two lines is one row.
    let text = "h1,h2\r\n\r\n\na,\"x\ny\"\n\nb,c\n";
    let got = rows("a.csv", text.as_bytes()).unwrap();
    let numbers: Vec<usize> = got.iter().map(|(row, _)| *row).collect();
    assert_eq!(numbers, vec![1, 4, 6]);
    let bad = rows("a.csv", b"a,b\n\n\n1,\xff\n").unwrap_err();
    assert_eq!((bad.row, bad.column), (4, Some(1)));
}
