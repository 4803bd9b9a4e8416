//! "Test connection": one cheap, read-only request that proves a profile's settings and
//! secrets are accepted, shared by `paydesk profile test` and the console's profile form.

use std::sync::Arc;

use super::credentials::{CredentialError, cny_from_profile, gatepay_from_profile};
use super::profiles::{GatewayKind, Profile, SecretKind};
use crate::clock::{RandomNonce, SystemClock};
use crate::gateway::cny::wire::{OrderKind, OrderQuery};
use crate::gateway::cny::{CnyClient, CnyError};
use crate::gateway::gatepay::wire::DetailStatus;
use crate::gateway::gatepay::{GatePayClient, GatePayClientError};
use crate::gateway::http::HttpSettings;
use crate::secret::Secret;

/// A batch ID no merchant has: GatePay answering "not found" for it proves that the signature
/// and the account were accepted, without touching any real batch.
pub const PROBE_BATCH_ID: &str = "PAYDESK_CONNECTION_TEST";

/// What the gateway said to the probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionReport {
    Cny {
        platform_id: String,
        /// How many payouts the gateway shows this merchant.
        payouts_total: u64,
    },
    GatePay {
        /// The probe's batch ID unexpectedly exists.
        batch_found: bool,
        /// This computer's clock is far from GatePay's.
        clock_warning: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// A secret the probe needs was neither typed in nor stored.
    #[error("no {} for profile '{profile}'", kind.label())]
    MissingSecret { profile: String, kind: SecretKind },
    #[error(transparent)]
    Credentials(#[from] CredentialError),
    /// The gateway refused the request or could not be reached.
    #[error(transparent)]
    Cny(#[from] CnyError),
    #[error(transparent)]
    GatePay(#[from] GatePayClientError),
    /// The gateway answered, but not one of its orders verified with the profile's MD5 key
    /// (and signing switches): every reply would then show as invalid.
    #[error(
        "the gateway answered, but none of the {checked} order(s) it sent verified with this MD5 key: \
         check the MD5 key and the signing switches"
    )]
    SignaturesFail { checked: usize },
}

/// The gateway's own code in a failed probe, or "".
fn connection_code(e: &ConnectionError) -> &str {
    match e {
        ConnectionError::Cny(e) => e.gateway_code().unwrap_or(""),
        ConnectionError::GatePay(e) => e.gateway_code().unwrap_or(""),
        _ => "",
    }
}

/// The secrets a probe of this gateway cannot do without (the CNY MD5 key only checks replies).
fn required(gateway: GatewayKind) -> &'static [SecretKind] {
    match gateway {
        GatewayKind::Cny => &[SecretKind::AuthToken],
        GatewayKind::Gatepay => &[SecretKind::GatepaySecret],
    }
}

/// Probes the gateway of `profile` with `secrets` (the caller's: typed in, or from the
/// keyring). CNY: a one-order payout query; GatePay: the detail of [`PROBE_BATCH_ID`].
pub async fn test_connection(
    profile: &Profile,
    secrets: &[(SecretKind, Secret)],
    http: HttpSettings,
) -> Result<ConnectionReport, ConnectionError> {
    let result = probe(profile, secrets, http).await;
    let gateway = match profile.gateway {
        GatewayKind::Cny => "cny",
        GatewayKind::Gatepay => "gatepay",
    };
    let name = profile.name.as_str();
    if let Err(e) = &result {
        // The error's own words and code only: the rest may quote what the gateway sent.
        tracing::info!(
            target: "paydesk::connection",
            profile = name,
            gateway,
            error = crate::logging::own_words(&e.to_string()),
            code = connection_code(e),
            "connection failed"
        );
    } else {
        tracing::info!(target: "paydesk::connection", profile = name, gateway, "connection works");
    }
    result
}

async fn probe(
    profile: &Profile,
    secrets: &[(SecretKind, Secret)],
    http: HttpSettings,
) -> Result<ConnectionReport, ConnectionError> {
    if let Some(kind) = required(profile.gateway)
        .iter()
        .find(|kind| !secrets.iter().any(|(k, _)| k == *kind))
    {
        return Err(ConnectionError::MissingSecret {
            profile: profile.name.clone(),
            kind: *kind,
        });
    }
    match profile.gateway {
        GatewayKind::Cny => {
            let config = cny_from_profile(profile, secrets).client_config(http)?;
            let client = CnyClient::new(config, Arc::new(SystemClock))?;
            // A few orders, not one: a single tampered order must not fail a good key, and a
            // wrong key fails every one of them.
            let query = OrderQuery {
                limit: 20,
                ..OrderQuery::default()
            };
            let page = client.query(OrderKind::Payout, &query).await?;
            let checked: Vec<&str> = page
                .orders
                .iter()
                .map(|o| o.signature.word())
                .filter(|w| *w != "unchecked")
                .collect();
            if !checked.is_empty() && checked.iter().all(|w| *w == "invalid") {
                return Err(ConnectionError::SignaturesFail {
                    checked: checked.len(),
                });
            }
            Ok(ConnectionReport::Cny {
                platform_id: profile.platform_id.clone(),
                payouts_total: page.total,
            })
        }
        GatewayKind::Gatepay => {
            let config = gatepay_from_profile(profile, secrets, http)?;
            let client = GatePayClient::new(config, Arc::new(SystemClock), Arc::new(RandomNonce))?;
            let batch_found = match client.batch_detail(PROBE_BATCH_ID, DetailStatus::All).await {
                Ok(_) => true,
                Err(e) if e.is_not_found() => false,
                Err(e) => return Err(e.into()),
            };
            Ok(ConnectionReport::GatePay {
                batch_found,
                clock_warning: client.clock_warning(),
            })
        }
    }
}
