//! The merchant the console is talking to: clients built from a profile (secrets read from
//! the keyring once, on a blocking thread) or from the in-process sandbox.

use std::path::Path;
use std::sync::Arc;

use paydesk::clock::{RandomNonce, SystemClock};
use paydesk::domain::connection::{ConnectionError, ConnectionReport, test_connection};
use paydesk::domain::credentials::{
    CnyCredentials, Need, TeamJournalAccess, gatepay_config, resolve_cny, resolve_gatepay,
    resolve_team_journal,
};
use paydesk::domain::profiles::banks_for;
use paydesk::domain::profiles::{GatewayKind, Profiles, SecretKind, SecretStore};
use paydesk::gateway::cny::CnyClient;
use paydesk::gateway::cny::banks::{Bank, default_banks};
use paydesk::gateway::cny::sign::SignOptions;
use paydesk::gateway::gatepay::GatePayClient;
use paydesk::gateway::http::HttpSettings;
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
    /// The team journal the profile records payouts in; `None`: the desktop's own journal.
    pub team_journal: Option<TeamSetting>,
}

/// A profile's team journal as read with its secrets: where it is, and its role's password
/// from the keyring, or why it cannot be used (nothing then falls back to the desktop).
#[derive(Clone, Debug)]
pub struct TeamSetting {
    /// `user@host:port/db`, or the address as the profile writes it when it does not read.
    pub target: String,
    pub access: Result<TeamJournalAccess, String>,
}

impl Connection {
    pub fn md5_key(&self) -> Option<(Secret, SignOptions)> {
        let config = self.cny.as_ref()?.config();
        Some((config.md5_key.clone()?, config.sign_options))
    }

    /// Both gateways of the in-process sandbox.
    pub fn sandbox(handle: &SandboxHandle) -> Result<Connection, String> {
        let base = handle.base_url().to_owned();
        let info = &handle.info;
        let cny_config = CnyCredentials {
            base_url: Some(base.clone()),
            platform_id: Some(info.cny.platform_id.clone()),
            auth_token: Some(info.cny.auth_token.clone()),
            md5_key: Some(info.cny.md5_key.clone()),
            sign_options: SignOptions::default(),
            brand: paydesk::gateway::cny::Brand::default(),
            banks: None,
            source: "sandbox".to_owned(),
        }
        .client_config(HttpSettings::default())
        .map_err(|e| e.to_string())?;
        let cny = CnyClient::new(cny_config, Arc::new(SystemClock)).map_err(|e| e.to_string())?;
        let gatepay_config = gatepay_config(
            Some(base),
            Some(info.gatepay.client_id.clone()),
            Some(info.gatepay.on_behalf_of.clone()),
            Some(info.gatepay.secret.clone()),
            HttpSettings::default(),
        )
        .map_err(|e| e.to_string())?;
        let gatepay =
            GatePayClient::new(gatepay_config, Arc::new(SystemClock), Arc::new(RandomNonce))
                .map_err(|e| e.to_string())?;
        Ok(Connection {
            profile_name: "Sandbox".to_owned(),
            marker: Marker::Sandbox,
            cny: Some(cny),
            gatepay: Some(gatepay),
            banks: default_banks(),
            team_journal: None,
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
        team_journal: profile.team_journal.as_ref().map(|written| {
            match resolve_team_journal(&profiles, &profile) {
                Ok(Some(access)) => TeamSetting {
                    target: access.url.target(),
                    access: Ok(access),
                },
                Ok(None) => TeamSetting {
                    target: written.clone(),
                    access: Err("the profile's team journal address is empty".to_owned()),
                },
                Err(e) => TeamSetting {
                    target: written.clone(),
                    access: Err(e.to_string()),
                },
            }
        }),
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
    match test_connection(&profile, &secrets, HttpSettings::default()).await {
        Ok(ConnectionReport::Cny {
            platform_id,
            payouts_total,
        }) => Ok(format!(
            "Connected: the gateway shows {payouts_total} payouts for {platform_id}"
        )),
        Ok(ConnectionReport::GatePay { .. }) => {
            Ok("Connected: GatePay accepted the credentials".to_owned())
        }
        Err(ConnectionError::MissingSecret { kind, .. }) => {
            Err(format!("Enter the {} to test the connection", kind.label()))
        }
        Err(ConnectionError::Credentials(e)) => Err(e.to_string()),
        Err(e) => Err(format!("Connection failed: {e}")),
    }
}
