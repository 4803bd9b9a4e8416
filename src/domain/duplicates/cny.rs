//! The CNY matcher: payouts of a file against the journal and against earlier rows of the
//! same file, by merchant, account digits and amount.

use std::collections::HashMap;
use std::collections::hash_map::{DefaultHasher, Entry as MapEntry};
use std::hash::{Hash, Hasher};

use rusqlite::params;

use super::{
    Confirmation, DuplicateReport, DuplicateWindow, EARLIER_MAX, Earlier, EarlierPayout, HeldRow,
    HoldError,
};
use crate::domain::bulk::BulkPlan;
use crate::domain::journal::{
    Journal, JournalError, RecordingLock, State, account_fingerprint, mask_account,
};
use crate::domain::payouts::{PayoutDesk, PayoutError, Sent};
use crate::gateway::cny::wire::PayoutRequest;
use crate::lock_unpoisoned as lock;
use crate::money::Fen;

/// A compact in-memory key of an account's digits and an amount, for matches within a file.
fn file_key(digits: &str, amount: i64) -> u64 {
    // Fixed keys: the same on every run; a rare collision only holds a row back.
    let mut h = DefaultHasher::new();
    digits.hash(&mut h);
    amount.hash(&mut h);
    h.finish()
}

impl Journal {
    /// The likely duplicates among `rows` (file row, payout) of `merchant`: rows equal to a
    /// payout created since `since` (not refused, not the row itself) or to an earlier row.
    /// Rows already in the journal are being resumed and were confirmed when first recorded.
    /// Bounded for a million rows: the rows go through a temporary table joined on an index,
    /// and only a `u64` per distinct account and amount is kept in memory.
    pub fn likely_duplicates_of_rows<'a>(
        &mut self,
        merchant: &str,
        since: i64,
        rows: impl IntoIterator<Item = (usize, &'a PayoutRequest)>,
        confirm: &Confirmation,
        window_days: u32,
    ) -> Result<DuplicateReport, JournalError> {
        self.likely_duplicates_fed(
            merchant,
            since,
            |probe| {
                for (row, r) in rows {
                    probe(row, r)?;
                }
                Ok(())
            },
            confirm,
            window_days,
        )
    }

    /// [`Journal::likely_duplicates_of_rows`] for rows that are streamed (a file read again
    /// row by row): `feed` hands each row to the probe it is given. On a team journal the same
    /// probe runs on the server, against every operator's payouts.
    pub fn likely_duplicates_fed(
        &mut self,
        merchant: &str,
        since: i64,
        feed: impl FnOnce(
            &mut dyn FnMut(usize, &PayoutRequest) -> Result<(), JournalError>,
        ) -> Result<(), JournalError>,
        confirm: &Confirmation,
        window_days: u32,
    ) -> Result<DuplicateReport, JournalError> {
        let mut first_row: HashMap<u64, usize> = HashMap::new();
        let mut probe_row = |row: usize, r: &PayoutRequest| {
            let digits: String = r.number.chars().filter(char::is_ascii_digit).collect();
            let same_file_row = match first_row.entry(file_key(&digits, r.amount.fen())) {
                MapEntry::Occupied(o) => Some(*o.get()),
                MapEntry::Vacant(v) => {
                    v.insert(row);
                    None
                }
            };
            ProbeRow {
                row: i64::try_from(row).unwrap_or(i64::MAX),
                cl_id: r.payout_cl_id.clone(),
                fp: account_fingerprint(&r.number),
                amount_fen: r.amount.fen(),
                account_masked: mask_account(&r.number),
                same_file_row: same_file_row.map(|x| i64::try_from(x).unwrap_or(i64::MAX)),
            }
        };
        let mut folder = HitFolder {
            current: None,
            report: DuplicateReport {
                window_days,
                ..DuplicateReport::default()
            },
            confirm,
        };
        if let Some(team) = self.team.as_deref() {
            team.probe_duplicates(
                merchant,
                since,
                |sink| feed(&mut |row, r| sink(probe_row(row, r))),
                &mut |hit| folder.push(hit),
            )?;
            return Ok(folder.finish());
        }
        let conn = self.conn("payouts")?;
        conn.execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS dup_probe (row INTEGER PRIMARY KEY, cl_id TEXT NOT NULL,
                fp TEXT NOT NULL, amount_fen INTEGER NOT NULL, account_masked TEXT NOT NULL,
                same_file_row INTEGER);
             DELETE FROM temp.dup_probe;",
        )?;
        {
            let tx = conn.transaction()?;
            {
                let mut insert = tx.prepare(
                    "INSERT OR REPLACE INTO temp.dup_probe (row, cl_id, fp, amount_fen, account_masked, same_file_row)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?;
                feed(&mut |row, r| {
                    let p = probe_row(row, r);
                    insert.execute(params![
                        p.row,
                        p.cl_id,
                        p.fp,
                        p.amount_fen,
                        p.account_masked,
                        p.same_file_row
                    ])?;
                    Ok(())
                })?;
            }
            tx.commit()?;
        }
        {
            let mut stmt = conn.prepare(
                "SELECT p.row, p.cl_id, p.amount_fen, p.account_masked, p.same_file_row, f.cl_id,
                    j.payout_cl_id, j.amount_fen, j.account_masked, j.state, j.payout_id, j.created_at,
                    j.batch_id, j.batch_row
                 FROM temp.dup_probe p
                 LEFT JOIN temp.dup_probe f ON f.row = p.same_file_row
                 LEFT JOIN payouts j ON j.merchant = ?1 AND j.account_fingerprint = p.fp
                    AND j.amount_fen = p.amount_fen AND j.created_at >= ?2 AND j.state <> 'rejected'
                    AND j.payout_cl_id <> p.cl_id
                 WHERE (p.same_file_row IS NOT NULL OR j.id IS NOT NULL)
                    AND NOT EXISTS (SELECT 1 FROM payouts r WHERE r.merchant = ?1 AND r.payout_cl_id = p.cl_id)
                 ORDER BY p.row, j.id DESC",
            )?;
            let mut result = stmt.query(params![merchant, since])?;
            while let Some(r) = result.next()? {
                let earlier = match r.get::<_, Option<String>>(6)? {
                    Some(payout_cl_id) => Some(EarlierRow {
                        payout_cl_id,
                        amount_fen: r.get(7)?,
                        account_masked: r.get(8)?,
                        state: r.get(9)?,
                        payout_id: r.get(10)?,
                        created_at: r.get(11)?,
                        import_id: r.get(12)?,
                        import_row: r.get(13)?,
                    }),
                    None => None,
                };
                folder.push(ProbeHit {
                    row: r.get(0)?,
                    cl_id: r.get(1)?,
                    amount_fen: r.get(2)?,
                    account_masked: r.get(3)?,
                    same_file_row: r.get(4)?,
                    same_file_id: r.get(5)?,
                    earlier,
                })?;
            }
        }
        conn.execute("DELETE FROM temp.dup_probe", [])?;
        Ok(folder.finish())
    }
}

/// One row of a file as the duplicate probe keeps it.
pub(crate) struct ProbeRow {
    pub row: i64,
    pub cl_id: String,
    pub fp: String,
    pub amount_fen: i64,
    pub account_masked: String,
    /// The first earlier row of the file with the same account and amount.
    pub same_file_row: Option<i64>,
}

/// An earlier payout of the journal a probed row matches, as the store read it.
pub(crate) struct EarlierRow {
    pub payout_cl_id: String,
    pub amount_fen: i64,
    pub account_masked: String,
    pub state: String,
    pub payout_id: Option<String>,
    pub created_at: i64,
    pub import_id: Option<String>,
    pub import_row: Option<i64>,
}

/// What the probe found for a row: its match in the file, and one match in the journal (a
/// row with several comes once per match, newest first, rows in file order).
pub(crate) struct ProbeHit {
    pub row: i64,
    pub cl_id: String,
    pub amount_fen: i64,
    pub account_masked: String,
    pub same_file_row: Option<i64>,
    pub same_file_id: Option<String>,
    pub earlier: Option<EarlierRow>,
}

/// Folds the probe's hits into held rows, the same for both stores.
struct HitFolder<'c> {
    current: Option<HeldRow>,
    report: DuplicateReport,
    confirm: &'c Confirmation,
}

impl HitFolder<'_> {
    fn push(&mut self, hit: ProbeHit) -> Result<(), JournalError> {
        let row = usize::try_from(hit.row).unwrap_or(0);
        if self.current.as_ref().and_then(|c| c.row) != Some(row) {
            if let Some(done) = self.current.take() {
                self.report.push(done);
            }
            let mut held = HeldRow {
                row: Some(row),
                confirmed: self.confirm.confirms(&hit.cl_id),
                what: format!(
                    "{} to {}",
                    Fen::from_fen(hit.amount_fen),
                    hit.account_masked
                ),
                id: hit.cl_id,
                earlier: Vec::new(),
                more_earlier: 0,
                unseen: Vec::new(),
                unseen_more: false,
            };
            if let (Some(first), Some(first_id)) = (hit.same_file_row, hit.same_file_id) {
                held.earlier.push(Earlier::SameFile {
                    row: usize::try_from(first).unwrap_or(0),
                    id: first_id,
                });
            }
            self.current = Some(held);
        }
        let (Some(held), Some(e)) = (self.current.as_mut(), hit.earlier) else {
            return Ok(());
        };
        if held.earlier.len() >= EARLIER_MAX {
            held.more_earlier += 1;
            return Ok(());
        }
        held.earlier.push(Earlier::Journal(EarlierPayout {
            state: State::parse(&e.state)
                .ok_or_else(|| JournalError::Corrupt(format!("unknown state {}", e.state)))?,
            payout_cl_id: e.payout_cl_id,
            amount: Fen::from_fen(e.amount_fen),
            account_masked: e.account_masked,
            payout_id: e.payout_id,
            created_at: e.created_at,
            import_id: e.import_id,
            import_row: e.import_row,
        }));
        Ok(())
    }

    fn finish(mut self) -> DuplicateReport {
        if let Some(done) = self.current.take() {
            self.report.push(done);
        }
        self.report.settle(self.confirm);
        self.report
    }
}

impl PayoutDesk {
    /// The likely duplicates of a payout of the journal about to be sent again: the other
    /// payouts (not refused) to the same account for the same amount within the window. One
    /// typed again after this one was not created, and confirmed as a duplicate of it, is
    /// paid; sending this one too would pay twice.
    pub fn duplicates_of_retry(
        &self,
        cl_id: &str,
        window: DuplicateWindow,
        confirmed: bool,
    ) -> Result<DuplicateReport, PayoutError> {
        let since = window.since(self.clock.now_secs());
        let mut j = lock(&self.journal);
        let entry = j
            .get(&self.merchant, cl_id)?
            .ok_or_else(|| JournalError::NotFound(cl_id.to_owned()))?;
        let fp = account_fingerprint(&entry.request.number);
        let amount = entry.request.amount.fen();
        let others: Vec<String> = if let Some(team) = j.team() {
            team.same_account_and_amount(&self.merchant, &fp, amount, since, cl_id)
                .map_err(JournalError::from)?
        } else {
            let conn = j.conn("payouts")?;
            let mut stmt = conn
                .prepare(
                    "SELECT payout_cl_id FROM payouts WHERE merchant = ?1 AND account_fingerprint = ?2
                        AND amount_fen = ?3 AND created_at >= ?4 AND state <> 'rejected'
                        AND payout_cl_id <> ?5 ORDER BY id DESC",
                )
                .map_err(JournalError::from)?;
            let rows = stmt
                .query_map(params![self.merchant, fp, amount, since, cl_id], |r| {
                    r.get(0)
                })
                .map_err(JournalError::from)?;
            rows.collect::<Result<_, _>>().map_err(JournalError::from)?
        };
        let mut report = DuplicateReport {
            window_days: window.days,
            ..DuplicateReport::default()
        };
        if others.is_empty() {
            return Ok(report);
        }
        let mut earlier = Vec::new();
        for other in others.iter().take(EARLIER_MAX) {
            if let Some(e) = j.get(&self.merchant, other)? {
                earlier.push(Earlier::Journal(EarlierPayout::from(&e)));
            }
        }
        report.push(HeldRow {
            row: None,
            id: cl_id.to_owned(),
            confirmed,
            what: format!("{} to {}", entry.request.amount, entry.account_masked),
            unseen: Vec::new(),
            unseen_more: false,
            earlier,
            more_earlier: others.len().saturating_sub(EARLIER_MAX),
        });
        Ok(report)
    }

    /// The journal's [`RecordingLock`], taken with the journal's mutex released (the lock
    /// may wait for another window of this process, which needs that mutex to finish).
    pub(super) fn recording_lock(&self) -> Result<RecordingLock, PayoutError> {
        let target = lock(&self.journal).recording_target();
        Ok(target.lock()?)
    }

    /// The likely duplicates among the rows of a file (file row, payout).
    pub fn duplicates_of_rows<'a>(
        &self,
        rows: impl IntoIterator<Item = (usize, &'a PayoutRequest)>,
        window: DuplicateWindow,
        confirm: &Confirmation,
    ) -> Result<DuplicateReport, PayoutError> {
        let since = window.since(self.clock.now_secs());
        Ok(lock(&self.journal).likely_duplicates_of_rows(
            &self.merchant,
            since,
            rows,
            confirm,
            window.days,
        )?)
    }

    /// The likely duplicates among the rows of a checked file, read again row by row (a big
    /// file is never held as requests).
    pub fn duplicates_of_plan(
        &self,
        plan: &BulkPlan,
        window: DuplicateWindow,
        confirm: &Confirmation,
    ) -> Result<DuplicateReport, PayoutError> {
        let since = window.since(self.clock.now_secs());
        Ok(lock(&self.journal).likely_duplicates_fed(
            &self.merchant,
            since,
            |probe| {
                let mut failure = None;
                plan.for_each_row(|row, r| {
                    if failure.is_none()
                        && let Err(e) = probe(row, r)
                    {
                        failure = Some(e);
                    }
                })
                .map_err(|e| JournalError::Corrupt(format!("the file changed: {e}")))?;
                failure.map_or(Ok(()), Err)
            },
            confirm,
            window.days,
        )?)
    }

    /// The likely duplicates of one payout typed in.
    pub fn duplicates_of(
        &self,
        request: &PayoutRequest,
        window: DuplicateWindow,
        confirm: &Confirmation,
    ) -> Result<DuplicateReport, PayoutError> {
        let mut report = self.duplicates_of_rows([(0, request)], window, confirm)?;
        for h in &mut report.held {
            h.row = None;
        }
        Ok(report)
    }

    pub(crate) fn audit_confirmations(&self, report: &DuplicateReport) -> Result<(), PayoutError> {
        if report.held_total > 0 {
            lock(&self.journal).audit(
                self.actor.as_str(),
                "likely duplicate confirmed",
                &report.audit_detail(),
                self.clock.now_secs(),
            )?;
        }
        Ok(())
    }

    /// Sends one payout unless it is a likely duplicate the operator has not confirmed
    /// (`confirm`, checked against what the send finds now: a confirmation bound to the
    /// matches a review showed holds the payout again when another appeared since); a
    /// confirmation is recorded in the audit log in the desk's name.
    pub async fn submit_unless_duplicate(
        &self,
        request: &PayoutRequest,
        window: DuplicateWindow,
        confirm: &Confirmation,
    ) -> Result<(Sent, DuplicateReport), HoldError<PayoutError>> {
        // Asked before the lock is taken: the gateway may be slow.
        let at_gateway = self.gap_duplicates(request.amount, window).await?;
        let report = {
            // No other Paydesk records between this check and this record.
            let _held = self.recording_lock()?;
            let mut report = self.duplicates_of(request, window, confirm)?;
            super::gap::hold(&mut report, request, at_gateway, confirm);
            if !report.is_clear() {
                return Err(HoldError::Held(Box::new(report)));
            }
            self.audit_confirmations(&report)?;
            self.record_single(request)?;
            report
        };
        let sent = self.send_recorded(request).await?;
        Ok((sent, report))
    }

    /// Records every row of a checked file (see [`PayoutDesk::enqueue_import`]) unless a row is
    /// a likely duplicate not confirmed by name: then nothing is recorded. Returns how many
    /// rows were new, and the confirmed duplicates (recorded in the audit log).
    pub fn enqueue_import_unless_duplicate(
        &self,
        plan: &BulkPlan,
        window: DuplicateWindow,
        confirm: &Confirmation,
    ) -> Result<(usize, DuplicateReport), HoldError<PayoutError>> {
        // No other Paydesk records between this check and this record.
        let _held = self.recording_lock()?;
        let report = self.duplicates_of_plan(plan, window, confirm)?;
        if !report.is_clear() {
            return Err(HoldError::Held(Box::new(report)));
        }
        self.audit_confirmations(&report)?;
        let added = self.enqueue_import(plan)?;
        Ok((added, report))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::journal::{Intent, journal_path};

    fn request(id: &str, number: &str, fen: i64) -> PayoutRequest {
        PayoutRequest {
            payout_cl_id: id.into(),
            amount: Fen::from_fen(fen),
            bank_name: "中国银行".into(),
            name: "李娜".into(),
            number: number.into(),
            bank_branch: None,
            province: None,
            city: None,
            notify_url: None,
        }
    }

    fn record(j: &mut Journal, r: &PayoutRequest, state: State, now: i64) {
        j.record_intents(
            &[Intent {
                merchant: "M@gw".into(),
                origin: None,
                request: r.clone(),
                state,
                import: None,
            }],
            now,
        )
        .unwrap();
    }

    #[test]
    fn rows_equal_to_a_journal_payout_or_an_earlier_row_are_held() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&journal_path(dir.path())).unwrap();
        let now = 1_000_000;
        record(
            &mut j,
            &request("OLD", "6222 0202 0202 0202", 500),
            State::Accepted,
            now - 100,
        );
        // Refused by the gateway, or outside the window: not duplicates.
        let refused = request("REF", "6222020202020299", 700);
        record(&mut j, &refused, State::Queued, now - 100);
        j.record_outcome(
            "M@gw",
            "REF",
            &crate::gateway::cny::wire::CreateOutcome::Rejected {
                code: "0001".into(),
                meaning: "x".into(),
                message: String::new(),
            },
            now,
        )
        .unwrap();
        record(
            &mut j,
            &request("ANCIENT", "6222020202020288", 900),
            State::Accepted,
            1,
        );
        let rows = [
            request("N2", "6222020202020202", 500),
            request("N3", "6222020202020299", 700),
            request("N4", "6222020202020288", 900),
            request("N5", "6222020202020277", 100),
            request("N6", "6222 0202 0202 0277", 100),
            request("OLD", "6222020202020202", 500),
        ];
        let since = DuplicateWindow::default().since(now);
        let it = rows.iter().enumerate().map(|(i, r)| (i + 2, r));
        let report = j
            .likely_duplicates_of_rows("M@gw", since, it, &Confirmation::Nothing, 7)
            .unwrap();
        let got: Vec<(Option<usize>, &str, usize)> = report
            .held
            .iter()
            .map(|h| (h.row, h.id.as_str(), h.earlier.len()))
            .collect();
        // N2 matches OLD; N6 matches row 5; OLD itself is being resumed.
        assert_eq!(got, [(Some(2), "N2", 1), (Some(6), "N6", 1)]);
        assert!(
            matches!(&report.held[0].earlier[0], Earlier::Journal(p) if p.payout_cl_id == "OLD")
        );
        assert!(
            matches!(&report.held[1].earlier[0], Earlier::SameFile { row: 5, id } if id == "N5")
        );
        assert_eq!((report.held_total, report.unconfirmed_total), (2, 2));
        assert!(
            report
                .refusal()
                .contains("payout OLD of ¥5.00 to 6222 **** 0202")
        );
        let confirm = Confirmation::from_flags(false, ["N2".to_owned()]);
        let it = rows.iter().enumerate().map(|(i, r)| (i + 2, r));
        let report = j
            .likely_duplicates_of_rows("M@gw", since, it, &confirm, 7)
            .unwrap();
        assert_eq!((report.held_total, report.unconfirmed_total), (2, 1));
        assert!(!report.is_clear());
    }

    #[test]
    fn a_hundred_thousand_rows_are_matched_in_one_pass() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&journal_path(dir.path())).unwrap();
        let rows: Vec<PayoutRequest> = (0..100_000)
            .map(|i| request(&format!("R{i}"), &format!("62220202{i:08}"), 100 + i))
            .collect();
        let started = std::time::Instant::now();
        let report = j
            .likely_duplicates_of_rows(
                "M@gw",
                0,
                rows.iter().enumerate().map(|(i, r)| (i + 2, r)),
                &Confirmation::Nothing,
                7,
            )
            .unwrap();
        assert_eq!(report.held_total, 0);
        assert!(started.elapsed() < std::time::Duration::from_mins(1));
    }
}
