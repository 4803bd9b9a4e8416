//! Exports against the sandbox over real HTTP: every order that existed when the export
//! started, once, while new orders keep arriving; hostile names neutralised in CSV and in
//! XLSX (read back with calamine); a manifest that proves the file; cancel leaves nothing.

use crate::common;

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use calamine::{Data, Reader, Xlsx};
use common::*;
use paydesk::domain::export::{
    AmountUnit, Counts, ExportError, ExportFormat, ExportKind, ExportPlan, Layout, ManifestProfile,
    export_all_orders, export_all_orders_with, hash_file, looks_like_formula, write_with_manifest,
};
use paydesk::domain::search::{StreamOptions, fetch_all};
use paydesk::gateway::cny::wire::{OrderKind, OrderQuery, TimeRange};
use paydesk::sandbox::{HOSTILE_NAMES, SandboxConfig};
use serde_json::Value;

fn plan(target: &Path, kind: ExportKind, format: ExportFormat) -> ExportPlan {
    ExportPlan {
        target: target.to_path_buf(),
        layout: Layout {
            kind,
            format,
            columns: kind.default_columns(),
            tz: jiff::tz::TimeZone::get("Asia/Shanghai").unwrap(),
            tz_name: "Asia/Shanghai".into(),
            unit: AmountUnit::Yuan,
        },
        profile: ManifestProfile {
            name: "Sandbox".into(),
            marker: "SANDBOX".into(),
            base_url: "http://127.0.0.1/".into(),
            merchant: "PF0014".into(),
        },
        gateway: "cny",
        scope: "all pages".into(),
        filter: Value::Null,
    }
}

fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let bytes = std::fs::read(path).unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "a byte-order mark for Excel"
    );
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[3..])
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_order_that_existed_at_the_start_once_while_new_ones_arrive() {
    let sb = sandbox(SandboxConfig {
        deposits: 6_000,
        payouts: 100,
        arrivals_per_sec: 500,
        latency_ms: 100,
        ..small_config()
    })
    .await;
    let client = cny(&sb);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("deposits.csv");
    let started = jiff::Timestamp::now().as_second();
    let report = export_all_orders(
        &client,
        OrderKind::Deposit,
        &OrderQuery::default(),
        4,
        plan(&target, ExportKind::Deposits, ExportFormat::Csv),
        Arc::new(AtomicBool::new(false)),
        |_| {},
    )
    .await
    .unwrap();
    // Orders kept arriving during the export.
    let after = client
        .query(OrderKind::Deposit, &OrderQuery::default())
        .await
        .unwrap();
    assert!(
        after.total > report.written.rows,
        "{} vs {}",
        after.total,
        report.written.rows
    );

    let rows = csv_rows(&target);
    let ids: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no order twice");
    assert_eq!(ids.len() as u64, report.written.rows);
    assert!(report.count_note.is_none(), "{:?}", report.count_note);

    // Exactly the orders created up to the pinned bound: ask again for that range.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(&report.manifest).unwrap()).unwrap();
    let pinned = manifest["filter"]["created_to_unix"].as_i64().unwrap();
    assert!(pinned >= started - 1 && pinned <= started + 1);
    assert_eq!(manifest["filter"]["upper_bound_pinned_at_start"], true);
    let again = fetch_all(
        &client,
        OrderKind::Deposit,
        &OrderQuery {
            created: Some(TimeRange {
                from_secs: 0,
                to_secs: pinned,
            }),
            ..OrderQuery::default()
        },
        pinned,
        4,
        |_, _| {},
    )
    .await
    .unwrap();
    let expected: HashSet<String> = again.orders.into_iter().map(|o| o.system_id).collect();
    let got: HashSet<String> = unique.iter().map(|s| (*s).to_owned()).collect();
    assert_eq!(got, expected);
    assert!(expected.len() >= 6_000);

    // The manifest proves the file.
    let (bytes, sha) = hash_file(&target).unwrap();
    assert_eq!(manifest["sha256"], sha.as_str());
    assert_eq!(manifest["bytes"], bytes);
    assert_eq!(manifest["rows"], report.written.rows);
    assert_eq!(manifest["gateway_total"], report.written.rows);
    assert_eq!(manifest["complete"], true);
    assert_eq!(manifest["timezone"], "Asia/Shanghai");
    assert!(manifest["invalid_signatures"].as_u64().unwrap() >= 4);
    let text = std::fs::read_to_string(&report.manifest).unwrap();
    assert!(!text.contains(sb.info.cny.md5_key.expose()));
    assert!(!text.contains(sb.info.cny.auth_token.expose()));
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_across_several_time_windows_while_orders_arrive_has_every_order_once() {
    let sb = sandbox(SandboxConfig {
        deposits: 5_000,
        payouts: 100,
        arrivals_per_sec: 300,
        latency_ms: 20,
        ..small_config()
    })
    .await;
    let client = cny(&sb);
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("deposits.jsonl");
    // Windows of two pages of 500: the 5,000 orders need several.
    let options = StreamOptions {
        window_pages: 2,
        concurrency: 4,
        ..StreamOptions::default()
    };
    let report = export_all_orders_with(
        &client,
        OrderKind::Deposit,
        &OrderQuery::default(),
        options,
        plan(&target, ExportKind::Deposits, ExportFormat::Jsonl),
        Arc::new(AtomicBool::new(false)),
        |_| {},
    )
    .await
    .unwrap();
    let windows = report.time_windows.unwrap();
    assert!(windows >= 5, "{windows} windows");
    assert!(report.count_note.is_none(), "{:?}", report.count_note);
    assert_eq!(Some(report.written.rows), report.gateway_total);

    let text = std::fs::read_to_string(&target).unwrap();
    let rows: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["system_id"].as_str().unwrap())
        .collect();
    let unique: HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), ids.len(), "no order twice");
    assert_eq!(ids.len() as u64, report.written.rows);
    // Newest first across the windows, as the gateway lists them.
    let created: Vec<&str> = rows
        .iter()
        .map(|r| r["created"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|p| p[0] >= p[1]), "newest first");

    // Every order up to the pinned bound, read again in one go.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(&report.manifest).unwrap()).unwrap();
    assert_eq!(manifest["time_windows"], windows);
    let pinned = manifest["filter"]["created_to_unix"].as_i64().unwrap();
    let again = fetch_all(
        &client,
        OrderKind::Deposit,
        &OrderQuery {
            created: Some(TimeRange {
                from_secs: 0,
                to_secs: pinned,
            }),
            ..OrderQuery::default()
        },
        pinned + 1,
        4,
        |_, _| {},
    )
    .await
    .unwrap();
    let expected: HashSet<&str> = again.orders.iter().map(|o| o.system_id.as_str()).collect();
    assert_eq!(unique, expected);
    assert!(expected.len() >= 5_000);
    let (bytes, sha) = hash_file(&target).unwrap();
    assert_eq!(manifest["sha256"], sha.as_str());
    assert_eq!(manifest["bytes"], bytes);
    assert_eq!(manifest["complete"], true);
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_while_pages_stream_in_leaves_no_file_behind() {
    let sb = sandbox(SandboxConfig {
        deposits: 4_000,
        latency_ms: 20,
        ..small_config()
    })
    .await;
    let client = cny(&sb);
    let dir = tempfile::tempdir().unwrap();
    let cancel = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&cancel);
    let result = export_all_orders(
        &client,
        OrderKind::Deposit,
        &OrderQuery::default(),
        4,
        plan(
            &dir.path().join("deposits.csv"),
            ExportKind::Deposits,
            ExportFormat::Csv,
        ),
        cancel,
        move |p| {
            if p.done >= 1_000 {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        },
    )
    .await;
    assert!(matches!(result, Err(ExportError::Cancelled)), "{result:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
    sb.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_that_goes_away_mid_export_leaves_no_file_behind() {
    let sb = sandbox(SandboxConfig {
        deposits: 6_000,
        latency_ms: 50,
        ..small_config()
    })
    .await;
    let client = cny(&sb);
    let dir = tempfile::tempdir().unwrap();
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let seen = Arc::clone(&written);
    let query = OrderQuery::default();
    let export = export_all_orders(
        &client,
        OrderKind::Deposit,
        &query,
        2,
        plan(
            &dir.path().join("deposits.jsonl"),
            ExportKind::Deposits,
            ExportFormat::Jsonl,
        ),
        Arc::new(AtomicBool::new(false)),
        move |p| seen.store(p.done, std::sync::atomic::Ordering::Relaxed),
    );
    let stop = async {
        while written.load(std::sync::atomic::Ordering::Relaxed) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        sb.stop().await;
    };
    let (result, ()) = tokio::join!(export, stop);
    assert!(matches!(result, Err(ExportError::Fetch(_))), "{result:?}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_come_out_neutralised_in_csv_and_xlsx() {
    let sb = sandbox(small_config()).await;
    let client = cny(&sb);
    let dir = tempfile::tempdir().unwrap();
    let mut by_format = Vec::new();
    for format in [ExportFormat::Csv, ExportFormat::Xlsx] {
        let target = dir.path().join(format!("deposits.{}", format.extension()));
        let report = export_all_orders(
            &client,
            OrderKind::Deposit,
            &OrderQuery::default(),
            4,
            plan(&target, ExportKind::Deposits, format),
            Arc::new(AtomicBool::new(false)),
            |_| {},
        )
        .await
        .unwrap();
        assert_eq!(report.written.rows, 600);
        by_format.push(target);
    }
    let csv = csv_rows(&by_format[0]);
    let mut book: Xlsx<_> = calamine::open_workbook(&by_format[1]).unwrap();
    let sheet = book.worksheet_range("Export").unwrap();
    let xlsx: Vec<Vec<Data>> = sheet.rows().map(<[Data]>::to_vec).collect();
    assert_eq!(csv.len(), xlsx.len());
    let depositor = csv[0].iter().position(|h| h == "Depositor").unwrap();
    let amount = csv[0].iter().position(|h| h == "Amount (CNY)").unwrap();
    let created = csv[0]
        .iter()
        .position(|h| h == "Created (Asia/Shanghai)")
        .unwrap();
    let mut seen = HashSet::new();
    for (c, x) in csv.iter().zip(&xlsx).skip(1) {
        let name = &c[depositor];
        for hostile in HOSTILE_NAMES {
            if name.strip_prefix('\'') == Some(*hostile) {
                seen.insert(*hostile);
            }
        }
        assert!(
            !name.starts_with(['=', '+', '-', '@', '\t', '\r']),
            "a live formula in the CSV: {name:?}"
        );
        // XLSX: the exact text (no `'` added), as a string cell (never a formula).
        let exact = name.strip_prefix('\'').filter(|n| looks_like_formula(n));
        match &x[depositor] {
            Data::String(s) => assert_eq!(s, exact.unwrap_or(name)),
            Data::Empty => assert!(name.is_empty()),
            other => panic!("depositor as {other:?}"),
        }
        // Amounts are numbers with two decimals in XLSX, the same value as the CSV's text.
        match &x[amount] {
            Data::Float(f) => assert_eq!(format!("{f:.2}"), c[amount]),
            other => panic!("amount as {other:?}"),
        }
        assert!(matches!(x[created], Data::DateTime(_)), "{:?}", x[created]);
    }
    // In the XLSX's XML: no formula anywhere, and every formula-looking text cell (and only
    // those) carries the quote prefix, so editing it in Excel keeps it text.
    let formula_like = xlsx
        .iter()
        .skip(1)
        .flatten()
        .filter(|d| matches!(d, Data::String(s) if looks_like_formula(s)))
        .count();
    assert!(formula_like >= 4, "{formula_like}");
    let (styles, sheet_xml) = xlsx_xml(&by_format[1]);
    assert!(!sheet_xml.contains("<f>") && !sheet_xml.contains("<f "));
    let xfs = &styles[styles.find("<cellXfs").unwrap()..styles.find("</cellXfs>").unwrap()];
    let quoted: Vec<usize> = xfs
        .split("<xf ")
        .skip(1)
        .enumerate()
        .filter(|(_, xf)| xf.contains("quotePrefix=\"1\""))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(quoted.len(), 1, "{xfs}");
    assert_eq!(
        sheet_xml.matches(&format!(" s=\"{}\"", quoted[0])).count(),
        formula_like
    );
    let formulas: Vec<&str> = HOSTILE_NAMES
        .iter()
        .copied()
        .filter(|h| h.starts_with(['=', '+', '-', '@', '\t']))
        .collect();
    for f in formulas {
        assert!(
            seen.contains(f),
            "{f:?} was in the sandbox and comes out neutralised"
        );
    }
    sb.stop().await;
}

/// The styles and the first sheet of an XLSX, as XML text.
fn xlsx_xml(path: &std::path::Path) -> (String, String) {
    use std::io::Read;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut read = |name: &str| {
        let mut text = String::new();
        zip.by_name(name)
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        text
    };
    (read("xl/styles.xml"), read("xl/worksheets/sheet1.xml"))
}

#[test]
fn cancel_leaves_no_file_behind() {
    let dir = tempfile::tempdir().unwrap();
    for format in ExportFormat::ALL {
        let target = dir.path().join(format!("out.{}", format.extension()));
        let cancel = AtomicBool::new(true);
        let rows =
            (0..5_000).map(|i| vec![paydesk::domain::export::Cell::Text(format!("PM{i:08}"))]);
        let mut p = plan(&target, ExportKind::Deposits, format);
        p.layout.columns = vec!["system_id".into()];
        let result = write_with_manifest(&p, rows, Counts::default(), &cancel, |_| {});
        assert!(matches!(result, Err(ExportError::Cancelled)), "{format:?}");
    }
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "{left:?}");
}
