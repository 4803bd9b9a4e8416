//! GatePay sub-orders the journal cannot see: after a restore from an older copy, batches
//! sent between the copy's newest row and the restore may be missing from the journal. While
//! such a gap lies inside the duplicate window, a new batch's sub-orders are also compared
//! with the sub-orders GatePay created in it (its search by time): one of a batch the journal
//! does not know, with the same merchant withdraw ID, or the same address, currency and
//! amount, holds the sub-order back like any likely duplicate.

use super::gatepay::{address_key, sub_order_text};
use super::{
    Confirmation, DuplicateReport, DuplicateWindow, EARLIER_MAX, Earlier, EarlierSubOrder, HeldRow,
};
use crate::domain::batches::{BatchDesk, BatchError};
use crate::domain::journal::State;
use crate::gateway::gatepay::search::FoundSubOrder;
use crate::gateway::gatepay::wire::BatchRequest;
use crate::lock_unpoisoned as lock;

impl BatchDesk {
    /// The sub-orders GatePay created in the journal's restore gaps (as far as they lie in
    /// the window) whose batch the journal does not know. An error when GatePay cannot be
    /// asked: nothing may then be sent.
    pub async fn gap_suborders(
        &self,
        window: DuplicateWindow,
    ) -> Result<Vec<FoundSubOrder>, BatchError> {
        let since = window.since(self.clock.now_secs());
        let gaps = lock(&self.journal).restore_gaps()?;
        let mut found = Vec::new();
        for gap in gaps {
            let from = gap.from_secs.max(since);
            if from > gap.to_secs {
                continue;
            }
            let subs = self
                .client
                .search_suborders(
                    from.saturating_mul(1000),
                    gap.to_secs.saturating_mul(1000).saturating_add(999),
                    None,
                    None,
                )
                .await?;
            for s in subs {
                if lock(&self.journal)
                    .get_batch(&self.merchant, &s.batch_id)?
                    .is_none()
                {
                    found.push(s);
                }
            }
        }
        Ok(found)
    }

    /// The likely duplicates of a batch as its send finds them: the journal's, and GatePay's
    /// sub-orders made after the journal's restored copy. An error when GatePay cannot be
    /// asked.
    pub async fn review_batch_duplicates(
        &self,
        request: &BatchRequest,
        window: DuplicateWindow,
        confirm: &Confirmation,
    ) -> Result<DuplicateReport, BatchError> {
        let gap = self.gap_suborders(window).await?;
        let mut report = self.duplicates_of_batch(request, window, confirm)?;
        hold_gap_suborders(request, &gap, confirm, &mut report);
        Ok(report)
    }
}

/// Adds GatePay's sub-orders `gap` (made in a restore's gap, of batches the journal does not
/// know) to the report as matches of the batch's sub-orders.
pub(super) fn hold_gap_suborders(
    request: &BatchRequest,
    gap: &[FoundSubOrder],
    confirm: &Confirmation,
    report: &mut DuplicateReport,
) {
    for (i, item) in request.withdraw_list.iter().enumerate() {
        let id = item.merchant_withdraw_id.trim();
        let earlier: Vec<Earlier> = gap
            .iter()
            .filter(|f| f.batch_id != request.batch_id.trim())
            .filter_map(|f| {
                let s = &f.sub;
                let same_id = s.merchant_withdraw_id.trim() == id;
                let same_destination = s.amount == Some(item.amount)
                    && address_key(&s.address) == address_key(&item.address)
                    && s.currency.trim().eq_ignore_ascii_case(item.currency.trim());
                (same_id || same_destination).then(|| {
                    Earlier::Batch(EarlierSubOrder {
                        batch_id: f.batch_id.clone(),
                        batch_state: State::Accepted,
                        batch_status: Some(format!(
                            "{}, found at GatePay and not in this journal (made after its restored copy)",
                            s.status.as_str()
                        )),
                        created_at: s.create_time_ms.map_or(0, |ms| ms.div_euclid(1000)),
                        merchant_withdraw_id: s.merchant_withdraw_id.clone(),
                        currency: s.currency.clone(),
                        amount: s.amount.map(|a| a.to_string()).unwrap_or_default(),
                        address: s.address.clone(),
                        same_id,
                    })
                })
            })
            .collect();
        if earlier.is_empty() {
            continue;
        }
        if let Some(held) = report.held.iter_mut().find(|h| h.id == id) {
            for e in earlier {
                if held.earlier.len() < EARLIER_MAX {
                    held.earlier.push(e);
                } else {
                    held.more_earlier += 1;
                }
            }
            continue;
        }
        let more_earlier = earlier.len().saturating_sub(EARLIER_MAX);
        let mut earlier = earlier;
        earlier.truncate(EARLIER_MAX);
        report.push(HeldRow {
            row: Some(i + 1),
            confirmed: confirm.confirms(id),
            id: id.to_owned(),
            what: sub_order_text(item),
            earlier,
            more_earlier,
            unseen: Vec::new(),
            unseen_more: false,
        });
    }
    report.settle(confirm);
}
