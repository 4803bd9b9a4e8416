//! The sandbox's notifications to the merchant: delivery retried until the merchant
//! acknowledges (as the CNY gateway retries, up to ten times), GatePay payout callbacks sent
//! when a batch finishes, and test hooks that send a notification several times over
//! (duplicates) or tampered after signing.

use std::sync::Weak;
use std::time::Duration;

use axum::http::header;
use serde_json::{Map, Value, json};

use super::gatepay::{materialize, merchant_id_value};
use super::{Shared, lock};
use crate::clock::{NonceSource, RandomNonce};
use crate::gateway::gatepay::sign::signature;
use crate::gateway::gatepay::wire::DetailStatus;
use crate::gateway::gatepay::wire::{
    HEADER_CLIENT_ID, HEADER_NONCE, HEADER_SIGNATURE, HEADER_TIMESTAMP,
};

/// How many times one notification is offered before the sandbox gives up.
pub const ATTEMPTS: usize = 10;

/// Which gateway's notification, and so which acknowledgement ends the retries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoteKind {
    /// `{"error_code":"0000"}`.
    Cny,
    /// HTTP 200 `{"returnCode":"SUCCESS"}`.
    GatePay,
}

/// Whether the merchant's reply acknowledges the notification.
pub fn acknowledged(kind: NoteKind, status: u16, body: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        return false;
    };
    match kind {
        NoteKind::Cny => value.get("error_code").and_then(Value::as_str) == Some("0000"),
        NoteKind::GatePay => {
            status == 200 && value.get("returnCode").and_then(Value::as_str) == Some("SUCCESS")
        }
    }
}

/// A notification ready to post: its body and headers (GatePay's are signed per attempt).
#[derive(Clone, Debug)]
pub struct Note {
    pub kind: NoteKind,
    pub body: Vec<u8>,
    /// Sent in place of `body` while the signature stays `body`'s: a tampered callback.
    pub tampered: Option<Vec<u8>>,
}

/// Posts one attempt; whether it was acknowledged.
pub async fn post_once(shared: &Shared, url: &str, note: &Note) -> bool {
    let mut request = shared
        .notifier
        .post(url)
        .header(header::CONTENT_TYPE, "application/json;charset=utf-8");
    if note.kind == NoteKind::GatePay {
        let creds = &shared.info.gatepay;
        let ts = shared.clock.now_ms().to_string();
        let nonce = RandomNonce.nonce();
        let sig = signature(&creds.secret, &ts, &nonce, &note.body);
        request = request
            .header(HEADER_CLIENT_ID, &creds.client_id)
            .header(HEADER_TIMESTAMP, ts)
            .header(HEADER_NONCE, nonce)
            .header(HEADER_SIGNATURE, sig);
    }
    let sent = note.tampered.clone().unwrap_or_else(|| note.body.clone());
    let Ok(resp) = request.body(sent).send().await else {
        return false;
    };
    let status = resp.status().as_u16();
    resp.bytes()
        .await
        .is_ok_and(|b| acknowledged(note.kind, status, &b))
}

/// Offers a notification up to [`ATTEMPTS`] times, `retry_ms` apart, until acknowledged;
/// stops when the sandbox does.
pub async fn deliver(shared: Weak<Shared>, url: String, note: Note, retry_ms: u64) {
    for _ in 0..ATTEMPTS {
        let Some(s) = shared.upgrade() else { return };
        if post_once(&s, &url, &note).await {
            return;
        }
        drop(s);
        tokio::time::sleep(Duration::from_millis(retry_ms)).await;
    }
}

/// The withdraw notification of a payout as it stands, signed; `None` when there is no such
/// payout.
pub fn cny_note(shared: &Shared, payout_cl_id: &str) -> Option<Map<String, Value>> {
    let entry = {
        let state = lock(&shared.cny);
        let index = *state.payout_index.get(payout_cl_id)?;
        state.payouts.get(index)?.clone()
    };
    let (fields, _) = entry.fields()?;
    Some(signed_note(shared, &fields))
}

/// The withdraw notification of a payout's fields: the published fields, signed.
pub fn signed_note(shared: &Shared, fields: &Map<String, Value>) -> Map<String, Value> {
    let keys = [
        "payout_id",
        "payout_cl_id",
        "platform_id",
        "amount",
        "real_amount",
        "fee",
        "status",
        "create_time",
        "update_time",
    ];
    let mut note: Map<String, Value> = keys
        .iter()
        .filter_map(|k| fields.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    note.insert("sign".into(), Value::from(shared.sign(&note)));
    note
}

/// Changes a signed notification after signing, as an attacker would: the amount grows.
pub fn tamper(note: &mut Map<String, Value>) {
    let amount = note.get("amount").and_then(Value::as_i64).unwrap_or(0);
    note.insert("amount".into(), Value::from(amount + 100));
}

/// A JSON number with exactly this decimal text, as GatePay's callback example sends
/// amounts.
fn number(text: &str) -> Value {
    serde_json::from_str::<Value>(text)
        .ok()
        .filter(Value::is_number)
        .unwrap_or_else(|| Value::from(text))
}

/// The payout callback of a batch as it stands now; `None` when there is no such batch.
pub(crate) fn callback_body(shared: &Shared, batch_id: &str) -> Option<Vec<u8>> {
    let now = shared.clock.now_ms();
    let detail = {
        let state = lock(&shared.gatepay);
        let batch = state.batches.iter().find(|b| b.batch_id == batch_id)?;
        materialize(shared, batch, now, DetailStatus::All)
    };
    let status = detail.get("status").cloned().unwrap_or(Value::Null);
    let subs: Vec<Value> = detail
        .get("withdraw_list")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_object)
                .map(|sub| {
                    let mut sub = sub.clone();
                    for key in ["amount", "fee", "done_amount", "sub_amount"] {
                        if let Some(Value::String(text)) = sub.get(key).cloned() {
                            sub.insert(key.into(), number(&text));
                        }
                    }
                    Value::Object(sub)
                })
                .collect()
        })
        .unwrap_or_default();
    let pay_back = if subs
        .iter()
        .any(|s| s.get("status").and_then(Value::as_str) == Some("FAIL"))
    {
        "YES"
    } else {
        "NO"
    };
    let body = json!({
        "bizType": "WITHDRAW",
        "bizId": batch_id,
        "bizStatus": status,
        "client_id": shared.info.gatepay.client_id,
        "data": {
            "main_order": {
                "batch_id": batch_id,
                "merchant_id": merchant_id_value(shared),
                "status": status,
                "client_id": shared.info.gatepay.client_id,
                "pay_back_status": pay_back,
                "channel_id": detail.get("channel_id").cloned().unwrap_or(Value::Null),
                "create_time": detail.get("create_time").cloned().unwrap_or(Value::Null),
            },
            "suborders": subs,
        },
    });
    serde_json::to_vec(&body).ok()
}

/// Waits for a batch created through the API to finish, then posts its callback to the
/// merchant's notify URL (when one is set), retried until acknowledged.
pub(super) async fn callback_when_final(shared: std::sync::Weak<Shared>, batch_id: String) {
    let wait = {
        let Some(s) = shared.upgrade() else { return };
        Duration::from_millis(s.config.settle_secs * 1000 + 100)
    };
    tokio::time::sleep(wait).await;
    let (url, body, retry_ms) = {
        let Some(s) = shared.upgrade() else { return };
        let Some(url) = lock(&s.gatepay).notify_url.clone() else {
            return;
        };
        let Some(body) = callback_body(&s, &batch_id) else {
            return;
        };
        (url, body, s.config.notify_retry_ms)
    };
    let note = Note {
        kind: NoteKind::GatePay,
        body,
        tampered: None,
    };
    deliver(shared, url, note, retry_ms).await;
}
