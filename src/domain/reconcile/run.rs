//! One reconciliation from start to end: the ledger read into the work file, the gateway's
//! orders of the period and its margins streamed into it, every ID classified, the report.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::tz::TimeZone;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::classify::{Rules, classify, totals};
use super::ledger::{LedgerProblem, LedgerRow, read_headers, read_ledger};
use super::mapping::Mapping;
use super::store::{GatewaySide, RunRecord, Workfile};
use super::{ReconcileError, Report};
use crate::domain::search::{StreamOptions, stream_orders};
use crate::domain::sheet::Limits;
use crate::gateway::cny::client::CnyClient;
use crate::gateway::cny::wire::{Order, OrderKind, OrderQuery, TimeRange};

/// The period reconciled, inclusive, in Unix seconds (from the operator's dates in their zone).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
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
///
/// Refused when the profile has no MD5 key: a reconciliation that cannot check the
/// gateway's signatures must not call anything matched. Dropping the future cancels it; the
/// report is written last, so an interrupted work file is never taken for a finished one.
pub async fn reconcile(
    client: &CnyClient,
    request: &Request,
    now_secs: i64,
    progress: impl Fn(Stage) + Send + Sync + 'static,
) -> Result<Report, ReconcileError> {
    if same_file(&request.ledger, &request.workfile) {
        return Err(ReconcileError::Io(format!(
            "the work file {} is the ledger itself: choose another path (the ledger is never \
             overwritten)",
            request.workfile.display()
        )));
    }
    if client.config().md5_key.is_none() {
        return Err(ReconcileError::Gateway(
            "this profile has no MD5 key, so the gateway's signatures cannot be checked and \
             nothing could be called matched: add the key to the profile first"
                .to_owned(),
        ));
    }
    let progress = Arc::new(progress);
    let (file, ledger_sha256) = {
        let (request, progress) = (request.clone(), Arc::clone(&progress));
        tokio::task::spawn_blocking(move || load_ledger(&request, &*progress))
            .await
            .map_err(joined)??
    };
    let (file, count_note) = fetch_gateway(client, request, now_secs, file, &progress).await?;
    let rules = Rules {
        period: request.period,
        compare_with: request.mapping.compare_with,
        fee_mapped: request.mapping.fee.is_some(),
    };
    progress(Stage::Classifying);
    tokio::task::spawn_blocking(move || {
        let mut file = file;
        finish(&mut file, &rules, ledger_sha256, count_note)
    })
    .await
    .map_err(joined)?
}

#[allow(clippy::needless_pass_by_value)] // the shape `map_err` hands it
fn joined(e: tokio::task::JoinError) -> ReconcileError {
    ReconcileError::Io(format!("the reconciliation stopped: {e}"))
}

/// The day (`YYYY-MM-DD`) of `secs` in `tz`.
fn day(secs: i64, tz: &TimeZone) -> String {
    jiff::Timestamp::from_second(secs).map_or_else(
        |_| secs.to_string(),
        |t| t.to_zoned(tz.clone()).date().to_string(),
    )
}

/// What the work file records of `request`.
pub fn run_record(request: &Request) -> RunRecord {
    RunRecord {
        kind: request.kind,
        period: request.period,
        from_date: day(request.period.from_secs, &request.tz),
        to_date: day(request.period.to_secs, &request.tz),
        timezone: request.tz_name.clone(),
        margin_secs: request.margin_secs,
        mapping: request.mapping.clone(),
        ledger_file: request
            .ledger
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
    }
}

/// The ledger file's bytes, read at most once and within the size limit.
fn read_bytes(path: &Path, max_bytes: u64) -> Result<Vec<u8>, ReconcileError> {
    let cannot =
        |e: std::io::Error| ReconcileError::Ledger(format!("cannot read {}: {e}", path.display()));
    let too_big = || {
        ReconcileError::Ledger(format!(
            "{} is larger than the limit of {max_bytes} bytes (PAYDESK_MAX_FILE_MB raises it)",
            path.display()
        ))
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    if file.metadata().map_err(cannot)?.len() > max_bytes {
        return Err(too_big());
    }
    let mut bytes = Vec::new();
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_big());
    }
    Ok(bytes)
}

/// The problems of a ledger, one line each: `row 7, column C: …`.
fn problems_text(problems: &[LedgerProblem]) -> String {
    let lines: Vec<String> = problems
        .iter()
        .map(|p| match (&p.column, p.row) {
            (Some(c), r) if r > 0 => format!("row {r}, column {c}: {}", p.message),
            (Some(c), _) => format!("column {c}: {}", p.message),
            (None, r) if r > 0 => format!("row {r}: {}", p.message),
            (None, _) => p.message.clone(),
        })
        .collect();
    lines.join("\n")
}

/// Reads the ledger into a new work file; returns it with the SHA-256 of the file's bytes.
fn load_ledger(
    request: &Request,
    progress: &dyn Fn(Stage),
) -> Result<(Workfile, String), ReconcileError> {
    let bytes = read_bytes(&request.ledger, request.limits.max_file_bytes)?;
    let sha256 = hex::encode(Sha256::digest(&bytes));
    let record = run_record(request);
    let mut file = Workfile::create(&request.workfile, &record)?;
    let mut failed = None;
    let mut rows = 0u64;
    progress(Stage::ReadingLedger { rows });
    let read = read_ledger(
        &record.ledger_file,
        &bytes,
        &request.mapping,
        &request.tz,
        &request.limits,
        |row| {
            if failed.is_some() {
                return;
            }
            if let Err(e) = file.insert_ledger(&row) {
                failed = Some(e);
                return;
            }
            rows += 1;
            if rows.is_multiple_of(PROGRESS_ROWS) {
                progress(Stage::ReadingLedger { rows });
            }
        },
    );
    if let Err(problems) = read {
        return Err(ledger_error(
            &record.ledger_file,
            &bytes,
            &request.limits,
            &problems,
        ));
    }
    if let Some(e) = failed {
        return Err(e);
    }
    file.commit()?;
    progress(Stage::ReadingLedger { rows });
    Ok((file, sha256))
}

/// Rows between two progress reports while reading the ledger.
const PROGRESS_ROWS: u64 = 10_000;

/// A mapping that does not fit (one problem, not of a cell, while the header reads) is told
/// apart from rows that cannot be read, and lists the file's headers.
fn ledger_error(
    name: &str,
    bytes: &[u8],
    limits: &Limits,
    problems: &[LedgerProblem],
) -> ReconcileError {
    if let [only] = problems
        && only.column.is_none()
        && only.row > 0
        && let Ok(headers) = read_headers(name, bytes, limits)
    {
        return ReconcileError::Mapping(format!(
            "{}; the file's columns are: {}",
            only.message,
            headers.join(", ")
        ));
    }
    let n = problems.len();
    ReconcileError::Ledger(format!(
        "{n} problem{} found:\n{}",
        if n == 1 { "" } else { "s" },
        problems_text(problems)
    ))
}

/// Streams the gateway's orders of the period and its margins into the work file; returns it
/// with what the gateway's counts said, when they disagree.
async fn fetch_gateway(
    client: &CnyClient,
    request: &Request,
    now_secs: i64,
    file: Workfile,
    progress: &Arc<impl Fn(Stage) + Send + Sync + 'static>,
) -> Result<(Workfile, Option<String>), ReconcileError> {
    let range = TimeRange {
        from_secs: request.period.from_secs.saturating_sub(request.margin_secs),
        to_secs: request
            .period
            .to_secs
            .saturating_add(request.margin_secs)
            .min(now_secs.saturating_sub(1)),
    };
    progress(Stage::FetchingGateway { done: 0, total: 0 });
    if range.from_secs > range.to_secs {
        // The period lies in the future: the gateway has nothing yet.
        return Ok((file, None));
    }
    let query = OrderQuery {
        created: Some(range),
        ..OrderQuery::default()
    };
    let (tx, mut rx) = mpsc::channel::<Vec<Order>>(2);
    let writer = tokio::task::spawn_blocking(move || {
        let mut file = file;
        while let Some(page) = rx.blocking_recv() {
            for order in &page {
                file.insert_gateway(&order.merchant_id, &GatewaySide::from_order(order))?;
            }
        }
        file.commit()?;
        Ok::<_, ReconcileError>(file)
    });
    let fetch_progress = Arc::clone(progress);
    let streamed = stream_orders(
        client,
        request.kind,
        &query,
        now_secs,
        request.stream,
        move |done, total| fetch_progress(Stage::FetchingGateway { done, total }),
        &tx,
    )
    .await;
    drop(tx);
    // The writer's own failure first: the fetch then only saw its reader stop.
    let file = writer.await.map_err(joined)??;
    let summary = streamed.map_err(|e| ReconcileError::Gateway(e.to_string()))?;
    Ok((file, summary.count_note()))
}

/// Classifies, totals and stores the report (last) in the work file.
fn finish(
    file: &mut Workfile,
    rules: &Rules,
    ledger_sha256: String,
    count_note: Option<String>,
) -> Result<Report, ReconcileError> {
    classify(file, rules)?;
    let (classes, ledger_sum, gateway_sum) = totals(file, rules)?;
    let conn = file.conn();
    let db = |e: rusqlite::Error| super::store::db_error(&e);
    let count = |table: &str| -> Result<u64, ReconcileError> {
        conn.query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| {
            r.get::<_, i64>(0)
        })
        .map(i64::unsigned_abs)
        .map_err(db)
    };
    let ledger_rows = count("ledger")?;
    let gateway_orders = count("gateway")?;
    let mut hasher = Sha256::new();
    {
        let mut stmt = conn
            .prepare("SELECT text FROM gateway ORDER BY system_id")
            .map_err(db)?;
        let mut rows = stmt.query([]).map_err(db)?;
        while let Some(row) = rows.next().map_err(db)? {
            let text =
                row.get_ref(0).map_err(db)?.as_str().map_err(|e| {
                    ReconcileError::Io(format!("the work file is inconsistent: {e}"))
                })?;
            hasher.update(text.as_bytes());
            hasher.update(b"\n");
        }
    }
    let report = Report {
        kind: file.kind(),
        period: rules.period,
        ledger_sum,
        gateway_sum,
        classes,
        ledger_rows,
        gateway_orders,
        ledger_sha256,
        gateway_sha256: hex::encode(hasher.finalize()),
        count_note,
    };
    file.store_report(&report)?;
    Ok(report)
}

/// Reconciles rows already at hand (tests, benchmarks, the sandbox's own checks): the ledger's
/// rows and the gateway's orders (each with its merchant order ID) go into a new work file at
/// `path`, then classified as [`reconcile`] does. `ledger_sha256` is recorded as given.
pub fn reconcile_rows(
    path: &Path,
    record: &RunRecord,
    ledger: impl IntoIterator<Item = LedgerRow>,
    gateway: impl IntoIterator<Item = (String, GatewaySide)>,
    ledger_sha256: String,
) -> Result<(Workfile, Report), ReconcileError> {
    let mut file = Workfile::create(path, record)?;
    for row in ledger {
        file.insert_ledger(&row)?;
    }
    for (order_id, side) in gateway {
        file.insert_gateway(&order_id, &side)?;
    }
    file.commit()?;
    let rules = Rules {
        period: record.period,
        compare_with: record.mapping.compare_with,
        fee_mapped: record.mapping.fee.is_some(),
    };
    let report = finish(&mut file, &rules, ledger_sha256, None)?;
    Ok((file, report))
}

/// Whether `other` (which may not exist yet) names the same file as `existing`: the ledger an
/// operator gives is never overwritten by a work file or an export named like it.
pub fn same_file(existing: &std::path::Path, other: &std::path::Path) -> bool {
    let Ok(a) = std::fs::canonicalize(existing) else {
        return false;
    };
    let b = std::fs::canonicalize(other).or_else(|_| {
        let name = other.file_name().ok_or(std::io::ErrorKind::InvalidInput)?;
        let parent = match other.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => std::path::Path::new("."),
        };
        std::fs::canonicalize(parent).map(|p| p.join(name))
    });
    b.is_ok_and(|b| a == b)
}

/// The folder of this process's reconciliations under `base`: two console windows (two
/// processes) never share a ledger copy or a work file. Nothing is created here.
pub fn process_dir(base: &std::path::Path) -> std::path::PathBuf {
    base.join(format!("window-{}", std::process::id()))
}

/// Removes the folders of [`process_dir`] whose process has ended (their work files are only
/// read by the window that made them). Best effort: what cannot be removed stays.
pub fn clear_ended_process_dirs(base: &std::path::Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for entry in entries.flatten().take(1000) {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("window-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !crate::domain::journal::pid_alive(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}
