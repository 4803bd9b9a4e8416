//! The sandbox's CNY gateway: the published queries, payout creation with every documented
//! refusal, payouts moving to a final status, and signed withdraw notifications.

use std::sync::{Arc, Weak};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::data::{self, fee_fen, into_map, requested_bank};
use super::orders::{Page, Selection};
use super::{FaultKind, SandboxBrand, Shared, lock, notify};
use crate::gateway::cny::sign::{Verdict, verify_object};
use crate::gateway::cny::wire::{
    BALANCE_PATH, MAX_LIMIT, OrderKind, PAYOUT_SERVICE_ID, PAYOUTS_PATH, error_meaning, field_int,
    field_text,
};

/// The smallest and largest payout the sandbox accepts, in fen (¥10.00 and ¥50,000.00).
pub const MIN_PAYOUT_FEN: i64 = 1_000;
pub const MAX_PAYOUT_FEN: i64 = 5_000_000;

pub(crate) fn json_reply(status: StatusCode, value: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        serde_json::to_vec(value).unwrap_or_default(),
    )
        .into_response()
}

fn gateway_error(code: &str, detail: &str) -> Response {
    let msg = if detail.is_empty() {
        error_meaning(code).to_owned()
    } else {
        format!("{}: {detail}", error_meaning(code))
    };
    json_reply(
        StatusCode::OK,
        &json!({"error_code": code, "error_msg": msg}),
    )
}

/// Applies the request's latency, then lets `body` produce the reply unless a fault
/// interferes; `commit_first` says whether the work is done before a reply can fail.
pub(crate) async fn with_faults<F>(shared: &Shared, fault: Option<FaultKind>, body: F) -> Response
where
    F: FnOnce() -> Response,
{
    if shared.config.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(shared.config.latency_ms)).await;
    }
    if fault == Some(FaultKind::Http500) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error").into_response();
    }
    let good = body();
    match fault {
        Some(FaultKind::DropAfterCommit) => {
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(Bytes::from_static(b"{\"error_code\":\"00")),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "dropped",
                )),
            ];
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
                Body::from_stream(futures_util::stream::iter(chunks)),
            )
                .into_response()
        }
        Some(FaultKind::Timeout) => {
            tokio::time::sleep(Duration::from_millis(shared.config.stall_ms)).await;
            good
        }
        Some(FaultKind::Malformed) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>502 upstream busy</body>",
        )
            .into_response(),
        Some(FaultKind::Http500) | None => good,
    }
}

fn check_auth(shared: &Shared, headers: &HeaderMap) -> Result<(), Response> {
    match headers.get(header::AUTHORIZATION) {
        None => Err(gateway_error("0005", "")),
        Some(v) if v.as_bytes() == shared.info.cny.auth_token.expose().as_bytes() => Ok(()),
        Some(_) => Err(json_reply(
            StatusCode::OK,
            &json!({"error_code": "0006", "error_msg": "Invalid Authorization!"}),
        )),
    }
}

fn parse_filter(kind: OrderKind, pairs: &[(String, String)]) -> Result<Selection, String> {
    let get = |k: &str| {
        pairs
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let int = |k: &str| -> Result<Option<i64>, String> {
        get(k)
            .map(|v| {
                v.trim()
                    .parse::<i64>()
                    .map_err(|_| format!("{k} must be an integer"))
            })
            .transpose()
    };
    let offset = int("offset")?.unwrap_or(0);
    let limit = int("limit")?.unwrap_or(25);
    if offset < 0 {
        return Err("offset must not be negative".to_owned());
    }
    if limit < 1 {
        return Err("limit must be at least 1".to_owned());
    }
    let gte = int("create_time__gte")?;
    let lte = int("create_time__lte")?;
    // Compared with the orders' served text, so written as JSON text.
    let id = |k: &str| {
        get(k)
            .filter(|s| !s.is_empty())
            .map(|s| serde_json::to_string(&s).unwrap_or_default())
    };
    Ok(Selection {
        offset: usize::try_from(offset).unwrap_or(usize::MAX),
        // The documented cap: never more than 500 orders a page.
        limit: usize::try_from(limit.min(i64::from(MAX_LIMIT))).unwrap_or(25),
        system_id: id(kind.system_id_field()),
        merchant_id: id(kind.merchant_id_field()),
        // The range takes effect only when both bounds are given.
        range: gte.zip(lte),
    })
}

/// A page's reply, written around the orders' ready texts as `serde_json` would write it
/// whole; each order's sign broken when the bad-sign fault strikes it.
fn page_reply(shared: &Shared, page: &Page) -> Response {
    let room: usize = page.orders.len() * 320 + 64;
    let mut body = Vec::with_capacity(room);
    body.extend_from_slice(b"{\"error_code\":\"0000\",\"data\":[");
    let bad_signs = lock(&shared.faults).bad_sign > 0.0;
    for (i, order) in page.orders.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        order.write(&mut body, bad_signs && shared.draw_bad_sign());
    }
    body.extend_from_slice(format!("],\"total\":{}}}", page.total).as_bytes());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;charset=utf-8")],
        body,
    )
        .into_response()
}

async fn query(
    shared: Arc<Shared>,
    kind: OrderKind,
    headers: HeaderMap,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    let named = pairs.as_ref().ok().and_then(|Query(pairs)| {
        pairs
            .iter()
            .find(|(k, _)| k == kind.merchant_id_field())
            .map(|(_, v)| v.clone())
    });
    let fault = shared.draw_fault("GET", kind.path(), named);
    with_faults(&shared, fault, || {
        if let Err(r) = check_auth(&shared, &headers) {
            return r;
        }
        let Ok(Query(pairs)) = pairs else {
            return gateway_error("0002", "the query string cannot be read");
        };
        let filter = match parse_filter(kind, &pairs) {
            Ok(f) => f,
            Err(why) => return gateway_error("0002", &why),
        };
        // Only the ready texts are taken under the lock; the reply is written after it.
        let page = {
            let state = lock(&shared.cny);
            match kind {
                OrderKind::Deposit => state.deposits.page(&filter),
                OrderKind::Payout => state.payouts.page(&filter),
            }
        };
        page_reply(&shared, &page)
    })
    .await
}

pub(crate) async fn query_deposits(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    query(shared, OrderKind::Deposit, headers, pairs).await
}

pub(crate) async fn query_payouts(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    pairs: Result<Query<Vec<(String, String)>>, QueryRejection>,
) -> Response {
    query(shared, OrderKind::Payout, headers, pairs).await
}

pub(crate) async fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "404 page not found").into_response()
}

pub(crate) async fn unsupported_method() -> Response {
    gateway_error("0023", "")
}

/// A payout the sandbox accepted, and how it will end.
struct Accepted {
    index: usize,
    payout_id: String,
    fails: bool,
    notify_url: Option<String>,
}

fn validate_and_commit(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Accepted, Response> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        return Err(gateway_error("0022", content_type));
    }
    let Ok(Value::Object(req)) = serde_json::from_slice::<Value>(body) else {
        return Err(gateway_error("0021", ""));
    };
    if field_text(&req, "platform_id") != shared.info.cny.platform_id {
        return Err(gateway_error("0002", "unknown platform_id"));
    }
    if verify_object(&req, shared.md5_key(), shared.sign_options).verdict != Verdict::Valid {
        return Err(json_reply(
            StatusCode::OK,
            &json!({"error_code": "0004", "error_msg": "Signature verification failed!"}),
        ));
    }
    if field_text(&req, "service_id") != PAYOUT_SERVICE_ID {
        return Err(gateway_error("0009", ""));
    }
    for required in ["payout_cl_id", "name", "number"] {
        if field_text(&req, required).trim().is_empty() {
            return Err(gateway_error("0002", &format!("{required} is required")));
        }
    }
    let cl_id = field_text(&req, "payout_cl_id");
    if cl_id.chars().count() > 32 {
        return Err(gateway_error(
            "0002",
            "payout_cl_id is longer than 32 characters",
        ));
    }
    let Some(amount) = field_int(&req, "amount").filter(|a| *a > 0) else {
        return Err(gateway_error(
            "0002",
            "amount must be a positive integer in fen",
        ));
    };
    if field_int(&req, "request_time").is_none() {
        return Err(gateway_error("0002", "request_time is required"));
    }
    if amount < MIN_PAYOUT_FEN {
        return Err(gateway_error("0028", "the minimum is 1000 fen"));
    }
    if amount > MAX_PAYOUT_FEN {
        return Err(gateway_error("0029", "the maximum is 5000000 fen"));
    }
    let bank = match requested_bank(&shared.banks, &req) {
        Ok(bank) => bank.bank_name.clone(),
        Err((code, why)) => return Err(gateway_error(code, &why)),
    };
    let mut state = lock(&shared.cny);
    *state.create_requests.entry(cl_id.clone()).or_default() += 1;
    if state.payout_index.contains_key(&cl_id) {
        return Err(gateway_error("0014", ""));
    }
    let cost = amount + fee_fen(amount);
    if state.balance_fen < cost {
        return Err(gateway_error("0018", ""));
    }
    state.balance_fen -= cost;
    let seq = state.next_payout_seq;
    state.next_payout_seq += 1;
    let now = shared.clock.now_secs();
    let payout_id = format!("POT{seq:08}");
    let channel = format!("PFC{:08}", 140 + seq % 6);
    let fields = into_map(json!({
        "amount": amount,
        "real_amount": 0,
        "fee": 0,
        "payout_id": payout_id,
        "payout_cl_id": cl_id,
        "platform_id": shared.info.cny.platform_id,
        "platform_channel_id": channel,
        "status": 1,
        "memo": "",
        "create_time": now,
        "update_time": now,
    }));
    let index = state
        .payouts
        .push(shared.render.entry(OrderKind::Payout, fields, None));
    state.created.push(super::CreatedPayout {
        payout_cl_id: cl_id.clone(),
        amount_fen: amount,
        number: field_text(&req, "number"),
        name: field_text(&req, "name"),
        bank_name: bank,
        bank_fields: ["bank_name", "bank_code", "bank_id"]
            .into_iter()
            .filter(|k| req.contains_key(*k))
            .map(str::to_owned)
            .collect(),
    });
    state.payout_index.insert(cl_id, index);
    // An account number ending in 4444 always fails: tests can count on it.
    let fails = field_text(&req, "number").ends_with("4444");
    Ok(Accepted {
        index,
        payout_id,
        fails,
        notify_url: Some(field_text(&req, "notify_url")).filter(|u| !u.is_empty()),
    })
}

pub(crate) async fn create_payout(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let named = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v.get("payout_cl_id")?.as_str().map(str::to_owned));
    let fault = shared.draw_fault("POST", PAYOUTS_PATH, named);
    let mut accepted = None;
    let reply = with_faults(&shared, fault, || {
        match validate_and_commit(&shared, &headers, &body) {
            Ok(a) => {
                let reply = json_reply(
                    StatusCode::OK,
                    &json!({"error_code": "0000", "data": {"payout_id": a.payout_id}}),
                );
                accepted = Some(a);
                reply
            }
            Err(r) => r,
        }
    })
    .await;
    if let Some(a) = accepted {
        tokio::spawn(lifecycle(Arc::downgrade(&shared), a));
    }
    reply
}

fn set_status(
    shared: &Shared,
    index: usize,
    status: i64,
    success: Option<bool>,
) -> Option<Map<String, Value>> {
    let mut state = lock(&shared.cny);
    let now = shared.clock.now_secs();
    let mut refund = 0;
    let (mut fields, kept_sign) = state.payouts.get(index)?.fields()?;
    fields.insert("status".into(), Value::from(status));
    fields.insert("update_time".into(), Value::from(now));
    let amount = fields.get("amount").and_then(Value::as_i64).unwrap_or(0);
    match success {
        Some(true) => {
            fields.insert("real_amount".into(), Value::from(amount));
            fields.insert("fee".into(), Value::from(fee_fen(amount)));
        }
        Some(false) => {
            fields.insert("memo".into(), Value::from("收款账户状态异常"));
            refund = amount + fee_fen(amount);
        }
        None => {}
    }
    // Served from now on with its new status, signed again.
    let entry = shared
        .render
        .entry(OrderKind::Payout, fields.clone(), kept_sign);
    state.payouts.replace(index, entry);
    state.balance_fen += refund;
    Some(fields)
}

/// Moves an accepted payout through processing to its final status, then notifies.
async fn lifecycle(shared: Weak<Shared>, accepted: Accepted) {
    let half = {
        let Some(s) = shared.upgrade() else { return };
        Duration::from_millis(s.config.settle_secs * 500)
    };
    tokio::time::sleep(half).await;
    {
        let Some(s) = shared.upgrade() else { return };
        set_status(&s, accepted.index, 2, None);
    }
    tokio::time::sleep(half).await;
    let (fields, retry_ms) = {
        let Some(s) = shared.upgrade() else { return };
        let (status, ok) = if accepted.fails {
            (5, false)
        } else {
            (3, true)
        };
        let Some(fields) = set_status(&s, accepted.index, status, Some(ok)) else {
            return;
        };
        (fields, s.config.notify_retry_ms)
    };
    let Some(url) = accepted.notify_url else {
        return;
    };
    let body = {
        let Some(s) = shared.upgrade() else { return };
        serde_json::to_vec(&Value::Object(notify::signed_note(&s, &fields))).unwrap_or_default()
    };
    let note = notify::Note {
        kind: notify::NoteKind::Cny,
        body,
        tampered: None,
    };
    notify::deliver(shared, url, note, retry_ms).await;
}

pub(crate) async fn balance(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let fault = shared.draw_fault("GET", BALANCE_PATH, None);
    with_faults(&shared, fault, || {
        if let Err(r) = check_auth(&shared, &headers) {
            return r;
        }
        let total = lock(&shared.cny).balance_fen;
        let first = total * 6 / 10;
        let mut channels = Vec::new();
        for (id, amount) in [("PFC00000140", first), ("PFC00000141", total - first)] {
            let mut c = shared.render.branded(&into_map(
                json!({"platform_channel_id": id, "balance": amount}),
            ));
            c.insert("sign".into(), Value::from(shared.sign(&c)));
            channels.push(Value::Object(c));
        }
        // Real clients read `total_balance`; the bank-code brand sends nothing else, unsigned.
        let mut data = if shared.config.brand == SandboxBrand::BankCode {
            into_map(json!({"platform_id": shared.info.cny.platform_id, "total_balance": total}))
        } else {
            let mut d = shared.render.branded(&into_map(json!({
                "platform_id": shared.info.cny.platform_id,
                "total_balance": total,
                "balance": total,
                "frozen_balance": 0,
            })));
            d.insert("sign".into(), Value::from(shared.sign(&d)));
            d
        };
        data.insert("platform_channels".into(), Value::Array(channels));
        json_reply(StatusCode::OK, &json!({"error_code": "0000", "data": data}))
    })
    .await
}

/// Creates new deposits and payouts while the sandbox runs (`--arrivals-per-sec`).
pub(crate) async fn arrivals(shared: Weak<Shared>) {
    let (per_sec, seed) = match shared.upgrade() {
        Some(s) => (s.config.arrivals_per_sec.max(1), s.random_u64()),
        None => return,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / u64::from(per_sec)));
    let mut deposit = true;
    loop {
        tick.tick().await;
        let Some(s) = shared.upgrade() else { return };
        let now = s.clock.now_secs();
        let spec = data::SeedSpec {
            seed: 0,
            deposits: 0,
            payouts: 0,
            platform_id: s.info.cny.platform_id.clone(),
            anchor_secs: now,
        };
        let mut state = lock(&s.cny);
        if deposit {
            let seq = state.next_deposit_seq;
            state.next_deposit_seq += 1;
            let fields = data::order_fields(&mut rng, &spec, true, seq, now);
            let entry = s.render.entry(OrderKind::Deposit, fields, None);
            state.deposits.push(entry);
        } else {
            let seq = state.next_payout_seq;
            state.next_payout_seq += 1;
            let fields = data::order_fields(&mut rng, &spec, false, seq, now);
            let id = field_text(&fields, "payout_cl_id");
            let index = state
                .payouts
                .push(s.render.entry(OrderKind::Payout, fields, None));
            state.payout_index.insert(id, index);
        }
        deposit = !deposit;
    }
}
