//! One reconciliation from start to end: the ledger read into the work file, the gateway's
//! orders of the period and its margins streamed into it, every ID classified, the report.

use std::path::PathBuf;

use jiff::tz::TimeZone;
use serde::Serialize;

use super::mapping::Mapping;
use super::{ReconcileError, Report};
use crate::domain::search::StreamOptions;
use crate::domain::sheet::Limits;
use crate::gateway::cny::client::CnyClient;
use crate::gateway::cny::wire::OrderKind;

/// The period reconciled, inclusive, in Unix seconds (from the operator's dates in their zone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Period {
    pub from_secs: i64,
    pub to_secs: i64,
}

/// Default margin fetched on each side of the period: orders created just outside it and
/// booked inside it (or the reverse) are edge cases, not gaps.
pub const DEFAULT_MARGIN_SECS: i64 = 24 * 3600;

/// What to reconcile.
#[derive(Clone, Debug)]
pub struct Request {
    pub kind: OrderKind,
    pub period: Period,
    pub margin_secs: i64,
    /// The ledger file, read within `limits`.
    pub ledger: PathBuf,
    pub mapping: Mapping,
    pub tz: TimeZone,
    /// The zone's name as the operator chose it (for the manifest).
    pub tz_name: String,
    pub limits: Limits,
    /// Where the work file is made (replaced if it exists).
    pub workfile: PathBuf,
    pub stream: StreamOptions,
}

/// How far a reconciliation is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Stage {
    ReadingLedger { rows: u64 },
    FetchingGateway { done: u64, total: u64 },
    Classifying,
}

/// Reconciles `request` against the gateway behind `client` (orders up to `now_secs`),
/// reporting `progress` as it goes. Memory does not grow with the rows: both sides are in the
/// work file, which stays for the tables and exports ([`super::Workfile::open`]).
pub async fn reconcile(
    client: &CnyClient,
    request: &Request,
    now_secs: i64,
    progress: impl Fn(Stage) + Send + Sync + 'static,
) -> Result<Report, ReconcileError> {
    let _ = (client, request, now_secs, progress);
    todo!("h15b")
}
