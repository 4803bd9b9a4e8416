//! The classes every row falls in, their totals, and the difference of the two sums explained
//! class by class.

use serde::{Deserialize, Serialize};

use super::run::Period;
use crate::gateway::cny::wire::OrderKind;
use crate::money::Fen;

/// Where a merchant order ID stands. Every ledger row and every gateway order of the period
/// is in exactly one class.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
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
        match self {
            Class::Matched => "matched",
            Class::AmountDiffers => "amount_differs",
            Class::StatusDiffers => "status_differs",
            Class::MissingAtGateway => "missing_at_gateway",
            Class::MissingInLedger => "missing_in_ledger",
            Class::InvalidSignature => "invalid_signature",
            Class::Duplicate => "duplicate",
            Class::Edge => "edge",
            Class::NoMoney => "no_money",
        }
    }

    /// The class named by [`Class::id`] (the CLI's and the work file's word).
    pub fn from_id(id: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.id() == id)
    }

    /// `Amount differs`: the name an operator reads.
    pub fn label(self) -> &'static str {
        match self {
            Class::Matched => "Matched",
            Class::AmountDiffers => "Amount differs",
            Class::StatusDiffers => "Status differs",
            Class::MissingAtGateway => "Missing at the gateway",
            Class::MissingInLedger => "Missing in the ledger",
            Class::InvalidSignature => "Invalid signature",
            Class::Duplicate => "Duplicate",
            Class::Edge => "Edge of the period",
            Class::NoMoney => "No money moved",
        }
    }

    /// Whether rows in this class are a difference to look into (exit 1 of the CLI).
    pub fn is_difference(self) -> bool {
        match self {
            Class::AmountDiffers
            | Class::StatusDiffers
            | Class::MissingAtGateway
            | Class::MissingInLedger
            | Class::InvalidSignature
            | Class::Duplicate => true,
            Class::Matched | Class::Edge | Class::NoMoney => false,
        }
    }
}

/// One class's rows and money. `ledger` is the sum of its ledger rows booked credited in the
/// period, `gateway` of its gateway orders successful in the period (the compared amount).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
        Fen::from_fen(self.ledger.fen().saturating_sub(self.gateway.fen()))
    }
}

/// A finished reconciliation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
        Fen::from_fen(self.ledger_sum.fen().saturating_sub(self.gateway_sum.fen()))
    }

    /// No row in a class that is a difference, and the gateway's side complete: when its
    /// counts disagreed with what was fetched, nothing is called all matched.
    pub fn all_matched(&self) -> bool {
        self.count_note.is_none()
            && self
                .classes
                .iter()
                .all(|t| !t.class.is_difference() || t.count == 0)
    }

    /// The totals of `class`.
    pub fn total(&self, class: Class) -> Option<&ClassTotal> {
        self.classes.iter().find(|t| t.class == class)
    }

    /// The difference explained class by class, one line each, ending with the check that
    /// the parts add up to it.
    pub fn explanation(&self) -> Vec<String> {
        let mut lines = Vec::new();
        let mut parts = 0i128;
        for t in &self.classes {
            let diff = i128::from(t.ledger.fen()) - i128::from(t.gateway.fen());
            parts += diff;
            if diff == 0 && t.count == 0 && t.ledger_rows == 0 && t.gateway_orders == 0 {
                continue;
            }
            let ids = if t.count == 1 { "ID" } else { "IDs" };
            lines.push(format!(
                "{}: {} {ids}, ledger {}, gateway {}, adds {}",
                t.class.label(),
                t.count,
                t.ledger,
                t.gateway,
                signed(diff)
            ));
        }
        let check =
            if parts == i128::from(self.ledger_sum.fen()) - i128::from(self.gateway_sum.fen()) {
                ""
            } else {
                " (the parts do NOT add up: report this as a bug)"
            };
        lines.push(format!(
            "Sum of the parts: {} = ledger {} \u{2212} gateway {}{check}",
            signed(parts),
            self.ledger_sum,
            self.gateway_sum
        ));
        lines
    }
}

/// A difference with its sign always shown: `+¥60.00`, `-¥5.00`, `¥0.00`. Wider than `i64`
/// so that a sum of parts can be shown even where it would not fit a [`Fen`].
pub(super) fn signed(fen: i128) -> String {
    match i64::try_from(fen) {
        Ok(0) => Fen::ZERO.to_string(),
        Ok(f) if f > 0 => format!("+{}", Fen::from_fen(f)),
        Ok(f) => Fen::from_fen(f).to_string(),
        Err(_) => format!("{fen} fen"),
    }
}
