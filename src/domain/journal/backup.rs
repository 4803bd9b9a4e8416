//! The checked copies of a journal: `journal backup`, the rolling daily copy in the data
//! directory, and `journal restore`. A copy is checked before it is moved into place.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, MAIN_DB, TransactionBehavior, params};
use serde::Serialize;

use super::health::{CheckReport, backups_dir, check_file, connect, daily_copies, lock};
use super::schema::migrate;
use super::{DamageWatch, Journal, JournalError};

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

fn remove_with_sidecars(path: &Path) {
    for s in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(sibling(path, s));
    }
}

/// Copies a connection's database to `dest` with SQLite's online backup, checks the copy,
/// and only then moves it into place.
fn copy_checked(conn: &Connection, dest: &Path) -> Result<CheckReport, JournalError> {
    let partial = sibling(dest, &format!(".partial-{}", std::process::id()));
    remove_with_sidecars(&partial);
    let copied = conn.backup(MAIN_DB, &partial, None::<fn(rusqlite::backup::Progress)>);
    if let Err(e) = copied {
        remove_with_sidecars(&partial);
        return Err(JournalError::Backup(format!(
            "the copy to {} failed: {e}",
            dest.display()
        )));
    }
    let mut report = check_file(&partial);
    if !report.healthy {
        remove_with_sidecars(&partial);
        return Err(JournalError::Backup(format!(
            "the copy to {} did not check ({}); nothing was kept",
            dest.display(),
            report.problems.join("; ")
        )));
    }
    std::fs::rename(&partial, dest).map_err(|e| {
        JournalError::Backup(format!(
            "the copy could not be moved to {}: {e}",
            dest.display()
        ))
    })?;
    remove_with_sidecars(&partial);
    report.path = dest.to_path_buf();
    Ok(report)
}

impl Journal {
    /// Writes a checked copy of the journal to `dest` (which must not exist yet).
    pub fn backup_to(&self, dest: &Path) -> Result<CheckReport, JournalError> {
        if dest.exists() {
            return Err(JournalError::Backup(format!(
                "{} exists already: choose a new file name",
                dest.display()
            )));
        }
        copy_checked(&self.conn, dest)
    }

    /// The rolling copy `backups/journal-YYYY-MM-DD.sqlite3`: made when none exists for today
    /// (or, after a send session, made again), keeping the newest `keep` days. Never from a
    /// journal known to be damaged.
    pub fn rolling_backup(
        &self,
        keep: usize,
        after_send: bool,
    ) -> Result<Option<PathBuf>, JournalError> {
        if keep == 0 || self.damaged.why().is_some() {
            return Ok(None);
        }
        let dir = backups_dir(&self.path);
        std::fs::create_dir_all(&dir)
            .map_err(|e| JournalError::Backup(format!("{}: {e}", dir.display())))?;
        let today = jiff::Zoned::now().strftime("%Y-%m-%d").to_string();
        let dest = dir.join(format!("journal-{today}.sqlite3"));
        if dest.exists() && !after_send {
            return Ok(None);
        }
        copy_checked(&self.conn, &dest)?;
        for old in daily_copies(&self.path).into_iter().skip(keep) {
            let _ = std::fs::remove_file(old);
        }
        Ok(Some(dest))
    }
}

/// What `paydesk journal restore` did.
#[derive(Clone, Debug, Serialize)]
pub struct RestoreReport {
    pub restored_from: PathBuf,
    /// Where the journal that was replaced now is.
    pub kept_aside: Option<PathBuf>,
    /// Rows that were not known to be settled: now unknown, each looked up at the gateway
    /// before anything is sent again.
    pub to_look_up: usize,
    pub check: CheckReport,
}

/// Why a restored row is unknown.
const RESTORED_WHY: &str =
    "the journal was restored from a copy: looked up at the gateway before anything is sent again";

/// Replaces the journal at `journal` by a checked copy of `from`. The replaced file is kept
/// aside as `journal.sqlite3.damaged-<time>`. Every row not known settled becomes unknown,
/// so that what was sent after the copy was made is looked up, never sent again blind.
pub fn restore(journal: &Path, from: &Path, actor: &str) -> Result<RestoreReport, JournalError> {
    let source = check_file(from);
    if !source.healthy {
        return Err(JournalError::Backup(format!(
            "{} is not a healthy journal ({}); nothing was restored",
            from.display(),
            source.problems.join("; ")
        )));
    }
    if let Some(dir) = journal.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| JournalError::Backup(format!("{}: {e}", dir.display())))?;
    }
    let _held = lock(journal, true)?;
    let staging = sibling(journal, &format!(".restoring-{}", std::process::id()));
    remove_with_sidecars(&staging);
    let staged = (|| -> Result<usize, JournalError> {
        let src = connect(from)?;
        src.backup(MAIN_DB, &staging, None::<fn(rusqlite::backup::Progress)>)?;
        drop(src);
        let mut conn = connect(&staging)?;
        migrate(&mut conn)?;
        let now = jiff::Timestamp::now().as_second();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut n = 0;
        for table in ["payouts", "gatepay_batches"] {
            n += tx.execute(
                &format!(
                    "UPDATE {table} SET state = 'unknown', unknown_why = ?1, next_check_at = NULL, claimed_by = NULL,
                        updated_at = ?2 WHERE state IN ('queued', 'sending', 'not-created')"
                ),
                params![RESTORED_WHY, now],
            )?;
        }
        tx.commit()?;
        let mut j = Journal {
            conn,
            path: staging.clone(),
            damaged: DamageWatch::default(),
            _lock: None,
        };
        j.audit(
            actor,
            "journal restored",
            &format!("from {}; {n} row(s) to look up", from.display()),
            now,
        )?;
        Ok(n)
    })();
    let to_look_up = match staged {
        Ok(n) => n,
        Err(e) => {
            remove_with_sidecars(&staging);
            return Err(e);
        }
    };
    let check = check_file(&staging);
    if !check.healthy {
        remove_with_sidecars(&staging);
        return Err(JournalError::Backup(format!(
            "the restored copy did not check ({}); nothing was restored",
            check.problems.join("; ")
        )));
    }
    let kept_aside = if journal.exists() {
        let time = jiff::Zoned::now().strftime("%Y%m%dT%H%M%S").to_string();
        let mut aside = sibling(journal, &format!(".damaged-{time}"));
        if aside.exists() {
            // Never over an earlier file kept aside.
            aside = sibling(journal, &format!(".damaged-{time}-{}", std::process::id()));
        }
        std::fs::rename(journal, &aside)
            .map_err(|e| JournalError::Backup(format!("{}: {e}", journal.display())))?;
        // The write-ahead log belongs to the file set aside.
        let _ = std::fs::rename(sibling(journal, "-wal"), sibling(&aside, "-wal"));
        let _ = std::fs::remove_file(sibling(journal, "-shm"));
        Some(aside)
    } else {
        None
    };
    std::fs::rename(&staging, journal)
        .map_err(|e| JournalError::Backup(format!("{}: {e}", journal.display())))?;
    remove_with_sidecars(&staging);
    Ok(RestoreReport {
        restored_from: from.to_path_buf(),
        kept_aside,
        to_look_up,
        check: CheckReport {
            path: journal.to_path_buf(),
            ..check
        },
    })
}
