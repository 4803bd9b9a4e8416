//! The exact text reader: JSON read keeping each token's text and refusing repeated keys, so
//! a `sign` is checked over what was carried.
#![deny(clippy::float_arithmetic)]

use std::collections::HashSet;

use serde_json::{Map, Value};

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
                let fields = self.members(|s| s.value(depth + 1))?;
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
        self.members(Self::raw_value)
    }

    /// An object's members up to its `}` (its `{` is read), each value read by `read`; a key
    /// that stands twice is refused.
    fn members<T>(
        &mut self,
        mut read: impl FnMut(&mut Self) -> Result<T, ExactError>,
    ) -> Result<Vec<(String, T)>, ExactError> {
        let mut out = Vec::new();
        let mut seen: HashSet<String> = HashSet::new();
        let mut first = true;
        while !self.closes(b'}', first)? {
            first = false;
            let key = self.string()?;
            if !seen.insert(key.clone()) {
                return Err(ExactError::DuplicateKey(key));
            }
            self.eat(b':')?;
            let value = read(self)?;
            out.push((key, value));
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
    use crate::gateway::cny::sign::tests::arb_json;
    use crate::gateway::cny::sign::{Canonical, SignOptions, verify_exact, verify_object};
    use crate::secret::Secret;
    use proptest::prelude::*;

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

    proptest! {
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
