//! What an operator reads off a GatePay batch: totals per status and currency, sub-orders
//! stuck in CHECK or PROCESSING, and a fresh batch ID.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::gateway::gatepay::wire::{DetailStatus, SubOrder, SubOrderStatus, WithdrawItem};
use crate::money::CryptoAmount;

/// Sub-orders in CHECK or PROCESSING longer than this are flagged as stuck.
pub const DEFAULT_STUCK_MINUTES: i64 = 30;

/// Whether a sub-order has sat in CHECK or PROCESSING for longer than `threshold_ms`
/// (measured from its last update, the moment it entered that status).
pub fn is_stuck(sub: &SubOrder, now_ms: i64, threshold_ms: i64) -> bool {
    matches!(
        sub.status,
        SubOrderStatus::Check | SubOrderStatus::Processing
    ) && sub
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
    pub status: SubOrderStatus,
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
    let order = |status: &SubOrderStatus| {
        DetailStatus::ALL_VALUES
            .iter()
            .position(|d| d.as_str() == status.as_str())
            .unwrap_or(usize::MAX)
    };
    let mut map: BTreeMap<(usize, String, String), StatusTotal> = BTreeMap::new();
    for s in list {
        let t = map
            .entry((order(&s.status), s.status.to_string(), s.currency.clone()))
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
    crate::domain::payouts::new_payout_cl_id()
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
                    t.status.to_string(),
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
}
