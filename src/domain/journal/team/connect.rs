//! Reaching the team journal's server: the address (a libpq-style URL without its password),
//! TLS as libpq's `sslmode` says, the password from the keyring.
//! (Interim: the lead's minimal version; the `pgconn` helper's replaces it.)

use super::TeamError;
use crate::secret::Secret;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamUrl {
    text: String,
    user: String,
    database: String,
}

impl TeamUrl {
    pub fn parse(text: &str) -> Result<TeamUrl, TeamError> {
        let config: postgres::Config = text.parse().map_err(|e| TeamError::Url(format!("{e}")))?;
        if config.get_password().is_some() {
            return Err(TeamError::Url(
                "remove the password: it is kept in the keyring".into(),
            ));
        }
        Ok(TeamUrl {
            text: text.to_owned(),
            user: config.get_user().unwrap_or_default().to_owned(),
            database: config.get_dbname().unwrap_or_default().to_owned(),
        })
    }
    pub fn user(&self) -> &str {
        &self.user
    }
    pub fn database(&self) -> &str {
        &self.database
    }
    pub fn ssl_mode(&self) -> SslMode {
        SslMode::Disable
    }
    pub fn target(&self) -> String {
        format!("{}/{}", self.user, self.database)
    }
}

impl std::fmt::Display for TeamUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

pub fn connect(url: &TeamUrl, password: Option<&Secret>) -> Result<postgres::Client, TeamError> {
    let mut config: postgres::Config = url
        .text
        .parse()
        .map_err(|e| TeamError::Url(format!("{e}")))?;
    if let Some(p) = password {
        config.password(p.expose());
    }
    off_runtime(|| config.connect(postgres::NoTls)).map_err(|e| TeamError::Unreachable {
        target: url.target(),
        why: e.to_string(),
    })
}

pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_ok() {
        std::thread::scope(|s| {
            s.spawn(f)
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p))
        })
    } else {
        f()
    }
}
