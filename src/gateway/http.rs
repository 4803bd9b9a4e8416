//! HTTP rules every gateway call follows: timeouts always, plain `http://` only to this
//! machine, and transport failures kept apart from what a gateway answered.

use std::net::IpAddr;
use std::time::Duration;

use reqwest::Url;

/// The largest reply read into memory; a query page of 500 orders is about 250 KB.
const MAX_REPLY_BYTES: usize = 32 * 1024 * 1024;

/// Timeouts of one gateway profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HttpSettings {
    pub connect_timeout_secs: u64,
    pub timeout_secs: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            connect_timeout_secs: 5,
            timeout_secs: 20,
        }
    }
}

/// A base URL that may not be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BaseUrlError {
    /// The text, with any `user:password@` part masked (here and in `Debug`).
    #[error("the base URL '{0}' is not a URL")]
    Unparsable(String),
    #[error(
        "the base URL carries a user name or password ({0}): remove it; the gateway is signed in with the profile's token and keys, and credentials in a URL would be sent to it as well"
    )]
    Credentials(String),
    #[error(
        "the base URL uses plain http://, which is only allowed to this machine (127.0.0.1, ::1, localhost); use https:// for {0}"
    )]
    PlainHttp(String),
    #[error("only https:// base URLs are supported, not {0}")]
    Scheme(String),
}

/// Parses a gateway base URL and refuses plain HTTP to anything but loopback, where secrets
/// and payouts would cross a network in clear text.
pub fn parse_base_url(text: &str) -> Result<Url, BaseUrlError> {
    let mut url =
        Url::parse(text.trim()).map_err(|_| BaseUrlError::Unparsable(redact_userinfo(text)))?;
    // reqwest would send these as HTTP Basic credentials beside the token.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(BaseUrlError::Credentials(redact_userinfo(text.trim())));
    }
    match url.scheme() {
        "https" => {}
        "http" => {
            let host = url.host_str().unwrap_or("").to_owned();
            if !is_loopback_host(&host) {
                return Err(BaseUrlError::PlainHttp(host));
            }
        }
        other => return Err(BaseUrlError::Scheme(other.to_owned())),
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    url.set_query(None);
    url.set_fragment(None);
    Ok(url)
}

/// The URL text with whatever stands between the scheme and the last `@` replaced by `***`,
/// so an error never repeats a password.
fn redact_userinfo(text: &str) -> String {
    let (scheme, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text),
    };
    // Up to the last `@` anywhere: a password may hold `/`, `?` or `#`, and an error message
    // loses nothing that matters by masking a path's `@`.
    match rest.rfind('@') {
        Some(at) => format!("{scheme}***@{}", &rest[at + 1..]),
        None => text.to_owned(),
    }
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The one place URLs are built: `base` + a gateway path, keeping any prefix of the base.
pub fn endpoint(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let joined = format!("{}{}", base.path(), path.trim_start_matches('/'));
    url.set_path(&joined);
    url
}

/// A failure to exchange bytes with the gateway. Unlike a gateway's error code, this says
/// nothing about what the gateway did: for a payout it means the outcome is unknown.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    #[error("the gateway did not answer in time")]
    Timeout,
    #[error("could not connect to the gateway: {0}")]
    Connect(String),
    #[error("the reply was cut off or could not be read: {0}")]
    Body(String),
    #[error("the reply is larger than {MAX_REPLY_BYTES} bytes")]
    TooLarge,
    #[error("HTTP error: {0}")]
    Other(String),
}

impl From<reqwest::Error> for TransportError {
    fn from(e: reqwest::Error) -> Self {
        // Messages are built without the URL: it is not secret, but it is noise here.
        let detail = source_chain(&e);
        if e.is_timeout() {
            TransportError::Timeout
        } else if e.is_connect() {
            TransportError::Connect(detail)
        } else if e.is_body() || e.is_decode() {
            TransportError::Body(detail)
        } else {
            TransportError::Other(detail)
        }
    }
}

fn source_chain(e: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        parts.push(s.to_string());
        source = s.source();
    }
    if parts.is_empty() {
        let text = e.to_string();
        match text.find(" for url (") {
            Some(i) => text[..i].to_owned(),
            None => text,
        }
    } else {
        parts.join(": ")
    }
}

/// A reply as bytes, before any gateway meaning is given to it.
#[derive(Clone, Debug)]
pub struct RawReply {
    pub status: u16,
    /// The `Date` header, for measuring clock offset.
    pub date: Option<String>,
    pub body: Vec<u8>,
}

/// Builds the HTTP client of a profile: rustls, timeouts, no redirects (a redirected POST
/// could be replayed somewhere else), no proxy from the environment.
pub fn build_client(settings: HttpSettings) -> Result<reqwest::Client, TransportError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(settings.connect_timeout_secs))
        .timeout(Duration::from_secs(settings.timeout_secs))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("paydesk/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(TransportError::from)
}

/// Sends a request and reads the whole reply, bounded in size.
pub async fn send(request: reqwest::RequestBuilder) -> Result<RawReply, TransportError> {
    let mut response = request.send().await?;
    let status = response.status().as_u16();
    let date = response
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        if body.len() + chunk.len() > MAX_REPLY_BYTES {
            return Err(TransportError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(RawReply { status, date, body })
}

/// What the operations log says about one gateway request: never a body, header or key.
#[derive(Clone, Copy, Debug)]
pub struct CallLog<'a> {
    /// `cny` or `gatepay`.
    pub gateway: &'static str,
    pub method: &'static str,
    /// The API path, without the base URL or query.
    pub path: &'a str,
    /// The merchant order ID (or batch ID) the call is about, or "".
    pub order_id: &'a str,
    /// The envelope field holding the gateway's code (`error_code`, `code`).
    pub code_field: &'static str,
    /// The meaning of a gateway code.
    pub meaning: fn(&str) -> &'static str,
}

/// [`send`], with one event on target `paydesk::gateway` for the operations log: method,
/// path, HTTP status, the gateway's code and meaning, elapsed milliseconds, the order ID.
pub async fn send_logged(
    request: reqwest::RequestBuilder,
    call: CallLog<'_>,
) -> Result<RawReply, TransportError> {
    let started = std::time::Instant::now();
    let result = send(request).await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match &result {
        Ok(reply) => {
            let code = envelope_code(&reply.body, call.code_field).unwrap_or_default();
            // Both gateways say success with zeros (`0000`, `000000`), which their lists of
            // error codes leave out.
            let meaning = match code.as_str() {
                "" => "",
                c if c.bytes().all(|b| b == b'0') => "success",
                c => (call.meaning)(c),
            };
            tracing::info!(
                target: "paydesk::gateway",
                gateway = call.gateway,
                method = call.method,
                path = call.path,
                status = reply.status,
                code = code.as_str(),
                meaning,
                elapsed_ms,
                order_id = call.order_id,
                "request"
            );
        }
        Err(e) => tracing::info!(
            target: "paydesk::gateway",
            gateway = call.gateway,
            method = call.method,
            path = call.path,
            error = %e,
            elapsed_ms,
            order_id = call.order_id,
            "request failed"
        ),
    }
    result
}

/// The value of a reply envelope's code field, read from its first bytes without parsing
/// the whole body (a query page may be large). Only short codes of letters and digits.
pub fn envelope_code(body: &[u8], field: &str) -> Option<String> {
    let head = &body[..body.len().min(1024)];
    let text = String::from_utf8_lossy(head);
    let key = format!("\"{field}\"");
    let at = text.find(&key)? + key.len();
    let rest = text[at..].trim_start().strip_prefix(':')?.trim_start();
    let rest = rest.strip_prefix('"').unwrap_or(rest);
    let code: String = rest
        .chars()
        .take_while(char::is_ascii_alphanumeric)
        .take(16)
        .collect();
    (!code.is_empty()).then_some(code)
}

/// The first characters of a reply, for an error message about an unreadable one.
pub fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(120).collect();
    if text.chars().count() > 120 {
        s.push('…');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_codes_are_read_from_the_head() {
        let cny = br#"{"error_code":"0014","error_msg":"dup"}"#;
        assert_eq!(envelope_code(cny, "error_code").as_deref(), Some("0014"));
        let gp = br#"{ "code" : 550245, "label": "x"}"#;
        assert_eq!(envelope_code(gp, "code").as_deref(), Some("550245"));
        assert_eq!(envelope_code(b"<html>", "code"), None);
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert!(parse_base_url("http://127.0.0.1:8080").is_ok());
        assert!(parse_base_url("http://127.9.9.9").is_ok());
        assert!(parse_base_url("http://[::1]:9000/x").is_ok());
        assert!(parse_base_url("http://localhost:1").is_ok());
        assert!(parse_base_url("https://pay.example.com").is_ok());
        assert!(matches!(
            parse_base_url("http://pay.example.com"),
            Err(BaseUrlError::PlainHttp(_))
        ));
        assert!(matches!(
            parse_base_url("http://10.0.0.1"),
            Err(BaseUrlError::PlainHttp(_))
        ));
        assert!(matches!(
            parse_base_url("ftp://x"),
            Err(BaseUrlError::Scheme(_))
        ));
        assert!(matches!(
            parse_base_url("nope"),
            Err(BaseUrlError::Unparsable(_))
        ));
    }

    #[test]
    fn credentials_in_a_base_url_are_refused_without_echoing_them() {
        for text in [
            "https://user:hunter2@pay.example.com",
            "https://user@pay.example.com/x",
            "http://:hunter2@127.0.0.1:8080",
        ] {
            let err = parse_base_url(text).unwrap_err();
            assert!(matches!(err, BaseUrlError::Credentials(_)), "{text}: {err}");
            assert!(!err.to_string().contains("hunter2"), "{err}");
        }
        let err = parse_base_url("https://user:hunter2@pay example.com").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert!(!format!("{err:?}").contains("hunter2"), "{err:?}");
        assert_eq!(
            redact_userinfo("https://u:p/ss@h/a"),
            "https://***@h/a".to_owned()
        );
    }

    #[test]
    fn endpoint_keeps_the_base_prefix() {
        let base = parse_base_url("https://gw.example.com/brand").unwrap();
        assert_eq!(
            endpoint(&base, "/gateway/api/v2/payouts").as_str(),
            "https://gw.example.com/brand/gateway/api/v2/payouts"
        );
        let base = parse_base_url("http://127.0.0.1:5/").unwrap();
        assert_eq!(
            endpoint(&base, "gateway/api/v1/payments").as_str(),
            "http://127.0.0.1:5/gateway/api/v1/payments"
        );
    }
}
