//! The `gatepay_batches` table of the journal: its schema beside its queries (record, read,
//! list, claim and update a batch).

use std::fmt::Write as _;

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::domain::journal::{
    Claim, Journal, JournalError, State, claimer_id, other_origin_message, same_origin, sha256_hex,
};

/// Version 0 of the `gatepay_batches` table (see the journal's `schema::MIGRATIONS`).
pub(crate) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS gatepay_batches (
    id INTEGER PRIMARY KEY,
    merchant TEXT NOT NULL,
    batch_id TEXT NOT NULL,
    body TEXT NOT NULL,
    body_sha256 TEXT NOT NULL,
    sub_orders INTEGER NOT NULL,
    totals TEXT NOT NULL,
    state TEXT NOT NULL,
    batch_status TEXT,
    reject_code TEXT,
    reject_meaning TEXT,
    reject_message TEXT,
    unknown_why TEXT,
    is_final INTEGER NOT NULL DEFAULT 0,
    attempts INTEGER NOT NULL DEFAULT 0,
    checks INTEGER NOT NULL DEFAULT 0,
    next_check_at INTEGER,
    last_sent_at INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (merchant, batch_id)
);
";

/// Version 1: claims, one sender per row (see the journal's `claims`).
pub(crate) const CLAIM_COLUMNS: &str = "ALTER TABLE gatepay_batches ADD COLUMN claimed_by TEXT;
     ALTER TABLE gatepay_batches ADD COLUMN claimed_at INTEGER;";

/// Version 3: a merchant is its `client_id`, no longer `client_id@host:port` (the text after
/// the last `@` goes); a batch ID already held under the bare identity keeps its old key.
pub(crate) const MERCHANT_IDENTITY: &str = "UPDATE OR IGNORE gatepay_batches
     SET merchant = substr(rtrim(merchant, replace(merchant, '@', '')), 1,
                           length(rtrim(merchant, replace(merchant, '@', ''))) - 1)
     WHERE instr(merchant, '@') > 0;";

/// One batch in the journal.
#[derive(Clone, Debug, Serialize)]
pub struct BatchEntry {
    pub merchant: String,
    pub batch_id: String,
    pub body_sha256: String,
    pub sub_orders: i64,
    /// Totals per currency, as shown at confirmation.
    pub totals: String,
    pub state: State,
    /// GatePay's batch status (INIT, PROCESSING, SUCCESS, PARTIAL, FAIL) once known.
    pub batch_status: Option<String>,
    pub reject_code: Option<String>,
    pub reject_meaning: Option<String>,
    pub reject_message: Option<String>,
    pub unknown_why: Option<String>,
    pub is_final: bool,
    pub attempts: i64,
    pub checks: i64,
    pub next_check_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The gateway origin it was sent to; `None` for a batch from before origins were kept.
    pub origin: Option<String>,
    #[serde(skip)]
    pub body: String,
}

impl BatchEntry {
    /// This batch's outcome: an accepted batch is only as good as GatePay's status for it.
    pub fn outcome(&self) -> crate::domain::journal::Outcome {
        use crate::domain::journal::Outcome;
        use crate::gateway::gatepay::BatchStatus;
        match self.state {
            State::Queued | State::NotCreated => Outcome::NotSent,
            State::Sending | State::Unknown => Outcome::Unknown,
            State::Rejected => Outcome::Refused,
            State::Accepted => match self.batch_status.as_deref().map(BatchStatus::from) {
                Some(BatchStatus::Success) => Outcome::Paid,
                Some(BatchStatus::Fail) => Outcome::Failed,
                Some(BatchStatus::Partial) => Outcome::Partial,
                _ => Outcome::InProgress,
            },
        }
    }

    /// Whether GatePay is still asked about it: its outcome is unknown, or it was accepted
    /// and has not finished.
    pub fn unsettled(&self) -> bool {
        matches!(self.state, State::Unknown | State::Sending)
            || (self.state == State::Accepted && !self.is_final)
    }

    /// Why a desk reaching GatePay at `origin` must leave this batch alone: it was sent
    /// through another address, which alone can say what became of it.
    pub fn elsewhere(&self, origin: &str) -> Option<String> {
        let theirs = self.origin.as_deref()?;
        (!same_origin(Some(theirs), origin)).then(|| {
            format!(
                "batch {}: {}",
                self.batch_id,
                other_origin_message(1, "batch(es) were", theirs)
            )
        })
    }

    /// One line for an operator.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "batch {} ({} sub-orders: {}): {}",
            self.batch_id,
            self.sub_orders,
            self.totals,
            self.state.describe()
        );
        if let Some(st) = &self.batch_status {
            let _ = write!(s, "; GatePay status {st}");
        }
        if let (Some(code), Some(meaning)) = (&self.reject_code, &self.reject_meaning) {
            let _ = write!(s, "; {code} {meaning}");
            if let Some(m) = self.reject_message.as_deref().filter(|m| !m.is_empty()) {
                let _ = write!(s, " ({m})");
            }
        }
        if let Some(why) = &self.unknown_why
            && self.state == State::Unknown
        {
            let _ = write!(s, "; {why}");
        }
        s
    }
}

const BATCH_COLUMNS: &str = "merchant, batch_id, body_sha256, sub_orders, totals, state, batch_status, \
    reject_code, reject_meaning, reject_message, unknown_why, is_final, attempts, checks, next_check_at, \
    last_sent_at, created_at, updated_at, body, origin";

fn batch_entry(row: &Row<'_>) -> rusqlite::Result<BatchEntry> {
    let state: String = row.get(5)?;
    Ok(BatchEntry {
        merchant: row.get(0)?,
        batch_id: row.get(1)?,
        body_sha256: row.get(2)?,
        sub_orders: row.get(3)?,
        totals: row.get(4)?,
        state: State::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("unknown state {state}").into(),
            )
        })?,
        batch_status: row.get(6)?,
        reject_code: row.get(7)?,
        reject_meaning: row.get(8)?,
        reject_message: row.get(9)?,
        unknown_why: row.get(10)?,
        is_final: row.get::<_, i64>(11)? != 0,
        attempts: row.get(12)?,
        checks: row.get(13)?,
        next_check_at: row.get(14)?,
        last_sent_at: row.get(15)?,
        created_at: row.get(16)?,
        updated_at: row.get(17)?,
        body: row.get(18)?,
        origin: row.get(19)?,
    })
}

impl Journal {
    /// Records a batch's intent (its exact body) before it is sent through the gateway at
    /// `origin`; refuses a batch ID already in the journal.
    #[allow(clippy::too_many_arguments)]
    pub fn record_batch_intent(
        &mut self,
        merchant: &str,
        origin: Option<&str>,
        batch_id: &str,
        body: &str,
        sub_orders: usize,
        totals: &str,
        now: i64,
    ) -> Result<(), JournalError> {
        let inserted = self.conn("GatePay batches")?.execute(
            "INSERT INTO gatepay_batches (merchant, batch_id, body, body_sha256, sub_orders, totals, state,
                created_at, updated_at, origin)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?7, ?8)
             ON CONFLICT (merchant, batch_id) DO NOTHING",
            params![
                merchant,
                batch_id,
                body,
                sha256_hex(body.as_bytes()),
                sub_orders as i64,
                totals,
                now,
                origin
            ],
        )?;
        if inserted == 0 {
            return Err(JournalError::DuplicateId(batch_id.to_owned()));
        }
        Ok(())
    }

    pub fn get_batch(
        &mut self,
        merchant: &str,
        batch_id: &str,
    ) -> Result<Option<BatchEntry>, JournalError> {
        Ok(self
            .conn("GatePay batches")?
            .query_row(
                &format!(
                    "SELECT {BATCH_COLUMNS} FROM gatepay_batches WHERE merchant = ?1 AND batch_id = ?2"
                ),
                params![merchant, batch_id],
                batch_entry,
            )
            .optional()?)
    }

    /// The batches of a merchant, newest first.
    pub fn list_batches(
        &mut self,
        merchant: &str,
        limit: usize,
    ) -> Result<Vec<BatchEntry>, JournalError> {
        let conn = self.conn("GatePay batches")?;
        let mut stmt = conn.prepare(&format!(
            "SELECT {BATCH_COLUMNS} FROM gatepay_batches WHERE merchant = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![merchant, limit as i64], batch_entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Claims a batch for sending (see [`Journal::claim_payout`]): its recorded body must be
    /// the body about to be sent, and it moves to `sending` only from one of `from`.
    pub fn claim_batch(
        &mut self,
        merchant: &str,
        batch_id: &str,
        body: &str,
        from: &[State],
        now: i64,
    ) -> Result<Claim<BatchEntry>, JournalError> {
        self.ensure_trusted()?;
        let tx = self
            .conn("GatePay batches")?
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let row = tx
            .query_row(
                &format!(
                    "SELECT {BATCH_COLUMNS}, claimed_by, claimed_at FROM gatepay_batches WHERE merchant = ?1 AND batch_id = ?2"
                ),
                params![merchant, batch_id],
                |r| {
                    Ok((
                        batch_entry(r),
                        r.get::<_, Option<String>>(20)?,
                        r.get::<_, Option<i64>>(21)?,
                    ))
                },
            )
            .optional();
        let (read, claimed_by, claimed_at) = match row {
            Ok(Some(row)) => row,
            Ok(None) => return Err(JournalError::NotFound(batch_id.to_owned())),
            Err(e) => {
                drop(tx);
                return Err(self.mark_damaged(format!("batch {batch_id} does not read: {e}")));
            }
        };
        let mut e = match read {
            Ok(e) if e.body == body && e.body_sha256 == sha256_hex(body.as_bytes()) => e,
            Ok(_) => {
                return Err(JournalError::Mismatch {
                    cl_id: format!("batch {batch_id}"),
                    what: "its recorded body differs".to_owned(),
                });
            }
            Err(err) => {
                drop(tx);
                return Err(self.mark_damaged(format!("batch {batch_id} does not read: {err}")));
            }
        };
        if from.contains(&e.state) {
            tx.execute(
                "UPDATE gatepay_batches SET state = 'sending', attempts = attempts + 1, last_sent_at = ?3,
                    claimed_by = ?4, claimed_at = ?3, updated_at = ?3 WHERE merchant = ?1 AND batch_id = ?2",
                params![merchant, batch_id, now, claimer_id()],
            )?;
            tx.commit()?;
            e.state = State::Sending;
            e.attempts += 1;
            e.last_sent_at = Some(now);
            return Ok(Claim::Claimed(e));
        }
        if e.state != State::Sending {
            return Ok(Claim::NotSendable(e));
        }
        let claimer = claimed_by.clone().unwrap_or_default();
        if crate::domain::journal::claim_is_live(claimed_by.as_deref(), claimed_at, now) {
            return Ok(Claim::Busy { entry: e, claimer });
        }
        let why = crate::domain::journal::stopped_why(&claimer);
        tx.execute(
            "UPDATE gatepay_batches SET state = 'unknown', unknown_why = ?3, next_check_at = ?4, updated_at = ?4
                WHERE merchant = ?1 AND batch_id = ?2",
            params![merchant, batch_id, why, now],
        )?;
        tx.commit()?;
        e.state = State::Unknown;
        e.unknown_why = Some(why);
        Ok(Claim::Stale { entry: e, claimer })
    }

    pub(super) fn update_batch(
        &mut self,
        merchant: &str,
        batch_id: &str,
        set: &str,
        values: &[&dyn rusqlite::ToSql],
        now: i64,
    ) -> Result<(), JournalError> {
        let mut all: Vec<&dyn rusqlite::ToSql> = values.to_vec();
        all.push(&now);
        all.push(&merchant);
        all.push(&batch_id);
        let n = values.len();
        let sql = format!(
            "UPDATE gatepay_batches SET {set}, updated_at = ?{} WHERE merchant = ?{} AND batch_id = ?{}",
            n + 1,
            n + 2,
            n + 3
        );
        let changed = self
            .conn("GatePay batches")?
            .execute(&sql, all.as_slice())?;
        if changed == 0 {
            return Err(JournalError::NotFound(batch_id.to_owned()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::journal::Outcome;

    fn batch(state: State, status: Option<&str>, is_final: bool) -> BatchEntry {
        BatchEntry {
            merchant: "c1".into(),
            batch_id: "b1".into(),
            body_sha256: String::new(),
            sub_orders: 2,
            totals: String::new(),
            state,
            batch_status: status.map(str::to_owned),
            reject_code: None,
            reject_meaning: None,
            reject_message: None,
            unknown_why: None,
            is_final,
            attempts: 1,
            checks: 0,
            next_check_at: None,
            last_sent_at: None,
            created_at: 0,
            updated_at: 0,
            origin: None,
            body: String::new(),
        }
    }

    #[test]
    fn an_accepted_batch_gatepay_failed_is_failed_and_settled() {
        let failed = batch(State::Accepted, Some("FAIL"), true);
        assert_eq!(failed.outcome(), Outcome::Failed);
        assert!(!failed.unsettled());
        let partial = batch(State::Accepted, Some("PARTIAL"), true);
        assert_eq!(partial.outcome(), Outcome::Partial);
        let running = batch(State::Accepted, Some("PROCESSING"), false);
        assert_eq!(running.outcome(), Outcome::InProgress);
        assert!(running.unsettled());
        assert_eq!(
            batch(State::Accepted, Some("SUCCESS"), true).outcome(),
            Outcome::Paid
        );
        assert!(batch(State::Unknown, None, false).unsettled());
        assert!(!batch(State::Rejected, None, false).unsettled());
    }
}
