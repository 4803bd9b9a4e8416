//! The `--map` text of the CLI: comma-separated `key=value` pairs.
//!
//! Keys: `id`, `amount`, `status`, `time` (required, header names), `fee` (a header name, or
//! `-` for none), `unit=yuan|fen`, `compare=amount|real_amount`, and the status word lists
//! `credited`, `not_credited`, `pending` (words separated by `|`). In a value, `\,` is a comma,
//! `\|` a bar and `\\` a backslash. Keys and values are trimmed.

use super::{CompareWith, DEFAULT_CREDITED, DEFAULT_NOT_CREDITED, DEFAULT_PENDING, Mapping};
use crate::domain::export::AmountUnit;

const KEYS: &str = "id, amount, status, time, fee, unit, compare, credited, not_credited, pending";

/// An example for messages: what a `--map` looks like.
pub const EXAMPLE: &str = "id=商户订单号,amount=金额,status=状态,time=时间,fee=-";

pub(super) fn parse(text: &str) -> Result<Mapping, String> {
    let mut seen: Vec<String> = Vec::new();
    let (mut id, mut amount, mut status, mut time) = (None, None, None, None);
    let mut fee = None;
    let mut unit = AmountUnit::default();
    let mut compare_with = CompareWith::default();
    let words = |w: &[&str]| -> Vec<String> { w.iter().map(|s| (*s).to_owned()).collect() };
    let mut credited = words(&DEFAULT_CREDITED);
    let mut not_credited = words(&DEFAULT_NOT_CREDITED);
    let mut pending = words(&DEFAULT_PENDING);
    for part in split_unescaped(text, ',')? {
        if part.trim().is_empty() {
            continue;
        }
        let Some((key, raw)) = part.split_once('=') else {
            return Err(format!(
                "“{}” is not key=value (keys: {KEYS}; for example {EXAMPLE})",
                part.trim()
            ));
        };
        let key = key.trim().to_lowercase();
        if seen.contains(&key) {
            return Err(format!("{key}= is given twice"));
        }
        seen.push(key.clone());
        let value = || -> Result<String, String> {
            let v = unescape(raw)?.trim().to_owned();
            if v.is_empty() {
                Err(format!("{key}= needs a column name"))
            } else {
                Ok(v)
            }
        };
        let list = || -> Result<Vec<String>, String> {
            split_unescaped(raw, '|')?
                .iter()
                .map(|w| unescape(w).map(|w| w.trim().to_owned()))
                .filter(|w| w.as_ref().map_or(true, |w| !w.is_empty()))
                .collect()
        };
        match key.as_str() {
            "id" => id = Some(value()?),
            "amount" => amount = Some(value()?),
            "status" => status = Some(value()?),
            "time" => time = Some(value()?),
            "fee" => {
                let v = value()?;
                fee = (v != "-").then_some(v);
            }
            "unit" => {
                let v = value()?;
                unit = AmountUnit::parse(&v.to_lowercase())
                    .ok_or_else(|| format!("unit={v}: use unit=yuan or unit=fen"))?;
            }
            "compare" => {
                let v = value()?;
                compare_with = match v.to_lowercase().as_str() {
                    "amount" => CompareWith::Amount,
                    "real_amount" => CompareWith::RealAmount,
                    _ => {
                        return Err(format!(
                            "compare={v}: use compare=amount or compare=real_amount"
                        ));
                    }
                };
            }
            "credited" => credited = list()?,
            "not_credited" => not_credited = list()?,
            "pending" => pending = list()?,
            other => return Err(format!("unknown key “{other}” (keys: {KEYS})")),
        }
    }
    let missing: Vec<&str> = [
        ("id", id.is_none()),
        ("amount", amount.is_none()),
        ("status", status.is_none()),
        ("time", time.is_none()),
    ]
    .iter()
    .filter(|(_, m)| *m)
    .map(|(k, _)| *k)
    .collect();
    let (Some(order_id), Some(amount), Some(status), Some(time)) = (id, amount, status, time)
    else {
        return Err(format!(
            "the mapping needs {}= (for example {EXAMPLE})",
            missing.join("=, ")
        ));
    };
    let mapping = Mapping {
        order_id,
        amount,
        status,
        time,
        fee,
        unit,
        compare_with,
        credited,
        not_credited,
        pending,
    };
    mapping.check_words()?;
    Ok(mapping)
}

pub(super) fn format(m: &Mapping) -> String {
    let list = |l: &[String]| l.iter().map(|w| escape(w)).collect::<Vec<_>>().join("|");
    format!(
        "id={},amount={},status={},time={},fee={},unit={},compare={},credited={},not_credited={},pending={}",
        escape(&m.order_id),
        escape(&m.amount),
        escape(&m.status),
        escape(&m.time),
        m.fee.as_deref().map_or_else(|| "-".to_owned(), escape),
        match m.unit {
            AmountUnit::Yuan => "yuan",
            AmountUnit::Fen => "fen",
        },
        match m.compare_with {
            CompareWith::Amount => "amount",
            CompareWith::RealAmount => "real_amount",
        },
        list(&m.credited),
        list(&m.not_credited),
        list(&m.pending),
    )
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '\\' | ',' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Splits at each `sep` not escaped by a backslash; the parts keep their escapes.
fn split_unescaped(text: &str, sep: char) -> Result<Vec<String>, String> {
    let mut parts = vec![String::new()];
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        let last = parts.last_mut().ok_or("empty")?;
        if c == '\\' {
            last.push(c);
            match chars.next() {
                Some(n) => last.push(n),
                None => return Err(trailing_backslash()),
            }
        } else if c == sep {
            parts.push(String::new());
        } else {
            last.push(c);
        }
    }
    Ok(parts)
}

fn unescape(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(n @ ('\\' | ',' | '|')) => out.push(n),
                Some(n) => {
                    return Err(format!(
                        "“\\{n}” is not an escape: only \\, \\| and \\\\ are (a comma, a bar, a \
                         backslash)"
                    ));
                }
                None => return Err(trailing_backslash()),
            }
        } else {
            out.push(c);
        }
    }
    Ok(out)
}

fn trailing_backslash() -> String {
    "the mapping ends in a lone backslash: write \\\\ for a backslash".to_owned()
}
