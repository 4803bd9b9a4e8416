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

/// Where each mapped column is in the file (0-based), found by [`Mapping::check`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ColumnIndexes {
    pub order_id: usize,
    pub amount: usize,
    pub status: usize,
    pub time: usize,
    pub fee: Option<usize>,
}

/// The default words of a ledger's statuses, when the operator names none.
pub const DEFAULT_CREDITED: [&str; 5] = ["credited", "paid", "success", "成功", "已入账"];
pub const DEFAULT_NOT_CREDITED: [&str; 5] = ["failed", "cancelled", "refused", "失败", "取消"];
pub const DEFAULT_PENDING: [&str; 3] = ["pending", "processing", "处理中"];

/// Header names a suggestion recognises, exactly (trimmed, any case), in order of preference.
const SUGGEST_ID: [&str; 5] = [
    "merchant_order_id",
    "order_id",
    "payment_cl_id",
    "payout_cl_id",
    "商户订单号",
];
const SUGGEST_AMOUNT: [&str; 2] = ["amount", "金额"];
const SUGGEST_STATUS: [&str; 2] = ["status", "状态"];
const SUGGEST_TIME: [&str; 4] = ["time", "created", "create_time", "时间"];
const SUGGEST_FEE: [&str; 2] = ["fee", "手续费"];

impl Mapping {
    /// A mapping of the four required columns, with the default unit (yuan), comparison
    /// (`amount`) and status words.
    pub fn new(order_id: &str, amount: &str, status: &str, time: &str) -> Mapping {
        let words = |w: &[&str]| w.iter().map(|s| (*s).to_owned()).collect();
        Mapping {
            order_id: order_id.to_owned(),
            amount: amount.to_owned(),
            status: status.to_owned(),
            time: time.to_owned(),
            fee: None,
            unit: AmountUnit::default(),
            compare_with: CompareWith::default(),
            credited: words(&DEFAULT_CREDITED),
            not_credited: words(&DEFAULT_NOT_CREDITED),
            pending: words(&DEFAULT_PENDING),
        }
    }

    /// Parses the CLI's `--map` text (see [`arg`] for the syntax).
    pub fn from_map_arg(text: &str) -> Result<Mapping, String> {
        arg::parse(text)
    }

    /// The `--map` text that gives this mapping back exactly, every key written out.
    pub fn to_map_arg(&self) -> String {
        arg::format(self)
    }

    /// What a status cell says, by the word lists (trimmed, any case); `None` for a word in
    /// no list.
    pub fn status_of(&self, word: &str) -> Option<super::LedgerStatus> {
        use super::LedgerStatus;
        let word = word.trim().to_lowercase();
        let has = |list: &[String]| list.iter().any(|w| w.trim().to_lowercase() == word);
        if has(&self.credited) {
            Some(LedgerStatus::Credited)
        } else if has(&self.not_credited) {
            Some(LedgerStatus::NotCredited)
        } else if has(&self.pending) {
            Some(LedgerStatus::Pending)
        } else {
            None
        }
    }

    /// The accepted status words, for a message: `credited: paid, success; not credited: …`.
    pub fn accepted_words(&self) -> String {
        let list = |l: &[String]| {
            if l.is_empty() {
                "(none)".to_owned()
            } else {
                l.join(", ")
            }
        };
        format!(
            "credited: {}; not credited: {}; pending: {}",
            list(&self.credited),
            list(&self.not_credited),
            list(&self.pending)
        )
    }

    /// Where the mapped columns are among `headers` (the file's header row): a column the
    /// file does not have, a header the file has twice, one column mapped twice, or a status
    /// word in two lists is an error that says which.
    pub fn check(&self, headers: &[String]) -> Result<ColumnIndexes, String> {
        self.check_words()?;
        let find = |what: &str, name: &str| -> Result<usize, String> {
            let want = name.trim().to_lowercase();
            let mut hits = headers
                .iter()
                .enumerate()
                .filter(|(_, h)| h.trim().to_lowercase() == want);
            let Some((i, _)) = hits.next() else {
                return Err(format!(
                    "the ledger has no column “{}” (for the {what}); its columns are: {}",
                    name.trim(),
                    list_headers(headers)
                ));
            };
            if let Some((j, _)) = hits.next() {
                return Err(format!(
                    "the ledger has two columns named “{}” ({} and {}), so which one holds the \
                     {what} cannot be known: rename one",
                    name.trim(),
                    column_letter(i),
                    column_letter(j)
                ));
            }
            Ok(i)
        };
        let columns = ColumnIndexes {
            order_id: find("merchant order ID", &self.order_id)?,
            amount: find("amount", &self.amount)?,
            status: find("status", &self.status)?,
            time: find("time", &self.time)?,
            fee: self.fee.as_deref().map(|f| find("fee", f)).transpose()?,
        };
        let roles = [
            ("id", Some(columns.order_id)),
            ("amount", Some(columns.amount)),
            ("status", Some(columns.status)),
            ("time", Some(columns.time)),
            ("fee", columns.fee),
        ];
        for (i, (a, x)) in roles.iter().enumerate() {
            for (b, y) in &roles[i + 1..] {
                if x.is_some() && x == y {
                    return Err(format!(
                        "{a}= and {b}= name the same column “{}”: each must be its own column",
                        headers.get(x.unwrap_or(0)).map_or("", |h| h.trim())
                    ));
                }
            }
        }
        Ok(columns)
    }

    /// No word in two lists, and at least one word meaning credited.
    pub fn check_words(&self) -> Result<(), String> {
        if self.credited.iter().all(|w| w.trim().is_empty()) {
            return Err("credited= needs at least one word (such as paid)".to_owned());
        }
        let lists = [
            ("credited", &self.credited),
            ("not_credited", &self.not_credited),
            ("pending", &self.pending),
        ];
        for (i, (a, la)) in lists.iter().enumerate() {
            for (b, lb) in &lists[i..] {
                for (k, w) in la.iter().enumerate() {
                    let w = w.trim().to_lowercase();
                    let start = if a == b { k + 1 } else { 0 };
                    if lb.iter().skip(start).any(|v| v.trim().to_lowercase() == w) {
                        return Err(if a == b {
                            format!("the status word “{w}” is twice in {a}=")
                        } else {
                            format!(
                                "the status word “{w}” is in both {a}= and {b}=: it can mean \
                                 only one"
                            )
                        });
                    }
                }
            }
        }
        Ok(())
    }

    /// A mapping for headers that are exactly well-known names (`merchant_order_id`, `amount`,
    /// `status`, `time`, `fee`, or their Chinese forms), with the default words; `None` unless
    /// all four required columns are found. Only ever shown for the operator to confirm.
    pub fn suggest(headers: &[String]) -> Option<Mapping> {
        let pick = |names: &[&str]| -> Option<String> {
            names.iter().find_map(|n| {
                let mut hits = headers.iter().filter(|h| h.trim().to_lowercase() == *n);
                let first = hits.next()?;
                // A name the file has twice is never suggested.
                hits.next().is_none().then(|| first.trim().to_owned())
            })
        };
        let mut mapping = Mapping::new(
            &pick(&SUGGEST_ID)?,
            &pick(&SUGGEST_AMOUNT)?,
            &pick(&SUGGEST_STATUS)?,
            &pick(&SUGGEST_TIME)?,
        );
        mapping.fee = pick(&SUGGEST_FEE);
        Some(mapping)
    }
}

fn column_letter(i: usize) -> String {
    crate::domain::sheet::column_letters(u32::try_from(i).unwrap_or(u32::MAX))
}

/// `A “id”, B “amount”, …`, at most 64 shown.
fn list_headers(headers: &[String]) -> String {
    if headers.iter().all(|h| h.trim().is_empty()) {
        return "(none: the header row is empty)".to_owned();
    }
    headers
        .iter()
        .enumerate()
        .filter(|(_, h)| !h.trim().is_empty())
        .take(64)
        .map(|(i, h)| format!("{} “{}”", column_letter(i), h.trim()))
        .collect::<Vec<_>>()
        .join(", ")
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
        store::get(&self.path, profile, kind)
    }

    /// Remembers `mapping` for `profile` and `kind` (written whole, then renamed).
    pub fn set(&self, profile: &str, kind: OrderKind, mapping: &Mapping) -> Result<(), String> {
        store::set(&self.path, profile, kind, mapping)
    }
}

pub mod arg;
mod store;

#[cfg(test)]
mod tests;
