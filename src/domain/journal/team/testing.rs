//! A real PostgreSQL server for the team journal's tests (unit and integration): the one CI
//! started (`PAYDESK_TEST_PG`, a superuser URL), else one this machine's PostgreSQL binaries
//! start under `target/test-pg` and keep for later runs. Where there is none, the tests say so
//! and skip, unless `PAYDESK_REQUIRE_PG` is set (as in CI): then they fail.
//!
//! Each test gets its own database and its own operator roles, dropped afterwards.

// A test harness: a server or database that cannot be set up fails the test that asked.
#![allow(clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::connect::{TeamUrl, off_runtime};
use super::{TeamJournal, install_schema};
use crate::secret::Secret;

/// The server: a superuser's connection settings.
pub struct Server {
    admin: postgres::Config,
    host: String,
    port: u16,
}

fn cluster_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/pg-cluster")
}

/// Starts (or finds running) the local test cluster under `target/test-pg`, one process at
/// a time.
fn local_cluster() -> Result<String, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/test-pg");
    std::fs::create_dir_all(dir.parent().unwrap_or(Path::new("."))).map_err(|e| e.to_string())?;
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.with_extension("lock"))
        .map_err(|e| e.to_string())?;
    lock.lock().map_err(|e| e.to_string())?;
    // A running cluster answers `url`; starting one already running fails harmlessly.
    let out = Command::new(cluster_script())
        .arg("start")
        .arg(&dir)
        .output()
        .map_err(|e| e.to_string())?;
    let url = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if out.status.success() && !url.is_empty() {
        return Ok(url);
    }
    let again = Command::new(cluster_script())
        .arg("url")
        .arg(&dir)
        .output()
        .map_err(|e| e.to_string())?;
    let url = String::from_utf8_lossy(&again.stdout).trim().to_owned();
    let probe = url
        .parse::<postgres::Config>()
        .ok()
        .and_then(|c| c.connect(postgres::NoTls).ok());
    if probe.is_some() {
        Ok(url)
    } else {
        Err(format!(
            "no local PostgreSQL could be started: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// The test server, or `None` (with a note on stderr) where there is none and none is required.
pub fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
    let found = SERVER.get_or_init(|| {
        let url = match std::env::var("PAYDESK_TEST_PG") {
            Ok(url) if !url.trim().is_empty() => url,
            _ => off_runtime(local_cluster)?,
        };
        Server::from_url(&url)
    });
    match found {
        Ok(server) => Some(server),
        Err(why) if std::env::var_os("PAYDESK_REQUIRE_PG").is_some() => {
            panic!("PAYDESK_REQUIRE_PG is set but there is no PostgreSQL server: {why}")
        }
        Err(why) => {
            eprintln!("skipped: no PostgreSQL server for the team journal tests ({why})");
            None
        }
    }
}

fn random_suffix() -> String {
    use rand::Rng;
    let mut rng = rand::rng();
    (0..8)
        .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
        .collect()
}

/// A database of its own with the team journal installed (owned by the superuser), a group
/// role for its operators and one login role per operator name.
pub struct TestDb {
    server: &'static Server,
    pub database: String,
    pub group: String,
    operators: Vec<(String, String, Secret)>,
}

impl Server {
    fn from_url(url: &str) -> Result<Server, String> {
        let admin: postgres::Config = url.parse().map_err(|e| format!("PAYDESK_TEST_PG: {e}"))?;
        let host = match admin.get_hosts().first() {
            Some(postgres::config::Host::Tcp(h)) => h.clone(),
            _ => return Err("PAYDESK_TEST_PG must name a TCP host".into()),
        };
        let port = admin.get_ports().first().copied().unwrap_or(5432);
        Ok(Server { admin, host, port })
    }

    pub fn admin(&self) -> postgres::Client {
        self.admin
            .connect(postgres::NoTls)
            .expect("the test server's superuser connects")
    }

    /// A fresh database with the team journal and operators `names` (e.g. "alice", "bob").
    pub fn fresh(&'static self, names: &[&str]) -> TestDb {
        off_runtime(|| self.fresh_here(names))
    }

    fn fresh_here(&'static self, names: &[&str]) -> TestDb {
        let suffix = random_suffix();
        let database = format!("pd_{suffix}");
        let group = format!("pd_{suffix}_operators");
        let mut admin = self.admin();
        admin
            .batch_execute(&format!("CREATE DATABASE {database}"))
            .expect("create the test database");
        let mut operators = Vec::new();
        for name in names {
            let role = format!("pd_{suffix}_{name}");
            let password = random_suffix() + &random_suffix();
            operators.push((name.to_string(), role, Secret::new(password)));
        }
        let mut db = TestDb {
            server: self,
            database,
            group,
            operators,
        };
        let mut owner = db.owner();
        install_schema(&mut owner, &db.group).expect("install the team journal");
        for (_, role, password) in &db.operators {
            admin
                .batch_execute(&format!(
                    "CREATE ROLE {role} LOGIN PASSWORD '{}' IN ROLE {}; GRANT CONNECT ON DATABASE {} TO {role};",
                    password.expose(),
                    db.group,
                    db.database
                ))
                .expect("create an operator role");
        }
        db.operators.shrink_to_fit();
        db
    }
}

impl TestDb {
    /// The superuser, connected to this database (the team journal's owner).
    pub fn owner(&self) -> postgres::Client {
        let mut config = self.server.admin.clone();
        config.dbname(&self.database);
        config
            .connect(postgres::NoTls)
            .expect("the owner connects to the test database")
    }

    fn operator(&self, name: &str) -> &(String, String, Secret) {
        self.operators
            .iter()
            .find(|(n, _, _)| n == name)
            .unwrap_or_else(|| panic!("no operator {name} in this test database"))
    }

    /// The database role of operator `name`.
    pub fn role(&self, name: &str) -> &str {
        &self.operator(name).1
    }

    /// The team-journal URL operator `name` connects with (no password in it).
    pub fn url(&self, name: &str) -> TeamUrl {
        TeamUrl::parse(&format!(
            "postgres://{}@{}:{}/{}?sslmode=disable",
            self.role(name),
            self.server.host,
            self.server.port,
            self.database
        ))
        .expect("a test URL parses")
    }

    pub fn password(&self, name: &str) -> Secret {
        self.operator(name).2.clone()
    }

    /// The team journal as operator `name` sees it.
    pub fn open(&self, name: &str) -> TeamJournal {
        TeamJournal::open(&self.url(name), Some(&self.password(name)))
            .expect("an operator opens the team journal")
    }

    /// Runs SQL as the owner, from anywhere (an async test too).
    pub fn owner_sql(&self, sql: &str, params: &[&(dyn postgres::types::ToSql + Sync)]) -> u64 {
        off_runtime(|| {
            self.owner()
                .execute(sql, params)
                .expect("the owner's statement runs")
        })
    }

    /// A raw connection as operator `name`: a client that skips every check Paydesk makes.
    pub fn raw(&self, name: &str) -> postgres::Client {
        let mut config = self.server.admin.clone();
        config
            .user(self.role(name))
            .password(self.password(name).expose())
            .dbname(&self.database);
        config
            .connect(postgres::NoTls)
            .expect("an operator connects")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        off_runtime(|| self.drop_here());
    }
}

impl TestDb {
    fn drop_here(&self) {
        let Ok(mut admin) = self.server.admin.connect(postgres::NoTls) else {
            return;
        };
        let _ = admin.batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.database
        ));
        for (_, role, _) in &self.operators {
            let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {role}"));
        }
        let _ = admin.batch_execute(&format!("DROP ROLE IF EXISTS {}", self.group));
    }
}

/// A cluster of its own, for a test that stops and starts the server.
pub struct PrivateCluster {
    dir: PathBuf,
    pub server: &'static Server,
}

impl PrivateCluster {
    /// Starts one, or `None` (skip) where PostgreSQL's binaries are missing and not required.
    pub fn start() -> Option<PrivateCluster> {
        let dir = std::env::temp_dir().join(format!("paydesk-pg-{}", random_suffix()));
        let out = Command::new(cluster_script())
            .arg("start")
            .arg(&dir)
            .output();
        let url = match out {
            Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
            other => {
                let why = format!("{other:?}");
                assert!(
                    std::env::var_os("PAYDESK_REQUIRE_PG").is_none(),
                    "PAYDESK_REQUIRE_PG is set but no private cluster starts: {why}"
                );
                eprintln!("skipped: no private PostgreSQL cluster ({why})");
                let _ = std::fs::remove_dir_all(&dir);
                return None;
            }
        };
        let server = Server::from_url(&url).expect("the cluster's URL reads");
        Some(PrivateCluster {
            dir,
            // Leaked: a few bytes per test that asks, so that databases may borrow it.
            server: Box::leak(Box::new(server)),
        })
    }

    /// Stops the server at once (as a crash or a pulled cable would).
    pub fn stop(&self) {
        let _ = Command::new(cluster_script())
            .arg("stop")
            .arg(&self.dir)
            .status();
    }

    /// Starts it again on the same port, with what it held.
    pub fn restart(&self) {
        let ok = Command::new(cluster_script())
            .arg("start")
            .arg(&self.dir)
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "the private cluster starts again");
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
