//! GatePay's payout callback read: `bizType` WITHDRAW with the batch's `main_order` and its
//! `suborders`. GatePay's example sends amounts as JSON numbers (`2362.1`); they are read
//! from their text as written (the JSON reader keeps a number's text), never through a float.
#![deny(clippy::float_arithmetic)]

use serde::Serialize;
use serde_json::{Map, Value};

use super::status::BatchStatus;
use super::wire::SubOrder;
use crate::gateway::cny::wire::{field_int, field_text};

/// The answer GatePay expects from the merchant once a callback is taken.
pub const CALLBACK_ACK: &str = r#"{"returnCode":"SUCCESS","returnMessage":""}"#;

/// The batch as a callback reports it.
#[derive(Clone, Debug, Serialize)]
pub struct MainOrder {
    #[serde(skip)]
    pub raw: Map<String, Value>,
    pub batch_id: String,
    pub merchant_id: String,
    pub client_id: String,
    pub channel_id: String,
    pub status: BatchStatus,
    /// Whether the amounts of failed sub-orders went back to the balance, as GatePay words it.
    pub pay_back_status: String,
    pub create_time_ms: Option<i64>,
}

/// A payout callback, read.
#[derive(Clone, Debug)]
pub struct Callback {
    /// `WITHDRAW` for payouts; empty when the body is a bare `{main_order, suborders}`.
    pub biz_type: String,
    pub biz_id: String,
    pub biz_status: String,
    pub main_order: MainOrder,
    pub suborders: Vec<SubOrder>,
}

impl Callback {
    /// The batch the callback is about.
    pub fn batch_id(&self) -> &str {
        if self.main_order.batch_id.is_empty() {
            &self.biz_id
        } else {
            &self.main_order.batch_id
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    #[error("the callback is not a JSON object: {0}")]
    NotJson(String),
    #[error("the callback is for {0}, not a payout (bizType WITHDRAW)")]
    NotWithdraw(String),
    #[error("the callback has no main_order")]
    NoMainOrder,
    #[error("the callback's {0} is not what GatePay's callback describes")]
    Shape(&'static str),
}

/// Reads a payout callback: `{bizType, bizId, bizStatus, data}` with `data` an object or a
/// JSON string holding one, or a bare `{main_order, suborders}`.
pub fn parse_callback(body: &[u8]) -> Result<Callback, CallbackError> {
    let Ok(Value::Object(outer)) = serde_json::from_slice::<Value>(body) else {
        return Err(CallbackError::NotJson(
            String::from_utf8_lossy(&body[..body.len().min(80)]).into_owned(),
        ));
    };
    let biz_type = field_text(&outer, "bizType");
    if !biz_type.is_empty() && !biz_type.eq_ignore_ascii_case("WITHDRAW") {
        return Err(CallbackError::NotWithdraw(biz_type));
    }
    let data = match outer.get("data") {
        Some(Value::Object(d)) => d.clone(),
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(d)) => d,
            _ => return Err(CallbackError::Shape("data")),
        },
        _ => outer.clone(),
    };
    let Some(Value::Object(main)) = data.get("main_order") else {
        return Err(CallbackError::NoMainOrder);
    };
    let suborders = match data.get("suborders") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Object(raw) => Ok(SubOrder::from_raw(raw.clone())),
                _ => Err(CallbackError::Shape("suborders")),
            })
            .collect::<Result<Vec<_>, _>>()?,
        None | Some(Value::Null) => Vec::new(),
        Some(_) => return Err(CallbackError::Shape("suborders")),
    };
    let main_order = MainOrder {
        batch_id: field_text(main, "batch_id"),
        merchant_id: field_text(main, "merchant_id"),
        client_id: field_text(main, "client_id"),
        channel_id: field_text(main, "channel_id"),
        status: BatchStatus::from(field_text(main, "status").as_str()),
        pay_back_status: field_text(main, "pay_back_status"),
        create_time_ms: field_int(main, "create_time"),
        raw: main.clone(),
    };
    Ok(Callback {
        biz_type,
        biz_id: field_text(&outer, "bizId"),
        biz_status: field_text(&outer, "bizStatus"),
        main_order,
        suborders,
    })
}

/// The amount of a sub-order as text: exact, or `unreadable (TEXT)` when it cannot be read
/// exactly; never rounded.
pub fn amount_text(sub: &SubOrder, key: &str) -> String {
    let value = match key {
        "amount" => sub.amount,
        "fee" => sub.fee,
        _ => sub.done_amount,
    };
    if let Some(a) = value {
        return a.to_string();
    }
    let raw = field_text(&sub.raw, key);
    if raw.is_empty() {
        String::new()
    } else {
        format!("unreadable ({raw})")
    }
}

/// The callback in lines an operator reads: the batch, then each sub-order.
pub fn describe(callback: &Callback) -> Vec<String> {
    let m = &callback.main_order;
    let mut batch = format!(
        "batch {}  status {} ({})  pay_back_status {}",
        callback.batch_id(),
        m.status,
        m.status.meaning(),
        if m.pay_back_status.is_empty() {
            "-"
        } else {
            &m.pay_back_status
        },
    );
    // GatePay's callbacks do not always carry them: an absent field is left out, not shown blank.
    for (name, value) in [("merchant", &m.merchant_id), ("client", &m.client_id)] {
        if !value.is_empty() {
            for part in ["  ", name, " ", value.as_str()] {
                batch.push_str(part);
            }
        }
    }
    let mut lines = vec![batch];
    for s in &callback.suborders {
        lines.push(format!(
            "  {} {}  {} {} on {}  fee {}  {} ({})  to {}{}",
            s.suborder_id,
            s.merchant_withdraw_id,
            amount_text(s, "amount"),
            s.currency,
            s.chain,
            amount_text(s, "fee"),
            s.status,
            s.status.meaning(),
            s.address,
            if s.tx_id.is_empty() {
                String::new()
            } else {
                format!("  tx {}", s.tx_id)
            }
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::gatepay::SubOrderStatus;
    use crate::money::CryptoAmount;

    const DOCS_LIKE: &str = r#"{"bizType":"WITHDRAW","bizId":"B_1","bizStatus":"SUCCESS","client_id":"c1","data":{"main_order":{"batch_id":"B_1","merchant_id":12333543,"status":"PARTIAL","client_id":"c1","pay_back_status":"NO","channel_id":"ch"},"suborders":[{"suborder_id":"351","merchant_withdraw_id":"m1","currency":"USDT","chain":"ETH","address":"0xabc","amount":2362.1,"fee":0.000000012345,"status":"DONE","tx_id":"0xt"},{"suborder_id":"352","merchant_withdraw_id":"m2","currency":"BTC","chain":"BTC","address":"bc1","amount":"0.1","fee":1e-8,"status":"FAIL"}]}}"#;

    #[test]
    fn a_callback_is_read_with_exact_amounts() {
        let cb = parse_callback(DOCS_LIKE.as_bytes()).unwrap();
        assert_eq!(cb.batch_id(), "B_1");
        assert_eq!(cb.main_order.status, BatchStatus::Partial);
        assert_eq!(cb.main_order.pay_back_status, "NO");
        assert_eq!(cb.main_order.merchant_id, "12333543");
        assert_eq!(cb.suborders.len(), 2);
        let first = &cb.suborders[0];
        assert_eq!(first.amount, CryptoAmount::parse_wire("2362.1").ok());
        assert_eq!(amount_text(first, "amount"), "2362.1");
        assert_eq!(amount_text(first, "fee"), "0.000000012345");
        assert_eq!(first.status, SubOrderStatus::Done);
        // An exponent cannot be read exactly as a decimal here: shown, never rounded.
        assert_eq!(amount_text(&cb.suborders[1], "fee"), "unreadable (1e-8)");
        assert!(describe(&cb)[1].contains("2362.1 USDT"));
    }

    #[test]
    fn data_as_a_string_and_a_bare_body_are_read_too() {
        let inner = r#"{"main_order":{"batch_id":"B_2","status":"SUCCESS"},"suborders":[]}"#;
        let wrapped = serde_json::json!({"bizType": "WITHDRAW", "data": inner}).to_string();
        assert_eq!(
            parse_callback(wrapped.as_bytes()).unwrap().batch_id(),
            "B_2"
        );
        assert_eq!(parse_callback(inner.as_bytes()).unwrap().batch_id(), "B_2");
        assert_eq!(
            parse_callback(br#"{"bizType":"PAY","data":{}}"#).unwrap_err(),
            CallbackError::NotWithdraw("PAY".into())
        );
        assert_eq!(
            parse_callback(br#"{"bizType":"WITHDRAW","data":{}}"#).unwrap_err(),
            CallbackError::NoMainOrder
        );
    }

    #[test]
    fn a_batch_without_merchant_or_client_leaves_them_out() {
        let bare = r#"{"main_order":{"batch_id":"B_3","status":"SUCCESS"},"suborders":[]}"#;
        let line = &describe(&parse_callback(bare.as_bytes()).unwrap())[0];
        assert!(!line.contains("merchant"), "{line}");
        assert!(!line.contains("client"), "{line}");
        assert!(!line.ends_with(' '), "{line:?}");
        let full = &describe(&parse_callback(DOCS_LIKE.as_bytes()).unwrap())[0];
        assert!(
            full.ends_with("pay_back_status NO  merchant 12333543  client c1"),
            "{full}"
        );
    }
}
