//! The sandbox's GatePay: HMAC-checked requests within the 10 s window and with fresh nonces,
//! batch detail with status filters, batch creation with its refusals, and batches that
//! move INIT → PENDING → PROCESSING → CHECK → DONE/FAIL over the settle time.

use std::str::FromStr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

use super::cny::{json_reply, with_faults};
use super::data::{StoredBatch, StoredSubOrder, address_for, random_tx_id};
use super::{Shared, lock};
use crate::gateway::gatepay::search::{SUBORDER_PAGE_MAX, SUBORDER_QUERY_PATH};
use crate::gateway::gatepay::sign::{GatePayVerdict, verify};
use crate::gateway::gatepay::wire::{
    BALANCE_PATH, CHAINS_PATH, CREATE_PATH, DETAIL_PATH, DetailStatus, HEADER_CLIENT_ID,
    HEADER_NONCE, HEADER_ON_BEHALF_OF, HEADER_SIGNATURE, HEADER_TIMESTAMP, TIMESTAMP_WINDOW_MS,
    WITHDRAW_STATUS_PATH, error_meaning, is_valid_batch_id,
};

/// At most this many sub-orders in one batch.
pub const MAX_SUB_ORDERS: usize = 100;
pub const MAX_MEMO_CHARS: usize = 64;

fn ok(data: &Value) -> Response {
    json_reply(
        StatusCode::OK,
        &json!({"status": "SUCCESS", "code": "000000", "errorMessage": "", "data": data}),
    )
}

fn fail(code: &str, detail: &str) -> Response {
    let message = if detail.is_empty() {
        error_meaning(code).to_owned()
    } else {
        format!("{}: {detail}", error_meaning(code))
    };
    json_reply(
        StatusCode::OK,
        &json!({"status": "FAIL", "code": code, "errorMessage": message, "data": null}),
    )
}

fn header_text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Answers one GatePay request as GatePay does: the endpoint's drawn fault first, then the
/// request's authentication, then `answer`.
async fn signed<F>(
    shared: &Shared,
    headers: &HeaderMap,
    (method, path): (&'static str, &'static str),
    body: &[u8],
    answer: F,
) -> Response
where
    F: FnOnce() -> Response,
{
    with_faults(shared, shared.draw_fault(method, path, None), || {
        if let Err(r) = authenticate(shared, headers, body, method == "POST") {
            return r;
        }
        answer()
    })
    .await
}

/// Checks a request as GatePay does: headers, clock window, signature, then the nonce (after
/// the signature, so a forged request cannot burn a nonce).
fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
    post: bool,
) -> Result<(), Response> {
    let mut values = Vec::with_capacity(5);
    for name in [
        HEADER_CLIENT_ID,
        HEADER_TIMESTAMP,
        HEADER_NONCE,
        HEADER_SIGNATURE,
        HEADER_ON_BEHALF_OF,
    ] {
        match header_text(headers, name) {
            Some(v) if !v.is_empty() => values.push(v),
            _ => return Err(fail("400001", &format!("missing header {name}"))),
        }
    }
    let [client_id, timestamp, nonce, signature, on_behalf_of] = values[..] else {
        return Err(fail("400001", ""));
    };
    if post {
        let ct = header_text(headers, header::CONTENT_TYPE.as_str()).unwrap_or("");
        if !ct.to_ascii_lowercase().starts_with("application/json") {
            return Err(fail("400007", ct));
        }
    }
    let Ok(ts) = timestamp.parse::<i64>() else {
        return Err(fail(
            "400001",
            "X-GatePay-Timestamp must be Unix milliseconds",
        ));
    };
    let now = shared.clock.now_ms();
    if (now - ts).abs() > TIMESTAMP_WINDOW_MS {
        return Err(fail(
            "400003",
            &format!("server time {now}, request time {ts}"),
        ));
    }
    let creds = &shared.info.gatepay;
    if client_id != creds.client_id
        || verify(&creds.secret, timestamp, nonce, body, signature) != GatePayVerdict::Valid
    {
        return Err(fail("400002", ""));
    }
    if on_behalf_of != creds.on_behalf_of {
        return Err(fail("400001", "unknown X-GatePay-On-Behalf-Of account"));
    }
    if nonce.len() > 32 || !nonce.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(fail("400020", "a nonce is 1 to 32 letters and digits"));
    }
    let mut state = lock(&shared.gatepay);
    // A nonce older than the window cannot come back: its timestamp would be refused.
    state
        .nonces
        .retain(|_, seen| now - *seen <= 2 * TIMESTAMP_WINDOW_MS);
    if state.nonces.insert(nonce.to_owned(), now).is_some() {
        return Err(fail("400020", "this nonce was used already"));
    }
    Ok(())
}

/// Where a live sub-order stands `elapsed` ms into a batch that settles in `settle` ms.
fn live_status(final_status: &str, elapsed: i64, settle: i64) -> &str {
    let stage = if settle <= 0 { 5 } else { elapsed * 5 / settle };
    match stage {
        i64::MIN..=0 => "INIT",
        1 => "PENDING",
        2 => "PROCESSING",
        3 | 4 => "CHECK",
        _ => final_status,
    }
}

fn batch_status(statuses: &[&str]) -> &'static str {
    if statuses.is_empty() || statuses.iter().all(|s| *s == "INIT") {
        "INIT"
    } else if statuses.iter().all(|s| *s == "DONE") {
        "SUCCESS"
    } else if statuses.iter().all(|s| *s == "FAIL") {
        "FAIL"
    } else if statuses.iter().all(|s| matches!(*s, "DONE" | "FAIL")) {
        "PARTIAL"
    } else {
        "PROCESSING"
    }
}

pub(super) fn merchant_id_value(shared: &Shared) -> Value {
    let id = &shared.info.gatepay.on_behalf_of;
    id.parse::<u64>()
        .map_or_else(|_| Value::from(id.as_str()), Value::from)
}

pub(super) fn materialize(
    shared: &Shared,
    batch: &StoredBatch,
    now_ms: i64,
    filter: DetailStatus,
) -> Value {
    let settle = i64::try_from(shared.config.settle_secs).unwrap_or(0) * 1000;
    let elapsed = now_ms - batch.create_time_ms;
    let current = |s: &StoredSubOrder| -> String {
        if batch.live {
            live_status(&s.status, elapsed, settle).to_owned()
        } else {
            s.status.clone()
        }
    };
    let statuses: Vec<String> = batch.sub_orders.iter().map(current).collect();
    let refs: Vec<&str> = statuses.iter().map(String::as_str).collect();
    let list: Vec<Value> = batch
        .sub_orders
        .iter()
        .zip(&statuses)
        .filter(|(_, st)| filter.admits(st))
        .map(|(s, st)| {
            let done = st == "DONE";
            let fin = matches!(st.as_str(), "DONE" | "FAIL");
            let update_time = if batch.live {
                batch.create_time_ms + elapsed.min(settle).max(0)
            } else {
                s.update_time_ms
            };
            json!({
                "id": s.id,
                "batch_id": batch.batch_id,
                "merchant_id": merchant_id_value(shared),
                "suborder_id": s.suborder_id,
                "withdraw_id": if st == "INIT" { String::new() } else { format!("w{}", s.id) },
                "chain": s.chain,
                "address": s.address,
                "currency": s.currency,
                "amount": s.amount,
                "fee": if done { s.fee.clone() } else { "0".to_owned() },
                "tx_id": if done { s.tx_id.clone() } else { String::new() },
                "timestamp": batch.create_time_ms + 17,
                "memo": s.memo,
                "create_time": batch.create_time_ms + 17,
                "update_time": update_time,
                "status": st,
                "err_msg": if st == "FAIL" { s.err_msg.clone() } else { String::new() },
                "merchant_withdraw_id": s.merchant_withdraw_id,
                "desc": "",
                "channel_id": null,
                "finish_time": if fin { if batch.live { batch.create_time_ms + settle } else { s.finish_time_ms } } else { 0 },
                "sub_amount": "0",
                "done_amount": if done { s.amount.clone() } else { "0".to_owned() },
            })
        })
        .collect();
    json!({
        "batch_id": batch.batch_id,
        "merchant_id": merchant_id_value(shared),
        "client_id": shared.info.gatepay.client_id,
        "status": batch_status(&refs),
        "create_time": batch.create_time_ms,
        "withdraw_list": list,
        "channel_id": batch.channel_id,
    })
}

pub(crate) async fn detail(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    signed(&shared, &headers, ("POST", DETAIL_PATH), &body, || {
        let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(&body) else {
            return fail("400001", "the body is not a JSON object");
        };
        let batch_id = req.get("batch_id").and_then(Value::as_str).unwrap_or("");
        if batch_id.is_empty() {
            return fail("400001", "batch_id is required");
        }
        let Some(filter) = req
            .get("detail_status")
            .and_then(Value::as_str)
            .and_then(DetailStatus::parse)
        else {
            return fail(
                "400001",
                "detail_status must be one of ALL, INIT, PENDING, PROCESSING, CHECK, FAIL, DONE",
            );
        };
        let now = shared.clock.now_ms();
        let state = lock(&shared.gatepay);
        match state.batches.iter().find(|b| b.batch_id == batch_id) {
            Some(batch) => ok(&materialize(&shared, batch, now, filter)),
            None => fail("400202", ""),
        }
    })
    .await
}

fn text<'a>(item: &'a Map<String, Value>, key: &str) -> &'a str {
    item.get(key).and_then(Value::as_str).map_or("", str::trim)
}

fn validate_and_commit(shared: &Shared, body: &[u8]) -> Result<String, Response> {
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return Err(fail("400001", "the body is not a JSON object"));
    };
    let batch_id = text(&req, "batch_id").to_owned();
    if !is_valid_batch_id(&batch_id) {
        return Err(fail(
            "400001",
            "batch_id must be 1 to 32 letters, digits or '_'",
        ));
    }
    let Some(Value::Array(items)) = req.get("withdraw_list") else {
        return Err(fail("400001", "withdraw_list is required"));
    };
    if items.is_empty() {
        return Err(fail("400001", "withdraw_list is empty"));
    }
    if items.len() > MAX_SUB_ORDERS {
        return Err(fail("550238", &format!("at most {MAX_SUB_ORDERS}")));
    }
    let mut parsed = Vec::with_capacity(items.len());
    let mut totals: std::collections::HashMap<String, Decimal> = std::collections::HashMap::new();
    for item in items {
        let Value::Object(item) = item else {
            return Err(fail("400001", "each sub-order is an object"));
        };
        let amount_text = match item.get("amount") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(fail("550239", "")),
        };
        let currency = text(item, "currency");
        if currency.is_empty() {
            return Err(fail("550240", ""));
        }
        let address = text(item, "address");
        if address.is_empty() {
            return Err(fail("550241", ""));
        }
        let chain = text(item, "chain");
        if chain.is_empty() {
            return Err(fail("550242", ""));
        }
        let Ok(amount) = Decimal::from_str(&amount_text) else {
            return Err(fail("400001", "amount is not a decimal number"));
        };
        if amount.scale() > 6 {
            return Err(fail("550235", "at most 6 decimal places"));
        }
        if amount <= Decimal::ZERO {
            return Err(fail("400001", "amount must be more than zero"));
        }
        let memo = text(item, "memo");
        if memo.chars().count() > MAX_MEMO_CHARS {
            return Err(fail("550234", ""));
        }
        match item.get("fee_type") {
            None | Some(Value::Null) => {}
            Some(v) if v.as_u64().is_some_and(|f| f <= 1) => {}
            Some(_) => return Err(fail("400001", "fee_type is 0 or 1")),
        }
        let total = totals.entry(currency.to_owned()).or_default();
        *total = total.checked_add(amount).unwrap_or(Decimal::MAX);
        parsed.push((
            text(item, "merchant_withdraw_id").to_owned(),
            currency.to_owned(),
            amount_text,
            chain.to_owned(),
            address.to_owned(),
            memo.to_owned(),
        ));
    }
    let now = shared.clock.now_ms();
    let mut rng = ChaCha8Rng::seed_from_u64(shared.random_u64());
    let mut state = lock(&shared.gatepay);
    if state.batches.iter().any(|b| b.batch_id == batch_id) {
        return Err(fail("550245", ""));
    }
    for (currency, total) in &totals {
        if state.balances.get(currency).copied().unwrap_or_default() < *total {
            return Err(fail("550233", currency));
        }
    }
    for (currency, total) in totals {
        if let Some(b) = state.balances.get_mut(&currency) {
            *b -= total;
        }
    }
    let mut sub_orders = Vec::with_capacity(parsed.len());
    for (mwid, currency, amount, chain, address, memo) in parsed {
        state.next_sub_id += 1;
        let id = state.next_sub_id;
        // An address ending in 0000 always fails: tests can count on it.
        let fails = address.ends_with("0000");
        sub_orders.push(StoredSubOrder {
            id,
            suborder_id: format!("35803766522{id:06}"),
            merchant_withdraw_id: mwid,
            currency,
            chain,
            address,
            memo,
            amount,
            fee: "1".to_owned(),
            status: if fails { "FAIL" } else { "DONE" }.to_owned(),
            err_msg: if fails {
                "address is not valid for this chain".to_owned()
            } else {
                String::new()
            },
            update_time_ms: now,
            finish_time_ms: 0,
            tx_id: random_tx_id(&mut rng),
        });
    }
    state.batches.push(StoredBatch {
        batch_id: batch_id.clone(),
        create_time_ms: now,
        channel_id: text(&req, "channel_id").to_owned(),
        sub_orders,
        live: true,
    });
    Ok(batch_id)
}

pub(crate) async fn create(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    signed(
        &shared,
        &headers,
        ("POST", CREATE_PATH),
        &body,
        || match validate_and_commit(&shared, &body) {
            Ok(batch_id) => {
                tokio::spawn(super::notify::callback_when_final(
                    Arc::downgrade(&shared),
                    batch_id.clone(),
                ));
                ok(&json!({"batch_id": batch_id}))
            }
            Err(r) => r,
        },
    )
    .await
}

pub(crate) async fn balance(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    signed(&shared, &headers, ("POST", BALANCE_PATH), &body, || {
        let Ok(currencies) = serde_json::from_slice::<Vec<String>>(&body) else {
            return fail("400001", "the body is a JSON list of currencies");
        };
        let state = lock(&shared.gatepay);
        let list: Vec<Value> = currencies
            .iter()
            .map(|c| {
                let available = state.balances.get(c).copied().unwrap_or_default();
                json!({"currency": c, "available": available.to_string(), "freeze": "0"})
            })
            .collect();
        ok(&json!({"balanceList": list}))
    })
    .await
}

const CHAINS: &[(&str, &[(&str, &str)])] = &[
    (
        "USDT",
        &[
            ("ETH", "Ethereum (ERC20)"),
            ("TRX", "Tron (TRC20)"),
            ("BSC", "BNB Smart Chain (BEP20)"),
        ],
    ),
    ("USDC", &[("ETH", "Ethereum (ERC20)"), ("SOL", "Solana")]),
    ("BTC", &[("BTC", "Bitcoin")]),
    ("ETH", &[("ETH", "Ethereum")]),
];

fn chains_of(currency: &str) -> &'static [(&'static str, &'static str)] {
    CHAINS
        .iter()
        .find(|(c, _)| *c == currency)
        .map_or(&[], |(_, list)| list)
}

pub(crate) async fn currency_chains(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    signed(&shared, &headers, ("GET", CHAINS_PATH), b"", || {
        let currency = q.get("currency").map_or("", String::as_str);
        let list: Vec<Value> = chains_of(currency)
            .iter()
            .map(|(chain, name)| {
                let mut rng = ChaCha8Rng::seed_from_u64(7);
                json!({"chain": chain, "name_en": name, "contract_address": if *chain == "BTC" { String::new() } else { address_for(chain, &mut rng) }, "is_disabled": 0})
            })
            .collect();
        // Bare, as GatePay's example and its Go SDK have it.
        json_reply(StatusCode::OK, &Value::Array(list))
    })
    .await
}

pub(crate) async fn withdraw_status(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    signed(
        &shared,
        &headers,
        ("GET", WITHDRAW_STATUS_PATH),
        b"",
        || {
            let currency = q.get("currency").map_or("", String::as_str);
            let fees: Map<String, Value> = chains_of(currency)
                .iter()
                .map(|(chain, _)| ((*chain).to_owned(), Value::from("1")))
                .collect();
            json_reply(
                StatusCode::OK,
                &json!([{
                    "currency": currency,
                    "withdraw_fix_on_chains": fees,
                    "withdraw_amount_mini": "10",
                    "withdraw_day_limit": "1000000",
                    "withdraw_eachtime_limit": "100000",
                }]),
            )
        },
    )
    .await
}

/// The audit status the sandbox gives a sub-order in this status.
fn audit_of(status: &str) -> &'static str {
    match status {
        "FAIL" => "AUDIT_REJECT",
        "DONE" | "PROCESSING" => "AUDIT_SUCCESS",
        _ => "AUDITING",
    }
}

pub(crate) async fn suborder_query(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<std::collections::HashMap<String, String>>,
) -> Response {
    signed(&shared, &headers, ("GET", SUBORDER_QUERY_PATH), b"", || {
        let int = |k: &str| q.get(k).and_then(|v| v.trim().parse::<i64>().ok());
        let (Some(from), Some(to)) = (int("start_time"), int("end_time")) else {
            return fail(
                "400001",
                "start_time and end_time (Unix milliseconds) are required",
            );
        };
        let page = int("page").unwrap_or(1).max(1);
        let size = int("page_size").unwrap_or(i64::from(SUBORDER_PAGE_MAX));
        if !(1..=i64::from(SUBORDER_PAGE_MAX)).contains(&size) {
            return fail("400001", "page_size is 1 to 500");
        }
        let status = q.get("status").filter(|s| !s.is_empty());
        let audit = q.get("audit_status").filter(|s| !s.is_empty());
        let now = shared.clock.now_ms();
        let state = lock(&shared.gatepay);
        let mut hits: Vec<Value> = Vec::new();
        for batch in &state.batches {
            let Value::Object(detail) = materialize(&shared, batch, now, DetailStatus::All) else {
                continue;
            };
            let Some(Value::Array(list)) = detail.get("withdraw_list") else {
                continue;
            };
            for item in list {
                let Value::Object(sub) = item else { continue };
                let created = sub.get("create_time").and_then(Value::as_i64).unwrap_or(0);
                let st = sub.get("status").and_then(Value::as_str).unwrap_or("");
                let au = audit_of(st);
                if created < from
                    || created > to
                    || status.is_some_and(|s| s != st)
                    || audit.is_some_and(|a| a != au)
                {
                    continue;
                }
                let mut sub = sub.clone();
                sub.insert("audit_status".into(), Value::from(au));
                hits.push(Value::Object(sub));
            }
        }
        let total = hits.len();
        let start = usize::try_from((page - 1) * size).unwrap_or(usize::MAX);
        let list: Vec<Value> = hits
            .into_iter()
            .skip(start)
            .take(usize::try_from(size).unwrap_or(0))
            .collect();
        ok(&json!({"total": total, "page": page, "page_size": size, "list": list}))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_batches_move_through_every_stage() {
        let stages: Vec<&str> = (0..=6)
            .map(|i| live_status("DONE", i * 1000, 5000))
            .collect();
        assert_eq!(
            stages,
            [
                "INIT",
                "PENDING",
                "PROCESSING",
                "CHECK",
                "CHECK",
                "DONE",
                "DONE"
            ]
        );
        assert_eq!(batch_status(&["DONE", "FAIL"]), "PARTIAL");
        assert_eq!(batch_status(&["DONE", "DONE"]), "SUCCESS");
        assert_eq!(batch_status(&["FAIL"]), "FAIL");
        assert_eq!(batch_status(&["INIT", "INIT"]), "INIT");
        assert_eq!(batch_status(&["DONE", "CHECK"]), "PROCESSING");
    }
}
