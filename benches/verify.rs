//! Signature verification of query pages, in orders per second, beside plain MD5 over the
//! same canonical bytes measured in the same run: each ratio is a speed against MD5's (1.00x
//! would be MD5 alone), so what it lacks is the cost of reading each order's fields into the
//! canonical form (from the token text as received) and comparing in constant time.
//!
//! Every figure is measured in interleaved rounds, so load from elsewhere slows each alike.
//! `VERIFY_ONLY=check_text` runs one line's work alone for a few seconds, for a profiler.
//!
//! `cargo bench --bench verify`

use std::hint::black_box;
use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use paydesk::gateway::cny::sign::{
    Canonical, CheckScratch, ExactObject, ExactValue, SignOptions, check_text, parse_exact,
    sign_object, verify_exact, verify_text,
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

/// One line of the table: its name and the work it times.
type Job<'a> = (&'static str, Box<dyn FnMut() + 'a>);

/// Seconds per call of each of `jobs`, measured in interleaved rounds (every job once per
/// round, best of the rounds kept), so a machine busy with something else slows each of them
/// alike and the ratios between them hold.
fn measure_all(budget: Duration, jobs: &mut [Job<'_>]) -> Vec<f64> {
    const ROUNDS: u32 = 15;
    let slice = budget / ROUNDS / u32::try_from(jobs.len()).unwrap_or(1);
    // Calls per round for each job: about one slice of time.
    let per_round: Vec<u32> = jobs
        .iter_mut()
        .map(|(_, f)| {
            let start = Instant::now();
            let mut calls = 0u32;
            while start.elapsed() < slice {
                f();
                calls += 1;
            }
            calls.max(1)
        })
        .collect();
    let mut best = vec![f64::MAX; jobs.len()];
    for _ in 0..ROUNDS {
        for ((_, f), (calls, best)) in jobs.iter_mut().zip(per_round.iter().zip(best.iter_mut())) {
            let t = Instant::now();
            for _ in 0..*calls {
                f();
            }
            *best = best.min(t.elapsed().as_secs_f64() / f64::from(*calls));
        }
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
    let mut scratch = CheckScratch::default();
    let mut jobs: Vec<Job<'_>> = vec![
        (
            "plain MD5 over the canonical bytes + key",
            Box::new(|| {
                for h in &hashed {
                    black_box(Md5::digest(black_box(h.as_bytes())));
                }
            }),
        ),
        // A second baseline: MD5 alone over each order's text as received (the bytes the
        // verifier reads, rather than the shorter canonical bytes it hashes).
        (
            "plain MD5 over the orders' text received",
            Box::new(|| {
                for t in &texts {
                    black_box(Md5::digest(black_box(t.as_bytes())));
                }
            }),
        ),
        // The verdict alone, the canonical text built in one reused buffer.
        (
            "check_text (verdict from the order's text)",
            Box::new(|| {
                for t in &texts {
                    black_box(check_text(black_box(t), &key, opts, &mut scratch));
                }
            }),
        ),
        (
            "verify_text (verdict and its explanation)",
            Box::new(|| {
                for t in &texts {
                    black_box(verify_text(black_box(t), &key, opts));
                }
            }),
        ),
        // Verification of orders already read into exact objects (the general path).
        (
            "verify_exact (from a parsed object)",
            Box::new(|| {
                for o in &objects {
                    black_box(verify_exact(black_box(o), &key, opts));
                }
            }),
        ),
        // The whole page as the client handles it: parse the reply text, the verdict of every
        // order (from the fields the page scan read, no explanation: that is made for one
        // order on demand), type every order.
        (
            "parse reply + verify + typed orders",
            Box::new(|| {
                let page = parse_query_reply(
                    OrderKind::Deposit,
                    &query,
                    200,
                    black_box(text.as_bytes()),
                    Some(&key),
                    opts,
                );
                black_box(page.map_or(0, |p| p.orders.len()));
            }),
        ),
    ];
    if let Some(only) = std::env::var_os("VERIFY_ONLY") {
        // For a profiler: one job alone for a few seconds.
        let only = only.to_string_lossy().into_owned();
        if let Some((_, f)) = jobs.iter_mut().find(|(name, _)| name.starts_with(&only)) {
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(4) {
                f();
            }
        }
        return;
    }
    let secs = measure_all(Duration::from_secs(12), &mut jobs);
    let names: Vec<&str> = jobs.iter().map(|(name, _)| *name).collect();
    drop(jobs);
    let (md5_secs, received_secs) = (secs[0], secs[1]);
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
    for (name, secs) in names.iter().zip(&secs) {
        line(name, *secs);
    }
}
