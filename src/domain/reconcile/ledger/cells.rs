//! One ledger row: each mapped cell read by its own rule, every wrong cell a problem at its
//! row and column. An ID is text exactly as written, an amount exact in fen, a time a moment
//! (with its zone, or in the operator's), a status one of the mapping's words.

use jiff::civil::DateTime;
use jiff::tz::{Offset, TimeZone};

use super::{LedgerProblem, LedgerRow, LedgerStatus};
use crate::domain::export::AmountUnit;
use crate::domain::reconcile::mapping::{ColumnIndexes, Mapping};
use crate::domain::sheet::{Cell, beyond_header, column_letters, yuan_value};
use crate::money::{Fen, Zero};

pub(super) fn read_row(
    row: usize,
    cells: &[Cell],
    width: usize,
    at: &ColumnIndexes,
    mapping: &Mapping,
    tz: &TimeZone,
) -> Result<LedgerRow, Vec<LedgerProblem>> {
    let mut problems = Vec::new();
    let problem = |column: usize, message: String| LedgerProblem {
        row,
        column: Some(column_letters(u32::try_from(column).unwrap_or(u32::MAX))),
        message,
    };
    if let Some((i, message)) = beyond_header(cells, width) {
        return Err(vec![problem(i, message)]);
    }
    let cell = |i: usize| cells.get(i).unwrap_or(&Cell::Empty);
    let order_id = order_id(cell(at.order_id)).map_err(|m| problem(at.order_id, m));
    let amount =
        amount(cell(at.amount), mapping.unit, Zero::Refused).map_err(|m| problem(at.amount, m));
    let status = status(cell(at.status), mapping).map_err(|m| problem(at.status, m));
    let time_secs = time(cell(at.time), tz).map_err(|m| problem(at.time, m));
    let fee = match at.fee {
        Some(i) if !cell(i).is_blank() => amount_fee(cell(i), mapping.unit)
            .map(Some)
            .map_err(|m| problem(i, m)),
        _ => Ok(None),
    };
    match (order_id, amount, status, time_secs, fee) {
        (Ok(order_id), Ok(amount), Ok((status, status_text)), Ok(time_secs), Ok(fee)) => {
            Ok(LedgerRow {
                row,
                order_id,
                amount,
                status,
                status_text,
                time_secs,
                fee,
            })
        }
        (a, b, c, d, e) => {
            for p in [a.err(), b.err(), c.err(), d.err(), e.err()]
                .into_iter()
                .flatten()
            {
                problems.push(p);
            }
            Err(problems)
        }
    }
}

/// The merchant order ID as text, exactly: a number Excel stored whole (at most 15 digits)
/// gives its digits; one it shows in exponent form or has cut to 15 digits is refused.
pub(super) fn order_id(cell: &Cell) -> Result<String, String> {
    const RETYPE: &str = "format the column as text and export the IDs again from their source";
    match cell {
        Cell::Text(t) => {
            let t = t.trim();
            if t.is_empty() {
                Err("the order ID is empty".to_owned())
            } else if looks_like_exponent(t) {
                Err(format!(
                    "the order ID “{t}” is a number Excel has already shortened: {RETYPE}"
                ))
            } else {
                Ok(t.to_owned())
            }
        }
        Cell::Empty => Err("the order ID is empty".to_owned()),
        Cell::Number { text } if text.bytes().all(|b| b.is_ascii_digit()) => {
            let significant = text.trim_start_matches('0').len();
            if significant > 15 {
                Err(format!(
                    "the order ID is {}: Excel keeps only 15 digits of a number, so its last \
                     digits are lost: {RETYPE}",
                    cell.describe()
                ))
            } else {
                Ok(text.clone())
            }
        }
        other => Err(format!(
            "the order ID is {}, not an ID as written: {RETYPE}",
            other.describe()
        )),
    }
}

/// `2.02612E+13`, `1.5e10`: what Excel writes for a long number in a CSV.
fn looks_like_exponent(t: &str) -> bool {
    let Some((mantissa, exp)) = t.split_once(['e', 'E']) else {
        return false;
    };
    let exp = exp.strip_prefix(['+', '-']).unwrap_or(exp);
    !mantissa.is_empty()
        && !exp.is_empty()
        && exp.bytes().all(|b| b.is_ascii_digit())
        && mantissa.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && mantissa.bytes().any(|b| b.is_ascii_digit())
}

/// An amount in the mapping's unit, exact: yuan with at most two decimals (`1,234.50`,
/// `¥1234.5`), or whole fen. Never through a float.
pub(super) fn amount(cell: &Cell, unit: AmountUnit, zero: Zero) -> Result<Fen, String> {
    if cell.is_blank() {
        return Err("the amount is empty".to_owned());
    }
    let fen = match unit {
        AmountUnit::Yuan => {
            let text = yuan_value(cell)?;
            Fen::parse_yuan(&text, zero).map_err(|e| format!("“{text}”: {e}"))?
        }
        AmountUnit::Fen => {
            let text = match cell {
                Cell::Text(t) => t.trim().to_owned(),
                Cell::Number { text } => text.clone(),
                other => return Err(format!("{}: format the column as number", other.describe())),
            };
            if text.starts_with('-') {
                return Err(format!("“{text}”: amounts cannot be negative"));
            }
            let digits = text.strip_prefix('+').unwrap_or(&text);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(format!(
                    "“{text}” is not a whole number of fen (unit=fen): digits only, such as 123450"
                ));
            }
            let fen: i64 = digits
                .parse()
                .map_err(|_| format!("“{text}”: the amount is too large"))?;
            Fen::from_fen(fen)
        }
    };
    if fen == Fen::ZERO && zero == Zero::Refused {
        return Err("the amount is zero: a ledger row moves money".to_owned());
    }
    Ok(fen)
}

fn amount_fee(cell: &Cell, unit: AmountUnit) -> Result<Fen, String> {
    amount(cell, unit, Zero::Allowed).map_err(|m| format!("the fee: {m}"))
}

fn status(cell: &Cell, mapping: &Mapping) -> Result<(LedgerStatus, String), String> {
    let text = match cell {
        Cell::Empty => String::new(),
        Cell::Text(t) => t.trim().to_owned(),
        Cell::Number { text } => text.clone(),
        Cell::Bool(b) => (if *b { "TRUE" } else { "FALSE" }).to_owned(),
        other => return Err(format!("the status is {}", other.describe())),
    };
    if text.is_empty() {
        return Err(format!(
            "the status is empty; accepted words are {}",
            mapping.accepted_words()
        ));
    }
    mapping.status_of(&text).map(|s| (s, text.clone())).ok_or_else(|| {
        format!(
            "the status “{text}” is in none of the mapping's lists ({}): add it to one with --map",
            mapping.accepted_words()
        )
    })
}

/// A moment as Unix seconds: a date-time cell, or a text `YYYY-MM-DD HH:MM:SS` (or with `T`,
/// optional fraction, optional `Z` or `+08:00`), or `YYYY/MM/DD HH:MM(:SS)`. Without a zone it
/// is read in `tz`. A date alone is refused: a ledger row needs its time.
pub(super) fn time(cell: &Cell, tz: &TimeZone) -> Result<i64, String> {
    let text = match cell {
        Cell::Empty => return Err("the time is empty".to_owned()),
        Cell::Text(t) | Cell::Date(t) => t.trim(),
        Cell::Number { .. } => {
            return Err(format!(
                "the time is {}, not a date and time: format the column as a date with a time \
                 (yyyy-mm-dd hh:mm:ss)",
                cell.describe()
            ));
        }
        other => return Err(format!("the time is {}", other.describe())),
    };
    parse_time(text, tz)
}

pub(super) fn parse_time(text: &str, tz: &TimeZone) -> Result<i64, String> {
    const FORMATS: &str =
        "use YYYY-MM-DD HH:MM:SS (optionally with T, Z or +08:00) or YYYY/MM/DD HH:MM(:SS)";
    let bad = || format!("“{text}” is not a date and time: {FORMATS}");
    let (date, rest) = match text.find([' ', 'T', 't']) {
        Some(i) => (&text[..i], text[i + 1..].trim()),
        None => (text, ""),
    };
    let date = parse_date(date).ok_or_else(bad)?;
    if rest.is_empty() {
        return Err(format!(
            "“{text}” is a date without a time: a ledger row needs the time it was booked"
        ));
    }
    // A zone at the end: `Z`, `+08:00`, `+0800`, `-05`.
    let (clock, offset) = split_zone(rest).ok_or_else(bad)?;
    let (h, m, s) = parse_clock(clock).ok_or_else(bad)?;
    let civil = DateTime::new(date.0, date.1, date.2, h, m, s, 0).map_err(|_| bad())?;
    let ts = match offset {
        Some(secs) => Offset::from_seconds(secs)
            .map_err(|_| bad())?
            .to_timestamp(civil)
            .map_err(|_| bad())?,
        None => tz
            .to_ambiguous_timestamp(civil)
            .unambiguous()
            .map_err(|_| {
                format!(
                    "“{text}” falls in a clock change of {}: it is no one moment; write its \
                     zone offset",
                    tz.iana_name().unwrap_or("the zone")
                )
            })?,
    };
    Ok(ts.as_second())
}

/// `2026-12-03` or `2026/12/3` → (year, month, day) as numbers (checked by the caller).
fn parse_date(text: &str) -> Option<(i16, i8, i8)> {
    let sep = if text.contains('-') { '-' } else { '/' };
    let mut parts = text.split(sep);
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some()
        || y.len() != 4
        || !(1..=2).contains(&m.len())
        || !(1..=2).contains(&d.len())
        || (sep == '-' && (m.len() != 2 || d.len() != 2))
    {
        return None;
    }
    Some((digits(y)?, digits(m)?, digits(d)?))
}

/// Splits a trailing zone off a clock: `08:30:00+08:00` → (`08:30:00`, Some(28800)).
fn split_zone(rest: &str) -> Option<(&str, Option<i32>)> {
    if let Some(clock) = rest.strip_suffix(['Z', 'z']) {
        return Some((clock.trim_end(), Some(0)));
    }
    let Some(i) = rest.rfind(['+', '-']) else {
        return Some((rest, None));
    };
    let (clock, zone) = (rest[..i].trim_end(), &rest[i + 1..]);
    let sign = if rest[i..].starts_with('-') { -1 } else { 1 };
    let digits: String = zone.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) {
        return None;
    }
    let hours: i32 = digits[..2].parse().ok()?;
    let minutes: i32 = if digits.len() == 4 {
        digits[2..].parse().ok()?
    } else {
        0
    };
    if hours > 14 || minutes > 59 {
        return None;
    }
    Some((clock, Some(sign * (hours * 3600 + minutes * 60))))
}

/// `8:30`, `08:30:00`, `08:30:00.123` (a fraction is within its second: dropped).
fn parse_clock(clock: &str) -> Option<(i8, i8, i8)> {
    let clock = match clock.split_once('.') {
        Some((c, frac)) if !frac.is_empty() && frac.bytes().all(|b| b.is_ascii_digit()) => c,
        Some(_) => return None,
        None => clock,
    };
    let mut parts = clock.split(':');
    let (h, m) = (parts.next()?, parts.next()?);
    let s = parts.next().unwrap_or("00");
    if parts.next().is_some() || !(1..=2).contains(&h.len()) || m.len() != 2 || s.len() != 2 {
        return None;
    }
    Some((digits(h)?, digits(m)?, digits(s)?))
}

/// Plain ASCII digits as a number (no sign, no spaces).
fn digits<T: std::str::FromStr>(s: &str) -> Option<T> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}
