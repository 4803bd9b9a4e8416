//! The team journal's reads and writes: the same rules as the desktop journal (intent before
//! send, claim before send, an unknown outcome never failed, likely duplicates held back),
//! with the team's: every row says which role recorded, approved and sent it, and the
//! database refuses what four-eyes approval forbids.

use postgres::Client;
use postgres::error::SqlState;
use serde::Serialize;

use super::connect::{TeamUrl, connect, off_runtime};
use super::held::Held;
use super::{TeamError, schema};
use crate::domain::journal::{
    AuditCheck, Entry, Intent, ListFilter, State, account_fingerprint, audit_hash, mask_account,
};
use crate::gateway::cny::wire::PayoutRequest;
use crate::money::Fen;
use crate::secret::Secret;

/// Where a payout stands with four-eyes approval.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Approval {
    /// Below the profile's threshold (or no rule): it may be sent as it is.
    NotNeeded,
    /// Waiting for another operator: it cannot be sent.
    Pending,
    Approved,
    /// Refused by another operator: it is never sent.
    Rejected,
}

impl Approval {
    pub fn as_str(self) -> &'static str {
        match self {
            Approval::NotNeeded => "not-needed",
            Approval::Pending => "pending",
            Approval::Approved => "approved",
            Approval::Rejected => "rejected",
        }
    }

    pub fn parse(text: &str) -> Option<Approval> {
        [
            Approval::NotNeeded,
            Approval::Pending,
            Approval::Approved,
            Approval::Rejected,
        ]
        .into_iter()
        .find(|a| a.as_str() == text)
    }

    /// Whether the database lets it be sent.
    pub fn sendable(self) -> bool {
        matches!(self, Approval::NotNeeded | Approval::Approved)
    }
}

/// Who did what to a payout of the team journal (the database's roles).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TeamInfo {
    /// The database role that recorded it.
    pub created_by: String,
    pub approval: Approval,
    /// The role that approved or rejected it, and why.
    pub decided_by: Option<String>,
    pub decision_reason: Option<String>,
    /// The role whose session moved it to `sending`.
    pub sent_by: Option<String>,
}

impl TeamInfo {
    /// What holds a payout back, in words.
    pub fn describe(&self) -> String {
        match self.approval {
            Approval::Pending => format!(
                "awaiting approval by an operator other than {}: not sent yet",
                self.created_by
            ),
            Approval::Rejected => format!(
                "rejected by {}{}: it is never sent",
                self.decided_by.as_deref().unwrap_or("another operator"),
                self.decision_reason
                    .as_deref()
                    .map(|r| format!(" ({r})"))
                    .unwrap_or_default()
            ),
            Approval::Approved => format!(
                "approved by {}",
                self.decided_by.as_deref().unwrap_or("another operator")
            ),
            Approval::NotNeeded => "no approval needed".to_owned(),
        }
    }
}

/// A payout of the team journal: the desktop journal's entry, with [`Entry::team`] set.
pub type TeamEntry = Entry;

/// A payout waiting for a second person, with the team's payouts that look like it.
#[derive(Clone, Debug, Serialize)]
pub struct PendingApproval {
    pub payout: TeamEntry,
    /// Other payouts of the merchant to the same account for the same amount, by anyone.
    pub likely_duplicates: Vec<TeamEntry>,
}

/// A profile's approval rule: payouts of `merchant` of at least `threshold` need approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ApprovalRule {
    pub merchant: String,
    pub threshold: Fen,
    pub set_by: String,
}

/// What another operator did, as a listening console hears it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Deserialize, Serialize)]
pub struct TeamEvent {
    pub audit_id: i64,
    pub merchant: Option<String>,
    pub action: String,
    pub actor: String,
}

pub(super) const COLUMNS: &str = "id, merchant, payout_cl_id, amount_fen, bank_name, recipient_name, account_masked, state, \
    payout_id, reject_code, reject_meaning, reject_message, unknown_why, gateway_status, gateway_status_label, \
    is_final, final_at, attempts, checks, next_check_at, last_sent_at, body_sha256, import_id, import_row, \
    created_at, updated_at, request_json, unverified_at, origin, created_by, approval, decided_by, \
    decision_reason, sent_by, claimed_by, claimed_at, claim_pid, claim_backend_start";

/// What a row of `paydesk.payouts` says, or why it cannot be read.
pub(super) fn team_entry(row: &postgres::Row) -> Result<TeamEntry, TeamError> {
    let corrupt = |what: String| TeamError::Corrupt(what);
    let get = |e: postgres::Error| TeamError::Corrupt(e.to_string());
    let cl_id: String = row.try_get(2).map_err(get)?;
    let state: String = row.try_get(7).map_err(get)?;
    let approval: String = row.try_get(30).map_err(get)?;
    let request_json: String = row.try_get(26).map_err(get)?;
    let request: PayoutRequest = serde_json::from_str(&request_json)
        .map_err(|e| corrupt(format!("the request of {cl_id} does not read: {e}")))?;
    let entry = Entry {
        id: row.try_get(0).map_err(get)?,
        merchant: row.try_get(1).map_err(get)?,
        payout_cl_id: cl_id.clone(),
        amount: Fen::from_fen(row.try_get(3).map_err(get)?),
        bank_name: row.try_get(4).map_err(get)?,
        recipient_name: row.try_get(5).map_err(get)?,
        account_masked: row.try_get(6).map_err(get)?,
        state: State::parse(&state)
            .ok_or_else(|| corrupt(format!("{cl_id} has an unknown state {state:?}")))?,
        payout_id: row.try_get(8).map_err(get)?,
        reject_code: row.try_get(9).map_err(get)?,
        reject_meaning: row.try_get(10).map_err(get)?,
        reject_message: row.try_get(11).map_err(get)?,
        unknown_why: row.try_get(12).map_err(get)?,
        gateway_status: row.try_get(13).map_err(get)?,
        gateway_status_label: row.try_get(14).map_err(get)?,
        is_final: row.try_get(15).map_err(get)?,
        final_at: row.try_get(16).map_err(get)?,
        attempts: row.try_get(17).map_err(get)?,
        checks: row.try_get(18).map_err(get)?,
        next_check_at: row.try_get(19).map_err(get)?,
        last_sent_at: row.try_get(20).map_err(get)?,
        body_sha256: row.try_get(21).map_err(get)?,
        import_id: row.try_get(22).map_err(get)?,
        import_row: row.try_get(23).map_err(get)?,
        created_at: row.try_get(24).map_err(get)?,
        updated_at: row.try_get(25).map_err(get)?,
        unverified_at: row.try_get(27).map_err(get)?,
        origin: row.try_get(28).map_err(get)?,
        team: Some(TeamInfo {
            created_by: row.try_get(29).map_err(get)?,
            approval: Approval::parse(&approval)
                .ok_or_else(|| corrupt(format!("{cl_id} has an unknown approval {approval:?}")))?,
            decided_by: row.try_get(31).map_err(get)?,
            decision_reason: row.try_get(32).map_err(get)?,
            sent_by: row.try_get(33).map_err(get)?,
        }),
        request,
    };
    Ok(entry)
}

/// A server error as the team journal reports it: what a trigger or a grant refused is a
/// refusal (with the server's own words), a lost connection means the server is away.
#[allow(clippy::needless_pass_by_value)] // the shape `map_err` takes
pub(crate) fn db_error(e: postgres::Error) -> TeamError {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::INSUFFICIENT_PRIVILEGE
            || *code == SqlState::CHECK_VIOLATION
            || *code == SqlState::UNIQUE_VIOLATION
        {
            return TeamError::Refused(db.message().to_owned());
        }
        return TeamError::Db(format!("{} ({})", db.message(), code.code()));
    }
    if e.is_closed() || e.to_string().contains("connection") {
        return TeamError::Unreachable {
            target: "the server".into(),
            why: e.to_string(),
        };
    }
    TeamError::Db(e.to_string())
}

/// The reason given with a decision, trimmed (none when blank): a rejection needs one, for
/// the operator who recorded what is rejected; none is over 500 characters.
pub(super) fn checked_reason(
    decision: Approval,
    reason: Option<&str>,
) -> Result<Option<&str>, TeamError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if decision == Approval::Rejected && reason.is_none() {
        return Err(TeamError::Refused(
            "a rejection needs a reason, for the operator who recorded it".into(),
        ));
    }
    if reason.is_some_and(|r| r.chars().count() > 500) {
        return Err(TeamError::Refused(
            "a reason is at most 500 characters".into(),
        ));
    }
    Ok(reason)
}

/// Why a decision is refused on what no longer waits for one.
pub(super) fn not_pending(what: &str, now: &str) -> TeamError {
    TeamError::Refused(format!(
        "{what} is not waiting for approval ({now}): nothing was decided"
    ))
}

/// The team journal, as one operator's role sees it.
pub struct TeamJournal {
    /// Behind a lock of its own so that reads take `&self`, as the desktop journal's do.
    client: std::sync::Mutex<Held>,
    /// Kept (never shown) to open the short connections a recording lock holds.
    password: Option<Secret>,
    url: TeamUrl,
    /// `session_user`: who the database says this operator is.
    role: String,
}

impl std::fmt::Debug for TeamJournal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TeamJournal")
            .field("url", &self.url.target())
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

impl TeamJournal {
    /// Connects as the URL's role and checks that the team journal is set up at a version
    /// this Paydesk knows.
    pub fn open(url: &TeamUrl, password: Option<&Secret>) -> Result<TeamJournal, TeamError> {
        let mut held = Held::new(connect(url, password)?);
        let client = held.get()?;
        let role = off_runtime(|| -> Result<String, TeamError> {
            schema::check(client)?;
            let row = client
                .query_one("SELECT session_user::text", &[])
                .map_err(db_error)?;
            Ok(row.get(0))
        })?;
        Ok(TeamJournal {
            client: std::sync::Mutex::new(held),
            password: password.cloned(),
            url: url.clone(),
            role,
        })
    }

    /// The database role this journal acts as (`session_user`).
    pub fn role(&self) -> &str {
        &self.role
    }

    pub fn url(&self) -> &TeamUrl {
        &self.url
    }

    pub(crate) fn password(&self) -> Option<&Secret> {
        self.password.as_ref()
    }

    /// Runs `f` with the client where the blocking client may run, naming the server in a
    /// lost-connection error. A connection the server closed (it restarted, the network
    /// dropped) is opened again first: once the server is back, so is sending.
    pub(super) fn with<T: Send>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, TeamError> + Send,
    ) -> Result<T, TeamError> {
        let target = self.url.target();
        let mut held = crate::lock_unpoisoned(&self.client);
        if held.get().map_or(true, |c| c.is_closed()) {
            *held = Held::new(connect(&self.url, self.password.as_ref())?);
        }
        let client = held.get()?;
        off_runtime(move || f(client)).map_err(|e| match e {
            TeamError::Unreachable { why, .. } => TeamError::Unreachable { target, why },
            other => other,
        })
    }

    /// Records the intent of payouts in one transaction, as the desktop journal does: an ID
    /// already recorded is an error for a single payout and skipped for an import (which two
    /// operators may record at once). Whether each needs approval is the database's call.
    pub fn record_intents(&self, intents: &[Intent], now: i64) -> Result<usize, TeamError> {
        let rows: Vec<_> = intents
            .iter()
            .map(|i| {
                let r = &i.request;
                serde_json::to_string(r)
                    .map(|json| (i, json))
                    .map_err(|e| TeamError::Corrupt(e.to_string()))
            })
            .collect::<Result<_, _>>()?;
        self.with(move |c| {
            let mut tx = c.transaction().map_err(db_error)?;
            let insert = tx
                .prepare(
                    "INSERT INTO paydesk.payouts (merchant, payout_cl_id, amount_fen, bank_name, recipient_name,
                        account_masked, account_fingerprint, request_json, state, import_id, import_row,
                        created_at, updated_at, origin, created_by, approval)
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'queued', $9, $10, $11, $11, $12, '', '')
                     ON CONFLICT (merchant, payout_cl_id) DO NOTHING",
                )
                .map_err(db_error)?;
            let mut added = 0;
            for (intent, json) in &rows {
                let r = &intent.request;
                let (import_id, import_row) = match &intent.import {
                    Some((id, row)) => (Some(id.as_str()), Some(*row)),
                    None => (None, None),
                };
                let inserted = tx
                    .execute(
                        &insert,
                        &[
                            &intent.merchant,
                            &r.payout_cl_id,
                            &r.amount.fen(),
                            &r.bank_name,
                            &r.name,
                            &mask_account(&r.number),
                            &account_fingerprint(&r.number),
                            json,
                            &import_id,
                            &import_row,
                            &now,
                            &intent.origin,
                        ],
                    )
                    .map_err(db_error)?;
                if inserted == 0 && intent.import.is_none() {
                    return Err(TeamError::Refused(format!(
                        "merchant order ID {} is already in the team journal: a payout is never sent twice",
                        r.payout_cl_id
                    )));
                }
                added += usize::try_from(inserted).unwrap_or(0);
            }
            tx.commit().map_err(db_error)?;
            Ok(added)
        })
    }

    pub fn get(&self, merchant: &str, cl_id: &str) -> Result<Option<TeamEntry>, TeamError> {
        self.with(|c| {
            c.query_opt(
                &format!(
                    "SELECT {COLUMNS} FROM paydesk.payouts WHERE merchant = $1 AND payout_cl_id = $2"
                ),
                &[&merchant, &cl_id],
            )
            .map_err(db_error)?
            .map(|r| team_entry(&r))
            .transpose()
        })
    }

    /// The team's payouts, newest first, as the desktop journal lists its own.
    pub fn list(&self, filter: &ListFilter) -> Result<Vec<TeamEntry>, TeamError> {
        let limit = i64::try_from(filter.limit.unwrap_or(100_000)).unwrap_or(i64::MAX);
        let state = filter.state.map(State::as_str);
        let text = filter.text.as_deref().map(|t| t.trim().to_owned());
        self.with(|c| {
            let rows = c
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM paydesk.payouts
                         WHERE ($1::text IS NULL OR merchant = $1)
                           AND ($2::text IS NULL OR origin IS NULL OR origin = $2)
                           AND ($3::text IS NULL OR state = $3)
                           AND ($4::text IS NULL OR strpos(payout_cl_id, $4) > 0 OR strpos(recipient_name, $4) > 0
                                OR strpos(coalesce(payout_id, ''), $4) > 0)
                         ORDER BY id DESC LIMIT $5"
                    ),
                    &[&filter.merchant, &filter.origin, &state, &text, &limit],
                )
                .map_err(db_error)?;
            rows.iter().map(team_entry).collect()
        })
    }

    /// The payouts of `merchant` waiting for approval, oldest first, each with the team's
    /// payouts to the same account for the same amount.
    pub fn pending_approvals(&self, merchant: &str) -> Result<Vec<PendingApproval>, TeamError> {
        self.with(|c| {
            let rows = c
                .query(
                    &format!(
                        "SELECT {COLUMNS} FROM paydesk.payouts WHERE merchant = $1 AND approval = 'pending'
                         ORDER BY id LIMIT 1000"
                    ),
                    &[&merchant],
                )
                .map_err(db_error)?;
            let dup_sql = format!(
                "SELECT {COLUMNS} FROM paydesk.payouts
                 WHERE merchant = $1 AND account_fingerprint = $2 AND amount_fen = $3 AND payout_cl_id <> $4
                 ORDER BY id DESC LIMIT 20"
            );
            let mut out = Vec::with_capacity(rows.len());
            for row in &rows {
                let payout = team_entry(row)?;
                let fingerprint = account_fingerprint(&payout.request.number);
                let dups = c
                    .query(
                        &dup_sql,
                        &[
                            &merchant,
                            &fingerprint,
                            &payout.amount.fen(),
                            &payout.payout_cl_id,
                        ],
                    )
                    .map_err(db_error)?;
                out.push(PendingApproval {
                    payout,
                    likely_duplicates: dups.iter().map(team_entry).collect::<Result<_, _>>()?,
                });
            }
            Ok(out)
        })
    }

    /// Approves a payout another role recorded (the database refuses one's own).
    pub fn approve(
        &self,
        merchant: &str,
        cl_id: &str,
        reason: Option<&str>,
    ) -> Result<TeamEntry, TeamError> {
        self.decide(merchant, cl_id, Approval::Approved, reason)
    }

    /// Rejects a payout another role recorded, with the reason: it is never sent.
    pub fn reject(
        &self,
        merchant: &str,
        cl_id: &str,
        reason: &str,
    ) -> Result<TeamEntry, TeamError> {
        self.decide(merchant, cl_id, Approval::Rejected, Some(reason))
    }

    fn decide(
        &self,
        merchant: &str,
        cl_id: &str,
        decision: Approval,
        reason: Option<&str>,
    ) -> Result<TeamEntry, TeamError> {
        let reason = checked_reason(decision, reason)?;
        let decision = decision.as_str();
        self.with(|c| {
            let mut tx = c.transaction().map_err(db_error)?;
            let missing = || {
                TeamError::Refused(format!(
                    "no payout with merchant order ID {cl_id} is in the team journal"
                ))
            };
            let now = tx
                .query_opt(
                    &format!(
                        "SELECT {COLUMNS} FROM paydesk.payouts WHERE merchant = $1 AND payout_cl_id = $2 FOR UPDATE"
                    ),
                    &[&merchant, &cl_id],
                )
                .map_err(db_error)?
                .ok_or_else(missing)?;
            let now = team_entry(&now)?;
            if let Some(t) = now.team.as_ref().filter(|t| t.approval != Approval::Pending) {
                return Err(not_pending(&format!("payout {cl_id}"), &t.describe()));
            }
            let row = tx
                .query_opt(
                    &format!(
                        "UPDATE paydesk.payouts SET approval = $3, decision_reason = $4
                         WHERE merchant = $1 AND payout_cl_id = $2 RETURNING {COLUMNS}"
                    ),
                    &[&merchant, &cl_id, &decision, &reason],
                )
                .map_err(db_error)?
                .ok_or_else(missing)?;
            let entry = team_entry(&row)?;
            tx.commit().map_err(db_error)?;
            Ok(entry)
        })
    }

    /// Appends to the team's audit chain in this role's name (the database decides the name
    /// and the time).
    pub fn audit(
        &self,
        merchant: Option<&str>,
        action: &str,
        detail: &str,
    ) -> Result<(), TeamError> {
        self.with(|c| {
            c.execute(
                "SELECT paydesk.audit_append($1, $2, $3)",
                &[&action, &detail, &merchant],
            )
            .map_err(db_error)?;
            Ok(())
        })
    }

    /// Walks the team's audit chain (and each chain carried over from a desktop journal).
    pub fn verify_audit(&self) -> Result<AuditCheck, TeamError> {
        self.with(|c| {
            let mut prev = String::new();
            let mut count = 0usize;
            let mut last_id = 0i64;
            // Read in pages so that a long chain never sits in memory whole.
            loop {
                let rows = c
                    .query(
                        "SELECT id, at, actor, action, detail, prev_hash, hash FROM paydesk.audit
                         WHERE id > $1 ORDER BY id LIMIT 5000",
                        &[&last_id],
                    )
                    .map_err(db_error)?;
                if rows.is_empty() {
                    break;
                }
                for r in &rows {
                    let id: i64 = r.get(0);
                    let (at, actor, action, detail): (i64, String, String, String) =
                        (r.get(1), r.get(2), r.get(3), r.get(4));
                    let (prev_hash, hash): (String, String) = (r.get(5), r.get(6));
                    if prev_hash != prev || hash != audit_hash(&prev, at, &actor, &action, &detail)
                    {
                        return Ok(AuditCheck::BrokenAt(id));
                    }
                    prev = hash;
                    count += 1;
                    last_id = id;
                }
            }
            Ok(AuditCheck::Intact(count))
        })
    }

    /// The approval rule of `merchant`, if any.
    pub fn approval_rule(&self, merchant: &str) -> Result<Option<ApprovalRule>, TeamError> {
        self.with(|c| {
            Ok(c.query_opt(
                "SELECT merchant, threshold_fen, set_by FROM paydesk.approval_rules WHERE merchant = $1",
                &[&merchant],
            )
            .map_err(db_error)?
            .map(|r| ApprovalRule {
                merchant: r.get(0),
                threshold: Fen::from_fen(r.get(1)),
                set_by: r.get(2),
            }))
        })
    }

    /// Sets (or with `None` removes) the approval rule of `merchant`: payouts of at least
    /// `threshold` (zero: all) need a second person. Only the journal's owner may.
    pub fn set_approval_rule(
        &self,
        merchant: &str,
        threshold: Option<Fen>,
    ) -> Result<(), TeamError> {
        self.with(|c| {
            match threshold {
                Some(t) => c.execute(
                    "INSERT INTO paydesk.approval_rules (merchant, threshold_fen) VALUES ($1, $2)
                     ON CONFLICT (merchant) DO UPDATE SET threshold_fen = $2, set_by = session_user, set_at = now()",
                    &[&merchant, &t.fen()],
                ),
                None => c.execute(
                    "DELETE FROM paydesk.approval_rules WHERE merchant = $1",
                    &[&merchant],
                ),
            }
            .map_err(db_error)?;
            Ok(())
        })
    }
}
