//! Reconciliation against the sandbox over real HTTP: a sandbox ledger with known injected
//! differences reconciles to its truth file exactly (every class's count and fen sums); the
//! edges of the period; a mapping remembered; the CLI's exit codes; an XLSX ledger whose IDs
//! a spreadsheet turned into numbers.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Instant;

use paydesk::domain::reconcile::{Mapping, Period, Report, Request, reconcile};
use paydesk::domain::search::StreamOptions;
use paydesk::domain::sheet::Limits;
use paydesk::gateway::cny::wire::{
    MAX_LIMIT, Order, OrderKind, OrderQuery, StatusClass, TimeRange,
};
use paydesk::money::Fen;
use paydesk::sandbox::SandboxConfig;
use paydesk::sandbox::ledger::{LEDGER_MAP, LedgerFaults, LedgerSpec, Truth, write_ledger};
use serde_json::Value;

use crate::common::{cny, sandbox};

const BIN: &str = env!("CARGO_BIN_EXE_paydesk");
const TZ: &str = "Asia/Shanghai";
/// 2026-11-30 12:00:00 +08:00, the newest seeded order: every run has the same data.
const ANCHOR: i64 = 1_796_011_200;
const FAULTS: &str = "amount=0.01,status=0.01,missing=0.01,extra=0.01,duplicate=0.005,edge=0.005";

fn request(ledger: &Path, work: &Path, period: Period, mapping: Mapping) -> Request {
    Request {
        kind: OrderKind::Deposit,
        period,
        margin_secs: paydesk::domain::reconcile::run::DEFAULT_MARGIN_SECS,
        ledger: ledger.to_path_buf(),
        mapping,
        tz: jiff::tz::TimeZone::get(TZ).unwrap(),
        tz_name: TZ.into(),
        limits: Limits::default(),
        workfile: work.to_path_buf(),
        stream: StreamOptions::default(),
    }
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// The report equals the truth: both sums, and every class's IDs, rows and fen sums.
fn assert_truth(report: &Report, truth: &Truth) {
    assert_eq!(report.ledger_sum.fen(), truth.ledger_sum_fen, "ledger sum");
    assert_eq!(
        report.gateway_sum.fen(),
        truth.gateway_sum_fen,
        "gateway sum"
    );
    assert_eq!(report.ledger_rows, truth.ledger_rows, "ledger rows");
    assert_eq!(
        report.gateway_orders, truth.gateway_orders,
        "gateway orders"
    );
    assert_eq!(report.classes.len(), truth.classes.len());
    for (got, want) in report.classes.iter().zip(&truth.classes) {
        assert_eq!(got.class.id(), want.class);
        let got_row = (
            got.count,
            got.ledger_rows,
            got.gateway_orders,
            got.ledger.fen(),
            got.gateway.fen(),
        );
        let want_row = (
            want.count,
            want.ledger_rows,
            want.gateway_orders,
            want.ledger_fen,
            want.gateway_fen,
        );
        assert_eq!(got_row, want_row, "class {}", want.class);
    }
    assert_eq!(report.all_matched(), truth.all_matched);
    assert_sums_explained(report);
}

/// Σ over classes of (ledger − gateway) is the difference of the sums, to the fen.
fn assert_sums_explained(report: &Report) {
    let parts: i64 = report.classes.iter().map(|c| c.difference().fen()).sum();
    assert_eq!(parts, report.difference().fen());
    let last = report.explanation().pop().unwrap_or_default();
    assert!(last.starts_with("Sum of the parts"), "{last}");
}

fn config(deposits: usize) -> SandboxConfig {
    SandboxConfig {
        seed: 21,
        deposits,
        payouts: 50,
        anchor_secs: Some(ANCHOR),
        ..SandboxConfig::default()
    }
}

fn ledger_spec(path: &Path, from: &str, to: &str, faults: &str) -> LedgerSpec {
    LedgerSpec {
        path: path.to_path_buf(),
        kind: OrderKind::Deposit,
        from: from.into(),
        to: to.into(),
        tz_name: TZ.into(),
        faults: LedgerFaults::parse(faults).unwrap(),
    }
}

/// (a) ~100,000 deposits in the period with every kind of injected difference: the report
/// equals the truth file exactly. `PAYDESK_RECONCILE_ORDERS` changes the size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_ledger_of_100k_deposits_reconciles_to_its_truth() {
    let deposits: usize = std::env::var("PAYDESK_RECONCILE_ORDERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(105_000);
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let cfg = config(deposits);
    let sb = sandbox(cfg.clone()).await;
    let ledger = dir.path().join("ledger.csv");
    // 2026-09-04 .. 2026-11-29: 87 of the seed's 90 days.
    let spec = ledger_spec(&ledger, "2026-09-04", "2026-11-29", FAULTS);
    let written = write_ledger(&cfg, &spec).unwrap();
    let truth = written.truth;
    // Every fault fired, and the ones that make their own class made exactly that many IDs.
    let inj = truth.injected;
    assert!(inj.amount > 0 && inj.status > 0 && inj.missing > 0);
    assert!(inj.extra > 0 && inj.duplicate > 0 && inj.edge > 0);
    assert_eq!(truth.class("missing_at_gateway").unwrap().count, inj.extra);
    assert_eq!(truth.class("missing_in_ledger").unwrap().count, inj.missing);
    if deposits >= 100_000 {
        assert!(truth.ledger_rows >= 95_000, "{} rows", truth.ledger_rows);
    }
    let seeded = started.elapsed();
    let period = Period {
        from_secs: truth.from_secs,
        to_secs: truth.to_secs,
    };
    let mapping = Mapping::from_map_arg(LEDGER_MAP).unwrap();
    let req = request(&ledger, &dir.path().join("work.sqlite"), period, mapping);
    let started = Instant::now();
    let report = reconcile(&cny(&sb), &req, now(), |_| {}).await.unwrap();
    eprintln!(
        "reconciled {} ledger rows against {} gateway orders in {:.1} s (sandbox and ledger {:.1} s)",
        report.ledger_rows,
        report.gateway_orders,
        started.elapsed().as_secs_f64(),
        seeded.as_secs_f64()
    );
    assert_truth(&report, &truth);
    assert!(!report.all_matched());
    // The work file gives the same report back, and its pages hold the classes' rows.
    let wf = paydesk::domain::reconcile::Workfile::open(&req.workfile).unwrap();
    let again = wf.report().unwrap();
    assert_truth(&again, &truth);
    // One table row per ID of a class that is not duplicates.
    let amount = truth.class("amount_differs").unwrap();
    assert_eq!(
        wf.count(Some(paydesk::domain::reconcile::Class::AmountDiffers), "")
            .unwrap(),
        amount.count
    );
}

/// Every deposit of the sandbox created in `[lo, hi]`, oldest first.
async fn orders_between(sb: &paydesk::sandbox::SandboxHandle, lo: i64, hi: i64) -> Vec<Order> {
    let client = cny(sb);
    let mut all = Vec::new();
    let mut offset = 0;
    loop {
        let page = client
            .query(
                OrderKind::Deposit,
                &OrderQuery {
                    offset,
                    limit: MAX_LIMIT,
                    created: Some(TimeRange {
                        from_secs: lo,
                        to_secs: hi,
                    }),
                    ..OrderQuery::default()
                },
            )
            .await
            .unwrap();
        all.extend(page.orders);
        offset += u64::from(MAX_LIMIT);
        if offset >= page.total {
            break;
        }
    }
    all.sort_by_key(|o| o.create_time_secs);
    all
}

fn word(o: &Order) -> &'static str {
    match o.status.class() {
        StatusClass::Success => "Paid",
        StatusClass::Failed | StatusClass::Cancelled => "Failed",
        StatusClass::InProgress | StatusClass::Unknown => "Pending",
    }
}

fn csv_line(id: &str, amount: Fen, state: &str, secs: i64) -> String {
    let tz = jiff::tz::TimeZone::get(TZ).unwrap();
    format!(
        "{id},{},0.00,{state},{},PFC00000140\n",
        amount.yuan_plain(),
        paydesk::domain::dates::format_secs(secs, &tz)
    )
}

const HEADER: &str = "Order No,Amount (CNY),Fee,State,Booked at,Channel\n";
const MAP_NO_FEE: &str = "id=Order No,amount=Amount (CNY),status=State,time=Booked at,fee=-";

/// (b) An order created 1 s before the period and booked in it, one created in it and settled
/// after its end: edges, not gaps. Orders of the margins alone are in no class.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edges_of_the_period_are_told_apart_from_gaps() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(config(3_000)).await;
    let success = |o: &Order| {
        o.status.class() == StatusClass::Success && !o.signature.is_invalid() && o.amount.is_some()
    };
    let all = orders_between(&sb, ANCHOR - 60 * 86_400, ANCHOR - 50 * 86_400).await;
    let time = |o: &Order| o.create_time_secs.unwrap();
    let update = |o: &Order| o.update_time_secs.unwrap();
    // Two successful orders a few orders apart, the first settled before the second began.
    // Far enough from the ends of what was fetched that both margins are in it.
    let inner = |o: &Order| time(o) > ANCHOR - 58 * 86_400 && time(o) < ANCHOR - 52 * 86_400;
    let (i, j) = (0..all.len())
        .flat_map(|i| (i + 3..all.len().min(i + 12)).map(move |j| (i, j)))
        .find(|&(i, j)| {
            inner(&all[i])
                && inner(&all[j])
                && success(&all[i])
                && success(&all[j])
                && update(&all[i]) > time(&all[i]) + 1
                && update(&all[i]) < time(&all[j])
        })
        .expect("two successful orders");
    let (before, after) = (&all[i], &all[j]);
    let period = Period {
        from_secs: time(before) + 1,
        to_secs: update(after) - 1,
    };
    let in_period = |t: i64| t >= period.from_secs && t <= period.to_secs;
    let mut text = HEADER.to_owned();
    // Created 1 s before `from`, booked inside.
    text += &csv_line(
        &before.merchant_id,
        before.amount.unwrap(),
        "Paid",
        update(before),
    );
    let mut booked = 0;
    for o in all.iter().filter(|o| in_period(time(o))) {
        if o.merchant_id == after.merchant_id {
            continue; // settled after `to`: not in the ledger of the period
        }
        text += &csv_line(&o.merchant_id, o.amount.unwrap(), word(o), time(o));
        booked += 1;
    }
    let ledger = dir.path().join("edges.csv");
    std::fs::write(&ledger, text).unwrap();
    let req = request(
        &ledger,
        &dir.path().join("work.sqlite"),
        period,
        Mapping::from_map_arg(MAP_NO_FEE).unwrap(),
    );
    let report = reconcile(&cny(&sb), &req, now(), |_| {}).await.unwrap();
    let class = |id: &str| {
        report
            .classes
            .iter()
            .find(|c| c.class.id() == id)
            .unwrap()
            .clone()
    };
    let edge = class("edge");
    assert_eq!(
        (edge.count, edge.ledger_rows, edge.gateway_orders),
        (2, 1, 2)
    );
    // The ledger booked `before` in the period; the gateway's `after` is in it.
    assert_eq!(edge.ledger, before.amount.unwrap());
    assert_eq!(edge.gateway, after.amount.unwrap());
    assert_eq!(class("missing_in_ledger").count, 0);
    assert_eq!(class("missing_at_gateway").count, 0);
    let invalid = class("invalid_signature").count;
    assert_eq!(class("matched").count + invalid, booked);
    // The margins' orders (a day each side) were fetched but are in no class.
    let counted: u64 = report.classes.iter().map(|c| c.gateway_orders).sum();
    let margin_only = all
        .iter()
        .filter(|o| !in_period(time(o)) && o.merchant_id != before.merchant_id)
        .filter(|o| time(o) >= period.from_secs - 86_400 && time(o) <= period.to_secs + 86_400)
        .count() as u64;
    assert!(margin_only > 0);
    assert_eq!(report.gateway_orders - counted, margin_only);
    assert_sums_explained(&report);
}

// The binary, as an operator runs it.

struct ChildSandbox {
    child: Child,
    info: Value,
}

impl ChildSandbox {
    fn start(config_dir: &Path, extra: &[&str]) -> ChildSandbox {
        let mut child = Command::new(BIN)
            .env("PAYDESK_CONFIG_DIR", config_dir)
            .args(["sandbox", "--port", "0", "--seed", "21", "--payouts", "50"])
            .args(["--anchor", &ANCHOR.to_string()])
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
        ChildSandbox { child, info }
    }

    fn paydesk(&self, config_dir: &Path) -> Command {
        let i = &self.info;
        let mut c = Command::new(BIN);
        c.env("PAYDESK_CONFIG_DIR", config_dir)
            .env("PAYDESK_CNY_BASE_URL", i["base_url"].as_str().unwrap())
            .env(
                "PAYDESK_CNY_PLATFORM_ID",
                i["cny"]["platform_id"].as_str().unwrap(),
            )
            .env(
                "PAYDESK_CNY_AUTH_TOKEN",
                i["cny"]["auth_token"].as_str().unwrap(),
            )
            .env("PAYDESK_CNY_MD5_KEY", i["cny"]["md5_key"].as_str().unwrap());
        c
    }
}

impl Drop for ChildSandbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reconcile_cmd(
    sb: &ChildSandbox,
    config_dir: &Path,
    ledger: &Path,
    from: &str,
    to: &str,
) -> Command {
    let mut c = sb.paydesk(config_dir);
    c.args(["reconcile", "deposits", "--ledger"])
        .arg(ledger)
        .args(["--from", from, "--to", to, "--tz", TZ]);
    c
}

fn output(mut c: Command) -> Output {
    c.stdin(Stdio::null()).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The report JSON the CLI printed (`--json`) equals the truth, class by class.
fn assert_json_truth(json: &Value, truth: &Truth) {
    assert_eq!(
        json["ledger_sum"].as_i64(),
        Some(truth.ledger_sum_fen),
        "{json}"
    );
    assert_eq!(json["gateway_sum"].as_i64(), Some(truth.gateway_sum_fen));
    let classes = json["classes"].as_array().unwrap();
    for (got, want) in classes.iter().zip(&truth.classes) {
        assert_eq!(got["class"].as_str(), Some(want.class));
        assert_eq!(got["count"].as_u64(), Some(want.count), "{}", want.class);
        assert_eq!(
            got["ledger"].as_i64(),
            Some(want.ledger_fen),
            "{}",
            want.class
        );
        assert_eq!(
            got["gateway"].as_i64(),
            Some(want.gateway_fen),
            "{}",
            want.class
        );
    }
}

/// (c) and (d): the sandbox writes an XLSX ledger with faults; the first run names the
/// mapping (exit 1, the report equals the truth, differences written with a manifest), the
/// second leaves it out and gets the same; a ledger of a day without differences exits 0;
/// a bad cell and an unknown column exit 2 naming what is wrong.
#[test]
fn the_cli_remembers_the_mapping_and_exits_0_1_2() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("config");
    std::fs::create_dir_all(&home).unwrap();
    let ledger = dir.path().join("ledger.xlsx");
    let (from, to) = ("2026-10-01", "2026-10-31");
    let sb = ChildSandbox::start(
        &home,
        &[
            "--deposits",
            "3000",
            "--ledger",
            ledger.to_str().unwrap(),
            "--ledger-from",
            from,
            "--ledger-to",
            to,
            "--ledger-faults",
            "amount=0.03,status=0.03,missing=0.03,extra=0.03,duplicate=0.02,edge=0.02",
        ],
    );
    let truth: Truth = {
        // The child wrote the file; the same seed gives the same truth here.
        let spec = ledger_spec(
            &dir.path().join("again.xlsx"),
            from,
            to,
            "amount=0.03,status=0.03,missing=0.03,extra=0.03,duplicate=0.02,edge=0.02",
        );
        write_ledger(&config(3_000), &spec).unwrap().truth
    };
    let json: Value = serde_json::from_slice(
        &std::fs::read(paydesk::sandbox::ledger::truth_path(&ledger)).unwrap(),
    )
    .unwrap();
    assert_eq!(json["difference_fen"].as_i64(), Some(truth.difference_fen));
    // (The two XLSX files differ in their creation time, so not compared byte for byte.)

    // No mapping given and none remembered: exit 2 with the headers and an example.
    let out = output(reconcile_cmd(&sb, &home, &ledger, from, to));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(
        err.contains("Order No") && err.contains("Booked at") && err.contains("--map"),
        "{err}"
    );

    // An unknown column in --map: exit 2 listing the headers.
    let mut c = reconcile_cmd(&sb, &home, &ledger, from, to);
    c.args([
        "--map",
        "id=Order Number,amount=Amount (CNY),status=State,time=Booked at",
    ]);
    let out = output(c);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(
        err.contains("Order Number") && err.contains("Amount (CNY)"),
        "{err}"
    );

    // First run with --map: exit 1, equal to the truth, differences and manifest written.
    let out_file = dir.path().join("differences.csv");
    let mut c = reconcile_cmd(&sb, &home, &ledger, from, to);
    c.args(["--map", LEDGER_MAP, "--json", "--out"])
        .arg(&out_file);
    let first = output(c);
    assert_eq!(first.status.code(), Some(1), "{}", text(&first.stderr));
    let report: Value = serde_json::from_slice(&first.stdout).unwrap();
    assert_json_truth(&report, &truth);
    assert!(text(&first.stderr).contains("Sum of the parts"));
    let manifest: Value = serde_json::from_slice(
        &std::fs::read(dir.path().join("differences.csv.manifest.json")).unwrap(),
    )
    .unwrap();
    assert!(
        manifest.to_string().contains("reconcile deposits"),
        "{manifest}"
    );
    let differences = std::fs::read_to_string(&out_file).unwrap();
    // A header and one line at least per class with differences.
    let classes_with_rows = truth
        .classes
        .iter()
        .zip(paydesk::sandbox::ledger::CLASS_IDS)
        .filter(|(c, (_, difference))| *difference && c.count > 0)
        .count();
    assert!(
        differences.lines().count() > classes_with_rows,
        "{differences}"
    );

    // Second run without --map: the remembered mapping, the same report.
    let mut c = reconcile_cmd(&sb, &home, &ledger, from, to);
    c.arg("--json");
    let second = output(c);
    assert_eq!(second.status.code(), Some(1), "{}", text(&second.stderr));
    assert_eq!(second.stdout, first.stdout);

    // A bad amount cell: exit 2 naming its row and column.
    let clean = dir.path().join("clean.csv");
    let day = clean_day(&clean);
    let bad = dir.path().join("bad.csv");
    let mut lines: Vec<String> = std::fs::read_to_string(&clean)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(lines.len() > 5);
    let mut cells: Vec<&str> = lines[4].split(',').collect();
    cells[1] = "12,3x";
    lines[4] = cells.join(",").replacen("12,3x", "\"12,3x\"", 1);
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let out = output(reconcile_cmd(&sb, &home, &bad, &day, &day));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("row 5, column B"), "{err}");

    // A day without a difference: exit 0.
    let out = output(reconcile_cmd(&sb, &home, &clean, &day, &day));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert!(text(&out.stdout).contains("everything matched"));
}

/// Writes, at `path`, the fault-free ledger of the first day (going back from the anchor)
/// whose truth has no difference; returns the day.
fn clean_day(path: &Path) -> String {
    let tz = jiff::tz::TimeZone::get(TZ).unwrap();
    let anchor = jiff::Timestamp::from_second(ANCHOR).unwrap().to_zoned(tz);
    for back in 2..60 {
        let day = anchor
            .date()
            .checked_sub(jiff::Span::new().days(back))
            .unwrap()
            .to_string();
        let w = write_ledger(&config(3_000), &ledger_spec(path, &day, &day, "")).unwrap();
        if w.truth.all_matched && w.truth.ledger_rows > 10 {
            return day;
        }
    }
    panic!("no day without a difference");
}

/// (e) An XLSX ledger as a spreadsheet re-saves it: numeric-looking merchant order IDs
/// stored as numbers in a number-formatted column, amounts as numbers. It reconciles
/// exactly: every ID matched, none read as `1.2E+13`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_xlsx_ledger_with_number_formatted_ids_reconciles_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let sb = sandbox(config(3_000)).await;
    // The sandbox's IDs are `dep_0001234`: a platform with numeric IDs is played by the same
    // orders with the digits `202611300001234` as their ID, stored as numbers.
    let all = orders_between(&sb, ANCHOR - 40 * 86_400, ANCHOR - 39 * 86_400).await;
    assert!(all.len() > 10);
    let first = all[0].create_time_secs.unwrap();
    let last = all[all.len() - 1].create_time_secs.unwrap();
    let period = Period {
        from_secs: first,
        to_secs: last,
    };
    let path = dir.path().join("resaved.xlsx");
    {
        use rust_xlsxwriter::{Format, Workbook};
        let mut book = Workbook::new();
        let sheet = book.add_worksheet();
        let id_format = Format::new().set_num_format("0");
        for (c, h) in ["Order No", "Amount (CNY)", "State", "Booked at"]
            .iter()
            .enumerate()
        {
            sheet.write_string(0, c as u16, *h).unwrap();
        }
        for (r, o) in all.iter().enumerate() {
            let r = r as u32 + 1;
            // dep_0001234 → 20261234000001234: digits only, as a platform's numeric ID.
            let digits = numeric_id(&o.merchant_id);
            sheet
                .write_number_with_format(r, 0, digits as f64, &id_format)
                .unwrap();
            let yuan: f64 = o.amount.unwrap().yuan_plain().parse().unwrap();
            sheet.write_number(r, 1, yuan).unwrap();
            sheet.write_string(r, 2, word(o)).unwrap();
            let tz = jiff::tz::TimeZone::get(TZ).unwrap();
            sheet
                .write_string(
                    r,
                    3,
                    paydesk::domain::dates::format_secs(o.create_time_secs.unwrap(), &tz),
                )
                .unwrap();
        }
        book.save(&path).unwrap();
    }
    // The IDs a spreadsheet stored as numbers read back as the exact digits.
    let mapping =
        Mapping::from_map_arg("id=Order No,amount=Amount (CNY),status=State,time=Booked at,fee=-")
            .unwrap();
    let mut seen = Vec::new();
    let bytes = std::fs::read(&path).unwrap();
    paydesk::domain::reconcile::read_ledger(
        "resaved.xlsx",
        &bytes,
        &mapping,
        &jiff::tz::TimeZone::get(TZ).unwrap(),
        &Limits::default(),
        |row| seen.push(row),
    )
    .unwrap();
    assert_eq!(seen.len(), all.len());
    for (row, o) in seen.iter().zip(&all) {
        assert_eq!(row.order_id, numeric_id(&o.merchant_id).to_string());
        assert_eq!(Some(row.amount), o.amount);
    }
    // Against the gateway these IDs are unknown (its IDs are `dep_…`): every row is missing
    // at the gateway or an edge, each to the fen, never a guess.
    let req = request(&path, &dir.path().join("work.sqlite"), period, mapping);
    let report = reconcile(&cny(&sb), &req, now(), |_| {}).await.unwrap();
    let missing = report
        .classes
        .iter()
        .find(|c| c.class.id() == "missing_at_gateway")
        .unwrap();
    assert_eq!(missing.ledger_rows, all.len() as u64);
    assert_sums_explained(&report);
}

/// `dep_0001234` → 202611300001234: 15 digits, what a spreadsheet's number keeps exactly.
fn numeric_id(merchant_id: &str) -> u64 {
    let seq: u64 = merchant_id.trim_start_matches("dep_").parse().unwrap();
    202_611_300_000_000 + seq
}
