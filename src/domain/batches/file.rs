//! A GatePay batch planned from a CSV/XLSX file: columns found by their headers, every row
//! checked, and every error reported by row and column.

use std::collections::BTreeMap;

use super::super::bulk::RowError;
use super::super::sheet::{self, Cell, Limits, column_letters};
use super::rows::{TypedRow, batch_from_rows};
use crate::gateway::gatepay::wire::BatchRequest;

const FILE_COLUMNS: &[(&str, &[&str])] = &[
    (
        "merchant_withdraw_id",
        &[
            "merchant_withdraw_id",
            "merchant withdraw id",
            "id",
            "商户提现单号",
        ],
    ),
    ("currency", &["currency", "币种"]),
    ("amount", &["amount", "金额", "数量"]),
    ("chain", &["chain", "network", "链"]),
    ("address", &["address", "地址"]),
    ("memo", &["memo", "tag", "备注"]),
    ("fee_type", &["fee_type", "fee type"]),
];

/// The file column a header names, if any.
fn column_of(header: &str) -> Option<&'static str> {
    let h = header.trim().trim_start_matches('\u{feff}').to_lowercase();
    FILE_COLUMNS
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(n, _)| *n)
}

/// Each file column's position; a column named twice (or by two of its names) is refused.
fn column_index(
    row: usize,
    header: &[Cell],
    errors: &mut Vec<RowError>,
) -> BTreeMap<&'static str, usize> {
    let mut index: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut texts: Vec<String> = Vec::with_capacity(header.len());
    for (i, cell) in header.iter().enumerate() {
        let text = sheet::text_value(cell).unwrap_or_default();
        if let Some(why) = crate::domain::bulk::hidden_in_header(&text) {
            errors.push(RowError {
                row,
                column: format!("column {}", column_letters(i as u32)),
                message: why,
            });
        }
        if let Some(col) = column_of(&text) {
            if let Some(&j) = index.get(col) {
                errors.push(RowError {
                    row,
                    column: col.into(),
                    message: format!(
                        "“{}” (column {}) is the same column as “{}” (column {}): keep one of them",
                        text.trim(),
                        column_letters(i as u32),
                        texts[j],
                        column_letters(j as u32)
                    ),
                });
            } else {
                index.insert(col, i);
            }
        }
        texts.push(text.trim().to_owned());
    }
    index
}

/// Reads a batch from a CSV or XLSX file (header row: `merchant_withdraw_id`, `currency`,
/// `amount`, `chain`, `address`, `memo`, `fee_type`); every row is checked, and every problem is
/// reported by row and column before anything is sent. Amounts are text or exact numbers (at
/// most six decimals, never an exponent); addresses must be text cells. The batch's identity
/// is `batch_id` and each sub-order's `merchant_withdraw_id`, both from the operator, never
/// the file's bytes.
pub fn plan_batch_file(
    name: &str,
    bytes: &[u8],
    batch_id: &str,
) -> Result<BatchRequest, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut index: Option<BTreeMap<&'static str, usize>> = None;
    let mut rows = Vec::new();
    let mut header_bad = false;
    let mut width = 0usize;
    let read = sheet::read_rows(name, bytes, &Limits::configured(), |row, cells| {
        if index.is_none() {
            width = cells.len();
            let found = column_index(row, cells, &mut errors);
            for (col, _) in FILE_COLUMNS {
                if !found.contains_key(col) && !matches!(*col, "memo" | "fee_type") {
                    errors.push(RowError {
                        row,
                        column: (*col).into(),
                        message: "this column is missing from the header".into(),
                    });
                }
            }
            index = Some(found);
            header_bad = !errors.is_empty();
            return;
        }
        let Some(index) = index.as_ref() else {
            return;
        };
        if header_bad {
            // A header that cannot be used: the rows would only repeat it.
            return;
        }
        if cells.iter().all(Cell::is_blank) {
            return;
        }
        let mut failed: Vec<&'static str> = Vec::new();
        if let Some((i, message)) = sheet::beyond_header(cells, width) {
            errors.push(RowError {
                row,
                column: format!("column {}", column_letters(i as u32)),
                message,
            });
            failed.push("row");
        }
        let mut get = |col: &'static str| -> String {
            let cell = index
                .get(col)
                .and_then(|p| cells.get(*p))
                .unwrap_or(&Cell::Empty);
            let value = match col {
                "amount" => sheet::crypto_value(cell),
                "address" => sheet::account_value(cell),
                _ => sheet::text_value(cell),
            };
            value.unwrap_or_else(|message| {
                errors.push(RowError {
                    row,
                    column: col.into(),
                    message,
                });
                failed.push(col);
                String::new()
            })
        };
        let amount = get("amount");
        let fee_type = get("fee_type");
        let typed = TypedRow {
            row,
            merchant_withdraw_id: get("merchant_withdraw_id"),
            currency: get("currency"),
            amount,
            chain: get("chain"),
            address: get("address"),
            memo: get("memo"),
            fee_type,
            failed: Vec::new(),
        };
        rows.push(TypedRow { failed, ..typed });
    });
    if let Err(e) = read {
        errors.push(RowError {
            row: e.row,
            column: e.column.map_or_else(
                || "file".to_owned(),
                |c| format!("column {}", column_letters(c)),
            ),
            message: e.message,
        });
        return Err(errors);
    }
    if index.is_none() {
        errors.push(RowError {
            row: 0,
            column: "file".into(),
            message: "the file is empty".into(),
        });
    }
    if header_bad || !errors.is_empty() && rows.is_empty() {
        return Err(errors);
    }
    let (request, mut row_errors) = batch_from_rows(batch_id, rows);
    errors.append(&mut row_errors);
    if errors.is_empty() {
        Ok(request)
    } else {
        errors.sort_by_key(|e| e.row);
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::super::totals::{currency_totals, describe_totals};
    use super::*;

    #[test]
    fn a_batch_file_is_checked_row_by_row() {
        let csv = "\u{feff}merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
                   w1,usdt,10.5,trx,TXyz1,,0\n\
                   w2,USDT,0.1234567,TRX,TXyz2,,0\n\
                   w1,BTC,abc,BTC,,,2\n\
                   ,,,,,,\n\
                   w4,BTC,0.001,BTC,bc1q,,1\n";
        let errs = plan_batch_file("b.csv", csv.as_bytes(), "B_1").unwrap_err();
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "row 3, amount: at most 6 decimal places are allowed (found 7)",
                "row 4, amount: unexpected character 'a'",
                "row 4, fee_type: '2' is not 0 (fee inside the amount) or 1 (fee from the balance)",
                "row 4, merchant_withdraw_id: appears more than once in this batch",
                "row 4, address: required",
            ]
        );
        let ok = "merchant_withdraw_id,currency,amount,chain,address\nw1,usdt,10.5,trx,TXyz1\nw2,BTC,0.001,BTC,bc1q\nw3,USDT,2,ETH,0xabc\n";
        let req = plan_batch_file("b.csv", ok.as_bytes(), "B_1").unwrap();
        assert_eq!(req.withdraw_list.len(), 3);
        assert_eq!(req.withdraw_list[0].currency, "USDT");
        assert_eq!(
            describe_totals(&currency_totals(&req.withdraw_list)),
            "0.001 BTC (1), 12.5 USDT (2)"
        );
        let bad_id = plan_batch_file("b.csv", ok.as_bytes(), "bad id!").unwrap_err();
        assert_eq!(
            bad_id[0].to_string(),
            "row 0, batch_id: 1 to 32 letters, digits or '_'"
        );
    }

    #[test]
    fn adv_a_batch_header_with_a_hidden_character_is_refused() {
        let csv = "merchant_withdraw_id,currency,amount\u{202e},chain,address,数量\nw1,USDT,1,TRX,TXyz1,2\n";
        let errs = plan_batch_file("b.csv", csv.as_bytes(), "B_1").unwrap_err();
        assert!(
            errs.iter()
                .any(|e| e.to_string().starts_with("row 1, column C: the header")),
            "{errs:?}"
        );
    }

    #[test]
    fn finding_2_and_10_batch_file_cells_and_headers() {
        let csv =
            "merchant_withdraw_id,currency,amount,chain,address,数量\nw1,USDT,1,TRX,TXyz1,2\n";
        let errs = plan_batch_file("b.csv", csv.as_bytes(), "B_1").unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "row 1, amount: “数量” (column F) is the same column as “amount” (column C): keep one of them"
        );
        let csv = "merchant_withdraw_id,currency,amount,chain,address\nw1,USDT,1,TRX,\"TXyz 1\"\n";
        let errs = plan_batch_file("b.csv", csv.as_bytes(), "B_1").unwrap_err();
        assert!(
            errs[0]
                .to_string()
                .starts_with("row 2, address: character 5 is U+0020 SPACE")
        );
        let head = |n: u32, t: &str| {
            format!(
                r#"<c r="{}1" t="inlineStr"><is><t>{t}</t></is></c>"#,
                column_letters(n)
            )
        };
        let mut sheet = String::from(r#"<sheetData><row r="1">"#);
        for (i, h) in [
            "merchant_withdraw_id",
            "currency",
            "amount",
            "chain",
            "address",
        ]
        .iter()
        .enumerate()
        {
            sheet.push_str(&head(i as u32, h));
        }
        sheet.push_str(
            r#"</row><row r="2"><c r="A2" t="inlineStr"><is><t>w1</t></is></c><c r="B2" t="inlineStr"><is><t>USDT</t></is></c><c r="C2" s="1"><v>46023</v></c><c r="D2" t="inlineStr"><is><t>ETH</t></is></c><c r="E2"><v>12345</v></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>w2</t></is></c><c r="B3" t="inlineStr"><is><t>USDT</t></is></c><c r="C3"><v>1E-7</v></c><c r="D3" t="inlineStr"><is><t>ETH</t></is></c><c r="E3" t="inlineStr"><is><t>0xabc</t></is></c></row><row r="4"><c r="A4" t="inlineStr"><is><t>w3</t></is></c><c r="B4" t="inlineStr"><is><t>USDT</t></is></c><c r="C4"><v>0.125</v></c><c r="D4" t="inlineStr"><is><t>ETH</t></is></c><c r="E4" t="inlineStr"><is><t>0xabd</t></is></c></row></sheetData>"#,
        );
        let styles =
            r#"<styleSheet><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>"#;
        let book = crate::domain::sheet::tests::xlsx(&sheet, None, Some(styles));
        let errs: Vec<String> = plan_batch_file("b.xlsx", &book, "B_1")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!(
            errs[0],
            "row 2, amount: a date, 2026-01-01: format the column as number or text"
        );
        assert!(errs[1].starts_with("row 2, address: a number, 12345: Excel keeps only 15 digits"));
        assert!(errs[2].starts_with("row 3, amount: a number, 1E-7, which is not an exact amount"));
    }
}
