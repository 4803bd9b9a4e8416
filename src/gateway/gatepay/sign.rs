//! GatePay's request and callback signature: HMAC-SHA512 over
//! `timestamp\nnonce\nbody\n`, lowercase hex (the official Go and Java SDKs).
#![deny(clippy::float_arithmetic)]

use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha512;

use crate::secret::Secret;

type HmacSha512 = Hmac<Sha512>;

fn mac(secret: &Secret, timestamp: &str, nonce: &str, body: &[u8]) -> HmacSha512 {
    // HMAC takes keys of any length, so this cannot fail.
    let Ok(mut mac) = HmacSha512::new_from_slice(secret.expose().as_bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(timestamp.as_bytes());
    mac.update(b"\n");
    mac.update(nonce.as_bytes());
    mac.update(b"\n");
    mac.update(body);
    mac.update(b"\n");
    mac
}

/// The `X-GatePay-Signature` for the exact bytes of a body (`b""` for a GET).
pub fn signature(secret: &Secret, timestamp: &str, nonce: &str, body: &[u8]) -> String {
    hex::encode(mac(secret, timestamp, nonce, body).finalize().into_bytes())
}

/// The printable form of what is signed, for explanations (`\n` shown as `\n`).
pub fn payload_preview(timestamp: &str, nonce: &str, body: &[u8]) -> String {
    format!(
        "{timestamp}\\n{nonce}\\n{}\\n",
        String::from_utf8_lossy(body)
    )
}

/// What a GatePay signature check concluded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GatePayVerdict {
    Valid,
    Mismatch,
    /// Not 128 hex characters.
    Malformed,
}

impl GatePayVerdict {
    pub fn describe(self) -> &'static str {
        match self {
            GatePayVerdict::Valid => "valid",
            GatePayVerdict::Mismatch => {
                "invalid: the signature does not match this body, timestamp, nonce and secret"
            }
            GatePayVerdict::Malformed => "invalid: the signature is not 128 hexadecimal characters",
        }
    }
}

/// Verifies a signature over the raw body as received, in constant time.
pub fn verify(
    secret: &Secret,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
    received: &str,
) -> GatePayVerdict {
    let mut got = [0u8; 64];
    if received.len() != 128 || hex::decode_to_slice(received, &mut got).is_err() {
        return GatePayVerdict::Malformed;
    }
    match mac(secret, timestamp, nonce, body).verify_slice(&got) {
        Ok(()) => GatePayVerdict::Valid,
        Err(_) => GatePayVerdict::Mismatch,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Deserialize)]
    struct Vectors {
        gatepay_hmac_sha512: Vec<GpVector>,
    }

    #[derive(Deserialize)]
    struct GpVector {
        name: String,
        secret: String,
        timestamp: String,
        nonce: String,
        body: String,
        signature: String,
    }

    #[test]
    fn reproduces_the_shared_vector() {
        let vectors: Vectors =
            serde_json::from_str(include_str!("../../../tests/fixtures/vectors.json")).unwrap();
        assert!(!vectors.gatepay_hmac_sha512.is_empty());
        for v in vectors.gatepay_hmac_sha512 {
            let secret = Secret::new(v.secret);
            let got = signature(&secret, &v.timestamp, &v.nonce, v.body.as_bytes());
            assert_eq!(got, v.signature, "{}", v.name);
            assert_eq!(got.len(), 128);
            let verdict = verify(
                &secret,
                &v.timestamp,
                &v.nonce,
                v.body.as_bytes(),
                &v.signature.to_uppercase(),
            );
            assert_eq!(verdict, GatePayVerdict::Valid, "{}", v.name);
            let reserialised = v.body.replace(',', ", ");
            assert_eq!(
                verify(
                    &secret,
                    &v.timestamp,
                    &v.nonce,
                    reserialised.as_bytes(),
                    &v.signature
                ),
                GatePayVerdict::Mismatch
            );
        }
    }

    #[test]
    fn malformed_signatures_fail_closed() {
        let s = Secret::new("x");
        assert_eq!(verify(&s, "1", "n", b"", ""), GatePayVerdict::Malformed);
        assert_eq!(
            verify(&s, "1", "n", b"", &"g".repeat(128)),
            GatePayVerdict::Malformed
        );
        assert_eq!(
            verify(&s, "1", "n", b"", &"0".repeat(64)),
            GatePayVerdict::Malformed
        );
    }

    proptest! {
        #[test]
        fn round_trips(secret in "\\PC{0,40}", ts in "[0-9]{13}", nonce in "[a-zA-Z0-9]{1,32}", body in prop::collection::vec(any::<u8>(), 0..200)) {
            let s = Secret::new(secret);
            let sig = signature(&s, &ts, &nonce, &body);
            prop_assert_eq!(verify(&s, &ts, &nonce, &body, &sig), GatePayVerdict::Valid);
        }
    }
}
