//! What differs between the brands that run the CNY platform: which bank field a payout
//! carries and where each API lives. A profile keeps these (with the signing switches); the
//! client takes every path from here, never from a constant.

use serde::{Deserialize, Serialize};

use super::wire::{BALANCE_PATH, DEPOSITS_PATH, PAYOUTS_PATH};
use crate::domain::banks::Bank;

/// The field a payout names its bank by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BankField {
    /// The Chinese name, as the seed's create example sends it.
    #[default]
    BankName,
    /// The code, such as `ICBC`.
    BankCode,
    /// The list's ID, such as `BK0003`.
    BankId,
}

impl BankField {
    pub const ALL: [BankField; 3] = [BankField::BankName, BankField::BankCode, BankField::BankId];

    /// The JSON key sent.
    pub fn key(self) -> &'static str {
        match self {
            BankField::BankName => "bank_name",
            BankField::BankCode => "bank_code",
            BankField::BankId => "bank_id",
        }
    }

    pub fn parse(text: &str) -> Option<BankField> {
        BankField::ALL.into_iter().find(|f| f.key() == text.trim())
    }

    /// What this field carries for `bank`; `None` when the list has no value for it (a bank
    /// without a known ID).
    pub fn value_of(self, bank: &Bank) -> Option<&str> {
        let v = match self {
            BankField::BankName => bank.bank_name.as_str(),
            BankField::BankCode => bank.code.as_str(),
            BankField::BankId => bank.id.as_str(),
        };
        Some(v.trim()).filter(|v| !v.is_empty())
    }
}

/// Each CNY API path, relative to the profile's base URL.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CnyPaths {
    pub payments_query: String,
    pub payouts_query: String,
    pub payout_create: String,
    pub balance: String,
}

impl Default for CnyPaths {
    fn default() -> Self {
        CnyPaths {
            payments_query: DEPOSITS_PATH.to_owned(),
            payouts_query: PAYOUTS_PATH.to_owned(),
            payout_create: PAYOUTS_PATH.to_owned(),
            balance: BALANCE_PATH.to_owned(),
        }
    }
}

/// A brand's settings: the bank field and the paths. The defaults are the seeds' behaviour.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Brand {
    pub bank_field: BankField,
    pub paths: CnyPaths,
}

/// A path a brand setting cannot hold.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the {which} path “{path}” {why}")]
pub struct PathError {
    pub which: &'static str,
    pub path: String,
    pub why: &'static str,
}

/// The built-in presets' names, the default first.
pub const BRAND_PRESETS: [&str; 3] = ["seed", "bank-code", "v1-paths"];

impl Brand {
    /// A built-in preset: `seed` (the defaults), `bank-code` (payouts name the bank by code),
    /// `v1-paths` (payout queries at `gateway/api/v1/payouts`).
    pub fn preset(name: &str) -> Option<Brand> {
        match name.trim() {
            "seed" => Some(Brand::default()),
            "bank-code" => Some(Brand {
                bank_field: BankField::BankCode,
                ..Brand::default()
            }),
            "v1-paths" => Some(Brand {
                paths: CnyPaths {
                    payouts_query: "gateway/api/v1/payouts".to_owned(),
                    ..CnyPaths::default()
                },
                ..Brand::default()
            }),
            _ => None,
        }
    }

    pub fn is_default(&self) -> bool {
        *self == Brand::default()
    }

    /// Each path is relative, without a query, a fragment, `..` or a space.
    pub fn validate(&self) -> Result<(), PathError> {
        let p = &self.paths;
        for (which, path) in [
            ("payments query", &p.payments_query),
            ("payouts query", &p.payouts_query),
            ("payout create", &p.payout_create),
            ("balance", &p.balance),
        ] {
            let bad = |why| PathError {
                which,
                path: path.clone(),
                why,
            };
            let trimmed = path.trim_start_matches('/');
            if trimmed.is_empty() {
                return Err(bad("is empty"));
            }
            if trimmed.contains("://") {
                return Err(bad("must be a path, not a URL"));
            }
            if !trimmed
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"/-_.~".contains(&b))
            {
                return Err(bad("may hold only letters, digits and / - _ . ~"));
            }
            if trimmed.split('/').any(|s| s == ".." || s == ".") {
                return Err(bad("must not hold . or .. segments"));
            }
        }
        Ok(())
    }
}

/// A path as the client joins it to the base URL (never with a leading `/`, which would drop
/// the base URL's own path).
pub fn relative(path: &str) -> &str {
    path.trim_start_matches('/')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_and_defaults() {
        assert_eq!(Brand::preset("seed"), Some(Brand::default()));
        assert_eq!(
            Brand::preset("bank-code").unwrap().bank_field,
            BankField::BankCode
        );
        assert_eq!(
            Brand::preset("v1-paths").unwrap().paths.payouts_query,
            "gateway/api/v1/payouts"
        );
        assert_eq!(Brand::default().paths.payout_create, PAYOUTS_PATH);
        assert!(Brand::preset("nope").is_none());
        for name in BRAND_PRESETS {
            assert!(Brand::preset(name).unwrap().validate().is_ok());
        }
    }

    #[test]
    fn a_path_that_leaves_the_gateway_is_refused() {
        for bad in ["", "https://evil.example/x", "a/../b", "a?x=1", "a b"] {
            let brand = Brand {
                paths: CnyPaths {
                    balance: bad.to_owned(),
                    ..CnyPaths::default()
                },
                ..Brand::default()
            };
            assert!(brand.validate().is_err(), "{bad}");
        }
    }

    #[test]
    fn an_old_profile_without_brand_settings_reads_as_the_seed() {
        let b: Brand = toml::from_str("bank_field = \"bank_id\"").unwrap();
        assert_eq!(b.bank_field, BankField::BankId);
        assert_eq!(b.paths, CnyPaths::default());
    }
}
