//! One loaded order as the orders table keeps it: a small typed row (integers, interned
//! repeating strings, the order's text once), so a million loaded orders fit in memory; the
//! full order is read again from that text only when it is opened or exported.

use std::collections::HashSet;
use std::sync::Arc;

use paydesk::gateway::cny::sign::{SignOptions, Verdict, Verification};
use paydesk::gateway::cny::wire::{Order, OrderKind, OrderStatus, SignatureCheck};
use paydesk::money::Fen;
use paydesk::secret::Secret;

/// An absent integer (a missing amount, time or status): no order carries it, and it keeps
/// each field at 8 bytes where an `Option` takes 16.
const ABSENT: i64 = i64::MIN;

fn pack(v: Option<i64>) -> i64 {
    v.filter(|v| *v != ABSENT).unwrap_or(ABSENT)
}

fn unpack(v: i64) -> Option<i64> {
    (v != ABSENT).then_some(v)
}

/// The verdict on an order's `sign`, in two bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signature {
    Checked {
        verdict: Verdict,
        warned: bool,
    },
    /// No MD5 key was available.
    Unchecked,
}

impl Signature {
    fn of(check: &SignatureCheck) -> Signature {
        match check {
            SignatureCheck::Checked(v) => Signature::Checked {
                verdict: v.verdict,
                warned: v.warning.is_some(),
            },
            SignatureCheck::Unchecked => Signature::Unchecked,
        }
    }

    /// The verdict, `None` when nothing was checked.
    pub fn verdict(self) -> Option<Verdict> {
        match self {
            Signature::Checked { verdict, .. } => Some(verdict),
            Signature::Unchecked => None,
        }
    }

    pub fn is_invalid(self) -> bool {
        self.verdict().is_some_and(|v| !v.is_valid())
    }

    /// The word [`SignatureCheck::word`] gives for the same verdict.
    pub fn word(self) -> &'static str {
        match self {
            Signature::Checked {
                verdict: Verdict::Valid,
                warned: true,
            } => "valid, with a warning",
            Signature::Checked {
                verdict: Verdict::Valid,
                ..
            } => "valid",
            Signature::Checked { .. } => "invalid",
            Signature::Unchecked => "unchecked",
        }
    }
}

/// A string field of the order: where the order's text holds the same bytes (as it does
/// unless the value needed escaping), only their place there; its own copy otherwise.
enum Piece {
    InText { start: u32, len: u32 },
    Own(Box<str>),
}

impl Piece {
    fn new(text: &str, value: &str) -> Piece {
        text.find(value)
            .and_then(|start| {
                Some(Piece::InText {
                    start: u32::try_from(start).ok()?,
                    len: u32::try_from(value.len()).ok()?,
                })
            })
            .unwrap_or_else(|| Piece::Own(value.into()))
    }

    fn get<'a>(&'a self, text: &'a str) -> &'a str {
        match self {
            Piece::InText { start, len } => {
                let start = *start as usize;
                text.get(start..start + *len as usize).unwrap_or_default()
            }
            Piece::Own(s) => s,
        }
    }
}

/// One loaded order. Nothing here is formatted: the table formats the rows it draws.
pub struct Row {
    system_id: Piece,
    merchant_id: Piece,
    /// `payment_cl_name` (deposits only).
    depositor: Option<Piece>,
    /// Interned: a result holds a handful of channels.
    pub channel: Arc<str>,
    /// Interned: most memos are empty or one of a few words.
    pub memo: Arc<str>,
    amount: i64,
    real: i64,
    fee: i64,
    created: i64,
    updated: i64,
    status: i64,
    pub signature: Signature,
    /// The order as received, kept once for the details and for exports.
    pub text: Box<str>,
}

impl Row {
    pub fn system_id(&self) -> &str {
        self.system_id.get(&self.text)
    }

    pub fn merchant_id(&self) -> &str {
        self.merchant_id.get(&self.text)
    }

    pub fn depositor(&self) -> Option<&str> {
        self.depositor.as_ref().map(|p| p.get(&self.text))
    }

    pub fn amount(&self) -> Option<Fen> {
        unpack(self.amount).map(Fen::from_fen)
    }

    pub fn real_amount(&self) -> Option<Fen> {
        unpack(self.real).map(Fen::from_fen)
    }

    pub fn fee(&self) -> Option<Fen> {
        unpack(self.fee).map(Fen::from_fen)
    }

    pub fn created(&self) -> Option<i64> {
        unpack(self.created)
    }

    pub fn updated(&self) -> Option<i64> {
        unpack(self.updated)
    }

    pub fn status_code(&self) -> Option<i64> {
        unpack(self.status)
    }

    pub fn status(&self, kind: OrderKind) -> OrderStatus {
        OrderStatus {
            kind,
            code: self.status_code(),
        }
    }

    /// Whether the quick filter's `needle` (already [`Needle::new`]) is in any searched field.
    pub fn matches(&self, needle: &Needle, status_hit: impl Fn(Option<i64>) -> bool) -> bool {
        let fields = [
            self.system_id(),
            self.merchant_id(),
            self.depositor().unwrap_or(""),
            &*self.channel,
            &*self.memo,
        ];
        fields.iter().any(|f| needle.found_in(f))
            || status_hit(unpack(self.status))
            || needle.found_in(self.signature.word())
            || (needle.numeric
                && self
                    .amount()
                    .is_some_and(|a| needle.found_in(&a.yuan_plain())))
    }
}

/// The quick filter's text, ready to look for: ASCII letters match either case; other
/// letters (Chinese names) are compared as they are.
pub struct Needle {
    lower: Vec<u8>,
    /// Only a needle of digits, a point or a sign can be in an amount.
    numeric: bool,
}

impl Needle {
    pub fn new(text: &str) -> Needle {
        let text = text.trim();
        Needle {
            lower: text.as_bytes().to_ascii_lowercase(),
            numeric: !text.is_empty()
                && text
                    .bytes()
                    .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-'),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lower.is_empty()
    }

    pub fn found_in(&self, field: &str) -> bool {
        let (hay, needle) = (field.as_bytes(), &self.lower[..]);
        let Some((&first, rest)) = needle.split_first() else {
            return true;
        };
        if hay.len() < needle.len() {
            return false;
        }
        (0..=hay.len() - needle.len()).any(|i| {
            hay[i].to_ascii_lowercase() == first
                && hay[i + 1..i + needle.len()].eq_ignore_ascii_case(rest)
        })
    }
}

/// How to read a row's order again: the kind, and the key and options it was checked with.
#[derive(Clone)]
pub struct Reread {
    pub kind: OrderKind,
    pub key: Option<Secret>,
    pub options: SignOptions,
}

impl Reread {
    pub fn new(kind: OrderKind, key: Option<Secret>, options: SignOptions) -> Reread {
        Reread { kind, key, options }
    }

    /// The row's order, read from its text and checked as when it was loaded.
    pub fn order(&self, row: &Row) -> Order {
        reread(self.kind, &row.text, self.key.as_ref(), self.options)
    }

    /// The verdict on an order this reads, explained (`None` without a key).
    pub fn verification(&self, order: &Order) -> Option<Verification> {
        self.key
            .as_ref()
            .map(|key| order.verification(key, self.options))
    }
}

/// The text an order is kept as: the object exactly as it arrived, which is what its `sign`
/// covers.
pub fn order_text(order: &Order) -> Box<str> {
    order.text.clone()
}

/// The order of a kept text, its `sign` checked over the text as it was when loaded. A text
/// that is no longer one JSON object (it always is: it was one when loaded) reads as an order
/// that cannot be verified, never as a valid one.
pub fn reread(kind: OrderKind, text: &str, key: Option<&Secret>, options: SignOptions) -> Order {
    Order::from_text(kind, text, key, options).unwrap_or_else(|why| {
        Order::from_exact(kind, serde_json::Map::new(), Err(why), key, options)
    })
}

/// Turns orders into rows, sharing the strings that repeat between them.
#[derive(Default)]
pub struct RowBuilder {
    strings: HashSet<Arc<str>>,
}

impl RowBuilder {
    fn intern(&mut self, s: &str) -> Arc<str> {
        if let Some(found) = self.strings.get(s) {
            return Arc::clone(found);
        }
        let new: Arc<str> = Arc::from(s);
        self.strings.insert(Arc::clone(&new));
        new
    }

    pub fn row(&mut self, order: &Order) -> Row {
        let text = order_text(order);
        Row {
            system_id: Piece::new(&text, &order.system_id),
            merchant_id: Piece::new(&text, &order.merchant_id),
            depositor: order
                .depositor_name
                .as_deref()
                .map(|d| Piece::new(&text, d)),
            channel: self.intern(&order.channel_id),
            memo: self.intern(&order.memo),
            amount: pack(order.amount.map(Fen::fen)),
            real: pack(order.real_amount.map(Fen::fen)),
            fee: pack(order.fee.map(Fen::fen)),
            created: pack(order.create_time_secs),
            updated: pack(order.update_time_secs),
            status: pack(order.status.code),
            signature: Signature::of(&order.signature),
            text,
        }
    }
}
