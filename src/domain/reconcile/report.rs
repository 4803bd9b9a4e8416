//! The classes every row falls in, their totals, and the difference of the two sums explained
//! class by class.

use serde::Serialize;

use super::run::Period;
use crate::gateway::cny::wire::OrderKind;
use crate::money::Fen;

/// Where a merchant order ID stands. Every ledger row and every gateway order of the period
/// is in exactly one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// Both sides agree: status, amount (and fee when mapped); signature valid.
    Matched,
    AmountDiffers,
    StatusDiffers,
    /// In the ledger, not at the gateway (in the period and its margin).
    MissingAtGateway,
    /// Money the gateway moved that the ledger never booked.
    MissingInLedger,
    /// The gateway's order failed its signature check: never counted as matched.
    InvalidSignature,
    /// The ID appears more than once on either side (every row of it is here).
    Duplicate,
    /// Near the period's edges: created before or after it, booked or settled across its end.
    /// Explained, not a gap.
    Edge,
    /// Failed or cancelled at the gateway and not in the ledger: no money moved.
    NoMoney,
}

impl Class {
    pub const ALL: [Class; 9] = [
        Class::Matched,
        Class::AmountDiffers,
        Class::StatusDiffers,
        Class::MissingAtGateway,
        Class::MissingInLedger,
        Class::InvalidSignature,
        Class::Duplicate,
        Class::Edge,
        Class::NoMoney,
    ];

    /// `amount_differs`: the name in the CLI, exports and manifests.
    pub fn id(self) -> &'static str {
        todo!("h15b")
    }

    /// `Amount differs`: the name an operator reads.
    pub fn label(self) -> &'static str {
        todo!("h15b")
    }

    /// Whether rows in this class are a difference to look into (exit 1 of the CLI).
    pub fn is_difference(self) -> bool {
        todo!("h15b")
    }
}

/// One class's rows and money. `ledger` is the sum of its ledger rows booked credited in the
/// period, `gateway` of its gateway orders successful in the period (the compared amount).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ClassTotal {
    pub class: Class,
    /// Merchant order IDs in the class (a duplicate ID counts once).
    pub count: u64,
    pub ledger_rows: u64,
    pub gateway_orders: u64,
    pub ledger: Fen,
    pub gateway: Fen,
}

impl ClassTotal {
    /// What this class adds to the difference (ledger minus gateway).
    pub fn difference(&self) -> Fen {
        Fen::from_fen(self.ledger.fen() - self.gateway.fen())
    }
}

/// A finished reconciliation.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub kind: OrderKind,
    pub period: Period,
    /// The ledger's credited sum in the period, and the gateway's successful sum in it.
    pub ledger_sum: Fen,
    pub gateway_sum: Fen,
    /// One per [`Class::ALL`], in that order.
    pub classes: Vec<ClassTotal>,
    pub ledger_rows: u64,
    /// Gateway orders read (the period and its margins).
    pub gateway_orders: u64,
    /// SHA-256 of the ledger file as read, and of the gateway's orders (their texts sorted by
    /// system ID, one per line).
    pub ledger_sha256: String,
    pub gateway_sha256: String,
    /// Where the gateway's counts disagreed while fetching, if anywhere.
    pub count_note: Option<String>,
}

impl Report {
    /// Ledger minus gateway.
    pub fn difference(&self) -> Fen {
        Fen::from_fen(self.ledger_sum.fen() - self.gateway_sum.fen())
    }

    /// No row in a class that is a difference.
    pub fn all_matched(&self) -> bool {
        todo!("h15b")
    }

    /// The difference explained class by class, one line each, ending with the check that
    /// the parts add up to it.
    pub fn explanation(&self) -> Vec<String> {
        todo!("h15b")
    }
}
