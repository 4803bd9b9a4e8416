//! Typed cells of an export row, and the guard that keeps a hostile text from running as a
//! spreadsheet formula.

use crate::gateway::cny::wire::Order;
use crate::gateway::gatepay::wire::SubOrder;
use crate::money::{CryptoAmount, Fen};

/// One cell, typed, so each format writes it properly.
#[derive(Clone, Debug, PartialEq)]
pub enum Cell {
    Text(String),
    Int(i64),
    Cny(Fen),
    Crypto(CryptoAmount),
    /// Unix milliseconds.
    Time(i64),
    Empty,
}

fn text(s: &str) -> Cell {
    Cell::Text(s.to_owned())
}

/// The cells of a CNY order for the chosen columns.
pub fn order_cells(order: &Order, columns: &[String]) -> Vec<Cell> {
    columns
        .iter()
        .map(|c| match c.as_str() {
            "system_id" => text(&order.system_id),
            "merchant_id" => text(&order.merchant_id),
            "created" => order
                .create_time_secs
                .map_or(Cell::Empty, |t| Cell::Time(t * 1000)),
            "updated" => order
                .update_time_secs
                .map_or(Cell::Empty, |t| Cell::Time(t * 1000)),
            "depositor" => text(order.depositor_name.as_deref().unwrap_or("")),
            "amount" => order.amount.map_or(Cell::Empty, Cell::Cny),
            "real_amount" => order.real_amount.map_or(Cell::Empty, Cell::Cny),
            "fee" => order.fee.map_or(Cell::Empty, Cell::Cny),
            "status" => Cell::Text(order.status.label()),
            "status_code" => order.status.code.map_or(Cell::Empty, Cell::Int),
            "channel" => text(&order.channel_id),
            "memo" => text(&order.memo),
            "signature" => text(order.signature.word()),
            _ => Cell::Empty,
        })
        .collect()
}

/// The cells of a GatePay sub-order for the chosen columns.
pub fn sub_order_cells(sub: &SubOrder, columns: &[String]) -> Vec<Cell> {
    let crypto = |a: Option<CryptoAmount>| a.map_or(Cell::Empty, Cell::Crypto);
    let time = |t: Option<i64>| t.map_or(Cell::Empty, Cell::Time);
    columns
        .iter()
        .map(|c| match c.as_str() {
            "merchant_withdraw_id" => text(&sub.merchant_withdraw_id),
            "suborder_id" => text(&sub.suborder_id),
            "currency" => text(&sub.currency),
            "chain" => text(&sub.chain),
            "address" => text(&sub.address),
            "memo" => text(&sub.memo),
            "amount" => crypto(sub.amount),
            "fee" => crypto(sub.fee),
            "done_amount" => crypto(sub.done_amount),
            "status" => text(sub.status.as_str()),
            "tx_id" => text(&sub.tx_id),
            "err_msg" => text(&sub.err_msg),
            "created" => time(sub.create_time_ms),
            "updated" => time(sub.update_time_ms),
            "finished" => time(sub.finish_time_ms),
            _ => Cell::Empty,
        })
        .collect()
}

/// Whether a spreadsheet would read this text as a formula (or it starts with a control
/// character that some spreadsheets strip before reading it as one).
pub fn looks_like_formula(text: &str) -> bool {
    text.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// For CSV, which has no cell types: a text that looks like a formula gets a leading `'`,
/// so a hostile name is shown, never run. (XLSX keeps the exact text in a string cell marked
/// as typed text instead: see `write_xlsx`.)
pub fn neutralize(text: &str) -> std::borrow::Cow<'_, str> {
    if looks_like_formula(text) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised() {
        for hostile in ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"] {
            assert!(neutralize(hostile).starts_with('\''), "{hostile:?}");
        }
        assert_eq!(neutralize("张三"), "张三");
        assert_eq!(neutralize(""), "");
    }
}
