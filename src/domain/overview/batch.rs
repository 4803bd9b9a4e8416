//! A GatePay batch's totals per currency and status, for its chart and its CSV: the exact
//! decimals of [`status_totals`](crate::domain::batches::status_totals), never rounded.

use super::csv_text::line;
use crate::domain::batches::StatusTotal;

/// The currencies of the totals, each once, in the order first met.
pub fn batch_currencies(totals: &[StatusTotal]) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    for t in totals {
        if !seen.contains(&t.currency) {
            seen.push(t.currency.clone());
        }
    }
    seen
}

/// One line per currency and status: the count and the exact amounts as GatePay sent them.
pub fn batch_csv(batch_id: &str, totals: &[StatusTotal]) -> String {
    let mut out = String::new();
    line(
        &mut out,
        &[
            "batch_id",
            "currency",
            "status",
            "sub_orders",
            "amount",
            "fee",
            "done_amount",
            "unreadable",
        ],
    );
    for currency in batch_currencies(totals) {
        for t in totals.iter().filter(|t| t.currency == currency) {
            line(
                &mut out,
                &[
                    batch_id,
                    &t.currency,
                    t.status.as_str(),
                    &t.count.to_string(),
                    &t.amount.to_string(),
                    &t.fee.to_string(),
                    &t.done_amount.to_string(),
                    &t.unreadable.to_string(),
                ],
            );
        }
    }
    out
}
