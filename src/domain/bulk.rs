//! Bulk payouts from a CSV or XLSX file: every row is read and checked before anything is
//! sent, and problems are listed by row and column. A batch is named by the hash of its
//! file, so importing the same file again resumes it instead of paying twice.

use std::collections::HashSet;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};
use serde::Serialize;

use crate::gateway::cny::banks::{Bank, find_bank};
use crate::gateway::cny::wire::PayoutRequest;
use crate::money::{Fen, Zero};

/// A problem with one cell (row 1 is the header; column by header name).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, thiserror::Error)]
#[error("row {row}, {column}: {message}")]
pub struct RowError {
    pub row: usize,
    pub column: String,
    pub message: String,
}

/// A checked file, ready to be recorded and sent.
#[derive(Clone, Debug)]
pub struct BulkPlan {
    /// The first 12 hex characters of the file's SHA-256.
    pub batch_id: String,
    /// (row number in the file, request).
    pub rows: Vec<(usize, PayoutRequest)>,
    pub total: Fen,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Id,
    Amount,
    Bank,
    Name,
    Number,
    Branch,
    Province,
    City,
}

const HEADERS: &[(Col, &[&str])] = &[
    (
        Col::Id,
        &[
            "merchant order id",
            "merchant_order_id",
            "payout_cl_id",
            "cl_id",
            "商户订单号",
        ],
    ),
    (Col::Amount, &["amount", "金额"]),
    (Col::Bank, &["bank", "bank_name", "bank code", "银行"]),
    (
        Col::Name,
        &["name", "recipient", "recipient name", "收款人", "姓名"],
    ),
    (
        Col::Number,
        &[
            "number",
            "account",
            "account number",
            "card number",
            "账号",
            "卡号",
        ],
    ),
    (Col::Branch, &["branch", "bank_branch", "支行"]),
    (Col::Province, &["province", "省", "省份"]),
    (Col::City, &["city", "市", "城市"]),
];

fn column_of(header: &str) -> Option<Col> {
    let h = header.trim().trim_start_matches('\u{feff}').to_lowercase();
    HEADERS
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(c, _)| *c)
}

fn column_name(col: Col) -> &'static str {
    HEADERS
        .iter()
        .find(|(c, _)| *c == col)
        .map_or("", |(_, names)| names[0])
}

/// Reads the cells of a CSV (UTF-8, with or without a byte-order mark) or XLSX file.
pub fn read_cells(name: &str, bytes: &[u8]) -> Result<Vec<Vec<String>>, String> {
    if name.to_lowercase().ends_with(".xlsx") {
        let mut book: Xlsx<_> =
            Xlsx::new(Cursor::new(bytes)).map_err(|e| format!("not a readable XLSX file: {e}"))?;
        let range = book
            .worksheet_range_at(0)
            .ok_or("the workbook has no sheet")?
            .map_err(|e| format!("the first sheet cannot be read: {e}"))?;
        return Ok(range
            .rows()
            .map(|r| {
                r.iter()
                    .map(|c| match c {
                        Data::Empty => String::new(),
                        Data::String(s) => s.clone(),
                        // Integers stay integers; account numbers must be typed as text in
                        // Excel (long digit runs lose digits as numbers).
                        Data::Int(i) => i.to_string(),
                        Data::Float(f) => cell_number(*f),
                        other => other.to_string(),
                    })
                    .collect()
            })
            .collect());
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| "the file is not UTF-8 text (save the CSV as UTF-8)".to_owned())?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.trim_start_matches('\u{feff}').as_bytes());
    reader
        .records()
        .map(|r| {
            r.map(|rec| rec.iter().map(str::to_owned).collect())
                .map_err(|e| format!("the CSV cannot be read: {e}"))
        })
        .collect()
}

/// Excel stores typed numbers as floats; show them as the shortest text that reads back
/// the same, so `1234.5` stays `1234.5` (and is then parsed exactly as yuan).
fn cell_number(f: f64) -> String {
    let s = format!("{f}");
    if s.contains('e') {
        format!("{f:.2}")
    } else {
        s
    }
}

/// Checks every row; all problems at once, or the plan.
pub fn plan(
    name: &str,
    bytes: &[u8],
    banks: &[Bank],
    existing_id: impl Fn(&str) -> bool,
) -> Result<BulkPlan, Vec<RowError>> {
    let batch_id = super::journal::sha256_hex(bytes)[..12].to_owned();
    let cells = read_cells(name, bytes).map_err(|message| {
        vec![RowError {
            row: 0,
            column: "file".into(),
            message,
        }]
    })?;
    let Some((header, body)) = cells.split_first() else {
        return Err(vec![RowError {
            row: 0,
            column: "file".into(),
            message: "the file is empty".into(),
        }]);
    };
    let columns: Vec<Option<Col>> = header.iter().map(|h| column_of(h)).collect();
    let mut errors = Vec::new();
    for required in [Col::Amount, Col::Bank, Col::Name, Col::Number] {
        if !columns.contains(&Some(required)) {
            errors.push(RowError {
                row: 1,
                column: column_name(required).into(),
                message: "this column is missing from the header".into(),
            });
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut rows = Vec::new();
    let mut seen = HashSet::new();
    let mut total = Fen::ZERO;
    for (i, cells) in body.iter().enumerate() {
        let row = i + 2;
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let get = |col: Col| -> String {
            columns
                .iter()
                .position(|c| *c == Some(col))
                .and_then(|p| cells.get(p))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        let mut bad = |col: Col, message: String| {
            errors.push(RowError {
                row,
                column: column_name(col).into(),
                message,
            });
        };
        let amount = match Fen::parse_yuan(&get(Col::Amount), Zero::Refused) {
            Ok(a) => a,
            Err(e) => {
                bad(Col::Amount, e.to_string());
                Fen::ZERO
            }
        };
        let bank_text = get(Col::Bank);
        let bank_name = if let Some(b) = find_bank(banks, &bank_text) {
            b.bank_name.clone()
        } else {
            bad(Col::Bank, format!("“{bank_text}” is not in the bank list"));
            String::new()
        };
        let id = match get(Col::Id) {
            id if id.is_empty() => format!("bulk_{batch_id}_{row}"),
            id => id,
        };
        if !seen.insert(id.clone()) {
            bad(Col::Id, format!("{id} appears more than once in this file"));
        } else if !id.starts_with(&format!("bulk_{batch_id}_")) && existing_id(&id) {
            bad(Col::Id, format!("{id} is already in the payout journal"));
        }
        let request = PayoutRequest {
            payout_cl_id: id,
            amount,
            bank_name,
            name: get(Col::Name),
            number: get(Col::Number),
            bank_branch: Some(get(Col::Branch)).filter(|s| !s.is_empty()),
            province: Some(get(Col::Province)).filter(|s| !s.is_empty()),
            city: Some(get(Col::City)).filter(|s| !s.is_empty()),
            notify_url: None,
        };
        for e in request.validate() {
            let col = match e.field {
                "payout_cl_id" => Col::Id,
                "amount" => continue,
                "bank_name" => continue,
                "name" => Col::Name,
                _ => Col::Number,
            };
            bad(col, e.reason);
        }
        total = total.checked_add(amount).unwrap_or(total);
        rows.push((row, request));
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(RowError {
            row: 2,
            column: "file".into(),
            message: "the file has no payouts".into(),
        });
    }
    if errors.is_empty() {
        Ok(BulkPlan {
            batch_id,
            rows,
            total,
        })
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::cny::banks::default_banks;

    #[test]
    fn every_row_is_checked_and_problems_located() {
        let csv = "\u{feff}amount,bank,name,number,商户订单号\n1234.56,ABC,王小头,6216 6674 5167 4374,\n0,XYZ,,12ab,dup\n5,CMB,李娜,621666745167437,dup\n";
        let errs = plan("pay.csv", csv.as_bytes(), &default_banks(), |_| false).unwrap_err();
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
        let p = plan("pay.csv", ok.as_bytes(), &default_banks(), |_| false).unwrap();
        assert_eq!(p.total, Fen::from_fen(124_456));
        assert_eq!(p.rows[1].1.bank_name, "招商银行");
        assert_eq!(p.rows[0].1.payout_cl_id, format!("bulk_{}_2", p.batch_id));
        let missing = plan("pay.csv", b"amount,name\n1,x\n", &default_banks(), |_| {
            false
        })
        .unwrap_err();
        assert_eq!(missing.len(), 2);
    }

    #[test]
    fn reads_an_excel_workbook() {
        let bytes = include_bytes!("../../tests/fixtures/payouts.xlsx");
        let p = plan("payouts.xlsx", bytes, &default_banks(), |_| false).unwrap();
        let got: Vec<(String, i64, String, String)> = p
            .rows
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
        assert_eq!(p.rows[0].1.bank_branch.as_deref(), Some("朝阳支行"));
    }
}
