//! The merchant the console is talking to: clients built from a profile (secrets read from
//! the keyring once, on a blocking thread) or from the in-process sandbox.

use std::path::Path;
use std::sync::Arc;

use paydesk::clock::{RandomNonce, SystemClock};
use paydesk::domain::credentials::{Need, resolve_cny, resolve_gatepay};
use paydesk::domain::profiles::banks_for;
use paydesk::domain::profiles::{GatewayKind, Profiles, SecretKind, SecretStore};
use paydesk::gateway::cny::banks::{Bank, default_banks};
use paydesk::gateway::cny::sign::SignOptions;
use paydesk::gateway::cny::wire::{OrderKind, OrderQuery};
use paydesk::gateway::cny::{Brand, CnyClient, CnyConfig};
use paydesk::gateway::gatepay::wire::DetailStatus;
use paydesk::gateway::gatepay::{GatePayClient, GatePayConfig};
use paydesk::gateway::http::{HttpSettings, parse_base_url};
use paydesk::sandbox::SandboxHandle;
use paydesk::secret::Secret;

use crate::console::context::Marker;
use crate::console::panels::profiles::ProfileForm;

#[derive(Clone, Debug)]
pub struct Connection {
    pub profile_name: String,
    pub marker: Marker,
    pub cny: Option<CnyClient>,
    pub gatepay: Option<GatePayClient>,
    /// The bank list payouts choose from.
    pub banks: Vec<Bank>,
}

impl Connection {
    pub fn md5_key(&self) -> Option<(Secret, SignOptions)> {
        let config = self.cny.as_ref()?.config();
        Some((config.md5_key.clone()?, config.sign_options))
    }

    /// Both gateways of the in-process sandbox.
    pub fn sandbox(handle: &SandboxHandle) -> Result<Connection, String> {
        let base = parse_base_url(handle.base_url()).map_err(|e| e.to_string())?;
        let info = &handle.info;
        let cny = CnyClient::new(
            CnyConfig {
                base_url: base.clone(),
                platform_id: info.cny.platform_id.clone(),
                auth_token: info.cny.auth_token.clone(),
                md5_key: Some(info.cny.md5_key.clone()),
                sign_options: SignOptions::default(),
                brand: Brand::default(),
                banks: default_banks(),
                http: HttpSettings::default(),
            },
            Arc::new(SystemClock),
        )
        .map_err(|e| e.to_string())?;
        let gatepay = GatePayClient::new(
            GatePayConfig {
                base_url: base,
                client_id: info.gatepay.client_id.clone(),
                secret: info.gatepay.secret.clone(),
                on_behalf_of: info.gatepay.on_behalf_of.clone(),
                http: HttpSettings::default(),
            },
            Arc::new(SystemClock),
            Arc::new(RandomNonce),
        )
        .map_err(|e| e.to_string())?;
        Ok(Connection {
            profile_name: "Sandbox".to_owned(),
            marker: Marker::Sandbox,
            cny: Some(cny),
            gatepay: Some(gatepay),
            banks: default_banks(),
        })
    }
}

/// Builds the clients of a stored profile. Blocks on the keyring: call off the UI thread.
pub fn from_profile(
    dir: Option<&Path>,
    store: Arc<dyn SecretStore>,
    name: &str,
) -> Result<Connection, String> {
    let dir = dir.ok_or("This system has no config directory for profiles")?;
    let profiles = Profiles::load(dir, store).map_err(|e| e.to_string())?;
    let profile = profiles
        .get(name)
        .ok_or_else(|| format!("No profile is named “{name}”"))?
        .clone();
    let no_env = |_: &str| None;
    let marker = if profile.live {
        Marker::Live
    } else {
        Marker::Test
    };
    let mut connection = Connection {
        profile_name: profile.name.clone(),
        marker,
        cny: None,
        gatepay: None,
        banks: banks_for(Some(dir), name)?,
    };
    match profile.gateway {
        GatewayKind::Cny => {
            let creds = resolve_cny(&no_env, Some(&profiles), Some(name), Need::All)
                .map_err(|e| e.to_string())?;
            let config = creds
                .client_config(HttpSettings::default())
                .map_err(|e| e.to_string())?;
            connection.cny =
                Some(CnyClient::new(config, Arc::new(SystemClock)).map_err(|e| e.to_string())?);
        }
        GatewayKind::Gatepay => {
            let config = resolve_gatepay(
                &no_env,
                Some(&profiles),
                Some(name),
                HttpSettings::default(),
            )
            .map_err(|e| e.to_string())?;
            connection.gatepay = Some(
                GatePayClient::new(config, Arc::new(SystemClock), Arc::new(RandomNonce))
                    .map_err(|e| e.to_string())?,
            );
        }
    }
    Ok(connection)
}

/// "Test connection" for the profile form: the typed secrets, or else the stored ones.
pub async fn test_form(
    form: ProfileForm,
    store: Arc<dyn SecretStore>,
    runtime: tokio::runtime::Handle,
) -> Result<String, String> {
    let profile = form.to_profile()?;
    let typed = form.secrets();
    let name = profile.name.clone();
    let kinds = profile.gateway.secret_kinds();
    // Secrets not typed in come from the keyring, on a blocking thread.
    let secrets: Vec<(SecretKind, Secret)> = runtime
        .spawn_blocking(move || {
            let mut all = typed;
            for kind in kinds {
                if !all.iter().any(|(t, _)| t == kind)
                    && let Ok(Some(s)) = store.get(&name, *kind)
                {
                    all.push((*kind, s));
                }
            }
            all
        })
        .await
        .map_err(|e| e.to_string())?;
    let secret = |kind: SecretKind| {
        secrets
            .iter()
            .find(|(k, _)| *k == kind)
            .map(|(_, s)| s.clone())
            .ok_or_else(|| format!("Enter the {} to test the connection", kind.label()))
    };
    let base_url = parse_base_url(&profile.base_url).map_err(|e| e.to_string())?;
    let http = HttpSettings::default();
    match profile.gateway {
        GatewayKind::Cny => {
            let config = CnyConfig {
                base_url,
                platform_id: profile.platform_id.clone(),
                auth_token: secret(SecretKind::AuthToken)?,
                md5_key: secret(SecretKind::Md5Key).ok(),
                sign_options: profile.sign,
                brand: profile.brand.clone(),
                banks: default_banks(),
                http,
            };
            let client =
                CnyClient::new(config, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
            let page = client
                .query(
                    OrderKind::Payout,
                    &OrderQuery {
                        limit: 1,
                        ..OrderQuery::default()
                    },
                )
                .await
                .map_err(|e| format!("Connection failed: {e}"))?;
            Ok(format!(
                "Connected: the gateway shows {} payouts for {}",
                page.total, profile.platform_id
            ))
        }
        GatewayKind::Gatepay => {
            let config = GatePayConfig {
                base_url,
                client_id: profile.client_id.clone(),
                secret: secret(SecretKind::GatepaySecret)?,
                on_behalf_of: profile.on_behalf_of.clone(),
                http,
            };
            let client = GatePayClient::new(config, Arc::new(SystemClock), Arc::new(RandomNonce))
                .map_err(|e| e.to_string())?;
            // A batch that cannot exist: "not found" proves the signature and account were accepted.
            match client
                .batch_detail("PAYDESK_CONNECTION_TEST", DetailStatus::All)
                .await
            {
                Ok(_) => Ok("Connected: GatePay accepted the credentials".to_owned()),
                Err(e) if e.is_not_found() => {
                    Ok("Connected: GatePay accepted the credentials".to_owned())
                }
                Err(e) => Err(format!("Connection failed: {e}")),
            }
        }
    }
}
