//! The copy itself, inside the migration's transaction: payouts one by one (clashes named),
//! the audit chain a page at a time, and both chains walked again on the server.

use std::path::Path;

use postgres::{GenericClient, Transaction};

use super::attempts::AttemptCopier;
use super::desktop::{AuditRow, Desktop, Survey};
use super::{AUDIT_PAGE, CLASHES_SHOWN, MIGRATED_MID_SEND, refuse};
use crate::domain::journal::health::{checked_payout_columns, read_checked_payout};
use crate::domain::journal::team::TeamError;
use crate::domain::journal::team::store::db_error;
use crate::domain::journal::{AuditCheck, Entry, State, account_fingerprint, audit_hash};

#[derive(Default)]
pub(super) struct PayoutCounts {
    pub(super) copied: usize,
    pub(super) already_there: usize,
    pub(super) made_unknown: usize,
    pub(super) awaiting_approval: usize,
}

const INSERT_PAYOUT: &str = "INSERT INTO paydesk.payouts (merchant, payout_cl_id, amount_fen, bank_name,
    recipient_name, account_masked, account_fingerprint, request_json, state, payout_id, reject_code,
    reject_meaning, reject_message, unknown_why, gateway_status, gateway_status_label, is_final, final_at,
    attempts, checks, next_check_at, last_sent_at, body_sha256, import_id, import_row, created_at, updated_at,
    unverified_at, origin, created_by, approval)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
    $23, $24, $25, $26, $27, $28, $29, '', '')
 ON CONFLICT (merchant, payout_cl_id) DO NOTHING
 RETURNING approval";

/// Copies the desktop's payouts one by one as they are read (never all in memory), each
/// with its attempts. A payout already there under its merchant order ID is skipped if it is
/// the same payout (and, on a first migration of this source, in the same state); else it
/// clashes, and after the first clash the rest are only compared, to name them all.
pub(super) fn copy_payouts(
    desktop: &Desktop,
    tx: &mut Transaction<'_>,
    source: &Path,
    attempts: &mut AttemptCopier<'_>,
    same_source: bool,
    now: i64,
) -> Result<PayoutCounts, TeamError> {
    let read = |e: rusqlite::Error| refuse(source, format!("its payouts cannot be read: {e}"));
    let insert = tx.prepare(INSERT_PAYOUT).map_err(db_error)?;
    let existing = tx
        .prepare(
            "SELECT amount_fen, account_fingerprint, recipient_name, bank_name, state FROM paydesk.payouts
             WHERE merchant = $1 AND payout_cl_id = $2",
        )
        .map_err(db_error)?;
    let mut stmt = desktop
        .conn
        .prepare(&format!(
            "SELECT {} FROM payouts ORDER BY id",
            checked_payout_columns()
        ))
        .map_err(read)?;
    let mut rows = stmt.query([]).map_err(read)?;
    let mut done = PayoutCounts::default();
    let mut clashes = Clashes::default();
    while let Some(r) = rows.next().map_err(read)? {
        let e = read_checked_payout(r).map_err(|why| refuse(source, why))?;
        let request_json: String = r.get(26).map_err(read)?;
        let fingerprint = account_fingerprint(&e.request.number);
        let (state, unknown_why, next_check_at, updated_at) = carried_state(
            e.state,
            e.unknown_why.as_deref(),
            e.next_check_at,
            e.updated_at,
            MIGRATED_MID_SEND,
            now,
        );
        if !clashes.any() {
            let inserted = tx
                .query_opt(
                    &insert,
                    &[
                        &e.merchant,
                        &e.payout_cl_id,
                        &e.amount.fen(),
                        &e.bank_name,
                        &e.recipient_name,
                        &e.account_masked,
                        &fingerprint,
                        &request_json,
                        &state.as_str(),
                        &e.payout_id,
                        &e.reject_code,
                        &e.reject_meaning,
                        &e.reject_message,
                        &unknown_why,
                        &e.gateway_status,
                        &e.gateway_status_label,
                        &e.is_final,
                        &e.final_at,
                        &e.attempts,
                        &e.checks,
                        &next_check_at,
                        &e.last_sent_at,
                        &e.body_sha256,
                        &e.import_id,
                        &e.import_row,
                        &e.created_at,
                        &updated_at,
                        &e.unverified_at,
                        &e.origin,
                    ],
                )
                .map_err(|err| match db_error(err) {
                    TeamError::Refused(why) => refuse(source, why),
                    other => other,
                })?;
            if let Some(row) = inserted {
                done.copied += 1;
                done.made_unknown += usize::from(e.state == State::Sending);
                done.awaiting_approval += usize::from(row.get::<_, String>(0) == "pending");
                attempts.add(tx, &e.merchant, &e.payout_cl_id)?;
                continue;
            }
        }
        let there = tx
            .query_opt(&existing, &[&e.merchant, &e.payout_cl_id])
            .map_err(db_error)?;
        let Some(there) = there else {
            // Only after a clash, when nothing is inserted any more: not a clash itself.
            continue;
        };
        let differs = differences(&e, &fingerprint, state, &there, same_source);
        if differs.is_empty() {
            done.already_there += 1;
        } else {
            clashes.add(&format!("{}/{}", e.merchant, e.payout_cl_id), &differs);
        }
    }
    attempts.flush(tx)?;
    clashes.check(
        source,
        "payout(s) clash with the team journal (the same merchant order ID, a different payout or state)",
    )?;
    Ok(done)
}

/// What differs between a desktop payout and the team journal's row of the same ID. The
/// state counts on a first migration only: once a source is migrated, the team moves its
/// payouts on.
fn differences(
    e: &Entry,
    fingerprint: &str,
    state: State,
    there: &postgres::Row,
    same_source: bool,
) -> Vec<&'static str> {
    let mut out = Vec::new();
    if there.get::<_, i64>(0) != e.amount.fen() {
        out.push("amount");
    }
    if there.get::<_, String>(1) != fingerprint {
        out.push("account");
    }
    if there.get::<_, String>(2) != e.recipient_name {
        out.push("name");
    }
    if there.get::<_, String>(3) != e.bank_name {
        out.push("bank");
    }
    if !same_source && there.get::<_, String>(4) != state.as_str() {
        out.push("state");
    }
    out
}

/// Copies the desktop chain to `paydesk.migrated_audit`, a page at a time, checking it again
/// as it goes (the same snapshot the survey walked).
pub(super) fn copy_audit(
    desktop: &Desktop,
    tx: &mut Transaction<'_>,
    survey: &Survey,
    shared: Option<&(String, usize)>,
) -> Result<usize, TeamError> {
    let skip = shared.map_or(0, |(_, n)| *n);
    let read = |e: rusqlite::Error| {
        TeamError::Refused(format!(
            "the desktop journal's audit log cannot be read: {e}"
        ))
    };
    let insert = tx
        .prepare(
            "INSERT INTO paydesk.migrated_audit (source, seq, at, actor, action, detail, prev_hash, hash)
             SELECT $1, * FROM unnest($2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                                      $7::text[], $8::text[])",
        )
        .map_err(db_error)?;
    let mut stmt = desktop
        .conn
        .prepare("SELECT id, at, actor, action, detail, prev_hash, hash FROM audit ORDER BY id")
        .map_err(read)?;
    let mut rows = stmt.query([]).map_err(read)?;
    let mut page: Vec<AuditRow> = Vec::with_capacity(AUDIT_PAGE);
    let mut prev = String::new();
    let mut copied = 0usize;
    let mut seen = 0usize;
    while let Some(r) = rows.next().map_err(read)? {
        let a = AuditRow::read(r).map_err(read)?;
        if a.prev_hash != prev || a.hash != a.recomputed(&prev) {
            return Err(TeamError::Refused(format!(
                "the desktop journal's audit entry {} changed while it was copied; nothing was migrated",
                a.id
            )));
        }
        prev.clone_from(&a.hash);
        seen += 1;
        if seen <= skip {
            continue;
        }
        page.push(a);
        if page.len() == AUDIT_PAGE {
            copied += insert_audit_page(tx, &insert, &survey.source_id, &mut page)?;
        }
    }
    copied += insert_audit_page(tx, &insert, &survey.source_id, &mut page)?;
    if copied != survey.entries - skip || (copied > 0 && Some(&prev) != survey.head.as_ref()) {
        return Err(TeamError::Refused(
            "the desktop journal's audit log changed while it was copied; nothing was migrated"
                .into(),
        ));
    }
    Ok(copied)
}

/// Sends a page of audit entries in one statement (columns as arrays) and empties it.
fn insert_audit_page(
    tx: &mut Transaction<'_>,
    insert: &postgres::Statement,
    source_id: &str,
    page: &mut Vec<AuditRow>,
) -> Result<usize, TeamError> {
    if page.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = page.iter().map(|a| a.id).collect();
    let ats: Vec<i64> = page.iter().map(|a| a.at).collect();
    let text = |f: fn(&AuditRow) -> &str| page.iter().map(f).collect::<Vec<&str>>();
    let (actors, actions, details) = (text(|a| &a.actor), text(|a| &a.action), text(|a| &a.detail));
    let (prevs, hashes) = (text(|a| &a.prev_hash), text(|a| &a.hash));
    tx.execute(
        insert,
        &[
            &source_id, &ids, &ats, &actors, &actions, &details, &prevs, &hashes,
        ],
    )
    .map_err(db_error)?;
    let n = page.len();
    page.clear();
    Ok(n)
}

/// The last entry a chain walk saw.
pub(super) struct Last {
    at: i64,
    actor: String,
    action: String,
    detail: String,
    prev_hash: String,
    hash: String,
}

/// Walks a chain on the server a page at a time (`sql` selects `id, at, actor, action,
/// detail, prev_hash, hash` after `$1`, of source `$2` where given), recomputing each hash.
pub(super) fn verify_chain(
    c: &mut impl GenericClient,
    sql: &str,
    source: Option<&str>,
    start: &str,
) -> Result<(AuditCheck, Option<Last>), TeamError> {
    let mut prev = start.to_owned();
    let mut count = 0usize;
    let mut after = 0i64;
    let mut last = None;
    loop {
        let rows = match source {
            Some(s) => c.query(sql, &[&after, &s]),
            None => c.query(sql, &[&after]),
        }
        .map_err(db_error)?;
        if rows.is_empty() {
            return Ok((AuditCheck::Intact(count), last));
        }
        for r in &rows {
            let id: i64 = r.get(0);
            let a = Last {
                at: r.get(1),
                actor: r.get(2),
                action: r.get(3),
                detail: r.get(4),
                prev_hash: r.get(5),
                hash: r.get(6),
            };
            if a.prev_hash != prev
                || a.hash != audit_hash(&prev, a.at, &a.actor, &a.action, &a.detail)
            {
                return Ok((AuditCheck::BrokenAt(id), last));
            }
            prev.clone_from(&a.hash);
            count += 1;
            after = id;
            last = Some(a);
        }
    }
}

/// Walks this source's chain as the team journal now holds it: every entry, ending at the
/// desktop's head, and the server's own hash function agreeing on that head.
pub(super) fn verify_migrated(
    tx: &mut Transaction<'_>,
    survey: &Survey,
    shared: Option<&(String, usize)>,
) -> Result<AuditCheck, TeamError> {
    let (check, last) = verify_chain(
        tx,
        "SELECT seq, at, actor, action, detail, prev_hash, hash FROM paydesk.migrated_audit
         WHERE seq > $1 AND source = $2 ORDER BY seq LIMIT 1000",
        Some(&survey.source_id),
        shared.map_or("", |(hash, _)| hash.as_str()),
    )?;
    let Some(last) = last else {
        return Ok(check);
    };
    let server_hash: String = tx
        .query_one(
            "SELECT paydesk.audit_hash($1, $2, $3, $4, $5)",
            &[
                &last.prev_hash,
                &last.at,
                &last.actor,
                &last.action,
                &last.detail,
            ],
        )
        .map_err(db_error)?
        .get(0);
    if Some(&last.hash) != survey.head.as_ref() || server_hash != last.hash {
        return Err(TeamError::Corrupt(format!(
            "the copy of source {}'s audit chain does not end at the desktop's head: nothing was migrated",
            survey.source_id
        )));
    }
    Ok(check)
}

/// The last entry of the desktop chain that the team journal holds already (copied with a
/// journal migrated before: this one is a copy of it, or it given a new ID), and how many
/// entries of the chain it ends; `None` when they share nothing. Read a page at a time.
pub(super) fn shared_head(
    desktop: &Desktop,
    tx: &mut Transaction<'_>,
) -> Result<Option<(String, usize)>, TeamError> {
    let read = |e: rusqlite::Error| {
        TeamError::Refused(format!(
            "the desktop journal's audit log cannot be read: {e}"
        ))
    };
    let mut stmt = desktop
        .conn
        .prepare("SELECT hash FROM audit ORDER BY id")
        .map_err(read)?;
    let mut rows = stmt.query([]).map_err(read)?;
    let mut page: Vec<String> = Vec::with_capacity(AUDIT_PAGE);
    let (mut at, mut found) = (0usize, None);
    let mut check = |page: &mut Vec<String>, end: usize| -> Result<(), TeamError> {
        if page.is_empty() {
            return Ok(());
        }
        let held: std::collections::HashSet<String> = tx
            .query(
                "SELECT hash FROM paydesk.migrated_audit WHERE hash = ANY($1)",
                &[&*page],
            )
            .map_err(db_error)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let start = end - page.len();
        if let Some((i, h)) = page
            .iter()
            .enumerate()
            .rev()
            .find(|(_, h)| held.contains(*h))
        {
            found = Some((h.clone(), start + i + 1));
        }
        page.clear();
        Ok(())
    };
    while let Some(r) = rows.next().map_err(read)? {
        page.push(r.get(0).map_err(read)?);
        at += 1;
        if page.len() == AUDIT_PAGE {
            check(&mut page, at)?;
        }
    }
    check(&mut page, at)?;
    Ok(found)
}

/// What a row carries over of its state: one being sent when the desktop stopped becomes
/// unknown (`why`), to be looked up at `now` before anything else; any other stays as it is.
/// Returns `(state, unknown_why, next_check_at, updated_at)`.
pub(super) fn carried_state(
    state: State,
    unknown_why: Option<&str>,
    next_check_at: Option<i64>,
    updated_at: i64,
    why: &str,
    now: i64,
) -> (State, Option<String>, Option<i64>, i64) {
    if state == State::Sending {
        (State::Unknown, Some(why.to_owned()), Some(now), now)
    } else {
        (
            state,
            unknown_why.map(str::to_owned),
            next_check_at,
            updated_at,
        )
    }
}

/// The rows of the desktop that clash with the team journal: the first few named, the rest
/// counted; any refuses the whole migration.
#[derive(Default)]
pub(super) struct Clashes {
    shown: Vec<String>,
    count: usize,
}

impl Clashes {
    pub(super) fn any(&self) -> bool {
        self.count > 0
    }

    /// `key` (`merchant/ID`) clashes in what `differs` names.
    pub(super) fn add(&mut self, key: &str, differs: &[&str]) {
        if self.shown.len() < CLASHES_SHOWN {
            self.shown.push(format!("{key} ({})", differs.join(", ")));
        }
        self.count += 1;
    }

    /// The refusal, `what` saying which rows and how they clash; `Ok` when none does.
    pub(super) fn check(&self, source: &Path, what: &str) -> Result<(), TeamError> {
        if self.count == 0 {
            return Ok(());
        }
        let more = self.count - self.shown.len();
        Err(refuse(
            source,
            format!(
                "{} {what}: {}{}",
                self.count,
                self.shown.join("; "),
                if more > 0 {
                    format!("; and {more} more")
                } else {
                    String::new()
                }
            ),
        ))
    }
}
