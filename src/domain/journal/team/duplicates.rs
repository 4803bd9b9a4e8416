//! The likely-duplicate probe on the team's server: the rows of a file go to a temporary
//! table of this session in chunks, and are joined with every operator's payouts there, so
//! that operator B is held back by what operator A paid. The rule (what matches, how a held
//! row reads) is the desktop journal's, in `domain::duplicates`.

use super::TeamError;
use super::store::{TeamJournal, db_error};
use crate::domain::duplicates::{EarlierRow, ProbeHit, ProbeRow};
use crate::domain::journal::JournalError;

/// Rows sent to the server at a time, and rows joined at a time: memory stays bounded.
const CHUNK: usize = 5_000;

impl TeamJournal {
    /// Runs the duplicate probe: `feed` hands each row of the file to the sink it is given;
    /// every hit is handed to `on_hit`, rows in file order.
    pub(crate) fn probe_duplicates(
        &self,
        merchant: &str,
        since: i64,
        feed: impl FnOnce(
            &mut dyn FnMut(ProbeRow) -> Result<(), JournalError>,
        ) -> Result<(), JournalError>,
        on_hit: &mut dyn FnMut(ProbeHit) -> Result<(), JournalError>,
    ) -> Result<(), JournalError> {
        self.with(|c| {
            c.batch_execute(
                "CREATE TEMP TABLE IF NOT EXISTS dup_probe (row bigint PRIMARY KEY, cl_id text NOT NULL,
                    fp text NOT NULL, amount_fen bigint NOT NULL, account_masked text NOT NULL,
                    same_file_row bigint);
                 TRUNCATE dup_probe;",
            )
            .map_err(db_error)
        })?;
        let mut chunk: Vec<ProbeRow> = Vec::with_capacity(CHUNK);
        let (mut first, mut last) = (i64::MAX, i64::MIN);
        feed(&mut |row| {
            first = first.min(row.row);
            last = last.max(row.row);
            chunk.push(row);
            if chunk.len() >= CHUNK {
                self.insert_probe(std::mem::take(&mut chunk))?;
            }
            Ok(())
        })?;
        self.insert_probe(chunk)?;
        let mut from = first.saturating_sub(1);
        while from < last {
            let to = from.saturating_add(i64::try_from(CHUNK).unwrap_or(i64::MAX));
            for hit in self.probe_hits(merchant, since, from, to)? {
                on_hit(hit)?;
            }
            from = to;
        }
        self.with(|c| c.batch_execute("TRUNCATE dup_probe").map_err(db_error))?;
        Ok(())
    }

    fn insert_probe(&self, rows: Vec<ProbeRow>) -> Result<(), TeamError> {
        if rows.is_empty() {
            return Ok(());
        }
        let n = rows.len();
        let (mut row, mut cl_id, mut fp) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        let (mut amount, mut masked, mut same) = (
            Vec::with_capacity(n),
            Vec::with_capacity(n),
            Vec::with_capacity(n),
        );
        for r in rows {
            row.push(r.row);
            cl_id.push(r.cl_id);
            fp.push(r.fp);
            amount.push(r.amount_fen);
            masked.push(r.account_masked);
            same.push(r.same_file_row);
        }
        self.with(move |c| {
            c.execute(
                "INSERT INTO dup_probe (row, cl_id, fp, amount_fen, account_masked, same_file_row)
                 SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::bigint[])
                 ON CONFLICT (row) DO UPDATE SET cl_id = excluded.cl_id, fp = excluded.fp,
                    amount_fen = excluded.amount_fen, account_masked = excluded.account_masked,
                    same_file_row = excluded.same_file_row",
                &[&row, &cl_id, &fp, &amount, &masked, &same],
            )
            .map_err(db_error)?;
            Ok(())
        })
    }

    /// The hits of the probed rows numbered in `(from, to]`.
    fn probe_hits(
        &self,
        merchant: &str,
        since: i64,
        from: i64,
        to: i64,
    ) -> Result<Vec<ProbeHit>, TeamError> {
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT p.row, p.cl_id, p.amount_fen, p.account_masked, p.same_file_row, f.cl_id,
                        j.payout_cl_id, j.amount_fen, j.account_masked, j.state, j.payout_id, j.created_at,
                        j.import_id, j.import_row
                     FROM dup_probe p
                     LEFT JOIN dup_probe f ON f.row = p.same_file_row
                     LEFT JOIN paydesk.payouts j ON j.merchant = $1 AND j.account_fingerprint = p.fp
                        AND j.amount_fen = p.amount_fen AND j.created_at >= $2 AND j.state <> 'rejected'
                        AND j.approval <> 'rejected' AND j.payout_cl_id <> p.cl_id
                     WHERE p.row > $3 AND p.row <= $4
                        AND (p.same_file_row IS NOT NULL OR j.id IS NOT NULL)
                        AND NOT EXISTS (SELECT 1 FROM paydesk.payouts r WHERE r.merchant = $1 AND r.payout_cl_id = p.cl_id)
                     ORDER BY p.row, j.id DESC",
                    &[&merchant, &since, &from, &to],
                )
                .map_err(db_error)?;
            Ok(rows
                .iter()
                .map(|r| ProbeHit {
                    row: r.get(0),
                    cl_id: r.get(1),
                    amount_fen: r.get(2),
                    account_masked: r.get(3),
                    same_file_row: r.get(4),
                    same_file_id: r.get(5),
                    earlier: r.get::<_, Option<String>>(6).map(|payout_cl_id| EarlierRow {
                        payout_cl_id,
                        amount_fen: r.get(7),
                        account_masked: r.get(8),
                        state: r.get(9),
                        payout_id: r.get(10),
                        created_at: r.get(11),
                        import_id: r.get(12),
                        import_row: r.get(13),
                    }),
                })
                .collect())
        })
    }

    /// The other payouts (not refused) of `merchant` to this account for this amount since
    /// `since`, newest first: what a retry of `except` would pay again.
    pub(crate) fn same_account_and_amount(
        &self,
        merchant: &str,
        fingerprint: &str,
        amount_fen: i64,
        since: i64,
        except: &str,
    ) -> Result<Vec<String>, TeamError> {
        self.with(|c| {
            let rows = c
                .query(
                    "SELECT payout_cl_id FROM paydesk.payouts WHERE merchant = $1 AND account_fingerprint = $2
                        AND amount_fen = $3 AND created_at >= $4 AND state <> 'rejected'
                        AND approval <> 'rejected' AND payout_cl_id <> $5 ORDER BY id DESC LIMIT 1000",
                    &[&merchant, &fingerprint, &amount_fen, &since, &except],
                )
                .map_err(db_error)?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    }
}
