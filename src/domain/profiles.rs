//! Profiles (one per merchant and gateway) and their credentials. Everything but the secrets
//! lives in a TOML file in the platform's config directory; the secrets live only in the OS
//! keyring, behind [`SecretStore`], and there is no plaintext fallback.

use std::collections::HashMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::domain::journal::team::{TeamError, TeamUrl};
use crate::gateway::cny::brand::Brand;
use crate::gateway::cny::sign::SignOptions;
use crate::secret::Secret;

/// The keyring service name every Paydesk secret is stored under.
pub const KEYRING_SERVICE: &str = "paydesk";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GatewayKind {
    Cny,
    Gatepay,
}

impl GatewayKind {
    pub fn label(self) -> &'static str {
        match self {
            GatewayKind::Cny => "CNY gateway",
            GatewayKind::Gatepay => "GatePay",
        }
    }

    /// The secrets a profile of this gateway needs.
    pub fn secret_kinds(self) -> &'static [SecretKind] {
        match self {
            GatewayKind::Cny => &[SecretKind::AuthToken, SecretKind::Md5Key],
            GatewayKind::Gatepay => &[SecretKind::GatepaySecret],
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SecretKind {
    AuthToken,
    Md5Key,
    GatepaySecret,
    /// The password of the operator's role on the profile's team journal.
    TeamJournalPassword,
}

impl SecretKind {
    pub fn id(self) -> &'static str {
        match self {
            SecretKind::AuthToken => "auth_token",
            SecretKind::Md5Key => "md5_key",
            SecretKind::GatepaySecret => "gatepay_secret",
            SecretKind::TeamJournalPassword => "team_journal_password",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            SecretKind::AuthToken => "Authorization token",
            SecretKind::Md5Key => "MD5 key",
            SecretKind::GatepaySecret => "GatePay Payment API secret",
            SecretKind::TeamJournalPassword => "Team journal password",
        }
    }
}

/// One profile's non-secret settings: all that is written to the config file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub name: String,
    pub gateway: GatewayKind,
    pub base_url: String,
    /// CNY: the merchant's `platform_id`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platform_id: String,
    /// GatePay: the client ID.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub client_id: String,
    /// GatePay: the institution sub-account.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub on_behalf_of: String,
    /// A live profile moves real money; the console marks it.
    #[serde(default)]
    pub live: bool,
    #[serde(default)]
    pub sign: SignOptions,
    /// CNY: the brand's bank field and API paths; absent means the seeds' behaviour.
    #[serde(default, skip_serializing_if = "Brand::is_default")]
    pub brand: Brand,
    /// The team journal this profile's payouts are recorded in: a `postgres://` URL without
    /// password (the role's password is in the keyring); absent: the desktop's own journal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team_journal: Option<String>,
}

impl Profile {
    /// The profile's team journal, its address checked; `None`: the desktop's own journal.
    pub fn team_journal_url(&self) -> Result<Option<TeamUrl>, ProfileError> {
        match self.team_journal.as_deref() {
            None => Ok(None),
            Some(text) => {
                TeamUrl::parse(text)
                    .map(Some)
                    .map_err(|source| ProfileError::TeamJournal {
                        profile: self.name.clone(),
                        source,
                    })
            }
        }
    }
}

/// The config file's content.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfilesFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<String>,
    #[serde(default)]
    pub profiles: Vec<Profile>,
}

#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid profiles file: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("cannot write {path}: {source}")]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("no profile is named '{0}'")]
    NotFound(String),
    #[error("a profile named '{0}' exists already")]
    Exists(String),
    #[error("a profile name must be 1 to 64 characters without ':'")]
    BadName,
    #[error(
        "no OS keyring is reachable ({0}); Paydesk stores secrets only in the keyring, never in files, so nothing was stored"
    )]
    KeyringUnavailable(String),
    #[error(
        "{path} carries “{key}”, which looks like a secret: a shared profile file never holds one, so nothing was imported"
    )]
    SecretInFile { path: PathBuf, key: String },
    #[error("{path} is larger than {MAX_PROFILE_FILE_BYTES} bytes: not a profile file")]
    FileTooLarge { path: PathBuf },
    #[error("the keyring has no {kind} for profile '{profile}'")]
    SecretMissing { profile: String, kind: &'static str },
    #[error("profile '{profile}': {source}")]
    TeamJournal { profile: String, source: TeamError },
    #[error("the keyring refused the {kind} of profile '{profile}': {message}")]
    Keyring {
        profile: String,
        kind: &'static str,
        message: String,
    },
}

/// Where secrets are kept. The real one is the OS keyring; tests may use [`MemoryStore`].
pub trait SecretStore: Send + Sync {
    fn get(&self, profile: &str, kind: SecretKind) -> Result<Option<Secret>, ProfileError>;
    fn set(&self, profile: &str, kind: SecretKind, secret: &Secret) -> Result<(), ProfileError>;
    fn delete(&self, profile: &str, kind: SecretKind) -> Result<(), ProfileError>;
}

fn keyring_user(profile: &str, kind: SecretKind) -> String {
    format!("{profile}:{}", kind.id())
}

/// The OS keyring (Secret Service on Linux, Keychain on macOS, Credential Manager on Windows).
/// Its calls block: run them off the UI thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct KeyringStore;

fn keyring_error(profile: &str, kind: SecretKind, e: &keyring::Error) -> ProfileError {
    match e {
        keyring::Error::NoStorageAccess(inner) => {
            ProfileError::KeyringUnavailable(inner.to_string())
        }
        keyring::Error::PlatformFailure(inner) => {
            ProfileError::KeyringUnavailable(inner.to_string())
        }
        keyring::Error::NoDefaultStore => {
            ProfileError::KeyringUnavailable(match keyring::Entry::store_status() {
                Err(e) => e.to_string(),
                Ok(()) => "no credential store".to_owned(),
            })
        }
        other => ProfileError::Keyring {
            profile: profile.to_owned(),
            kind: kind.label(),
            message: other.to_string(),
        },
    }
}

impl KeyringStore {
    fn entry(profile: &str, kind: SecretKind) -> Result<keyring::Entry, ProfileError> {
        keyring::Entry::new(KEYRING_SERVICE, &keyring_user(profile, kind))
            .map_err(|e| keyring_error(profile, kind, &e))
    }
}

impl SecretStore for KeyringStore {
    fn get(&self, profile: &str, kind: SecretKind) -> Result<Option<Secret>, ProfileError> {
        match Self::entry(profile, kind)?.get_password() {
            Ok(s) => Ok(Some(Secret::new(s))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(keyring_error(profile, kind, &e)),
        }
    }

    fn set(&self, profile: &str, kind: SecretKind, secret: &Secret) -> Result<(), ProfileError> {
        Self::entry(profile, kind)?
            .set_password(secret.expose())
            .map_err(|e| keyring_error(profile, kind, &e))
    }

    fn delete(&self, profile: &str, kind: SecretKind) -> Result<(), ProfileError> {
        match Self::entry(profile, kind)?.delete_credential() {
            Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
            Err(e) => Err(keyring_error(profile, kind, &e)),
        }
    }
}

/// Secrets in memory, for tests of everything around the keyring.
#[derive(Clone, Default)]
pub struct MemoryStore {
    secrets: Arc<Mutex<HashMap<String, Secret>>>,
}

impl SecretStore for MemoryStore {
    fn get(&self, profile: &str, kind: SecretKind) -> Result<Option<Secret>, ProfileError> {
        Ok(crate::lock_unpoisoned(&self.secrets)
            .get(&keyring_user(profile, kind))
            .cloned())
    }

    fn set(&self, profile: &str, kind: SecretKind, secret: &Secret) -> Result<(), ProfileError> {
        crate::lock_unpoisoned(&self.secrets).insert(keyring_user(profile, kind), secret.clone());
        Ok(())
    }

    fn delete(&self, profile: &str, kind: SecretKind) -> Result<(), ProfileError> {
        crate::lock_unpoisoned(&self.secrets).remove(&keyring_user(profile, kind));
        Ok(())
    }
}

/// The bank list of a profile: `banks-PROFILE.json` or `banks.json` in the config directory
/// when present (a brand with its own list needs no rebuild), otherwise the shipped list.
pub fn banks_for(
    config_dir: Option<&Path>,
    profile: &str,
) -> Result<Vec<crate::gateway::cny::banks::Bank>, String> {
    use crate::gateway::cny::banks::{default_banks, parse_banks};
    let Some(dir) = config_dir else {
        return Ok(default_banks());
    };
    for path in [
        dir.join(format!("banks-{profile}.json")),
        dir.join("banks.json"),
    ] {
        if let Ok(text) = fs::read_to_string(&path) {
            return parse_banks(&text)
                .map_err(|e| format!("{} is not a valid bank list: {e}", path.display()));
        }
    }
    Ok(default_banks())
}

/// The largest profile file `import` reads.
pub const MAX_PROFILE_FILE_BYTES: u64 = 64 * 1024;

/// Whether a key of a profile file names something secret.
fn secret_looking(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    k == "key"
        || [
            "secret",
            "token",
            "password",
            "passwd",
            "md5",
            "api_key",
            "apikey",
            "private",
            "credential",
        ]
        .iter()
        .any(|w| k.contains(w))
}

fn find_secret_key(table: &toml::Table) -> Option<String> {
    table.iter().find_map(|(k, v)| {
        if secret_looking(k) {
            return Some(k.clone());
        }
        match v {
            toml::Value::Table(t) => find_secret_key(t),
            toml::Value::Array(items) => items.iter().find_map(|i| match i {
                toml::Value::Table(t) => find_secret_key(t),
                _ => None,
            }),
            _ => None,
        }
    })
}

/// A profile as a small TOML file a team can share: every setting, never a secret (the
/// profile holds none; the keyring does).
pub fn export_profile(profile: &Profile) -> Result<String, String> {
    toml::to_string_pretty(profile).map_err(|e| e.to_string())
}

/// Reads a shared profile file (at most [`MAX_PROFILE_FILE_BYTES`]), refusing one that
/// carries a secret-looking key; `name` renames it.
pub fn import_profile(path: &Path, name: Option<&str>) -> Result<Profile, ProfileError> {
    use std::io::Read;
    let read_err = |source| ProfileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_PROFILE_FILE_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    profile_from_bytes(path, &bytes, name)
}

/// As [`import_profile`], for a file already read (the console's file dialog reads it);
/// `path` names it in errors.
pub fn profile_from_bytes(
    path: &Path,
    bytes: &[u8],
    name: Option<&str>,
) -> Result<Profile, ProfileError> {
    if bytes.len() as u64 > MAX_PROFILE_FILE_BYTES {
        return Err(ProfileError::FileTooLarge {
            path: path.to_path_buf(),
        });
    }
    let parse_err = |message: String| ProfileError::Parse {
        path: path.to_path_buf(),
        message,
    };
    let text = std::str::from_utf8(bytes).map_err(|_| parse_err("not UTF-8 text".to_owned()))?;
    let table: toml::Table = toml::from_str(text).map_err(|e| parse_err(e.to_string()))?;
    if let Some(key) = find_secret_key(&table) {
        return Err(ProfileError::SecretInFile {
            path: path.to_path_buf(),
            key,
        });
    }
    let mut profile: Profile = table
        .try_into()
        .map_err(|e: toml::de::Error| parse_err(e.to_string()))?;
    if let Some(n) = name {
        n.clone_into(&mut profile.name);
    }
    profile
        .brand
        .validate()
        .map_err(|e| parse_err(e.to_string()))?;
    // A shared file is someone else's text: its URL is held to what `profile add` accepts
    // (no plain HTTP off this machine), and its name must read as what it is.
    crate::gateway::http::parse_base_url(&profile.base_url)
        .map_err(|e| parse_err(format!("base_url: {e}")))?;
    if let Some(url) = &profile.team_journal {
        TeamUrl::parse(url).map_err(|e| parse_err(format!("team_journal: {e}")))?;
    }
    if profile.name.trim().is_empty() || profile.name.chars().any(misleading_char) {
        return Err(parse_err(
            "the name is empty or holds control or text-direction characters".to_owned(),
        ));
    }
    Ok(profile)
}

/// A character that makes a name display as something else (control characters, bidi
/// overrides and isolates).
fn misleading_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// The platform's config directory for Paydesk, or `PAYDESK_CONFIG_DIR` when set.
pub fn config_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PAYDESK_CONFIG_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "paydesk").map(|d| d.config_dir().to_path_buf())
}

/// The platform's data directory for Paydesk, or `PAYDESK_DATA_DIR` when set.
pub fn data_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("PAYDESK_DATA_DIR").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "paydesk").map(|d| d.data_dir().to_path_buf())
}

/// The profiles file and the secret store together.
pub struct Profiles {
    path: PathBuf,
    store: Arc<dyn SecretStore>,
    file: ProfilesFile,
}

impl Profiles {
    /// Loads `config.toml` from `dir` (an absent file is an empty list).
    pub fn load(dir: &Path, store: Arc<dyn SecretStore>) -> Result<Profiles, ProfileError> {
        let path = dir.join("config.toml");
        let file = match fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text).map_err(|e| ProfileError::Parse {
                path: path.clone(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ProfilesFile::default(),
            Err(source) => return Err(ProfileError::Read { path, source }),
        };
        Ok(Profiles { path, store, file })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn list(&self) -> &[Profile] {
        &self.file.profiles
    }

    pub fn active_name(&self) -> Option<&str> {
        self.file.active.as_deref()
    }

    pub fn get(&self, name: &str) -> Option<&Profile> {
        self.file.profiles.iter().find(|p| p.name == name)
    }

    /// The profile a command for `gateway` uses: the named one, else the active one if it is
    /// of that gateway, else the first of that gateway.
    pub fn pick(
        &self,
        name: Option<&str>,
        gateway: GatewayKind,
    ) -> Result<Option<&Profile>, ProfileError> {
        if let Some(n) = name {
            return self
                .get(n)
                .map(Some)
                .ok_or_else(|| ProfileError::NotFound(n.to_owned()));
        }
        let active = self
            .active_name()
            .and_then(|n| self.get(n))
            .filter(|p| p.gateway == gateway);
        Ok(active.or_else(|| self.file.profiles.iter().find(|p| p.gateway == gateway)))
    }

    /// Adds or replaces a profile and stores its secrets: the secrets first, so a keyring
    /// that is not there leaves no half-made profile behind. A team journal address is
    /// checked (and one carrying a password refused); when a profile no longer names a team
    /// journal, the password it had is removed from the keyring.
    pub fn save(
        &mut self,
        mut profile: Profile,
        secrets: &[(SecretKind, Secret)],
        replace: bool,
    ) -> Result<(), ProfileError> {
        if profile.name.trim().is_empty() || profile.name.len() > 64 || profile.name.contains(':') {
            return Err(ProfileError::BadName);
        }
        profile.team_journal = profile
            .team_journal
            .take()
            .map(|t| t.trim().to_owned())
            .filter(|t| !t.is_empty());
        profile.team_journal_url()?;
        let existing = self
            .file
            .profiles
            .iter()
            .position(|p| p.name == profile.name);
        if existing.is_some() && !replace {
            return Err(ProfileError::Exists(profile.name));
        }
        for (kind, secret) in secrets {
            self.store.set(&profile.name, *kind, secret)?;
        }
        let had_team_journal =
            existing.is_some_and(|i| self.file.profiles[i].team_journal.is_some());
        if had_team_journal && profile.team_journal.is_none() {
            self.store
                .delete(&profile.name, SecretKind::TeamJournalPassword)?;
        }
        if let Some(i) = existing {
            self.file.profiles[i] = profile;
        } else {
            if self.file.active.is_none() {
                self.file.active = Some(profile.name.clone());
            }
            self.file.profiles.push(profile);
        }
        self.write()
    }

    pub fn set_active(&mut self, name: &str) -> Result<(), ProfileError> {
        if self.get(name).is_none() {
            return Err(ProfileError::NotFound(name.to_owned()));
        }
        self.file.active = Some(name.to_owned());
        self.write()
    }

    /// Removes a profile and its secrets.
    pub fn remove(&mut self, name: &str) -> Result<(), ProfileError> {
        let i = self
            .file
            .profiles
            .iter()
            .position(|p| p.name == name)
            .ok_or_else(|| ProfileError::NotFound(name.to_owned()))?;
        for kind in self.file.profiles[i].gateway.secret_kinds() {
            self.store.delete(name, *kind)?;
        }
        if self.file.profiles[i].team_journal.is_some() {
            self.store.delete(name, SecretKind::TeamJournalPassword)?;
        }
        self.file.profiles.remove(i);
        if self.file.active.as_deref() == Some(name) {
            self.file.active = self.file.profiles.first().map(|p| p.name.clone());
        }
        self.write()
    }

    /// A profile's secret from the keyring.
    pub fn secret(&self, profile: &str, kind: SecretKind) -> Result<Secret, ProfileError> {
        self.store
            .get(profile, kind)?
            .ok_or_else(|| ProfileError::SecretMissing {
                profile: profile.to_owned(),
                kind: kind.label(),
            })
    }

    /// Writes the file atomically: a temporary file in the same folder, then a rename.
    fn write(&self) -> Result<(), ProfileError> {
        let err = |source| ProfileError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        fs::create_dir_all(dir).map_err(err)?;
        let text = toml::to_string_pretty(&self.file).map_err(|e| ProfileError::Parse {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let tmp = dir.join(".config.toml.tmp");
        let mut f = fs::File::create(&tmp).map_err(err)?;
        f.write_all(text.as_bytes()).map_err(err)?;
        f.sync_all().map_err(err)?;
        fs::rename(&tmp, &self.path).map_err(err)
    }
}

#[cfg(test)]
mod tests;
