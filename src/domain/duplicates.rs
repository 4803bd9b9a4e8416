//! Likely duplicates are held back until the operator confirms each by name: a CNY payout
//! whose merchant, account digits and amount match a payout already in the journal (within a
//! window, default 7 days) or an earlier row of the same file, and a GatePay sub-order whose
//! `merchant_withdraw_id` was in an earlier batch or whose address, currency and amount match
//! a sub-order of an earlier batch within the window. Without a confirmation for every held
//! row, nothing is recorded or sent. The one rule for the CLI and the console.

use std::collections::hash_map::{DefaultHasher, Entry as MapEntry};
use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::hash::{Hash, Hasher};

use rusqlite::params;
use serde::Serialize;

use super::batches::{BatchDesk, BatchError, SentBatch};
use super::bulk::BulkPlan;
use super::dates::{GATEWAY_TZ, format_secs, zone};
use super::journal::{
    Entry, Journal, JournalError, RecordingLock, State, account_fingerprint, mask_account,
    recording_lock,
};
use super::payouts::{PayoutDesk, PayoutError, Sent};
use crate::gateway::cny::wire::PayoutRequest;
use crate::gateway::gatepay::wire::BatchRequest;
use crate::lock_unpoisoned as lock;
use crate::money::{CryptoAmount, Fen};

/// The default window in which an equal earlier payout counts as a likely duplicate.
pub const DEFAULT_WINDOW_DAYS: u32 = 7;
/// The environment variable that sets the window (whole days).
pub const WINDOW_ENV: &str = "PAYDESK_DUPLICATE_WINDOW_DAYS";
/// Held rows described one by one; beyond this they are counted, so that a million-row file
/// imported twice does not hold a million descriptions in memory.
pub const LISTED_MAX: usize = 1_000;
/// Earlier payouts described per held row; the rest are counted.
pub const EARLIER_MAX: usize = 5;
/// The longest window accepted: ten years.
const WINDOW_MAX_DAYS: u32 = 3_660;

#[derive(Debug, thiserror::Error)]
pub enum WindowError {
    #[error(
        "the duplicate window must be a whole number of days from 0 to {WINDOW_MAX_DAYS}, not “{0}”"
    )]
    Invalid(String),
}

/// How far back an equal payout counts as a likely duplicate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct DuplicateWindow {
    pub days: u32,
}

impl Default for DuplicateWindow {
    fn default() -> Self {
        DuplicateWindow {
            days: DEFAULT_WINDOW_DAYS,
        }
    }
}

impl DuplicateWindow {
    pub fn parse(text: &str) -> Result<DuplicateWindow, WindowError> {
        text.trim()
            .parse::<u32>()
            .ok()
            .filter(|d| *d <= WINDOW_MAX_DAYS)
            .map(|days| DuplicateWindow { days })
            .ok_or_else(|| WindowError::Invalid(text.to_owned()))
    }

    /// The flag when given, else the environment variable, else the default.
    pub fn resolve(
        flag: Option<u32>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<DuplicateWindow, WindowError> {
        if let Some(days) = flag {
            return DuplicateWindow::parse(&days.to_string());
        }
        match env(WINDOW_ENV) {
            Some(text) if !text.trim().is_empty() => DuplicateWindow::parse(&text),
            _ => Ok(DuplicateWindow::default()),
        }
    }

    /// The earliest creation time (Unix seconds) still inside the window.
    pub fn since(self, now: i64) -> i64 {
        now.saturating_sub(i64::from(self.days) * 86_400)
    }
}

/// Which held rows the operator confirmed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Confirmation {
    #[default]
    Nothing,
    /// Every held row (`--allow-duplicates`).
    All,
    /// These IDs (merchant order IDs, or GatePay merchant withdraw IDs).
    Ids(HashSet<String>),
}

impl Confirmation {
    pub fn from_flags(all: bool, ids: impl IntoIterator<Item = String>) -> Confirmation {
        if all {
            return Confirmation::All;
        }
        let ids: HashSet<String> = ids.into_iter().map(|i| i.trim().to_owned()).collect();
        if ids.is_empty() {
            Confirmation::Nothing
        } else {
            Confirmation::Ids(ids)
        }
    }

    pub fn confirms(&self, id: &str) -> bool {
        match self {
            Confirmation::Nothing => false,
            Confirmation::All => true,
            Confirmation::Ids(ids) => ids.contains(id),
        }
    }
}

/// An earlier CNY payout in the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EarlierPayout {
    pub payout_cl_id: String,
    pub amount: Fen,
    pub account_masked: String,
    pub state: State,
    pub payout_id: Option<String>,
    pub created_at: i64,
    pub batch_id: Option<String>,
    pub batch_row: Option<i64>,
}

impl From<&Entry> for EarlierPayout {
    fn from(e: &Entry) -> Self {
        EarlierPayout {
            payout_cl_id: e.payout_cl_id.clone(),
            amount: e.amount,
            account_masked: e.account_masked.clone(),
            state: e.state,
            payout_id: e.payout_id.clone(),
            created_at: e.created_at,
            batch_id: e.batch_id.clone(),
            batch_row: e.batch_row,
        }
    }
}

/// A sub-order of an earlier GatePay batch in the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EarlierSubOrder {
    pub batch_id: String,
    pub batch_state: State,
    pub batch_status: Option<String>,
    pub created_at: i64,
    pub merchant_withdraw_id: String,
    pub currency: String,
    pub amount: String,
    pub address: String,
    /// The match is by `merchant_withdraw_id` (otherwise by address, currency and amount).
    pub same_id: bool,
}

/// What a held row matches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Earlier {
    /// A payout in the journal.
    Journal(EarlierPayout),
    /// An earlier row of the same file (same account and amount).
    SameFile { row: usize, id: String },
    /// A sub-order of an earlier GatePay batch.
    Batch(EarlierSubOrder),
}

fn when(secs: i64) -> String {
    match zone(GATEWAY_TZ) {
        Ok(tz) => format!("{} ({GATEWAY_TZ})", format_secs(secs, &tz)),
        Err(_) => format!("{secs} (Unix seconds)"),
    }
}

impl Earlier {
    /// When and how the earlier one was paid, in one line.
    pub fn describe(&self) -> String {
        match self {
            Earlier::Journal(p) => {
                let mut s = format!(
                    "payout {} of {} to {}, {}",
                    p.payout_cl_id,
                    p.amount,
                    p.account_masked,
                    p.state.describe()
                );
                if let Some(id) = &p.payout_id {
                    let _ = write!(s, " (payout ID {id})");
                }
                let _ = write!(s, ", created {}", when(p.created_at));
                if let (Some(b), Some(r)) = (&p.batch_id, p.batch_row) {
                    let _ = write!(s, ", row {r} of import {b}");
                }
                s
            }
            Earlier::SameFile { row, id } => {
                format!("row {row} of this file ({id}): the same account and amount")
            }
            Earlier::Batch(b) => {
                let mut s = format!(
                    "sub-order {} of batch {}: {} {} to {}, {}",
                    b.merchant_withdraw_id,
                    b.batch_id,
                    b.amount,
                    b.currency,
                    b.address,
                    b.batch_state.describe()
                );
                if let Some(st) = &b.batch_status {
                    let _ = write!(s, ", GatePay status {st}");
                }
                let _ = write!(
                    s,
                    ", created {}; {}",
                    when(b.created_at),
                    if b.same_id {
                        "the same merchant withdraw ID"
                    } else {
                        "the same address, currency and amount"
                    }
                );
                s
            }
        }
    }
}

/// One row held back as a likely duplicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HeldRow {
    /// Its row in the file (none for a payout typed in).
    pub row: Option<usize>,
    /// The name to confirm it by: its merchant order ID or merchant withdraw ID.
    pub id: String,
    /// "¥1,234.56 to 6216 **** 4374".
    pub what: String,
    pub earlier: Vec<Earlier>,
    /// Further matches, counted only.
    pub more_earlier: usize,
    pub confirmed: bool,
}

impl HeldRow {
    /// "row 5, `bulk_x_5` (¥10.00 to 6216 **** 4374) is held back, likely duplicate of:" and
    /// its matches.
    pub fn describe(&self) -> String {
        let mut s = match self.row {
            Some(r) => format!("row {r}, {} ({})", self.id, self.what),
            None => format!("{} ({})", self.id, self.what),
        };
        s.push_str(if self.confirmed {
            " — confirmed, likely duplicate of:"
        } else {
            " is held back, likely duplicate of:"
        });
        for e in &self.earlier {
            let _ = write!(s, "\n    {}", e.describe());
        }
        if self.more_earlier > 0 {
            let _ = write!(s, "\n    and {} more", self.more_earlier);
        }
        s
    }
}

/// The likely duplicates of a file, a batch or one payout.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DuplicateReport {
    /// The held rows, in file order, at most [`LISTED_MAX`].
    pub held: Vec<HeldRow>,
    pub held_total: usize,
    pub unconfirmed_total: usize,
    pub window_days: u32,
}

impl DuplicateReport {
    /// Nothing is held back without a confirmation.
    pub fn is_clear(&self) -> bool {
        self.unconfirmed_total == 0
    }

    /// Why nothing was sent, with every listed match and the way to confirm.
    pub fn refusal(&self) -> String {
        let mut s = format!(
            "{} of {} likely duplicate(s) not confirmed (same account and amount within {} day(s), \
             or twice in this file); nothing was sent:",
            self.unconfirmed_total, self.held_total, self.window_days
        );
        for h in self.held.iter().filter(|h| !h.confirmed) {
            let _ = write!(s, "\n  {}", h.describe());
        }
        let unlisted = self.held_total - self.held.len();
        if unlisted > 0 {
            let _ = write!(s, "\n  and {unlisted} more held row(s) not listed");
        }
        s
    }

    /// The audit line of the confirmations: who confirmed which ID against which payout.
    fn audit_detail(&self) -> String {
        let mut s = format!("{} likely duplicate(s) confirmed", self.held_total);
        for h in &self.held {
            let against: Vec<String> = h
                .earlier
                .iter()
                .map(|e| match e {
                    Earlier::Journal(p) => p.payout_cl_id.clone(),
                    Earlier::SameFile { row, id } => format!("{id} (row {row})"),
                    Earlier::Batch(b) => {
                        format!("{} of batch {}", b.merchant_withdraw_id, b.batch_id)
                    }
                })
                .collect();
            let _ = write!(s, "; {} against {}", h.id, against.join(", "));
        }
        let unlisted = self.held_total - self.held.len();
        if unlisted > 0 {
            let _ = write!(s, "; and {unlisted} more");
        }
        s
    }

    fn push(&mut self, row: HeldRow) {
        self.held_total += 1;
        if !row.confirmed {
            self.unconfirmed_total += 1;
        }
        if self.held.len() < LISTED_MAX {
            self.held.push(row);
        }
    }
}

/// Nothing sent: likely duplicates wait for a confirmation, or the journal or gateway failed.
#[derive(Debug, thiserror::Error)]
pub enum HoldError<E> {
    #[error("{}", .0.refusal())]
    Held(Box<DuplicateReport>),
    #[error(transparent)]
    Other(#[from] E),
}

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
    /// row by row): `feed` hands each row to the probe it is given.
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
        let conn = self.conn();
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
                let mut first_row: HashMap<u64, usize> = HashMap::new();
                let mut probe = |row: usize, r: &PayoutRequest| -> Result<(), JournalError> {
                    let digits: String = r.number.chars().filter(char::is_ascii_digit).collect();
                    let same_file_row = match first_row.entry(file_key(&digits, r.amount.fen())) {
                        MapEntry::Occupied(o) => Some(*o.get()),
                        MapEntry::Vacant(v) => {
                            v.insert(row);
                            None
                        }
                    };
                    insert.execute(params![
                        i64::try_from(row).unwrap_or(i64::MAX),
                        r.payout_cl_id,
                        account_fingerprint(&r.number),
                        r.amount.fen(),
                        mask_account(&r.number),
                        same_file_row.map(|x| i64::try_from(x).unwrap_or(i64::MAX)),
                    ])?;
                    Ok(())
                };
                feed(&mut probe)?;
            }
            tx.commit()?;
        }
        let mut report = DuplicateReport {
            window_days,
            ..DuplicateReport::default()
        };
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
            let mut current: Option<HeldRow> = None;
            while let Some(r) = result.next()? {
                let row = usize::try_from(r.get::<_, i64>(0)?).unwrap_or(0);
                if current.as_ref().and_then(|c| c.row) != Some(row) {
                    if let Some(done) = current.take() {
                        report.push(done);
                    }
                    let id: String = r.get(1)?;
                    let mut held = HeldRow {
                        row: Some(row),
                        confirmed: confirm.confirms(&id),
                        id,
                        what: format!("{} to {}", Fen::from_fen(r.get(2)?), r.get::<_, String>(3)?),
                        earlier: Vec::new(),
                        more_earlier: 0,
                    };
                    if let (Some(first), Some(first_id)) =
                        (r.get::<_, Option<i64>>(4)?, r.get::<_, Option<String>>(5)?)
                    {
                        held.earlier.push(Earlier::SameFile {
                            row: usize::try_from(first).unwrap_or(0),
                            id: first_id,
                        });
                    }
                    current = Some(held);
                }
                let Some(held) = current.as_mut() else {
                    continue;
                };
                if let Some(cl_id) = r.get::<_, Option<String>>(6)? {
                    if held.earlier.len() >= EARLIER_MAX {
                        held.more_earlier += 1;
                        continue;
                    }
                    let state: String = r.get(9)?;
                    held.earlier.push(Earlier::Journal(EarlierPayout {
                        payout_cl_id: cl_id,
                        amount: Fen::from_fen(r.get(7)?),
                        account_masked: r.get(8)?,
                        state: State::parse(&state).ok_or_else(|| {
                            JournalError::Corrupt(format!("unknown state {state}"))
                        })?,
                        payout_id: r.get(10)?,
                        created_at: r.get(11)?,
                        batch_id: r.get(12)?,
                        batch_row: r.get(13)?,
                    }));
                }
            }
            if let Some(done) = current.take() {
                report.push(done);
            }
        }
        conn.execute("DELETE FROM temp.dup_probe", [])?;
        Ok(report)
    }
}

impl PayoutDesk {
    /// The journal's [`recording_lock`], taken with the journal's mutex released (the lock
    /// may wait for another window of this process, which needs that mutex to finish).
    fn recording_lock(&self) -> Result<RecordingLock, PayoutError> {
        let path = lock(&self.journal).path().to_path_buf();
        Ok(recording_lock(&path)?)
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
        confirmed: bool,
    ) -> Result<DuplicateReport, PayoutError> {
        let confirm = if confirmed {
            Confirmation::All
        } else {
            Confirmation::Nothing
        };
        let mut report = self.duplicates_of_rows([(0, request)], window, &confirm)?;
        for h in &mut report.held {
            h.row = None;
        }
        Ok(report)
    }

    fn audit_confirmations(&self, report: &DuplicateReport) -> Result<(), PayoutError> {
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
    /// (`confirmed`); a confirmation is recorded in the audit log in the desk's name.
    pub async fn submit_unless_duplicate(
        &self,
        request: &PayoutRequest,
        window: DuplicateWindow,
        confirmed: bool,
    ) -> Result<(Sent, DuplicateReport), HoldError<PayoutError>> {
        let report = {
            // No other Paydesk records between this check and this record.
            let _held = self.recording_lock()?;
            let report = self.duplicates_of(request, window, confirmed)?;
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

    /// Records every row of a checked file (see [`PayoutDesk::enqueue_batch`]) unless a row is
    /// a likely duplicate not confirmed by name: then nothing is recorded. Returns how many
    /// rows were new, and the confirmed duplicates (recorded in the audit log).
    pub fn enqueue_batch_unless_duplicate(
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
        let added = self.enqueue_batch(plan)?;
        Ok((added, report))
    }
}

/// An address as compared: trimmed, and a hex address (`0x…`, as on Ethereum and the chains
/// like it) in lower case, since its letter case is only a checksum: `0xAbC…` and `0xabc…`
/// are one account. Other addresses (Tron's base58) keep their case, which matters there.
fn address_key(address: &str) -> String {
    let a = address.trim();
    match a.strip_prefix("0x").or_else(|| a.strip_prefix("0X")) {
        Some(hex) if !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()) => {
            a.to_ascii_lowercase()
        }
        _ => a.to_owned(),
    }
}

/// A compact key of a sub-order's destination: currency, address and the amount's value
/// (`1.50` and `1.5` are the same amount). Candidates are compared in full afterwards.
fn destination_key(currency: &str, address: &str, amount: CryptoAmount) -> u64 {
    let mut h = DefaultHasher::new();
    currency.trim().to_uppercase().hash(&mut h);
    address_key(address).hash(&mut h);
    amount.decimal().normalize().to_string().hash(&mut h);
    h.finish()
}

impl BatchDesk {
    /// The likely duplicates among a batch's sub-orders: a `merchant_withdraw_id` of any
    /// earlier batch, or the address, currency and amount of a sub-order of an earlier batch
    /// created within the window. Refused batches and the batch itself do not count.
    pub fn duplicates_of_batch(
        &self,
        request: &BatchRequest,
        window: DuplicateWindow,
        confirm: &Confirmation,
    ) -> Result<DuplicateReport, BatchError> {
        let since = window.since(self.clock.now_secs());
        let items = &request.withdraw_list;
        let mut by_id: HashMap<&str, usize> = HashMap::new();
        let mut by_destination: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            by_id.insert(item.merchant_withdraw_id.trim(), i);
            by_destination
                .entry(destination_key(&item.currency, &item.address, item.amount))
                .or_default()
                .push(i);
        }
        // Only the matched sub-orders: (their matches, further matches counted).
        let mut found: HashMap<usize, (Vec<Earlier>, usize)> = HashMap::new();
        {
            let mut journal = lock(&self.journal);
            let conn = journal.conn();
            let mut stmt = conn.prepare(
                "SELECT b.batch_id, b.state, b.batch_status, b.created_at,
                    json_extract(s.value, '$.merchant_withdraw_id'), json_extract(s.value, '$.currency'),
                    json_extract(s.value, '$.amount'), json_extract(s.value, '$.address')
                 FROM gatepay_batches b, json_each(b.body, '$.withdraw_list') s
                 WHERE b.merchant = ?1 AND b.batch_id <> ?2 AND b.state <> 'rejected'
                 ORDER BY b.created_at DESC, b.id DESC",
            )
            .map_err(JournalError::from)?;
            let mut rows = stmt
                .query(params![self.merchant, request.batch_id.trim()])
                .map_err(JournalError::from)?;
            while let Some(r) = rows.next().map_err(JournalError::from)? {
                let text = |i: usize| -> Result<String, JournalError> {
                    Ok(r.get::<_, Option<String>>(i)?.unwrap_or_default())
                };
                let created_at: i64 = r.get(3).map_err(JournalError::from)?;
                let mwid = text(4)?;
                let currency = text(5)?;
                let amount = text(6)?;
                let address = text(7)?;
                let same_id = by_id.get(mwid.as_str()).copied();
                let mut targets: Vec<usize> = Vec::new();
                if created_at >= since
                    && let Ok(a) = CryptoAmount::parse_wire(&amount)
                    && let Some(candidates) =
                        by_destination.get(&destination_key(&currency, &address, a))
                {
                    targets.extend(candidates.iter().copied().filter(|i| {
                        let item = &items[*i];
                        item.amount == a
                            && address_key(&item.address) == address_key(&address)
                            && item.currency.trim().eq_ignore_ascii_case(currency.trim())
                    }));
                }
                if same_id.is_none() && targets.is_empty() {
                    continue;
                }
                let state: String = r.get(1).map_err(JournalError::from)?;
                let earlier = EarlierSubOrder {
                    batch_id: text(0)?,
                    batch_state: State::parse(&state)
                        .ok_or_else(|| JournalError::Corrupt(format!("unknown state {state}")))?,
                    batch_status: r.get(2).map_err(JournalError::from)?,
                    created_at,
                    merchant_withdraw_id: mwid,
                    currency,
                    amount,
                    address,
                    same_id: same_id.is_some(),
                };
                if let Some(i) = same_id
                    && !targets.contains(&i)
                {
                    targets.push(i);
                }
                for i in targets {
                    let (list, more) = found.entry(i).or_default();
                    if list.len() < EARLIER_MAX {
                        list.push(Earlier::Batch(earlier.clone()));
                    } else {
                        *more += 1;
                    }
                }
            }
        }
        let mut report = DuplicateReport {
            window_days: window.days,
            ..DuplicateReport::default()
        };
        for (i, item) in items.iter().enumerate() {
            let Some((earlier, more)) = found.remove(&i) else {
                continue;
            };
            let id = item.merchant_withdraw_id.trim().to_owned();
            report.push(HeldRow {
                row: Some(i + 1),
                confirmed: confirm.confirms(&id),
                id,
                what: format!(
                    "{} {} to {} ({})",
                    item.amount,
                    item.currency.trim().to_uppercase(),
                    item.address.trim(),
                    item.chain.trim()
                ),
                earlier,
                more_earlier: more,
            });
        }
        Ok(report)
    }

    /// Records and sends a batch (see [`BatchDesk::submit`]) unless a sub-order is a likely
    /// duplicate not confirmed by name: then nothing is recorded or sent.
    pub async fn submit_unless_duplicate(
        &self,
        request: &BatchRequest,
        window: DuplicateWindow,
        confirm: &Confirmation,
    ) -> Result<(SentBatch, DuplicateReport), HoldError<BatchError>> {
        // No other Paydesk records between this check and this record.
        let path = lock(&self.journal).path().to_path_buf();
        let held = recording_lock(&path).map_err(BatchError::from)?;
        let report = self.duplicates_of_batch(request, window, confirm)?;
        if !report.is_clear() {
            return Err(HoldError::Held(Box::new(report)));
        }
        if report.held_total > 0 {
            lock(&self.journal)
                .audit(
                    self.actor.as_str(),
                    "likely duplicate confirmed",
                    &format!(
                        "batch {}: {}",
                        request.batch_id.trim(),
                        report.audit_detail()
                    ),
                    self.clock.now_secs(),
                )
                .map_err(BatchError::from)?;
        }
        let (batch_id, body) = self.record_batch(request)?;
        drop(held);
        let sent = self.send_recorded(&batch_id, body).await?;
        Ok((sent, report))
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
                request: r.clone(),
                state,
                batch: None,
            }],
            now,
        )
        .unwrap();
    }

    #[test]
    fn window_comes_from_the_flag_then_the_environment() {
        assert_eq!(DuplicateWindow::resolve(None, |_| None).unwrap().days, 7);
        assert_eq!(
            DuplicateWindow::resolve(None, |_| Some("30".into()))
                .unwrap()
                .days,
            30
        );
        assert_eq!(
            DuplicateWindow::resolve(Some(1), |_| Some("30".into()))
                .unwrap()
                .days,
            1
        );
        assert!(DuplicateWindow::resolve(None, |_| Some("-1".into())).is_err());
        assert_eq!(
            DuplicateWindow { days: 7 }.since(700_000),
            700_000 - 604_800
        );
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
