//! Likely duplicates the journal cannot see: after a restore from an older copy, payouts made
//! between the copy's newest row and the restore may be missing from the journal. While such a
//! gap lies inside the duplicate window, a new CNY payout is also compared with the payouts the
//! gateway created in it: one whose merchant order ID the journal does not know and whose
//! amount is the new payout's is held back like any likely duplicate. The gateway's orders
//! carry no account number, so the match is by amount alone; an order whose signature does not
//! verify proves nothing about its amount and is held back too.

use serde::Serialize;

use std::collections::HashMap;

use super::{
    Confirmation, DuplicateReport, DuplicateWindow, EARLIER_MAX, Earlier, HeldRow, HoldError, when,
};
use crate::domain::bulk::BulkPlan;
use crate::domain::journal::{JournalError, mask_account};
use crate::domain::payouts::{CREATED_TOLERANCE_SECS, PayoutDesk, PayoutError};
use crate::gateway::cny::wire::{MAX_LIMIT, OrderKind, OrderQuery, PayoutRequest, TimeRange};
use crate::lock_unpoisoned as lock;
use crate::money::Fen;

/// Pages read per gap at most (of [`MAX_LIMIT`] orders each): a gap with more orders than
/// this cannot be checked, and a payout is then refused rather than sent unchecked.
const MAX_PAGES: u64 = 40;

/// A payout at the gateway, created in a restore's gap, that the journal does not know.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GapOrder {
    /// The gateway's payout ID.
    pub payout_id: String,
    pub payout_cl_id: String,
    pub amount: Option<Fen>,
    pub created_at: Option<i64>,
    /// Whether its `sign` verified; an unverified order's amount is not trusted.
    pub verified: bool,
}

impl GapOrder {
    pub fn describe(&self) -> String {
        let at = self
            .created_at
            .map_or_else(|| "an unknown time".to_owned(), when);
        if self.verified {
            format!(
                "the gateway has payout {} ({}) of {} created at {at}, after the journal's restored copy; \
                 its account is not in this journal (the gateway's orders carry no account number)",
                self.payout_id,
                self.payout_cl_id,
                self.amount
                    .map_or_else(|| "an unknown amount".to_owned(), |a| a.to_string()),
            )
        } else {
            format!(
                "the gateway has payout {} ({}) created at {at}, after the journal's restored copy, whose reply \
                 failed its signature check: its amount cannot be trusted and its account is not in this journal",
                self.payout_id, self.payout_cl_id
            )
        }
    }
}

impl PayoutDesk {
    /// The gateway's payouts created in the journal's restore gaps (as far as they lie in the
    /// window) that the journal does not know: every one when `amount` is none, else those
    /// that may be a payout of `amount` (signed ones of that amount, and every one whose
    /// signature does not verify). An error when the gateway cannot be asked: nothing may
    /// then be sent.
    async fn gap_orders(
        &self,
        amount: Option<Fen>,
        window: DuplicateWindow,
    ) -> Result<Vec<GapOrder>, PayoutError> {
        let now = self.clock.now_secs();
        let since = window.since(now);
        let gaps = lock(&self.journal).restore_gaps()?;
        let mut found = Vec::new();
        for gap in gaps {
            // The gap is on this machine's clock, the gateway's creation times on its own: the
            // range asked for is moved by the measured offset and widened by the tolerance
            // both ways. The offset is known after a first reply; if that reply shows it
            // differs from what was assumed, the gap is asked for once more.
            let mut assumed = self.client.clock_offset_ms();
            for attempt in 0..2 {
                let shift = assumed.div_euclid(1_000);
                let range = TimeRange {
                    from_secs: gap.from_secs.max(since) + shift - CREATED_TOLERANCE_SECS,
                    to_secs: gap.to_secs + shift + CREATED_TOLERANCE_SECS,
                };
                let orders = self.orders_in(range, amount, gap.from_secs).await?;
                let measured = self.client.clock_offset_ms();
                if attempt == 1 || (measured - assumed).abs() < 60_000 {
                    found.extend(orders);
                    break;
                }
                assumed = measured;
            }
        }
        Ok(found)
    }

    /// The payouts the gateway created in `range` (its clock) that the journal does not know
    /// and that may be a payout of `amount`.
    async fn orders_in(
        &self,
        range: TimeRange,
        amount: Option<Fen>,
        gap_from: i64,
    ) -> Result<Vec<GapOrder>, PayoutError> {
        let mut found = Vec::new();
        if range.from_secs > range.to_secs {
            return Ok(found);
        }
        let mut query = OrderQuery {
            limit: MAX_LIMIT,
            created: Some(range),
            ..OrderQuery::default()
        };
        for page_no in 0.. {
            if page_no == MAX_PAGES {
                return Err(PayoutError::NotAllowed(format!(
                    "the gateway created more than {} payouts after the journal's restored copy \
                     (from {}): they cannot all be compared with what is to be sent; nothing was sent",
                    MAX_PAGES * u64::from(MAX_LIMIT),
                    when(gap_from)
                )));
            }
            let page = self.client.query(OrderKind::Payout, &query).await?;
            let got = page.orders.len();
            for o in &page.orders {
                let verified = o.signature.word() == "valid";
                let other_amount = verified && amount.is_some_and(|a| o.amount != Some(a));
                if other_amount
                    || lock(&self.journal).knows_payout(&self.merchant, &o.merchant_id)?
                {
                    continue;
                }
                found.push(GapOrder {
                    payout_id: o.system_id.clone(),
                    payout_cl_id: o.merchant_id.clone(),
                    amount: o.amount,
                    created_at: o.create_time_secs,
                    verified,
                });
            }
            query.offset += got as u64;
            if got < MAX_LIMIT as usize || query.offset >= page.total {
                break;
            }
        }
        Ok(found)
    }

    /// The gateway's payouts made after the journal's restored copy that may be a payout of
    /// `amount` (see the module's rule).
    pub async fn gap_duplicates(
        &self,
        amount: Fen,
        window: DuplicateWindow,
    ) -> Result<Vec<GapOrder>, PayoutError> {
        self.gap_orders(Some(amount), window).await
    }

    /// The likely duplicates of one payout, as its send will find them: the journal's, and the
    /// gateway's payouts made after the journal's restored copy. A review shows these, so that
    /// a payout the send would hold back can be confirmed by name before it is sent; a review
    /// of the journal alone says "no likely duplicate" and the send then refuses, again and
    /// again. An error when the gateway cannot be asked.
    pub async fn review_duplicates(
        &self,
        request: &PayoutRequest,
        window: DuplicateWindow,
        confirm: &Confirmation,
    ) -> Result<DuplicateReport, PayoutError> {
        let at_gateway = self.gap_duplicates(request.amount, window).await?;
        let mut report = self.duplicates_of(request, window, confirm)?;
        hold(&mut report, request, at_gateway, confirm);
        Ok(report)
    }

    /// The likely duplicates of the rows of a checked file, as its send will find them (see
    /// [`PayoutDesk::review_duplicates`]).
    pub async fn review_plan_duplicates(
        &self,
        plan: &BulkPlan,
        window: DuplicateWindow,
        confirm: &Confirmation,
    ) -> Result<DuplicateReport, PayoutError> {
        let orders = self.gap_orders(None, window).await?;
        let mut report = self.duplicates_of_plan(plan, window, confirm)?;
        self.hold_plan_rows(plan, orders, confirm, &mut report)?;
        Ok(report)
    }

    /// [`PayoutDesk::enqueue_import_unless_duplicate`], and the rows of the file are also
    /// compared with the gateway's payouts made after the journal's restored copy: a row of
    /// the same amount (or any row, for an order whose signature does not verify) is held
    /// back until confirmed by name. Rows already in the journal are being resumed.
    pub async fn enqueue_plan_unless_duplicate(
        &self,
        plan: &BulkPlan,
        window: DuplicateWindow,
        confirm: &Confirmation,
    ) -> Result<(usize, DuplicateReport), HoldError<PayoutError>> {
        // Asked before the lock is taken: the gateway may be slow.
        let orders = self.gap_orders(None, window).await?;
        // No other Paydesk records between this check and this record.
        let _held = self.recording_lock()?;
        let mut report = self.duplicates_of_plan(plan, window, confirm)?;
        self.hold_plan_rows(plan, orders, confirm, &mut report)?;
        if !report.is_clear() {
            return Err(HoldError::Held(Box::new(report)));
        }
        self.audit_confirmations(&report)?;
        let added = self.enqueue_import(plan)?;
        Ok((added, report))
    }

    /// Holds back the rows of `plan` that the gateway's `orders` (made in a restore's gap) may
    /// be: the same amount, or any amount for an order whose signature does not verify. Rows
    /// already in the journal are being resumed and are not held.
    fn hold_plan_rows(
        &self,
        plan: &BulkPlan,
        orders: Vec<GapOrder>,
        confirm: &Confirmation,
        report: &mut DuplicateReport,
    ) -> Result<(), PayoutError> {
        if orders.is_empty() {
            return Ok(());
        }
        let mut by_amount: HashMap<Option<Fen>, Vec<GapOrder>> = HashMap::new();
        let mut unverified = Vec::new();
        for o in orders {
            if o.verified {
                by_amount.entry(o.amount).or_default().push(o);
            } else {
                unverified.push(o);
            }
        }
        let mut failure = None;
        let journal = lock(&self.journal);
        plan.for_each_row(|row, r| {
            if failure.is_some() {
                return;
            }
            let matches: Vec<GapOrder> = by_amount
                .get(&Some(r.amount))
                .into_iter()
                .flatten()
                .chain(&unverified)
                // The gateway's order under this row's own ID is this row, sent before.
                .filter(|o| o.payout_cl_id != r.payout_cl_id)
                .cloned()
                .collect();
            if matches.is_empty() {
                return;
            }
            match journal.knows_payout(&self.merchant, &r.payout_cl_id) {
                Ok(true) => {}
                Ok(false) => hold_row(
                    report,
                    Some(row),
                    r,
                    matches,
                    confirm.confirms(&r.payout_cl_id),
                ),
                Err(e) => failure = Some(e),
            }
        })
        .map_err(|e| PayoutError::from(JournalError::Corrupt(format!("the file changed: {e}"))))?;
        drop(journal);
        report.settle(confirm);
        match failure {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

/// Adds the gateway's `orders` to the report as matches of the one payout `request`.
pub(super) fn hold(
    report: &mut DuplicateReport,
    request: &PayoutRequest,
    orders: Vec<GapOrder>,
    confirm: &Confirmation,
) {
    // The gateway's order under this payout's own ID is this payout, sent before.
    let orders = orders
        .into_iter()
        .filter(|o| o.payout_cl_id != request.payout_cl_id)
        .collect();
    hold_row(
        report,
        None,
        request,
        orders,
        confirm.confirms(&request.payout_cl_id),
    );
    report.settle(confirm);
}

/// Adds the gateway's `orders` to the report as matches of `request` (row `row` of a file).
fn hold_row(
    report: &mut DuplicateReport,
    row: Option<usize>,
    request: &PayoutRequest,
    orders: Vec<GapOrder>,
    confirmed: bool,
) {
    if orders.is_empty() {
        return;
    }
    let earlier = orders.into_iter().map(Earlier::Gateway);
    if let Some(held) = report
        .held
        .iter_mut()
        .find(|h| h.id == request.payout_cl_id)
    {
        for e in earlier {
            if held.earlier.len() < EARLIER_MAX {
                held.earlier.push(e);
            } else {
                held.more_earlier += 1;
            }
        }
        return;
    }
    let mut all: Vec<Earlier> = earlier.collect();
    let more_earlier = all.len().saturating_sub(EARLIER_MAX);
    all.truncate(EARLIER_MAX);
    report.push(HeldRow {
        row,
        id: request.payout_cl_id.clone(),
        what: format!("{} to {}", request.amount, mask_account(&request.number)),
        earlier: all,
        more_earlier,
        unseen: Vec::new(),
        unseen_more: false,
        confirmed,
    });
}
