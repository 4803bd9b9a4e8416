//! Sending CNY payouts so that none is lost or doubled, whatever the network does: the
//! intent is committed to the journal before the request leaves, the outcome after; an
//! unknown outcome is settled by querying the merchant order ID (with backoff, and only called
//! "not created" after a grace period); a retry reuses the same ID, so the gateway's `0014`
//! refuses a second payout. `0014` (duplicate merchant order ID) on any attempt means the
//! order exists: it is looked up, never called refused. Only an order whose `sign` verifies
//! settles anything. Once a request may have left, a bookkeeping failure is reported beside
//! the outcome, never in its place.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;

use super::bulk::BulkPlan;
use super::journal::{
    Actor, Claim, Entry, Found, Intent, Journal, JournalError, ListFilter, State,
    UNVERIFIED_MEANING,
};
use crate::clock::Clock;
use crate::gateway::cny::client::{CnyClient, CnyError};
use crate::gateway::cny::wire::{CreateOutcome, Order, PayoutRequest, QueryPage};
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
    /// Payouts the gateway answered about only with orders whose `sign` failed: nothing
    /// was settled from those answers.
    pub unverified: usize,
    pub errors: Vec<String>,
}

/// The gateway's code for "duplicate merchant order number": the order exists.
pub const CODE_EXISTS: &str = "0014";

/// Why a payout answered `0014` is unknown: the gateway said the order exists, so a lookup
/// that does not find it proves nothing (it is never called "not created").
pub const EXISTS_WHY: &str = "the gateway already has this merchant order ID (0014): looking it up";

/// Why a payout whose merchant order ID the gateway holds for another amount is refused.
pub const TAKEN_MEANING: &str = "this merchant order ID belongs to another payout at the gateway: nothing was created for this one";

/// The outcome of a send as the gateway gave it, read the one way the desk trusts: `0014`
/// on any attempt means an order with this merchant order ID exists, so the outcome is
/// unknown until a lookup says where it stands; never "refused, nothing created".
pub fn trusted_outcome(outcome: CreateOutcome) -> CreateOutcome {
    match outcome {
        CreateOutcome::Rejected { code, .. } if code == CODE_EXISTS => CreateOutcome::Unknown {
            why: EXISTS_WHY.to_owned(),
        },
        other => other,
    }
}

/// What the reply to a lookup by merchant order ID proves, signed truth only.
#[derive(Debug)]
pub enum Lookup<'a> {
    /// An order with this merchant order ID whose `sign` verifies.
    Found(&'a Order),
    /// Some order in the reply failed its signature check and none verified for this ID:
    /// the reply proves nothing, neither that the order exists nor that it does not.
    Unverified,
    /// A fully verified reply without this merchant order ID.
    Absent,
}

/// Reads a lookup reply: an order is trusted only when its `sign` was checked and is valid.
pub fn read_lookup<'a>(page: &'a QueryPage, cl_id: &str) -> Lookup<'a> {
    // "unchecked" (no key) is no more proof than "invalid".
    let trusted = |o: &Order| o.signature.word() == "valid";
    if let Some(o) = page
        .orders
        .iter()
        .find(|o| o.merchant_id == cl_id && trusted(o))
    {
        return Lookup::Found(o);
    }
    if page.orders.iter().any(|o| !trusted(o)) {
        Lookup::Unverified
    } else {
        Lookup::Absent
    }
}

/// A payout after a send: the outcome, and the bookkeeping failure if the journal could not
/// record it (the outcome stands; `entry` then shows it as the gateway gave it).
#[derive(Clone, Debug)]
pub struct Sent {
    pub entry: Entry,
    pub bookkeeping_error: Option<String>,
}

impl std::ops::Deref for Sent {
    type Target = Entry;
    fn deref(&self) -> &Entry {
        &self.entry
    }
}

/// What sending the rows of a batch did.
#[derive(Clone, Debug, Default)]
pub struct BatchSent {
    pub sent: usize,
    /// Bookkeeping failures after sends, one per payout concerned.
    pub bookkeeping_errors: Vec<String>,
}

/// The entry as it stands after `outcome`, for when the journal could not record it.
fn apply_outcome(mut entry: Entry, outcome: &CreateOutcome, now: i64) -> Entry {
    entry.updated_at = now;
    entry.last_sent_at = Some(now);
    match outcome {
        CreateOutcome::Accepted { payout_id } => {
            entry.state = State::Accepted;
            entry.payout_id = Some(payout_id.clone());
            entry.unknown_why = None;
            entry.reject_code = None;
            entry.reject_meaning = None;
            entry.reject_message = None;
        }
        CreateOutcome::Rejected {
            code,
            meaning,
            message,
        } => {
            entry.state = State::Rejected;
            entry.reject_code = Some(code.clone());
            entry.reject_meaning = Some(meaning.clone());
            entry.reject_message = Some(message.clone());
        }
        CreateOutcome::Unknown { why } => {
            entry.state = State::Unknown;
            entry.unknown_why = Some(why.clone());
        }
    }
    entry
}

/// A journal and a gateway client for one merchant.
#[derive(Clone)]
pub struct PayoutDesk {
    pub journal: Arc<Mutex<Journal>>,
    pub client: CnyClient,
    pub merchant: String,
    pub clock: Arc<dyn Clock>,
    pub not_found_grace_secs: i64,
    /// Who the audit log names for what this desk sends.
    pub actor: Actor,
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
            actor: Actor::current(),
        }
    }

    fn now(&self) -> i64 {
        self.clock.now_secs()
    }

    /// Appends to the audit log in the desk's name.
    fn audit(&self, action: &str, detail: &str) -> Result<(), JournalError> {
        lock(&self.journal).audit(self.actor.as_str(), action, detail, self.now())
    }

    /// Records one payout's intent, then sends it. An error means nothing was sent; once the
    /// request may have left, the outcome is returned and bookkeeping failures ride beside it.
    pub async fn submit(&self, request: &PayoutRequest) -> Result<Sent, PayoutError> {
        self.record_single(request)?;
        self.send_recorded(request).await
    }

    /// Records one payout's intent (nothing is sent).
    pub(crate) fn record_single(&self, request: &PayoutRequest) -> Result<(), PayoutError> {
        // Refuse what cannot be sent before it is recorded.
        self.client.prepare_payout(request)?;
        let intent = Intent {
            merchant: self.merchant.clone(),
            request: request.clone(),
            state: State::Queued,
            batch: None,
        };
        lock(&self.journal).record_intents(&[intent], self.now())?;
        Ok(())
    }

    /// Sends a payout [`Self::record_single`] recorded.
    pub(crate) async fn send_recorded(&self, request: &PayoutRequest) -> Result<Sent, PayoutError> {
        let sent = self.send_owned(request, &[State::Queued]).await?;
        Ok(self.audited(sent, "payout submitted"))
    }

    /// Writes the audit record of a send; a failure joins the bookkeeping errors.
    fn audited(&self, mut sent: Sent, action: &str) -> Sent {
        let e = &sent.entry;
        let detail = format!(
            "{} {} to {} ({})",
            e.payout_cl_id,
            e.amount,
            e.account_masked,
            e.state.as_str()
        );
        if let Err(err) = self.audit(action, &detail) {
            let text = format!("the audit log could not record it: {err}");
            sent.bookkeeping_error = Some(match sent.bookkeeping_error.take() {
                Some(earlier) => format!("{earlier}; {text}"),
                None => text,
            });
        }
        sent
    }

    /// Sends and returns the outcome, or says why another sender has it.
    async fn send_owned(
        &self,
        request: &PayoutRequest,
        from: &[State],
    ) -> Result<Sent, PayoutError> {
        match self.send(request, from).await? {
            SendResult::Done(sent) => Ok(sent),
            SendResult::Skipped {
                claimer: Some(by), ..
            } => Err(PayoutError::NotAllowed(format!(
                "{} is being sent right now by another Paydesk ({by}); it is not sent twice",
                request.payout_cl_id
            ))),
            SendResult::Skipped { entry, .. } => Ok(Sent {
                entry,
                bookkeeping_error: None,
            }),
        }
    }

    /// Sends a recorded payout (its first attempt or a retry) under its own merchant order ID,
    /// once this sender has claimed its row: only from a state in `from`, only when the row
    /// read back is the request about to be sent. Errors only before the request leaves;
    /// after that, journal failures are bookkeeping errors beside the outcome.
    async fn send(
        &self,
        request: &PayoutRequest,
        from: &[State],
    ) -> Result<SendResult, PayoutError> {
        let cl_id = &request.payout_cl_id;
        let prepared = self.client.prepare_payout(request)?;
        let claim = lock(&self.journal).claim_payout(
            &self.merchant,
            request,
            &prepared.body,
            from,
            self.now(),
        )?;
        let before = match claim {
            Claim::Claimed(e) => e,
            Claim::Busy { entry, claimer } => {
                return Ok(SendResult::Skipped {
                    entry,
                    claimer: Some(claimer),
                });
            }
            Claim::NotSendable(entry) => {
                return Ok(SendResult::Skipped {
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
                return Ok(SendResult::Skipped {
                    entry,
                    claimer: None,
                });
            }
        };
        let outcome = trusted_outcome(self.client.send_payout(&prepared).await);
        let now = self.now();
        if let Err(e) = lock(&self.journal).record_outcome(&self.merchant, cl_id, &outcome, now) {
            return Ok(SendResult::Done(Sent {
                entry: apply_outcome(before, &outcome, now),
                bookkeeping_error: Some(format!("the journal could not record the outcome: {e}")),
            }));
        }
        if matches!(outcome, CreateOutcome::Unknown { .. }) {
            // A quick first look; what stays unknown is checked again with backoff.
            let _ = self.check(cl_id).await;
        }
        Ok(SendResult::Done(
            match lock(&self.journal).get(&self.merchant, cl_id) {
                Ok(Some(entry)) => Sent {
                    entry,
                    bookkeeping_error: None,
                },
                Ok(None) => Sent {
                    entry: apply_outcome(before, &outcome, now),
                    bookkeeping_error: Some(format!("the journal lost {cl_id} after recording it")),
                },
                Err(e) => Sent {
                    entry: apply_outcome(before, &outcome, now),
                    bookkeeping_error: Some(format!("the journal could not be read back: {e}")),
                },
            },
        ))
    }

    /// Sends a payout again, at the operator's request, under the same merchant order ID.
    pub async fn retry(&self, cl_id: &str) -> Result<Sent, PayoutError> {
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
                let sent = self
                    .send_owned(
                        &entry.request,
                        &[
                            State::NotCreated,
                            State::Rejected,
                            State::Unknown,
                            State::Queued,
                        ],
                    )
                    .await?;
                Ok(self.audited(sent, "payout retried"))
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
        match read_lookup(&page, cl_id) {
            // The gateway's order under this ID is for another amount: it is some other
            // payout (a reused ID, a lost journal), not this one, so this request created
            // nothing and must not be shown as paid.
            Lookup::Found(order)
                if entry.state != State::Accepted
                    && order.amount.is_some_and(|a| a != entry.request.amount) =>
            {
                let theirs = order.amount.unwrap_or(entry.request.amount);
                let message = format!(
                    "the gateway's order {cl_id} ({}) is for {theirs}, not {}: another payout \
                     already has this merchant order ID; send this one under a new ID",
                    order.system_id, entry.request.amount
                );
                j.record_outcome(
                    &self.merchant,
                    cl_id,
                    &CreateOutcome::Rejected {
                        code: CODE_EXISTS.to_owned(),
                        meaning: TAKEN_MEANING.to_owned(),
                        message: message.clone(),
                    },
                    now,
                )?;
                Ok(CheckResult::Taken(message))
            }
            Lookup::Found(order) => {
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
            Lookup::Unverified => {
                j.record_unverified(&self.merchant, cl_id, next, now)?;
                Ok(CheckResult::Unverified)
            }
            Lookup::Absent
                if matches!(entry.state, State::Unknown | State::Sending)
                    && entry.unknown_why.as_deref() != Some(EXISTS_WHY)
                    && now - entry.last_sent_at.unwrap_or(entry.created_at)
                        >= self.not_found_grace_secs =>
            {
                j.record_not_created(&self.merchant, cl_id, now)?;
                Ok(CheckResult::NotCreated)
            }
            Lookup::Absent => {
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

    /// The background pass: every payout whose outcome or final status is *due* to be
    /// learned (the backoff decides). `after_crash` first turns payouts caught mid-send into
    /// unknown outcomes (only when no other Paydesk is sending for this merchant: at start-up).
    pub async fn reconcile(&self, after_crash: bool) -> Result<ReconcileReport, PayoutError> {
        self.reconcile_pass(after_crash, false).await
    }

    /// What an operator asks for now ("Check with the gateway now", `payout reconcile`):
    /// every unknown and unfinished payout is checked at once, whatever the backoff says.
    pub async fn reconcile_now(&self, after_crash: bool) -> Result<ReconcileReport, PayoutError> {
        self.reconcile_pass(after_crash, true).await
    }

    async fn reconcile_pass(
        &self,
        after_crash: bool,
        all: bool,
    ) -> Result<ReconcileReport, PayoutError> {
        let due = {
            let mut j = lock(&self.journal);
            if after_crash {
                j.interrupted_to_unknown(&self.merchant, self.now())?;
            }
            // "Due by the end of time" is every payout still to be learned.
            let by = if all { i64::MAX } else { self.now() };
            j.due_for_check(&self.merchant, by)?
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
                CheckResult::Unverified => {
                    report.unverified += 1;
                    if matches!(entry.state, State::Unknown | State::Sending) {
                        report.still_unknown += 1;
                    }
                    report
                        .errors
                        .push(format!("{}: {UNVERIFIED_MEANING}", entry.payout_cl_id));
                }
                CheckResult::Taken(why) => report.errors.push(why),
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

    /// Records every row of a checked file before anything is sent, and the operator's
    /// confirmation in the audit log (a failure of either stops the import: nothing was sent);
    /// rows recorded by an earlier run of the same import are kept as they are. Returns how
    /// many were new. Rows are recorded in chunks as the file is read again, so a big file is
    /// never held as requests; a run cut short resumes, since every row's ID comes from its
    /// content.
    pub fn enqueue_batch(&self, plan: &BulkPlan) -> Result<usize, PayoutError> {
        const CHUNK: usize = 2_000;
        let mut added = 0;
        let mut failure: Option<PayoutError> = None;
        let mut intents: Vec<Intent> = Vec::with_capacity(CHUNK.min(plan.len()));
        let now = self.now();
        let mut flush = |intents: &mut Vec<Intent>, failure: &mut Option<PayoutError>| {
            if failure.is_none() && !intents.is_empty() {
                match record_and_read_back(&mut lock(&self.journal), &self.merchant, intents, now) {
                    Ok(n) => added += n,
                    Err(e) => *failure = Some(e.into()),
                }
            }
            intents.clear();
        };
        plan.for_each_row(|row, r| {
            intents.push(Intent {
                merchant: self.merchant.clone(),
                request: r.clone(),
                state: State::Queued,
                batch: Some((
                    plan.batch_id.clone(),
                    i64::try_from(row).unwrap_or(i64::MAX),
                )),
            });
            if intents.len() >= CHUNK {
                flush(&mut intents, &mut failure);
            }
        })
        .map_err(|e| PayoutError::NotAllowed(e.to_string()))?;
        flush(&mut intents, &mut failure);
        if let Some(e) = failure {
            return Err(e);
        }
        self.audit(
            "bulk payouts confirmed",
            &format!(
                "batch {}: {} payouts, {}",
                plan.batch_id,
                plan.len(),
                plan.total
            ),
        )?;
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
            if e.unverified() {
                s.unverified += 1;
            }
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
    /// rows when `stop` is set. Every row is journaled like a single payout. An error means
    /// the row it names was not sent (those before it may have been: see `progress`).
    pub async fn send_batch(
        &self,
        batch_id: &str,
        stop: &AtomicBool,
        progress: impl Fn(&Entry),
    ) -> Result<BatchSent, PayoutError> {
        let rows = lock(&self.journal).batch_to_send(&self.merchant, batch_id)?;
        let mut done = BatchSent::default();
        for row in rows {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            // Another window or process may have claimed it meanwhile: it is theirs.
            if let SendResult::Done(sent) = self
                .send(&row.request, &[State::Queued, State::NotCreated])
                .await?
            {
                done.sent += 1;
                if let Some(e) = &sent.bookkeeping_error {
                    done.bookkeeping_errors
                        .push(format!("{}: {e}", sent.payout_cl_id));
                }
                progress(&sent.entry);
            }
        }
        Ok(done)
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
    /// Whose last gateway answer failed its signature check (counted in their state too).
    pub unverified: usize,
}

impl std::fmt::Display for BatchSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Batch {}: {} accepted, {} refused, {} unknown (being checked), {} not sent yet",
            self.batch_id, self.accepted, self.rejected, self.unknown, self.not_sent
        )?;
        if self.unverified > 0 {
            write!(
                f,
                "; {} with a reply that {UNVERIFIED_MEANING}",
                self.unverified
            )?;
        }
        Ok(())
    }
}

/// Records intents, then reads every row back: what will be sent is what the journal holds,
/// and it must be the file's row.
fn record_and_read_back(
    j: &mut Journal,
    merchant: &str,
    intents: &[Intent],
    now: i64,
) -> Result<usize, JournalError> {
    let added = j.record_intents(intents, now)?;
    for intent in intents {
        let r = &intent.request;
        let stored = j
            .get(merchant, &r.payout_cl_id)
            .map_err(|e| j.mark_damaged(format!("{} does not read back: {e}", r.payout_cl_id)))?
            .ok_or_else(|| JournalError::NotFound(r.payout_cl_id.clone()))?;
        let same = stored.request.payout_cl_id == r.payout_cl_id
            && stored.request.amount == r.amount
            // Digits only, as the body sends them: `6222 0202…` re-saved as `62220202…`
            // (or back) is the same account and the same generated ID.
            && digits(&stored.request.number) == digits(&r.number)
            && stored.request.name == r.name
            && stored.request.bank_name == r.bank_name;
        if !same {
            return Err(JournalError::Mismatch {
                cl_id: r.payout_cl_id.clone(),
                what: "the journal holds another amount, account, name or bank for it".to_owned(),
            });
        }
    }
    Ok(added)
}

fn digits(number: &str) -> String {
    number.chars().filter(|c| !c.is_whitespace()).collect()
}

/// What one send did.
enum SendResult {
    Done(Sent),
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
    Unverified,
    /// The ID is another payout's at the gateway (another amount): refused, nothing created.
    Taken(String),
    Error(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rejected(code: &str) -> CreateOutcome {
        CreateOutcome::Rejected {
            code: code.into(),
            meaning: "m".into(),
            message: String::new(),
        }
    }

    #[test]
    fn a_0014_on_any_attempt_is_an_unknown_outcome_never_a_refusal() {
        assert!(matches!(
            trusted_outcome(rejected("0014")),
            CreateOutcome::Unknown { why } if why.contains("0014")
        ));
        assert!(matches!(
            trusted_outcome(rejected("0018")),
            CreateOutcome::Rejected { code, .. } if code == "0018"
        ));
        assert!(matches!(
            trusted_outcome(CreateOutcome::Accepted {
                payout_id: "POT1".into()
            }),
            CreateOutcome::Accepted { .. }
        ));
    }

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff_secs(0), 5);
        assert_eq!(backoff_secs(1), 10);
        assert_eq!(backoff_secs(5), 160);
        assert_eq!(backoff_secs(7), 600);
        assert_eq!(backoff_secs(1000), 600);
    }
}
