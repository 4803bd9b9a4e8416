//! The gateway origin a payout or batch was sent to: scheme, host and port, so that a row is
//! looked up, settled and re-sent only through the gateway that has it (a TEST and a LIVE
//! gateway of one brand may share a merchant identity; each holds only its own orders).

use std::net::IpAddr;

use reqwest::Url;
use rusqlite::{Transaction, params};

/// The one host name every loopback address is written as: `127.0.0.1:P`, `localhost:P` and
/// `[::1]:P` reach the same gateway.
pub const LOOPBACK: &str = "loopback";

/// The origin of a gateway base URL: `scheme://host:port`, the host in lower case, the port
/// explicit or the scheme's default, every loopback name written as [`LOOPBACK`].
pub fn gateway_origin(base_url: &Url) -> String {
    let host = base_url.host_str().unwrap_or("").to_ascii_lowercase();
    let host = if is_loopback(&host) {
        LOOPBACK.to_owned()
    } else {
        host
    };
    match base_url.port_or_known_default() {
        Some(port) => format!("{}://{host}:{port}", base_url.scheme()),
        None => format!("{}://{host}", base_url.scheme()),
    }
}

/// Whether a row recorded at `row_origin` may be looked up or sent through `origin`: a row
/// from before origins were kept (`None`) goes wherever its merchant does.
pub fn same_origin(row_origin: Option<&str>, origin: &str) -> bool {
    row_origin.is_none_or(|o| o == origin)
}

/// What an operator reads about rows sent through another gateway address.
pub fn other_origin_message(count: usize, what: &str, origin: &str) -> String {
    format!(
        "{count} {what} sent through another gateway address ({origin}): use a profile for \
         that address to check them"
    )
}

fn is_loopback(host: &str) -> bool {
    let host = host.trim_end_matches('.');
    if host == "localhost" || host.ends_with(".localhost") {
        return true;
    }
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok_and(|ip| ip.is_loopback())
}

/// The origin of a key's old `@host[:port]` part. The scheme was not kept: a loopback
/// gateway is taken as the sandbox's `http`, any other as `https`. A wrong guess only makes
/// the row another origin's, which is never sent or settled from here (the safe side).
pub(super) fn legacy_origin(host_port: &str) -> Option<String> {
    if host_port.is_empty() {
        return None;
    }
    let probe = Url::parse(&format!("http://{host_port}/")).ok()?;
    let loopback = is_loopback(probe.host_str().unwrap_or(""));
    let scheme = if loopback { "http" } else { "https" };
    let url = Url::parse(&format!("{scheme}://{host_port}/")).ok()?;
    Some(gateway_origin(&url))
}

/// Migration: adds the `origin` column to `table` (unless a journal written by this version
/// and labelled older already has it).
pub(super) fn add_column(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<()> {
    let has: bool = tx.query_row(
        &format!("SELECT count(*) > 0 FROM pragma_table_info('{table}') WHERE name = 'origin'"),
        [],
        |r| r.get(0),
    )?;
    if !has {
        tx.execute_batch(&format!("ALTER TABLE {table} ADD COLUMN origin TEXT;"))?;
    }
    Ok(())
}

/// Migration: fills the `origin` of every row of `table` whose merchant key still carries
/// `@host[:port]` (the key is stripped by the next piece of the same step).
pub(super) fn fill_legacy_origins(tx: &Transaction<'_>, table: &str) -> rusqlite::Result<()> {
    let rows: Vec<(i64, String)> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT id, merchant FROM {table} WHERE instr(merchant, '@') > 0"
        ))?;
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    for (id, merchant) in rows {
        let origin = merchant
            .rsplit_once('@')
            .and_then(|(_, h)| legacy_origin(h));
        tx.execute(
            &format!("UPDATE {table} SET origin = ?1 WHERE id = ?2"),
            params![origin, id],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(url: &str) -> String {
        gateway_origin(&Url::parse(url).unwrap())
    }

    #[test]
    fn every_loopback_name_is_one_origin_and_ports_are_explicit() {
        assert_eq!(origin("http://127.0.0.1:8080/"), "http://loopback:8080");
        assert_eq!(origin("http://localhost:8080/api/"), "http://loopback:8080");
        assert_eq!(origin("http://[::1]:8080"), "http://loopback:8080");
        assert_eq!(origin("http://127.3.2.1:8080"), "http://loopback:8080");
        assert_eq!(
            origin("https://GW.Example.COM/"),
            "https://gw.example.com:443"
        );
        assert_ne!(
            origin("http://127.0.0.1:8080"),
            origin("http://127.0.0.1:8081")
        );
        assert_ne!(
            origin("http://gw.example.com"),
            origin("https://gw.example.com")
        );
    }

    #[test]
    fn an_old_key_s_address_becomes_an_origin() {
        assert_eq!(
            legacy_origin("127.0.0.1:4010").as_deref(),
            Some("http://loopback:4010")
        );
        assert_eq!(
            legacy_origin("[::1]:4010").as_deref(),
            Some("http://loopback:4010")
        );
        assert_eq!(
            legacy_origin("gw.example.com").as_deref(),
            Some("https://gw.example.com:443")
        );
        assert_eq!(legacy_origin(""), None);
    }
}
