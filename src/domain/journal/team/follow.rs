//! Following payouts in the team journal after they are sent: what a lookup found, when to
//! look again, the attempts and checks of each payout, and the claims of senders that stopped
//! (whose sessions the server no longer has), the same rules as the desktop journal's.

use std::collections::HashSet;

use super::TeamError;
use super::store::{COLUMNS, TeamJournal, db_error, team_entry};
use crate::domain::journal::{
    Attempt, AuditRecord, CheckNote, Entry, Found, Recheck, SentElsewhere, check_words, claimer_id,
    stopped_why,
};

/// The rows of `merchant` in `sending` whose server session is gone: (ID, claimer).
const DEAD_SENDING: &str = "SELECT payout_cl_id, coalesce(claimed_by, '') FROM paydesk.payouts
    WHERE merchant = $1 AND state = 'sending' AND NOT paydesk.session_alive(claim_pid, claim_backend_start)";

/// Adds a check's row to a payout's attempts (in the caller's transaction, if any).
pub(super) fn add_check(
    c: &mut impl postgres::GenericClient,
    merchant: &str,
    cl_id: &str,
    note: &CheckNote,
    now: i64,
) -> Result<(), TeamError> {
    let (summary, http) = check_words(note);
    c.execute(
        "SELECT paydesk.attempt_add($1, $2, 'check', $3, NULL, $3, $4, $5, $6, $7, $8)",
        &[
            &merchant,
            &cl_id,
            &now,
            &note.outcome,
            &note.gateway_code,
            &note.code_meaning,
            &http,
            &summary,
        ],
    )
    .map_err(db_error)?;
    Ok(())
}

impl TeamJournal {
    /// Records what a query found: the order exists with this ID and status.
    pub fn record_found(
        &self,
        merchant: &str,
        cl_id: &str,
        found: &Found,
        now: i64,
    ) -> Result<(), TeamError> {
        self.with(|c| {
            c.execute(
                "UPDATE paydesk.payouts SET state = 'accepted', payout_id = $3, gateway_status = $4,
                    gateway_status_label = $5, is_final = $6,
                    final_at = CASE WHEN $6 AND final_at IS NULL THEN $7 ELSE final_at END,
                    unknown_why = NULL, reject_code = NULL, reject_meaning = NULL, reject_message = NULL,
                    unverified_at = NULL, checks = checks + 1, next_check_at = $8, updated_at = $7
                 WHERE merchant = $1 AND payout_cl_id = $2",
                &[
                    &merchant,
                    &cl_id,
                    &found.payout_id,
                    &found.status,
                    &found.label,
                    &found.is_final,
                    &now,
                    &found.next_check_at,
                ],
            )
            .map_err(db_error)?;
            Ok(())
        })
    }

    pub fn record_not_created(
        &self,
        merchant: &str,
        cl_id: &str,
        now: i64,
    ) -> Result<(), TeamError> {
        self.with(|c| {
            c.execute(
                "UPDATE paydesk.payouts SET state = 'not-created', unverified_at = NULL, checks = checks + 1,
                    next_check_at = NULL, updated_at = $3 WHERE merchant = $1 AND payout_cl_id = $2",
                &[&merchant, &cl_id, &now],
            )
            .map_err(db_error)?;
            Ok(())
        })
    }

    /// Counts one more check that left the state as it was, and when to look again.
    pub fn schedule_check(
        &self,
        merchant: &str,
        cl_id: &str,
        at: i64,
        now: i64,
        why: Recheck,
    ) -> Result<(), TeamError> {
        let unverified = why == Recheck::Unverified;
        self.with(|c| {
            c.execute(
                "UPDATE paydesk.payouts SET checks = checks + 1, next_check_at = $3, updated_at = $4,
                    unverified_at = CASE WHEN $5 THEN $4 ELSE unverified_at END
                 WHERE merchant = $1 AND payout_cl_id = $2",
                &[&merchant, &cl_id, &at, &now, &unverified],
            )
            .map_err(db_error)?;
            Ok(())
        })
    }

    /// Payouts whose outcome or final status is still to be learned, due by `now`; a row
    /// another live session is sending is its sender's to settle.
    pub fn due_for_check(&self, merchant: &str, now: i64) -> Result<Vec<Entry>, TeamError> {
        self.with(|c| {
            let rows = c
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM paydesk.payouts WHERE merchant = $1
                            AND (state = 'unknown' OR (state = 'accepted' AND NOT is_final)
                                 OR (state = 'sending' AND NOT paydesk.session_alive(claim_pid, claim_backend_start)))
                            AND (next_check_at IS NULL OR next_check_at <= $2)
                         ORDER BY id LIMIT 10000"
                    ),
                    &[&merchant, &now],
                )
                .map_err(db_error)?;
            rows.iter().map(team_entry).collect()
        })
    }

    /// The rows of an import still to send, in file order (those waiting for approval too:
    /// the send tells which are held).
    pub fn import_to_send(&self, merchant: &str, import_id: &str) -> Result<Vec<Entry>, TeamError> {
        self.with(|c| {
            let rows = c
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM paydesk.payouts WHERE merchant = $1 AND import_id = $2
                            AND state IN ('queued', 'not-created') ORDER BY import_row"
                    ),
                    &[&merchant, &import_id],
                )
                .map_err(db_error)?;
            rows.iter().map(team_entry).collect()
        })
    }

    /// The payouts of `merchant` some live session (of any operator) is sending now.
    pub fn live_claims(&self, merchant: &str) -> Result<HashSet<String>, TeamError> {
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT payout_cl_id FROM paydesk.payouts WHERE merchant = $1 AND state = 'sending'
                        AND paydesk.session_alive(claim_pid, claim_backend_start)",
                    &[&merchant],
                )
                .map_err(db_error)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }

    /// Turns the rows whose sender's session is gone into unknown outcomes, to be looked up.
    pub fn settle_dead_claims(&self, merchant: &str, now: i64) -> Result<usize, TeamError> {
        self.with(|c| {
            let mut tx = c.transaction().map_err(db_error)?;
            let dead = tx.query(DEAD_SENDING, &[&merchant]).map_err(db_error)?;
            for row in &dead {
                let (cl_id, by): (String, String) = (row.get(0), row.get(1));
                tx.execute(
                    "UPDATE paydesk.payouts SET state = 'unknown', unknown_why = $3, next_check_at = $4,
                        updated_at = $4 WHERE merchant = $1 AND payout_cl_id = $2 AND state = 'sending'",
                    &[&merchant, &cl_id, &stopped_why(&by), &now],
                )
                .map_err(db_error)?;
            }
            tx.commit().map_err(db_error)?;
            Ok(dead.len())
        })
    }

    /// The rows of an import another live session (not this Paydesk) is sending now.
    pub fn import_sent_elsewhere(
        &self,
        merchant: &str,
        import_id: &str,
    ) -> Result<Vec<SentElsewhere>, TeamError> {
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT payout_cl_id, coalesce(claimed_by, ''), coalesce(claimed_at, 0) FROM paydesk.payouts
                     WHERE merchant = $1 AND import_id = $2 AND state = 'sending'
                       AND paydesk.session_alive(claim_pid, claim_backend_start) ORDER BY import_row",
                    &[&merchant, &import_id],
                )
                .map_err(db_error)?;
            Ok(rows
                .iter()
                .filter_map(|r| {
                    let claimer: String = r.get(1);
                    (claimer != claimer_id()).then(|| SentElsewhere {
                        pid: claimer.rsplit(':').nth(1).and_then(|p| p.parse().ok()),
                        payout_cl_id: r.get(0),
                        claimer,
                        since: r.get(2),
                    })
                })
                .collect())
        })
    }

    /// Records one check of a payout with the gateway and what it found.
    pub fn record_check(
        &self,
        merchant: &str,
        cl_id: &str,
        note: &CheckNote,
        now: i64,
    ) -> Result<(), TeamError> {
        self.with(|c| add_check(c, merchant, cl_id, note, now))
    }

    /// Every attempt and check of a payout kept, oldest first.
    pub fn attempts(&self, merchant: &str, cl_id: &str) -> Result<Vec<Attempt>, TeamError> {
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT number, kind, started_at, body_sha256, finished_at, outcome, gateway_code,
                        code_meaning, http_status, summary, reconstructed
                     FROM paydesk.attempts WHERE merchant = $1 AND payout_cl_id = $2 ORDER BY number",
                    &[&merchant, &cl_id],
                )
                .map_err(db_error)?;
            Ok(rows
                .iter()
                .map(|r| Attempt {
                    number: r.get(0),
                    kind: r.get(1),
                    started_at: r.get(2),
                    body_sha256: r.get(3),
                    finished_at: r.get(4),
                    outcome: r.get(5),
                    gateway_code: r.get(6),
                    code_meaning: r.get(7),
                    http_status: r.get(8),
                    summary: r.get(9),
                    reconstructed: r.get(10),
                })
                .collect())
        })
    }

    /// The audit entries that name `id`, oldest first.
    pub fn audit_naming(&self, id: &str, limit: usize) -> Result<Vec<AuditRecord>, TeamError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT at, actor, action, detail FROM paydesk.audit WHERE strpos(detail, $1) > 0
                     ORDER BY id LIMIT $2",
                    &[&id, &limit],
                )
                .map_err(db_error)?;
            Ok(rows
                .iter()
                .map(|r| AuditRecord {
                    at: r.get(0),
                    actor: r.get(1),
                    action: r.get(2),
                    detail: r.get(3),
                })
                .collect())
        })
    }

    /// Whether the team journal holds a payout of `merchant` under this ID.
    pub fn knows_payout(&self, merchant: &str, cl_id: &str) -> Result<bool, TeamError> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT 1 FROM paydesk.payouts WHERE merchant = $1 AND payout_cl_id = $2",
                &[&merchant, &cl_id],
            )
            .map_err(db_error)?
            .is_some())
        })
    }
}
