//! The exact verifier (issue 10, findings 9 and 12): numbers signed as their token text, `{}`
//! as `&KEY`, nothing to verify is exit 2, a byte-order mark is skipped, a repeated key is
//! unreadable (in pasted text and in gateway replies), and a base URL with credentials is
//! refused on every path that builds a client.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use md5::{Digest, Md5};
use paydesk::domain::credentials::{Need, resolve_cny, resolve_gatepay};
use paydesk::domain::verify::{InputError, parse_cny_input, verify_cny, verify_gatepay};
use paydesk::gateway::cny::sign::{
    Canonical, ExactError, ExactValue, SignOptions, Verdict, parse_exact,
};
use paydesk::gateway::cny::wire::{
    OrderKind, OrderQuery, SignatureCheck, parse_balance_reply, parse_query_reply,
};
use paydesk::gateway::gatepay::sign::{GatePayVerdict, signature};
use paydesk::gateway::http::{BaseUrlError, HttpSettings, parse_base_url};
use paydesk::secret::Secret;
use proptest::prelude::*;

const BIN: &str = env!("CARGO_BIN_EXE_paydesk");
const KEY: &str = "2I9Q4nExEddsH6zo";
const NOTE: &str = r#"{"payout_id":"POT00000102","payout_cl_id":"97a968b4a9db497c8c03198e395a38c6","platform_id":"PF0014","amount":400000,"real_amount":400000,"fee":3200,"status":3,"create_time":1567614049,"update_time":1567614111,"sign":"f3292e7a9e7be26296a30a6c0d6a25f8"}"#;
const VARS: &[&str] = &[
    "PAYDESK_CNY_BASE_URL",
    "PAYDESK_CNY_PLATFORM_ID",
    "PAYDESK_CNY_AUTH_TOKEN",
    "PAYDESK_CNY_MD5_KEY",
    "PAYDESK_GATEPAY_BASE_URL",
    "PAYDESK_GATEPAY_CLIENT_ID",
    "PAYDESK_GATEPAY_SECRET",
    "PAYDESK_GATEPAY_ON_BEHALF_OF",
];

fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

fn key() -> Secret {
    Secret::new(KEY)
}

/// `paydesk verify cny` on `stdin`, with only the demo MD5 key configured.
fn verify_cli(config_dir: &Path, stdin: &[u8]) -> Output {
    let mut cmd = Command::new(BIN);
    for v in VARS {
        cmd.env_remove(v);
    }
    let mut child = cmd
        .env("PAYDESK_CONFIG_DIR", config_dir)
        .env("PAYDESK_CNY_MD5_KEY", KEY)
        .args(["verify", "cny"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn verdicts(text: &str) -> Vec<Verdict> {
    verify_cny(
        &parse_cny_input(text).unwrap(),
        &key(),
        SignOptions::default(),
    )
    .into_iter()
    .map(|r| r.verification.verdict)
    .collect()
}

#[test]
fn exponent_numbers_sign_as_the_text_carried() {
    // Before: serde_json rewrote `1e2` as `1e+2` and `2E5` as `2e+5` before signing.
    let signed = format!("amount=1e2&fee=2E5&rate=1.50&real_amount=-0&status=3e-0&{KEY}");
    let sign = md5_hex(&signed);
    let text = format!(
        r#"{{"amount":1e2,"fee":2E5,"rate":1.50,"real_amount":-0,"status":3e-0,"sign":"{sign}"}}"#
    );
    let objects = parse_cny_input(&text).unwrap();
    let c = Canonical::of_exact(&objects[0].object, SignOptions::default());
    assert_eq!(
        c.fields,
        "amount=1e2&fee=2E5&rate=1.50&real_amount=-0&status=3e-0"
    );
    assert_eq!(verdicts(&text), vec![Verdict::Valid]);
    // The normalised text is not what was signed.
    let rewritten = text.replace("1e2", "1e+2");
    assert_eq!(verdicts(&rewritten), vec![Verdict::Mismatch]);
}

#[test]
fn received_orders_are_verified_over_the_text_carried() {
    let sign = md5_hex(&format!("amount=1e5&payout_cl_id=A1&status=3&{KEY}"));
    let body = format!(
        r#"{{"error_code":"0000","total":1,"data":[{{"payout_cl_id":"A1","amount":1e5,"status":3,"sign":"{sign}"}}]}}"#
    );
    let page = parse_query_reply(
        OrderKind::Payout,
        &OrderQuery::default(),
        200,
        body.as_bytes(),
        Some(&key()),
        SignOptions::default(),
    )
    .unwrap();
    assert_eq!(page.orders.len(), 1);
    assert_eq!(page.orders[0].signature.word(), "valid");
    assert!(
        page.orders[0]
            .canonical_masked(SignOptions::default())
            .starts_with("amount=1e5&")
    );
}

#[test]
fn an_empty_object_signs_as_ampersand_key() {
    // Before: `{}` hashed `KEY` without the `&`.
    let c = Canonical::of_exact(
        match &parse_exact("{}").unwrap() {
            ExactValue::Object(o) => o,
            _ => unreachable!(),
        },
        SignOptions::default(),
    );
    assert_eq!(c.masked(SignOptions::default()), "&***");
    assert_eq!(
        c.sign(&key(), SignOptions::default()),
        md5_hex(&format!("&{KEY}"))
    );
    // Fields that are all left out sign the same way.
    let sign = md5_hex(&format!("&{KEY}"));
    assert_eq!(
        verdicts(&format!(r#"{{"sign":"{sign}"}}"#)),
        vec![Verdict::Valid]
    );
    assert_eq!(
        verdicts(&format!(r#"{{"memo":"","x":null,"sign":"{sign}"}}"#)),
        vec![Verdict::Valid]
    );
    assert_eq!(
        verdicts(&format!(r#"{{"sign":"{}"}}"#, md5_hex(KEY))),
        vec![Verdict::Mismatch]
    );
}

#[test]
fn nothing_to_verify_exits_2_through_the_cli() {
    // Before: `[]` and an empty `data` exited 0 ("valid") with nothing checked.
    let dir = tempfile::tempdir().unwrap();
    for input in [
        "[]",
        " [ ] \n",
        r#"{"error_code":"0000","data":[],"total":0}"#,
        r#"{"error_code":"0000","data":null,"total":0}"#,
        r#"{"kind":"payouts","total":0,"orders":[]}"#,
    ] {
        let out = verify_cli(dir.path(), input.as_bytes());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{input}: {stderr}");
        assert!(stderr.contains("nothing to verify"), "{input}: {stderr}");
        assert!(out.stdout.is_empty(), "{input}");
        assert!(matches!(
            parse_cny_input(input),
            Err(InputError::Nothing(_))
        ));
    }
    let out = verify_cli(dir.path(), NOTE.as_bytes());
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn a_byte_order_mark_is_skipped() {
    // Before: a file saved with a BOM was "not JSON".
    let dir = tempfile::tempdir().unwrap();
    let mut input = "\u{feff}".as_bytes().to_vec();
    input.extend_from_slice(NOTE.as_bytes());
    let out = verify_cli(dir.path(), &input);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("valid"));
    assert_eq!(verdicts(&format!("\u{feff}[{NOTE}]")), vec![Verdict::Valid]);
    // Only one mark, only at the start.
    assert!(parse_cny_input(&format!("\u{feff}\u{feff}{NOTE}")).is_err());
}

#[test]
fn a_byte_order_mark_is_skipped_in_a_gatepay_body() {
    let secret = Secret::new("test_secret");
    let body = br#"{"batch_id":"M1","status":"DONE"}"#;
    let sig = signature(&secret, "1672905655498", "9578", body);
    let mut saved = "\u{feff}".as_bytes().to_vec();
    saved.extend_from_slice(body);
    let r = verify_gatepay(
        &secret,
        "1672905655498",
        "9578",
        &saved,
        &sig,
        1_672_905_655_498,
    );
    assert_eq!(r.verdict, GatePayVerdict::Valid);
    assert!(
        r.diagnosis[0].contains("byte-order mark"),
        "{:?}",
        r.diagnosis
    );
    // A body that was signed with the mark still verifies as it is.
    let sig_with = signature(&secret, "1672905655498", "9578", &saved);
    let r = verify_gatepay(
        &secret,
        "1672905655498",
        "9578",
        &saved,
        &sig_with,
        1_672_905_655_498,
    );
    assert_eq!(r.verdict, GatePayVerdict::Valid);
    assert!(r.diagnosis.is_empty(), "{:?}", r.diagnosis);
}

#[test]
fn duplicate_keys_are_refused_naming_the_key() {
    // Before: the last `amount` won, so one text could carry two amounts.
    let twice = NOTE.replacen(r#""amount":400000,"#, r#""amount":1,"amount":400000,"#, 1);
    let err = parse_cny_input(&twice).unwrap_err();
    assert!(matches!(err, InputError::Unreadable(_)), "{err}");
    assert!(
        err.to_string().contains("\"amount\" appears twice"),
        "{err}"
    );
    // At any depth, and under an escaped spelling of the same key.
    for text in [
        r#"[{"a":1},{"b":{"c":[{"d":1,"d":1}]}}]"#,
        r#"{"error_code":"0000","data":[{"x":1,"\u0078":2}],"total":1}"#,
        r#"{"a":1,"a":1}"#,
    ] {
        assert!(
            matches!(parse_cny_input(text), Err(InputError::Unreadable(_))),
            "{text}"
        );
    }
    assert_eq!(
        parse_exact(r#"{"k":{"k":1}}"#).map(|_| ()),
        Ok(()),
        "the same key in two objects is not a repeat"
    );
    let dir = tempfile::tempdir().unwrap();
    let out = verify_cli(dir.path(), twice.as_bytes());
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"amount\""));
}

#[test]
fn a_repeated_key_in_a_gateway_reply_makes_that_order_unverifiable() {
    let good = NOTE;
    // Signed over the first amount; the last one is what a Value would have kept.
    let twice = NOTE.replacen(
        r#""amount":400000,"#,
        r#""amount":400000,"amount":900000,"#,
        1,
    );
    let body = format!(r#"{{"error_code":"0000","total":2,"data":[{twice},{good}]}}"#);
    let page = parse_query_reply(
        OrderKind::Payout,
        &OrderQuery::default(),
        200,
        body.as_bytes(),
        Some(&key()),
        SignOptions::default(),
    )
    .unwrap();
    let SignatureCheck::Checked(v) = &page.orders[0].signature else {
        panic!("unchecked");
    };
    assert_eq!(v.verdict, Verdict::Unreadable);
    assert!(page.orders[0].signature.is_invalid());
    assert!(matches!(
        page.orders[0].exact(),
        Err(ExactError::DuplicateKey(_))
    ));
    assert_eq!(page.orders[1].signature.word(), "valid");
    assert_eq!(page.invalid_signatures(), 1);
    // A repeated key in the envelope refuses the reply.
    let env = format!(r#"{{"error_code":"0000","total":1,"data":[{good}],"data":[]}}"#);
    assert!(
        parse_query_reply(
            OrderKind::Payout,
            &OrderQuery::default(),
            200,
            env.as_bytes(),
            Some(&key()),
            SignOptions::default(),
        )
        .is_err()
    );
    // The balance reply: a repeated key leaves it unverifiable.
    let sign = md5_hex(&format!("balance=5&{KEY}"));
    let balance = format!(
        r#"{{"error_code":"0000","data":{{"balance":5,"balance":7,"sign":"{sign}","platform_channels":[]}}}}"#
    );
    let b = parse_balance_reply(
        200,
        balance.as_bytes(),
        Some(&key()),
        SignOptions::default(),
    )
    .unwrap();
    assert!(b.signature.is_invalid());
    let ok = balance.replace(r#""balance":7,"#, "");
    let b = parse_balance_reply(200, ok.as_bytes(), Some(&key()), SignOptions::default()).unwrap();
    assert_eq!(b.signature.word(), "valid");
}

#[test]
fn a_base_url_with_credentials_is_refused_on_every_path() {
    // Before: `user:password@` was accepted and sent as HTTP Basic beside the token.
    for url in [
        "https://ops:hunter2@gw.example.com",
        "https://ops@gw.example.com/brand",
        "http://ops:hunter2@127.0.0.1:9000",
    ] {
        let err = parse_base_url(url).unwrap_err();
        assert!(matches!(err, BaseUrlError::Credentials(_)), "{url}: {err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
    }
    // The environment, for both gateways.
    let env = |name: &str| match name {
        "PAYDESK_CNY_BASE_URL" | "PAYDESK_GATEPAY_BASE_URL" => {
            Some("https://ops:hunter2@gw.example.com".to_owned())
        }
        "PAYDESK_CNY_AUTH_TOKEN" | "PAYDESK_CNY_MD5_KEY" | "PAYDESK_GATEPAY_SECRET" => {
            Some("s".to_owned())
        }
        "PAYDESK_GATEPAY_CLIENT_ID" | "PAYDESK_GATEPAY_ON_BEHALF_OF" => Some("c".to_owned()),
        _ => None,
    };
    let cny = resolve_cny(&env, None, None, Need::Query)
        .unwrap()
        .client_config(HttpSettings::default())
        .unwrap_err();
    assert!(cny.to_string().contains("user name or password"), "{cny}");
    assert!(!cny.to_string().contains("hunter2"));
    let gp = resolve_gatepay(&env, None, None, HttpSettings::default()).unwrap_err();
    assert!(gp.to_string().contains("user name or password"), "{gp}");
    // The binary, from the environment.
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(BIN);
    for v in VARS {
        cmd.env_remove(v);
    }
    let out = cmd
        .env("PAYDESK_CONFIG_DIR", dir.path())
        .env("PAYDESK_CNY_BASE_URL", "https://ops:hunter2@gw.example.com")
        .env("PAYDESK_CNY_AUTH_TOKEN", "t")
        .env("PAYDESK_CNY_MD5_KEY", KEY)
        .env("PAYDESK_CNY_PLATFORM_ID", "PF1")
        .args(["orders", "payouts"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("user name or password"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn every_shared_vector_still_verifies_through_the_exact_reader() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("../fixtures/vectors.json")).unwrap();
    for v in vectors["cny_gateway_md5"].as_array().unwrap() {
        let key = Secret::new(v["key"].as_str().unwrap());
        let json = v["json"].as_str().unwrap();
        let objects = parse_cny_input(json).unwrap();
        let c = Canonical::of_exact(&objects[0].object, SignOptions::default());
        assert_eq!(c.fields, v["canonical"].as_str().unwrap());
        assert_eq!(
            c.sign(&key, SignOptions::default()),
            v["sign"].as_str().unwrap()
        );
    }
}

/// JSON-looking text: fragments that make objects, arrays, numbers in every form, escapes,
/// repeated keys and marks, glued at random.
fn jsonish() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("[".to_owned()),
        Just("]".to_owned()),
        Just(",".to_owned()),
        Just(":".to_owned()),
        Just("\"sign\"".to_owned()),
        Just("\"a\"".to_owned()),
        Just("\"\\u0061\"".to_owned()),
        Just("\"\\ud800\"".to_owned()),
        Just("1e2".to_owned()),
        Just("-0.50E+3".to_owned()),
        Just("null".to_owned()),
        Just("true".to_owned()),
        Just("\u{feff}".to_owned()),
        Just(" ".to_owned()),
        "[0-9a-f]{32}".prop_map(|s| format!("\"{s}\"")),
        "\\PC{0,4}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|p| p.concat())
}

fn arb_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::{Value, json};
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        "\\PC{0,8}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_\"\\\\]{0,4}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn any_json_text_gives_a_verdict_or_an_error_never_a_panic(text in jsonish()) {
        if let Ok(objects) = parse_cny_input(&text) {
            prop_assert!(!objects.is_empty());
            let reports = verify_cny(&objects, &key(), SignOptions::default());
            prop_assert_eq!(reports.len(), objects.len());
        }
        let _ = parse_query_reply(
            OrderKind::Payout,
            &OrderQuery::default(),
            200,
            text.as_bytes(),
            Some(&key()),
            SignOptions::default(),
        );
        let _ = parse_balance_reply(200, text.as_bytes(), Some(&key()), SignOptions::default());
    }

    #[test]
    fn the_exact_reader_agrees_with_serde_json_on_well_formed_text(value in arb_value(), pretty in any::<bool>()) {
        let text = if pretty {
            serde_json::to_string_pretty(&value).unwrap()
        } else {
            serde_json::to_string(&value).unwrap()
        };
        let exact = parse_exact(&text).unwrap();
        prop_assert_eq!(exact.to_value(), value);
    }
}
