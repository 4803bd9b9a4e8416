//! `paydesk bench reconcile`: a reconciliation of N deposits (the ledger written by a sandbox
//! in a child process, with faults, and its truth) against the streaming export of the same
//! orders to CSV measured in the same run: time, this process's peak memory, and whether the
//! report equals the truth class by class.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Instant;

use paydesk::domain::export::{ExportFormat, ExportKind, export_all_orders};
use paydesk::domain::reconcile::{Mapping, Period, Request, reconcile};
use paydesk::domain::search::StreamOptions;
use paydesk::domain::sheet::Limits;
use paydesk::gateway::cny::wire::{OrderKind, OrderQuery, TimeRange};
use serde_json::Value;

use crate::bench::{ChildSandbox, mb, peak_mb, reset_peak, sandbox_export_plan};

/// 2026-11-30 12:00:00 +08:00: the newest seeded order, so every run has the same data.
const ANCHOR_SECS: i64 = 1_796_011_200;
const FROM: &str = "2026-09-01";
const TO: &str = "2026-11-30";
const TZ: &str = "Asia/Shanghai";
const FAULTS: &str = "amount=0.01,status=0.01,missing=0.01,extra=0.01,duplicate=0.005,edge=0.005";

struct Row {
    orders: usize,
    export_secs: f64,
    export_peak: Option<f64>,
    reconcile_secs: f64,
    reconcile_peak: Option<f64>,
    ledger_rows: u64,
    equal: bool,
}

pub async fn run(counts: &[usize]) -> anyhow::Result<()> {
    let dir = std::env::temp_dir().join(format!("paydesk-bench-rec-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let resettable = reset_peak();
    println!(
        "reconcile N deposits of {FROM} to {TO} ({TZ}) against the streaming CSV export of the \
         same orders, in this process, the sandbox a child process; faults {FAULTS}"
    );
    let mut rows = Vec::new();
    for &n in counts {
        rows.push(measure(n, &dir).await?);
    }
    println!(
        "{:>10} {:>12} {:>12} {:>14} {:>12} {:>10} {:>10} {:>12} {:>8}",
        "orders",
        "export s",
        "export peak",
        "reconcile s",
        "rec. peak",
        "time x",
        "memory x",
        "ledger rows",
        "truth"
    );
    for r in &rows {
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}", a / b),
            _ => "?".to_owned(),
        };
        println!(
            "{:>10} {:>12.2} {:>12} {:>14.2} {:>12} {:>10.2} {:>10} {:>12} {:>8}",
            r.orders,
            r.export_secs,
            mb(r.export_peak),
            r.reconcile_secs,
            mb(r.reconcile_peak),
            r.reconcile_secs / r.export_secs,
            ratio(r.reconcile_peak, r.export_peak),
            r.ledger_rows,
            if r.equal { "equal" } else { "DIFFERS" }
        );
    }
    if !resettable {
        println!("(the peak could not be reset: each is the largest since the bench started)");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

async fn measure(n: usize, dir: &std::path::Path) -> anyhow::Result<Row> {
    let ledger = dir.join(format!("ledger-{n}.csv"));
    let (deposits, anchor) = (n.to_string(), ANCHOR_SECS.to_string());
    let ledger_text = ledger.to_string_lossy().into_owned();
    let args: Vec<String> = [
        "--deposits",
        deposits.as_str(),
        "--payouts",
        "10",
        "--anchor",
        anchor.as_str(),
        "--ledger",
        ledger_text.as_str(),
        "--ledger-from",
        FROM,
        "--ledger-to",
        TO,
        "--ledger-faults",
        FAULTS,
    ]
    .map(str::to_owned)
    .into();
    let started = Instant::now();
    let sandbox = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        ChildSandbox::start_with(&args)
    })
    .await??;
    println!(
        "  {n} deposits: sandbox and ledger ready in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let client = sandbox.client()?;
    let tz = jiff::tz::TimeZone::get(TZ)?;
    let period = Period {
        from_secs: paydesk::domain::dates::parse_bound(
            FROM,
            &tz,
            paydesk::domain::dates::Bound::Start,
        )?,
        to_secs: paydesk::domain::dates::parse_bound(TO, &tz, paydesk::domain::dates::Bound::End)?,
    };
    let margin = paydesk::domain::reconcile::run::DEFAULT_MARGIN_SECS;

    // Baseline: the streaming export of the same orders (period and margins) to CSV.
    reset_peak();
    let started = Instant::now();
    let export = export_all_orders(
        &client,
        OrderKind::Deposit,
        &OrderQuery {
            created: Some(TimeRange {
                from_secs: period.from_secs - margin,
                to_secs: period.to_secs + margin,
            }),
            ..OrderQuery::default()
        },
        4,
        sandbox_export_plan(
            dir.join(format!("deposits-{n}.csv")),
            ExportKind::Deposits,
            ExportFormat::Csv,
            &tz,
            sandbox.text(&["base_url"]),
        ),
        Arc::new(AtomicBool::new(false)),
        |_| {},
    )
    .await?;
    let export_secs = started.elapsed().as_secs_f64();
    let export_peak = peak_mb();
    let _ = std::fs::remove_file(&export.file);
    let _ = std::fs::remove_file(&export.manifest);

    reset_peak();
    let truth: Value = serde_json::from_slice(&std::fs::read(
        paydesk::sandbox::ledger::truth_path(&ledger),
    )?)?;
    let mapping =
        Mapping::from_map_arg(paydesk::sandbox::ledger::LEDGER_MAP).map_err(anyhow::Error::msg)?;
    let request = Request {
        kind: OrderKind::Deposit,
        period,
        margin_secs: margin,
        ledger: ledger.clone(),
        mapping,
        tz,
        tz_name: TZ.into(),
        limits: Limits::default(),
        workfile: dir.join(format!("work-{n}.sqlite")),
        stream: StreamOptions::default(),
    };
    let started = Instant::now();
    let report = reconcile(
        &client,
        &request,
        jiff::Timestamp::now().as_second(),
        |_| {},
    )
    .await?;
    let reconcile_secs = started.elapsed().as_secs_f64();
    let reconcile_peak = peak_mb();
    let equal = equals_truth(&report, &truth);
    drop(sandbox);
    let _ = std::fs::remove_file(&request.workfile);
    Ok(Row {
        orders: n,
        export_secs,
        export_peak,
        reconcile_secs,
        reconcile_peak,
        ledger_rows: report.ledger_rows,
        equal,
    })
}

/// Every class's count, rows and fen sums, and both sums, as the truth file has them.
pub fn equals_truth(report: &paydesk::domain::reconcile::Report, truth: &Value) -> bool {
    let sums = truth["ledger_sum_fen"].as_i64() == Some(report.ledger_sum.fen())
        && truth["gateway_sum_fen"].as_i64() == Some(report.gateway_sum.fen());
    let classes = truth["classes"].as_array().is_some_and(|expected| {
        expected.len() == report.classes.len()
            && expected.iter().zip(&report.classes).all(|(e, c)| {
                e["class"].as_str() == Some(c.class.id())
                    && e["count"].as_u64() == Some(c.count)
                    && e["ledger_rows"].as_u64() == Some(c.ledger_rows)
                    && e["gateway_orders"].as_u64() == Some(c.gateway_orders)
                    && e["ledger_fen"].as_i64() == Some(c.ledger.fen())
                    && e["gateway_fen"].as_i64() == Some(c.gateway.fen())
            })
    });
    sums && classes
}
