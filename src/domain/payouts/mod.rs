//! Sending CNY payouts so that none is lost or doubled, whatever the network does: the
//! intent is committed to the journal before the request leaves, the outcome after; an
//! unknown outcome is settled by querying the merchant order ID (with backoff, and only called
//! "not created" after a grace period); a retry reuses the same ID, so the gateway's `0014`
//! refuses a second payout. `0014` (duplicate merchant order ID) on any attempt means the
//! order exists: it is looked up, never called refused. Only an order whose `sign` verifies
//! settles anything. Once a request may have left, a bookkeeping failure is reported beside
//! the outcome, never in its place.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde::Serialize;

use super::bulk::BulkPlan;
use super::desk::{Desk, DeskClient, DeskError};
use super::journal::{
    Claim, Entry, Intent, Journal, JournalError, ListFilter, State, other_origin_message,
    same_origin,
};
use crate::gateway::cny::client::{CnyClient, CnyError};
use crate::gateway::cny::wire::{CreateOutcome, PayoutRequest};
use crate::lock_unpoisoned as lock;

pub mod approval;
mod settle;
mod summary;
pub use approval::NO_TEAM;
pub use settle::{CREATED_TOLERANCE_SECS, Lookup, Notified, read_lookup, trusted_outcome};
pub use summary::ImportSummary;

/// How long "no such order" must hold after the last send before a payout counts as never
/// created: a gateway may record an order a little after it answered (or failed to).
pub const NOT_FOUND_GRACE_SECS: i64 = 60;
/// The longest wait between two checks of one payout.
pub const MAX_BACKOFF_SECS: i64 = 600;

pub type PayoutError = DeskError<CnyError>;

/// The merchant a journal entry belongs to: its gateway identity, the `platform_id`, not
/// where the gateway was reached (`127.0.0.1` and `localhost`, or a sandbox restarted on
/// another port, are the same merchant). Journals from before kept `platform_id@host:port`;
/// the journal's schema migration strips the `@host:port`.
pub fn merchant_key(client: &CnyClient) -> String {
    client.config().platform_id.clone()
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
    /// Payouts left as they are because they were sent through another gateway address
    /// (origin: how many); see [`ReconcileReport::other_origin_notes`].
    pub other_origins: std::collections::BTreeMap<String, usize>,
    pub errors: Vec<String>,
}

impl ReconcileReport {
    /// What an operator reads about the payouts this pass left to another address's profile.
    pub fn other_origin_notes(&self) -> Vec<String> {
        self.other_origins
            .iter()
            .map(|(origin, n)| other_origin_message(*n, "payout(s) were", origin))
            .collect()
    }
}

/// The gateway's code for "duplicate merchant order number": the order exists.
pub const CODE_EXISTS: &str = "0014";

/// Why a payout answered `0014` is unknown: the gateway said the order exists, so a lookup
/// that does not find it proves nothing (it is never called "not created").
pub const EXISTS_WHY: &str = "the gateway already has this merchant order ID (0014): looking it up";

/// Why a payout whose merchant order ID the gateway holds for another amount is refused.
pub const TAKEN_MEANING: &str = "this merchant order ID belongs to another payout at the gateway: nothing was created for this one";

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

/// What sending the rows of an import did.
#[derive(Debug, Default)]
pub struct ImportSent {
    /// Earlier payouts checked with the gateway before this send (see [`PayoutDesk::run_import`]).
    pub checked_first: usize,
    pub sent: usize,
    /// Bookkeeping failures after sends, one per payout concerned.
    pub bookkeeping_errors: Vec<String>,
    /// Why [`PayoutDesk::run_import`] stopped before the end: the row it names was not sent,
    /// rows before it may have been.
    pub stopped: Option<PayoutError>,
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

/// One operations-log event per send: the merchant order ID, amount, the account's last 4
/// and what the gateway said (never the name or the full account).
fn log_outcome(request: &PayoutRequest, outcome: &CreateOutcome) {
    let order_id = request.payout_cl_id.as_str();
    let amount = request.amount.to_string();
    let account = crate::logging::account(&request.number);
    match outcome {
        CreateOutcome::Accepted { payout_id } => tracing::info!(
            target: "paydesk::payouts",
            order_id,
            amount,
            account,
            payout_id = payout_id.as_str(),
            outcome = "accepted",
            "payout sent"
        ),
        CreateOutcome::Rejected { code, meaning, .. } => tracing::info!(
            target: "paydesk::payouts",
            order_id,
            amount,
            account,
            code = code.as_str(),
            meaning = meaning.as_str(),
            outcome = "refused",
            "payout sent"
        ),
        CreateOutcome::Unknown { why } => tracing::info!(
            target: "paydesk::payouts",
            order_id,
            amount,
            account,
            // Never the rest: it may quote a reply that echoes the name or the account.
            why = crate::logging::own_words(why),
            outcome = "unknown",
            "payout sent; outcome unknown, being checked"
        ),
    }
}

/// A journal and a CNY gateway client for one merchant.
pub type PayoutDesk = Desk<CnyClient>;

impl DeskClient for CnyClient {
    fn identity(&self) -> (String, &reqwest::Url) {
        (merchant_key(self), &self.config().base_url)
    }
}

impl PayoutDesk {
    /// Why this desk must leave a payout alone: it was sent through another gateway
    /// address, which alone can say what became of it. `None`: it is this desk's.
    pub fn elsewhere(&self, entry: &Entry) -> Option<String> {
        let origin = entry.origin.as_deref()?;
        (!same_origin(Some(origin), &self.origin)).then(|| {
            format!(
                "{}: {}",
                entry.payout_cl_id,
                other_origin_message(1, "payout(s) were", origin)
            )
        })
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
            origin: Some(self.origin.clone()),
            request: request.clone(),
            state: State::Queued,
            import: None,
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
        self.audit_send(action, &detail, &mut sent.bookkeeping_error);
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
        // Only the gateway it was sent to knows whether it exists: never sent anywhere else.
        if let Some(entry) = lock(&self.journal).get(&self.merchant, cl_id)?
            && let Some(why) = self.elsewhere(&entry)
        {
            return Err(PayoutError::NotAllowed(why));
        }
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
        log_outcome(request, &outcome);
        let now = self.now();
        if let Err(e) = lock(&self.journal).record_outcome(&self.merchant, cl_id, &outcome, now) {
            tracing::error!(
                target: "paydesk::journal",
                order_id = cl_id.as_str(),
                error = %e,
                "the journal could not record a payout's outcome"
            );
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

    /// Sends a payout again, at the operator's request, under the same merchant order ID,
    /// unless another payout to the same account for the same amount was made since (see
    /// [`PayoutDesk::retry_confirmed`]).
    pub async fn retry(&self, cl_id: &str) -> Result<Sent, PayoutError> {
        use crate::domain::duplicates::DuplicateWindow;
        // A window set wrong falls back to the default: the check is never off.
        let window = DuplicateWindow::resolve(None, |k| std::env::var(k).ok()).unwrap_or_default();
        self.retry_confirmed(cl_id, window, false).await
    }

    /// [`PayoutDesk::retry`], with the likely duplicates of the payout (other payouts of its
    /// account and amount in the window) sent anyway only when `confirmed`, in the audit log.
    pub async fn retry_confirmed(
        &self,
        cl_id: &str,
        window: crate::domain::duplicates::DuplicateWindow,
        confirmed: bool,
    ) -> Result<Sent, PayoutError> {
        let state = lock(&self.journal)
            .get(&self.merchant, cl_id)?
            .map(|e| e.state);
        if state.is_some_and(|s| s != State::Accepted) {
            let report = self.duplicates_of_retry(cl_id, window, confirmed)?;
            if let Some(held) = report.held.iter().find(|h| !h.confirmed) {
                return Err(PayoutError::NotAllowed(format!(
                    "{}\nnothing was sent; to send it again anyway, confirm it: `paydesk payout \
                     retry {cl_id} --allow-duplicate`",
                    held.describe()
                )));
            }
            self.audit_confirmations(&report)?;
        }
        let entry = lock(&self.journal)
            .get(&self.merchant, cl_id)?
            .ok_or_else(|| JournalError::NotFound(cl_id.to_owned()))?;
        if let Some(why) = self.elsewhere(&entry) {
            return Err(PayoutError::NotAllowed(why));
        }
        match entry.state {
            // A lookup showed the gateway holds this ID for another order: a retry under it
            // can never be this payout. (A bare `0014` refusal from an older Paydesk is
            // looked up by the retry instead.)
            State::Rejected if entry.reject_meaning.as_deref() == Some(TAKEN_MEANING) => {
                Err(PayoutError::NotAllowed(format!(
                    "{cl_id}: {TAKEN_MEANING}; it is never sent again under this ID: send the \
                     payout under a new merchant order ID"
                )))
            }
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

    /// Records every row of a checked file before anything is sent, and the operator's
    /// confirmation in the audit log (a failure of either stops the import: nothing was sent);
    /// rows recorded by an earlier run of the same import are kept as they are. Returns how
    /// many were new. Rows are recorded in chunks as the file is read again, so a big file is
    /// never held as requests; a run cut short resumes, since every row's ID comes from its
    /// content.
    pub fn enqueue_import(&self, plan: &BulkPlan) -> Result<usize, PayoutError> {
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
                origin: Some(self.origin.clone()),
                request: r.clone(),
                state: State::Queued,
                import: Some((
                    plan.import_id.clone(),
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
                plan.import_id,
                plan.len(),
                plan.total
            ),
        )?;
        Ok(added)
    }

    /// Where the rows of an import stand.
    pub fn import_summary(&self, import_id: &str) -> Result<ImportSummary, PayoutError> {
        let entries = lock(&self.journal).list(&ListFilter {
            merchant: Some(self.merchant.clone()),
            ..ListFilter::default()
        })?;
        let mut s = ImportSummary {
            import_id: import_id.to_owned(),
            ..ImportSummary::default()
        };
        for e in entries
            .iter()
            .filter(|e| e.import_id.as_deref() == Some(import_id))
        {
            s.payouts += 1;
            if e.unverified() {
                s.unverified += 1;
            }
            match e.state {
                State::Accepted => s.accepted += 1,
                State::Rejected => s.rejected += 1,
                State::Unknown | State::Sending => s.unknown += 1,
                State::Queued if e.held_for_approval() => s.held_for_approval += 1,
                State::Queued | State::NotCreated => s.not_sent += 1,
            }
        }
        Ok(s)
    }

    /// Sends the queued (and never-created) rows of an import in file order; stops between
    /// rows when `stop` is set. Every row is journaled like a single payout. An error means
    /// the row it names was not sent (those before it may have been: see `progress`).
    pub async fn send_import(
        &self,
        import_id: &str,
        stop: &AtomicBool,
        progress: impl Fn(&Entry),
    ) -> Result<ImportSent, PayoutError> {
        let rows = lock(&self.journal).import_to_send(&self.merchant, import_id)?;
        let mut done = ImportSent::default();
        for row in rows {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            // A row recorded for another gateway address is that address's to send.
            if self.elsewhere(&row).is_some() {
                continue;
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

    /// Sends a recorded import, as `payout import` and the console both do: first settles
    /// whatever an earlier run left mid-send (a payout may be this import's own row, sent but
    /// never answered), then sends the rest. `progress(done, total, entry)` after each row;
    /// `done` counts the rows sent by earlier runs too. An error means nothing was sent by
    /// this call; once sending began, a failure is [`ImportSent::stopped`].
    pub async fn run_import(
        &self,
        plan: &BulkPlan,
        stop: &AtomicBool,
        progress: impl Fn(usize, usize, &Entry),
    ) -> Result<ImportSent, PayoutError> {
        use tracing::Instrument;
        let span = tracing::info_span!("import", import_id = plan.import_id.as_str());
        self.run_import_inner(plan, stop, progress)
            .instrument(span)
            .await
    }

    async fn run_import_inner(
        &self,
        plan: &BulkPlan,
        stop: &AtomicBool,
        progress: impl Fn(usize, usize, &Entry),
    ) -> Result<ImportSent, PayoutError> {
        let checked_first = self.reconcile(true).await?.checked;
        let total = plan.len();
        let remaining = lock(&self.journal)
            .import_to_send(&self.merchant, &plan.import_id)?
            .len();
        let done = AtomicUsize::new(total.saturating_sub(remaining));
        let sent = self
            .send_import(&plan.import_id, stop, |entry| {
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                progress(n, total, entry);
            })
            .await
            .unwrap_or_else(|e| ImportSent {
                stopped: Some(e),
                ..ImportSent::default()
            });
        let stopped = sent.stopped.as_ref().map(ToString::to_string);
        tracing::info!(target: "paydesk::payouts", sent = sent.sent, total, stopped, "import run");
        Ok(ImportSent {
            checked_first,
            ..sent
        })
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
