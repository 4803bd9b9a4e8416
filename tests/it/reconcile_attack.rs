//! Adversarial regressions for issue 15 (reconciliation), found by adv15. Each `#[ignore]`d
//! test fails on the commit it was written against and passes once its bug is fixed: the
//! lead un-ignores it with the fix.
//!
//! The gateway here is a hand-made one (as in `lying_gateway.rs`) serving 200 signed payouts
//! of 2023-11-14 (UTC), all successful, ¥300.00 each, IDs `cl0`..`cl199`; a ledger booking
//! exactly those reconciles to "everything matched" when the gateway is honest.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State as AxumState};
use axum::routing::get;
use paydesk::clock::SystemClock;
use paydesk::domain::reconcile::{Mapping, MappingStore, Period, Request, reconcile};
use paydesk::domain::search::StreamOptions;
use paydesk::domain::sheet::Limits;
use paydesk::gateway::cny::sign::{SignOptions, sign_object};
use paydesk::gateway::cny::wire::{OrderKind, PAYOUTS_PATH};
use paydesk::gateway::cny::{CnyClient, CnyConfig};
use paydesk::gateway::http::{HttpSettings, parse_base_url};
use paydesk::secret::Secret;
use serde_json::{Map, Value, json};

const BIN: &str = env!("CARGO_BIN_EXE_paydesk");
const KEY: &str = "attack-key";
/// 2023-11-14 22:13:20 UTC.
const BASE: i64 = 1_700_000_000;
const ORDERS: i64 = 200;
const DAY: &str = "2023-11-14";
const MAP: &str = "id=Order No,amount=Amount,status=State,time=Booked at,fee=-,credited=paid,\
not_credited=failed,pending=pending";

#[derive(Clone, Copy)]
enum Gateway {
    Honest,
    /// Order `cl{n}` is never served, but every `total` still counts it: the counts disagree
    /// with the rows (what a gateway losing a row between its count and its page does).
    Hides(i64),
    /// Order `cl{n}` settled (its `update_time`) at 00:05 UTC the next day.
    SettlesNextDay(i64),
}

fn order(i: i64, gateway: Gateway) -> Value {
    let mut o = Map::new();
    o.insert("payout_id".into(), json!(format!("POT{i:08}")));
    o.insert("payout_cl_id".into(), json!(format!("cl{i}")));
    o.insert("platform_id".into(), json!("PF0060"));
    o.insert("amount".into(), json!(30_000));
    o.insert("real_amount".into(), json!(30_000));
    o.insert("fee".into(), json!(0));
    o.insert("status".into(), json!(3));
    o.insert("create_time".into(), json!(BASE + i));
    let update = match gateway {
        // 2023-11-15 00:05:00 UTC.
        Gateway::SettlesNextDay(n) if n == i => 1_700_006_700,
        _ => BASE + i,
    };
    o.insert("update_time".into(), json!(update));
    let sign = sign_object(&o, &Secret::new(KEY), SignOptions::default());
    o.insert("sign".into(), json!(sign));
    Value::Object(o)
}

async fn page(
    AxumState(gateway): AxumState<Gateway>,
    Query(q): Query<HashMap<String, String>>,
) -> String {
    let num = |k: &str, d: i64| q.get(k).and_then(|v| v.parse().ok()).unwrap_or(d);
    let (gte, lte) = (
        num("create_time__gte", 0),
        num("create_time__lte", i64::MAX),
    );
    let (offset, limit) = (num("offset", 0), num("limit", 25));
    let matching: Vec<i64> = (0..ORDERS)
        .rev()
        .filter(|i| (gte..=lte).contains(&(BASE + i)))
        .collect();
    let data: Vec<Value> = matching
        .iter()
        .skip(usize::try_from(offset).unwrap())
        .take(usize::try_from(limit).unwrap())
        .filter(|i| !matches!(gateway, Gateway::Hides(n) if n == **i))
        .map(|i| order(*i, gateway))
        .collect();
    json!({"error_code": "0000", "data": data, "total": matching.len()}).to_string()
}

/// Serves `gateway` on 127.0.0.1; its base URL.
async fn serve(gateway: Gateway) -> String {
    let app = Router::new()
        .route(&format!("/{PAYOUTS_PATH}"), get(page))
        .with_state(gateway);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{addr}")
}

fn client(base_url: &str) -> CnyClient {
    CnyClient::new(
        CnyConfig {
            base_url: parse_base_url(base_url).unwrap(),
            platform_id: "PF0060".to_owned(),
            auth_token: Secret::new("attack-token"),
            md5_key: Some(Secret::new(KEY)),
            sign_options: SignOptions::default(),
            brand: paydesk::gateway::cny::Brand::default(),
            banks: paydesk::domain::banks::default_banks(),
            http: HttpSettings {
                connect_timeout_secs: 2,
                timeout_secs: 5,
            },
        },
        Arc::new(SystemClock),
    )
    .unwrap()
}

/// The ledger that books every order of the gateway (minus `leave_out`), times in UTC.
fn ledger_text(leave_out: Option<i64>) -> String {
    let mut text = String::from("Order No,Amount,State,Booked at\n");
    for i in (0..ORDERS).filter(|i| Some(*i) != leave_out) {
        let t = jiff::Timestamp::from_second(BASE + i).unwrap();
        let _ = writeln!(
            text,
            "cl{i},300.00,paid,{}",
            t.strftime("%Y-%m-%d %H:%M:%S")
        );
    }
    text
}

fn period() -> Period {
    let utc = jiff::tz::TimeZone::UTC;
    use paydesk::domain::dates::{Bound, parse_bound};
    Period {
        from_secs: parse_bound(DAY, &utc, Bound::Start).unwrap(),
        to_secs: parse_bound(DAY, &utc, Bound::End).unwrap(),
    }
}

fn request(ledger: &Path, work: &Path) -> Request {
    Request {
        kind: OrderKind::Payout,
        period: period(),
        margin_secs: paydesk::domain::reconcile::DEFAULT_MARGIN_SECS,
        ledger: ledger.to_path_buf(),
        mapping: Mapping::from_map_arg(MAP).unwrap(),
        tz: jiff::tz::TimeZone::UTC,
        tz_name: "UTC".into(),
        limits: Limits::default(),
        workfile: work.to_path_buf(),
        stream: StreamOptions {
            window_pages: 2,
            page_size: 10,
            concurrency: 4,
        },
    }
}

/// The `paydesk` binary against `base_url`, with its own config folder.
/// `paydesk reconcile payouts` of `ledger.csv` in `dir` for one UTC day.
fn reconcile_day(base_url: &str, dir: &Path, day: &str) -> std::process::Output {
    cli(base_url, dir)
        .args([
            "reconcile",
            "payouts",
            "--ledger",
            "ledger.csv",
            "--from",
            day,
            "--to",
            day,
            "--tz",
            "UTC",
            "--map",
            MAP,
        ])
        .output()
        .unwrap()
}

fn cli(base_url: &str, dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .env("PAYDESK_CONFIG_DIR", dir.join("config"))
        .env("PAYDESK_DATA_DIR", dir.join("data"))
        .env("PAYDESK_CNY_BASE_URL", base_url)
        .env("PAYDESK_CNY_PLATFORM_ID", "PF0060")
        .env("PAYDESK_CNY_AUTH_TOKEN", "attack-token")
        .env("PAYDESK_CNY_MD5_KEY", KEY)
        .env_remove("PAYDESK_MAX_FILE_MB");
    c
}

fn reconcile_args<'a>(ledger: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec![
        "reconcile",
        "payouts",
        "--ledger",
        ledger,
        "--from",
        DAY,
        "--to",
        DAY,
        "--tz",
        "UTC",
        "--map",
        MAP,
    ];
    a.extend_from_slice(extra);
    a
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("paydesk-adv15-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The control: an honest gateway and a complete ledger match, exit 0.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_an_honest_gateway_and_a_complete_ledger_match() {
    let dir = temp_dir("control");
    let ledger = dir.join("ledger.csv");
    std::fs::write(&ledger, ledger_text(None)).unwrap();
    let url = serve(Gateway::Honest).await;
    let report = reconcile(
        &client(&url),
        &request(&ledger, &dir.join("work.sqlite")),
        BASE + 10 * 86_400,
        |_| {},
    )
    .await
    .unwrap();
    assert!(report.all_matched(), "{report:?}");
    assert_eq!(report.count_note, None);
    let out = cli(&url, &dir)
        .args(reconcile_args("ledger.csv", &[]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Money wrong: the gateway counts 200 orders but serves 199; the one it never served
/// (¥300.00, successful, in the period) is not in the ledger either. The report has a count
/// note, yet says "everything matched" and the CLI exits 0: ¥300.00 moved that nobody will
/// book. A reconciliation whose gateway side is known to be incomplete must not report all
/// matched (exit 1 or 2, with the note).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_side_known_to_be_incomplete_is_never_all_matched() {
    let dir = temp_dir("incomplete");
    let ledger = dir.join("ledger.csv");
    std::fs::write(&ledger, ledger_text(Some(77))).unwrap();
    let url = serve(Gateway::Hides(77)).await;
    let outcome = reconcile(
        &client(&url),
        &request(&ledger, &dir.join("work.sqlite")),
        BASE + 10 * 86_400,
        |_| {},
    )
    .await;
    if let Ok(report) = &outcome {
        assert!(
            report.count_note.is_some(),
            "the counts disagree: {report:?}"
        );
        assert!(
            !report.all_matched(),
            "an incomplete gateway side must not be 'everything matched': {report:?}"
        );
    }
    let out = cli(&url, &dir)
        .args(reconcile_args("ledger.csv", &[]))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
}

/// Data loss: `--workfile` naming the ledger deletes the merchant's ledger and puts the SQLite
/// work file in its place, before anything is fetched (here the gateway is not even
/// reachable). Should be refused (exit 2) with the ledger untouched.
#[test]
fn a_workfile_naming_the_ledger_is_refused_and_the_ledger_kept() {
    let dir = temp_dir("workfile-ledger");
    let ledger = dir.join("ledger.csv");
    let original = ledger_text(None);
    std::fs::write(&ledger, &original).unwrap();
    let out = cli("http://127.0.0.1:9", &dir)
        .args(reconcile_args("ledger.csv", &["--workfile", "ledger.csv"]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(
        std::fs::read_to_string(&ledger).unwrap_or_default(),
        original,
        "the ledger was replaced: {}",
        text(&out)
    );
}

/// Data loss: `--out` naming the ledger renames the differences over the merchant's ledger;
/// the manifest then names a ledger SHA-256 no file has any more, so nobody can re-run it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_naming_the_ledger_is_refused_and_the_ledger_kept() {
    let dir = temp_dir("out-ledger");
    let ledger = dir.join("ledger.csv");
    let original = ledger_text(Some(5));
    std::fs::write(&ledger, &original).unwrap();
    let url = serve(Gateway::Honest).await;
    let out = cli(&url, &dir)
        .args(reconcile_args("ledger.csv", &["--out", "ledger.csv"]))
        .output()
        .unwrap();
    assert_eq!(
        std::fs::read_to_string(&ledger).unwrap_or_default(),
        original,
        "the ledger was replaced by the export: {}",
        text(&out)
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

/// The manifest's command must re-run: with `--format csv` and an `--out` whose extension
/// says nothing, the recorded command drops `--format` and its re-run exits 2 ("name the
/// format with --format").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifest_command_re_runs_with_an_explicit_format() {
    let dir = temp_dir("rerun-format");
    std::fs::write(dir.join("ledger.csv"), ledger_text(Some(5))).unwrap();
    let url = serve(Gateway::Honest).await;
    let first = cli(&url, &dir)
        .args(reconcile_args(
            "ledger.csv",
            &["--out", "differences.txt", "--format", "csv"],
        ))
        .output()
        .unwrap();
    assert_eq!(first.status.code(), Some(1), "{}", text(&first));
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("differences.txt.manifest.json")).unwrap(),
    )
    .unwrap();
    let command = manifest["command"].as_str().unwrap().to_owned();
    let sha = manifest["export"]["sha256"].as_str().unwrap().to_owned();
    // Re-run the recorded command with a shell, `paydesk` being this build's binary.
    let shell = format!("{BIN}{}", command.strip_prefix("paydesk").unwrap());
    let again = Command::new("sh")
        .current_dir(&dir)
        .env("PAYDESK_CONFIG_DIR", dir.join("config"))
        .env("PAYDESK_DATA_DIR", dir.join("data"))
        .env("PAYDESK_CNY_BASE_URL", &url)
        .env("PAYDESK_CNY_PLATFORM_ID", "PF0060")
        .env("PAYDESK_CNY_AUTH_TOKEN", "attack-token")
        .env("PAYDESK_CNY_MD5_KEY", KEY)
        .args(["-c", &shell])
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(1), "{command}\n{}", text(&again));
    let manifest: Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("differences.txt.manifest.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(manifest["export"]["sha256"].as_str(), Some(sha.as_str()));
}

/// `PAYDESK_MAX_FILE_MB` is documented (and named in the error) as the ledger's size limit,
/// but `paydesk reconcile` uses `Limits::default()`, not `Limits::configured()`: a lower
/// limit is not applied and a higher one cannot be set.
#[test]
fn the_ledger_size_limit_follows_paydesk_max_file_mb() {
    let dir = temp_dir("max-file-mb");
    let mut big = String::from("Order No,Amount,State,Booked at\n");
    for i in 0..40_000 {
        let _ = writeln!(big, "cl{i},300.00,paid,2023-11-14 22:13:20");
    }
    assert!(big.len() > 1_000_000);
    std::fs::write(dir.join("ledger.csv"), big).unwrap();
    let out = cli("http://127.0.0.1:9", &dir)
        .env("PAYDESK_MAX_FILE_MB", "1")
        .args(reconcile_args("ledger.csv", &[]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("larger than the limit"),
        "{}",
        text(&out)
    );
}

/// Two processes remembering a mapping at once (different profiles) must both be kept:
/// `MappingStore::set` reads, changes and renames a fixed `.reconcile.toml.tmp` with no lock,
/// so one loses the other's mapping (or renames the other's half-written temp file).
#[test]
#[ignore = "adv15: concurrent MappingStore::set loses mappings"]
fn mappings_remembered_at_once_are_all_kept() {
    let dir = temp_dir("mapping-race");
    let mapping = Mapping::from_map_arg(MAP).unwrap();
    let mut failures = Vec::new();
    for round in 0..20 {
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let (dir, mapping) = (dir.clone(), mapping.clone());
                std::thread::Builder::new()
                    .spawn(move || {
                        MappingStore::new(&dir).set(
                            &format!("p{round}_{t}"),
                            OrderKind::Deposit,
                            &mapping,
                        )
                    })
                    .unwrap()
            })
            .collect();
        for t in threads {
            if let Err(e) = t.join().unwrap() {
                failures.push(e);
            }
        }
        let store = MappingStore::new(&dir);
        for t in 0..8 {
            match store.get(&format!("p{round}_{t}"), OrderKind::Deposit) {
                Ok(Some(_)) => {}
                other => failures.push(format!("round {round}, p{round}_{t}: {other:?}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} lost: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
}

/// Money wrong: an order created late on one day and booked just after midnight with the
/// wrong amount (¥30.00 booked for ¥300.00) is an *edge* in the reconciliation of either
/// day, never compared, and each daily run says "everything matched" (exit 0); only a run
/// over both days finds the ¥270.00. A pair with both sides present must still be compared
/// (amount and status) when it straddles the period's edge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_amount_on_an_order_straddling_midnight_is_found_by_a_daily_run() {
    let dir = temp_dir("straddle");
    let ledger = dir.join("ledger.csv");
    // cl199 was created 2023-11-14 22:16:39 UTC; the ledger books it at 00:10 the next day.
    let booked = ledger_text(None).replace(
        "cl199,300.00,paid,2023-11-14 22:16:39",
        "cl199,30.00,paid,2023-11-15 00:10:00",
    );
    assert!(booked.contains("cl199,30.00"));
    std::fs::write(&ledger, booked).unwrap();
    let url = serve(Gateway::Honest).await;
    for day in ["2023-11-14", "2023-11-15"] {
        let out = reconcile_day(&url, &dir, day);
        assert_eq!(
            out.status.code(),
            Some(1),
            "day {day}: a ¥270.00 short booking must be a difference\n{}",
            text(&out)
        );
    }
}

/// Money wrong: a successful order created late on 14 November and settled at 00:05 on the
/// 15th, which the merchant never booked, is an *edge* on the 14th (settled after the end)
/// and in no class on the 15th (created in the margin only): neither daily run reports the
/// ¥300.00 the ledger is missing, both exit 0. It must be a difference in at least one of
/// them (missing in the ledger).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unbooked_success_settled_after_midnight_is_missing_in_some_daily_run() {
    let dir = temp_dir("settles-next-day");
    std::fs::write(dir.join("ledger.csv"), ledger_text(Some(199))).unwrap();
    let url = serve(Gateway::SettlesNextDay(199)).await;
    let mut codes = Vec::new();
    let mut outputs = String::new();
    for day in ["2023-11-14", "2023-11-15"] {
        let out = reconcile_day(&url, &dir, day);
        codes.push(out.status.code());
        let _ = writeln!(outputs, "== {day}\n{}", text(&out));
    }
    assert!(
        codes.contains(&Some(1)),
        "no daily run reports the unbooked ¥300.00: {codes:?}\n{outputs}"
    );
}
