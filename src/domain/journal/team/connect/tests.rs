//! The address as libpq reads it, the sslmode defaults, and what is refused.

use super::tls::{Check, check_for};
use super::*;

fn parse(text: &str) -> TeamUrl {
    TeamUrl::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

fn refused(text: &str) -> String {
    match TeamUrl::parse(text) {
        Err(TeamError::Url(why)) => why,
        other => panic!("{text} was not refused as an address: {other:?}"),
    }
}

#[test]
fn a_plain_url_takes_libpq_defaults() {
    let u = parse("postgres://alice@db.example.com/paydesk");
    assert_eq!(u.user(), "alice");
    assert_eq!(u.database(), "paydesk");
    assert_eq!(u.host(), "db.example.com");
    assert_eq!(u.port(), 5432);
    assert_eq!(u.ssl_mode(), SslMode::VerifyFull, "TLS by default over TCP");
    assert_eq!(u.connect_timeout(), Duration::from_secs(10));
    assert_eq!(u.application_name(), "paydesk");
    assert_eq!(u.target(), "alice@db.example.com:5432/paydesk");
    assert_eq!(check_for(&u), Some(Check::ChainAndName));

    let u = parse("postgresql://bob@10.0.0.5:6543");
    assert_eq!(
        u.database(),
        "bob",
        "the database defaults to the user name"
    );
    assert_eq!(u.port(), 6543);
}

#[test]
fn percent_escapes_and_query_parameters_are_read() {
    let u = parse(
        "postgres://ops%40acme@db.example.com:5433/pay%20desk?sslmode=verify-ca&sslrootcert=/etc/team%20ca.pem&connect_timeout=3&application_name=desk%207",
    );
    assert_eq!(u.user(), "ops@acme");
    assert_eq!(u.database(), "pay desk");
    assert_eq!(u.ssl_mode(), SslMode::VerifyCa);
    assert_eq!(u.ssl_root_cert(), Some("/etc/team ca.pem"));
    assert_eq!(u.connect_timeout(), Duration::from_secs(3));
    assert_eq!(u.application_name(), "desk 7");
    // Query parameters win over the URL's parts, as in libpq.
    let u = parse("postgres://alice@h1:1/db1?host=h2&port=2&dbname=db2&user=carol");
    assert_eq!(u.target(), "carol@h2:2/db2");
}

#[test]
fn ipv6_hosts_are_bracketed() {
    let u = parse("postgres://alice@[::1]:5433/db");
    assert_eq!(u.host(), "::1");
    assert_eq!(u.target(), "alice@[::1]:5433/db");
    assert_eq!(u.to_string(), "postgres://alice@[::1]:5433/db");
    assert!(refused("postgres://alice@[::1/db").contains(']'));
}

#[test]
fn a_unix_socket_directory_is_a_host_without_tls() {
    for text in [
        "postgres://alice@%2Fvar%2Frun%2Fpostgresql/paydesk",
        "postgres://alice@/paydesk?host=/var/run/postgresql",
        "postgresql:///paydesk?host=%2Fvar%2Frun%2Fpostgresql&user=alice",
    ] {
        let u = parse(text);
        assert!(u.is_unix_socket(), "{text}");
        assert_eq!(u.host(), "/var/run/postgresql", "{text}");
        assert_eq!(u.user(), "alice");
        assert_eq!(u.database(), "paydesk");
        assert_eq!(
            u.ssl_mode(),
            SslMode::Disable,
            "{text}: no TLS over a socket"
        );
    }
}

#[test]
fn every_sslmode_maps_to_its_checks() {
    let with = |mode: &str| parse(&format!("postgres://a@h/d?sslmode={mode}"));
    assert_eq!(check_for(&with("disable")), None);
    assert_eq!(check_for(&with("allow")), Some(Check::Nothing));
    assert_eq!(check_for(&with("prefer")), Some(Check::Nothing));
    assert_eq!(check_for(&with("require")), Some(Check::Nothing));
    assert_eq!(check_for(&with("verify-ca")), Some(Check::Chain));
    assert_eq!(check_for(&with("verify-full")), Some(Check::ChainAndName));
    // As libpq: `require` with a named authority verifies the chain.
    let u = parse("postgres://a@h/d?sslmode=require&sslrootcert=/etc/ca.pem");
    assert_eq!(check_for(&u), Some(Check::Chain));
    for mode in [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ] {
        assert_eq!(with(mode).ssl_mode().as_str(), mode);
    }
    assert!(refused("postgres://a@h/d?sslmode=on").contains("verify-full"));
}

#[test]
fn a_password_is_refused_wherever_it_is_written() {
    for text in [
        "postgres://alice:hunter2@db.example.com/paydesk",
        "postgres://alice:@db.example.com/paydesk",
        "postgres://alice@db.example.com/paydesk?password=hunter2",
        "postgres://alice@db.example.com/paydesk?sslmode=disable&pass%77ord=hunter2",
    ] {
        let why = refused(text);
        assert!(why.contains("password") && why.contains("keyring"), "{why}");
        assert!(
            !why.contains("hunter2"),
            "the refusal repeats the password: {why}"
        );
    }
}

#[test]
fn what_is_not_an_address_is_refused_clearly() {
    let cases = [
        ("postgres://db.example.com/paydesk", "no user"),
        ("postgres://@db.example.com/paydesk", "no user"),
        ("postgres://alice@/paydesk", "no server"),
        ("mysql://alice@db/x", "postgres://"),
        ("host=db user=alice", "postgres://"),
        ("postgres://alice@h1,h2/db", "several hosts"),
        ("postgres://alice@h:0/db", "port"),
        ("postgres://alice@h:70000/db", "port"),
        ("postgres://alice@h:abc/db", "port"),
        ("postgres://alice@h/db?connect_timeout=0", "connect_timeout"),
        ("postgres://alice@h/db?connect_timeout=x", "connect_timeout"),
        ("postgres://alice@h/db?sslcert=/c.pem", "not supported"),
        (
            "postgres://alice@h/db?target_session_attrs=any",
            "not one Paydesk reads",
        ),
        ("postgres://alice@h/db?sslmode", "no '=value'"),
        ("postgres://al%ZZice@h/db", "%-escape"),
        ("postgres://al%00ice@h/db", "control"),
        ("postgres://al%FFice@h/db", "UTF-8"),
        ("postgres://alice@h/db#frag", "'#'"),
        ("postgres://alice@h/db?sslrootcert=", "sslrootcert"),
    ];
    for (text, expected) in cases {
        let why = refused(text);
        assert!(why.contains(expected), "{text}: {why}");
    }
    let long = format!("postgres://alice@h/{}", "d".repeat(5000));
    assert!(refused(&long).contains("longer"));
    let long_user = format!("postgres://{}@h/db", "u".repeat(64));
    assert!(refused(&long_user).contains("63 bytes"));
}

#[test]
fn display_reads_back_as_the_same_address() {
    for text in [
        "postgres://alice@db.example.com/paydesk",
        "postgres://ops%40acme@db.example.com:5433/pay%20desk?sslmode=verify-ca&sslrootcert=/etc/team%20ca.pem&connect_timeout=3&application_name=desk%207",
        "postgres://alice@%2Fvar%2Frun%2Fpostgresql/paydesk",
        "postgres://alice@[fe80::1]/paydesk?sslmode=require",
    ] {
        let u = parse(text);
        let shown = u.to_string();
        assert_eq!(parse(&shown), u, "{text} shown as {shown}");
        assert!(shown.starts_with("postgres://"));
    }
    assert_eq!(
        parse("postgresql://alice@db.example.com/paydesk?sslmode=disable").to_string(),
        "postgres://alice@db.example.com:5432/paydesk?sslmode=disable"
    );
}

#[test]
fn an_unreadable_root_file_is_named_before_any_connection() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("none.pem");
    let url = parse(&format!(
        "postgres://a@127.0.0.1:1/d?sslmode=verify-ca&sslrootcert={}",
        missing.display()
    ));
    match connect(&url, None).err() {
        Some(TeamError::Url(why)) => assert!(why.contains("cannot be read"), "{why}"),
        other => panic!("{other:?}"),
    }
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let url = parse(&format!(
        "postgres://a@127.0.0.1:1/d?sslmode=verify-full&sslrootcert={}",
        junk.display()
    ));
    match connect(&url, None).err() {
        Some(TeamError::Url(why)) => assert!(why.contains("no certificate"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_closed_port_is_unreachable_with_the_reason() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let url = parse(&format!(
        "postgres://alice@127.0.0.1:{port}/db?sslmode=disable"
    ));
    match connect(&url, Some(&Secret::new("s3cr3t-pw"))).err() {
        Some(e @ TeamError::Unreachable { .. }) => {
            let text = e.to_string();
            assert!(text.contains("connection refused"), "{text}");
            assert!(
                text.contains(&format!("alice@127.0.0.1:{port}/db")),
                "{text}"
            );
            assert!(!text.contains("s3cr3t-pw"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn off_runtime_runs_inside_and_outside_a_runtime() {
    assert_eq!(off_runtime(|| 7), 7);
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let inside = rt.block_on(async {
        // A runtime here would panic on a nested one; off_runtime moves the work off it.
        off_runtime(|| tokio::runtime::Handle::try_current().is_err())
    });
    assert!(inside, "the work ran on the runtime's thread");
}
