//! The bank list (「银行列表(人民币支付)」) as data, and the one lookup that finds a bank by
//! any of its names: the gateway's `BK…` ID, its code, its Chinese or English name, or an alias.

use serde::{Deserialize, Serialize};

/// One bank the gateway pays out to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bank {
    /// The gateway's `BK…` ID where the published list has one; empty otherwise.
    #[serde(default)]
    pub id: String,
    pub code: String,
    /// The English name.
    pub display_name: String,
    /// The Chinese name, and the exact text sent as `bank_name`.
    pub bank_name: String,
    /// Other spellings that mean this bank (中国农业银行 and 农业银行 are one bank; BCOM and COMM
    /// one code).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

impl Bank {
    /// Whether `text` names this bank: Latin text without regard to case, Chinese text exactly,
    /// both after trimming.
    pub fn is_named(&self, text: &str) -> bool {
        let t = text.trim();
        if t.is_empty() {
            return false;
        }
        self.code.eq_ignore_ascii_case(t)
            || self.id.eq_ignore_ascii_case(t)
            || self.bank_name == t
            || self.display_name.eq_ignore_ascii_case(t)
            || self.aliases.iter().any(|a| a.eq_ignore_ascii_case(t))
    }
}

/// The list shipped in `assets/banks.json`.
pub fn default_banks() -> Vec<Bank> {
    parse_banks(include_str!("../../assets/banks.json")).unwrap_or_default()
}

pub fn parse_banks(json: &str) -> Result<Vec<Bank>, serde_json::Error> {
    serde_json::from_str(json)
}

/// Finds a bank by ID, code, Chinese or English name or alias.
pub fn find_bank<'a>(banks: &'a [Bank], text: &str) -> Option<&'a Bank> {
    banks.iter().find(|b| b.is_named(text))
}

/// The banks any of whose names holds `text` (Latin text without regard to case), in list
/// order: what a picker shows as the operator types. Empty text lists every bank.
pub fn search_banks<'a>(banks: &'a [Bank], text: &str) -> Vec<&'a Bank> {
    let needle = text.trim().to_lowercase();
    banks
        .iter()
        .filter(|b| {
            needle.is_empty()
                || [&b.id, &b.code, &b.display_name, &b.bank_name]
                    .into_iter()
                    .chain(&b.aliases)
                    .any(|name| name.to_lowercase().contains(&needle))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_finds_a_bank_by_part_of_any_of_its_names() {
        let banks = default_banks();
        let codes = |text| {
            search_banks(&banks, text)
                .into_iter()
                .map(|b| b.code.as_str())
                .collect::<Vec<_>>()
        };
        assert!(codes("农业").contains(&"ABC"));
        assert!(codes("bk0003").contains(&"ICBC"));
        assert!(codes("merchants").contains(&"CMB"));
        assert_eq!(codes("bocom"), vec!["COMM"], "an alias finds its bank");
        assert!(codes("火星").is_empty());
        assert_eq!(search_banks(&banks, " ").len(), banks.len());
    }

    #[test]
    fn the_shipped_list_parses_and_is_searchable() {
        let banks = default_banks();
        assert!(banks.len() >= 40, "{}", banks.len());
        assert_eq!(find_bank(&banks, "abc").unwrap().bank_name, "中国农业银行");
        assert_eq!(find_bank(&banks, "BK0006").unwrap().code, "CMB");
        assert_eq!(find_bank(&banks, "招商银行").unwrap().code, "CMB");
        assert!(find_bank(&banks, "火星银行").is_none());
        assert!(find_bank(&banks, "  ").is_none());
    }

    #[test]
    fn the_official_short_names_and_other_codes_are_the_same_bank() {
        let banks = default_banks();
        for (alias, id) in [
            ("农业银行", "BK0002"),
            ("中国农业银行", "BK0002"),
            ("工商银行", "BK0003"),
            ("民生银行", "BK0005"),
            (" icbc ", "BK0003"),
            ("Agricultural Bank of China", "BK0002"),
        ] {
            assert_eq!(
                find_bank(&banks, alias).map(|b| b.id.as_str()),
                Some(id),
                "{alias}"
            );
        }
        for (alias, code) in [
            ("BCOM", "COMM"),
            ("PAB", "SPABANK"),
            ("CGB", "GDB"),
            ("BOSH", "SHBANK"),
        ] {
            assert_eq!(
                find_bank(&banks, alias).map(|b| b.code.as_str()),
                Some(code),
                "{alias}"
            );
        }
    }

    #[test]
    fn every_id_code_and_name_is_unique() {
        let banks = default_banks();
        let mut seen = std::collections::HashSet::new();
        for b in &banks {
            let names = [&b.code, &b.bank_name, &b.display_name]
                .into_iter()
                .chain(b.aliases.iter())
                .chain(Some(&b.id).filter(|i| !i.is_empty()));
            for n in names {
                assert!(seen.insert(n.to_ascii_uppercase()), "{n} names two banks");
            }
        }
    }
}
