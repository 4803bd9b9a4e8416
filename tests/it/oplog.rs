//! The operations log as support reads it: real CLI commands against the binary sandbox with
//! a throwaway data directory, then the log files searched for what must never be there
//! (keys, tokens, account numbers, names, signatures) and for what must (merchant order IDs,
//! outcomes, the export's row count); `-v` shows the same events on standard error.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_paydesk");
const ACCOUNTS: [&str; 4] = [
    "6222021234567890123",
    "6217003810026896707",
    "6222020200007101",
    "6222020200007102",
];
const NAME: &str = "欧阳小明";
const ADDRESS: &str = "TQn9Y2khEsLJW1ChVWFMSMeRDow5KcbLSE";

fn paydesk(home: &Path, data: &Path) -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("PAYDESK_") {
            c.env_remove(k);
        }
    }
    c.env("PAYDESK_CONFIG_DIR", home.join("config"))
        .env("PAYDESK_DATA_DIR", data);
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
    fn start(home: &Path) -> Sandbox {
        let mut child = paydesk(home, &home.join("sandbox-data"))
            .args([
                "sandbox",
                "--port",
                "0",
                "--deposits",
                "50",
                "--payouts",
                "50",
                "--seed",
                "5",
            ])
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

    fn secret(&self, gateway: &str, key: &str) -> String {
        self.info[gateway][key].as_str().unwrap().to_owned()
    }

    fn with_env(&self, mut cmd: Command) -> Command {
        let url = self.info["base_url"].as_str().unwrap();
        cmd.env("PAYDESK_CNY_BASE_URL", url)
            .env("PAYDESK_CNY_PLATFORM_ID", self.secret("cny", "platform_id"))
            .env("PAYDESK_CNY_AUTH_TOKEN", self.secret("cny", "auth_token"))
            .env("PAYDESK_CNY_MD5_KEY", self.secret("cny", "md5_key"))
            .env("PAYDESK_GATEPAY_BASE_URL", url)
            .env(
                "PAYDESK_GATEPAY_CLIENT_ID",
                self.secret("gatepay", "client_id"),
            )
            .env("PAYDESK_GATEPAY_SECRET", self.secret("gatepay", "secret"))
            .env(
                "PAYDESK_GATEPAY_ON_BEHALF_OF",
                self.secret("gatepay", "on_behalf_of"),
            );
        cmd
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every log file of the data directory, concatenated.
fn read_logs(data: &Path) -> String {
    let dir = data.join("logs");
    let mut all = String::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        all.push_str(&std::fs::read_to_string(entry.unwrap().path()).unwrap());
    }
    all
}

/// Runs of exactly 32 hexadecimal characters: the shape of an MD5 signature.
fn hex32_runs(log: &str) -> Vec<String> {
    let mut runs = Vec::new();
    let mut run = String::new();
    for c in log.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            if run.len() == 32 {
                runs.push(run.clone());
            }
            run.clear();
        }
    }
    runs
}

fn payout(sb: &Sandbox, home: &Path, data: &Path, cl_id: &str, number: &str) -> Output {
    let mut cmd = sb.with_env(paydesk(home, data));
    cmd.args([
        "payout", "create", "--amount", "123.45", "--bank", "ICBC", "--name", NAME, "--number",
        number, "--cl-id", cl_id, "--yes",
    ]);
    run(cmd, "")
}

#[test]
fn the_log_holds_order_ids_and_outcomes_and_never_secrets_accounts_or_signatures() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let sb = Sandbox::start(home.path());

    let first = payout(&sb, home.path(), &data, "oplog_first_1", ACCOUNTS[0]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    // The same with -v: the events also reach standard error.
    let mut verbose = sb.with_env(paydesk(home.path(), &data));
    verbose.arg("-v").args([
        "payout",
        "create",
        "--amount",
        "88.00",
        "--bank",
        "ICBC",
        "--name",
        NAME,
        "--number",
        ACCOUNTS[1],
        "--cl-id",
        "oplog_second_2",
        "--yes",
    ]);
    let second = run(verbose, "");
    let stderr = text(&second.stderr);
    assert_eq!(second.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("paydesk::gateway"), "{stderr}");
    assert!(stderr.contains("oplog_second_2"), "{stderr}");
    assert!(!stderr.contains(ACCOUNTS[1]), "{stderr}");
    assert!(
        !text(&first.stderr).contains("paydesk::gateway"),
        "without -v, standard error gets no info lines: {}",
        text(&first.stderr)
    );

    let mut orders = sb.with_env(paydesk(home.path(), &data));
    orders.args(["orders", "payouts", "--limit", "20", "--format", "json"]);
    let listed = run(orders, "");
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let mut by_id = sb.with_env(paydesk(home.path(), &data));
    by_id.args([
        "orders",
        "payouts",
        "--cl-id",
        "oplog_first_1",
        "--format",
        "json",
    ]);
    let found = run(by_id, "");
    assert!(found.status.success(), "{}", text(&found.stderr));
    let signs: Vec<String> = text(&found.stdout)
        .split("\"sign\"")
        .skip(1)
        .filter_map(|s| s.split('"').nth(1).map(str::to_owned))
        .collect();

    let mut verify = sb.with_env(paydesk(home.path(), &data));
    verify.args(["verify", "cny"]);
    let _ = run(verify, &text(&found.stdout));

    let out = home.path().join("payouts.csv");
    let mut export = sb.with_env(paydesk(home.path(), &data));
    export
        .args(["export", "payouts", "--concurrency", "1", "--out"])
        .arg(&out);
    let exported = run(export, "");
    assert!(exported.status.success(), "{}", text(&exported.stderr));

    let mut import = sb.with_env(paydesk(home.path(), &data));
    import.args(["payout", "import", "-", "--yes"]);
    let csv = format!(
        "merchant order ID,amount,bank,name,number\n\
         oplog_import_3,101.00,ICBC,{NAME},{}\n\
         oplog_import_4,102.00,ICBC,{NAME},{}\n",
        ACCOUNTS[2], ACCOUNTS[3]
    );
    let imported = run(import, &csv);
    assert_eq!(
        imported.status.code(),
        Some(0),
        "{}",
        text(&imported.stderr)
    );

    let batch = home.path().join("batch.csv");
    std::fs::write(
        &batch,
        format!(
            "merchant_withdraw_id,currency,amount,chain,address,memo,fee_type\n\
             oplog_w1,USDT,12.5,TRX,{ADDRESS},,0\n"
        ),
    )
    .unwrap();
    let mut gatepay = sb.with_env(paydesk(home.path(), &data));
    gatepay
        .args([
            "gatepay",
            "create",
            "--batch-id",
            "oplog_batch_5",
            "--yes",
            "--file",
        ])
        .arg(&batch);
    let created = run(gatepay, "");
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));

    let mut reconcile = sb.with_env(paydesk(home.path(), &data));
    reconcile.args(["payout", "reconcile"]);
    let _ = run(reconcile, "");

    let log = read_logs(&data);
    for secret in [
        sb.secret("cny", "md5_key"),
        sb.secret("cny", "auth_token"),
        sb.secret("gatepay", "secret"),
    ] {
        assert!(!log.contains(&secret), "a secret is in the log:\n{log}");
    }
    for number in ACCOUNTS {
        assert!(!log.contains(number), "{number} is in the log:\n{log}");
        assert!(log.contains(&format!("****{}", &number[number.len() - 4..])));
    }
    assert!(
        !log.contains(NAME),
        "the recipient's name is in the log:\n{log}"
    );
    for sign in &signs {
        assert!(
            !log.contains(sign.as_str()),
            "signature {sign} is in the log"
        );
    }
    assert!(
        hex32_runs(&log).is_empty(),
        "nothing shaped like a signature: {:?}",
        hex32_runs(&log)
    );

    for wanted in [
        "oplog_first_1",
        "oplog_second_2",
        "oplog_import_4",
        "oplog_batch_5",
        "batch sent",
        "code=\"000000\" meaning=\"success\"",
        "import run",
        "outcome=\"accepted\"",
        "paydesk::gateway",
        "method=\"POST\"",
        "elapsed_ms=",
        "export finished",
        "payouts reconciled",
        "command=\"payout create\"",
        "command=\"export\"",
    ] {
        assert!(
            log.contains(wanted),
            "{wanted} is missing from the log:\n{log}"
        );
    }
    let rows = log
        .lines()
        .find(|l| l.contains("export finished"))
        .unwrap()
        .to_owned();
    assert!(rows.contains("rows="), "{rows}");
    // Each line starts with a UTC timestamp, then the level.
    for line in log.lines() {
        assert!(line.get(..4).is_some_and(|y| y.starts_with("20")), "{line}");
        assert!(
            line.split_whitespace().next().unwrap().ends_with('Z'),
            "{line}"
        );
    }
}

#[test]
fn a_log_directory_that_cannot_be_written_is_reported_once_and_not_fatal() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // A file where the folder should be: it can never be created.
    std::fs::write(data.join("logs"), "not a folder").unwrap();
    let mut cmd = paydesk(home.path(), &data);
    cmd.args(["sign", "cny"])
        .env("PAYDESK_CNY_MD5_KEY", "2I9Q4nExEddsH6zo");
    let out = run(cmd, r#"{"platform_id":"PF0014","amount":1}"#);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(
        stderr.matches("operations log cannot be written").count(),
        1,
        "{stderr}"
    );
}

/// A gateway that quotes every request back: `0001 network delay` with the whole request
/// body in `error_msg` for a payout, an HTTP 500 with it (and 10 MB of padding) for a query.
fn echoing_gateway() -> (tokio::runtime::Runtime, String) {
    use axum::Router;
    use axum::body::Bytes;
    use axum::http::StatusCode;
    use axum::routing::post;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let app = Router::new().route(
        "/gateway/api/v2/payouts",
        post(|body: Bytes| async move {
            let echoed = String::from_utf8_lossy(&body).into_owned();
            let big = format!(
                "{}\n2026-01-01T00:00:00Z ERROR forged {echoed}",
                "x".repeat(10 << 20)
            );
            serde_json::json!({"error_code": "0001", "error_msg": format!("{echoed}{big}")})
                .to_string()
        })
        .get(|| async {
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("{{\"echo\":\"name {NAME} number 6222 0212 3456 7890\"}}"),
            )
        }),
    );
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    rt.spawn(async move { axum::serve(listener, app).await });
    (rt, url)
}

#[test]
fn a_gateway_that_echoes_the_request_puts_no_name_or_account_in_the_log() {
    let home = tempfile::tempdir().unwrap();
    let data = home.path().join("data");
    let (_gateway, url) = echoing_gateway();
    let spaced = "6222 0212 3456 7890";
    let mut cmd = paydesk(home.path(), &data);
    cmd.env("PAYDESK_CNY_BASE_URL", &url)
        .env("PAYDESK_CNY_PLATFORM_ID", "PF0060")
        .env("PAYDESK_CNY_AUTH_TOKEN", "echo-token-0123456789")
        .env("PAYDESK_CNY_MD5_KEY", "echo-md5-key-abcdef")
        .arg("-vv")
        .args([
            "payout",
            "create",
            "--amount",
            "12.34",
            "--bank",
            "ICBC",
            "--name",
            NAME,
            "--number",
            spaced,
            "--cl-id",
            "oplog_echo_1",
            "--yes",
        ]);
    let out = run(cmd, "");
    let stderr = text(&out.stderr);
    let log = read_logs(&data);
    assert!(log.contains("oplog_echo_1"), "{log}");
    for (what, text) in [("log", &log), ("stderr", &stderr)] {
        let logged: String = text
            .lines()
            .filter(|l| l.contains(" paydesk"))
            .collect::<Vec<_>>()
            .join("\n");
        assert!(
            !logged.contains(NAME),
            "the name is in the {what}:\n{logged}"
        );
        assert!(
            !logged.contains("6222021234567890") && !logged.contains("0212 3456"),
            "the account is in the {what}:\n{logged}"
        );
        assert!(!logged.contains("forged"), "a forged line in the {what}");
    }
    for line in log.lines() {
        assert!(
            line.len() <= paydesk::logging::MAX_LINE_BYTES + 64,
            "a line of {} bytes",
            line.len()
        );
    }
}
