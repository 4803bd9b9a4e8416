//! GatePay batch payouts: what an operator reads off a batch (totals per status and currency,
//! sub-orders stuck in CHECK or PROCESSING), batches planned from a CSV/XLSX file, and
//! sending them through the payout journal so that none is lost or doubled. The intent (the
//! exact body) is committed before it is sent; a timeout, a 5xx or an unreadable reply is an
//! *unknown* outcome settled by asking for the batch's detail; `550245` (the batch exists)
//! means look it up; a batch is only ever sent again under its own `batch_id`. Once a batch
//! may have left, a failed lookup or journal write is reported beside the outcome, never in
//! its place. GatePay's API replies carry no signature (only its callbacks do), so there is
//! no signed truth to check on a batch detail.

mod approval;
mod file;
mod rows;
pub(crate) mod store;
mod totals;

pub use approval::{PendingBatch, SUB_ORDERS_LISTED};
pub use file::plan_batch_file;
pub use rows::{TypedRow, batch_from_rows};
use store::BatchChange;
pub use store::BatchEntry;
pub use totals::{
    DEFAULT_STUCK_MINUTES, StatusTotal, currency_totals, describe_totals, is_stuck, new_batch_id,
    status_totals, stuck_for,
};

use serde::Serialize;

use super::desk::{Desk, DeskClient, DeskError};
use super::journal::{Claim, JournalError, State};
use super::payouts::{CREATED_TOLERANCE_SECS, Notified, backoff_secs};
use crate::gateway::gatepay::client::{GatePayClient, GatePayClientError};
use crate::gateway::gatepay::wire::{BatchDetail, BatchRequest, CreateBatchOutcome, DetailStatus};
use crate::lock_unpoisoned as lock;
use crate::money::CryptoAmount;

pub type BatchError = DeskError<GatePayClientError>;

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

/// Whether GatePay's batch under this ID was created too long before this batch was recorded
/// to be this batch's (the clock tolerance is the CNY one): then it is someone else's, or an
/// earlier one from a lost journal, whatever its sub-orders.
fn older_batch(
    entry: &BatchEntry,
    detail: &crate::gateway::gatepay::wire::BatchDetail,
    gatepay_offset_ms: i64,
) -> Option<String> {
    let created_ms = detail.create_time_ms?;
    // GatePay's creation time on this machine's clock, which the record was made by.
    let local_created_ms = created_ms.saturating_sub(gatepay_offset_ms);
    let recorded_ms = entry
        .created_at
        .saturating_sub(CREATED_TOLERANCE_SECS)
        .saturating_mul(1_000);
    (local_created_ms < recorded_ms).then(|| {
        let since = match crate::domain::dates::zone(crate::domain::dates::GATEWAY_TZ) {
            Ok(tz) => crate::domain::dates::format_secs(created_ms.div_euclid(1_000), &tz),
            Err(_) => created_ms.to_string(),
        };
        format!(
            "batch ID {} already exists at GatePay since {since}, not sent by this batch: \
             choose another ID (if it was this batch, sent from a lost journal, it is paid already)",
            entry.batch_id
        )
    })
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
    /// Batches left as they are: sent through another gateway address (origin: how many).
    pub other_origins: std::collections::BTreeMap<String, usize>,
    pub errors: Vec<String>,
}

/// The merchant a batch belongs to: its gateway identity, the `client_id`, not where GatePay
/// was reached. Journals from before kept `client_id@host:port`; the journal's schema
/// migration strips the `@host:port`.
pub fn gatepay_merchant_key(client: &GatePayClient) -> String {
    client.config().client_id.clone()
}

/// A journal and a GatePay client for one institution client.
pub type BatchDesk = Desk<GatePayClient>;

impl DeskClient for GatePayClient {
    fn identity(&self) -> (String, &reqwest::Url) {
        (gatepay_merchant_key(self), &self.config().base_url)
    }
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
    /// Writes the audit record of a send; a failure joins the bookkeeping errors.
    fn audited(&self, mut sent: SentBatch, action: &str) -> SentBatch {
        let detail = format!("batch {} ({})", sent.batch_id, sent.state.as_str());
        self.audit_send(action, &detail, &mut sent.bookkeeping_error);
        sent
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
            Some(&self.origin),
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
        if let Some(why) = entry.elsewhere(&self.origin) {
            return Err(BatchError::NotAllowed(why));
        }
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
        if let Some(why) = self.get(batch_id)?.and_then(|e| e.elsewhere(&self.origin)) {
            return Err(BatchError::NotAllowed(why));
        }
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
        let (word, code) = match &outcome {
            CreateBatchOutcome::Accepted { .. } => ("accepted", ""),
            CreateBatchOutcome::Rejected { code, .. } => ("refused", code.as_str()),
            CreateBatchOutcome::Exists { .. } => ("exists", ""),
            CreateBatchOutcome::Unknown { .. } => ("unknown", ""),
        };
        tracing::info!(target: "paydesk::batches", order_id = batch_id, outcome = word, code, "batch sent");
        let now = self.now();
        let mut lookup_error = None;
        let recorded: Result<(), BatchError> = match &outcome {
            CreateBatchOutcome::Accepted { .. } => lock(&self.journal)
                .change_batch(
                    &self.merchant,
                    batch_id,
                    &BatchChange::Accepted { next_check_at: now },
                    now,
                )
                .map_err(BatchError::from),
            CreateBatchOutcome::Rejected {
                code,
                meaning,
                message,
            } => lock(&self.journal)
                .change_batch(
                    &self.merchant,
                    batch_id,
                    &BatchChange::Refused {
                        code,
                        meaning,
                        message,
                    },
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
        lock(&self.journal).change_batch(
            &self.merchant,
            batch_id,
            &BatchChange::Unknown {
                why,
                next_check_at: next,
            },
            now,
        )?;
        Ok(())
    }

    /// Asks GatePay for a batch's detail and records what it says.
    async fn check(&self, entry: &BatchEntry) -> Result<Checked, BatchError> {
        if let Some(why) = entry.elsewhere(&self.origin) {
            return Err(BatchError::NotAllowed(why));
        }
        let now = self.now();
        let checks = entry.checks + 1;
        let next = now + backoff_secs(checks);
        match self
            .client
            .batch_detail(&entry.batch_id, DetailStatus::All)
            .await
        {
            Ok(detail) => self.apply_detail(entry, &detail, checks, next, now),
            Err(e) if e.is_not_found() => {
                let since_sent = now - entry.last_sent_at.unwrap_or(entry.created_at);
                if since_sent >= self.not_found_grace_secs {
                    lock(&self.journal).change_batch(
                        &self.merchant,
                        &entry.batch_id,
                        &BatchChange::NotCreated { checks },
                        now,
                    )?;
                    Ok(Checked::NotCreated)
                } else {
                    lock(&self.journal).change_batch(
                        &self.merchant,
                        &entry.batch_id,
                        &BatchChange::Checked {
                            checks,
                            next_check_at: now + backoff_secs(0),
                        },
                        now,
                    )?;
                    Ok(Checked::StillUnknown)
                }
            }
            Err(e) => {
                lock(&self.journal).change_batch(
                    &self.merchant,
                    &entry.batch_id,
                    &BatchChange::Checked {
                        checks,
                        next_check_at: next,
                    },
                    now,
                )?;
                Err(e.into())
            }
        }
    }

    /// Records what GatePay says of a batch (a detail, or a payout callback whose signature
    /// verified): the one settle path.
    fn apply_detail(
        &self,
        entry: &BatchEntry,
        detail: &BatchDetail,
        checks: i64,
        next: i64,
        now: i64,
    ) -> Result<Checked, BatchError> {
        match detail {
            detail
                if entry.state != State::Accepted
                    && let Some(why) = another_batch(&entry.body, detail)
                        .or_else(|| older_batch(entry, detail, self.client.clock_offset_ms())) =>
            {
                lock(&self.journal).change_batch(
                    &self.merchant,
                    &entry.batch_id,
                    &BatchChange::Taken { why: &why, checks },
                    now,
                )?;
                Ok(Checked::Taken)
            }
            detail => {
                let is_final = detail.status.is_final();
                let was_unknown = entry.state != State::Accepted;
                let changed = entry.batch_status.as_deref() != Some(detail.status.as_str());
                let next_check: Option<i64> = (!is_final).then_some(next);
                lock(&self.journal).change_batch(
                    &self.merchant,
                    &entry.batch_id,
                    &BatchChange::Status {
                        status: detail.status.as_str(),
                        is_final,
                        checks,
                        next_check_at: next_check,
                    },
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
        }
    }

    /// Settles a journaled batch from a payout callback whose signature verified, as a
    /// lookup of its detail would. `None`: the batch is not in this journal.
    pub fn settle_from_callback(
        &self,
        detail: &BatchDetail,
    ) -> Result<Option<Notified>, BatchError> {
        let Some(entry) = self
            .get(&detail.batch_id)?
            .filter(|e| e.elsewhere(&self.origin).is_none())
        else {
            return Ok(None);
        };
        // A late callback with an unfinished status must not reopen a settled batch.
        if entry.state == State::Accepted && entry.is_final && !detail.status.is_final() {
            return Ok(Some(Notified::Unchanged));
        }
        let now = self.now();
        let checks = entry.checks + 1;
        let next = now + backoff_secs(checks);
        Ok(Some(
            match self.apply_detail(&entry, detail, checks, next, now)? {
                Checked::Found => Notified::Found,
                Checked::StatusChanged => Notified::StatusChanged,
                Checked::Taken => Notified::Taken(TAKEN_BATCH_MEANING.to_owned()),
                _ => Notified::Unchanged,
            },
        ))
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
            if let Some(o) = entry.origin.as_ref().filter(|o| o.as_str() != self.origin) {
                *report.other_origins.entry(o.clone()).or_default() += 1;
                continue;
            }
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
        tracing::info!(
            target: "paydesk::batches",
            checked = report.checked,
            found = report.found,
            not_created = report.not_created,
            still_unknown = report.still_unknown,
            problems = report.errors.len(),
            "batches reconciled"
        );
        Ok(report)
    }
}

#[cfg(test)]
mod tests;
