//! Each send and check of a copied payout, as the desktop journal kept them: read per payout
//! as it is copied and sent to the server a page at a time (never all in memory), in the name
//! of the desktop journal they came from (`actor` is its source ID, not a role: no operator's
//! open send is ever taken for one of these).

use postgres::Transaction;
use rusqlite::{Connection, Statement};

use crate::domain::journal::team::TeamError;
use crate::domain::journal::team::store::db_error;

/// Attempts sent to the server per statement.
const PAGE: usize = 1000;

const INSERT: &str = "INSERT INTO paydesk.attempts (merchant, payout_cl_id, number, kind, started_at,
    body_sha256, finished_at, outcome, gateway_code, code_meaning, http_status, summary, reconstructed, actor)
 SELECT *, $14 FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::text[],
    $7::bigint[], $8::text[], $9::text[], $10::text[], $11::bigint[], $12::text[], $13::boolean[])
 ON CONFLICT (merchant, payout_cl_id, number) DO NOTHING";

struct Row {
    merchant: String,
    payout_cl_id: String,
    number: i64,
    kind: String,
    started_at: i64,
    body_sha256: Option<String>,
    finished_at: Option<i64>,
    outcome: Option<String>,
    gateway_code: Option<String>,
    code_meaning: Option<String>,
    http_status: Option<i64>,
    summary: Option<String>,
    reconstructed: bool,
}

/// The copier: the desktop's statement (none where the journal predates attempts) and a page.
pub(super) struct AttemptCopier<'d> {
    select: Option<Statement<'d>>,
    page: Vec<Row>,
    source_id: String,
    pub(super) copied: usize,
}

impl<'d> AttemptCopier<'d> {
    pub(super) fn new(conn: &'d Connection, source_id: &str) -> rusqlite::Result<Self> {
        let has: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'attempts')",
            [],
            |r| r.get(0),
        )?;
        let select = if has {
            Some(conn.prepare(
                "SELECT number, kind, started_at, body_sha256, finished_at, outcome, gateway_code, code_meaning,
                        http_status, summary, reconstructed
                 FROM attempts WHERE merchant = ?1 AND payout_cl_id = ?2 ORDER BY number",
            )?)
        } else {
            None
        };
        Ok(AttemptCopier {
            select,
            page: Vec::with_capacity(PAGE),
            source_id: source_id.to_owned(),
            copied: 0,
        })
    }

    /// Queues the attempts of a payout just copied, sending a page when it is full.
    pub(super) fn add(
        &mut self,
        tx: &mut Transaction<'_>,
        merchant: &str,
        payout_cl_id: &str,
    ) -> Result<(), TeamError> {
        let Some(select) = self.select.as_mut() else {
            return Ok(());
        };
        let read = |e: rusqlite::Error| {
            TeamError::Refused(format!(
                "the desktop journal's attempts of {payout_cl_id} cannot be read: {e}; nothing was migrated"
            ))
        };
        let mut rows = select.query([merchant, payout_cl_id]).map_err(read)?;
        while let Some(r) = rows.next().map_err(read)? {
            let row = (|| {
                Ok::<_, rusqlite::Error>(Row {
                    merchant: merchant.to_owned(),
                    payout_cl_id: payout_cl_id.to_owned(),
                    number: r.get(0)?,
                    kind: r.get(1)?,
                    started_at: r.get(2)?,
                    body_sha256: r.get(3)?,
                    finished_at: r.get(4)?,
                    outcome: r.get(5)?,
                    gateway_code: r.get(6)?,
                    code_meaning: r.get(7)?,
                    http_status: r.get(8)?,
                    summary: r.get(9)?,
                    reconstructed: r.get::<_, i64>(10)? != 0,
                })
            })()
            .map_err(read)?;
            self.page.push(row);
            if self.page.len() == PAGE {
                self.copied += send_page(tx, &mut self.page, &self.source_id)?;
            }
        }
        Ok(())
    }

    /// Sends what is queued.
    pub(super) fn flush(&mut self, tx: &mut Transaction<'_>) -> Result<(), TeamError> {
        self.copied += send_page(tx, &mut self.page, &self.source_id)?;
        Ok(())
    }
}

/// Sends a page in one statement (columns as arrays) and empties it: how many were new.
fn send_page(
    tx: &mut Transaction<'_>,
    page: &mut Vec<Row>,
    source_id: &str,
) -> Result<usize, TeamError> {
    if page.is_empty() {
        return Ok(0);
    }
    let p = &*page;
    let text = |f: fn(&Row) -> &str| p.iter().map(f).collect::<Vec<&str>>();
    let opt = |f: fn(&Row) -> Option<&str>| p.iter().map(f).collect::<Vec<Option<&str>>>();
    let int = |f: fn(&Row) -> i64| p.iter().map(f).collect::<Vec<i64>>();
    let opt_int = |f: fn(&Row) -> Option<i64>| p.iter().map(f).collect::<Vec<Option<i64>>>();
    let reconstructed: Vec<bool> = p.iter().map(|a| a.reconstructed).collect();
    let n = tx
        .execute(
            INSERT,
            &[
                &text(|a| &a.merchant),
                &text(|a| &a.payout_cl_id),
                &int(|a| a.number),
                &text(|a| &a.kind),
                &int(|a| a.started_at),
                &opt(|a| a.body_sha256.as_deref()),
                &opt_int(|a| a.finished_at),
                &opt(|a| a.outcome.as_deref()),
                &opt(|a| a.gateway_code.as_deref()),
                &opt(|a| a.code_meaning.as_deref()),
                &opt_int(|a| a.http_status),
                &opt(|a| a.summary.as_deref()),
                &reconstructed,
                &source_id,
            ],
        )
        .map_err(db_error)?;
    page.clear();
    Ok(usize::try_from(n).unwrap_or(0))
}
