//! The row scanner: the header's columns (by name or alias), then every row read and checked
//! cell by cell, problems listed by row and column.

use super::{MAX_LISTED_ERRORS, RowError, Source};
use crate::domain::sheet::{self, Cell, SheetError, column_letters};
use crate::gateway::cny::banks::{Bank, find_bank};
use crate::gateway::cny::wire::PayoutRequest;
use crate::money::{Fen, Zero};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Col {
    Id,
    Amount,
    Bank,
    Name,
    Number,
    Branch,
    Province,
    City,
}

pub(super) const HEADERS: &[(Col, &[&str])] = &[
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

/// A header with a hidden character would not name its column, and another column (an alias
/// of it) would be paid in its place: refused, like such a character in a value.
pub(crate) fn hidden_in_header(header: &str) -> Option<String> {
    let h = header.trim().trim_start_matches('\u{feff}');
    crate::domain::text::check_clean(h).err().map(|bad| {
        format!(
            "the header “{}”: {bad}: type the header again",
            h.escape_debug()
        )
    })
}

pub(super) fn column_of(header: &str) -> Option<Col> {
    let h = header.trim().trim_start_matches('\u{feff}').to_lowercase();
    HEADERS
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(c, _)| *c)
}

pub(super) fn column_name(col: Col) -> &'static str {
    HEADERS
        .iter()
        .find(|(c, _)| *c == col)
        .map_or("", |(_, names)| names[0])
}

#[derive(Default)]
pub(super) struct Errors {
    pub(super) listed: Vec<RowError>,
    pub(super) more: usize,
}

impl Errors {
    pub(super) fn push(
        &mut self,
        row: usize,
        column: impl Into<String>,
        message: impl Into<String>,
    ) {
        if self.listed.len() < MAX_LISTED_ERRORS {
            self.listed.push(RowError {
                row,
                column: column.into(),
                message: message.into(),
            });
        } else {
            self.more += 1;
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.listed.is_empty()
    }

    pub(super) fn into_vec(mut self) -> Vec<RowError> {
        if self.more > 0 {
            self.listed.push(RowError {
                row: 0,
                column: "file".into(),
                message: format!("and {} more problems", self.more),
            });
        }
        self.listed
    }
}

pub(super) fn sheet_error(e: SheetError) -> RowError {
    RowError {
        row: e.row,
        column: e.column.map_or_else(
            || "file".to_owned(),
            |c| format!("column {}", column_letters(c)),
        ),
        message: e.message,
    }
}

/// Reads every row of the file and hands each to `on_row` with the ID the file gives (if any)
/// and whether the row is good; the problems go to `errors`.
pub(super) fn scan(
    source: &Source,
    errors: &mut Errors,
    mut on_row: impl FnMut(usize, PayoutRequest, Option<String>, bool, &mut Errors),
) {
    let mut columns: Option<Vec<Option<Col>>> = None;
    let mut header_bad = false;
    let result = sheet::read_rows(&source.name, &source.bytes, &source.limits, |row, cells| {
        match columns.as_ref() {
            None => {
                columns = Some(read_header(row, cells, errors));
                header_bad = !errors.is_empty();
            }
            // A header that cannot be used: its rows would only repeat the problem.
            Some(_) if header_bad => {}
            Some(columns) => {
                if let Some((request, explicit, ok)) =
                    read_row(row, cells, columns, &source.banks, errors)
                {
                    on_row(row, request, explicit, ok, errors);
                }
            }
        }
    });
    if let Err(e) = result {
        errors.listed.push(sheet_error(e));
    } else if columns.is_none() {
        errors.push(0, "file", "the file is empty");
    }
}

pub(super) fn read_header(row: usize, cells: &[Cell], errors: &mut Errors) -> Vec<Option<Col>> {
    let mut columns = Vec::with_capacity(cells.len());
    let mut first: Vec<(Col, usize, String)> = Vec::new();
    for (i, cell) in cells.iter().enumerate() {
        let text = sheet::text_value(cell).unwrap_or_default();
        if let Some(why) = hidden_in_header(&text) {
            errors.push(row, format!("column {}", column_letters(i as u32)), why);
        }
        let col = column_of(&text);
        if let Some(c) = col {
            if let Some((_, j, earlier)) = first.iter().find(|(f, _, _)| *f == c) {
                errors.push(
                    row,
                    column_name(c),
                    format!(
                        "“{text}” (column {}) is the same column as “{earlier}” (column {}): keep one of them",
                        column_letters(i as u32),
                        column_letters(*j as u32)
                    ),
                );
            } else {
                first.push((c, i, text.trim().to_owned()));
            }
        }
        columns.push(col);
    }
    for required in [Col::Amount, Col::Bank, Col::Name, Col::Number] {
        if !columns.contains(&Some(required)) {
            errors.push(
                row,
                column_name(required),
                "this column is missing from the header",
            );
        }
    }
    columns
}

pub(super) fn read_row(
    row: usize,
    cells: &[Cell],
    columns: &[Option<Col>],
    banks: &[Bank],
    errors: &mut Errors,
) -> Option<(PayoutRequest, Option<String>, bool)> {
    if cells.iter().all(Cell::is_blank) {
        return None;
    }
    let mut failed: Vec<Col> = Vec::new();
    if let Some((i, message)) = sheet::beyond_header(cells, columns.len()) {
        errors.push(row, format!("column {}", column_letters(i as u32)), message);
        // Every cell may be the wrong one: the row is not made into a payout.
        failed.push(Col::Id);
    }
    let mut get = |col: Col| -> String {
        let cell = columns
            .iter()
            .position(|c| *c == Some(col))
            .and_then(|p| cells.get(p))
            .unwrap_or(&Cell::Empty);
        let value = match col {
            Col::Amount => sheet::yuan_value(cell),
            Col::Number => sheet::account_value(cell),
            _ => sheet::text_value(cell),
        };
        value.unwrap_or_else(|message| {
            errors.push(row, column_name(col), message);
            failed.push(col);
            String::new()
        })
    };
    let amount_text = get(Col::Amount);
    let bank_text = get(Col::Bank);
    let id = get(Col::Id);
    let name = get(Col::Name);
    let number = get(Col::Number);
    let branch = get(Col::Branch);
    let province = get(Col::Province);
    let city = get(Col::City);
    let amount = if failed.contains(&Col::Amount) {
        Fen::ZERO
    } else {
        Fen::parse_yuan(&amount_text, Zero::Refused).unwrap_or_else(|e| {
            errors.push(row, column_name(Col::Amount), e.to_string());
            failed.push(Col::Amount);
            Fen::ZERO
        })
    };
    let bank_name = if let Some(b) = find_bank(banks, &bank_text) {
        b.bank_name.clone()
    } else {
        if !failed.contains(&Col::Bank) {
            errors.push(
                row,
                column_name(Col::Bank),
                format!("“{bank_text}” is not in the bank list"),
            );
        }
        failed.push(Col::Bank);
        String::new()
    };
    let explicit = Some(id).filter(|id| !id.is_empty());
    let request = PayoutRequest {
        // A stand-in that passes the ID rules; the real ID is made once the row is good.
        payout_cl_id: explicit.clone().unwrap_or_else(|| "bulk_row".to_owned()),
        amount,
        bank_name,
        name,
        number,
        bank_branch: Some(branch).filter(|s| !s.is_empty()),
        province: Some(province).filter(|s| !s.is_empty()),
        city: Some(city).filter(|s| !s.is_empty()),
        notify_url: None,
    };
    for e in request.validate() {
        let col = match e.field {
            "payout_cl_id" => Col::Id,
            "amount" => Col::Amount,
            "bank_name" => Col::Bank,
            "name" => Col::Name,
            "number" => Col::Number,
            "bank_branch" => Col::Branch,
            "province" => Col::Province,
            "city" => Col::City,
            _ => continue,
        };
        if !failed.contains(&col) {
            errors.push(row, column_name(col), e.reason);
            failed.push(col);
        }
    }
    let ok = failed.is_empty();
    Some((request, explicit, ok))
}
