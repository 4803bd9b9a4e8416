//! Reconciliation: the merchant's own ledger for a period (a CSV or XLSX export of their
//! platform) against the gateway's orders of the same period, matched by merchant order ID,
//! exact in fen, every row of either side put in exactly one class, so that the difference of
//! the two sums is explained class by class to the fen.
//!
//! Both sides go into an on-disk work file (SQLite) rather than memory: a month of orders is a
//! million rows, and the tables an operator pages through are read back from the file a
//! window at a time.

mod classify;
pub mod ledger;
pub mod mapping;
pub mod report;
pub mod run;
pub mod store;
pub mod write;

#[cfg(test)]
mod tests;

pub use ledger::{LedgerProblem, LedgerRow, LedgerStatus, LedgerSummary, read_ledger};
pub use mapping::{CompareWith, Mapping, MappingStore};
pub use report::{Class, ClassTotal, Report};
pub use run::{DEFAULT_MARGIN_SECS, Period, Request, Stage, reconcile, reconcile_rows, run_record};
pub use store::{Difference, GatewaySide, RunRecord, Workfile};
pub use write::{DifferencesExport, export_differences};

/// Why a reconciliation could not be made (exit 2 of the CLI). Never holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The ledger cannot be read: the file as a whole, or rows located by row and column.
    #[error("the ledger cannot be read: {0}")]
    Ledger(String),
    /// The mapping names a column the file does not have, or is incomplete.
    #[error("the column mapping does not fit the ledger: {0}")]
    Mapping(String),
    /// The gateway's orders cannot be fetched (its error code with the meaning).
    #[error("the gateway's orders cannot be fetched: {0}")]
    Gateway(String),
    /// The work file or an export cannot be written or read.
    #[error("{0}")]
    Io(String),
}
