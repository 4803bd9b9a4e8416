//! The CNY gateway's MD5 signing rule, over the raw JSON text of each value.
//!
//! The gateway's published rule: every field but `sign`, minus null, `""`, arrays and
//! objects; keys in byte order; `key=value` joined by `&`; `&` and the MD5 key appended (so
//! `{}` signs `&KEY`); MD5 as lowercase hex. Values keep the token text they arrived with
//! (`1.50` stays `1.50`, `1e2` stays `1e2`). `serde_json` with `arbitrary_precision` keeps
//! digits but rewrites exponents (`1e2` becomes `1e+2`) and lets a repeated key win silently,
//! so what was received is read with [`parse_exact`], which keeps each token's text and refuses
//! repeated keys.
#![deny(clippy::float_arithmetic)]

mod check;
mod exact;
mod fast;
mod verify;

use std::borrow::Cow;

use md5::{Digest, Md5};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::secret::Secret;

pub use check::{Check, CheckScratch, check_fields, check_text};
pub use exact::{
    ExactError, ExactObject, ExactValue, MAX_DEPTH, exact_entries, exact_items, parse_exact,
};
pub use fast::{Cursor, Field, Token, field, scan_flat, verify_fields, verify_text};
pub use verify::{
    LOWER_CASE_WARNING, UPPER_CASE_WARNING, Verdict, Verification, verify_exact, verify_object,
};

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
    /// (the rule appends `&` and the key whatever came before).
    fn with_key(&self, key: &str, options: SignOptions) -> String {
        format!("{}{}{key}", self.fields, key_prefix(options))
    }

    /// The 16 bytes of the MD5 digest of the canonical string and key.
    pub fn digest(&self, key: &Secret, options: SignOptions) -> [u8; 16] {
        digest(self.fields.as_bytes(), key, options)
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

/// What stands between the canonical fields and the key.
fn key_prefix(options: SignOptions) -> &'static str {
    match options.key_suffix {
        KeySuffix::Raw => "&",
        KeySuffix::KeyEquals => "&key=",
    }
}

/// MD5 of the canonical fields and the key, streamed into the hasher (no joined copy holding
/// the key).
fn digest(fields: &[u8], key: &Secret, options: SignOptions) -> [u8; 16] {
    let mut md5 = Md5::new();
    md5.update(fields);
    md5.update(key_prefix(options).as_bytes());
    md5.update(key.expose().as_bytes());
    md5.finalize().into()
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;
    use std::fmt::Write as _;

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
            serde_json::from_str(include_str!("../../../../tests/fixtures/vectors.json")).unwrap();
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
            let upper = verify_object(&signed, &key, SignOptions::default());
            assert_eq!(
                (upper.verdict, upper.warning),
                (Verdict::Valid, Some(UPPER_CASE_WARNING)),
                "{} (upper-case hex is valid, with a warning)",
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

    /// Any JSON value, for the property tests of this module and its children.
    pub(super) fn arb_json() -> impl Strategy<Value = Value> {
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

    /// Every combination of the three switches.
    pub(crate) fn all_options() -> Vec<SignOptions> {
        let mut out = Vec::new();
        for key_suffix in [KeySuffix::Raw, KeySuffix::KeyEquals] {
            for hex_case in [HexCase::Lower, HexCase::Upper] {
                for zero_fields in [ZeroFields::Kept, ZeroFields::Dropped] {
                    out.push(SignOptions {
                        key_suffix,
                        hex_case,
                        zero_fields,
                    });
                }
            }
        }
        out
    }

    /// A JSON value's text in the forms a gateway may write it: numbers in every form, strings
    /// with and without escapes, empty and zero values, and now and then a nested value.
    pub(crate) fn arb_value_text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => any::<i64>().prop_map(|n| n.to_string()),
            4 => "-?(0|[1-9][0-9]{0,5})(\\.[0-9]{1,4})?([eE][+-]?[0-9]{1,3})?",
            4 => "\\PC{0,8}".prop_map(|s| Value::String(s).to_string()),
            2 => "\\PC{0,4}".prop_map(|s| {
                let escaped = s.encode_utf16().fold(String::new(), |mut out, u| {
                    let _ = write!(out, "\\u{u:04x}");
                    out
                });
                format!("\"{escaped}\\/\\n\"")
            }),
            1 => prop::sample::select(vec![
                "\"\"", "\"0\"", "0", "-0", "0.00", "\"0.00\"", "null", "true", "false",
                "\"1596425140\"", "\"2020-08-03 11:25:40\"", "\"1234.560000\"", "\"12.345\"",
                "[1, 2]", "{\"a\": 1}", "{\"a\":1,\"a\":2}", "[]", "\"\\ud83d\\ude00\"",
            ])
            .prop_map(str::to_owned),
        ]
    }

    /// An object's text: random keys (now and then the order fields, `sign`, an escaped or a
    /// repeated key) over [`arb_value_text`], with any whitespace.
    pub(crate) fn arb_object_text() -> impl Strategy<Value = String> {
        let key = prop_oneof![
            6 => "[a-zA-Z_]{0,6}".prop_map(|k| format!("\"{k}\"")),
            4 => prop::sample::select(vec![
                "amount", "real_amount", "fee", "status", "create_time", "update_time", "memo",
                "payout_id", "payment_id", "payment_cl_id", "payout_cl_id", "payment_cl_name",
                "platform_id", "platform_channel_id", "sign",
            ])
            .prop_map(|k| format!("\"{k}\"")),
            1 => "\\PC{0,3}".prop_map(|k| Value::String(k).to_string()),
            1 => Just("\"\\u0061\"".to_owned()),
        ];
        let space = prop::sample::select(vec!["", "", " ", "\n\t "]);
        prop::collection::vec((key, arb_value_text(), space), 0..12).prop_map(|fields| {
            let parts: Vec<String> = fields
                .into_iter()
                .map(|(k, v, ws)| format!("{ws}{k}{ws}:{ws}{v}{ws}"))
                .collect();
            format!("{{{}}}", parts.join(","))
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
    }
}
