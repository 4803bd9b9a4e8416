//! The bank list (「银行列表(人民币支付)」) as data: the id, the code, an English display
//! name and the exact `bank_name` text the gateway expects. A profile may replace it.

use serde::{Deserialize, Serialize};

/// One bank the gateway pays out to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bank {
    /// The gateway's `BK…` ID where the published list has one.
    #[serde(default)]
    pub id: String,
    pub code: String,
    pub display_name: String,
    /// The text sent as `bank_name`.
    pub bank_name: String,
}

/// The list shipped in `assets/banks.json`.
pub fn default_banks() -> Vec<Bank> {
    parse_banks(include_str!("../../../assets/banks.json")).unwrap_or_default()
}

pub fn parse_banks(json: &str) -> Result<Vec<Bank>, serde_json::Error> {
    serde_json::from_str(json)
}

/// Finds a bank by code, ID, `bank_name` or display name (case-insensitive for Latin text).
pub fn find_bank<'a>(banks: &'a [Bank], text: &str) -> Option<&'a Bank> {
    let t = text.trim();
    banks.iter().find(|b| {
        b.code.eq_ignore_ascii_case(t)
            || (!b.id.is_empty() && b.id.eq_ignore_ascii_case(t))
            || b.bank_name == t
            || b.display_name.eq_ignore_ascii_case(t)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_list_parses_and_is_searchable() {
        let banks = default_banks();
        assert_eq!(banks.len(), 16);
        assert_eq!(find_bank(&banks, "abc").unwrap().bank_name, "中国农业银行");
        assert_eq!(find_bank(&banks, "BK0006").unwrap().code, "CMB");
        assert_eq!(find_bank(&banks, "招商银行").unwrap().code, "CMB");
        assert!(find_bank(&banks, "火星银行").is_none());
    }
}
