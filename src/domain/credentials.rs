//! Where a command's credentials come from: the environment (for automation, and it wins),
//! else the chosen profile with its secrets from the keyring. The keyring is only asked for
//! what the environment did not give.

use super::banks::{Bank, default_banks};
use super::journal::team::TeamUrl;
use super::profiles::{GatewayKind, Profile, ProfileError, Profiles, SecretKind};
use crate::gateway::cny::brand::Brand;
use crate::gateway::cny::client::CnyConfig;
use crate::gateway::cny::sign::SignOptions;
use crate::gateway::gatepay::client::GatePayConfig;
use crate::gateway::http::{BaseUrlError, HttpSettings, parse_base_url};
use crate::secret::Secret;

pub const ENV_CNY_BASE_URL: &str = "PAYDESK_CNY_BASE_URL";
pub const ENV_CNY_PLATFORM_ID: &str = "PAYDESK_CNY_PLATFORM_ID";
pub const ENV_CNY_AUTH_TOKEN: &str = "PAYDESK_CNY_AUTH_TOKEN";
pub const ENV_CNY_MD5_KEY: &str = "PAYDESK_CNY_MD5_KEY";
pub const ENV_GATEPAY_BASE_URL: &str = "PAYDESK_GATEPAY_BASE_URL";
pub const ENV_GATEPAY_CLIENT_ID: &str = "PAYDESK_GATEPAY_CLIENT_ID";
pub const ENV_GATEPAY_SECRET: &str = "PAYDESK_GATEPAY_SECRET";
pub const ENV_GATEPAY_ON_BEHALF_OF: &str = "PAYDESK_GATEPAY_ON_BEHALF_OF";

/// GatePay's production base URL, the default of a GatePay profile.
pub const GATEPAY_DEFAULT_BASE_URL: &str = "https://openplatform.gateapi.io";

#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error("no {what} for the {gateway}: set {env}, or add a profile with `paydesk profile add`")]
    Missing {
        what: &'static str,
        gateway: &'static str,
        env: &'static str,
    },
    #[error(transparent)]
    Profile(#[from] ProfileError),
    // Transparent: the CLI prints the source chain, and each message already says "base URL".
    #[error(transparent)]
    BaseUrl(#[from] BaseUrlError),
}

/// Reads one environment variable; empty counts as unset.
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

pub fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The credentials of the CNY gateway as far as they could be found.
#[derive(Clone, Debug, Default)]
pub struct CnyCredentials {
    pub base_url: Option<String>,
    pub platform_id: Option<String>,
    pub auth_token: Option<Secret>,
    pub md5_key: Option<Secret>,
    pub sign_options: SignOptions,
    /// The profile's bank field and API paths.
    pub brand: Brand,
    /// The profile's bank list; `None`: the shipped one.
    pub banks: Option<Vec<Bank>>,
    /// Where they came from, for messages: `environment`, `profile 'Acme'`.
    pub source: String,
}

/// What a command needs from the keyring.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Need {
    /// Only the MD5 key (verify, sign).
    SigningKey,
    /// Token and key, and the key is optional (queries: without it, signatures are unchecked).
    Query,
    /// Everything (payouts).
    All,
}

fn secret_or(
    env_value: Option<String>,
    profiles: Option<&Profiles>,
    profile: Option<&Profile>,
    kind: SecretKind,
    wanted: bool,
) -> Result<Option<Secret>, ProfileError> {
    if let Some(v) = env_value {
        return Ok(Some(Secret::new(v)));
    }
    match (wanted, profiles, profile) {
        (true, Some(ps), Some(p)) => match ps.secret(&p.name, kind) {
            Ok(s) => Ok(Some(s)),
            Err(ProfileError::SecretMissing { .. }) => Ok(None),
            Err(e) => Err(e),
        },
        _ => Ok(None),
    }
}

/// Gathers the CNY gateway's credentials: environment first, then the profile.
pub fn resolve_cny(
    env: EnvLookup<'_>,
    profiles: Option<&Profiles>,
    profile_name: Option<&str>,
    need: Need,
) -> Result<CnyCredentials, CredentialError> {
    let profile = match profiles {
        Some(ps) => ps.pick(profile_name, GatewayKind::Cny)?,
        None => None,
    };
    let from_env = [ENV_CNY_BASE_URL, ENV_CNY_AUTH_TOKEN, ENV_CNY_MD5_KEY]
        .iter()
        .any(|n| env(n).is_some());
    let wants_token = need != Need::SigningKey;
    Ok(CnyCredentials {
        base_url: env(ENV_CNY_BASE_URL).or_else(|| profile.map(|p| p.base_url.clone())),
        platform_id: env(ENV_CNY_PLATFORM_ID).or_else(|| profile.map(|p| p.platform_id.clone())),
        auth_token: secret_or(
            env(ENV_CNY_AUTH_TOKEN),
            profiles,
            profile,
            SecretKind::AuthToken,
            wants_token,
        )?,
        md5_key: secret_or(
            env(ENV_CNY_MD5_KEY),
            profiles,
            profile,
            SecretKind::Md5Key,
            true,
        )?,
        sign_options: profile.map(|p| p.sign).unwrap_or_default(),
        brand: profile.map(|p| p.brand.clone()).unwrap_or_default(),
        // A list that cannot be read leaves none: a code or ID is then refused, never guessed.
        banks: match (profiles, profile) {
            (Some(ps), Some(p)) => {
                Some(super::profiles::banks_for(ps.path().parent(), &p.name).unwrap_or_default())
            }
            _ => None,
        },
        source: match (from_env, profile) {
            (true, Some(p)) => format!("environment and profile '{}'", p.name),
            (true, None) => "environment".to_owned(),
            (false, Some(p)) => format!("profile '{}'", p.name),
            (false, None) => "nothing configured".to_owned(),
        },
    })
}

const CNY: &str = "CNY gateway";

impl CnyCredentials {
    pub fn require_md5_key(&self) -> Result<&Secret, CredentialError> {
        self.md5_key.as_ref().ok_or(CredentialError::Missing {
            what: "MD5 key",
            gateway: CNY,
            env: ENV_CNY_MD5_KEY,
        })
    }

    /// A client configuration; the MD5 key stays optional here.
    pub fn client_config(&self, http: HttpSettings) -> Result<CnyConfig, CredentialError> {
        let base = self.base_url.as_deref().ok_or(CredentialError::Missing {
            what: "base URL",
            gateway: CNY,
            env: ENV_CNY_BASE_URL,
        })?;
        Ok(CnyConfig {
            base_url: parse_base_url(base)?,
            platform_id: self.platform_id.clone().unwrap_or_default(),
            auth_token: self.auth_token.clone().ok_or(CredentialError::Missing {
                what: "Authorization token",
                gateway: CNY,
                env: ENV_CNY_AUTH_TOKEN,
            })?,
            md5_key: self.md5_key.clone(),
            sign_options: self.sign_options,
            brand: self.brand.clone(),
            banks: self.banks.clone().unwrap_or_else(default_banks),
            http,
        })
    }
}

/// Gathers GatePay's credentials: environment first, then the profile.
pub fn resolve_gatepay(
    env: EnvLookup<'_>,
    profiles: Option<&Profiles>,
    profile_name: Option<&str>,
    http: HttpSettings,
) -> Result<GatePayConfig, CredentialError> {
    let profile = match profiles {
        Some(ps) => ps.pick(profile_name, GatewayKind::Gatepay)?,
        None => None,
    };
    let base = env(ENV_GATEPAY_BASE_URL).or_else(|| profile.map(|p| p.base_url.clone()));
    let client_id = env(ENV_GATEPAY_CLIENT_ID).or_else(|| profile.map(|p| p.client_id.clone()));
    let on_behalf_of =
        env(ENV_GATEPAY_ON_BEHALF_OF).or_else(|| profile.map(|p| p.on_behalf_of.clone()));
    let secret = secret_or(
        env(ENV_GATEPAY_SECRET),
        profiles,
        profile,
        SecretKind::GatepaySecret,
        true,
    )?;
    gatepay_config(base, client_id, on_behalf_of, secret, http)
}

const GP: &str = "GatePay";

/// The one place a GatePay client configuration is put together; an empty field counts as
/// missing, and a missing base URL means GatePay's production one.
pub fn gatepay_config(
    base_url: Option<String>,
    client_id: Option<String>,
    on_behalf_of: Option<String>,
    secret: Option<Secret>,
    http: HttpSettings,
) -> Result<GatePayConfig, CredentialError> {
    let base = base_url.unwrap_or_else(|| GATEPAY_DEFAULT_BASE_URL.to_owned());
    let client_id = client_id
        .filter(|s| !s.is_empty())
        .ok_or(CredentialError::Missing {
            what: "client ID",
            gateway: GP,
            env: ENV_GATEPAY_CLIENT_ID,
        })?;
    let on_behalf_of = on_behalf_of
        .filter(|s| !s.is_empty())
        .ok_or(CredentialError::Missing {
            what: "on-behalf-of account",
            gateway: GP,
            env: ENV_GATEPAY_ON_BEHALF_OF,
        })?;
    let secret = secret.ok_or(CredentialError::Missing {
        what: "Payment API secret",
        gateway: GP,
        env: ENV_GATEPAY_SECRET,
    })?;
    Ok(GatePayConfig {
        base_url: parse_base_url(&base)?,
        client_id,
        secret,
        on_behalf_of,
        http,
    })
}

/// A profile's own credentials with the secrets its caller gathered (typed in, or read from
/// the keyring), the environment left out.
pub fn cny_from_profile(profile: &Profile, secrets: &[(SecretKind, Secret)]) -> CnyCredentials {
    CnyCredentials {
        base_url: Some(profile.base_url.clone()),
        platform_id: Some(profile.platform_id.clone()),
        auth_token: find_secret(secrets, SecretKind::AuthToken),
        md5_key: find_secret(secrets, SecretKind::Md5Key),
        sign_options: profile.sign,
        brand: profile.brand.clone(),
        // The shipped list: a profile's own list lives beside its config file, which the
        // caller reads (see `resolve_cny`) when it has one.
        banks: None,
        source: format!("profile '{}'", profile.name),
    }
}

/// A GatePay profile's client configuration with the secret its caller gathered.
pub fn gatepay_from_profile(
    profile: &Profile,
    secrets: &[(SecretKind, Secret)],
    http: HttpSettings,
) -> Result<GatePayConfig, CredentialError> {
    gatepay_config(
        Some(profile.base_url.clone()),
        Some(profile.client_id.clone()),
        Some(profile.on_behalf_of.clone()),
        find_secret(secrets, SecretKind::GatepaySecret),
        http,
    )
}

fn find_secret(secrets: &[(SecretKind, Secret)], kind: SecretKind) -> Option<Secret> {
    secrets
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, s)| s.clone())
}

/// Where a profile's team journal is and how its role signs in.
#[derive(Clone, Debug)]
pub struct TeamJournalAccess {
    pub url: TeamUrl,
    /// From the keyring only (never the environment or a file); `None` when the keyring
    /// holds none, for a server that needs no password (a Unix socket with peer
    /// authentication): a server that asks for one then says so when connecting.
    pub password: Option<Secret>,
}

/// The team journal of `profile`, with its role's password from the keyring; `None`: the
/// profile records payouts in the desktop's own journal.
pub fn resolve_team_journal(
    profiles: &Profiles,
    profile: &Profile,
) -> Result<Option<TeamJournalAccess>, CredentialError> {
    let Some(url) = profile.team_journal_url()? else {
        return Ok(None);
    };
    let password = match profiles.secret(&profile.name, SecretKind::TeamJournalPassword) {
        Ok(s) => Some(s),
        Err(ProfileError::SecretMissing { .. }) => None,
        Err(e) => return Err(e.into()),
    };
    Ok(Some(TeamJournalAccess { url, password }))
}

/// Only the secret, for verifying callbacks.
pub fn resolve_gatepay_secret(
    env: EnvLookup<'_>,
    profiles: Option<&Profiles>,
    profile_name: Option<&str>,
) -> Result<Secret, CredentialError> {
    let profile = match profiles {
        Some(ps) => ps.pick(profile_name, GatewayKind::Gatepay)?,
        None => None,
    };
    secret_or(
        env(ENV_GATEPAY_SECRET),
        profiles,
        profile,
        SecretKind::GatepaySecret,
        true,
    )?
    .ok_or(CredentialError::Missing {
        what: "Payment API secret",
        gateway: GP,
        env: ENV_GATEPAY_SECRET,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::Arc;

    use super::*;
    use crate::domain::profiles::MemoryStore;

    #[test]
    fn the_environment_wins_and_the_keyring_fills_in() {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(MemoryStore::default());
        let mut ps = Profiles::load(dir.path(), store).unwrap();
        ps.save(
            Profile {
                name: "p".into(),
                gateway: GatewayKind::Cny,
                base_url: "https://gw.example.com".into(),
                platform_id: "PF1".into(),
                client_id: String::new(),
                on_behalf_of: String::new(),
                live: false,
                sign: SignOptions::default(),
                brand: Brand::default(),
                team_journal: None,
            },
            &[
                (SecretKind::AuthToken, Secret::new("from-keyring")),
                (SecretKind::Md5Key, Secret::new("k")),
            ],
            false,
        )
        .unwrap();
        let vars: HashMap<&str, &str> = [(ENV_CNY_AUTH_TOKEN, "from-env")].into();
        let env = |n: &str| vars.get(n).map(|v| (*v).to_owned());
        let c = resolve_cny(&env, Some(&ps), None, Need::Query).unwrap();
        assert_eq!(c.auth_token.unwrap().expose(), "from-env");
        assert_eq!(c.md5_key.unwrap().expose(), "k");
        assert_eq!(c.base_url.as_deref(), Some("https://gw.example.com"));
        assert_eq!(c.source, "environment and profile 'p'");

        let none = |_: &str| None;
        let err = resolve_cny(&none, None, None, Need::Query)
            .unwrap()
            .client_config(HttpSettings::default())
            .unwrap_err();
        assert!(err.to_string().contains("PAYDESK_CNY_BASE_URL"), "{err}");
        let err = resolve_gatepay(&none, None, None, HttpSettings::default()).unwrap_err();
        assert!(
            err.to_string().contains("PAYDESK_GATEPAY_CLIENT_ID"),
            "{err}"
        );
    }

    #[test]
    fn a_team_journal_comes_with_its_password_from_the_keyring() {
        let dir = tempfile::tempdir().unwrap();
        let mut ps = Profiles::load(dir.path(), Arc::new(MemoryStore::default())).unwrap();
        let profile = |name: &str, team: Option<&str>| Profile {
            name: name.into(),
            gateway: GatewayKind::Gatepay,
            base_url: GATEPAY_DEFAULT_BASE_URL.into(),
            platform_id: String::new(),
            client_id: "c".into(),
            on_behalf_of: "1".into(),
            live: false,
            sign: SignOptions::default(),
            brand: Brand::default(),
            team_journal: team.map(str::to_owned),
        };
        let url = "postgres://bob@db.example.com/paydesk";
        ps.save(
            profile("team", Some(url)),
            &[(SecretKind::TeamJournalPassword, Secret::new("bob-pw"))],
            false,
        )
        .unwrap();
        ps.save(
            profile("socket", Some("postgres://bob@%2Frun%2Fpg/x")),
            &[],
            false,
        )
        .unwrap();
        ps.save(profile("alone", None), &[], false).unwrap();

        let team = resolve_team_journal(&ps, ps.get("team").unwrap())
            .unwrap()
            .unwrap();
        assert_eq!(team.url.user(), "bob");
        assert_eq!(team.password.unwrap().expose(), "bob-pw");
        let socket = resolve_team_journal(&ps, ps.get("socket").unwrap())
            .unwrap()
            .unwrap();
        assert!(socket.url.is_unix_socket() && socket.password.is_none());
        assert!(
            resolve_team_journal(&ps, ps.get("alone").unwrap())
                .unwrap()
                .is_none()
        );
    }
}
