//! The order reader's tests: pages, typed fields and verdicts against the exact reader.

use super::*;
use crate::gateway::cny::sign::tests::{all_options, arb_object_text};
use crate::gateway::cny::wire::parse_fen_text;
use proptest::prelude::*;

#[test]
fn decimal_string_amounts_are_exact_fen_or_unreadable() {
    for (text, fen) in [
        ("50000.000000", Some(5_000_000)),
        ("1000.0000", Some(100_000)),
        ("12.3", Some(1_230)),
        ("0.01", Some(1)),
        ("30000", Some(30_000)),
        ("-1.50", Some(-150)),
        ("12.345", None),
        ("12.340001", None),
        ("1e3", None),
        ("12.", None),
        (".5", None),
        ("1,000.00", None),
        ("", None),
        ("99999999999999999999.00", None),
    ] {
        assert_eq!(parse_fen_text(text), fen, "{text}");
    }
    let raw: Map<String, Value> =
        serde_json::from_str(r#"{"amount":"50000.000000","fee":1.005,"real_amount":1000.00}"#)
            .unwrap();
    assert_eq!(field_fen(&raw, "amount"), Some(Fen::from_fen(5_000_000)));
    assert_eq!(field_fen(&raw, "real_amount"), Some(Fen::from_fen(100_000)));
    assert_eq!(field_fen(&raw, "fee"), None);
    let order = Order::from_raw(OrderKind::Payout, raw, None, SignOptions::default());
    assert_eq!(order.unreadable_amounts(), ["fee"]);
}

#[test]
fn iso_and_unix_times_are_read() {
    let raw: Map<String, Value> = serde_json::from_str(
        r#"{"a":1596425140,"b":"1596425140","c":"2020-08-03T11:25:40+08:00","d":"2020-08-03 11:25:40","e":"2020-08-03T03:25:40Z","f":"yesterday"}"#,
    )
    .unwrap();
    for k in ["a", "b", "c", "d", "e"] {
        assert_eq!(field_time(&raw, k), Some(1_596_425_140), "{k}");
    }
    assert_eq!(field_time(&raw, "f"), None);
}

const PUBLISHED_QUERY_EXAMPLE: &str = r#"{"error_code":"0000","data":[{"amount":30000,"real_amount":0,"fee":0,"payout_id":"POT00000145","payout_cl_id":"xinxin_1596380261_10","platform_id":"PF0060","platform_channel_id":"PFC00000142","status":3,"memo":"","create_time":1596425140,"update_time":1596425770,"sign":"b02a19324cfb696e939f933777d75f58"},{"amount":30000,"real_amount":0,"fee":0,"payout_id":"POT00000144","payout_cl_id":"xinxin_1596380261_11","platform_id":"PF0060","platform_channel_id":"PFC00000142","status":3,"memo":"","create_time":1596424960,"update_time":1596425590,"sign":"151ed70de39dc222f3444bc84947975a"}],"total":2}"#;
#[test]
fn reads_the_seed_page_and_flags_the_bad_signature() {
    let key = Secret::new("2I9Q4nExEddsH6zo");
    let page = parse_query_reply(
        OrderKind::Payout,
        &OrderQuery::default(),
        200,
        PUBLISHED_QUERY_EXAMPLE.as_bytes(),
        Some(&key),
        SignOptions::default(),
    )
    .unwrap();
    assert_eq!(page.total, 2);
    assert_eq!(page.orders[0].signature.word(), "valid");
    // The published example's second sign was made with a key we do not have.
    assert_eq!(page.orders[1].signature.word(), "invalid");
    assert_eq!(page.orders[0].status.label(), "success");
    assert_eq!(page.orders[0].amount, Some(Fen::from_fen(30000)));
    assert_eq!(page.invalid_signatures(), 1);
}

fn seed_page(key: &Secret, body: &str) -> QueryPage {
    parse_query_reply(
        OrderKind::Payout,
        &OrderQuery::default(),
        200,
        body.as_bytes(),
        Some(key),
        SignOptions::default(),
    )
    .unwrap()
}

#[test]
fn one_tampered_order_is_invalid_and_the_rest_valid() {
    let key = Secret::new("2I9Q4nExEddsH6zo");
    let tampered = PUBLISHED_QUERY_EXAMPLE.replacen("\"amount\":30000", "\"amount\":30001", 1);
    let page = seed_page(&key, &tampered);
    let SignatureCheck::Checked(c) = page.orders[0].signature else {
        panic!("unchecked");
    };
    assert_eq!(c.verdict, Verdict::Mismatch);
    let v = page.orders[0].verification(&key, SignOptions::default());
    assert_eq!(v.verdict, Verdict::Mismatch);
    assert!(v.canonical_masked.starts_with("amount=30001&"), "{v:?}");
    assert_eq!(page.orders[0].amount, Some(Fen::from_fen(30001)));
    assert_eq!(page.invalid_signatures(), 2);
    let clean = seed_page(&key, PUBLISHED_QUERY_EXAMPLE);
    assert_eq!(clean.orders[0].signature.word(), "valid");
}

#[test]
fn an_order_read_again_from_its_text_is_the_same_order() {
    let key = Secret::new("2I9Q4nExEddsH6zo");
    let page = seed_page(&key, PUBLISHED_QUERY_EXAMPLE);
    for order in &page.orders {
        assert!(order.text.starts_with("{\"amount\":30000,"));
        let again =
            Order::from_text(order.kind, &order.text, Some(&key), SignOptions::default()).unwrap();
        assert_eq!(format!("{again:?}"), format!("{order:?}"));
        assert_eq!(again.raw()["payout_id"], order.raw()["payout_id"]);
        assert!(again.exact().is_ok());
    }
    assert!(Order::from_text(OrderKind::Payout, "[1]", None, SignOptions::default()).is_err());
    let twice = Order::from_text(
        OrderKind::Payout,
        r#"{"amount":1,"amount":2,"sign":"00"}"#,
        Some(&key),
        SignOptions::default(),
    )
    .unwrap();
    assert_eq!(
        twice.amount,
        Some(Fen::from_fen(2)),
        "the map keeps the last"
    );
    assert!(matches!(twice.exact(), Err(ExactError::DuplicateKey(_))));
    assert!(twice.signature.is_invalid());
}

#[test]
fn a_page_the_fast_path_leaves_reads_as_before() {
    let key = Secret::new("2I9Q4nExEddsH6zo");
    let nested = PUBLISHED_QUERY_EXAMPLE.replacen("\"memo\":\"\"", "\"memo\":[1]", 1);
    assert!(
        fast_page(
            OrderKind::Payout,
            nested.as_bytes(),
            Some(&key),
            SignOptions::default()
        )
        .is_none()
    );
    let page = seed_page(&key, &nested);
    assert_eq!(
        page.orders[0].signature.word(),
        "valid",
        "arrays are not signed"
    );
    assert!(page.orders[0].text.contains("\"memo\":[1]"));
    let Err(ReplyError::Malformed(why)) = parse_query_reply(
        OrderKind::Payout,
        &OrderQuery::default(),
        200,
        br#"{"error_code":"0000","data":[1],"total":1}"#,
        None,
        SignOptions::default(),
    ) else {
        panic!("malformed")
    };
    assert_eq!(why, "order 1 of the page is not an object");
}

proptest! {
    #[test]
    fn the_fast_reading_of_an_order_equals_the_map_reading(text in arb_object_text()) {
        let key = Secret::new("k");
        for options in all_options() {
            for kind in [OrderKind::Deposit, OrderKind::Payout] {
                let fast = Order::from_text(kind, &text, Some(&key), options);
                let slow = Order::from_text_exactly(kind, &text, Some(&key), options);
                prop_assert_eq!(format!("{fast:?}"), format!("{slow:?}"));
            }
        }
    }
}

/// The verdict of the exact reader alone on one order's text.
fn exact_check(text: &str, key: &Secret, options: SignOptions) -> SignatureCheck {
    let v = match exact_object(text) {
        Ok(o) => verify_exact(&o, key, options),
        Err(why) => Verification::unreadable(&why),
    };
    SignatureCheck::Checked(Check::from(&v))
}

/// `text` with a `sign` the exact reader makes for it added last (the keys in the same order
/// otherwise), so a page of such orders has valid ones too.
fn with_sign(text: &str, key: &Secret, options: SignOptions) -> Option<String> {
    let exact = exact_object(text).ok()?;
    let sign = Canonical::of_exact(&exact, options).sign(key, options);
    let inner = text.trim_end().strip_suffix('}')?;
    let comma = if exact.is_empty() { "" } else { "," };
    Some(format!("{inner}{comma}\"sign\":\"{sign}\"}}"))
}

#[test]
fn an_unreadable_order_stays_unreadable_when_explained() {
    let key = Secret::new("k");
    let raw: Map<String, Value> = serde_json::from_str(r#"{"amount":2,"sign":"00"}"#).unwrap();
    let why = ExactError::DuplicateKey("amount".to_owned());
    let order = Order::from_exact(
        OrderKind::Payout,
        raw,
        Err(why),
        Some(&key),
        SignOptions::default(),
    );
    assert!(order.signature.is_invalid());
    let v = order.verification(&key, SignOptions::default());
    assert_eq!(v.verdict, Verdict::Unreadable);
    assert!(v.canonical_masked.starts_with("(none: "), "{v:?}");
}

proptest! {
    #[test]
    fn every_order_of_a_page_has_the_exact_readers_verdict(
        texts in prop::collection::vec(arb_object_text(), 1..4),
    ) {
        let key = Secret::new("k");
        for options in all_options() {
            // Each order twice and signed twice: the later ones read with the plan the
            // earlier left, as a page's orders with the same keys are.
            let mut items = Vec::new();
            for text in &texts {
                items.push(text.clone());
                items.push(text.clone());
                if let Some(signed) = with_sign(text, &key, options) {
                    items.push(signed.clone());
                    items.push(signed);
                }
            }
            let body = format!(
                r#"{{"error_code":"0000","total":{},"data":[{}]}}"#,
                items.len(),
                items.join(",")
            );
            let page = parse_query_reply(
                OrderKind::Payout,
                &OrderQuery::default(),
                200,
                body.as_bytes(),
                Some(&key),
                options,
            );
            let Ok(page) = page else { continue };
            prop_assert_eq!(page.orders.len(), items.len());
            for (order, text) in page.orders.iter().zip(&items) {
                prop_assert_eq!(order.signature, exact_check(text, &key, options), "{}", text);
                let explained = order.verification(&key, options);
                prop_assert_eq!(
                    SignatureCheck::Checked(Check::from(&explained)),
                    order.signature,
                    "{}",
                    text
                );
            }
        }
    }
}
