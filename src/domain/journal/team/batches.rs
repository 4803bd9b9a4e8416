//! GatePay batches in the team journal: the desktop journal's batch rules (intent before send,
//! claim before send, an unknown outcome looked up, never called failed) with the team's: who
//! recorded, approved and sent each batch comes from the database, and a batch the team's rule
//! holds back cannot be sent until another role approves it (`schema_v2.sql`).

use std::collections::HashSet;

use postgres::GenericClient;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use serde::Serialize;

use super::TeamError;
use super::store::{Approval, TeamInfo, TeamJournal, db_error, not_pending};
use crate::domain::batches::BatchEntry;
use crate::domain::batches::TAKEN_BATCH_MEANING;
use crate::domain::batches::store::{BatchChange, NOT_AT_GATEPAY, SubOrderSeen, SubOrderVisitor};
use crate::domain::journal::{Claim, JournalError, State, claimer_id, sha256_hex, stopped_why};

const BATCH_COLUMNS: &str = "merchant, batch_id, body_sha256, sub_orders, totals, state, batch_status, \
    reject_code, reject_meaning, reject_message, unknown_why, is_final, attempts, checks, next_check_at, \
    last_sent_at, created_at, updated_at, body, origin, created_by, approval, decided_by, decision_reason, \
    sent_by, claimed_by, claim_pid, claim_backend_start";

/// A row of `paydesk.batches`, or why it cannot be read.
fn batch_entry(row: &postgres::Row) -> Result<BatchEntry, TeamError> {
    let get = |e: postgres::Error| TeamError::Corrupt(e.to_string());
    let batch_id: String = row.try_get(1).map_err(get)?;
    let state: String = row.try_get(5).map_err(get)?;
    let approval: String = row.try_get(21).map_err(get)?;
    let body: String = row.try_get(18).map_err(get)?;
    let body_sha256: String = row.try_get(2).map_err(get)?;
    if sha256_hex(body.as_bytes()) != body_sha256 {
        return Err(TeamError::Corrupt(format!(
            "batch {batch_id}: its body does not match its recorded hash"
        )));
    }
    Ok(BatchEntry {
        merchant: row.try_get(0).map_err(get)?,
        batch_id: batch_id.clone(),
        body_sha256,
        sub_orders: row.try_get(3).map_err(get)?,
        totals: row.try_get(4).map_err(get)?,
        state: State::parse(&state).ok_or_else(|| {
            TeamError::Corrupt(format!("batch {batch_id} has an unknown state {state:?}"))
        })?,
        batch_status: row.try_get(6).map_err(get)?,
        reject_code: row.try_get(7).map_err(get)?,
        reject_meaning: row.try_get(8).map_err(get)?,
        reject_message: row.try_get(9).map_err(get)?,
        unknown_why: row.try_get(10).map_err(get)?,
        is_final: row.try_get(11).map_err(get)?,
        attempts: row.try_get(12).map_err(get)?,
        checks: row.try_get(13).map_err(get)?,
        next_check_at: row.try_get(14).map_err(get)?,
        last_sent_at: row.try_get(15).map_err(get)?,
        created_at: row.try_get(16).map_err(get)?,
        updated_at: row.try_get(17).map_err(get)?,
        body,
        origin: row.try_get(19).map_err(get)?,
        team: Some(TeamInfo {
            created_by: row.try_get(20).map_err(get)?,
            approval: Approval::parse(&approval).ok_or_else(|| {
                TeamError::Corrupt(format!(
                    "batch {batch_id} has an unknown approval {approval:?}"
                ))
            })?,
            decided_by: row.try_get(22).map_err(get)?,
            decision_reason: row.try_get(23).map_err(get)?,
            sent_by: row.try_get(24).map_err(get)?,
        }),
    })
}

/// A merchant's rule for GatePay batches: those whose total in `currency` is at least
/// `threshold` need approval; `currency` `None`: every batch does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchApprovalRule {
    pub merchant: String,
    pub currency: Option<String>,
    /// The threshold as exact decimal text (GatePay amounts are never floats).
    pub threshold: String,
    pub set_by: String,
}

impl BatchApprovalRule {
    /// The rule in words.
    pub fn describe(&self) -> String {
        match &self.currency {
            None => "every GatePay batch needs approval by a second operator".to_owned(),
            Some(c) => format!(
                "GatePay batches of {} {c} and more need approval by a second operator",
                self.threshold
            ),
        }
    }
}

fn find(
    c: &mut impl GenericClient,
    merchant: &str,
    batch_id: &str,
    lock: bool,
) -> Result<Option<BatchEntry>, TeamError> {
    let sql = format!(
        "SELECT {BATCH_COLUMNS} FROM paydesk.batches WHERE merchant = $1 AND batch_id = $2{}",
        if lock { " FOR UPDATE" } else { "" }
    );
    c.query_opt(&sql, &[&merchant, &batch_id])
        .map_err(db_error)?
        .map(|r| batch_entry(&r))
        .transpose()
}

impl TeamJournal {
    /// Records a batch's intent (its exact body) before it is sent; whether it needs approval
    /// is the database's call. A batch ID already recorded by anyone is refused.
    #[allow(clippy::too_many_arguments)]
    pub fn record_batch_intent(
        &self,
        merchant: &str,
        origin: Option<&str>,
        batch_id: &str,
        body: &str,
        sub_orders: usize,
        totals: &str,
        now: i64,
    ) -> Result<(), TeamError> {
        let sub_orders = i64::try_from(sub_orders).unwrap_or(i64::MAX);
        let hash = sha256_hex(body.as_bytes());
        self.with(|c| {
            let inserted = c
                .execute(
                    "INSERT INTO paydesk.batches (merchant, batch_id, body, body_sha256, sub_orders, totals, state,
                        created_at, updated_at, origin, created_by, approval)
                     VALUES ($1, $2, $3, $4, $5, $6, 'queued', $7, $7, $8, '', '')
                     ON CONFLICT (merchant, batch_id) DO NOTHING",
                    &[&merchant, &batch_id, &body, &hash, &sub_orders, &totals, &now, &origin],
                )
                .map_err(db_error)?;
            if inserted == 0 {
                return Err(TeamError::Refused(format!(
                    "batch ID {batch_id} is already in the team journal: a batch is never sent twice"
                )));
            }
            Ok(())
        })
    }

    pub fn get_batch(
        &self,
        merchant: &str,
        batch_id: &str,
    ) -> Result<Option<BatchEntry>, TeamError> {
        self.with(|c| find(c, merchant, batch_id, false))
    }

    /// The team's batches of a merchant, newest first.
    pub fn list_batches(&self, merchant: &str, limit: usize) -> Result<Vec<BatchEntry>, TeamError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT {BATCH_COLUMNS} FROM paydesk.batches WHERE merchant = $1
                     ORDER BY created_at DESC, id DESC LIMIT $2"
                ),
                &[&merchant, &limit],
            )
            .map_err(db_error)?
            .iter()
            .map(batch_entry)
            .collect()
        })
    }

    /// Claims a batch for sending, as [`TeamJournal::claim_payout`] claims a payout: under a
    /// row lock, its recorded body compared with the body about to be sent, moved to
    /// `sending` only from one of `from` and only once approved where approval is needed.
    pub fn claim_batch(
        &self,
        merchant: &str,
        batch_id: &str,
        body: &str,
        from: &[State],
        now: i64,
    ) -> Result<Claim<BatchEntry>, TeamError> {
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        self.with(move |c| {
            let mut tx = c.transaction().map_err(db_error)?;
            let mut e = find(&mut tx, merchant, batch_id, true)?.ok_or_else(|| {
                TeamError::Refused(format!("no batch {batch_id} is in the team journal"))
            })?;
            if e.body != body {
                return Err(TeamError::Refused(format!(
                    "the team journal's record of batch {batch_id} differs from the batch about to be sent; nothing was sent"
                )));
            }
            if from.contains(&e.state.as_str()) {
                if e.held_for_approval() {
                    return Ok(Claim::NotSendable(e));
                }
                tx.execute(
                    "UPDATE paydesk.batches SET state = 'sending', attempts = attempts + 1, last_sent_at = $3,
                        claimed_by = $4, claimed_at = $3, updated_at = $3 WHERE merchant = $1 AND batch_id = $2",
                    &[&merchant, &batch_id, &now, &claimer_id()],
                )
                .map_err(db_error)?;
                tx.commit().map_err(db_error)?;
                e.state = State::Sending;
                e.attempts += 1;
                e.last_sent_at = Some(now);
                e.updated_at = now;
                return Ok(Claim::Claimed(e));
            }
            if e.state != State::Sending {
                return Ok(Claim::NotSendable(e));
            }
            let row = tx
                .query_one(
                    "SELECT coalesce(claimed_by, ''), paydesk.session_alive(claim_pid, claim_backend_start)
                     FROM paydesk.batches WHERE merchant = $1 AND batch_id = $2",
                    &[&merchant, &batch_id],
                )
                .map_err(db_error)?;
            let (claimer, alive): (String, bool) = (row.get(0), row.get(1));
            if alive {
                return Ok(Claim::Busy { entry: e, claimer });
            }
            let why = stopped_why(&claimer);
            tx.execute(
                "UPDATE paydesk.batches SET state = 'unknown', unknown_why = $3, next_check_at = $4, updated_at = $4
                 WHERE merchant = $1 AND batch_id = $2",
                &[&merchant, &batch_id, &why, &now],
            )
            .map_err(db_error)?;
            tx.commit().map_err(db_error)?;
            e.state = State::Unknown;
            e.unknown_why = Some(why);
            Ok(Claim::Stale { entry: e, claimer })
        })
    }

    /// Records what a send or a lookup learned of a batch (the desktop journal's moves).
    pub(crate) fn change_batch(
        &self,
        merchant: &str,
        batch_id: &str,
        change: &BatchChange<'_>,
        now: i64,
    ) -> Result<(), TeamError> {
        let change = *change;
        self.with(move |c| {
            let key = "updated_at = $1 WHERE merchant = $2 AND batch_id = $3";
            let changed = match change {
                BatchChange::Accepted { next_check_at } => c.execute(
                    &format!(
                        "UPDATE paydesk.batches SET state = 'accepted', unknown_why = NULL, reject_code = NULL,
                            reject_meaning = NULL, reject_message = NULL, next_check_at = $4, {key}"
                    ),
                    &[&now, &merchant, &batch_id, &next_check_at],
                ),
                BatchChange::Refused {
                    code,
                    meaning,
                    message,
                } => c.execute(
                    &format!(
                        "UPDATE paydesk.batches SET state = 'rejected', reject_code = $4, reject_meaning = $5,
                            reject_message = $6, is_final = true, {key}"
                    ),
                    &[&now, &merchant, &batch_id, &code, &meaning, &message],
                ),
                BatchChange::Unknown { why, next_check_at } => c.execute(
                    &format!(
                        "UPDATE paydesk.batches SET state = 'unknown', unknown_why = $4, next_check_at = $5, {key}"
                    ),
                    &[&now, &merchant, &batch_id, &why, &next_check_at],
                ),
                BatchChange::NotCreated { checks } => c.execute(
                    &format!(
                        "UPDATE paydesk.batches SET state = 'not-created', checks = $4, next_check_at = NULL,
                            unknown_why = $5, {key}"
                    ),
                    &[&now, &merchant, &batch_id, &checks, &NOT_AT_GATEPAY],
                ),
                BatchChange::Checked {
                    checks,
                    next_check_at,
                } => c.execute(
                    &format!("UPDATE paydesk.batches SET checks = $4, next_check_at = $5, {key}"),
                    &[&now, &merchant, &batch_id, &checks, &next_check_at],
                ),
                BatchChange::Taken { why, checks } => c.execute(
                    &format!(
                        "UPDATE paydesk.batches SET state = 'rejected', reject_code = '550245', reject_meaning = $4,
                            reject_message = $5, unknown_why = NULL, checks = $6, next_check_at = NULL, {key}"
                    ),
                    &[&now, &merchant, &batch_id, &TAKEN_BATCH_MEANING, &why, &checks],
                ),
                BatchChange::Status {
                    status,
                    is_final,
                    checks,
                    next_check_at,
                } => c.execute(
                    &format!(
                        "UPDATE paydesk.batches SET state = 'accepted', batch_status = $4, is_final = $5, checks = $6,
                            next_check_at = $7, unknown_why = NULL, reject_code = NULL, reject_meaning = NULL,
                            reject_message = NULL, {key}"
                    ),
                    &[&now, &merchant, &batch_id, &status, &is_final, &checks, &next_check_at],
                ),
            }
            .map_err(db_error)?;
            if changed == 0 {
                return Err(TeamError::Refused(format!(
                    "no batch {batch_id} is in the team journal"
                )));
            }
            Ok(())
        })
    }

    /// The batches of `merchant` being sent by a live session.
    pub fn live_batch_claims(&self, merchant: &str) -> Result<HashSet<String>, TeamError> {
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT batch_id FROM paydesk.batches WHERE merchant = $1 AND state = 'sending'
                        AND paydesk.session_alive(claim_pid, claim_backend_start)",
                    &[&merchant],
                )
                .map_err(db_error)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// Turns the batches whose sender's session is gone into unknown outcomes, to be looked up.
    pub fn settle_dead_batch_claims(&self, merchant: &str, now: i64) -> Result<usize, TeamError> {
        self.with(|c| {
            let mut tx = c.transaction().map_err(db_error)?;
            let dead = tx
                .query(
                    "SELECT batch_id, coalesce(claimed_by, '') FROM paydesk.batches
                     WHERE merchant = $1 AND state = 'sending'
                       AND NOT paydesk.session_alive(claim_pid, claim_backend_start) FOR UPDATE",
                    &[&merchant],
                )
                .map_err(db_error)?;
            for row in &dead {
                let (batch_id, by): (String, String) = (row.get(0), row.get(1));
                tx.execute(
                    "UPDATE paydesk.batches SET state = 'unknown', unknown_why = $3, next_check_at = $4,
                        updated_at = $4 WHERE merchant = $1 AND batch_id = $2 AND state = 'sending'",
                    &[&merchant, &batch_id, &stopped_why(&by), &now],
                )
                .map_err(db_error)?;
            }
            tx.commit().map_err(db_error)?;
            Ok(dead.len())
        })
    }

    /// Shows `visit` every sub-order of the team's batches of `merchant` but `except` and
    /// the refused ones, newest batch first, as the server streams them (nothing collected).
    pub(crate) fn visit_batch_suborders(
        &self,
        merchant: &str,
        except: &str,
        visit: &mut SubOrderVisitor<'_>,
    ) -> Result<(), JournalError> {
        let mut failed = None;
        self.with(|c| {
            let params: [&(dyn ToSql + Sync); 2] = [&merchant, &except];
            let mut rows = c
                .query_raw(
                    "SELECT b.batch_id, b.state, b.batch_status, b.created_at,
                        coalesce(s->>'merchant_withdraw_id', ''), coalesce(s->>'currency', ''),
                        coalesce(s->>'amount', ''), coalesce(s->>'address', '')
                     FROM paydesk.batches b, jsonb_array_elements(b.body::jsonb->'withdraw_list') s
                     WHERE b.merchant = $1 AND b.batch_id <> $2 AND b.state <> 'rejected'
                     ORDER BY b.created_at DESC, b.id DESC",
                    params,
                )
                .map_err(db_error)?;
            while let Some(r) = rows.next().map_err(db_error)? {
                let seen = SubOrderSeen {
                    batch_id: r.get(0),
                    state: r.get(1),
                    batch_status: r.get(2),
                    created_at: r.get(3),
                    merchant_withdraw_id: r.get(4),
                    currency: r.get(5),
                    amount: r.get(6),
                    address: r.get(7),
                };
                if let Err(e) = visit(seen) {
                    failed = Some(e);
                    break;
                }
            }
            Ok(())
        })?;
        failed.map_or(Ok(()), Err)
    }

    /// The batches of `merchant` waiting for approval, oldest first.
    pub fn pending_batches(&self, merchant: &str) -> Result<Vec<BatchEntry>, TeamError> {
        self.with(|c| {
            c.query(
                &format!(
                    "SELECT {BATCH_COLUMNS} FROM paydesk.batches WHERE merchant = $1 AND approval = 'pending'
                     ORDER BY id LIMIT 1000"
                ),
                &[&merchant],
            )
            .map_err(db_error)?
            .iter()
            .map(batch_entry)
            .collect()
        })
    }

    /// Approves (or rejects, with a reason) a batch another role recorded: the database
    /// refuses one's own, and a decision already made.
    pub fn decide_batch(
        &self,
        merchant: &str,
        batch_id: &str,
        decision: Approval,
        reason: Option<&str>,
    ) -> Result<BatchEntry, TeamError> {
        let reason = super::store::checked_reason(decision, reason)?;
        let decision = decision.as_str();
        self.with(|c| {
            let mut tx = c.transaction().map_err(db_error)?;
            let missing =
                || TeamError::Refused(format!("no batch {batch_id} is in the team journal"));
            let now = find(&mut tx, merchant, batch_id, true)?.ok_or_else(missing)?;
            if let Some(t) = now
                .team
                .as_ref()
                .filter(|t| t.approval != Approval::Pending)
            {
                return Err(not_pending(&format!("batch {batch_id}"), &t.describe()));
            }
            let row = tx
                .query_opt(
                    &format!(
                        "UPDATE paydesk.batches SET approval = $3, decision_reason = $4
                         WHERE merchant = $1 AND batch_id = $2 RETURNING {BATCH_COLUMNS}"
                    ),
                    &[&merchant, &batch_id, &decision, &reason],
                )
                .map_err(db_error)?
                .ok_or_else(missing)?;
            let entry = batch_entry(&row)?;
            tx.commit().map_err(db_error)?;
            Ok(entry)
        })
    }

    /// The batch approval rules of `merchant`.
    pub fn batch_approval_rules(
        &self,
        merchant: &str,
    ) -> Result<Vec<BatchApprovalRule>, TeamError> {
        self.with(|c| {
            Ok(c.query(
                "SELECT merchant, currency, threshold::text, set_by FROM paydesk.batch_approval_rules
                 WHERE merchant = $1 ORDER BY currency",
                &[&merchant],
            )
            .map_err(db_error)?
            .iter()
            .map(|r| {
                let currency: String = r.get(1);
                BatchApprovalRule {
                    merchant: r.get(0),
                    currency: (currency != "*").then_some(currency),
                    threshold: r.get(2),
                    set_by: r.get(3),
                }
            })
            .collect())
        })
    }

    /// Sets a batch approval rule of `merchant` (only the journal's owner may): `currency`
    /// `None` makes every batch need approval; `threshold` `None` removes the rule.
    pub fn set_batch_approval_rule(
        &self,
        merchant: &str,
        currency: Option<&str>,
        threshold: Option<&crate::money::CryptoAmount>,
    ) -> Result<(), TeamError> {
        let currency = currency.map_or_else(|| "*".to_owned(), |c| c.trim().to_uppercase());
        let threshold = if currency == "*" {
            threshold.map(|_| "0".to_owned())
        } else {
            threshold.map(ToString::to_string)
        };
        self.with(|c| {
            match threshold {
                Some(t) => c.execute(
                    "INSERT INTO paydesk.batch_approval_rules (merchant, currency, threshold)
                     VALUES ($1, $2, $3::text::numeric)
                     ON CONFLICT (merchant, currency) DO UPDATE
                        SET threshold = excluded.threshold, set_by = session_user, set_at = now()",
                    &[&merchant, &currency, &t],
                ),
                None => c.execute(
                    "DELETE FROM paydesk.batch_approval_rules WHERE merchant = $1 AND currency = $2",
                    &[&merchant, &currency],
                ),
            }
            .map_err(db_error)?;
            Ok(())
        })
    }
}
