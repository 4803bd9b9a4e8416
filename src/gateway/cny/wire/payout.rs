//! A CNY bank-card payout: the request as the operator asked for it, its checks, the signed
//! body that is sent and what the reply says became of it.
#![deny(clippy::float_arithmetic)]

use serde::Serialize;
use serde_json::{Map, Value};

use super::errors::envelope;
use super::{GatewayError, PAYOUT_SERVICE_ID, ReplyError};
use crate::gateway::cny::sign::{Canonical, SignOptions};
use crate::gateway::http::snippet;
use crate::money::Fen;
use crate::secret::Secret;

/// A CNY bank-card payout as the operator asked for it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PayoutRequest {
    pub payout_cl_id: String,
    pub amount: Fen,
    /// The exact `bank_name` text the gateway expects (from the bank list).
    pub bank_name: String,
    pub name: String,
    pub number: String,
    pub bank_branch: Option<String>,
    pub province: Option<String>,
    pub city: Option<String>,
    pub notify_url: Option<String>,
}

/// A field of a payout request that cannot be sent, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    pub field: &'static str,
    pub reason: String,
}

impl PayoutRequest {
    /// Checks the create API's published field limits and that no field carries a control,
    /// bidi or zero-width character; every problem is listed, not just the first (one per
    /// field).
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let opt = |o: &Option<String>| o.as_deref().unwrap_or("").to_owned();
        let texts = [
            ("payout_cl_id", self.payout_cl_id.clone()),
            ("bank_name", self.bank_name.clone()),
            ("name", self.name.clone()),
            ("number", self.number.clone()),
            ("bank_branch", opt(&self.bank_branch)),
            ("province", opt(&self.province)),
            ("city", opt(&self.city)),
            ("notify_url", opt(&self.notify_url)),
        ];
        let mut dirty = Vec::new();
        for (field, text) in texts {
            if let Err(e) = crate::domain::text::check_clean(&text) {
                errors.push(FieldError {
                    field,
                    reason: e.to_string(),
                });
                dirty.push(field);
            }
        }
        let mut bad = |field: &'static str, reason: &str| {
            if !dirty.contains(&field) {
                errors.push(FieldError {
                    field,
                    reason: reason.to_owned(),
                });
            }
        };
        let id = &self.payout_cl_id;
        if id.is_empty() {
            bad("payout_cl_id", "the merchant order ID is required");
        } else if id.len() > 32 {
            bad("payout_cl_id", "at most 32 characters");
        } else if !id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        {
            bad("payout_cl_id", "only letters, digits, '_' and '-'");
        }
        if self.amount.fen() <= 0 {
            bad("amount", "the amount must be more than zero");
        } else if self.amount.fen() > 9_999_999_999 {
            bad("amount", "the amount does not fit the gateway's 10 digits");
        }
        if self.bank_name.trim().is_empty() {
            bad("bank_name", "choose a bank");
        }
        if self.name.trim().is_empty() {
            bad("name", "the recipient's name is required");
        }
        let digits: String = self.number.chars().filter(|c| !c.is_whitespace()).collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) {
            bad("number", "the account number may contain only digits");
        } else if !(12..=30).contains(&digits.len()) {
            bad("number", "the account number must have 12 to 30 digits");
        }
        if let Some(url) = self.notify_url.as_deref().filter(|u| !u.is_empty()) {
            if url.len() > 256 {
                bad("notify_url", "at most 256 characters");
            } else if !(url.starts_with("https://") || url.starts_with("http://")) {
                bad("notify_url", "must be an http(s) URL");
            }
        }
        errors
    }
}

/// Builds the signed JSON body of a payout, as the exact bytes to send. `bank` is the field
/// the profile names the bank by (`bank_name`, `bank_code` or `bank_id`) and its value.
pub fn build_payout_body(
    request: &PayoutRequest,
    bank: (&str, &str),
    platform_id: &str,
    key: &Secret,
    options: SignOptions,
    request_time_secs: i64,
) -> Vec<u8> {
    let mut body = Map::new();
    body.insert("amount".into(), Value::from(request.amount.fen()));
    body.insert(bank.0.into(), Value::from(bank.1.trim()));
    let optional = [
        ("bank_branch", &request.bank_branch),
        ("city", &request.city),
        ("notify_url", &request.notify_url),
        ("province", &request.province),
    ];
    for (field, value) in optional {
        if let Some(v) = value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            body.insert(field.into(), Value::from(v));
        }
    }
    body.insert("name".into(), Value::from(request.name.trim()));
    let number: String = request
        .number
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    body.insert("number".into(), Value::from(number));
    body.insert(
        "payout_cl_id".into(),
        Value::from(request.payout_cl_id.as_str()),
    );
    body.insert("platform_id".into(), Value::from(platform_id));
    body.insert("request_time".into(), Value::from(request_time_secs));
    body.insert("service_id".into(), Value::from(PAYOUT_SERVICE_ID));
    body.sort_keys();
    let sign = Canonical::of(&body, options).sign(key, options);
    body.insert("sign".into(), Value::from(sign));
    serde_json::to_vec(&Value::Object(body)).unwrap_or_default()
}

/// What became of a payout request. Only *accepted* and *rejected* are known; everything
/// else is *unknown* and must be reconciled by querying the merchant order ID.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "lowercase")]
pub enum CreateOutcome {
    /// The gateway took the order (which says nothing yet about the money moving).
    Accepted { payout_id: String },
    /// The gateway refused it with one of its codes; nothing was created.
    Rejected {
        code: String,
        meaning: String,
        message: String,
    },
    /// The request may or may not have created an order.
    Unknown { why: String },
}

impl CreateOutcome {
    fn rejected(e: GatewayError) -> CreateOutcome {
        CreateOutcome::Rejected {
            meaning: e.meaning().to_owned(),
            code: e.code,
            message: e.message,
        }
    }
}

/// Maps a create reply to its outcome. A 5xx, an empty or unreadable body, or a
/// `0001 network delay` leaves the outcome unknown: the create API warns that after a timeout,
/// an HTTP 500, an empty reply or a network delay only the order query says what happened.
pub fn parse_create_reply(status: u16, body: &[u8]) -> CreateOutcome {
    if status >= 500 {
        return CreateOutcome::Unknown {
            why: format!("the gateway answered HTTP {status}: {}", snippet(body)),
        };
    }
    if body.iter().all(u8::is_ascii_whitespace) {
        return CreateOutcome::Unknown {
            why: format!("the gateway answered HTTP {status} with an empty body"),
        };
    }
    match envelope(status, body) {
        Ok(map) => match map
            .get("data")
            .and_then(|d| d.get("payout_id"))
            .and_then(Value::as_str)
        {
            Some(id) if !id.is_empty() => CreateOutcome::Accepted {
                payout_id: id.to_owned(),
            },
            _ => CreateOutcome::Unknown {
                why: "the gateway said 0000 but sent no payout_id".to_owned(),
            },
        },
        Err(ReplyError::Gateway(e)) if e.code == "0001" => CreateOutcome::Unknown {
            why: format!("{e}: the order may still be created"),
        },
        Err(ReplyError::Gateway(e)) => CreateOutcome::rejected(e),
        Err(other) => CreateOutcome::Unknown {
            why: other.to_string(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::cny::sign::{Verdict, sign_object, verify_object};

    #[test]
    fn payout_body_is_signed_over_what_is_sent() {
        let key = Secret::new("2I9Q4nExEddsH6zo");
        let req = PayoutRequest {
            payout_cl_id: "test_gateway_1707220674".into(),
            amount: Fen::from_fen(100_000),
            bank_name: "中国农业银行".into(),
            name: "王小头".into(),
            number: "6216 6674 5167 4374".into(),
            bank_branch: None,
            province: Some(String::new()),
            city: None,
            notify_url: Some("http://localhost:52630/gateway/test-notification".into()),
        };
        assert!(req.validate().is_empty());
        let body = build_payout_body(
            &req,
            ("bank_name", "中国农业银行"),
            "PF0001",
            &key,
            SignOptions::default(),
            1_707_220_674,
        );
        let sent: Map<String, Value> = serde_json::from_slice(&body).unwrap();
        assert_eq!(sent["number"], "6216667451674374");
        assert_eq!(sent["service_id"], PAYOUT_SERVICE_ID);
        assert!(sent.get("province").is_none());
        assert_eq!(
            sent["sign"].as_str().unwrap(),
            sign_object(&sent, &key, SignOptions::default())
        );
        assert_eq!(
            verify_object(&sent, &key, SignOptions::default()).verdict,
            Verdict::Valid
        );
    }

    #[test]
    fn payout_text_with_control_bidi_or_zero_width_is_refused() {
        let req = PayoutRequest {
            payout_cl_id: "pd_1".into(),
            amount: Fen::from_fen(100),
            bank_name: "中国农业银行".into(),
            name: "王\u{202E}小头".into(),
            number: "6216667451674374\u{200B}".into(),
            bank_branch: Some("朝阳\n支行".into()),
            province: None,
            city: Some("北京\0".into()),
            notify_url: None,
        };
        let errs: Vec<String> = req.validate().iter().map(ToString::to_string).collect();
        assert_eq!(
            errs,
            [
                "name: character 2 is U+202E RIGHT-TO-LEFT OVERRIDE",
                "number: character 17 is U+200B ZERO WIDTH SPACE",
                "bank_branch: character 3 is U+000A LINE FEED (new line)",
                "city: character 3 is U+0000 NULL",
            ]
        );
    }

    #[test]
    fn payout_validation_lists_every_problem() {
        let req = PayoutRequest {
            payout_cl_id: "x".repeat(33),
            amount: Fen::ZERO,
            bank_name: String::new(),
            name: " ".into(),
            number: "12ab".into(),
            bank_branch: None,
            province: None,
            city: None,
            notify_url: Some("ftp://x".into()),
        };
        let fields: Vec<_> = req.validate().into_iter().map(|e| e.field).collect();
        assert_eq!(
            fields,
            [
                "payout_cl_id",
                "amount",
                "bank_name",
                "name",
                "number",
                "notify_url"
            ]
        );
    }

    #[test]
    fn create_outcomes_never_guess() {
        let accepted =
            parse_create_reply(200, br#"{"error_code":"0000","data":{"payout_id":"POT1"}}"#);
        assert_eq!(
            accepted,
            CreateOutcome::Accepted {
                payout_id: "POT1".into()
            }
        );
        let rejected = parse_create_reply(200, br#"{"error_code":"0014","error_msg":"dup"}"#);
        assert!(matches!(rejected, CreateOutcome::Rejected { ref code, .. } if code == "0014"));
        for (status, body) in [
            (500, &br#"{"error_code":"0017"}"#[..]),
            (502, b"<html>bad gateway</html>"),
            (200, b""),
            (200, b"{\"error_code\":"),
            (200, br#"{"error_code":"0000"}"#),
            (200, br#"{"error_code":"0001","error_msg":"network delay"}"#),
            (404, b"not found"),
            (200, b"[]"),
        ] {
            assert!(
                matches!(
                    parse_create_reply(status, body),
                    CreateOutcome::Unknown { .. }
                ),
                "{status} {}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
