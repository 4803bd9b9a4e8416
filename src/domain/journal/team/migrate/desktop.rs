//! The desktop journal as a migration reads it: read-only, one snapshot, under the lock a
//! restore takes; its audit chain walked and its contents counted before anything is written.

use std::path::Path;

use rusqlite::{Connection, OpenFlags};

use super::{LeftBehind, OLDEST_SOURCE_SCHEMA, refuse};
use crate::domain::journal::health::{check_header, lock};
use crate::domain::journal::team::TeamError;
use crate::domain::journal::{APPLICATION_ID, AuditCheck, SCHEMA_VERSION, audit_hash, journal_id};

/// The desktop journal, open read-only in one read transaction (one snapshot throughout),
/// under the exclusive lock beside it.
pub(super) struct Desktop {
    pub(super) conn: Connection,
    _lock: Option<std::fs::File>,
}

impl Desktop {
    pub(super) fn open(path: &Path) -> Result<Desktop, TeamError> {
        check_header(path).map_err(|why| refuse(path, why))?;
        // Exclusive: no Paydesk has it open, so nothing is sent from it while it is copied.
        let lock = lock(path, true).map_err(|e| refuse(path, e))?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| refuse(path, e))?;
        let sql = |e: rusqlite::Error| refuse(path, e);
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql)?;
        let integrity: Vec<String> = conn
            .prepare("PRAGMA integrity_check")
            .and_then(|mut s| s.query_map([], |r| r.get(0))?.take(3).collect())
            .map_err(sql)?;
        if integrity != ["ok"] {
            return Err(refuse(
                path,
                format!("SQLite's integrity check: {}", integrity.join("; ")),
            ));
        }
        let app: i64 = conn
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(sql)?;
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(sql)?;
        if app != APPLICATION_ID {
            return Err(refuse(
                path,
                format!("it is not a Paydesk journal (application ID {app:#x})"),
            ));
        }
        if version > SCHEMA_VERSION {
            return Err(refuse(
                path,
                format!(
                    "it was written by a newer Paydesk (schema version {version}; this one knows up to {SCHEMA_VERSION})"
                ),
            ));
        }
        if version < OLDEST_SOURCE_SCHEMA {
            return Err(refuse(
                path,
                format!(
                    "it is at schema version {version}: open it once with this Paydesk (any `paydesk payout list` \
                     with PAYDESK_DATA_DIR set to its folder) to bring it up to date"
                ),
            ));
        }
        conn.execute_batch("BEGIN").map_err(sql)?;
        Ok(Desktop { conn, _lock: lock })
    }

    /// Whether the desktop chain holds an entry of this hash.
    pub(super) fn has_audit_entry(&self, hash: &str) -> Result<bool, TeamError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM audit WHERE hash = ?1)",
                [hash],
                |r| r.get(0),
            )
            .map_err(|e| TeamError::Refused(format!("the desktop journal cannot be read: {e}")))
    }

    fn has_table(&self, name: &str) -> rusqlite::Result<bool> {
        self.conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?1)",
            [name],
            |r| r.get(0),
        )
    }

    fn count(&self, table: &str) -> rusqlite::Result<usize> {
        if !self.has_table(table)? {
            return Ok(0);
        }
        let n: i64 = self
            .conn
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    /// Everything known before a byte is written: the chain walked, the counts, the ID.
    pub(super) fn survey(&self) -> Result<Survey, TeamError> {
        let read = |e: rusqlite::Error| {
            TeamError::Refused(format!("the desktop journal cannot be read: {e}"))
        };
        let (chain, head) = self.walk_chain().map_err(read)?;
        let entries = match chain {
            AuditCheck::Intact(n) => n,
            AuditCheck::BrokenAt(_) => 0,
        };
        let source_id = journal_id(&self.conn).map_err(read)?.ok_or_else(|| {
            TeamError::Refused(
                "the desktop journal has no journal ID: open it once with this Paydesk (any `paydesk payout \
                 list` with PAYDESK_DATA_DIR set to its folder) to bring it up to date"
                    .into(),
            )
        })?;

        Ok(Survey {
            source_id,
            chain,
            entries,
            head,
            payouts: self.count("payouts").map_err(read)?,
            batches: self.count("gatepay_batches").map_err(read)?,
            attempts: self.count("attempts").map_err(read)?,
            left: LeftBehind {
                notifications: self.count("notifications").map_err(read)?,
                restore_gaps: self.count("restore_gaps").map_err(read)?,
            },
        })
    }

    /// Walks the desktop chain: the verdict and the last entry's hash.
    fn walk_chain(&self) -> rusqlite::Result<(AuditCheck, Option<String>)> {
        let mut stmt = self.conn.prepare(
            "SELECT id, at, actor, action, detail, prev_hash, hash FROM audit ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut prev = String::new();
        let mut count = 0;
        while let Some(r) = rows.next()? {
            let a = AuditRow::read(r)?;
            if a.prev_hash != prev || a.hash != a.recomputed(&prev) {
                return Ok((AuditCheck::BrokenAt(a.id), None));
            }
            prev = a.hash;
            count += 1;
        }
        Ok((AuditCheck::Intact(count), (count > 0).then_some(prev)))
    }
}

/// What the first pass over the desktop journal found.
pub(super) struct Survey {
    pub(super) source_id: String,
    pub(super) chain: AuditCheck,
    pub(super) entries: usize,
    pub(super) head: Option<String>,
    pub(super) payouts: usize,
    pub(super) batches: usize,
    pub(super) attempts: usize,
    pub(super) left: LeftBehind,
}

pub(super) struct AuditRow {
    pub(super) id: i64,
    pub(super) at: i64,
    pub(super) actor: String,
    pub(super) action: String,
    pub(super) detail: String,
    pub(super) prev_hash: String,
    pub(super) hash: String,
}

impl AuditRow {
    pub(super) fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<AuditRow> {
        Ok(AuditRow {
            id: r.get(0)?,
            at: r.get(1)?,
            actor: r.get(2)?,
            action: r.get(3)?,
            detail: r.get(4)?,
            prev_hash: r.get(5)?,
            hash: r.get(6)?,
        })
    }

    pub(super) fn recomputed(&self, prev: &str) -> String {
        audit_hash(prev, self.at, &self.actor, &self.action, &self.detail)
    }
}
