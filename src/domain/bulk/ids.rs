//! The IDs of an import and its rows, from their content: the same rows re-saved, reordered or
//! converted get the same IDs, so importing them again resumes instead of paying twice.

use std::collections::HashMap;

use sha2::{Digest, Sha256};

use crate::gateway::cny::wire::PayoutRequest;

/// A row's key within its import: 18 hex characters of its content + `_` + its occurrence
/// among identical rows (1 for the first).
#[derive(Default)]
pub(super) struct IdMaker {
    seen: HashMap<u64, u32>,
}

impl IdMaker {
    pub(super) fn make(&mut self, r: &PayoutRequest) -> String {
        let key = content_key(r);
        let n = self
            .seen
            .entry(u64::from_be_bytes(key[..8].try_into().unwrap_or_default()))
            .or_insert(0);
        *n += 1;
        format!("{}_{n}", &hex::encode(&key[..9]))
    }
}

/// A generated merchant order ID: `bulk_` + 19 hex characters of the import's ID and the row's
/// content + `_` + the row's occurrence among identical rows (at most 32 characters). The same
/// rows in any order, re-saved or converted, are the same import and get the same IDs (so the
/// import resumes); a row repeated in *another* import gets a new ID, so it is checked as a
/// likely duplicate of the earlier payout instead of passing silently as "recorded before".
pub(super) fn import_row_id(import_id: &str, row_key: &str) -> String {
    let (content, n) = row_key.rsplit_once('_').unwrap_or((row_key, "1"));
    let mut h = Sha256::new();
    h.update(b"paydesk-import-row-v1\0");
    h.update(import_id.as_bytes());
    h.update(b"\0");
    h.update(content.as_bytes());
    format!("bulk_{}_{n}", &hex::encode(h.finalize())[..19])
}

/// What makes two rows the same payout: the amount in fen, the bank's name as sent, the
/// recipient, the account's digits, and branch, province and city, each trimmed.
pub fn content_key(r: &PayoutRequest) -> [u8; 32] {
    let digits: String = r.number.chars().filter(|c| !c.is_whitespace()).collect();
    let opt = |o: &Option<String>| o.as_deref().unwrap_or("").trim().to_owned();
    let mut h = Sha256::new();
    for part in [
        "paydesk-row-v1".to_owned(),
        r.amount.fen().to_string(),
        r.bank_name.trim().to_owned(),
        r.name.trim().to_owned(),
        digits,
        opt(&r.bank_branch),
        opt(&r.province),
        opt(&r.city),
    ] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    h.finalize().into()
}
