//! Verification of what support staff paste or open in a dispute: a withdraw notification,
//! an order, a list of orders, a whole query response, or a GatePay callback. Each object
//! gets a verdict with its canonical string; a mismatch is diagnosed by trying the usual
//! mistakes and saying which one would have matched.
#![deny(clippy::float_arithmetic)]

use serde::Serialize;
use serde_json::Value;

use crate::gateway::cny::sign::{
    Canonical, ExactError, ExactObject, ExactValue, HexCase, KeySuffix, SignOptions, Verdict,
    Verification, ZeroFields, parse_exact, verify_exact,
};
use crate::gateway::gatepay::callback::{describe, parse_callback};
use crate::gateway::gatepay::sign::{GatePayVerdict, verify as gatepay_verify};
use crate::gateway::gatepay::wire::TIMESTAMP_WINDOW_MS;
use crate::secret::Secret;

/// Input that is not JSON of a shape we can check.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    #[error("the input is empty")]
    Empty,
    #[error("the input is not JSON: {0}")]
    NotJson(String),
    /// Well-formed JSON that cannot be read one way only (a repeated key).
    #[error("the input cannot be read: {0}")]
    Unreadable(String),
    #[error("{0}")]
    Shape(String),
    /// Nothing in the input carries a signature: never a "valid" with nothing checked.
    #[error("nothing to verify: {0}")]
    Nothing(&'static str),
}

/// The field Paydesk adds to each order of its JSON output; it is not the gateway's.
pub const PAYDESK_VERDICT_FIELD: &str = "signature";

/// A UTF-8 byte-order mark, which Windows editors put at the start of a saved file.
const BOM: char = '\u{feff}';
const BOM_BYTES: &[u8] = "\u{feff}".as_bytes();

/// One object to check, with a label saying where in the input it was.
#[derive(Clone, Debug, PartialEq)]
pub struct Located {
    pub label: String,
    pub object: ExactObject,
}

/// Splits pasted text into the objects to verify: a single object, an array of objects, or
/// a query response `{"error_code","data","total"}` (whose envelope is not signed).
///
/// The text is read exactly (see [`parse_exact`]): a leading byte-order mark is skipped, a
/// key repeated in any object is refused, and input with no object to check is an error.
pub fn parse_cny_input(text: &str) -> Result<Vec<Located>, InputError> {
    let text = text.strip_prefix(BOM).unwrap_or(text);
    if text.trim().is_empty() {
        return Err(InputError::Empty);
    }
    let value = parse_exact(text).map_err(|e| match e {
        ExactError::Syntax(msg) => InputError::NotJson(msg),
        dup @ ExactError::DuplicateKey(_) => InputError::Unreadable(dup.to_string()),
    })?;
    let objects = |items: Vec<ExactValue>, prefix: &str| -> Result<Vec<Located>, InputError> {
        items
            .into_iter()
            .enumerate()
            .map(|(i, v)| match v {
                ExactValue::Object(object) => Ok(Located {
                    label: format!("{prefix}[{i}]"),
                    object,
                }),
                _ => Err(InputError::Shape(format!("{prefix}[{i}] is not an object"))),
            })
            .collect()
    };
    let located = match value {
        ExactValue::Array(items) => objects(items, "item")?,
        ExactValue::Object(mut map)
            if map.contains_key("error_code") && map.contains_key("data") =>
        {
            match map.remove("data") {
                Some(ExactValue::Array(items)) => objects(items, "data")?,
                Some(ExactValue::Object(mut object)) => {
                    let mut out = Vec::new();
                    // A balance reply: each channel carries its own sign.
                    if matches!(object.get("platform_channels"), Some(ExactValue::Array(_))) {
                        if let Some(ExactValue::Array(channels)) =
                            object.remove("platform_channels")
                        {
                            out.extend(objects(channels, "data.platform_channels")?);
                        }
                        object.insert("platform_channels".into(), ExactValue::Array(Vec::new()));
                    }
                    out.insert(
                        0,
                        Located {
                            label: "data".into(),
                            object,
                        },
                    );
                    out
                }
                _ => return Err(InputError::Nothing("the reply's data holds no orders")),
            }
        }
        // Paydesk's own `orders --format json` output: drop the verdict it added to each order.
        ExactValue::Object(mut map)
            if map.contains_key("kind")
                && matches!(map.get("orders"), Some(ExactValue::Array(_))) =>
        {
            let Some(ExactValue::Array(items)) = map.remove("orders") else {
                return Err(InputError::Nothing("the list of orders is empty"));
            };
            let mut located = objects(items, "orders")?;
            for l in &mut located {
                if matches!(
                    l.object.get(PAYDESK_VERDICT_FIELD),
                    Some(ExactValue::String(s)) if matches!(s.as_str(), "valid" | "invalid" | "unchecked")
                ) {
                    l.object.remove(PAYDESK_VERDICT_FIELD);
                }
            }
            located
        }
        ExactValue::Object(object) => vec![Located {
            label: "object".into(),
            object,
        }],
        _ => {
            return Err(InputError::Shape(
                "expected a JSON object, an array of objects or a query response".into(),
            ));
        }
    };
    if located.is_empty() {
        return Err(InputError::Nothing("the list of orders is empty"));
    }
    Ok(located)
}

/// A check of one object, and on a mismatch what would have matched.
#[derive(Clone, Debug, Serialize)]
pub struct ObjectReport {
    pub label: String,
    /// `payout_id`, `payment_id` or the merchant order ID, whichever the object has.
    pub order_id: String,
    #[serde(flatten)]
    pub verification: Verification,
    /// Plain sentences: "would match with upper-case hex", …
    pub diagnosis: Vec<String>,
}

fn order_id(object: &ExactObject) -> String {
    [
        "payout_id",
        "payment_id",
        "payout_cl_id",
        "payment_cl_id",
        "platform_channel_id",
        "platform_id",
    ]
    .iter()
    .find_map(|k| match object.get(k) {
        Some(ExactValue::String(s)) if !s.is_empty() => Some(s.as_str()),
        _ => None,
    })
    .unwrap_or("")
    .to_owned()
}

/// Verifies every object and diagnoses the ones that fail.
pub fn verify_cny(objects: &[Located], key: &Secret, options: SignOptions) -> Vec<ObjectReport> {
    objects
        .iter()
        .map(|o| {
            let verification = verify_exact(&o.object, key, options);
            let diagnosis = if verification.verdict == Verdict::Mismatch {
                diagnose_cny(&o.object, key, options)
            } else {
                Vec::new()
            };
            ObjectReport {
                label: o.label.clone(),
                order_id: order_id(&o.object),
                verification,
                diagnosis,
            }
        })
        .collect()
}

fn all_switches() -> Vec<SignOptions> {
    let mut out = Vec::with_capacity(8);
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

fn describe_switches(options: SignOptions, base: SignOptions) -> String {
    let mut parts = Vec::new();
    if options.key_suffix != base.key_suffix {
        parts.push(match options.key_suffix {
            KeySuffix::Raw => "the key appended as `&KEY`",
            KeySuffix::KeyEquals => "the key appended as `&key=KEY`",
        });
    }
    if options.zero_fields != base.zero_fields {
        parts.push(match options.zero_fields {
            ZeroFields::Kept => "zero-valued fields kept",
            ZeroFields::Dropped => "zero-valued fields left out",
        });
    }
    parts.join(" and ")
}

/// Fields that are amounts in fen on this gateway.
const AMOUNT_FIELDS: &[&str] = &["amount", "real_amount", "fee"];

fn fen_text_as_yuan(text: &str) -> Option<String> {
    let fen: i64 = text.parse().ok()?;
    Some(crate::money::Fen::from_fen(fen).yuan_plain())
}

/// Tries the usual mistakes on a mismatching object and names the ones that match.
pub fn diagnose_cny(object: &ExactObject, key: &Secret, options: SignOptions) -> Vec<String> {
    let Some(ExactValue::String(received)) = object.get("sign") else {
        return Vec::new();
    };
    let matches = |obj: &ExactObject, opts: SignOptions| {
        verify_exact(obj, key, opts).verdict == Verdict::Valid
    };
    let mut found = Vec::new();
    // Hex case is compared case-insensitively, so only the other two switches matter.
    for opts in all_switches()
        .into_iter()
        .filter(|o| o.hex_case == options.hex_case)
    {
        if opts != options && matches(object, opts) {
            found.push(format!(
                "matches with {}: this profile's signing switches may be wrong",
                describe_switches(opts, options)
            ));
        }
    }
    // Amounts signed in yuan instead of fen.
    let mut yuan = object.clone();
    let mut changed = false;
    for field in AMOUNT_FIELDS {
        if let Some(v) = fen_text_as_yuan(&object.text(field)) {
            yuan.insert((*field).to_owned(), ExactValue::String(v));
            changed = true;
        }
    }
    if changed && matches(&yuan, options) {
        found.push(
            "matches if the amounts are read as yuan instead of fen: the signer used yuan".into(),
        );
    }
    // A field the signer did not have (added later, or by another version).
    for field in object.keys().filter(|k| *k != "sign") {
        let mut fewer = object.clone();
        fewer.remove(field);
        if matches(&fewer, options) {
            found.push(format!(
                "matches without the field `{field}`: the signer did not include it (added or changed after signing?)"
            ));
        }
    }
    // Empty fields included by a signer that did not skip them.
    let empties: Vec<&str> = object
        .fields()
        .filter(|(k, v)| *k != "sign" && matches!(v, ExactValue::String(s) if s.is_empty()))
        .map(|(k, _)| k)
        .collect();
    if !empties.is_empty() {
        let canonical = Canonical::of_exact(object, options);
        let mut with_empty: Vec<(String, String)> = canonical
            .fields
            .split('&')
            .filter(|s| !s.is_empty())
            .filter_map(|kv| {
                kv.split_once('=')
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
            })
            .collect();
        with_empty.extend(empties.iter().map(|k| ((*k).to_owned(), String::new())));
        with_empty.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        let text: Vec<String> = with_empty.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let alt = Canonical {
            fields: text.join("&"),
            omitted: Vec::new(),
        };
        let mut got = [0u8; 16];
        if hex::decode_to_slice(received, &mut got).is_ok() && alt.digest(key, options) == got {
            found.push(
                "matches if empty fields are signed as `key=`: the signer did not skip them".into(),
            );
        }
    }
    if found.is_empty() {
        found.push(
            "no common mistake explains it: the fields were changed after signing, or the key is not this merchant's"
                .into(),
        );
    }
    found
}

/// A GatePay callback or request check, with its explanation.
#[derive(Clone, Debug, Serialize)]
pub struct GatePayReport {
    pub verdict: GatePayVerdict,
    pub payload_preview: String,
    pub diagnosis: Vec<String>,
    /// A payout callback's batch and sub-orders, read with exact amounts (empty when the
    /// body is not a payout callback).
    pub callback: Vec<String>,
}

/// Verifies a GatePay signature over the raw body and explains a failure: a body that was
/// re-serialised or gained a trailing newline, or a timestamp outside GatePay's window.
pub fn verify_gatepay(
    secret: &Secret,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
    signature: &str,
    now_ms: i64,
) -> GatePayReport {
    let mut verdict = gatepay_verify(secret, timestamp, nonce, body, signature.trim());
    let mut diagnosis = Vec::new();
    // GatePay never sends a byte-order mark: one at the start of a saved file is the editor's.
    // The raw bytes are tried first, so a body that really was signed with it still verifies.
    let mut body = body;
    if verdict != GatePayVerdict::Valid
        && let Some(rest) = body.strip_prefix(BOM_BYTES)
        && gatepay_verify(secret, timestamp, nonce, rest, signature.trim()) == GatePayVerdict::Valid
    {
        verdict = GatePayVerdict::Valid;
        body = rest;
        diagnosis.push(
            "a byte-order mark at the start of the file was skipped: an editor added it when the body was saved"
                .into(),
        );
    }
    if verdict == GatePayVerdict::Mismatch {
        let ok = |b: &[u8]| {
            gatepay_verify(secret, timestamp, nonce, b, signature.trim()) == GatePayVerdict::Valid
        };
        let trimmed = body.trim_ascii_end();
        if trimmed.len() != body.len() && ok(trimmed) {
            diagnosis.push("matches without the trailing newline or spaces: the body was saved with an extra line end".into());
        }
        if let Ok(v) = serde_json::from_slice::<Value>(body) {
            let compact = serde_json::to_vec(&v).unwrap_or_default();
            let pretty = serde_json::to_vec_pretty(&v).unwrap_or_default();
            if compact != body && ok(&compact) {
                diagnosis.push("matches the compact form of this JSON: the body was re-serialised (pretty-printed or reformatted) after it arrived; verify the raw bytes".into());
            } else if pretty != body && ok(&pretty) {
                diagnosis.push("matches the pretty-printed form of this JSON: the body was re-serialised after it arrived".into());
            }
        }
        if diagnosis.is_empty() {
            diagnosis.push("no common mistake explains it: the secret is not this merchant's, or the body, timestamp or nonce differ from what was signed".into());
        }
    }
    if let Ok(ts) = timestamp.trim().parse::<i64>() {
        let age = now_ms - ts;
        if age.abs() > TIMESTAMP_WINDOW_MS {
            diagnosis.push(format!(
                "the timestamp is {} s {} now: GatePay refuses requests more than 10 s off, so a live callback this old would be a replay",
                age.unsigned_abs() / 1000,
                if age > 0 { "before" } else { "after" }
            ));
        }
    } else {
        diagnosis.push("the timestamp is not Unix milliseconds".into());
    }
    GatePayReport {
        callback: parse_callback(body)
            .map(|cb| describe(&cb))
            .unwrap_or_default(),
        verdict,
        payload_preview: crate::gateway::gatepay::sign::payload_preview(timestamp, nonce, body),
        diagnosis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::gatepay::sign::signature;

    fn sign_exact(object: &ExactObject, key: &Secret, options: SignOptions) -> String {
        Canonical::of_exact(object, options).sign(key, options)
    }

    const KEY: &str = "2I9Q4nExEddsH6zo";
    const NOTE: &str = r#"{"payout_id":"POT00000102","payout_cl_id":"97a968b4a9db497c8c03198e395a38c6","platform_id":"PF0014","amount":400000,"real_amount":400000,"fee":3200,"status":3,"create_time":1567614049,"update_time":1567614111,"sign":"f3292e7a9e7be26296a30a6c0d6a25f8"}"#;

    #[test]
    fn a_gatepay_callback_is_shown_with_its_sub_orders() {
        let secret = Secret::new("s3cret".to_owned());
        let body = br#"{"bizType":"WITHDRAW","data":{"main_order":{"batch_id":"B9","status":"SUCCESS","pay_back_status":"NO"},"suborders":[{"suborder_id":"1","currency":"USDT","amount":2362.1,"fee":0.000000012345,"status":"DONE"}]}}"#;
        let sig = signature(&secret, "1000", "n", body);
        let report = verify_gatepay(&secret, "1000", "n", body, &sig, 1000);
        assert_eq!(report.verdict, GatePayVerdict::Valid);
        assert!(report.callback[0].contains("batch B9"));
        assert!(report.callback[1].contains("2362.1 USDT"));
        assert!(report.callback[1].contains("fee 0.000000012345"));
        let not_a_callback = verify_gatepay(&secret, "1000", "n", b"{}", &sig, 1000);
        assert!(not_a_callback.callback.is_empty());
    }

    #[test]
    fn reads_every_shape() {
        assert_eq!(parse_cny_input(NOTE).unwrap().len(), 1);
        let arr = format!("[{NOTE},{NOTE}]");
        let got = parse_cny_input(&arr).unwrap();
        assert_eq!(got[1].label, "item[1]");
        let resp = format!(r#"{{"error_code":"0000","data":[{NOTE}],"total":1}}"#);
        assert_eq!(parse_cny_input(&resp).unwrap()[0].label, "data[0]");
        assert_eq!(parse_cny_input("  "), Err(InputError::Empty));
        assert!(matches!(parse_cny_input("{"), Err(InputError::NotJson(_))));
        assert!(matches!(parse_cny_input("[1]"), Err(InputError::Shape(_))));
        assert!(matches!(parse_cny_input("42"), Err(InputError::Shape(_))));
        let ours = format!(
            r#"{{"kind":"payouts","total":1,"orders":[{}]}}"#,
            NOTE.replace('}', r#","signature":"valid"}"#)
        );
        let got = parse_cny_input(&ours).unwrap();
        assert!(!got[0].object.contains_key("signature"));
        let reports = verify_cny(&got, &Secret::new(KEY), SignOptions::default());
        assert_eq!(reports[0].verification.verdict, Verdict::Valid);
    }

    #[test]
    fn the_notification_vector_is_valid() {
        let reports = verify_cny(
            &parse_cny_input(NOTE).unwrap(),
            &Secret::new(KEY),
            SignOptions::default(),
        );
        assert_eq!(reports[0].verification.verdict, Verdict::Valid);
        assert_eq!(reports[0].order_id, "POT00000102");
    }

    #[test]
    fn diagnoses_common_mistakes() {
        let key = Secret::new(KEY);
        let mut obj = parse_cny_input(NOTE).unwrap().remove(0).object;
        // Signed with `&key=`.
        let alt = SignOptions {
            key_suffix: KeySuffix::KeyEquals,
            ..SignOptions::default()
        };
        obj.insert(
            "sign".into(),
            ExactValue::String(sign_exact(&obj, &key, alt)),
        );
        let d = diagnose_cny(&obj, &key, SignOptions::default());
        assert!(d[0].contains("`&key=KEY`"), "{d:?}");
        // A field added after signing.
        let mut obj2 = parse_cny_input(NOTE).unwrap().remove(0).object;
        obj2.insert("memo".into(), ExactValue::String("added".into()));
        let d = diagnose_cny(&obj2, &key, SignOptions::default());
        assert!(d.iter().any(|s| s.contains("`memo`")), "{d:?}");
        // Amounts in yuan.
        let mut yuan = obj2.clone();
        yuan.remove("memo");
        for f in AMOUNT_FIELDS {
            let t = yuan.text(f);
            yuan.insert(
                (*f).into(),
                ExactValue::String(fen_text_as_yuan(&t).unwrap()),
            );
        }
        let sign = sign_exact(&yuan, &key, SignOptions::default());
        let mut fen = obj2.clone();
        fen.remove("memo");
        fen.insert("sign".into(), ExactValue::String(sign));
        let d = diagnose_cny(&fen, &key, SignOptions::default());
        assert!(d.iter().any(|s| s.contains("yuan")), "{d:?}");
        // Tampered: nothing explains it.
        let mut bad = parse_cny_input(NOTE).unwrap().remove(0).object;
        bad.insert("amount".into(), ExactValue::Number("500000".into()));
        let d = diagnose_cny(&bad, &key, SignOptions::default());
        assert!(d[0].starts_with("no common mistake"), "{d:?}");
    }

    #[test]
    fn explains_gatepay_failures() {
        let secret = Secret::new("test_secret");
        let body = br#"{"batch_id":"M1","status":"DONE"}"#;
        let sig = signature(&secret, "1672905655498", "9578", body);
        let ok = verify_gatepay(
            &secret,
            "1672905655498",
            "9578",
            body,
            &sig,
            1_672_905_655_498,
        );
        assert_eq!(ok.verdict, GatePayVerdict::Valid);
        assert!(ok.diagnosis.is_empty());
        let pretty =
            serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(body).unwrap()).unwrap();
        let r = verify_gatepay(
            &secret,
            "1672905655498",
            "9578",
            &pretty,
            &sig,
            1_672_905_655_498,
        );
        assert_eq!(r.verdict, GatePayVerdict::Mismatch);
        assert!(
            r.diagnosis[0].contains("re-serialised"),
            "{:?}",
            r.diagnosis
        );
        let mut nl = body.to_vec();
        nl.push(b'\n');
        let r = verify_gatepay(
            &secret,
            "1672905655498",
            "9578",
            &nl,
            &sig,
            1_672_905_655_498,
        );
        assert!(
            r.diagnosis[0].contains("trailing newline"),
            "{:?}",
            r.diagnosis
        );
        let wrong = verify_gatepay(
            &Secret::new("other"),
            "1672905655498",
            "9578",
            body,
            &sig,
            1_672_905_700_000,
        );
        assert!(wrong.diagnosis[0].starts_with("no common mistake"));
        assert!(
            wrong.diagnosis[1].contains("44 s before now"),
            "{:?}",
            wrong.diagnosis
        );
    }
}
