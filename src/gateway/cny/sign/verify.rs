//! Checking a received `sign`: the verdict, and what it was computed from so support staff
//! can see why.
#![deny(clippy::float_arithmetic)]

use serde::Serialize;
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;

use super::{
    Canonical, ExactError, ExactObject, ExactValue, HexCase, Omission, SignOptions, digest,
    key_prefix,
};
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
    /// A valid `sign` written in the other case of hex than the profile's gateway writes:
    /// the digest matches, but a real verifier compares exactly, so it is never silently the
    /// same.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<&'static str>,
}

/// The warning on a valid `sign` in upper-case hex from a gateway that writes lower case.
pub const UPPER_CASE_WARNING: &str = "upper-case hex: this gateway sends lower-case";
/// The warning on a valid `sign` in lower-case hex from a profile set to upper case.
pub const LOWER_CASE_WARNING: &str = "lower-case hex: this profile expects upper-case";

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
    finish(canonical.fields, canonical.omitted, received, key, options)
}

/// The verdict on a canonical text (`fields`, without the key) and what was left out of it;
/// `fields` becomes the masked text shown.
pub(super) fn finish(
    mut fields: String,
    omitted: Vec<(String, Omission)>,
    received: Option<Result<&str, String>>,
    key: &Secret,
    options: SignOptions,
) -> Verification {
    let (verdict, received_sign) = match received {
        None => (Verdict::Missing, None),
        Some(Ok(s)) => (
            check_hex(fields.as_bytes(), s, key, options),
            Some(s.to_owned()),
        ),
        Some(Err(other)) => (Verdict::Malformed, Some(other)),
    };
    let warning = match (&received_sign, verdict) {
        (Some(s), Verdict::Valid) => case_warning(s, options),
        _ => None,
    };
    fields.push_str(key_prefix(options));
    fields.push_str("***");
    Verification {
        verdict,
        canonical_masked: fields,
        omitted,
        received_sign,
        warning,
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
            warning: None,
        }
    }
}

/// Whether the hex is in the case the profile's gateway writes.
pub(super) fn case_warning(received: &str, options: SignOptions) -> Option<&'static str> {
    // One pass without early exits: the compiler makes it a few wide compares.
    let (upper, lower) = received.bytes().fold((false, false), |(upper, lower), b| {
        (
            upper | b.is_ascii_uppercase(),
            lower | b.is_ascii_lowercase(),
        )
    });
    match options.hex_case {
        HexCase::Lower if upper => Some(UPPER_CASE_WARNING),
        HexCase::Upper if lower => Some(LOWER_CASE_WARNING),
        _ => None,
    }
}

pub(super) fn check_hex(
    fields: &[u8],
    received: &str,
    key: &Secret,
    options: SignOptions,
) -> Verdict {
    let Some(got) = hex16(received) else {
        return Verdict::Malformed;
    };
    let want = digest(fields, key, options);
    // One comparison of the whole digest, in constant time.
    if bool::from(u128::from_be_bytes(want).ct_eq(&u128::from_be_bytes(got))) {
        Verdict::Valid
    } else {
        Verdict::Mismatch
    }
}

/// The 16 bytes of 32 hex digits in either case; `None` for anything else. Eight digits at
/// a time: each byte is tested as a digit and as a letter, with no step carrying from one
/// byte into the next.
fn hex16(text: &str) -> Option<[u8; 16]> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const LOW: u64 = ONES * 0x0f;
    const SEVEN: u64 = ONES * 0x7f;
    // 0x80 in each byte of `m` that is not zero.
    let nonzero = |m: u64| (((m & SEVEN) + SEVEN) | m) & !SEVEN;
    let digits: &[u8; 32] = text.as_bytes().try_into().ok()?;
    let mut out = [0u8; 16];
    for (four, eight) in out.chunks_exact_mut(4).zip(digits.chunks_exact(8)) {
        let mut w = [0u8; 8];
        w.copy_from_slice(eight);
        let w = u64::from_le_bytes(w);
        let low = w & LOW;
        // Zero in the bytes `0`..=`9`: high nibble 3, low nibble at most 9.
        let not_digit = ((w & !LOW) ^ (ONES * 0x30)) | ((low + ONES * 6) & (ONES * 0x10));
        // Zero in the bytes `a`..=`f` and `A`..=`F`: high nibble 6 or 4, low nibble 1 to 6.
        let not_letter = (((w | (ONES * 0x20)) & !LOW) ^ (ONES * 0x60))
            | ((low + ONES * 9) & (ONES * 0x10))
            | (!(low + ONES * 0x0f) & (ONES * 0x10));
        if nonzero(not_digit) & nonzero(not_letter) != 0 {
            return None;
        }
        let letter = !nonzero(not_letter) & !SEVEN;
        let nibbles = low + (letter >> 7) * 9;
        // Each pair of nibbles into its byte, then the four bytes side by side.
        let pairs = ((nibbles << 4) | (nibbles >> 8)) & 0x00ff_00ff_00ff_00ff;
        let pairs = (pairs | (pairs >> 8)) & 0x0000_ffff_0000_ffff;
        let pairs = (pairs | (pairs >> 16)) & 0xffff_ffff;
        four.copy_from_slice(&pairs.to_le_bytes()[..4]);
    }
    Some(out)
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
    fn an_upper_case_sign_is_valid_with_a_warning_never_silently() {
        let key = Secret::new("2I9Q4nExEddsH6zo");
        let mut obj = object(r#"{"amount":30000,"payout_id":"POT1"}"#);
        let sign = super::super::sign_object(&obj, &key, SignOptions::default());
        obj.insert("sign".into(), Value::from(sign.clone()));
        let lower = verify_object(&obj, &key, SignOptions::default());
        assert_eq!((lower.verdict, lower.warning), (Verdict::Valid, None));
        obj.insert("sign".into(), Value::from(sign.to_uppercase()));
        let upper = verify_object(&obj, &key, SignOptions::default());
        assert_eq!(upper.verdict, Verdict::Valid);
        assert_eq!(upper.warning, Some(UPPER_CASE_WARNING));
        let upper_profile = SignOptions {
            hex_case: HexCase::Upper,
            ..SignOptions::default()
        };
        assert_eq!(verify_object(&obj, &key, upper_profile).warning, None);
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
        fn hex16_refuses_any_other_byte_among_hex_digits(
            text in "[0-9a-fA-F]{0,31}[\\x00-\\x7f][0-9a-fA-F]{0,31}",
        ) {
            let mut want = [0u8; 16];
            let ok = text.len() == 32 && hex::decode_to_slice(&text, &mut want).is_ok();
            prop_assert_eq!(hex16(&text), ok.then_some(want));
        }
    }

    proptest! {
        #[test]
        fn hex16_reads_what_the_hex_crate_reads(text in "[0-9a-fA-FgG ]{30,34}|\\PC{0,33}") {
            let mut want = [0u8; 16];
            let ok = text.len() == 32 && hex::decode_to_slice(&text, &mut want).is_ok();
            prop_assert_eq!(hex16(&text), ok.then_some(want));
        }
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
