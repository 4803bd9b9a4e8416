//! The journal proves itself before money moves: opening checks SQLite's integrity, that the
//! file is a Paydesk journal of a schema this Paydesk knows, and that every row reads; a new
//! journal is created only where no file exists. Also `journal check`, which reads a file (the
//! live journal or a copy) without migrating it; the copies themselves are in `backup`.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use serde::Serialize;

use super::payouts::{COLUMNS, entry};
use super::schema::{APPLICATION_ID, SCHEMA_VERSION, migrate};
use super::{DamageWatch, Journal, JournalError, State, account_fingerprint, mask_account};

/// How many daily copies the data directory keeps.
pub const DEFAULT_BACKUP_DAYS: usize = 14;
/// SQLite's full check: measured at about a second for 100,000 payouts, cheap enough to
/// run at every open given what it protects.
const INTEGRITY_PRAGMA: &str = "integrity_check";
/// Problems listed before the rest are only counted.
const MAX_PROBLEMS: usize = 20;

/// Where the rolling copies of a journal live.
pub fn backups_dir(journal: &Path) -> PathBuf {
    journal
        .parent()
        .unwrap_or_else(|| Path::new("."))
        .join("backups")
}

/// The daily copies, newest first.
pub(super) fn daily_copies(journal: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(backups_dir(journal))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("journal-") && n.ends_with(".sqlite3"))
                })
                .collect()
        })
        .unwrap_or_default();
    found.sort();
    found.reverse();
    found
}

/// What an operator does about a damaged journal. A console that refused the journal keeps
/// refusing it until it is started again, so a restore made beside it changes nothing it shows.
fn way_out(journal: &Path) -> String {
    let copies = daily_copies(journal);
    if copies.is_empty() {
        format!(
            "Close the console and stop every paydesk command, restore a copy made with `paydesk journal backup` using `paydesk journal restore FILE` (it keeps this file aside), then start Paydesk again; there are no automatic copies in {}.",
            backups_dir(journal).display()
        )
    } else {
        let names: Vec<String> = copies
            .iter()
            .take(3)
            .map(|p| p.display().to_string())
            .collect();
        format!(
            "Close the console and stop every paydesk command, restore from a backup with `paydesk journal restore FILE` (it keeps this file aside), then start Paydesk again; the newest automatic copies: {}.",
            names.join(", ")
        )
    }
}

pub(super) fn damaged_error(path: &Path, why: &str) -> JournalError {
    JournalError::Damaged {
        path: path.to_path_buf(),
        why: why.to_owned(),
        way_out: way_out(path),
    }
}

fn lock_path(journal: &Path) -> PathBuf {
    let mut name = journal.file_name().unwrap_or_default().to_os_string();
    name.push(".lock");
    journal.with_file_name(name)
}

/// A lock beside the journal: shared while a Paydesk has it open, exclusive while it is
/// restored. `None` where the file system has no locks (then a restore cannot tell).
pub(super) fn lock(journal: &Path, exclusive: bool) -> Result<Option<File>, JournalError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path(journal))
        .map_err(|e| JournalError::Open {
            path: journal.to_path_buf(),
            message: e.to_string(),
        })?;
    let locked = if exclusive {
        file.try_lock()
    } else {
        file.try_lock_shared()
    };
    match locked {
        Ok(()) => Ok(Some(file)),
        Err(TryLockError::WouldBlock) => Err(JournalError::Open {
            path: journal.to_path_buf(),
            message: if exclusive {
                "another Paydesk (the console or a command) has the journal open: close it first"
                    .to_owned()
            } else {
                "the journal is being restored: try again when that is done".to_owned()
            },
        }),
        Err(TryLockError::Error(_)) => Ok(None),
    }
}

pub(super) fn connect(path: &Path) -> rusqlite::Result<Connection> {
    // Never SQLITE_OPEN_CREATE: a file that vanished since it was looked at is not silently
    // replaced by an empty journal.
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    // FULL makes each commit durable before the payout is sent.
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(conn)
}

/// Refuses what is plainly not a journal before SQLite sees it.
pub(super) fn check_header(path: &Path) -> Result<(), String> {
    let meta = std::fs::metadata(path).map_err(|e| format!("it cannot be read: {e}"))?;
    if !meta.is_file() {
        return Err("it is not a file".to_owned());
    }
    if meta.len() == 0 {
        return Err("the file is empty (0 bytes)".to_owned());
    }
    let mut head = [0u8; 16];
    let read = std::io::Read::read_exact(
        &mut File::open(path).map_err(|e| format!("it cannot be read: {e}"))?,
        &mut head,
    );
    if read.is_err() || &head != b"SQLite format 3\0" {
        return Err("it is not a SQLite database".to_owned());
    }
    super::wal::check_wal(path)
}

fn integrity(conn: &Connection) -> Result<(), String> {
    let mut stmt = conn
        .prepare(&format!("PRAGMA {INTEGRITY_PRAGMA}"))
        .map_err(|e| e.to_string())?;
    let rows: Vec<String> = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(Iterator::collect)
        .map_err(|e| e.to_string())?;
    if rows.len() == 1 && rows[0] == "ok" {
        Ok(())
    } else {
        let shown: Vec<&str> = rows.iter().take(3).map(String::as_str).collect();
        Err(format!("SQLite's integrity check: {}", shown.join("; ")))
    }
}

/// `(application_id, user_version, tables)`.
fn identity(conn: &Connection) -> Result<(i64, i64, Vec<String>), String> {
    let app: i64 = conn
        .pragma_query_value(None, "application_id", |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .map_err(|e| e.to_string())?;
    let tables = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| e.to_string())?;
    Ok((app, version, tables))
}

/// Whether a file of this identity is a Paydesk journal this Paydesk can use.
fn judge_identity(
    path: &Path,
    (app, version, tables): &(i64, i64, Vec<String>),
) -> Result<(), JournalError> {
    if *version > SCHEMA_VERSION {
        return Err(JournalError::NewerSchema {
            path: path.to_path_buf(),
            found: *version,
            supported: SCHEMA_VERSION,
        });
    }
    let ours = *app == APPLICATION_ID
        // From before the application ID was set: a journal has its payouts table.
        || (*app == 0 && *version == 0 && (tables.is_empty() || tables.iter().any(|t| t == "payouts")));
    if ours {
        Ok(())
    } else {
        Err(damaged_error(
            path,
            &format!("it is not a Paydesk journal (application ID {app:#x})"),
        ))
    }
}

/// Creates a journal where none exists: built aside, then linked into place, so that no
/// other process ever sees a half-made (or empty) journal, and an existing one is never
/// replaced.
fn create_new(path: &Path) -> Result<(), JournalError> {
    let fail = |message: String| JournalError::Open {
        path: path.to_path_buf(),
        message,
    };
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(
        ".new-{}-{}",
        std::process::id(),
        &crate::clock::NonceSource::nonce(&crate::clock::RandomNonce)[..8]
    ));
    let temp = path.with_file_name(name);
    let made = (|| -> rusqlite::Result<()> {
        let mut conn = Connection::open(&temp)?;
        // WAL keeps readers (the console) off the writer's back; it is kept in the file.
        conn.pragma_update(None, "journal_mode", "WAL")?;
        migrate(&mut conn)?;
        conn.close().map_err(|(_, e)| e)
    })();
    let linked = made.map_err(|e| e.to_string()).and_then(|()| {
        match std::fs::hard_link(&temp, path) {
            Ok(()) => Ok(()),
            // Another Paydesk made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
            // No hard links here: a rename, checked first (a small window, but never over a
            // file that is there).
            Err(_) if !path.exists() => std::fs::rename(&temp, path).map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        }
    });
    for leftover in ["", "-wal", "-shm"] {
        let mut p = temp.clone().into_os_string();
        p.push(leftover);
        let _ = std::fs::remove_file(p);
    }
    linked.map_err(fail)
}

/// Opens and proves a journal (see [`Journal::open`]).
pub(super) fn open(path: &Path) -> Result<Journal, JournalError> {
    let fail = |message: String| JournalError::Open {
        path: path.to_path_buf(),
        message,
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| fail(e.to_string()))?;
    }
    let lock = lock(path, false)?;
    match std::fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_new(path)?,
        _ => check_header(path).map_err(|why| damaged_error(path, &why))?,
    }
    let conn = connect(path).map_err(|e| damaged_error(path, &e.to_string()))?;
    let mut journal = Journal {
        conn,
        path: path.to_path_buf(),
        damaged: DamageWatch::default(),
        _lock: lock,
        team: None,
    };
    prove(&mut journal)?;
    Ok(journal)
}

fn prove(j: &mut Journal) -> Result<(), JournalError> {
    let path = j.path.clone();
    let bad = |why: String| damaged_error(&path, &why);
    integrity(&j.conn).map_err(bad)?;
    let id = identity(&j.conn).map_err(bad)?;
    judge_identity(&path, &id)?;
    migrate(&mut j.conn).map_err(|e| bad(e.to_string()))?;
    j.conn
        .pragma_update(None, "journal_mode", "WAL")
        .map_err(|e| bad(e.to_string()))?;
    let seen = inspect(j);
    if let Some(first) = seen.problems.first() {
        let more = seen.problems.len() - 1;
        return Err(bad(if more == 0 {
            first.clone()
        } else {
            format!("{first}; and {more} more problem(s): `paydesk journal check` lists them")
        }));
    }
    Ok(())
}

/// What reading every row found.
#[derive(Default)]
struct Inspection {
    payouts: BTreeMap<String, usize>,
    batches: BTreeMap<String, usize>,
    audit_entries: usize,
    problems: Vec<String>,
}

impl Inspection {
    fn problem(&mut self, p: String) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(p);
        } else if self.problems.len() == MAX_PROBLEMS {
            self.problems.push("more problems not listed".to_owned());
        }
    }
}

/// Reads every row as the program will: a row that cannot be read, or whose columns
/// disagree with the request it records, makes the journal damaged.
fn inspect(j: &Journal) -> Inspection {
    let mut seen = Inspection::default();
    if let Err(e) = inspect_payouts(j, &mut seen) {
        seen.problem(format!("the payouts cannot be read: {e}"));
    }
    if let Err(e) = inspect_batches(j, &mut seen) {
        seen.problem(format!("the GatePay batches cannot be read: {e}"));
    }
    match j.verify_audit() {
        Ok(super::AuditCheck::Intact(n)) => seen.audit_entries = n,
        Ok(super::AuditCheck::BrokenAt(id)) => seen.problem(format!(
            "audit entry {id} does not fit the hash chain (edited or damaged)"
        )),
        Err(e) => seen.problem(format!("the audit log cannot be read: {e}")),
    }
    seen
}

/// The columns [`read_checked_payout`] reads.
pub(super) fn checked_payout_columns() -> String {
    format!("{COLUMNS}, account_fingerprint")
}

/// Reads a payout row selected as [`checked_payout_columns`] as the program will, and checks
/// that its columns agree with the request it records.
pub(super) fn read_checked_payout(r: &rusqlite::Row) -> Result<super::Entry, String> {
    let id: i64 = r.get(0).unwrap_or_default();
    let e = entry(r).map_err(|err| format!("payout row {id} does not read: {err}"))?;
    let q = &e.request;
    // The fingerprint is selected after every column `entry` reads.
    let fingerprint: Option<String> = r.get(COLUMNS.split(',').count()).ok();
    let agree = q.payout_cl_id == e.payout_cl_id
        && q.amount == e.amount
        && q.name == e.recipient_name
        && q.bank_name == e.bank_name
        && mask_account(&q.number) == e.account_masked
        && fingerprint.as_deref() == Some(account_fingerprint(&q.number).as_str())
        && !e.merchant.is_empty();
    if agree {
        Ok(e)
    } else {
        Err(format!(
            "payout row {id} ({}) disagrees with the request it records",
            e.payout_cl_id
        ))
    }
}

fn inspect_payouts(j: &Journal, seen: &mut Inspection) -> rusqlite::Result<()> {
    let mut stmt = j.conn.prepare(&format!(
        "SELECT {} FROM payouts ORDER BY id",
        checked_payout_columns()
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        match read_checked_payout(r) {
            Ok(e) => *seen.payouts.entry(e.state.as_str().to_owned()).or_default() += 1,
            Err(p) => seen.problem(p),
        }
    }
    Ok(())
}

/// The columns [`read_checked_batch`] reads.
pub(super) const CHECKED_BATCH_COLUMNS: &str = "id, batch_id, state, body, body_sha256, merchant, \
    sub_orders, is_final, attempts, checks, created_at, updated_at";

/// Reads a GatePay batch row selected as [`CHECKED_BATCH_COLUMNS`]: its state, or what is
/// wrong with it.
pub(super) fn read_checked_batch(r: &rusqlite::Row) -> Result<String, String> {
    let id: i64 = r.get(0).unwrap_or_default();
    let read = (|| -> rusqlite::Result<Result<String, String>> {
        let batch_id: String = r.get(1)?;
        let state: String = r.get(2)?;
        let body: String = r.get(3)?;
        let hash: String = r.get(4)?;
        let _: (String, i64, i64, i64, i64, i64, i64) = (
            r.get(5)?,
            r.get(6)?,
            r.get(7)?,
            r.get(8)?,
            r.get(9)?,
            r.get(10)?,
            r.get(11)?,
        );
        Ok(if State::parse(&state).is_none() {
            Err(format!("batch {batch_id} has an unknown state {state:?}"))
        } else if super::sha256_hex(body.as_bytes()) != hash
            || serde_json::from_str::<serde_json::Value>(&body).is_err()
        {
            Err(format!(
                "batch {batch_id}'s recorded body does not match its hash"
            ))
        } else {
            Ok(state)
        })
    })();
    match read {
        Ok(Ok(state)) => Ok(state),
        Ok(Err(p)) => Err(format!("GatePay batch row {id}: {p}")),
        Err(e) => Err(format!("GatePay batch row {id} does not read: {e}")),
    }
}

fn inspect_batches(j: &Journal, seen: &mut Inspection) -> rusqlite::Result<()> {
    let mut stmt = j.conn.prepare(&format!(
        "SELECT {CHECKED_BATCH_COLUMNS} FROM gatepay_batches ORDER BY id"
    ))?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        match read_checked_batch(r) {
            Ok(state) => *seen.batches.entry(state).or_default() += 1,
            Err(p) => seen.problem(p),
        }
    }
    Ok(())
}

/// The payouts of a journal that was refused, as far as they read: for showing, never for
/// sending. Returns the rows that read and how many did not (a scan that SQLite stops counts
/// as one).
pub fn read_what_reads(path: &Path) -> (Vec<super::Entry>, usize) {
    let mut read = Vec::new();
    let mut unreadable = 0;
    if check_header(path).is_err() {
        return (read, 0);
    }
    let Ok(conn) = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    ) else {
        return (read, 0);
    };
    let Ok(mut stmt) = conn.prepare(&format!("SELECT {COLUMNS} FROM payouts ORDER BY id DESC"))
    else {
        return (read, 1);
    };
    let Ok(mut rows) = stmt.query([]) else {
        return (read, 1);
    };
    loop {
        match rows.next() {
            Ok(Some(r)) => match entry(r) {
                Ok(e) => read.push(e),
                Err(_) => unreadable += 1,
            },
            Ok(None) => break,
            Err(_) => {
                unreadable += 1;
                break;
            }
        }
    }
    (read, unreadable)
}

/// What `paydesk journal check` reports.
#[derive(Clone, Debug, Serialize)]
pub struct CheckReport {
    pub path: PathBuf,
    pub healthy: bool,
    pub schema_version: Option<i64>,
    /// Payouts by state.
    pub payouts: BTreeMap<String, usize>,
    /// GatePay batches by state.
    pub batches: BTreeMap<String, usize>,
    /// Audit entries whose hash chain holds.
    pub audit_entries: usize,
    pub problems: Vec<String>,
    /// What to do when it is not healthy.
    pub way_out: Option<String>,
}

/// Checks a journal file (the live one or a copy) without migrating it: integrity, schema
/// version, every row read, the audit chain.
pub fn check_file(path: &Path) -> CheckReport {
    let mut report = CheckReport {
        path: path.to_path_buf(),
        healthy: false,
        schema_version: None,
        payouts: BTreeMap::new(),
        batches: BTreeMap::new(),
        audit_entries: 0,
        problems: Vec::new(),
        way_out: None,
    };
    let checked = (|| -> Result<(), String> {
        if !path.exists() {
            return Err("there is no journal file".to_owned());
        }
        check_header(path)?;
        let conn = connect(path).map_err(|e| e.to_string())?;
        integrity(&conn)?;
        let id = identity(&conn)?;
        report.schema_version = Some(id.1);
        judge_identity(path, &id).map_err(|e| match e {
            JournalError::Damaged { why, .. } => why,
            other => other.to_string(),
        })?;
        if id.2.is_empty() {
            return Ok(());
        }
        let j = Journal {
            conn,
            path: path.to_path_buf(),
            damaged: DamageWatch::default(),
            _lock: None,
            team: None,
        };
        let seen = inspect(&j);
        report.payouts = seen.payouts;
        report.batches = seen.batches;
        report.audit_entries = seen.audit_entries;
        report.problems = seen.problems;
        Ok(())
    })();
    if let Err(p) = checked {
        report.problems.insert(0, p);
    }
    report.healthy = report.problems.is_empty();
    if !report.healthy {
        report.way_out = Some(way_out(path));
        tracing::info!(
            target: "paydesk::journal",
            file = %path.display(),
            problems = report.problems.len(),
            first = report.problems[0].as_str(),
            "the journal check found problems"
        );
    }
    report
}
