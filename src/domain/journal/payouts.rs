//! The `payouts` table: its schema beside its queries (record, settle, read and list the
//! CNY payouts of the journal).

use rusqlite::{OptionalExtension, Row, params};

use super::{Entry, Journal, JournalError, State, account_fingerprint, mask_account};
use crate::gateway::cny::wire::{CreateOutcome, PayoutRequest};
use crate::money::Fen;

/// Version 0 of the `payouts` table (see `schema::MIGRATIONS`).
pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS payouts (
    id INTEGER PRIMARY KEY,
    merchant TEXT NOT NULL,
    payout_cl_id TEXT NOT NULL,
    amount_fen INTEGER NOT NULL,
    bank_name TEXT NOT NULL,
    recipient_name TEXT NOT NULL,
    account_masked TEXT NOT NULL,
    account_fingerprint TEXT NOT NULL,
    request_json TEXT NOT NULL,
    state TEXT NOT NULL,
    payout_id TEXT,
    reject_code TEXT,
    reject_meaning TEXT,
    reject_message TEXT,
    unknown_why TEXT,
    gateway_status INTEGER,
    gateway_status_label TEXT,
    is_final INTEGER NOT NULL DEFAULT 0,
    final_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0,
    checks INTEGER NOT NULL DEFAULT 0,
    next_check_at INTEGER,
    last_sent_at INTEGER,
    body_sha256 TEXT,
    batch_id TEXT,
    batch_row INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (merchant, payout_cl_id)
);
CREATE INDEX IF NOT EXISTS payouts_state ON payouts (merchant, state);
CREATE INDEX IF NOT EXISTS payouts_batch ON payouts (batch_id, batch_row);
";

/// Version 1: claims, one sender per row (see `claims`).
pub(super) const CLAIM_COLUMNS: &str = "ALTER TABLE payouts ADD COLUMN claimed_by TEXT;
     ALTER TABLE payouts ADD COLUMN claimed_at INTEGER;";

/// Version 2: replies that failed their signature check; the likely-duplicate lookup's index.
pub(super) const UNVERIFIED_AND_DUPLICATES: &str = "ALTER TABLE payouts ADD COLUMN unverified_at INTEGER;
     CREATE INDEX IF NOT EXISTS payouts_duplicates ON payouts (merchant, account_fingerprint, amount_fen);";

/// Version 3: a merchant is its `platform_id`, no longer `platform_id@host:port` (the text
/// after the last `@` goes). A row whose ID is already held under the bare identity (the
/// same merchant order ID reached under two addresses) keeps its old key, so none is lost.
pub(super) const MERCHANT_IDENTITY: &str = "UPDATE OR IGNORE payouts
     SET merchant = substr(rtrim(merchant, replace(merchant, '@', '')), 1,
                           length(rtrim(merchant, replace(merchant, '@', ''))) - 1)
     WHERE instr(merchant, '@') > 0;";

pub(super) const COLUMNS: &str = "id, merchant, payout_cl_id, amount_fen, bank_name, recipient_name, account_masked, state, \
    payout_id, reject_code, reject_meaning, reject_message, unknown_why, gateway_status, gateway_status_label, \
    is_final, final_at, attempts, checks, next_check_at, last_sent_at, body_sha256, batch_id, batch_row, \
    created_at, updated_at, request_json, unverified_at, origin";

pub(super) fn entry(row: &Row<'_>) -> rusqlite::Result<Entry> {
    let state: String = row.get(7)?;
    let request_json: String = row.get(26)?;
    let corrupt = |what: String| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, what.into())
    };
    Ok(Entry {
        id: row.get(0)?,
        merchant: row.get(1)?,
        payout_cl_id: row.get(2)?,
        amount: Fen::from_fen(row.get(3)?),
        bank_name: row.get(4)?,
        recipient_name: row.get(5)?,
        account_masked: row.get(6)?,
        state: State::parse(&state).ok_or_else(|| corrupt(format!("unknown state {state}")))?,
        payout_id: row.get(8)?,
        reject_code: row.get(9)?,
        reject_meaning: row.get(10)?,
        reject_message: row.get(11)?,
        unknown_why: row.get(12)?,
        gateway_status: row.get(13)?,
        gateway_status_label: row.get(14)?,
        is_final: row.get::<_, i64>(15)? != 0,
        final_at: row.get(16)?,
        attempts: row.get(17)?,
        checks: row.get(18)?,
        next_check_at: row.get(19)?,
        last_sent_at: row.get(20)?,
        body_sha256: row.get(21)?,
        import_id: row.get(22)?,
        import_row: row.get(23)?,
        created_at: row.get(24)?,
        updated_at: row.get(25)?,
        unverified_at: row.get(27)?,
        origin: row.get(28)?,
        team: None,
        request: serde_json::from_str(&request_json).map_err(|e| corrupt(e.to_string()))?,
    })
}

/// A payout to record before anything is sent.
#[derive(Clone, Debug)]
pub struct Intent {
    pub merchant: String,
    /// The gateway origin it is sent to (`origin::gateway_origin`); `None` only in tests of
    /// journals from before origins were kept.
    pub origin: Option<String>,
    pub request: PayoutRequest,
    pub state: State,
    /// The file import and row it comes from.
    pub import: Option<(String, i64)>,
}

/// What a query by merchant order ID found at the gateway.
#[derive(Clone, Debug)]
pub struct Found {
    pub payout_id: String,
    pub status: Option<i64>,
    pub label: String,
    pub is_final: bool,
    /// When to look again while the status is not final.
    pub next_check_at: Option<i64>,
}

/// What to list.
#[derive(Clone, Debug, Default)]
pub struct ListFilter {
    pub merchant: Option<String>,
    /// Only payouts sent to this gateway origin (and those from before origins were kept),
    /// so that one profile's list never shows another address's payouts as its own.
    pub origin: Option<String>,
    pub state: Option<State>,
    pub text: Option<String>,
    pub limit: Option<usize>,
}

/// Why a payout is checked again with its state left as it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recheck {
    /// The check failed, or said nothing final yet.
    Inconclusive,
    /// The gateway answered with an order whose `sign` failed: the state stays (unknown, or
    /// the last trusted status) and the row is marked unverified.
    Unverified,
}

impl Journal {
    /// Records the intent of payouts in one transaction. An ID already in the journal is an
    /// error for a single payout and skipped for an import (which may be resumed).
    pub fn record_intents(&mut self, intents: &[Intent], now: i64) -> Result<usize, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.record_intents(intents, now)?);
        }
        self.ensure_trusted()?;
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let mut added = 0;
        for intent in intents {
            let r = &intent.request;
            let request_json =
                serde_json::to_string(r).map_err(|e| JournalError::Corrupt(e.to_string()))?;
            let inserted = tx.execute(
                "INSERT INTO payouts (merchant, payout_cl_id, amount_fen, bank_name, recipient_name, account_masked,
                    account_fingerprint, request_json, state, batch_id, batch_row, created_at, updated_at, origin)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13)
                 ON CONFLICT (merchant, payout_cl_id) DO NOTHING",
                params![
                    intent.merchant,
                    r.payout_cl_id,
                    r.amount.fen(),
                    r.bank_name,
                    r.name,
                    mask_account(&r.number),
                    account_fingerprint(&r.number),
                    request_json,
                    intent.state.as_str(),
                    intent.import.as_ref().map(|b| b.0.clone()),
                    intent.import.as_ref().map(|b| b.1),
                    now,
                    intent.origin,
                ],
            )?;
            if inserted == 0 && intent.import.is_none() {
                return Err(JournalError::DuplicateId(r.payout_cl_id.clone()));
            }
            added += inserted;
        }
        tx.commit()?;
        Ok(added)
    }

    /// Records what a send produced.
    pub fn record_outcome(
        &mut self,
        merchant: &str,
        cl_id: &str,
        outcome: &CreateOutcome,
        now: i64,
    ) -> Result<(), JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.record_outcome(merchant, cl_id, outcome, now)?);
        }
        // The payout's row and its attempt's reply are written together.
        let tx = self.conn.transaction()?;
        match outcome {
            CreateOutcome::Accepted { payout_id } => tx.execute(
                "UPDATE payouts SET state = 'accepted', payout_id = ?3, unknown_why = NULL, reject_code = NULL,
                    reject_meaning = NULL, reject_message = NULL, unverified_at = NULL, next_check_at = ?4,
                    updated_at = ?4 WHERE merchant = ?1 AND payout_cl_id = ?2",
                params![merchant, cl_id, payout_id, now],
            )?,
            CreateOutcome::Rejected { code, meaning, message } => tx.execute(
                "UPDATE payouts SET state = 'rejected', unknown_why = NULL, reject_code = ?3, reject_meaning = ?4, reject_message = ?5,
                    next_check_at = NULL, updated_at = ?6 WHERE merchant = ?1 AND payout_cl_id = ?2",
                params![merchant, cl_id, code, meaning, message, now],
            )?,
            CreateOutcome::Unknown { why } => tx.execute(
                "UPDATE payouts SET state = 'unknown', unknown_why = ?3, next_check_at = ?4, updated_at = ?4
                    WHERE merchant = ?1 AND payout_cl_id = ?2",
                params![merchant, cl_id, why, now],
            )?,
        };
        super::attempts::finish_send(&tx, merchant, cl_id, outcome, now)?;
        tx.commit()?;
        Ok(())
    }

    /// Records what a query found: the order exists with this ID and status.
    pub fn record_found(
        &mut self,
        merchant: &str,
        cl_id: &str,
        found: &Found,
        now: i64,
    ) -> Result<(), JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.record_found(merchant, cl_id, found, now)?);
        }
        self.conn.execute(
            "UPDATE payouts SET state = 'accepted', payout_id = ?3, gateway_status = ?4, gateway_status_label = ?5,
                is_final = ?6, final_at = CASE WHEN ?6 = 1 AND final_at IS NULL THEN ?7 ELSE final_at END,
                unknown_why = NULL, reject_code = NULL, reject_meaning = NULL, reject_message = NULL,
                unverified_at = NULL, checks = checks + 1, next_check_at = ?8, updated_at = ?7
             WHERE merchant = ?1 AND payout_cl_id = ?2",
            params![
                merchant,
                cl_id,
                found.payout_id,
                found.status,
                found.label,
                i64::from(found.is_final),
                now,
                found.next_check_at
            ],
        )?;
        Ok(())
    }

    pub fn record_not_created(
        &mut self,
        merchant: &str,
        cl_id: &str,
        now: i64,
    ) -> Result<(), JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.record_not_created(merchant, cl_id, now)?);
        }
        self.conn.execute(
            "UPDATE payouts SET state = 'not-created', unverified_at = NULL, checks = checks + 1, next_check_at = NULL,
                updated_at = ?3 WHERE merchant = ?1 AND payout_cl_id = ?2",
            params![merchant, cl_id, now],
        )?;
        Ok(())
    }

    /// Counts one more check of a payout that left its state as it was, and sets when to
    /// look again (`at`). An answer whose `sign` failed also marks the row at `now`.
    pub fn schedule_check(
        &mut self,
        merchant: &str,
        cl_id: &str,
        at: i64,
        now: i64,
        why: Recheck,
    ) -> Result<(), JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.schedule_check(merchant, cl_id, at, now, why)?);
        }
        let unverified = why == Recheck::Unverified;
        self.conn.execute(
            "UPDATE payouts SET checks = checks + 1, next_check_at = ?3, updated_at = ?4,
                unverified_at = CASE WHEN ?5 THEN ?4 ELSE unverified_at END
                WHERE merchant = ?1 AND payout_cl_id = ?2",
            params![merchant, cl_id, at, now, unverified],
        )?;
        Ok(())
    }

    pub fn get(&self, merchant: &str, cl_id: &str) -> Result<Option<Entry>, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.get(merchant, cl_id)?);
        }
        Ok(self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM payouts WHERE merchant = ?1 AND payout_cl_id = ?2"),
                params![merchant, cl_id],
                entry,
            )
            .optional()?)
    }

    /// Payouts whose outcome or final status is still to be learned, due by `now`.
    pub fn due_for_check(&self, merchant: &str, now: i64) -> Result<Vec<Entry>, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.due_for_check(merchant, now)?);
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM payouts WHERE merchant = ?1
                AND (state IN ('unknown', 'sending') OR (state = 'accepted' AND is_final = 0))
                AND (next_check_at IS NULL OR next_check_at <= ?2) ORDER BY id"
        ))?;
        let rows: Vec<Entry> = stmt
            .query_map(params![merchant, now], entry)?
            .collect::<Result<_, _>>()?;
        // A row another live Paydesk is sending is its sender's to settle, not ours.
        let busy = self.live_claims("payouts", merchant, now)?;
        Ok(rows
            .into_iter()
            .filter(|e| !(e.state == State::Sending && busy.contains(&e.payout_cl_id)))
            .collect())
    }

    /// The rows of an import still to send, in file order.
    pub fn import_to_send(
        &self,
        merchant: &str,
        import_id: &str,
    ) -> Result<Vec<Entry>, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.import_to_send(merchant, import_id)?);
        }
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM payouts WHERE merchant = ?1 AND batch_id = ?2 AND state IN ('queued', 'not-created')
                ORDER BY batch_row"
        ))?;
        let rows = stmt.query_map(params![merchant, import_id], entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    pub fn list(&self, filter: &ListFilter) -> Result<Vec<Entry>, JournalError> {
        if let Some(t) = self.team.as_deref() {
            return Ok(t.list(filter)?);
        }
        let text = filter
            .text
            .as_ref()
            .map(|t| format!("%{}%", t.replace('%', "")));
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {COLUMNS} FROM payouts WHERE (?1 IS NULL OR merchant = ?1) AND (?2 IS NULL OR state = ?2)
                AND (?3 IS NULL OR payout_cl_id LIKE ?3 OR recipient_name LIKE ?3 OR payout_id LIKE ?3)
                AND (?5 IS NULL OR origin IS NULL OR origin = ?5)
                ORDER BY id DESC LIMIT ?4"
        ))?;
        let limit = i64::try_from(filter.limit.unwrap_or(100_000)).unwrap_or(i64::MAX);
        let rows = stmt.query_map(
            params![
                filter.merchant,
                filter.state.map(State::as_str),
                text,
                limit,
                filter.origin
            ],
            entry,
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // Likely duplicates (same account and amount) are found by
    // `Journal::likely_duplicates_of_rows` in `domain::duplicates`, the one place of that rule.
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::super::{Claim, SCHEMA_VERSION, claimer_id, journal_path};
    use super::*;

    fn request(id: &str) -> PayoutRequest {
        PayoutRequest {
            payout_cl_id: id.into(),
            amount: Fen::from_fen(123_456),
            bank_name: "中国银行".into(),
            name: "李娜".into(),
            number: "6222 0202 0202 0202".into(),
            bank_branch: None,
            province: None,
            city: None,
            notify_url: None,
        }
    }

    fn intent(id: &str, import: Option<(&str, i64)>) -> Intent {
        Intent {
            merchant: "PF0060@gw".into(),
            origin: None,
            request: request(id),
            state: if import.is_some() {
                State::Queued
            } else {
                State::Sending
            },
            import: import.map(|(b, r)| (b.to_owned(), r)),
        }
    }

    #[test]
    fn a_list_for_one_origin_leaves_out_another_origin_s_payouts() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&journal_path(dir.path())).unwrap();
        let at = |id: &str, origin: Option<&str>| Intent {
            origin: origin.map(str::to_owned),
            ..intent(id, None)
        };
        j.record_intents(
            &[
                at("O1", Some("https://test.example:443")),
                at("O2", Some("https://live.example:443")),
                at("O3", None),
            ],
            100,
        )
        .unwrap();
        let listed = j
            .list(&ListFilter {
                origin: Some("https://test.example:443".into()),
                ..ListFilter::default()
            })
            .unwrap();
        let ids: Vec<&str> = listed.iter().map(|e| e.payout_cl_id.as_str()).collect();
        assert_eq!(ids, ["O3", "O1"]);
        assert_eq!(
            listed[1].origin.as_deref(),
            Some("https://test.example:443")
        );
    }

    #[test]
    fn intents_outcomes_and_duplicates() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&journal_path(dir.path())).unwrap();
        j.record_intents(&[intent("A1", None)], 100).unwrap();
        assert!(matches!(
            j.record_intents(&[intent("A1", None)], 101),
            Err(JournalError::DuplicateId(_))
        ));
        assert!(matches!(
            j.claim_payout("PF0060@gw", &request("A1"), b"{}", &[State::Sending], 102)
                .unwrap(),
            Claim::Claimed(_)
        ));
        j.record_outcome(
            "PF0060@gw",
            "A1",
            &CreateOutcome::Unknown {
                why: "timeout".into(),
            },
            103,
        )
        .unwrap();
        let e = j.get("PF0060@gw", "A1").unwrap().unwrap();
        assert_eq!(e.state, State::Unknown);
        assert_eq!(e.account_masked, "6222 **** 0202");
        assert_eq!(e.attempts, 1);
        assert_eq!(e.request.number, "6222 0202 0202 0202");
        assert_eq!(j.due_for_check("PF0060@gw", 103).unwrap().len(), 1);
        let found = Found {
            payout_id: "POT1".into(),
            status: Some(3),
            label: "success".into(),
            is_final: true,
            next_check_at: None,
        };
        j.record_found("PF0060@gw", "A1", &found, 104).unwrap();
        let e = j.get("PF0060@gw", "A1").unwrap().unwrap();
        assert_eq!(
            (e.state, e.payout_id.as_deref(), e.is_final, e.final_at),
            (State::Accepted, Some("POT1"), true, Some(104))
        );
        assert!(j.due_for_check("PF0060@gw", 105).unwrap().is_empty());
        // An import is resumable: its rows are recorded once.
        let rows = [
            intent("B1", Some(("batch", 1))),
            intent("B2", Some(("batch", 2))),
        ];
        assert_eq!(j.record_intents(&rows, 110).unwrap(), 2);
        assert_eq!(j.record_intents(&rows, 111).unwrap(), 0);
        assert_eq!(j.import_to_send("PF0060@gw", "batch").unwrap().len(), 2);
    }

    #[test]
    fn a_found_or_accepted_payout_keeps_no_reject_code_and_no_unverified_mark() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&journal_path(dir.path())).unwrap();
        let m = "PF0060@gw";
        let refused = CreateOutcome::Rejected {
            code: "0014".into(),
            meaning: "duplicate order number".into(),
            message: "dup".into(),
        };
        for (id, accept_by_send) in [("R1", false), ("R2", true)] {
            j.record_intents(&[intent(id, None)], 100).unwrap();
            j.claim_payout(
                m,
                &request(id),
                b"{}",
                &[State::Sending, State::Queued],
                101,
            )
            .unwrap();
            j.record_outcome(m, id, &refused, 102).unwrap();
            j.schedule_check(m, id, 200, 103, Recheck::Unverified)
                .unwrap();
            let e = j.get(m, id).unwrap().unwrap();
            assert_eq!((e.state, e.unverified()), (State::Rejected, true));
            if accept_by_send {
                let ok = CreateOutcome::Accepted {
                    payout_id: "POT2".into(),
                };
                j.record_outcome(m, id, &ok, 104).unwrap();
            } else {
                let found = Found {
                    payout_id: "POT1".into(),
                    status: Some(2),
                    label: "processing".into(),
                    is_final: false,
                    next_check_at: Some(300),
                };
                j.record_found(m, id, &found, 104).unwrap();
            }
            let e = j.get(m, id).unwrap().unwrap();
            assert_eq!(e.state, State::Accepted);
            assert_eq!(
                (
                    e.reject_code,
                    e.reject_meaning,
                    e.reject_message,
                    e.unverified_at
                ),
                (None, None, None, None),
                "{id}"
            );
        }
    }

    /// A journal written as before versions, then opened (and so migrated).
    fn opened_from_version_zero(dir: &std::path::Path) -> (std::path::PathBuf, Journal) {
        let path = journal_path(dir);
        {
            let conn = Connection::open(&path).unwrap();
            super::super::schema::write_version_zero(&conn);
        }
        let j = Journal::open(&path).unwrap();
        (path, j)
    }

    #[test]
    fn an_old_journal_gains_the_unverified_column() {
        let dir = tempfile::tempdir().unwrap();
        let (path, mut j) = opened_from_version_zero(dir.path());
        j.record_intents(&[intent("U1", None)], 100).unwrap();
        assert_eq!(
            j.get("PF0060@gw", "U1").unwrap().unwrap().unverified_at,
            None
        );
        drop(j);
        // Opening again finds the column there.
        Journal::open(&path).unwrap();
    }

    #[test]
    fn a_crash_while_sending_leaves_an_unknown_outcome() {
        let dir = tempfile::tempdir().unwrap();
        let path = journal_path(dir.path());
        {
            let mut j = Journal::open(&path).unwrap();
            j.record_intents(&[intent("C1", None)], 100).unwrap();
            j.claim_payout("PF0060@gw", &request("C1"), b"{}", &[State::Sending], 101)
                .unwrap();
            // As a process that died would have left it.
            let host = claimer_id().rsplitn(3, ':').nth(2).unwrap().to_owned();
            j.conn
                .execute(
                    "UPDATE payouts SET claimed_by = ?1",
                    [format!("{host}:999999999:dead")],
                )
                .unwrap();
        }
        let mut j = Journal::open(&path).unwrap();
        assert_eq!(j.interrupted_to_unknown("PF0060@gw", 200).unwrap(), 1);
        assert_eq!(
            j.get("PF0060@gw", "C1").unwrap().unwrap().state,
            State::Unknown
        );
    }

    #[test]
    fn a_row_that_reads_back_differently_is_not_claimed() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&journal_path(dir.path())).unwrap();
        j.record_intents(&[intent("M1", Some(("b", 1)))], 100)
            .unwrap();
        let mut other = request("M1");
        other.amount = Fen::from_fen(999_999);
        assert!(matches!(
            j.claim_payout("PF0060@gw", &other, b"{}", &[State::Queued], 101),
            Err(JournalError::Mismatch { .. })
        ));
        assert_eq!(
            j.get("PF0060@gw", "M1").unwrap().unwrap().state,
            State::Queued
        );
        // The right request is claimed once; a second claim finds it taken.
        assert!(matches!(
            j.claim_payout("PF0060@gw", &request("M1"), b"{}", &[State::Queued], 102),
            Ok(Claim::Claimed(_))
        ));
        assert!(matches!(
            j.claim_payout("PF0060@gw", &request("M1"), b"{}", &[State::Queued], 103),
            Ok(Claim::Busy { .. })
        ));
    }

    #[test]
    fn a_journal_from_before_versions_is_migrated() {
        let dir = tempfile::tempdir().unwrap();
        let (_, mut j) = opened_from_version_zero(dir.path());
        let version: i64 = j
            .conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        j.record_intents(&[intent("V1", Some(("b", 1)))], 100)
            .unwrap();
        assert!(matches!(
            j.claim_payout("PF0060@gw", &request("V1"), b"{}", &[State::Queued], 101),
            Ok(Claim::Claimed(_))
        ));
    }
}
