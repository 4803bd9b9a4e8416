//! The checked copies of a journal: `journal backup` and the rolling daily copy in the data
//! directory (`journal restore`, which puts one back, is in `restore`). A copy is checked
//! before it is moved into place.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, MAIN_DB};

use super::health::{CheckReport, backups_dir, check_file, daily_copies};
use super::{Journal, JournalError};

pub(super) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

pub(super) fn remove_with_sidecars(path: &Path) {
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
        self.local_only(
            "Backup files (the team journal is backed up on its server, e.g. with pg_dump)",
        )?;
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
        // The team journal's copies are its server's business.
        if self.team.is_some() {
            return Ok(None);
        }
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
