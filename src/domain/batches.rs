//! GatePay batch payouts: what an operator reads off a batch (totals per status and currency,
//! sub-orders stuck in CHECK or PROCESSING), batches planned from a CSV/XLSX file, and
//! sending them through the payout journal so that none is lost or doubled. The intent (the
//! exact body) is committed before it is sent; a timeout, a 5xx or an unreadable reply is an
//! *unknown* outcome settled by asking for the batch's detail; `550245` (the batch exists)
//! means look it up; a batch is only ever sent again under its own `batch_id`.

use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::bulk::{RowError, read_cells};
use super::journal::{Claim, Journal, JournalError, State, claimer_id, sha256_hex};
use super::payouts::{NOT_FOUND_GRACE_SECS, backoff_secs};
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

fn column_index(header: &[String], name: &str) -> Option<usize> {
    let names = FILE_COLUMNS
        .iter()
        .find(|(n, _)| *n == name)
        .map_or(&[][..], |(_, a)| *a);
    header.iter().position(|h| {
        let h = h.trim().trim_start_matches('\u{feff}').to_lowercase();
        names.contains(&h.as_str())
    })
}

/// Reads a batch from a CSV or XLSX file (header row: `merchant_withdraw_id`, `currency`,
/// `amount`, `chain`, `address`, `memo`, `fee_type`); every row is checked, and every problem is
/// reported by row and column before anything is sent.
pub fn plan_batch_file(
    name: &str,
    bytes: &[u8],
    batch_id: &str,
) -> Result<BatchRequest, Vec<RowError>> {
    let file_error = |message: String| {
        vec![RowError {
            row: 0,
            column: "file".into(),
            message,
        }]
    };
    let cells = read_cells(name, bytes).map_err(file_error)?;
    let Some((header, body)) = cells.split_first() else {
        return Err(file_error("the file is empty".into()));
    };
    let mut errors = Vec::new();
    let mut index = BTreeMap::new();
    for (col, _) in FILE_COLUMNS {
        match column_index(header, col) {
            Some(i) => {
                index.insert(*col, i);
            }
            None if matches!(*col, "memo" | "fee_type") => {}
            None => errors.push(RowError {
                row: 1,
                column: (*col).into(),
                message: "this column is missing from the header".into(),
            }),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let mut items = Vec::new();
    let mut rows = Vec::new();
    for (i, cells) in body.iter().enumerate() {
        let row = i + 2;
        if cells.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let get = |col: &str| -> String {
            index
                .get(col)
                .and_then(|p| cells.get(*p))
                .map(|s| s.trim().to_owned())
                .unwrap_or_default()
        };
        let amount = match CryptoAmount::parse_payout(&get("amount")) {
            Ok(a) => a,
            Err(e) => {
                errors.push(RowError {
                    row,
                    column: "amount".into(),
                    message: e.to_string(),
                });
                CryptoAmount::ZERO
            }
        };
        let fee_type = match get("fee_type").as_str() {
            "" | "0" => 0,
            "1" => 1,
            other => {
                errors.push(RowError {
                    row,
                    column: "fee_type".into(),
                    message: format!(
                        "'{other}' is not 0 (fee inside the amount) or 1 (fee from the balance)"
                    ),
                });
                0
            }
        };
        items.push(WithdrawItem {
            merchant_withdraw_id: get("merchant_withdraw_id"),
            currency: get("currency").to_uppercase(),
            amount,
            chain: get("chain").to_uppercase(),
            address: get("address"),
            memo: get("memo"),
            fee_type,
        });
        rows.push(row);
    }
    let request = BatchRequest {
        batch_id: batch_id.trim().to_owned(),
        withdraw_list: items,
        channel_id: None,
    };
    let parsed_bad: HashSet<(usize, String)> =
        errors.iter().map(|e| (e.row, e.column.clone())).collect();
    for e in request.validate() {
        let row = if e.row == 0 { 0 } else { rows[e.row - 1] };
        // An unreadable amount was already reported; its placeholder zero is not news.
        if !parsed_bad.contains(&(row, e.field.to_owned())) {
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
}

enum Checked {
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
        }
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

    /// Validates a batch, records its exact body, then sends it. A batch ID already in the
    /// journal is refused: look it up, or retry it if it was never created.
    pub async fn submit(&self, request: &BatchRequest) -> Result<BatchEntry, BatchError> {
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
        self.send(&prepared.batch_id, body).await
    }

    /// Sends a batch again under its own ID: only one GatePay never created (or one whose
    /// outcome is unknown, which is looked up first).
    pub async fn retry(&self, batch_id: &str) -> Result<BatchEntry, BatchError> {
        let entry = self.entry(batch_id)?;
        match entry.state {
            State::NotCreated | State::Queued => self.send(batch_id, entry.body).await,
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
                self.check(&entry).await?;
                let entry = self.entry(batch_id)?;
                if entry.state == State::NotCreated {
                    self.send(batch_id, entry.body).await
                } else {
                    Ok(entry)
                }
            }
            State::Accepted | State::Rejected => Err(BatchError::NotAllowed(format!(
                "batch {batch_id} is {}; it is not sent again",
                entry.state.describe()
            ))),
        }
    }

    /// Sends a batch once this sender holds its claim (from queued or never created).
    async fn send(&self, batch_id: &str, body: String) -> Result<BatchEntry, BatchError> {
        let claim = lock(&self.journal).claim_batch(
            &self.merchant,
            batch_id,
            &body,
            &[State::Queued, State::NotCreated],
            self.now(),
        )?;
        match claim {
            Claim::Claimed(_) => {}
            Claim::Busy { claimer, .. } => {
                return Err(BatchError::NotAllowed(format!(
                    "batch {batch_id} is being sent right now by another Paydesk ({claimer}); it is not sent twice"
                )));
            }
            Claim::NotSendable(entry) => return Ok(entry),
            Claim::Stale { entry, .. } => {
                // Its sender died mid-send: looked up, never re-sent blind.
                let _ = self.check(&entry).await;
                return self.entry(batch_id);
            }
        }
        let prepared = crate::gateway::gatepay::client::PreparedBatch {
            batch_id: batch_id.to_owned(),
            body: body.into_bytes(),
        };
        let outcome = self.client.send_batch(&prepared).await;
        let now = self.now();
        match outcome {
            CreateBatchOutcome::Accepted { .. } => {
                lock(&self.journal).update_batch(
                    &self.merchant,
                    batch_id,
                    "state = 'accepted', unknown_why = NULL, next_check_at = ?1",
                    &[&now],
                    now,
                )?;
            }
            CreateBatchOutcome::Rejected {
                code,
                meaning,
                message,
            } => {
                lock(&self.journal).update_batch(
                    &self.merchant,
                    batch_id,
                    "state = 'rejected', reject_code = ?1, reject_meaning = ?2, reject_message = ?3, is_final = 1",
                    &[&code, &meaning, &message],
                    now,
                )?;
            }
            CreateBatchOutcome::Exists { .. } => {
                // An earlier attempt got through: the detail says where it stands.
                self.mark_unknown(batch_id, "GatePay says this batch exists already", 0)?;
                let entry = self.entry(batch_id)?;
                self.check(&entry).await?;
            }
            CreateBatchOutcome::Unknown { why } => {
                self.mark_unknown(batch_id, &why, 0)?;
                let entry = self.entry(batch_id)?;
                // Settled at once when GatePay can already answer; otherwise later.
                let _ = self.check(&entry).await;
            }
        }
        self.entry(batch_id)
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
            Ok(detail) => {
                let is_final = is_final_batch_status(&detail.status);
                let was_unknown = entry.state != State::Accepted;
                let changed = entry.batch_status.as_deref() != Some(detail.status.as_str());
                let next_check: Option<i64> = (!is_final).then_some(next);
                lock(&self.journal).update_batch(
                    &self.merchant,
                    &entry.batch_id,
                    "state = 'accepted', batch_status = ?1, is_final = ?2, checks = ?3, next_check_at = ?4",
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

    /// One pass over every batch whose outcome or final status is due to be learned.
    /// `after_crash` first turns batches caught mid-send into unknown outcomes.
    pub async fn reconcile(&self, after_crash: bool) -> Result<BatchReconcileReport, BatchError> {
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
                        && e.next_check_at.is_none_or(|t| t <= now)
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
                Ok(Checked::StillUnknown) => report.still_unknown += 1,
                Err(e) => {
                    if entry.state == State::Unknown {
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
}
