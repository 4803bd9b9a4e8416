//! A desktop journal's own ID (`journal_meta.journal_id`), given once and kept for ever: what
//! `paydesk journal migrate` knows the journal by, however it grows, is renamed, copied or
//! restored from a backup (a backup is a copy of the file, its ID included).
//!
//! `desktop-` and 32 hex digits. A journal that existed before IDs were kept gets the ID an
//! earlier migration would have named it by (from its first audit entry's hash, or from its
//! first payout), so that a journal already migrated is still recognised; any other journal
//! gets a random one, so no two journals share an ID.

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};
use sha2::{Digest, Sha256};

use super::{Journal, JournalError, audit_hash};

/// The audit action of a renewed ID.
pub const ID_RENEWED: &str = "journal ID renewed";

fn random_id() -> String {
    let seed = format!("paydesk desktop journal {:032x}", rand::random::<u128>());
    format!(
        "desktop-{}",
        &hex::encode(Sha256::digest(seed.as_bytes()))[..32]
    )
}

/// Version 8 of the journal: the table of the journal's own facts.
pub(super) const SCHEMA: &str =
    "CREATE TABLE IF NOT EXISTS journal_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/// Gives the journal its ID, where it has none.
pub(super) fn assign(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let first_audit: Option<String> = tx
        .query_row("SELECT hash FROM audit ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })
        .optional()?;
    let first_payout: Option<(String, String, i64)> = tx
        .query_row(
            "SELECT merchant, payout_cl_id, created_at FROM payouts ORDER BY id LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let seed = match (first_audit, first_payout) {
        (Some(hash), _) => format!("paydesk desktop journal\n{hash}"),
        (None, Some((m, id, at))) => {
            format!("paydesk desktop journal without audit\n{m}\0{id}\0{at}")
        }
        (None, None) => String::new(),
    };
    let id = if seed.is_empty() {
        random_id()
    } else {
        format!(
            "desktop-{}",
            &hex::encode(Sha256::digest(seed.as_bytes()))[..32]
        )
    };
    tx.execute(
        "INSERT OR IGNORE INTO journal_meta (key, value) VALUES ('journal_id', ?1)",
        [id],
    )?;
    Ok(())
}

impl Journal {
    /// Gives this desktop journal a new ID of its own, recorded in its audit chain: for a copy
    /// of a journal set up as a second desktop's, which `journal migrate` would otherwise take
    /// for the journal it was copied from. Returns the old ID and the new one.
    pub fn renew_id(&mut self, actor: &str, now: i64) -> Result<(String, String), JournalError> {
        self.ensure_trusted()?;
        let tx = self
            .conn("a journal ID")?
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let old = journal_id(&tx)?.unwrap_or_default();
        let new = random_id();
        tx.execute(
            "INSERT INTO journal_meta (key, value) VALUES ('journal_id', ?1)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [&new],
        )?;
        let prev: String = tx
            .query_row("SELECT hash FROM audit ORDER BY id DESC LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or_default();
        let detail = format!("was {old}; now {new}");
        let hash = audit_hash(&prev, now, actor, ID_RENEWED, &detail);
        tx.execute(
            "INSERT INTO audit (at, actor, action, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            rusqlite::params![now, actor, ID_RENEWED, detail, prev, hash],
        )?;
        tx.commit()?;
        Ok((old, new))
    }
}

/// The journal's ID (`None`: a journal from before IDs were kept, not yet opened by this
/// Paydesk).
pub fn journal_id(conn: &Connection) -> rusqlite::Result<Option<String>> {
    let has: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'journal_meta')",
        [],
        |r| r.get(0),
    )?;
    if !has {
        return Ok(None);
    }
    conn.query_row(
        "SELECT value FROM journal_meta WHERE key = 'journal_id'",
        [],
        |r| r.get(0),
    )
    .optional()
}

#[cfg(test)]
mod tests {
    use super::super::schema::write_version;
    use super::super::{Journal, journal_path};
    use super::*;

    fn id_of(path: &std::path::Path) -> String {
        journal_id(&Connection::open(path).unwrap())
            .unwrap()
            .unwrap()
    }

    #[test]
    fn each_journal_has_an_id_of_its_own_that_never_changes() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (
            journal_path(&dir.path().join("a")),
            journal_path(&dir.path().join("b")),
        );
        drop(Journal::open(&a).unwrap());
        drop(Journal::open(&b).unwrap());
        let first = id_of(&a);
        assert!(
            first.starts_with("desktop-") && first.len() == 40,
            "{first}"
        );
        assert_ne!(first, id_of(&b), "two empty journals");
        let mut j = Journal::open(&a).unwrap();
        j.audit("zhang", "payout submitted", "x", 5).unwrap();
        drop(j);
        assert_eq!(id_of(&a), first, "it stays as the journal grows");
        let copy = dir.path().join("copy.sqlite3");
        std::fs::copy(&a, &copy).unwrap();
        assert_eq!(id_of(&copy), first, "a copy is the same journal");
        // Until it is given one of its own, in its audit chain.
        let mut j = Journal::open(&copy).unwrap();
        let (old, new) = j.renew_id("zhang", 9).unwrap();
        assert_eq!(old, first);
        assert_ne!(new, first);
        assert_eq!(
            j.verify_audit().unwrap(),
            super::super::AuditCheck::Intact(2)
        );
        drop(j);
        assert_eq!(id_of(&copy), new);
        assert_eq!(id_of(&a), first);
    }

    #[test]
    fn a_journal_from_before_ids_keeps_the_id_it_was_migrated_under() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path());
        std::fs::create_dir_all(dir.path()).unwrap();
        {
            let mut conn = Connection::open(&path).unwrap();
            write_version(&mut conn, 7);
            let hash = super::super::audit_hash("", 1, "zhang", "payout submitted", "x");
            conn.execute(
                "INSERT INTO audit (at, actor, action, detail, prev_hash, hash)
                 VALUES (1, 'zhang', 'payout submitted', 'x', '', ?1)",
                [&hash],
            )
            .unwrap();
            assert_eq!(journal_id(&conn).unwrap(), None);
        }
        drop(Journal::open(&path).unwrap());
        let hash = super::super::audit_hash("", 1, "zhang", "payout submitted", "x");
        let legacy = format!(
            "desktop-{}",
            &hex::encode(Sha256::digest(format!("paydesk desktop journal\n{hash}")))[..32]
        );
        assert_eq!(id_of(&path), legacy);
    }
}
