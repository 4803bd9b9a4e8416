//! The audit log: entries chained by hash, so that an edited or deleted entry shows.

use rusqlite::{OptionalExtension, params};
use sha2::{Digest, Sha256};

use super::{Journal, JournalError};

/// Version 0 of the `audit` table (see `schema::MIGRATIONS`).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
";

/// What a walk along the audit chain found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditCheck {
    /// Every entry fits the chain; this many were checked.
    Intact(usize),
    /// The ID of the first entry that does not fit: it or one before it was edited or deleted.
    BrokenAt(i64),
}

/// One entry of the audit log, as read back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    /// Unix seconds.
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub detail: String,
}

impl Journal {
    /// Appends to the audit log; each entry's hash covers the previous one's.
    pub fn audit(
        &mut self,
        actor: &str,
        action: &str,
        detail: &str,
        now: i64,
    ) -> Result<(), JournalError> {
        // On a team journal the database names the actor (its role) and the time.
        if let Some(t) = self.team.as_deref() {
            let _ = (actor, now);
            return Ok(t.audit(None, action, detail)?);
        }
        // Immediate: the previous hash is read under the write lock, so two processes never
        // chain to the same entry.
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let prev: String = tx
            .query_row("SELECT hash FROM audit ORDER BY id DESC LIMIT 1", [], |r| {
                r.get(0)
            })
            .optional()?
            .unwrap_or_default();
        let hash = audit_hash(&prev, now, actor, action, detail);
        tx.execute(
            "INSERT INTO audit (at, actor, action, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            params![now, actor, action, detail, prev, hash],
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The audit entries that name `id` (a merchant order ID or a batch ID), oldest first:
    /// every send, check and confirmation of one payout, as a details view shows them.
    pub fn audit_naming(&self, id: &str, limit: usize) -> Result<Vec<AuditRecord>, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.audit_naming(id, limit)?);
        }
        let mut stmt = self.conn.prepare(
            "SELECT at, actor, action, detail FROM audit WHERE instr(detail, ?1) > 0 ORDER BY id LIMIT ?2",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![id, limit], |r| {
            Ok(AuditRecord {
                at: r.get(0)?,
                actor: r.get(1)?,
                action: r.get(2)?,
                detail: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Checks the audit chain; the ID of the first entry that does not fit, if any.
    pub fn verify_audit(&self) -> Result<AuditCheck, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.verify_audit()?);
        }
        let mut stmt = self.conn.prepare(
            "SELECT id, at, actor, action, detail, prev_hash, hash FROM audit ORDER BY id",
        )?;
        let mut rows = stmt.query([])?;
        let mut prev = String::new();
        let mut count = 0;
        while let Some(r) = rows.next()? {
            let (id, at, actor, action, detail, prev_hash, hash): (
                i64,
                i64,
                String,
                String,
                String,
                String,
                String,
            ) = (
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            );
            if prev_hash != prev || hash != audit_hash(&prev, at, &actor, &action, &detail) {
                return Ok(AuditCheck::BrokenAt(id));
            }
            prev = hash;
            count += 1;
        }
        Ok(AuditCheck::Intact(count))
    }

    #[cfg(test)]
    fn tamper_audit(&self, id: i64, detail: &str) {
        self.conn
            .execute(
                "UPDATE audit SET detail = ?2 WHERE id = ?1",
                params![id, detail],
            )
            .unwrap();
    }
}

pub(crate) fn audit_hash(prev: &str, at: i64, actor: &str, action: &str, detail: &str) -> String {
    let mut h = Sha256::new();
    for part in [prev, &at.to_string(), actor, action, detail] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(h.finalize())
}

#[cfg(test)]
mod tests {
    use super::super::journal_path;
    use super::*;

    #[test]
    fn the_audit_chain_shows_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&journal_path(dir.path())).unwrap();
        for i in 0..5 {
            j.audit("alice", "payout submitted", &format!("P{i} ¥1.00"), 100 + i)
                .unwrap();
        }
        assert_eq!(j.verify_audit().unwrap(), AuditCheck::Intact(5));
        j.tamper_audit(3, "P2 ¥1000.00");
        assert_eq!(j.verify_audit().unwrap(), AuditCheck::BrokenAt(3));
    }

    #[test]
    fn audit_entries_naming_an_id_are_found_whatever_its_characters() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&journal_path(dir.path())).unwrap();
        j.audit("alice", "payout submitted", "pd_1_a ¥1.00 (accepted)", 1)
            .unwrap();
        j.audit("alice", "payout submitted", "pdx1xa ¥2.00 (accepted)", 2)
            .unwrap();
        j.audit("bob", "payout retried", "pd_1_a ¥1.00 (accepted)", 3)
            .unwrap();
        let found = j.audit_naming("pd_1_a", 10).unwrap();
        assert_eq!(found.len(), 2, "an underscore is no wildcard: {found:?}");
        assert_eq!(found[1].actor, "bob");
        assert_eq!(found[1].action, "payout retried");
    }
}
