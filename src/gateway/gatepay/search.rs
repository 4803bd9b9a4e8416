//! GatePay's sub-order search by time (`GET /withdraw/open/v1/withdraw/suborder/query`): how
//! support finds a payout without its `batch_id`. At most 500 sub-orders a page, filtered by
//! payout status or audit status; and the wallet replies (balance, chains, fees) that come
//! either as GatePay's envelope or, as the official SDK reads them, as a bare array.
#![deny(clippy::float_arithmetic)]

use serde_json::{Map, Value};

use super::status::AuditStatus;
use super::wire::{GpReplyError, SubOrder, envelope};
use crate::gateway::cny::wire::{field_int, field_text};
use crate::gateway::http::snippet;

pub const SUBORDER_QUERY_PATH: &str = "withdraw/open/v1/withdraw/suborder/query";
/// The most sub-orders GatePay returns on one page.
pub const SUBORDER_PAGE_MAX: u32 = 500;

/// One page of a sub-order search. Times are Unix milliseconds, both ends included; pages
/// count from 1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubOrderQuery {
    pub from_ms: i64,
    pub to_ms: i64,
    /// A sub-order status (`DONE`, `FAIL`, …); `None`: every status.
    pub status: Option<String>,
    /// An audit status (`AUDITING`, …); `None`: every one.
    pub audit_status: Option<String>,
    pub page: u32,
    pub page_size: u32,
}

impl SubOrderQuery {
    /// The query string's pairs (the query string is not signed).
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("start_time", self.from_ms.to_string()),
            ("end_time", self.to_ms.to_string()),
            ("page", self.page.max(1).to_string()),
            (
                "page_size",
                self.page_size.clamp(1, SUBORDER_PAGE_MAX).to_string(),
            ),
        ];
        if let Some(s) = &self.status {
            pairs.push(("status", s.clone()));
        }
        if let Some(s) = &self.audit_status {
            pairs.push(("audit_status", s.clone()));
        }
        pairs
    }
}

/// Splits one status filter into the search's two: an audit status (`AUDITING`, …) filters
/// `audit_status`, anything else the sub-order's `status`. Returns `(status, audit_status)`.
pub fn status_filter(text: Option<&str>) -> (Option<String>, Option<String>) {
    match text.map(|t| t.trim().to_ascii_uppercase()) {
        Some(t) if AuditStatus::KNOWN.contains(&t.as_str()) => (None, Some(t)),
        Some(t) if !t.is_empty() => (Some(t), None),
        _ => (None, None),
    }
}

/// A sub-order found by the search: the sub-order, its batch and its audit status.
#[derive(Clone, Debug)]
pub struct FoundSubOrder {
    pub batch_id: String,
    pub audit_status: Option<AuditStatus>,
    pub sub: SubOrder,
}

/// One page of the search's reply.
#[derive(Clone, Debug)]
pub struct SubOrderPage {
    /// The number of sub-orders matching, when GatePay says it.
    pub total: Option<u64>,
    pub items: Vec<FoundSubOrder>,
}

fn found(raw: Map<String, Value>) -> FoundSubOrder {
    let audit = field_text(&raw, "audit_status");
    FoundSubOrder {
        batch_id: field_text(&raw, "batch_id"),
        audit_status: (!audit.is_empty()).then(|| AuditStatus::from(audit.as_str())),
        sub: SubOrder::from_raw(raw),
    }
}

fn objects(items: Vec<Value>, what: &str) -> Result<Vec<Map<String, Value>>, GpReplyError> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| match item {
            Value::Object(o) => Ok(o),
            _ => Err(GpReplyError::Malformed(format!(
                "{what} {} is not an object",
                i + 1
            ))),
        })
        .collect()
}

/// Reads a page: `data` as `{total, list}` (the list also as `suborders` or `withdraw_list`)
/// or as a bare list.
pub fn parse_suborder_page(status: u16, body: &[u8]) -> Result<SubOrderPage, GpReplyError> {
    let data = envelope(status, body)?;
    let (total, list) = match data {
        Value::Array(items) => (None, items),
        Value::Object(mut map) => {
            let total = field_int(&map, "total").and_then(|t| u64::try_from(t).ok());
            let list = ["list", "suborders", "withdraw_list"]
                .into_iter()
                .find_map(|k| match map.remove(k) {
                    Some(Value::Array(items)) => Some(items),
                    _ => None,
                })
                .unwrap_or_default();
            (total, list)
        }
        Value::Null => (Some(0), Vec::new()),
        _ => {
            return Err(GpReplyError::Malformed(
                "the sub-order search's data is neither a list nor an object".to_owned(),
            ));
        }
    };
    Ok(SubOrderPage {
        total,
        items: objects(list, "sub-order")?.into_iter().map(found).collect(),
    })
}

/// The list a wallet call answers: GatePay's envelope with `data` a list (or, for the
/// balance, `data.balanceList`), or a bare JSON array as the official Go SDK decodes it.
pub fn parse_wallet_list(
    status: u16,
    body: &[u8],
) -> Result<Vec<Map<String, Value>>, GpReplyError> {
    if let Ok(Value::Array(items)) = serde_json::from_slice::<Value>(body) {
        if !(200..300).contains(&status) {
            return Err(GpReplyError::Http {
                status,
                snippet: snippet(body),
            });
        }
        return objects(items, "item");
    }
    match envelope(status, body)? {
        Value::Array(items) => objects(items, "item"),
        Value::Object(mut map) => match map.remove("balanceList") {
            Some(Value::Array(items)) => objects(items, "item"),
            _ => Err(GpReplyError::Malformed(
                "data is an object without balanceList".to_owned(),
            )),
        },
        Value::Null => Ok(Vec::new()),
        _ => Err(GpReplyError::Malformed("data is not a list".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_page_reads_with_its_total_and_audit_statuses() {
        let body = br#"{"status":"SUCCESS","code":"000000","data":{"total":2,"list":[{"batch_id":"B1","suborder_id":"1","amount":"2362.1","status":"DONE","audit_status":"AUDIT_SUCCESS"},{"batch_id":"B2","suborder_id":"2","amount":0.000000012345,"status":"CHECK"}]}}"#;
        let page = parse_suborder_page(200, body).unwrap();
        assert_eq!(page.total, Some(2));
        assert_eq!(page.items[0].audit_status, Some(AuditStatus::AuditSuccess));
        assert_eq!(page.items[1].audit_status, None);
        assert_eq!(
            page.items[1].sub.amount.map(|a| a.to_string()).as_deref(),
            Some("0.000000012345")
        );
        let bare = br#"{"status":"SUCCESS","code":"000000","data":[{"batch_id":"B1"}]}"#;
        assert_eq!(parse_suborder_page(200, bare).unwrap().total, None);
    }

    #[test]
    fn wallet_replies_read_bare_or_in_the_envelope() {
        let bare = br#"[{"chain":"ETH"}]"#;
        assert_eq!(parse_wallet_list(200, bare).unwrap().len(), 1);
        let env =
            br#"{"status":"SUCCESS","code":"000000","data":[{"chain":"ETH"},{"chain":"TRX"}]}"#;
        assert_eq!(parse_wallet_list(200, env).unwrap().len(), 2);
        let balance = br#"{"status":"SUCCESS","code":"000000","data":{"balanceList":[{"currency":"USDT","available":"1.5"}]}}"#;
        assert_eq!(
            field_text(&parse_wallet_list(200, balance).unwrap()[0], "available"),
            "1.5"
        );
        let failed = br#"{"status":"FAIL","code":"400004","errorMessage":"","data":null}"#;
        assert!(
            parse_wallet_list(200, failed)
                .unwrap_err()
                .to_string()
                .contains("API identity key not found")
        );
    }

    #[test]
    fn one_filter_is_either_a_status_or_an_audit_status() {
        assert_eq!(status_filter(Some("done")), (Some("DONE".into()), None));
        assert_eq!(
            status_filter(Some("AUDIT_TIMEOUT")),
            (None, Some("AUDIT_TIMEOUT".into()))
        );
        assert_eq!(status_filter(None), (None, None));
    }

    #[test]
    fn the_query_string_caps_the_page_size() {
        let q = SubOrderQuery {
            from_ms: 1,
            to_ms: 2,
            status: None,
            audit_status: Some("AUDITING".into()),
            page: 0,
            page_size: 9_999,
        };
        let pairs = q.pairs();
        assert!(pairs.contains(&("page_size", "500".into())));
        assert!(pairs.contains(&("page", "1".into())));
        assert!(pairs.contains(&("audit_status", "AUDITING".into())));
    }
}
