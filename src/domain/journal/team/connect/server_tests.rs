//! Connecting to a real PostgreSQL server: the one CI starts (`PAYDESK_TEST_PG`, a
//! superuser URL), else a throwaway cluster started here with `.ci/pg-cluster`. Without
//! PostgreSQL's binaries the tests skip, unless `PAYDESK_REQUIRE_PG=1` (CI), where they fail.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::*;

fn require_pg() -> bool {
    std::env::var("PAYDESK_REQUIRE_PG").is_ok_and(|v| v == "1")
}

fn skip(why: &str) {
    assert!(!require_pg(), "PAYDESK_REQUIRE_PG=1 but {why}");
    eprintln!("skipped: {why}");
}

/// A PostgreSQL server with its superuser's URL; a cluster started here is stopped on drop.
struct Server {
    superuser_url: String,
    own: Option<tempfile::TempDir>,
}

fn pg_cluster_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/pg-cluster")
}

impl Server {
    /// The shared server when CI gave one, else a cluster of our own.
    fn any() -> Option<Server> {
        match std::env::var("PAYDESK_TEST_PG") {
            Ok(url) if !url.is_empty() => Some(Server {
                superuser_url: url,
                own: None,
            }),
            _ => Server::own(),
        }
    }

    /// A cluster of our own (a test that changes the server's settings needs one).
    fn own() -> Option<Server> {
        let dir = tempfile::tempdir().unwrap();
        let out = Command::new("bash")
            .arg(pg_cluster_script())
            .arg("start")
            .arg(dir.path())
            .output()
            .unwrap();
        if out.status.code() == Some(3) {
            skip("no PostgreSQL server binaries (Debian package postgresql)");
            return None;
        }
        assert!(
            out.status.success(),
            "pg-cluster start failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Some(Server {
            superuser_url: String::from_utf8(out.stdout).unwrap().trim().to_owned(),
            own: Some(dir),
        })
    }

    fn superuser(&self) -> postgres::Client {
        off_runtime(|| postgres::Client::connect(&self.superuser_url, postgres::NoTls).unwrap())
    }

    fn port(&self) -> u16 {
        let config: postgres::Config = self.superuser_url.parse().unwrap();
        config.get_ports()[0]
    }

    /// A login role with a password, named for this test run.
    fn login_role(&self, tag: &str, password: &str) -> String {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let role = format!("pgconn_{tag}_{}_{nanos}", std::process::id());
        let mut su = self.superuser();
        // DDL takes no parameters; the password is ours, so quoting it by hand is safe here.
        su.batch_execute(&format!("CREATE ROLE {role} LOGIN PASSWORD '{password}'"))
            .unwrap();
        role
    }

    fn url(&self, role: &str, host: &str, params: &str) -> TeamUrl {
        TeamUrl::parse(&format!(
            "postgres://{role}@{host}:{}/postgres{params}",
            self.port()
        ))
        .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(dir) = &self.own {
            let _ = Command::new("bash")
                .arg(pg_cluster_script())
                .arg("stop")
                .arg(dir.path())
                .output();
        }
    }
}

fn session_user_and_ssl(client: &mut postgres::Client) -> (String, bool) {
    off_runtime(|| {
        let row = client
            .query_one(
                "SELECT session_user::text, coalesce((SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()), false)",
                &[],
            )
            .unwrap();
        (row.get(0), row.get(1))
    })
}

fn unreachable_why(result: Result<postgres::Client, TeamError>) -> String {
    match result {
        Err(TeamError::Unreachable { why, .. }) => why,
        Err(other) => panic!("not unreachable: {other}"),
        Ok(_) => panic!("connected where it should not"),
    }
}

#[test]
fn a_role_with_its_password_connects_and_the_server_names_it() {
    let Some(server) = Server::any() else { return };
    let password = "pw-Zq81-team";
    let role = server.login_role("plain", password);
    let secret = Secret::new(password);

    let url = server.url(&role, "127.0.0.1", "?sslmode=disable");
    let mut client = connect(&url, Some(&secret)).unwrap();
    assert_eq!(session_user_and_ssl(&mut client), (role.clone(), false));
    let app: String = client
        .query_one("SELECT current_setting('application_name')", &[])
        .unwrap()
        .get(0);
    assert_eq!(app, "paydesk");

    // `prefer` falls back to a plain connection on a server without TLS.
    let url = server.url(&role, "127.0.0.1", "?sslmode=prefer");
    let mut client = connect(&url, Some(&secret)).unwrap();
    assert_eq!(session_user_and_ssl(&mut client).1, false);

    let wrong = Secret::new("not-the-password-77");
    let why = unreachable_why(connect(
        &server.url(&role, "127.0.0.1", "?sslmode=disable"),
        Some(&wrong),
    ));
    assert!(
        why.contains(&format!("password authentication failed for user {role}")),
        "{why}"
    );
    assert!(!why.contains("not-the-password-77") && !why.contains(password));

    let why = unreachable_why(connect(
        &server.url(&role, "127.0.0.1", "?sslmode=disable"),
        None,
    ));
    assert!(why.contains("asks for a password"), "{why}");

    let why = unreachable_why(connect(
        &TeamUrl::parse(&format!(
            "postgres://{role}@127.0.0.1:{}/no_such_db?sslmode=disable",
            server.port()
        ))
        .unwrap(),
        Some(&secret),
    ));
    assert!(why.contains("no database no_such_db"), "{why}");
}

#[test]
fn tls_is_required_by_default_and_a_server_without_it_is_refused() {
    let Some(server) = Server::any() else { return };
    let password = "pw-tls-needed";
    let role = server.login_role("notls", password);
    let secret = Secret::new(password);
    for params in ["?sslmode=require", "", "?sslmode=verify-ca"] {
        let err = connect(&server.url(&role, "127.0.0.1", params), Some(&secret))
            .err()
            .unwrap();
        let text = err.to_string();
        assert!(
            text.contains("TLS failed") && text.contains("does not offer TLS"),
            "{params}: {text}"
        );
        assert!(text.contains(&format!("{role}@127.0.0.1")), "{text}");
    }
}

#[test]
fn the_client_runs_from_inside_a_tokio_runtime() {
    let Some(server) = Server::any() else { return };
    let password = "pw-in-runtime";
    let role = server.login_role("rt", password);
    let url = server.url(&role, "127.0.0.1", "?sslmode=disable");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    // The client blocks and closes itself on drop with a runtime of its own: connecting,
    // using and dropping it all happen inside `off_runtime`.
    let user = rt.block_on(async move {
        tokio::spawn(async move {
            let secret = Secret::new(password);
            off_runtime(|| {
                let mut client = connect(&url, Some(&secret)).unwrap();
                session_user_and_ssl(&mut client).0
            })
        })
        .await
        .unwrap()
    });
    assert_eq!(user, role);
}

/// `openssl` makes a CA and a certificate for `localhost` signed by it, in `dir`.
fn make_certificates(dir: &Path) -> bool {
    let run = |args: &[&str]| {
        Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    let mut ok = true;
    for (name, cn) in [("ca", "Paydesk test CA"), ("other-ca", "Someone else's CA")] {
        let (key, pem, subj) = (
            format!("{name}.key"),
            format!("{name}.pem"),
            format!("/CN={cn}"),
        );
        let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj", &subj];
        args.extend(ec);
        args.extend(["-keyout", &key, "-out", &pem]);
        ok &= run(&args);
    }
    let mut args = vec!["req", "-nodes", "-subj", "/CN=localhost"];
    args.extend(ec);
    args.extend(["-keyout", "server.key", "-out", "server.csr"]);
    ok &= run(&args);
    ok && run(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "server.ext",
        "-out",
        "server.pem",
    ])
}

/// Turns TLS on in a cluster of our own with `certs/server.{pem,key}`.
fn enable_tls(server: &Server, certs: &Path) {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let dir = server.own.as_ref().unwrap().path();
    let owner = std::fs::metadata(dir.join("data")).unwrap();
    for name in ["server.pem", "server.key"] {
        let to = dir.join(name);
        std::fs::copy(certs.join(name), &to).unwrap();
        std::fs::set_permissions(&to, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::chown(&to, Some(owner.uid()), Some(owner.gid())).unwrap();
    }
    let mut su = server.superuser();
    for sql in [
        format!(
            "ALTER SYSTEM SET ssl_cert_file = '{}'",
            dir.join("server.pem").display()
        ),
        format!(
            "ALTER SYSTEM SET ssl_key_file = '{}'",
            dir.join("server.key").display()
        ),
        "ALTER SYSTEM SET ssl = on".to_owned(),
        "SELECT pg_reload_conf()".to_owned(),
    ] {
        su.batch_execute(&sql).unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let on: String = server
            .superuser()
            .query_one("SHOW ssl", &[])
            .unwrap()
            .get(0);
        if on == "on" {
            return;
        }
        assert!(Instant::now() < deadline, "the server did not turn TLS on");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn each_sslmode_checks_what_libpq_checks() {
    let certs = tempfile::tempdir().unwrap();
    if !make_certificates(certs.path()) {
        skip("openssl could not make test certificates");
        return;
    }
    let Some(server) = Server::own() else { return };
    enable_tls(&server, certs.path());
    let password = "pw-over-tls";
    let role = server.login_role("tls", password);
    let secret = Secret::new(password);
    let ca = certs.path().join("ca.pem");
    let other_ca = certs.path().join("other-ca.pem");
    let ok = |host: &str, params: String| {
        let mut client = connect(&server.url(&role, host, &params), Some(&secret))
            .unwrap_or_else(|e| panic!("{host} {params}: {e}"));
        let (user, ssl) = session_user_and_ssl(&mut client);
        assert_eq!(user, role);
        ssl
    };
    let fails = |host: &str, params: String| {
        unreachable_why(connect(&server.url(&role, host, &params), Some(&secret)))
    };
    let root = |mode: &str, file: &Path| format!("?sslmode={mode}&sslrootcert={}", file.display());

    assert!(
        ok("localhost", root("verify-full", &ca)),
        "verify-full by name"
    );
    assert!(
        ok("localhost", format!("?sslrootcert={}", ca.display())),
        "the default checks all"
    );
    let why = fails("127.0.0.1", root("verify-full", &ca));
    assert!(
        why.contains("TLS failed") && why.contains("not made out to 127.0.0.1"),
        "{why}"
    );
    assert!(
        ok("127.0.0.1", root("verify-ca", &ca)),
        "verify-ca ignores the name"
    );
    assert!(
        ok("127.0.0.1", "?sslmode=require".to_owned()),
        "require checks nothing"
    );
    assert!(
        ok("127.0.0.1", "?sslmode=prefer".to_owned()),
        "prefer takes TLS when offered"
    );
    assert!(!ok("127.0.0.1", "?sslmode=disable".to_owned()));
    // As libpq: a Unix socket never uses TLS, whatever sslmode says.
    let socket_dir = server
        .own
        .as_ref()
        .unwrap()
        .path()
        .to_str()
        .unwrap()
        .replace('/', "%2F");
    assert!(
        !ok(&socket_dir, "?sslmode=verify-full".to_owned()),
        "TLS over a socket"
    );
    for params in [
        root("verify-ca", &other_ca),
        root("require", &other_ca),
        "?sslmode=verify-full".to_owned(),
    ] {
        let why = fails("localhost", params.clone());
        assert!(
            why.contains("not signed by an authority"),
            "{params}: {why}"
        );
    }
}
