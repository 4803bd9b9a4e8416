//! The work file of one reconciliation (SQLite on disk): both sides' rows, the class of each
//! merchant order ID, and the pages the console and the exports read back.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use super::ledger::{LedgerRow, LedgerStatus};
use super::mapping::Mapping;
use super::report::Class;
use super::run::Period;
use super::{ReconcileError, Report};
use crate::gateway::cny::wire::{Order, OrderKind, OrderStatus, SignatureCheck, StatusClass};
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

impl GatewaySide {
    /// The side of a fetched order. A signature is valid only when it was checked (the
    /// profile has its MD5 key) and verified.
    pub fn from_order(order: &Order) -> GatewaySide {
        GatewaySide {
            system_id: order.system_id.clone(),
            amount: order.amount,
            real_amount: order.real_amount,
            fee: order.fee,
            status: order.status,
            create_time_secs: order.create_time_secs,
            update_time_secs: order.update_time_secs,
            signature_valid: matches!(order.signature, SignatureCheck::Checked(_))
                && !order.signature.is_invalid(),
            text: order.text.to_string(),
        }
    }
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

/// What was asked, kept in the work file for the manifest of its exports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub kind: OrderKind,
    pub period: Period,
    /// The period's first and last day (`YYYY-MM-DD`) in `timezone`.
    pub from_date: String,
    pub to_date: String,
    pub timezone: String,
    pub margin_secs: i64,
    pub mapping: Mapping,
    /// The ledger's file name (no folder).
    pub ledger_file: String,
}

/// Rows inserted between two commits.
const BATCH_ROWS: u64 = 10_000;

const SCHEMA: &str = "
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE ledger (
    id INTEGER PRIMARY KEY,
    row INTEGER NOT NULL,
    order_id TEXT NOT NULL,
    amount INTEGER NOT NULL,
    status TEXT NOT NULL,
    status_text TEXT NOT NULL,
    time_secs INTEGER NOT NULL,
    fee INTEGER
);
CREATE TABLE gateway (
    id INTEGER PRIMARY KEY,
    order_id TEXT NOT NULL,
    system_id TEXT NOT NULL,
    amount INTEGER,
    real_amount INTEGER,
    fee INTEGER,
    status_code INTEGER,
    status_class TEXT NOT NULL,
    create_time_secs INTEGER,
    update_time_secs INTEGER,
    signature_valid INTEGER NOT NULL,
    text TEXT NOT NULL
);
CREATE TABLE diffs (
    id INTEGER PRIMARY KEY,
    class TEXT NOT NULL,
    order_id TEXT NOT NULL,
    system_id TEXT NOT NULL,
    ledger_id INTEGER,
    gateway_id INTEGER,
    detail TEXT NOT NULL,
    ledger_part INTEGER NOT NULL,
    gateway_part INTEGER NOT NULL
);
";

/// Indexes made once both sides are in (a bulk load is faster without them).
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS ledger_by_id ON ledger (order_id, row);
CREATE INDEX IF NOT EXISTS gateway_by_id ON gateway (order_id, system_id);
CREATE INDEX IF NOT EXISTS gateway_by_system_id ON gateway (system_id);
";

const DIFF_INDEXES: &str = "
CREATE INDEX IF NOT EXISTS diffs_by_class ON diffs (class, order_id, id);
CREATE INDEX IF NOT EXISTS diffs_by_id ON diffs (order_id, id);
";

pub(super) fn db_error(e: &rusqlite::Error) -> ReconcileError {
    ReconcileError::Io(format!("the work file cannot be used: {e}"))
}

pub(super) fn status_word(status: LedgerStatus) -> &'static str {
    match status {
        LedgerStatus::Credited => "credited",
        LedgerStatus::NotCredited => "not_credited",
        LedgerStatus::Pending => "pending",
    }
}

fn status_from_word(word: &str) -> LedgerStatus {
    match word {
        "credited" => LedgerStatus::Credited,
        "not_credited" => LedgerStatus::NotCredited,
        _ => LedgerStatus::Pending,
    }
}

pub(super) fn class_word(class: StatusClass) -> &'static str {
    match class {
        StatusClass::InProgress => "in_progress",
        StatusClass::Success => "success",
        StatusClass::Cancelled => "cancelled",
        StatusClass::Failed => "failed",
        StatusClass::Unknown => "unknown",
    }
}

/// An open work file.
#[derive(Debug)]
pub struct Workfile {
    conn: rusqlite::Connection,
    kind: OrderKind,
    /// Rows inserted since the last commit (a transaction is open when above zero).
    pending: u64,
}

impl Workfile {
    /// Makes a new work file at `path` (replacing one there) for the run `record`.
    pub fn create(path: &Path, record: &RunRecord) -> Result<Workfile, ReconcileError> {
        for stale in [path.to_path_buf(), path.with_extension("db-journal")] {
            match std::fs::remove_file(&stale) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(ReconcileError::Io(format!(
                        "cannot replace the work file {}: {e}",
                        stale.display()
                    )));
                }
            }
        }
        let conn = Connection::open(path).map_err(|e| {
            ReconcileError::Io(format!("cannot make the work file {}: {e}", path.display()))
        })?;
        // The work file is rebuilt from its inputs: no journal, no waiting for the disk.
        conn.pragma_update(None, "journal_mode", "OFF")
            .and_then(|()| conn.pragma_update(None, "synchronous", "OFF"))
            .and_then(|()| conn.execute_batch(SCHEMA))
            .map_err(|e| db_error(&e))?;
        let run = serde_json::to_string(record).map_err(|e| ReconcileError::Io(e.to_string()))?;
        conn.execute("INSERT INTO meta (key, value) VALUES ('run', ?1)", [run])
            .map_err(|e| db_error(&e))?;
        Ok(Workfile {
            conn,
            kind: record.kind,
            pending: 0,
        })
    }

    /// Opens the work file of a finished reconciliation (read by the console's tables).
    pub fn open(path: &Path) -> Result<Workfile, ReconcileError> {
        if !path.is_file() {
            return Err(ReconcileError::Io(format!(
                "there is no work file at {}",
                path.display()
            )));
        }
        let conn = Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| {
                ReconcileError::Io(format!("cannot open the work file {}: {e}", path.display()))
            })?;
        let mut file = Workfile {
            conn,
            kind: OrderKind::Deposit,
            pending: 0,
        };
        let not_finished = || {
            ReconcileError::Io(format!(
                "{} is not the work file of a finished reconciliation (it was interrupted, or \
                 is another file): run the reconciliation again",
                path.display()
            ))
        };
        let report = file.meta("report").map_err(|_| not_finished())?;
        if report.is_none() {
            return Err(not_finished());
        }
        file.kind = file.record()?.kind;
        Ok(file)
    }

    pub(super) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(super) fn kind(&self) -> OrderKind {
        self.kind
    }

    fn meta(&self, key: &str) -> Result<Option<String>, ReconcileError> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()
            .map_err(|e| db_error(&e))
    }

    /// What was asked (the kind, period, zone, margin, mapping and ledger file).
    pub fn record(&self) -> Result<RunRecord, ReconcileError> {
        let text = self
            .meta("run")?
            .ok_or_else(|| ReconcileError::Io("the work file does not say what was run".into()))?;
        serde_json::from_str(&text)
            .map_err(|e| ReconcileError::Io(format!("the work file's run record: {e}")))
    }

    /// The report stored with it.
    pub fn report(&self) -> Result<Report, ReconcileError> {
        let text = self.meta("report")?.ok_or_else(|| {
            ReconcileError::Io("the reconciliation of this work file did not finish".into())
        })?;
        serde_json::from_str(&text)
            .map_err(|e| ReconcileError::Io(format!("the work file's report: {e}")))
    }

    /// Stores the finished report: written last, so a work file with a report is whole.
    pub(super) fn store_report(&mut self, report: &Report) -> Result<(), ReconcileError> {
        self.commit()?;
        let text = serde_json::to_string(report).map_err(|e| ReconcileError::Io(e.to_string()))?;
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('report', ?1)",
                [text],
            )
            .map_err(|e| db_error(&e))?;
        Ok(())
    }

    /// Opens a transaction unless one is open.
    fn begin(&mut self) -> Result<(), ReconcileError> {
        if self.pending == 0 {
            self.conn.execute_batch("BEGIN").map_err(|e| db_error(&e))?;
        }
        Ok(())
    }

    /// Counts an inserted row; commits every [`BATCH_ROWS`].
    fn inserted(&mut self) -> Result<(), ReconcileError> {
        self.pending += 1;
        if self.pending >= BATCH_ROWS {
            self.commit()?;
        }
        Ok(())
    }

    /// Commits the rows inserted so far.
    pub(super) fn commit(&mut self) -> Result<(), ReconcileError> {
        if self.pending > 0 {
            self.pending = 0;
            self.conn
                .execute_batch("COMMIT")
                .map_err(|e| db_error(&e))?;
        }
        Ok(())
    }

    /// Adds a ledger row (committed in batches; call [`Workfile::commit`] at the end).
    pub(super) fn insert_ledger(&mut self, row: &LedgerRow) -> Result<(), ReconcileError> {
        self.begin()?;
        self.conn
            .prepare_cached(
                "INSERT INTO ledger (row, order_id, amount, status, status_text, time_secs, fee)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    row.row as i64,
                    row.order_id,
                    row.amount.fen(),
                    status_word(row.status),
                    row.status_text,
                    row.time_secs,
                    row.fee.map(Fen::fen),
                ])
            })
            .map_err(|e| db_error(&e))?;
        self.inserted()
    }

    /// Adds a gateway order under its merchant order ID.
    pub(super) fn insert_gateway(
        &mut self,
        order_id: &str,
        side: &GatewaySide,
    ) -> Result<(), ReconcileError> {
        self.begin()?;
        self.conn
            .prepare_cached(
                "INSERT INTO gateway (order_id, system_id, amount, real_amount, fee, status_code,
                     status_class, create_time_secs, update_time_secs, signature_valid, text)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    order_id,
                    side.system_id,
                    side.amount.map(Fen::fen),
                    side.real_amount.map(Fen::fen),
                    side.fee.map(Fen::fen),
                    side.status.code,
                    class_word(side.status.class()),
                    side.create_time_secs,
                    side.update_time_secs,
                    side.signature_valid,
                    side.text,
                ])
            })
            .map_err(|e| db_error(&e))?;
        self.inserted()
    }

    pub(super) fn make_indexes(&mut self) -> Result<(), ReconcileError> {
        self.commit()?;
        self.conn.execute_batch(INDEXES).map_err(|e| db_error(&e))
    }

    pub(super) fn make_diff_indexes(&mut self) -> Result<(), ReconcileError> {
        self.commit()?;
        self.conn
            .execute_batch(DIFF_INDEXES)
            .map_err(|e| db_error(&e))
    }

    /// How many rows `class` (every class when `None`) has whose order ID, system ID or detail
    /// contains `filter` (case-insensitive; empty: all).
    pub fn count(&self, class: Option<Class>, filter: &str) -> Result<u64, ReconcileError> {
        let sql = format!("SELECT COUNT(*) FROM diffs d WHERE {WHERE}");
        let n: i64 = self
            .conn
            .prepare_cached(&sql)
            .and_then(|mut s| {
                s.query_row(
                    params![class.map(Class::id), filter.to_ascii_lowercase()],
                    |r| r.get(0),
                )
            })
            .map_err(|e| db_error(&e))?;
        Ok(n.unsigned_abs())
    }

    /// A page of those rows, ordered by order ID: memory holds one page, never the class.
    pub fn page(
        &self,
        class: Option<Class>,
        filter: &str,
        offset: u64,
        limit: u32,
    ) -> Result<Vec<Difference>, ReconcileError> {
        let sql = format!("{SELECT} WHERE {WHERE} ORDER BY d.order_id, d.id LIMIT ?3 OFFSET ?4");
        let kind = self.kind;
        let offset = i64::try_from(offset).unwrap_or(i64::MAX);
        let mut stmt = self.conn.prepare_cached(&sql).map_err(|e| db_error(&e))?;
        let rows = stmt
            .query_map(
                params![
                    class.map(Class::id),
                    filter.to_ascii_lowercase(),
                    i64::from(limit),
                    offset
                ],
                |r| read_difference(r, kind),
            )
            .map_err(|e| db_error(&e))?;
        rows.map(|r| r.map_err(|e| db_error(&e))).collect()
    }
}

impl Workfile {
    /// Every row of `class` in order of order ID, handed to `each` as it is read (one
    /// statement from start to end: no page is read twice, memory holds one row).
    pub fn for_each_row(
        &self,
        class: Class,
        mut each: impl FnMut(&Difference) -> Result<(), ReconcileError>,
    ) -> Result<u64, ReconcileError> {
        let sql = format!("{SELECT} WHERE d.class = ?1 ORDER BY d.order_id, d.id");
        let kind = self.kind;
        let mut stmt = self.conn.prepare(&sql).map_err(|e| db_error(&e))?;
        let rows = stmt
            .query_map([class.id()], |r| read_difference(r, kind))
            .map_err(|e| db_error(&e))?;
        let mut n = 0u64;
        for row in rows {
            each(&row.map_err(|e| db_error(&e))?)?;
            n += 1;
        }
        Ok(n)
    }
}

/// The columns of a [`Difference`], read by `read_difference`.
const SELECT: &str = "SELECT d.class, d.order_id, d.detail, d.ledger_part, d.gateway_part,
        l.row, l.amount, l.status, l.status_text, l.time_secs, l.fee,
        g.system_id, g.amount, g.real_amount, g.fee, g.status_code,
        g.create_time_secs, g.update_time_secs, g.signature_valid, g.text,
        d.ledger_id, d.gateway_id
    FROM diffs d
    LEFT JOIN ledger l ON l.id = d.ledger_id
    LEFT JOIN gateway g ON g.id = d.gateway_id";

/// The filter of [`Workfile::count`] and [`Workfile::page`]: `?1` the class or NULL, `?2` the
/// text in lower case or empty.
const WHERE: &str = "(?1 IS NULL OR d.class = ?1)
    AND (?2 = '' OR instr(lower(d.order_id), ?2) > 0 OR instr(lower(d.system_id), ?2) > 0
         OR instr(lower(d.detail), ?2) > 0)";

fn fen(v: Option<i64>) -> Option<Fen> {
    v.map(Fen::from_fen)
}

fn read_difference(r: &rusqlite::Row<'_>, kind: OrderKind) -> rusqlite::Result<Difference> {
    let class_id: String = r.get(0)?;
    let class = Class::from_id(&class_id).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("unknown class {class_id}").into(),
        )
    })?;
    let order_id: String = r.get(1)?;
    let ledger_part: i64 = r.get(3)?;
    let gateway_part: i64 = r.get(4)?;
    let ledger = match r.get::<_, Option<i64>>(20)? {
        Some(_) => {
            let row: i64 = r.get(5)?;
            let status: String = r.get(7)?;
            Some(LedgerRow {
                row: usize::try_from(row).unwrap_or(0),
                order_id: order_id.clone(),
                amount: Fen::from_fen(r.get(6)?),
                status: status_from_word(&status),
                status_text: r.get(8)?,
                time_secs: r.get(9)?,
                fee: fen(r.get(10)?),
            })
        }
        None => None,
    };
    let gateway = match r.get::<_, Option<i64>>(21)? {
        Some(_) => Some(GatewaySide {
            system_id: r.get(11)?,
            amount: fen(r.get(12)?),
            real_amount: fen(r.get(13)?),
            fee: fen(r.get(14)?),
            status: OrderStatus {
                kind,
                code: r.get(15)?,
            },
            create_time_secs: r.get(16)?,
            update_time_secs: r.get(17)?,
            signature_valid: r.get(18)?,
            text: r.get(19)?,
        }),
        None => None,
    };
    Ok(Difference {
        class,
        order_id,
        ledger,
        gateway,
        detail: r.get(2)?,
        difference: Fen::from_fen(ledger_part.saturating_sub(gateway_part)),
    })
}
