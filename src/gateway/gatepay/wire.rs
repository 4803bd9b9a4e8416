//! GatePay institution payouts on the wire: statuses, error codes, batch detail and batch
//! creation, and the pure steps that build requests and read replies.
#![deny(clippy::float_arithmetic)]

use std::collections::HashSet;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::gateway::cny::wire::{field_int, field_text, said_beyond};
use crate::gateway::http::snippet;
use crate::money::{AmountError, CryptoAmount, GATEPAY_MAX_PLACES};

pub use super::status::{AuditStatus, BatchStatus, SubOrderStatus};

pub const DETAIL_PATH: &str = "withdraw/open/institution/v1/pay/payouts/detail";
pub const CREATE_PATH: &str = "withdraw/open/institution/v1/pay/create/payouts";
pub const CHAINS_PATH: &str = "payment/open/institution/v1/pay/wallet/currency_chains";
pub const WITHDRAW_STATUS_PATH: &str = "payment/open/institution/v1/pay/wallet/withdraw_status";
pub const BALANCE_PATH: &str = "payment/open/institution/v1/balance";

pub const HEADER_CLIENT_ID: &str = "X-GatePay-Certificate-ClientId";
pub const HEADER_TIMESTAMP: &str = "X-GatePay-Timestamp";
pub const HEADER_NONCE: &str = "X-GatePay-Nonce";
pub const HEADER_SIGNATURE: &str = "X-GatePay-Signature";
pub const HEADER_ON_BEHALF_OF: &str = "X-GatePay-On-Behalf-Of";

/// How far GatePay lets a request's timestamp stray from its own clock.
pub const TIMESTAMP_WINDOW_MS: i64 = 10_000;

/// The `detail_status` filter of a batch detail query, with the values the detail API lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum DetailStatus {
    #[default]
    All,
    Init,
    Pending,
    Processing,
    Check,
    Fail,
    Done,
}

impl DetailStatus {
    pub const ALL_VALUES: [DetailStatus; 7] = [
        DetailStatus::All,
        DetailStatus::Init,
        DetailStatus::Pending,
        DetailStatus::Processing,
        DetailStatus::Check,
        DetailStatus::Fail,
        DetailStatus::Done,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DetailStatus::All => "ALL",
            DetailStatus::Init => "INIT",
            DetailStatus::Pending => "PENDING",
            DetailStatus::Processing => "PROCESSING",
            DetailStatus::Check => "CHECK",
            DetailStatus::Fail => "FAIL",
            DetailStatus::Done => "DONE",
        }
    }

    pub fn parse(text: &str) -> Option<DetailStatus> {
        Self::ALL_VALUES
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether a sub-order's status passes this filter.
    pub fn admits(self, status: &str) -> bool {
        self == DetailStatus::All || self.as_str() == status
    }
}

/// GatePay's published error codes with their meaning.
pub const ERROR_CODES: &[(&str, &str)] = &[
    ("000000", "success"),
    ("300000", "system error: retry with the same parameters"),
    ("300001", "system error: retry with the same parameters"),
    ("400000", "system error: retry with the same parameters"),
    ("400001", "bad parameters"),
    (
        "400002",
        "signature verification failed: check the Payment API secret",
    ),
    (
        "400003",
        "timestamp expired: the request's time is more than 10 seconds from GatePay's clock",
    ),
    ("400007", "bad Content-Type"),
    (
        "400004",
        "API identity key not found or invalid: check the client ID",
    ),
    (
        "400020",
        "invalid nonce: the nonce is empty or malformed (1 to 32 letters and digits)",
    ),
    ("400201", "duplicate order"),
    ("400202", "order not found"),
    ("400204", "invalid order status"),
    ("550233", "insufficient balance"),
    ("550234", "memo too long"),
    ("550235", "too many decimal places in the amount"),
    ("550238", "too many sub-orders in one batch"),
    ("550239", "amount missing"),
    ("550240", "currency missing"),
    ("550241", "address missing"),
    ("550242", "chain missing"),
    ("550245", "batch_id already exists"),
    ("550249", "invalid id"),
];

pub fn error_meaning(code: &str) -> &'static str {
    ERROR_CODES
        .iter()
        .find(|(c, _)| *c == code)
        .map_or("an error code not in GatePay's published list", |(_, m)| m)
}

/// GatePay answered with one of its own codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[error(
    "GatePay error {code}: {}{}",
    error_meaning(code),
    said_beyond(error_meaning(code), message, "GatePay said")
)]
pub struct GatePayError {
    pub code: String,
    pub message: String,
}

impl GatePayError {
    pub fn meaning(&self) -> &'static str {
        error_meaning(&self.code)
    }

    /// `400202`: no order under the IDs asked about (a lookup that found nothing).
    pub fn is_not_found(&self) -> bool {
        self.code == "400202"
    }

    /// System errors that GatePay asks to retry with the same parameters.
    pub fn is_retryable(&self) -> bool {
        matches!(self.code.as_str(), "300000" | "300001" | "400000")
    }
}

/// Why a GatePay reply could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GpReplyError {
    #[error(transparent)]
    Gateway(#[from] GatePayError),
    #[error("GatePay's reply is not what the API describes: {0}")]
    Malformed(String),
    #[error("GatePay answered HTTP {status}: {snippet}")]
    Http { status: u16, snippet: String },
}

/// Reads `{status, code, errorMessage, data}` and returns `data` on success.
pub fn envelope(status: u16, body: &[u8]) -> Result<Value, GpReplyError> {
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    let Ok(Value::Object(mut map)) = parsed else {
        return Err(if (200..300).contains(&status) {
            GpReplyError::Malformed(format!("not a JSON object: {}", snippet(body)))
        } else {
            GpReplyError::Http {
                status,
                snippet: snippet(body),
            }
        });
    };
    let code = field_text(&map, "code");
    let ok = field_text(&map, "status");
    if code == "000000" && ok == "SUCCESS" {
        return Ok(map.remove("data").unwrap_or(Value::Null));
    }
    if code.is_empty() {
        return Err(if (200..300).contains(&status) {
            GpReplyError::Malformed("no code".to_owned())
        } else {
            GpReplyError::Http {
                status,
                snippet: snippet(body),
            }
        });
    }
    Err(GpReplyError::Gateway(GatePayError {
        code,
        message: field_text(&map, "errorMessage"),
    }))
}

/// One sub-order of a batch, with every raw field kept.
#[derive(Clone, Debug)]
pub struct SubOrder {
    pub raw: Map<String, Value>,
    pub suborder_id: String,
    pub merchant_withdraw_id: String,
    pub withdraw_id: String,
    pub currency: String,
    pub chain: String,
    pub address: String,
    pub memo: String,
    pub amount: Option<CryptoAmount>,
    pub fee: Option<CryptoAmount>,
    pub done_amount: Option<CryptoAmount>,
    pub status: SubOrderStatus,
    pub tx_id: String,
    pub err_msg: String,
    pub create_time_ms: Option<i64>,
    pub update_time_ms: Option<i64>,
    pub finish_time_ms: Option<i64>,
}

fn amount_field(raw: &Map<String, Value>, key: &str) -> Option<CryptoAmount> {
    CryptoAmount::parse_wire(&field_text(raw, key)).ok()
}

impl SubOrder {
    pub fn from_raw(raw: Map<String, Value>) -> SubOrder {
        SubOrder {
            suborder_id: field_text(&raw, "suborder_id"),
            merchant_withdraw_id: field_text(&raw, "merchant_withdraw_id"),
            withdraw_id: field_text(&raw, "withdraw_id"),
            currency: field_text(&raw, "currency"),
            chain: field_text(&raw, "chain"),
            address: field_text(&raw, "address"),
            memo: field_text(&raw, "memo"),
            amount: amount_field(&raw, "amount"),
            fee: amount_field(&raw, "fee"),
            done_amount: amount_field(&raw, "done_amount"),
            status: SubOrderStatus::from(field_text(&raw, "status").as_str()),
            tx_id: field_text(&raw, "tx_id"),
            err_msg: field_text(&raw, "err_msg"),
            create_time_ms: field_int(&raw, "create_time"),
            update_time_ms: field_int(&raw, "update_time"),
            finish_time_ms: field_int(&raw, "finish_time").filter(|t| *t > 0),
            raw,
        }
    }
}

/// A batch and the sub-orders that passed the status filter.
#[derive(Clone, Debug)]
pub struct BatchDetail {
    pub raw: Map<String, Value>,
    pub batch_id: String,
    pub merchant_id: String,
    pub client_id: String,
    pub status: BatchStatus,
    pub create_time_ms: Option<i64>,
    pub channel_id: String,
    pub withdraw_list: Vec<SubOrder>,
}

pub fn parse_detail_reply(status: u16, body: &[u8]) -> Result<BatchDetail, GpReplyError> {
    let Value::Object(mut data) = envelope(status, body)? else {
        return Err(GpReplyError::Malformed("data is not an object".to_owned()));
    };
    let list = match data.remove("withdraw_list") {
        Some(Value::Array(items)) => items,
        Some(Value::Null) | None => Vec::new(),
        Some(_) => {
            return Err(GpReplyError::Malformed(
                "withdraw_list is not a list".to_owned(),
            ));
        }
    };
    let mut withdraw_list = Vec::with_capacity(list.len());
    for (i, item) in list.into_iter().enumerate() {
        let Value::Object(raw) = item else {
            return Err(GpReplyError::Malformed(format!(
                "sub-order {} is not an object",
                i + 1
            )));
        };
        withdraw_list.push(SubOrder::from_raw(raw));
    }
    Ok(BatchDetail {
        batch_id: field_text(&data, "batch_id"),
        merchant_id: field_text(&data, "merchant_id"),
        client_id: field_text(&data, "client_id"),
        status: BatchStatus::from(field_text(&data, "status").as_str()),
        create_time_ms: field_int(&data, "create_time"),
        channel_id: field_text(&data, "channel_id"),
        withdraw_list,
        raw: data,
    })
}

/// One payout of a batch, as the operator asked for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WithdrawItem {
    pub merchant_withdraw_id: String,
    pub currency: String,
    pub amount: CryptoAmount,
    pub chain: String,
    pub address: String,
    pub memo: String,
    /// 0: the fee is inside the amount (default); 1: the fee comes from the balance.
    pub fee_type: u8,
}

/// A batch payout request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BatchRequest {
    pub batch_id: String,
    pub withdraw_list: Vec<WithdrawItem>,
    pub channel_id: Option<String>,
}

/// A problem with one field of a batch, located by sub-order (1-based; 0 for the batch).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{field}: {reason}", if *.row == 0 { String::new() } else { format!("row {}, ", .row) })]
pub struct BatchFieldError {
    pub row: usize,
    pub field: &'static str,
    pub reason: String,
}

/// Whether text is a currency code as a batch carries it (and the team journal reads it):
/// 1 to 32 of `A-Z 0-9 . _ -`, starting with a letter or digit. One shape, so that no code
/// can read as one currency to an approval rule and as another to GatePay.
pub fn is_currency_code(code: &str) -> bool {
    (1..=32).contains(&code.len())
        && code
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        && code.bytes().all(|b| {
            b.is_ascii_uppercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
        })
}

/// Whether text is a valid `batch_id`: `[A-Za-z0-9_]`, 1 to 32 characters.
pub fn is_valid_batch_id(id: &str) -> bool {
    (1..=32).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

impl BatchRequest {
    /// Every problem of every row, before anything is sent.
    pub fn validate(&self) -> Vec<BatchFieldError> {
        let mut errors = Vec::new();
        let mut bad = |row: usize, field: &'static str, reason: &str| {
            errors.push(BatchFieldError {
                row,
                field,
                reason: reason.to_owned(),
            });
        };
        if !is_valid_batch_id(&self.batch_id) {
            bad(0, "batch_id", "1 to 32 letters, digits or '_'");
        }
        if self.withdraw_list.is_empty() {
            bad(0, "withdraw_list", "a batch needs at least one payout");
        }
        let mut seen = HashSet::new();
        for (i, item) in self.withdraw_list.iter().enumerate() {
            let row = i + 1;
            let mut dirty: Vec<&'static str> = Vec::new();
            let texts = [
                ("merchant_withdraw_id", &item.merchant_withdraw_id),
                ("currency", &item.currency),
                ("chain", &item.chain),
                ("memo", &item.memo),
            ];
            for (field, text) in texts {
                if let Err(e) = crate::domain::text::check_clean(text) {
                    bad(row, field, &e.to_string());
                    dirty.push(field);
                }
            }
            if let Err(e) = crate::domain::text::check_address(&item.address) {
                bad(row, "address", &e);
                dirty.push("address");
            }
            let mut bad = |row: usize, field: &'static str, reason: &str| {
                if !dirty.contains(&field) {
                    bad(row, field, reason);
                }
            };
            if item.merchant_withdraw_id.trim().is_empty() {
                bad(row, "merchant_withdraw_id", "required");
            } else if !seen.insert(item.merchant_withdraw_id.as_str()) {
                bad(
                    row,
                    "merchant_withdraw_id",
                    "appears more than once in this batch",
                );
            }
            if item.currency.trim().is_empty() {
                bad(row, "currency", "required");
            } else if !is_currency_code(item.currency.trim()) {
                bad(
                    row,
                    "currency",
                    "a currency code: 1 to 32 upper-case letters, digits, '.', '_' or '-' (as USDT, USDC.E)",
                );
            }
            if item.amount.is_zero() {
                bad(row, "amount", "must be more than zero");
            } else if item.amount.scale() > GATEPAY_MAX_PLACES {
                bad(
                    row,
                    "amount",
                    &AmountError::TooManyDecimals {
                        max: GATEPAY_MAX_PLACES,
                        found: item.amount.scale(),
                    }
                    .to_string(),
                );
            }
            if item.chain.trim().is_empty() {
                bad(row, "chain", "required");
            }
            if item.address.trim().is_empty() {
                bad(row, "address", "required");
            }
            if item.fee_type > 1 {
                bad(
                    row,
                    "fee_type",
                    "0 (fee inside the amount) or 1 (fee from the balance)",
                );
            }
        }
        errors
    }
}

/// The create body as the exact bytes to sign and send; amounts go as decimal strings.
pub fn build_create_body(request: &BatchRequest) -> Vec<u8> {
    let list: Vec<Value> = request
        .withdraw_list
        .iter()
        .map(|item| {
            let mut m = Map::new();
            m.insert(
                "merchant_withdraw_id".into(),
                Value::from(item.merchant_withdraw_id.trim()),
            );
            m.insert("currency".into(), Value::from(item.currency.trim()));
            m.insert("amount".into(), Value::from(item.amount.to_string()));
            m.insert("chain".into(), Value::from(item.chain.trim()));
            m.insert("address".into(), Value::from(item.address.trim()));
            m.insert("memo".into(), Value::from(item.memo.as_str()));
            m.insert("fee_type".into(), Value::from(item.fee_type));
            Value::Object(m)
        })
        .collect();
    let mut body = Map::new();
    body.insert("batch_id".into(), Value::from(request.batch_id.as_str()));
    body.insert("withdraw_list".into(), Value::Array(list));
    if let Some(c) = request.channel_id.as_deref().filter(|c| !c.is_empty()) {
        body.insert("channel_id".into(), Value::from(c));
    }
    serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
}

/// What became of a batch create request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum CreateBatchOutcome {
    Accepted {
        batch_id: String,
    },
    /// `550245`: this `batch_id` exists already (a retried create); look it up.
    Exists {
        batch_id: String,
    },
    Rejected {
        code: String,
        meaning: String,
        message: String,
    },
    /// May or may not have been created: ask for the batch's detail.
    Unknown {
        why: String,
    },
}

pub fn parse_create_reply(batch_id: &str, status: u16, body: &[u8]) -> CreateBatchOutcome {
    if status >= 500 {
        return CreateBatchOutcome::Unknown {
            why: format!("GatePay answered HTTP {status}: {}", snippet(body)),
        };
    }
    match envelope(status, body) {
        Ok(data) => match data.get("batch_id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => CreateBatchOutcome::Accepted {
                batch_id: id.to_owned(),
            },
            _ => CreateBatchOutcome::Accepted {
                batch_id: batch_id.to_owned(),
            },
        },
        Err(GpReplyError::Gateway(e)) if e.code == "550245" => CreateBatchOutcome::Exists {
            batch_id: batch_id.to_owned(),
        },
        Err(GpReplyError::Gateway(e)) if e.is_retryable() => {
            CreateBatchOutcome::Unknown { why: e.to_string() }
        }
        Err(GpReplyError::Gateway(e)) => CreateBatchOutcome::Rejected {
            meaning: e.meaning().to_owned(),
            code: e.code,
            message: e.message,
        },
        Err(other) => CreateBatchOutcome::Unknown {
            why: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_texts_say_what_400004_and_400020_mean() {
        assert!(error_meaning("400020").contains("empty or malformed"));
        assert!(!error_meaning("400020").contains("only once"));
        assert!(error_meaning("400004").contains("API identity key not found or invalid"));
    }

    #[test]
    fn a_missing_order_is_told_by_is_not_found_not_by_its_code() {
        let err = |code: &str| GatePayError {
            code: code.to_owned(),
            message: String::new(),
        };
        assert!(err("400202").is_not_found());
        assert!(!err("400201").is_not_found());
        assert!(!err("550245").is_not_found());
    }

    #[test]
    fn statuses_are_typed_at_the_wire() {
        let detail = parse_detail_reply(200, SEED_002.as_bytes()).unwrap();
        assert_eq!(detail.status, BatchStatus::Processing);
        assert!(!detail.status.is_final());
        assert_eq!(detail.withdraw_list[0].status, SubOrderStatus::Pending);
    }

    const SEED_002: &str = r#"{"status":"SUCCESS","code":"000000","errorMessage":"","data":{"batch_id":"M57143269148","merchant_id":2124538349,"client_id":"mZ96D37oKk-HrWJc","status":"PROCESSING","create_time":1764048644523,"withdraw_list":[{"id":634708,"batch_id":"M57143269148","merchant_id":2124538349,"suborder_id":"35803766522511370","withdraw_id":"","chain":"ETH","address":"THISISTESTADDRESSFORGATEPAY1","currency":"USDT","amount":"0.01","fee":"0","tx_id":"","timestamp":1764048644540,"memo":"","create_time":1764048644540,"update_time":1764048644891,"status":"PENDING","err_msg":"","merchant_withdraw_id":"e1619185671593","desc":"","channel_id":null,"finish_time":0,"sub_amount":"0","done_amount":"0"}],"channel_id":""}}"#;

    #[test]
    fn reads_the_seed_detail() {
        let d = parse_detail_reply(200, SEED_002.as_bytes()).unwrap();
        assert_eq!(d.batch_id, "M57143269148");
        assert_eq!(d.merchant_id, "2124538349");
        assert_eq!(d.create_time_ms, Some(1_764_048_644_523));
        let s = &d.withdraw_list[0];
        assert_eq!(s.amount.unwrap().to_string(), "0.01");
        assert_eq!(s.status, "PENDING");
        assert_eq!(s.finish_time_ms, None);
    }

    #[test]
    fn errors_carry_meaning() {
        let body = br#"{"status":"FAIL","code":"400002","errorMessage":"sign error","data":null}"#;
        let e = parse_detail_reply(200, body).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("GatePay error 400002: signature verification failed")
        );
        assert_eq!(
            parse_create_reply(
                "B1",
                200,
                br#"{"status":"FAIL","code":"550245","errorMessage":""}"#
            ),
            CreateBatchOutcome::Exists {
                batch_id: "B1".into()
            }
        );
        assert!(matches!(
            parse_create_reply("B1", 200, br#"{"status":"FAIL","code":"300000"}"#),
            CreateBatchOutcome::Unknown { .. }
        ));
        assert!(matches!(
            parse_create_reply("B1", 503, b""),
            CreateBatchOutcome::Unknown { .. }
        ));
        assert!(matches!(
            parse_create_reply("B1", 200, b"<html"),
            CreateBatchOutcome::Unknown { .. }
        ));
    }

    #[test]
    fn addresses_with_inner_spaces_and_hidden_characters_are_refused() {
        let item = |id: &str, address: &str, memo: &str| WithdrawItem {
            merchant_withdraw_id: id.into(),
            currency: "USDT".into(),
            amount: CryptoAmount::parse_wire("1").unwrap(),
            chain: "TRX".into(),
            address: address.into(),
            memo: memo.into(),
            fee_type: 0,
        };
        let req = BatchRequest {
            batch_id: "B_1".into(),
            withdraw_list: vec![
                item("a", " TXyz 1abc ", ""),
                item("b", "TXyz\n1abc", ""),
                item("c", "TXyz1abc", "tag\u{2066}"),
                item("d\0", "TXyz1abc", ""),
                item("e", "TXyz1abc", ""),
            ],
            channel_id: None,
        };
        let errs: Vec<String> = req.validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            [
                "row 1, address: character 5 is U+0020 SPACE: an address has no spaces or line breaks inside it",
                "row 2, address: character 5 is U+000A LINE FEED (new line)",
                "row 3, memo: character 4 is U+2066 LEFT-TO-RIGHT ISOLATE",
                "row 4, merchant_withdraw_id: character 2 is U+0000 NULL",
            ]
        );
    }

    #[test]
    fn batch_validation_finds_every_problem() {
        let item = |id: &str, amount: &str| WithdrawItem {
            merchant_withdraw_id: id.into(),
            currency: "USDT".into(),
            amount: CryptoAmount::parse_wire(amount).unwrap(),
            chain: "ETH".into(),
            address: "0xabc".into(),
            memo: String::new(),
            fee_type: 0,
        };
        let req = BatchRequest {
            batch_id: "bad-id".into(),
            withdraw_list: vec![item("a", "1"), item("a", "0"), item("b", "0.1234567")],
            channel_id: None,
        };
        let errs: Vec<String> = req.validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            [
                "batch_id: 1 to 32 letters, digits or '_'",
                "row 2, merchant_withdraw_id: appears more than once in this batch",
                "row 2, amount: must be more than zero",
                "row 3, amount: at most 6 decimal places are allowed (found 7)",
            ]
        );
        let body = build_create_body(&BatchRequest {
            batch_id: "B_1".into(),
            withdraw_list: vec![item("a", "1.50")],
            channel_id: None,
        });
        assert_eq!(
            String::from_utf8(body).unwrap(),
            r#"{"batch_id":"B_1","withdraw_list":[{"merchant_withdraw_id":"a","currency":"USDT","amount":"1.50","chain":"ETH","address":"0xabc","memo":"","fee_type":0}]}"#
        );
    }
}
