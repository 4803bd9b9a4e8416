//! The desktop's GatePay batches, copied inside the migration's transaction one by one as
//! they are read (a body is at most a few MiB; never all of them in memory), under the same
//! rules as its payouts: one being sent becomes unknown, the same batch already there is
//! skipped, another under the same batch ID is a clash that refuses the whole migration.

use std::path::Path;

use postgres::Transaction;

use super::copy::{Clashes, carried_state};
use super::desktop::Desktop;
use super::{MIGRATED_BATCH_MID_SEND, refuse};
use crate::domain::journal::team::TeamError;
use crate::domain::journal::team::store::db_error;
use crate::domain::journal::{State, sha256_hex};

/// What happened to the desktop's batches.
#[derive(Default)]
pub(super) struct BatchCounts {
    pub(super) copied: usize,
    pub(super) already_there: usize,
    pub(super) made_unknown: usize,
    pub(super) awaiting_approval: usize,
}

const INSERT_BATCH: &str = "INSERT INTO paydesk.batches (merchant, batch_id, body, body_sha256, sub_orders,
    totals, state, batch_status, reject_code, reject_meaning, reject_message, unknown_why, is_final, attempts,
    checks, next_check_at, last_sent_at, created_at, updated_at, origin, created_by, approval)
 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, '',
    'not-needed')
 ON CONFLICT (merchant, batch_id) DO NOTHING
 RETURNING approval";

const BATCH_COLUMNS: &str = "merchant, batch_id, body, body_sha256, sub_orders, totals, state, batch_status,
    reject_code, reject_meaning, reject_message, unknown_why, is_final, attempts, checks, next_check_at,
    last_sent_at, created_at, updated_at, origin";

/// One desktop batch as read.
struct Row {
    merchant: String,
    batch_id: String,
    body: String,
    body_sha256: String,
    sub_orders: i64,
    totals: String,
    state: State,
    batch_status: Option<String>,
    reject: [Option<String>; 3],
    unknown_why: Option<String>,
    is_final: bool,
    attempts: i64,
    checks: i64,
    next_check_at: Option<i64>,
    last_sent_at: Option<i64>,
    created_at: i64,
    updated_at: i64,
    origin: Option<String>,
}

impl Row {
    fn read(r: &rusqlite::Row<'_>) -> Result<Row, String> {
        let e = |e: rusqlite::Error| e.to_string();
        let state: String = r.get(6).map_err(e)?;
        let batch_id: String = r.get(1).map_err(e)?;
        let state = State::parse(&state)
            .ok_or_else(|| format!("batch {batch_id} has an unknown state {state:?}"))?;
        Ok(Row {
            merchant: r.get(0).map_err(e)?,
            batch_id,
            body: r.get(2).map_err(e)?,
            body_sha256: r.get(3).map_err(e)?,
            sub_orders: r.get(4).map_err(e)?,
            totals: r.get(5).map_err(e)?,
            state,
            batch_status: r.get(7).map_err(e)?,
            reject: [
                r.get(8).map_err(e)?,
                r.get(9).map_err(e)?,
                r.get(10).map_err(e)?,
            ],
            unknown_why: r.get(11).map_err(e)?,
            is_final: r.get::<_, i64>(12).map_err(e)? != 0,
            attempts: r.get(13).map_err(e)?,
            checks: r.get(14).map_err(e)?,
            next_check_at: r.get(15).map_err(e)?,
            last_sent_at: r.get(16).map_err(e)?,
            created_at: r.get(17).map_err(e)?,
            updated_at: r.get(18).map_err(e)?,
            origin: r.get(19).map_err(e)?,
        })
    }
}

/// Copies the desktop's batches. A batch whose body no longer matches its recorded hash is
/// refused (the desktop journal was edited or damaged); the team journal's own trigger checks
/// the columns against the body again.
pub(super) fn copy_batches(
    desktop: &Desktop,
    tx: &mut Transaction<'_>,
    source: &Path,
    same_source: bool,
    now: i64,
) -> Result<BatchCounts, TeamError> {
    let read =
        |e: rusqlite::Error| refuse(source, format!("its GatePay batches cannot be read: {e}"));
    let insert = tx.prepare(INSERT_BATCH).map_err(db_error)?;
    let existing = tx
        .prepare(
            "SELECT body_sha256, state FROM paydesk.batches WHERE merchant = $1 AND batch_id = $2",
        )
        .map_err(db_error)?;
    let mut stmt = desktop
        .conn
        .prepare(&format!(
            "SELECT {BATCH_COLUMNS} FROM gatepay_batches ORDER BY id"
        ))
        .map_err(read)?;
    let mut rows = stmt.query([]).map_err(read)?;
    let mut done = BatchCounts::default();
    let mut clashes = Clashes::default();
    while let Some(r) = rows.next().map_err(read)? {
        let b = Row::read(r).map_err(|why| refuse(source, why))?;
        if sha256_hex(b.body.as_bytes()) != b.body_sha256 {
            return Err(refuse(
                source,
                format!(
                    "GatePay batch {}/{} no longer matches the hash recorded with it (edited or damaged)",
                    b.merchant, b.batch_id
                ),
            ));
        }
        let (state, unknown_why, next_check_at, updated_at) = carried_state(
            b.state,
            b.unknown_why.as_deref(),
            b.next_check_at,
            b.updated_at,
            MIGRATED_BATCH_MID_SEND,
            now,
        );
        if !clashes.any() {
            let [code, meaning, message] = &b.reject;
            let inserted = tx
                .query_opt(
                    &insert,
                    &[
                        &b.merchant,
                        &b.batch_id,
                        &b.body,
                        &b.body_sha256,
                        &b.sub_orders,
                        &b.totals,
                        &state.as_str(),
                        &b.batch_status,
                        code,
                        meaning,
                        message,
                        &unknown_why,
                        &b.is_final,
                        &b.attempts,
                        &b.checks,
                        &next_check_at,
                        &b.last_sent_at,
                        &b.created_at,
                        &updated_at,
                        &b.origin,
                    ],
                )
                .map_err(|err| match db_error(err) {
                    TeamError::Refused(why) => refuse(source, why),
                    other => other,
                })?;
            if let Some(row) = inserted {
                done.copied += 1;
                done.made_unknown += usize::from(b.state == State::Sending);
                done.awaiting_approval += usize::from(row.get::<_, String>(0) == "pending");
                continue;
            }
        }
        let Some(there) = tx
            .query_opt(&existing, &[&b.merchant, &b.batch_id])
            .map_err(db_error)?
        else {
            // Only after a clash, when nothing is inserted any more: not a clash itself.
            continue;
        };
        let mut differs = Vec::new();
        if there.get::<_, String>(0) != b.body_sha256 {
            differs.push("body");
        }
        if !same_source && there.get::<_, String>(1) != state.as_str() {
            differs.push("state");
        }
        if differs.is_empty() {
            done.already_there += 1;
        } else {
            clashes.add(&format!("{}/{}", b.merchant, b.batch_id), &differs);
        }
    }
    clashes.check(
        source,
        "GatePay batch(es) clash with the team journal (the same batch ID, a different body or state)",
    )?;
    Ok(done)
}
