//! Checking a received `sign`: the verdict, and what it was computed from so support staff
//! can see why.
#![deny(clippy::float_arithmetic)]

use serde::Serialize;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::{Canonical, ExactError, ExactObject, ExactValue, Omission, SignOptions};
use crate::secret::Secret;

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::cny::sign::tests::arb_json;
    use proptest::prelude::*;

    fn object(text: &str) -> Map<String, Value> {
        serde_json::from_str(text).unwrap()
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

    proptest! {
        #[test]
        fn any_json_gets_a_verdict(value in arb_json()) {
            if let Value::Object(map) = value {
                let _ = verify_object(&map, &Secret::new("k"), SignOptions::default());
            }
        }
    }
}
