//! The `paydesk` binary as automation uses it: the sandbox's JSON line, `orders`, `verify`,
//! `sign`, exit codes, and profiles with secrets in a real keyring (or a clear refusal).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_paydesk");
const VARS: &[&str] = &[
    "PAYDESK_CNY_BASE_URL",
    "PAYDESK_CNY_PLATFORM_ID",
    "PAYDESK_CNY_AUTH_TOKEN",
    "PAYDESK_CNY_MD5_KEY",
    "PAYDESK_GATEPAY_BASE_URL",
    "PAYDESK_GATEPAY_CLIENT_ID",
    "PAYDESK_GATEPAY_SECRET",
    "PAYDESK_GATEPAY_ON_BEHALF_OF",
];
const NOTE: &str = r#"{"payout_id":"POT00000102","payout_cl_id":"97a968b4a9db497c8c03198e395a38c6","platform_id":"PF0014","amount":400000,"real_amount":400000,"fee":3200,"status":3,"create_time":1567614049,"update_time":1567614111,"sign":"f3292e7a9e7be26296a30a6c0d6a25f8"}"#;
const DEMO_KEY: &str = "2I9Q4nExEddsH6zo";

/// A command with no Paydesk credentials from the test's own environment and its own config dir.
fn paydesk(config_dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    for v in VARS {
        c.env_remove(v);
    }
    c.env("PAYDESK_CONFIG_DIR", config_dir);
    c
}

fn run(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

struct Sandbox {
    child: Child,
    info: Value,
}

impl Sandbox {
    fn start(dir: &Path, extra: &[&str]) -> Sandbox {
        let mut child = paydesk(dir)
            .args([
                "sandbox",
                "--port",
                "0",
                "--deposits",
                "300",
                "--payouts",
                "200",
                "--seed",
                "11",
            ])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let info: Value = serde_json::from_str(&line).expect("one JSON line");
        Sandbox { child, info }
    }

    fn with_env(&self, mut cmd: Command) -> Command {
        let i = &self.info;
        cmd.env("PAYDESK_CNY_BASE_URL", i["base_url"].as_str().unwrap())
            .env(
                "PAYDESK_CNY_PLATFORM_ID",
                i["cny"]["platform_id"].as_str().unwrap(),
            )
            .env(
                "PAYDESK_CNY_AUTH_TOKEN",
                i["cny"]["auth_token"].as_str().unwrap(),
            )
            .env("PAYDESK_CNY_MD5_KEY", i["cny"]["md5_key"].as_str().unwrap())
            .env("PAYDESK_GATEPAY_BASE_URL", i["base_url"].as_str().unwrap())
            .env(
                "PAYDESK_GATEPAY_CLIENT_ID",
                i["gatepay"]["client_id"].as_str().unwrap(),
            )
            .env(
                "PAYDESK_GATEPAY_SECRET",
                i["gatepay"]["secret"].as_str().unwrap(),
            )
            .env(
                "PAYDESK_GATEPAY_ON_BEHALF_OF",
                i["gatepay"]["on_behalf_of"].as_str().unwrap(),
            );
        cmd
    }

    fn stop(mut self) {
        Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", self.child.id())])
            .status()
            .unwrap();
        let status = self.child.wait().unwrap();
        assert!(
            status.success(),
            "the sandbox stops cleanly on SIGTERM: {status}"
        );
    }
}

#[test]
fn orders_through_the_binary_sandbox() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(dir.path(), &[]);
    assert!(
        sb.info["base_url"]
            .as_str()
            .unwrap()
            .starts_with("http://127.0.0.1:")
    );

    let mut cmd = sb.with_env(paydesk(dir.path()));
    cmd.args(["orders", "deposits", "--limit", "5", "--format", "json"]);
    let out = run(cmd, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["total"], 300);
    let orders = page["orders"].as_array().unwrap();
    assert_eq!(orders.len(), 5);
    assert!(orders.iter().all(|o| o["signature"] == "valid"
        && o["sign"].is_string()
        && o["payment_cl_name"].is_string()));

    // What `orders` prints in JSON verifies as it is; the newest 50 hold one tampered order.
    let mut verify = sb.with_env(paydesk(dir.path()));
    verify.args(["verify", "cny"]);
    let out = run(verify, &text(&run_json(&sb, dir.path())));
    let report = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{report}{}", text(&out.stderr));
    assert_eq!(report.lines().count(), 50);
    assert_eq!(
        report.lines().filter(|l| l.ends_with("\tvalid")).count(),
        49,
        "{report}"
    );

    let mut cmd = sb.with_env(paydesk(dir.path()));
    cmd.args([
        "orders",
        "payouts",
        "--from",
        "2000-01-01",
        "--to",
        "2100-01-01",
        "--limit",
        "3",
    ]);
    let out = run(cmd, "");
    let table = text(&out.stdout);
    assert!(table.contains("1–3 of 200 payouts"), "{table}");
    assert!(table.contains("Signature"));

    let mut cmd = sb.with_env(paydesk(dir.path()));
    cmd.args(["orders", "payouts", "--format", "csv", "--limit", "2"]);
    let csv = text(&run(cmd, "").stdout);
    assert!(csv.lines().next().unwrap().ends_with(",signature"), "{csv}");
    assert_eq!(csv.lines().count(), 3);

    let mut cmd = sb.with_env(paydesk(dir.path()));
    cmd.args(["orders", "payouts", "--limit", "501"]);
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("between 1 and 500"));

    let mut cmd = sb.with_env(paydesk(dir.path()));
    cmd.env("PAYDESK_CNY_AUTH_TOKEN", "wrong")
        .args(["orders", "deposits"]);
    let out = run(cmd, "");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("0006: invalid Authorization"),
        "{}",
        text(&out.stderr)
    );

    let mut cmd = sb.with_env(paydesk(dir.path()));
    cmd.args([
        "gatepay",
        "batch",
        "M57143269144",
        "--status",
        "fail",
        "--format",
        "json",
    ]);
    let out = run(cmd, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let batch: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(
        batch["withdraw_list"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["status"] == "FAIL")
    );
    sb.stop();
}

fn run_json(sb: &Sandbox, dir: &Path) -> Vec<u8> {
    let mut cmd = sb.with_env(paydesk(dir));
    cmd.args(["orders", "deposits", "--limit", "50", "--format", "json"]);
    run(cmd, "").stdout
}

#[test]
fn verify_and_sign_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let mut ok = paydesk(dir.path());
    ok.env("PAYDESK_CNY_MD5_KEY", DEMO_KEY)
        .args(["verify", "cny"]);
    let out = run(ok, NOTE);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("POT00000102\tvalid"));

    let mut bad = paydesk(dir.path());
    bad.env("PAYDESK_CNY_MD5_KEY", DEMO_KEY)
        .args(["verify", "cny", "--explain"]);
    let out = run(bad, &NOTE.replace("400000,\"real", "400001,\"real"));
    assert_eq!(out.status.code(), Some(1));
    let report = text(&out.stdout);
    assert!(
        report.contains("signed text  amount=400001&") && report.contains("&***"),
        "{report}"
    );
    assert!(!report.contains(DEMO_KEY));

    let mut garbage = paydesk(dir.path());
    garbage
        .env("PAYDESK_CNY_MD5_KEY", DEMO_KEY)
        .args(["verify", "cny"]);
    assert_eq!(run(garbage, "{nope").status.code(), Some(2));

    let mut no_key = paydesk(dir.path());
    no_key.args(["verify", "cny"]);
    let out = run(no_key, NOTE);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("PAYDESK_CNY_MD5_KEY"),
        "{}",
        text(&out.stderr)
    );

    let mut sign = paydesk(dir.path());
    sign.env("PAYDESK_CNY_MD5_KEY", DEMO_KEY)
        .args(["sign", "cny"]);
    let out = run(
        sign,
        r#"{"amount":4754378,"name":"王小头","notify_url":"http://localhost:52595/gateway/test-notification","payment_cl_id":"test_1707220575_1","platform_id":"PF0001","request_time":1707220575,"service_id":"SVC0001"}"#,
    );
    let printed = text(&out.stdout);
    assert!(
        printed.contains("sign         559444c72051d4feab4d840cc39c5b84"),
        "{printed}"
    );
    assert!(!printed.contains(DEMO_KEY));

    let body = r#"{"batch_id":"M57143269150","detail_status":"ALL"}"#;
    let sig = "e4209f12fd89defd1d4aefcfb3cb5c7d58ad415fde01df7201fda154dc07876e22c995829f739876d35ff2e8565983f38840bed87f92cf87c137ad8510cb960e";
    let mut gp = paydesk(dir.path());
    gp.env("PAYDESK_GATEPAY_SECRET", "test_secret").args([
        "verify",
        "gatepay",
        "--timestamp",
        "1672905655498",
        "--nonce",
        "9578",
        "--signature",
        sig,
    ]);
    let out = run(gp, body);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));
    let mut gp = paydesk(dir.path());
    gp.env("PAYDESK_GATEPAY_SECRET", "test_secret").args([
        "verify",
        "gatepay",
        "--timestamp",
        "1672905655498",
        "--nonce",
        "9578",
        "--signature",
        sig,
    ]);
    let out = run(gp, &format!("{body}\n"));
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stdout).contains("trailing newline"),
        "{}",
        text(&out.stdout)
    );
}

#[test]
fn without_a_keyring_nothing_is_stored_anywhere() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = paydesk(dir.path());
    cmd.env("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/bus")
        .args([
            "profile",
            "add",
            "Acme",
            "--gateway",
            "cny",
            "--base-url",
            "https://gw.example.com",
            "--platform-id",
            "PF0001",
        ]);
    let out = run(cmd, "token-SECRET-1\nkey-SECRET-2\n");
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no OS keyring is reachable"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        !dir.path().join("config.toml").exists(),
        "no profile without its secrets"
    );
    let all: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(all.is_empty(), "nothing written: {all:?}");
}

/// Runs against a real Secret Service; CI provides one (gnome-keyring under dbus-run-session)
/// and sets `PAYDESK_REQUIRE_KEYRING=1` so that this cannot silently pass without it.
#[test]
fn profile_secrets_round_trip_through_the_keyring() {
    let required = std::env::var("PAYDESK_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(!required, "PAYDESK_REQUIRE_KEYRING=1 but no session bus");
        eprintln!("skipped: no session bus, so no Secret Service to test against");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(dir.path(), &[]);
    let name = format!("it-{}", std::process::id());
    let mut add = paydesk(dir.path());
    add.args([
        "profile",
        "add",
        &name,
        "--gateway",
        "cny",
        "--base-url",
        sb.info["base_url"].as_str().unwrap(),
        "--platform-id",
        "PF0060",
    ]);
    let secrets = format!(
        "{}\n{}\n",
        sb.info["cny"]["auth_token"].as_str().unwrap(),
        sb.info["cny"]["md5_key"].as_str().unwrap()
    );
    let out = run(add, &secrets);
    if !out.status.success() && !required && text(&out.stderr).contains("no OS keyring") {
        eprintln!("skipped: {}", text(&out.stderr));
        sb.stop();
        return;
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config = std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert!(config.contains(&name));
    for secret in [&sb.info["cny"]["auth_token"], &sb.info["cny"]["md5_key"]] {
        assert!(
            !config.contains(secret.as_str().unwrap()),
            "a secret reached the config file"
        );
    }
    // The profile alone (no environment) reaches the sandbox, secrets from the keyring.
    let mut orders = paydesk(dir.path());
    orders.args(["orders", "deposits", "--format", "json", "--limit", "3"]);
    let out = run(orders, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(page["orders"][0]["signature"], "valid");
    let mut test = paydesk(dir.path());
    test.args(["profile", "test", &name]);
    assert!(run(test, "").status.success());
    let mut remove = paydesk(dir.path());
    remove.args(["profile", "remove", &name]);
    assert!(run(remove, "").status.success());
    let mut orders = paydesk(dir.path());
    orders.args(["orders", "deposits"]);
    assert_eq!(run(orders, "").status.code(), Some(2));
    sb.stop();
}

#[test]
fn gatepay_create_sends_a_file_once_and_resumes_by_batch_id() {
    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(dir.path(), &[]);
    let data = dir.path().join("data");
    let file = dir.path().join("batch.csv");
    std::fs::write(
        &file,
        "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
         c1,USDT,12.5,TRX,TXcli1,,0\n\
         c2,BTC,0.0001,BTC,bc1qcli,,0\n",
    )
    .unwrap();
    let create = |batch_id: &str, file: &Path, yes: bool| {
        let mut cmd = sb.with_env(paydesk(dir.path()));
        cmd.env("PAYDESK_DATA_DIR", &data).args([
            "gatepay",
            "create",
            "--batch-id",
            batch_id,
            "--file",
            file.to_str().unwrap(),
        ]);
        if yes {
            cmd.arg("--yes");
        }
        run(cmd, "")
    };
    let out = create("cli_batch_1", &file, false);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("pass --yes"),
        "{}",
        text(&out.stderr)
    );
    assert!(text(&out.stderr).contains("0.0001 BTC (1), 12.5 USDT (1)"));

    let out = create("cli_batch_1", &file, true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let entry: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entry["state"], "accepted");
    assert_eq!(entry["attempts"], 1);

    // The same file and batch ID again: looked up, not sent again.
    let out = create("cli_batch_1", &file, true);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("resuming"));
    let entry: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(entry["attempts"], 1);

    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "merchant_withdraw_id,currency,amount,chain,address\nb1,USDT,1.1234567,TRX,TX1\nb1,USDT,1,TRX,\n",
    )
    .unwrap();
    let out = create("cli_batch_2", &bad, true);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("3 problem(s); nothing was sent"), "{err}");
    assert!(
        err.contains("row 2, amount: at most 6 decimal places"),
        "{err}"
    );
    assert!(err.contains("row 3, address: required"), "{err}");

    let mut cmd = sb.with_env(paydesk(dir.path()));
    cmd.env("PAYDESK_DATA_DIR", &data)
        .args(["gatepay", "list", "--format", "json"]);
    let out = run(cmd, "");
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["batch_id"], "cli_batch_1");
    sb.stop();
}

#[test]
fn ctrl_c_during_an_export_cancels_it_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    // Ten pages of payouts, each 300 ms late: the export is still fetching when Ctrl-C comes.
    let mut child = paydesk(dir.path())
        .args([
            "sandbox",
            "--port",
            "0",
            "--deposits",
            "1",
            "--payouts",
            "5000",
        ])
        .args(["--latency-ms", "300"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let sb = Sandbox {
        child,
        info: serde_json::from_str(&line).unwrap(),
    };
    let out = tempfile::tempdir().unwrap();
    let target = out.path().join("all.csv");
    let mut cmd = sb.with_env(paydesk(dir.path()));
    cmd.args(["export", "payouts", "--concurrency", "1", "--out"])
        .arg(&target)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = cmd.spawn().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.id())])
        .status()
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("cancelled"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    sb.stop();
}

#[test]
fn a_team_journal_address_with_a_password_is_refused_before_any_secret_is_asked() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = paydesk(dir.path());
    cmd.args([
        "profile",
        "add",
        "Team",
        "--gateway",
        "gatepay",
        "--client-id",
        "c1",
        "--on-behalf-of",
        "1",
        "--team-journal",
        "postgres://alice:hunter2@db.example.com/paydesk",
    ]);
    let out = run(cmd, "gp-secret\n");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("password") && err.contains("keyring"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    assert!(!dir.path().join("config.toml").exists());
}

/// As `profile_secrets_round_trip_through_the_keyring`: a real Secret Service in CI.
#[test]
fn a_team_journal_is_named_kept_and_removed_with_its_password_in_the_keyring() {
    let required = std::env::var("PAYDESK_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(!required, "PAYDESK_REQUIRE_KEYRING=1 but no session bus");
        eprintln!("skipped: no session bus, so no Secret Service to test against");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let name = format!("team-{}", std::process::id());
    let url = "postgres://alice@db.example.com/paydesk?sslmode=verify-full";
    let add = |extra: &[&str], stdin: &str| {
        let mut cmd = paydesk(dir.path());
        cmd.args([
            "profile",
            "add",
            &name,
            "--gateway",
            "gatepay",
            "--client-id",
            "c1",
            "--on-behalf-of",
            "1",
        ])
        .args(extra);
        run(cmd, stdin)
    };
    let out = add(&["--team-journal", url], "gp-secret-1\nTEAM-PW-SECRET\n");
    if !out.status.success() && !required && text(&out.stderr).contains("no OS keyring") {
        eprintln!("skipped: {}", text(&out.stderr));
        return;
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("team journal: alice@db.example.com:5432/paydesk"));
    let config = || std::fs::read_to_string(dir.path().join("config.toml")).unwrap();
    assert!(config().contains(url), "{}", config());
    assert!(!config().contains("TEAM-PW-SECRET"));

    let shared = dir.path().join("shared.toml");
    let mut export = paydesk(dir.path());
    export.args(["profile", "export", &name]).arg(&shared);
    assert!(run(export, "").status.success());
    let exported = std::fs::read_to_string(&shared).unwrap();
    assert!(exported.contains(url) && !exported.contains("TEAM-PW-SECRET"));

    // Changed without naming it: the team journal stays, and its password is not asked for.
    let out = add(&["--replace", "--live"], "gp-secret-2\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(config().contains(url) && config().contains("live = true"));
    let mut list = paydesk(dir.path());
    list.args(["profile", "list"]);
    assert!(text(&run(list, "").stdout).contains(&format!("team journal {url}")));

    let out = add(&["--replace", "--team-journal", "none"], "gp-secret-3\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!config().contains("team_journal"), "{}", config());

    let mut remove = paydesk(dir.path());
    remove.args(["profile", "remove", &name]);
    assert!(run(remove, "").status.success());
}

/// The whole path of a team journal's password: typed once, kept in the keyring, used by
/// `profile test` to sign in to a real PostgreSQL server as the profile's role. Needs the
/// Secret Service and the server CI provides (`PAYDESK_TEST_PG`, a superuser URL).
#[test]
fn profile_test_signs_in_to_the_team_journal_with_the_keyring_password() {
    let required = std::env::var("PAYDESK_REQUIRE_KEYRING").is_ok_and(|v| v == "1");
    let pg_required = std::env::var("PAYDESK_REQUIRE_PG").is_ok_and(|v| v == "1");
    let Some(superuser) = std::env::var("PAYDESK_TEST_PG")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        assert!(!pg_required, "PAYDESK_REQUIRE_PG=1 but no PAYDESK_TEST_PG");
        eprintln!("skipped: no PAYDESK_TEST_PG server");
        return;
    };
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        assert!(!required, "PAYDESK_REQUIRE_KEYRING=1 but no session bus");
        eprintln!("skipped: no session bus, so no Secret Service to test against");
        return;
    }
    let role = format!("it_team_{}", std::process::id());
    let password = "it-team-PW-9";
    let port = {
        let config: postgres::Config = superuser.parse().unwrap();
        config.get_ports()[0]
    };
    let mut su = postgres::Client::connect(&superuser, postgres::NoTls).unwrap();
    su.batch_execute(&format!(
        "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN PASSWORD '{password}'"
    ))
    .unwrap();

    let dir = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(dir.path(), &[]);
    let name = format!("team-it-{}", std::process::id());
    let mut add = paydesk(dir.path());
    add.args([
        "profile",
        "add",
        &name,
        "--gateway",
        "cny",
        "--base-url",
        sb.info["base_url"].as_str().unwrap(),
        "--platform-id",
        "PF0060",
        "--team-journal",
        &format!("postgres://{role}@127.0.0.1:{port}/postgres?sslmode=disable"),
    ]);
    let secrets = format!(
        "{}\n{}\n{password}\n",
        sb.info["cny"]["auth_token"].as_str().unwrap(),
        sb.info["cny"]["md5_key"].as_str().unwrap()
    );
    let out = run(add, &secrets);
    if !out.status.success() && !required && text(&out.stderr).contains("no OS keyring") {
        eprintln!("skipped: {}", text(&out.stderr));
        sb.stop();
        return;
    }
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut test = paydesk(dir.path());
    test.args(["profile", "test", &name]);
    let out = run(test, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!(
            "team journal {role}@127.0.0.1:{port}/postgres reached as role {role}"
        )),
        "{}",
        text(&out.stdout)
    );
    // A wrong password in the server: the same command says so, and shows no password.
    su.batch_execute(&format!("ALTER ROLE {role} PASSWORD 'changed-elsewhere'"))
        .unwrap();
    let mut test = paydesk(dir.path());
    test.args(["profile", "test", &name]);
    let out = run(test, "");
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("password authentication failed for user {role}")),
        "{err}"
    );
    assert!(!err.contains(password) && !err.contains("changed-elsewhere"));
    let mut remove = paydesk(dir.path());
    remove.args(["profile", "remove", &name]);
    assert!(run(remove, "").status.success());
    su.batch_execute(&format!("DROP ROLE {role}")).unwrap();
    sb.stop();
}
