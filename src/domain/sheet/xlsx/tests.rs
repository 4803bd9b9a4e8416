//! The XLSX reader against workbooks built as Excel lays them out, including hostile ones.

use super::super::tests::{rows, with_part, xlsx};
use super::styles::{Shown, builtin_format, custom_format};
use crate::domain::sheet::{Cell, Limits, account_value, crypto_value, read_rows, yuan_value};

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
fn adv_zero_high_rows_and_zero_wide_columns_are_refused_as_hidden() {
    // A row of height 0 cannot be seen in Excel, though it is not marked hidden.
    let flat_row = PAYOUT_ROWS.replace(r#"<row r="2">"#, r#"<row r="2" ht="0" customHeight="1">"#);
    let e = rows("p.xlsx", &xlsx(&flat_row, None, None)).unwrap_err();
    assert_eq!((e.row, e.column), (2, Some(0)), "{e}");
    assert!(e.message.contains("hidden"), "{e}");
    // A column of width 0 holding the amount, not marked hidden.
    let thin =
        format!(r#"<cols><col min="1" max="1" width="0" customWidth="1"/></cols>{PAYOUT_ROWS}"#);
    let e = rows("p.xlsx", &xlsx(&thin, None, None)).unwrap_err();
    assert_eq!((e.row, e.column), (1, Some(0)), "{e}");
    // Too small to show anything, though not zero.
    let low = PAYOUT_ROWS.replace(r#"<row r="2">"#, r#"<row r="2" ht="0.5" customHeight="1">"#);
    assert!(rows("p.xlsx", &xlsx(&low, None, None)).is_err());
    let narrow =
        format!(r#"<cols><col min="1" max="1" width="0.1" customWidth="1"/></cols>{PAYOUT_ROWS}"#);
    assert!(rows("p.xlsx", &xlsx(&narrow, None, None)).is_err());
    let normal = PAYOUT_ROWS.replace(r#"<row r="2">"#, r#"<row r="2" ht="15" customHeight="1">"#);
    assert_eq!(rows("p.xlsx", &xlsx(&normal, None, None)).unwrap().len(), 2);
    let wide =
        format!(r#"<cols><col min="1" max="1" width="12.5" customWidth="1"/></cols>{PAYOUT_ROWS}"#);
    assert_eq!(rows("p.xlsx", &xlsx(&wide, None, None)).unwrap().len(), 2);
}

#[test]
fn adv_a_cell_with_two_values_is_refused_not_read_as_their_digits_joined() {
    // `100` and `5000` in one cell were read as 1005000.
    let sheet = PAYOUT_ROWS.replace(
        r#"<c r="A2" t="inlineStr"><is><t>123.45</t></is></c>"#,
        r#"<c r="A2"><v>100</v><v>5000</v></c>"#,
    );
    let e = rows("p.xlsx", &xlsx(&sheet, None, None)).unwrap_err();
    assert_eq!((e.row, e.column), (2, Some(0)), "{e}");
    assert!(e.message.contains("two values"), "{e}");
}

#[test]
fn adv_an_amount_whose_format_hides_it_is_refused_not_paid_unseen() {
    // `;;;` shows an empty cell, `"10.00"` always shows 10.00, a condition may pick either:
    // the operator cannot read the 5000 that would be paid.
    let styles = r#"<styleSheet><numFmts count="3"><numFmt numFmtId="164" formatCode=";;;"/><numFmt numFmtId="165" formatCode="&quot;10.00&quot;"/><numFmt numFmtId="166" formatCode="[&gt;100]&quot;small&quot;;0.00"/></numFmts><cellXfs count="4"><xf numFmtId="0"/><xf numFmtId="164"/><xf numFmtId="165"/><xf numFmtId="166"/></cellXfs></styleSheet>"#;
    let sheet = r#"<sheetData><row r="1"><c r="A1" s="1"><v>5000</v></c><c r="B1" s="2"><v>5000</v></c><c r="C1" s="3"><v>5000</v></c><c r="D1"><v>5000</v></c></row></sheetData>"#;
    let got = rows("p.xlsx", &xlsx(sheet, None, Some(styles))).unwrap();
    let cells = &got[0].1;
    for cell in &cells[..3] {
        assert_eq!(*cell, Cell::Unshown("5000".into()));
        let e = yuan_value(cell).unwrap_err();
        assert!(e.contains("does not show it"), "{e}");
        assert!(crypto_value(cell).is_err());
    }
    assert_eq!(yuan_value(&cells[3]).unwrap(), "5000");
    // An account typed as text under `;;;` shows an empty cell.
    let sheet = r#"<sheetData><row r="1"><c r="A1" s="1" t="inlineStr"><is><t>6222020200004002</t></is></c></row></sheetData>"#;
    let got = rows("p.xlsx", &xlsx(sheet, None, Some(styles))).unwrap();
    let e = account_value(&got[0].1[0]).unwrap_err();
    assert!(e.contains("does not show it"), "{e}");
}

#[test]
fn adv_a_workbook_that_opens_on_another_sheet_than_the_first_is_refused() {
    // Saved while showing “Dec”: the operator checked December, the first sheet is November.
    let book = xlsx(PAYOUT_ROWS, None, None);
    let workbook = |view: &str| {
        format!(
            r#"<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><bookViews><workbookView {view}/></bookViews><sheets><sheet name="Nov" sheetId="1" r:id="rId1"/><sheet name="Dec" sheetId="2" r:id="rId1"/></sheets></workbook>"#
        )
    };
    let on_dec = with_part(&book, "xl/workbook.xml", &workbook(r#"activeTab="1""#));
    let e = rows("p.xlsx", &on_dec).unwrap_err();
    assert!(
        e.message.contains("opens on its sheet “Dec”") && e.message.contains("“Nov”"),
        "{e}"
    );
    let on_nov = with_part(&book, "xl/workbook.xml", &workbook(r#"activeTab="0""#));
    assert_eq!(rows("p.xlsx", &on_nov).unwrap().len(), 2);
    let no_tab = with_part(&book, "xl/workbook.xml", &workbook(""));
    assert_eq!(rows("p.xlsx", &no_tab).unwrap().len(), 2);
}
