//! The merchant's balance reply: the total and each channel, every part with its own `sign`.
#![deny(clippy::float_arithmetic)]

use serde_json::{Map, Value};

use super::errors::envelope;
use super::order::{exact_data, exact_object};
use super::{ReplyError, SignatureCheck, field_fen, field_text};
use crate::gateway::cny::sign::{
    Check, ExactError, ExactObject, ExactValue, SignOptions, Verification, verify_exact,
};
use crate::money::Fen;
use crate::secret::Secret;

/// One channel's balance entry; each carries its own `sign`.
#[derive(Clone, Debug)]
pub struct ChannelBalance {
    pub raw: Map<String, Value>,
    pub channel_id: String,
    pub balance: Option<Fen>,
    pub signature: SignatureCheck,
}

/// The merchant's balance; the outer `sign` covers the scalar fields.
#[derive(Clone, Debug)]
pub struct Balance {
    pub raw: Map<String, Value>,
    /// `total_balance`, as real clients read it, else `balance`.
    pub balance: Option<Fen>,
    pub signature: SignatureCheck,
    /// Whether the reply carried an outer `sign` at all: how the balance is signed is not
    /// documented, so one without is "not signed" rather than invalid.
    pub signed: bool,
    pub channels: Vec<ChannelBalance>,
}

impl Balance {
    /// The verdict on the outer `sign` as the CLI prints it.
    pub fn signature_word(&self) -> &'static str {
        if self.signed {
            self.signature.word()
        } else {
            "not signed"
        }
    }
}

pub fn parse_balance_reply(
    status: u16,
    body: &[u8],
    key: Option<&Secret>,
    options: SignOptions,
) -> Result<Balance, ReplyError> {
    let map = envelope(status, body)?;
    let Some(Value::Object(data)) = map.get("data") else {
        return Err(ReplyError::Malformed("data is not an object".to_owned()));
    };
    // The signatures are checked on the text as carried; a repeated key anywhere in `data`
    // leaves the balance and every channel unreadable, never valid.
    let exact = exact_data(body)?
        .ok_or_else(|| ReplyError::Malformed("data is not an object".to_owned()))
        .map(exact_object)?;
    let check = |exact: Result<&ExactObject, &ExactError>| match (key, exact) {
        (Some(k), Ok(e)) => SignatureCheck::Checked(Check::from(&verify_exact(e, k, options))),
        (Some(_), Err(why)) => SignatureCheck::Checked(Check::from(&Verification::unreadable(why))),
        (None, _) => SignatureCheck::Unchecked,
    };
    let exact_channels: Vec<&ExactObject> = match exact.as_ref().map(|d| d.get("platform_channels"))
    {
        Ok(Some(ExactValue::Array(items))) => items
            .iter()
            .filter_map(|v| match v {
                ExactValue::Object(o) => Some(o),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let channels = match data.get("platform_channels") {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .enumerate()
            .map(|(i, raw)| ChannelBalance {
                channel_id: field_text(raw, "platform_channel_id"),
                balance: field_fen(raw, "balance"),
                signature: match (&exact, exact_channels.get(i)) {
                    (Err(why), _) => check(Err(why)),
                    (Ok(_), Some(e)) => check(Ok(*e)),
                    (Ok(_), None) => check(Err(&ExactError::Syntax(
                        "the channel could not be read exactly".to_owned(),
                    ))),
                },
                raw: raw.clone(),
            })
            .collect(),
        _ => Vec::new(),
    };
    let signed = data.contains_key("sign");
    Ok(Balance {
        balance: field_fen(data, "total_balance").or_else(|| field_fen(data, "balance")),
        signature: if signed {
            check(exact.as_ref())
        } else {
            SignatureCheck::Unchecked
        },
        signed,
        channels,
        raw: data.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_balance_is_read_first_and_balance_is_the_fallback() {
        let key = Secret::new("k");
        let read = |body: &str| {
            parse_balance_reply(200, body.as_bytes(), Some(&key), SignOptions::default()).unwrap()
        };
        let both = read(r#"{"error_code":"0000","data":{"total_balance":500,"balance":7}}"#);
        assert_eq!(both.balance, Some(Fen::from_fen(500)));
        assert_eq!(both.signature_word(), "not signed");
        let old = read(r#"{"error_code":"0000","data":{"balance":"12.50","sign":"00"}}"#);
        assert_eq!(old.balance, Some(Fen::from_fen(1250)));
        assert_eq!(old.signature_word(), "invalid");
    }
}
