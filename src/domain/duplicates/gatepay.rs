//! The GatePay matcher: sub-orders of a batch against earlier batches, by
//! `merchant_withdraw_id` and by destination (currency, address, amount).

use std::collections::HashMap;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use super::{
    Confirmation, DuplicateReport, DuplicateWindow, EARLIER_MAX, Earlier, EarlierSubOrder, HeldRow,
    HoldError,
};
use crate::domain::batches::store::SubOrderSeen;
use crate::domain::batches::{BatchDesk, BatchError, SentBatch};
use crate::domain::journal::{JournalError, State};
use crate::gateway::gatepay::wire::{BatchRequest, WithdrawItem};
use crate::lock_unpoisoned as lock;
use crate::money::CryptoAmount;

/// A sub-order as a held row names it: `12.5 USDT to 0xabc… (ETH)`.
pub(super) fn sub_order_text(item: &WithdrawItem) -> String {
    format!(
        "{} {} to {} ({})",
        item.amount,
        item.currency.trim().to_uppercase(),
        item.address.trim(),
        item.chain.trim()
    )
}

/// An address as compared: trimmed, and a hex address (`0x…`, as on Ethereum and the chains
/// like it) in lower case, since its letter case is only a checksum: `0xAbC…` and `0xabc…`
/// are one account. Other addresses (Tron's base58) keep their case, which matters there.
pub(super) fn address_key(address: &str) -> String {
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
    /// earlier batch, the address, currency and amount of a sub-order of an earlier batch
    /// created within the window, or of an earlier sub-order of this batch. Refused batches
    /// and the batch itself (when resumed) do not count.
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
            // No ID is no match: two sub-orders without one are not the same sub-order.
            let id = item.merchant_withdraw_id.trim();
            if !id.is_empty() {
                by_id.insert(id, i);
            }
            by_destination
                .entry(destination_key(&item.currency, &item.address, item.amount))
                .or_default()
                .push(i);
        }
        // Only the matched sub-orders: (their matches, further matches counted).
        let mut found: HashMap<usize, (Vec<Earlier>, usize)> = HashMap::new();
        let mut visit = |seen: SubOrderSeen| -> Result<(), JournalError> {
            let same_id = by_id.get(seen.merchant_withdraw_id.trim()).copied();
            let mut targets: Vec<usize> = Vec::new();
            if seen.created_at >= since
                && let Ok(a) = CryptoAmount::parse_wire(&seen.amount)
                && let Some(candidates) =
                    by_destination.get(&destination_key(&seen.currency, &seen.address, a))
            {
                targets.extend(candidates.iter().copied().filter(|i| {
                    let item = &items[*i];
                    item.amount == a
                        && address_key(&item.address) == address_key(&seen.address)
                        && item
                            .currency
                            .trim()
                            .eq_ignore_ascii_case(seen.currency.trim())
                }));
            }
            if same_id.is_none() && targets.is_empty() {
                return Ok(());
            }
            let earlier = EarlierSubOrder {
                batch_state: State::parse(&seen.state).ok_or_else(|| {
                    JournalError::Corrupt(format!("unknown state {}", seen.state))
                })?,
                batch_id: seen.batch_id,
                batch_status: seen.batch_status,
                created_at: seen.created_at,
                merchant_withdraw_id: seen.merchant_withdraw_id,
                currency: seen.currency,
                amount: seen.amount,
                address: seen.address,
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
            Ok(())
        };
        lock(&self.journal).visit_batch_suborders(
            &self.merchant,
            request.batch_id.trim(),
            &mut visit,
        )?;
        // A sub-order repeated in the batch itself (same destination, another withdraw ID) is
        // held like a repeated row of a CNY file.
        for group in by_destination.values().filter(|g| g.len() > 1) {
            for (k, &i) in group.iter().enumerate() {
                let item = &items[i];
                let first = group[..k].iter().copied().find(|&j| {
                    let other = &items[j];
                    other.amount == item.amount
                        && address_key(&other.address) == address_key(&item.address)
                        && other
                            .currency
                            .trim()
                            .eq_ignore_ascii_case(item.currency.trim())
                });
                if let Some(j) = first {
                    let (list, more) = found.entry(i).or_default();
                    if list.len() < EARLIER_MAX {
                        list.push(Earlier::SameFile {
                            row: j + 1,
                            id: items[j].merchant_withdraw_id.trim().to_owned(),
                        });
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
                what: sub_order_text(item),
                earlier,
                more_earlier: more,
                unseen: Vec::new(),
                unseen_more: false,
            });
        }
        report.settle(confirm);
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
        // Asked before the lock is taken: GatePay may be slow.
        let gap = self.gap_suborders(window).await?;
        // No other Paydesk records between this check and this record.
        let target = lock(&self.journal).recording_target();
        let held = target.lock().map_err(BatchError::from)?;
        let mut report = self.duplicates_of_batch(request, window, confirm)?;
        super::gatepay_gap::hold_gap_suborders(request, &gap, confirm, &mut report);
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
