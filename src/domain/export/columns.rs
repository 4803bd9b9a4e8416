//! What an export can hold: its formats, the columns of each kind of row and how headers,
//! times and CNY amounts are laid out.

use std::path::Path;

use jiff::tz::TimeZone;
use serde::Serialize;

use crate::gateway::cny::wire::OrderKind;
use crate::money::Fen;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Csv,
    Xlsx,
    Jsonl,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 3] = [ExportFormat::Csv, ExportFormat::Xlsx, ExportFormat::Jsonl];

    pub fn extension(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Xlsx => "xlsx",
            ExportFormat::Jsonl => "jsonl",
        }
    }

    pub fn parse(text: &str) -> Option<ExportFormat> {
        match text.trim().to_lowercase().as_str() {
            "csv" => Some(ExportFormat::Csv),
            "xlsx" => Some(ExportFormat::Xlsx),
            "jsonl" | "ndjson" => Some(ExportFormat::Jsonl),
            _ => None,
        }
    }

    /// The format a file name asks for by its extension.
    pub fn from_path(path: &Path) -> Option<ExportFormat> {
        ExportFormat::parse(path.extension()?.to_str()?)
    }
}

/// How CNY amounts are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AmountUnit {
    #[default]
    Yuan,
    Fen,
}

impl AmountUnit {
    /// `yuan` or `fen`, as an operator types it.
    pub fn parse(text: &str) -> Option<AmountUnit> {
        match text {
            "yuan" => Some(AmountUnit::Yuan),
            "fen" => Some(AmountUnit::Fen),
            _ => None,
        }
    }
}

/// What a list of rows is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ExportKind {
    Deposits,
    Payouts,
    BatchSubOrders,
    /// Sub-orders found by creation date, across batches: each names its batch.
    SubOrdersByDate,
}

/// A column: its key and its header.
type ColumnName = (&'static str, &'static str);

const DEPOSIT_COLUMNS: [ColumnName; 13] = [
    ("system_id", "System order ID"),
    ("merchant_id", "Merchant order ID"),
    ("created", "Created"),
    ("updated", "Updated"),
    ("depositor", "Depositor"),
    ("amount", "Amount"),
    ("real_amount", "Real amount"),
    ("fee", "Fee"),
    ("status", "Status"),
    ("status_code", "Status code"),
    ("channel", "Channel"),
    ("memo", "Memo"),
    ("signature", "Signature"),
];

/// A payout has every column of a deposit but the depositor.
const PAYOUT_COLUMNS: [ColumnName; 12] = without_column(DEPOSIT_COLUMNS, "depositor");

const SUB_ORDER_COLUMNS: [ColumnName; 15] = [
    ("merchant_withdraw_id", "Merchant withdraw ID"),
    ("suborder_id", "Sub-order ID"),
    ("currency", "Currency"),
    ("chain", "Chain"),
    ("address", "Address"),
    ("memo", "Memo"),
    ("amount", "Amount"),
    ("fee", "Fee"),
    ("done_amount", "Done amount"),
    ("status", "Status"),
    ("tx_id", "Tx ID"),
    ("err_msg", "Error"),
    ("created", "Created"),
    ("updated", "Updated"),
    ("finished", "Finished"),
];

/// A sub-order found by date is looked for without its batch: the batch and the audit come
/// first, then every column of a batch's sub-order.
const FOUND_SUB_ORDER_COLUMNS: [ColumnName; 18] = {
    let mut out = [("", ""); 18];
    out[0] = ("batch_id", "Batch ID");
    out[1] = ("audit_status", "Audit status");
    out[2] = ("audit_meaning", "Audit meaning");
    let mut i = 0;
    while i < SUB_ORDER_COLUMNS.len() {
        out[i + 3] = SUB_ORDER_COLUMNS[i];
        i += 1;
    }
    out
};

const fn without_column<const N: usize, const M: usize>(
    all: [ColumnName; N],
    key: &str,
) -> [ColumnName; M] {
    let mut out = [("", ""); M];
    let (mut i, mut j) = (0, 0);
    while i < N {
        if !all[i].0.eq_ignore_ascii_case(key) {
            out[j] = all[i];
            j += 1;
        }
        i += 1;
    }
    out
}

impl ExportKind {
    /// The gateway whose rows these are, as a manifest names it.
    pub fn gateway(self) -> &'static str {
        match self {
            ExportKind::Deposits | ExportKind::Payouts => "cny",
            ExportKind::BatchSubOrders | ExportKind::SubOrdersByDate => "gatepay",
        }
    }

    /// The CNY order kind these rows are; `None` for GatePay sub-orders.
    pub fn order_kind(self) -> Option<OrderKind> {
        match self {
            ExportKind::Deposits => Some(OrderKind::Deposit),
            ExportKind::Payouts => Some(OrderKind::Payout),
            ExportKind::BatchSubOrders | ExportKind::SubOrdersByDate => None,
        }
    }

    pub fn of(kind: OrderKind) -> ExportKind {
        match kind {
            OrderKind::Deposit => ExportKind::Deposits,
            OrderKind::Payout => ExportKind::Payouts,
        }
    }

    /// Every column this kind offers, in the default order: (key, header).
    pub fn columns(self) -> &'static [(&'static str, &'static str)] {
        match self {
            ExportKind::Deposits => &DEPOSIT_COLUMNS,
            ExportKind::Payouts => &PAYOUT_COLUMNS,
            ExportKind::BatchSubOrders => &SUB_ORDER_COLUMNS,
            ExportKind::SubOrdersByDate => &FOUND_SUB_ORDER_COLUMNS,
        }
    }

    pub fn default_columns(self) -> Vec<String> {
        self.columns()
            .iter()
            .map(|(k, _)| (*k).to_owned())
            .collect()
    }

    /// Checks and orders a list of column keys (`a,b,c`).
    pub fn parse_columns(self, text: &str) -> Result<Vec<String>, String> {
        let mut out = Vec::new();
        for key in text.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            if !self.columns().iter().any(|(k, _)| *k == key) {
                return Err(format!(
                    "'{key}' is not a column; the columns are {}",
                    self.columns()
                        .iter()
                        .map(|(k, _)| *k)
                        .collect::<Vec<_>>()
                        .join(",")
                ));
            }
            if !out.iter().any(|k| k == key) {
                out.push(key.to_owned());
            }
        }
        if out.is_empty() {
            return Err("choose at least one column".to_owned());
        }
        Ok(out)
    }

    pub(super) fn header(self, key: &str) -> &'static str {
        self.columns()
            .iter()
            .find(|(k, _)| *k == key)
            .map_or("", |(_, h)| *h)
    }
}

/// How the file is laid out.
#[derive(Clone, Debug)]
pub struct Layout {
    pub kind: ExportKind,
    pub format: ExportFormat,
    pub columns: Vec<String>,
    pub tz: TimeZone,
    pub tz_name: String,
    pub unit: AmountUnit,
}

impl Layout {
    /// Header names: times name their zone, CNY amounts their unit.
    pub fn headers(&self) -> Vec<String> {
        self.columns
            .iter()
            .map(|key| {
                let h = self.kind.header(key);
                let cny = self.kind.order_kind().is_some();
                match key.as_str() {
                    "created" | "updated" | "finished" => format!("{h} ({})", self.tz_name),
                    "amount" | "real_amount" | "fee" if cny => match self.unit {
                        AmountUnit::Yuan => format!("{h} (CNY)"),
                        AmountUnit::Fen => format!("{h} (fen)"),
                    },
                    _ => h.to_owned(),
                }
            })
            .collect()
    }

    pub(super) fn time_text(&self, ms: i64) -> String {
        jiff::Timestamp::from_millisecond(ms).map_or_else(
            |_| ms.to_string(),
            |ts| {
                ts.to_zoned(self.tz.clone())
                    .strftime("%Y-%m-%d %H:%M:%S")
                    .to_string()
            },
        )
    }

    pub(super) fn cny_text(&self, fen: Fen) -> String {
        match self.unit {
            AmountUnit::Yuan => fen.yuan_plain(),
            AmountUnit::Fen => fen.fen().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payout_offers_every_deposit_column_but_the_depositor() {
        let keys = |k: ExportKind| k.columns().iter().map(|(key, _)| *key).collect::<Vec<_>>();
        let mut deposit = keys(ExportKind::Deposits);
        deposit.retain(|k| *k != "depositor");
        assert_eq!(keys(ExportKind::Payouts), deposit);
        assert_eq!(ExportKind::Payouts.columns().len(), 12);
    }

    #[test]
    fn columns_are_checked_and_ordered() {
        let k = ExportKind::Payouts;
        assert_eq!(
            k.parse_columns("amount, system_id,amount").unwrap(),
            ["amount", "system_id"]
        );
        assert!(k.parse_columns("depositor").is_err());
        assert!(k.parse_columns("").is_err());
    }
}
