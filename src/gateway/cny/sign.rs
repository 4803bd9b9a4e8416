//! The CNY gateway's MD5 signing rule, over the raw JSON text of each value.
//!
//! `gateways.md` §1: every field but `sign`, minus null, `""`, arrays and objects; keys in byte
//! order; `key=value` joined by `&`; the MD5 key appended; MD5 as lowercase hex. Values keep
//! the text they arrived with (`1.50` stays `1.50`), which is why this works on
//! `serde_json::Value` built with `arbitrary_precision` and never on typed structs.
#![deny(clippy::float_arithmetic)]

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
    /// Builds the canonical form of one object under the given switches.
    pub fn of(object: &Map<String, Value>, options: SignOptions) -> Canonical {
        let mut kept: Vec<(&str, String)> = Vec::with_capacity(object.len());
        let mut omitted = Vec::new();
        for (key, value) in object {
            let text = match value {
                _ if key == "sign" => Err(Omission::Sign),
                Value::Null => Err(Omission::Null),
                Value::Array(_) => Err(Omission::Array),
                Value::Object(_) => Err(Omission::Object),
                Value::String(s) if s.is_empty() => Err(Omission::EmptyString),
                Value::String(s) => Ok(s.clone()),
                Value::Number(n) => Ok(n.to_string()),
                Value::Bool(b) => Ok(b.to_string()),
            };
            match text {
                Ok(t) if options.zero_fields == ZeroFields::Dropped && is_zero_text(&t) => {
                    omitted.push((key.clone(), Omission::Zero));
                }
                Ok(t) => kept.push((key.as_str(), t)),
                Err(why) => omitted.push((key.clone(), why)),
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

    fn with_key(&self, key: &str, options: SignOptions) -> String {
        let sep = if self.fields.is_empty() { "" } else { "&" };
        match options.key_suffix {
            KeySuffix::Raw => format!("{}{sep}{key}", self.fields),
            KeySuffix::KeyEquals => format!("{}{sep}key={key}", self.fields),
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

/// Checks the `sign` of an object as received. Constant-time in the digest comparison,
/// case-insensitive in the hex, and closed on every doubt: no sign, a non-string sign or
/// a sign of the wrong length is never valid.
pub fn verify_object(
    object: &Map<String, Value>,
    key: &Secret,
    options: SignOptions,
) -> Verification {
    let canonical = Canonical::of(object, options);
    let (verdict, received_sign) = match object.get("sign") {
        None => (Verdict::Missing, None),
        Some(Value::String(s)) => (check_hex(&canonical, s, key, options), Some(s.clone())),
        Some(other) => (Verdict::Malformed, Some(other.to_string())),
    };
    Verification {
        verdict,
        canonical_masked: canonical.masked(options),
        omitted: canonical.omitted,
        received_sign,
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
        }
    }
}
