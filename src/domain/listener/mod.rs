//! The notification listener (`paydesk listen`): receives CNY withdraw notifications and
//! GatePay payout callbacks over HTTP, verifies each (the CNY `sign`; GatePay's HMAC
//! headers over the raw body), records it in the journal *before* acknowledging it, and
//! settles the payout or batch it is about through the same path as a verified lookup.
//! What fails verification, cannot be read, is too large, or comes from an address not
//! allowed is refused and never acknowledged, so the gateway keeps its retries and polling
//! stays the fallback. A duplicate is acknowledged again and applied once.

mod accept;
mod cidr;

pub use accept::{CONNECTION_TIMEOUT, HEADER_TIMEOUT, MAX_CONNECTIONS};
pub use cidr::{AllowList, Cidr, CidrError};

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use super::batches::BatchDesk;
use super::journal::{Journal, Received};
use super::payouts::{Notified, PayoutDesk};
use super::verify::parse_cny_input;
use crate::clock::Clock;
use crate::gateway::cny::sign::SignOptions;
use crate::gateway::cny::wire::{Order, OrderKind};
use crate::gateway::gatepay::callback::{CALLBACK_ACK, Callback, describe, parse_callback};
use crate::gateway::gatepay::sign::{GatePayVerdict, verify as gatepay_verify};
use crate::gateway::gatepay::wire::{
    BatchDetail, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};
use crate::lock_unpoisoned as lock;
use crate::secret::Secret;

/// The largest body accepted: a callback of a full batch fits many times over; anything
/// larger is refused unread.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// How long a body may take to arrive: a sender trickling bytes (slowloris) is cut off
/// rather than holding a connection and a buffer for ever.
pub const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Requests handled at once; more are refused (the gateway retries) rather than each
/// holding up to `max_body` bytes.
pub const MAX_IN_FLIGHT: usize = 64;
/// The CNY gateway's acknowledgement.
pub const CNY_ACK: &str = r#"{"error_code":"0000"}"#;

/// How the CNY side verifies and whom it settles.
#[derive(Clone)]
pub struct CnySide {
    pub key: Secret,
    pub options: SignOptions,
    /// The journal's payouts of this merchant; `None`: record only.
    pub desk: Option<PayoutDesk>,
}

/// How the GatePay side verifies and whom it settles.
#[derive(Clone)]
pub struct GatePaySide {
    pub secret: Secret,
    pub desk: Option<BatchDesk>,
}

/// What the listener serves.
#[derive(Clone)]
pub struct Listener {
    pub cny: Option<CnySide>,
    pub gatepay: Option<GatePaySide>,
    pub journal: Arc<Mutex<Journal>>,
    pub clock: Arc<dyn Clock>,
    pub allow: AllowList,
    pub max_body: usize,
}

/// One notification handled: what `paydesk listen` prints as a JSON line.
#[derive(Clone, Debug, Serialize)]
pub struct Event {
    /// `cny` or `gatepay`; `tcp` for a connection closed at accept, before any request.
    pub source: &'static str,
    /// The merchant order ID or batch ID, when readable.
    pub order_ref: String,
    /// `valid`, `invalid`, `unreadable`, `too-large`, `too-slow`, `busy`, `not-allowed`,
    /// `not-served`, `error`.
    pub verdict: &'static str,
    pub acknowledged: bool,
    /// The same content was recorded before (acknowledged again, applied once).
    pub duplicate: bool,
    pub peer: String,
    pub received_at: i64,
    /// The gateway's status in the notification (CNY code, or GatePay batch status).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// What it did to the journaled payout or batch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub effect: Option<Notified>,
    /// A GatePay callback's batch and sub-orders, as read.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lines: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListenerError {
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

struct Shared {
    listener: Listener,
    events: mpsc::Sender<Event>,
    slots: tokio::sync::Semaphore,
}

/// A running listener. Dropping it stops the server.
pub struct ListenerHandle {
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl ListenerHandle {
    /// Stops the server and waits for it.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(mut task) = self.task.take() {
            // A connection kept open by a slow sender must not hold the stop for long.
            if tokio::time::timeout(std::time::Duration::from_secs(5), &mut task)
                .await
                .is_err()
            {
                task.abort();
            }
        }
    }
}

impl Drop for ListenerHandle {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// Starts the listener on `addr` (port 0: any free one); each notification handled is sent
/// on `events`.
pub async fn serve(
    addr: SocketAddr,
    listener: Listener,
    events: mpsc::Sender<Event>,
) -> Result<ListenerHandle, ListenerError> {
    let tcp = TcpListener::bind(addr)
        .await
        .map_err(|source| ListenerError::Bind { addr, source })?;
    let addr = tcp
        .local_addr()
        .map_err(|source| ListenerError::Bind { addr, source })?;
    let allow = listener.allow.clone();
    let clock = Arc::clone(&listener.clock);
    let shared = Arc::new(Shared {
        listener,
        events: events.clone(),
        slots: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
    });
    let accept = accept::Accept {
        tcp,
        app: Router::new().fallback(receive).with_state(shared),
        allow,
        events,
        clock,
    };
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(accept::run(accept, rx));
    Ok(ListenerHandle {
        addr,
        shutdown: Some(tx),
        task: Some(task),
    })
}

fn json(status: StatusCode, body: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_owned(),
    )
        .into_response()
}

fn refusal(source: &str, status: StatusCode, why: &str) -> Response {
    let body = if source == "gatepay" {
        serde_json::json!({"returnCode": "FAIL", "returnMessage": why})
    } else {
        serde_json::json!({"error_code": "9999", "error_msg": why})
    };
    json(status, &body.to_string())
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let source: &'static str = if headers.contains_key(HEADER_SIGNATURE) {
        "gatepay"
    } else {
        "cny"
    };
    let l = &shared.listener;
    let mut event = Event {
        source,
        order_ref: String::new(),
        verdict: "error",
        acknowledged: false,
        duplicate: false,
        peer: peer.ip().to_canonical().to_string(),
        received_at: l.clock.now_secs(),
        status: None,
        effect: None,
        lines: Vec::new(),
        error: None,
    };
    let reply = if let Ok(_slot) = shared.slots.try_acquire() {
        handle(l, peer.ip(), &headers, body, &mut event).await
    } else {
        event.verdict = "busy";
        refusal(
            source,
            StatusCode::SERVICE_UNAVAILABLE,
            "too many requests at once",
        )
    };
    tracing::info!(
        target: "paydesk::listener",
        source = event.source,
        order_id = event.order_ref.as_str(),
        verdict = event.verdict,
        acknowledged = event.acknowledged,
        duplicate = event.duplicate,
        peer = event.peer.as_str(),
        status = event.status.as_deref().unwrap_or(""),
        effect = ?event.effect,
        "notification received"
    );
    // Bounded: a slow reader slows the listener rather than growing memory.
    let _ = shared.events.send(event).await;
    reply
}

async fn handle(
    l: &Listener,
    ip: IpAddr,
    headers: &HeaderMap,
    body: Body,
    event: &mut Event,
) -> Response {
    let source = event.source;
    if !l.allow.allows(ip) {
        event.verdict = "not-allowed";
        return refusal(source, StatusCode::FORBIDDEN, "address not allowed");
    }
    let Ok(read) = tokio::time::timeout(BODY_TIMEOUT, axum::body::to_bytes(body, l.max_body)).await
    else {
        event.verdict = "too-slow";
        return refusal(
            source,
            StatusCode::REQUEST_TIMEOUT,
            "body not received in time",
        );
    };
    let Ok(bytes) = read else {
        event.verdict = "too-large";
        return refusal(source, StatusCode::PAYLOAD_TOO_LARGE, "body too large");
    };
    if source == "gatepay" {
        if let Some(side) = &l.gatepay {
            return gatepay(l, side, headers, &bytes, event);
        }
        event.verdict = "not-served";
        return refusal(
            source,
            StatusCode::SERVICE_UNAVAILABLE,
            "no GatePay profile",
        );
    }
    if let Some(side) = &l.cny {
        return cny(l, side, headers, &bytes, event);
    }
    event.verdict = "not-served";
    refusal(source, StatusCode::SERVICE_UNAVAILABLE, "no CNY profile")
}

/// Records the notification; `Ok(true)` when new. An error: nothing may be acknowledged.
fn record(l: &Listener, body: &[u8], event: &Event) -> Result<bool, String> {
    lock(&l.journal)
        .record_notification(&Received {
            source: event.source,
            order_ref: &event.order_ref,
            body,
            verdict: event.verdict,
            received_at: event.received_at,
            peer: &event.peer,
        })
        .map_err(|e| e.to_string())
}

/// A withdraw notification read as an order: JSON (checked over its text as carried) or a
/// form.
fn read_cny(side: &CnySide, headers: &HeaderMap, body: &[u8]) -> Option<Order> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let key = Some(&side.key);
    if content_type.starts_with("application/x-www-form-urlencoded") {
        let text = std::str::from_utf8(body).ok()?;
        let url = reqwest::Url::parse(&format!("http://form/?{text}")).ok()?;
        let raw: Map<String, Value> = url
            .query_pairs()
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
            .collect();
        return (!raw.is_empty())
            .then(|| Order::from_raw(OrderKind::Payout, raw, key, side.options));
    }
    let text = std::str::from_utf8(body).ok()?;
    let mut objects = parse_cny_input(text).ok()?;
    if objects.len() != 1 {
        return None;
    }
    let exact = objects.pop()?.object;
    let Ok(Value::Object(raw)) = serde_json::from_str::<Value>(text.trim_start_matches('\u{feff}'))
    else {
        return None;
    };
    Some(Order::from_exact(
        OrderKind::Payout,
        raw,
        Ok(exact),
        key,
        side.options,
    ))
}

fn cny(
    l: &Listener,
    side: &CnySide,
    headers: &HeaderMap,
    body: &[u8],
    event: &mut Event,
) -> Response {
    let Some(order) = read_cny(side, headers, body) else {
        event.verdict = "unreadable";
        return refusal(
            "cny",
            StatusCode::BAD_REQUEST,
            "not a withdraw notification",
        );
    };
    event.order_ref.clone_from(&order.merchant_id);
    event.status = order
        .status
        .code
        .map(|c| format!("{c} ({})", order.status.label()));
    let valid = order.signature.word() == "valid";
    event.verdict = if valid { "valid" } else { "invalid" };
    let new = match record(l, body, event) {
        Ok(new) => new,
        Err(e) => {
            event.error = Some(e);
            return refusal("cny", StatusCode::INTERNAL_SERVER_ERROR, "not recorded");
        }
    };
    if !valid {
        return refusal(
            "cny",
            StatusCode::BAD_REQUEST,
            "signature verification failed",
        );
    }
    event.duplicate = !new;
    if new && let Some(desk) = &side.desk {
        match desk.settle_notified(&order) {
            Ok(effect) => event.effect = effect,
            Err(e) => event.error = Some(e.to_string()),
        }
    }
    event.acknowledged = true;
    json(StatusCode::OK, CNY_ACK)
}

/// The callback as a batch detail, for the settle path a lookup takes.
fn as_detail(cb: &Callback) -> BatchDetail {
    let m = &cb.main_order;
    BatchDetail {
        raw: m.raw.clone(),
        batch_id: cb.batch_id().to_owned(),
        merchant_id: m.merchant_id.clone(),
        client_id: m.client_id.clone(),
        status: m.status.clone(),
        create_time_ms: m.create_time_ms,
        channel_id: m.channel_id.clone(),
        withdraw_list: cb.suborders.clone(),
    }
}

fn gatepay(
    l: &Listener,
    side: &GatePaySide,
    headers: &HeaderMap,
    body: &[u8],
    event: &mut Event,
) -> Response {
    let text = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .to_owned()
    };
    let verdict = gatepay_verify(
        &side.secret,
        &text(HEADER_TIMESTAMP),
        &text(HEADER_NONCE),
        body,
        &text(HEADER_SIGNATURE),
    );
    let callback = parse_callback(body);
    if let Ok(cb) = &callback {
        cb.batch_id().clone_into(&mut event.order_ref);
        event.status = Some(cb.main_order.status.to_string());
    }
    let valid = verdict == GatePayVerdict::Valid;
    if valid && callback.is_err() {
        event.verdict = "unreadable";
        return refusal("gatepay", StatusCode::BAD_REQUEST, "not a payout callback");
    }
    event.verdict = if valid { "valid" } else { "invalid" };
    let new = match record(l, body, event) {
        Ok(new) => new,
        Err(e) => {
            event.error = Some(e);
            return refusal("gatepay", StatusCode::INTERNAL_SERVER_ERROR, "not recorded");
        }
    };
    let cb = match callback {
        Ok(cb) if valid => cb,
        _ => {
            return refusal(
                "gatepay",
                StatusCode::UNAUTHORIZED,
                "signature verification failed",
            );
        }
    };
    event.lines = describe(&cb);
    event.duplicate = !new;
    if new && let Some(desk) = &side.desk {
        match desk.settle_from_callback(&as_detail(&cb)) {
            Ok(effect) => event.effect = effect,
            Err(e) => event.error = Some(e.to_string()),
        }
    }
    event.acknowledged = true;
    json(StatusCode::OK, CALLBACK_ACK)
}
