//! Reading the merchant's ledger through a [`Mapping`]: each row becomes a [`LedgerRow`] or a
//! problem located by row and column; nothing is guessed.

use std::ops::ControlFlow;

use jiff::tz::TimeZone;

use super::mapping::{ColumnIndexes, Mapping};
use crate::domain::sheet::{self, Cell, Limits};
use crate::money::Fen;

/// What the ledger says happened to the money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerStatus {
    Credited,
    NotCredited,
    Pending,
}

impl LedgerStatus {
    /// `not credited`: as an operator reads it.
    pub fn label(self) -> &'static str {
        match self {
            LedgerStatus::Credited => "credited",
            LedgerStatus::NotCredited => "not credited",
            LedgerStatus::Pending => "pending",
        }
    }
}

/// One row of the ledger as read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerRow {
    /// 1-based row number in the file (the header is row 1).
    pub row: usize,
    pub order_id: String,
    pub amount: Fen,
    pub status: LedgerStatus,
    /// The status cell as written (shown beside the gateway's).
    pub status_text: String,
    pub time_secs: i64,
    pub fee: Option<Fen>,
}

/// A row or cell that cannot be read. `column` is the letter (`C`), when one cell is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerProblem {
    pub row: usize,
    pub column: Option<String>,
    pub message: String,
}

/// What reading the ledger found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LedgerSummary {
    /// Rows handed on.
    pub rows: u64,
    /// Blank rows skipped.
    pub blank: u64,
    /// The header row as written.
    pub headers: Vec<String>,
}

/// At most this many problems are kept; the rest are counted.
pub const MAX_PROBLEMS: usize = 50;

/// Reads every data row of a ledger (`bytes` of the file `name`, CSV or XLSX) through
/// `mapping`, times without a zone read in `tz`, handing each row to `on_row`. Fails with
/// the problems found (at most a few dozen kept, the rest counted) when any row is wrong:
/// a ledger is reconciled whole or not at all.
///
/// The header is the first row that is not blank; blank rows after it are skipped and
/// counted. Every good row is handed on, also after a problem: the caller discards what it
/// got when this fails.
pub fn read_ledger(
    name: &str,
    bytes: &[u8],
    mapping: &Mapping,
    tz: &TimeZone,
    limits: &Limits,
    mut on_row: impl FnMut(LedgerRow),
) -> Result<LedgerSummary, Vec<LedgerProblem>> {
    let mut summary = LedgerSummary::default();
    let mut problems = Problems::default();
    let mut columns: Option<ColumnIndexes> = None;
    let mut mapping_failed = false;
    let read = sheet::read_rows_while(name, bytes, limits, |row, cells| {
        if mapping_failed {
            return ControlFlow::Break(());
        }
        if cells.iter().all(Cell::is_blank) {
            if columns.is_some() {
                summary.blank += 1;
            }
            return ControlFlow::Continue(());
        }
        let Some(at) = columns else {
            summary.headers = cells.iter().map(header_text).collect();
            match mapping.check(&summary.headers) {
                Ok(c) => columns = Some(c),
                Err(message) => {
                    problems.push(LedgerProblem {
                        row,
                        column: None,
                        message,
                    });
                    mapping_failed = true;
                }
            }
            return ControlFlow::Continue(());
        };
        match cells::read_row(row, cells, summary.headers.len(), &at, mapping, tz) {
            Ok(r) => {
                summary.rows += 1;
                on_row(r);
            }
            Err(found) => {
                for p in found {
                    problems.push(p);
                }
            }
        }
        ControlFlow::Continue(())
    });
    if let Err(e) = read {
        problems.push(LedgerProblem {
            row: e.row,
            column: e.column.map(sheet::column_letters),
            message: e.message,
        });
    } else if columns.is_none() && !mapping_failed {
        problems.push(LedgerProblem {
            row: 0,
            column: None,
            message: "the file has no header row (it is empty)".to_owned(),
        });
    }
    problems.finish().map_or(Ok(summary), Err)
}

/// The header row of a ledger file (its first row that is not blank), for choosing a mapping.
pub fn read_headers(name: &str, bytes: &[u8], limits: &Limits) -> Result<Vec<String>, String> {
    let mut headers = None;
    sheet::read_rows_while(name, bytes, limits, |_, cells| {
        if cells.iter().all(Cell::is_blank) {
            return ControlFlow::Continue(());
        }
        headers = Some(cells.iter().map(header_text).collect());
        ControlFlow::Break(())
    })
    .map_err(|e| e.to_string())?;
    headers.ok_or_else(|| "the file has no header row (it is empty)".to_owned())
}

/// A header cell as the operator reads it.
fn header_text(cell: &Cell) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Text(t) => t.trim().to_owned(),
        Cell::Number { text } => text.clone(),
        Cell::Formula(inner) => header_text(inner),
        Cell::Date(t)
        | Cell::Time(t)
        | Cell::Scaled(t)
        | Cell::Unshown(t)
        | Cell::Error(t)
        | Cell::Rounded { text: t, .. } => t.clone(),
        Cell::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).to_owned(),
    }
}

/// The problems kept, and how many more there were.
#[derive(Default)]
struct Problems {
    kept: Vec<LedgerProblem>,
    more: u64,
}

impl Problems {
    fn push(&mut self, p: LedgerProblem) {
        if self.kept.len() < MAX_PROBLEMS {
            self.kept.push(p);
        } else {
            self.more += 1;
        }
    }

    fn finish(mut self) -> Option<Vec<LedgerProblem>> {
        if self.kept.is_empty() {
            return None;
        }
        if self.more > 0 {
            self.kept.push(LedgerProblem {
                row: 0,
                column: None,
                message: format!("… and {} more problems", self.more),
            });
        }
        Some(self.kept)
    }
}

impl std::fmt::Display for LedgerProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match (self.row, &self.column) {
            (0, _) => write!(f, "{}", self.message),
            (r, Some(c)) => write!(f, "row {r}, column {c}: {}", self.message),
            (r, None) => write!(f, "row {r}: {}", self.message),
        }
    }
}

mod cells;

#[cfg(test)]
mod tests;
