//! The order reader: a query reply's page, each order's fields and the verdict on its `sign`,
//! checked over the text as carried.
#![deny(clippy::float_arithmetic)]

use serde_json::{Map, Value};

use super::errors::envelope;
use super::fields::{
    field_fen, field_int, field_text, field_time, parse_time_text, token_fen, token_int, token_text,
};
use super::{OrderKind, OrderQuery, OrderStatus, ReplyError};

use crate::gateway::cny::sign::{
    Canonical, Check, CheckScratch, Cursor, ExactError, ExactObject, ExactValue, Field,
    SignOptions, Token, Verdict, Verification, check_fields, exact_entries, exact_items,
    parse_exact, scan_flat, verify_exact, verify_text,
};
use crate::money::Fen;
use crate::secret::Secret;

/// The outcome of checking one order's `sign`: the verdict alone, since tables, exports and
/// counts read nothing else; [`Order::verification`] explains it on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureCheck {
    Checked(Check),
    /// No MD5 key was available.
    Unchecked,
}

impl SignatureCheck {
    /// `valid`, `valid, with a warning`, `invalid` or `unchecked`, as the CLI and exports
    /// print it.
    pub fn word(&self) -> &'static str {
        match self {
            SignatureCheck::Checked(v) if v.verdict == Verdict::Valid && v.warning.is_some() => {
                "valid, with a warning"
            }
            SignatureCheck::Checked(v) if v.verdict == Verdict::Valid => "valid",
            SignatureCheck::Checked(_) => "invalid",
            SignatureCheck::Unchecked => "unchecked",
        }
    }

    /// What is odd about a valid signature (its hex case), to show beside it.
    pub fn warning(&self) -> Option<&'static str> {
        match self {
            SignatureCheck::Checked(v) => v.warning,
            SignatureCheck::Unchecked => None,
        }
    }

    pub fn is_invalid(&self) -> bool {
        matches!(self, SignatureCheck::Checked(v) if v.verdict != Verdict::Valid)
    }
}

/// One deposit or payout order as received: its text, a typed view of the fields the console
/// works with, and the verdict on its signature.
#[derive(Clone, Debug)]
pub struct Order {
    pub kind: OrderKind,
    /// The order's JSON object exactly as carried, which is what `sign` covers; every field
    /// is read from it on demand ([`Order::raw`], [`Order::exact`]).
    pub text: Box<str>,
    pub system_id: String,
    pub merchant_id: String,
    /// `payment_cl_name` (deposits only).
    pub depositor_name: Option<String>,
    pub platform_id: String,
    pub channel_id: String,
    pub amount: Option<Fen>,
    pub real_amount: Option<Fen>,
    pub fee: Option<Fen>,
    pub status: OrderStatus,
    pub memo: String,
    pub create_time_secs: Option<i64>,
    pub update_time_secs: Option<i64>,
    pub signature: SignatureCheck,
}

impl Order {
    /// Reads one order object that Paydesk holds as a map (a form-encoded notification),
    /// checking its `sign` when a key is given.
    pub fn from_raw(
        kind: OrderKind,
        raw: Map<String, Value>,
        key: Option<&Secret>,
        options: SignOptions,
    ) -> Order {
        let exact = Ok(ExactObject::from_map(&raw));
        let mut order = Order::from_parts(kind, String::new(), &raw, &exact, key, options);
        order.text = Value::Object(raw).to_string().into_boxed_str();
        order
    }

    /// Reads one order: the typed view from `raw`, the signature from `exact`. The text kept is
    /// `exact`'s (numbers as their tokens), so [`Order::exact`] reads it back the same.
    pub fn from_exact(
        kind: OrderKind,
        raw: Map<String, Value>,
        exact: Result<ExactObject, ExactError>,
        key: Option<&Secret>,
        options: SignOptions,
    ) -> Order {
        let mut order = Order::from_parts(kind, String::new(), &raw, &exact, key, options);
        let text = match exact {
            Ok(e) => ExactValue::Object(e).to_json_text(),
            Err(_) => Value::Object(raw).to_string(),
        };
        order.text = text.into_boxed_str();
        order
    }

    /// Reads one order from its JSON text as carried (a page's item, or a row kept as text and
    /// opened again), checking its `sign` when a key is given. A repeated key makes the order
    /// unreadable (never valid); text that is not one JSON object is an error.
    pub fn from_text(
        kind: OrderKind,
        text: &str,
        key: Option<&Secret>,
        options: SignOptions,
    ) -> Result<Order, ExactError> {
        let mut fields = Vec::with_capacity(16);
        if scan_flat(text, &mut fields).is_some() {
            let mut scratch = CheckScratch::default();
            return Ok(Order::from_fields(
                kind,
                text,
                &fields,
                key,
                options,
                &mut scratch,
            ));
        }
        Order::from_text_exactly(kind, text, key, options)
    }

    /// [`Order::from_text`] by the exact reader and a map: for what the fast scan leaves.
    fn from_text_exactly(
        kind: OrderKind,
        text: &str,
        key: Option<&Secret>,
        options: SignOptions,
    ) -> Result<Order, ExactError> {
        let raw: Map<String, Value> =
            serde_json::from_str(text).map_err(|e| ExactError::Syntax(e.to_string()))?;
        let exact = exact_object(text);
        if let Err(ExactError::Syntax(why)) = exact {
            return Err(ExactError::Syntax(why));
        }
        Ok(Order::from_parts(
            kind,
            text.to_owned(),
            &raw,
            &exact,
            key,
            options,
        ))
    }

    fn from_parts(
        kind: OrderKind,
        text: String,
        raw: &Map<String, Value>,
        exact: &Result<ExactObject, ExactError>,
        key: Option<&Secret>,
        options: SignOptions,
    ) -> Order {
        let signature = match (key, exact) {
            (Some(k), Ok(e)) => SignatureCheck::Checked(Check::from(&verify_exact(e, k, options))),
            (Some(_), Err(_)) => SignatureCheck::Checked(Check {
                verdict: Verdict::Unreadable,
                warning: None,
            }),
            (None, _) => SignatureCheck::Unchecked,
        };
        Order {
            kind,
            text: text.into_boxed_str(),
            system_id: field_text(raw, kind.system_id_field()),
            merchant_id: field_text(raw, kind.merchant_id_field()),
            depositor_name: raw
                .get("payment_cl_name")
                .and_then(Value::as_str)
                .map(str::to_owned),
            platform_id: field_text(raw, "platform_id"),
            channel_id: field_text(raw, "platform_channel_id"),
            amount: field_fen(raw, "amount"),
            real_amount: field_fen(raw, "real_amount"),
            fee: field_fen(raw, "fee"),
            status: OrderStatus {
                kind,
                code: field_int(raw, "status"),
            },
            memo: field_text(raw, "memo"),
            create_time_secs: field_time(raw, "create_time"),
            update_time_secs: field_time(raw, "update_time"),
            signature,
        }
    }

    /// The typed view straight from a flat object's fields: the same values the map gives.
    /// The verdict comes from the text by the fast path, with `scratch` reused over a page's
    /// orders (they share their keys, so each after the first is read without sorting).
    fn from_fields(
        kind: OrderKind,
        text: &str,
        fields: &[Field<'_>],
        key: Option<&Secret>,
        options: SignOptions,
        scratch: &mut CheckScratch,
    ) -> Order {
        let p = Picked::from(kind, fields);
        Order {
            kind,
            text: text.into(),
            system_id: token_text(p.system_id),
            merchant_id: token_text(p.merchant_id),
            depositor_name: match p.depositor_name {
                Some(Token::String(s)) => Some(s.clone().into_owned()),
                _ => None,
            },
            platform_id: token_text(p.platform_id),
            channel_id: token_text(p.channel_id),
            amount: token_fen(p.amount),
            real_amount: token_fen(p.real_amount),
            fee: token_fen(p.fee),
            status: OrderStatus {
                kind,
                code: token_int(p.status, |s| s.trim().parse().ok()),
            },
            memo: token_text(p.memo),
            create_time_secs: token_int(p.create_time, |s| parse_time_text(s.trim())),
            update_time_secs: token_int(p.update_time, |s| parse_time_text(s.trim())),
            signature: match key {
                Some(k) => SignatureCheck::Checked(check_fields(fields, k, options, scratch)),
                None => SignatureCheck::Unchecked,
            },
        }
    }

    /// The verdict with its explanation (the masked signed text, the fields left out, the
    /// `sign` received), from the text as carried: for the order details, not for every order
    /// of a page. An order whose text could not be read one way only stays unreadable here
    /// even when the text kept (then rebuilt from a map) would read.
    pub fn verification(&self, key: &Secret, options: SignOptions) -> Verification {
        let v = verify_text(&self.text, key, options);
        match self.signature {
            SignatureCheck::Checked(c)
                if c.verdict == Verdict::Unreadable && v.verdict != Verdict::Unreadable =>
            {
                Verification::unreadable(&ExactError::Syntax(
                    "the order as received could not be read one way only".to_owned(),
                ))
            }
            _ => v,
        }
    }

    /// Every field as received, read from the text (an unreadable text gives no fields; a
    /// repeated key keeps its last value). For display and typed reading only: a number in
    /// exponent form comes out rewritten, so never sign or verify this.
    pub fn raw(&self) -> Map<String, Value> {
        serde_json::from_str(&self.text).unwrap_or_default()
    }

    /// The order as its text carried it, which is what `sign` covers; an error when the text
    /// cannot be read one way only (a repeated key), and then nothing can be verified.
    pub fn exact(&self) -> Result<ExactObject, ExactError> {
        exact_object(&self.text)
    }

    /// The amount fields that are present but cannot be read as exact fen: shown as
    /// unreadable, never rounded.
    pub fn unreadable_amounts(&self) -> Vec<&'static str> {
        let amounts = [
            ("amount", self.amount),
            ("real_amount", self.real_amount),
            ("fee", self.fee),
        ];
        if amounts.iter().all(|(_, v)| v.is_some()) {
            return Vec::new();
        }
        let raw = self.raw();
        amounts
            .into_iter()
            .filter(|(k, v)| v.is_none() && raw.get(*k).is_some_and(|x| !x.is_null()))
            .map(|(k, _)| k)
            .collect()
    }

    /// The canonical signing string (key masked), whether or not a key was at hand.
    pub fn canonical_masked(&self, options: SignOptions) -> String {
        match self.exact() {
            Ok(exact) => Canonical::of_exact(&exact, options).masked(options),
            Err(why) => format!("(none: {why})"),
        }
    }
}

/// The typed fields' tokens, picked in one pass over an order's fields (each key appears
/// once, so the pass finds what a lookup by key would, at a fraction of the comparisons).
#[derive(Default)]
struct Picked<'f, 'a> {
    system_id: Option<&'f Token<'a>>,
    merchant_id: Option<&'f Token<'a>>,
    depositor_name: Option<&'f Token<'a>>,
    platform_id: Option<&'f Token<'a>>,
    channel_id: Option<&'f Token<'a>>,
    amount: Option<&'f Token<'a>>,
    real_amount: Option<&'f Token<'a>>,
    fee: Option<&'f Token<'a>>,
    status: Option<&'f Token<'a>>,
    memo: Option<&'f Token<'a>>,
    create_time: Option<&'f Token<'a>>,
    update_time: Option<&'f Token<'a>>,
}

impl<'f, 'a> Picked<'f, 'a> {
    fn from(kind: OrderKind, fields: &'f [Field<'a>]) -> Self {
        let mut p = Picked::default();
        for f in fields {
            let v = Some(&f.value);
            match f.key {
                k @ ("payment_id" | "payout_id") if k == kind.system_id_field() => {
                    p.system_id = v;
                }
                k @ ("payment_cl_id" | "payout_cl_id") if k == kind.merchant_id_field() => {
                    p.merchant_id = v;
                }
                "payment_cl_name" => p.depositor_name = v,
                "platform_id" => p.platform_id = v,
                "platform_channel_id" => p.channel_id = v,
                "amount" => p.amount = v,
                "real_amount" => p.real_amount = v,
                "fee" => p.fee = v,
                "status" => p.status = v,
                "memo" => p.memo = v,
                "create_time" => p.create_time = v,
                "update_time" => p.update_time = v,
                _ => {}
            }
        }
        p
    }
}

/// One page of a query.
#[derive(Clone, Debug)]
pub struct QueryPage {
    pub kind: OrderKind,
    pub orders: Vec<Order>,
    /// The count of all matching orders, as the gateway reported it.
    pub total: u64,
    pub offset: u64,
    pub limit: u32,
}

impl QueryPage {
    pub fn invalid_signatures(&self) -> usize {
        self.orders
            .iter()
            .filter(|o| o.signature.is_invalid())
            .count()
    }
}
/// Reads a query reply and checks the signature of every order in it.
pub fn parse_query_reply(
    kind: OrderKind,
    query: &OrderQuery,
    status: u16,
    body: &[u8],
    key: Option<&Secret>,
    options: SignOptions,
) -> Result<QueryPage, ReplyError> {
    if let Some((orders, total)) = fast_page(kind, body, key, options) {
        return Ok(QueryPage {
            kind,
            orders,
            total,
            offset: query.offset,
            limit: query.limit,
        });
    }
    let mut map = envelope(status, body)?;
    let total = match map.get("total") {
        Some(Value::Number(n)) => n.as_u64(),
        Some(Value::String(s)) => s.trim().parse().ok(),
        None => None,
        _ => None,
    }
    .ok_or_else(|| ReplyError::Malformed("total is missing or not a count".to_owned()))?;
    let data = match map.remove("data") {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(_) => return Err(ReplyError::Malformed("data is not a list".to_owned())),
    };
    let exact = exact_orders(body, data.len())?;
    let mut orders = Vec::with_capacity(data.len());
    for (i, (item, (text, exact))) in data.into_iter().zip(exact).enumerate() {
        match item {
            Value::Object(raw) => orders.push(Order::from_parts(
                kind,
                text.to_owned(),
                &raw,
                &exact,
                key,
                options,
            )),
            _ => {
                return Err(ReplyError::Malformed(format!(
                    "order {} of the page is not an object",
                    i + 1
                )));
            }
        }
    }
    Ok(QueryPage {
        kind,
        orders,
        total,
        offset: query.offset,
        limit: query.limit,
    })
}

/// The common reply read in one pass over its text: an envelope of scalars with `error_code`
/// `0000` and a count, and `data` a list of flat orders, each verified and typed from its
/// own slices. `None` for anything else, which the exact path then reads (and explains).
fn fast_page(
    kind: OrderKind,
    body: &[u8],
    key: Option<&Secret>,
    options: SignOptions,
) -> Option<(Vec<Order>, u64)> {
    let text = std::str::from_utf8(body).ok()?;
    let mut c = Cursor::new(text);
    let mut keys: Vec<&str> = Vec::with_capacity(8);
    let mut fields = Vec::with_capacity(16);
    let mut scratch = CheckScratch::default();
    let mut orders = Vec::new();
    let (mut accepted, mut total) = (false, None);
    c.eat(b'{')?;
    if !c.next_is(b'}') {
        loop {
            let k = c.key()?;
            if keys.contains(&k) {
                return None;
            }
            keys.push(k);
            if k == "data" && c.next_is(b'[') {
                if !c.next_is(b']') {
                    loop {
                        c.skip_ws();
                        let start = c.pos();
                        c.flat_object(&mut fields)?;
                        let item = c.since(start)?;
                        orders.push(Order::from_fields(
                            kind,
                            item,
                            &fields,
                            key,
                            options,
                            &mut scratch,
                        ));
                        if c.next_is(b']') {
                            break;
                        }
                        c.eat(b',')?;
                    }
                }
            } else {
                let value = c.scalar()?;
                match (k, value) {
                    ("error_code", Token::String(code)) => accepted = code == "0000",
                    ("error_code", _) => accepted = false,
                    ("total", Token::Number(n)) => total = n.parse::<u64>().ok(),
                    ("total", Token::String(s)) => total = s.trim().parse::<u64>().ok(),
                    ("total", _) => total = None,
                    ("data", Token::Null) | (_, _) => {}
                }
            }
            if c.next_is(b'}') {
                break;
            }
            c.eat(b',')?;
        }
    }
    (c.at_end() && accepted).then_some(())?;
    Some((orders, total?))
}

/// The text of the reply's `data`: `None` when the reply has none (or `null`).
pub(super) fn exact_data(body: &[u8]) -> Result<Option<&str>, ReplyError> {
    let text = std::str::from_utf8(body)
        .map_err(|_| ReplyError::Malformed("the reply is not UTF-8 text".to_owned()))?;
    let entries = exact_entries(text).map_err(|e| ReplyError::Malformed(e.to_string()))?;
    Ok(entries
        .into_iter()
        .find(|(k, _)| k == "data")
        .map(|(_, raw)| raw)
        .filter(|raw| *raw != "null"))
}

/// An order's text and what the exact reader made of it.
type ExactItem<'a> = (&'a str, Result<ExactObject, ExactError>);

/// Each order of `data` read exactly, one by one: a repeated key makes that order unreadable
/// (never valid) and leaves the others alone; a repeated key in the envelope refuses the reply.
fn exact_orders(body: &[u8], count: usize) -> Result<Vec<ExactItem<'_>>, ReplyError> {
    let Some(data) = exact_data(body)? else {
        return Ok(Vec::new());
    };
    let items = exact_items(data).map_err(|e| ReplyError::Malformed(e.to_string()))?;
    if items.len() != count {
        return Err(ReplyError::Malformed(
            "the orders of the reply could not be read exactly".to_owned(),
        ));
    }
    Ok(items
        .into_iter()
        .map(|item| (item, exact_object(item)))
        .collect())
}

pub(super) fn exact_object(text: &str) -> Result<ExactObject, ExactError> {
    match parse_exact(text)? {
        ExactValue::Object(o) => Ok(o),
        _ => Err(ExactError::Syntax("not an object".to_owned())),
    }
}

#[cfg(test)]
mod tests;
