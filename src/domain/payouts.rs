//! Sending CNY payouts so that none is lost or doubled, whatever the network does: the
//! intent is committed to the journal before the request leaves, the outcome after; an
//! unknown outcome is settled by querying the merchant order ID (with backoff, and only called
//! "not created" after a grace period); a retry reuses the same ID, so the gateway's `0014`
//! refuses a second payout.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::bulk::BulkPlan;
use super::journal::{Claim, Entry, Found, Intent, Journal, JournalError, ListFilter, State};
use crate::clock::Clock;
use crate::gateway::cny::client::{CnyClient, CnyError};
use crate::gateway::cny::wire::{CreateOutcome, PayoutRequest};
use crate::lock_unpoisoned as lock;

/// How long "no such order" must hold after the last send before a payout counts as never
/// created: a gateway may record an order a little after it answered (or failed to).
pub const NOT_FOUND_GRACE_SECS: i64 = 60;
/// The longest wait between two checks of one payout.
pub const MAX_BACKOFF_SECS: i64 = 600;

#[derive(Debug, thiserror::Error)]
pub enum PayoutError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Gateway(#[from] CnyError),
    #[error("{0}")]
    NotAllowed(String),
}

/// The merchant a journal entry belongs to: `platform_id@host:port`, whatever the profile
/// is called.
pub fn merchant_key(client: &CnyClient) -> String {
    let c = client.config();
    let host = c.base_url.host_str().unwrap_or("");
    match c.base_url.port() {
        Some(p) => format!("{}@{host}:{p}", c.platform_id),
        None => format!("{}@{host}", c.platform_id),
    }
}

/// A fresh merchant order ID: `pd_20261122T141503_k3f9` (UTC time, four random characters).
pub fn new_payout_cl_id() -> String {
    let now = jiff::Zoned::now().with_time_zone(jiff::tz::TimeZone::UTC);
    let suffix: String = crate::clock::NonceSource::nonce(&crate::clock::RandomNonce)
        .chars()
        .take(4)
        .collect();
    format!(
        "pd_{}_{}",
        now.strftime("%Y%m%dT%H%M%S"),
        suffix.to_lowercase()
    )
}

/// Seconds to wait before the next check of a payout checked `checks` times already.
pub fn backoff_secs(checks: i64) -> i64 {
    let exp = u32::try_from(checks.clamp(0, 12)).unwrap_or(12);
    (5i64 << exp).min(MAX_BACKOFF_SECS)
}

/// What one pass of reconciliation did.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ReconcileReport {
    pub checked: usize,
    /// Unknown outcomes that turned out to be accepted orders.
    pub found: usize,
    /// Unknown outcomes that turned out never to have been created.
    pub not_created: usize,
    /// Status changes of accepted payouts.
    pub status_updates: usize,
    pub still_unknown: usize,
    pub errors: Vec<String>,
}

/// A journal and a gateway client for one merchant.
#[derive(Clone)]
pub struct PayoutDesk {
    pub journal: Arc<Mutex<Journal>>,
    pub client: CnyClient,
    pub merchant: String,
    pub clock: Arc<dyn Clock>,
    pub not_found_grace_secs: i64,
}

impl PayoutDesk {
    pub fn new(
        journal: Arc<Mutex<Journal>>,
        client: CnyClient,
        clock: Arc<dyn Clock>,
    ) -> PayoutDesk {
        PayoutDesk {
            merchant: merchant_key(&client),
            journal,
            client,
            clock,
            not_found_grace_secs: NOT_FOUND_GRACE_SECS,
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    /// Earlier payouts to the same account for the same amount in the last 24 hours.
    pub fn likely_duplicates(&self, request: &PayoutRequest) -> Result<Vec<Entry>, PayoutError> {
        Ok(lock(&self.journal).likely_duplicates(
            &self.merchant,
            request,
            self.now() - 24 * 3600,
        )?)
    }

    /// Records one payout's intent, then sends it.
    pub async fn submit(&self, request: &PayoutRequest) -> Result<Entry, PayoutError> {
        // Refuse what cannot be sent before it is recorded.
        self.client.prepare_payout(request)?;
        let intent = Intent {
            merchant: self.merchant.clone(),
            request: request.clone(),
            state: State::Queued,
            batch: None,
        };
        lock(&self.journal).record_intents(&[intent], self.now())?;
        self.send_owned(request, &[State::Queued]).await
    }

    /// Sends and returns the row, or says why another sender has it.
    async fn send_owned(
        &self,
        request: &PayoutRequest,
        from: &[State],
    ) -> Result<Entry, PayoutError> {
        match self.send(request, from).await? {
            Sent::Done(e) => Ok(e),
            Sent::Skipped {
                claimer: Some(by), ..
            } => Err(PayoutError::NotAllowed(format!(
                "{} is being sent right now by another Paydesk ({by}); it is not sent twice",
                request.payout_cl_id
            ))),
            Sent::Skipped { entry, .. } => Ok(entry),
        }
    }

    /// Sends a recorded payout (its first attempt or a retry) under its own merchant order ID,
    /// once this sender has claimed its row: only from a state in `from`, only when the row
    /// read back is the request about to be sent.
    async fn send(&self, request: &PayoutRequest, from: &[State]) -> Result<Sent, PayoutError> {
        let cl_id = &request.payout_cl_id;
        let prepared = self.client.prepare_payout(request)?;
        let claim = lock(&self.journal).claim_payout(
            &self.merchant,
            request,
            &prepared.body,
            from,
            self.now(),
        )?;
        let attempts = match claim {
            Claim::Claimed(e) => e.attempts,
            Claim::Busy { entry, claimer } => {
                return Ok(Sent::Skipped {
                    entry,
                    claimer: Some(claimer),
                });
            }
            Claim::NotSendable(entry) => {
                return Ok(Sent::Skipped {
                    entry,
                    claimer: None,
                });
            }
            Claim::Stale { .. } => {
                // Its sender died mid-send: what happened is looked up, never re-sent blind.
                let _ = self.check(cl_id).await;
                let entry = lock(&self.journal)
                    .get(&self.merchant, cl_id)?
                    .ok_or_else(|| JournalError::NotFound(cl_id.clone()))?;
                return Ok(Sent::Skipped {
                    entry,
                    claimer: None,
                });
            }
        };
        let mut outcome = self.client.send_payout(&prepared).await;
        // On a retry, "duplicate order number" means an earlier attempt did create it.
        if attempts > 1
            && matches!(&outcome, CreateOutcome::Rejected { code, .. } if code == "0014")
        {
            outcome = CreateOutcome::Unknown {
                why: "the gateway already has this merchant order ID from an earlier attempt"
                    .to_owned(),
            };
        }
        lock(&self.journal).record_outcome(&self.merchant, cl_id, &outcome, self.now())?;
        if matches!(outcome, CreateOutcome::Unknown { .. }) {
            // A quick first look; what stays unknown is checked again with backoff.
            let _ = self.check(cl_id).await;
        }
        Ok(Sent::Done(
            lock(&self.journal)
                .get(&self.merchant, cl_id)?
                .ok_or_else(|| PayoutError::Journal(JournalError::NotFound(cl_id.clone())))?,
        ))
    }

    /// Sends a payout again, at the operator's request, under the same merchant order ID.
    pub async fn retry(&self, cl_id: &str) -> Result<Entry, PayoutError> {
        let entry = lock(&self.journal)
            .get(&self.merchant, cl_id)?
            .ok_or_else(|| JournalError::NotFound(cl_id.to_owned()))?;
        match entry.state {
            // A row caught sending is either another sender's (refused) or a dead sender's
            // (looked up): the claim tells which.
            State::NotCreated
            | State::Rejected
            | State::Unknown
            | State::Queued
            | State::Sending => {
                self.send_owned(
                    &entry.request,
                    &[
                        State::NotCreated,
                        State::Rejected,
                        State::Unknown,
                        State::Queued,
                    ],
                )
                .await
            }
            State::Accepted => Err(PayoutError::NotAllowed(format!(
                "{cl_id} was accepted as {}: it is never sent again",
                entry.payout_id.unwrap_or_default()
            ))),
        }
    }

    /// Looks one payout up by its merchant order ID and records what the gateway says.
    async fn check(&self, cl_id: &str) -> Result<CheckResult, PayoutError> {
        let now = self.now();
        let entry = lock(&self.journal)
            .get(&self.merchant, cl_id)?
            .ok_or_else(|| JournalError::NotFound(cl_id.to_owned()))?;
        let next = now + backoff_secs(entry.checks);
        let page = match self.client.find_payout(cl_id).await {
            Ok(page) => page,
            Err(e) => {
                lock(&self.journal).schedule_check(&self.merchant, cl_id, next, now)?;
                return Ok(CheckResult::Error(e.to_string()));
            }
        };
        let mut j = lock(&self.journal);
        match page.orders.iter().find(|o| o.merchant_id == cl_id) {
            Some(order) => {
                let class = order.status.class();
                let is_final = class.is_final();
                let changed = entry.gateway_status != order.status.code;
                j.record_found(
                    &self.merchant,
                    cl_id,
                    &Found {
                        payout_id: order.system_id.clone(),
                        status: order.status.code,
                        label: order.status.label(),
                        is_final,
                        next_check_at: (!is_final).then_some(next),
                    },
                    now,
                )?;
                Ok(match entry.state {
                    State::Accepted if changed => CheckResult::StatusChanged,
                    State::Accepted => CheckResult::Unchanged,
                    _ => CheckResult::Found,
                })
            }
            None if matches!(entry.state, State::Unknown | State::Sending)
                && now - entry.last_sent_at.unwrap_or(entry.created_at)
                    >= self.not_found_grace_secs =>
            {
                j.record_not_created(&self.merchant, cl_id, now)?;
                Ok(CheckResult::NotCreated)
            }
            None => {
                j.schedule_check(
                    &self.merchant,
                    cl_id,
                    next.min(now + self.not_found_grace_secs.max(1)),
                    now,
                )?;
                Ok(CheckResult::StillUnknown)
            }
        }
    }

    /// One pass over every payout whose outcome or final status is due to be learned.
    /// `after_crash` first turns payouts caught mid-send into unknown outcomes (only when no
    /// other Paydesk is sending for this merchant: at start-up).
    pub async fn reconcile(&self, after_crash: bool) -> Result<ReconcileReport, PayoutError> {
        let due = {
            let mut j = lock(&self.journal);
            if after_crash {
                j.interrupted_to_unknown(&self.merchant, self.now())?;
            }
            j.due_for_check(&self.merchant, self.now())?
        };
        let mut report = ReconcileReport::default();
        for entry in due {
            report.checked += 1;
            match self.check(&entry.payout_cl_id).await? {
                CheckResult::Found => report.found += 1,
                CheckResult::NotCreated => report.not_created += 1,
                CheckResult::StatusChanged => report.status_updates += 1,
                CheckResult::Unchanged => {}
                CheckResult::StillUnknown => report.still_unknown += 1,
                CheckResult::Error(e) => {
                    if matches!(entry.state, State::Unknown | State::Sending) {
                        report.still_unknown += 1;
                    }
                    report.errors.push(format!("{}: {e}", entry.payout_cl_id));
                }
            }
        }
        Ok(report)
    }

    /// Records every row of a checked file before anything is sent; rows recorded by an
    /// earlier run of the same file are kept as they are. Returns how many were new.
    pub fn enqueue_batch(&self, plan: &BulkPlan) -> Result<usize, PayoutError> {
        let intents: Vec<Intent> = plan
            .rows
            .iter()
            .map(|(row, r)| Intent {
                merchant: self.merchant.clone(),
                request: r.clone(),
                state: State::Queued,
                batch: Some((
                    plan.batch_id.clone(),
                    i64::try_from(*row).unwrap_or(i64::MAX),
                )),
            })
            .collect();
        let mut j = lock(&self.journal);
        let added = j.record_intents(&intents, self.now())?;
        // Read every row back: what will be sent is what the journal holds, and it must be
        // the file's row.
        for intent in &intents {
            let r = &intent.request;
            let stored = j
                .get(&self.merchant, &r.payout_cl_id)
                .map_err(|e| j.mark_damaged(format!("{} does not read back: {e}", r.payout_cl_id)))?
                .ok_or_else(|| JournalError::NotFound(r.payout_cl_id.clone()))?;
            let same = stored.request.payout_cl_id == r.payout_cl_id
                && stored.request.amount == r.amount
                && stored.request.number == r.number
                && stored.request.name == r.name
                && stored.request.bank_name == r.bank_name;
            if !same {
                return Err(JournalError::Mismatch {
                    cl_id: r.payout_cl_id.clone(),
                    what: "the journal holds another amount, account, name or bank for it"
                        .to_owned(),
                }
                .into());
            }
        }
        Ok(added)
    }

    /// Where the rows of a batch stand.
    pub fn batch_summary(&self, batch_id: &str) -> Result<BatchSummary, PayoutError> {
        let entries = lock(&self.journal).list(&ListFilter {
            merchant: Some(self.merchant.clone()),
            ..ListFilter::default()
        })?;
        let mut s = BatchSummary {
            batch_id: batch_id.to_owned(),
            ..BatchSummary::default()
        };
        for e in entries
            .iter()
            .filter(|e| e.batch_id.as_deref() == Some(batch_id))
        {
            s.payouts += 1;
            match e.state {
                State::Accepted => s.accepted += 1,
                State::Rejected => s.rejected += 1,
                State::Unknown | State::Sending => s.unknown += 1,
                State::Queued | State::NotCreated => s.not_sent += 1,
            }
        }
        Ok(s)
    }

    /// Sends the queued (and never-created) rows of a batch in file order; stops between
    /// rows when `stop` is set. Every row is journaled like a single payout.
    pub async fn send_batch(
        &self,
        batch_id: &str,
        stop: &AtomicBool,
        progress: impl Fn(&Entry),
    ) -> Result<usize, PayoutError> {
        let rows = lock(&self.journal).batch_to_send(&self.merchant, batch_id)?;
        let mut sent = 0;
        for row in rows {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            // Another window or process may have claimed it meanwhile: it is theirs.
            if let Sent::Done(entry) = self
                .send(&row.request, &[State::Queued, State::NotCreated])
                .await?
            {
                sent += 1;
                progress(&entry);
            }
        }
        Ok(sent)
    }
}

/// Where the rows of a batch stand.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BatchSummary {
    pub batch_id: String,
    pub payouts: usize,
    pub accepted: usize,
    pub rejected: usize,
    /// Outcome unknown, being checked.
    pub unknown: usize,
    /// Queued or never created: sent by the next run of the same file.
    pub not_sent: usize,
}

impl std::fmt::Display for BatchSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Batch {}: {} accepted, {} refused, {} unknown (being checked), {} not sent yet",
            self.batch_id, self.accepted, self.rejected, self.unknown, self.not_sent
        )
    }
}

/// What a send did.
enum Sent {
    Done(Entry),
    /// Not sent by this sender: another one holds it (`claimer`), or its state had moved on.
    Skipped {
        entry: Entry,
        claimer: Option<String>,
    },
}

enum CheckResult {
    Found,
    NotCreated,
    StatusChanged,
    Unchanged,
    StillUnknown,
    Error(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_secs(0), 5);
        assert_eq!(backoff_secs(1), 10);
        assert_eq!(backoff_secs(5), 160);
        assert_eq!(backoff_secs(7), 600);
        assert_eq!(backoff_secs(1000), 600);
    }
}
