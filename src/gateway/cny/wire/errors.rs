//! The gateway's published error codes and the reply envelope every CNY reply shares.
#![deny(clippy::float_arithmetic)]

use serde::Serialize;
use serde_json::{Map, Value};

use super::field_text;
use crate::gateway::http::snippet;

/// The published error codes (「全局错误码」) with their meaning.
pub const ERROR_CODES: &[(&str, &str)] = &[
    ("0000", "success"),
    ("0001", "network delay"),
    ("0002", "invalid request parameters"),
    ("0003", "service closed"),
    ("0004", "signature verification failed"),
    ("0005", "Authorization missing"),
    ("0006", "invalid Authorization"),
    ("0007", "deposit record not found"),
    ("0008", "bank card not found"),
    ("0009", "wrong service_id"),
    ("0010", "service not enabled for this merchant"),
    ("0011", "no card available"),
    ("0012", "this gateway does not support that bank"),
    ("0013", "create deposit failed"),
    ("0014", "duplicate merchant order number"),
    ("0015", "channel not found"),
    ("0016", "unknown fee type"),
    ("0017", "create payout failed"),
    ("0018", "insufficient balance"),
    ("0019", "platform_channel_id required"),
    ("0020", "wrong API version"),
    ("0021", "invalid JSON"),
    ("0022", "unsupported content type"),
    ("0023", "unsupported method"),
    ("0024", "update deposit failed"),
    ("0025", "update channel failed"),
    ("0026", "last_number required"),
    ("0027", "host not allowed"),
    ("0028", "amount below the minimum"),
    ("0029", "amount above the maximum"),
];

/// The meaning of an error code, or a plain statement that the code is not in the list.
pub fn error_meaning(code: &str) -> &'static str {
    ERROR_CODES.iter().find(|(c, _)| *c == code).map_or(
        "an error code not in the gateway's published list",
        |(_, m)| m,
    )
}

/// The gateway answered with one of its own error codes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error, Serialize)]
#[error(
    "gateway error {code}: {}{}",
    error_meaning(code),
    said_beyond(error_meaning(code), message, "the gateway said")
)]
pub struct GatewayError {
    pub code: String,
    /// The gateway's `error_msg`, as it sent it.
    pub message: String,
}

impl GatewayError {
    pub fn meaning(&self) -> &'static str {
        error_meaning(&self.code)
    }
}

/// What a gateway's own message adds to the meaning of its code, if anything.
pub(crate) fn said_beyond(meaning: &str, message: &str, who: &str) -> String {
    let m = message.trim();
    let rest = if m.len() >= meaning.len()
        && m.is_char_boundary(meaning.len())
        && m[..meaning.len()].eq_ignore_ascii_case(meaning)
    {
        m[meaning.len()..].trim_start_matches([':', ' ', '!', '.'])
    } else {
        m
    };
    if rest.is_empty() {
        String::new()
    } else {
        format!(" ({who}: {rest})")
    }
}
/// Why a reply could not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error("the gateway's reply is not what the API describes: {0}")]
    Malformed(String),
    #[error("the gateway answered HTTP {status}: {snippet}")]
    Http { status: u16, snippet: String },
}

/// Reads the envelope `{"error_code": …}` shared by every reply; anything but `0000`
/// becomes the gateway's error.
pub(super) fn envelope(status: u16, body: &[u8]) -> Result<Map<String, Value>, ReplyError> {
    let parsed: Result<Value, _> = serde_json::from_slice(body);
    let Ok(Value::Object(map)) = parsed else {
        return Err(if (200..300).contains(&status) {
            ReplyError::Malformed(format!("not a JSON object: {}", snippet(body)))
        } else {
            ReplyError::Http {
                status,
                snippet: snippet(body),
            }
        });
    };
    let code = map
        .get("error_code")
        .map(|_| field_text(&map, "error_code"));
    match code {
        Some(code) if code == "0000" => Ok(map),
        Some(code) if !code.is_empty() => Err(ReplyError::Gateway(GatewayError {
            code,
            message: field_text(&map, "error_msg"),
        })),
        _ if !(200..300).contains(&status) => Err(ReplyError::Http {
            status,
            snippet: snippet(body),
        }),
        _ => Err(ReplyError::Malformed("no error_code".to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::cny::sign::SignOptions;
    use crate::gateway::cny::wire::{OrderKind, OrderQuery, parse_query_reply};

    #[test]
    fn gateway_errors_carry_their_meaning() {
        let err = parse_query_reply(
            OrderKind::Deposit,
            &OrderQuery::default(),
            200,
            br#"{"error_code":"0006","error_msg":"Invalid Authorization!"}"#,
            None,
            SignOptions::default(),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "gateway error 0006: invalid Authorization");
        let extra = GatewayError {
            code: "0002".into(),
            message: "invalid request parameters: limit must be at least 1".into(),
        };
        assert_eq!(
            extra.to_string(),
            "gateway error 0002: invalid request parameters (the gateway said: limit must be at least 1)"
        );
        assert_eq!(ERROR_CODES.len(), 30);
        assert_eq!(
            error_meaning("0012"),
            "this gateway does not support that bank"
        );
        assert!(error_meaning("9999").contains("not in"));
    }
}
