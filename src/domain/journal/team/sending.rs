//! Sending through the team journal: one sender per row, claimed under a row lock (or skipped
//! while another session holds it), and moved to `sending` only where the database allows.

use std::time::Duration;

use super::TeamError;
use super::follow::add_check;
use super::store::{COLUMNS, TeamEntry, TeamJournal, db_error, team_entry};
use crate::domain::journal::{Claim, Reply, State, claimer_id, mismatch, sha256_hex, stopped_why};
use crate::gateway::cny::wire::{CreateOutcome, PayoutRequest};

impl TeamJournal {
    /// Claims a payout for sending, as the desktop journal does: its row is read back under a
    /// row lock and compared with the request about to be sent, and moved to `sending` only
    /// from one of `from` — which the database refuses without approval where one is needed.
    /// A row another session is sending is busy while that session lives; one whose session is
    /// gone belongs to a sender that stopped and becomes unknown, to be looked up first.
    pub fn claim_payout(
        &self,
        merchant: &str,
        request: &PayoutRequest,
        body: &[u8],
        from: &[State],
        now: i64,
    ) -> Result<Claim<TeamEntry>, TeamError> {
        let cl_id = request.payout_cl_id.clone();
        let hash = sha256_hex(body);
        let from: Vec<&str> = from.iter().map(|s| s.as_str()).collect();
        self.with(move |c| {
            let mut tx = c.transaction().map_err(db_error)?;
            let row = tx
                .query_opt(
                    &format!(
                        "SELECT {COLUMNS} FROM paydesk.payouts WHERE merchant = $1 AND payout_cl_id = $2 FOR UPDATE"
                    ),
                    &[&merchant, &cl_id],
                )
                .map_err(db_error)?
                .ok_or_else(|| {
                    TeamError::Refused(format!(
                        "no payout with merchant order ID {cl_id} is in the team journal"
                    ))
                })?;
            let mut e = team_entry(&row)?;
            if let Some(what) = mismatch(&e, request) {
                return Err(TeamError::Refused(format!(
                    "the team journal's record of {cl_id} does not match the payout about to be sent ({what}); nothing was sent"
                )));
            }
            if from.contains(&e.state.as_str()) {
                if e.held_for_approval() {
                    // Not an error: it waits for a second operator (the database would refuse
                    // the move anyway).
                    return Ok(Claim::NotSendable(e));
                }
                tx.execute(
                    "UPDATE paydesk.payouts SET state = 'sending', attempts = attempts + 1, last_sent_at = $3,
                        body_sha256 = $4, claimed_by = $5, claimed_at = $3, updated_at = $3
                     WHERE merchant = $1 AND payout_cl_id = $2",
                    &[&merchant, &cl_id, &now, &hash, &claimer_id()],
                )
                .map_err(db_error)?;
                // The attempt and its body hash are durable with the claim, before a byte leaves.
                tx.execute(
                    "SELECT paydesk.attempt_add($1, $2, 'send', $3, $4, NULL, NULL, NULL, NULL, NULL, NULL)",
                    &[&merchant, &cl_id, &now, &hash],
                )
                .map_err(db_error)?;
                tx.commit().map_err(db_error)?;
                e.state = State::Sending;
                e.attempts += 1;
                e.last_sent_at = Some(now);
                e.body_sha256 = Some(hash);
                e.updated_at = now;
                return Ok(Claim::Claimed(e));
            }
            if e.state != State::Sending {
                return Ok(Claim::NotSendable(e));
            }
            let claimer: Option<String> = row.get(34);
            let claimer = claimer.unwrap_or_default();
            let pid: Option<i32> = row.get(36);
            let start: Option<std::time::SystemTime> = row.get(37);
            let alive: bool = tx
                .query_one("SELECT paydesk.session_alive($1, $2)", &[&pid, &start])
                .map_err(db_error)?
                .get(0);
            if alive {
                return Ok(Claim::Busy { entry: e, claimer });
            }
            let why = stopped_why(&claimer);
            tx.execute(
                "UPDATE paydesk.payouts SET state = 'unknown', unknown_why = $3, next_check_at = $4, updated_at = $4
                 WHERE merchant = $1 AND payout_cl_id = $2",
                &[&merchant, &cl_id, &why, &now],
            )
            .map_err(db_error)?;
            tx.commit().map_err(db_error)?;
            e.state = State::Unknown;
            e.unknown_why = Some(why);
            Ok(Claim::Stale { entry: e, claimer })
        })
    }

    /// Claims the next queued, sendable row of an import that no other session is claiming
    /// (`FOR UPDATE SKIP LOCKED`): operators sending the same import at once share its rows,
    /// each row going to one of them. `None` once no row is left to claim.
    pub fn claim_next_in_import(
        &self,
        merchant: &str,
        import_id: &str,
        now: i64,
    ) -> Result<Option<TeamEntry>, TeamError> {
        for _ in 0..200 {
            let claimed = self.with(|c| {
                let row = c
                    .query_opt(
                        &format!(
                            "UPDATE paydesk.payouts SET state = 'sending', attempts = attempts + 1, last_sent_at = $3,
                                claimed_by = $4, claimed_at = $3, updated_at = $3
                             WHERE id = (SELECT id FROM paydesk.payouts
                                         WHERE merchant = $1 AND import_id = $2 AND state = 'queued'
                                           AND approval IN ('not-needed', 'approved')
                                         ORDER BY import_row FOR UPDATE SKIP LOCKED LIMIT 1)
                             RETURNING {COLUMNS}"
                        ),
                        &[&merchant, &import_id, &now, &claimer_id()],
                    )
                    .map_err(db_error)?;
                if let Some(row) = row {
                    return Ok(Some(Some(team_entry(&row)?)));
                }
                // Nothing claimed: either nothing is left, or a row changed under us (another
                // session claimed it as we looked): look again while sendable rows remain.
                let left: bool = c
                    .query_one(
                        "SELECT EXISTS (SELECT 1 FROM paydesk.payouts WHERE merchant = $1 AND import_id = $2
                            AND state = 'queued' AND approval IN ('not-needed', 'approved'))",
                        &[&merchant, &import_id],
                    )
                    .map_err(db_error)?
                    .get(0);
                Ok(if left { None } else { Some(None) })
            })?;
            match claimed {
                Some(result) => return Ok(result),
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        Ok(None)
    }

    /// Records what a send produced (accepted, refused with a code, or unknown: to be looked
    /// up, never called failed).
    pub fn record_outcome(
        &self,
        merchant: &str,
        cl_id: &str,
        outcome: &CreateOutcome,
        now: i64,
    ) -> Result<(), TeamError> {
        let reply = Reply::of(outcome);
        self.with(|c| {
            let mut tx = c.transaction().map_err(db_error)?;
            match outcome {
                CreateOutcome::Accepted { payout_id } => tx.execute(
                    "UPDATE paydesk.payouts SET state = 'accepted', payout_id = $3, unknown_why = NULL,
                        reject_code = NULL, reject_meaning = NULL, reject_message = NULL, unverified_at = NULL,
                        next_check_at = $4, updated_at = $4 WHERE merchant = $1 AND payout_cl_id = $2",
                    &[&merchant, &cl_id, payout_id, &now],
                ),
                CreateOutcome::Rejected {
                    code,
                    meaning,
                    message,
                } => tx.execute(
                    "UPDATE paydesk.payouts SET state = 'rejected', unknown_why = NULL, reject_code = $3,
                        reject_meaning = $4, reject_message = $5, next_check_at = NULL, updated_at = $6
                     WHERE merchant = $1 AND payout_cl_id = $2",
                    &[&merchant, &cl_id, code, meaning, message, &now],
                ),
                CreateOutcome::Unknown { why } => tx.execute(
                    "UPDATE paydesk.payouts SET state = 'unknown', unknown_why = $3, next_check_at = $4,
                        updated_at = $4 WHERE merchant = $1 AND payout_cl_id = $2",
                    &[&merchant, &cl_id, why, &now],
                ),
            }
            .map_err(db_error)?;
            // The payout's row and its attempt's reply are written together.
            let finished: bool = tx
                .query_one(
                    "SELECT paydesk.attempt_finish($1, $2, $3, $4, $5, $6, $7, $8)",
                    &[
                        &merchant,
                        &cl_id,
                        &now,
                        &reply.word,
                        &reply.code,
                        &reply.meaning,
                        &reply.http,
                        &reply.summary,
                    ],
                )
                .map_err(db_error)?
                .get(0);
            if !finished {
                add_check(&mut tx, merchant, cl_id, &reply.as_check(), now)?;
            }
            tx.commit().map_err(db_error)?;
            Ok(())
        })
    }
}
