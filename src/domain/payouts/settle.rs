//! Settling what a send left open: the one reading of the gateway's word the desk trusts
//! (`0014` means the order exists; only an order whose `sign` verifies counts), the lookup
//! of one payout by its merchant order ID, and the reconcile passes (background and now).
//! An order found under this ID settles a payout only when it can be this payout: the same
//! amount, and created no earlier than the intent was recorded (less a clock tolerance);
//! anything else is another payout's, and this one is refused, nothing created.

use super::{
    CODE_EXISTS, EXISTS_WHY, PayoutDesk, PayoutError, ReconcileReport, TAKEN_MEANING, backoff_secs,
};
use crate::domain::dates::{GATEWAY_TZ, format_secs, zone};
use crate::domain::journal::{
    CheckNote, Entry, Found, Journal, JournalError, Recheck, State, UNVERIFIED_MEANING,
};
use crate::gateway::cny::wire::{CreateOutcome, Order, QueryPage, error_meaning};
use crate::lock_unpoisoned as lock;

/// How much earlier than its intent was recorded an order found under the intent's merchant
/// order ID may have been created and still be this intent's: the gateway's clock and this
/// machine's may disagree by this much. An order older than that was someone else's.
pub const CREATED_TOLERANCE_SECS: i64 = 300;

/// The refusal of an intent whose merchant order ID the gateway held before the intent was
/// recorded: the order found is another payout (or an earlier one from a lost journal).
fn older_order_message(cl_id: &str, order: &Order, created_secs: i64) -> String {
    let since = match zone(GATEWAY_TZ) {
        Ok(tz) => format!("{} ({GATEWAY_TZ})", format_secs(created_secs, &tz)),
        Err(_) => format_secs(created_secs, &jiff::tz::TimeZone::UTC),
    };
    let amount = order
        .amount
        .map_or_else(String::new, |a| format!(" for {a}"));
    format!(
        "{CODE_EXISTS}: merchant order ID {cl_id} already exists at the gateway since {since}, \
         not sent by this intent: choose another ID (the gateway's order is {}{amount}; if it \
         was this payout, sent from a journal that was lost, it is paid already: check before \
         sending it under a new ID)",
        order.system_id
    )
}

/// When the gateway's order under this ID was created too long before the intent was
/// recorded to be this intent's: its creation time, else `None` (an order without a
/// creation time is not judged by it).
fn created_before(order: &Order, entry: &Entry, gateway_offset_ms: i64) -> Option<i64> {
    // The creation time is on the gateway's clock, the record's on this machine's: a clock
    // ten minutes fast must not make this intent's own order look older than the intent.
    let offset_secs = gateway_offset_ms.div_euclid(1_000);
    order.create_time_secs.filter(|t| {
        t.saturating_sub(offset_secs) < entry.created_at.saturating_sub(CREATED_TOLERANCE_SECS)
    })
}

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
#[derive(Clone, Copy, Debug)]
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

impl PayoutDesk {
    /// Looks one payout up by its merchant order ID and records what the gateway says.
    pub(super) async fn check(&self, cl_id: &str) -> Result<CheckResult, PayoutError> {
        let now = self.now();
        let entry = lock(&self.journal)
            .get(&self.merchant, cl_id)?
            .ok_or_else(|| JournalError::NotFound(cl_id.to_owned()))?;
        // Another gateway's "no such order" proves nothing about this one.
        if let Some(why) = self.elsewhere(&entry) {
            return Ok(CheckResult::Elsewhere(why));
        }
        let next = now + backoff_secs(entry.checks);
        let page = match self.client.find_payout(cl_id).await {
            Ok(page) => page,
            Err(e) => {
                lock(&self.journal).schedule_check(
                    &self.merchant,
                    cl_id,
                    next,
                    now,
                    Recheck::Inconclusive,
                )?;
                let code = e.gateway_code().map(str::to_owned);
                lock(&self.journal).record_check(
                    &self.merchant,
                    cl_id,
                    &CheckNote {
                        outcome: "check failed".to_owned(),
                        code_meaning: code.as_deref().map(|c| error_meaning(c).to_owned()),
                        gateway_code: code,
                        summary: e.to_string(),
                    },
                    now,
                )?;
                tracing::info!(
                    target: "paydesk::payouts",
                    order_id = cl_id,
                    code = e.gateway_code().unwrap_or(""),
                    "payout check failed; checked again later"
                );
                return Ok(CheckResult::Error(e.to_string()));
            }
        };
        let mut j = lock(&self.journal);
        let result = self.apply_lookup(&mut j, &entry, cl_id, read_lookup(&page, cl_id), now, next);
        if let Ok(found) = &result {
            tracing::info!(
                target: "paydesk::payouts",
                order_id = cl_id,
                result = found.word(),
                "payout checked with the gateway"
            );
        }
        result
    }

    /// Records what a lookup (or a notification, which is the same signed truth) says
    /// about one journaled payout: the one settle path.
    fn apply_lookup(
        &self,
        j: &mut Journal,
        entry: &Entry,
        cl_id: &str,
        lookup: Lookup<'_>,
        now: i64,
        next: i64,
    ) -> Result<CheckResult, PayoutError> {
        // What each check found joins the payout's attempts (a refusal is recorded with it).
        let note = |j: &mut Journal,
                    outcome: &str,
                    gateway_code: Option<String>,
                    code_meaning: Option<String>,
                    summary: String| {
            j.record_check(
                &self.merchant,
                cl_id,
                &CheckNote {
                    outcome: outcome.to_owned(),
                    gateway_code,
                    code_meaning,
                    summary,
                },
                now,
            )
        };
        // The ID is another payout's at the gateway: this request created nothing.
        let taken = |j: &mut Journal, message: String| {
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
        };
        match lookup {
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
                taken(j, message)
            }
            // Same amount, but created before this intent existed: it cannot be this
            // intent's order, whoever sent it; accepting it would show unpaid as paid.
            Lookup::Found(order)
                if entry.state != State::Accepted
                    && let Some(created) =
                        created_before(order, entry, self.client.clock_offset_ms()) =>
            {
                let message = older_order_message(cl_id, order, created);
                taken(j, message)
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
                note(
                    j,
                    "found",
                    order.status.code.map(|c| c.to_string()),
                    Some(order.status.label()),
                    format!("the gateway has the order, status {}", order.status.label()),
                )?;
                Ok(match entry.state {
                    State::Accepted if changed => CheckResult::StatusChanged,
                    State::Accepted => CheckResult::Unchanged,
                    _ => CheckResult::Found,
                })
            }
            Lookup::Unverified => {
                j.schedule_check(&self.merchant, cl_id, next, now, Recheck::Unverified)?;
                note(j, "unverified", None, None, UNVERIFIED_MEANING.to_owned())?;
                Ok(CheckResult::Unverified)
            }
            Lookup::Absent
                if matches!(entry.state, State::Unknown | State::Sending)
                    && entry.unknown_why.as_deref() != Some(EXISTS_WHY)
                    && now - entry.last_sent_at.unwrap_or(entry.created_at)
                        >= self.not_found_grace_secs =>
            {
                j.record_not_created(&self.merchant, cl_id, now)?;
                note(
                    j,
                    "not created",
                    None,
                    None,
                    "the gateway has no such order after the grace period".to_owned(),
                )?;
                Ok(CheckResult::NotCreated)
            }
            Lookup::Absent => {
                j.schedule_check(
                    &self.merchant,
                    cl_id,
                    next.min(now + self.not_found_grace_secs.max(1)),
                    now,
                    Recheck::Inconclusive,
                )?;
                note(
                    j,
                    "not found yet",
                    None,
                    None,
                    "the gateway has no such order yet".to_owned(),
                )?;
                Ok(CheckResult::StillUnknown)
            }
        }
    }

    /// Settles a journaled payout from a withdraw notification whose `sign` verified, the
    /// way a verified lookup would (status 2 is processing, never success). `None`: the
    /// notification is not signed truth, or not about a payout of this merchant's journal.
    pub fn settle_notified(&self, order: &Order) -> Result<Option<Notified>, PayoutError> {
        if order.signature.word() != "valid" || order.platform_id != self.merchant {
            return Ok(None);
        }
        let now = self.now();
        let mut j = lock(&self.journal);
        let Some(entry) = j.get(&self.merchant, &order.merchant_id)? else {
            return Ok(None);
        };
        if self.elsewhere(&entry).is_some() {
            return Ok(None);
        }
        // Notifications arrive out of order (a retry of an earlier one comes after the
        // final one): an earlier, unfinished status must not reopen a settled payout.
        if entry.state == State::Accepted && entry.is_final && !order.status.class().is_final() {
            return Ok(Some(Notified::Unchanged));
        }
        // Without an amount read as exact fen ("50000.0000001", "１２.００") nothing shows the
        // order is the one this payout asked for: it settles no payout whose outcome is not
        // known yet, and the lookups decide.
        if entry.state != State::Accepted && order.amount.is_none() {
            return Ok(Some(Notified::Unchanged));
        }
        let next = now + backoff_secs(entry.checks);
        let result = self.apply_lookup(
            &mut j,
            &entry,
            &order.merchant_id,
            Lookup::Found(order),
            now,
            next,
        )?;
        Ok(Some(match result {
            CheckResult::Found => Notified::Found,
            CheckResult::StatusChanged => Notified::StatusChanged,
            CheckResult::Taken(why) => Notified::Taken(why),
            _ => Notified::Unchanged,
        }))
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
            if let Some(origin) = entry
                .origin
                .as_ref()
                .filter(|_| self.elsewhere(&entry).is_some())
            {
                *report.other_origins.entry(origin.clone()).or_default() += 1;
                continue;
            }
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
                CheckResult::Elsewhere(why) => report.errors.push(why),
                CheckResult::Error(e) => {
                    if matches!(entry.state, State::Unknown | State::Sending) {
                        report.still_unknown += 1;
                    }
                    report.errors.push(format!("{}: {e}", entry.payout_cl_id));
                }
            }
        }
        tracing::info!(
            target: "paydesk::payouts",
            checked = report.checked,
            found = report.found,
            not_created = report.not_created,
            status_updates = report.status_updates,
            still_unknown = report.still_unknown,
            problems = report.errors.len(),
            "payouts reconciled"
        );
        Ok(report)
    }
}

/// What a verified notification did to its journaled payout.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Notified {
    /// An unknown outcome turned out to be this accepted order.
    Found,
    StatusChanged,
    Unchanged,
    /// The ID is another payout's at the gateway: this one was refused, nothing created.
    Taken(String),
}

pub(super) enum CheckResult {
    Found,
    NotCreated,
    StatusChanged,
    Unchanged,
    StillUnknown,
    Unverified,
    /// The ID is another payout's at the gateway (another amount): refused, nothing created.
    Taken(String),
    /// Sent through another gateway address: left as it is.
    Elsewhere(String),
    Error(String),
}

impl CheckResult {
    /// The result as the operations log names it.
    fn word(&self) -> &'static str {
        match self {
            CheckResult::Found => "found",
            CheckResult::NotCreated => "not-created",
            CheckResult::StatusChanged => "status-changed",
            CheckResult::Unchanged => "unchanged",
            CheckResult::StillUnknown => "still-unknown",
            CheckResult::Unverified => "unverified",
            CheckResult::Taken(_) => "id-taken",
            CheckResult::Elsewhere(_) => "elsewhere",
            CheckResult::Error(_) => "error",
        }
    }
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
