//! The merchant's balance reply: the total and each channel, every part with its own `sign`.
#![deny(clippy::float_arithmetic)]

use serde_json::{Map, Value};

use super::errors::envelope;
use super::order::{exact_data, exact_object};
use super::{ReplyError, SignatureCheck, field_int, field_text};
use crate::gateway::cny::sign::{
    ExactError, ExactObject, ExactValue, SignOptions, Verification, verify_exact,
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
    pub balance: Option<Fen>,
    pub signature: SignatureCheck,
    pub channels: Vec<ChannelBalance>,
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
        (Some(k), Ok(e)) => SignatureCheck::Checked(verify_exact(e, k, options)),
        (Some(_), Err(why)) => SignatureCheck::Checked(Verification::unreadable(why)),
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
                balance: field_int(raw, "balance").map(Fen::from_fen),
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
    Ok(Balance {
        balance: field_int(data, "balance").map(Fen::from_fen),
        signature: check(exact.as_ref()),
        channels,
        raw: data.clone(),
    })
}
