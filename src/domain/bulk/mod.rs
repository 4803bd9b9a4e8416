//! Bulk payouts from a CSV or XLSX file: every row is read and checked before anything is
//! sent, and problems are listed by row and column. An import is named by its content, not its
//! bytes: the same rows re-saved (CRLF, with or without a byte-order mark, trailing spaces),
//! reordered or converted between CSV and XLSX are the same import with the same merchant order
//! IDs, so importing them again resumes instead of paying twice.
//!
//! A checked file is not kept as a million requests: the plan keeps the file and its counts,
//! and the rows are read again, one at a time, when they are recorded.

mod ids;
mod scan;
mod standing;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

pub use self::ids::content_key;
use self::ids::{IdMaker, import_row_id};
pub(crate) use self::scan::hidden_in_header;
use self::scan::{Col, Errors, column_name, scan};
pub use self::standing::{ImportStanding, ImportedBefore};
use super::sheet::Limits;
use crate::gateway::cny::banks::Bank;
use crate::gateway::cny::wire::PayoutRequest;
use crate::money::Fen;

/// A problem with one cell (row 1 is the header; column by header name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("row {row}, {column}: {message}")]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub message: String,
}

/// At most this many problems are listed; the rest are counted.
pub const MAX_LISTED_ERRORS: usize = 500;

/// A checked file, ready to be recorded and sent. Cloning it is cheap (the file is shared).
#[derive(Clone)]
pub struct BulkPlan {
    /// The import's ID: the first 12 hex characters of the SHA-256 of its sorted merchant
    /// order IDs, so it depends on the rows, not on their order or the file's bytes.
    pub import_id: String,
    pub total: Fen,
    count: usize,
    source: Arc<Source>,
}

struct Source {
    name: String,
    bytes: Vec<u8>,
    banks: Vec<Bank>,
    limits: Limits,
}

impl fmt::Debug for BulkPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BulkPlan")
            .field("import_id", &self.import_id)
            .field("count", &self.count)
            .field("total", &self.total)
            .field("file", &self.source.name)
            .finish_non_exhaustive()
    }
}

impl BulkPlan {
    /// How many payouts the file holds.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Hands every payout to `f` as (row number in the file, request), in file order, reading
    /// the file again rather than keeping every request in memory.
    pub fn for_each_row(&self, mut f: impl FnMut(usize, &PayoutRequest)) -> Result<(), RowError> {
        let mut ids = IdMaker::default();
        let mut errors = Errors::default();
        scan(
            &self.source,
            &mut errors,
            |row, mut request, explicit, ok, _| {
                if ok {
                    request.payout_cl_id = explicit
                        .unwrap_or_else(|| import_row_id(&self.import_id, &ids.make(&request)));
                    f(row, &request);
                }
            },
        );
        match errors.listed.into_iter().next() {
            // The file was checked when the plan was made; it cannot fail now.
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Every payout as (row number, request). Holds the whole file's requests: for small files
    /// and tests; `for_each_row` streams.
    pub fn rows(&self) -> Result<Vec<(usize, PayoutRequest)>, RowError> {
        let mut out = Vec::with_capacity(self.count);
        self.for_each_row(|row, r| out.push((row, r.clone())))?;
        Ok(out)
    }
}

/// Given IDs of a file already in the journal under one import: how many, and the first
/// (row, ID) pairs, to name them.
type Recorded = (usize, Vec<(usize, String)>);

/// Checks every row; all problems at once (the first [`MAX_LISTED_ERRORS`], then a count), or
/// the plan. `existing_id` says whether a merchant order ID the file gives is already in the
/// journal (`None`: it is not) and under which import (`Some(batch)`); a given ID recorded by
/// this same import (a run stopped half way) resumes, any other is refused. Generated IDs
/// found there are rows of this import recorded before, and resume.
pub fn plan(
    name: &str,
    bytes: impl Into<Vec<u8>>,
    banks: &[Bank],
    existing_id: impl Fn(&str) -> Option<Option<String>>,
) -> Result<BulkPlan, Vec<RowError>> {
    let source = Source {
        name: name.to_owned(),
        bytes: bytes.into(),
        banks: banks.to_vec(),
        limits: Limits::configured(),
    };
    let mut errors = Errors::default();
    let mut ids = IdMaker::default();
    // Each ID by a 64-bit digest: a collision can only refuse a good file, never pass a
    // duplicate.
    let mut seen: HashSet<u64> = HashSet::new();
    let mut digests: Vec<[u8; 16]> = Vec::new();
    let mut total = Fen::ZERO;
    let mut count = 0usize;
    // Given IDs already in the journal, by the import that recorded them: how many, and the
    // first few (row, ID) to name.
    let mut recorded: HashMap<Option<String>, Recorded> = HashMap::new();
    scan(
        &source,
        &mut errors,
        |row, request, explicit, ok, errors| {
            let generated = explicit.is_none();
            if generated && !ok {
                return;
            }
            let id = explicit.unwrap_or_else(|| ids.make(&request));
            let digest: [u8; 32] = Sha256::digest(id.as_bytes()).into();
            let short = u64::from_be_bytes(digest[..8].try_into().unwrap_or_default());
            if !seen.insert(short) {
                errors.push(
                    row,
                    column_name(Col::Id),
                    format!("{id} appears more than once in this file"),
                );
                return;
            }
            if !ok {
                return;
            }
            if !generated && let Some(import) = existing_id(&id) {
                // Whether it is this import's own row is known only once every ID is read.
                let seen = recorded.entry(import).or_default();
                seen.0 += 1;
                if seen.1.len() < MAX_LISTED_ERRORS {
                    seen.1.push((row, id.clone()));
                }
            }
            let mut d = [0u8; 16];
            d.copy_from_slice(&digest[..16]);
            digests.push(d);
            total = total.checked_add(request.amount).unwrap_or(total);
            count += 1;
        },
    );
    drop(seen);
    digests.sort_unstable();
    let mut h = Sha256::new();
    for d in &digests {
        h.update(d);
    }
    let import_id = hex::encode(h.finalize())[..12].to_owned();
    for (import, (n, rows)) in recorded {
        if import.as_deref() == Some(import_id.as_str()) {
            continue;
        }
        for (row, id) in &rows {
            errors.push(
                *row,
                column_name(Col::Id),
                format!("{id} is already in the payout journal"),
            );
        }
        errors.more += n - rows.len();
    }
    if count == 0 && errors.is_empty() {
        errors.push(2, "file", "the file has no payouts");
    }
    if !errors.is_empty() {
        return Err(errors.into_vec());
    }
    Ok(BulkPlan {
        import_id,
        total,
        count,
        source: Arc::new(source),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::sheet::{self, tests::xlsx};
    use crate::gateway::cny::banks::default_banks;
    use std::fmt::Write as _;

    fn check(name: &str, bytes: &[u8]) -> Result<BulkPlan, Vec<String>> {
        plan(name, bytes, &default_banks(), |_| None)
            .map_err(|errs| errs.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn every_row_is_checked_and_problems_located() {
        let csv = "\u{feff}amount,bank,name,number,商户订单号\n1234.56,ABC,王小头,6216 6674 5167 4374,\n0,XYZ,,12ab,dup\n5,CMB,李娜,621666745167437,dup\n";
        let errs = plan("pay.csv", csv.as_bytes(), &default_banks(), |_| None).unwrap_err();
        let got: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "row 3, amount: the amount must be more than zero",
                "row 3, bank: “XYZ” is not in the bank list",
                "row 3, name: the recipient's name is required",
                "row 3, number: the account number may contain only digits",
                "row 4, merchant order id: dup appears more than once in this file",
            ]
        );
        let ok = "amount,bank,name,number\n1234.56,ABC,王小头,6216667451674374\n10,招商银行,李娜,6216667451674375\n";
        let p = plan("pay.csv", ok.as_bytes(), &default_banks(), |_| None).unwrap();
        assert_eq!(p.total, Fen::from_fen(124_456));
        let rows = p.rows().unwrap();
        assert_eq!(rows[1].1.bank_name, "招商银行");
        // IDs come from the row's content now, not from the file's hash and row number.
        let id = &rows[0].1.payout_cl_id;
        assert!(
            id.starts_with("bulk_") && id.ends_with("_1") && id.len() <= 32,
            "{id}"
        );
        assert_eq!(rows[0].0, 2);
        let missing =
            plan("pay.csv", b"amount,name\n1,x\n", &default_banks(), |_| None).unwrap_err();
        assert_eq!(missing.len(), 2);
    }

    #[test]
    fn reads_an_excel_workbook() {
        let bytes = include_bytes!("../../../tests/fixtures/payouts.xlsx");
        let p = plan("payouts.xlsx", &bytes[..], &default_banks(), |_| None).unwrap();
        let rows = p.rows().unwrap();
        let got: Vec<(String, i64, String, String)> = rows
            .iter()
            .map(|(_, r)| {
                (
                    r.payout_cl_id.clone(),
                    r.amount.fen(),
                    r.bank_name.clone(),
                    r.number.clone(),
                )
            })
            .collect();
        assert_eq!(
            got[0],
            (
                "xlsx_row_2".to_owned(),
                123_456,
                "中国农业银行".to_owned(),
                "6216667451674374".to_owned()
            )
        );
        assert_eq!(got[1].1, 8_800);
        assert_eq!(got[1].2, "招商银行");
        assert_eq!(got[2].1, 1_050);
        assert_eq!(p.total, Fen::from_fen(133_306));
        assert_eq!(rows[0].1.bank_branch.as_deref(), Some("朝阳支行"));
    }

    const STYLES: &str = r#"<styleSheet><cellXfs count="2"><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>"#;

    fn one_row_xlsx(amount: &str, number: &str) -> Vec<u8> {
        let sheet = format!(
            r#"<sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>amount</t></is></c><c r="B1" t="inlineStr"><is><t>bank</t></is></c><c r="C1" t="inlineStr"><is><t>name</t></is></c><c r="D1" t="inlineStr"><is><t>number</t></is></c></row><row r="2">{amount}<c r="B2" t="inlineStr"><is><t>ABC</t></is></c><c r="C2" t="inlineStr"><is><t>王小头</t></is></c>{number}</row></sheetData>"#
        );
        xlsx(&sheet, None, Some(STYLES))
    }

    const TEXT_NUMBER: &str = r#"<c r="D2" t="inlineStr"><is><t>6216667451674374</t></is></c>"#;

    #[test]
    fn finding_2_date_cell_in_amount_is_refused() {
        let bytes = one_row_xlsx(r#"<c r="A2" s="1"><v>46023</v></c>"#, TEXT_NUMBER);
        assert_eq!(
            check("p.xlsx", &bytes).unwrap_err(),
            ["row 2, amount: a date, 2026-01-01: format the column as number or text"]
        );
        let formula = one_row_xlsx(r#"<c r="A2"><f>B9*2</f><v>100</v></c>"#, TEXT_NUMBER);
        assert_eq!(
            check("p.xlsx", &formula).unwrap_err(),
            ["row 2, amount: a formula showing a number, 100: format the column as number or text"]
        );
        let inexact = one_row_xlsx(r#"<c r="A2"><v>1234.567</v></c>"#, TEXT_NUMBER);
        assert!(check("p.xlsx", &inexact).unwrap_err()[0].contains("not an exact amount"));
        // Stored past Excel's 15 digits: the amount is what Excel shows, 1234.56.
        let long = one_row_xlsx(r#"<c r="A2"><v>1234.5599999999999</v></c>"#, TEXT_NUMBER);
        assert_eq!(
            check("p.xlsx", &long).unwrap().total,
            Fen::from_fen(123_456)
        );
        let exact = one_row_xlsx(r#"<c r="A2"><v>1234.56</v></c>"#, TEXT_NUMBER);
        assert_eq!(
            check("p.xlsx", &exact).unwrap().total,
            Fen::from_fen(123_456)
        );
    }

    #[test]
    fn finding_2_numeric_account_cells_are_refused() {
        for stored in ["6.2220212345678899E+18", "6216667451674374"] {
            let bytes = one_row_xlsx(
                r#"<c r="A2"><v>10</v></c>"#,
                &format!(r#"<c r="D2"><v>{stored}</v></c>"#),
            );
            let errs = check("p.xlsx", &bytes).unwrap_err();
            assert_eq!(
                errs,
                [format!(
                    "row 2, number: a number, {stored}: Excel keeps only 15 digits of a number: \
                     format the column as text and type it again"
                )]
            );
        }
    }

    #[test]
    fn finding_7_huge_extent_xlsx_is_refused_by_the_plan() {
        let sheet = r#"<dimension ref="A1:XFD1048576"/><sheetData><row r="1"><c r="A1"><v>1</v></c></row><row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData>"#;
        let errs = check("big.xlsx", &xlsx(sheet, None, None)).unwrap_err();
        assert_eq!(errs.len(), 1);
        assert!(errs[0].contains("XFD1048576"), "{errs:?}");
    }

    #[test]
    fn finding_10_control_bidi_and_zero_width_characters_are_refused_with_position() {
        let csv = "amount,bank,name,number,branch\n\
                   1,ABC,王\u{202E}小头,6216667451674374,\n\
                   1,ABC,Li\0Na,6216667451674375,\n\
                   1,ABC,李娜,62166674\u{200B}51674376,\n\
                   1,ABC,\"李\nNa\",6216667451674377,朝阳\t支行\n";
        assert_eq!(
            check("p.csv", csv.as_bytes()).unwrap_err(),
            [
                "row 2, name: character 2 is U+202E RIGHT-TO-LEFT OVERRIDE",
                "row 3, name: character 3 is U+0000 NULL",
                "row 4, number: character 9 is U+200B ZERO WIDTH SPACE",
                "row 5, name: character 2 is U+000A LINE FEED (new line)",
                "row 5, branch: character 3 is U+0009 CHARACTER TABULATION (tab)",
            ]
        );
    }

    #[test]
    fn finding_10_duplicate_column_or_alias_is_refused() {
        let csv = "amount,bank,name,number,金额\n1,ABC,李娜,6216667451674374,2\n";
        assert_eq!(
            check("p.csv", csv.as_bytes()).unwrap_err(),
            [
                "row 1, amount: “金额” (column E) is the same column as “amount” (column A): keep one of them"
            ]
        );
        let csv = "amount,bank,name,number,Number\n1,ABC,李娜,6216667451674374,2\n";
        assert!(check("p.csv", csv.as_bytes()).is_err());
    }

    #[test]
    fn adv_a_header_with_a_hidden_character_is_refused_not_replaced_by_its_alias() {
        // “amount” with a zero-width space was no column, so the alias 金额 (5000) was paid.
        let csv = "amount\u{200b},bank,name,number,金额\n100,ABC,李娜,6216667451674374,5000\n";
        assert_eq!(
            check("p.csv", csv.as_bytes()).unwrap_err(),
            [
                "row 1, column A: the header “amount\\u{200b}”: character 7 is U+200B ZERO WIDTH SPACE: type the header again"
            ]
        );
        // A byte-order mark before the first header is the file's encoding, not a hidden character.
        let bom = "\u{feff}amount,bank,name,number\n100,ABC,李娜,6216667451674374\n";
        assert!(check("p.csv", bom.as_bytes()).is_ok());
    }

    fn ids(p: &BulkPlan) -> Vec<(String, i64, String)> {
        let mut v: Vec<(String, i64, String)> = p
            .rows()
            .unwrap()
            .into_iter()
            .map(|(_, r)| (r.payout_cl_id, r.amount.fen(), r.number))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn finding_1_resaved_reordered_or_converted_file_is_the_same_import() {
        let lf = "amount,bank,name,number\n1234.56,ABC,王小头,6216667451674374\n88,CMB,李娜,6222020202020202\n88,CMB,李娜,6222020202020202\n10.5,BK0003,张伟,6222 0202 0202 0203\n";
        let original = check("p.csv", lf.as_bytes()).unwrap();
        let crlf = format!(
            "\u{feff}{}",
            lf.replace('\n', "\r\n").replace("88,", "88.00 ,")
        );
        let mut lines: Vec<&str> = lf.lines().collect();
        lines[1..].reverse();
        let reordered = lines.join("\n");
        let s = |r: &str, c: &str, t: &str| {
            format!(r#"<c r="{c}{r}" t="inlineStr"><is><t>{t}</t></is></c>"#)
        };
        let n = |r: &str, v: &str| format!(r#"<c r="A{r}"><v>{v}</v></c>"#);
        let mut sheet = format!(
            r#"<sheetData><row r="1">{}{}{}{}</row>"#,
            s("1", "A", "amount"),
            s("1", "B", "bank"),
            s("1", "C", "name"),
            s("1", "D", "number")
        );
        for (r, (amount, bank, name, number)) in [
            ("10.5", "BK0003", "张伟", "6222 0202 0202 0203"),
            ("88", "CMB", "李娜", "6222020202020202"),
            ("1234.56", "ABC", "王小头", "6216667451674374"),
            ("88", "CMB", "李娜", "6222020202020202"),
        ]
        .iter()
        .enumerate()
        {
            let r = (r + 2).to_string();
            let _ = write!(
                sheet,
                r#"<row r="{r}">{}{}{}{}</row>"#,
                n(&r, amount),
                s(&r, "B", bank),
                s(&r, "C", name),
                s(&r, "D", number)
            );
        }
        sheet.push_str("</sheetData>");
        let book = xlsx(&sheet, None, None);
        for (name, bytes) in [
            ("p.csv", crlf.into_bytes()),
            ("p.csv", reordered.into_bytes()),
            ("p.xlsx", book),
        ] {
            let again = plan(name, bytes, &default_banks(), |_| None).unwrap();
            assert_eq!(again.import_id, original.import_id, "{name}");
            assert_eq!(ids(&again), ids(&original), "{name}");
            assert_eq!(again.total, original.total);
        }
        // Two identical rows are two payouts with IDs of their own.
        let all = ids(&original);
        assert_eq!(all.len(), 4);
        let twins: Vec<&String> = all.iter().filter(|r| r.1 == 8_800).map(|r| &r.0).collect();
        assert_ne!(twins[0], twins[1]);
        // A file with a row added is another import: its rows get new IDs, so a row it shares
        // with the earlier import is checked as a likely duplicate of that payout, never
        // passed over silently as "recorded before".
        let more = format!("{lf}1,ABC,赵六,6216667451679999\n");
        let bigger = check("p.csv", more.as_bytes()).unwrap();
        assert_ne!(bigger.import_id, original.import_id);
        let bigger_ids = ids(&bigger);
        assert!(all.iter().all(|r| !bigger_ids.iter().any(|b| b.0 == r.0)));
    }

    /// Records a plan the way `PayoutDesk::enqueue_import` does; returns how many rows were new.
    fn record(j: &mut crate::domain::journal::Journal, p: &BulkPlan) -> usize {
        use crate::domain::journal::{Intent, State};
        let mut intents = Vec::new();
        p.for_each_row(|row, r| {
            intents.push(Intent {
                merchant: "m".into(),
                origin: None,
                request: r.clone(),
                state: State::Queued,
                import: Some((p.import_id.clone(), row as i64)),
            });
        })
        .unwrap();
        j.record_intents(&intents, 0).unwrap()
    }

    #[test]
    fn finding_1_a_resaved_file_resumes_and_records_nothing_new() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = crate::domain::journal::Journal::open(&crate::domain::journal::journal_path(
            dir.path(),
        ))
        .unwrap();
        let lf = "amount,bank,name,number\n1234.56,ABC,王小头,6216667451674374\n88,CMB,李娜,6222020202020202\n";
        let first = check("p.csv", lf.as_bytes()).unwrap();
        assert_eq!(record(&mut j, &first), 2);
        let crlf = lf.replace('\n', "\r\n");
        let again = check("p.csv", crlf.as_bytes()).unwrap();
        assert_eq!(
            record(&mut j, &again),
            0,
            "nothing new is recorded, so nothing is sent"
        );
        assert_eq!(j.import_to_send("m", &again.import_id).unwrap().len(), 2);
        assert_eq!(
            j.list(&crate::domain::journal::ListFilter::default())
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn many_problems_are_counted_not_all_listed() {
        let mut csv = String::from("amount,bank,name,number\n");
        for _ in 0..(MAX_LISTED_ERRORS + 10) {
            csv.push_str("x,ABC,李娜,6216667451674374\n");
        }
        let errs = check("p.csv", csv.as_bytes()).unwrap_err();
        assert_eq!(errs.len(), MAX_LISTED_ERRORS + 1);
        assert_eq!(errs[MAX_LISTED_ERRORS], "row 0, file: and 10 more problems");
    }

    /// Writes a 1M-row CSV and XLSX for measuring memory:
    /// `cargo test --lib -- --ignored write_million_row_files`.
    #[test]
    #[ignore = "writes two large files into the temporary directory"]
    fn write_million_row_files() {
        let dir = std::env::temp_dir();
        let mut csv = String::from("amount,bank,name,number,branch,province,city\n");
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet_with_low_memory();
        for (c, h) in [
            "amount", "bank", "name", "number", "branch", "province", "city",
        ]
        .iter()
        .enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        for i in 0..1_000_000u32 {
            let amount = format!("{}.{:02}", 1 + i % 50_000, i % 100);
            let name = format!("收款人{i}");
            let number = format!("6216{i:012}");
            let _ = writeln!(csv, "{amount},ABC,{name},{number},朝阳支行,北京,北京");
            let r = i + 1;
            sheet
                .write_number(r, 0, amount.parse::<f64>().unwrap())
                .unwrap();
            sheet.write_string(r, 1, "ABC").unwrap();
            sheet.write_string(r, 2, &name).unwrap();
            sheet.write_string(r, 3, &number).unwrap();
            sheet.write_string(r, 4, "朝阳支行").unwrap();
            sheet.write_string(r, 5, "北京").unwrap();
            sheet.write_string(r, 6, "北京").unwrap();
        }
        std::fs::write(dir.join("paydesk-1m.csv"), csv).unwrap();
        book.save(dir.join("paydesk-1m.xlsx")).unwrap();
    }

    /// Checks the file named by `PAYDESK_MEASURE_FILE`, as `payout import` does, and counts
    /// the rows a second pass hands over; run under `/usr/bin/time -v` for peak memory.
    #[test]
    #[ignore = "needs PAYDESK_MEASURE_FILE"]
    fn check_big_file() {
        let path = std::path::PathBuf::from(std::env::var("PAYDESK_MEASURE_FILE").unwrap());
        let started = std::time::Instant::now();
        let bytes = sheet::read_file(&path, &Limits::default()).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let p = plan(&name, bytes, &default_banks(), |_| None).unwrap();
        let checked = started.elapsed();
        let mut n = 0;
        p.for_each_row(|_, _| n += 1).unwrap();
        assert_eq!(n, p.len());
        eprintln!(
            "{name}: {} rows, total {}, import {}, checked in {checked:?}, read again in {:?}",
            p.len(),
            p.total,
            p.import_id,
            started.elapsed().saturating_sub(checked)
        );
    }
}
