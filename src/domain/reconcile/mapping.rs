//! Which column of the merchant's ledger holds what, chosen once and remembered per profile
//! and kind (deposits, payouts); and the words the ledger uses for its statuses.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::domain::export::AmountUnit;
use crate::gateway::cny::wire::OrderKind;

/// What the ledger's amount is compared with: the order's `amount` (what was asked), or its
/// `real_amount` (what arrived), when the ledger credits what arrived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CompareWith {
    #[default]
    Amount,
    RealAmount,
}

/// The ledger's columns, by header text (matched trimmed and case-insensitively, never
/// guessed), and how their values read.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mapping {
    /// The merchant order ID (`payment_cl_id` / `payout_cl_id` at the gateway).
    pub order_id: String,
    pub amount: String,
    /// The ledger's status, or a credited/paid yes-no column.
    pub status: String,
    /// When the ledger booked the row; a text without a zone is read in the console's zone.
    pub time: String,
    /// The fee, when the ledger has one: then it is compared too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fee: Option<String>,
    /// Amounts as yuan (`12.34`) or as whole fen (`1234`).
    #[serde(default)]
    pub unit: AmountUnit,
    #[serde(default)]
    pub compare_with: CompareWith,
    /// Status values (any case) that mean credited or paid.
    pub credited: Vec<String>,
    /// Status values that mean not credited: failed, cancelled, refused.
    pub not_credited: Vec<String>,
    /// Status values that mean not settled yet.
    pub pending: Vec<String>,
}

/// The remembered mappings: `<config dir>/reconcile.toml`, one per profile and kind.
#[derive(Debug)]
pub struct MappingStore {
    path: PathBuf,
}

impl MappingStore {
    /// The store in `dir` (the config directory); nothing is read until asked.
    pub fn new(dir: &Path) -> MappingStore {
        MappingStore {
            path: dir.join("reconcile.toml"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The mapping remembered for `profile` and `kind`, if any.
    pub fn get(&self, profile: &str, kind: OrderKind) -> Result<Option<Mapping>, String> {
        let _ = (profile, kind);
        todo!("h15a")
    }

    /// Remembers `mapping` for `profile` and `kind` (written whole, then renamed).
    pub fn set(&self, profile: &str, kind: OrderKind, mapping: &Mapping) -> Result<(), String> {
        let _ = (profile, kind, mapping);
        todo!("h15a")
    }
}
