//! Typed cells of an export row, and the guard that keeps a hostile text from running as a
//! spreadsheet formula.

use crate::gateway::cny::wire::Order;
use crate::gateway::gatepay::search::FoundSubOrder;
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
    columns.iter().map(|c| sub_order_cell(sub, c)).collect()
}

/// The cells of a sub-order found by date: its batch and audit status, which a batch's own
/// rows do not need, then the sub-order's columns.
pub fn found_sub_order_cells(found: &FoundSubOrder, columns: &[String]) -> Vec<Cell> {
    let audit = found.audit_status.as_ref();
    columns
        .iter()
        .map(|c| match c.as_str() {
            "batch_id" => text(&found.batch_id),
            "audit_status" => audit.map_or(Cell::Empty, |a| text(a.as_str())),
            "audit_meaning" => audit.map_or(Cell::Empty, |a| text(a.meaning())),
            other => sub_order_cell(&found.sub, other),
        })
        .collect()
}

fn sub_order_cell(sub: &SubOrder, column: &str) -> Cell {
    let crypto = |a: Option<CryptoAmount>| a.map_or(Cell::Empty, Cell::Crypto);
    let time = |t: Option<i64>| t.map_or(Cell::Empty, Cell::Time);
    match column {
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
    }
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

    #[test]
    fn a_sub_order_found_by_date_exports_its_batch_and_audit_first() {
        use crate::domain::export::{AmountUnit, ExportFormat, ExportKind, Layout};
        use crate::gateway::gatepay::AuditStatus;

        let raw = serde_json::json!({"suborder_id": "7", "merchant_withdraw_id": "m7",
            "currency": "USDT", "amount": "2362.1", "status": "CHECK", "create_time": 0});
        let serde_json::Value::Object(raw) = raw else {
            unreachable!()
        };
        let found = FoundSubOrder {
            batch_id: "B_42".to_owned(),
            audit_status: Some(AuditStatus::AuditSuccess),
            sub: SubOrder::from_raw(raw),
        };
        let kind = ExportKind::SubOrdersByDate;
        let layout = Layout {
            kind,
            format: ExportFormat::Csv,
            columns: kind.default_columns(),
            tz: jiff::tz::TimeZone::UTC,
            tz_name: "UTC".to_owned(),
            unit: AmountUnit::Yuan,
        };
        let headers = layout.headers();
        assert_eq!(
            headers[..4],
            [
                "Batch ID",
                "Audit status",
                "Audit meaning",
                "Merchant withdraw ID"
            ]
        );
        let row: Vec<String> = found_sub_order_cells(&found, &layout.columns)
            .iter()
            .map(|c| layout.csv_text(c))
            .collect();
        assert_eq!(
            row[..5],
            ["B_42", "AUDIT_SUCCESS", "audit passed", "m7", "7"]
        );
        let amount = layout.columns.iter().position(|c| c == "amount").unwrap();
        assert_eq!(row[amount], "2362.1");
        assert_eq!(
            headers[amount], "Amount",
            "a crypto amount names no CNY unit"
        );
        assert_eq!(kind.gateway(), "gatepay");
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            serde_json::json!("sub-orders-by-date")
        );
    }
}
