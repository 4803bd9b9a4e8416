//! Signature verification of query pages, in orders per second, beside plain MD5 over the
//! same canonical bytes measured in the same run: each ratio is a speed against MD5's (1.00x
//! would be MD5 alone), so what it lacks is the cost of reading each order's fields into the
//! canonical form (from the token text as received) and comparing in constant time.
//!
//! `cargo bench --bench verify`

use std::hint::black_box;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use paydesk::gateway::cny::sign::{
    Canonical, ExactObject, ExactValue, SignOptions, check_text, parse_exact, sign_object,
    verify_exact, verify_text,
};
use paydesk::gateway::cny::wire::{OrderKind, OrderQuery, parse_query_reply};
use paydesk::secret::Secret;
use serde_json::{Map, Value, json};

const PAGE: usize = 500;

fn page_text(key: &Secret) -> String {
    let orders: Vec<Value> = (0..PAGE)
        .map(|i| {
            let mut o: Map<String, Value> = match json!({
                "amount": 30_000 + i * 7,
                "real_amount": 30_000 + i * 7,
                "fee": 240 + i,
                "payment_id": format!("PM{i:08}"),
                "payment_cl_id": format!("dep_1596380261_{i}"),
                "payment_cl_name": "欧阳秀英",
                "platform_id": "PF0060",
                "platform_channel_id": "PFC00000142",
                "status": 2,
                "memo": "",
                "create_time": 1_596_425_140 + i,
                "update_time": 1_596_425_770 + i,
            }) {
                Value::Object(m) => m,
                _ => unreachable!(),
            };
            let sign = sign_object(&o, key, SignOptions::default());
            o.insert("sign".into(), Value::from(sign));
            Value::Object(o)
        })
        .collect();
    json!({"error_code": "0000", "data": orders, "total": PAGE}).to_string()
}

/// Runs `f` repeatedly for about `budget`, returning seconds per call (best of 5 rounds).
fn measure(budget: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut calls = 0u32;
    while start.elapsed() < budget / 10 {
        f();
        calls += 1;
    }
    let per_round = calls.max(1);
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..per_round {
            f();
        }
        best = best.min(t.elapsed().as_secs_f64() / f64::from(per_round));
    }
    best
}

fn main() {
    let key = Secret::new("2I9Q4nExEddsH6zo");
    let text = page_text(&key);
    let opts = SignOptions::default();
    let query = OrderQuery {
        limit: 500,
        ..OrderQuery::default()
    };

    // Baseline: MD5 alone over exactly the bytes that verification hashes.
    let objects: Vec<ExactObject> = match parse_exact(&text) {
        Ok(ExactValue::Object(mut m)) => match m.remove("data") {
            Some(ExactValue::Array(items)) => items
                .into_iter()
                .filter_map(|v| match v {
                    ExactValue::Object(o) => Some(o),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let hashed: Vec<String> = objects
        .iter()
        .map(|o| format!("{}&{}", Canonical::of_exact(o, opts).fields, key.expose()))
        .collect();
    let budget = Duration::from_secs(2);
    let md5_secs = measure(budget, || {
        for h in &hashed {
            black_box(Md5::digest(black_box(h.as_bytes())));
        }
    });
    // Verification from each order's text as carried: one scan, canonical form, MD5,
    // constant-time compare.
    let texts: Vec<String> = match parse_query_reply(
        OrderKind::Deposit,
        &query,
        200,
        text.as_bytes(),
        Some(&key),
        opts,
    ) {
        Ok(page) => page.orders.iter().map(|o| o.text.to_string()).collect(),
        Err(_) => Vec::new(),
    };
    assert_eq!(texts.len(), PAGE, "the page reads");
    // A second baseline: MD5 alone over each order's text as received (the bytes the
    // verifier reads, rather than the shorter canonical bytes it hashes).
    let received_secs = measure(budget, || {
        for t in &texts {
            black_box(Md5::digest(black_box(t.as_bytes())));
        }
    });
    let text_secs = measure(budget, || {
        for t in &texts {
            black_box(verify_text(black_box(t), &key, opts));
        }
    });
    // The verdict alone, the canonical text built in one reused buffer.
    let mut scratch = String::new();
    let check_secs = measure(budget, || {
        for t in &texts {
            black_box(check_text(black_box(t), &key, opts, &mut scratch));
        }
    });
    // Verification of orders already read into exact objects (the general path).
    let verify_secs = measure(budget, || {
        for o in &objects {
            black_box(verify_exact(black_box(o), &key, opts));
        }
    });
    // The whole page as the client handles it: parse the reply text, verify, type every order.
    let page_secs = measure(budget, || {
        let page = parse_query_reply(
            OrderKind::Deposit,
            &query,
            200,
            black_box(text.as_bytes()),
            Some(&key),
            opts,
        );
        black_box(page.map_or(0, |p| p.orders.len()));
    });
    let rate = |secs: f64| PAGE as f64 / secs;
    println!(
        "signature verification of a {PAGE}-order page ({} bytes)",
        text.len()
    );
    let canonical_bytes: usize = hashed.iter().map(String::len).sum();
    let received_bytes: usize = texts.iter().map(String::len).sum();
    println!(
        "  speeds against MD5 over the canonical bytes + key ({canonical_bytes} bytes a page) \
         and over the orders' text as received ({received_bytes} bytes a page)"
    );
    let line = |what: &str, secs: f64| {
        println!(
            "  {what:<42} {:>10.0} orders/s   {:.2}x MD5 (canonical)   {:.2}x MD5 (received)",
            rate(secs),
            md5_secs / secs,
            received_secs / secs
        );
    };
    line("plain MD5 over the canonical bytes + key", md5_secs);
    line("plain MD5 over the orders' text received", received_secs);
    line("check_text (verdict from the order's text)", check_secs);
    line("verify_text (verdict and its explanation)", text_secs);
    line("verify_exact (from a parsed object)", verify_secs);
    line("parse reply + verify + typed orders", page_secs);
}
