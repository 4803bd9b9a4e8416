//! The `gatepay_batches` table of the journal: its schema beside its queries (record, read,
//! list, claim and update a batch).

use std::fmt::Write as _;

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::TAKEN_BATCH_MEANING;
use crate::domain::journal::team::TeamInfo;
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
    /// Who recorded, approved and sent it, where the journal is a team's (`None` on a desktop).
    pub team: Option<TeamInfo>,
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

    /// Whether a second operator's approval holds it back (pending or rejected).
    pub fn held_for_approval(&self) -> bool {
        self.team
            .as_ref()
            .is_some_and(|t| self.state == State::Queued && !t.approval.sendable())
    }

    /// Never sent to GatePay: GatePay knows nothing of it (queued, nothing sent yet).
    pub fn never_sent(&self) -> bool {
        self.state == State::Queued && self.attempts == 0
    }

    /// Where it stands, in words: its state, or on a team journal what holds it back.
    pub fn state_words(&self) -> String {
        match &self.team {
            Some(t) if self.held_for_approval() => t.describe(),
            _ => self.state.describe().to_owned(),
        }
    }

    /// One line for an operator.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "batch {} ({} sub-order(s): {}): {}",
            self.batch_id,
            self.sub_orders,
            self.totals,
            self.state_words()
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
        team: None,
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
        if let Some(t) = self.team.as_deref() {
            return Ok(
                t.record_batch_intent(merchant, origin, batch_id, body, sub_orders, totals, now)?
            );
        }
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
        if let Some(t) = self.team.as_deref() {
            return Ok(t.get_batch(merchant, batch_id)?);
        }
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
        if let Some(t) = self.team.as_deref() {
            return Ok(t.list_batches(merchant, limit)?);
        }
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
        if let Some(t) = self.team.as_deref() {
            return Ok(t.claim_batch(merchant, batch_id, body, from, now)?);
        }
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

    /// Records what a send or a lookup learned of a batch (see [`BatchChange`]).
    pub(crate) fn change_batch(
        &mut self,
        merchant: &str,
        batch_id: &str,
        change: &BatchChange<'_>,
        now: i64,
    ) -> Result<(), JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.change_batch(merchant, batch_id, change, now)?);
        }
        let conn = self.conn("GatePay batches")?;
        let key = "updated_at = ?1 WHERE merchant = ?2 AND batch_id = ?3";
        let at = (now, merchant, batch_id);
        let changed = match *change {
            BatchChange::Accepted { next_check_at } => conn.execute(
                &format!(
                    "UPDATE gatepay_batches SET state = 'accepted', unknown_why = NULL, reject_code = NULL,
                        reject_meaning = NULL, reject_message = NULL, next_check_at = ?4, {key}"
                ),
                params![at.0, at.1, at.2, next_check_at],
            ),
            BatchChange::Refused {
                code,
                meaning,
                message,
            } => conn.execute(
                &format!(
                    "UPDATE gatepay_batches SET state = 'rejected', reject_code = ?4, reject_meaning = ?5,
                        reject_message = ?6, is_final = 1, {key}"
                ),
                params![at.0, at.1, at.2, code, meaning, message],
            ),
            BatchChange::Unknown { why, next_check_at } => conn.execute(
                &format!(
                    "UPDATE gatepay_batches SET state = 'unknown', unknown_why = ?4, next_check_at = ?5, {key}"
                ),
                params![at.0, at.1, at.2, why, next_check_at],
            ),
            BatchChange::NotCreated { checks } => conn.execute(
                &format!(
                    "UPDATE gatepay_batches SET state = 'not-created', checks = ?4, next_check_at = NULL,
                        unknown_why = ?5, {key}"
                ),
                params![at.0, at.1, at.2, checks, NOT_AT_GATEPAY],
            ),
            BatchChange::Checked {
                checks,
                next_check_at,
            } => conn.execute(
                &format!("UPDATE gatepay_batches SET checks = ?4, next_check_at = ?5, {key}"),
                params![at.0, at.1, at.2, checks, next_check_at],
            ),
            BatchChange::Taken { why, checks } => conn.execute(
                &format!(
                    "UPDATE gatepay_batches SET state = 'rejected', reject_code = '550245', reject_meaning = ?4,
                        reject_message = ?5, unknown_why = NULL, checks = ?6, next_check_at = NULL, {key}"
                ),
                params![at.0, at.1, at.2, TAKEN_BATCH_MEANING, why, checks],
            ),
            BatchChange::Status {
                status,
                is_final,
                checks,
                next_check_at,
            } => conn.execute(
                &format!(
                    "UPDATE gatepay_batches SET state = 'accepted', batch_status = ?4, is_final = ?5, checks = ?6,
                        next_check_at = ?7, unknown_why = NULL, reject_code = NULL, reject_meaning = NULL,
                        reject_message = NULL, {key}"
                ),
                params![at.0, at.1, at.2, status, i64::from(is_final), checks, next_check_at],
            ),
        }?;
        if changed == 0 {
            return Err(JournalError::NotFound(batch_id.to_owned()));
        }
        Ok(())
    }
}

/// A sub-order of a recorded batch, as the duplicate check reads it (the body's own text).
#[derive(Clone, Debug)]
pub(crate) struct SubOrderSeen {
    pub batch_id: String,
    pub state: String,
    pub batch_status: Option<String>,
    pub created_at: i64,
    pub merchant_withdraw_id: String,
    pub currency: String,
    pub amount: String,
    pub address: String,
}

/// What reads each sub-order of the recorded batches, one at a time.
pub(crate) type SubOrderVisitor<'v> =
    dyn FnMut(SubOrderSeen) -> Result<(), JournalError> + Send + 'v;

impl Journal {
    /// Shows `visit` every sub-order of the merchant's batches but `except` and the refused
    /// ones, newest batch first, one at a time (nothing is collected).
    pub(crate) fn visit_batch_suborders(
        &mut self,
        merchant: &str,
        except: &str,
        visit: &mut SubOrderVisitor<'_>,
    ) -> Result<(), JournalError> {
        if let Some(t) = self.team.as_deref() {
            return t.visit_batch_suborders(merchant, except, visit);
        }
        let conn = self.conn("GatePay batches")?;
        let mut stmt = conn.prepare(
            "SELECT b.batch_id, b.state, b.batch_status, b.created_at,
                json_extract(s.value, '$.merchant_withdraw_id'), json_extract(s.value, '$.currency'),
                json_extract(s.value, '$.amount'), json_extract(s.value, '$.address')
             FROM gatepay_batches b, json_each(b.body, '$.withdraw_list') s
             WHERE b.merchant = ?1 AND b.batch_id <> ?2 AND b.state <> 'rejected'
             ORDER BY b.created_at DESC, b.id DESC",
        )?;
        let mut rows = stmt.query(params![merchant, except])?;
        while let Some(r) = rows.next()? {
            let text = |i: usize| -> rusqlite::Result<String> {
                Ok(r.get::<_, Option<String>>(i)?.unwrap_or_default())
            };
            visit(SubOrderSeen {
                batch_id: text(0)?,
                state: r.get(1)?,
                batch_status: r.get(2)?,
                created_at: r.get(3)?,
                merchant_withdraw_id: text(4)?,
                currency: text(5)?,
                amount: text(6)?,
                address: text(7)?,
            })?;
        }
        Ok(())
    }
}

/// Why a batch looked up is not created: GatePay has none under its ID.
pub(crate) const NOT_AT_GATEPAY: &str = "GatePay has no batch with this ID";

/// What a send or a lookup learned of a batch: the one set of moves both journals make.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BatchChange<'a> {
    /// GatePay took the batch; its status is asked for from `next_check_at`.
    Accepted { next_check_at: i64 },
    /// GatePay refused it with a code: nothing was created.
    Refused {
        code: &'a str,
        meaning: &'a str,
        message: &'a str,
    },
    /// The outcome is unknown: to be looked up, never called failed.
    Unknown { why: &'a str, next_check_at: i64 },
    /// A lookup found no batch under its ID, long enough after it was sent.
    NotCreated { checks: i64 },
    /// A lookup that settled nothing: asked again from `next_check_at`.
    Checked { checks: i64, next_check_at: i64 },
    /// Its ID is another batch's at GatePay (see `TAKEN_BATCH_MEANING`).
    Taken { why: &'a str, checks: i64 },
    /// GatePay's status of the batch, which exists.
    Status {
        status: &'a str,
        is_final: bool,
        checks: i64,
        next_check_at: Option<i64>,
    },
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
            team: None,
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
