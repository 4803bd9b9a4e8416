//! Order kinds (deposit or payout) and the published order statuses with their meaning.
#![deny(clippy::float_arithmetic)]

use serde::{Deserialize, Serialize};

use super::{DEPOSITS_PATH, PAYOUTS_PATH};

/// Deposits (payments) or payouts: the same query with different names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OrderKind {
    Deposit,
    Payout,
}

impl OrderKind {
    pub fn path(self) -> &'static str {
        match self {
            OrderKind::Deposit => DEPOSITS_PATH,
            OrderKind::Payout => PAYOUTS_PATH,
        }
    }

    /// The field of the system order ID (`payment_id` / `payout_id`).
    pub fn system_id_field(self) -> &'static str {
        match self {
            OrderKind::Deposit => "payment_id",
            OrderKind::Payout => "payout_id",
        }
    }

    /// The field of the merchant order ID (`payment_cl_id` / `payout_cl_id`).
    pub fn merchant_id_field(self) -> &'static str {
        match self {
            OrderKind::Deposit => "payment_cl_id",
            OrderKind::Payout => "payout_cl_id",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            OrderKind::Deposit => "deposits",
            OrderKind::Payout => "payouts",
        }
    }
}

/// Where an order stands, in the terms that matter for money.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum StatusClass {
    /// Not final yet.
    InProgress,
    Success,
    Cancelled,
    Failed,
    /// A value the status list does not have.
    Unknown,
}

impl StatusClass {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            StatusClass::Success | StatusClass::Cancelled | StatusClass::Failed
        )
    }
}

/// An order's status code with the meaning of the status list (「订单状态列表」).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct OrderStatus {
    pub kind: OrderKind,
    pub code: Option<i64>,
}

impl OrderStatus {
    pub fn new(kind: OrderKind, code: i64) -> OrderStatus {
        OrderStatus {
            kind,
            code: Some(code),
        }
    }

    fn entry(self) -> Option<(&'static str, &'static str, StatusClass)> {
        use StatusClass::{Cancelled, Failed, InProgress, Success};
        let code = self.code?;
        Some(match (self.kind, code) {
            (OrderKind::Deposit, 0) => ("pending", "待处理", InProgress),
            (OrderKind::Deposit, 1) => ("processing", "处理中", InProgress),
            (OrderKind::Deposit, 2) => ("success", "成功", Success),
            (OrderKind::Deposit, 3) => ("cancelled", "取消", Cancelled),
            (OrderKind::Deposit, 4) => ("failed", "失败", Failed),
            (OrderKind::Payout, 0) => ("scheduled", "预约中", InProgress),
            (OrderKind::Payout, 1) => ("pending", "待处理", InProgress),
            (OrderKind::Payout, 2) => ("processing", "处理中", InProgress),
            (OrderKind::Payout, 3) => ("success", "成功", Success),
            (OrderKind::Payout, 4) => ("cancelled", "取消", Cancelled),
            (OrderKind::Payout, 5) => ("failed", "失败", Failed),
            (OrderKind::Payout, 6) => ("under review", "审核中", InProgress),
            _ => return None,
        })
    }

    /// `success`, `processing`, … or `unknown (9)`.
    pub fn label(self) -> String {
        match (self.entry(), self.code) {
            (Some((en, _, _)), _) => en.to_owned(),
            (None, Some(code)) => format!("unknown ({code})"),
            (None, None) => "unknown (missing)".to_owned(),
        }
    }

    /// The Chinese name the gateway's back office uses, when the value is known.
    pub fn label_zh(self) -> Option<&'static str> {
        self.entry().map(|(_, zh, _)| zh)
    }

    pub fn class(self) -> StatusClass {
        self.entry().map_or(StatusClass::Unknown, |(_, _, c)| c)
    }

    /// Every known code of a kind, for filters and legends.
    pub fn all(kind: OrderKind) -> Vec<OrderStatus> {
        let max = match kind {
            OrderKind::Deposit => 4,
            OrderKind::Payout => 6,
        };
        (0..=max).map(|c| OrderStatus::new(kind, c)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_statuses_say_so() {
        assert_eq!(
            OrderStatus::new(OrderKind::Payout, 9).label(),
            "unknown (9)"
        );
        assert_eq!(
            OrderStatus::new(OrderKind::Deposit, 5).class(),
            StatusClass::Unknown
        );
        assert_eq!(
            OrderStatus::new(OrderKind::Deposit, 2).class(),
            StatusClass::Success
        );
        assert_eq!(
            OrderStatus::new(OrderKind::Payout, 2).class(),
            StatusClass::InProgress
        );
        assert_eq!(
            OrderStatus::new(OrderKind::Payout, 3).class(),
            StatusClass::Success
        );
        assert_eq!(
            OrderStatus {
                kind: OrderKind::Payout,
                code: None
            }
            .label(),
            "unknown (missing)"
        );
    }
}
