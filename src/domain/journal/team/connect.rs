//! Reaching the team journal's server: the address (a libpq-style URL without its password),
//! TLS as libpq's `sslmode` says, the password from the keyring.
//!
//! The address is what an operator types and a profile file keeps, so it never holds the
//! password: a URL that carries one is refused, and the password comes from the OS keyring.
//! TLS is on by default (`verify-full`) for a server reached over TCP; a Unix socket is
//! local and never uses TLS, as with libpq.

use std::fmt;
use std::time::Duration;

use super::TeamError;
use crate::secret::Secret;

mod tls;

/// The longest address read: an address is a line of settings, not a document.
const MAX_URL_CHARS: usize = 4096;
/// PostgreSQL's own default port.
const DEFAULT_PORT: u16 = 5432;
/// How long a connection attempt waits for the server when the address does not say.
pub const DEFAULT_CONNECT_TIMEOUT_SECS: u64 = 10;
/// The longest `connect_timeout` accepted: longer is a server that is not there.
const MAX_CONNECT_TIMEOUT_SECS: u64 = 3600;
/// What the server shows in `pg_stat_activity` when the address does not say.
pub const DEFAULT_APPLICATION_NAME: &str = "paydesk";
/// PostgreSQL keeps names up to 63 bytes (`NAMEDATALEN` - 1).
const MAX_NAME_BYTES: usize = 63;

/// How the connection uses TLS, as libpq's `sslmode`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    /// No TLS.
    Disable,
    /// TLS when the server insists, no certificate check (libpq tries without TLS first;
    /// here as `prefer`).
    Allow,
    /// TLS when the server offers it, else without; no certificate check.
    Prefer,
    /// TLS, no certificate check (unless `sslrootcert` names the authority: then as
    /// `verify-ca`, as libpq does).
    Require,
    /// TLS, the certificate chain checked against the roots; the host name not checked.
    VerifyCa,
    /// TLS, the chain and the host name checked: the default over TCP.
    VerifyFull,
}

impl SslMode {
    /// The word libpq reads.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    fn parse(word: &str) -> Option<SslMode> {
        [
            SslMode::Disable,
            SslMode::Allow,
            SslMode::Prefer,
            SslMode::Require,
            SslMode::VerifyCa,
            SslMode::VerifyFull,
        ]
        .into_iter()
        .find(|m| m.as_str() == word)
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The address of a team journal: a `postgres://` URL as libpq reads it, without a password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamUrl {
    /// A host name or IP address; or, starting with `/`, the directory of a Unix socket.
    host: String,
    port: u16,
    dbname: String,
    user: String,
    /// As written: `None` means the default for the kind of host.
    sslmode: Option<SslMode>,
    /// A PEM file of the authorities to trust; `system` means the built-in roots.
    sslrootcert: Option<String>,
    connect_timeout_secs: Option<u64>,
    application_name: Option<String>,
}

fn url_error(message: impl Into<String>) -> TeamError {
    TeamError::Url(message.into())
}

const PASSWORD_REFUSED: &str = "it carries a password: remove it from the address, the password is kept in the OS keyring (it is asked for when the profile is saved)";

/// `%XX` decoding as libpq does it; `%00`, a broken escape, control characters and text
/// that is not UTF-8 are refused.
fn percent_decode(text: &str, what: &str) -> Result<String, TeamError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| url_error(format!("the {what} has a broken %-escape")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    let decoded =
        String::from_utf8(out).map_err(|_| url_error(format!("the {what} is not UTF-8 text")))?;
    if decoded.chars().any(char::is_control) {
        return Err(url_error(format!("the {what} holds control characters")));
    }
    Ok(decoded)
}

/// Escapes all but RFC 3986's unreserved characters (and `/` where `keep_slash`, as in a
/// query value), so that any decoded value reads back as itself.
fn percent_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric()
            || matches!(b, b'-' | b'.' | b'_' | b'~')
            || (keep_slash && b == b'/')
        {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn parse_port(text: &str) -> Result<u16, TeamError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(url_error(format!(
            "the port '{text}' is not a number from 1 to 65535"
        )));
    }
    match text.parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(url_error(format!(
            "the port '{text}' is not a number from 1 to 65535"
        ))),
    }
}

fn check_name(value: &str, what: &str) -> Result<(), TeamError> {
    if value.is_empty() {
        return Err(url_error(format!("the {what} is empty")));
    }
    if value.len() > MAX_NAME_BYTES {
        return Err(url_error(format!(
            "the {what} is longer than PostgreSQL's {MAX_NAME_BYTES} bytes"
        )));
    }
    Ok(())
}

/// The host part of the authority: `host`, `host:port`, `[v6]`, `[v6]:port`.
fn split_host_port(hostspec: &str) -> Result<(String, Option<u16>), TeamError> {
    if hostspec.contains(',') {
        return Err(url_error(
            "it names several hosts: a team journal is one server (give one host)",
        ));
    }
    if let Some(rest) = hostspec.strip_prefix('[') {
        let (v6, after) = rest
            .split_once(']')
            .ok_or_else(|| url_error("an IPv6 address opened with '[' is not closed with ']'"))?;
        let port = match after {
            "" => None,
            p => Some(parse_port(p.strip_prefix(':').ok_or_else(|| {
                url_error("after an IPv6 address in [] only ':port' may follow")
            })?)?),
        };
        return Ok((percent_decode(v6, "host")?, port));
    }
    match hostspec.split_once(':') {
        Some((host, port)) => Ok((percent_decode(host, "host")?, Some(parse_port(port)?))),
        None => Ok((percent_decode(hostspec, "host")?, None)),
    }
}

impl TeamUrl {
    /// A `postgres://` or `postgresql://` URL as libpq reads it: percent-decoding, the host
    /// a name, an address (`[::1]` for IPv6) or a Unix socket directory
    /// (`%2Fvar%2Frun%2Fpostgresql`, or `?host=/var/run/postgresql`), and the query
    /// parameters `host`, `port`, `dbname`, `user`, `sslmode`, `sslrootcert`,
    /// `connect_timeout`, `application_name`. A URL carrying a password is refused: the
    /// password lives in the keyring.
    pub fn parse(text: &str) -> Result<TeamUrl, TeamError> {
        let text = text.trim();
        if text.chars().count() > MAX_URL_CHARS {
            return Err(url_error(format!(
                "it is longer than {MAX_URL_CHARS} characters"
            )));
        }
        let rest = text
            .strip_prefix("postgresql://")
            .or_else(|| text.strip_prefix("postgres://"))
            .ok_or_else(|| {
                url_error("it does not start with postgres:// (for example postgres://alice@db.example.com/paydesk)")
            })?;
        if rest.contains('#') {
            return Err(url_error("it holds a '#', which libpq does not read"));
        }
        let (rest, query) = match rest.split_once('?') {
            Some((r, q)) => (r, Some(q)),
            None => (rest, None),
        };
        let (authority, path) = match rest.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (rest, None),
        };
        let (userinfo, hostspec) = match authority.split_once('@') {
            Some((u, h)) => (Some(u), h),
            None => (None, authority),
        };
        let mut user = None;
        if let Some(u) = userinfo {
            if u.contains(':') {
                return Err(url_error(PASSWORD_REFUSED));
            }
            user = Some(percent_decode(u, "user name")?);
        }
        let (mut host, mut port) = split_host_port(hostspec)?;
        let mut dbname = match path {
            Some(p) if !p.is_empty() => Some(percent_decode(p, "database name")?),
            _ => None,
        };
        let mut url = TeamUrl {
            host: String::new(),
            port: DEFAULT_PORT,
            dbname: String::new(),
            user: String::new(),
            sslmode: None,
            sslrootcert: None,
            connect_timeout_secs: None,
            application_name: None,
        };
        for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| url_error(format!("the parameter '{pair}' has no '=value'")))?;
            let key = percent_decode(key, "parameter name")?;
            if key == "password" {
                return Err(url_error(PASSWORD_REFUSED));
            }
            let value = percent_decode(value, &format!("value of {key}"))?;
            match key.as_str() {
                "host" => {
                    if value.contains(',') {
                        return Err(url_error(
                            "it names several hosts: a team journal is one server (give one host)",
                        ));
                    }
                    host = value;
                }
                "port" => port = Some(parse_port(&value)?),
                "dbname" => dbname = Some(value),
                "user" => user = Some(value),
                "sslmode" => {
                    url.sslmode = Some(SslMode::parse(&value).ok_or_else(|| {
                        url_error(format!(
                            "sslmode '{value}' is not one of disable, allow, prefer, require, verify-ca, verify-full"
                        ))
                    })?);
                }
                "sslrootcert" => {
                    if value.is_empty() {
                        return Err(url_error("sslrootcert is empty: name a PEM file"));
                    }
                    url.sslrootcert = Some(value);
                }
                "connect_timeout" => {
                    let secs = value
                        .parse::<u64>()
                        .ok()
                        .filter(|s| (1..=MAX_CONNECT_TIMEOUT_SECS).contains(s))
                        .ok_or_else(|| {
                            url_error(format!(
                                "connect_timeout '{value}' is not a number of seconds from 1 to {MAX_CONNECT_TIMEOUT_SECS}"
                            ))
                        })?;
                    url.connect_timeout_secs = Some(secs);
                }
                "application_name" => {
                    check_name(&value, "application_name")?;
                    url.application_name = Some(value);
                }
                "sslcert" | "sslkey" | "sslpassword" | "passfile" => {
                    return Err(url_error(format!(
                        "{key} is not supported: a team journal signs in with its role's password from the OS keyring"
                    )));
                }
                other => {
                    return Err(url_error(format!(
                        "the parameter '{other}' is not one Paydesk reads (host, port, dbname, user, sslmode, sslrootcert, connect_timeout, application_name)"
                    )));
                }
            }
        }
        url.user = user.filter(|u| !u.is_empty()).ok_or_else(|| {
            url_error("it names no user: each operator connects as their own role (postgres://ROLE@host/db)")
        })?;
        check_name(&url.user, "user name")?;
        if host.is_empty() {
            return Err(url_error(
                "it names no server: give a host (postgres://ROLE@HOST/db) or a socket directory (?host=/var/run/postgresql)",
            ));
        }
        url.host = host;
        url.port = port.unwrap_or(DEFAULT_PORT);
        url.dbname = dbname.unwrap_or_else(|| url.user.clone());
        check_name(&url.dbname, "database name")?;
        Ok(url)
    }

    /// The role the operator connects as.
    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn database(&self) -> &str {
        &self.dbname
    }

    /// A host name or address, or the directory of a Unix socket.
    pub fn host(&self) -> &str {
        &self.host
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether the server is reached over a Unix socket (never with TLS).
    pub fn is_unix_socket(&self) -> bool {
        self.host.starts_with('/')
    }

    /// The `sslmode` in force: as written, else `verify-full` over TCP and `disable` over a
    /// Unix socket.
    pub fn ssl_mode(&self) -> SslMode {
        match self.sslmode {
            Some(m) => m,
            None if self.is_unix_socket() => SslMode::Disable,
            None => SslMode::VerifyFull,
        }
    }

    /// The `sslrootcert` as written.
    pub fn ssl_root_cert(&self) -> Option<&str> {
        self.sslrootcert.as_deref()
    }

    pub fn connect_timeout(&self) -> Duration {
        Duration::from_secs(
            self.connect_timeout_secs
                .unwrap_or(DEFAULT_CONNECT_TIMEOUT_SECS),
        )
    }

    pub fn application_name(&self) -> &str {
        self.application_name
            .as_deref()
            .unwrap_or(DEFAULT_APPLICATION_NAME)
    }

    /// `user@host:port/db`, for messages.
    pub fn target(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        format!("{}@{host}:{}/{}", self.user, self.port, self.dbname)
    }
}

impl fmt::Display for TeamUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = if self.host.contains(':') && !self.is_unix_socket() {
            format!("[{}]", self.host)
        } else {
            percent_encode(&self.host, false)
        };
        write!(
            f,
            "postgres://{}@{host}:{}/{}",
            percent_encode(&self.user, false),
            self.port,
            percent_encode(&self.dbname, false)
        )?;
        let mut params = Vec::new();
        if let Some(m) = self.sslmode {
            params.push(format!("sslmode={m}"));
        }
        if let Some(c) = &self.sslrootcert {
            params.push(format!("sslrootcert={}", percent_encode(c, true)));
        }
        if let Some(t) = self.connect_timeout_secs {
            params.push(format!("connect_timeout={t}"));
        }
        if let Some(a) = &self.application_name {
            params.push(format!("application_name={}", percent_encode(a, true)));
        }
        if !params.is_empty() {
            write!(f, "?{}", params.join("&"))?;
        }
        Ok(())
    }
}

/// The client's settings for `url`: timeout, keepalives, and the name shown to the server.
fn pg_config(url: &TeamUrl, password: Option<&Secret>) -> Result<postgres::Config, TeamError> {
    let mut config = postgres::Config::new();
    if url.is_unix_socket() {
        #[cfg(unix)]
        config.host_path(&url.host);
        #[cfg(not(unix))]
        return Err(url_error(
            "a Unix socket directory is a host only on Unix: give a host name",
        ));
    } else {
        config.host(&url.host);
    }
    config
        .port(url.port)
        .user(&url.user)
        .dbname(&url.dbname)
        .application_name(url.application_name())
        .connect_timeout(url.connect_timeout())
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(60));
    if let Some(p) = password {
        config.password(p.expose());
    }
    Ok(config)
}

/// Connects to the team journal as `url`'s role with `password` (from the keyring), TLS as
/// `url`'s `sslmode` says. The connection itself is made off any tokio runtime, but the
/// client it returns blocks on every call *and when dropped* (it closes the connection with
/// a runtime of its own): from async code, connect, use and drop it inside one
/// [`off_runtime`] (or a `spawn_blocking` that calls `off_runtime`).
pub fn connect(url: &TeamUrl, password: Option<&Secret>) -> Result<postgres::Client, TeamError> {
    let mut config = pg_config(url, password)?;
    // Over a Unix socket, as libpq: no TLS whatever sslmode says.
    let connector = if url.is_unix_socket() {
        None
    } else {
        tls::connector(url)?
    };
    config.ssl_mode(match &connector {
        Some((mode, _)) => *mode,
        None => postgres::config::SslMode::Disable,
    });
    let result = off_runtime(|| match connector {
        Some((_, tls)) => config.connect(tls),
        None => config.connect(postgres::NoTls),
    });
    result.map_err(|e| TeamError::Unreachable {
        target: url.target(),
        why: why_unreachable(url, &e),
    })
}

/// Connects and asks the server which role this is (`session_user`): what `profile test`
/// shows. Callable from anywhere, inside a tokio runtime too (it blocks the caller).
pub fn check_connection(url: &TeamUrl, password: Option<&Secret>) -> Result<String, TeamError> {
    off_runtime(|| {
        let mut client = connect(url, password)?;
        let row = client
            .query_one("SELECT session_user::text", &[])
            .map_err(|e| TeamError::Unreachable {
                target: url.target(),
                why: why_unreachable(url, &e),
            })?;
        row.try_get(0)
            .map_err(|e| TeamError::Db(format!("session_user: {e}")))
    })
}

/// Runs `f` where the blocking `postgres` client may run: on a scoped thread when called
/// from inside a tokio runtime (`postgres::Client` starts its own runtime, and a runtime
/// inside a runtime panics), directly otherwise. A panic in `f` goes on in the caller.
pub fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return f();
    }
    std::thread::scope(|scope| match scope.spawn(f).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Why the connection failed, in words an operator can act on; never a password.
fn why_unreachable(url: &TeamUrl, e: &postgres::Error) -> String {
    use postgres::error::SqlState;
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        return if *code == SqlState::INVALID_PASSWORD {
            format!(
                "password authentication failed for user {} (check the team journal password in the OS keyring)",
                url.user
            )
        } else if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            format!(
                "the server does not let {} connect to {}: {}",
                url.user,
                url.dbname,
                db.message()
            )
        } else if *code == SqlState::INVALID_CATALOG_NAME {
            format!("the server has no database {}", url.dbname)
        } else {
            format!("the server refused the connection: {}", db.message())
        };
    }
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            if let Some(tls) = io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                return tls::why(url, tls);
            }
            match io.kind() {
                std::io::ErrorKind::ConnectionRefused => {
                    return format!(
                        "connection refused: is the server running and listening at {}:{}?",
                        url.host, url.port
                    );
                }
                std::io::ErrorKind::TimedOut => {
                    return format!(
                        "no answer within {} s (connect_timeout)",
                        url.connect_timeout().as_secs()
                    );
                }
                std::io::ErrorKind::NotFound if url.is_unix_socket() => {
                    return format!(
                        "no server socket in {} for port {}: is the server running?",
                        url.host, url.port
                    );
                }
                _ => {}
            }
        }
        if let Some(tls) = err.downcast_ref::<rustls::Error>() {
            return tls::why(url, tls);
        }
        let text = err.to_string();
        if text == "server does not support TLS" {
            return format!(
                "TLS failed: the server does not offer TLS, and sslmode={} requires it (turn ssl on at the server; sslmode=disable only on a trusted network)",
                url.ssl_mode()
            );
        }
        if text == "password missing" {
            return "the server asks for a password and the OS keyring holds none for this team journal (save it with `paydesk profile add … --team-journal URL --replace`)".to_owned();
        }
        source = err.source();
    }
    error_chain(e)
}

/// The error and its causes on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests;

#[cfg(all(test, unix))]
mod server_tests;
