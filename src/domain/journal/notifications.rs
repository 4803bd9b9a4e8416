//! Notifications received (CNY withdraw notifications, GatePay payout callbacks): each one
//! recorded once, keyed by its content, before it is acknowledged, so a gateway's retries and
//! duplicates are counted, never applied twice.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::{Journal, JournalError, sha256_hex};

/// The `notifications` table (see `schema::MIGRATIONS`).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    content_key TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    order_ref TEXT NOT NULL,
    body BLOB NOT NULL,
    verdict TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    last_received_at INTEGER NOT NULL,
    peer TEXT NOT NULL,
    copies INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS notifications_by_order ON notifications (source, order_ref);
";

/// The most notifications that failed verification kept at once, newest first: anyone who
/// can reach the listener can send them, so they must not fill the disk.
pub const MAX_UNVERIFIED_KEPT: i64 = 1_000;

/// A notification as it arrived, to be recorded.
#[derive(Clone, Debug)]
pub struct Received<'a> {
    /// `cny` or `gatepay`.
    pub source: &'a str,
    /// The merchant order ID (CNY) or batch ID (GatePay); empty when unreadable.
    pub order_ref: &'a str,
    /// The raw body, already bounded in size by the receiver.
    pub body: &'a [u8],
    /// `valid`, `invalid`, …: what its verification said.
    pub verdict: &'a str,
    pub received_at: i64,
    pub peer: &'a str,
}

/// A notification as the journal holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StoredNotification {
    pub source: String,
    pub order_ref: String,
    pub body: String,
    pub verdict: String,
    pub received_at: i64,
    pub last_received_at: i64,
    pub peer: String,
    /// How many times the same content arrived.
    pub copies: i64,
}

/// The key that makes two deliveries of one notification the same row: its source and its
/// exact bytes (a gateway's retry resends the same body).
pub fn content_key(source: &str, body: &[u8]) -> String {
    let mut keyed = Vec::with_capacity(source.len() + 1 + body.len());
    keyed.extend_from_slice(source.as_bytes());
    keyed.push(0);
    keyed.extend_from_slice(body);
    sha256_hex(&keyed)
}

impl Journal {
    /// Records a notification; `true` when it is new, or the first verified copy of content
    /// recorded before only unverified; `false` when the same content was recorded before
    /// (its copy count goes up, nothing else changes).
    pub fn record_notification(&mut self, note: &Received<'_>) -> Result<bool, JournalError> {
        self.local_only("Gateway notifications")?;
        let key = content_key(note.source, note.body);
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let inserted = tx.execute(
            "INSERT OR IGNORE INTO notifications (content_key, source, order_ref, body, verdict, \
             received_at, last_received_at, peer) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7)",
            params![
                key,
                note.source,
                note.order_ref,
                note.body,
                note.verdict,
                note.received_at,
                note.peer
            ],
        )?;
        // Copies that failed verification (a forged signature over a copied body, or a key
        // set right only after the first delivery) must not make the first verified copy a
        // duplicate: it is new, and is the one applied.
        let upgraded = inserted == 0
            && note.verdict == "valid"
            && tx.execute(
                "UPDATE notifications SET verdict = ?2, peer = ?3 \
                 WHERE content_key = ?1 AND verdict <> ?2",
                params![key, note.verdict, note.peer],
            )? > 0;
        if inserted == 0 {
            tx.execute(
                "UPDATE notifications SET copies = copies + 1, last_received_at = ?2 \
                 WHERE content_key = ?1",
                params![key, note.received_at],
            )?;
        } else if note.verdict != "valid" {
            tx.execute(
                "DELETE FROM notifications WHERE verdict <> 'valid' AND id NOT IN \
                 (SELECT id FROM notifications WHERE verdict <> 'valid' ORDER BY id DESC LIMIT ?1)",
                params![MAX_UNVERIFIED_KEPT],
            )?;
        }
        tx.commit()?;
        Ok(inserted > 0 || upgraded)
    }

    /// The notifications received about one order or batch, oldest first.
    pub fn notifications_for(
        &self,
        source: &str,
        order_ref: &str,
    ) -> Result<Vec<StoredNotification>, JournalError> {
        self.local_only("Gateway notifications")?;
        let mut stmt = self.conn.prepare(
            "SELECT source, order_ref, body, verdict, received_at, last_received_at, peer, copies \
             FROM notifications WHERE source = ?1 AND order_ref = ?2 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![source, order_ref], |r| {
            let body: Vec<u8> = r.get(2)?;
            Ok(StoredNotification {
                source: r.get(0)?,
                order_ref: r.get(1)?,
                body: String::from_utf8_lossy(&body).into_owned(),
                verdict: r.get(3)?,
                received_at: r.get(4)?,
                last_received_at: r.get(5)?,
                peer: r.get(6)?,
                copies: r.get(7)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// How many notifications are recorded (distinct contents).
    pub fn notification_count(&self) -> Result<i64, JournalError> {
        self.local_only("Gateway notifications")?;
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM notifications", [], |r| r.get(0))
            .optional()?
            .unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_notification_twice_is_recorded_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&super::super::journal_path(dir.path())).unwrap();
        let note = Received {
            source: "cny",
            order_ref: "pd_1",
            body: br#"{"payout_cl_id":"pd_1","status":3}"#,
            verdict: "valid",
            received_at: 100,
            peer: "127.0.0.1",
        };
        assert!(j.record_notification(&note).unwrap());
        let again = Received {
            received_at: 160,
            ..note.clone()
        };
        assert!(!j.record_notification(&again).unwrap());
        let other = Received {
            source: "gatepay",
            ..note.clone()
        };
        assert!(j.record_notification(&other).unwrap());
        let rows = j.notifications_for("cny", "pd_1").unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].copies, rows[0].last_received_at), (2, 160));
        assert_eq!(j.notification_count().unwrap(), 2);
    }

    #[test]
    fn unverified_notifications_are_kept_up_to_a_bound_and_verified_ones_always() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&super::super::journal_path(dir.path())).unwrap();
        let valid = Received {
            source: "cny",
            order_ref: "pd_1",
            body: b"{}",
            verdict: "valid",
            received_at: 1,
            peer: "127.0.0.1",
        };
        assert!(j.record_notification(&valid).unwrap());
        for i in 0..MAX_UNVERIFIED_KEPT + 50 {
            let body = format!("forged {i}");
            let forged = Received {
                body: body.as_bytes(),
                verdict: "invalid",
                ..valid.clone()
            };
            assert!(j.record_notification(&forged).unwrap());
        }
        assert_eq!(j.notification_count().unwrap(), MAX_UNVERIFIED_KEPT + 1);
        let rows = j.notifications_for("cny", "pd_1").unwrap();
        assert_eq!(rows[0].verdict, "valid", "the verified one is kept");
        assert_eq!(
            rows.last().unwrap().body,
            format!("forged {}", MAX_UNVERIFIED_KEPT + 49)
        );
    }
}
