//! Reading the merchant's ledger through a [`Mapping`]: each row becomes a [`LedgerRow`] or a
//! problem located by row and column; nothing is guessed.

use jiff::tz::TimeZone;

use super::mapping::Mapping;
use crate::domain::sheet::Limits;
use crate::money::Fen;

/// What the ledger says happened to the money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerStatus {
    Credited,
    NotCredited,
    Pending,
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

/// Reads every data row of a ledger (`bytes` of the file `name`, CSV or XLSX) through
/// `mapping`, times without a zone read in `tz`, handing each row to `on_row`. Fails with
/// the problems found (at most a few dozen kept, the rest counted) when any row is wrong:
/// a ledger is reconciled whole or not at all.
pub fn read_ledger(
    name: &str,
    bytes: &[u8],
    mapping: &Mapping,
    tz: &TimeZone,
    limits: &Limits,
    on_row: impl FnMut(LedgerRow),
) -> Result<LedgerSummary, Vec<LedgerProblem>> {
    let _ = (name, bytes, mapping, tz, limits, on_row);
    todo!("h15a")
}

/// The header row of a ledger file, for choosing a mapping.
pub fn read_headers(name: &str, bytes: &[u8], limits: &Limits) -> Result<Vec<String>, String> {
    let _ = (name, bytes, limits);
    todo!("h15a")
}
