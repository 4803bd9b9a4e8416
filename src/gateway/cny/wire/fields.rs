//! Reading an order's typed fields as brands send them, from a map or from the raw tokens of
//! its text: amounts as exact fen (never rounded), integers, and times.
#![deny(clippy::float_arithmetic)]

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::gateway::cny::sign::Token;
use crate::money::Fen;

/// The text of a scalar field: strings as they are, numbers as their raw text.
pub fn field_text(raw: &Map<String, Value>, key: &str) -> String {
    match raw.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// An integer field sent as a number or as a string of digits (the published create example
/// sends `amount` and `request_time` as strings).
pub fn field_int(raw: &Map<String, Value>, key: &str) -> Option<i64> {
    match raw.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// An amount as brands send it: an integer (a number or a string of digits) is fen; a
/// decimal (`"50000.000000"`, `1000.0000`) is yuan, and exact fen only when nothing but zeros
/// follows the second decimal. Anything else is `None`: never rounded.
pub fn field_fen(raw: &Map<String, Value>, key: &str) -> Option<Fen> {
    let text = match raw.get(key)? {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.trim().to_owned(),
        _ => return None,
    };
    parse_fen_text(&text).map(Fen::from_fen)
}

/// The fen of an amount's text (see [`field_fen`]).
pub fn parse_fen_text(text: &str) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let Some((whole, fraction)) = digits.split_once('.') else {
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let fen: i64 = digits.parse().ok()?;
        return Some(if negative { -fen } else { fen });
    };
    if whole.is_empty()
        || fraction.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (cents, rest) = fraction.split_at(fraction.len().min(2));
    if rest.bytes().any(|b| b != b'0') {
        return None;
    }
    let cents: i64 = format!("{cents:0<2}").parse().ok()?;
    let fen = whole
        .parse::<i64>()
        .ok()?
        .checked_mul(100)?
        .checked_add(cents)?;
    Some(if negative { -fen } else { fen })
}

/// A time as brands send it: Unix seconds (a number or a string of digits), or ISO 8601 with
/// an offset, or without one in the platform's own zone (China Standard Time).
pub fn field_time(raw: &Map<String, Value>, key: &str) -> Option<i64> {
    match raw.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => parse_time_text(s.trim()),
        _ => None,
    }
}

pub(super) fn parse_time_text(text: &str) -> Option<i64> {
    if let Ok(secs) = text.parse::<i64>() {
        return Some(secs);
    }
    if let Ok(ts) = text.parse::<jiff::Timestamp>() {
        return Some(ts.as_second());
    }
    let civil = text.parse::<jiff::civil::DateTime>().ok()?;
    let zone = jiff::tz::TimeZone::get("Asia/Shanghai").ok()?;
    civil.to_zoned(zone).ok().map(|z| z.timestamp().as_second())
}

/// A number's text as `serde_json` keeps it (`arbitrary_precision`): the token, but an
/// exponent written `e` with its sign (`1E2` reads `1e+2`), so typed values match the map's.
fn number_text(token: &str) -> Cow<'_, str> {
    let Some(e) = token.find(['e', 'E']) else {
        return Cow::Borrowed(token);
    };
    let (mantissa, rest) = token.split_at(e);
    let exponent = &rest[1..];
    let sign = if exponent.starts_with(['+', '-']) {
        ""
    } else {
        "+"
    };
    Cow::Owned(format!("{mantissa}e{sign}{exponent}"))
}

/// [`field_text`] of a token.
pub(super) fn token_text(token: Option<&Token<'_>>) -> String {
    match token {
        Some(Token::String(s)) => s.clone().into_owned(),
        Some(Token::Number(n)) => number_text(n).into_owned(),
        Some(Token::Bool(b)) => b.to_string(),
        Some(Token::Null) | None => String::new(),
    }
}

/// [`field_fen`] of a token.
pub(super) fn token_fen(token: Option<&Token<'_>>) -> Option<Fen> {
    let fen = match token? {
        Token::Number(n) => parse_fen_text(&number_text(n)),
        Token::String(s) => parse_fen_text(s.trim()),
        _ => None,
    };
    fen.map(Fen::from_fen)
}

/// An integer field as [`field_int`] and [`field_time`] read it: a number's text as an
/// integer, a string by `from_string`.
pub(super) fn token_int(
    token: Option<&Token<'_>>,
    from_string: impl Fn(&str) -> Option<i64>,
) -> Option<i64> {
    match token? {
        Token::Number(n) => number_text(n).parse().ok(),
        Token::String(s) => from_string(s),
        _ => None,
    }
}
