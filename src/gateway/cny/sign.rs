//! The CNY gateway's MD5 signing rule, over the raw JSON text of each value.
//!
//! `gateways.md` §1: every field but `sign`, minus null, `""`, arrays and objects; keys in byte
//! order; `key=value` joined by `&`; `&` and the MD5 key appended (so `{}` signs `&KEY`); MD5
//! as lowercase hex. Values keep the token text they arrived with (`1.50` stays `1.50`, `1e2`
//! stays `1e2`). `serde_json` with `arbitrary_precision` keeps digits but rewrites exponents
//! (`1e2` becomes `1e+2`) and lets a repeated key win silently, so what was received is read
//! with [`parse_exact`], which keeps each token's text and refuses repeated keys.
#![deny(clippy::float_arithmetic)]

use std::borrow::Cow;
use std::collections::HashSet;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use crate::secret::Secret;

/// How the key is appended to the canonical string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeySuffix {
    /// `…&update_time=1596425770&KEY` (the published rule).
    #[default]
    Raw,
    /// `…&update_time=1596425770&key=KEY` (some brands).
    KeyEquals,
}

/// The letter case of the hex digest the gateway produces.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HexCase {
    #[default]
    Lower,
    Upper,
}

/// Whether fields whose value is zero take part in the signature.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ZeroFields {
    /// Zero is signed like any number (the published rule).
    #[default]
    Kept,
    /// Zero (`0`, `0.00` or the string `"0"`) is left out, as some brands' PHP does.
    Dropped,
}

/// The three per-profile switches of the rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOptions {
    #[serde(default)]
    pub key_suffix: KeySuffix,
    #[serde(default)]
    pub hex_case: HexCase,
    #[serde(default)]
    pub zero_fields: ZeroFields,
}

/// Why a field is not in the canonical string.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Omission {
    /// The signature itself.
    Sign,
    Null,
    EmptyString,
    Array,
    Object,
    /// Zero, under the "zero dropped" switch.
    Zero,
}

impl Omission {
    pub fn reason(self) -> &'static str {
        match self {
            Omission::Sign => "the signature itself is never signed",
            Omission::Null => "null values are left out",
            Omission::EmptyString => "empty strings are left out",
            Omission::Array => "arrays are left out",
            Omission::Object => "objects are left out",
            Omission::Zero => "zero is left out under this profile's switch",
        }
    }
}

/// The string that is hashed, without the key, and what was left out of it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Canonical {
    /// `amount=30000&create_time=…&update_time=1596425770`: no key.
    pub fields: String,
    pub omitted: Vec<(String, Omission)>,
}

impl Canonical {
    /// Builds the canonical form of an object Paydesk built itself (a request it signs).
    /// What was received is checked with [`Canonical::of_exact`], which keeps the token text.
    pub fn of(object: &Map<String, Value>, options: SignOptions) -> Canonical {
        Canonical::build(
            object.iter().map(|(key, value)| {
                let text = match value {
                    _ if key == "sign" => Err(Omission::Sign),
                    Value::Null => Err(Omission::Null),
                    Value::Array(_) => Err(Omission::Array),
                    Value::Object(_) => Err(Omission::Object),
                    Value::String(s) if s.is_empty() => Err(Omission::EmptyString),
                    Value::String(s) => Ok(Cow::Borrowed(s.as_str())),
                    Value::Number(n) => Ok(Cow::Owned(n.to_string())),
                    Value::Bool(b) => Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
                };
                (key.as_str(), text)
            }),
            object.len(),
            options,
        )
    }

    /// Builds the canonical form of an object as received, from the exact text of its tokens.
    pub fn of_exact(object: &ExactObject, options: SignOptions) -> Canonical {
        Canonical::build(
            object.fields().map(|(key, value)| {
                let text = match value {
                    _ if key == "sign" => Err(Omission::Sign),
                    ExactValue::Null => Err(Omission::Null),
                    ExactValue::Array(_) => Err(Omission::Array),
                    ExactValue::Object(_) => Err(Omission::Object),
                    ExactValue::String(s) if s.is_empty() => Err(Omission::EmptyString),
                    ExactValue::String(s) | ExactValue::Number(s) => Ok(Cow::Borrowed(s.as_str())),
                    ExactValue::Bool(b) => Ok(Cow::Borrowed(if *b { "true" } else { "false" })),
                };
                (key, text)
            }),
            object.len(),
            options,
        )
    }

    fn build<'a>(
        entries: impl Iterator<Item = (&'a str, Result<Cow<'a, str>, Omission>)>,
        len: usize,
        options: SignOptions,
    ) -> Canonical {
        let mut kept: Vec<(&str, Cow<'a, str>)> = Vec::with_capacity(len);
        let mut omitted = Vec::new();
        for (key, text) in entries {
            match text {
                Ok(t) if options.zero_fields == ZeroFields::Dropped && is_zero_text(&t) => {
                    omitted.push((key.to_owned(), Omission::Zero));
                }
                Ok(t) => kept.push((key, t)),
                Err(why) => omitted.push((key.to_owned(), why)),
            }
        }
        kept.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        omitted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut fields =
            String::with_capacity(kept.iter().map(|(k, v)| k.len() + v.len() + 2).sum());
        for (i, (k, v)) in kept.iter().enumerate() {
            if i > 0 {
                fields.push('&');
            }
            fields.push_str(k);
            fields.push('=');
            fields.push_str(v);
        }
        Canonical { fields, omitted }
    }

    /// The whole hashed text with the key shown as `***`, safe to display and log.
    pub fn masked(&self, options: SignOptions) -> String {
        self.with_key("***", options)
    }

    /// The `&` before the key is always there: an object with no signed field hashes `&KEY`
    /// (rule step 5 appends `&` and the key whatever came before).
    fn with_key(&self, key: &str, options: SignOptions) -> String {
        match options.key_suffix {
            KeySuffix::Raw => format!("{}&{key}", self.fields),
            KeySuffix::KeyEquals => format!("{}&key={key}", self.fields),
        }
    }

    /// The 16 bytes of the MD5 digest of the canonical string and key.
    pub fn digest(&self, key: &Secret, options: SignOptions) -> [u8; 16] {
        let text = self.with_key(key.expose(), options);
        Md5::digest(text.as_bytes()).into()
    }

    /// The `sign` value to send.
    pub fn sign(&self, key: &Secret, options: SignOptions) -> String {
        let hex = hex::encode(self.digest(key, options));
        match options.hex_case {
            HexCase::Lower => hex,
            HexCase::Upper => hex.to_ascii_uppercase(),
        }
    }
}

fn is_zero_text(text: &str) -> bool {
    let digits = text.strip_prefix('-').unwrap_or(text);
    !digits.is_empty()
        && digits.bytes().any(|b| b == b'0')
        && digits.bytes().all(|b| b == b'0' || b == b'.')
}

/// Signs an object (its `sign` field, if any, is ignored).
pub fn sign_object(object: &Map<String, Value>, key: &Secret, options: SignOptions) -> String {
    Canonical::of(object, options).sign(key, options)
}

/// What a `sign` check concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Valid,
    /// The signature is well formed but does not match: the data or the key differ.
    Mismatch,
    /// No `sign` field at all.
    Missing,
    /// `sign` is not 32 hex characters (or not a string).
    Malformed,
    /// The object could not be read exactly (a key appears twice), so nothing was checked.
    Unreadable,
}

impl Verdict {
    pub fn is_valid(self) -> bool {
        self == Verdict::Valid
    }

    pub fn describe(self) -> &'static str {
        match self {
            Verdict::Valid => "valid",
            Verdict::Mismatch => "invalid: the signature does not match the fields and key",
            Verdict::Missing => "invalid: there is no sign field",
            Verdict::Malformed => "invalid: sign is not 32 hexadecimal characters",
            Verdict::Unreadable => {
                "invalid: the object cannot be read exactly (a key appears twice), so its signature cannot be checked"
            }
        }
    }
}

/// A verdict with what it was computed from, so support staff can see why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verification {
    pub verdict: Verdict,
    /// The hashed text with the key masked.
    pub canonical_masked: String,
    pub omitted: Vec<(String, Omission)>,
    pub received_sign: Option<String>,
}

/// Checks the `sign` of an object. Constant-time in the digest comparison, case-insensitive
/// in the hex, and closed on every doubt: no sign, a non-string sign or a sign of the wrong
/// length is never valid. For what was received, prefer [`verify_exact`]: a `Value` has
/// already lost the text of exponents and any repeated key.
pub fn verify_object(
    object: &Map<String, Value>,
    key: &Secret,
    options: SignOptions,
) -> Verification {
    let received = match object.get("sign") {
        None => None,
        Some(Value::String(s)) => Some(Ok(s.as_str())),
        Some(other) => Some(Err(other.to_string())),
    };
    verification(Canonical::of(object, options), received, key, options)
}

/// Checks the `sign` of an object as received, over the exact text of its tokens.
pub fn verify_exact(object: &ExactObject, key: &Secret, options: SignOptions) -> Verification {
    let received = match object.get("sign") {
        None => None,
        Some(ExactValue::String(s)) => Some(Ok(s.as_str())),
        Some(other) => Some(Err(other.to_json_text())),
    };
    verification(Canonical::of_exact(object, options), received, key, options)
}

fn verification(
    canonical: Canonical,
    received: Option<Result<&str, String>>,
    key: &Secret,
    options: SignOptions,
) -> Verification {
    let (verdict, received_sign) = match received {
        None => (Verdict::Missing, None),
        Some(Ok(s)) => (check_hex(&canonical, s, key, options), Some(s.to_owned())),
        Some(Err(other)) => (Verdict::Malformed, Some(other)),
    };
    Verification {
        verdict,
        canonical_masked: canonical.masked(options),
        omitted: canonical.omitted,
        received_sign,
    }
}

impl Verification {
    /// The verdict on an object that could not be read exactly: never valid.
    pub fn unreadable(why: &ExactError) -> Verification {
        Verification {
            verdict: Verdict::Unreadable,
            canonical_masked: format!("(none: {why})"),
            omitted: Vec::new(),
            received_sign: None,
        }
    }
}

fn check_hex(canonical: &Canonical, received: &str, key: &Secret, options: SignOptions) -> Verdict {
    let mut got = [0u8; 16];
    if received.len() != 32 || hex::decode_to_slice(received, &mut got).is_err() {
        return Verdict::Malformed;
    }
    let want = canonical.digest(key, options);
    if bool::from(want.ct_eq(&got)) {
        Verdict::Valid
    } else {
        Verdict::Mismatch
    }
}

/// A JSON value as it was carried: scalars keep the exact text of their token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExactValue {
    Null,
    Bool(bool),
    /// The number token exactly as it was written (`1e2` stays `1e2`, `1.50` stays `1.50`).
    Number(String),
    /// The string's value, escapes decoded.
    String(String),
    Array(Vec<ExactValue>),
    Object(ExactObject),
}

impl ExactValue {
    /// The value as a `serde_json::Value`, for display and typed reading only: a number in
    /// exponent form comes out rewritten (`1e+2`), so never sign or verify this.
    pub fn to_value(&self) -> Value {
        match self {
            ExactValue::Null => Value::Null,
            ExactValue::Bool(b) => Value::Bool(*b),
            ExactValue::Number(n) => n
                .parse::<serde_json::Number>()
                .map_or_else(|_| Value::String(n.clone()), Value::Number),
            ExactValue::String(s) => Value::String(s.clone()),
            ExactValue::Array(items) => Value::Array(items.iter().map(Self::to_value).collect()),
            ExactValue::Object(o) => Value::Object(o.to_map()),
        }
    }

    /// The value of something Paydesk built itself (numbers as `Value` prints them).
    pub fn from_value(value: &Value) -> ExactValue {
        match value {
            Value::Null => ExactValue::Null,
            Value::Bool(b) => ExactValue::Bool(*b),
            Value::Number(n) => ExactValue::Number(n.to_string()),
            Value::String(s) => ExactValue::String(s.clone()),
            Value::Array(items) => ExactValue::Array(items.iter().map(Self::from_value).collect()),
            Value::Object(map) => ExactValue::Object(ExactObject::from_map(map)),
        }
    }

    /// JSON text of the value; numbers keep their token text.
    pub fn to_json_text(&self) -> String {
        match self {
            ExactValue::Number(n) => n.clone(),
            ExactValue::Array(items) => {
                let parts: Vec<String> = items.iter().map(Self::to_json_text).collect();
                format!("[{}]", parts.join(","))
            }
            ExactValue::Object(o) => {
                let parts: Vec<String> = o
                    .fields()
                    .map(|(k, v)| format!("{}:{}", Value::from(k), v.to_json_text()))
                    .collect();
                format!("{{{}}}", parts.join(","))
            }
            other => other.to_value().to_string(),
        }
    }
}

/// An object as it was carried: its fields in the order received, each key once.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExactObject {
    fields: Vec<(String, ExactValue)>,
}

impl ExactObject {
    pub fn get(&self, key: &str) -> Option<&ExactValue> {
        self.fields.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    /// Replaces the value of `key` in place, or adds it at the end.
    pub fn insert(&mut self, key: String, value: ExactValue) {
        match self.fields.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((key, value)),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<ExactValue> {
        let i = self.fields.iter().position(|(k, _)| k == key)?;
        Some(self.fields.remove(i).1)
    }

    /// The fields in the order received.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &ExactValue)> {
        self.fields.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.fields.iter().map(|(k, _)| k.as_str())
    }

    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The text of a scalar field: a string's value, a number's or boolean's token; else "".
    pub fn text(&self, key: &str) -> String {
        match self.get(key) {
            Some(ExactValue::String(s) | ExactValue::Number(s)) => s.clone(),
            Some(ExactValue::Bool(b)) => b.to_string(),
            _ => String::new(),
        }
    }

    /// For display and typed reading only (see [`ExactValue::to_value`]).
    pub fn to_map(&self) -> Map<String, Value> {
        self.fields
            .iter()
            .map(|(k, v)| (k.clone(), v.to_value()))
            .collect()
    }

    pub fn from_map(map: &Map<String, Value>) -> ExactObject {
        ExactObject {
            fields: map
                .iter()
                .map(|(k, v)| (k.clone(), ExactValue::from_value(v)))
                .collect(),
        }
    }
}

/// Why a text cannot be read exactly.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ExactError {
    #[error("{0}")]
    Syntax(String),
    #[error(
        "the key \"{}\" appears twice in one object: the text carries two values for it, so it cannot be read",
        .0.escape_debug()
    )]
    DuplicateKey(String),
}

/// The deepest nesting read, as `serde_json`'s own limit: the reader recurses per level.
pub const MAX_DEPTH: usize = 128;

/// Reads JSON text keeping every token's exact text, refusing a key repeated in any object
/// (at any depth) and nesting deeper than [`MAX_DEPTH`].
pub fn parse_exact(text: &str) -> Result<ExactValue, ExactError> {
    validate(text)?;
    let mut scanner = Scanner::new(text);
    scanner.value(0)
}

/// The top-level fields of a JSON object with the raw text of each value, for a reply whose
/// parts are judged one by one (an order with a repeated key is unreadable, the others are
/// not). A key repeated at this level is refused; deeper levels are not looked at.
pub fn exact_entries(text: &str) -> Result<Vec<(String, &str)>, ExactError> {
    validate(text)?;
    let mut scanner = Scanner::new(text);
    scanner.entries()
}

/// The raw text of each item of a JSON array (see [`exact_entries`]).
pub fn exact_items(text: &str) -> Result<Vec<&str>, ExactError> {
    validate(text)?;
    let mut scanner = Scanner::new(text);
    scanner.items()
}

/// `serde_json` checks the grammar and gives line and column; the scanner below then only
/// walks text known to be well formed. (Skipping a value has no depth limit in `serde_json`,
/// so the scanner counts levels itself.)
fn validate(text: &str) -> Result<(), ExactError> {
    serde_json::from_str::<serde::de::IgnoredAny>(text)
        .map(|_| ())
        .map_err(|e| ExactError::Syntax(e.to_string()))
}

/// Walks JSON text that `validate` accepted. It still never indexes out of bounds: anything
/// unexpected is a syntax error, not a panic.
struct Scanner<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scanner<'a> {
    fn new(text: &'a str) -> Self {
        Scanner { text, pos: 0 }
    }

    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.pos += 1;
        }
    }

    fn unexpected(&self) -> ExactError {
        ExactError::Syntax(format!("unexpected text at byte {}", self.pos))
    }

    fn eat(&mut self, byte: u8) -> Result<(), ExactError> {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// After `[` or `{` (or a value in one): true when the closing byte comes next.
    fn closes(&mut self, close: u8, first: bool) -> Result<bool, ExactError> {
        self.skip_ws();
        match self.peek() {
            Some(b) if b == close => {
                self.pos += 1;
                Ok(true)
            }
            Some(b',') if !first => {
                self.pos += 1;
                Ok(false)
            }
            Some(_) if first => Ok(false),
            _ => Err(self.unexpected()),
        }
    }

    fn slice(&self, start: usize) -> Result<&'a str, ExactError> {
        self.text
            .get(start..self.pos)
            .ok_or_else(|| self.unexpected())
    }

    /// A string token, decoded by `serde_json` so escapes mean exactly what they mean there.
    fn string(&mut self) -> Result<String, ExactError> {
        self.skip_ws();
        let start = self.pos;
        self.skip_string()?;
        serde_json::from_str(self.slice(start)?).map_err(|e| ExactError::Syntax(e.to_string()))
    }

    fn literal(&mut self, word: &str) -> Result<(), ExactError> {
        if self
            .text
            .get(self.pos..)
            .is_some_and(|t| t.starts_with(word))
        {
            self.pos += word.len();
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn value(&mut self, depth: usize) -> Result<ExactValue, ExactError> {
        self.skip_ws();
        if depth >= MAX_DEPTH && matches!(self.peek(), Some(b'{' | b'[')) {
            return Err(ExactError::Syntax(format!(
                "nested deeper than {MAX_DEPTH} levels at byte {}",
                self.pos
            )));
        }
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                let mut fields: Vec<(String, ExactValue)> = Vec::new();
                let mut seen: HashSet<String> = HashSet::new();
                let mut first = true;
                while !self.closes(b'}', first)? {
                    first = false;
                    let key = self.string()?;
                    if !seen.insert(key.clone()) {
                        return Err(ExactError::DuplicateKey(key));
                    }
                    self.eat(b':')?;
                    let value = self.value(depth + 1)?;
                    fields.push((key, value));
                }
                Ok(ExactValue::Object(ExactObject { fields }))
            }
            Some(b'[') => {
                self.pos += 1;
                let mut items = Vec::new();
                let mut first = true;
                while !self.closes(b']', first)? {
                    first = false;
                    items.push(self.value(depth + 1)?);
                }
                Ok(ExactValue::Array(items))
            }
            Some(b'"') => self.string().map(ExactValue::String),
            Some(b't') => self.literal("true").map(|()| ExactValue::Bool(true)),
            Some(b'f') => self.literal("false").map(|()| ExactValue::Bool(false)),
            Some(b'n') => self.literal("null").map(|()| ExactValue::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                while matches!(
                    self.peek(),
                    Some(b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9')
                ) {
                    self.pos += 1;
                }
                Ok(ExactValue::Number(self.slice(start)?.to_owned()))
            }
            _ => Err(self.unexpected()),
        }
    }

    /// Skips one value and returns its raw text (strings are not decoded, keys not compared).
    fn raw_value(&mut self) -> Result<&'a str, ExactError> {
        self.skip_ws();
        let start = self.pos;
        match self.peek() {
            Some(b'"') => self.skip_string()?,
            Some(b'{' | b'[') => {
                let mut depth = 0usize;
                loop {
                    match self.peek() {
                        Some(b'"') => self.skip_string()?,
                        Some(b'{' | b'[') => {
                            depth += 1;
                            self.pos += 1;
                        }
                        Some(b'}' | b']') => {
                            depth = depth.saturating_sub(1);
                            self.pos += 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        Some(_) => self.pos += 1,
                        None => return Err(self.unexpected()),
                    }
                }
            }
            Some(_) => {
                while self.peek().is_some_and(|b| {
                    !matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                }) {
                    self.pos += 1;
                }
            }
            None => return Err(self.unexpected()),
        }
        self.slice(start)
    }

    /// Moves past a string token that starts here.
    fn skip_string(&mut self) -> Result<(), ExactError> {
        if self.peek() != Some(b'"') {
            return Err(self.unexpected());
        }
        self.pos += 1;
        loop {
            match self.peek() {
                Some(b'"') => break,
                Some(b'\\') => self.pos += 2,
                Some(_) => self.pos += 1,
                None => return Err(self.unexpected()),
            }
        }
        self.pos += 1;
        Ok(())
    }

    fn entries(&mut self) -> Result<Vec<(String, &'a str)>, ExactError> {
        self.eat(b'{')?;
        let mut out: Vec<(String, &'a str)> = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut first = true;
        while !self.closes(b'}', first)? {
            first = false;
            let key = self.string()?;
            if !seen.insert(key.clone()) {
                return Err(ExactError::DuplicateKey(key));
            }
            self.eat(b':')?;
            out.push((key, self.raw_value()?));
        }
        Ok(out)
    }

    fn items(&mut self) -> Result<Vec<&'a str>, ExactError> {
        self.eat(b'[')?;
        let mut out = Vec::new();
        let mut first = true;
        while !self.closes(b']', first)? {
            first = false;
            out.push(self.raw_value()?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn object(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap()
    }

    #[derive(Deserialize)]
    struct Vectors {
        cny_gateway_md5: Vec<CnyVector>,
    }

    #[derive(Deserialize)]
    struct CnyVector {
        name: String,
        key: String,
        json: String,
        canonical: String,
        sign: String,
    }

    #[test]
    fn reproduces_every_shared_vector() {
        let vectors: Vectors =
            serde_json::from_str(include_str!("../../../tests/fixtures/vectors.json")).unwrap();
        assert_eq!(vectors.cny_gateway_md5.len(), 4);
        for v in vectors.cny_gateway_md5 {
            let key = Secret::new(v.key);
            let obj = object(&v.json);
            let canonical = Canonical::of(&obj, SignOptions::default());
            assert_eq!(canonical.fields, v.canonical, "{}", v.name);
            assert_eq!(
                canonical.sign(&key, SignOptions::default()),
                v.sign,
                "{}",
                v.name
            );
            let mut signed = obj.clone();
            signed.insert("sign".into(), Value::String(v.sign.to_uppercase()));
            assert_eq!(
                verify_object(&signed, &key, SignOptions::default()).verdict,
                Verdict::Valid,
                "{} (upper-case hex is accepted)",
                v.name
            );
        }
    }

    #[test]
    fn raw_text_of_numbers_is_kept() {
        let obj = object(r#"{"a":1.50,"b":9007199254740993,"c":true,"d":"x&y=z","e":-0}"#);
        let c = Canonical::of(&obj, SignOptions::default());
        assert_eq!(c.fields, "a=1.50&b=9007199254740993&c=true&d=x&y=z&e=-0");
    }

    #[test]
    fn keys_sort_by_bytes_and_omissions_are_explained() {
        let obj = object(
            r#"{"b":1,"B":2,"_x":3,"a":null,"e":"","arr":[1],"obj":{"k":1},"sign":"00","z":0}"#,
        );
        let c = Canonical::of(&obj, SignOptions::default());
        assert_eq!(c.fields, "B=2&_x=3&b=1&z=0");
        let omitted: Vec<_> = c.omitted.iter().map(|(k, w)| (k.as_str(), *w)).collect();
        assert_eq!(
            omitted,
            vec![
                ("a", Omission::Null),
                ("arr", Omission::Array),
                ("e", Omission::EmptyString),
                ("obj", Omission::Object),
                ("sign", Omission::Sign),
            ]
        );
    }

    #[test]
    fn switches_change_the_rule() {
        let obj = object(r#"{"fee":0,"amount":100,"rate":"0.00"}"#);
        let key = Secret::new("K");
        let opts = SignOptions {
            key_suffix: KeySuffix::KeyEquals,
            hex_case: HexCase::Upper,
            zero_fields: ZeroFields::Dropped,
        };
        let c = Canonical::of(&obj, opts);
        assert_eq!(c.fields, "amount=100");
        assert_eq!(c.masked(opts), "amount=100&key=***");
        let expected = hex::encode(Md5::digest(b"amount=100&key=K")).to_uppercase();
        assert_eq!(c.sign(&key, opts), expected);
        assert_eq!(
            Canonical::of(&obj, SignOptions::default()).masked(SignOptions::default()),
            "amount=100&fee=0&rate=0.00&***"
        );
    }

    #[test]
    fn fails_closed() {
        let key = Secret::new("k");
        let opts = SignOptions::default();
        let v = |text: &str| verify_object(&object(text), &key, opts).verdict;
        assert_eq!(v(r#"{"a":1}"#), Verdict::Missing);
        assert_eq!(v(r#"{"a":1,"sign":null}"#), Verdict::Malformed);
        assert_eq!(v(r#"{"a":1,"sign":12}"#), Verdict::Malformed);
        assert_eq!(v(r#"{"a":1,"sign":"zz"}"#), Verdict::Malformed);
        assert_eq!(
            v(r#"{"a":1,"sign":"0123456789abcdef0123456789abcdeg"}"#),
            Verdict::Malformed
        );
        assert_eq!(
            v(r#"{"a":1,"sign":"0123456789abcdef0123456789abcdef"}"#),
            Verdict::Mismatch
        );
    }

    #[test]
    fn masked_canonical_never_holds_the_key() {
        let key = Secret::new("SuperSecretKey");
        let obj = object(r#"{"a":"1"}"#);
        let v = verify_object(&obj, &key, SignOptions::default());
        assert!(!v.canonical_masked.contains("SuperSecretKey"));
        assert_eq!(v.canonical_masked, "a=1&***");
    }

    fn exact(text: &str) -> ExactObject {
        match parse_exact(text).unwrap() {
            ExactValue::Object(o) => o,
            other => panic!("not an object: {other:?}"),
        }
    }

    #[test]
    fn the_exact_reader_keeps_token_text() {
        let o =
            exact(r#" { "a" : 1e2 , "b":1E+2,"c":-0.50e-3,"d":"x\"y","e":[1e2,{}],"f":true } "#);
        assert_eq!(o.text("a"), "1e2");
        assert_eq!(o.text("b"), "1E+2");
        assert_eq!(o.text("c"), "-0.50e-3");
        assert_eq!(o.text("d"), "x\"y");
        assert_eq!(o.text("f"), "true");
        assert_eq!(
            Canonical::of_exact(&o, SignOptions::default()).fields,
            "a=1e2&b=1E+2&c=-0.50e-3&d=x\"y&f=true"
        );
        assert_eq!(o.keys().collect::<Vec<_>>(), ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(
            parse_exact(r#"{"a":{"b":1,"b":2}}"#),
            Err(ExactError::DuplicateKey("b".into()))
        );
        assert!(matches!(
            parse_exact("{\"a\":1,}"),
            Err(ExactError::Syntax(_))
        ));
        assert!(matches!(
            parse_exact(&"[".repeat(200)),
            Err(ExactError::Syntax(_))
        ));
        assert!(matches!(
            parse_exact(&format!("{}{}", "[".repeat(5000), "]".repeat(5000))),
            Err(ExactError::Syntax(_))
        ));
    }

    #[test]
    fn raw_entries_and_items_keep_each_value_text() {
        let entries =
            exact_entries(r#"{"error_code":"0000","data":[ {"a":1,"a":2} , 3e1 ,"x,]"],"n":null}"#)
                .unwrap();
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["error_code", "data", "n"]);
        assert_eq!(entries[1].1, r#"[ {"a":1,"a":2} , 3e1 ,"x,]"]"#);
        assert_eq!(entries[2].1, "null");
        let items = exact_items(entries[1].1).unwrap();
        assert_eq!(items, [r#"{"a":1,"a":2}"#, "3e1", r#""x,]""#]);
        assert_eq!(
            exact_entries(r#"{"data":1,"data":2}"#),
            Err(ExactError::DuplicateKey("data".into()))
        );
        assert_eq!(exact_items("[]").unwrap(), Vec::<&str>::new());
    }

    #[test]
    fn an_object_with_nothing_signed_hashes_ampersand_key() {
        let key = Secret::new("K");
        let empty = Map::new();
        assert_eq!(
            sign_object(&empty, &key, SignOptions::default()),
            hex::encode(Md5::digest(b"&K"))
        );
        let opts = SignOptions {
            key_suffix: KeySuffix::KeyEquals,
            ..SignOptions::default()
        };
        assert_eq!(Canonical::of(&empty, opts).masked(opts), "&key=***");
    }

    fn arb_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            "\\PC{0,12}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-z_A-Z]{0,6}", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn sign_then_verify_round_trips(
            obj in prop::collection::btree_map("[a-zA-Z_]{1,8}", "\\PC{0,10}", 0..10),
            key in "[a-zA-Z0-9]{1,20}",
        ) {
            let mut map: Map<String, Value> =
                obj.into_iter().map(|(k, v)| (k, Value::String(v))).collect();
            let key = Secret::new(key);
            for opts in [SignOptions::default(), SignOptions { key_suffix: KeySuffix::KeyEquals, hex_case: HexCase::Upper, zero_fields: ZeroFields::Dropped }] {
                let sign = sign_object(&map, &key, opts);
                map.insert("sign".into(), Value::String(sign));
                prop_assert_eq!(verify_object(&map, &key, opts).verdict, Verdict::Valid);
            }
        }

        #[test]
        fn any_json_gets_a_verdict(value in arb_json()) {
            if let Value::Object(map) = value {
                let _ = verify_object(&map, &Secret::new("k"), SignOptions::default());
            }
        }

        #[test]
        fn any_text_never_panics(text in "\\PC{0,64}") {
            if let Ok(Value::Object(map)) = serde_json::from_str::<Value>(&text) {
                let _ = verify_object(&map, &Secret::new("k"), SignOptions::default());
            }
            if let Ok(ExactValue::Object(o)) = parse_exact(&text) {
                let _ = verify_exact(&o, &Secret::new("k"), SignOptions::default());
            }
            let _ = exact_entries(&text);
            let _ = exact_items(&text);
        }

        #[test]
        fn the_exact_reader_reads_what_serde_json_reads(value in arb_json()) {
            let text = value.to_string();
            prop_assert_eq!(parse_exact(&text).map(|v| v.to_value()), Ok(value));
        }
    }
}
