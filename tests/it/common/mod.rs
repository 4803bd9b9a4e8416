//! Shared by the integration tests: a sandbox on 127.0.0.1:0 and clients for it, plus an
//! independent signer that builds the signed strings by hand, so the sandbox is checked by
//! code that does not share Paydesk's signing module.
#![allow(dead_code)]

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use md5::{Digest, Md5};
use paydesk::clock::{Clock, NonceSource, RandomNonce, SystemClock};
use paydesk::gateway::cny::{CnyClient, CnyConfig};
use paydesk::gateway::gatepay::{GatePayClient, GatePayConfig};
use paydesk::gateway::http::{HttpSettings, parse_base_url};
use paydesk::sandbox::{SandboxConfig, SandboxHandle, start};
use sha2::Sha512;

pub fn small_config() -> SandboxConfig {
    SandboxConfig {
        deposits: 600,
        payouts: 400,
        settle_secs: 2,
        notify_retry_ms: 100,
        stall_ms: 3_000,
        ..SandboxConfig::default()
    }
}

pub async fn sandbox(config: SandboxConfig) -> SandboxHandle {
    start(config).await.expect("sandbox starts")
}

pub fn http(timeout_secs: u64) -> HttpSettings {
    HttpSettings {
        connect_timeout_secs: 2,
        timeout_secs,
    }
}

pub fn cny_config(sb: &SandboxHandle) -> CnyConfig {
    CnyConfig {
        base_url: parse_base_url(sb.base_url()).unwrap(),
        platform_id: sb.info.cny.platform_id.clone(),
        auth_token: sb.info.cny.auth_token.clone(),
        md5_key: Some(sb.info.cny.md5_key.clone()),
        sign_options: paydesk::gateway::cny::SignOptions::default(),
        brand: paydesk::gateway::cny::Brand::default(),
        banks: paydesk::domain::banks::default_banks(),
        http: http(10),
    }
}

pub fn cny(sb: &SandboxHandle) -> CnyClient {
    CnyClient::new(cny_config(sb), Arc::new(SystemClock)).unwrap()
}

pub fn gatepay_config(sb: &SandboxHandle) -> GatePayConfig {
    GatePayConfig {
        base_url: parse_base_url(sb.base_url()).unwrap(),
        client_id: sb.info.gatepay.client_id.clone(),
        secret: sb.info.gatepay.secret.clone(),
        on_behalf_of: sb.info.gatepay.on_behalf_of.clone(),
        http: http(10),
    }
}

pub fn gatepay_with(
    sb: &SandboxHandle,
    clock: Arc<dyn Clock>,
    nonces: Arc<dyn NonceSource>,
) -> GatePayClient {
    GatePayClient::new(gatepay_config(sb), clock, nonces).unwrap()
}

pub fn gatepay(sb: &SandboxHandle) -> GatePayClient {
    gatepay_with(sb, Arc::new(SystemClock), Arc::new(RandomNonce))
}

/// The CNY rule written out by hand: sorted `k=v` pairs, `&KEY`, MD5, lowercase hex.
pub fn independent_md5_sign(pairs: &[(&str, String)], key: &str) -> String {
    let mut sorted: Vec<&(&str, String)> = pairs.iter().filter(|(_, v)| !v.is_empty()).collect();
    sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let joined: Vec<String> = sorted.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let text = format!("{}&{key}", joined.join("&"));
    hex::encode(Md5::digest(text.as_bytes()))
}

/// A JSON body from string pairs (numbers as given), with an independently computed sign.
pub fn signed_json(pairs: &[(&str, String)], numeric: &[&str], key: &str) -> String {
    let sign = independent_md5_sign(pairs, key);
    let mut parts: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            if numeric.contains(k) {
                format!("\"{k}\":{v}")
            } else {
                format!("\"{k}\":{}", serde_json::to_string(v).unwrap())
            }
        })
        .collect();
    parts.push(format!("\"sign\":\"{sign}\""));
    format!("{{{}}}", parts.join(","))
}

/// GatePay's rule written out by hand.
pub fn independent_hmac(secret: &str, ts: &str, nonce: &str, body: &str) -> String {
    let mut mac = Hmac::<Sha512>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}\n{nonce}\n{body}\n").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub fn now_ms() -> i64 {
    SystemClock.now_ms()
}

/// A raw, independently signed GatePay POST.
pub async fn gatepay_raw(
    sb: &SandboxHandle,
    path: &str,
    body: &str,
    ts: i64,
    nonce: &str,
    secret: &str,
) -> serde_json::Value {
    gatepay_raw_as(sb, path, body, ts, nonce, secret, "application/json").await
}

/// The same with a chosen `Content-Type`.
pub async fn gatepay_raw_as(
    sb: &SandboxHandle,
    path: &str,
    body: &str,
    ts: i64,
    nonce: &str,
    secret: &str,
    content_type: &str,
) -> serde_json::Value {
    let g = &sb.info.gatepay;
    let ts = ts.to_string();
    let sig = independent_hmac(secret, &ts, nonce, body);
    let resp = reqwest::Client::new()
        .post(format!("{}/{path}", sb.base_url()))
        .header("Content-Type", content_type)
        .header("X-GatePay-Certificate-ClientId", &g.client_id)
        .header("X-GatePay-Timestamp", ts)
        .header("X-GatePay-Nonce", nonce)
        .header("X-GatePay-Signature", sig)
        .header("X-GatePay-On-Behalf-Of", &g.on_behalf_of)
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    serde_json::from_str(&resp.text().await.unwrap()).unwrap()
}

pub fn fresh_nonce() -> String {
    RandomNonce.nonce()
}
