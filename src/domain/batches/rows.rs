//! Typed rows to a GatePay batch, one algorithm for a file's rows and the console's form:
//! each cell read as the gateway wants it, then the whole batch checked, and every problem
//! reported once by row and field.

use super::super::bulk::RowError;
use crate::gateway::gatepay::wire::{BatchRequest, WithdrawItem};
use crate::money::CryptoAmount;

/// One sub-order as typed: text, as it came from a cell or a form field.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TypedRow {
    /// The row's number in messages: the file's row, or the form's (1-based).
    pub row: usize,
    pub merchant_withdraw_id: String,
    pub currency: String,
    pub amount: String,
    pub chain: String,
    pub address: String,
    pub memo: String,
    /// `0` or blank: the fee is inside the amount; `1`: the fee comes from the balance.
    pub fee_type: String,
    /// Fields whose cell was refused already: their placeholder is not reported again.
    pub failed: Vec<&'static str>,
}

impl TypedRow {
    /// A checked sub-order as text again, for editing.
    pub fn of_item(row: usize, item: &WithdrawItem) -> TypedRow {
        TypedRow {
            row,
            merchant_withdraw_id: item.merchant_withdraw_id.clone(),
            currency: item.currency.clone(),
            amount: item.amount.to_string(),
            chain: item.chain.clone(),
            address: item.address.clone(),
            memo: item.memo.clone(),
            fee_type: item.fee_type.to_string(),
            failed: Vec::new(),
        }
    }

    /// Whether the fee comes from the balance (`fee_type` 1) rather than the amount.
    pub fn fee_from_balance(&self) -> bool {
        self.fee_type.trim() == "1"
    }
}

/// The batch the rows make, with every problem (row 0 is the batch itself). The request is
/// returned even with problems, so a caller can show what it understood.
pub fn batch_from_rows(batch_id: &str, rows: Vec<TypedRow>) -> (BatchRequest, Vec<RowError>) {
    let mut errors = Vec::new();
    let mut items = Vec::with_capacity(rows.len());
    let mut located = Vec::with_capacity(rows.len());
    for mut r in rows {
        let amount = if r.failed.contains(&"amount") {
            Ok(CryptoAmount::ZERO)
        } else {
            CryptoAmount::parse_payout(&r.amount).map_err(|e| e.to_string())
        };
        let fee_type = match r.fee_type.trim() {
            "" | "0" => Ok(0),
            "1" => Ok(1),
            _ if r.failed.contains(&"fee_type") => Ok(0),
            other => Err(format!(
                "'{other}' is not 0 (fee inside the amount) or 1 (fee from the balance)"
            )),
        };
        let mut refuse = |field: &'static str, message: String| {
            errors.push(RowError {
                row: r.row,
                column: field.into(),
                message,
            });
            r.failed.push(field);
        };
        let amount = amount.unwrap_or_else(|m| {
            refuse("amount", m);
            CryptoAmount::ZERO
        });
        let fee_type = fee_type.unwrap_or_else(|m| {
            refuse("fee_type", m);
            0
        });
        items.push(WithdrawItem {
            merchant_withdraw_id: r.merchant_withdraw_id.trim().to_owned(),
            currency: r.currency.trim().to_uppercase(),
            amount,
            chain: r.chain.trim().to_uppercase(),
            address: r.address.trim().to_owned(),
            memo: r.memo,
            fee_type,
        });
        located.push((r.row, r.failed));
    }
    let request = BatchRequest {
        batch_id: batch_id.trim().to_owned(),
        withdraw_list: items,
        channel_id: None,
    };
    for e in request.validate() {
        let (row, failed) = match e.row.checked_sub(1).and_then(|i| located.get(i)) {
            Some((row, failed)) => (*row, &failed[..]),
            None => (0, &[][..]),
        };
        if !failed.contains(&e.field) {
            errors.push(RowError {
                row,
                column: e.field.into(),
                message: e.reason,
            });
        }
    }
    (request, errors)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(row: usize, amount: &str, fee_type: &str) -> TypedRow {
        TypedRow {
            row,
            merchant_withdraw_id: format!(" w{row} "),
            currency: "usdt".into(),
            amount: amount.into(),
            chain: " trx".into(),
            address: "TXyz ".into(),
            fee_type: fee_type.into(),
            ..TypedRow::default()
        }
    }

    #[test]
    fn rows_are_read_as_the_gateway_wants_and_each_problem_is_told_once() {
        let (request, errors) = batch_from_rows(" B_1 ", vec![row(2, "10.5", "1")]);
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(request.batch_id, "B_1");
        let item = &request.withdraw_list[0];
        assert_eq!(
            (
                &item.merchant_withdraw_id[..],
                &item.currency[..],
                &item.chain[..]
            ),
            ("w2", "USDT", "TRX")
        );
        assert_eq!((&item.address[..], item.fee_type), ("TXyz", 1));

        let mut refused = row(3, "", "0");
        refused.failed.push("amount");
        let (_, errors) = batch_from_rows(
            "B_1",
            vec![row(2, "abc", "2"), refused, row(4, "0.1234567", "")],
        );
        let text: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(
            text,
            [
                "row 2, amount: unexpected character 'a'",
                "row 2, fee_type: '2' is not 0 (fee inside the amount) or 1 (fee from the balance)",
                "row 4, amount: at most 6 decimal places are allowed (found 7)",
            ]
        );
        let (_, errors) = batch_from_rows("bad id!", vec![row(1, "1", "0")]);
        assert_eq!(errors[0].row, 0);
        assert_eq!(errors[0].column, "batch_id");
    }
}
