//! GatePay batch payouts: what an operator reads off a batch (totals per status and currency,
//! sub-orders stuck in CHECK or PROCESSING), batches planned from a CSV/XLSX file, and
//! sending them through the payout journal so that none is lost or doubled. The intent (the
//! exact body) is committed before it is sent; a timeout, a 5xx or an unreadable reply is an
//! *unknown* outcome settled by asking for the batch's detail; `550245` (the batch exists)
//! means look it up; a batch is only ever sent again under its own `batch_id`. Once a batch
//! may have left, a failed lookup or journal write is reported beside the outcome, never in
//! its place. GatePay's API replies carry no signature (only its callbacks do), so there is
//! no signed truth to check on a batch detail.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::bulk::RowError;
use super::journal::{Actor, Claim, Journal, JournalError, State, claimer_id, sha256_hex};
use super::payouts::{NOT_FOUND_GRACE_SECS, backoff_secs};
use super::sheet::{self, Cell, Limits, column_letters};
use crate::clock::Clock;
use crate::gateway::gatepay::client::{GatePayClient, GatePayClientError};
use crate::gateway::gatepay::wire::{
    BatchRequest, CreateBatchOutcome, DetailStatus, GpReplyError, SubOrder, WithdrawItem,
    is_final_batch_status,
};
use crate::lock_unpoisoned as lock;
use crate::money::CryptoAmount;

/// Sub-orders in CHECK or PROCESSING longer than this are flagged as stuck.
pub const DEFAULT_STUCK_MINUTES: i64 = 30;

/// Whether a sub-order has sat in CHECK or PROCESSING for longer than `threshold_ms`
/// (measured from its last update, the moment it entered that status).
pub fn is_stuck(sub: &SubOrder, now_ms: i64, threshold_ms: i64) -> bool {
    matches!(sub.status.as_str(), "CHECK" | "PROCESSING")
        && sub
            .update_time_ms
            .or(sub.create_time_ms)
            .is_some_and(|since| now_ms - since > threshold_ms)
}

/// How long a stuck sub-order has been in its status, as "3 h 12 min".
pub fn stuck_for(sub: &SubOrder, now_ms: i64) -> String {
    let since = sub.update_time_ms.or(sub.create_time_ms).unwrap_or(now_ms);
    let minutes = (now_ms - since).max(0) / 60_000;
    if minutes >= 60 {
        format!("{} h {} min", minutes / 60, minutes % 60)
    } else {
        format!("{minutes} min")
    }
}

/// The sums of one status and currency.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct StatusTotal {
    pub status: String,
    pub currency: String,
    pub count: usize,
    pub amount: CryptoAmount,
    pub fee: CryptoAmount,
    pub done_amount: CryptoAmount,
    /// Sub-orders whose amounts could not be read (counted, not summed).
    pub unreadable: usize,
}

fn add(total: &mut CryptoAmount, amount: CryptoAmount) -> bool {
    match total.checked_add(amount) {
        Some(t) => {
            *total = t;
            true
        }
        None => false,
    }
}

/// Totals per status and currency, statuses in their life-cycle order.
pub fn status_totals(list: &[SubOrder]) -> Vec<StatusTotal> {
    let order = |status: &str| {
        DetailStatus::ALL_VALUES
            .iter()
            .position(|d| d.as_str() == status)
            .unwrap_or(usize::MAX)
    };
    let mut map: BTreeMap<(usize, String, String), StatusTotal> = BTreeMap::new();
    for s in list {
        let t = map
            .entry((order(&s.status), s.status.clone(), s.currency.clone()))
            .or_insert_with(|| StatusTotal {
                status: s.status.clone(),
                currency: s.currency.clone(),
                count: 0,
                amount: CryptoAmount::ZERO,
                fee: CryptoAmount::ZERO,
                done_amount: CryptoAmount::ZERO,
                unreadable: 0,
            });
        t.count += 1;
        let ok = match (s.amount, s.fee, s.done_amount) {
            (Some(a), Some(f), Some(d)) => {
                add(&mut t.amount, a) && add(&mut t.fee, f) && add(&mut t.done_amount, d)
            }
            _ => false,
        };
        if !ok {
            t.unreadable += 1;
        }
    }
    map.into_values().collect()
}

/// Totals per currency of a batch being prepared: (currency, count, sum).
pub fn currency_totals(items: &[WithdrawItem]) -> Vec<(String, usize, CryptoAmount)> {
    let mut map: BTreeMap<String, (usize, CryptoAmount)> = BTreeMap::new();
    for item in items {
        let e = map
            .entry(item.currency.trim().to_uppercase())
            .or_insert((0, CryptoAmount::ZERO));
        e.0 += 1;
        e.1 = e.1.checked_add(item.amount).unwrap_or(e.1);
    }
    map.into_iter().map(|(c, (n, a))| (c, n, a)).collect()
}

/// "12 USDT 1,234.5 · 1 BTC 0.01" style summary of currency totals.
pub fn describe_totals(totals: &[(String, usize, CryptoAmount)]) -> String {
    totals
        .iter()
        .map(|(c, n, a)| format!("{a} {c} ({n})"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A fresh batch ID: the same form as a fresh payout ID (`pd_20261122T141503_k3f9`, 23
/// characters of letters, digits and `_`), which is within GatePay's `batch_id` rule.
pub fn new_batch_id() -> String {
    super::payouts::new_payout_cl_id()
}

const FILE_COLUMNS: &[(&str, &[&str])] = &[
    (
        "merchant_withdraw_id",
        &[
            "merchant_withdraw_id",
            "merchant withdraw id",
            "id",
            "商户提现单号",
        ],
    ),
    ("currency", &["currency", "币种"]),
    ("amount", &["amount", "金额", "数量"]),
    ("chain", &["chain", "network", "链"]),
    ("address", &["address", "地址"]),
    ("memo", &["memo", "tag", "备注"]),
    ("fee_type", &["fee_type", "fee type"]),
];

/// The file column a header names, if any.
fn column_of(header: &str) -> Option<&'static str> {
    let h = header.trim().trim_start_matches('\u{feff}').to_lowercase();
    FILE_COLUMNS
        .iter()
        .find(|(_, names)| names.contains(&h.as_str()))
        .map(|(n, _)| *n)
}

/// Each file column's position; a column named twice (or by two of its names) is refused.
fn column_index(
    row: usize,
    header: &[Cell],
    errors: &mut Vec<RowError>,
) -> BTreeMap<&'static str, usize> {
    let mut index: BTreeMap<&'static str, usize> = BTreeMap::new();
    let mut texts: Vec<String> = Vec::with_capacity(header.len());
    for (i, cell) in header.iter().enumerate() {
        let text = sheet::text_value(cell).unwrap_or_default();
        if let Some(col) = column_of(&text) {
            if let Some(&j) = index.get(col) {
                errors.push(RowError {
                    row,
                    column: col.into(),
                    message: format!(
                        "“{}” (column {}) is the same column as “{}” (column {}): keep one of them",
                        text.trim(),
                        column_letters(i as u32),
                        texts[j],
                        column_letters(j as u32)
                    ),
                });
            } else {
                index.insert(col, i);
            }
        }
        texts.push(text.trim().to_owned());
    }
    index
}

/// Reads a batch from a CSV or XLSX file (header row: `merchant_withdraw_id`, `currency`,
/// `amount`, `chain`, `address`, `memo`, `fee_type`); every row is checked, and every problem is
/// reported by row and column before anything is sent. Amounts are text or exact numbers (at
/// most six decimals, never an exponent); addresses must be text cells. The batch's identity
/// is `batch_id` and each sub-order's `merchant_withdraw_id`, both from the operator, never
/// the file's bytes.
pub fn plan_batch_file(
    name: &str,
    bytes: &[u8],
    batch_id: &str,
) -> Result<BatchRequest, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut index: Option<BTreeMap<&'static str, usize>> = None;
    let mut items = Vec::new();
    let mut rows = Vec::new();
    let mut header_bad = false;
    let mut width = 0usize;
    let read = sheet::read_rows(name, bytes, &Limits::configured(), |row, cells| {
        if index.is_none() {
            width = cells.len();
            let found = column_index(row, cells, &mut errors);
            for (col, _) in FILE_COLUMNS {
                if !found.contains_key(col) && !matches!(*col, "memo" | "fee_type") {
                    errors.push(RowError {
                        row,
                        column: (*col).into(),
                        message: "this column is missing from the header".into(),
                    });
                }
            }
            index = Some(found);
            header_bad = !errors.is_empty();
            return;
        }
        let Some(index) = index.as_ref() else {
            return;
        };
        if header_bad {
            // A header that cannot be used: the rows would only repeat it.
            return;
        }
        if cells.iter().all(Cell::is_blank) {
            return;
        }
        let mut failed: Vec<&'static str> = Vec::new();
        if let Some((i, message)) = sheet::beyond_header(cells, width) {
            errors.push(RowError {
                row,
                column: format!("column {}", column_letters(i as u32)),
                message,
            });
            failed.push("row");
        }
        let mut get = |col: &'static str| -> String {
            let cell = index
                .get(col)
                .and_then(|p| cells.get(*p))
                .unwrap_or(&Cell::Empty);
            let value = match col {
                "amount" => sheet::crypto_value(cell),
                "address" => sheet::account_value(cell),
                _ => sheet::text_value(cell),
            };
            value.unwrap_or_else(|message| {
                errors.push(RowError {
                    row,
                    column: col.into(),
                    message,
                });
                failed.push(col);
                String::new()
            })
        };
        let amount_text = get("amount");
        let fee_text = get("fee_type");
        let item = WithdrawItem {
            merchant_withdraw_id: get("merchant_withdraw_id"),
            currency: get("currency").to_uppercase(),
            amount: CryptoAmount::ZERO,
            chain: get("chain").to_uppercase(),
            address: get("address"),
            memo: get("memo"),
            fee_type: 0,
        };
        let amount = if failed.contains(&"amount") {
            CryptoAmount::ZERO
        } else {
            CryptoAmount::parse_payout(&amount_text).unwrap_or_else(|e| {
                errors.push(RowError {
                    row,
                    column: "amount".into(),
                    message: e.to_string(),
                });
                failed.push("amount");
                CryptoAmount::ZERO
            })
        };
        let fee_type = match fee_text.as_str() {
            "" | "0" => 0,
            "1" => 1,
            _ if failed.contains(&"fee_type") => 0,
            other => {
                errors.push(RowError {
                    row,
                    column: "fee_type".into(),
                    message: format!(
                        "'{other}' is not 0 (fee inside the amount) or 1 (fee from the balance)"
                    ),
                });
                failed.push("fee_type");
                0
            }
        };
        items.push(WithdrawItem {
            amount,
            fee_type,
            ..item
        });
        rows.push((row, failed));
    });
    if let Err(e) = read {
        errors.push(RowError {
            row: e.row,
            column: e.column.map_or_else(
                || "file".to_owned(),
                |c| format!("column {}", column_letters(c)),
            ),
            message: e.message,
        });
        return Err(errors);
    }
    if index.is_none() {
        errors.push(RowError {
            row: 0,
            column: "file".into(),
            message: "the file is empty".into(),
        });
    }
    if header_bad || !errors.is_empty() && items.is_empty() {
        return Err(errors);
    }
    let request = BatchRequest {
        batch_id: batch_id.trim().to_owned(),
        withdraw_list: items,
        channel_id: None,
    };
    for e in request.validate() {
        let (row, failed) = if e.row == 0 {
            (0, &[][..])
        } else {
            let (r, f) = &rows[e.row - 1];
            (*r, &f[..])
        };
        // A cell already refused is not news again (its placeholder is empty or zero).
        if !failed.contains(&e.field) {
            errors.push(RowError {
                row,
                column: e.field.into(),
                message: e.reason,
            });
        }
    }
    if errors.is_empty() {
        Ok(request)
    } else {
        errors.sort_by_key(|e| e.row);
        Err(errors)
    }
}

/// One batch in the journal.
#[derive(Clone, Debug, Serialize)]
pub struct BatchEntry {
    pub merchant: String,
    pub batch_id: String,
    pub body_sha256: String,
    pub sub_orders: i64,
    /// Totals per currency, as shown at confirmation.
    pub totals: String,
    pub state: State,
    /// GatePay's batch status (INIT, PROCESSING, SUCCESS, PARTIAL, FAIL) once known.
    pub batch_status: Option<String>,
    pub reject_code: Option<String>,
    pub reject_meaning: Option<String>,
    pub reject_message: Option<String>,
    pub unknown_why: Option<String>,
    pub is_final: bool,
    pub attempts: i64,
    pub checks: i64,
    pub next_check_at: Option<i64>,
    pub last_sent_at: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    #[serde(skip)]
    pub body: String,
}

impl BatchEntry {
    /// One line for an operator.
    pub fn describe(&self) -> String {
        let mut s = format!(
            "batch {} ({} sub-orders: {}): {}",
            self.batch_id,
            self.sub_orders,
            self.totals,
            self.state.describe()
        );
        if let Some(st) = &self.batch_status {
            let _ = write!(s, "; GatePay status {st}");
        }
        if let (Some(code), Some(meaning)) = (&self.reject_code, &self.reject_meaning) {
            let _ = write!(s, "; {code} {meaning}");
            if let Some(m) = self.reject_message.as_deref().filter(|m| !m.is_empty()) {
                let _ = write!(s, " ({m})");
            }
        }
        if let Some(why) = &self.unknown_why
            && self.state == State::Unknown
        {
            let _ = write!(s, "; {why}");
        }
        s
    }
}

const BATCH_COLUMNS: &str = "merchant, batch_id, body_sha256, sub_orders, totals, state, batch_status, \
    reject_code, reject_meaning, reject_message, unknown_why, is_final, attempts, checks, next_check_at, \
    last_sent_at, created_at, updated_at, body";

fn batch_entry(row: &Row<'_>) -> rusqlite::Result<BatchEntry> {
    let state: String = row.get(5)?;
    Ok(BatchEntry {
        merchant: row.get(0)?,
        batch_id: row.get(1)?,
        body_sha256: row.get(2)?,
        sub_orders: row.get(3)?,
        totals: row.get(4)?,
        state: State::parse(&state).ok_or_else(|| {
            rusqlite::Error::FromSqlConversionFailure(
                5,
                rusqlite::types::Type::Text,
                format!("unknown state {state}").into(),
            )
        })?,
        batch_status: row.get(6)?,
        reject_code: row.get(7)?,
        reject_meaning: row.get(8)?,
        reject_message: row.get(9)?,
        unknown_why: row.get(10)?,
        is_final: row.get::<_, i64>(11)? != 0,
        attempts: row.get(12)?,
        checks: row.get(13)?,
        next_check_at: row.get(14)?,
        last_sent_at: row.get(15)?,
        created_at: row.get(16)?,
        updated_at: row.get(17)?,
        body: row.get(18)?,
    })
}

impl Journal {
    /// Records a batch's intent (its exact body) before it is sent; refuses a batch ID
    /// already in the journal.
    pub fn record_batch_intent(
        &mut self,
        merchant: &str,
        batch_id: &str,
        body: &str,
        sub_orders: usize,
        totals: &str,
        now: i64,
    ) -> Result<(), JournalError> {
        let inserted = self.conn().execute(
            "INSERT INTO gatepay_batches (merchant, batch_id, body, body_sha256, sub_orders, totals, state,
                created_at, updated_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'queued', ?7, ?7)
             ON CONFLICT (merchant, batch_id) DO NOTHING",
            params![
                merchant,
                batch_id,
                body,
                sha256_hex(body.as_bytes()),
                sub_orders as i64,
                totals,
                now
            ],
        )?;
        if inserted == 0 {
            return Err(JournalError::DuplicateId(batch_id.to_owned()));
        }
        Ok(())
    }

    pub fn get_batch(
        &mut self,
        merchant: &str,
        batch_id: &str,
    ) -> Result<Option<BatchEntry>, JournalError> {
        Ok(self
            .conn()
            .query_row(
                &format!(
                    "SELECT {BATCH_COLUMNS} FROM gatepay_batches WHERE merchant = ?1 AND batch_id = ?2"
                ),
                params![merchant, batch_id],
                batch_entry,
            )
            .optional()?)
    }

    /// The batches of a merchant, newest first.
    pub fn list_batches(
        &mut self,
        merchant: &str,
        limit: usize,
    ) -> Result<Vec<BatchEntry>, JournalError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(&format!(
            "SELECT {BATCH_COLUMNS} FROM gatepay_batches WHERE merchant = ?1 ORDER BY created_at DESC, id DESC LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![merchant, limit as i64], batch_entry)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Claims a batch for sending (see [`Journal::claim_payout`]): its recorded body must be
    /// the body about to be sent, and it moves to `sending` only from one of `from`.
    pub fn claim_batch(
        &mut self,
        merchant: &str,
        batch_id: &str,
        body: &str,
        from: &[State],
        now: i64,
    ) -> Result<Claim<BatchEntry>, JournalError> {
        self.ensure_trusted()?;
        let tx = self
            .conn()
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let row = tx
            .query_row(
                &format!(
                    "SELECT {BATCH_COLUMNS}, claimed_by, claimed_at FROM gatepay_batches WHERE merchant = ?1 AND batch_id = ?2"
                ),
                params![merchant, batch_id],
                |r| {
                    Ok((
                        batch_entry(r),
                        r.get::<_, Option<String>>(19)?,
                        r.get::<_, Option<i64>>(20)?,
                    ))
                },
            )
            .optional();
        let (read, claimed_by, claimed_at) = match row {
            Ok(Some(row)) => row,
            Ok(None) => return Err(JournalError::NotFound(batch_id.to_owned())),
            Err(e) => {
                drop(tx);
                return Err(self.mark_damaged(format!("batch {batch_id} does not read: {e}")));
            }
        };
        let mut e = match read {
            Ok(e) if e.body == body && e.body_sha256 == sha256_hex(body.as_bytes()) => e,
            Ok(_) => {
                return Err(JournalError::Mismatch {
                    cl_id: format!("batch {batch_id}"),
                    what: "its recorded body differs".to_owned(),
                });
            }
            Err(err) => {
                drop(tx);
                return Err(self.mark_damaged(format!("batch {batch_id} does not read: {err}")));
            }
        };
        if from.contains(&e.state) {
            tx.execute(
                "UPDATE gatepay_batches SET state = 'sending', attempts = attempts + 1, last_sent_at = ?3,
                    claimed_by = ?4, claimed_at = ?3, updated_at = ?3 WHERE merchant = ?1 AND batch_id = ?2",
                params![merchant, batch_id, now, claimer_id()],
            )?;
            tx.commit()?;
            e.state = State::Sending;
            e.attempts += 1;
            e.last_sent_at = Some(now);
            return Ok(Claim::Claimed(e));
        }
        if e.state != State::Sending {
            return Ok(Claim::NotSendable(e));
        }
        let claimer = claimed_by.clone().unwrap_or_default();
        if super::journal::claim_is_live(claimed_by.as_deref(), claimed_at, now) {
            return Ok(Claim::Busy { entry: e, claimer });
        }
        let why = super::journal::stopped_why(&claimer);
        tx.execute(
            "UPDATE gatepay_batches SET state = 'unknown', unknown_why = ?3, next_check_at = ?4, updated_at = ?4
                WHERE merchant = ?1 AND batch_id = ?2",
            params![merchant, batch_id, why, now],
        )?;
        tx.commit()?;
        e.state = State::Unknown;
        e.unknown_why = Some(why);
        Ok(Claim::Stale { entry: e, claimer })
    }

    fn update_batch(
        &mut self,
        merchant: &str,
        batch_id: &str,
        set: &str,
        values: &[&dyn rusqlite::ToSql],
        now: i64,
    ) -> Result<(), JournalError> {
        let mut all: Vec<&dyn rusqlite::ToSql> = values.to_vec();
        all.push(&now);
        all.push(&merchant);
        all.push(&batch_id);
        let n = values.len();
        let sql = format!(
            "UPDATE gatepay_batches SET {set}, updated_at = ?{} WHERE merchant = ?{} AND batch_id = ?{}",
            n + 1,
            n + 2,
            n + 3
        );
        let changed = self.conn().execute(&sql, all.as_slice())?;
        if changed == 0 {
            return Err(JournalError::NotFound(batch_id.to_owned()));
        }
        Ok(())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Gateway(#[from] GatePayClientError),
    #[error("{0}")]
    NotAllowed(String),
}

/// Why a batch whose ID GatePay holds for other sub-orders is refused.
pub const TAKEN_BATCH_MEANING: &str = "this batch ID belongs to another batch at GatePay \
     (other sub-orders): nothing was created for this one; send it under a new batch ID";

/// Whether GatePay's batch under this ID contradicts the body this journal sent: a
/// sub-order this body does not have, or one of its sub-orders with another amount, address
/// or currency. Only a contradiction counts: a detail that lists fewer sub-orders (not yet
/// all shown) proves nothing.
fn another_batch(
    body: &str,
    detail: &crate::gateway::gatepay::wire::BatchDetail,
) -> Option<String> {
    let sent: serde_json::Value = serde_json::from_str(body).ok()?;
    let items = sent.get("withdraw_list")?.as_array()?;
    let text = |v: &serde_json::Value, k: &str| match v.get(k) {
        Some(serde_json::Value::String(s)) => s.trim().to_owned(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let same_amount =
        |ours: &str, theirs: Option<CryptoAmount>| match (CryptoAmount::parse_wire(ours), theirs) {
            (Ok(a), Some(b)) => a.decimal().normalize() == b.decimal().normalize(),
            // What cannot be compared is no contradiction.
            _ => true,
        };
    for sub in &detail.withdraw_list {
        let Some(ours) = items
            .iter()
            .find(|i| text(i, "merchant_withdraw_id") == sub.merchant_withdraw_id)
        else {
            return Some(format!(
                "GatePay's batch has sub-order {}, which this batch does not",
                sub.merchant_withdraw_id
            ));
        };
        let amount = text(ours, "amount");
        let differs = !same_amount(&amount, sub.amount)
            || text(ours, "address") != sub.address.trim()
            || !text(ours, "currency").eq_ignore_ascii_case(sub.currency.trim());
        if differs {
            return Some(format!(
                "GatePay's sub-order {} is {} {} to {}, this batch's is {amount} {} to {}",
                sub.merchant_withdraw_id,
                sub.amount.map(|a| a.to_string()).unwrap_or_default(),
                sub.currency,
                sub.address,
                text(ours, "currency"),
                text(ours, "address"),
            ));
        }
    }
    None
}

/// GatePay's codes that say an order with these IDs exists: `550245` (this batch ID) and
/// `400201` (duplicate order). Either may mean an earlier attempt created the batch, so it
/// is looked up, never called refused.
pub const CODES_EXISTS: [&str; 2] = ["550245", "400201"];

/// The outcome of a batch create read the one way the desk trusts: a code that says the
/// order exists means "look it up", never "refused, nothing created".
pub fn trusted_batch_outcome(batch_id: &str, outcome: CreateBatchOutcome) -> CreateBatchOutcome {
    match outcome {
        CreateBatchOutcome::Rejected { code, .. } if CODES_EXISTS.contains(&code.as_str()) => {
            CreateBatchOutcome::Exists {
                batch_id: batch_id.to_owned(),
            }
        }
        other => other,
    }
}

/// A batch after a send or a resume: where it stands, and what could not be done after it
/// may have left (the outcome stands regardless).
#[derive(Clone, Debug)]
pub struct SentBatch {
    pub entry: BatchEntry,
    /// A journal or audit write that failed after the request may have left.
    pub bookkeeping_error: Option<String>,
    /// A lookup of an unknown outcome that failed: the batch stays unknown, checked later.
    pub lookup_error: Option<String>,
}

impl std::ops::Deref for SentBatch {
    type Target = BatchEntry;
    fn deref(&self) -> &BatchEntry {
        &self.entry
    }
}

/// What one pass of batch reconciliation did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchReconcileReport {
    pub checked: usize,
    pub found: usize,
    pub not_created: usize,
    pub status_updates: usize,
    pub still_unknown: usize,
    pub errors: Vec<String>,
}

/// The merchant a batch belongs to: `client_id@host:port`.
pub fn gatepay_merchant_key(client: &GatePayClient) -> String {
    let c = client.config();
    let host = c.base_url.host_str().unwrap_or("");
    match c.base_url.port() {
        Some(p) => format!("{}@{host}:{p}", c.client_id),
        None => format!("{}@{host}", c.client_id),
    }
}

/// A journal and a GatePay client for one institution client.
#[derive(Clone)]
pub struct BatchDesk {
    pub journal: Arc<Mutex<Journal>>,
    pub client: GatePayClient,
    pub merchant: String,
    pub clock: Arc<dyn Clock>,
    pub not_found_grace_secs: i64,
    /// Who the audit log names for what this desk sends.
    pub actor: Actor,
}

enum Checked {
    /// The batch ID is another batch's at GatePay: refused, nothing created for this one.
    Taken,
    Found,
    NotCreated,
    StatusChanged,
    Unchanged,
    StillUnknown,
}

impl BatchDesk {
    pub fn new(
        journal: Arc<Mutex<Journal>>,
        client: GatePayClient,
        clock: Arc<dyn Clock>,
    ) -> BatchDesk {
        BatchDesk {
            merchant: gatepay_merchant_key(&client),
            journal,
            client,
            clock,
            not_found_grace_secs: NOT_FOUND_GRACE_SECS,
            actor: Actor::current(),
        }
    }

    fn audit(&self, action: &str, detail: &str) -> Result<(), JournalError> {
        lock(&self.journal).audit(self.actor.as_str(), action, detail, self.now())
    }

    /// Writes the audit record of a send; a failure joins the bookkeeping errors.
    fn audited(&self, mut sent: SentBatch, action: &str) -> SentBatch {
        let detail = format!("batch {} ({})", sent.batch_id, sent.state.as_str());
        if let Err(err) = self.audit(action, &detail) {
            let text = format!("the audit log could not record it: {err}");
            sent.bookkeeping_error = Some(match sent.bookkeeping_error.take() {
                Some(earlier) => format!("{earlier}; {text}"),
                None => text,
            });
        }
        sent
    }

    fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    pub fn get(&self, batch_id: &str) -> Result<Option<BatchEntry>, BatchError> {
        Ok(lock(&self.journal).get_batch(&self.merchant, batch_id)?)
    }

    pub fn list(&self, limit: usize) -> Result<Vec<BatchEntry>, BatchError> {
        Ok(lock(&self.journal).list_batches(&self.merchant, limit)?)
    }

    fn entry(&self, batch_id: &str) -> Result<BatchEntry, BatchError> {
        self.get(batch_id)?
            .ok_or_else(|| JournalError::NotFound(batch_id.to_owned()).into())
    }

    /// Validates a batch, records its exact body and the operator's confirmation (a failure
    /// of either: nothing sent), then sends it. A batch ID already in the journal is refused:
    /// look it up, or retry it if it was never created.
    pub async fn submit(&self, request: &BatchRequest) -> Result<SentBatch, BatchError> {
        let (batch_id, body) = self.record_batch(request)?;
        self.send_recorded(&batch_id, body).await
    }

    /// Records a batch's intent and the operator's confirmation (nothing is sent); returns
    /// its ID and the exact body to send.
    pub(crate) fn record_batch(
        &self,
        request: &BatchRequest,
    ) -> Result<(String, String), BatchError> {
        let prepared = self.client.prepare_batch(request)?;
        let body = String::from_utf8(prepared.body.clone())
            .map_err(|e| BatchError::NotAllowed(e.to_string()))?;
        let totals = describe_totals(&currency_totals(&request.withdraw_list));
        lock(&self.journal).record_batch_intent(
            &self.merchant,
            &prepared.batch_id,
            &body,
            request.withdraw_list.len(),
            &totals,
            self.now(),
        )?;
        self.audit(
            "gatepay batch confirmed",
            &format!(
                "batch {}: {} sub-orders, {totals}",
                prepared.batch_id,
                request.withdraw_list.len()
            ),
        )?;
        Ok((prepared.batch_id, body))
    }

    /// Sends a batch [`Self::record_batch`] recorded.
    pub(crate) async fn send_recorded(
        &self,
        batch_id: &str,
        body: String,
    ) -> Result<SentBatch, BatchError> {
        let sent = self.send(batch_id, body).await?;
        Ok(self.audited(sent, "gatepay batch submitted"))
    }

    /// Sends a batch again under its own ID: only one GatePay never created (or one whose
    /// outcome is unknown, which is looked up first).
    /// A lookup that fails leaves the batch unknown (`lookup_error`), never an error: it may
    /// have been created.
    pub async fn retry(&self, batch_id: &str) -> Result<SentBatch, BatchError> {
        let entry = self.entry(batch_id)?;
        match entry.state {
            State::NotCreated | State::Queued => {
                let sent = self.send(batch_id, entry.body).await?;
                Ok(self.audited(sent, "gatepay batch retried"))
            }
            State::Sending
                if lock(&self.journal)
                    .live_claims("gatepay_batches", &self.merchant, self.now())?
                    .contains(batch_id) =>
            {
                Err(BatchError::NotAllowed(format!(
                    "batch {batch_id} is being sent right now by another Paydesk; it is not sent twice"
                )))
            }
            State::Unknown | State::Sending => {
                if let Err(e) = self.check(&entry).await {
                    return Ok(SentBatch {
                        entry: self.entry(batch_id).unwrap_or(entry),
                        bookkeeping_error: None,
                        lookup_error: Some(e.to_string()),
                    });
                }
                let entry = self.entry(batch_id)?;
                if entry.state == State::NotCreated {
                    let sent = self.send(batch_id, entry.body).await?;
                    Ok(self.audited(sent, "gatepay batch retried"))
                } else {
                    Ok(SentBatch {
                        entry,
                        bookkeeping_error: None,
                        lookup_error: None,
                    })
                }
            }
            State::Accepted | State::Rejected => Err(BatchError::NotAllowed(format!(
                "batch {batch_id} is {}; it is not sent again",
                entry.state.describe()
            ))),
        }
    }

    /// Sends a batch once this sender holds its claim (from queued or never created).
    /// Errors only before the request leaves; after that, failures ride beside the outcome.
    async fn send(&self, batch_id: &str, body: String) -> Result<SentBatch, BatchError> {
        let claim = lock(&self.journal).claim_batch(
            &self.merchant,
            batch_id,
            &body,
            &[State::Queued, State::NotCreated],
            self.now(),
        )?;
        let before = match claim {
            Claim::Claimed(entry) => entry,
            Claim::Busy { claimer, .. } => {
                return Err(BatchError::NotAllowed(format!(
                    "batch {batch_id} is being sent right now by another Paydesk ({claimer}); it is not sent twice"
                )));
            }
            Claim::NotSendable(entry) => {
                return Ok(SentBatch {
                    entry,
                    bookkeeping_error: None,
                    lookup_error: None,
                });
            }
            Claim::Stale { entry, .. } => {
                // Its sender died mid-send: looked up, never re-sent blind.
                let lookup_error = self.check(&entry).await.err().map(|e| e.to_string());
                return Ok(SentBatch {
                    entry: self.entry(batch_id).unwrap_or(entry),
                    bookkeeping_error: None,
                    lookup_error,
                });
            }
        };
        let prepared = crate::gateway::gatepay::client::PreparedBatch {
            batch_id: batch_id.to_owned(),
            body: body.into_bytes(),
        };
        let outcome = trusted_batch_outcome(batch_id, self.client.send_batch(&prepared).await);
        let now = self.now();
        let mut lookup_error = None;
        let recorded: Result<(), BatchError> = match &outcome {
            CreateBatchOutcome::Accepted { .. } => lock(&self.journal)
                .update_batch(
                    &self.merchant,
                    batch_id,
                    "state = 'accepted', unknown_why = NULL, reject_code = NULL, reject_meaning = NULL, \
                     reject_message = NULL, next_check_at = ?1",
                    &[&now],
                    now,
                )
                .map_err(BatchError::from),
            CreateBatchOutcome::Rejected {
                code,
                meaning,
                message,
            } => lock(&self.journal)
                .update_batch(
                    &self.merchant,
                    batch_id,
                    "state = 'rejected', reject_code = ?1, reject_meaning = ?2, reject_message = ?3, is_final = 1",
                    &[code, meaning, message],
                    now,
                )
                .map_err(BatchError::from),
            CreateBatchOutcome::Exists { .. } | CreateBatchOutcome::Unknown { .. } => {
                let why = match &outcome {
                    CreateBatchOutcome::Unknown { why } => why.as_str(),
                    _ => "GatePay says this batch exists already",
                };
                match self.mark_unknown(batch_id, why, 0) {
                    Ok(()) => {
                        // Settled at once when GatePay can already answer; otherwise later.
                        match self.entry(batch_id) {
                            Ok(entry) => {
                                if let Err(e) = self.check(&entry).await {
                                    lookup_error = Some(e.to_string());
                                }
                                Ok(())
                            }
                            Err(e) => Err(e),
                        }
                    }
                    Err(e) => Err(e),
                }
            }
        };
        let fallback = |mut entry: BatchEntry| {
            entry.updated_at = now;
            match &outcome {
                CreateBatchOutcome::Accepted { .. } => {
                    entry.state = State::Accepted;
                    entry.unknown_why = None;
                }
                CreateBatchOutcome::Rejected {
                    code,
                    meaning,
                    message,
                } => {
                    entry.state = State::Rejected;
                    entry.reject_code = Some(code.clone());
                    entry.reject_meaning = Some(meaning.clone());
                    entry.reject_message = Some(message.clone());
                }
                CreateBatchOutcome::Exists { .. } | CreateBatchOutcome::Unknown { .. } => {
                    entry.state = State::Unknown;
                }
            }
            entry
        };
        if let Err(e) = recorded {
            return Ok(SentBatch {
                entry: fallback(before),
                bookkeeping_error: Some(format!("the journal could not record the outcome: {e}")),
                lookup_error,
            });
        }
        Ok(match self.entry(batch_id) {
            Ok(entry) => SentBatch {
                entry,
                bookkeeping_error: None,
                lookup_error,
            },
            Err(e) => SentBatch {
                entry: fallback(before),
                bookkeeping_error: Some(format!("the journal could not be read back: {e}")),
                lookup_error,
            },
        })
    }

    fn mark_unknown(&self, batch_id: &str, why: &str, checks: i64) -> Result<(), BatchError> {
        let now = self.now();
        let next = now + backoff_secs(checks);
        lock(&self.journal).update_batch(
            &self.merchant,
            batch_id,
            "state = 'unknown', unknown_why = ?1, next_check_at = ?2",
            &[&why, &next],
            now,
        )?;
        Ok(())
    }

    /// Asks GatePay for a batch's detail and records what it says.
    async fn check(&self, entry: &BatchEntry) -> Result<Checked, BatchError> {
        let now = self.now();
        let checks = entry.checks + 1;
        let next = now + backoff_secs(checks);
        match self
            .client
            .batch_detail(&entry.batch_id, DetailStatus::All)
            .await
        {
            Ok(detail)
                if entry.state != State::Accepted
                    && let Some(why) = another_batch(&entry.body, &detail) =>
            {
                lock(&self.journal).update_batch(
                    &self.merchant,
                    &entry.batch_id,
                    "state = 'rejected', reject_code = '550245', reject_meaning = ?1, \
                     reject_message = ?2, unknown_why = NULL, checks = ?3, next_check_at = NULL",
                    &[&TAKEN_BATCH_MEANING, &why, &checks],
                    now,
                )?;
                Ok(Checked::Taken)
            }
            Ok(detail) => {
                let is_final = is_final_batch_status(&detail.status);
                let was_unknown = entry.state != State::Accepted;
                let changed = entry.batch_status.as_deref() != Some(detail.status.as_str());
                let next_check: Option<i64> = (!is_final).then_some(next);
                lock(&self.journal).update_batch(
                    &self.merchant,
                    &entry.batch_id,
                    "state = 'accepted', batch_status = ?1, is_final = ?2, checks = ?3, next_check_at = ?4, \
                     unknown_why = NULL, reject_code = NULL, reject_meaning = NULL, reject_message = NULL",
                    &[&detail.status, &i64::from(is_final), &checks, &next_check],
                    now,
                )?;
                Ok(if was_unknown {
                    Checked::Found
                } else if changed {
                    Checked::StatusChanged
                } else {
                    Checked::Unchanged
                })
            }
            Err(GatePayClientError::Reply(GpReplyError::Gateway(e))) if e.code == "400202" => {
                let since_sent = now - entry.last_sent_at.unwrap_or(entry.created_at);
                if since_sent >= self.not_found_grace_secs {
                    lock(&self.journal).update_batch(
                        &self.merchant,
                        &entry.batch_id,
                        "state = 'not-created', checks = ?1, next_check_at = NULL, \
                         unknown_why = 'GatePay has no batch with this ID'",
                        &[&checks],
                        now,
                    )?;
                    Ok(Checked::NotCreated)
                } else {
                    lock(&self.journal).update_batch(
                        &self.merchant,
                        &entry.batch_id,
                        "checks = ?1, next_check_at = ?2",
                        &[&checks, &(now + backoff_secs(0))],
                        now,
                    )?;
                    Ok(Checked::StillUnknown)
                }
            }
            Err(e) => {
                lock(&self.journal).update_batch(
                    &self.merchant,
                    &entry.batch_id,
                    "checks = ?1, next_check_at = ?2",
                    &[&checks, &next],
                    now,
                )?;
                Err(e.into())
            }
        }
    }

    /// The background pass over every batch whose outcome or final status is *due* to be
    /// learned (the backoff decides). `after_crash` first turns batches caught mid-send into
    /// unknown outcomes.
    pub async fn reconcile(&self, after_crash: bool) -> Result<BatchReconcileReport, BatchError> {
        self.reconcile_pass(after_crash, false).await
    }

    /// What an operator asks for now: every unknown and unfinished batch at once, whatever
    /// the backoff says.
    pub async fn reconcile_now(
        &self,
        after_crash: bool,
    ) -> Result<BatchReconcileReport, BatchError> {
        self.reconcile_pass(after_crash, true).await
    }

    async fn reconcile_pass(
        &self,
        after_crash: bool,
        all: bool,
    ) -> Result<BatchReconcileReport, BatchError> {
        let now = self.now();
        let due: Vec<BatchEntry> = {
            let mut j = lock(&self.journal);
            if after_crash {
                // Only batches whose sender died: a live one is its sender's to settle.
                j.settle_dead_claims("gatepay_batches", &self.merchant, now)?;
            }
            j.list_batches(&self.merchant, usize::MAX >> 1)?
                .into_iter()
                .filter(|e| {
                    matches!(e.state, State::Unknown | State::Accepted)
                        && !e.is_final
                        && (all || e.next_check_at.is_none_or(|t| t <= now))
                })
                .collect()
        };
        let mut report = BatchReconcileReport::default();
        for entry in due {
            report.checked += 1;
            match self.check(&entry).await {
                Ok(Checked::Found) => report.found += 1,
                Ok(Checked::NotCreated) => report.not_created += 1,
                Ok(Checked::StatusChanged) => report.status_updates += 1,
                Ok(Checked::Unchanged) => {}
                Ok(Checked::Taken) => report
                    .errors
                    .push(format!("{}: {TAKEN_BATCH_MEANING}", entry.batch_id)),
                Ok(Checked::StillUnknown) => report.still_unknown += 1,
                Err(e) => {
                    if matches!(entry.state, State::Unknown | State::Sending) {
                        report.still_unknown += 1;
                    }
                    report.errors.push(format!("{}: {e}", entry.batch_id));
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(status: &str, currency: &str, amount: &str, updated: i64) -> SubOrder {
        let mut raw = serde_json::Map::new();
        raw.insert("status".into(), status.into());
        raw.insert("currency".into(), currency.into());
        raw.insert("amount".into(), amount.into());
        raw.insert("fee".into(), "0".into());
        raw.insert("done_amount".into(), "0".into());
        raw.insert("update_time".into(), updated.into());
        SubOrder::from_raw(raw)
    }

    #[test]
    fn a_duplicate_order_code_is_looked_up_never_a_refusal() {
        let refused = |code: &str| CreateBatchOutcome::Rejected {
            code: code.into(),
            meaning: "m".into(),
            message: String::new(),
        };
        for code in CODES_EXISTS {
            assert_eq!(
                trusted_batch_outcome("B1", refused(code)),
                CreateBatchOutcome::Exists {
                    batch_id: "B1".into()
                },
                "{code}"
            );
        }
        assert_eq!(
            trusted_batch_outcome("B1", refused("550233")),
            refused("550233")
        );
    }

    #[test]
    fn stuck_means_check_or_processing_past_the_threshold() {
        let now = 10_000_000;
        let limit = DEFAULT_STUCK_MINUTES * 60_000;
        assert!(is_stuck(
            &sub("CHECK", "USDT", "1", now - limit - 1),
            now,
            limit
        ));
        assert!(is_stuck(&sub("PROCESSING", "USDT", "1", 0), now, limit));
        assert!(!is_stuck(
            &sub("CHECK", "USDT", "1", now - limit),
            now,
            limit
        ));
        assert!(!is_stuck(&sub("PENDING", "USDT", "1", 0), now, limit));
        assert!(!is_stuck(&sub("DONE", "USDT", "1", 0), now, limit));
        assert_eq!(
            stuck_for(&sub("CHECK", "USDT", "1", 0), 3 * 3_600_000 + 720_000),
            "3 h 12 min"
        );
    }

    #[test]
    fn totals_are_exact_per_status_and_currency() {
        let list = [
            sub("DONE", "USDT", "0.1", 0),
            sub("DONE", "USDT", "0.2", 0),
            sub("FAIL", "BTC", "0.00000001", 0),
            sub("INIT", "USDT", "5", 0),
            sub("DONE", "BTC", "1.5", 0),
        ];
        let t = status_totals(&list);
        let view: Vec<(String, String, usize, String)> = t
            .iter()
            .map(|t| {
                (
                    t.status.clone(),
                    t.currency.clone(),
                    t.count,
                    t.amount.to_string(),
                )
            })
            .collect();
        assert_eq!(
            view,
            [
                ("INIT".into(), "USDT".into(), 1, "5".into()),
                ("FAIL".into(), "BTC".into(), 1, "0.00000001".into()),
                ("DONE".into(), "BTC".into(), 1, "1.5".into()),
                ("DONE".into(), "USDT".into(), 2, "0.3".into()),
            ]
        );
    }

    #[test]
    fn a_batch_file_is_checked_row_by_row() {
        let csv = "\u{feff}merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
                   w1,usdt,10.5,trx,TXyz1,,0\n\
                   w2,USDT,0.1234567,TRX,TXyz2,,0\n\
                   w1,BTC,abc,BTC,,,2\n\
                   ,,,,,,\n\
                   w4,BTC,0.001,BTC,bc1q,,1\n";
        let errs = plan_batch_file("b.csv", csv.as_bytes(), "B_1").unwrap_err();
        let text: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "row 3, amount: at most 6 decimal places are allowed (found 7)",
                "row 4, amount: unexpected character 'a'",
                "row 4, fee_type: '2' is not 0 (fee inside the amount) or 1 (fee from the balance)",
                "row 4, merchant_withdraw_id: appears more than once in this batch",
                "row 4, address: required",
            ]
        );
        let ok = "merchant_withdraw_id,currency,amount,chain,address\nw1,usdt,10.5,trx,TXyz1\nw2,BTC,0.001,BTC,bc1q\nw3,USDT,2,ETH,0xabc\n";
        let req = plan_batch_file("b.csv", ok.as_bytes(), "B_1").unwrap();
        assert_eq!(req.withdraw_list.len(), 3);
        assert_eq!(req.withdraw_list[0].currency, "USDT");
        assert_eq!(
            describe_totals(&currency_totals(&req.withdraw_list)),
            "0.001 BTC (1), 12.5 USDT (2)"
        );
        let bad_id = plan_batch_file("b.csv", ok.as_bytes(), "bad id!").unwrap_err();
        assert_eq!(
            bad_id[0].to_string(),
            "row 0, batch_id: 1 to 32 letters, digits or '_'"
        );
    }

    #[test]
    fn finding_2_and_10_batch_file_cells_and_headers() {
        let csv =
            "merchant_withdraw_id,currency,amount,chain,address,数量\nw1,USDT,1,TRX,TXyz1,2\n";
        let errs = plan_batch_file("b.csv", csv.as_bytes(), "B_1").unwrap_err();
        assert_eq!(
            errs[0].to_string(),
            "row 1, amount: “数量” (column F) is the same column as “amount” (column C): keep one of them"
        );
        let csv = "merchant_withdraw_id,currency,amount,chain,address\nw1,USDT,1,TRX,\"TXyz 1\"\n";
        let errs = plan_batch_file("b.csv", csv.as_bytes(), "B_1").unwrap_err();
        assert!(
            errs[0]
                .to_string()
                .starts_with("row 2, address: character 5 is U+0020 SPACE")
        );
        let head = |n: u32, t: &str| {
            format!(
                r#"<c r="{}1" t="inlineStr"><is><t>{t}</t></is></c>"#,
                column_letters(n)
            )
        };
        let mut sheet = String::from(r#"<sheetData><row r="1">"#);
        for (i, h) in [
            "merchant_withdraw_id",
            "currency",
            "amount",
            "chain",
            "address",
        ]
        .iter()
        .enumerate()
        {
            sheet.push_str(&head(i as u32, h));
        }
        sheet.push_str(
            r#"</row><row r="2"><c r="A2" t="inlineStr"><is><t>w1</t></is></c><c r="B2" t="inlineStr"><is><t>USDT</t></is></c><c r="C2" s="1"><v>46023</v></c><c r="D2" t="inlineStr"><is><t>ETH</t></is></c><c r="E2"><v>12345</v></c></row><row r="3"><c r="A3" t="inlineStr"><is><t>w2</t></is></c><c r="B3" t="inlineStr"><is><t>USDT</t></is></c><c r="C3"><v>1E-7</v></c><c r="D3" t="inlineStr"><is><t>ETH</t></is></c><c r="E3" t="inlineStr"><is><t>0xabc</t></is></c></row><row r="4"><c r="A4" t="inlineStr"><is><t>w3</t></is></c><c r="B4" t="inlineStr"><is><t>USDT</t></is></c><c r="C4"><v>0.125</v></c><c r="D4" t="inlineStr"><is><t>ETH</t></is></c><c r="E4" t="inlineStr"><is><t>0xabd</t></is></c></row></sheetData>"#,
        );
        let styles =
            r#"<styleSheet><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>"#;
        let book = crate::domain::sheet::tests::xlsx(&sheet, None, Some(styles));
        let errs: Vec<String> = plan_batch_file("b.xlsx", &book, "B_1")
            .unwrap_err()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert_eq!(
            errs[0],
            "row 2, amount: a date, 2026-01-01: format the column as number or text"
        );
        assert!(errs[1].starts_with("row 2, address: a number, 12345: Excel keeps only 15 digits"));
        assert!(errs[2].starts_with("row 3, amount: a number, 1E-7, which is not an exact amount"));
    }
}
