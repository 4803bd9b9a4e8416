//! The work file of one reconciliation (SQLite on disk): both sides' rows, the class of each
//! merchant order ID, and the pages the console and the exports read back.

use std::path::Path;

use super::ledger::LedgerRow;
use super::report::Class;
use super::{ReconcileError, Report};
use crate::gateway::cny::wire::OrderStatus;
use crate::money::Fen;

/// The gateway's side of a difference.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewaySide {
    pub system_id: String,
    pub amount: Option<Fen>,
    pub real_amount: Option<Fen>,
    pub fee: Option<Fen>,
    pub status: OrderStatus,
    pub create_time_secs: Option<i64>,
    pub update_time_secs: Option<i64>,
    pub signature_valid: bool,
    /// The order's JSON text as received (opens the order's details).
    pub text: String,
}

/// One row of a class table: a merchant order ID with what each side holds (a duplicate ID
/// has one row per ledger row or gateway order).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Difference {
    pub class: Class,
    pub order_id: String,
    pub ledger: Option<LedgerRow>,
    pub gateway: Option<GatewaySide>,
    /// Why it is in its class, for an operator: "ledger ¥120.00, gateway amount ¥100.00".
    pub detail: String,
    /// What it adds to the difference of the sums (ledger minus gateway).
    pub difference: Fen,
}

/// An open work file.
#[derive(Debug)]
pub struct Workfile {
    conn: rusqlite::Connection,
}

impl Workfile {
    /// Opens the work file of a finished reconciliation (read by the console's tables).
    pub fn open(path: &Path) -> Result<Workfile, ReconcileError> {
        let _ = path;
        todo!("h15b")
    }

    /// The report stored with it.
    pub fn report(&self) -> Result<Report, ReconcileError> {
        let _ = &self.conn;
        todo!("h15b")
    }

    /// How many rows `class` (every class when `None`) has whose order ID, system ID or detail
    /// contains `filter` (case-insensitive; empty: all).
    pub fn count(&self, class: Option<Class>, filter: &str) -> Result<u64, ReconcileError> {
        let _ = (class, filter);
        todo!("h15b")
    }

    /// A page of those rows, ordered by order ID: memory holds one page, never the class.
    pub fn page(
        &self,
        class: Option<Class>,
        filter: &str,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<Difference>, ReconcileError> {
        let _ = (class, filter, offset, limit);
        todo!("h15b")
    }
}
